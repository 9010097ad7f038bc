#!/bin/sh
# kiln build's rpm path: a signed local repository (rpmbuild + rpmsign + createrepo_c, built
# here), `dnf --installroot` with signature checks, the packages in the manifest; a repository
# signed by another key is refused.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
for t in rpmbuild rpmsign createrepo_c dnf gpg; do
    command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
export KILN_CACHE=$T/cache   # a fresh package tree every time: this test is about the rpm path
export SOURCE_DATE_EPOCH=1750000000
sh "$root/tests/images/rpmrepo.sh" rpm "$KILN_BUSYBOX" || fail "cannot build the test RPM repository"
cat > rpm.yml <<YAML
name: rpm-test
version: 0.1.0
base:
  family: rpm
  releasever: "1"
  repos:
    - { name: kiln-test, baseurl: rpm/repo, gpgkey: rpm/RPM-GPG-KEY-kiln-test }
packages: { install: [kiln-release, kiln-busybox, kiln-kernel] }
os: { hostname: rpm-box }
storage: { size: 512M }
output: [raw, qcow2]
YAML
"$KILN" build rpm.yml --out dist > build.txt 2>&1 || { cat build.txt; fail "rpm build failed"; }
cat build.txt
# through a pipe: a plain line per phase of dnf and per output file, no carriage return or escape
cr=$(printf '\r') esc=$(printf '\033')
expect_re() { grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "$1: no line matches $2"; }; }
! grep -q "[$cr$esc]" build.txt || fail "carriage returns or escape sequences in a build's piped output"
for re in "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: reading the repositories$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: resolving dependencies$" \
          "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: checking the transaction$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: installing 5 packages$" \
          "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: verifying 5 packages$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: copying the package tree$" \
          "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: wrote rpm-test-0.1.0.qcow2 \([0-9.]+ [KMG]?i?B file, [0-9.]+ [KMG]?i?B read\) in [0-9.]+ s$" \
          "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: moved rpm-test-0.1.0.raw \(512.0 MiB\) in [0-9.]+ s$" \
          "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: sha256 of 4 files \([0-9.]+ [KMG]iB\) in [0-9.]+ s$"; do
    expect_re build.txt "$re"
done
m=dist/rpm-test-0.1.0.manifest.json
expect_jq "$m" .family rpm
expect_jq "$m" .os_release.ID kiln-rpm
expect_jq "$m" '.packages | map(.name) | join(",")' kiln-busybox,kiln-filesystem,kiln-kernel,kiln-libs,kiln-release
expect_jq "$m" '.packages[] | select(.name=="kiln-busybox") | "\(.version) \(.arch) \(.source)"' "1.0-1.kiln x86_64 kiln-busybox"
expect_jq "$m" .kernel.version "$(cat "$KILN_BUSYBOX/kernel-version")"
# the repository snapshot the tree was built from: repomd.xml's digest, revision and newest timestamp
md=rpm/repo/repodata/repomd.xml
expect_jq "$m" '.repositories | length' 1
expect_jq "$m" '.repositories[0] | "\(.url) \(.file) \(.revision)"' \
    "file://$(cd rpm/repo && pwd -P) repodata/repomd.xml $(sed -n 's|.*<revision>\(.*\)</revision>.*|\1|p' "$md")"
expect_jq "$m" '.repositories[0].sha256' "$(sha256sum "$md" | cut -d' ' -f1)"
newest=$(sed -n 's|.*<timestamp>\([0-9]*\)</timestamp>.*|\1|p' "$md" | sort -n | tail -n 1)
expect_jq "$m" '.repositories[0].date' "$(date -u -d "@$newest" +%Y-%m-%dT%H:%M:%SZ)"
"$KILN" inspect dist/rpm-test-0.1.0.qcow2 > inspect.txt || fail "inspect failed"
expect_in inspect.txt "os-release: kiln rpm test 1"
qemu-img check -q dist/rpm-test-0.1.0.qcow2 || fail "qemu-img check rejects the qcow2"

# the SBOM read back from the image's own rpm database (where Fedora keeps it), and the
# provenance naming every package with the digest of the .rpm it came from
"$KILN" sbom dist/rpm-test-0.1.0.qcow2 -o from-image.spdx.json > sbom.txt 2>&1 || { cat sbom.txt; fail "kiln sbom"; }
expect_in sbom.txt "5 packages from the image's rpm database"
expect_jq from-image.spdx.json '[.packages[].externalRefs[]?.referenceLocator] | sort | join(" ")' \
    "pkg:rpm/kiln-rpm/kiln-busybox@1.0-1.kiln?arch=x86_64&distro=kiln-rpm-1 pkg:rpm/kiln-rpm/kiln-filesystem@1.0-1.kiln?arch=noarch&distro=kiln-rpm-1 pkg:rpm/kiln-rpm/kiln-kernel@1.0-1.kiln?arch=x86_64&distro=kiln-rpm-1 pkg:rpm/kiln-rpm/kiln-libs@1.0-1.kiln?arch=x86_64&distro=kiln-rpm-1 pkg:rpm/kiln-rpm/kiln-release@1.0-1.kiln?arch=noarch&distro=kiln-rpm-1"
expect_jq from-image.spdx.json '.packages[0].checksums[0].checksumValue' "$(sha256sum dist/rpm-test-0.1.0.qcow2 | cut -d' ' -f1)"
p=dist/rpm-test-0.1.0.provenance.json
for f in $(find "$KILN_CACHE" -name '*.rpm' | sort); do
    n=$(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null)
    expect_jq "$p" ".predicate.buildDefinition.resolvedDependencies[] | select(.name==\"$n\") | .digest.sha256" "$(sha256sum "$f" | cut -d' ' -f1)"
done

# reproducible across caches: the same spec built from a cold cache elsewhere (another cache
# path, work dir, pid and time) gives the same disk, byte for byte. dnf's history.sqlite keeps
# its transactions' times and command line (--installroot, --config) and sqlite's -shm/-wal
# files kept process memory: rootfs_rpm settles both. The provenance's run times differ by design.
KILN_CACHE=$T/cache-other-place "$KILN" build rpm.yml --out dist5 > build5.txt 2>&1 || { cat build5.txt; fail "second rpm build failed"; }
expect_in build5.txt "(new tree, cached in "
for f in raw qcow2 manifest.json spdx.json cdx.json; do
    cmp "dist/rpm-test-0.1.0.$f" "dist5/rpm-test-0.1.0.$f" || fail "rpm-test-0.1.0.$f differs between two builds with different KILN_CACHE"
done
jq -S 'del(.predicate.runDetails.metadata)' dist/rpm-test-0.1.0.provenance.json > prov1.json
jq -S 'del(.predicate.runDetails.metadata)' dist5/rpm-test-0.1.0.provenance.json > prov5.json
cmp prov1.json prov5.json || { diff prov1.json prov5.json; fail "the provenance differs beyond its run's times"; }
off=$(jq -r '.partitions[1].offset' "$m")
dd if=dist/rpm-test-0.1.0.raw of=root.img bs=1M skip=$((off / 1048576)) status=none
debugfs -R "ls -l /var/lib/dnf" root.img > dnf-ls.txt 2>/dev/null
expect_in dnf-ls.txt "history.sqlite"
expect_not_in dnf-ls.txt "history.sqlite-wal"
debugfs -R "dump /var/lib/dnf/history.sqlite history.sqlite" root.img 2>/dev/null
[ "$(sqlite3 history.sqlite 'select dt_begin, dt_end, cmdline from trans')" = \
  "1750000000|1750000000|-y --releasever=1 --nodocs --forcearch=x86_64 --refresh install kiln-release kiln-busybox kiln-kernel" ] ||
    fail "history.sqlite's transaction is not at the epoch without the build's paths: $(sqlite3 history.sqlite 'select * from trans')"
rm -rf dist5 root.img history.sqlite
note "two builds with different caches: the same raw, qcow2, manifest and SBOMs"

# the repository unchanged: the cached tree; re-indexed with a new revision: a new tree
"$KILN" build rpm.yml --out dist3 > build3.txt 2>&1 || { cat build3.txt; fail "rpm rebuild failed"; }
expect_in build3.txt "(cached tree "
createrepo_c --quiet --revision kiln-2 rpm/repo || fail "createrepo_c"
# on a terminal (script(1)): one live line with dnf's phase and package, rewritten in place
command -v script > /dev/null || fail "script (util-linux) is not installed"
TERM=xterm script -qec "stty cols 160; \"$KILN\" build rpm.yml --out dist4" /dev/null > build4.txt 2>&1 < /dev/null ||
    { cat build4.txt; fail "rpm build after the repository changed failed"; }
expect_in build4.txt "(new tree, cached in "
tr '\r' '\n' < build4.txt | sed "s/^$esc\[K//" > live4.txt
for re in "^kiln build: \[1/7\] rootfs [0-9]+ s: reading the repositories" "^kiln build: \[1/7\] rootfs [0-9]+ s: installing 5 packages" \
          "^kiln build: \[1/7\] rootfs [0-9]+ s: verifying 5 packages" "^kiln build: \[6/7\] outputs [0-9]+ s: writing rpm-test-0.1.0.qcow2" \
          "^kiln build: \[1/7\] rootfs +[0-9.]+ s  \(new tree"; do
    expect_re live4.txt "$re"
done
grep -q "$cr$esc\[K" build4.txt || fail "no live line on the terminal"
expect_not_in build4.txt "kiln build: rootfs: " # the phases are the live line's, not lines of their own
expect_jq dist4/rpm-test-0.1.0.manifest.json '.repositories[0].revision' kiln-2
rm -rf dist3 dist4

# the same repository checked against a key that did not sign it: refused, nothing written
gpg --no-default-keyring --keyring /usr/share/keyrings/debian-archive-keyring.gpg --export --armor > wrong.key 2>/dev/null
[ -s wrong.key ] || { echo "no Debian archive keyring to use as the wrong key"; exit 77; }
sed 's|gpgkey: rpm/RPM-GPG-KEY-kiln-test|gpgkey: wrong.key|' rpm.yml > wrong.yml
expect_status 1 "$KILN" build wrong.yml --out dist2
grep -qiE "gpg|signature|public key" "$T/err" || { cat "$T/err"; fail "the refusal does not name the signature check"; }
[ -z "$(ls -A dist2 2>/dev/null | grep -v '\.build\.log$')" ] || fail "a refused build left files: $(ls -A dist2)"
exit 0
