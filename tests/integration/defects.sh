#!/bin/sh
# Every built-in check is worth the bugs it catches: each tests/defects/<name>.sh breaks a
# copy of the clean Debian image in one way (editing ext4 with debugfs, no mounts); kiln
# must fail the targeted case with a reason naming the evidence. KILN_DEFECTS=a,b limits.
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
    cp --sparse=always clean.raw "$img"
    if ! IMG=$img sh "$script" > "$name.apply" 2>&1; then
        { echo "MISSED $name: could not apply the defect"; cat "$name.apply"; } > "result-$name"
        return
    fi
    cat > "$name.yml" <<YAML
name: defect-$name
platform:
  type: qemu
  qemu:
    image: $img
    kernel: $clean/vmlinuz
    initrd: $clean/initrd.img
    append: "console=ttyS0 root=LABEL=root rw"
    memory_mb: 768
    cpus: 1
    accel: auto
testcase:
  - criteria: { name: "$target" }
YAML
    # a defect may add runbook keys (e.g. a vulnerability feed) in $IMG.extra.yml
    [ -f "$img.extra.yml" ] && cat "$img.extra.yml" >> "$name.yml"
    "$KILN" run --runs-dir "runs-$name" "$name.yml" > "$name.out" 2>&1
    r=runs-$name/latest/results.json
    status=$(jq -r ".cases[] | select(.name==\"$target\") | .status" "$r" 2>/dev/null)
    reason=$(jq -r ".cases[] | select(.name==\"$target\") | .reason" "$r" 2>/dev/null)
    rm -f "$img" "$img".*
    case "$status:$reason" in
        failed:*"$expect"*) echo "  caught $name: $target failed: $reason" > "result-$name" ;;
        *) { echo "  MISSED $name: $target is $status: $reason (expected a failure naming '$expect')"
             cat "$name.out"; } > "result-$name" ;;
    esac
}

names=
for script in "$KILN_ROOT"/tests/defects/*.sh; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    case ",${KILN_DEFECTS:-$name}," in *",$name,"*) names="$names $name" ;; esac
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
expect_no_qemu
exit 0
