#!/bin/sh
# Builds a test image once and caches it, keyed by the hash of the script that makes it.
# usage: build.sh busybox|debian   → prints the cached image directory
set -eu
name=${1:?usage: build.sh busybox|debian}
here=$(cd "$(dirname "$0")" && pwd)
script=$here/$name.sh
[ -f "$script" ] || { echo "build.sh: no image recipe $script" >&2; exit 2; }
cache=${KILN_CACHE:-${HOME:-/root}/.cache/kiln}/images
key=$(sha256sum "$script" | cut -c1-16)
dir=$cache/$name-$key
link=$cache/$name
if [ ! -f "$dir/.done" ]; then
    echo "building test image $name (cached in $dir)" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    sh "$script" "$dir.tmp" >&2
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
