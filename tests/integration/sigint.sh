#!/bin/sh
# SIGINT or SIGTERM while a VM is booting: kiln ends qemu, removes its work dir (overlays, keys),
# still writes results.json, and exits 130.
. "$(dirname "$0")/lib.sh"

busybox_runbook sig <<'YAML' > sig.yml
testcase:
  - criteria: { name: smoke }
YAML
for sig in INT TERM; do
export TMPDIR=$T/tmp-$sig
mkdir -p "$TMPDIR"
"$KILN" run --runs-dir runs-$sig sig.yml > out.txt 2>&1 &
pid=$!
i=0
until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$TMPDIR/" >/dev/null; do
    i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; fail "qemu never started"; }
    sleep 0.1
done
sleep 1
kill -$sig $pid
wait $pid
rc=$?
cat out.txt
[ "$rc" -eq 130 ] || fail "kiln exited $rc after SIG$sig, expected 130"
sleep 0.5
expect_no_qemu
left=$(find "$TMPDIR" -mindepth 1 | head -n 5)
[ -z "$left" ] || fail "work files left behind after SIG$sig: $left"
expect_jq runs-$sig/latest/results.json .run.interrupted true
done
exit 0
