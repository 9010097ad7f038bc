#!/bin/sh
# firmware: uefi boots through OVMF; a case requiring uefi runs there and is skipped,
# with the reason, under BIOS; a case requiring tpm is skipped with its reason.
. "$(dirname "$0")/lib.sh"
busybox_runbook efi <<YAML | sed 's/    accel: tcg/    accel: tcg\n    firmware: uefi/' > efi.yml
extension: [ $KILN_ROOT/tests/data/ext/uefi ]
testcase:
  - criteria: { name: "smoke|ext\\\\.uefi\\\\..*" }
YAML
"$KILN" run --runs-dir runs efi.yml > out.txt 2>&1 || { cat out.txt; fail "uefi run failed"; }
r=runs/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="ext.uefi.efi") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="smoke") | .status' passed
expect_in runs/latest/nodes/node0/qemu-cmdline.txt "if=pflash"

busybox_runbook bios <<YAML | sed 's/^  type: qemu/  type: qemu\n  requirement: { features: [tpm] }/' > bios.yml
extension: [ $KILN_ROOT/tests/data/ext/uefi ]
testcase:
  - criteria: { name: "ext\\\\.uefi\\\\..*|verify_kernel_cmdline" }
YAML
# with no swtpm offered (KILN_SWTPM empty), as on a host without it
KILN_SWTPM= "$KILN" run --runs-dir runs2 bios.yml > out2.txt 2>&1
cat out2.txt
r=runs2/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="ext.uefi.efi") | .status' skipped
reason=$(jqv "$r" '.cases[] | select(.name=="ext.uefi.efi") | .reason')
case "$reason" in "needs feature "*) ;; *) fail "skip reason: $reason" ;; esac
reason=$(jqv "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .reason')
case "$reason" in "needs feature tpm, "*) ;; *) fail "tpm skip reason: $reason" ;; esac
expect_jq "$r" .summary.skipped 2
expect_no_qemu
exit 0
