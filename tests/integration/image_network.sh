#!/bin/sh
# An image that configures no network (tests/data/images/minimal.yml: systemd, OpenSSH, the
# kernel, nothing else): kiln build warns and says what to set; kiln run fails its environment
# once the guest has booted (the boot-complete line plus platform.qemu.booted_grace_s), quoting
# that line and saying what to check, instead of waiting out boot_timeout_s. The same spec with
# os.network: dhcp builds without the warning and reaches SSH. Both builds share one package
# tree (kiln's rootfs cache); the two boots are direct-kernel under whatever accel the host has.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000
cp "$root/tests/data/images/minimal.yml" nonet.yml
sed 's/^os:$/os:\n  network: dhcp/' nonet.yml > dhcp.yml
grep -q "network: dhcp" dhcp.yml || fail "could not add os.network to the spec"

"$KILN" build nonet.yml --out out-nonet > build-nonet.txt 2>&1 || { cat build-nonet.txt; fail "kiln build (no network) failed"; }
cat build-nonet.txt
expect_in build-nonet.txt "kiln build: warning: nothing configures a network interface at boot: No systemd-networkd .network file matches an Ethernet NIC"
expect_in build-nonet.txt "Set os.network: dhcp"

# run_image NAME DIR BOOT-TIMEOUT: the smoke case on the built image, direct kernel boot
run_image() {
    img=$2/minimal-1.0.0
    cat > "$1.yml" <<YAML
name: $1
platform:
  type: qemu
  admin_username: root
  qemu:
    image: $img.qcow2
    kernel: $img.vmlinuz
    initrd: $img.initrd
    append: "$(jq -r .kernel.cmdline "$img.manifest.json")"
    memory_mb: 768
    cpus: 1
    accel: auto
    boot_timeout_s: $3
    booted_grace_s: 30
testcase:
  - criteria: { name: "smoke" }
YAML
    "$KILN" run --runs-dir "runs-$1" "$1.yml" > "$1.txt" 2>&1
    echo $?
}

rc=$(run_image nonet out-nonet 400)
cat nonet.txt
[ "$rc" -eq 1 ] || fail "no network: kiln run exited $rc, expected 1"
r=runs-nonet/latest/results.json
reason=$(jqv "$r" '.cases[] | select(.name=="smoke") | .reason')
case "$reason" in
    *"booted (console: \""*"\") but no SSH "*" s later, and no sign of network activity"*"Check the image's network configuration"*"os.network: dhcp"*"platform.qemu.booted_grace_s: 30"*) ;;
    *) fail "no network: smoke reason: $reason" ;;
esac
case "$reason" in *"no SSH after 400 s"*) fail "no network: waited for the boot timeout: $reason" ;; esac
# the deployment is not tried twice: the image would boot the same way
expect_not_in nonet.txt "deploying once more"
# for the log: how long the failed deployment took (the boot timeout was 400 s)
note "no network: the smoke case failed after $(jqv "$r" '.cases[] | select(.name=="smoke") | .duration_s | floor') s (boot_timeout_s 400)"
expect_no_qemu

"$KILN" build dhcp.yml --out out-dhcp > build-dhcp.txt 2>&1 || { cat build-dhcp.txt; fail "kiln build (os.network: dhcp) failed"; }
cat build-dhcp.txt
expect_not_in build-dhcp.txt "warning: nothing configures a network"
expect_in build-dhcp.txt "os.network: dhcp through systemd-networkd (/etc/systemd/network/80-kiln-dhcp.network)"
rc=$(run_image dhcp out-dhcp 400)
cat dhcp.txt
[ "$rc" -eq 0 ] || fail "os.network: dhcp: kiln run exited $rc, expected 0"
expect_jq runs-dhcp/latest/results.json '.cases[] | select(.name=="smoke") | .status' passed
expect_no_qemu
exit 0
