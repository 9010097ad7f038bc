#!/bin/sh
# A secret (-v s:tok=...) leaks through none of kiln's outputs. kiln puts it on the busybox
# guest's kernel command line; the guest sends it back through a case's output and failure
# reason (the 'attempt result:' line), a 5000-byte console line with the secret across byte
# 4096 (where kiln cuts console lines), LTP's and kselftest's per-test logs (cheap fixtures in
# tests/data/secrets). Then neither the secret nor any prefix of 6 bytes or more of it may be
# found in the run directory, the archive, kiln's terminal output, qemu's argv (read from
# /proc while the VM runs), nor in what kiln check / list / run print for a failing field.
# Secrets of 1-3 bytes are refused; secrets shaped like JSON or XML syntax leave the reports
# well-formed (jq, xmllint).
. "$(dirname "$0")/lib.sh"
S=kilnTOK3n5ecretV4lue9Q
data=$KILN_ROOT/tests/data/secrets
k=${#S}
: > prefixes
while [ "$k" -ge 6 ]; do printf '%s\n' "$S" | cut -c1-"$k" >> prefixes; k=$((k - 1)); done
# no_leak WHAT PATH...: no file under PATH holds a prefix of the secret
no_leak() {
    what=$1; shift
    if grep -rlaF -f prefixes "$@" > leaks 2>/dev/null; then
        while read -r f; do echo "--- $f:" >&2; grep -aoF -f prefixes "$f" | head -3 >&2; done < leaks
        fail "$what holds (a prefix of) the secret"
    fi
}

# validation errors quoting the secret, whole and cut at 60 bytes by the YAML layer
cat > bad.yml <<YAML
name: bad
platform:
  type: qemu
  qemu:
    kernel: /nonexistent/\$(tok)/vmlinuz
    memory_mb: "\$(tok)"
    cpus: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\$(tok)"
YAML
for verb in check list run; do
    "$KILN" "$verb" -v "s:tok=$S" bad.yml > "bad-$verb.txt" 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || { cat "bad-$verb.txt"; fail "kiln $verb on a bad runbook exited $rc, expected 2"; }
    expect_in "bad-$verb.txt" 'platform.qemu.memory_mb: expected an integer, got "******"'
    expect_in "bad-$verb.txt" 'got "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa******"'
done
# a path holding the secret, reported by check once the fields are valid
sed -e '/memory_mb/d' -e '/cpus/d' bad.yml > badpath.yml
"$KILN" check -v "s:tok=$S" badpath.yml > bad-path.txt 2>&1
expect_in bad-path.txt "/nonexistent/******/vmlinuz"
# a malformed secret variable (no name before =) is not echoed either
"$KILN" check -v "s:=$S" bad.yml > bad-var.txt 2>&1
expect_in bad-var.txt "kiln check: -v s:...: the form is -v name=value, or -v s:name=value for a secret"
# -v s:VALUE (no name) is that error too, never a plain variable named "s" holding the secret
"$KILN" check -v "s:$S" badpath.yml > bad-noname.txt 2>&1
rc=$?
[ "$rc" -eq 2 ] || { cat bad-noname.txt; fail "kiln check -v s:VALUE exited $rc, expected 2"; }
expect_in bad-noname.txt "kiln check: -v s:...: the form is -v name=value, or -v s:name=value for a secret"
no_leak "kiln check/list/run output" bad-check.txt bad-list.txt bad-run.txt bad-path.txt bad-var.txt bad-noname.txt

busybox_runbook sec "console=ttyS0 quiet kiln.tok=\$(tok)" <<YAML > sec.yml
extension: [ $data/ext ]
ltp:
  source: $data/ltp
  root: /opt/ltp
  groups: [kilnsecret]
  timeout_s: 30
kselftest:
  source: $data/kselftest
  collections: [leak]
testcase:
  - criteria: { name: "ext\\\\.ext\\\\.leak|ltp\\\\.kilnsecret|kselftest\\\\.leak" }
YAML
"$KILN" run --runs-dir runs -v "s:tok=$S" sec.yml > out.txt 2>&1 &
kpid=$!
# qemu's argv, read while it runs, and the private files of the run
qpid=
for i in $(seq 1 200); do
    qpid=$(pgrep -f "qemu-system-x86_64 -name kiln-.*$T/" | head -n 1)
    [ -n "$qpid" ] && break
    sleep 0.1
done
[ -n "$qpid" ] || { wait $kpid; cat out.txt; fail "no qemu started"; }
tr '\0' '\n' < "/proc/$qpid/cmdline" > qemu-argv.txt
no_leak "qemu's argv" qemu-argv.txt
grep -qx -- -readconfig qemu-argv.txt || fail "qemu got no -readconfig for the kernel command line"
cfg=$(grep -A1 -x -- -readconfig qemu-argv.txt | tail -n 1)
[ "$(stat -c %a "$cfg")" = 600 ] || fail "$cfg is mode $(stat -c %a "$cfg"), expected 600"
work=$(dirname "$(dirname "$cfg")")
[ "$(stat -c %a "$work")" = 700 ] || fail "work dir $work is mode $(stat -c %a "$work"), expected 700"
[ "$(stat -c %a "$work/id_ed25519")" = 600 ] || fail "the run's private key is mode $(stat -c %a "$work/id_ed25519")"
wait $kpid
rc=$?
cat out.txt
[ "$rc" -eq 1 ] || fail "kiln run exited $rc, expected 1 (every case fails on purpose)"
r=runs/latest/results.json
st() { jqv "$r" ".cases[] | select(.name==\"$1\") | .$2"; }
sub() { jqv "$r" "[.cases[].subtests[]? | select(.name==\"$1\")][0] | .$2"; }
[ "$(st ext.ext.leak status)" = failed ] || fail "ext.ext.leak: $(st ext.ext.leak status) ($(st ext.ext.leak reason))"
[ "$(st ext.ext.leak reason)" = "exit status 1: the token was ******" ] || fail "ext.ext.leak reason: $(st ext.ext.leak reason)"
expect_in runs/latest/cases/ext.ext.leak/log.txt "attempt result: failed: exit status 1: the token was ******"
expect_in runs/latest/cases/ext.ext.leak/log.txt "output line: ******"
expect_in runs/latest/cases/ext.ext.leak/log.txt "| the token was ******"
# the long console line: cut where the secret starts (byte 4090), not at 4096 in its middle
grep -aqx 'a\{4090\}' runs/latest/nodes/*/console.log || fail "the 5000-byte console line was not cut before the secret"
[ "$(sub ltp:kilnsecret:leak01 status)" = failed ] || fail "ltp:kilnsecret:leak01: $(sub ltp:kilnsecret:leak01 status)"
[ "$(sub ltp:kilnsecret:leak01 reason)" = "TFAIL (exit 1): leak01.c:7: TINFO: token ******|leak01.c:9: TFAIL: the token is ******" ] ||
    fail "leak01 reason: $(sub ltp:kilnsecret:leak01 reason)"
expect_in runs/latest/cases/ltp.kilnsecret/ltp/leak01.log "TINFO: token ******"
[ "$(sub kselftest:leak:leak01 status)" = failed ] || fail "kselftest:leak:leak01: $(sub kselftest:leak:leak01 status)"
expect_in "runs/latest/cases/kselftest.leak/kselftest/leak:leak01.log" "# token ******"
no_leak "the run directory" runs/
no_leak "kiln run's output" out.txt
# the archive carries what the run directory holds
"$KILN" archive runs/latest -o run.tar.zst > arch.txt 2>&1 || { cat arch.txt; fail "kiln archive failed"; }
mkdir unpacked && tar --zstd -xf run.tar.zst -C unpacked || fail "cannot unpack the archive"
[ -n "$(find unpacked -name console.log)" ] || fail "the archive has no console log"
no_leak "the archive" unpacked/
[ -z "$(ls -d "$TMPDIR"/kiln-run-* 2>/dev/null)" ] || fail "the work dir outlived the run"

# secrets of 1-3 bytes are refused where they are given, without quoting them
for v in a '"' 1 '{'; do
    "$KILN" check -v "s:pw=$v" badpath.yml > short.txt 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || { cat short.txt; fail "kiln check with a 1-byte secret exited $rc, expected 2"; }
    expect_in short.txt '<command line>: variable: the secret variable "pw" is 1 byte long: a secret needs at least 4 bytes'
done
# secrets shaped like the reports' syntax or part of a case name: the reports stay well-formed
# (values are masked before they are serialised) and no value in them holds a secret
busybox_runbook shape <<YAML > shape.yml
testcase:
  - criteria: { name: smoke }
YAML
"$KILN" run --runs-dir shape -v 's:q=": "' -v 's:x=</testcase>' -v 's:c=smok' shape.yml > shape.txt 2>&1
rc=$?
[ "$rc" -eq 0 ] || { cat shape.txt; fail "kiln run with syntax-shaped secrets exited $rc"; }
r=shape/latest/results.json
jq -e . "$r" > /dev/null || fail "results.json does not parse with a secret \": \""
xmllint --noout shape/latest/junit.xml || fail "xmllint refuses junit.xml with a secret </testcase>"
expect_jq "$r" '.cases[0].status' passed
expect_jq "$r" '.cases[0].name' '******e'
[ "$(jq '[.. | strings | select(contains("\": \"") or contains("</testcase>") or contains("smok"))] | length' "$r")" = 0 ] ||
    fail "a value in results.json holds a secret"
if grep -rlaF smok shape/latest/ shape.txt; then fail "a file of the run holds the secret smok"; fi
expect_no_qemu
exit 0
