#!/bin/sh
# case: verify_route_and_dns
# expect: cannot resolve deb.debian.org
# image: system
. "$(dirname "$0")/lib.sh"
# a resolver address left over from the build network
put /etc/resolv.conf 644 "nameserver 127.0.0.9\n"
