#!/bin/sh
# case: verify_vdso
# expect: clock_gettime enters the kernel: the vDSO falls back to a system call with clock source "acpi_pm"
# image: cmdline
# A clock source forced on the command line that has no vDSO read path: every
# clock_gettime becomes a system call.
. "$(dirname "$0")/lib.sh"
cmdline_add clocksource=acpi_pm
