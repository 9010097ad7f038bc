#!/bin/sh
# A stock cloud-init image (tests/images/stock.sh cloudinit: cloud-init + netplan, as Debian 12's
# cloud images) in an environment with two NICs: every user-mode NIC is up with an address,
# because kiln's NoCloud seed carries a network-config for each NIC as a cloud's metadata does
# (without it cloud-init configured only the first NIC and verify_nics_up failed falsely).
. "$(dirname "$0")/lib.sh"
images=$(sh "$KILN_ROOT/tests/images/build.sh" stock-cloudinit) || fail "cannot build the stock-cloudinit image"
cat > nics.yml <<YAML
name: nics
include: [ $KILN_ROOT/examples/common-debian.yml ]
platform:
  requirement: { nics: 2 }
testcase:
  - criteria: { name: "verify_nics_up|verify_route_and_dns" }
YAML
"$KILN" run --runs-dir runs -v images="$images" -v append="$(cat "$images/append")" nics.yml > out.txt 2>&1
rc=$?
cat out.txt
r=runs/latest/results.json
[ -f "$r" ] || fail "no results.json"
expect_jq "$r" '.cases[] | select(.name=="verify_nics_up") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="verify_nics_up") | .metrics[] | select(.name=="nics") | .value' 2
expect_jq "$r" '.cases[] | select(.name=="verify_route_and_dns") | .status' passed
[ "$rc" -eq 0 ] || fail "kiln run exited $rc"
expect_no_qemu
exit 0
