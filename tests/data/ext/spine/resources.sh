#!/bin/sh
# kiln: { requires: { nics: 2, data_disks: 1, features: [nvme] }, description: "the environment has what the case required" }
set -e
nics=$(ls /sys/class/net | grep -vc '^lo$')
[ "$nics" -ge 2 ] || { echo "expected >= 2 NICs, found $nics: $(ls /sys/class/net)" >&2; exit 1; }
found=
for s in /sys/block/vd*/serial; do [ "$(cat "$s")" = kiln-data0 ] && found=$s; done
[ -n "$found" ] || { echo "no virtio disk with serial kiln-data0" >&2; exit 1; }
[ -e /sys/block/nvme0n1 ] || { echo "no NVMe namespace nvme0n1" >&2; exit 1; }
echo "nics=$nics data=$found nvme=nvme0n1"
