#!/bin/sh
# Script tests (extension directories) on the busybox image: pass, fail, skip, reboot,
# TAP subtests, metadata from headers and kiln.yml; and the spine's own guarantees seen
# from inside the guest: requested NICs/disks/NVMe exist, the cloud-init seed is right,
# a panic in the middle of a case fails it at once and the next case gets a fresh node,
# a timed-out command leaves no process behind (dropbear: no process group per session).
. "$(dirname "$0")/lib.sh"
ext=$KILN_ROOT/tests/data/ext
busybox_runbook ext <<YAML > ext.yml
extension: [ $ext/basic, $ext/spine ]
testcase:
  - criteria: { name: "ext\\\\..*" }
YAML
"$KILN" list ext.yml > list.txt || fail "kiln list failed"
expect_in list.txt "ext.basic.fail                   storage        3"
expect_in list.txt "nics>=2 disks>=1 nvme"
"$KILN" run --runs-dir runs ext.yml > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1 (some tests fail on purpose)"
r=runs/latest/results.json
st() { jqv "$r" ".cases[] | select(.name==\"$1\") | .$2"; }
expect() { got=$(st "$1" "$2"); [ "$got" = "$3" ] || fail "$1 $2: '$got', expected '$3'"; }
expect ext.basic.pass status passed
expect ext.basic.fail status failed
expect ext.basic.fail reason "exit status 3: answer was 41, expected 42"
expect ext.basic.fail area storage
expect ext.basic.skip status skipped
expect ext.basic.skip reason "this guest has no GPU"
expect ext.basic.reboot status passed
expect ext.basic.noreboot status failed
expect ext.basic.noreboot reason "asked for a reboot (autopkgtest-reboot sneaky) but its metadata lacks reboot: true"
expect ext.basic.tap status passed
[ "$(jq '.cases[] | select(.name=="ext.basic.tap") | .subtests | length' "$r")" = 3 ] || fail "tap subtests"
[ "$(jq -r '.cases[] | select(.name=="ext.basic.tap") | .subtests[1].status' "$r")" = skipped ] || fail "tap skip"
expect_in runs/latest/junit.xml 'name="no GPU needed"'
expect ext.basic.junit status passed
[ "$(jq -r '.cases[] | select(.name=="ext.basic.junit") | .subtests | map(.name + "=" + .status) | join(",")' "$r")" = \
  "guest.fs.tmp_writable=passed,guest.fs.no_ipv6=skipped" ] || fail "junit subtests"
expect_in runs/latest/cases/ext.basic.reboot/log.txt 'test asked for a reboot with mark "after-first"'
expect ext.spine.resources status passed
expect ext.spine.cloudinit status passed
expect ext.spine.panic status failed
reason=$(st ext.spine.panic reason)
case "$reason" in "console: "*"Kernel panic - not syncing: sysrq triggered crash") ;; *) fail "panic reason: $reason" ;; esac
expect ext.spine.zz_after_panic status passed
[ "$(st ext.spine.panic node)" != "$(st ext.spine.zz_after_panic node)" ] || fail "no fresh node after the panic"
expect ext.spine.timeout status failed
expect ext.spine.timeout reason "timed out after 5 s"
expect ext.spine.zz_no_leftovers status passed
[ "$(st ext.spine.timeout node)" = "$(st ext.spine.zz_no_leftovers node)" ] || fail "leftover check ran elsewhere"
# a machine stuck in its own reset (console silent after the kernel's restart message while
# the VM keeps running) is power-cycled from outside, and the case carries a note saying so;
# the stall threshold is shortened from 30 s for the test
busybox_runbook stuck <<YAML > stuck.yml
extension: [ $ext/stuck ]
testcase:
  - criteria: { name: "ext\\\\.stuck\\\\..*" }
YAML
KILN_REBOOT_STALL_S=10 "$KILN" run --runs-dir runs stuck.yml > stuck.out 2>&1 || { cat stuck.out; fail "the stuck reset was not recovered"; }
expect ext.stuck.stuck_reset status passed
note_text="node0: the machine kept running 10 s after the kernel's restart message (\"[   99.000000] reboot: machine restart\") without resetting; kiln power-cycled the machine"
expect_in runs/latest/cases/ext.stuck.stuck_reset/log.txt "note: $note_text"
expect ext.stuck.stuck_reset "notes[0]" "$note_text"
expect_in stuck.out "without resetting; power-cycled it"
expect_no_qemu
exit 0
