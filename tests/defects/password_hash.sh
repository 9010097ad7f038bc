#!/bin/sh
# case: verify_no_password_hashes
# expect: root (/etc/shadow, $6$ hash)
# image: system
# root keeps the password it had while the image was built
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
hash=$(openssl passwd -6 -salt kilnsalt build-time-secret)
debugfs -R "cat /etc/shadow" "$IMG" 2>/dev/null | awk -F: -v h="$hash" 'BEGIN {OFS=":"} $1 == "root" {$2 = h} {print}' > "$d/shadow"
grep -q '^root:\$6\$' "$d/shadow" || { echo "no root entry in the image's /etc/shadow" >&2; exit 1; }
put /etc/shadow 640 "$(cat "$d/shadow")\n"
rm -rf "$d"
