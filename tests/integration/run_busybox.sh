#!/bin/sh
# Two busybox VMs at once (concurrency: 2) run the provisioning cases; checks the run directory, the reports,
# secret masking, console capture and that nothing is left running.
. "$(dirname "$0")/lib.sh"

busybox_runbook bbrun "console=ttyS0 quiet kiln.token=\$(token)" <<'YAML' > run.yml
concurrency: 2
variable:
  - { name: token, value: Zq9-very-secret-value, is_secret: true }
testcase:
  - criteria: { area: provisioning }
YAML
"$KILN" run --runs-dir runs run.yml > out.txt 2> err.txt
rc=$?
cat out.txt
[ "$rc" -eq 0 ] || { cat err.txt; fail "kiln run exited $rc"; }
d=runs/latest
[ -L "$d" ] || fail "runs/latest is not a symlink"
for f in results.json junit.xml report.html kiln.log nodes/node0/console.log cases/smoke/log.txt; do
    [ -s "$d/$f" ] || fail "missing $d/$f"
done
r=$d/results.json
expect_jq "$r" .schema kiln.results/v1
expect_jq "$r" '.cases[] | select(.name=="smoke") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="verify_console_clean") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="verify_no_failed_units") | .status' skipped
reason=$(jqv "$r" '.cases[] | select(.name=="verify_no_failed_units") | .reason')
case "$reason" in "no systemd on node"[01]" (/run/systemd/system missing)") ;; *) fail "skip reason: $reason" ;; esac
expect_jq "$r" '.run.exit_code' 0
expect_jq "$r" '.run.accel' tcg
expect_in "$d/cases/smoke/log.txt" "rebooted: boot id"
expect_in "$d/cases/smoke/log.txt" "[cmd "
cat "$d"/nodes/node*/console.log > consoles.txt
expect_in consoles.txt "kiln-busybox: ready"
expect_in "$d/junit.xml" '<testcase classname="kiln.provisioning" name="smoke"'
expect_in "$d/report.html" 'href="cases/smoke/log.txt"'
# the secret reached the guest (it is on the kernel command line) but no file of the run
expect_in "$d/cases/verify_kernel_cmdline/log.txt" "kiln.token=******"
[ "$(jq '[.cases[].environment] | unique | length' "$r")" -eq 2 ] || fail "expected two environments in parallel"
if grep -rq "Zq9-very-secret-value" runs/ out.txt err.txt; then
    grep -rl "Zq9-very-secret-value" runs/ out.txt err.txt >&2
    fail "the secret leaked"
fi
expect_no_qemu
exit 0
