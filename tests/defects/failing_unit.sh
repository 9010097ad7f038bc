#!/bin/sh
# case: verify_no_failed_units
# expect: kiln-legacy-agent.service
# image: pair-a
. "$(dirname "$0")/lib.sh"
put /etc/systemd/system/kiln-legacy-agent.service 644 "[Unit]\nDescription=Legacy agent\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo agent config missing >&2; exit 3'\n\n[Install]\nWantedBy=multi-user.target\n"
link /etc/systemd/system/kiln-legacy-agent.service /etc/systemd/system/multi-user.target.wants/kiln-legacy-agent.service
