#!/bin/sh
# case: verify_fstab_stable_names
# expect: /dev/vda
# image: packages
. "$(dirname "$0")/lib.sh"
put /etc/fstab 644 "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n"
