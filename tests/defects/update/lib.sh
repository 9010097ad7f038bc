# Sourced by the update defects (run by tests/integration/update_defects.sh): each changes a
# copy of debian-update 1.0.0's spec through spec keys kiln has (os.files, os.services.mask),
# so the defect is built by kiln build like any image. The machine starts from that image; the
# versions it is offered are the clean ones in the gallery. What a defect puts in /etc stays
# the machine's across versions (an update replaces /usr only).
# $SPEC is the spec copy (edited in place), $FILES the directory its os.files sources go to
# (beside the spec, so a relative src resolves under the spec's source root).
set -eu
: "${SPEC:?SPEC must name the spec copy}" "${FILES:?FILES must name the files directory}"
# file DST MODE CONTENT: os.files entry installing CONTENT (printf %b) as DST
file() {
    mkdir -p "$FILES"
    src=$(basename "$FILES")/$(echo "$1" | tr / _)
    printf '%b' "$3" > "$FILES/$(echo "$1" | tr / _)"
    grep -q '^  files:$' "$SPEC" || { echo "$SPEC has no os.files list to add to" >&2; exit 1; }
    sed -i "/^  files:\$/a\\    - { src: $src, dst: $1, mode: \"$2\" }" "$SPEC"
    grep -qF "dst: $1," "$SPEC" || { echo "cannot add $1 to $SPEC" >&2; exit 1; }
}
# mask UNIT: os.services.mask gets UNIT
mask() {
    grep -q '^  services: { enable: \[[^]]*\] }$' "$SPEC" || { echo "$SPEC: os.services is not one enable list" >&2; exit 1; }
    sed -i "s/^\(  services: { enable: \[[^]]*\]\) }\$/\1, mask: [$1] }/" "$SPEC"
    grep -qF "mask: [$1]" "$SPEC" || { echo "cannot mask $1 in $SPEC" >&2; exit 1; }
}
# stray_key: a minisign key made here ($FILES/untrusted.{key,pub}) that the image trusts beside
# the gallery's (updates.keys); update_defects.sh names its secret half to the runbook
# (platform.qemu.update.untrusted_key) as the key verify_update_tampered signs with
stray_key() {
    mkdir -p "$FILES"
    "${KILN:?KILN must name kiln}" keygen --out "$FILES/untrusted" --no-passphrase > /dev/null
    grep -q '^  keys: \[[^]]*\]' "$SPEC" || { echo "$SPEC has no updates.keys list" >&2; exit 1; }
    sed -i "s|^\(  keys: \[[^]]*\)\]|\1, $(basename "$FILES")/untrusted.pub]|" "$SPEC"
    grep -qF "$(basename "$FILES")/untrusted.pub]" "$SPEC" || { echo "cannot add the key to $SPEC" >&2; exit 1; }
}
