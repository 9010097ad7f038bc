#!/bin/sh
# case: verify_suid_inventory
# expect: /usr/bin/chattr
# image: pair-a
# chmod u+s on a packaged binary: dpkg records no modes, the SUID inventory sees it
. "$(dirname "$0")/lib.sh"
_dbg "set_inode_field /usr/bin/chattr mode 0104755"
