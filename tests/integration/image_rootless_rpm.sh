#!/bin/sh
# Rootless rpm builds: as image_rootless.sh does for the deb path, an unprivileged user made for
# this test (subordinate ids, removed on exit) runs kiln build on the rpm spec image_rpm.sh
# builds (the signed test repository of tests/images/rpmrepo.sh). kiln re-runs itself in a user
# namespace where the user is root, and `dnf --installroot` works there as it does for root:
# the image comes out owned by the user, and its root filesystem (read back with debugfs) holds
# the same files with the same owners, modes, sizes, link targets and contents as the same spec
# built by root, except dnf's history database, which records when it ran.
. "$(dirname "$0")/lib.sh"
for t in rpmbuild rpmsign createrepo_c dnf gpg unshare newuidmap useradd debugfs; do
    command -v $t > /dev/null || { echo "skip: $t not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skip: making a test user needs root"; exit 77; }
user=kiln-rr-$$
useradd -M -d "$T/home" -s /bin/sh "$user" || fail "useradd"
trap 'rc=$?; userdel "$user" 2>/dev/null; dump_consoles $rc; rm -rf "$T"' EXIT
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user" ||
    fail "cannot give $user subordinate ids"
uid=$(id -u "$user")
chmod 755 "$T"
mkdir -p "$T/home/tmp" "$T/home/cache" "$T/home/rootcache"
cd "$T/home" || fail "cd $T/home"
sh "$KILN_ROOT/tests/images/rpmrepo.sh" rpm "$KILN_BUSYBOX" > repo.txt 2>&1 || { tail repo.txt; fail "cannot build the test RPM repository"; }
cat > rpm.yml <<'YAML'
name: rpm-test
version: 0.1.0
base:
  family: rpm
  releasever: "1"
  repos:
    - { name: kiln-test, baseurl: rpm/repo, gpgkey: rpm/RPM-GPG-KEY-kiln-test }
packages: { install: [kiln-release, kiln-busybox, kiln-kernel] }
os: { hostname: rpm-box, network: none }
storage: { size: 512M }
output: [raw]
YAML
chown -R "$user" "$T/home"

vars="HOME='$T/home' TMPDIR='$T/home/tmp' SOURCE_DATE_EPOCH=1750000000"
su -s /bin/sh "$user" -c "cd '$T/home' && $vars KILN_CACHE='$T/home/cache' '$KILN' build rpm.yml --out out" > build.txt 2>&1 ||
    { tail -n 40 build.txt; fail "kiln build of an rpm spec as $user failed"; }
expect_in build.txt "rootfs"
expect_in build.txt "(new tree, cached in $T/home/cache/"
img=out/rpm-test-0.1.0.raw
[ "$(stat -c %u "$img")" = "$uid" ] || fail "$img is owned by uid $(stat -c %u "$img"), not the building user ($uid)"
HOME="$T/home" TMPDIR="$T/home/tmp" SOURCE_DATE_EPOCH=1750000000 KILN_CACHE="$T/home/rootcache" "$KILN" build rpm.yml --out outroot \
    > buildroot.txt 2>&1 ||
    { tail -n 40 buildroot.txt; fail "kiln build of the rpm spec as root failed"; }

# root-fs of each image as a tree (debugfs rdump, run as root, keeps owners), and a line per
# file: path, owner, mode, size, link target
for o in out outroot; do
    m=$o/rpm-test-0.1.0.manifest.json
    off=$(jq '.partitions[1].offset' "$m") size=$(jq '.partitions[1].size' "$m")
    dd if="$o/rpm-test-0.1.0.raw" of="$o.img" bs=1M skip=$((off / 1048576)) count=$((size / 1048576)) status=none
    mkdir "$o.tree"
    debugfs -R "rdump / $o.tree" "$o.img" 2> /dev/null
    (cd "$o.tree" && find . -mindepth 1 -printf '%P %U:%G %m %s %l\n' | sort) > "$o.list"
done
[ "$(wc -l < out.list)" -gt 100 ] || fail "the rootless image's root holds only $(wc -l < out.list) files"
diff out.list outroot.list > /dev/null || { diff out.list outroot.list | head -20; fail "the rootless rpm tree's files differ from root's"; }
awk '$2 != "0:0" {print; bad = 1} END {exit bad}' out.list || fail "files in the rootless rpm image are not owned by root"
grep -q '^usr/lib/sysimage/rpm/rpmdb.sqlite ' out.list || fail "no rpm database in the rootless image"
# dnf's history records when it ran; a database's -shm file is its WAL index, rebuilt on open
diff -rq --no-dereference out.tree outroot.tree | grep -v '/var/lib/dnf/history\.sqlite' |
    grep -v 'rpmdb\.sqlite-shm differ$' > differ.txt
[ ! -s differ.txt ] || { cat differ.txt; fail "the rootless rpm tree's contents differ from root's"; }
"$KILN" sbom "$img" -o sbom.json > sbom.txt 2>&1 || { cat sbom.txt; fail "kiln sbom of the rootless rpm image"; }
expect_in sbom.txt "5 packages from the image's rpm database"
note "dnf --installroot as $user (uid $uid) in a user namespace: $(wc -l < out.list) files, as root builds them"
exit 0
