#!/bin/sh
# case: verify_generalized
# expect: /root/.bash_history
# image: system
. "$(dirname "$0")/lib.sh"
put /root/.bash_history 600 "apt-get install build-essential\ncurl -H 'Authorization: x' https://internal.invalid/\n"
