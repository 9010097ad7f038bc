#!/bin/sh
# case: verify_memory
# expect: 384 MiB reserved for a crash kernel (/sys/kernel/kexec_crash_size); kernel command line: crashkernel=384M
# image: cmdline
# kdump's reservation sized for a large server (crashkernel=384M) in an image for small
# VMs: a third of a 1 GiB VM is set aside for a crash kernel.
. "$(dirname "$0")/lib.sh"
cmdline_add crashkernel=384M
