#!/bin/sh
# case: verify_login_users
# expect: svc-backup
# image: system
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
debugfs -R "cat /etc/passwd" "$IMG" > "$d/passwd" 2>/dev/null
echo 'svc-backup:x:990:990:backup:/var/backups:/bin/bash' >> "$d/passwd"
put /etc/passwd 644 "$(cat "$d/passwd")\n"
rm -rf "$d"
