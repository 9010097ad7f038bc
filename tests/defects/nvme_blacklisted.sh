#!/bin/sh
# case: verify_nvme
# expect: no NVMe namespace under /sys/block (driver nvme loaded? no)
# image: cmdline
# The NVMe driver blacklisted on the command line (an image made for a platform without
# NVMe): on a VM whose disks are NVMe it sees none.
. "$(dirname "$0")/lib.sh"
cmdline_add modprobe.blacklist=nvme
