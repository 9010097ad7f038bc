#!/bin/sh
# A guest that boots but never offers SSH: the case fails with "no SSH after N s" and the
# last console lines, and the next case that needs the same environment fails at once.
. "$(dirname "$0")/lib.sh"
# init is a long sleep: the kernel boots, nothing listens on port 22
busybox_runbook nossh "console=ttyS0 rdinit=/bin/sleep -- 100000" 25 <<'YAML' > nossh.yml
testcase:
  - criteria: { name: "smoke|verify_kernel_cmdline" }
YAML
"$KILN" run --runs-dir runs nossh.yml > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1"
r=runs/latest/results.json
reason=$(jqv "$r" '.cases[] | select(.name=="smoke") | .reason')
case "$reason" in *"no SSH after 25 s"*"last console lines"*"Run /bin/sleep as init process"*) ;;
    *) fail "smoke reason: $reason" ;; esac
reason2=$(jqv "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .reason')
case "$reason2" in "environment deployment failed earlier: "*) ;; *) fail "second case: $reason2" ;; esac
expect_no_qemu
exit 0
