#!/bin/sh
# case: verify_mac_policy
# expect: apparmor is not an active LSM
# image: cmdline
# AppArmor switched off on the kernel command line (a workaround for a denied daemon)
. "$(dirname "$0")/lib.sh"
cmdline_add apparmor=0
