#!/bin/sh
# case: verify_package_files
# expect: /usr/bin/chattr (missing)
# image: packages
# a packaged binary removed after installation (dpkg --verify says "missing", not "5")
. "$(dirname "$0")/lib.sh"
remove /usr/bin/chattr
