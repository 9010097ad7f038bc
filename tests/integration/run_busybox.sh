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
# progress on stdout (not a TTY: plain lines): each case's start, with the time into the run,
# comes before its end line, which has its duration
for name in $(jq -r '.cases[].name' "$r"); do
    s=$(grep -nE "^  STARTED   $name \(([0-9]+s|[0-9]+m[0-9]{2}s|[0-9]+h[0-9]{2}m) into the run\)\$" out.txt | cut -d: -f1)
    e=$(grep -nE "^\[[ 0-9]+/4\] [A-Z]+ +$name +[0-9]+\.[0-9]s" out.txt | cut -d: -f1)
    [ -n "$s" ] && [ -n "$e" ] && [ "$s" -lt "$e" ] || fail "case $name: start line ${s:-missing}, end line ${e:-missing}"
done
[ "$(grep -c '^  STARTED   ' out.txt)" -eq 4 ] || fail "not one start line per case"
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
# performance counters per case: the VM process sampled on the host, the guest's /proc read around it
pf=$d/cases/smoke/perf.json
expect_jq "$r" '.cases[] | select(.name=="smoke") | .perf' cases/smoke/perf.json
expect_jq "$pf" '[.host[] | .samples | length > 0] | all' true
expect_jq "$pf" '[.host[] | .cpu_s > 0 and .rss_max_kib > 0] | all' true
# smoke reboots the guest: its counters restart, so the figures cover the new boot
expect_jq "$pf" '[.guest[] | .mem_total_kib > 0] | all' true
expect_jq "$pf" '[.guest[] | .rebooted] | all' true
# a case without a reboot: its counters read around it (through one long-lived channel, so no
# command of its own appears in the case's log)
pk=$d/cases/verify_kernel_cmdline/perf.json
expect_jq "$pk" '[.guest[] | .mem_total_kib > 0 and .mem_used_kib_start > 0 and (.rebooted | not)] | all' true
expect_not_in "$d/cases/verify_kernel_cmdline/log.txt" "/proc/meminfo"
expect_jq "$r" '[.run.tested[].role] | join(",")' kernel,initrd
expect_jq "$r" '.run.tested[] | select(.role=="initrd") | .sha256' "$(sha256sum "$KILN_BUSYBOX/initrd.img" | cut -d' ' -f1)"

# the telemetry archive: every file with its sha256, signed; no secret in it
export KILN_PASSPHRASE=arch-pass-3c1d
"$KILN" keygen --out ak > /dev/null 2>&1 || fail "keygen"
"$KILN" archive "$d" -k ak.key -o run.tar.zst > arch.txt 2>&1 || { cat arch.txt; fail "kiln archive"; }
"$KILN" archive --verify run.tar.zst -p ak.pub > verify.txt 2>&1 || { cat verify.txt; fail "archive --verify"; }
expect_in verify.txt "files match the manifest; signature good"
minisign -Vm run.tar.zst -p ak.pub > /dev/null 2>&1 || fail "stock minisign rejects the archive's signature"
mkdir x && tar -C x --zstd -xf run.tar.zst || fail "tar cannot unpack the archive"
id=$(basename "$(readlink -f "$d")")
(cd "x/$id" && sha256sum -c --quiet MANIFEST.sha256) || fail "sha256sum -c rejects the archive's manifest"
[ "$(find "x/$id" -type f | wc -l)" -eq "$(( $(find "$d/" -type f | wc -l) + 1 ))" ] || fail "the archive does not hold every file of the run"
! grep -rq "Zq9-very-secret-value" x || fail "the secret is in the archive"
! grep -q "arch-pass-3c1d" arch.txt verify.txt || fail "the passphrase was printed"
# tampering: a byte of a member (the archive re-compressed, so only the manifest can tell)
zstd -dq run.tar.zst -o run.tar
off=$(grep -abo "kiln-busybox: ready" run.tar | head -1 | cut -d: -f1)
printf 'K' | dd of=run.tar bs=1 seek="$off" conv=notrunc status=none
zstd -q run.tar -o bad.tar.zst
expect_status 1 "$KILN" archive --verify bad.tar.zst
expect_in "$T/err" "console.log does not match the manifest"
# a flipped byte in the compressed file, a truncated one, garbage, a signature by another key
cp run.tar.zst flip.tar.zst
printf '\377' | dd of=flip.tar.zst bs=1 seek=2000 conv=notrunc status=none
expect_status 1 "$KILN" archive --verify flip.tar.zst
head -c 3000 run.tar.zst > cut.tar.zst
expect_status 1 "$KILN" archive --verify cut.tar.zst
expect_in "$T/err" "cut.tar.zst"
head -c 5000 /dev/urandom > junk.tar.zst
expect_status 1 "$KILN" archive --verify junk.tar.zst
"$KILN" keygen --out other --no-passphrase > /dev/null 2>&1
expect_status 1 "$KILN" archive --verify run.tar.zst -p other.pub
expect_in "$T/err" "was made with key"
# a private key in the run directory: refused, nothing written
cp ak.key "$d/cases/smoke/"
expect_status 1 "$KILN" archive "$d" -o leak.tar.zst
expect_in "$T/err" "holds a private key"
[ ! -e leak.tar.zst ] && [ -z "$(ls leak.tar.zst.tmp-* 2>/dev/null)" ] || fail "a refused archive left a file"
expect_no_qemu
exit 0
