#!/bin/sh
# case: verify_update_apply
# expect: it was not blessed
# systemd-bless-boot.service is masked: the new version boots and runs, but its entry keeps
# counting tries and is never made permanent (after three boots the machine would fall back).
. "$(dirname "$0")/lib.sh"
mask systemd-bless-boot.service
