#!/bin/sh
# kiln build's immutable layout: /usr as erofs in slot A under dm-verity (root hash on the
# kernel command line), an empty slot B of the same size, writable root. The hash tree checks
# out with veritysetup; a byte flipped in /usr's data makes the guest's read fail (the VM boots
# through OVMF + systemd-boot + a dracut systemd initrd that sets up the verity device).
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000
base=debian-immutable-1.0.0
cp -r "$root/examples/images/files" files
i=0; : > canary; while [ $i -lt 400 ]; do echo "kiln-verity-canary-$i" >> canary; i=$((i + 1)); done
sed "s|^  files:|  files:\n    - { src: canary, dst: /usr/share/kiln/canary, mode: \"0644\" }|" \
    "$root/examples/images/debian-immutable.yml" > spec.yml
"$KILN" build spec.yml --out dist --format raw > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
expect_in build.txt "] usr "
m=dist/$base.manifest.json
expect_jq "$m" .layout immutable
hash=$(jqv "$m" .verity_root_hash)
[ ${#hash} -eq 64 ] || fail "no verity root hash in the manifest: $hash"
expect_jq "$m" '.partitions | map(.name) | join(",")' esp,usr-a,usr-a-verity,usr-b,usr-b-verity,root-x86-64
expect_jq "$m" '(.partitions[1].size == .partitions[3].size) and (.partitions[2].size == .partitions[4].size)' true
expect_jq "$m" '.partitions[1].filesystem.type' erofs
expect_jq "$m" ".kernel.cmdline | contains(\"usrhash=$hash\")" true
# slot A's partition UUIDs carry the root hash (Discoverable Partitions convention)
expect_jq "$m" '.partitions[1].uuid | ascii_downcase | gsub("-"; "")' "$(echo "$hash" | cut -c1-32)"

# kiln inspect reads the OS from the read-only /usr (erofs)
"$KILN" inspect "dist/$base.raw" > inspect.txt || fail "inspect failed"
expect_in inspect.txt "usr-x86-64-verity"
expect_in inspect.txt "os-release: Debian GNU/Linux 12 (bookworm)"

# the hash tree matches the data, and stops matching when one byte changes
part() { dd if="dist/$base.raw" of="$2" bs=1M skip=$(( $(jqv "$m" ".partitions[$1].offset") / 1048576 )) \
            count=$(( $(jqv "$m" ".partitions[$1].size") / 1048576 )) status=none; }
part 1 usr.img; part 2 usr.verity
veritysetup verify usr.img usr.verity "$hash" || fail "veritysetup verify rejects the untouched /usr"
off=$(grep -obUaF "kiln-verity-canary-200" "dist/$base.raw" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || fail "canary not found in the image"
printf 'X' | dd of="dist/$base.raw" bs=1 seek="$off" conv=notrunc status=none
part 1 usr.img
! veritysetup verify usr.img usr.verity "$hash" 2>/dev/null || fail "veritysetup accepts /usr with a flipped byte"
rm -f usr.img usr.verity

# boot the tampered image: /usr comes from the verity device, reading the changed file fails
cat > run.yml <<YAML
name: immutable
extension: [ $root/tests/data/ext/verity ]
platform:
  type: qemu
  admin_username: root
  qemu: { image: $T/dist/$base.raw, firmware: uefi, memory_mb: 1024, cpus: 2, accel: auto, boot_timeout_s: 400 }
testcase:
  - criteria: { name: "ext\\\\.verity\\\\..*" }
YAML
"$KILN" run --runs-dir runs run.yml > run.txt 2>&1
rc=$?
cat run.txt
[ "$rc" -eq 0 ] || fail "the verity case failed on the tampered image"
expect_jq runs/latest/results.json '.cases[] | select(.name=="ext.verity.tamper") | .status' passed
expect_in runs/latest/cases/ext.verity.tamper/log.txt "Input/output error"
expect_in runs/latest/nodes/node0/console.log "device-mapper: verity"
expect_no_qemu
exit 0
