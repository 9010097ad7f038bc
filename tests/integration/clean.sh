#!/bin/sh
# kiln clean empties kiln's cache directory and nothing else: each entry listed with the bytes
# du counts for it (--dry-run removes nothing), a file that is not kiln's left alone, symlinks
# removed as links (their targets stay), a mount point inside left alone (exit 1, named), and a
# cache directory that is /, $HOME, a parent of $HOME or a symlink refused (exit 2). No VM.
. "$(dirname "$0")/lib.sh"
command -v du >/dev/null || { echo "skip: du not installed"; exit 77; }

mkdir -p c/build/rootfs-abc/tree/etc c/build/debs c/kselftest/bin outside
head -c 100000 /dev/urandom > c/build/rootfs-abc/tree/etc/big
echo deb > c/build/debs/x.deb
ln c/build/debs/x.deb c/build/debs/y.deb           # a hard link: its blocks counted once
echo 1 > c/accel-probe
printf '#!/bin/sh\n' > c/kselftest/bin/run
echo mine > c/mine.txt                              # not kiln's
echo keep > outside/keep
ln -s "$T/outside" c/build/rootfs-abc/tree/out     # a symlink to a directory outside
ln -s "$T/outside/keep" c/kselftest/keep            # and to a file outside
export KILN_CACHE="$T/c"
# what kiln clean lists: each of its entries (build's children one by one) with du's bytes
listing=$(for p in c/accel-probe c/build/debs c/build/rootfs-abc c/kselftest; do
    echo "$(du -sB1 -P "$p" | cut -f1) $T/$p"; done)
before=$(find c | sort)

expect_status 0 "$KILN" clean --dry-run
[ "$(cat "$T/out")" = "$listing" ] || fail "clean --dry-run listed
$(cat "$T/out")
expected (du -sB1)
$listing"
total=$(echo "$listing" | awk '{s += $1} END {print s}')
expect_in "$T/err" "kiln clean: would remove 4 entries, $total bytes"
expect_in "$T/err" "kiln clean: $T/c/mine.txt is not kiln's: left alone"
[ "$(find c | sort)" = "$before" ] || fail "clean --dry-run removed something"

expect_status 0 "$KILN" clean
[ "$(cat "$T/out")" = "$listing" ] || fail "clean listed $(cat "$T/out"), expected $listing"
expect_in "$T/err" "kiln clean: removed 4 entries, $total bytes"
[ "$(find c | sort | tr '\n' ' ')" = "c c/build c/mine.txt " ] || fail "after clean, c holds $(find c)"
[ "$(cat outside/keep)" = keep ] || fail "a symlink's target went"
expect_status 0 "$KILN" clean
expect_in "$T/err" "kiln clean: $T/c holds nothing of kiln's"
expect_status 0 env KILN_CACHE="$T/nosuch" "$KILN" clean
[ ! -e nosuch ] || fail "clean made its cache directory"

# the cache directory comes from XDG_CACHE_HOME without KILN_CACHE, then from HOME
mkdir -p xdg/kiln/build/rootfs-x
line="$(du -sB1 xdg/kiln/build/rootfs-x | cut -f1) $T/xdg/kiln/build/rootfs-x"
expect_status 0 env -u KILN_CACHE XDG_CACHE_HOME="$T/xdg" "$KILN" clean
[ "$(cat "$T/out")" = "$line" ] || fail "XDG: $(cat "$T/out"), expected $line"
mkdir -p home/.cache/kiln/kselftest
expect_status 0 env -u KILN_CACHE -u XDG_CACHE_HOME HOME="$T/home" "$KILN" clean
[ ! -e home/.cache/kiln/kselftest ] || fail "HOME/.cache/kiln/kselftest stayed"

# a mistaken KILN_CACHE empties nothing
mkdir -p home/build/x
for bad in / "$T/home" "$T"; do
    expect_status 2 env HOME="$T/home" KILN_CACHE="$bad" "$KILN" clean
    expect_in "$T/err" "kiln clean: the cache directory "
    expect_in "$T/err" "set KILN_CACHE (or XDG_CACHE_HOME) to a directory of kiln's own"
done
[ -d home/build/x ] || fail "a refused clean removed home/build/x"
mkdir -p real/build/x && ln -s real link
expect_status 2 env KILN_CACHE="$T/link" "$KILN" clean
expect_in "$T/err" "kiln clean: $T/link is a symlink: kiln clean follows no symlink"
[ -d real/build/x ] || fail "clean followed the symlinked cache directory"
expect_status 2 "$KILN" clean extra
expect_in "$T/err" "kiln clean: unexpected argument extra"

# a mount point inside (a killed build's /proc, a bind mount) is never descended into
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    mkdir -p c/build/rootfs-m/tree/proc c/build/rootfs-n
    echo n > c/build/rootfs-n/f
    unshare -m sh -c "mount -t tmpfs none c/build/rootfs-m/tree/proc && echo x > c/build/rootfs-m/tree/proc/f &&
        '$KILN' clean > out.txt 2> err.txt; echo \$? > rc; cat c/build/rootfs-m/tree/proc/f > survived"
    [ "$(cat rc)" = 1 ] || fail "clean with a mount point inside exited $(cat rc): $(cat err.txt)"
    grep -qF "kiln clean: $T/c/build/rootfs-m/tree/proc: a mount point (left alone" err.txt || fail "the mount point was not named: $(cat err.txt)"
    [ "$(cat survived)" = x ] || fail "a file in the mounted tmpfs went"
    [ ! -e c/build/rootfs-n ] || fail "the entry beside the mount point stayed"
    echo "clean: a mount point inside is left alone"
else
    echo "clean: (not root or no unshare: the mount point case not run)"
fi
echo "clean: ok"
