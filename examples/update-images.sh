#!/bin/sh
# Builds, validates, signs and publishes the versions examples/update.yml updates between, from
# one spec (examples/images/debian-update.yml): 1.0.0 (the machines' starting version), 1.0.1
# (the update) and 1.0.2, whose health check fails on purpose (the rollback). Only version:
# and updates.check differ, so the package tree is built once and cached.
#   sh examples/update-images.sh [KILN] [OUT-DIR]      (as root: kiln build needs it)
# OUT-DIR (default out/update) then holds the images, keys/release.{key,pub} (the key the
# images trust), gallery/ (channel stable: all three) and runs/ (each version's tier-0 run).
# An existing image of a version is kept (delete it to rebuild).
set -eu
kiln=${1:-kiln}
out=${2:-out/update}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
name=debian-update
src=$out/src
mkdir -p "$src"
cp -r "$here/images/files" "$src/"
# a key without a passphrase for the example; a real release key has one
[ -f "$src/keys/release.key" ] || "$kiln" keygen --out "$src/keys/release" --no-passphrase
for v in 1.0.0 1.0.1 1.0.2; do
    check="systemctl is-active --quiet ssh.service"
    [ "$v" = 1.0.2 ] && check="echo 'debian-update 1.0.2 is broken on purpose (examples/update-images.sh)' >&2; exit 1"
    # & and | are special in sed's replacement (1.0.2's check has >&2)
    check_re=$(printf '%s' "$check" | sed 's/[&|\\]/\\&/g')
    sed -e "s/^version: .*/version: $v/" -e "s|^  check: .*|  check: \"$check_re\"|" "$here/images/debian-update.yml" > "$src/$name-$v.yml"
    grep -qF "  check: \"$check\"" "$src/$name-$v.yml" || { echo "update-images: cannot set the check of $v" >&2; exit 1; }
    grep -q "^version: $v$" "$src/$name-$v.yml" || { echo "update-images: cannot set version $v" >&2; exit 1; }
    if [ ! -f "$out/$name-$v.manifest.json" ]; then
        "$kiln" build "$src/$name-$v.yml" --out "$out"
    fi
    files=$(for f in "$out/$name-$v".*; do case $f in *.minisig) ;; *) echo "$f" ;; esac; done)
    # shellcheck disable=SC2086 # artifact names have no spaces
    "$kiln" sign -k "$src/keys/release.key" $files
    # the gallery publishes only a version whose tier-0 run passed on its image
    if ! jq -e '.summary.failed == 0 and .summary.passed > 0' "$out/runs/$v/latest/results.json" > /dev/null 2>&1; then
        "$kiln" run --runs-dir "$out/runs/$v" -v "image=$out/$name-$v.qcow2" "$here/images/validate.yml"
    fi
done
rm -rf "$out/gallery"
"$kiln" gallery init --gallery "$out/gallery" --trust "$src/keys/release.pub" -k "$src/keys/release.key" --require-priority 0
for v in 1.0.0 1.0.1 1.0.2; do
    "$kiln" publish "$out/$name-$v" --gallery "$out/gallery" -k "$src/keys/release.key" --channel stable --run "$out/runs/$v/latest"
done
"$kiln" gallery list --gallery "$out/gallery"
