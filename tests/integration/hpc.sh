#!/bin/sh
# Area hpc (examples/hpc.yml without the kdump crash, which make check-long runs: kdump.sh)
# on the image examples/images/debian-hpc.yml makes: two TCG VMs share one environment for
# verify_rdma_pingpong and perf_rdma (soft-RoCE over the private network; both pass, the
# metrics carry their thresholds); the gpu cases are skipped with "needs gpu: ..." saying what
# the host lacks, without a VM; the defects are caught with their evidence in one more
# environment (a kernel that refuses rdma_rxe: modprobe's words; no crashkernel= on the
# command line: verify_kdump fails before any crash); no qemu outlives kiln, after SIGINT too.
# Two two-node Debian environments under TCG (4-7 minutes), one busybox boot cut short.
# fails: verify_rdma_pingpong perf_rdma verify_kdump
# passes: verify_rdma_pingpong perf_rdma
. "$(dirname "$0")/lib.sh"

# SIGINT while a two-node rdma environment boots: both VMs end with kiln
busybox_runbook sig <<'YAML' | sed 's/^  type: qemu/  type: qemu\n  requirement: { nodes: 2, features: [rdma] }/' > sig.yml
testcase:
  - criteria: { name: smoke }
YAML
"$KILN" run --runs-dir runs-sig sig.yml > out-sig.txt 2>&1 &
pid=$!
i=0
until [ "$(pgrep -fc "qemu-system-x86_64 -name kiln-node.*$TMPDIR/")" -ge 2 ]; do
    i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; cat out-sig.txt; fail "two VMs never started"; }
    sleep 0.1
done
grep -q "dgram,id=l2" runs-sig/*/nodes/node0/qemu-cmdline.txt || fail "the rdma environment has no private network"
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 130 ] || { cat out-sig.txt; fail "kiln exited $rc after SIGINT, expected 130"; }
sleep 0.5
expect_no_qemu
note "no qemu left after SIGINT of a two-node rdma environment"

img=$(hpc_image) || fail "cannot build examples/images/debian-hpc.yml"

# no device named, a device this host does not have: skipped saying so, no VM
# hpc_runbook NAME [APPEND]: the example's platform on the built image (direct kernel boot
# with APPEND), rules from stdin
hpc_runbook() {
    cat <<YAML
name: $1
platform:
  type: qemu
  admin_username: root
  requirement: { nodes: 2, features: [rdma] }
  qemu:
    image: $img/debian-hpc-1.0.0.qcow2
    firmware: uefi
    memory_mb: 1536
    cpus: 2
    accel: auto
    boot_timeout_s: 400
YAML
    [ -z "${2:-}" ] || printf '    kernel: %s\n    initrd: %s\n    append: "%s"\n' "$img/debian-hpc-1.0.0.vmlinuz" \
        "$img/debian-hpc-1.0.0.initrd" "$2"
    cat
}
hpc_runbook gpu > gpu.yml <<YAML
testcase:
  - criteria: { area: gpu }
YAML
KILN_GPU= "$KILN" run --runs-dir runs-g gpu.yml > out-g.txt 2>&1 ||
    { cat out-g.txt; fail "a run whose cases are all skipped failed"; }
r=runs-g/latest/results.json
for c in verify_gpu_visible verify_gpu_driver_loaded; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" skipped
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .reason" "needs gpu: no host PCI device is named for passthrough (platform.qemu.gpu, or the host's \$KILN_GPU: a device bound to vfio-pci)"
done
KILN_GPU=0000:ff:1f.7 "$KILN" run --runs-dir runs-g2 gpu.yml > out-g2.txt 2>&1
expect_jq runs-g2/latest/results.json '.cases[] | select(.name=="verify_gpu_visible") | .reason' \
    "needs gpu: \$KILN_GPU: no PCI device 0000:ff:1f.7 on this host (/sys/bus/pci/devices/0000:ff:1f.7); lspci -D lists the host's devices"
[ ! -e runs-g/latest/nodes ] && [ ! -e runs-g2/latest/nodes ] || fail "a VM was deployed though every case was skipped"
note "gpu cases skipped with the reason, no VM"

# the example's hpc cases, one environment of two nodes
cat > hpc.yml <<YAML
include: [ $KILN_ROOT/examples/hpc.yml ]
testcase:
  - criteria: { name: verify_kdump }
    select_action: exclude
YAML
"$KILN" run -v image="$img/debian-hpc-1.0.0.qcow2" --runs-dir runs hpc.yml > out.txt 2>&1 || { cat out.txt; fail "the hpc run failed"; }
cat out.txt
r=runs/latest/results.json
for c in verify_rdma_pingpong perf_rdma; do expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed; done
expect_jq "$r" '[.cases[].environment] | unique | length' 1
expect_jq "$r" '.cases[] | select(.name=="perf_rdma") | [.metrics[] | select(.threshold != null) | .name] | sort | join(",")' \
    rdma_read_lat,rdma_write_bw
l=runs/latest/cases/verify_rdma_pingpong/log.txt
expect_in $l "RDMA link rxe0/1 ACTIVE over"
expect_in $l "ibv_rc_pingpong: 500 iterations on both sides"
expect_in $l "ibv_ud_pingpong: 500 iterations on both sides"
expect_no_qemu

# defects, one environment: rdma_rxe refused by the kernel, no crashkernel= reservation
cmdline=$(jq -r .kernel.cmdline "$img/debian-hpc-1.0.0.manifest.json" | sed 's/ *crashkernel=[^ ]*//')
hpc_runbook hpc-defects "$cmdline module_blacklist=rdma_rxe" > defects.yml <<YAML
testcase:
  - criteria: { area: hpc }
  - criteria: { name: verify_kdump }
YAML
"$KILN" run --runs-dir runs-d defects.yml > out-d.txt 2>&1
rc=$?
cat out-d.txt
[ "$rc" -eq 1 ] || fail "the defect run exited $rc, expected 1 (a case failed)"
r=runs-d/latest/results.json
why() { jqv "$r" ".cases[] | select(.name==\"$1\") | .reason"; }
expect_jq "$r" '[.cases[] | select(.status == "failed")] | length' 3
for c in verify_rdma_pingpong perf_rdma; do
    case $(why $c) in "node0: no soft-RoCE over "*": the setup exited 1: modprobe rdma_rxe: modprobe: ERROR: could not insert 'rdma_rxe': Operation not permitted"*) ;;
        *) fail "$c reason: $(why $c)" ;; esac
done
case $(why verify_kdump) in "no memory reserved for a crash kernel: /sys/kernel/kexec_crash_size is 0 and /proc/iomem has no \"Crash kernel\" range; the kernel command line has no crashkernel="*) ;;
    *) fail "verify_kdump reason: $(why verify_kdump)" ;; esac
expect_jq "$r" '[.cases[].environment] | unique | length' 1
expect_no_qemu
exit 0
