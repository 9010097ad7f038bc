/* Makes an ext4 image from `mke2fs -d` reproducible: mke2fs copies each file's times from the
 * build tree, and a ctime can only ever be "now" on the build host (an atime whenever the tree
 * was last read). This rewrites ctime (and crtime) of every in-use inode to one timestamp, clamps
 * mtime to it with atime = mtime, and recomputes the inode checksums
 * (metadata_csum: crc32c seeded from the filesystem UUID, as the ext4 disk layout documents). */
#include "image/ext4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "util/util.h"

static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
    if (crc32c_table[1]) return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc32c_table[i] = c;
    }
}

/* The raw Castagnoli CRC without pre/post inversion (ext4's ext4_chksum). */
static uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n--) crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

enum { INCOMPAT_64BIT = 0x80, INCOMPAT_CSUM_SEED = 0x2000, RO_METADATA_CSUM = 0x400, BG_INODE_UNINIT = 1 };

/* One in-use inode (isz bytes, number num): ctime and crtime t, mtime at most t in whole seconds
 * and atime that mtime; with seed (metadata_csum's), its checksum made again. */
static void clamp_inode(uint8_t *ino, uint16_t isz, uint32_t t, const uint32_t *seed, uint32_t num)
{
    put_le32(ino + 0x0c, t);
    uint16_t extra = isz > 128 ? get_le16(ino + 0x80) : 0;
    /* mtime at most t, in whole seconds, and atime the same: what reading or writing the
     * tree did to its times since is not the image's (a build used to walk the whole tree
     * with utimensat before mke2fs for this) */
    int64_t m = (int32_t)get_le32(ino + 0x10);
    if (extra >= 12) m += (int64_t)(get_le32(ino + 0x88) & 3) << 32; /* mtime_extra's epoch bits */
    if (m > (int64_t)t) m = t;
    if (m >= INT32_MIN && m <= INT32_MAX) {
        put_le32(ino + 0x10, (uint32_t)(int32_t)m);
        put_le32(ino + 0x08, (uint32_t)(int32_t)m);
        if (extra >= 12) put_le32(ino + 0x88, 0); /* mtime_extra */
        if (extra >= 16) put_le32(ino + 0x8c, 0); /* atime_extra */
    }
    if (extra >= 8) put_le32(ino + 0x84, 0);            /* ctime_extra */
    if (extra >= 0x18) put_le32(ino + 0x90, t), put_le32(ino + 0x94, 0); /* crtime */
    if (seed) {
        uint8_t le[4];
        put_le32(le, num);
        uint32_t c = crc32c(*seed, le, 4);
        c = crc32c(c, ino + 0x64, 4); /* i_generation */
        put_le16(ino + 0x7c, 0);
        bool hi = extra >= 4;
        if (hi) put_le16(ino + 0x82, 0);
        c = crc32c(c, ino, isz);
        put_le16(ino + 0x7c, (uint16_t)c);
        if (hi) put_le16(ino + 0x82, (uint16_t)(c >> 16));
    }
}

int ext4_clamp_times(const char *path, uint64_t off, uint32_t t, char **reterr)
{
    crc32c_init();
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return err_setf(reterr, -errno, "cannot open %s: %s", path, strerror(errno));
    }
    uint8_t sb[1024];
    int r = file_pread_full(fd, sb, sizeof sb, off + 1024);
    if (r < 0 || get_le16(sb + 56) != 0xef53) {
        close(fd);
        return err_setf(reterr, -EINVAL, "%s is not an ext4 filesystem", path);
    }
    uint32_t inodes_per_group = get_le32(sb + 40), first_data_block = get_le32(sb + 20);
    uint32_t log_bs = get_le32(sb + 24), incompat = get_le32(sb + 96), ro_compat = get_le32(sb + 100);
    uint64_t blocks = get_le32(sb + 4) | (incompat & INCOMPAT_64BIT ? (uint64_t)get_le32(sb + 0x150) << 32 : 0);
    uint32_t blocks_per_group = get_le32(sb + 32);
    uint16_t isz = get_le16(sb + 88);
    uint16_t desc_size = incompat & INCOMPAT_64BIT ? get_le16(sb + 254) : 32;
    if (log_bs > 6 || !inodes_per_group || !blocks_per_group || isz < 128 || isz > 1024 || desc_size < 32 || desc_size > 1024) {
        close(fd);
        return err_setf(reterr, -EINVAL, "%s: unexpected ext4 superblock values", path);
    }
    uint64_t bs = 1024ull << log_bs;
    /* the group descriptors and one group's inode table are read whole: both must fit the file
     * (a damaged superblock could otherwise ask for terabytes) */
    struct stat st;
    uint64_t fsize = fstat(fd, &st) == 0 && (uint64_t)st.st_size > off ? (uint64_t)st.st_size - off : 0;
    uint64_t groups = blocks > first_data_block ? (blocks - first_data_block + blocks_per_group - 1) / blocks_per_group : 0;
    if (!groups || groups > fsize / desc_size || inodes_per_group > fsize / isz) {
        close(fd);
        return err_setf(reterr, -EINVAL, "%s: unexpected ext4 superblock values (%llu groups of %u inodes do not fit the file)", path,
                         (unsigned long long)groups, inodes_per_group);
    }
    bool csum = ro_compat & RO_METADATA_CSUM;
    uint32_t seed = incompat & INCOMPAT_CSUM_SEED ? get_le32(sb + 0x270) : crc32c(~0u, sb + 104, 16);
    uint8_t *desc = xmalloc(groups * desc_size);
    r = file_pread_full(fd, desc, groups * desc_size, off + (first_data_block + 1) * bs);
    uint8_t *table = xmalloc((size_t)inodes_per_group * isz);
    for (uint64_t g = 0; g < groups && r >= 0; g++) {
        const uint8_t *gd = desc + g * desc_size;
        if (get_le16(gd + 0x12) & BG_INODE_UNINIT) continue;
        uint64_t it = get_le32(gd + 8) | (desc_size >= 64 ? (uint64_t)get_le32(gd + 0x28) << 32 : 0);
        if ((r = file_pread_full(fd, table, (size_t)inodes_per_group * isz, off + it * bs)) < 0) break;
        bool dirty = false;
        for (uint32_t i = 0; i < inodes_per_group; i++) {
            uint8_t *ino = table + (size_t)i * isz;
            if (!get_le16(ino)) continue; /* free inode */
            clamp_inode(ino, isz, t, csum ? &seed : NULL, (uint32_t)(g * inodes_per_group + i + 1));
            dirty = true;
        }
        if (dirty) r = file_pwrite_full(fd, table, (size_t)inodes_per_group * isz, off + it * bs);
    }
    free(table);
    free(desc);
    close(fd);
    if (r < 0) err_setf(reterr, 0, "%s: cannot rewrite inode times: %s", path, strerror(-r));
    return r < 0 ? r : 0;
}
