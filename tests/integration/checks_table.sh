#!/bin/sh
# docs/checks.md (every built-in case, its defect and the evidence it names) is generated from
# the registry and tests/defects/: it must be current, and every case must have its row.
. "$(dirname "$0")/lib.sh"
sh "$KILN_ROOT/scripts/checks-table.sh" "$KILN" "$T/checks.md" || fail "scripts/checks-table.sh failed"
diff -u "$KILN_ROOT/docs/checks.md" "$T/checks.md" ||
    fail "docs/checks.md is stale: run scripts/checks-table.sh build/kiln"
n_cases=$("$KILN" list --json | jq '[.[] | select(.name | startswith("ext.") | not)] | length')
n_rows=$(grep -c '^| [a-z][a-z0-9_]* | [a-z]* | [0-9]' "$T/checks.md")
[ "$n_cases" -eq "$n_rows" ] || fail "$n_cases cases but $n_rows rows in docs/checks.md"
note "$n_rows cases; $(grep -c 'none yet' "$T/checks.md") without a defect yet"
exit 0
