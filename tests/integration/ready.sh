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
  - criteria: { name: "verify_kernel_cmdline|verify_console_clean|verify_no_failed_units|verify_cpu_count|verify_memory" }
YAML
"$KILN" run --runs-dir runs ready.yml > out.txt 2>&1
rc=$?
cat out.txt
r=runs/latest/results.json
[ -f "$r" ] || fail "no results.json"
# ready reports the requested shape as met (it lacks PLATFORM_CAP_PROVISIONS_SHAPE): the cases
# comparing the guest with the request skip, saying why
expect_jq "$r" '.cases[] | select(.name=="verify_cpu_count") | .reason' 'the ready platform does not say how many vCPUs it gave'
expect_jq "$r" '.cases[] | select(.name=="verify_memory") | .reason' 'the ready platform does not say how much memory it gave'
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

# Host keys: pinned fingerprints and known_hosts are checked before kiln authenticates, and a
# node presenting another key is refused, naming the host, the key it showed and the one
# expected. Without either, kiln warns that nothing was checked.
expect_in out.txt "was not checked: anyone on the path could answer in its place"
real=$(ssh-keygen -lf host_key.pub | awk '{print $2}')
ssh-keygen -q -t ed25519 -N '' -f other_key
other=$(ssh-keygen -lf other_key.pub | awk '{print $2}')
# ready_run NAME NODE-EXTRA [READY-EXTRA]: a run of verify_kernel_cmdline on the node
ready_run() {
    cat > "$1.yml" <<YAML
name: $1
platform:
  type: ready
  admin_private_key_file: $T/client_key
  ready:
    ${3:-}
    nodes: [ { address: 127.0.0.1, port: $sshd_port, username: $(id -un) $2 } ]
testcase:
  - criteria: { name: verify_kernel_cmdline }
YAML
    "$KILN" run --runs-dir "runs-$1" "$1.yml" > "$1.txt" 2>&1
    echo $?
}
host_reason() { jqv "runs-$1/latest/results.json" '.cases[] | select(.name=="verify_kernel_cmdline") | .reason'; }
rc=$(ready_run pinned ", host_key_fingerprints: [\"$real\"]")
[ "$(jqv runs-pinned/latest/results.json '.cases[0].status')" = "$want" ] || { cat pinned.txt; fail "the pinned node did not run the case"; }
expect_not_in pinned.txt "was not checked"
auths=$(grep -c "Accepted publickey" sshd.log)
[ "$auths" -gt 0 ] || fail "sshd.log shows no authentication, so it cannot show a refused one"
rc=$(ready_run wrongpin ", host_key_fingerprints: [\"$other\"]")
[ "$rc" -eq 1 ] || { cat wrongpin.txt; fail "a node with another host key: exit $rc, expected 1"; }
[ "$(grep -c "Accepted publickey" sshd.log)" = "$auths" ] || fail "kiln authenticated to a host it refused"
case "$(host_reason wrongpin)" in
    *"ssh 127.0.0.1:$sshd_port presented host key $real, expected $other: refused"*) ;;
    *) fail "wrong pin reason: $(host_reason wrongpin)" ;;
esac
echo "[127.0.0.1]:$sshd_port $(cut -d' ' -f1-2 host_key.pub)" > known_hosts
rc=$(ready_run known "" "known_hosts: $T/known_hosts")
[ "$(jqv runs-known/latest/results.json '.cases[0].status')" = "$want" ] || { cat known.txt; fail "the known host did not run the case"; }
sed "s|ssh-ed25519 .*|$(cut -d' ' -f1-2 other_key.pub)|" known_hosts > changed_hosts
rc=$(ready_run changed "" "known_hosts: $T/changed_hosts")
[ "$rc" -eq 1 ] || { cat changed.txt; fail "a changed host key: exit $rc, expected 1"; }
case "$(host_reason changed)" in
    *"ssh 127.0.0.1:$sshd_port presented host key $real, expected $other (from $T/changed_hosts): refused"*) ;;
    *) fail "changed key reason: $(host_reason changed)" ;;
esac
: > empty_hosts
rc=$(ready_run unknown "" "known_hosts: $T/empty_hosts")
case "$(host_reason unknown)" in
    *"presented host key $real, which $T/empty_hosts does not list for it: refused"*) ;;
    *) fail "unknown host reason: $(host_reason unknown)" ;;
esac
# a malformed pin is a configuration error
sed "s|$real|SHA256:short|" pinned.yml > badpin.yml
"$KILN" check badpin.yml > badpin.txt 2>&1 && fail "kiln check accepted a malformed fingerprint"
expect_in badpin.txt '"SHA256:short" is not a SHA256 fingerprint'

# The node layer itself against the same server: exec, hard timeouts, upload/download.
"$KILN_BUILD/tests/unit/node_probe" 127.0.0.1 "$sshd_port" "$(id -un)" "$T/client_key" > probe.txt 2>&1
prc=$?
grep -E '^(not )?ok' probe.txt
[ "$prc" -eq 0 ] || { cat probe.txt; fail "node_probe failed"; }
exit 0
