#!/bin/sh
# The ready platform against a real OpenSSH server on loopback (started here, on a port of
# its own, with a key of its own). Never selects smoke: it would reboot this machine.
. "$(dirname "$0")/lib.sh"
command -v /usr/sbin/sshd >/dev/null || { echo "openssh-server not installed"; exit 77; }

ssh-keygen -q -t ed25519 -N '' -f host_key
ssh-keygen -q -t ed25519 -N '' -f client_key
cp client_key.pub authorized_keys
mkdir -p /run/sshd
port=
for try in 1 2 3 4 5; do
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
    /usr/sbin/sshd -D -e -p "$p" -o ListenAddress=127.0.0.1 -h "$T/host_key" \
        -o AuthorizedKeysFile="$T/authorized_keys" -o StrictModes=no -o PidFile="$T/sshd.pid" \
        -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no 2> sshd.log &
    spid=$!
    sleep 0.5
    if kill -0 $spid 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { cat sshd.log; fail "could not start sshd"; }
trap 'kill $spid 2>/dev/null; rm -rf "$T"' EXIT

cat > ready.yml <<YAML
name: ready
platform:
  type: ready
  admin_private_key_file: $T/client_key
  ready:
    nodes: [ { address: 127.0.0.1, port: $port, username: $(id -un) } ]
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
"$KILN_BUILD/tests/unit/node_probe" 127.0.0.1 "$port" "$(id -un)" "$T/client_key" > probe.txt 2>&1
prc=$?
grep -E '^(not )?ok' probe.txt
[ "$prc" -eq 0 ] || { cat probe.txt; fail "node_probe failed"; }
exit 0
