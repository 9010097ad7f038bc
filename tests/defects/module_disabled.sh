#!/bin/sh
# case: verify_kernel_modules
# expect: Error running install command '/bin/false' for module dummy
# image: cmdline
# A hardening file that disables a module the way CIS benchmarks do (install MOD /bin/false)
. "$(dirname "$0")/lib.sh"
put /etc/modprobe.d/disable-dummy.conf 644 "install dummy /bin/false\n"
