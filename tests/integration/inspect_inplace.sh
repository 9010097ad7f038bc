#!/bin/sh
# kiln inspect and kiln sbom read ext4 filesystems where they lie in the disk image (libext2fs
# over kiln's disk reader), and a squashfs or erofs /usr too (libsquashfs, kiln's erofs reader;
# the immutable layout's), in
# raw, qcow2 and VHD alike: with TMPDIR a 16 MiB tmpfs they work on
# an image holding 300 MiB of data (they used to copy the whole partition there first: ~2 GB
# written for the example image), and all kiln and its children write() adds up to less than
# 16 MiB (/proc/PID/io's wchar of the shell that waited for them). What they read is what
# debugfs, another reader, finds in the same filesystems: a made image and the stock Debian one
# (tests/images/stock.sh, built or taken from the cache).
. "$(dirname "$0")/lib.sh"
for t in mke2fs sgdisk debugfs qemu-img mksquashfs mkfs.erofs; do
    command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skip: mounting a tmpfs for TMPDIR needs root"; exit 77; }
mount -t tmpfs -o size=16m kiln-inplace "$TMPDIR" || { echo "skip: cannot mount a tmpfs"; exit 77; }
trap 'rc=$?; umount "$TMPDIR"; dump_consoles $rc; rm -rf "$T"' EXIT
max_written=$((16 << 20))

# written NAME CMD...: runs CMD; $T/NAME.out and .err get its output, and its wchar (bytes
# written by it and its children, output files included) must stay under max_written
written() {
    name=$1; shift
    sh -c '"$@" > "$0.out" 2> "$0.err"; echo "rc=$? $(grep wchar /proc/$$/io)"' "$T/$name" "$@" > "$T/$name.io"
    rc=$(sed -n 's/^rc=\([0-9]*\).*/\1/p' "$T/$name.io") w=$(sed -n 's/.*wchar: //p' "$T/$name.io")
    [ "$rc" = 0 ] || { cat "$T/$name.err" >&2; fail "$name: $* exited $rc"; }
    [ "$w" -lt "$max_written" ] || fail "$name: $* wrote $w bytes (at most $max_written expected)"
    note "$name: $w bytes written"
    [ -z "$(ls -A "$TMPDIR")" ] || fail "$name: left $(ls -A "$TMPDIR") in TMPDIR"
}

# an ext4 partition at 1 MiB of a 512 MiB GPT disk: os-release (a link in /etc), two packages
# with their copyright files, and 300 MiB of incompressible data the tools must not copy
mkdir -p tree/usr/lib tree/etc tree/var/lib/dpkg tree/usr/share/doc/hello tree/usr/share/doc/zed tree/srv
printf 'ID=inplace\nVERSION_ID=3\nPRETTY_NAME="In Place 3"\n' > tree/usr/lib/os-release
ln -s ../usr/lib/os-release tree/etc/os-release
printf 'Package: hello\nStatus: install ok installed\nVersion: 2.10-3\nArchitecture: amd64\n\nPackage: zed\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n\n' \
    > tree/var/lib/dpkg/status
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-3+\n' \
    > tree/usr/share/doc/hello/copyright
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n' \
    > tree/usr/share/doc/zed/copyright
head -c 300M /dev/urandom > tree/srv/data
truncate -s 512M disk.raw
sgdisk -n 1:2048:0 disk.raw > /dev/null || fail "sgdisk"
mke2fs -q -F -t ext4 -E offset=1048576 -d tree disk.raw 500M || fail "mke2fs"
"$KILN" convert disk.raw disk.qcow2 > /dev/null 2>&1 || fail "kiln convert to qcow2"
"$KILN" convert disk.raw disk.vhd --format vhd > /dev/null 2>&1 || fail "kiln convert to vhd"
dd if=disk.raw of=fs.img bs=1M skip=1 status=none
for img in disk.raw disk.qcow2 disk.vhd; do
    written "$img.inspect" "$KILN" inspect --json "$img"
    expect_jq "$T/$img.inspect.out" '.os_release.PRETTY_NAME' "In Place 3"
    expect_jq "$T/$img.inspect.out" '.partitions[0].filesystem.type' ext4
    SOURCE_DATE_EPOCH=1700000000 written "$img.sbom" "$KILN" sbom "$img" -f spdx -o "$img.spdx.json"
    expect_jq "$img.spdx.json" '[.packages[1:][] | "\(.name)=\(.versionInfo)=\(.licenseDeclared)"] | join(",")' \
        "hello=2.10-3=GPL-3.0-or-later,zed=1.0=MIT"
done
cmp disk.raw.spdx.json disk.qcow2.spdx.json > /dev/null && cmp disk.raw.spdx.json disk.vhd.spdx.json > /dev/null &&
    fail "the SBOMs of different files are identical: they should differ in the image's checksum"
for img in disk.qcow2 disk.vhd; do
    jq 'del(.creationInfo, .documentNamespace, .packages[0].checksums, .packages[0].packageFileName, .packages[0].SPDXID, .relationships, .documentDescribes)' "$img.spdx.json" > a.json
    jq 'del(.creationInfo, .documentNamespace, .packages[0].checksums, .packages[0].packageFileName, .packages[0].SPDXID, .relationships, .documentDescribes)' disk.raw.spdx.json > b.json
    cmp -s a.json b.json || { diff a.json b.json | head -20; fail "$img: the SBOM's packages differ from the raw disk's"; }
done

# the immutable layout with /usr as squashfs (kiln build's usr_filesystem: squashfs) or erofs
# (its default, made as kiln build runs mkfs.erofs): os-release and the copyright files come from
# the /usr partition, the dpkg database from the root one; the 300 MiB in /usr are not copied
# (the partition was copied to TMPDIR for unsquashfs / dump.erofs before)
mkdir -p usr/lib usr/share/doc/hello root/var/lib/dpkg root/etc root/usr
cp tree/usr/lib/os-release usr/lib/os-release
cp tree/usr/share/doc/hello/copyright usr/share/doc/hello/copyright
ln -s hello usr/share/doc/zed   # a doc directory linked to its sibling, as Debian has them
ln tree/srv/data usr/data
cp tree/var/lib/dpkg/status root/var/lib/dpkg/status
ln -s ../usr/lib/os-release root/etc/os-release
mksquashfs usr usr.squashfs -noappend -quiet -no-progress > /dev/null || fail "mksquashfs"
mkfs.erofs --quiet -T1700000000 -U0c0ffee0-0000-4000-8000-000000000001 usr.erofs usr || fail "mkfs.erofs"
mke2fs -q -F -t ext4 -d root root.ext4 16M || fail "mke2fs of the root"
rm -rf usr root
for fs in squashfs erofs; do
    truncate -s 400M imm.raw
    sgdisk -n 1:2048:+330M -t 1:8484680C-9521-48C6-9C11-B0720656F69E -n 2:0:+16M -t 2:4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 \
        imm.raw > /dev/null || fail "sgdisk"
    dd if=usr.$fs of=imm.raw bs=1M seek=1 conv=notrunc status=none
    dd if=root.ext4 of=imm.raw bs=512 seek="$(sgdisk -i 2 imm.raw | sed -n 's/^First sector: \([0-9]*\).*/\1/p')" conv=notrunc status=none
    "$KILN" convert imm.raw imm.qcow2 > /dev/null 2>&1 || fail "kiln convert to qcow2"
    for img in imm.raw imm.qcow2; do
        written "$fs.$img.inspect" "$KILN" inspect --json "$img"
        expect_jq "$T/$fs.$img.inspect.out" '"\(.partitions[0].filesystem.type) \(.os_release.PRETTY_NAME)"' "$fs In Place 3"
        written "$fs.$img.sbom" "$KILN" sbom "$img" -f spdx -o "$img.spdx.json"
        expect_jq "$img.spdx.json" '[.packages[1:][] | "\(.name)=\(.versionInfo)=\(.licenseDeclared)"] | join(",")' \
            "hello=2.10-3=GPL-3.0-or-later,zed=1.0=GPL-3.0-or-later"
    done
    rm -f imm.raw imm.qcow2 usr.$fs
done
rm -f root.ext4

# the stock Debian image (a whole-disk ext4 in qcow2): os-release, every installed package and
# the licenses kiln reads in place are what debugfs reads from a raw copy of it
images=$(sh "$KILN_ROOT/tests/images/build.sh" stock-networkd) || fail "cannot build the stock-networkd image"
written stock.inspect "$KILN" inspect --json "$images/disk.qcow2"
written stock.sbom "$KILN" sbom "$images/disk.qcow2" -f spdx -o stock.spdx.json
qemu-img convert -O raw "$images/disk.qcow2" stock.raw || fail "qemu-img convert"
debugfs -R "cat /usr/lib/os-release" stock.raw 2>/dev/null | sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' > want-pretty.txt
expect_jq "$T/stock.inspect.out" '.os_release.PRETTY_NAME' "$(cat want-pretty.txt)"
[ -s want-pretty.txt ] || fail "debugfs found no PRETTY_NAME in the stock image"
debugfs -R "cat /var/lib/dpkg/status" stock.raw 2>/dev/null |
    awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Status: .* installed$/{i=1} /^$/{if (i) print p "=" v; i=0}' | sort -u > want-pkgs.txt
jq -r '.packages[1:][] | "\(.name)=\(.versionInfo)"' stock.spdx.json | sort -u > got-pkgs.txt
[ "$(wc -l < want-pkgs.txt)" -gt 100 ] || fail "debugfs listed only $(wc -l < want-pkgs.txt) packages"
diff want-pkgs.txt got-pkgs.txt > /dev/null || { diff want-pkgs.txt got-pkgs.txt | head; fail "the stock SBOM lists other packages than debugfs"; }
# each package's license as kiln makes it from the same files read by debugfs into a rootfs
# archive (kiln sbom reads those with libarchive): /usr/share/doc/NAME links to a sibling are
# followed in the image, so the archive gets a copy of the sibling there
mkdir -p ref/usr/share ref/var/lib ref/usr/lib
debugfs -R "rdump /usr/share/doc ref/usr/share" stock.raw 2>/dev/null
debugfs -R "rdump /var/lib/dpkg ref/var/lib" stock.raw 2>/dev/null
debugfs -R "dump /usr/lib/os-release ref/usr/lib/os-release" stock.raw 2>/dev/null
for l in ref/usr/share/doc/*; do
    [ -L "$l" ] || continue
    t=$(readlink "$l")
    case $t in */*) fail "$l links to $t: not a sibling" ;; esac
    rm "$l" && cp -r "ref/usr/share/doc/$t" "$l"
done
(cd ref && tar cf ../ref.tar usr var) || fail "tar"
"$KILN" sbom ref.tar -f spdx -o ref.spdx.json 2> /dev/null || fail "kiln sbom of the debugfs copy"
jq -S '[.packages[1:][] | {name, versionInfo, licenseDeclared}]' ref.spdx.json > want-lic.json
jq -S '[.packages[1:][] | {name, versionInfo, licenseDeclared}]' stock.spdx.json > got-lic.json
cmp -s want-lic.json got-lic.json || { diff want-lic.json got-lic.json | head -20; fail "the stock SBOM's licenses differ from those of debugfs's copy"; }
[ "$(jq '[.[] | select(.licenseDeclared != "NOASSERTION")] | length' got-lic.json)" -gt 100 ] ||
    fail "fewer than 100 stock packages have a license"
note "stock: $(wc -l < got-pkgs.txt) packages, as debugfs lists them"
exit 0
