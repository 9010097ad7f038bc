#!/bin/sh
# case: verify_cgroup_v2
# expect: /sys/fs/cgroup is "tmpfs", expected cgroup2
# image: cmdline
# systemd told to keep the legacy cgroup v1 hierarchy (for an old container runtime)
. "$(dirname "$0")/lib.sh"
cmdline_add systemd.unified_cgroup_hierarchy=0
