#!/bin/sh
# verify_kdump end to end on the image examples/images/debian-hpc.yml makes (kdump-tools,
# crashkernel=384M): memory reserved, a crash kernel loaded, a sysrq crash boots it, it saves
# a vmcore under /var/crash and reboots (a power cycle under kiln's -no-reboot), and the case
# finds the dump after the reboot; the expected panic fails nothing. One TCG VM, a crash and
# two boots (about 5 minutes): make check-long (hpc.sh proves the case fails without a reservation).
# passes: verify_kdump
. "$(dirname "$0")/lib.sh"
img=$(hpc_image) || fail "cannot build examples/images/debian-hpc.yml"
cat > kdump.yml <<YAML
name: kdump
platform:
  type: qemu
  admin_username: root
  qemu:
    image: $img/debian-hpc-1.0.0.qcow2
    firmware: uefi
    memory_mb: 1536
    cpus: 2
    accel: auto
    boot_timeout_s: 400
testcase:
  - criteria: { name: verify_kdump }
YAML
"$KILN" run --runs-dir runs kdump.yml > out.txt 2>&1 || { cat out.txt; fail "the kdump run failed"; }
cat out.txt
r=runs/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="verify_kdump") | .status' passed
case $(jqv "$r" '.cases[] | select(.name=="verify_kdump") | .reason // ""') in ""|"the crash left /var/crash/"*) ;;
    *) fail "verify_kdump reason: $(jqv "$r" '.cases[] | select(.name=="verify_kdump") | .reason')" ;; esac
l=runs/latest/cases/verify_kdump/log.txt
expect_in $l "384 MiB reserved for a crash kernel"
expect_in $l "ready to kdump"
expect_in $l "the expected panic:"
expect_in $l "the crash left /var/crash/"
expect_in runs/latest/nodes/node0/console.log "sysrq triggered crash"
expect_jq "$r" '.cases[] | select(.name=="verify_kdump") | [.metrics[].name] | sort | join(",")' crashkernel,kdump_reboot
expect_no_qemu
exit 0
