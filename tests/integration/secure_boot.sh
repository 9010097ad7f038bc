#!/bin/sh
# kiln build's boot.secure_boot and the cvm cases on an image the firmware boots from its own
# disk. examples/images/debian-secure-boot.yml is built with Debian's snakeoil pair (the db of
# OVMF_VARS_4M.snakeoil.fd), plus a rebuilt systemd-boot, signed the same way, as the OS's
# .efi.signed (what an upgrade of systemd-boot-efi leaves for bootctl update). The spec check
# refuses the encrypted key and a wrong pair; no byte of the key reaches the outputs or the log.
# examples/cvm-disk.yml then boots it under enforcing Secure Boot with a swtpm: the four cvm cases
# pass, a kernel without a signature is refused on the console, PCR 4 changes after the boot
# loader upgrade. Defect: the same image with its kernel handed to the firmware directly (qemu
# -kernel), where the upgraded boot loader on the ESP is never started: PCR 4 stays the same.
# One build (about 5 minutes from a cold package cache, 20 s after), two Debian VMs under TCG,
# three boots each way (about 6 minutes).
# fails: verify_pcr_change_on_boot_component_upgrade
# passes: verify_tpm_present verify_measured_boot verify_secure_boot_enforced verify_pcr_change_on_boot_component_upgrade
. "$(dirname "$0")/lib.sh"
command -v swtpm >/dev/null || { echo "swtpm is not installed (scripts/deps.sh installs it)"; exit 77; }
command -v sbsign >/dev/null || { echo "sbsigntool is not installed (scripts/deps.sh installs it)"; exit 77; }
snake=/usr/share/ovmf/PkKek-1-snakeoil
[ -f $snake.key ] && [ -f /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd ] || { echo "no snakeoil OVMF (apt-get install ovmf)"; exit 77; }

src=$T/spec
mkdir -p "$src/keys"
cp -r "$KILN_ROOT/examples/images/files" "$src/"
cp "$KILN_ROOT/examples/images/debian-secure-boot.yml" "$src/spec.yml"
cp $snake.pem "$src/keys/db.pem"

# Debian ships the key encrypted (passphrase "snakeoil"): refused where the spec names it
cp $snake.key "$src/keys/db.key"
"$KILN" build --check "$src/spec.yml" > check.txt 2>&1 && fail "kiln build --check accepted an encrypted key"
expect_in check.txt "spec.yml:32:16: boot.secure_boot: $src/keys/db.key is an encrypted private key"
openssl pkey -in $snake.key -passin pass:snakeoil -out "$src/keys/db.key"
chmod 600 "$src/keys/db.key"
# a key of another pair
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$src/keys/other.key" 2>/dev/null
sed 's|key: keys/db.key|key: keys/other.key|' "$src/spec.yml" > "$src/other.yml"
"$KILN" build --check "$src/other.yml" > check.txt 2>&1 && fail "kiln build --check accepted a key of another pair"
expect_in check.txt "boot.secure_boot: the key $src/keys/other.key does not belong to the certificate $src/keys/db.pem"
expect_status 0 "$KILN" build --check "$src/spec.yml"

# the OS's newer systemd-boot: the host's, another link time stamp in its COFF header (part of
# the Authenticode digest the firmware measures into PCR 4), signed with the same pair
boot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -f $boot ] || { echo "no $boot (apt-get install systemd-boot-efi)"; exit 77; }
cp $boot new.efi
pe=$(od -An -tu4 -j60 -N4 new.efi | tr -d ' ')
printf '\001\002\003\004' | dd of=new.efi bs=1 seek=$((pe + 8)) count=4 conv=notrunc 2>/dev/null
sbsign --key "$src/keys/db.key" --cert "$src/keys/db.pem" --output "$src/files/systemd-bootx64.efi.signed" new.efi 2>/dev/null
sed -i 's|^  files:|  files:\n    - { src: files/systemd-bootx64.efi.signed, dst: /usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed }|' "$src/spec.yml"

"$KILN" build "$src/spec.yml" --out images > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
expect_in build.txt "] esp "
expect_in build.txt "both signed for Secure Boot"
base=images/debian-secure-boot-1.0.0
sbverify --cert "$src/keys/db.pem" $base.vmlinuz > /dev/null 2>&1 || fail "the direct-boot kernel output is not signed by the db key"
# the ESP's systemd-boot and kernel, read back from the disk image (mtools on the ESP's bytes)
off=$(jq -r '.partitions[] | select(.type=="esp") | .offset' $base.manifest.json)
qemu-img convert -O raw $base.qcow2 disk.raw
kver=$(jq -r .kernel.version $base.manifest.json)
for f in EFI/BOOT/BOOTX64.EFI EFI/systemd/systemd-bootx64.efi debian-secure-boot/$kver/linux; do
    mcopy -n -i "disk.raw@@$off" "::/$f" esp.efi || fail "no $f on the ESP"
    sbverify --cert "$src/keys/db.pem" esp.efi > /dev/null 2>&1 || fail "$f on the ESP is not signed by the db key"
done
rm -f disk.raw esp.efi
# the key never leaves its file: none of its lines in any output, nor in the build's output
sed -n '2,$p' "$src/keys/db.key" | grep -v -- '-----' | head -3 > keylines
! grep -rqF -f keylines images build.txt || fail "a line of the signing key is in the outputs"
note "built and signed; the key's bytes are in no output"

# Secure Boot enforced with the snakeoil keys, a TPM; the four cvm cases pass
"$KILN" run -v image="$T/$base.qcow2" --runs-dir runs "$KILN_ROOT/examples/cvm-disk.yml" > run.txt 2>&1 || { cat run.txt; fail "the cvm-disk run failed"; }
cat run.txt
r=runs/latest/results.json
for c in verify_tpm_present verify_measured_boot verify_secure_boot_enforced verify_pcr_change_on_boot_component_upgrade; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed
done
l=runs/latest/cases
expect_in $l/verify_secure_boot_enforced/log.txt "a kernel without a signature is refused (entry kiln-unsigned.conf): the console says \"Error loading"
expect_in $l/verify_secure_boot_enforced/log.txt "linux-kiln-unsigned: "
expect_jq "$r" '.cases[] | select(.name=="verify_secure_boot_enforced") | [.subtests[] | .name + " " + .status] | join(",")' \
    "secure_boot_on passed,unsigned_kernel_refused passed"
expect_in $l/verify_pcr_change_on_boot_component_upgrade/log.txt "upgraded=EFI/BOOT/BOOTX64.EFI"
expect_in $l/verify_pcr_change_on_boot_component_upgrade/log.txt "PCR 4 (sha256) changed from 0x"
expect_no_swtpm
expect_no_qemu

# defect: the kernel handed to the firmware directly (qemu -kernel), so the boot loader the
# upgrade replaces on the ESP is never started and PCR 4 cannot change
root=$(jq -r .kernel.cmdline $base.manifest.json)
cat > direct.yml <<YAML
name: cvm-direct
platform:
  type: qemu
  admin_username: root
  requirement: { features: [tpm] }
  qemu:
    image: $T/$base.qcow2
    kernel: $T/$base.vmlinuz
    initrd: $T/$base.initrd
    append: "$root"
    firmware: uefi
    memory_mb: 1024
    cpus: 2
    accel: auto
    boot_timeout_s: 600
testcase:
  - criteria: { name: verify_pcr_change_on_boot_component_upgrade }
YAML
"$KILN" run --runs-dir runs-d direct.yml > run-d.txt 2>&1
rc=$?
cat run-d.txt
[ "$rc" -eq 1 ] || fail "the defect run exited $rc, expected 1 (a case failed)"
reason=$(jqv runs-d/latest/results.json '.cases[] | select(.name=="verify_pcr_change_on_boot_component_upgrade") | .reason')
case $reason in "PCR 4 (sha256) is 0x"*" both before and after upgrading EFI/BOOT/BOOTX64.EFI from /usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed and rebooting"*) ;;
    *) fail "verify_pcr_change_on_boot_component_upgrade reason: $reason" ;; esac
expect_no_swtpm
expect_no_qemu
exit 0
