#!/bin/sh
# case: verify_private_network
# expect: cannot reach node
# image: pair-a
. "$(dirname "$0")/lib.sh"
# the nodes drop ICMP echo: on the private segment they no longer answer each other
put /etc/sysctl.d/60-no-echo.conf 644 "net.ipv4.icmp_echo_ignore_all = 1\n"
