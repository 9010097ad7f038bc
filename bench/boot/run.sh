#!/bin/sh
# bench/boot: boot to verdict. In alternating rounds on the same image (the UEFI example image
# `make demo` builds), the same VM size and accelerator:
#  - the floor: a plain qemu-system-x86_64 command (OVMF, virtio disk and NIC, user-mode
#    network forwarding a loopback port to the guest's 22) timed until sshd's banner answers;
#  - kiln: `kiln run` of tier 0 (the priority-0 cases) on that image, whole wall time, with
#    kiln's own boot-to-SSH time ("env0: ready in") and the cases' own work (the cases'
#    durations minus the deployment the first one includes) read from its log and results.
# Prints the medians and the ratio kiln / (floor + the cases' own work), the goal being
# <= 1.3x, and kiln's boot to SSH against the floor's.
# usage: bench/boot/run.sh [BUILD_DIR] [IMAGE] [ROUNDS] [ACCEL]   (ACCEL: tcg (default) or kvm)
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
image=$(realpath "${2:-$root/out/debian-server-1.0.0.qcow2}")
rounds=${3:-3}
accel=${4:-tcg}
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "bench/boot: build kiln first (make build)" >&2; exit 2; }
[ -f "$image" ] || { echo "bench/boot: no image at $image; run 'make demo' (or kiln build examples/images/debian-server.yml)" >&2; exit 2; }
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "bench/boot: no $code (apt-get install ovmf)" >&2; exit 2; }
T=$(mktemp -d /tmp/kiln-bench-boot-XXXXXX)
qpid=
cleanup() {
    if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T"
cat > tier0.yml <<YAML
name: boot-bench
platform:
  type: qemu
  admin_username: root
  qemu: { image: $image, firmware: uefi, memory_mb: 1024, cpus: 2, accel: $accel, boot_timeout_s: 600 }
testcase:
  - criteria: { priority: 0 }
YAML
now() { date +%s.%N; }
# waits for an SSH banner on 127.0.0.1:$1 for at most $2 s
banner() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            if s.recv(8).startswith(b"SSH-"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
}
floor_round() {
    cp "$vars" vars.fd
    port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
    t0=$(now)
    qemu-system-x86_64 -machine "q35,accel=$accel" -cpu max -smp 2 -m 1024 -nodefaults -display none \
        -serial file:floor-console.log \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" -drive if=pflash,format=raw,unit=1,file=vars.fd \
        -drive "if=none,id=root,file=$image,format=qcow2,snapshot=on" -device virtio-blk-pci,drive=root,bootindex=0 \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
        -device virtio-rng-pci 2> floor-qemu.err &
    qpid=$!
    ok=0
    banner "$port" 600 && ok=1
    t1=$(now)
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    qpid=
    [ "$ok" -eq 1 ] || { tail -n 20 floor-console.log floor-qemu.err >&2; echo "bench/boot: the plain qemu guest never answered on SSH" >&2; exit 1; }
    echo "$t0 $t1" | awk '{printf "%.2f\n", $2 - $1}'
}
kiln_round() {
    rm -rf runs
    t0=$(now)
    "$kiln" run --runs-dir runs tier0.yml > kiln.out 2>&1 || { tail -n 30 kiln.out >&2; echo "bench/boot: kiln run failed" >&2; exit 1; }
    t1=$(now)
    ready=$(sed -n 's/.*env0: ready in \([0-9.]*\) s.*/\1/p' runs/latest/kiln.log | head -n 1)
    [ -n "$ready" ] || { echo "bench/boot: no 'env0: ready in' line in kiln.log" >&2; exit 1; }
    cases=$(jq '[.cases[].duration_s] | add' runs/latest/results.json)
    n=$(jq '.cases | length' runs/latest/results.json)
    echo "$t0 $t1 $ready $cases $n" | awk '{printf "%.2f %.2f %.2f %d\n", $2 - $1, $3, $4 - $3, $5}'
}
: > floor.txt
: > kiln.txt
for r in $(seq "$rounds"); do
    f=$(floor_round)
    k=$(kiln_round)
    echo "$f" >> floor.txt
    echo "$k" >> kiln.txt
    set -- $k
    echo "round $r: floor (plain qemu to SSH banner) $f s; kiln tier 0 $1 s (boot to SSH $2 s, $4 cases' own work $3 s)"
done
med() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
floor=$(med < floor.txt)
kwall=$(cut -d' ' -f1 kiln.txt | med)
kready=$(cut -d' ' -f2 kiln.txt | med)
kwork=$(cut -d' ' -f3 kiln.txt | med)
echo "bench/boot: tier 0 on $(basename "$image"), accel $accel, median of $rounds rounds"
echo "  floor, plain qemu until sshd answers: $floor s"
echo "  kiln boot to SSH (key login done):    $kready s   ratio $(echo "$kready $floor" | awk '{printf "%.2f", $1 / $2}')x"
echo "  kiln tier 0, whole run:               $kwall s   (cases' own work $kwork s)"
echo "  ratio kiln / (floor + cases' work):   $(echo "$kwall $floor $kwork" | awk '{printf "%.2f", $1 / ($2 + $3)}')x (goal <= 1.3x)"
