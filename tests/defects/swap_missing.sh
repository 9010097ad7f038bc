#!/bin/sh
# case: verify_swap
# expect: not active: /swapfile
# image: system
# fstab activates a swap file that was deleted to make the image smaller
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
debugfs -R "cat /etc/fstab" "$IMG" > "$d/fstab" 2>/dev/null
echo '/swapfile none swap sw 0 0' >> "$d/fstab"
put /etc/fstab 644 "$(cat "$d/fstab")\n"
rm -rf "$d"
