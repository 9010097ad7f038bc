#!/bin/sh
# The ready platform against a real OpenSSH server on loopback (started here, on a port of
# its own, with a key of its own). Never selects smoke: it would reboot this machine.
. "$(dirname "$0")/lib.sh"
loopback_sshd

cat > ready.yml <<YAML
name: ready
platform:
  type: ready
  admin_private_key_file: $T/client_key
  ready:
    nodes: [ { address: 127.0.0.1, port: $sshd_port, username: $(id -un) } ]
testcase:
  - criteria: { name: "verify_kernel_cmdline|verify_console_clean|verify_no_failed_units" }
YAML
"$KILN" run --runs-dir runs ready.yml > out.txt 2>&1
rc=$?
cat out.txt
r=runs/latest/results.json
[ -f "$r" ] || fail "no results.json"
expect_jq "$r" '.cases[] | select(.name=="verify_console_clean") | .reason' \
    'needs feature serial-console, not available on ready nodes'
if grep -Eq '(^| )console=(ttyS|hvc)' /proc/cmdline; then want=passed; else want=failed; fi
expect_jq "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .status' "$want"
if [ "$want" = failed ]; then
    expect_jq "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .reason' \
        "/proc/cmdline has no serial console (console=ttyS0 or hvc0); it is: $(cat /proc/cmdline | sed 's/ *$//')"
fi
expect_in runs/latest/cases/verify_kernel_cmdline/log.txt "cat /proc/cmdline"
expect_jq "$r" .run.platform ready

# The node layer itself against the same server: exec, hard timeouts, upload/download.
"$KILN_BUILD/tests/unit/node_probe" 127.0.0.1 "$sshd_port" "$(id -un)" "$T/client_key" > probe.txt 2>&1
prc=$?
grep -E '^(not )?ok' probe.txt
[ "$prc" -eq 0 ] || { cat probe.txt; fail "node_probe failed"; }
exit 0
