#!/bin/sh
# case: verify_nics_up
# expect: enp0s7 is down
# image: system
# DHCP configured for the one NIC of the build VM, by name: a second NIC stays down.
. "$(dirname "$0")/lib.sh"
put /etc/systemd/network/80-dhcp.network 644 "[Match]\nName=enp0s6\n\n[Network]\nDHCP=yes\n"
