#!/bin/sh
# case: verify_clean_shutdown
# expect: kiln-queue-flush.service
# image: packages
# long: reboots the guest and waits out a stop timeout
# A service whose stop command waits for a queue server that is gone and ignores SIGTERM:
# every shutdown waits out its stop timeout and then kills it.
. "$(dirname "$0")/lib.sh"
put /etc/systemd/system/kiln-queue-flush.service 644 "[Unit]\nDescription=Flush the job queue on shutdown\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nExecStop=/bin/sh -c 'trap \"\" TERM; until [ -e /run/queue-server.sock ]; do sleep 1; done'\nTimeoutStopSec=15\n\n[Install]\nWantedBy=multi-user.target\n"
link /etc/systemd/system/kiln-queue-flush.service /etc/systemd/system/multi-user.target.wants/kiln-queue-flush.service
