#!/bin/sh
# An rpm-based guest, end to end: kiln build makes it from the signed test repository (busybox
# init, dropbear, rpm itself, the kernel with an initramfs that boots root=PARTUUID=...), kiln
# run boots it through OVMF + systemd-boot and runs tier 2 (every case up to P2) on it (make
# check leaves out area lifecycle's reboot series, which reads nothing of the package family:
# make check-long runs it with KILN_RPM_LIFECYCLE=1). The
# cases detect the family from the guest and use rpm: every case passes or is skipped with its
# reason. A feed entry newer than an installed package (rpm version ordering) then fails
# verify_vulnerable_packages.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
for t in rpmbuild rpmsign createrepo_c dnf gpg; do
    command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
export KILN_CACHE=$T/cache SOURCE_DATE_EPOCH=1750000000
sh "$root/tests/images/rpmrepo.sh" rpm "$KILN_BUSYBOX" > repo.txt 2>&1 || { cat repo.txt; fail "cannot build the test RPM repository"; }
cat > guest.yml <<'YAML'
name: rpm-guest
version: 1.0.0
base:
  family: rpm
  releasever: "1"
  repos:
    - { name: kiln-test, baseurl: rpm/repo, gpgkey: rpm/RPM-GPG-KEY-kiln-test }
packages: { install: [kiln-release, kiln-init, kiln-rpm, kiln-kernel] }
os:
  hostname: rpm-guest
  kernel_cmdline: "console=ttyS0"
  sysctl: { kernel.kptr_restrict: 2, kernel.dmesg_restrict: 1, fs.suid_dumpable: 0,
            net.ipv4.conf.all.accept_redirects: 0, net.ipv4.conf.default.accept_redirects: 0,
            net.ipv4.conf.all.send_redirects: 0, net.ipv4.conf.default.send_redirects: 0,
            net.ipv6.conf.all.accept_redirects: 0 }
storage: { size: 512M }
output: [qcow2]
YAML
"$KILN" build guest.yml --out dist > build.txt 2>&1 || { cat build.txt; fail "kiln build of the rpm guest failed"; }
cat > feed.yml <<'YAML'
advisories:
  - { id: KILN-TEST-1, package: kiln-busybox, family: rpm, fixed: "1.0-1.kiln", severity: low }
  - { id: KILN-TEST-2, package: kiln-rpm, family: rpm, fixed: "0.9-5", severity: high }
  - { id: KILN-TEST-3, package: kiln-busybox, family: deb, fixed: "9.9", severity: high }
YAML
# the guest runs Debian's kernel, whose MAC is AppArmor (the test repository has no SELinux
# policy): the runbook's policy says so, the rest is kiln's default policy
sed 's/rpm: selinux/rpm: apparmor/' "$root/data/policy.yml" > policy.yml
grep -q 'rpm: apparmor' policy.yml || fail "data/policy.yml no longer names the rpm MAC as expected"
runbook() {
    cat <<YAML
name: rpmguest
vulnerability_feed: ./$1
policy: ./policy.yml
platform:
  type: qemu
  admin_username: root
  qemu:
    image: ./dist/rpm-guest-1.0.0.qcow2
    firmware: uefi
    memory_mb: 512
    cpus: 1
    accel: auto
    boot_timeout_s: 300
testcase:
  - criteria: { priority: [0, 1, 2] }
$([ "${KILN_RPM_LIFECYCLE:-0}" = 1 ] || printf '  - criteria: { name: "verify_reboot_cycles|verify_clean_shutdown" }\n    select_action: exclude\n')
YAML
}
runbook feed.yml > tier2.yml
"$KILN" run --runs-dir runs tier2.yml > run.txt 2>&1
rc=$?
cat run.txt
r=runs/latest/results.json
[ "$rc" -eq 0 ] || fail "tier 2 on the rpm guest failed: $(jq -r '.cases[] | select(.status=="failed") | "\(.name): \(.reason)"' "$r")"
expect_in runs/latest/nodes/node0/console.log "kiln-rpm: ready"
for c in verify_package_db verify_package_files verify_running_kernel_packaged verify_vulnerable_packages \
         verify_ssh_host_keys_unique verify_time_sync verify_mac_policy \
         verify_nvme verify_multiqueue perf_storage_io verify_suid_inventory verify_kernel_modules \
         verify_machine_id_unique verify_sshd_config verify_no_authorized_keys verify_no_password_hashes \
         verify_no_baked_private_keys verify_login_users verify_no_empty_passwords; do
    expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed
done
for c in verify_reboot_cycles verify_clean_shutdown; do
    if [ "${KILN_RPM_LIFECYCLE:-0}" = 1 ]; then expect_jq "$r" ".cases[] | select(.name==\"$c\") | .status" passed
    else expect_jq "$r" "[.cases[] | select(.name==\"$c\")] | length" 0; fi
done
# the guest defines no package repository: nothing to examine, which the base policy skips
expect_jq "$r" '.cases[] | select(.name=="verify_repos_signed") | .status' skipped
expect_jq "$r" '.cases[] | select(.name=="verify_repos_signed") | .reason | startswith("nothing to examine: no package repository")' true
expect_in runs/latest/cases/verify_package_db/log.txt "rpm -qa"
n=$(jq '[.cases[] | select(.status=="skipped" and ((.reason // "") == ""))] | length' "$r")
[ "$n" -eq 0 ] || fail "$n case(s) skipped without a reason"
note "rpm guest tier 2: $(jq -r '.summary | "\(.passed) passed, \(.skipped) skipped"' "$r")"
# a newer fix in the feed: the installed 1.0-1.kiln is older than 1.0-2.kiln
sed 's/fixed: "1.0-1.kiln"/fixed: "1.0-2.kiln"/' feed.yml > feed2.yml
runbook feed2.yml | sed 's/priority: \[0, 1, 2\]/name: verify_vulnerable_packages/' > vuln.yml
expect_status 1 "$KILN" run --runs-dir runs vuln.yml
expect_jq runs/latest/results.json '.cases[0].status' failed
expect_in runs/latest/results.json "KILN-TEST-1"
expect_no_qemu
exit 0
