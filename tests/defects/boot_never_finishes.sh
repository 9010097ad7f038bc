#!/bin/sh
# case: boot_time
# expect: kiln-app-init.service
# image: system
# long: waits out the boot timeout
# A start job that waits for a file the deployment never provides: boot never finishes,
# multi-user.target is never reached.
. "$(dirname "$0")/lib.sh"
put /etc/systemd/system/kiln-app-init.service 644 "[Unit]\nDescription=Wait for the application's configuration\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'until [ -e /etc/app/ready ]; do sleep 1; done'\nTimeoutStartSec=infinity\n\n[Install]\nWantedBy=multi-user.target\n"
link /etc/systemd/system/kiln-app-init.service /etc/systemd/system/multi-user.target.wants/kiln-app-init.service
