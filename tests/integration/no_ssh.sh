#!/bin/sh
# A guest that boots but never offers SSH: the case fails with "no SSH after N s" and the
# last console lines, and the next case that needs the same environment fails at once.
# A guest whose sshd refuses kiln's key fails once the refusals outlast KILN_AUTH_GRACE_S
# (not the boot timeout), says the likely cause, and is not deployed a second time.
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

# the account kiln logs in as does not exist in the image: every key is refused
busybox_runbook refused "console=ttyS0 quiet" 300 <<'YAML' > refused.yml
  admin_username: kiln-absent-user
testcase:
  - criteria: { name: "smoke" }
YAML
KILN_AUTH_GRACE_S=5 "$KILN" run --runs-dir runs-refused refused.yml > refused.txt 2>&1
rc=$?
cat refused.txt
[ "$rc" -eq 1 ] || fail "refused key: exit $rc, expected 1"
reason=$(jqv runs-refused/latest/results.json '.cases[] | select(.name=="smoke") | .reason')
case "$reason" in *"kiln-absent-user@"*"public key authentication refused on every attempt for 5 s"*"did not take the key kiln provisioned"*) ;;
    *) fail "refused key: smoke reason: $reason" ;; esac
case "$reason" in *"no SSH after"*) fail "refused key waited for the boot timeout: $reason" ;; esac
expect_not_in refused.txt "deploying once more"
expect_no_qemu
exit 0
