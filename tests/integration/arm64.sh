#!/bin/sh
# An aarch64 image end to end on an x86_64 host: kiln build examples/images/debian-arm64.yml
# (Debian arm64 packages, their maintainer scripts run through binfmt_misc + qemu-user-static),
# checked for every arm64 fact (manifest and SBOM arch, the arm64 root GPT type, systemd-boot
# for arm64 as \EFI\BOOT\BOOTAA64.EFI), then booted by kiln run with the arch read from its
# manifest: qemu-system-aarch64 -M virt with AAVMF under TCG, and every tier-0 case passes.
#
# Cold (no cached arm64 package tree) the build alone takes well over ten minutes on a 2-core
# host, every maintainer script and mkinitramfs running emulated: `make check-long` runs it
# (KILN_ARM64=1); `make check` leaves it out (tests/run.sh LONG_ONLY).
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
[ "${KILN_ARM64:-}" = 1 ] || { echo "skip: the aarch64 build and boot runs in make check-long (KILN_ARM64=1)"; exit 77; }
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "skip: binfmt_misc has no qemu-aarch64 entry (scripts/deps.sh registers it)"; exit 77; }
command -v qemu-system-aarch64 >/dev/null || { echo "skip: qemu-system-aarch64 is not installed (scripts/deps.sh)"; exit 77; }
[ -f /usr/share/AAVMF/AAVMF_CODE.fd ] || { echo "skip: AAVMF is not installed (qemu-efi-aarch64)"; exit 77; }
v=debian-arm64-1.0.0
"$KILN" build "$root/examples/images/debian-arm64.yml" --out dist > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
m=dist/$v.manifest.json
expect_jq "$m" .arch aarch64
expect_jq "$m" '.partitions | map(.type) | join(",")' esp,root-arm64
expect_jq "$m" '.partitions[1].type_guid' B921B045-1DF0-41C3-AF44-4C6F280D3FAE
expect_jq "$m" '[.packages[] | select(.name=="openssh-server" or .name=="systemd-boot-efi") | .arch] | join(",")' arm64,arm64
expect_jq "$m" '.kernel.cmdline | test(" console=ttyAMA0$")' true
expect_jq "$m" '.kernel.version | endswith("-arm64")' true
expect_jq "dist/$v.spdx.json" '.packages[0].comment' "Architecture: aarch64"
expect_jq "dist/$v.cdx.json" '.metadata.component.properties[] | select(.name=="kiln:image:arch") | .value' aarch64
# kiln sbom of the image file: the arch from the manifest beside it
"$KILN" sbom "dist/$v.qcow2" --format cyclonedx -o from-image.cdx.json > sbom.txt 2>&1 || { cat sbom.txt; fail "kiln sbom"; }
expect_jq from-image.cdx.json '.metadata.component.properties[] | select(.name=="kiln:image:arch") | .value' aarch64
"$KILN" inspect "dist/$v.qcow2" > inspect.txt || fail "kiln inspect failed"
expect_in inspect.txt "root-arm64"
# the ESP: systemd-boot for arm64 where the firmware looks for removable media (an ARM64 PE
# image, machine type 0xAA64) and under its own name
qemu-img convert -O raw "dist/$v.qcow2" disk.raw || fail "qemu-img convert"
esp="disk.raw@@$(jq -r '.partitions[0].offset' "$m")"
mdir -b -i "$esp" ::/EFI/BOOT ::/EFI/systemd > esp.txt || fail "mdir on the ESP"
expect_in esp.txt "::/EFI/BOOT/BOOTAA64.EFI"
expect_in esp.txt "::/EFI/systemd/systemd-bootaa64.efi"
expect_not_in esp.txt "BOOTX64.EFI"
mcopy -i "$esp" ::/EFI/BOOT/BOOTAA64.EFI boot.efi || fail "mcopy from the ESP"
pe=$(od -An -tu4 -j60 -N4 boot.efi | tr -d ' ')
[ "$(od -An -tx2 -j"$((pe + 4))" -N2 boot.efi | tr -d ' ')" = aa64 ] || fail "BOOTAA64.EFI is not an ARM64 PE image"
rm -f disk.raw boot.efi

# tier 0 on it: examples/images/validate.yml, which names no arch (the manifest beside the
# image gives it), with more time to boot: every arm64 instruction is emulated on a loaded host
printf 'include: [ %s ]\nplatform: { qemu: { boot_timeout_s: 900 } }\n' "$root/examples/images/validate.yml" > tier0-arm64.yml
"$KILN" run --runs-dir runs -v image="$T/dist/$v.qcow2" tier0-arm64.yml > run.txt 2>&1
rc=$?
cat run.txt
r=runs/latest/results.json
[ "$rc" -eq 0 ] || { tail -n 40 runs/latest/nodes/node0/console.log; fail "kiln run (tier 0) exited $rc"; }
n0=$("$KILN" list --json -v image="$T/dist/$v.qcow2" tier0-arm64.yml | jq length)
[ "$n0" -gt 0 ] || fail "validate.yml selects no case"
expect_jq "$r" .summary.passed "$n0"
expect_jq "$r" .summary.failed 0
expect_in runs/latest/kiln.log "qemu: aarch64 guests (from the image's manifest)"
expect_in runs/latest/kiln.log "KVM cannot run an aarch64 guest on an x86_64 host"
c=runs/latest/nodes/node0/qemu-cmdline.txt
expect_in "$c" "qemu-system-aarch64 "
expect_in "$c" "-machine virt,accel=tcg"
expect_in "$c" "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd"
expect_not_in "$c" "-kernel"
expect_in runs/latest/nodes/node0/console.log "Debian GNU/Linux 12"
expect_jq "$r" '.cases[] | select(.name=="smoke") | .status' passed
expect_no_qemu
exit 0
