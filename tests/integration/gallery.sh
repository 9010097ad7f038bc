#!/bin/sh
# The gallery's catalog is signed and checked, pulls are all-or-nothing, a failed publish
# leaves nothing: each example of kiln issue 13 (part 6) and its siblings, on small made-up
# versions (no VM, no image build). The full-filesystem cases mount small tmpfs (root).
. "$(dirname "$0")/lib.sh"
mounts=
cleanup() { for m in $mounts; do umount "$m" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
tmpfs() { # DIR SIZE: a small filesystem at DIR (its files kept), or status 1
    mkdir -p "$1" && cp -a "$1" "$1.keep" && mount -t tmpfs -o size="$2" tmpfs "$1" 2>/dev/null || { rm -rf "$1.keep"; return 1; }
    mounts="$1 $mounts"
    cp -a "$1.keep/." "$1/" && rm -rf "$1.keep"
}
untmpfs() { # DIR: back to the files it held
    cp -a "$1" "$1.keep" && umount "$1" && mounts=$(echo "$mounts" | sed "s#$1 ##") && cp -a "$1.keep/." "$1/" && rm -rf "$1.keep"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# mkver DIR NAME VERSION [ARCH]: a built version as kiln build lays it out (a disk, a kernel, both
# SBOMs, the provenance, the manifest naming them, with "arch" when ARCH is given), signed, and
# a passing run that tested it
mkver() {
    p=$1/$2-$3 arch=${4:-}
    mkdir -p "$1/run-$2-$3"
    head -c 300000 /dev/urandom > "$p.raw"
    head -c 5000 /dev/urandom > "$p.vmlinuz"
    printf '{"spdxVersion":"SPDX-2.3","packages":[{"name":"%s","versionInfo":"%s","primaryPackagePurpose":"OPERATING-SYSTEM"}]}\n' \
        "$2" "$3" > "$p.spdx.json"
    printf '{"bomFormat":"CycloneDX","metadata":{"component":{"type":"operating-system","name":"%s"}}}\n' "$2" > "$p.cdx.json"
    set -- "$2" "$3" "$(sha "$p.raw")" "$(sha "$p.vmlinuz")" "$(sha "$p.spdx.json")" "$(sha "$p.cdx.json")"
    jq -n --arg n "$1" --arg v "$2" --arg r "$3" --arg k "$4" --arg s "$5" --arg c "$6" '{name: $n, version: $v,
        artifacts: [{file: "\($n)-\($v).raw", sha256: $r, kind: "raw", size: 300000},
                    {file: "\($n)-\($v).vmlinuz", sha256: $k, kind: "kernel", size: 5000}],
        sbom: [{file: "\($n)-\($v).spdx.json", sha256: $s}, {file: "\($n)-\($v).cdx.json", sha256: $c}]}' > "$p.manifest.json"
    [ -z "$arch" ] || { jq --arg a "$arch" '. + {arch: $a}' "$p.manifest.json" > "$p.m" && mv "$p.m" "$p.manifest.json"; }
    jq -n --arg n "$1" --arg v "$2" --arg r "$3" --arg k "$4" --arg s "$5" --arg c "$6" '{_type: "https://in-toto.io/Statement/v1",
        predicateType: "https://slsa.dev/provenance/v1", subject: [{name: "\($n)-\($v).raw", digest: {sha256: $r}},
        {name: "\($n)-\($v).vmlinuz", digest: {sha256: $k}}, {name: "\($n)-\($v).spdx.json", digest: {sha256: $s}},
        {name: "\($n)-\($v).cdx.json", digest: {sha256: $c}}]}' > "$p.provenance.json"
    jq -n --arg r "$3" --arg f "$p.raw" '{schema: "kiln.results/v1", run: {id: "r", name: "fake", tested: [{role: "image", path: $f,
        sha256: $r}]}, summary: {passed: 1, failed: 0}, cases: []}' > "${p%/*}/run-$1-$2/results.json"
    "$KILN" sign -k k.key "$p".* > /dev/null || fail "sign $p"
}
publish() { "$KILN" publish "src/$1-$2" --gallery G --run "src/run-$1-$2" -k "${3:-k.key}" > pub.txt 2>&1 || { cat pub.txt; fail "publish $1 $2"; }; }
refused() { # what the refusal must say, CMD...: exit 1, the message on stderr
    msg=$1; shift
    expect_status 1 "$@"
    expect_in "$T/err" "$msg"
    expect_not_in "$T/out" "nothing published"
}
fresh() { rm -rf G && cp -a G0 G && rm -rf state && cp -a state0 state; } # the gallery and this client's state as published
idx() { printf 'G/index/%010d.json' "$1"; }

"$KILN" keygen --out k --no-passphrase > /dev/null && "$KILN" keygen --out evil --no-passphrase > /dev/null || fail keygen
for v in 0.9 1.0 1.1 1.2; do mkver src os $v; done
mkver src other 1.0

# setting up needs the signing key, and that key must be one the gallery trusts
expect_status 2 "$KILN" gallery init --gallery G --trust k.pub
refused "the signing key $(sed -n 's/.*public key //p' evil.pub) is not one of the keys the gallery is to trust" \
    "$KILN" gallery init --gallery G --trust k.pub -k evil.key
[ ! -e G ] || fail "a refused init wrote G: $(ls -A G)"
"$KILN" gallery init --gallery G --trust k.pub -k k.key --require-priority -1 > init.txt || fail "gallery init"
"$KILN" gallery list --gallery G > list0.txt || fail "list an empty gallery"
expect_in list0.txt "(nothing published)"
expect_in list0.txt "(index serial 0, G/index/0000000000.json"
publish os 1.0
# each file of the version (what its manifest lists, and the manifest) as it is copied in, with
# its bytes (signatures apart), then the sums
n=0 sum=0
for x in raw vmlinuz spdx.json cdx.json provenance.json manifest.json; do
    f=src/os-1.0.$x
    expect_in pub.txt "kiln publish: ${f#src/} ($(stat -c %s "$f") bytes)"
    n=$((n + 1)) sum=$((sum + $(stat -c %s "$f")))
done
[ "$n" = 6 ] && [ "$(grep -c '^kiln publish: os-1.0.* bytes)$' pub.txt)" = 6 ] || fail "publish: $(cat pub.txt)"
expect_in pub.txt "kiln publish: 6 files, $sum bytes copied"
# on a terminal: one line rewritten per file (carriage return, erase line), the sums last
if command -v script > /dev/null; then
    TERM=xterm script -qec "\"$KILN\" publish src/os-1.1 --gallery G --run src/run-os-1.1 -k k.key" /dev/null > tty.txt || fail "publish 1.1 on a tty"
    sum=$(cat src/os-1.1.raw src/os-1.1.vmlinuz src/os-1.1.spdx.json src/os-1.1.cdx.json src/os-1.1.provenance.json \
        src/os-1.1.manifest.json | wc -c)
    grep -q "$(printf '\r\033\[K')kiln publish: 6 files, $sum bytes: os-1.1" tty.txt || fail "publish on a tty: $(od -c tty.txt | head)"
    expect_in tty.txt "kiln publish: 6 files, $sum bytes copied"
    expect_not_in tty.txt "os-1.1.raw (300000 bytes)"
else
    publish os 1.1
fi
expect_status 2 "$KILN" publish src/os-1.2 --gallery G --run src/run-os-1.2
refused "is not one of the keys G trusts (G/keys)" "$KILN" publish src/os-1.2 --gallery G --run src/run-os-1.2 -k evil.key
"$KILN" gallery list --gallery G > list.txt || fail "gallery list"
expect_in list.txt "(index serial 2, G/index/0000000002.json, signed by key"
[ "$(grep -c '^os ' list.txt)" = 2 ] || { cat list.txt; fail "list does not show both versions"; }
expect_jq "$(idx 2)" '[.serial, (.images | length), .previous_sha256] | @tsv' "$(printf '2\t2\t%s' "$(sha "$(idx 1)")")"
expect_jq "$(idx 2)" '.images[1].entry_sha256' "$(sha G/images/os/1.1/entry.json)"
# the catalog carries each version's arch: its manifest's, x86_64 for a manifest without one
# (these have none: image/manifest.h reads them so)
expect_jq "$(idx 2)" '[.images[].arch] | join(",")' "x86_64,x86_64"
expect_jq G/images/os/1.1/entry.json '.arch' "x86_64"
if command -v minisign > /dev/null; then
    for f in "$(idx 2)" G/images/os/1.1/entry.json; do
        minisign -Vm "$f" -p k.pub > /dev/null 2>&1 || fail "stock minisign rejects $f"
    done
fi
cp -a G G0
cp -a state state0

# issue: one changed byte in the index made the gallery look empty, and the next publish
# accepted an older version and rewrote the index
fresh
sed -i 's/"stable"/"stablf"/' "$(idx 2)"
for c in "list" "show os" "pull os --out p"; do
    # shellcheck disable=SC2086
    refused "$(idx 2) does not match its signature $(idx 2).minisig" "$KILN" gallery $c --gallery G
done
[ ! -e p ] || fail "a pull from a damaged gallery wrote p"
refused "$(idx 2) does not match its signature" "$KILN" publish src/os-0.9 --gallery G --run src/run-os-0.9 -k k.key
[ ! -e G/images/os/0.9 ] && [ ! -e "$(idx 3)" ] || fail "a publish into a damaged gallery wrote $(ls G/images/os G/index)"
# a valid signature from a key the gallery does not trust, and a signature taken away
fresh
"$KILN" sign -k evil.key "$(idx 2)" > /dev/null
refused "which is not a trusted key" "$KILN" gallery list --gallery G
rm "$(idx 2).minisig"
refused "$(idx 2) is not signed" "$KILN" gallery list --gallery G
# a whole index that is not JSON, and one of the right shape but the wrong kind of value
fresh
echo "garbage" > "$(idx 2)" && "$KILN" sign -k k.key -t "forged by the key holder" "$(idx 2)" > /dev/null
refused "$(idx 2): the index is not valid JSON" env KILN_STATE_DIR="$T/other-state" "$KILN" gallery list --gallery G
# the index deleted: an error, never an empty gallery
fresh
rm -rf G/index
refused "G/index holds no index" "$KILN" gallery list --gallery G
# an older index copied over the newest file name
fresh
cp "$(idx 1)" "$(idx 2)" && cp "$(idx 1).minisig" "$(idx 2).minisig"
refused "$(idx 2) holds index serial 1: an older index was copied over a newer one" "$KILN" gallery list --gallery G
# an unsigned index.json from an older kiln is not read as a catalog
fresh
echo '{"images": []}' > G/index.json
refused "G/index.json is an unsigned index from an older kiln" "$KILN" gallery list --gallery G

# issue: entries were not signed: a support end extended, the newest entry deleted
fresh
sed -i 's/"support_end": "\([0-9]*\)/"support_end": "2999/' G/images/os/1.1/entry.json
grep -q '"support_end": "2999' G/images/os/1.1/entry.json || fail "the test did not change support_end"
refused "G/images/os/1.1/entry.json does not match its signature" "$KILN" gallery list --gallery G --supported --at 2998-01-01
# re-signed by the key holder: still not the entry the index names
"$KILN" sign -k k.key -t "re-signed" G/images/os/1.1/entry.json > /dev/null
refused "G/images/os/1.1/entry.json has sha256 $(sha G/images/os/1.1/entry.json), but $(idx 2) says" \
    "$KILN" gallery show os@1.0 --gallery G
# another version's signed entry put in its place
fresh
cp G/images/os/1.0/entry.json G/images/os/1.0/entry.json.minisig G/images/os/1.1/
refused "G/images/os/1.1/entry.json has sha256" "$KILN" gallery list --gallery G
# the run's results kept with the version are pinned by the signed entry
fresh
jq '.summary.failed = 0 | .cases = []' G/images/os/1.1/run/results.json > r.json && echo >> r.json && mv r.json G/images/os/1.1/run/results.json
refused "G/images/os/1.1/run/results.json has sha256 $(sha G/images/os/1.1/run/results.json), but the signed entry says" \
    "$KILN" gallery show os@1.1 --gallery G
fresh
rm G/images/os/1.1/entry.json.minisig
refused "G/images/os/1.1/entry.json is not signed" "$KILN" gallery list --gallery G
fresh
rm -rf G/images/os/1.1
refused "$(idx 2) lists os 1.1, but G/images/os/1.1/entry.json is missing" "$KILN" gallery list --gallery G
# the newest entry deleted together with the index that listed it (a rollback): this client
# saw serial 2; a client that never saw it is caught by --min-serial, and by an unlisted
# version directory when that is left behind
rm -f "$(idx 2)" "$(idx 2).minisig"
refused "$(idx 1) is index serial 1, but this client saw serial 2 of this gallery" "$KILN" gallery pull os --gallery G --out p
refused "but this client saw serial 2" "$KILN" publish src/os-1.1 --gallery G --run src/run-os-1.1 -k k.key
[ ! -e p ] && [ ! -e G/images/os/1.1 ] || fail "a rolled-back gallery was written to or pulled from"
KILN_STATE_DIR=$T/new-client "$KILN" gallery list --gallery G > new.txt || fail "a new client cannot read serial 1"
expect_in new.txt "(index serial 1,"
refused "$(idx 1) is index serial 1, older than the minimum serial 2 asked for" \
    env KILN_STATE_DIR="$T/new-client" "$KILN" gallery list --gallery G --min-serial 2
fresh
rm -f "$(idx 2)" "$(idx 2).minisig"
refused "G/images/os/1.1 is not listed by $(idx 1), the newest index" env KILN_STATE_DIR="$T/client-3" "$KILN" gallery list --gallery G
# the key holder signs another history: the serial this client saw with other bytes (a
# fork), and a predecessor that is not the one this client saw
fresh
jq '.updated = "2000-01-01T00:00:00Z"' "$(idx 2)" > forged && mv forged "$(idx 2)" && "$KILN" sign -k k.key "$(idx 2)" > /dev/null
refused "$(idx 2) is index serial 2, but not the serial 2 this client saw" "$KILN" gallery list --gallery G
fresh
cp state0/gallery-seen.json seen-at-2.json
jq '.updated = "2000-01-01T00:00:00Z"' "$(idx 1)" > forged && mv forged "$(idx 1)" && "$KILN" sign -k k.key "$(idx 1)" > /dev/null
jq '.galleries[].serial = 0 | .galleries[].sha256 = "'"$(sha "$(idx 0)")"'"' seen-at-2.json > state/gallery-seen.json
refused "$(idx 1) has sha256 $(sha "$(idx 1)"), but index serial 2 names" "$KILN" gallery list --gallery G
# a key added to the gallery's keys/ by whoever can write the gallery: clients that pin the
# publisher's key (-p) refuse what it signs
fresh
"$KILN" gallery trust evil.pub --gallery G > /dev/null
jq '.updated = "2000-01-01T00:00:00Z"' "$(idx 2)" > forged && mv forged "$(idx 2)" && "$KILN" sign -k evil.key "$(idx 2)" > /dev/null
refused "which is not a trusted key" env KILN_STATE_DIR="$T/client-4" "$KILN" gallery list --gallery G -p k.pub
# a damaged state file is an error, not a fresh start
fresh
echo '{' > state/gallery-seen.json
refused "state/gallery-seen.json (the serials this client saw of each gallery) is damaged" "$KILN" gallery list --gallery G

# a version's files swapped for another signed build of the same name and version: the
# manifest is not the one the signed entry names
fresh
mkdir rebuilt && mkver rebuilt os 1.1
cp rebuilt/os-1.1.* G/images/os/1.1/
refused "os-1.1.manifest.json has sha256 $(sha rebuilt/os-1.1.manifest.json), but the signed entry says" \
    "$KILN" gallery pull os@1.1 --gallery G --out p
[ ! -e p ] || fail "a refused pull left p"

# a FIFO, a link to a device, or a link to a valid copy of the file, in place of the index, an
# entry or an artifact: a clear error within seconds that names what is there (the open used
# to block on the FIFO, cp to copy /dev/zero until the disk was full; a FIFO read as "File
# descriptor in bad state"; a link to a good copy was read as the gallery's); a pull leaves
# nothing behind
fix="a gallery holds only the regular files kiln wrote; replace it with the file itself (from a backup of the gallery)"
hostile_file() { # PATH KIND: replace PATH by a FIFO, a symlink to /dev/zero or a symlink to a copy of it
    case $2 in
        fifo) rm -f "$1" && mkfifo "$1" ;;
        dev) rm -f "$1" && ln -s /dev/zero "$1" ;;
        link) mv "$1" "$T/moved.${1##*/}" && ln -s "$T/moved.${1##*/}" "$1" ;;
    esac
}
for kind in fifo dev link; do
    what="a symbolic link"
    [ $kind = fifo ] && what="a FIFO"
    fresh
    hostile_file "$(idx 2)" $kind
    refused "$(idx 2) is $what, not a regular file: $fix" timeout 20 "$KILN" gallery list --gallery G
    expect_not_in "$T/err" "File descriptor in bad state"
    fresh
    hostile_file "$(idx 2).minisig" $kind
    refused "$(idx 2).minisig is $what, not a regular file: $fix" timeout 20 "$KILN" gallery list --gallery G
    fresh
    hostile_file G/images/os/1.1/entry.json $kind
    refused "G/images/os/1.1/entry.json is $what, not a regular file: $fix" timeout 20 "$KILN" gallery list --gallery G
    refused "G/images/os/1.1/entry.json is $what, not a regular file: $fix" timeout 20 "$KILN" gallery pull os --gallery G --out p
    fresh
    hostile_file G/images/os/1.1/os-1.1.raw $kind
    refused "G/images/os/1.1/os-1.1.raw is $what, not a regular file: $fix" timeout 20 "$KILN" gallery pull os --gallery G --out p
    [ ! -e p ] || fail "a refused pull left p: $(find p)"
    fresh
    hostile_file G/images/os/1.1/run/results.json $kind
    refused "G/images/os/1.1/run/results.json is $what, not a regular file: $fix" timeout 20 "$KILN" gallery show os@1.1 --gallery G
    fresh
    hostile_file G/gallery.yml $kind
    refused "G/gallery.yml is $what, not a regular file: $fix" timeout 20 "$KILN" gallery list --gallery G
    fresh
    hostile_file "$(ls G/keys/*.pub)" $kind
    refused "$(ls G/keys/*.pub) is $what, not a regular file: $fix" timeout 20 "$KILN" gallery list --gallery G
done
# an older index, reached while checking the history this client saw, that is a link
fresh
rm -rf state && mkdir state && "$KILN" gallery list --gallery G > /dev/null && cp state/gallery-seen.json seen1.json
jq '.galleries[].serial = 0 | .galleries[].sha256 = "'"$(sha "$(idx 0)")"'"' seen1.json > state/gallery-seen.json
hostile_file "$(idx 1)" link
refused "cannot show that index serial 2 follows serial 0, which this client saw: $(idx 1) is a symbolic link, not a regular file: $fix" \
    "$KILN" gallery list --gallery G
# directories of the gallery that are links: the index directory, a version directory
for d in G/index G/images/os/1.1; do
    fresh
    mv "$d" "$T/moved.dir" && ln -s "$T/moved.dir" "$d"
    refused "$d is a symbolic link, not a directory: $fix" timeout 20 "$KILN" gallery list --gallery G
    rm -rf "$T/moved.dir"
done
# a file longer than the size its signed manifest states is not copied past that size
fresh
head -c 300001 /dev/urandom > G/images/os/1.1/os-1.1.raw
refused "G/images/os/1.1/os-1.1.raw holds 300001 bytes, more than the 300000 its manifest allows" \
    timeout 20 "$KILN" gallery pull os --gallery G --out p
[ ! -e p ] || fail "a refused pull left p: $(find p)"

# promotion: the same version joins beta; its signed entry stays byte for byte
fresh
before=$(sha G/images/os/1.1/entry.json)
"$KILN" publish src/os-1.1 --gallery G --channel beta --run src/run-os-1.1 -k k.key > /dev/null || fail "promote to beta"
[ "$(sha G/images/os/1.1/entry.json)" = "$before" ] || fail "promotion rewrote the entry"
expect_jq "$(idx 3)" '.images[1].channels | join(",")' "stable,beta"
"$KILN" gallery show os@1.1 --gallery G --channel beta > show.txt || fail "show in beta"
expect_jq show.txt '"\(.channels | join(",")) \(.supersedes) \(.entry_sha256) \(.run.results_sha256)"' \
    "stable,beta 1.0 $before $(sha G/images/os/1.1/run/results.json)"
# --json is accepted (as on every verdict and listing) and prints the same entry, messages apart
"$KILN" gallery show os@1.1 --gallery G --channel beta --json > show.json 2> show.err || fail "show --json"
cmp -s show.txt show.json || fail "gallery show --json printed other JSON than gallery show: $(diff show.txt show.json | head -5)"

# issue: pull --out DIR overwrote an existing file, and with a directory in the way said
# "nothing written" after moving files in
fresh
mkdir -p dest && echo mine > dest/os-1.1.raw
refused "dest already holds os-1.1.raw: pass --force" "$KILN" gallery pull os --gallery G --out dest
expect_in "$T/err" "refused, nothing written"
[ "$(cat dest/os-1.1.raw)" = mine ] && [ "$(ls -A dest)" = os-1.1.raw ] || fail "a refused pull changed dest: $(ls -A dest)"
mkdir dest/os-1.1.provenance.json
refused "dest/os-1.1.provenance.json is a directory where a pulled file would go" "$KILN" gallery pull os --gallery G --out dest --force
[ "$(cat dest/os-1.1.raw)" = mine ] && [ "$(ls -A dest | tr '\n' ' ')" = "os-1.1.provenance.json os-1.1.raw " ] ||
    fail "a refused pull changed dest: $(ls -A dest)"
rmdir dest/os-1.1.provenance.json
"$KILN" gallery pull os --gallery G --out dest --force > pull.txt 2> pull.err || fail "pull --force"
# each file pulled with its bytes (signatures apart), and the sums
for f in dest/*; do
    case $f in *.minisig) continue ;; esac
    expect_in pull.err "kiln gallery pull: ${f#dest/} ($(stat -c %s "$f") bytes)"
done
[ "$(grep -c '^kiln gallery pull: ' pull.err)" = 6 ] || fail "pull: $(cat pull.err)"
expect_in pull.txt "into dest: 6 files, $(cat $(ls dest/* | grep -v minisig) | wc -c) bytes"
cmp dest/os-1.1.raw G/images/os/1.1/os-1.1.raw || fail "--force did not replace os-1.1.raw"
[ "$(ls -A dest | wc -l)" = 12 ] || fail "pull wrote $(ls -A dest)"
refused "refused, nothing written: dest already holds" "$KILN" gallery pull os --gallery G --out dest
echo x > afile
refused "afile is not a directory" "$KILN" gallery pull os --gallery G --out afile
refused "os 1.1 has no vhd artifact" "$KILN" gallery pull os --gallery G --out new/deep/dir --artifact vhd
[ ! -e new ] || fail "a refused pull left the directories it created: $(find new)"
"$KILN" gallery pull os@1.0 --gallery G --out new/deep/dir --artifact kernel > /dev/null || fail "pull into new directories"
[ "$(ls new/deep/dir | tr '\n' ' ')" = "os-1.0.cdx.json os-1.0.cdx.json.minisig os-1.0.manifest.json os-1.0.manifest.json.minisig \
os-1.0.provenance.json os-1.0.provenance.json.minisig os-1.0.spdx.json os-1.0.spdx.json.minisig os-1.0.vmlinuz os-1.0.vmlinuz.minisig " ] ||
    fail "pull --artifact kernel wrote $(ls new/deep/dir)"

# a version built for another arch: entry, index and gallery list --json say which; an arch
# kiln does not know is refused before anything is copied
rm -rf GA && cp -a G0 GA
mkver src arm 1.0 aarch64
mkver src odd 1.0 sparc64
# (a state directory of its own: GA is G's copy, the same gallery id, with another serial 3)
env KILN_STATE_DIR="$T/arch-state" "$KILN" publish src/arm-1.0 --gallery GA --run src/run-arm-1.0 -k k.key > /dev/null 2>&1 ||
    fail "publish arm 1.0"
expect_jq GA/images/arm/1.0/entry.json '.arch' aarch64
expect_jq "$(idx 3 | sed 's#^G/#GA/#')" '[.images[] | "\(.name) \(.version) \(.arch)"] | join(",")' "os 1.0 x86_64,os 1.1 x86_64,arm 1.0 aarch64"
env KILN_STATE_DIR="$T/arch-state" "$KILN" gallery list --gallery GA --json > la.json || fail "gallery list --json GA"
expect_jq la.json '[.images[] | .arch] | join(",")' "x86_64,x86_64,aarch64"
refused "src/odd-1.0.manifest.json: \"arch\" is \"sparc64\", which kiln does not know (known: x86_64, aarch64" \
    env KILN_STATE_DIR="$T/arch-state" "$KILN" publish src/odd-1.0 --gallery GA --run src/run-odd-1.0 -k k.key
[ ! -e GA/images/odd ] || fail "a refused arch left GA/images/odd"
rm -rf GA

have_tmpfs=true
# a full filesystem under --out: the copy fails, nothing is left there
if tmpfs small 128k; then
    refused "refused, nothing written" "$KILN" gallery pull os --gallery G --out small/p
    [ -z "$(ls -A small)" ] || fail "a pull that ran out of space left $(find small)"
else
    have_tmpfs=false
fi

# issue: a publish whose index write failed (no space) left a version directory that blocked
# every retry; a failed publish now leaves nothing
fresh
if $have_tmpfs && tmpfs G/index 64k; then
    head -c 1M /dev/zero > G/index/fill 2> /dev/null
    refused "cannot write $(idx 3).minisig: No space left on device" \
        "$KILN" publish src/os-1.2 --gallery G --run src/run-os-1.2 -k k.key
    [ "$(ls -A G/images/os | tr '\n' ' ')" = "1.0 1.1 " ] || fail "the failed publish left $(ls -A G/images/os)"
    [ ! -e "$(idx 3)" ] && [ ! -e "$(idx 3).minisig" ] || fail "the failed publish left part of index 3"
    "$KILN" gallery list --gallery G > after.txt || fail "the gallery does not verify after a failed publish"
    rm G/index/fill
    publish os 1.2
    untmpfs G/index
    "$KILN" gallery list --gallery G > after.txt || fail "list after the retry"
    expect_in after.txt "(index serial 3,"
    grep -q '^os  *1.2 ' after.txt || fail "the retried publish is not listed: $(cat after.txt)"
    # out of space while the version's files are copied in: no version, no name directory
    tmpfs G/images "$(( $(du -sk G/images | cut -f1) + 160 ))k" || fail "tmpfs G/images"
    refused "No space left on device" "$KILN" publish src/other-1.0 --gallery G --run src/run-other-1.0 -k k.key
    [ "$(ls -A G/images | tr '\n' ' ')" = "os " ] || fail "the failed publish left $(ls -A G/images)"
    untmpfs G/images
    "$KILN" gallery list --gallery G > /dev/null || fail "the gallery does not verify after a failed copy"
else
    have_tmpfs=false
fi
$have_tmpfs || { echo "skip: cannot mount tmpfs (not root?): the out-of-space cases did not run"; exit 77; }
exit 0
