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

# the update payload (docs/updates.md): slot A's /usr image and hash tree, the kernel and initrd,
# tied together by update.json, whose root hash is the one on the kernel command line
u=dist/$base.update.json
expect_jq "$u" '[.format, .name, .version, .verity.root_hash] | @tsv' "$(printf 'kiln-update/1\tdebian-immutable\t1.0.0\t%s' "$hash")"
cmdhash=$(jqv "$m" .kernel.cmdline | tr ' ' '\n' | sed -n 's/^usrhash=//p')
[ "$cmdhash" = "$(jqv "$u" .verity.root_hash)" ] || fail "update.json's root hash is not the kernel command line's usrhash ($cmdhash)"
for k in usr verity kernel initrd; do
    f=dist/$(jqv "$u" ".$k.file")
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(jqv "$u" ".$k.sha256")" ] || fail "$f does not have the sha256 update.json gives"
    [ "$(stat -c %s "$f")" = "$(jqv "$u" ".$k.size")" ] || fail "$f does not have the size update.json gives"
done
# one mode for every output (fresh-user finding: .initrd, dracut's, and .usr.verity were 0600)
for f in dist/*; do [ "$(stat -c %a "$f")" = 644 ] || fail "$f is mode $(stat -c %a "$f"), the outputs are 0644"; done
expect_jq "$m" '[.artifacts[] | select(.kind == "usr" or .kind == "usr-verity" or .kind == "update") | .file] | sort | join(",")' \
    "$base.update.json,$base.usr.img,$base.usr.verity"
veritysetup verify "dist/$base.usr.img" "dist/$base.usr.verity" "$hash" || fail "veritysetup verify rejects the payload's /usr"
# slot A on the disk holds exactly the payload's image (the partition is larger: zeros after it)
n=$(stat -c %s "dist/$base.usr.img")
dd if="dist/$base.raw" bs=1M skip=$(( $(jqv "$m" '.partitions[1].offset') / 1048576 )) \
    status=none | cmp -s -n "$n" "dist/$base.usr.img" - || fail "slot A differs from the payload's /usr image"
# the version is in /usr's os-release (IMAGE_VERSION), which the updater reports
expect_jq "$m" '.os_release.IMAGE_VERSION' 1.0.0
# signed like every artifact, carried by kiln publish, pulled back verified
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
"$KILN" sign -k k.key dist/$base.* > /dev/null || fail "kiln sign"
mkdir run; jq -n --arg r "$(sha256sum "dist/$base.raw" | cut -d' ' -f1)" --arg f "dist/$base.raw" '{schema: "kiln.results/v1",
    run: {id: "r", name: "fake", tested: [{role: "image", path: $f, sha256: $r}]}, summary: {passed: 1, failed: 0}, cases: []}' > run/results.json
"$KILN" gallery init --gallery G --trust k.pub -k k.key --require-priority -1 > /dev/null || fail "gallery init"
"$KILN" publish "dist/$base" --gallery G --channel stable --run run -k k.key > pub.txt 2>&1 || { cat pub.txt; fail "publish"; }
for k in update usr usr-verity; do
    "$KILN" gallery pull debian-immutable@1.0.0 --gallery G --artifact "$k" --out "pulled-$k" > pull.txt 2>&1 || { cat pull.txt; fail "pull $k"; }
done
cmp pulled-update/$base.update.json "$u" || fail "the gallery's update.json differs"
cmp pulled-usr/$base.usr.img "dist/$base.usr.img" || fail "the gallery's /usr image differs"
! command -v minisign > /dev/null || minisign -Vm "G/images/debian-immutable/1.0.0/$base.update.json" -p k.pub > /dev/null 2>&1 || fail "minisign rejects the gallery's update.json"
# a payload changed in the gallery is refused on pull
printf 'X' | dd of="G/images/debian-immutable/1.0.0/$base.usr.img" bs=1 seek=70000 conv=notrunc status=none
expect_status 1 "$KILN" gallery pull debian-immutable@1.0.0 --gallery G --artifact usr --out pulled-bad
[ ! -e "pulled-bad/$base.usr.img" ] || fail "a tampered /usr image was pulled"
rm -rf G pulled-* dist/$base.usr.img dist/$base.usr.verity

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
