#!/bin/sh
# case: verify_no_fs_errors
# expect: ext4 on vda has recorded 2 error(s)
# image: cmdline
# The root filesystem carries the error record of the machine it was captured from: the
# superblock counts 2 errors, first in ext4_lookup. (Its state says clean, so a boot-time
# fsck -p does not look and the record stays.)
. "$(dirname "$0")/lib.sh"
_dbg "ssv error_count 2"
_dbg "ssv first_error_time 1735689600"
_dbg "ssv first_error_func ext4_lookup"
_dbg "ssv first_error_line 1855"
_dbg "ssv last_error_time 1735693200"
_dbg "ssv last_error_func ext4_lookup"
_dbg "ssv last_error_line 1855"
