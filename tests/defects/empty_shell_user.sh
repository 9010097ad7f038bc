#!/bin/sh
# case: verify_login_users
# expect: deploy (empty shell field: /bin/sh)
# image: cmdline
# an account whose shell field is empty logs in with /bin/sh
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
debugfs -R "cat /etc/passwd" "$IMG" > "$d/passwd" 2>/dev/null
echo 'deploy:x:991:991:deploy:/srv/deploy:' >> "$d/passwd"
put /etc/passwd 644 "$(cat "$d/passwd")\n"
rm -rf "$d"
