#!/bin/sh
# case: verify_package_db
# expect: debian is deb-based but its dpkg database is missing
# image: pair-b
# Debian (os-release says so) without dpkg's status file: a broken database, not "not a
# dpkg system".
. "$(dirname "$0")/lib.sh"
remove /var/lib/dpkg/status
