#!/bin/sh
# kiln build's boot.secure_boot: distro and its boot under enforcing Secure Boot with the firmware's
# stock keys. examples/images/debian-secure-boot-distro.yml is built: its ESP holds Debian's shim
# (signed by Microsoft's UEFI CA) as EFI/BOOT/BOOTX64.EFI, Debian's signed GRUB and kernel, and an
# EFI/debian/grub.cfg with each word of the command line its own argument (GRUB wraps an argument
# holding a space in double quotes, which left the kernel with no root= and no serial console).
# Booted with OVMF's Secure Boot code and Microsoft's variable store (runbook secure_boot: ms):
# tier 0 and verify_kernel_cmdline pass, /proc/cmdline is GRUB's BOOT_IMAGE= and the manifest's
# command line word for word, verify_secure_boot_enforced passes: GRUB, offered a copy of the
# kernel without its signature first, refuses it ("bad shim signature") and starts the signed
# one. Defect: the same image under a variable store without Microsoft's CA (Debian's
# snakeoil db): the firmware refuses shim and the run fails saying so. One build (about 3 minutes
# from a cold package cache, 25 s after), one Debian VM under TCG with two reboots (about 4-5 minutes),
# one refused boot.
# passes: verify_secure_boot_enforced
. "$(dirname "$0")/lib.sh"
for f in OVMF_CODE_4M.secboot.fd OVMF_VARS_4M.ms.fd OVMF_VARS_4M.snakeoil.fd; do
    [ -f /usr/share/OVMF/$f ] || { echo "no /usr/share/OVMF/$f (apt-get install ovmf)"; exit 77; }
done
command -v sbverify >/dev/null || { echo "sbsigntool is not installed (scripts/deps.sh installs it)"; exit 77; }

src=$T/spec
mkdir -p "$src"
cp -r "$KILN_ROOT/examples/images/files" "$src/"
cp "$KILN_ROOT/examples/images/debian-secure-boot-distro.yml" "$src/spec.yml"
"$KILN" build "$src/spec.yml" --out images > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
expect_in build.txt "the distribution's signed shim and GRUB, kernel "
base=images/debian-secure-boot-distro-1.0.0
kver=$(jqv $base.manifest.json .kernel.version)
cmdline=$(jqv $base.manifest.json .kernel.cmdline)
case $cmdline in "root=PARTUUID="*" rw console=ttyS0") ;; *) fail "the manifest's command line is: $cmdline" ;; esac

# the ESP as built, read back with mtools: who signed each step of the chain, and grub.cfg
off=$(jqv $base.manifest.json '.partitions[] | select(.type=="esp") | .offset')
qemu-img convert -O raw $base.qcow2 disk.raw
esp() { mcopy -n -i "disk.raw@@$off" "::/$1" "$2" || fail "no $1 on the ESP"; }
esp EFI/BOOT/BOOTX64.EFI shim.efi
sbverify --list shim.efi > shim.txt 2>&1
expect_in shim.txt "CN=Microsoft Corporation UEFI CA 2011"
esp EFI/BOOT/mmx64.efi mm.efi
esp EFI/BOOT/grubx64.efi grub.efi
esp debian-secure-boot-distro/$kver/linux linux.efi
for f in grub linux; do
    sbverify --list $f.efi > $f.txt 2>&1
    expect_in $f.txt "issuer:  /CN=Debian Secure Boot CA"
done
esp EFI/debian/grub.cfg grub.cfg
k=/debian-secure-boot-distro/$kver
printf "set timeout=0\nlinux '%s/linux'" "$k" > want.cfg
for w in $cmdline; do printf " '%s'" "$w" >> want.cfg; done
printf "\ninitrd '%s/initrd'\nboot\n" "$k" >> want.cfg
cmp -s want.cfg grub.cfg || { diff -u want.cfg grub.cfg; fail "EFI/debian/grub.cfg is not the one expected"; }
rm -f disk.raw ./*.efi
note "ESP: shim signed by Microsoft's UEFI CA, GRUB and the kernel by Debian's, grub.cfg one argument per word"

runbook() {
    cat <<YAML
name: sb-distro-$1
platform:
  type: qemu
  admin_username: root
  qemu:
    image: $T/$base.qcow2
    firmware: uefi
    secure_boot: $1
    memory_mb: 1024
    cpus: 2
    accel: auto
    boot_timeout_s: 600
testcase:
  - criteria: { priority: 0 }
  - criteria: { name: verify_kernel_cmdline }
  - criteria: { name: verify_secure_boot_enforced }
YAML
}
runbook ms > ms.yml
"$KILN" run --runs-dir runs ms.yml > run.txt 2>&1 || { cat run.txt; fail "the run under Microsoft's keys failed"; }
cat run.txt
r=runs/latest/results.json
for c in smoke verify_kernel_cmdline verify_secure_boot_enforced; do
    expect_jq $r ".cases[] | select(.name==\"$c\") | .status" passed
done
l=runs/latest/cases
expect_in $l/verify_kernel_cmdline/log.txt "/proc/cmdline: BOOT_IMAGE=$k/linux $cmdline"
expect_in $l/verify_secure_boot_enforced/log.txt "SecureBoot=1, SetupMode=0 (efivarfs); the kernel reports \"[    0.000000] secureboot: Secure boot enabled\""
expect_in $l/verify_secure_boot_enforced/log.txt "; a kernel without a signature is refused (GRUB, $k/linux-kiln-unsigned): the console says \"error: bad shim signature.\" and GRUB started $k/linux"
con=runs/latest/nodes/node0/console.log
expect_in $con "EFI stub: UEFI Secure Boot is enabled."
expect_in $con "Command line: BOOT_IMAGE=$k/linux $cmdline"
expect_no_qemu
note "booted by shim, GRUB and Debian's kernel under Microsoft's keys; Secure Boot enforced"

# defect: a db without Microsoft's CA (Debian's snakeoil test key): the firmware refuses shim
runbook snakeoil > snakeoil.yml
"$KILN" run --runs-dir runs-d snakeoil.yml > run-d.txt 2>&1
rc=$?
cat run-d.txt
[ "$rc" -eq 1 ] || fail "the run under the snakeoil keys exited $rc, expected 1"
reason=$(jqv runs-d/latest/results.json '.cases[] | select(.name=="smoke") | .reason')
case $reason in *'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot('*'): Access Denied') ;;
    *) fail "smoke's reason under the snakeoil keys: $reason" ;; esac
expect_no_qemu
exit 0
