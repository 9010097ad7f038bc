#!/bin/sh
# Every built-in check is worth the bugs it catches: each tests/defects/<name>.sh breaks a
# copy of the clean Debian image in one way (editing ext4 with debugfs, no mounts); kiln
# must fail the targeted case with a reason naming the evidence. KILN_DEFECTS=a,b limits.
. "$(dirname "$0")/lib.sh"
clean=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
failures=
for script in "$KILN_ROOT"/tests/defects/*.sh; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    case ",${KILN_DEFECTS:-$name}," in *",$name,"*) ;; *) continue ;; esac
    target=$(sed -n 's/^# case: //p' "$script")
    expect=$(sed -n 's/^# expect: //p' "$script")
    img=$T/$name.raw
    qemu-img convert -O raw "$clean/disk.qcow2" "$img"
    IMG=$img sh "$script" || fail "$name: could not apply the defect"
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
        failed:*"$expect"*) echo "  caught $name: $target failed: $reason" ;;
        *) echo "  MISSED $name: $target is $status: $reason (expected a failure naming '$expect')"
           cat "$name.out"; failures="$failures $name" ;;
    esac
done
[ -z "$failures" ] || fail "defects not caught:$failures"
expect_no_qemu
exit 0
