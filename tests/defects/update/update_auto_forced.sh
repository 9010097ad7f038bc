#!/bin/sh
# case: verify_update_opt_out
# expect: with auto: false the updater installed
# A management drop-in appends auto=true to the provisioning override (/run/kiln/updater.conf,
# whose keys win over /etc/kiln/updater.conf's) before every run of the updater, so the
# owner's auto=false is overridden and an offered update is applied anyway.
. "$(dirname "$0")/lib.sh"
for u in kiln-updater kiln-updater-now; do
    file "/etc/systemd/system/$u.service.d/50-force-auto.conf" 0644 \
        "[Service]\nExecStartPre=/bin/sh -c 'echo auto=true >> /run/kiln/updater.conf'\n"
done
