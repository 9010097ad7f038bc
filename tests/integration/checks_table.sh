#!/bin/sh
# docs/checks.md (every built-in case, its defect and the evidence it names) is generated from
# the registry and tests/defects/: it must be current, every case must have its row, and every
# row a defect or the reason none can be made here.
. "$(dirname "$0")/lib.sh"
sh "$KILN_ROOT/scripts/checks-table.sh" "$KILN" "$T/checks.md" || fail "scripts/checks-table.sh failed"
diff -u "$KILN_ROOT/docs/checks.md" "$T/checks.md" ||
    fail "docs/checks.md is stale: run scripts/checks-table.sh build/kiln"
n_cases=$("$KILN" list --json | jq '[.[] | select(.name | startswith("ext.") | not)] | length')
n_rows=$(grep -c '^| [a-z][a-z0-9_]* | [a-z]* | [0-9]' "$T/checks.md")
[ "$n_cases" -eq "$n_rows" ] || fail "$n_cases cases but $n_rows rows in docs/checks.md"
# every case is proven to fail on a defect, or says why no defect made here can fail it
grep '| none yet |' "$T/checks.md" && fail "the cases above have no defect (tests/defects/) and no reason in tests/defects/unproducible.txt"
sed -n 's/^\([a-z0-9_]*\): .*/\1/p' "$KILN_ROOT/tests/defects/unproducible.txt" | while read -r c; do
    "$KILN" list --json | jq -e --arg c "$c" 'any(.[]; .name == $c)' > /dev/null ||
        fail "tests/defects/unproducible.txt names $c, which is no case of kiln's"
    ! grep -l "^# case: $c\$" "$KILN_ROOT"/tests/defects/*.sh "$KILN_ROOT"/tests/defects/update/*.sh ||
        fail "tests/defects/unproducible.txt says no defect can fail $c, but the scripts above do"
done || exit 1
note "$n_rows cases; $(grep -c '| none here: ' "$T/checks.md") no defect made here can fail (with the reason)"
exit 0
