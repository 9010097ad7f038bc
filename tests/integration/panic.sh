#!/bin/sh
# A kernel that panics at boot fails smoke with the panic line as the reason, as soon as
# the console shows it: boot_timeout_s is an hour, and the run must end within minutes.
# fails: smoke
. "$(dirname "$0")/lib.sh"

busybox_runbook panic "console=ttyS0 rdinit=/bin/false" 3600 <<'YAML' > panic.yml
testcase:
  - criteria: { name: "smoke|verify_kernel_cmdline" }
YAML
timeout 300 "$KILN" run --runs-dir runs panic.yml > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 1 ] || fail "kiln run exited $rc, expected 1 (124 means it waited for the boot timeout)"
r=runs/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="smoke") | .status' failed
reason=$(jqv "$r" '.cases[] | select(.name=="smoke") | .reason')
case "$reason" in *"Kernel panic - not syncing"*) ;; *) fail "smoke reason lacks the panic line: $reason" ;; esac
reason2=$(jqv "$r" '.cases[] | select(.name=="verify_kernel_cmdline") | .reason')
case "$reason2" in *"deployment failed earlier"*"Kernel panic"*) ;; *) fail "second case did not fail fast: $reason2" ;; esac
expect_in out.txt "Kernel panic - not syncing"
expect_no_qemu
exit 0
