#!/bin/sh
# Images stay fresh: a signed apt repository in the test's directory (dpkg-deb, apt-ftparchive,
# gpg --clearsign) serves kiln-fresh 1; a deb spec installs it (base.repos, file:// URL). Build
# 1 has version 1. The repository then gets version 2 (a security update, as far as kiln can
# tell) and build 2, without --refresh, must make a new tree with version 2 and record the new
# InRelease digest; build 3 with nothing changed takes the cached tree; --refresh rebuilds it
# anyway. A repository kiln cannot read gives one warning line and the old key.
# The image has no real kernel (kiln-fresh-boot ships a stand-in /boot/vmlinuz and initrd): it
# is read back with kiln sbom, never booted. The .debs come from kiln's shared cache; the trees
# go to a cache of the test's own (removed with it).
. "$(dirname "$0")/lib.sh"
for t in dpkg-deb apt-ftparchive gpg mmdebstrap; do
    command -v $t > /dev/null || fail "$t is not installed (scripts/deps.sh installs it)"
done
export SOURCE_DATE_EPOCH=1750000000
shared=${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
export KILN_CACHE=$T/cache
mkdir -p "$KILN_CACHE/build" "$shared/build/debs"
ln -s "$shared/build/debs" "$KILN_CACHE/build/debs"

export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
trap 'gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null; dump_consoles $?; rm -rf "$T"' EXIT
gpg --batch --quiet --passphrase '' --quick-gen-key "kiln fresh test <fresh@kiln.invalid>" rsa2048 sign never 2>/dev/null ||
    fail "gpg cannot make a key"
gpg --batch --armor --export > repo-key.asc

# deb NAME VERSION [FILE CONTENT]...: a tiny Architecture: all package into repo/pool
deb() {
    name=$1 ver=$2; shift 2
    d=pkg-$name-$ver
    mkdir -p "$d/DEBIAN"
    printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: kiln <fresh@kiln.invalid>\nDescription: kiln freshness test\n' \
        "$name" "$ver" > "$d/DEBIAN/control"
    while [ $# -gt 1 ]; do mkdir -p "$d/$(dirname "$1")"; printf '%s\n' "$2" > "$d/$1"; shift 2; done
    mkdir -p repo/pool
    dpkg-deb --root-owner-group -Zgzip -b "$d" "repo/pool/${name}_${ver}_all.deb" > /dev/null || fail "dpkg-deb $name $ver"
}
# index: Packages, Release and the clearsigned InRelease for suite "kiln", as a mirror has them
index() {
    mkdir -p repo/dists/kiln/main/binary-amd64
    (cd repo && apt-ftparchive packages pool > dists/kiln/main/binary-amd64/Packages) || fail "apt-ftparchive packages"
    gzip -9nkf repo/dists/kiln/main/binary-amd64/Packages
    rm -f repo/dists/kiln/Release repo/dists/kiln/InRelease
    apt-ftparchive -o APT::FTPArchive::Release::Suite=kiln -o APT::FTPArchive::Release::Codename=kiln \
        -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
        release repo/dists/kiln > Release.new || fail "apt-ftparchive release"
    mv Release.new repo/dists/kiln/Release
    gpg --batch --yes --clearsign -o repo/dists/kiln/InRelease repo/dists/kiln/Release || fail "gpg --clearsign"
}
deb kiln-fresh-boot 1 boot/vmlinuz-0.0.0-kiln "stand-in kernel" boot/initrd.img-0.0.0-kiln "stand-in initrd"
deb kiln-fresh 1 usr/share/kiln-fresh/version 1
index

cat > fresh.yml <<'YAML'
name: fresh
version: 1.0.0
base:
  family: deb
  suite: bookworm
  repos:
    - { name: fresh, baseurl: repo, gpgkey: repo-key.asc, suite: kiln, components: [main] }
packages:
  install: [kiln-fresh, kiln-fresh-boot]
os:
  first_boot: { regenerate_ssh_host_keys: false }
  network: none   # never booted: read back with kiln sbom only
storage: { layout: standard, size: 1G, filesystem: ext4 }
boot: uefi
output: [raw]
YAML
expect_status 0 "$KILN" build --check fresh.yml

m=fresh-1.0.0.manifest.json
# build N [OPTION]: builds into outN, fails with its log
build() {
    n=$1; shift
    "$KILN" build fresh.yml --out "out$n" "$@" > "build$n.txt" 2>&1 || { cat "build$n.txt"; fail "build $n failed"; }
    sed -n '/\] rootfs  /p' "build$n.txt"
}
# tty_build N: build N on a terminal 160 columns wide (script(1) gives kiln a pseudo-terminal); buildN.txt gets
# its output as the terminal saw it
tty_build() {
    command -v script > /dev/null || fail "script (util-linux) is not installed"
    TERM=xterm script -qec "stty cols 160; \"$KILN\" build fresh.yml --out out$1" /dev/null > "build$1.txt" 2>&1 < /dev/null ||
        { cat "build$1.txt"; fail "build $1 (on a terminal) failed"; }
    tr '\r' '\n' < "build$1.txt" | sed -n '/\] rootfs  /p'
}
cr=$(printf '\r') esc=$(printf '\033')
# expect_re FILE ERE: a line of FILE matches
expect_re() { grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "$1: no line matches $2"; }; }
# has N VERSION: the image of build N holds kiln-fresh VERSION, read back by kiln sbom
has() {
    "$KILN" sbom "out$1/fresh-1.0.0.raw" -o "sbom$1.spdx.json" > /dev/null 2>&1 || fail "kiln sbom out$1"
    expect_jq "sbom$1.spdx.json" '.packages[] | select(.name=="kiln-fresh") | .versionInfo' "$2"
}
# snap N: the manifest of build N records the test repository as it is now
snap() {
    f=out$1/$m
    expect_jq "$f" '.repositories | length' 4
    expect_jq "$f" '[.repositories[] | select(.error)] | length' 0
    expect_jq "$f" '.repositories[3] | "\(.url) \(.suite) \(.file)"' "file://$T/repo kiln InRelease"
    expect_jq "$f" '.repositories[3].sha256' "$(sha256sum repo/dists/kiln/InRelease | cut -d' ' -f1)"
    expect_jq "$f" '.repositories[3].date' "$(sed -n 's/^Date: //p' repo/dists/kiln/Release)"
    expect_jq "$f" '.repositories[0:3] | map(.suite) | join(",")' "bookworm,bookworm-updates,bookworm-security"
    expect_jq "$f" '[.repositories[0:3][] | .sha256 | test("^[0-9a-f]{64}$")] | all' true
}

tty_build 1
expect_in build1.txt "(new tree, cached in $KILN_CACHE/build/rootfs-"
expect_not_in build1.txt "warning"
# on a terminal: one live line for the rootfs stage, rewritten in place ("\r", erase to the end
# of the line) with what mmdebstrap, apt and dpkg are doing, then the outputs' bytes; the stage's
# closing line takes its place
tr '\r' '\n' < build1.txt | sed "s/^$esc\[K//" > live1.txt
for re in "^kiln build: \[1/7\] rootfs [0-9]+ s: reading the repositories" \
          "^kiln build: \[1/7\] rootfs [0-9]+ s: installing [0-9]+ essential packages: (unpacking|setting up) [a-z0-9.+-]+ \([0-9]+/[0-9]+\)" \
          "^kiln build: \[1/7\] rootfs [0-9]+ s: installing [0-9]+ packages" \
          "^kiln build: \[1/7\] rootfs [0-9]+ s: copying the package tree" \
          "^kiln build: \[6/7\] outputs [0-9]+ s: sha256 of [0-9]+ files, [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]iB" \
          "^kiln build: \[1/7\] rootfs +[0-9.]+ s  \(new tree"; do
    expect_re live1.txt "$re"
done
[ "$(grep -o "$cr$esc\[K" build1.txt | wc -l)" -ge 10 ] || fail "fewer than 10 live updates on the terminal"
expect_not_in build1.txt "kiln build: rootfs: " # the phases are the live line's, not lines of their own
# a stage leaves one line: its beginning is the live line, which its closing line replaces
! grep -qE "\] rootfs \.\.\.$cr?\$" build1.txt || fail "the rootfs stage left two lines on the terminal"
has 1 1
snap 1
d1=$(jq -r '.repositories[3].sha256' "out1/$m")

# a new tree leaves the shared .debs the cache has as they were (same inode, mtime and size, and
# no write or truncation of the file while the tree is made: an inotify IN_MODIFY watch on it,
# whichever name the write comes through; the ctime moves, as the tree holds a hard link to it
# for a while): apt's downloads are linked out beside the tree and only new files move into the
# cache, each whole, so a build hashing a cached .deb beside this one never reads half of one
probe=$(ls "$shared/build/debs" | grep '^base-files_.*\.deb$' | head -n 1)
[ -n "$probe" ] || fail "no base-files .deb in the shared package cache after a cold build"
st0=$(stat -c '%i %Y %s' "$shared/build/debs/$probe")
python3 - "$shared/build/debs/$probe" "$T/watch.ready" > "$T/watch.out" <<'PY' &
import ctypes, os, signal, sys
signal.alarm(1800)  # never outlives a test that failed before it was stopped
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
IN_MODIFY = 0x2
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_MODIFY) < 0:
    print("inotify failed: errno %d" % ctypes.get_errno()); sys.exit(1)
open(sys.argv[2], "w").close()
while True:
    os.read(fd, 4096)
    print("IN_MODIFY", flush=True)
PY
watch_pid=$!
for i in $(seq 100); do [ -e "$T/watch.ready" ] && break; sleep 0.1; done
[ -e "$T/watch.ready" ] || { cat "$T/watch.out"; fail "the inotify watch did not start"; }

# the update: version 2 replaces version 1, the repository is re-indexed and re-signed
sleep 1 # Release's Date has whole seconds: the new one differs
rm repo/pool/kiln-fresh_1_all.deb
deb kiln-fresh 2 usr/share/kiln-fresh/version 2
index
build 2
expect_in build2.txt "(new tree, cached in $KILN_CACHE/build/rootfs-"
# through a pipe: a plain line per phase and per output file, no carriage return or escape
! grep -q "[$cr$esc]" build2.txt || fail "carriage returns or escape sequences in a build's piped output"
for re in "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: reading the repositories$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: resolving dependencies$" \
          "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: installing [0-9]+ essential packages$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: installing [0-9]+ packages$" \
          "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: cleaning up$" "^kiln build: \\[[0-9]/[0-9]\\] rootfs [0-9]+ s: copying the package tree$" \
          "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: moved fresh-1.0.0.raw \(1.0 GiB\) in [0-9.]+ s$" \
          "^kiln build: \\[[0-9]/[0-9]\\] outputs [0-9]+ s: sha256 of [0-9]+ files \([0-9.]+ [KMG]iB\) in [0-9.]+ s$"; do
    expect_re build2.txt "$re"
done
[ "$(wc -l < build2.txt)" -le 40 ] || fail "$(wc -l < build2.txt) lines from one build: the progress floods the log"
has 2 2
snap 2
[ "$(jq -r '.repositories[3].sha256' "out2/$m")" != "$d1" ] || fail "the manifest records the old InRelease digest"
note "repository changed: a new tree with kiln-fresh 2"
kill $watch_pid 2>/dev/null; wait $watch_pid 2>/dev/null
[ "$(stat -c '%i %Y %s' "$shared/build/debs/$probe")" = "$st0" ] && [ ! -s "$T/watch.out" ] ||
    fail "a cold build rewrote $probe in the shared package cache (was inode, mtime, size $st0; inotify: $(head -c 200 "$T/watch.out"): written in place under any build reading it)"
! ls -a "$shared/build/debs" | grep -q '\.tmp\.' || fail "temp files left in the shared package cache"

# nothing changed: the cached tree, and the manifest still records the snapshot it was built from
build 3
key2=$(sed -n 's|.*cached in .*/build/rootfs-\([0-9a-f]*\);.*|\1|p' build2.txt)
[ -n "$key2" ] || fail "build 2 names no cache key"
expect_in build3.txt "(cached tree $key2; repositories "
has 3 2
cmp "out2/$m" "out3/$m" || fail "the rebuild from the cached tree wrote another manifest"
note "repository unchanged: the cached tree $key2"

# another build holding the tree's lock (a build beside this one making or copying it): kiln
# says it waits, then takes the cached tree; interrupted while waiting it stops at once
hold() { rm -f held; (exec 9> "$KILN_CACHE/build/rootfs-$key2.lock"; flock 9; : > held; exec sleep "$1") & holder=$!
         i=0; while [ ! -e held ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; [ -e held ] || fail "flock(1) took no lock"; }
hold 3
build 6
wait $holder
expect_in build6.txt "s: waiting for another kiln build that is making or copying the same package tree ($KILN_CACHE/build/rootfs-$key2.lock)"
grep -qE "^kiln build: \[1/[0-9]\] rootfs [0-9]+ s: waiting for another kiln build" build6.txt || fail "the wait is not a step line of the rootfs stage"
expect_in build6.txt "s: the other build is done (waited "
grep -qE "\(cached tree $key2; repositories [0-9.]+ s, waiting [0-9.]+ s, copy" build6.txt || fail "the rootfs line does not say how long it waited"
expect_in build6.txt "(cached tree $key2; repositories "
hold 60
"$KILN" build fresh.yml --out out7 > build7.txt 2>&1 & b=$!
i=0; while ! grep -q "waiting for another kiln build" build7.txt && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
expect_in build7.txt "waiting for another kiln build"
kill -INT $b
st=0; wait $b || st=$?
kill $holder 2>/dev/null; wait $holder 2>/dev/null || true
[ "$st" = 130 ] || fail "a build interrupted while waiting for the cache lock exited $st, not 130"
expect_in build7.txt "kiln build: rootfs: interrupted"
[ -z "$(ls -A out7 2>/dev/null | grep -v '\.build\.log$')" ] || fail "an interrupted build left files: $(ls -A out7)"
note "a held cache lock: the build waited for it, then took the cached tree; SIGINT while waiting stopped it (exit $st)"

# --refresh rebuilds from the repositories although the key matches
build 4 --refresh
expect_in build4.txt "(new tree, cached in $KILN_CACHE/build/rootfs-$key2; repositories "
has 4 2

# a repository kiln cannot read (nothing listens on port 9): one warning naming it, the
# repository state left out of the key, and the build goes on (apt then fails on it)
sed 's|baseurl: repo,|baseurl: "http://127.0.0.1:9/repo",|' fresh.yml > offline.yml
"$KILN" build offline.yml --out out5 > build5.txt 2>&1 && fail "a build from an unreachable repository succeeded"
expect_in build5.txt "kiln build: rootfs: warning: cannot read the state of 1 of 4 repositories (http://127.0.0.1:9/repo/dists/kiln/InRelease: "
[ "$(grep -c warning build5.txt)" -eq 1 ] || fail "more than one warning line: $(grep warning build5.txt)"
expect_in build5.txt "kiln build: rootfs: \`mmdebstrap"
# the kept log has mmdebstrap's whole output, apt's own lines too
expect_in build5.txt "kiln build: failed; the build log is kept at out5/fresh-1.0.0.build.log"
expect_in out5/fresh-1.0.0.build.log "\$ mmdebstrap --verbose "
# (apt-get update runs first in mmdebstrap's maybe-merged-usr setup hook, then in mmdebstrap)
expect_in out5/fresh-1.0.0.build.log "E: Failed to fetch http://127.0.0.1:9/repo/dists/kiln/InRelease"
expect_re out5/fresh-1.0.0.build.log "^(Err|Ign):[0-9]+ http://127.0.0.1:9/repo"
# the next build into out5 succeeds: the failed build's log goes with it (fresh-user finding:
# a failed first build's .build.log stayed beside the next build's outputs)
"$KILN" build fresh.yml --out out5 > build5b.txt 2>&1 || { cat build5b.txt; fail "the build after the failed one failed"; }
[ ! -e out5/fresh-1.0.0.build.log ] || fail "the failed build's log stayed beside a successful build's outputs"
[ -s out5/fresh-1.0.0.manifest.json ] || fail "no manifest in out5"
note "an unreadable repository: one warning, the build went on to the package manager"
