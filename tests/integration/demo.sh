#!/bin/sh
# What `make demo` does: kiln builds the example Debian bookworm image, then kiln run boots it
# through OVMF + systemd-boot (accel: auto, the KVM probe decides). Every provisioning case
# must pass.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000   # the same package tree as tests/integration/image.sh
"$KILN" build "$root/examples/images/debian-server.yml" --out out > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
tail -n 2 build.txt
"$KILN" run --runs-dir runs -v image="$T/out/debian-server-1.0.0.qcow2" "$root/examples/demo.yml" > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 0 ] || fail "kiln run examples/demo.yml exited $rc"
r=runs/latest/results.json
for f in results.json junit.xml report.html; do [ -s "runs/latest/$f" ] || fail "missing $f"; done
expect_jq "$r" .summary.passed 4
expect_jq "$r" '.cases[] | select(.name=="verify_no_failed_units") | .status' passed
expect_in runs/latest/nodes/node0/console.log "Debian GNU/Linux 12"
expect_no_qemu
exit 0
