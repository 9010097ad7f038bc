#!/bin/sh
# case: verify_no_world_writable
# expect: /etc/kiln-app.conf
# image: cmdline
. "$(dirname "$0")/lib.sh"
put /etc/kiln-app.conf 666 "listen=0.0.0.0\n"
