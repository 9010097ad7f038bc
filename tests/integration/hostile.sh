#!/bin/sh
# Hostile input is contained: crafted and foreign disk images (made here with qemu-img and
# hostile_images.py) and crafted run archives give the right answer or a clear error, in
# bounded time (timeout) and memory (peak RSS), and leave nothing in TMPDIR, also after SIGINT.
. "$(dirname "$0")/lib.sh"
for t in qemu-img mke2fs sgdisk python3 zstd debugfs prlimit /usr/bin/time; do
    command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
gen="python3 $KILN_ROOT/tests/integration/hostile_images.py"
# ASan reserves terabytes of address space, so memory is judged by peak RSS, not ulimit -v
max_rss_kib=262144

# contained WANT_RC CMD...: CMD exits WANT_RC within 60 s, its peak RSS stays under
# max_rss_kib, and TMPDIR is empty afterwards. Output in $T/out and $T/err.
contained() {
    want=$1; shift
    /usr/bin/time -f %M -o "$T/rss" timeout 60 "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -ne 124 ] || fail "$* did not finish within 60 s"
    [ "$got" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $got, expected $want"; }
    rss=$(tail -n 1 "$T/rss")
    [ "$rss" -lt "$max_rss_kib" ] || fail "$* peaked at $rss KiB"
    [ -z "$(ls -A "$TMPDIR")" ] || fail "$* left $(ls -A "$TMPDIR") in TMPDIR"
}
# expect_err TEXT: stderr is exactly TEXT.
expect_err() { [ "$(cat "$T/err")" = "$1" ] || fail "stderr is '$(cat "$T/err")', expected '$1'"; }

# A GPT disk whose ext4 partition (os-release, a dpkg database) ends off a 64 KiB boundary,
# with data right after it: the cluster holding its end is allocated in the qcow2s.
mkdir -p tree/usr/lib tree/etc tree/var/lib/dpkg
printf 'ID=kiln-hostile\nVERSION_ID=1\nPRETTY_NAME="Hostile Test 1"\n' > tree/usr/lib/os-release
ln -s ../usr/lib/os-release tree/etc/os-release
printf 'Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\nMaintainer: T <t@example.org>\nDescription: x\n\nPackage: zed\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\nMaintainer: T <t@example.org>\nDescription: x\n' \
    > tree/var/lib/dpkg/status
# copyright files: hello's machine-readable (DEP-5), zed's free-form
mkdir -p tree/usr/share/doc/hello tree/usr/share/doc/zed
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 1992 FSF\nLicense: GPL-3+\n\nFiles: lib/t.c\nCopyright: 2001 B\nLicense: Hello-Tables\n Use them,\n .\n keep this.\n' \
    > tree/usr/share/doc/hello/copyright
printf 'zed is in the public domain, more or less.\n' > tree/usr/share/doc/zed/copyright
mke2fs -q -F -t ext4 -d tree fs.img $(( (40000 - 2048 + 1) / 2 ))k || fail "mke2fs"
truncate -s 24M disk.raw
sgdisk -n 1:2048:40000 -t 1:8300 disk.raw > /dev/null || fail "sgdisk"
dd if=fs.img of=disk.raw bs=512 seek=2048 conv=notrunc status=none
printf 'x' | dd of=disk.raw bs=512 seek=40001 conv=notrunc status=none
qemu-img convert -O qcow2 disk.raw disk.qcow2
qemu-img convert -c -O qcow2 disk.raw zlib.qcow2
qemu-img convert -c -O qcow2 -o compression_type=zstd disk.raw zstd.qcow2
for img in disk.raw disk.qcow2 zlib.qcow2 zstd.qcow2; do
    # the qcow2 used to spin forever here; the compressed ones read as "partition table: none"
    contained 0 "$KILN" inspect $img
    expect_in "$T/out" "partition table: GPT"
    expect_in "$T/out" "os-release: Hostile Test 1"
    contained 0 "$KILN" sbom $img -o $img.spdx.json
    expect_in "$T/err" "kiln sbom: $img.spdx.json (SPDX 2.3, 2 packages from the image's dpkg database)"
    expect_jq $img.spdx.json '[.packages[1:][].name] | join(",")' hello,zed
done
# the default output name is the SBOM kiln build wrote and kiln sign signed beside the image:
# never replaced unasked (a fresh user's `kiln sbom IMAGE` broke the build's signatures)
echo signed > disk.spdx.json
contained 1 "$KILN" sbom disk.qcow2
expect_err "kiln sbom: disk.spdx.json exists (kiln build writes it beside the image, and kiln sign signs it); not replaced: name another file with -o FILE, or -o - for stdout"
[ "$(cat disk.spdx.json)" = signed ] || fail "kiln sbom replaced the existing disk.spdx.json"
rm disk.spdx.json
# one pass writes both formats, each valid against its JSON schema, with hello's license
# from its DEP-5 copyright file and zed's (free-form) NOASSERTION
contained 0 "$KILN" sbom disk.qcow2
expect_jq disk.spdx.json '[.packages[1:][].name] | join(",")' hello,zed
expect_in "$T/err" "kiln sbom: disk.cdx.json (CycloneDX 1.5, 2 packages from the image's dpkg database)"
expect_jq disk.spdx.json '[.packages[1:][].licenseDeclared] | join(",")' "GPL-3.0-or-later AND LicenseRef-Hello-Tables,NOASSERTION"
expect_jq disk.spdx.json '.hasExtractedLicensingInfos | map("\(.licenseId)=\(.extractedText)") | join(",")' "LicenseRef-Hello-Tables=Use them,

keep this."
expect_jq disk.cdx.json '[.components[] | .licenses[0].expression // "none"] | join(",")' "GPL-3.0-or-later AND LicenseRef-Hello-Tables,none"
for f in spdx:disk.spdx.json cyclonedx:disk.cdx.json; do
    NODE_PATH=${KILN_VALIDATORS:-/usr/local/lib/kiln-validators}/node_modules node "$KILN_ROOT/tests/tools/validate-sbom.js" "${f%%:*}" "${f#*:}" ||
        fail "${f#*:} is not valid ${f%%:*} (validators: scripts/deps.sh)"
done
rm disk.cdx.json
contained 0 "$KILN" sbom disk.qcow2 -o -
[ "$(jq -r '.spdxVersion' "$T/out")" = SPDX-2.3 ] || fail "kiln sbom -o - did not print the SBOM alone on stdout"
# a dpkg status that is a symbolic link is followed inside the image's root, never on the
# host; one that cannot be followed, or a database that lists nothing, is an error, never
# "0 packages" (it used to write an SBOM of 0 packages for every link)
# linked IMAGE TARGET [NAME]: an ext4 image of tree whose /var/lib/dpkg/status links to TARGET,
# the database itself moved to /usr/share/db/NAME (default status)
linked() {
    rm -rf lt && cp -a tree lt && mkdir -p lt/usr/share/db && mv lt/var/lib/dpkg/status "lt/usr/share/db/${3:-status}"
    ln -s "$2" lt/var/lib/dpkg/status
    mke2fs -q -F -t ext4 -d lt "$1" 8M || fail "mke2fs"
}
# slow: a target over 60 bytes, kept in a block rather than in the inode
long=$(printf './%.0s' $(seq 35))
for t in rel:../../../usr/share/db/status abs:/usr/share/db/status up:../../../../../../usr/share/db/status \
         slow:/usr/${long}share/db/status blank:"/usr/share/db/a b"; do
    linked "${t%%:*}.img" "${t#*:}" "$(basename "${t#*:}")"
    contained 0 "$KILN" sbom "${t%%:*}.img" -o "${t%%:*}.json"
    expect_in "$T/err" "kiln sbom: ${t%%:*}.json (SPDX 2.3, 2 packages from the image's dpkg database)"
    expect_jq "${t%%:*}.json" '[.packages[1:][].name] | join(",")' hello,zed
done
# a link that leaves the image's root names a file of the image, not the host's (which exists)
mkdir -p "$T/host" && cp tree/var/lib/dpkg/status "$T/host/status"
linked host.img "../../../../../..$T/host/status"
contained 1 "$KILN" sbom host.img -o host.json
expect_err "kiln sbom: host.img has no package database (looked for /var/lib/dpkg/status and the rpm database in /usr/lib/sysimage/rpm and /var/lib/rpm)"
[ ! -e host.json ] || fail "an SBOM was written from the host's database"
# the default outputs are checked before the image is read (seconds for a large one): the
# refusal comes first, not the image's own error after the read
echo signed > host.cdx.json
contained 1 "$KILN" sbom host.img
expect_err "kiln sbom: host.cdx.json exists (kiln build writes it beside the image, and kiln sign signs it); not replaced: name another file with -o FILE, or -o - for stdout"
rm host.cdx.json
linked loop.img status2
ln -s status lt/var/lib/dpkg/status2 && rm loop.img && mke2fs -q -F -t ext4 -d lt loop.img 8M
contained 1 "$KILN" sbom loop.img -o loop.json
expect_err "kiln sbom: cannot read the filesystems of loop.img: /var/lib/dpkg/status in the image is a symbolic link that kiln does not follow (more than 8 links on the way, or a loop): a crafted or damaged filesystem"
rm -rf lt && cp -a tree lt && : > lt/var/lib/dpkg/status && mke2fs -q -F -t ext4 -d lt empty.img 8M
contained 1 "$KILN" sbom empty.img -o empty.json
expect_err "kiln sbom: empty.img: the dpkg database (/var/lib/dpkg/status) lists no installed package: it is damaged or kiln could not read it; no SBOM was written"
[ ! -e empty.json ] && [ ! -e loop.json ] || fail "an SBOM was written for a database kiln did not read"

# issue 18: a damaged ext4 filesystem is named as damaged, where it lies, with what to do (it
# read as "no package database", and inspect showed no os-release without a word).
# sbcsum: a superblock byte changed under its checksum (libext2fs will not open it);
# nogdt: the group descriptors zeroed (it opens, but no inode can be read). The filesystem
# starts at byte 1048576 of the disk, its blocks are 1 KiB (mke2fs for a small filesystem).
cp disk.raw sbcsum.raw
printf '\377' | dd of=sbcsum.raw bs=1 seek=$((1048576 + 1024 + 12)) conv=notrunc status=none
cp disk.raw nogdt.raw
dd if=/dev/zero of=nogdt.raw bs=1024 seek=$((1024 + 2)) count=2 conv=notrunc status=none
cp fs.img nogdt.img && dd if=/dev/zero of=nogdt.img bs=1024 seek=2 count=2 conv=notrunc status=none
advice="see what e2fsck -fn says of a copy of it, or rebuild the image"
for c in "sbcsum.raw|partition 1 (at byte 1048576)|not a readable ext4 filesystem: Superblock checksum does not match superblock|not a readable ext4 filesystem: Superblock checksum does not match superblock" \
         "nogdt.raw|partition 1 (at byte 1048576)|/var/lib/dpkg/status: A block group is missing an inode table|/usr/lib/os-release: A block group is missing an inode table" \
         "nogdt.img|the whole disk|/var/lib/dpkg/status: A block group is missing an inode table|/usr/lib/os-release: A block group is missing an inode table"; do
    IFS='|' read -r img where sbom_why inspect_why <<EOF
$c
EOF
    contained 1 "$KILN" sbom "$img" -o "$img.json"
    expect_err "kiln sbom: $img: the ext4 filesystem of $where is damaged ($sbom_why), so kiln could not look for /var/lib/dpkg/status and the rest there; $advice"
    [ ! -e "$img.json" ] || fail "an SBOM was written for the damaged $img"
    contained 0 "$KILN" inspect "$img"
    expect_in "$T/out" "     damaged: $inspect_why; $advice"
    expect_not_in "$T/out" "os-release: Hostile Test 1"
    contained 0 "$KILN" inspect --json "$img"
    case $img in
        *.raw) expect_jq "$T/out" '.partitions[0].filesystem | "\(.type) \(.damaged)"' "ext4 $inspect_why" ;;
        *) expect_jq "$T/out" '.filesystem | "\(.type) \(.damaged)"' "ext4 $inspect_why" ;;
    esac
done
# the undamaged disk says nothing of the kind
contained 0 "$KILN" inspect --json disk.raw
expect_jq "$T/out" '.partitions[0].filesystem.damaged' null

contained 0 "$KILN" convert zlib.qcow2 back.raw
cmp back.raw disk.raw || fail "the compressed qcow2 converts back to other bytes"

# os-release is the image's: its quoting is undone as os-release(5) says, and a control
# character (an escape sequence that would recolour or retitle the terminal) is shown escaped
mkdir -p esc/usr/lib
printf 'ID=esc\nPRETTY_NAME="Say \\"hi\\" \\$5 \033[31mred\033]0;pwned\007 \302\233"\n' > esc/usr/lib/os-release
mke2fs -q -F -t ext4 -d esc esc.img 4M || fail "mke2fs"
contained 0 "$KILN" inspect esc.img
expect_in "$T/out" 'os-release: Say "hi" $5 \x1b[31mred\x1b]0;pwned\x07 \u009b'
! grep -q "$(printf '\033')" "$T/out" || fail "kiln inspect printed an ESC byte"
contained 0 "$KILN" inspect esc.img --json
expect_jq "$T/out" '.os_release.PRETTY_NAME' "$(printf 'Say "hi" $5 \033[31mred\033]0;pwned\007 \302\233')"

# Formats kiln does not read: refused by name, nothing written
qemu-img convert -O vmdk disk.raw disk.vmdk
qemu-img convert -O vhdx disk.raw disk.vhdx
qemu-img convert -O vdi disk.raw disk.vdi
qemu-img convert -O qed disk.raw disk.qed
for f in vmdk:VMDK vhdx:VHDX vdi:"VirtualBox VDI" qed:QED; do
    ext=${f%%:*} name=${f#*:}
    contained 1 "$KILN" inspect disk.$ext
    expect_err "kiln inspect: disk.$ext: this is a $name image, which kiln does not read (it reads raw, qcow2 and VHD); convert it first: qemu-img convert -O qcow2 disk.$ext disk.qcow2"
    contained 1 "$KILN" convert disk.$ext out.raw
    expect_in "$T/err" "this is a $name image"
    [ -z "$(ls out.raw* 2>/dev/null)" ] || fail "kiln convert of disk.$ext wrote $(ls out.raw*)"
done
# cut short: a VMDK or VHDX is still refused by its magic; a qcow2 cut inside its header is
# that error, never a raw disk
for f in vmdk:VMDK vhdx:VHDX; do
    ext=${f%%:*} name=${f#*:}
    head -c 100 disk.$ext > cut.$ext
    contained 1 "$KILN" inspect cut.$ext
    expect_in "$T/err" "kiln inspect: cut.$ext: this is a $name image, which kiln does not read"
done
head -c 50 disk.qcow2 > cut.qcow2
contained 1 "$KILN" inspect cut.qcow2
expect_err "kiln inspect: cut.qcow2: qcow2 header is truncated: the file holds 50 bytes, the header needs 72 (the file was cut short)"
# (qemu-img's key-derivation benchmark can fail on a loaded machine: then a LUKS1 header by hand)
qemu-img create -q -f luks --object secret,id=s0,data=x -o key-secret=s0 disk.luks 4M 2>/dev/null ||
    { printf 'LUKS\272\276\000\001aes' > disk.luks && truncate -s 4M disk.luks; }
contained 1 "$KILN" inspect disk.luks
expect_err "kiln inspect: disk.luks: this is a LUKS-encrypted volume, not a disk image: kiln reads only unencrypted disk images; open it with cryptsetup and read the mapped device's contents"
gzip -c disk.raw > disk.raw.gz
contained 1 "$KILN" sbom disk.raw.gz
expect_err "kiln sbom: disk.raw.gz: this is a gzip-compressed file, not a disk image: decompress it first (gunzip)"

# a FIFO (no writer) or a device where an image should be: a clear error at once, not an open
# that waits for a writer forever or a read that never ends
mkfifo pipe.img
ln -s /dev/zero zero.img
# (the message names what is there: a raw errno string said "File descriptor in bad state");
# what is not a file is a wrong input, exit 2 as a missing one, not the 1 of a bad image
for f in pipe.img:"a FIFO" zero.img:"a character device" /dev/zero:"a character device"; do
    what=${f#*:} f=${f%%:*}
    for cmd in "inspect $f" "sbom $f" "convert $f out.raw"; do
        # shellcheck disable=SC2086
        contained 2 "$KILN" $cmd
        expect_err "kiln ${cmd%% *}: $f is $what, not a regular file: pass the disk image file itself (raw, qcow2 or VHD)"
    done
    [ -z "$(ls out.raw* 2>/dev/null)" ] || fail "kiln convert of $f wrote $(ls out.raw*)"
done
contained 2 "$KILN" archive --verify pipe.img
expect_err "kiln archive: pipe.img is a FIFO, not a regular file: pass the .tar.zst file kiln archive wrote"
contained 2 env KILN_TOKEN=kt_x "$KILN" submit --server http://127.0.0.1:9 pipe.img
expect_err "kiln submit: pipe.img is a FIFO, not a regular file: pass the disk image file itself"
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
contained 2 "$KILN" sign -k k.key pipe.img
expect_err "kiln sign: pipe.img is a FIFO, not a regular file: kiln signs and verifies regular files only"

# 256 KiB qcow2 whose 64 GiB all map to one cluster (a GPT disk with a 64 GiB "ext4"):
# inspect used to copy all of it to TMPDIR
$gen one-cluster one.qcow2
contained 1 "$KILN" inspect one.qcow2
expect_err "kiln inspect: one.qcow2: qcow2: the tables use more clusters than the 262144-byte file holds: some cluster is used twice (corrupt or crafted image; \`qemu-img check\` shows where)"
contained 1 "$KILN" convert one.qcow2 one.raw
[ ! -e one.raw ] || fail "kiln convert wrote one.raw"

# a ~700 KiB qcow2 whose 4096 compressed clusters inflate to 256 MiB (deflate at ~400:1):
# refused, since compressed data may yield at most 64 MiB + 64 x the file's size
$gen deflate-bomb bomb.qcow2
contained 1 "$KILN" inspect bomb.qcow2
expect_err "kiln inspect: bomb.qcow2: qcow2: its 4096 compressed clusters would expand to 268435456 bytes, more than the 64 MiB + 64 x the file's 720896 bytes kiln expands (a crafted or corrupt image)"
contained 1 "$KILN" convert bomb.qcow2 bomb.raw
[ -z "$(ls bomb.raw* 2>/dev/null)" ] || fail "kiln convert of bomb.qcow2 wrote $(ls bomb.raw*)"

# os-release of an erofs /usr whose other files hold 480 MiB (compressed to ~2 MiB, which kiln's
# reader leaves unread; os-release itself is stored as it is): read in place without unpacking
# the tree (fsck.erofs --extract wrote all 480 MiB to TMPDIR), so a 64 MiB TMPDIR is enough
if command -v mkfs.erofs >/dev/null; then
    mkdir -p usr/lib
    printf 'ID=kiln-erofs\nPRETTY_NAME="Erofs Test 2"\n' > usr/lib/os-release
    for i in 1 2 3 4 5 6 7 8; do head -c 60M /dev/zero | tr '\0' A > usr/big$i; done
    mkfs.erofs --quiet -zlz4hc usr.erofs usr || fail "mkfs.erofs"
    rm -rf usr
    truncate -s 16M erofs.raw
    sgdisk -n 1:2048:0 -t 1:8314 erofs.raw > /dev/null || fail "sgdisk"
    dd if=usr.erofs of=erofs.raw bs=512 seek=2048 conv=notrunc status=none
    mkdir small
    if mount -t tmpfs -o size=64m tmpfs small 2>/dev/null; then
        contained 0 env TMPDIR="$T/small" "$KILN" inspect erofs.raw
        umount small
    else
        contained 0 "$KILN" inspect erofs.raw
    fi
    expect_in "$T/out" "os-release: Erofs Test 2"
    # an os-release lz4 compresses: said to be not read (kiln builds without -z), not misread
    # or called damaged
    mkdir -p zu/lib
    { printf 'ID=z\n'; for i in $(seq 1 400); do echo "# a comment line that compresses well"; done; } > zu/lib/os-release
    mkfs.erofs --quiet -zlz4hc z.erofs zu || fail "mkfs.erofs -zlz4hc"
    dd if=z.erofs of=erofs.raw bs=512 seek=2048 conv=notrunc status=none
    contained 0 "$KILN" inspect erofs.raw
    expect_in "$T/out" "not read: /usr/lib/os-release is stored compressed in the erofs image, which kiln does not read"
    expect_not_in "$T/out" "damaged"
    expect_not_in "$T/out" "os-release:"
else
    note "no erofs-utils: the erofs os-release check is skipped"
fi

# a dynamic VHD whose header claims 2^32-1 table entries, in a 16 GiB sparse file: it used to
# allocate 2 x 16 GiB; only the entries the disk needs are read
contained 0 "$KILN" convert disk.raw dyn.vhd --format vhd
$gen vhd-entries dyn.vhd huge-table.vhd
contained 0 "$KILN" inspect huge-table.vhd
expect_in "$T/out" "huge-table.vhd: vhd, virtual size 24.0 MiB (25165824 bytes), file 16.0 GiB"
expect_in "$T/out" "os-release: Hostile Test 1"
note "huge block table: peak RSS $rss KiB"

# impossible GPT partitions are reported, not listed with negative sizes
for m in backwards:"GPT partition 2 ends before it starts (LBA 50000-40000)" \
         overlap:"GPT partitions 1 and 2 overlap (LBA 2048-40000 and 40000-40100)" \
         outside:"GPT partition 2 (LBA 40001-49119) lies outside the disk's usable area (LBA 34-49118)"; do
    mode=${m%%:*} why=${m#*:}
    cp disk.raw $mode.raw
    sgdisk -n 2:40960:45000 $mode.raw > /dev/null || fail "sgdisk"
    $gen gpt $mode $mode.raw
    contained 1 "$KILN" inspect $mode.raw
    expect_err "kiln inspect: $mode.raw: invalid partition table: $why"
done

# a package database that is a 1 TiB sparse file: refused after 64 MiB + 4 x the image's
# allocated size, not written out to TMPDIR
cp -a tree tree2
truncate -s 1T tree2/var/lib/dpkg/status
mke2fs -q -F -t ext4 -d tree2 sparse.img 16M || fail "mke2fs"
contained 1 "$KILN" sbom sparse.img
expect_in "$T/err" "kiln sbom: cannot read the filesystems of sparse.img: /var/lib/dpkg/status holds 1099511627776 bytes, more than the"

# SIGINT while kiln sbom copies files out of the image to TMPDIR (a 600 MiB package database;
# the filesystems themselves are read in place, erofs and squashfs /usr too): exit 130, TMPDIR
# empty. The process is stopped as soon as its temporary directory shows, so the signal surely
# lands mid-work.
mkdir -p big/var/lib/dpkg
{ printf 'Package: hello\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nDescription: x\n'
  head -c $((600 << 20)) /dev/zero | tr '\0' x; printf '\n\n'; } > big/var/lib/dpkg/status
mke2fs -q -F -t ext4 -d big big.raw 700M || fail "mke2fs"
rm -rf big
"$KILN" sbom big.raw -o "$T/big.json" > /dev/null 2> "$T/err" &
pid=$!
i=0
while [ -z "$(ls -A "$TMPDIR")" ] && [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do sleep 0.01; i=$((i + 1)); done
kill -STOP $pid 2>/dev/null || fail "kiln sbom finished before its temporary directory showed"
[ -n "$(ls -A "$TMPDIR")" ] || { kill -CONT $pid; fail "caught kiln sbom after its copy"; }
kill -INT $pid
kill -CONT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || { cat "$T/err" >&2; fail "kiln sbom exited $rc after SIGINT, expected 130"; }
expect_err "kiln sbom: interrupted while reading big.raw"
[ -z "$(ls -A "$TMPDIR")" ] || fail "SIGINT left $(ls -A "$TMPDIR") in TMPDIR"
[ ! -e "$T/big.json" ] || fail "SIGINT left an SBOM"
rm -f big.raw

# run archives: a manifest at / or .. would make every member absolute or outside
h=$(printf 'hello\n' | sha256sum | cut -d' ' -f1)
arch() { out=$1; shift; $gen tar "$out.tar" "$@" && zstd -q --rm -f "$out.tar" -o "$out"; }
arch ok.tar.zst "run/MANIFEST.sha256=$h  x\\n" "run/x=hello\\n"
contained 0 "$KILN" archive --verify ok.tar.zst
expect_in "$T/out" "kiln archive: ok.tar.zst: 1 files match the manifest"
expect_in "$T/err" "the signature was not checked"   # without -p the manifest proves no origin
arch empty.tar.zst "run/MANIFEST.sha256="
contained 1 "$KILN" archive --verify empty.tar.zst
expect_in "$T/err" "its manifest lists no file"
arch abs.tar.zst "/MANIFEST.sha256=$h  x\\n" "/x=hello\\n"
contained 1 "$KILN" archive --verify abs.tar.zst
expect_err "kiln archive: abs.tar.zst: the first member is /MANIFEST.sha256, not <run>/MANIFEST.sha256: not a kiln run archive"
arch up.tar.zst "../MANIFEST.sha256=$h  x\\n" "../x=hello\\n"
contained 1 "$KILN" archive --verify up.tar.zst
expect_err "kiln archive: up.tar.zst: the first member is ../MANIFEST.sha256, not <run>/MANIFEST.sha256: not a kiln run archive"
arch listed.tar.zst "run/MANIFEST.sha256=$h  ../x\\n" "run/../x=hello\\n"
contained 1 "$KILN" archive --verify listed.tar.zst
expect_err "kiln archive: listed.tar.zst: MANIFEST.sha256 line 1 names ../x, which leaves the run directory"
arch member.tar.zst "run/MANIFEST.sha256=$h  x\\n" "run//x=hello\\n"
contained 1 "$KILN" archive --verify member.tar.zst
expect_err "kiln archive: member.tar.zst: member run//x lies outside run/"
# a file x beside x/y (x would be a file and a directory), and names longer than Linux allows
arch both.tar.zst "run/MANIFEST.sha256=$h  x\\n$h  x/y\\n" "run/x=hello\\n" "run/x/y=hello\\n"
contained 1 "$KILN" archive --verify both.tar.zst
expect_err "kiln archive: both.tar.zst: MANIFEST.sha256 lists x as a file and x/y inside it: a name cannot be both a file and a directory"
long=$(printf '%0256d' 0)
arch long.tar.zst "run/MANIFEST.sha256=$h  d/$long\\n" "run/d/$long=hello\\n"
contained 1 "$KILN" archive --verify long.tar.zst
expect_err "kiln archive: long.tar.zst: MANIFEST.sha256 line 1 names a path of 258 bytes (d/00000000000000000000000000000000000000...): the most is 4095, 255 per component"
deep=$(printf 'dd/%.0s' $(seq 1400))x
arch deep.tar.zst "run/MANIFEST.sha256=$h  $deep\\n" "run/$deep=hello\\n"
contained 1 "$KILN" archive --verify deep.tar.zst
expect_in "$T/err" "MANIFEST.sha256 line 1 names a path of 4201 bytes"
# a name of 3 MB in a pax header: libarchive stops at its 1 MiB header limit, memory stays small
python3 -c "
import io, tarfile
with tarfile.open('huge.tar', 'w', format=tarfile.PAX_FORMAT) as t:
    for name, data in (('run/MANIFEST.sha256', b''), ('run/' + 'a/' * 1500000 + 'x', b'x')):
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
" && zstd -q --rm huge.tar -o huge.tar.zst
contained 1 "$KILN" archive --verify huge.tar.zst
expect_err "kiln archive: huge.tar.zst: the archive is corrupt: Special header too large"
exit 0
