#!/usr/bin/env python3
"""Crafted disk images and archives for tests/integration/hostile.sh (formats from public specs:
qemu's docs/interop/qcow2.txt, the VHD specification, UEFI's GPT, POSIX tar).

usage: hostile_images.py one-cluster OUT      256 KiB qcow2 whose 64 GiB all map to one cluster
       hostile_images.py vhd-entries IN OUT   IN (a dynamic VHD kiln wrote) with max_table_entries
                                              0xffffffff, stretched (sparse) past 16 GiB
       hostile_images.py gpt MODE RAW         partition 2 of RAW made backwards|overlap|outside
       hostile_images.py tar OUT NAME=TEXT... a tar with these members, in this order
       hostile_images.py deflate-bomb OUT     ~700 KiB qcow2 of 4096 compressed clusters, each a
                                              ~80-byte deflate stream of 64 KiB (256 MiB in all)
"""
import io
import struct
import sys
import tarfile
import zlib

CLUSTER = 65536


def gpt_header(my_lba, alt_lba, first, last, entries_lba, entries):
    h = bytearray(512)
    h[0:8] = b"EFI PART"
    struct.pack_into("<IIIIQQQQ16sQIII", h, 8, 0x00010000, 92, 0, 0, my_lba, alt_lba, first, last,
                     bytes(range(16)), entries_lba, 128, 128, zlib.crc32(entries))
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h[:92])))
    return h


def one_cluster(out):
    """Every virtual cluster is host cluster 3, which reads as a GPT disk (entries at LBA 64,
    clear of the superblock) whose one partition, from 64 KiB to the end, starts with an ext4
    superblock: before kiln checked the tables, inspect copied all 64 GiB of it to TMPDIR."""
    vsize = 64 << 30
    nsec = vsize // 512
    data = bytearray(CLUSTER)
    data[510:512] = b"\x55\xaa"
    data[446 + 4] = 0xEE
    struct.pack_into("<II", data, 446 + 8, 1, 0xFFFFFFFF)
    entries = bytearray(128 * 128)
    entries[0:16] = bytes.fromhex("AF3DC60F838472478E793D69D8477DE4")  # Linux filesystem data
    entries[16:32] = bytes(range(16, 32))
    struct.pack_into("<QQ", entries, 32, 128, nsec - 34)
    data[64 * 512:64 * 512 + len(entries)] = entries
    data[512:1024] = gpt_header(1, nsec - 1, 34, nsec - 34, 64, bytes(entries))
    sb = 1024  # the partition starts at a cluster boundary: its superblock sits at 1024 of the cluster
    struct.pack_into("<H", data, sb + 56, 0xEF53)
    struct.pack_into("<I", data, sb + 96, 0x40)  # extents: "ext4"
    f = bytearray(4 * CLUSTER)
    struct.pack_into(">IIQIIQIIQ", f, 0, 0x514649FB, 3, 0, 0, 16, vsize, 0, 128, CLUSTER)
    struct.pack_into(">II", f, 96, 4, 104)
    for i in range(128):
        struct.pack_into(">Q", f, CLUSTER + 8 * i, 2 * CLUSTER | 1 << 63)
    for j in range(CLUSTER // 8):
        struct.pack_into(">Q", f, 2 * CLUSTER + 8 * j, 3 * CLUSTER | 1 << 63)
    f[3 * CLUSTER:] = data
    open(out, "wb").write(f)


def vhd_checksum(b, at):
    s = sum(b[:at]) + sum(b[at + 4:])
    return ~s & 0xFFFFFFFF


def vhd_entries(src, out):
    b = bytearray(open(src, "rb").read())
    footer = b[-512:]
    hdr = b[512:1536]
    assert footer[:8] == b"conectix" and hdr[:8] == b"cxsparse"
    struct.pack_into(">I", hdr, 28, 0xFFFFFFFF)
    struct.pack_into(">I", hdr, 36, vhd_checksum(hdr, 36))
    b[512:1536] = hdr
    with open(out, "wb") as f:
        f.write(b[:-512])
        # the table as claimed (2^32-1 entries = 16 GiB) fits in the file: a hole, then the footer
        f.truncate(1536 + 4 * 0xFFFFFFFF + 4096)
        f.seek(0, 2)
        f.write(footer)


def gpt(mode, raw):
    with open(raw, "r+b") as f:
        f.seek(0, 2)
        nsec = f.tell() // 512
        for lba in (1, nsec - 1):
            f.seek(lba * 512)
            h = bytearray(f.read(512))
            first, last, elba = struct.unpack_from("<QQQ", h, 40)[0], struct.unpack_from("<Q", h, 48)[0], struct.unpack_from("<Q", h, 72)[0]
            f.seek(elba * 512)
            arr = bytearray(f.read(128 * 128))
            p1_last = struct.unpack_from("<Q", arr, 40)[0]
            p2 = {"backwards": (50000, 40000), "overlap": (p1_last, p1_last + 100), "outside": (p1_last + 1, last + 1)}[mode]
            struct.pack_into("<QQ", arr, 128 + 32, *p2)
            struct.pack_into("<I", h, 88, zlib.crc32(bytes(arr)))
            struct.pack_into("<I", h, 16, 0)
            struct.pack_into("<I", h, 16, zlib.crc32(bytes(h[:92])))
            f.seek(elba * 512)
            f.write(arr)
            f.seek(lba * 512)
            f.write(h)


def tar(out, members):
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            name, _, text = m.partition("=")
            data = text.replace("\\n", "\n").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def deflate_bomb(out):
    """4096 virtual clusters, each compressed (zlib, raw deflate as qemu writes it) into its own
    128-byte slot: 256 MiB from ~700 KiB, a ratio of about 400."""
    n, slot = 4096, 128
    c = zlib.compressobj(9, zlib.DEFLATED, -12)
    stream = c.compress(b"A" * CLUSTER) + c.flush()
    assert len(stream) <= slot
    l1_off, l2_off, data_off = CLUSTER, 2 * CLUSTER, 3 * CLUSTER
    f = bytearray(data_off + n * slot)
    struct.pack_into(">IIQIIQIIQ", f, 0, 0x514649FB, 3, 0, 0, 16, n * CLUSTER, 0, 1, l1_off)
    struct.pack_into(">II", f, 96, 4, 104)
    struct.pack_into(">Q", f, l1_off, l2_off | 1 << 63)
    csize_shift = 62 - (16 - 8)
    for i in range(n):
        host = data_off + i * slot
        f[host:host + len(stream)] = stream
        struct.pack_into(">Q", f, l2_off + 8 * i, 1 << 62 | 0 << csize_shift | host)  # one sector
    open(out, "wb").write(f)


def main(argv):
    if argv[1] == "one-cluster":
        one_cluster(argv[2])
    elif argv[1] == "vhd-entries":
        vhd_entries(argv[2], argv[3])
    elif argv[1] == "gpt":
        gpt(argv[2], argv[3])
    elif argv[1] == "deflate-bomb":
        deflate_bomb(argv[2])
    elif argv[1] == "tar":
        tar(argv[2], argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
