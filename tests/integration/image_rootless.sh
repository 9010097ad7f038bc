#!/bin/sh
# Rootless builds: an unprivileged user made for this test (subordinate ids from useradd, removed
# on exit) runs kiln build on a small deb spec (Debian's essential packages and a stand-in kernel
# from a signed repository in the test's directory). kiln builds in a user namespace where the
# user is root: the image comes out owned by the user, and inside it the files belong to root and
# the system groups (read back with debugfs), never to the user's or the subordinate ids. A user
# without subordinate ids is told what to set up. The .debs come from a copy of kiln's shared
# cache.
. "$(dirname "$0")/lib.sh"
for t in dpkg-deb apt-ftparchive gpg mmdebstrap unshare newuidmap useradd debugfs; do
    command -v $t > /dev/null || fail "$t is not installed (scripts/deps.sh installs it)"
done
[ "$(id -u)" -eq 0 ] || { echo "skip: making a test user needs root"; exit 77; }
user=kiln-rl-$$
useradd -M -d "$T/home" -s /bin/sh "$user" || fail "useradd"
export GNUPGHOME=$T/gnupg
trap 'rc=$?; gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null; userdel "$user" 2>/dev/null; dump_consoles $rc; rm -rf "$T"' EXIT
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user" ||
    fail "cannot give $user subordinate ids"
uid=$(id -u "$user")
chmod 755 "$T"
mkdir -p "$T/home/tmp" "$T/home/cache/build"
shared=${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
mkdir -p "$shared/build/debs"
# a copy (the user's build writes into its cache, and the files must be its own)
mkdir -p "$T/home/cache/build/debs"
find "$shared/build/debs" -maxdepth 1 -name '*.deb' -exec cp -t "$T/home/cache/build/debs" {} +

mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "kiln rootless test <rl@kiln.invalid>" rsa2048 sign never 2>/dev/null ||
    fail "gpg cannot make a key"
gpg --batch --armor --export > "$T/home/repo-key.asc"
cd "$T/home"
for p in "kiln-rl-boot boot/vmlinuz-0.0.0-kiln boot/initrd.img-0.0.0-kiln" "kiln-rl usr/share/kiln-rl/hello"; do
    name=${p%% *} d=pkg-${p%% *}
    mkdir -p "$d/DEBIAN"
    printf 'Package: %s\nVersion: 1\nArchitecture: all\nMaintainer: kiln <rl@kiln.invalid>\nDescription: kiln rootless test\n' "$name" > "$d/DEBIAN/control"
    for f in ${p#* }; do mkdir -p "$d/$(dirname "$f")" && echo stand-in > "$d/$f"; done
    mkdir -p repo/pool
    dpkg-deb --root-owner-group -Zgzip -b "$d" "repo/pool/${name}_1_all.deb" > /dev/null || fail "dpkg-deb $name"
done
mkdir -p repo/dists/kiln/main/binary-amd64
(cd repo && apt-ftparchive packages pool > dists/kiln/main/binary-amd64/Packages) || fail "apt-ftparchive packages"
apt-ftparchive -o APT::FTPArchive::Release::Suite=kiln -o APT::FTPArchive::Release::Codename=kiln \
    -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
    release repo/dists/kiln > Release.new || fail "apt-ftparchive release"
mv Release.new repo/dists/kiln/Release
gpg --batch --yes --clearsign -o repo/dists/kiln/InRelease repo/dists/kiln/Release || fail "gpg --clearsign"
cat > rl.yml <<'YAML'
name: rl
version: 1.0.0
base:
  family: deb
  suite: bookworm
  repos:
    - { name: rl, baseurl: repo, gpgkey: repo-key.asc, suite: kiln, components: [main] }
packages:
  install: [kiln-rl, kiln-rl-boot]
os:
  first_boot: { regenerate_ssh_host_keys: false }
  network: none   # never booted: read back with debugfs and kiln sbom
storage: { layout: standard, size: 1G, filesystem: ext4 }
boot: uefi
output: [raw]
YAML
chown -R "$user" "$T/home"

# as_user CMD: runs the shell command CMD as the test user in its home, with its own kiln cache
as_user() {
    su -s /bin/sh "$user" -c "cd '$T/home' && HOME='$T/home' TMPDIR='$T/home/tmp' KILN_CACHE='$T/home/cache' SOURCE_DATE_EPOCH=1750000000 $1"
}

as_user "'$KILN' build rl.yml --out out" > build.txt 2>&1 || { tail -n 40 build.txt; fail "kiln build as $user failed"; }
img=out/rl-1.0.0.raw
[ "$(stat -c %u "$img")" = "$uid" ] || fail "$img is owned by uid $(stat -c %u "$img"), not the building user ($uid)"
m=out/rl-1.0.0.manifest.json
off=$(jq '.partitions[1].offset' "$m") size=$(jq '.partitions[1].size' "$m")
dd if="$img" of=root.img bs=1M skip=$((off / 1048576)) count=$((size / 1048576)) status=none
# owner ids of an inode, as debugfs prints them
owner() { debugfs -R "stat $1" root.img 2>/dev/null | sed -n 's/.*User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1:\2/p'; }
[ "$(owner /etc/passwd)" = 0:0 ] || fail "/etc/passwd in the image is owned by $(owner /etc/passwd), not 0:0"
[ "$(owner /usr/share/kiln-rl/hello)" = 0:0 ] || fail "the test package's file is owned by $(owner /usr/share/kiln-rl/hello)"
mail=$(getent -s files group mail | cut -d: -f3)
[ "$(owner /var/mail)" = "0:${mail:-8}" ] || fail "/var/mail in the image is owned by $(owner /var/mail), not root:mail"
# nothing in the main directories belongs to the user or to a subordinate id
for d in / /etc /usr/bin /usr/sbin /var/lib /var/log /var/cache; do
    debugfs -R "ls -l $d" root.img 2>/dev/null | awk -v d="$d" '$4 >= 1000 || $5 >= 1000 {print d ": " $0; bad = 1} END {exit bad}' ||
        fail "files in $d of the image are owned by the user's or subordinate ids"
done
"$KILN" sbom "$img" -o sbom.json > /dev/null 2>&1 || fail "kiln sbom of the rootless image"
expect_jq sbom.json '.packages[] | select(.name=="kiln-rl") | .versionInfo' 1
note "built by $user (uid $uid) in a user namespace: $(jq '.packages | length' sbom.json) packages"

# a user without subordinate ids is told what to set up, and nothing is built
rm -rf out2
su -s /bin/sh nobody -c "cd '$T/home' && '$KILN' build rl.yml --out '$T/out2'" > nob.txt 2>&1
[ $? -eq 1 ] || { cat nob.txt; fail "kiln build as nobody did not exit 1"; }
expect_in nob.txt "kiln build: not running as root, and no user namespace to build in"
expect_in nob.txt "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody"
[ ! -e "$T/out2" ] || fail "kiln build as nobody made $T/out2"
exit 0
