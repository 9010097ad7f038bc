#!/bin/sh
# case: verify_reboot_cycles
# expect: failed units: kiln-app-migrate.service
# image: pair-b
# long: reboots the guest
# A unit that runs only once the first boot is over (ConditionFirstBoot=no) and fails: the
# image boots clean once, and every boot after that fails.
. "$(dirname "$0")/lib.sh"
put /etc/systemd/system/kiln-app-migrate.service 644 "[Unit]\nDescription=Migrate the application's state\nConditionFirstBoot=no\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo state schema is locked >&2; exit 1'\n\n[Install]\nWantedBy=multi-user.target\n"
link /etc/systemd/system/kiln-app-migrate.service /etc/systemd/system/multi-user.target.wants/kiln-app-migrate.service
