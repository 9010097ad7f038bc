#!/bin/sh
# bench/sign: sign + verify of a 2 GiB file (random bytes), kiln against stock minisign, in the
# same run, same unencrypted key (made by minisign, used by both), ROUNDS alternating rounds.
# Prints the medians and kiln/minisign.   usage: bench/sign/run.sh [BUILD_DIR] [ROUNDS]
set -eu
build=${1:-build}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "build kiln first (make build)" >&2; exit 2; }
command -v minisign >/dev/null || { echo "minisign is not installed" >&2; exit 2; }
T=$(mktemp -d /var/tmp/kiln-bench-sign-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T"
head -c 2G /dev/urandom > big.img
minisign -G -W -p k.pub -s k.key > /dev/null
cat big.img > /dev/null # page cache warm for both
now() { date +%s.%N; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ks= ms=
for r in $(seq "$rounds"); do
    t0=$(now); "$kiln" sign -k k.key big.img > /dev/null; "$kiln" verify -p k.pub big.img > /dev/null; t1=$(now)
    ks="$ks $(echo "$t1 - $t0" | bc -l)"
    t0=$(now); minisign -S -s k.key -m big.img > /dev/null 2>&1 < /dev/null; minisign -Vm big.img -p k.pub > /dev/null; t1=$(now)
    ms="$ms $(echo "$t1 - $t0" | bc -l)"
done
km=$(echo "$ks" | median) mm=$(echo "$ms" | median)
printf 'sign+verify 2 GiB: kiln %.2f s  minisign %.2f s  ratio %.2f×  (rounds:%s |%s)\n' "$km" "$mm" "$(echo "$km / $mm" | bc -l)" "$ks" "$ms"
