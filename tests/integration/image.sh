#!/bin/sh
# kiln build end to end: the example Debian spec → raw, qcow2 and fixed VHD (+ manifest),
# checked by kiln inspect and qemu-img, rebuilt bit-identically, the VHD booted through
# OVMF + systemd-boot and passing tier 0; bad specs fail with where and why and leave nothing.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
spec=$root/examples/images/debian-server.yml
export SOURCE_DATE_EPOCH=1750000000
base=debian-server-1.0.0

expect_status 0 "$KILN" build --check "$spec"

"$KILN" build "$spec" --out out1 > build1.txt 2>&1 || { cat build1.txt; fail "kiln build failed"; }
cat build1.txt
for s in rootfs customize esp root-fs disk outputs manifest; do expect_in build1.txt "] $s "; done
for f in raw qcow2 vhd vmlinuz initrd manifest.json; do [ -s "out1/$base.$f" ] || fail "missing out1/$base.$f"; done
[ -z "$(ls -A out1 | grep -v "^$base\.")" ] || fail "stray files in out1: $(ls -A out1)"
m=out1/$base.manifest.json
expect_jq "$m" .name debian-server
expect_jq "$m" .os_release.ID debian
expect_jq "$m" '.partitions | map(.type) | join(",")' esp,root-x86-64
expect_jq "$m" '[.packages[] | select(.name=="openssh-server")] | length' 1
expect_jq "$m" "[.packages[] | select(.name==\"linux-image-$(jq -r .kernel.version "$m")\")] | length" 1
n=$(jq '.packages | length' "$m"); [ "$n" -gt 100 ] || fail "manifest lists $n packages"
# every artifact's size and sha256 are what the manifest says
jq -r '.artifacts[] | "\(.sha256)  out1/\(.file)"' "$m" | sha256sum -c --quiet || fail "artifact digests differ from the manifest"

# what is inside, read back by kiln and by qemu-img
"$KILN" inspect "out1/$base.vhd" > inspect.txt || fail "kiln inspect failed"
cat inspect.txt
expect_in inspect.txt "vhd-fixed, virtual size 2.0 GiB (2147483648 bytes)"
expect_in inspect.txt "os-release: Debian GNU/Linux 12 (bookworm)"
expect_in inspect.txt "ext4 uuid="
expect_in inspect.txt "vfat (FAT32)"
qemu-img check -q "out1/$base.qcow2" || fail "qemu-img check rejects the qcow2"
[ "$(qemu-img info -f vpc --output=json "out1/$base.vhd" | jq '."virtual-size"')" = 2147483648 ] || fail "qemu-img reads another VHD size"
qemu-img compare -q -f raw -F vpc "out1/$base.raw" "out1/$base.vhd" || fail "VHD content differs from raw"
qemu-img compare -q -f raw -F qcow2 "out1/$base.raw" "out1/$base.qcow2" || fail "qcow2 content differs from raw"
# the root filesystem is consistent and generalized
off=$(jq '.partitions[1].offset' "$m")
dd if="out1/$base.raw" of=rootfs.img bs=1M skip=$((off / 1048576)) count=$(( $(jq '.partitions[1].size' "$m") / 1048576 )) status=none
e2fsck -fn rootfs.img > fsck.txt 2>&1 || { cat fsck.txt; fail "e2fsck finds errors in the root filesystem"; }
debugfs -R "ls -l /etc/ssh" rootfs.img 2>/dev/null > ssh.txt
! grep -q ssh_host_ ssh.txt || fail "SSH host keys baked into the image"
[ "$(debugfs -R "stat /etc/machine-id" rootfs.img 2>/dev/null | sed -n 's/.*Size: \([0-9]*\).*/\1/p' | head -1)" = 0 ] || fail "machine-id not empty"
debugfs -R "cat /etc/fstab" rootfs.img 2>/dev/null | grep -q "^PARTUUID=" || fail "fstab does not mount by PARTUUID"

# same spec, same package tree, same SOURCE_DATE_EPOCH → the same bytes
"$KILN" build "$spec" --out out2 > build2.txt 2>&1 || { cat build2.txt; fail "second build failed"; }
cmp "out1/$base.manifest.json" "out2/$base.manifest.json" || {
    jq .artifacts "out1/$base.manifest.json" > a1.json; jq .artifacts "out2/$base.manifest.json" > a2.json
    diff a1.json a2.json >&2; fail "rebuild differs"; }
note "rebuild: identical sha256 for every artifact"
rm -rf out2
# a change to os.* only reuses the cached package tree
cp -r "$root/examples/images/files" files
sed 's/hostname: kiln-debian/hostname: kiln-other/' "$spec" > other.yml
"$KILN" build other.yml --out out5 --format raw > build5.txt 2>&1 || { cat build5.txt; fail "os-only rebuild failed"; }
expect_in build5.txt "(cached tree "
rm -rf out5

# the fixed VHD boots through OVMF + systemd-boot (no direct kernel) and passes tier 0
"$KILN" run --runs-dir runs -v image="$T/out1/$base.vhd" "$root/examples/images/validate.yml" > run.txt 2>&1
rc=$?
cat run.txt
[ "$rc" -eq 0 ] || fail "tier 0 on the built image failed"
expect_jq runs/latest/results.json .summary.failed 0
expect_in runs/latest/nodes/node0/qemu-cmdline.txt "if=pflash"
expect_not_in runs/latest/nodes/node0/qemu-cmdline.txt "-kernel"
expect_in runs/latest/nodes/node0/console.log "Debian GNU/Linux 12"

# bad input: where, why, and nothing left at the output path
sed 's/size: 2G/size: 400M/' "$spec" > small.yml
expect_status 1 "$KILN" build small.yml --out out3
expect_in "$T/err" "storage.size 400M is too small"
expect_in "$T/err" "set storage.size to at least"
[ -z "$(ls -A out3 2>/dev/null | grep -v '\.build\.log$')" ] || fail "a failed build left files: $(ls -A out3)"
sed 's/install: \[systemd-sysv,/install: [kiln-no-such-package, systemd-sysv,/' "$spec" > unknown.yml
expect_status 1 "$KILN" build unknown.yml --out out4
expect_in "$T/err" "kiln-no-such-package"
expect_in "$T/err" "kiln build: rootfs:"
[ -z "$(ls -A out4 2>/dev/null | grep -v '\.build\.log$')" ] || fail "a failed build left files: $(ls -A out4)"
printf 'name: x\nversion: 1\nbase: { family: deb, suite: bookworm }\npackages: { install: [a b] }\n' > bad.yml
expect_status 2 "$KILN" build bad.yml
expect_in "$T/err" "bad.yml:4:"
expect_no_qemu
exit 0
