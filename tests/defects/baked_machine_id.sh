#!/bin/sh
# case: verify_machine_id_unique
# expect: share machine-id 0123456789abcdef0123456789abcdef
# image: pair-a
. "$(dirname "$0")/lib.sh"
put /etc/machine-id 444 "0123456789abcdef0123456789abcdef\n"
