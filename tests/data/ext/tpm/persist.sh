#!/bin/sh
# kiln: { requires: { features: [tpm] }, reboot: true, timeout_s: 900, description: "the TPM keeps its NV state across a power cycle and the firmware measures the new boot" }
# A power cycle is a new qemu and a new swtpm on the same state directory: an NV index written
# before must read back after it, and PCR 0 (reset, then extended by the firmware) must be set.
set -eu
export TPM2TOOLS_TCTI=device:/dev/tpmrm0
idx=0x1500016
case "${AUTOPKGTEST_REBOOT_MARK:-}" in
    "")
        tpm2_nvundefine -C o "$idx" 2>/dev/null || true
        tpm2_nvdefine -C o -s 8 -a "ownerread|ownerwrite|authread|authwrite" "$idx"
        printf kilnnv01 | tpm2_nvwrite -C o -i - "$idx"
        cat /proc/sys/kernel/random/boot_id > /var/tmp/kiln-tpm-boot
        /tmp/autopkgtest-reboot after-power-cycle ;;
    after-power-cycle)
        [ "$(cat /proc/sys/kernel/random/boot_id)" != "$(cat /var/tmp/kiln-tpm-boot)" ] || { echo "no new boot" >&2; exit 1; }
        got=$(tpm2_nvread -C o -s 8 "$idx")
        tpm2_nvundefine -C o "$idx"
        [ "$got" = kilnnv01 ] || { echo "NV index $idx reads '$got' after the power cycle, expected kilnnv01" >&2; exit 1; }
        pcr0=$(tpm2_pcrread sha256:0 | sed -n 's/.*0 : 0x//p')
        case $pcr0 in ""|0000000000000000000000000000000000000000000000000000000000000000)
            echo "PCR 0 is '$pcr0' after the power cycle: the firmware measured nothing" >&2; exit 1 ;; esac
        echo "NV index $idx kept kilnnv01 across the power cycle; PCR 0 = $pcr0" ;;
esac
