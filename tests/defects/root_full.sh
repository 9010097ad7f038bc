#!/bin/sh
# case: verify_rootfs
# expect: root_free_pct = 4.0
# image: cmdline
# A build cache left behind fills the root filesystem: 5% is left free (the blocks are
# allocated without being written, so the image stays sparse).
. "$(dirname "$0")/lib.sh"
stats=$(debugfs -R stats "$IMG" 2>/dev/null)
total=$(echo "$stats" | sed -n 's/^Block count: *//p')
free=$(echo "$stats" | sed -n 's/^Free blocks: *//p')
reserved=$(echo "$stats" | sed -n 's/^Reserved block count: *//p')
bs=$(echo "$stats" | sed -n 's/^Block size: *//p')
# leave the reserve plus 5% of the filesystem
n=$((free - reserved - total / 20))
[ "$n" -gt 0 ] || { echo "the filesystem is already fuller than the defect" >&2; exit 1; }
mkdir_p /var/cache/build
put /var/cache/build/layers.img 644 ""
_dbg "fallocate /var/cache/build/layers.img 0 $((n - 1))"
_dbg "sif /var/cache/build/layers.img size $((n * bs))"
