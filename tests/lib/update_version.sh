# Sourced by integration tests that need a gallery with update payloads but no built image
# (rollout.sh, dashboard.sh): mkver NAME VERSION makes src/NAME-VERSION.* as kiln build writes
# them for the immutable layout (random bytes for the disk, /usr image, hash tree, kernel and
# initrd), signs them with k.key and publishes them into the gallery G in channel stable, with
# a fake passed run. Needs $KILN, $T, fail, k.key/k.pub and G (kiln gallery init).
sha() { sha256sum "$1" | cut -d' ' -f1; }
# mkver NAME VERSION: a signed build with a raw disk and an update payload as kiln build
# writes it (docs/updates.md): the /usr image, its hash tree, kernel, initrd and the
# kiln-update/1 manifest naming them (the update artifact)
mkver() {
    p=src/$1-$2
    mkdir -p "src/run-$1-$2"
    head -c 30000 /dev/urandom > "$p.raw"
    head -c 40960 /dev/urandom > "$p.usr.img"
    head -c 20000 /dev/urandom > "$p.usr.verity"
    head -c 9000 /dev/urandom > "$p.vmlinuz"
    head -c 7000 /dev/urandom > "$p.initrd"
    f() { jq -n --arg f "$1-$2.$3" --arg s "$(sha "$p.$3")" --argjson n "$(stat -c %s "$p.$3")" '{file: $f, size: $n, sha256: $s}'; }
    jq -n --arg n "$1" --arg v "$2" --argjson u "$(f "$1" "$2" usr.img)" --argjson h "$(f "$1" "$2" usr.verity)" \
        --argjson k "$(f "$1" "$2" vmlinuz)" --argjson i "$(f "$1" "$2" initrd)" '{format: "kiln-update/1", name: $n, version: $v,
        arch: "x86_64", usr: ($u + {filesystem: "erofs"}), verity: ($h + {root_hash: ("ab" * 32)}), kernel: $k, initrd: $i}' > "$p.update.json"
    # FORGE_KERNEL=1: update.json vouches for a kernel the version does not carry
    [ -z "${FORGE_KERNEL:-}" ] || { jq '.kernel.sha256 = ("cd" * 32)' "$p.update.json" > "$p.tmp" && mv "$p.tmp" "$p.update.json"; }
    printf '{"spdxVersion":"SPDX-2.3","packages":[{"name":"%s","versionInfo":"%s","primaryPackagePurpose":"OPERATING-SYSTEM"}]}\n' "$1" "$2" > "$p.spdx.json"
    printf '{"bomFormat":"CycloneDX","metadata":{"component":{"type":"operating-system","name":"%s"}}}\n' "$1" > "$p.cdx.json"
    # NO_PAYLOAD=1: a version published without an update payload (a non-immutable image)
    kinds="raw:raw usr.img:usr usr.verity:usr-verity vmlinuz:kernel initrd:initrd update.json:update"
    [ -z "${NO_PAYLOAD:-}" ] || { rm -f "$p.update.json"; kinds=${kinds% update.json:update}; }
    arts=$(for k in $kinds; do
        jq -n --arg f "$1-$2.${k%%:*}" --arg s "$(sha "$p.${k%%:*}")" --arg k "${k#*:}" --argjson n "$(stat -c %s "$p.${k%%:*}")" \
            '{file: $f, sha256: $s, kind: $k, size: $n}'; done | jq -s .)
    jq -n --arg n "$1" --arg v "$2" --argjson a "$arts" --arg s "$(sha "$p.spdx.json")" --arg c "$(sha "$p.cdx.json")" \
        '{name: $n, version: $v, artifacts: $a, sbom: [{file: "\($n)-\($v).spdx.json", sha256: $s}, {file: "\($n)-\($v).cdx.json", sha256: $c}]}' \
        > "$p.manifest.json"
    jq -n --argjson a "$arts" --arg n "$1" --arg v "$2" --arg s "$(sha "$p.spdx.json")" --arg c "$(sha "$p.cdx.json")" \
        '{_type: "https://in-toto.io/Statement/v1", predicateType: "https://slsa.dev/provenance/v1",
        subject: ([$a[] | {name: .file, digest: {sha256: .sha256}}] + [{name: "\($n)-\($v).spdx.json", digest: {sha256: $s}},
        {name: "\($n)-\($v).cdx.json", digest: {sha256: $c}}])}' > "$p.provenance.json"
    jq -n --arg r "$(sha "$p.raw")" --arg f "$T/$p.raw" '{schema: "kiln.results/v1", run: {id: "r", name: "fake", tested: [{role: "image",
        path: $f, sha256: $r}]}, summary: {passed: 1, failed: 0}, cases: []}' > "src/run-$1-$2/results.json"
    "$KILN" sign -k k.key "$p".* > /dev/null || fail "sign $p"
    "$KILN" publish "$p" --gallery G --channel stable --run "src/run-$1-$2" -k k.key > pub.txt 2>&1 || { cat pub.txt; fail "publish $1 $2"; }
}
