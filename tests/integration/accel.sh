#!/bin/sh
# KVM is used only where it runs real guests. The probe guest (long mode, paging, timer
# interrupts on q35 with the guests' CPU model) decides; a KVM guest that still shows no sign
# of life within 20 s is given up: with accel: auto the environment is deployed again under
# TCG, the cached verdict corrected and a warning printed; with accel: kvm it is an error
# within that window. On a host whose /dev/kvm runs no real guest (PVM, broken nesting) the
# wrong verdict is planted in the cache, as a stale cache or a lying probe would leave it.
. "$(dirname "$0")/lib.sh"
export KILN_CACHE="$T/cache"
cache=$KILN_CACHE/accel-probe

busybox_runbook accel <<'YAML' | sed 's/accel: tcg/accel: auto\n    cpu_model: qemu64/' > auto.yml
testcase:
  - criteria: { name: smoke }
YAML
grep -q "cpu_model: qemu64" auto.yml || fail "runbook edit did not apply"
"$KILN" run --runs-dir runs auto.yml > out1.txt 2>&1 || { cat out1.txt; fail "first run failed"; }
[ -s "$cache" ] || fail "no probe verdict cached in $cache"
verdict=$(cut -d' ' -f2 "$cache")
expect_in "$cache" "cpu=qemu64"
note "probe verdict here: $(cut -d'|' -f2- "$cache")"
expect_jq runs/latest/results.json .run.accel "$verdict"
if [ "$verdict" = kvm ]; then
    note "KVM runs real guests here: the fallback cannot be shown on this host"
    expect_no_qemu
    exit 0
fi

# a cached "kvm" on a host where KVM runs no real guest: the run still passes, under TCG
sed -i 's/ tcg / kvm /' "$cache"
"$KILN" run --runs-dir runs auto.yml > out2.txt 2>&1 || { cat out2.txt; fail "the run did not fall back to TCG"; }
expect_in out2.txt "warning: qemu: KVM does not run real guests here (node0: no sign of life under KVM after 20 s"
expect_in out2.txt "deploying env0 again under TCG"
expect_jq runs/latest/results.json '.cases[0].status' passed
expect_jq runs/latest/results.json .run.accel tcg
[ "$(cut -d' ' -f2 "$cache")" = tcg ] || { cat "$cache"; fail "the cached verdict was not corrected"; }
expect_in "$cache" "no sign of life under KVM"
[ "$(ls runs/latest/nodes)" = node0 ] || fail "nodes after the fallback: $(ls runs/latest/nodes)"

# the corrected verdict is used by the next run: no watchdog wait
"$KILN" run --runs-dir runs auto.yml > out3.txt 2>&1 || { cat out3.txt; fail "third run failed"; }
expect_in out3.txt "qemu: using tcg (node0: no sign of life under KVM"
expect_not_in out3.txt "deploying env0 again"

# accel: kvm insists: a clear error within the window, not the boot timeout
sed -i 's/ tcg / kvm /' "$cache"
sed 's/accel: auto/accel: kvm/' auto.yml > kvm.yml
expect_status 1 "$KILN" run --runs-dir runs kvm.yml
reason=$(jqv runs/latest/results.json '.cases[0].reason')
case "$reason" in
    "platform.qemu.accel is kvm but KVM does not run this guest: node0: no sign of life under KVM after 20 s"*"use accel: auto or tcg") ;;
    *) fail "forced kvm reason: $reason" ;;
esac
took=$(jqv runs/latest/results.json '.cases[0].duration_s')
note "forced kvm failed after $took s (boot timeout 120 s)"
expect_no_qemu
exit 0
