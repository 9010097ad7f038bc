#!/bin/sh
# case: verify_cpu_count
# expect: /proc/cpuinfo lists 1 processors, 2 were provisioned; offline: 1; kernel command line: maxcpus=1
# image: cmdline
# A boot entry that brings up one CPU (maxcpus=1, left from debugging a race): the VM is
# billed for two vCPUs and uses one.
. "$(dirname "$0")/lib.sh"
cmdline_add maxcpus=1
