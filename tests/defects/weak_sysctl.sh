#!/bin/sh
# case: verify_kernel_hardening
# expect: kernel.kptr_restrict = 0
. "$(dirname "$0")/lib.sh"
put /etc/sysctl.d/99-debug.conf 644 "kernel.kptr_restrict = 0\n"
