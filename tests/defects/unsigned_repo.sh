#!/bin/sh
# case: verify_repos_signed
# expect: trusted=yes
# image: pair-a
. "$(dirname "$0")/lib.sh"
put /etc/apt/sources.list.d/vendor.list 644 "deb [trusted=yes] http://vendor.invalid/debian bookworm main\n"
