#!/bin/sh
# Reboot series: guest-initiated reboots of the UEFI example image under TCG while another
# process keeps one host core busy. Prints each reboot's time (request to SSH with a new
# boot id) and how many came back. Not a speed comparison: there is no reference tool that
# reboots guests for us; this shows that reboots never stick.
# usage: bench/reboots/run.sh [BUILD_DIR] [IMAGE] [ROUNDS]   (3 reboots per round; default 10 → 30)
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
image=$(realpath "${2:-$root/out/debian-server-1.0.0.qcow2}")
rounds=${3:-10}
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "bench/reboots: build kiln first (make build)" >&2; exit 2; }
[ -f "$image" ] || { echo "bench/reboots: no image at $image; run 'make demo' (or kiln build examples/images/debian-server.yml)" >&2; exit 2; }
work=$(mktemp -d /tmp/kiln-reboots-XXXXXX)
busy=
cleanup() { [ -z "$busy" ] || kill "$busy" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cat > "$work/reboots.yml" <<YAML
name: reboots
platform:
  type: qemu
  qemu: { image: $image, firmware: uefi, memory_mb: 1024, cpus: 2, accel: tcg, boot_timeout_s: 400 }
testcase:
  - criteria: { name: verify_reboot_cycles }
    times: $rounds
YAML
# one host core kept busy by another process for the whole series
sh -c 'while :; do :; done' &
busy=$!
cd "$work"
rc=0
"$kiln" run --runs-dir runs reboots.yml > kiln.out 2>&1 || rc=$?
kill "$busy" 2>/dev/null || true
busy=
want=$((rounds * 3))
i=0
for log in runs/latest/cases/verify_reboot_cycles*/log.txt; do
    sed -n 's/^node[0-9]*: back with boot id [0-9a-f-]* after \([0-9.]*\) s$/\1/p' "$log"
done > times.txt
while read -r s; do i=$((i + 1)); printf 'reboot %2d: %6.1f s\n' "$i" "$s"; done < times.txt
grep -h '^note: ' runs/latest/cases/verify_reboot_cycles*/log.txt || true
back=$(wc -l < times.txt)
if [ "$back" -gt 0 ]; then
    sort -n times.txt | awk '{v[NR]=$1; s+=$1} END {printf "median %.1f s, max %.1f s, mean %.1f s\n", v[int((NR+1)/2)], v[NR], s/NR}'
fi
echo "$back/$want reboots came back (kiln exit $rc)"
[ "$rc" -eq 0 ] && [ "$back" -eq "$want" ] || { tail -n 20 kiln.out; exit 1; }
