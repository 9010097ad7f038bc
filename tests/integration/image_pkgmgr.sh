#!/bin/sh
# packages.package_manager: remove. The example Debian spec with the key, built as a rootfs
# archive (no VM): the archive has none of apt's or dpkg's commands in a PATH directory (but
# dpkg's start-stop-daemon), still has the package database, the marker listing what went and
# apt's timers masked; the manifest records the removal; kiln sbom of the archive still lists
# apt and dpkg. The package tree comes from the rootfs cache image.sh fills (same packages, same
# SOURCE_DATE_EPOCH), so no debootstrap runs when that cache is warm.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000
base=debian-server-1.0.0
cp -r "$root/examples/images/files" files
sed -e 's/^output: .*/output: [tar]/' -e 's/^packages:$/packages:\n  package_manager: remove/' \
    "$root/examples/images/debian-server.yml" > pm.yml
grep -q '^  package_manager: remove' pm.yml || fail "could not derive the spec"
expect_status 0 "$KILN" build --check pm.yml

# An --out that a file stands in (or under) fails before any stage runs, naming it, and the
# file is kept. (This test's own build once went to "out", which expect_status had just made a
# file of: every stage ran, then the archive failed "cannot create a file beside
# out/.kiln-build-N/...: Not a directory".)
printf 'keep\n' > notadir
for o in notadir notadir/sub; do
    expect_status 2 "$KILN" build pm.yml --out "$o"
    expect_in "$T/err" "kiln build: setup: cannot create the output directory $o: Not a directory (a file stands at that path"
    expect_not_in "$T/err" "rootfs"
done
[ "$(cat notadir)" = keep ] || fail "the file at --out was changed"

# output: [tar] alone: no disk format is written
"$KILN" build pm.yml --out dist > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
expect_in build.txt "packages.package_manager: removed "
expect_in build.txt "(tar + kernel, initrd)"
a=dist/$base.tar.zst
tar --zstd -tf "$a" > list.txt || fail "tar cannot list $a"
for c in apt apt-get apt-cache apt-mark apt-config apt-key dpkg dpkg-query dpkg-deb dpkg-divert dpkg-trigger \
         dpkg-split dpkg-statoverride update-alternatives; do
    if grep -Eq "^\./(usr/)?(s)?bin/$c\$" list.txt; then fail "$c is still in the image"; fi
done
grep -q '^\./usr/sbin/start-stop-daemon$' list.txt || fail "start-stop-daemon was removed"
grep -q '^\./var/lib/dpkg/status$' list.txt || fail "the dpkg database is gone"
grep -q '^\./usr/lib/apt/methods/http$' list.txt || fail "apt's library files were removed (only PATH commands go)"
mkdir x && tar --zstd -xf "$a" -C x ./usr/lib/kiln/package-manager-removed ./etc/systemd/system/apt-daily.timer \
    ./etc/systemd/system/apt-daily-upgrade.timer ./etc/systemd/system/dpkg-db-backup.timer || fail "marker or masks missing"
expect_in x/usr/lib/kiln/package-manager-removed "/usr/bin/apt-get"
for u in apt-daily apt-daily-upgrade dpkg-db-backup; do
    [ "$(readlink "x/etc/systemd/system/$u.timer")" = /dev/null ] || fail "$u.timer is not masked"
done
m=dist/$base.manifest.json
expect_jq "$m" '[.artifacts[].kind] | sort | join(",")' "initrd,kernel,tar"
expect_jq "$m" .package_manager.removed true
expect_jq "$m" '[.package_manager.files[] | select(. == "/usr/bin/apt-get" or . == "/usr/bin/dpkg-query")] | length' 2
expect_jq "$m" '[.packages[] | select(.name == "apt" or .name == "dpkg")] | length' 2
"$KILN" sbom "$a" --format cyclonedx -o sbom.json || fail "kiln sbom of the archive failed"
expect_jq sbom.json '[.components[] | select(.name == "apt" or .name == "dpkg")] | length' 2
note "$(jqv "$m" '.package_manager.files | length') commands removed; the SBOM lists $(jqv sbom.json '.components | length') components"

# The container host's script case (examples/ext/containerhost/no_package_manager.sh) on this
# tree, run in it with chroot and root's PATH: it passes, and fails naming each defect (a
# package manager command back in PATH; the package database gone).
rm -rf x && mkdir x && tar --zstd -xf "$a" -C x || fail "tar cannot unpack $a"
cp "$root/examples/ext/containerhost/no_package_manager.sh" x/np.sh
np() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot x /bin/sh /np.sh > np.txt 2>&1; }
np || { cat np.txt; fail "no_package_manager.sh fails on the tree built without its package manager"; }
expect_in np.txt "no package manager in PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); the package database /var/lib/dpkg/status is kept"
printf '#!/bin/sh\n' > x/usr/sbin/dpkg && chmod 755 x/usr/sbin/dpkg
np && fail "no_package_manager.sh passes with /usr/sbin/dpkg in PATH"
expect_in np.txt "package manager commands in PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin): /usr/sbin/dpkg"
rm x/usr/sbin/dpkg && mv x/var/lib/dpkg/status x/var/lib/dpkg/status.gone
np && fail "no_package_manager.sh passes without the package database"
expect_in np.txt "no package database (/var/lib/dpkg/status, the rpm db)"
exit 0
