#!/bin/sh
# LISA's own published runbooks (tests/data/lisa: microsoft/lisa's microsoft/runbook/qemu/qemu.yml,
# ready.yml and the tiers they include, copied as published) go through kiln check: what kiln
# honours loads, what it does not is named at file:line:col, and the exit status says which.
. "$(dirname "$0")/lib.sh"
cp -r "$KILN_ROOT/tests/data/lisa" lisa
R=$T/lisa/microsoft/runbook
: > key
# kiln check reads the disk as kiln run would: a qcow2 holding an (empty) GPT disk
truncate -s 1M disk.raw && sgdisk -o disk.raw >/dev/null && qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 ||
    fail "could not make the GPT qcow2 fixture"
# the variables LISA's users pass on its command line (lisa -r ... -v name:value)
V="-v admin_private_key_file:$T/key -v qcow2:$T/disk.qcow2"

# As published: tier.yml names LISA's Python test suites (../../testsuites), which this copy
# lacks; kiln says so where the runbook names them.
expect_status 2 "$KILN" check -r "$R/qemu/qemu.yml" $V
expect_in "$T/err" "$R/tiers/tier.yml:5:5: extension[0]: $T/lisa/microsoft/testsuites is not a directory of tests"
expect_in "$T/err" "$R/qemu/qemu.yml:2:7: warning: name: the run directory is named qemu-default-TIME (spaces become '-')"

# With a directory of kiln script tests there, tier 0 (t$(tier).yml) names a LISA case kiln lacks
mkdir -p lisa/microsoft/testsuites
printf '#!/bin/sh\ntrue\n' > lisa/microsoft/testsuites/hello.sh
chmod +x lisa/microsoft/testsuites/hello.sh
expect_status 2 "$KILN" check -r "$R/qemu/qemu.yml" $V -v "extra_user_data:#cloud-config"
expect_in "$T/err" "kiln check: warning: $R/tiers/t0.yml:3:5: testcase[0] matches no case"
expect_in "$T/err" "$R/qemu/qemu.yml: testcase: the criteria select no case"
expect_in "$T/err" "$R/qemu/qemu.yml:22:28: warning: platform.requirement.qemu.cloud_init.extra_user_data: not honoured: kiln writes the NoCloud seed itself"
# the platform list, its keep_environment, admin key and qcow2 are honoured: nothing is said of them
expect_not_in "$T/err" "platform["
expect_not_in "$T/err" "platform.qemu"
expect_not_in "$T/err" "keep_environment"
expect_not_in "$T/err" "disk.qcow2"

# Tier 1: priority [0, 1] selects kiln's P0 and P1 cases; the LISAv2 (legacy) rule is named and
# left out, the one its enable_lis switches off is left out quietly, as LISA does.
V1="-v tier=1 -v v2_repo_url=u -v v2_branch=b -v location=l -v gallery_image=g -v v2_secret_file=s -v v2_rg_cleanup=c
    -v custom_lis=x -v custom_test_parameters=x -v override_vmsize=x -v custom_kernel=x -v enable_lis=false"
# shellcheck disable=SC2086
expect_status 0 "$KILN" check -r "$R/qemu/qemu.yml" $V $V1
n=$("$KILN" list --json | jq '[.[] | select(.priority <= 1)] | length')
expect_in "$T/out" "$R/qemu/qemu.yml: ok ($n case(s) selected)"
expect_in "$T/err" "$R/tiers/t1.yml:10:5: warning: testcase[1]: not honoured: a LISAv2 (legacy) test run"
expect_not_in "$T/err" "t1.yml:15"
[ "$(grep -c warning "$T/err")" -eq 2 ] || fail "expected two warnings (the name, the legacy rule)"

# ready.yml: its environment's remote node becomes the ready platform's node
# shellcheck disable=SC2086
expect_status 0 "$KILN" check -r "$R/ready.yml" $V $V1 -v public_address:10.1.2.3
expect_in "$T/out" "$R/ready.yml: ok ($n case(s) selected)"
# shellcheck disable=SC2086
expect_status 2 "$KILN" check -r "$R/ready.yml" $V $V1
expect_in "$T/err" "$R/ready.yml:16:27: environment.environments[0].nodes[0].public_address: unknown variable \$(public_address)"

# LISA refuses a case forced both in and out; so does kiln, naming both rules
cat > conflict.yml <<'YAML'
platform: [ { type: qemu, qemu: { kernel: /bin/true } } ]
testcase:
  - criteria: { name: smoke }
    select_action: forceInclude
  - criteria: { area: provisioning }
    select_action: forceExclude
YAML
expect_status 2 "$KILN" check conflict.yml
expect_in "$T/err" "conflict.yml:5:5: testcase[1] (force-exclude) conflicts over case smoke with testcase[0] (force-include) at conflict.yml:3:5"
# and --json places the conflict at the later rule
expect_status 2 "$KILN" check --json conflict.yml
expect_jq "$T/out" '.errors[0] | "\(.file):\(.line):\(.col) \(.message)"' \
    "conflict.yml:5:5 testcase[1] (force-exclude) conflicts over case smoke with testcase[0] (force-include) at conflict.yml:3:5; a case can be forced in or out, not both"
