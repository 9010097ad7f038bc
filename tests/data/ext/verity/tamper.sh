#!/bin/sh
# kiln: { area: security, description: "a byte flipped in the verity-protected /usr fails the read instead of returning bad data" }
f=/usr/share/kiln/canary
src=$(findmnt -n -o SOURCE /usr)
[ "$src" = /dev/mapper/usr ] || { echo "/usr is mounted from $src, not from the dm-verity device /dev/mapper/usr" >&2; exit 1; }
if out=$(cat "$f" 2>&1 >/dev/null); then
    echo "reading $f succeeded although its bytes were changed: nothing verified them" >&2
    exit 1
fi
echo "reading $f failed as it must: $out"
dmesg 2>/dev/null | grep -i "verity" | tail -n 3
exit 0
