#!/bin/sh
# What a killed kiln leaves, and a runs directory on a full disk. kill -9 of kiln while its VM
# boots leaves its work dir (private key, seed, raw console, QMP socket) and a run dir without
# results.json: the key must be 0600 in a 0700 dir, and the next kiln run must remove the
# dir and mark the run interrupted. That next run points --runs-dir at a 64 KiB tmpfs: it must
# stop before booting anything, saying so, and leave runs/latest alone. A last run's disk fills
# while its VM boots: it must say its logs and reports are incomplete and fail.
. "$(dirname "$0")/lib.sh"
busybox_runbook out <<YAML > out.yml
testcase:
  - criteria: { name: smoke }
YAML
"$KILN" run --runs-dir runs out.yml > first.txt 2>&1 &
kpid=$!
qpid=
for i in $(seq 1 200); do
    qpid=$(pgrep -f "qemu-system-x86_64 -name kiln-.*$T/" | head -n 1)
    [ -n "$qpid" ] && break
    sleep 0.1
done
[ -n "$qpid" ] || { kill "$kpid"; wait "$kpid"; cat first.txt; fail "no qemu started"; }
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
# qemu dies with kiln (PDEATHSIG)
for i in $(seq 1 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$qpid" 2>/dev/null || fail "qemu $qpid outlived kiln -9"
work=$(ls -d "$TMPDIR"/kiln-run-* 2>/dev/null)
[ -n "$work" ] && [ -d "$work" ] || fail "no work dir left by the killed kiln (expected one to sweep)"
[ "$(stat -c %a "$work")" = 700 ] || fail "work dir mode $(stat -c %a "$work"), expected 700"
[ "$(stat -c %a "$work/id_ed25519")" = 600 ] || fail "private key mode $(stat -c %a "$work/id_ed25519"), expected 600"
[ "$(stat -c %a "$work/owner")" = 600 ] || fail "owner file mode $(stat -c %a "$work/owner")"
[ "$(stat -c %a "$work/node0/console.raw")" = 600 ] || fail "raw console mode $(stat -c %a "$work/node0/console.raw")"
orphan=$(ls -d runs/out-* | head -n 1)
[ -n "$orphan" ] && [ ! -e "$orphan/results.json" ] || fail "expected a run dir without results.json"
[ ! -e runs/latest ] || fail "runs/latest exists before any run finished"

full=$T/full
mkdir -p "$full"
mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null || { echo "cannot mount a tmpfs (needs root)"; exit 77; }
trap 'umount "$full" 2>/dev/null; rm -rf "$T"' EXIT
"$KILN" run --runs-dir "$full" out.yml > second.txt 2>&1
rc=$?
cat second.txt
[ "$rc" -eq 2 ] || fail "kiln run on a full runs dir exited $rc, expected 2"
expect_in second.txt "kiln run: runs dir $full: No space left on device ("
expect_in second.txt "free space or use --runs-dir"
[ -z "$(ls -A "$full")" ] || { ls -la "$full"; fail "the full runs dir kept files"; }
[ ! -e "$full/latest" ] || fail "latest points into the full runs dir"
! grep -q "qemu pid" second.txt || fail "a VM was started although the runs dir is full"
expect_no_qemu
# the sweep, done by that second run before it gave up
[ ! -e "$work" ] || fail "the killed kiln's work dir $work is still there"
expect_in second.txt "marked interrupted"
expect_jq "$orphan/results.json" .run.interrupted true
expect_jq "$orphan/results.json" .run.exit_code 1
expect_jq "$orphan/results.json" .run.name out
expect_jq "$orphan/results.json" .run.id "$(basename "$orphan")"
expect_in "$orphan/kiln.log" "ended before this run finished"
[ ! -e runs/latest ] || fail "the sweep moved runs/latest"

# a disk that fills while the run goes on: the lost writes are reported, the run fails, and
# runs/latest does not move to a run without reports
fills=$T/fills
mkdir -p "$fills"
mount -t tmpfs -o size=17m tmpfs "$fills" || fail "cannot mount a second tmpfs"
trap 'umount "$full" "$fills" 2>/dev/null; rm -rf "$T"' EXIT
"$KILN" run --runs-dir "$fills" out.yml > third.txt 2>&1 &
kpid=$!
for i in $(seq 1 200); do
    pgrep -f "qemu-system-x86_64 -name kiln-.*$T/" >/dev/null && break
    sleep 0.1
done
dd if=/dev/zero of="$fills/filler" bs=64k 2>/dev/null
wait "$kpid"
rc=$?
cat third.txt
[ "$rc" -ne 0 ] || fail "a run whose disk filled up exited 0"
expect_in third.txt "could not be written"
expect_in third.txt "write(s) into the run directory or its logs failed (first: No space left on device)"
[ ! -e "$fills/latest" ] || fail "latest points at a run whose reports could not be written"
expect_no_qemu
exit 0
