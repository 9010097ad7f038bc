#!/bin/sh
# case: verify_kernel_hardening
# expect: kernel.kptr_restrict = 0
# image: packages
# Kernel pointers exposed: Debian's own default, so only a runbook that opts into the
# hardened profile of the policy fails it.
. "$(dirname "$0")/lib.sh"
put /etc/sysctl.d/99-debug.conf 644 "kernel.kptr_restrict = 0\n"
echo "policy_profile: hardened" >> "$IMG.extra.yml"
