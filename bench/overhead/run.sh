#!/bin/sh
# bench/overhead: 200 trivial cases (`true`) through `kiln run` on one node, in the same run
# and against the same OpenSSH server on loopback (started here) as
#  - the floor: the same 200 commands as exec channels over one libssh session, nothing else
#    (bench/overhead/floor.c, built as bench-overhead-floor): kiln's overhead is what it
#    spends per case above this;
#  - a raw loop of the same 200 commands over one OpenSSH ControlMaster connection (mostly
#    the start-up of an ssh process per command).
# Prints all three, kiln's per-case overhead above the floor and the ratios.
# usage: bench/overhead/run.sh [BUILD_DIR] [ROUNDS]
set -eu
build=${1:-build}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
floor=$root/$build/bench-overhead-floor
[ -x "$kiln" ] && [ -x "$floor" ] || { echo "build kiln first (make build)" >&2; exit 2; }
T=$(mktemp -d /tmp/kiln-bench-XXXXXX)
spid=
cleanup() {
    # runs under set -e: nothing here may stop the rm
    if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi
    ssh -o ControlPath="$T/ctl" -O exit x 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
cd "$T"
ssh-keygen -q -t ed25519 -N '' -f host_key
ssh-keygen -q -t ed25519 -N '' -f client_key
cp client_key.pub authorized_keys
mkdir -p /run/sshd
for try in 1 2 3 4 5; do
    port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
    /usr/sbin/sshd -D -e -p "$port" -o ListenAddress=127.0.0.1 -h "$T/host_key" \
        -o AuthorizedKeysFile="$T/authorized_keys" -o StrictModes=no -o UsePAM=no \
        -o PasswordAuthentication=no -o MaxSessions=1000 -o MaxStartups=1000 2> sshd.log &
    spid=$!
    sleep 0.5
    kill -0 "$spid" 2>/dev/null && break
    spid=
done
[ -n "$spid" ] || { cat sshd.log; echo "cannot start sshd" >&2; exit 1; }
user=$(id -un)
cat > bench.yml <<YAML
name: overhead
platform:
  type: ready
  admin_private_key_file: $T/client_key
  ready: { nodes: [ { address: 127.0.0.1, port: $port, username: $user } ] }
testcase:
  - criteria: { name: kiln_noop }
    times: 200
YAML
now() { date +%s.%N; }
sshopts="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $T/client_key -p $port"
kiln_times= raw_times= floor_times=
for r in $(seq "$rounds"); do
    t0=$(now)
    "$kiln" run --runs-dir "$T/runs" bench.yml > kiln.out 2>&1 || { cat kiln.out; echo "kiln run failed" >&2; exit 1; }
    t1=$(now)
    passed=$(jq '.summary.passed' "$T/runs/latest/results.json")
    [ "$passed" -eq 200 ] || { echo "kiln passed $passed of 200" >&2; exit 1; }
    "$floor" 127.0.0.1 "$port" "$user" "$T/client_key" 200 true > floor.out || { cat floor.out; exit 1; }
    tf=$(now)
    # raw: one master connection, then the same 200 commands through it
    ssh $sshopts -o ControlMaster=yes -o ControlPath="$T/ctl" -o ControlPersist=60 -fN "$user@127.0.0.1"
    i=0
    while [ $i -lt 200 ]; do ssh $sshopts -o ControlPath="$T/ctl" "$user@127.0.0.1" true; i=$((i + 1)); done
    ssh -o ControlPath="$T/ctl" -O exit "$user@127.0.0.1" 2>/dev/null
    t2=$(now)
    k=$(echo "$t1 - $t0" | bc -l); f=$(echo "$tf - $t1" | bc -l); w=$(echo "$t2 - $tf" | bc -l)
    printf 'round %d: kiln %.2f s, floor (libssh, one session) %.2f s, openssh ControlMaster %.2f s\n' "$r" "$k" "$f" "$w"
    kiln_times="$kiln_times $k"; floor_times="$floor_times $f"; raw_times="$raw_times $w"
done
median() { echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km=$(median $kiln_times); fm=$(median $floor_times); rm_=$(median $raw_times)
printf 'bench/overhead: 200 trivial cases on one node (median of %d rounds)\n' "$rounds"
printf '  kiln run (200 cases, logs, reports): %.2f s  (%.1f ms/case)\n' "$km" "$(echo "$km * 5" | bc -l)"
printf '  floor, libssh exec channels:         %.2f s  (%.1f ms/command)\n' "$fm" "$(echo "$fm * 5" | bc -l)"
printf '  openssh ControlMaster raw loop:      %.2f s  (%.1f ms/command)\n' "$rm_" "$(echo "$rm_ * 5" | bc -l)"
printf '  kiln overhead above the floor: %.1f ms/case (target <= 10 ms)\n' "$(echo "($km - $fm) * 5" | bc -l)"
printf '  ratio kiln/floor: %.2fx   ratio kiln/openssh: %.2fx\n' "$(echo "$km / $fm" | bc -l)" "$(echo "$km / $rm_" | bc -l)"
