#!/bin/sh
# What `make demo` does: the Debian bookworm image (systemd, OpenSSH) through kiln run,
# with accel: auto (the KVM probe decides). Every provisioning case must pass.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
images=$(sh "$root/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
"$KILN" run --runs-dir runs -v images="$images" "$root/examples/demo.yml" > out.txt 2>&1
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
