#!/bin/sh
# bench/convert: `kiln convert` against `qemu-img convert` on the same input in the same run:
# a 4 GiB sparse raw disk holding 1 GiB of data (random bytes, with a zeroed stretch inside
# the data that neither tool should store). For raw→qcow2 and raw→vhd-fixed, ROUNDS rounds
# alternate the tools; each timing covers the conversion and making the output durable
# (kiln fsyncs before its rename; qemu-img is followed by `sync` of its output), starting from
# a clean page cache state (sync before every timing). Prints the medians and kiln/qemu-img.
# usage: bench/convert/run.sh [BUILD_DIR] [ROUNDS]
set -eu
build=${1:-build}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "build kiln first (make build)" >&2; exit 2; }
T=$(mktemp -d /var/tmp/kiln-bench-convert-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T"
truncate -s 4G src.raw
head -c 512M /dev/urandom | dd of=src.raw bs=1M seek=1 conv=notrunc status=none
head -c 512M /dev/urandom | dd of=src.raw bs=1M seek=2048 conv=notrunc status=none
dd if=/dev/zero of=src.raw bs=1M seek=2100 count=64 conv=notrunc status=none
echo "input: $(du -m --apparent-size src.raw | cut -f1) MiB virtual, $(du -m src.raw | cut -f1) MiB allocated"
now() { date +%s.%N; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
timeit() { # command... → seconds (output file is the last argument)
    sync; t0=$(now); "$@" >/dev/null 2>&1; eval "out=\${$#}"; sync "$out"; t1=$(now)
    echo "$t1 - $t0" | bc -l
}
status=0
for pair in "qcow2 qcow2 -O:qcow2" "vhd-fixed vpc -O:vpc:-o:subformat=fixed,force_size=on"; do
    set -- $pair
    fmt=$1 qfmt=$2 qopts=$(echo "$3" | tr ':' ' ')
    ks= qs=
    for r in $(seq "$rounds"); do
        rm -f k.out q.out
        ks="$ks $(timeit "$kiln" convert src.raw --format "$fmt" k.out)"
        qs="$qs $(timeit qemu-img convert -f raw $qopts src.raw q.out)"
    done
    # both outputs hold the same disk
    qemu-img compare -q -f "$qfmt" -F "$qfmt" k.out q.out || { echo "$fmt: outputs differ" >&2; status=1; }
    [ "$fmt" != qcow2 ] || qemu-img check -q k.out || { echo "qemu-img check rejects kiln's qcow2" >&2; status=1; }
    km=$(echo "$ks" | median) qm=$(echo "$qs" | median)
    printf 'raw→%-9s kiln %6.2f s  qemu-img %6.2f s  ratio %.2f×  (kiln %s MiB on disk, qemu-img %s MiB; rounds:%s |%s)\n' \
        "$fmt" "$km" "$qm" "$(echo "$km / $qm" | bc -l)" "$(du -m k.out | cut -f1)" "$(du -m q.out | cut -f1)" "$ks" "$qs"
done
exit $status
