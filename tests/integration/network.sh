#!/bin/sh
# Network features of the qemu platform on the busybox image (no systemd, busybox ip):
# a private L2 segment between two VMs carrying 100 MiB with matching SHA-256 on both ends,
# and a multiqueue virtio-net NIC whose queues the guest uses. The Debian paths are covered
# by tier1 (verify_private_network) and tests/defects (both cases caught on broken images).
. "$(dirname "$0")/lib.sh"
busybox_runbook net "console=ttyS0 quiet" <<YAML > net.yml
testcase:
  - criteria: { name: "verify_private_network|verify_multiqueue|verify_nics_up" }
YAML
sed -i 's/cpus: 1/cpus: 2/' net.yml
"$KILN" run --runs-dir runs net.yml > out.txt 2>&1
rc=$?
cat out.txt
r=runs/latest/results.json
for c in verify_private_network verify_nics_up; do
    [ "$(jqv "$r" ".cases[] | select(.name==\"$c\") | .status")" = passed ] || fail "$c did not pass"
done
mq=$(jqv "$r" '.cases[] | select(.name=="verify_multiqueue") | .status')
if [ "$(id -u)" = 0 ] && [ -w /dev/net/tun ]; then
    [ "$mq" = passed ] || fail "verify_multiqueue is $mq"
    [ "$(jqv "$r" '.cases[] | select(.name=="verify_multiqueue") | .metrics[0].value')" = 2 ] || fail "nic_queues metric"
else
    [ "$mq" = skipped ] || fail "verify_multiqueue should be skipped without CAP_NET_ADMIN"
fi
[ "$rc" -eq 0 ] || fail "exit $rc"
expect_in runs/latest/cases/verify_private_network/log.txt "104857600 bytes, sha256"
expect_in runs/latest/cases/verify_private_network/log.txt "on both ends"
[ "$(jq '[.cases[] | select(.name=="verify_private_network") | .metrics[] | select(.name=="private_net_throughput")] | length' "$r")" = 1 ] ||
    fail "no throughput metric"
# the private segment is gone with the run: no hub socket left behind
[ -z "$(find "$TMPDIR" -name '*-l2.sock' 2>/dev/null)" ] || fail "a private network socket outlived the run"
expect_no_qemu
exit 0
