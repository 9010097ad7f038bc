#!/bin/sh
# case: verify_kernel_hardening
# expect: kernel.randomize_va_space = 0
# image: cmdline
# Address space layout randomisation switched off: every distribution ships 2, so the
# default policy catches it.
. "$(dirname "$0")/lib.sh"
put /etc/sysctl.d/99-debug.conf 644 "kernel.randomize_va_space = 0\n"
