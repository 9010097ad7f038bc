#!/bin/sh
# The container host end to end (make check-long: a kiln build of the example image, about 10
# minutes from a cold package cache, then three VMs under TCG, 4-6 minutes each). The example
# image (examples/images/debian-container-host.yml) passes area containers and
# verify_iscsi_login through examples/containers.yml, in one VM, with nothing left after it
# (no tgtd, no qemu; the cases remove their containers and log out themselves). Then the
# defects, two VMs booting the same image's kernel directly with its own command line plus
# the defect's words, and a tgtadm that spoils the LUN kiln makes:
#   containerd masked, systemd-sysctl masked (so ip_forward 0), a LUN that loses every write:
#     the runtime and isolation cases fail naming the missing socket, the kubelet case names
#     ip_forward and the CRI socket, the iSCSI case fails before any data comes back;
#   cgroup_disable=memory, a read-only LUN: the isolation case names memory.max and the
#     disabled controller, the iSCSI case fails writing the partition table.
# The guest without an initiator (skipped with the reason) is iscsi.sh's.
# fails: verify_container_runtime verify_container_isolation verify_kubelet_prerequisites verify_iscsi_login
# passes: verify_container_runtime verify_container_isolation verify_kubelet_prerequisites verify_iscsi_login
. "$(dirname "$0")/lib.sh"
tgtadm=$(command -v tgtadm || echo /usr/sbin/tgtadm)
[ -x "$tgtadm" ] || { echo "tgt is not installed (scripts/deps.sh installs it)"; exit 77; }
# tgtd processes that run (a zombie, reparented after kill -9 of kiln, is dead already)
ntgtd() { ps -eo stat=,comm= | awk '$2 == "tgtd" && $1 !~ /^Z/' | wc -l; }
before=$(ntgtd)
expect_no_tgtd() { [ "$(ntgtd)" -le "$before" ] || { pgrep -ax tgtd >&2; fail "a tgtd kiln started is still running"; }; }

export SOURCE_DATE_EPOCH=1750000000
base=debian-container-host-1.0.0
"$KILN" build "$KILN_ROOT/examples/images/debian-container-host.yml" --out out --format qcow2 > build.txt 2>&1 ||
    { cat build.txt; fail "kiln build of the container host failed"; }
img=$T/out/$base.qcow2

"$KILN" run -v image="$img" --runs-dir runs "$KILN_ROOT/examples/containers.yml" > out.txt 2>&1 ||
    { cat out.txt; fail "the container host did not pass examples/containers.yml"; }
cat out.txt
r=runs/latest/results.json
for c in verify_container_runtime verify_container_isolation verify_kubelet_prerequisites verify_iscsi_login \
         verify_kernel_hardening; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed
done
# only verify_iscsi_login asks feature iscsi (examples/containers.yml): the container cases share
# one VM, the iSCSI case gets its own with the target (the scheduler runs the smaller requirement
# first, so the first VM cannot serve it)
expect_jq "$r" '[.cases[].environment] | unique | length' 2
expect_jq "$r" '[.cases[] | select(.name != "verify_iscsi_login") | .environment] | unique | length' 1
expect_jq "$r" '[.cases[] | select(.name == "verify_iscsi_login") | .environment] - [.cases[] | select(.name == "verify_container_runtime") | .environment] | length' 1
# packages.package_manager: remove: the script case finds no package manager in PATH and the
# database kept; the package cases skip naming the removal
expect_jq "$r" '.cases[] | select(.name=="ext.containerhost.no_package_manager") | .status' passed
expect_jq "$r" '.cases[] | select(.name=="verify_package_db") | .status' skipped
expect_jq "$r" '.cases[] | select(.name=="verify_package_db") | .reason | startswith("debian was built without its package manager (packages.package_manager: remove; /usr/lib/kiln/package-manager-removed lists what went)")' true
why() { jqv "$1" ".cases[] | select(.name==\"$2\") | .reason"; }
# a pass's note is in the case's log
l=runs/latest/cases
expect_in $l/verify_container_runtime/log.txt "the container printed its token and exited 3"
expect_in $l/verify_container_isolation/log.txt "own PID (pid 1), mount, network and UTS namespaces; memory.max 67108864, cpu.max \"50000 100000\"; root on overlay; OOM-killed inside its cgroup after "
expect_in $l/verify_container_isolation/log.txt "Memory cgroup out of memory: Killed process "
expect_in $l/verify_kubelet_prerequisites/log.txt "CRI socket /run/containerd/containerd.sock"
# the target is named after the environment that asked for it (the iSCSI case's own)
ienv=$(jqv "$r" '.cases[] | select(.name=="verify_iscsi_login") | .environment')
expect_in $l/verify_iscsi_login/log.txt "discovered iqn.2026-01.dev.kiln:$ienv, logged in, partitioned, formatted, wrote and read back data"
expect_in runs/latest/cases/verify_container_runtime/log.txt "ctr -n kiln images import"
expect_in runs/latest/cases/verify_iscsi_login/log.txt "@step logout 0"
expect_no_tgtd
expect_no_qemu
note "the example passes; no tgtd or qemu left"

# tgtadm wrappers: the LUN kiln asks for, then spoiled
cat > tgtadm-ro <<EOF2
#!/bin/sh
"$tgtadm" "\$@" || exit \$?
case " \$* " in *" --op new --mode logicalunit "*)
    exec "$tgtadm" "\$1" "\$2" --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 --params readonly=1 ;; esac
EOF2
cat > tgtadm-null <<EOF2
#!/bin/sh
case " \$* " in *" --op new --mode logicalunit "*)
    exec "$tgtadm" "\$1" "\$2" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -E null -b /dev/null ;; esac
exec "$tgtadm" "\$@"
EOF2
chmod +x tgtadm-ro tgtadm-null

cmdline=$(jqv "out/$base.manifest.json" .kernel.cmdline)
defect_run() {  # NAME WORDS TGTADM
    cat > "$1.yml" <<YAML
name: $1
policy_profile: container-host
platform:
  type: qemu
  admin_username: root
  requirement: { features: [iscsi] }
  qemu:
    image: $img
    kernel: $T/out/$base.vmlinuz
    initrd: $T/out/$base.initrd
    append: "$cmdline $2"
    memory_mb: 1024
    cpus: 2
    accel: auto
    boot_timeout_s: 400
console:
  ignore: [ "Killed process [0-9]+ \\\\(kiln-guest\\\\)", "kiln-guest invoked oom-killer" ]
testcase:
  - criteria: { area: containers }
  - criteria: { name: verify_iscsi_login }
YAML
    KILN_TGTADM=$T/$3 "$KILN" run --runs-dir "runs-$1" "$1.yml" > "out-$1.txt" 2>&1
    rc=$?
    cat "out-$1.txt"
    [ "$rc" -eq 1 ] || fail "the $1 run exited $rc, expected 1 (a case failed)"
    # a failed round still logs out (a session left would fail the case: decide_iscsi_login)
    expect_in "runs-$1/latest/cases/verify_iscsi_login/log.txt" "@step logout 0"
    expect_no_tgtd
    expect_no_qemu
}
expect_reason() {  # RUN CASE PATTERN
    expect_jq "runs-$1/latest/results.json" ".cases[] | select(.name==\"$2\") | .status" failed
    reason=$(why "runs-$1/latest/results.json" "$2")
    case $reason in $3) ;; *) fail "$1: $2 reason: $reason" ;; esac
}

defect_run no-runtime "systemd.mask=containerd.service systemd.mask=systemd-sysctl.service" tgtadm-null
expect_reason no-runtime verify_container_runtime "ctr is installed but /run/containerd/containerd.sock is not a socket: containerd is not running*"
expect_reason no-runtime verify_container_isolation "ctr is installed but /run/containerd/containerd.sock is not a socket*"
expect_reason no-runtime verify_kubelet_prerequisites "kubelet prerequisites not met:*net.ipv4.ip_forward is 0, expected 1*no CRI socket*"
# the LUN's writes are lost: the partition table, or else the filesystem, is not there
expect_jq runs-no-runtime/latest/results.json '.cases[] | select(.name=="verify_iscsi_login") | .status' failed
case $(why runs-no-runtime/latest/results.json verify_iscsi_login) in
    "iSCSI partition failed (exit 1): "*"no /dev/disk/by-path/"*"-part1 after "*|"iSCSI mount failed (exit 32): "*"bad superblock"*) ;;
    *) fail "no-runtime: verify_iscsi_login reason: $(why runs-no-runtime/latest/results.json verify_iscsi_login)" ;; esac
note "no runtime, no forwarding, a LUN that loses writes: $(why runs-no-runtime/latest/results.json verify_iscsi_login)"

defect_run no-memcg "cgroup_disable=memory" tgtadm-ro
expect_reason no-memcg verify_container_isolation "*memory*"
expect_jq runs-no-memcg/latest/results.json '.cases[] | select(.name=="verify_container_runtime") | .status' passed
expect_reason no-memcg verify_iscsi_login "iSCSI partition failed (exit *"
note "memory controller off: $(why runs-no-memcg/latest/results.json verify_container_isolation)"
note "read-only LUN: $(why runs-no-memcg/latest/results.json verify_iscsi_login)"
exit 0
