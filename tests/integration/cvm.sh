#!/bin/sh
# Area cvm (examples/cvm.yml) on the Debian test image through OVMF's Secure Boot firmware with
# a swtpm per VM: the three cases pass in one VM, the TPM keeps its NV state across a power
# cycle (a new swtpm on the same state); the defects are caught with their evidence (a kernel
# that does not bind the TPM: no TPM, no event log; a variable store without keys: SecureBoot=0
# and SetupMode=1; no TPM offered: the TPM cases skipped saying why); no swtpm outlives kiln,
# after SIGINT or kill -9 too. Two Debian VMs under TCG (4-6 minutes), two busybox boots cut short.
# fails: verify_tpm_present verify_measured_boot verify_secure_boot_enforced
# passes: verify_tpm_present verify_measured_boot verify_secure_boot_enforced
. "$(dirname "$0")/lib.sh"
command -v swtpm >/dev/null || { echo "swtpm is not installed (scripts/deps.sh installs it)"; exit 77; }
[ -f /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] || { echo "no Secure Boot OVMF (apt-get install ovmf)"; exit 77; }

# SIGINT and kill -9 while a VM with a TPM boots: its swtpm and qemu end with kiln
for sig in INT KILL; do
    export TMPDIR=$T/tmp-$sig
    mkdir -p "$TMPDIR"
    busybox_runbook sig <<'YAML' | sed 's/^  type: qemu/  type: qemu\n  requirement: { features: [tpm] }/' > sig.yml
testcase:
  - criteria: { name: smoke }
YAML
    "$KILN" run --runs-dir runs-$sig sig.yml > out-$sig.txt 2>&1 &
    pid=$!
    i=0
    until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$TMPDIR/" >/dev/null; do
        i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; cat out-$sig.txt; fail "qemu never started"; }
        sleep 0.1
    done
    pgrep -f "swtpm socket .*$TMPDIR/" >/dev/null || fail "no swtpm runs beside the VM that needs a TPM"
    sleep 1
    kill -$sig $pid
    wait $pid
    rc=$?
    [ "$sig" = KILL ] || [ "$rc" -eq 130 ] || { cat out-$sig.txt; fail "kiln exited $rc after SIG$sig, expected 130"; }
    sleep 0.5
    expect_no_swtpm
    expect_no_qemu
done
export TMPDIR=$T/tmp
note "no swtpm or qemu left after SIGINT and kill -9"

img=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"

# the example, plus a test that writes an NV index, power-cycles and reads it back
cat > cvm.yml <<YAML
include: [ $KILN_ROOT/examples/cvm.yml ]
extension: [ $KILN_ROOT/tests/data/ext/tpm ]
testcase:
  - criteria: { area: cvm }
  - criteria: { name: "ext\\\\.tpm\\\\.persist" }
YAML
"$KILN" run -v images="$img" --runs-dir runs cvm.yml > out.txt 2>&1 || { cat out.txt; fail "the cvm run failed"; }
cat out.txt
r=runs/latest/results.json
for c in verify_tpm_present verify_measured_boot verify_secure_boot_enforced ext.tpm.persist; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed
done
expect_jq "$r" '[.cases[].environment] | unique | length' 1
n=runs/latest/nodes/node0
expect_in $n/qemu-cmdline.txt "tpm-crb,tpmdev=tpm0"
expect_in $n/qemu-cmdline.txt "smm=on"
expect_in $n/qemu-cmdline.txt "driver=cfi.pflash01,property=secure,value=on"
expect_in $n/qemu-cmdline.txt "OVMF_CODE_4M.secboot.fd"
expect_in runs/latest/cases/verify_secure_boot_enforced/log.txt "Secure boot enabled"
# the kernel is handed to the firmware: no unsigned kernel offered, and every report says so
sb='.cases[] | select(.name=="verify_secure_boot_enforced")'
expect_jq "$r" "$sb | [.subtests[] | .name + \" \" + .status] | join(\",\")" "secure_boot_on passed,unsigned_kernel_refused skipped"
expect_jq "$r" "$sb | .subtests[1].reason | test(\"not booted by systemd-boot from its disk\")" true
expect_jq "$r" "$sb | .notes[0] | startswith(\"not checked: that a kernel without a signature is refused\")" true
expect_in runs/latest/junit.xml "<skipped message=\"the guest was not booted by systemd-boot"
expect_in runs/latest/report.html "note: not checked: that a kernel without a signature is refused"
expect_in out.txt "verify_secure_boot_enforced"
grep -q "PASSED .*verify_secure_boot_enforced .*1 of 2 subtests skipped: unsigned_kernel_refused" out.txt ||
    fail "the console line of verify_secure_boot_enforced does not name the skipped half"
expect_in runs/latest/cases/verify_measured_boot/log.txt "pcrs:"
expect_in runs/latest/cases/ext.tpm.persist/log.txt "kept kilnnv01 across the power cycle"
[ -f $n/swtpm.log ] || fail "no swtpm.log beside the node's console"
expect_no_swtpm
expect_no_qemu

# defects, one VM: a guest whose kernel does not bind the TPM (its CRB driver kept from
# starting, as an image built for a platform without one), a variable store without keys
# (setup mode: Secure Boot off)
cat > defects.yml <<YAML
name: cvm-defects
platform:
  type: qemu
  admin_username: root
  requirement: { features: [tpm] }
  qemu:
    image: $img/disk.qcow2
    kernel: $img/vmlinuz
    initrd: $img/initrd.img
    append: "console=ttyS0 root=LABEL=root rw module_blacklist=tpm_crb initcall_blacklist=crb_acpi_driver_init"
    firmware: uefi
    secure_boot: /usr/share/OVMF/OVMF_VARS_4M.fd
    memory_mb: 1024
    cpus: 2
    accel: auto
    boot_timeout_s: 400
testcase:
  - criteria: { area: cvm }
YAML
"$KILN" run --runs-dir runs-d defects.yml > out-d.txt 2>&1
rc=$?
cat out-d.txt
[ "$rc" -eq 1 ] || fail "the defect run exited $rc, expected 1 (a case failed)"
r=runs-d/latest/results.json
why() { jqv "$r" ".cases[] | select(.name==\"$1\") | .reason"; }
expect_jq "$r" '[.cases[] | select(.status == "failed")] | length' 3
case $(why verify_tpm_present) in "the guest has no TPM: no /sys/class/tpm/tpm*/tpm_version_major"*) ;;
    *) fail "verify_tpm_present reason: $(why verify_tpm_present)" ;; esac
case $(why verify_measured_boot) in "no firmware event log: /sys/kernel/security/tpm0/binary_bios_measurements is missing"*) ;;
    *) fail "verify_measured_boot reason: $(why verify_measured_boot)" ;; esac
case $(why verify_secure_boot_enforced) in "SecureBoot=0, SetupMode=1 (efivarfs): the firmware does not enforce Secure Boot"*) ;;
    *) fail "verify_secure_boot_enforced reason: $(why verify_secure_boot_enforced)" ;; esac
expect_no_swtpm
expect_no_qemu

# no TPM offered (swtpm missing: KILN_SWTPM empty): the TPM cases are skipped saying why, no VM boots
KILN_SWTPM= "$KILN" run -v images="$img" --runs-dir runs-n cvm.yml > out-n.txt 2>&1
r=runs-n/latest/results.json
for c in verify_tpm_present verify_measured_boot verify_secure_boot_enforced ext.tpm.persist; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" skipped
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .reason" 'needs feature tpm, $KILN_SWTPM is set empty (unset it to use swtpm from $PATH)'
done
[ ! -e runs-n/latest/nodes ] || fail "a VM was deployed though every case was skipped"
exit 0
