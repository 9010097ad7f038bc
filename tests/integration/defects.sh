#!/bin/sh
# Every built-in check is worth the bugs it catches: each tests/defects/<name>.sh breaks a
# copy of the clean Debian image in one way (editing ext4 with debugfs, no mounts); kiln
# must fail the targeted case with a reason naming the evidence (exit status 1, a failure
# and not a configuration error). Each defect runs through the same runbook as the clean
# tier runs (examples/common-debian.yml), and the clean image passes every targeted case
# through it: each check is proven both ways. KILN_DEFECTS=a,b limits (a name that matches
# no defect is an error).
# The defects run in KILN_DEFECT_LANES (default 2) lanes side by side, one VM each: under
# TCG a guest keeps one host core busy, so two lanes use the two cores CI has.
. "$(dirname "$0")/lib.sh"
clean=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
qemu-img convert -O raw "$clean/disk.qcow2" clean.raw || fail "cannot convert the clean image"

# check NAME: applies one defect to a copy of the clean image, boots it, and writes
# result-NAME: "caught ..." or "MISSED ..." followed by kiln's output
check() {
    name=$1 script=$KILN_ROOT/tests/defects/$1.sh
    target=$(sed -n 's/^# case: //p' "$script")
    expect=$(sed -n 's/^# expect: //p' "$script")
    img=$T/$name.raw
    if [ -z "$target" ] || [ -z "$expect" ]; then
        echo "MISSED $name: the script lacks '# case:' or '# expect:' (an empty expectation proves nothing)" > "result-$name"
        return
    fi
    cp --sparse=always clean.raw "$img"
    if ! IMG=$img sh "$script" > "$name.apply" 2>&1; then
        { echo "MISSED $name: could not apply the defect"; cat "$name.apply"; } > "result-$name"
        return
    fi
    runbook "defect-$name" "$img" "$target" > "$name.yml"
    "$KILN" run --runs-dir "runs-$name" -v images="$clean" "$name.yml" > "$name.out" 2>&1
    rc=$?
    r=runs-$name/latest/results.json
    status=$(jq -r ".cases[] | select(.name==\"$target\") | .status" "$r" 2>/dev/null)
    reason=$(jq -r ".cases[] | select(.name==\"$target\") | .reason" "$r" 2>/dev/null)
    rm -f "$img" "$img".*
    case "$rc:$status:$reason" in
        1:failed:*"$expect"*) echo "  caught $name: $target failed: $reason" > "result-$name" ;;
        *) { echo "  MISSED $name: kiln exited $rc, $target is $status: $reason (expected exit 1 and a failure naming '$expect')"
             cat "$name.out"; } > "result-$name" ;;
    esac
}

# runbook NAME IMAGE CASES: the clean tier runs' runbook on IMAGE, selecting CASES (a regex)
runbook() {
    cat <<YAML
name: $1
include: [ $KILN_ROOT/examples/common-debian.yml ]
platform:
  qemu:
    image: $2
testcase:
  - criteria: { name: "$3" }
YAML
    # a defect may add runbook keys (e.g. a vulnerability feed) in IMAGE.extra.yml
    [ -f "$2.extra.yml" ] && cat "$2.extra.yml"
    return 0
}

names= targets=
for script in "$KILN_ROOT"/tests/defects/*.sh; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    case ",${KILN_DEFECTS:-$name}," in *",$name,"*) names="$names $name" ;; esac
done
for want in $(echo "${KILN_DEFECTS:-}" | tr ',' ' '); do
    case " $names " in *" $want "*) ;; *) fail "KILN_DEFECTS names $want, which is no defect in tests/defects" ;; esac
done
[ -n "$names" ] || fail "no defect selected"
for name in $names; do
    t=$(sed -n 's/^# case: //p' "$KILN_ROOT/tests/defects/$name.sh")
    case "|$targets|" in *"|$t|"*) ;; *) targets="${targets:+$targets|}$t" ;; esac
done
lanes=${KILN_DEFECT_LANES:-2}
lane=0
while [ "$lane" -lt "$lanes" ]; do
    # lane L takes every lanes-th defect, starting at the L-th
    (i=0; for name in $names; do
        [ $((i % lanes)) -eq "$lane" ] && check "$name"
        i=$((i + 1))
    done) &
    lane=$((lane + 1))
done
wait
failures=
for name in $names; do
    if [ -f "result-$name" ]; then cat "result-$name"; else echo "  MISSED $name: no result"; fi
    grep -q '^  caught' "result-$name" 2>/dev/null || failures="$failures $name"
done
[ -z "$failures" ] || fail "defects not caught:$failures"

# the other way: the clean image passes every targeted case through the same runbook
cp --sparse=always clean.raw clean-copy.raw
runbook clean clean-copy.raw "$targets" > clean.yml
"$KILN" run --runs-dir runs-clean -v images="$clean" clean.yml > clean.out 2>&1
rc=$?
r=runs-clean/latest/results.json
jq -r '.cases[] | "  clean image: \(.name) \(.status)\(if .reason then ": " + .reason else "" end)"' "$r" 2>/dev/null
[ "$rc" -eq 0 ] || { cat clean.out; fail "the clean image does not pass the targeted cases (kiln exited $rc)"; }
n_targets=$(echo "$targets" | tr '|' '\n' | wc -l)
[ "$(jq '[.cases[] | select(.status=="passed")] | length' "$r")" -eq "$n_targets" ] ||
    fail "the clean image passed $(jq '[.cases[] | select(.status=="passed")] | length' "$r") of $n_targets targeted cases"
expect_no_qemu
exit 0
