#!/bin/sh
# case: verify_running_kernel_packaged
# expect: no installed package owns kernel
# image: cmdline
# The kernel's package was purged from the database while its files stayed (a kernel
# installed by hand over the packaged one): nothing updates or removes it.
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
debugfs -R "cat /var/lib/dpkg/status" "$IMG" > "$d/status" 2>/dev/null
pkg=$(sed -n 's/^Package: \(linux-image-[0-9].*\)/\1/p' "$d/status" | head -n 1)
[ -n "$pkg" ] || { echo "no linux-image package in the image's dpkg status" >&2; exit 1; }
awk -v p="$pkg" 'BEGIN {RS = ""; ORS = "\n\n"} $0 !~ ("(^|\n)Package: " p "\n")' "$d/status" > "$d/status.new"
put_file /var/lib/dpkg/status 644 "$d/status.new"
for f in $(debugfs -R "ls /var/lib/dpkg/info" "$IMG" 2>/dev/null | tr -s ' ' '\n' | grep "^$pkg\."); do
    remove "/var/lib/dpkg/info/$f"
done
rm -rf "$d"
