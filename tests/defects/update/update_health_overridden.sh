#!/bin/sh
# case: verify_update_rollback
# expect: it did not fall back from
# A drop-in in /etc replaces the health check's command with /bin/true. /etc stays the
# machine's across versions, so the broken N+1's own check never runs: N+1 is blessed and
# the machine keeps it (the layout before the check moved to /usr had this bug for every image).
. "$(dirname "$0")/lib.sh"
file /etc/systemd/system/kiln-update-health.service.d/50-always-healthy.conf 0644 "[Service]\nExecStart=\nExecStart=/bin/true\n"
