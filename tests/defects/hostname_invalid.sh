#!/bin/sh
# case: verify_hostname
# expect: /etc/hostname says "build_host01", which is not a valid host name
# image: cmdline
# An underscore is not allowed in a host name (RFC 1123): systemd drops it and the machine
# answers to "buildhost01", a name nobody gave it.
. "$(dirname "$0")/lib.sh"
put /etc/hostname 644 "build_host01\n"
