#!/bin/sh
# Feature iscsi's target lifecycle on the busybox image, which has no initiator: kiln starts a
# tgtd for the environment on 127.0.0.1 only (a port the kernel picked), verify_iscsi_login is
# skipped naming the missing initiator, and no tgtd, management socket or LUN file is left
# after the run, after SIGINT or after kill -9 (tgtd dies with kiln by PDEATHSIG; its socket
# and lock live in the run's work dir, which the next run sweeps, never in /var/run/tgtd); without tgt the case is skipped saying so and no
# VM boots, with the true reason ($KILN_TGTD set empty, or naming no program). Busybox boots only (about a minute under TCG). The full login round on an image with
# open-iscsi, and the defect LUNs, are in containers.sh (make check-long).
. "$(dirname "$0")/lib.sh"
command -v tgtd >/dev/null || [ -x /usr/sbin/tgtd ] || { echo "tgt is not installed (scripts/deps.sh installs it)"; exit 77; }
# tgtd processes that run (a zombie, reparented after kill -9 of kiln, is dead already)
ntgtd() { ps -eo stat=,comm= | awk '$2 == "tgtd" && $1 !~ /^Z/' | wc -l; }
before=$(ntgtd)
expect_no_tgtd() {
    [ "$(ntgtd)" -le "$before" ] || { pgrep -ax tgtd >&2; fail "a tgtd kiln started is still running"; }
}

busybox_runbook iscsi > run.yml <<'YAML'
testcase:
  - criteria: { name: verify_iscsi_login }
YAML
"$KILN" run --runs-dir runs run.yml > out.txt 2>&1 || { cat out.txt; fail "the run failed"; }
cat out.txt
r=runs/latest/results.json
expect_jq "$r" '.cases[0].status' skipped
expect_jq "$r" '.cases[0].reason' "the guest has no iSCSI initiator (iscsiadm: open-iscsi)"
expect_in runs/latest/kiln.log "iSCSI target iqn.2026-01.dev.kiln:"
# loopback only, on the port the kernel picked: the log names it, and tgtd listened there
port=$(sed -n 's/.*iSCSI target [^ ]* on 127\.0\.0\.1:\([0-9]*\) (guests: 10\.0\.2\.2:\1).*/\1/p' runs/latest/kiln.log)
[ -n "$port" ] || fail "kiln.log does not name the portal 127.0.0.1:PORT with the guests' 10.0.2.2:PORT"
log=$(ls runs/latest/*-tgtd.log 2>/dev/null | head -n 1)
[ -n "$log" ] || fail "no tgtd log in the run directory"
expect_no_tgtd
[ -z "$(ls "$TMPDIR"/kiln-run-*/*-iscsi-lun1.img 2>/dev/null)" ] || fail "the LUN's file was left"
note "target on 127.0.0.1:$port, case skipped for the missing initiator, tgtd gone"

# SIGINT and kill -9 while the VM boots: tgtd ends with kiln
for sig in INT KILL; do
    export TMPDIR=$T/tmp-$sig
    mkdir -p "$TMPDIR"
    "$KILN" run --runs-dir runs-$sig run.yml > out-$sig.txt 2>&1 &
    pid=$!
    i=0
    until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$TMPDIR/" >/dev/null; do
        i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; cat out-$sig.txt; fail "qemu never started"; }
        sleep 0.1
    done
    [ "$(ntgtd)" -gt "$before" ] || fail "no tgtd runs beside the VM whose environment needs iSCSI"
    ctl=$(pgrep -ax tgtd | sed -n 's/.* -C \([0-9]*\) .*/\1/p' | tail -n 1)
    # tgtd's management socket and lock in the run's work dir (TGT_IPC_SOCKET), none in /var/run
    ls "$TMPDIR"/kiln-run-*/env0-iscsi-lun1.img.ipc/socket."$ctl" >/dev/null 2>&1 ||
        { kill -9 $pid; fail "tgtd's management socket $ctl is not in the run's work dir: $(ls -d "$TMPDIR"/kiln-run-*/* 2>&1)"; }
    [ ! -e "/var/run/tgtd/socket.$ctl" ] && [ ! -e "/var/run/tgtd/socket.$ctl.lock" ] ||
        { kill -9 $pid; fail "tgtd's management files for $ctl are in /var/run/tgtd"; }
    sleep 1
    kill -$sig $pid
    wait $pid
    rc=$?
    [ "$sig" = KILL ] || [ "$rc" -eq 130 ] || { cat out-$sig.txt; fail "kiln exited $rc after SIG$sig, expected 130"; }
    sleep 0.5
    expect_no_tgtd
    expect_no_qemu
    [ ! -e "/var/run/tgtd/socket.$ctl" ] && [ ! -e "/var/run/tgtd/socket.$ctl.lock" ] ||
        fail "tgtd's management files for $ctl were left in /var/run/tgtd after SIG$sig"
    if [ "$sig" = INT ]; then
        [ -z "$(ls -A "$TMPDIR")" ] || fail "files left in TMPDIR after SIGINT: $(ls -A "$TMPDIR")"
    else
        # what the killed kiln left is in its work dir alone, which the next run sweeps
        stale=$(ls -d "$TMPDIR"/kiln-run-* 2>/dev/null)
        [ -n "$stale" ] || fail "no work dir of the killed kiln (expected one for the next run to sweep)"
        KILN_TGTD= "$KILN" run --runs-dir runs-sweep run.yml > out-sweep.txt 2>&1 || { cat out-sweep.txt; fail "the run after kill -9 failed"; }
        for d in $stale; do [ ! -e "$d" ] || fail "the next run did not sweep the killed kiln's work dir $d"; done
    fi
done
export TMPDIR=$T/tmp
note "no tgtd or qemu left after SIGINT and kill -9"

# no tgt: the case is skipped saying why, and no VM boots
KILN_TGTD= "$KILN" run --runs-dir runs-n run.yml > out-n.txt 2>&1 || { cat out-n.txt; fail "the run without tgt failed"; }
r=runs-n/latest/results.json
expect_jq "$r" '.cases[0].status' skipped
# the reason is the true one (fresh-user finding: "tgt is not installed" when it was, and
# $KILN_TGTD was set empty)
expect_jq "$r" '.cases[0].reason' 'needs feature iscsi, $KILN_TGTD is set empty (unset it to use tgtd from $PATH)'
[ ! -e runs-n/latest/nodes ] || fail "a VM was deployed though the case was skipped"
KILN_TGTD=$T/no-tgtd "$KILN" run --runs-dir runs-m run.yml > out-m.txt 2>&1 || { cat out-m.txt; fail "the run with a missing tgtd failed"; }
expect_jq runs-m/latest/results.json '.cases[0].reason' \
    "needs feature iscsi, \$KILN_TGTD=$T/no-tgtd is not an executable file (No such file or directory)"
[ ! -e runs-m/latest/nodes ] || fail "a VM was deployed though the case was skipped"
exit 0
