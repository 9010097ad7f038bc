#!/bin/sh
# case: verify_no_empty_passwords
# expect: kiosk (/etc/passwd)
# image: cmdline
# an empty password in /etc/passwd itself (no "x", so /etc/shadow is not consulted)
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
debugfs -R "cat /etc/passwd" "$IMG" > "$d/passwd" 2>/dev/null
echo 'kiosk::992:992:kiosk:/srv/kiosk:/usr/sbin/nologin' >> "$d/passwd"
put /etc/passwd 644 "$(cat "$d/passwd")\n"
rm -rf "$d"
