#!/bin/sh
# kiln build end to end: the example Debian spec → raw, qcow2 and fixed VHD (+ manifest),
# checked by kiln inspect and qemu-img, rebuilt bit-identically, SBOMs and provenance checked
# against the image's own package database; bad specs fail with where and why and leave
# nothing. (demo.sh boots the fixed VHD through OVMF + systemd-boot.)
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
spec=$root/examples/images/debian-server.yml
export SOURCE_DATE_EPOCH=1750000000
base=debian-server-1.0.0

expect_status 0 "$KILN" build --check "$spec"

"$KILN" build "$spec" --out out1 > build1.txt 2>&1 || { cat build1.txt; fail "kiln build failed"; }
cat build1.txt
for s in rootfs customize esp root-fs disk outputs manifest; do expect_in build1.txt "] $s "; done
# through a pipe: a plain line per output file and for the hashing, with bytes and time
for f in qcow2 vhd; do grep -qE "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: wrote $base\.$f \([0-9.]+ [KMG]iB file, [0-9.]+ [KMG]iB read\) in [0-9.]+ s$" build1.txt ||
    fail "no line for the $f written"; done
grep -qE "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: sha256 of 5 files \([0-9.]+ GiB\) in [0-9.]+ s$" build1.txt || fail "no line for the hashing"
! grep -q "$(printf '[\r\033]')" build1.txt || fail "carriage returns or escape sequences in a build's piped output"
for f in raw qcow2 vhd vmlinuz initrd manifest.json spdx.json cdx.json provenance.json; do [ -s "out1/$base.$f" ] || fail "missing out1/$base.$f"; done
[ -z "$(ls -A out1 | grep -v "^$base\.")" ] || fail "stray files in out1: $(ls -A out1)"
# one mode for every output (fresh-user finding: the .initrd of a dracut tree was 0600)
for f in out1/*; do [ "$(stat -c %a "$f")" = 644 ] || fail "$f is mode $(stat -c %a "$f"), the outputs are 0644"; done
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
# not the build host's resolver and name (mmdebstrap copies its /etc/resolv.conf and /etc/hostname
# into the tree; fresh-user finding: nameserver 10.255.255.53, mode 0755, in every image): no
# package here makes a resolv.conf, so there is none; /etc/hostname is os.hostname's
debugfs -R "stat /etc/resolv.conf" rootfs.img 2>&1 | grep -q "File not found" ||
    fail "/etc/resolv.conf is in the image (the build host's?): $(debugfs -R 'cat /etc/resolv.conf' rootfs.img 2>/dev/null)"
[ "$(debugfs -R "cat /etc/hostname" rootfs.img 2>/dev/null)" = kiln-debian ] || fail "/etc/hostname is not os.hostname's kiln-debian"
# the libeatmydata the package installs ran with (rootfs_deb.c: deps.sh installs it) is gone
# again: not in the image, not in its ld.so.cache, not in the initrd (its tools run ldd)
if [ -e /usr/lib/x86_64-linux-gnu/libeatmydata.so.1 ]; then
    ! debugfs -R "ls /usr/lib/x86_64-linux-gnu" rootfs.img 2>/dev/null | grep -q libeatmydata || fail "libeatmydata left in the image"
    ! debugfs -R "cat /etc/ld.so.cache" rootfs.img 2>/dev/null | grep -q libeatmydata || fail "ld.so.cache names libeatmydata"
    if [ -f "out1/$base.initrd" ] && command -v lsinitramfs >/dev/null; then
        ! lsinitramfs "out1/$base.initrd" | grep -q eatmydata || fail "libeatmydata in the initrd"
    fi
fi

# the builds below customize a copy of the cached package tree whose /usr is hard links to the
# cache's files (build_tree.c): the cache must stay as it was, each path's type, mode, owner, size,
# mtime, link target, extended attributes and content
tree=$(sed -n 's/.*(new tree, cached in \([^;]*\);.*/\1/p' build1.txt)
[ -n "$tree" ] || tree=${KILN_CACHE:-$HOME/.cache/kiln}/build/rootfs-$(sed -n 's/.*(cached tree \([0-9a-f]*\);.*/\1/p' build1.txt)
[ -d "$tree/tree/usr" ] || fail "cannot find the cached package tree in build1.txt"
tree_state() {
    (cd "$tree/tree" && find . -printf '%p %y %m %U:%G %s %T@ %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum &&
        if command -v getfattr >/dev/null; then getfattr -R -P -d -m - . 2>/dev/null; fi) > "$1"
}
tree_state tree-before.txt

# same spec, same package tree, same SOURCE_DATE_EPOCH → the same bytes
"$KILN" build "$spec" --out out2 > build2.txt 2>&1 || { cat build2.txt; fail "second build failed"; }
cmp "out1/$base.manifest.json" "out2/$base.manifest.json" || {
    jq .artifacts "out1/$base.manifest.json" > a1.json; jq .artifacts "out2/$base.manifest.json" > a2.json
    diff a1.json a2.json >&2; fail "rebuild differs"; }
note "rebuild: identical sha256 for every artifact"
for f in spdx.json cdx.json; do cmp "out1/$base.$f" "out2/$base.$f" || fail "the rebuilt $f differs"; done
rm -rf out2

# SBOMs: every package the image's dpkg database has (read here with debugfs, not by kiln)
debugfs -R "cat /var/lib/dpkg/status" rootfs.img 2>/dev/null |
    awk '/^Package:/{p=$2} /^Status: install ok installed/{print p}' | sort -u > db-names.txt
[ "$(wc -l < db-names.txt)" -gt 100 ] || fail "cannot read the image's dpkg status"
spdx=out1/$base.spdx.json
jq -r '.packages[1:][].name' "$spdx" | sort -u > spdx-names.txt
diff db-names.txt spdx-names.txt > /dev/null || { diff db-names.txt spdx-names.txt | head; fail "SPDX packages differ from the image's dpkg database"; }
expect_jq "$spdx" .spdxVersion SPDX-2.3
expect_jq "$spdx" '.packages[0].primaryPackagePurpose' OPERATING_SYSTEM
expect_jq "$spdx" '[.packages[].SPDXID | test("^SPDXRef-[A-Za-z0-9.-]+$")] | all' true
expect_jq "$spdx" '[.packages[1:][] | .externalRefs[0].referenceLocator | startswith("pkg:deb/debian/")] | all' true
expect_jq "$spdx" '[.relationships[] | select(.relationshipType=="CONTAINS")] | length' "$(wc -l < db-names.txt)"
expect_jq "$spdx" '.packages[] | select(.name=="openssh-server") | .externalRefs[0].referenceLocator' \
    "pkg:deb/debian/openssh-server@$(jq -r '.packages[] | select(.name=="openssh-server") | .version' "$m" | sed 's/+/%2B/g; s/:/%3A/g')?arch=amd64&distro=debian-12"
cdx=out1/$base.cdx.json
expect_jq "$cdx" '"\(.bomFormat) \(.specVersion) \(.metadata.component.type)"' "CycloneDX 1.5 operating-system"
expect_jq "$cdx" '.components | length' "$(wc -l < db-names.txt)"
# each package's checksum is its .deb's; its declared license comes from its copyright file
# where that file is machine-readable (DEP-5: a Format: line naming copyright-format), and only there
v=$(jq -r '.packages[] | select(.name=="openssh-server") | .version' "$m" | sed 's/:/%3a/g')
d=$(sha256sum "${KILN_CACHE:-$HOME/.cache/kiln}/build/debs/openssh-server_${v}_amd64.deb" | cut -d' ' -f1)
expect_jq "$spdx" '.packages[] | select(.name=="openssh-server") | .checksums[0] | "\(.algorithm) \(.checksumValue)"' "SHA256 $d"
expect_jq "$cdx" '.components[] | select(.name=="openssh-server") | .hashes[0] | "\(.alg) \(.content)"' "SHA-256 $d"
: > dep5-names.txt
while read -r p; do
    debugfs -R "cat /usr/share/doc/$p/copyright" rootfs.img 2>/dev/null | head -n 1 | grep -q '^Format:.*copyright-format' &&
        echo "$p" >> dep5-names.txt
done < db-names.txt
[ "$(wc -l < dep5-names.txt)" -gt 20 ] || fail "only $(wc -l < dep5-names.txt) machine-readable copyright files in the image"
jq -r '.packages[1:][] | select(.licenseDeclared != "NOASSERTION") | .name' "$spdx" | sort -u |
    diff dep5-names.txt - > /dev/null || { diff dep5-names.txt - | head; fail "packages with a declared license are not those with a DEP-5 copyright file"; }
expect_jq "$spdx" '[.hasExtractedLicensingInfos[] | .licenseId | test("^LicenseRef-[A-Za-z0-9.-]+$")] | all' true
expect_jq "$cdx" '[.components[] | select(.licenses) | .name] | length' "$(wc -l < dep5-names.txt)"
# both validate against their formats' JSON schemas
validate() { NODE_PATH=${KILN_VALIDATORS:-/usr/local/lib/kiln-validators}/node_modules node "$root/tests/tools/validate-sbom.js" "$@" ||
    fail "$2 is not valid $1 (validators: scripts/deps.sh)"; }
validate spdx "$spdx"
validate cyclonedx "$cdx"
# kiln sbom reads the same list back out of the qcow2, both formats in one pass
mkdir img && cp "out1/$base.qcow2" img/
"$KILN" sbom "img/$base.qcow2" > sbom.txt 2>&1 || { cat sbom.txt; fail "kiln sbom"; }
expect_in sbom.txt "kiln sbom: img/$base.spdx.json (SPDX 2.3, $(wc -l < db-names.txt) packages from the image's dpkg database)"
expect_in sbom.txt "kiln sbom: img/$base.cdx.json (CycloneDX 1.5, $(wc -l < db-names.txt) packages from the image's dpkg database)"
validate spdx "img/$base.spdx.json"
validate cyclonedx "img/$base.cdx.json"
jq -r '.packages[1:][].name' "img/$base.spdx.json" | sort -u | diff -q db-names.txt - > /dev/null || fail "kiln sbom of the qcow2 differs"
expect_jq "img/$base.spdx.json" '.packages[0].checksums[0].checksumValue' "$(sha256sum "img/$base.qcow2" | cut -d' ' -f1)"
# the same licenses as the build found in its tree
[ "$(jq -c '[.packages[1:][] | [.name, .licenseDeclared]]' "img/$base.spdx.json")" = "$(jq -c '[.packages[1:][] | [.name, .licenseDeclared]]' "$spdx")" ] ||
    fail "kiln sbom of the image declares other licenses than kiln build"
rm -rf img
# provenance: in-toto statement, SLSA v1 predicate, the spec's digest, every artifact a subject
pv=out1/$base.provenance.json
expect_jq "$pv" '"\(._type) \(.predicateType)"' "https://in-toto.io/Statement/v1 https://slsa.dev/provenance/v1"
expect_jq "$pv" .predicate.buildDefinition.externalParameters.spec.digest.sha256 "$(sha256sum "$spec" | cut -d' ' -f1)"
# the build parameters carry the arch, the manifest's
expect_jq "$pv" .predicate.buildDefinition.externalParameters.arch "$(jq -r .arch "out1/$base.manifest.json")"
expect_jq "$pv" .predicate.buildDefinition.externalParameters.arch x86_64 # the spec names none: the default
(cd out1 && jq -r '.subject[] | "\(.digest.sha256)  \(.name)"' "$base.provenance.json" | sha256sum -c --quiet) || fail "provenance subjects do not match the files"
expect_jq "$pv" '[.subject[].name] | index("'"$base"'.qcow2") != null and index("'"$base"'.manifest.json") != null' true
expect_jq "$pv" '.predicate.buildDefinition.resolvedDependencies | length' "$(wc -l < db-names.txt)"
d=$(jq -r '.predicate.buildDefinition.resolvedDependencies[] | select(.name=="openssh-server") | .digest.sha256' "$pv")
ls "${KILN_CACHE:-$HOME/.cache/kiln}"/build/debs/openssh-server_*.deb | xargs sha256sum | grep -q "^$d " || fail "openssh-server's digest is not its .deb's"
# a change to os.* only reuses the cached package tree; a file for /var/run/X (var/run -> /run
# in a Debian tree) lands in the image's /run, not the build host's
cp -r "$root/examples/images/files" files
canary=kiln-canary-$$
echo "in the image" > files/canary
sed 's/hostname: kiln-debian/hostname: kiln-other\n  users: [ { name: kiln-cache-check } ]/' "$spec" |
    sed "s|^  files:|  files:\n    - { src: files/canary, dst: /var/run/$canary, mode: \"0644\" }|" > other.yml
"$KILN" build other.yml --out out5 --format raw > build5.txt 2>&1 || { cat build5.txt; fail "os-only rebuild failed"; }
expect_in build5.txt "(cached tree "
[ ! -e "/run/$canary" ] || { rm -f "/run/$canary"; fail "kiln build wrote /var/run/$canary on the build host's /run"; }
m5=out5/$base.manifest.json
dd if="out5/$base.raw" of=root5.img bs=1M skip=$(($(jq '.partitions[1].offset' "$m5") / 1048576)) \
    count=$(($(jq '.partitions[1].size' "$m5") / 1048576)) status=none
[ "$(debugfs -R "cat /run/$canary" root5.img 2>/dev/null)" = "in the image" ] || fail "/var/run/$canary is not the image's /run/$canary"
rm -rf out5 root5.img
tree_state tree-after.txt
cmp -s tree-before.txt tree-after.txt || { diff tree-before.txt tree-after.txt | head -20; fail "a build changed the cached package tree"; }
note "the cached package tree is as it was after two builds from it (one adds a user)"

# interrupt N STAGE: kiln build into outN, SIGINT once "[k/7] STAGE ..." is printed; it must exit
# 130 and keep nothing in outN; its output is in buildN.txt
interrupt() {
    "$KILN" build "$spec" --out "out$1" > "build$1.txt" 2>&1 & b=$!
    i=0; while ! grep -q "\] $2 \.\.\.$" "build$1.txt" && kill -0 $b 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
    kill -INT $b 2>/dev/null
    st=0; wait $b || st=$?
    [ "$st" = 130 ] || { cat "build$1.txt"; fail "kiln build interrupted in its $2 stage exited $st, not 130"; }
    [ -z "$(ls -A "out$1" 2>/dev/null)" ] || fail "an interrupted build left $(ls -A "out$1")"
    [ ! -e "out$1" ] || fail "an interrupted build left the empty output directory out$1 it made"
}
# interrupted while writing the outputs (made in OUT/.kiln-build-PID, renamed at the end): the
# message names no staging path (it is gone; a new user was sent to it)
interrupt 8 outputs
expect_not_in build8.txt ".kiln-build-"
note "interrupted in the outputs stage: exit 130, nothing kept, $(grep -c interrupted build8.txt) line(s) saying so, no staging path"
# interrupted while mke2fs fills the root filesystem: it says so, and guesses at no other cause
interrupt 9 root-fs
expect_in build9.txt "kiln build: root-fs: interrupted; no output kept in out9"
expect_not_in build9.txt "ran out of space"

# interrupt_at N POINT: kiln build into outN stopped at POINT (KILN_TEST_PAUSE), SIGINT, SIGCONT:
# the build must end there with 130 and keep nothing (a Ctrl-C while the outputs were hashed or
# the manifest made was ignored: the build went on to exit 0 with every output kept)
interrupt_at() {
    KILN_TEST_PAUSE=$2 "$KILN" build "$spec" --out "out$1" > "build$1.txt" 2>&1 & b=$!
    i=0; while [ "$(sed 's/.*) //' /proc/$b/stat 2>/dev/null | cut -d' ' -f1)" != T ] && kill -0 $b 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
    kill -INT $b 2>/dev/null; kill -CONT $b 2>/dev/null
    st=0; wait $b || st=$?
    [ "$st" = 130 ] || { cat "build$1.txt"; fail "kiln build interrupted at $2 exited $st, not 130"; }
    [ ! -e "out$1" ] || fail "a build interrupted at $2 left out$1: $(ls -A "out$1")"
    expect_in "build$1.txt" "interrupted; no output kept in out$1"
    expect_not_in "build$1.txt" "built in"
}
interrupt_at 10 build-hash
interrupt_at 11 build-publish
note "interrupted as the outputs are hashed, and as they are about to be moved into place: exit 130, nothing kept"

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
