#!/bin/sh
# The clean Debian test image passes the whole tier-1 selection (skips allowed only with
# a reason).
. "$(dirname "$0")/lib.sh"
images=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
"$KILN" run --runs-dir runs -v images="$images" "$KILN_ROOT/examples/tier1.yml" > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 0 ] || fail "tier1 on the clean image exited $rc"
r=runs/latest/results.json
[ "$(jq '.summary.failed' "$r")" -eq 0 ] || fail "failures on the clean image"
[ "$(jq '[.cases[] | select(.status=="skipped" and (.reason == null or .reason == ""))] | length' "$r")" -eq 0 ] ||
    fail "a case was skipped without a reason"
[ "$(jq '.summary.passed' "$r")" -ge 15 ] || fail "fewer than 15 cases passed"
expect_no_qemu
exit 0
