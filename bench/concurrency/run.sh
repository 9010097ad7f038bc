#!/bin/sh
# bench/concurrency: many VMs at once. The same CASES cases (`smoke`: SSH, a clean console and a
# guest reboot, so each case costs a real boot) of the busybox test image through `kiln run`
# with concurrency N = 1, 2, 4, 8 environments, in one run. Prints cases/min per N, the
# speed-up against N = 1 (the goal on 2 cores: >= 1.7x at N = 2) and any failure (none allowed:
# environments beyond what host memory admits wait for admission instead of overcommitting;
# the rule is in docs/runbook.md, "concurrency").
# usage: bench/concurrency/run.sh [BUILD_DIR] [CASES] [ACCEL]
set -eu
build=${1:-build}
cases=${2:-16}
accel=${3:-tcg}
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "bench/concurrency: build kiln first (make build)" >&2; exit 2; }
bb=$(sh "$root/tests/images/build.sh" busybox) || { echo "bench/concurrency: cannot build the busybox test image" >&2; exit 1; }
T=$(mktemp -d /tmp/kiln-bench-conc-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T"
now() { date +%s.%N; }
base=
fail=0
echo "bench/concurrency: $cases x smoke (boot, SSH, console, reboot) on the busybox image, accel $accel, $(nproc) host cores"
for n in 1 2 4 8; do
    cat > c$n.yml <<YAML
name: conc$n
concurrency: $n
platform:
  type: qemu
  qemu: { kernel: $bb/vmlinuz, initrd: $bb/initrd.img, append: "console=ttyS0 quiet", memory_mb: 256, cpus: 1, accel: $accel, boot_timeout_s: 300 }
testcase:
  - criteria: { name: smoke }
    times: $cases
YAML
    t0=$(now)
    rc=0
    "$kiln" run --runs-dir runs$n c$n.yml > out$n.txt 2>&1 || rc=$?
    t1=$(now)
    r=runs$n/latest/results.json
    passed=$(jq '[.cases[] | select(.status == "passed")] | length' "$r")
    envs=$(jq '[.cases[].environment] | unique | length' "$r")
    secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
    cpm=$(echo "$passed $secs" | awk '{printf "%.2f", $1 * 60 / $2}')
    [ -n "$base" ] || base=$cpm
    echo "  N=$n: $passed/$cases passed in $secs s on $envs environment(s): $cpm cases/min, $(echo "$cpm $base" | awk '{printf "%.2f", $1 / $2}')x N=1 (kiln exit $rc)"
    if [ "$rc" -ne 0 ] || [ "$passed" -ne "$cases" ]; then
        fail=1
        jq -r '.cases[] | select(.status != "passed") | "    \(.name): \(.status): \(.reason)"' "$r"
    fi
done
exit $fail
