#!/bin/sh
# kiln build's rootfs archive: the example Debian spec with output [qcow2, tar] and wsl: true.
# Two builds give the same .tar.zst bytes; GNU tar lists and unpacks it (numeric owners, mtimes
# at most SOURCE_DATE_EPOCH, /etc/wsl.conf as WSL reads it); it is in the manifest and the
# provenance, signs and verifies; kiln inspect reads it and kiln sbom finds the same packages in
# it as in the qcow2; podman imports it. The package tree comes from the rootfs cache image.sh
# fills (same packages, same SOURCE_DATE_EPOCH), so no debootstrap runs when that cache is warm.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000
base=debian-server-1.0.0
cp -r "$root/examples/images/files" files
sed -e 's/^output: .*/output: [qcow2, tar]\nwsl: true/' \
    -e 's/^  hostname: kiln-debian/  hostname: kiln-debian\n  users: [ { name: ops }, { name: dev } ]/' \
    "$root/examples/images/debian-server.yml" > tar.yml
grep -q '^wsl: true' tar.yml && grep -q 'name: ops' tar.yml || fail "could not derive the spec"
expect_status 0 "$KILN" build --check tar.yml

"$KILN" build tar.yml --out out1 > build1.txt 2>&1 || { cat build1.txt; fail "kiln build failed"; }
cat build1.txt
expect_in build1.txt "(qcow2 tar + kernel, initrd)"
a=out1/$base.tar.zst
[ -s "$a" ] || fail "no $a"
m=out1/$base.manifest.json
expect_jq "$m" '[.artifacts[] | select(.kind=="tar") | .file] | join(",")' "$base.tar.zst"
expect_jq "$m" '.artifacts[] | select(.kind=="tar") | .sha256' "$(sha256sum "$a" | cut -d' ' -f1)"
expect_jq "$m" '.artifacts[] | select(.kind=="tar") | .size' "$(stat -c %s "$a")"
expect_jq "out1/$base.provenance.json" ".subject[] | select(.name==\"$base.tar.zst\") | .digest.sha256" \
    "$(sha256sum "$a" | cut -d' ' -f1)"

# a second build of the same spec (the archive alone): the same bytes
# When it says "built in", its work directory in $TMPDIR is gone (kiln used to exit tens of
# seconds after that line, removing it).
{ "$KILN" build tar.yml --out out2 --format tar 2>&1; echo "exit $?"; } | while IFS= read -r l; do
    printf '%s\n' "$l"
    case $l in *" built in "*) ls "$TMPDIR" | grep '^kiln-build-' > at-done.txt;; esac
done > build2.txt
grep -qx 'exit 0' build2.txt || { cat build2.txt; fail "second build failed"; }
expect_in build2.txt " built in "
[ ! -s at-done.txt ] || fail "the work directory $(cat at-done.txt) was still there when the build said it was built"
cmp "$a" "out2/$base.tar.zst" || fail "the rebuilt rootfs archive differs"
note "rebuild: identical $base.tar.zst ($(stat -c %s "$a") bytes)"
rm -rf out2

# GNU tar reads it: pax, numeric owners, mtimes clamped, wsl.conf
tar --zstd -tvf "$a" --numeric-owner --utc --full-time > list.txt 2> tar-err.txt || fail "tar --zstd -tf cannot list $a"
[ ! -s tar-err.txt ] || { head tar-err.txt >&2; fail "GNU tar warns about the archive"; }
n=$(wc -l < list.txt); [ "$n" -gt 5000 ] || fail "the archive lists $n entries"
head -n 1 list.txt | grep -q ' \./$' || fail "the first entry is not ./: $(head -n 1 list.txt)"
grep -q ' 0/42 .* \./etc/shadow$' list.txt || fail "/etc/shadow is not 0/42 (root:shadow by number): $(grep etc/shadow list.txt)"
grep -q '^d.* 1000/1000 .* \./home/ops/$' list.txt || fail "/home/ops is not 1000/1000: $(grep home/ops list.txt)"
latest=$(awk '{print $4 " " $5}' list.txt | sort | tail -n 1)
[ "$latest" \< "2025-06-15 15:06:41" ] || fail "an mtime is after SOURCE_DATE_EPOCH (2025-06-15 15:06:40): $latest"
tar --zstd -xOf "$a" ./etc/wsl.conf > wsl.conf || fail "no ./etc/wsl.conf in the archive"
printf '# made by kiln build (wsl: true)\n[boot]\nsystemd=true\n\n[user]\ndefault=ops\n' > want.conf
cmp wsl.conf want.conf || { diff want.conf wsl.conf >&2; fail "wsl.conf differs"; }
grep -q ' 0/0 .* \./etc/wsl.conf$' list.txt || fail "wsl.conf is not root's"
tar --zstd -xOf "$a" ./etc/fstab > fstab || fail "no ./etc/fstab"
! grep -q PARTUUID fstab || fail "the WSL archive's fstab mounts the disk's partitions: $(cat fstab)"
tar --zstd -xOf "$a" ./etc/passwd | grep -q '^dev:' || fail "the second user is not in the archive's /etc/passwd"

# signed like every other output
"$KILN" keygen --out key --no-passphrase > /dev/null 2>&1 || fail "kiln keygen"
expect_status 0 "$KILN" sign -k key.key "$a"
expect_status 0 "$KILN" verify -p key.pub "$a"

# kiln inspect and kiln sbom read it
"$KILN" inspect "$a" > inspect.txt || fail "kiln inspect failed on $a"
cat inspect.txt
expect_in inspect.txt "root filesystem archive (tar, compression zstd), $n entries"
expect_in inspect.txt "WSL: /etc/wsl.conf present"
expect_in inspect.txt "os-release: Debian GNU/Linux 12 (bookworm)"
"$KILN" sbom "$a" -o tar.spdx.json > sbom1.txt 2>&1 || { cat sbom1.txt; fail "kiln sbom on the archive"; }
"$KILN" sbom "out1/$base.qcow2" -o disk.spdx.json > sbom2.txt 2>&1 || { cat sbom2.txt; fail "kiln sbom on the qcow2"; }
jq -r '.packages[1:][] | "\(.name) \(.versionInfo)"' tar.spdx.json | sort > tar-pkgs.txt
jq -r '.packages[1:][] | "\(.name) \(.versionInfo)"' disk.spdx.json | sort > disk-pkgs.txt
[ "$(wc -l < tar-pkgs.txt)" -gt 100 ] || fail "kiln sbom lists $(wc -l < tar-pkgs.txt) packages in the archive"
diff disk-pkgs.txt tar-pkgs.txt > /dev/null || { diff disk-pkgs.txt tar-pkgs.txt | head; fail "the archive's packages differ from the disk's"; }
jq -r '.packages[1:][] | "\(.name) \(.versionInfo)"' "out1/$base.spdx.json" | sort | diff -q tar-pkgs.txt - > /dev/null ||
    fail "the build's SPDX document does not list the archive's packages"
expect_jq tar.spdx.json '.packages[0].name' debian-server
expect_jq tar.spdx.json '.packages[0].checksums[0].checksumValue' "$(sha256sum "$a" | cut -d' ' -f1)"
note "kiln sbom: $(wc -l < tar-pkgs.txt) packages, the same in the archive and the qcow2"
# the README's kiln inspect and kiln sbom examples, as written, on this build's outputs (out/ is
# out1/ here): a fresh user's `kiln sbom out/NAME.tar.zst` failed on the SBOMs the build wrote
grep -E '^kiln (inspect|sbom) out/' "$root/README.md" | sed -e 's/ *# .*//' -e 's|out/|out1/|g' > readme.txt
[ "$(wc -l < readme.txt)" -eq 5 ] || { cat readme.txt; fail "the README's inspect/sbom examples changed: $(wc -l < readme.txt) lines"; }
while read -r line; do
    eval "\"\$KILN\" ${line#kiln }" > readme-out.txt 2>&1 || { cat readme-out.txt; fail "the README's \`$line\` failed"; }
done < readme.txt
expect_jq image.cdx.json .bomFormat CycloneDX
expect_jq rootfs.spdx.json '.packages[1:] | length' "$(wc -l < tar-pkgs.txt)"
expect_jq sbom.spdx.json '.packages[1:] | length' "$(wc -l < tar-pkgs.txt)"
expect_status 1 "$KILN" convert "$a" x.raw
expect_in "$T/err" "is a root filesystem archive (tar), not a disk image"

# podman imports it as an image (storage in the test's directory; nothing is pulled or run)
command -v podman > /dev/null || fail "podman is not installed (scripts/deps.sh installs it)"
pm="podman --root $T/pm/root --runroot $T/pm/run --storage-driver vfs"
$pm import "$a" localhost/kiln-rootfs:1 > import.txt 2>&1 || { cat import.txt; fail "podman import"; }
$pm image inspect --format '{{.Os}} {{len .RootFS.Layers}}' localhost/kiln-rootfs:1 > pinfo.txt || fail "podman image inspect"
expect_in pinfo.txt "linux 1"
note "podman import: $(cat pinfo.txt)"
$pm rmi -a > /dev/null 2>&1

# wsl: true needs the tar output
sed 's/^output: .*/output: [qcow2]/' tar.yml > notar.yml
expect_status 2 "$KILN" build --check notar.yml
expect_in "$T/err" "notar.yml:31:6: wsl: wsl: true applies to the rootfs archive only"

# a rootfs archive alone needs no kernel (fresh-user finding: output [tar] without
# linux-image-amd64 passed --check, then failed in customize: "the image has no kernel in
# /boot"): built, with no .vmlinuz or .initrd, the manifest's kernel null. Its own package tree
# (no kernel, no initramfs-tools), in a cache of the test's own with the shared .debs.
shared=${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
mkdir -p "$T/kcache/build" "$shared/build/debs" && ln -s "$shared/build/debs" "$T/kcache/build/debs"
sed -e 's/^output: .*/output: [tar]/' -e 's/ linux-image-amd64, initramfs-tools,//' \
    "$root/examples/images/debian-server.yml" > nokernel.yml
! grep -q 'linux-image' nokernel.yml || fail "could not derive the kernel-less spec"
expect_status 0 "$KILN" build --check nokernel.yml
KILN_CACHE=$T/kcache "$KILN" build nokernel.yml --out out-nk > build-nk.txt 2>&1 || { cat build-nk.txt; fail "the kernel-less tar build failed"; }
expect_in build-nk.txt "(tar, no kernel)"
[ -s "out-nk/$base.tar.zst" ] || fail "no out-nk/$base.tar.zst"
[ ! -e "out-nk/$base.vmlinuz" ] && [ ! -e "out-nk/$base.initrd" ] || fail "a kernel or initrd output without a kernel: $(ls out-nk)"
expect_jq "out-nk/$base.manifest.json" .kernel null
note "output [tar] without a kernel: built ($(ls out-nk | wc -l) files)"
exit 0
