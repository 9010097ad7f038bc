#!/bin/sh
# Each update case is worth the defect it catches (make check-long, after update.sh, which
# proves the clean images pass them): tests/defects/update/NAME.sh changes a copy of
# debian-update 1.0.0's spec (os.files, os.services.mask), kiln build makes that the machine's
# starting image, and examples/update.yml's platform (the same gallery and update server) runs
# the one case the defect targets ("# case:"). kiln must fail it (exit 1) with a reason holding
# "# expect:". A whole update cycle per defect under TCG, so they run one after another.
# KILN_UPDATE_DEFECTS=a,b limits; images and the gallery are update.sh's (KILN_UPDATE_OUT).
. "$(dirname "$0")/lib.sh"
out=${KILN_UPDATE_OUT:-$KILN_ROOT/out/update}
D=$KILN_ROOT/tests/defects/update
start=$(date +%s)
sh "$KILN_ROOT/examples/update-images.sh" "$KILN" "$out" > images.txt 2>&1 || { tail -40 images.txt; fail "update-images.sh failed"; }
names=
for f in "$D"/*.sh; do
    n=$(basename "$f" .sh)
    [ "$n" = lib ] && continue
    case ",${KILN_UPDATE_DEFECTS:-$n}," in *",$n,"*) names="$names $n" ;; esac
done
for want in $(echo "${KILN_UPDATE_DEFECTS:-}" | tr ',' ' '); do
    case " $names " in *" $want "*) ;; *) fail "KILN_UPDATE_DEFECTS names $want, which is no defect in tests/defects/update" ;; esac
done
[ -n "$names" ] || fail "no update defect selected"
gallery_before=$(cd "$out/gallery" && find . -type f -exec sha256sum {} + | sort | sha256sum)
missed=
for n in $names; do
    case_=$(sed -n 's/^# case: //p' "$D/$n.sh") expect=$(sed -n 's/^# expect: //p' "$D/$n.sh")
    [ -n "$case_" ] && [ -n "$expect" ] || fail "tests/defects/update/$n.sh lacks '# case:' or '# expect:'"
    # the spec and its files beside update-images.sh's, so keys/ and files/ resolve the same
    spec=$out/src/defect-$n.yml files=$out/src/defect-$n
    rm -rf "$files" "$out/defect-$n"
    cp "$out/src/debian-update-1.0.0.yml" "$spec"
    mkdir -p "$T/tmp"
    TMPDIR=$T/tmp SPEC=$spec FILES=$files sh "$D/$n.sh" > "apply-$n" 2>&1 || { cat "apply-$n"; fail "cannot apply $n to the spec"; }
    t0=$(date +%s)
    "$KILN" build "$spec" --out "$out/defect-$n" > "build-$n" 2>&1 || { tail -20 "build-$n"; fail "kiln build of $n failed"; }
    img=$out/defect-$n/debian-update-1.0.0.qcow2
    sed -e "s|^    image: .*|    image: $img|" -e "s|^  - criteria: .*|  - criteria: { name: $case_ }|" \
        "$KILN_ROOT/examples/update.yml" > "$n.yml"
    grep -qF "image: $img" "$n.yml" && grep -qF "name: $case_ }" "$n.yml" || fail "cannot write the runbook for $n"
    # a defect's own key (stray_key) is the one the tampered case signs with
    if [ -f "$files/untrusted.key" ]; then
        sed -i "s|^\(    update: {.*\) }\$|\1, untrusted_key: $files/untrusted.key }|" "$n.yml"
        grep -qF "untrusted_key: $files/untrusted.key }" "$n.yml" || fail "cannot name the untrusted key in the runbook for $n"
    fi
    "$KILN" run --runs-dir "runs-$n" -v "out=$out" "$n.yml" > "run-$n" 2>&1
    rc=$?
    r=runs-$n/latest/results.json
    status=$(jq -r ".cases[] | select(.name==\"$case_\") | .status" "$r" 2>/dev/null)
    reason=$(jq -r ".cases[] | select(.name==\"$case_\") | .reason" "$r" 2>/dev/null)
    took=$(( $(date +%s) - t0 ))
    case "$rc:$status:$reason" in
        1:failed:*"$expect"*) note "caught $n: $case_ failed in $took s (build and run): $reason" ;;
        *) cat "run-$n"
           note "MISSED $n: kiln exited $rc, $case_ is $status: $reason (expected exit 1 and a failure naming '$expect')"
           missed="$missed $n" ;;
    esac
    rm -rf "$out/defect-$n"
done
[ "$(cd "$out/gallery" && find . -type f -exec sha256sum {} + | sort | sha256sum)" = "$gallery_before" ] ||
    fail "the gallery differs after the defect runs"
expect_no_qemu
[ -z "$missed" ] || fail "update defects not caught:$missed"
note "update defects: all caught in $(( $(date +%s) - start )) s"
exit 0
