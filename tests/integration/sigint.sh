#!/bin/sh
# SIGINT or SIGTERM while a VM is booting: kiln ends qemu, removes its work dir (overlays, keys),
# still writes results.json, and exits 130. A SIGINT while kiln waits for the guest's SSH (a
# booting guest's forwarded port takes the TCP connection and sends no banner: a blocking
# ssh_connect sat out its 10 s, the retry sleep up to 2 s more) acts at once: kiln and its qemu
# are gone within a short bound.
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

# SIGINT during the SSH wait: kiln has been polling the guest's port for a few seconds (the
# busybox guest is far from sshd then under TCG); kiln and qemu must be gone within 5 s (the
# SSH attempt's own 10 s timeout no longer counts). Not a timing claim: a bound on "at once".
export TMPDIR=$T/tmp-wait
mkdir -p "$TMPDIR"
"$KILN" run --runs-dir runs-wait sig.yml > out.txt 2>&1 &
pid=$!
i=0
until grep -qs "ssh on 127.0.0.1:" runs-wait/*/kiln.log; do
    i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; cat out.txt; fail "kiln never started a VM"; }
    sleep 0.1
done
sleep 3
kill -INT $pid
i=0
while kill -0 $pid 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 50 ] || { cat out.txt; kill -9 $pid; fail "kiln still runs 5 s after SIGINT during the SSH wait"; }
    sleep 0.1
done
wait $pid
rc=$?
cat out.txt
[ "$rc" -eq 130 ] || fail "kiln exited $rc after SIGINT during the SSH wait, expected 130"
expect_no_qemu
left=$(find "$TMPDIR" -mindepth 1 | head -n 5)
[ -z "$left" ] || fail "work files left behind after SIGINT during the SSH wait: $left"
note "SIGINT during the SSH wait: kiln and qemu gone after $((i / 10)).$((i % 10)) s (bound 5 s)"
exit 0
