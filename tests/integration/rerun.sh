#!/bin/sh
# kola-style selection on the command line and kiln run --rerun-failed, on the busybox image:
# NAME-GLOBs, --tag and --priority narrow the runbook's selection; --rerun-failed runs exactly
# the cases that did not pass, with the runbook and -v values results.json recorded, and a -v
# given again wins.
. "$(dirname "$0")/lib.sh"
mkdir -p t
# passes when the kernel command line says kiln.mode=good, which a runbook variable sets
printf '#!/bin/sh\n# kiln: { priority: 2, tags: [keep] }\ngrep -q kiln.mode=good /proc/cmdline || { echo "mode is not good" >&2; exit 1; }\n' > t/mode.sh
printf '#!/bin/sh\n# kiln: { priority: 2, tags: [keep] }\ntrue\n' > t/always.sh
# left out by a NAME-GLOB, by --tag keep and by --priority 2, one each
printf '#!/bin/sh\n# kiln: { priority: 2, tags: [keep] }\ntrue\n' > t/other.sh
printf '#!/bin/sh\n# kiln: { priority: 2 }\ntrue\n' > t/untagged.sh
printf '#!/bin/sh\n# kiln: { priority: 3, tags: [keep] }\ntrue\n' > t/low.sh
chmod +x t/*.sh
busybox_runbook rr "console=ttyS0 quiet kiln.mode=\$(mode)" <<'YAML' > rr.yml
extension: [ ./t ]
variable:
  - { name: mode, value: good }
testcase:
  - criteria: { area: t }
YAML

# a glob that matches nothing the runbook selects: an error before any VM boots
expect_status 2 "$KILN" run --runs-dir runs rr.yml 'ext.t.nothing*'
expect_in "$T/err" "NAME-GLOB ext.t.nothing* matches none of the 5 case(s) rr.yml selects"
expect_status 2 "$KILN" run --runs-dir runs rr.yml --tag no-such-tag --priority 2
expect_in "$T/err" "none of the 5 case(s) rr.yml selects passes the command line's names, --tag and --priority"
[ ! -e runs/latest ] || fail "a refused run left runs/latest"
expect_status 2 "$KILN" run --runs-dir runs --rerun-failed
expect_in "$T/err" "--rerun-failed: runs/latest/results.json:"

# a results.json that does not say how it was run, or that had a secret: said before any VM boots
mkdir -p old
printf '{"schema":"kiln.results/v1","run":{"name":"x"},"cases":[]}\n' > old/results.json
expect_status 2 "$KILN" run --rerun-failed old
expect_in "$T/err" "old/results.json does not record its runbook"

# the globs leave out ext.t.other, --tag keep ext.t.untagged, --priority 2 ext.t.low: two of the
# five cases run; -v mode=bad makes ext.t.mode fail
expect_status 1 "$KILN" run --runs-dir runs -v mode=bad -v s:tok=Zq9-rerun-secret rr.yml 'ext.t.mode' 'ext.t.al*' 'ext.t.[lu]*' \
    --tag keep --priority 2
r=runs/latest/results.json
expect_jq "$r" '[.cases[].name] | sort | join(",")' "ext.t.always,ext.t.mode"
expect_jq "$r" '.cases[] | select(.name=="ext.t.mode") | .status' failed
expect_jq "$r" '.run.runbook' "$T/rr.yml"
expect_jq "$r" '.run.variables | map(.name + "=" + (.value // "(secret \(.secret))")) | join(",")' "mode=bad,tok=(secret true)"
! grep -rq Zq9-rerun-secret runs || fail "the secret was written into the run"
first=$(readlink runs/latest)

# a secret is not kept: it must be given again
expect_status 2 "$KILN" run --runs-dir runs --rerun-failed
expect_in "$T/err" "was run with the secret -v s:tok=...; kiln does not keep secrets: give it again"

# again with the recorded mode=bad: only the failed case runs, and fails again
expect_status 1 "$KILN" run --runs-dir runs --rerun-failed -v s:tok=Zq9-rerun-secret
expect_in "$T/out" "running again the 1 case(s) that did not pass in runs/latest"
r=runs/latest/results.json
expect_jq "$r" '[.cases[].name] | join(",")' "ext.t.mode"
expect_jq "$r" '.cases[0].status' failed
expect_jq "$r" '.run.variables | map(.name + "=" + (.value // "(secret)")) | join(",")' "mode=bad,tok=(secret)"

# a -v given now wins over the recorded one: the case passes; the first run named explicitly
expect_status 0 "$KILN" run --runs-dir runs --rerun-failed "runs/$first" -v mode=good -v s:tok=Zq9-rerun-secret
r=runs/latest/results.json
expect_jq "$r" '[.cases[].name] | join(",")' "ext.t.mode"
expect_jq "$r" '.cases[0].status' passed
expect_jq "$r" '.run.variables | map(.name + "=" + (.value // "(secret)")) | join(",")' "mode=good,tok=(secret)"

# nothing failed there: nothing to run (no secret needed for that), exit 0
expect_status 0 "$KILN" run --runs-dir runs --rerun-failed
expect_in "$T/out" "every case of runs/latest passed or was skipped; nothing to run again"
expect_no_qemu
