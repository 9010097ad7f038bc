#!/bin/sh
# case: verify_time_sync
# expect: no time synchronisation service
# image: system
. "$(dirname "$0")/lib.sh"
remove /etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service
