#!/bin/sh
# Builds a test image once and caches it, keyed by the hash of the script that makes it.
# usage: build.sh busybox|debian|stock-VARIANT   → prints the cached image directory
# (stock-VARIANT: tests/images/stock.sh with VARIANT networkd, ifupdown, nm or cloudinit)
set -eu
name=${1:?usage: build.sh busybox|debian|stock-VARIANT}
here=$(cd "$(dirname "$0")" && pwd)
case $name in
    stock-*) script=$here/stock.sh variant=${name#stock-} ;;
    *) script=$here/$name.sh variant= ;;
esac
[ -f "$script" ] || { echo "build.sh: no image recipe $script" >&2; exit 2; }
cache=${KILN_CACHE:-${HOME:-/root}/.cache/kiln}/images
if [ -n "$variant" ]; then key=$({ cat "$script"; echo "$variant"; } | sha256sum | cut -c1-16)
else key=$(sha256sum "$script" | cut -c1-16); fi
dir=$cache/$name-$key
link=$cache/$name
mkdir -p "$cache"
# tests in parallel lanes may ask for the same image: one builds it, the others wait
exec 9>"$cache/.$name.lock"
flock 9
if [ ! -f "$dir/.done" ]; then
    echo "building test image $name (cached in $dir)" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    sh "$script" "$dir.tmp" $variant >&2
    touch "$dir.tmp/.done"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
fi
ln -sfn "$name-$key" "$link"
# older builds of the same image are no longer used
for old in "$cache/$name"-*; do
    [ "$old" = "$dir" ] || [ ! -d "$old" ] || rm -rf "$old"
done
echo "$dir"
