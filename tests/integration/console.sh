#!/bin/sh
# The console and kernel-log patterns on real guests:
# 1. busybox: each of the emergency-shell lines the issue names, printed on the console during
#    a case, fails that case at once with the line as its reason (the case would sleep 600 s).
# 2. Debian: kernel reports the old list missed (RCU stalls, x86 traps in both wordings, a
#    workqueue lockup), written into the kernel log at boot, fail smoke, verify_console_clean
#    and verify_dmesg_clean with the same findings.
# 3. Debian: an fstab naming a disk that is not there (no nofail) sends systemd to emergency
#    mode; the boot fails on the emergency line itself, not after boot_timeout_s (an hour here).
# fails: smoke verify_console_clean verify_dmesg_clean
. "$(dirname "$0")/lib.sh"

# --- 1. emergency lines on a busybox console
busybox_runbook emerg "console=ttyS0 quiet" <<YAML > emerg.yml
extension: [ $KILN_ROOT/tests/data/ext/console ]
testcase:
  - criteria: { name: "ext\\\\.console\\\\..*" }
YAML
timeout 500 "$KILN" run --runs-dir runs-emerg emerg.yml > emerg.out 2>&1
rc=$?
cat emerg.out
[ "$rc" -eq 1 ] || fail "kiln run exited $rc, expected 1 (124: a case waited for its own timeout)"
r=runs-emerg/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="ext.console.welcome") | .reason' \
    'console: Welcome to emergency mode! After logging in, type "journalctl -xb" to view'
expect_jq "$r" '.cases[] | select(.name=="ext.console.locked") | .reason' \
    'console: Cannot open access to console, the root account is locked.'
expect_no_qemu

# --- the Debian guest, edited with debugfs as the defect scripts do
clean=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
debian_runbook() { # NAME IMAGE BOOT_TIMEOUT CASES
    cat <<YAML
name: $1
platform:
  type: qemu
  qemu:
    image: $2
    kernel: $clean/vmlinuz
    initrd: $clean/initrd.img
    append: "console=ttyS0 root=LABEL=root rw"
    memory_mb: 768
    cpus: 1
    accel: auto
    boot_timeout_s: $3
testcase:
  - criteria: { name: "$4" }
YAML
}
# edit IMAGE: applies the commands on stdin with tests/defects/lib.sh (put, link...), as the defect scripts do
edit() { { echo ". '$KILN_ROOT/tests/defects/lib.sh'"; cat; } > edit.sh; IMG=$1 sh edit.sh || fail "cannot edit $1"; }

# --- 2. kernel reports at boot: the issue's logs, without their timestamps, at error level
qemu-img convert -O raw "$clean/disk.qcow2" kmsg.raw || fail "cannot convert the clean image"
cat "$KILN_ROOT"/tests/data/console/rcu-stalls.log "$KILN_ROOT"/tests/data/console/x86-traps.log \
    "$KILN_ROOT"/tests/data/console/bug-lines.log | sed -n 's/^\[ *[0-9]*\.[0-9]*\] //p' > kmsg.lines
[ "$(wc -l < kmsg.lines)" -eq 21 ] || fail "expected 21 kernel lines in the issue's logs"
edit kmsg.raw <<'EOF'
put /etc/kiln-kmsg.lines 644 "$(cat kmsg.lines)\n"
put /usr/local/sbin/kiln-kmsg 755 '#!/bin/sh\nwhile IFS= read -r l; do echo "<3>$l" > /dev/kmsg; done < /etc/kiln-kmsg.lines\n'
put /etc/systemd/system/kiln-kmsg.service 644 '[Unit]\nDescription=Kernel reports for the console test\nBefore=ssh.service\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/kiln-kmsg\n\n[Install]\nWantedBy=multi-user.target\n'
link /etc/systemd/system/kiln-kmsg.service /etc/systemd/system/multi-user.target.wants/kiln-kmsg.service
EOF
debian_runbook kmsg "$T/kmsg.raw" 600 "smoke|verify_console_clean|verify_dmesg_clean" > kmsg.yml
timeout 900 "$KILN" run --runs-dir runs-kmsg kmsg.yml > kmsg.out 2>&1
rc=$?
cat kmsg.out
[ "$rc" -eq 1 ] || fail "kiln run exited $rc, expected 1"
r=runs-kmsg/latest/results.json
first='[rcu-stall] rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { P311 } 6052 jiffies s: 97 root: 0x0/T'
# seven findings: two RCU stalls, three oopses and a call trace, a workqueue lockup
reason=$(jqv "$r" '.cases[] | select(.name=="verify_dmesg_clean") | .reason')
case "$reason" in "kernel log has 7 bad line(s), first: [rcu-stall] ["*"] ${first#\[rcu-stall\] }") ;;
    *) fail "verify_dmesg_clean: $reason" ;; esac
for c in smoke verify_console_clean; do
    reason=$(jqv "$r" ".cases[] | select(.name==\"$c\") | .reason")
    case "$reason" in "console "*": [rcu-stall] ["*"] ${first#\[rcu-stall\] } (+6 more, see nodes/node0/console.log)") ;;
        *) fail "$c: $reason" ;; esac
done
for w in "Oops: invalid opcode: 0000 [#3]" "BUG: workqueue lockup" "INFO: rcu_sched self-detected stall on CPU"; do
    expect_in runs-kmsg/latest/cases/verify_dmesg_clean/log.txt "$w"
done
rm -f kmsg.raw
expect_no_qemu

# --- 3. a missing disk in fstab: emergency mode, and the run says so at once
qemu-img convert -O raw "$clean/disk.qcow2" fstab.raw || fail "cannot convert the clean image"
# the root line as the clean image has it, and a data disk no VM of this run has (no nofail)
edit fstab.raw <<EOF
put /etc/fstab 644 'UUID=$(cat "$clean/root-uuid") / ext4 defaults,errors=remount-ro 0 1\nUUID=6b696c6e-0000-4000-8000-0000000000da /srv/data ext4 defaults 0 2\n'
EOF
debian_runbook fstab "$T/fstab.raw" 3600 "smoke|verify_console_clean" > fstab.yml
timeout 1200 "$KILN" run --runs-dir runs-fstab fstab.yml > fstab.out 2>&1
rc=$?
cat fstab.out
[ "$rc" -eq 1 ] || fail "kiln run exited $rc, expected 1 (124: it waited for the boot timeout)"
r=runs-fstab/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="smoke") | .status' failed
reason=$(jqv "$r" '.cases[] | select(.name=="smoke") | .reason')
# node0, or node1 when the failed deployment was retried once (the scheduler does that)
node=${reason%%: *}
case "$node" in node[01]) ;; *) fail "smoke's reason does not name the node: $reason" ;; esac
line=${reason#"$node: "}
[ -n "$line" ] || fail "smoke's reason is not a line of $node's console: $reason"
# the reason is one console line, systemd's emergency mode, not the boot timeout's report
case "$line" in *"no SSH after"*|*"
"*) fail "smoke failed on the boot timeout, not the emergency line: $reason" ;; esac
case "$line" in *[Ee]mergency*) ;; *) fail "smoke's reason is not the emergency line: $reason" ;; esac
console=runs-fstab/latest/nodes/$node/console.log
sed 's/\x1b\[[0-9;?]*[@-~]//g' "$console" | tr -d '\r' > console.txt
expect_in console.txt "$line"
expect_in console.txt "Timed out waiting for device"
expect_jq "$r" '.cases[] | select(.name=="verify_console_clean") | .reason' "environment deployment failed earlier: $reason"
rm -f fstab.raw
expect_no_qemu
exit 0
