#!/bin/sh
# What a script test prints, end to end, without a VM: the ready platform on this machine
# through an OpenSSH server on loopback runs one script per file of tests/data/inputs (each
# prints the file and exits 0). Checks the verdicts and subtests in results.json, that every
# TAP stream gets the verdict Perl's prove gives it, that junit.xml is valid against junit-10.xsd
# (xmllint --schema) whatever bytes were printed, that no escape reaches the terminal, and that
# an extension directory yielding no test is refused.
. "$(dirname "$0")/lib.sh"
command -v prove >/dev/null || { echo "prove (perl) not installed"; exit 77; }
command -v xmllint >/dev/null || { echo "xmllint (libxml2-utils) not installed"; exit 77; }
loopback_sshd
inputs=$KILN_ROOT/tests/data/inputs
# the directory name is the case prefix and where kiln unpacks it on this machine
dir=outputs$$
ext=$T/$dir
mkdir -p "$ext/data"
cp -r "$inputs"/junit-from-scripts "$inputs"/tap-plans "$inputs"/tap-yaml-block "$inputs"/tap-siblings \
    "$inputs"/junit-bytes "$ext/data/"
for f in "$ext"/data/*/*.txt; do
    kind=$(basename "$(dirname "$f")")
    name=$(basename "$f" .txt)
    printf '#!/bin/sh\necho "$AUTOPKGTEST_TMP" >> %s/tmps.txt\ncat "$KILN_DATA/%s/%s.txt"\n' "$T" "$kind" "$name" > "$ext/${kind}__$name.sh"
    chmod +x "$ext/${kind}__$name.sh"
done
trap 'kill $sshd_pid 2>/dev/null; rm -rf "$T" "/var/tmp/kiln-ext/$dir"' EXIT
cat > rb.yml <<YAML
name: outputs
platform:
  type: ready
  admin_private_key_file: $T/client_key
  ready:
    nodes: [ { address: 127.0.0.1, port: $sshd_port, username: $(id -un) } ]
extension: [ $ext ]
testcase:
  - criteria: { name: "ext\\\\..*" }
YAML
"$KILN" run --runs-dir runs rb.yml > out.txt 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat out.txt; fail "kiln run exited $rc, expected 1 (some inputs fail on purpose)"; }
r=runs/latest/results.json
# the node outlives the run (platform ready): what kiln unpacked there is gone with it
[ ! -e "/var/tmp/kiln-ext/$dir" ] || fail "kiln left /var/tmp/kiln-ext/$dir on the ready node"
note "the extension unpacked on the ready node was removed at the end of the run"
[ -f "$r" ] || { cat out.txt; fail "no results.json"; }
# this machine is the node and outlives the run: kiln leaves no test's AUTOPKGTEST_TMP on it (27
# empty /tmp/tmp.* per run used to stay) and no reboot helper
[ "$(wc -l < tmps.txt)" -ge 20 ] || fail "the scripts did not record their AUTOPKGTEST_TMP ($(wc -l < tmps.txt) lines)"
while read -r d; do [ -n "$d" ] && [ ! -e "$d" ] || fail "AUTOPKGTEST_TMP $d is left on the node"; done < tmps.txt
[ ! -e /tmp/autopkgtest-reboot ] || fail "the reboot helper is left on the node in /tmp/autopkgtest-reboot"
case_of() { echo "ext.$dir.$1"; }
field() { jq -r --arg c "$(case_of "$1")" '.cases[] | select(.name==$c) | .'"$2" "$r"; }
expect() { got=$(field "$1" "$2"); [ "$got" = "$3" ] || fail "$1 $2: '$got', expected '$3'"; }
subs() { jq -r --arg c "$(case_of "$1")" '.cases[] | select(.name==$c) | .subtests | map(.name + "=" + .status) | join(",")' "$r"; }

# JUnit from scripts: the report's subtests whatever surrounds it; the case fails naming the failure
for n in reference-clean esc trailing leading ok-line; do
    expect "junit-from-scripts__$n" status failed
    [ "$(subs "junit-from-scripts__$n")" = "ui.render.renders header=passed,ui.render.renders footer=failed" ] ||
        fail "$n subtests: $(subs "junit-from-scripts__$n")"
    case "$(field "junit-from-scripts__$n" reason)" in
        "1 of 2 subtests failed: ui.render.renders footer ("*) ;;
        *) fail "$n reason: $(field "junit-from-scripts__$n" reason)" ;;
    esac
done
expect junit-from-scripts__esc reason "1 of 2 subtests failed: ui.render.renders footer (Error: expected footer to be visible…)"
[ "$(subs junit-from-scripts__two-reports)" = \
  "ui.render.renders header=passed,ui.render.renders footer=failed,api.http.renders header=passed,api.http.renders footer=failed" ] ||
    fail "two-reports subtests: $(subs junit-from-scripts__two-reports)"
expect junit-from-scripts__two-reports status failed

# TAP plans and YAML blocks
expect tap-plans__over-plan status failed
expect tap-plans__over-plan reason "1 of 4 subtests failed: TAP (plan 1..2 but 3 reported)"
expect tap-plans__zero-plan-with-test status failed
expect tap-plans__zero-plan-with-test reason "1 of 2 subtests failed: TAP (plan 1..0 but 1 reported)"
expect tap-plans__skip-all status skipped
expect tap-plans__skip-all reason "no virtio-rng device on this node"
expect tap-plans__no-plan status failed
expect tap-plans__no-plan reason "1 of 3 subtests failed: TAP (no plan (a line 1..N) in the TAP output)"
expect tap-yaml-block__yaml-block status passed
[ "$(subs tap-yaml-block__yaml-block)" = \
  "reporter prints the expected stream=passed,reporter exits 0=passed" ] || fail "yaml-block subtests: $(subs tap-yaml-block__yaml-block)"

# every TAP stream: kiln's verdict is prove's
for f in "$inputs"/tap-plans/*.txt "$inputs"/tap-yaml-block/*.txt "$inputs"/tap-siblings/*.txt "$inputs"/junit-bytes/tap-*.txt; do
    kind=$(basename "$(dirname "$f")")
    name=$(basename "$f" .txt)
    pout=$(prove --exec cat "$f" 2>&1)
    prc=$?
    if [ "$prc" -ne 0 ]; then want=failed
    elif printf '%s\n' "$pout" | grep -q '^Result: NOTESTS'; then want=skipped
    else want=passed; fi
    got=$(field "${kind}__$name" status)
    [ "$got" = "$want" ] || { printf '%s\n' "$pout"; fail "$kind/$name: kiln says $got, prove says $want"; }
    note "$kind/$name: $got (prove agrees)"
done

# bytes: junit.xml stays well-formed; results.json keeps the text, U+FFFD only for invalid bytes
xmllint --noout runs/latest/junit.xml || fail "junit.xml is not well-formed XML"
xmllint --noout --nonet --schema "$KILN_ROOT/tests/data/schemas/junit-10.xsd" runs/latest/junit.xml ||
    fail "junit.xml is not valid against junit-10.xsd"
# the guests' terminal escapes and controls reach neither junit.xml nor the terminal kiln prints to
esc=$(printf '\033')
grep -q "$esc" runs/latest/junit.xml && fail "an escape character in junit.xml"
grep -q "$esc" out.txt && fail "a guest's escape sequence reached kiln run's output: $(grep -n "$esc" out.txt | cat -v)"
[ "$(subs junit-bytes__tap-latin1)" = "r�sum� export (latin-1 locale)=failed" ] || fail "latin-1: $(subs junit-bytes__tap-latin1)"
[ "$(subs junit-bytes__tap-uffff)" = "decoder returns ￿ for unmapped input=failed" ] || fail "U+FFFF: $(subs junit-bytes__tap-uffff)"
long=$(jq -r --arg c "$(case_of junit-bytes__junit-cyrillic-long)" '.cases[] | select(.name==$c) | .subtests[0].reason' "$r")
case "$long" in XОшибка:*…) ;; *) fail "the long Cyrillic reason: $long" ;; esac
case "$long" in *�*) fail "U+FFFD in the long Cyrillic reason: $long" ;; esac
expect_not_in "$r" "invalid UTF-8"
# a failed subtest whose name drives a terminal: its own failure in junit.xml, the escapes dropped
expect junit-bytes__tap-controls status failed
xmllint --xpath 'string(//testcase[@name="title set, screen cleared, bell  rang"]/failure/@message)' \
    runs/latest/junit.xml > msg.txt || fail "no testcase for the tap-controls subtest in junit.xml"
[ "$(cat msg.txt)" = "title set, screen cleared, bell  rang failed" ] || fail "tap-controls failure message: $(cat -v msg.txt)"

# an extension directory that yields no test is refused where the runbook names it
mkdir -p nested/ui && cp "$ext/tap-plans__no-plan.sh" nested/ui/
cat > nested.yml <<YAML
platform: { type: ready, ready: { nodes: [ { address: 127.0.0.1 } ] } }
extension: [ ./nested ]
YAML
expect_status 2 "$KILN" check nested.yml
expect_in "$T/err" "nested.yml:2:14: extension[0]: nested holds no test (an executable file); subdirectories are not searched (ui/): list each under extension:"
exit 0
