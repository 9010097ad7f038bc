#!/bin/sh
# platform.keep_environment: with always, kiln run writes its reports, prints an ssh command per
# node that works, keeps the VM until SIGINT, then ends it and exits with the run's own status;
# with failed and every case passing, the run ends by itself.
. "$(dirname "$0")/lib.sh"
command -v ssh >/dev/null || { echo "no OpenSSH client (apt-get install openssh-client)"; exit 77; }

runbook() {
    busybox_runbook "$1" | sed "s/^platform:\$/platform:\n  keep_environment: $2/"
    cat <<'YAML'
testcase:
  - criteria: { name: verify_kernel_cmdline }
YAML
}
runbook kept always > always.yml
"$KILN" run --runs-dir runs always.yml > out.txt 2> err.txt &
pid=$!
for i in $(seq 1 1800); do
    grep -q "^  env0 node0: ssh " out.txt && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
line=$(sed -n 's/^  env0 node0: //p' out.txt)
[ -n "$line" ] || { cat out.txt err.txt; kill -INT "$pid"; wait "$pid"; fail "no ssh line for the kept node"; }
expect_in out.txt "kiln run: platform.keep_environment is always: keeping 1 environment(s) until SIGINT (Ctrl-C) or SIGTERM to kiln (pid $pid)"
# the reports are written before the wait
expect_jq runs/latest/results.json '.cases[0].status' passed
expect_jq runs/latest/results.json '.run.exit_code' 0
# the printed command reaches the node (it is a line for a POSIX shell)
eval "$line" "'cat /proc/cmdline; exit 4'" > ssh.out 2> ssh.err
rc=$?
[ "$rc" -eq 4 ] || { cat ssh.out ssh.err; kill -INT "$pid"; wait "$pid"; fail "the printed ssh command exited $rc, expected 4"; }
expect_in ssh.out "console=ttyS0"
kill -0 "$pid" 2>/dev/null || fail "kiln run did not wait with the environment kept"
pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null || fail "the kept VM is not running"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || { cat out.txt err.txt; fail "kiln run exited $rc after SIGINT, expected the run's own 0"; }
expect_in out.txt "kiln run: ending the kept environment(s)"
expect_no_qemu
[ -z "$(ls -A "$TMPDIR")" ] || fail "the work directory was left: $(ls "$TMPDIR")"

# failed, and nothing failed: the run ends by itself, keeping nothing
runbook kept-failed failed > failed.yml
"$KILN" run --runs-dir runs failed.yml > out2.txt 2> err2.txt
rc=$?
[ "$rc" -eq 0 ] || { cat out2.txt err2.txt; fail "kiln run exited $rc"; }
expect_not_in out2.txt "keeping"
expect_no_qemu
echo "keep_environment: ok"
