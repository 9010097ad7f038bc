#!/bin/sh
# case: verify_mtu
# expect: has MTU 1400, the policy says 1500
# image: cmdline
# an MTU for the build site's VPN left in the network configuration
. "$(dirname "$0")/lib.sh"
mkdir_p /etc/systemd/network/80-dhcp.network.d
put /etc/systemd/network/80-dhcp.network.d/mtu.conf 644 "[Link]\nMTUBytes=1400\n"
