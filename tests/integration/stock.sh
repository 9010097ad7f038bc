#!/bin/sh
# A stock Debian image (systemd-networkd with one DHCP file for e*, systemd-resolved,
# Debian's own sshd and sysctl defaults: tests/images/stock.sh) passes tier 1 with no
# failure: kiln's verdicts hold on images it was not tuned for. Each skip names its reason.
# KILN_STOCK_VARIANTS (default networkd) and KILN_STOCK_TIER (default 1) widen it;
# `make check-long` runs tiers 1 and 2 on all four variants.
. "$(dirname "$0")/lib.sh"
tier=${KILN_STOCK_TIER:-1}
for variant in ${KILN_STOCK_VARIANTS:-networkd}; do
    images=$(sh "$KILN_ROOT/tests/images/build.sh" "stock-$variant") || fail "cannot build the stock-$variant image"
    "$KILN" run --runs-dir "runs-$variant" -v images="$images" -v append="$(cat "$images/append")" \
        "$KILN_ROOT/examples/tier$tier.yml" > "out-$variant.txt" 2>&1
    rc=$?
    r=runs-$variant/latest/results.json
    [ -f "$r" ] || { cat "out-$variant.txt"; fail "stock-$variant: no results.json"; }
    echo "stock-$variant, tier $tier: $(jq -r '.summary | "\(.passed) passed, \(.failed) failed, \(.skipped) skipped"' "$r") in $(jq -r '.run.duration_s | floor' "$r") s"
    jq -r '.cases[] | select(.status != "passed") | "  \(.status) \(.name): \(.reason)"' "$r"
    [ "$rc" -eq 0 ] || { cat "out-$variant.txt"; fail "tier $tier on stock-$variant exited $rc (false failures above)"; }
    [ "$(jq '[.cases[] | select(.status=="skipped" and (.reason == null or .reason == ""))] | length' "$r")" -eq 0 ] ||
        fail "stock-$variant: a case was skipped without a reason"
    [ "$(jq '.summary.passed' "$r")" -ge 15 ] || fail "stock-$variant: fewer than 15 cases passed"
done
expect_no_qemu
exit 0
