#!/bin/sh
# case: verify_kernel_cmdline
# expect: /proc/cmdline has no serial console
# image: system
# A boot entry that sends the console to the screen only: on a cloud, nobody sees a
# boot failure.
. "$(dirname "$0")/lib.sh"
cmdline_drop console=ttyS0
cmdline_add console=tty0
