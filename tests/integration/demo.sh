#!/bin/sh
# What `make demo` does: kiln builds the example Debian bookworm image, kiln run boots it (the
# fixed VHD here: the Azure format) through OVMF + systemd-boot, every provisioning case passes;
# then examples/release.sh signs, publishes into a gallery, pulls back verified and archives
# the run. On top: every way a publish or a pull must be refused.
. "$(dirname "$0")/lib.sh"
root=${KILN_ROOT:?}
export SOURCE_DATE_EPOCH=1750000000   # the same package tree as tests/integration/image.sh
v=debian-server-1.0.0
"$KILN" build "$root/examples/images/debian-server.yml" --out dist > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
tail -n 2 build.txt
"$KILN" run --runs-dir runs -v image="$T/dist/$v.vhd" "$root/examples/demo.yml" > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 0 ] || fail "kiln run examples/demo.yml exited $rc"
r=runs/latest/results.json
for f in results.json junit.xml report.html; do [ -s "runs/latest/$f" ] || fail "missing $f"; done
expect_jq "$r" .summary.passed 4
expect_jq "$r" '.cases[] | select(.name=="verify_no_failed_units") | .status' passed
expect_jq "$r" '.run.tested[0].sha256' "$(sha256sum "dist/$v.vhd" | cut -d' ' -f1)"
expect_in runs/latest/nodes/node0/console.log "Debian GNU/Linux 12"
expect_in runs/latest/nodes/node0/qemu-cmdline.txt "if=pflash"
expect_not_in runs/latest/nodes/node0/qemu-cmdline.txt "-kernel"
expect_no_qemu

# the release flow of make demo
sh "$root/examples/release.sh" "$KILN" dist runs/latest > release.txt 2>&1 || { cat release.txt; fail "examples/release.sh failed"; }
cat release.txt
expect_in release.txt "published in dist/gallery (channel stable)"
expect_in release.txt "supported"
expect_in release.txt "files match the manifest; signature good"
G=dist/gallery
"$KILN" gallery show debian-server@1.0.0 --gallery $G > entry.json || fail "gallery show"
expect_jq entry.json '"\(.name) \(.version) \(.channels[0]) \(.run.summary.passed) \(.run.tested)"' \
    "debian-server 1.0.0 stable 4 $v.vhd"
minisign -Vm $G/index/0000000001.json -p dist/keys/demo.pub > /dev/null 2>&1 || fail "stock minisign rejects the gallery's index"
[ -f dist/pulled/$v.qcow2 ] && [ ! -e dist/pulled/$v.raw ] || fail "pull --artifact qcow2 took the wrong files: $(ls dist/pulled)"
for f in qcow2 manifest.json spdx.json cdx.json provenance.json; do
    minisign -Vm dist/pulled/$v.$f -p dist/keys/demo.pub > /dev/null 2>&1 || fail "stock minisign rejects the pulled $f"
done
cmp dist/pulled/$v.qcow2 dist/$v.qcow2 || fail "the pulled qcow2 differs"

# refusals, each with its reason (copies by hard link: nothing big is copied)
publish() { expect_status 1 "$KILN" publish "$@" --gallery $G -k dist/keys/demo.key; expect_in "$T/err" "kiln publish: refused:"; }
mkdir old && jq '.version = "0.9.0"' dist/$v.manifest.json > old/debian-server-0.9.0.manifest.json
publish old/debian-server-0.9.0 --channel stable --run runs/latest
expect_in "$T/err" "0.9.0 is not newer than 1.0.0, the latest in stable"
publish dist/$v --channel stable --run runs/latest
expect_in "$T/err" "already published in stable"
mkdir uns && ln dist/$v.* uns/ && rm uns/$v.qcow2.minisig
publish uns/$v --channel beta --run runs/latest
expect_in "$T/err" "uns/$v.qcow2 is not signed"
cp -r runs/latest/. runfail
jq '(.cases[] | select(.name=="verify_console_clean")) |= (.status = "failed" | .reason = "console: Oops") | .summary.failed = 1' \
    "$r" > runfail/results.json
publish dist/$v --channel beta --run runfail
expect_in "$T/err" "failed 1 case(s), the policy allows 0: verify_console_clean (console: Oops)"
jq '(.cases[] | select(.name=="smoke")) |= (.status = "skipped") | del(.cases[] | select(.name=="verify_kernel_cmdline"))' "$r" > runfail/results.json
publish dist/$v --channel beta --run runfail
expect_in "$T/err" "did not include verify_kernel_cmdline, which the gallery's policy requires"
jq '.run.tested[0].sha256 = "'"$(sha256sum dist/$v.manifest.json | cut -d' ' -f1)"'"' "$r" > runfail/results.json
publish dist/$v --channel beta --run runfail
expect_in "$T/err" "which is none of this version's disk images"
publish dist/$v --channel beta
expect_in "$T/err" "requires a validation run"
# another key: not trusted until the gallery trusts it (rotation: both keys then)
mkdir k2 && ln dist/$v.* k2/ && "$KILN" keygen --out newkey --no-passphrase > /dev/null
"$KILN" sign -k newkey.key k2/$v.* > /dev/null || fail "sign with the new key"
publish k2/$v --channel beta --run runs/latest
expect_in "$T/err" "which is not a trusted key"
"$KILN" gallery trust newkey.pub --gallery $G > trust.txt || fail "gallery trust"
"$KILN" publish k2/$v --gallery $G -k newkey.key --channel beta --run runs/latest > pub2.txt 2>&1 ||
    { cat pub2.txt; fail "publish after key rotation"; }
"$KILN" gallery list --gallery $G > list.txt
expect_in list.txt "debian-server            1.0.0        stable,beta"
"$KILN" gallery list --gallery $G --supported --at 2099-01-01 > later.txt
expect_in later.txt "(nothing published that is still supported)"
"$KILN" gallery show debian-server@1.0.0 --gallery $G > show.txt || fail "gallery show"
expect_in show.txt '"supersedes": null'

# tampering with the gallery: every kind of file, one flipped byte, named, nothing written
flip() { # FILE OFFSET: xor one bit of the byte at OFFSET
    b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
D=$G/images/debian-server/1.0.0
for t in "manifest.json qcow2 300" "spdx.json qcow2 300" "cdx.json qcow2 300" "provenance.json qcow2 300" \
         "qcow2 qcow2 1048576" "qcow2.minisig qcow2 0" "vhd vhd-fixed 1048576" "raw raw 1048576" "vmlinuz kernel 4096"; do
    set -- $t
    # in a signature, a byte of the Ed25519 signature itself (after the algorithm and key id)
    case $1 in *.minisig) set -- "$1" "$2" $(( $(head -n 1 "$D/$v.$1" | wc -c) + 40 )) ;; esac
    flip $D/$v.$1 $3
    expect_status 1 "$KILN" gallery pull debian-server@1.0.0 --gallery $G --artifact $2 --out pull-$1
    expect_in "$T/err" "refused, nothing written"
    grep -qF "$v.$1" "$T/err" || { cat "$T/err"; fail "the refusal for a flipped $1 does not name it"; }
    [ ! -e pull-$1 ] || fail "a refused pull wrote pull-$1: $(ls -A pull-$1)"
    flip $D/$v.$1 $3
done
"$KILN" gallery pull debian-server --gallery $G --artifact kernel --out pull-ok > /dev/null || fail "the restored gallery does not verify"
expect_no_qemu
exit 0
