/* Reads files of an uncompressed erofs filesystem where it lies in a disk image (image/erofs.h):
 * the superblock, inodes, flat data and directory blocks, as the kernel's erofs_fs.h lays them
 * out, read through kiln's disk reader at the partition's offset. Every offset and size from the
 * image is checked against the partition before it is read or allocated. */
#include "image/erofs.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "image/disk.h"
#include "image/fs_sink.h"
#include "image/disk_int.h"
#include "util/util.h"

enum {
    SB_OFFSET = 1024,
    SB_SIZE = 128,
    MAGIC = 0xe0f5e1e2,
    SLOT = 32,             /* a nid counts 32-byte slots from the metadata area's start */
    DIRENT = 12,           /* nid (le64), nameoff (le16), file_type, reserved */
    NAME_MAX_LEN = 255,
    /* feature_incompat bits up to XATTR_PREFIXES (0x40): all concern compressed files, chunk
     * maps or extra devices, which the inodes kiln reads do not use; a later bit (48-bit block
     * addresses, ...) may change what the fields read here mean */
    KNOWN_INCOMPAT = 0x7f,
    /* i_format: bit 0 the inode's version, bits 1-3 its data layout */
    LAYOUT_FLAT_PLAIN = 0,
    LAYOUT_FLAT_INLINE = 2,
    MAX_LINKS = 8,
    MAX_DEPTH = 64,
    MAX_TARGET = 4096,
};

struct erofs_ro {
    struct disk *d;
    uint64_t off, len;
    uint64_t read, budget;
    char *mount;
    unsigned blkbits;
    uint64_t blksz, meta; /* block size; the metadata area's start, bytes into the partition */
    uint64_t root;        /* the root directory's nid */
    uint8_t *block;       /* one directory block */
    char *why;
};

/* An inode as far as reading its data needs: its data are the bytes [0, size), the first
 * nfull * blksz of them at plain, the rest (inline layout) at tail, both partition offsets
 * checked to lie inside it. */
struct inode {
    uint64_t nid;
    uint16_t mode;
    uint64_t size, plain, nfull, tail;
};

static int failf(struct erofs_ro *e, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(struct erofs_ro *e, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(&e->why, r, fmt, ap);
    va_end(ap);
    return r;
}

/* n bytes at at (in the partition): -EUCLEAN outside it, -EFBIG past the budget, -EIO when the
 * disk cannot be read; what names the read in the sentence. */
static int rd(struct erofs_ro *e, void *buf, size_t n, uint64_t at, const char *what)
{
    if (at > e->len || n > e->len - at)
        return failf(e, -EUCLEAN, "%s: damaged erofs (%zu bytes at %llu lie past the partition's %llu)", what, n,
                     (unsigned long long)at, (unsigned long long)e->len);
    if (n > e->budget - e->read)
        return failf(e, -EFBIG, "reading %s took kiln past the %llu bytes it reads from this filesystem", what,
                     (unsigned long long)e->budget);
    e->read += n;
    int r = disk_pread(e->d, buf, n, e->off + at);
    if (r < 0) return failf(e, -EIO, "%s: %s", what, disk_strerror(e->d, r));
    return 0;
}

/* The inode nid (erofs_fs.h: erofs_inode_compact / erofs_inode_extended), its data's place
 * checked for the types whose data kiln reads (regular files, directories, links). */
static int load_inode(struct erofs_ro *e, uint64_t nid, const char *path, struct inode *in)
{
    if (nid > (e->len - e->meta) / SLOT)
        return failf(e, -EUCLEAN, "%s: damaged erofs (inode %llu lies past the partition)", path, (unsigned long long)nid);
    uint64_t at = e->meta + nid * SLOT;
    uint8_t b[64];
    int r = rd(e, b, 32, at, path);
    if (r < 0) return r;
    uint16_t fmt = get_le16(b);
    bool ext = fmt & 1;
    if (ext && (r = rd(e, b + 32, 32, at + 32, path)) < 0) return r;
    unsigned layout = (fmt >> 1) & 7;
    if (fmt >> 4) return failf(e, -EOPNOTSUPP, "%s: an erofs inode format kiln does not read (0x%x)", path, fmt);
    uint16_t xcount = get_le16(b + 2);
    uint64_t isize = ext ? 64 : 32, xsize = xcount ? 12 + ((uint64_t)xcount - 1) * 4 : 0;
    *in = (struct inode){.nid = nid, .mode = get_le16(b + 4), .size = ext ? get_le64(b + 8) : get_le32(b + 8)};
    if (!S_ISREG(in->mode) && !S_ISDIR(in->mode) && !S_ISLNK(in->mode)) return 0;
    if (layout != LAYOUT_FLAT_PLAIN && layout != LAYOUT_FLAT_INLINE)
        return failf(e, -EOPNOTSUPP,
                     "%s is stored %s in the erofs image, which kiln does not read (it reads what mkfs.erofs writes "
                     "without -z or --chunksize)",
                     path, layout == 1 || layout == 3 ? "compressed" : layout == 4 ? "in chunks" : "in an unknown layout");
    if (in->size > e->len)
        return failf(e, -EUCLEAN, "%s: damaged erofs (%llu bytes in a %llu-byte partition)", path, (unsigned long long)in->size,
                     (unsigned long long)e->len);
    uint64_t nblocks = (in->size + e->blksz - 1) >> e->blkbits;
    in->nfull = layout == LAYOUT_FLAT_INLINE && nblocks ? nblocks - 1 : nblocks;
    uint64_t blk = get_le32(b + 16), total = e->len >> e->blkbits;
    if (in->nfull && (blk > total || in->nfull > total - blk))
        return failf(e, -EUCLEAN, "%s: damaged erofs (its blocks %llu..%llu lie past the partition)", path, (unsigned long long)blk,
                     (unsigned long long)(blk + in->nfull - 1));
    in->plain = blk << e->blkbits;
    if (nblocks > in->nfull) {
        /* the tail right after the inode and its xattrs, inside one block (erofs.rst: "tail-packing") */
        uint64_t tlen = in->size - (in->nfull << e->blkbits);
        in->tail = at + isize + xsize;
        if (in->tail > e->len || tlen > e->len - in->tail || (in->tail & (e->blksz - 1)) + tlen > e->blksz)
            return failf(e, -EUCLEAN, "%s: damaged erofs (its inline tail of %llu bytes crosses a block or the partition's end)",
                         path, (unsigned long long)tlen);
    }
    return 0;
}

/* n bytes of in's data from pos (pos + n <= size). */
static int read_data(struct erofs_ro *e, const struct inode *in, uint64_t pos, void *buf, size_t n, const char *path)
{
    uint64_t full = in->nfull << e->blkbits;
    uint8_t *p = buf;
    if (pos < full) {
        size_t k = (size_t)MIN((uint64_t)n, full - pos);
        int r = rd(e, p, k, in->plain + pos, path);
        if (r < 0) return r;
        p += k, pos += k, n -= k;
    }
    return n ? rd(e, p, n, in->tail + (pos - full), path) : 0;
}

int erofs_ro_open(struct disk *d, uint64_t off, uint64_t len, const char *mount, uint64_t budget, struct erofs_ro **out,
                  char **reterr)
{
    *out = NULL;
    /* the image's budget: what its other filesystems read counts (as for ext4) */
    if (d->ext4_read >= budget) {
        *reterr = xasprintf("kiln has read %llu bytes of this image's filesystems already, all it reads of one image",
                         (unsigned long long)d->ext4_read);
        return -EFBIG;
    }
    struct erofs_ro *e = xcalloc(1, sizeof *e);
    *e = (struct erofs_ro){.d = d, .off = off, .len = len, .budget = budget - d->ext4_read, .mount = xstrdup(mount)};
    uint8_t sb[SB_SIZE];
    struct inode root;
    int r = rd(e, sb, sizeof sb, SB_OFFSET, "the superblock");
    if (r == 0 && get_le32(sb) != MAGIC) r = failf(e, -EUCLEAN, "no erofs superblock at byte 1024");
    if (r == 0 && (sb[12] < 9 || sb[12] > 16)) r = failf(e, -EUCLEAN, "a block size of 2^%u bytes (erofs uses 2^9 to 2^16)", sb[12]);
    if (r == 0 && (get_le32(sb + 80) & ~(uint32_t)KNOWN_INCOMPAT))
        r = failf(e, -EOPNOTSUPP, "incompatible features 0x%x that kiln does not read", get_le32(sb + 80) & ~(uint32_t)KNOWN_INCOMPAT);
    if (r == 0) {
        e->blkbits = sb[12];
        e->blksz = 1ull << e->blkbits;
        e->meta = (uint64_t)get_le32(sb + 40) << e->blkbits;
        e->root = get_le16(sb + 14);
        if (e->meta >= len) r = failf(e, -EUCLEAN, "the metadata area starts past the partition");
    }
    if (r == 0 && (r = load_inode(e, e->root, "the root directory", &root)) == 0 && !S_ISDIR(root.mode))
        r = failf(e, -EUCLEAN, "the root inode is not a directory");
    if (r < 0) {
        *reterr = xasprintf("not a readable erofs filesystem: %s", e->why);
        erofs_ro_close(e);
        return r;
    }
    e->block = xmalloc(e->blksz);
    *out = e;
    return 0;
}

void erofs_ro_close(struct erofs_ro *e)
{
    if (!e) return;
    e->d->ext4_read += e->read;
    free(e->block);
    free(e->mount);
    free(e->why);
    free(e);
}

const char *erofs_ro_strerror(const struct erofs_ro *e) { return e->why ? e->why : "no error"; }

/* path below mount ("/usr/lib/x" → "/lib/x"), or NULL when it is not under mount */
static const char *below(const struct erofs_ro *e, const char *path)
{
    size_t m = strlen(e->mount);
    if (strncmp(path, e->mount, m) || (path[m] && path[m] != '/')) return NULL;
    return path + m;
}

/* The nid of the entry name in directory dir, or -ENOENT. Each directory block starts with its
 * dirents; the first one's nameoff says how many there are, each name runs to the next one's
 * nameoff (the last to the block's end, less trailing NULs). */
static int dir_find(struct erofs_ro *e, const struct inode *dir, const char *name, const char *path, uint64_t *nid)
{
    size_t want = strlen(name);
    for (uint64_t pos = 0; pos < dir->size; pos += e->blksz) {
        size_t n = (size_t)MIN(e->blksz, dir->size - pos);
        uint8_t *b = e->block;
        int r = read_data(e, dir, pos, b, n, path);
        if (r < 0) return r;
        size_t first = n >= DIRENT ? get_le16(b + 8) : 0;
        if (first < DIRENT || first % DIRENT || first > n)
            return failf(e, -EUCLEAN, "%s: damaged erofs (a directory block of inode %llu has no valid entries)", path,
                         (unsigned long long)dir->nid);
        size_t count = first / DIRENT;
        for (size_t i = 0; i < count; i++) {
            size_t s = get_le16(b + i * DIRENT + 8), end = i + 1 < count ? get_le16(b + (i + 1) * DIRENT + 8) : n;
            if (s < first || end < s || end > n)
                return failf(e, -EUCLEAN, "%s: damaged erofs (a name in a directory block of inode %llu lies outside it)", path,
                             (unsigned long long)dir->nid);
            size_t l = i + 1 < count ? end - s : strnlen((const char *)b + s, end - s);
            if (l > NAME_MAX_LEN)
                return failf(e, -EUCLEAN, "%s: damaged erofs (a %zu-byte name in inode %llu)", path, l, (unsigned long long)dir->nid);
            if (l == want && !memcmp(b + s, name, l)) {
                *nid = get_le64(b + i * DIRENT);
                return 0;
            }
        }
    }
    return failf(e, -ENOENT, "%s: no such file", path);
}

/* path's inode with every symbolic link followed inside the filesystem. */
static int resolve(struct erofs_ro *e, const char *path, struct inode *out)
{
    const char *rel = below(e, path);
    if (!rel) return failf(e, -ENOENT, "%s: not in the filesystem at %s", path, e->mount);
    struct inode stack[MAX_DEPTH + 1];
    size_t depth = 0;
    int r = load_inode(e, e->root, path, &stack[0]);
    char *rest = xstrdup(rel), *cur = rest;
    int links = 0;
    while (r == 0) {
        while (*cur == '/') cur++;
        if (!*cur) break;
        char *slash = strchr(cur, '/');
        if (slash) *slash = 0;
        char *name = cur, *next = slash ? slash + 1 : cur + strlen(cur);
        cur = next;
        if (streq(name, ".")) continue;
        if (streq(name, "..")) {
            if (depth) depth--;
            continue;
        }
        if (!S_ISDIR(stack[depth].mode)) {
            r = failf(e, -ENOENT, "%s: a component is not a directory", path);
            break;
        }
        uint64_t nid = 0;
        struct inode child;
        if ((r = dir_find(e, &stack[depth], name, path, &nid)) < 0 || (r = load_inode(e, nid, path, &child)) < 0) break;
        if (S_ISLNK(child.mode)) {
            if (++links > MAX_LINKS) {
                r = failf(e, -ELOOP, "%s: more than %d symbolic links on the way, or a loop", path, MAX_LINKS);
                break;
            }
            if (child.size > MAX_TARGET || !child.size) {
                r = failf(e, -EUCLEAN, "%s: damaged erofs (a symbolic link of %llu bytes)", path, (unsigned long long)child.size);
                break;
            }
            char target[MAX_TARGET + 1];
            if ((r = read_data(e, &child, 0, target, (size_t)child.size, path)) < 0) break;
            target[child.size] = 0;
            const char *t = target;
            if (target[0] == '/') {
                /* absolute: from the image's root, so only a target under mount is here */
                if (!(t = below(e, target))) {
                    r = failf(e, -ENOENT, "%s: a symbolic link to %s, outside the filesystem at %s", path, target, e->mount);
                    break;
                }
                depth = 0;
            }
            char *joined = xasprintf("%s/%s", t, next);
            free(rest);
            rest = cur = joined;
            continue;
        }
        if (depth == MAX_DEPTH) {
            r = failf(e, -ELOOP, "%s: more than %d directories deep", path, MAX_DEPTH);
            break;
        }
        stack[++depth] = child;
    }
    free(rest);
    if (r == 0) *out = stack[depth];
    return r;
}

/* path's regular file of at most max bytes. */
static int lookup(struct erofs_ro *e, const char *path, uint64_t max, struct inode *in)
{
    int r = resolve(e, path, in);
    if (r < 0) return r;
    if (!S_ISREG(in->mode)) return failf(e, -EINVAL, "%s is not a regular file", path);
    if (in->size > max)
        return failf(e, -EFBIG, "%s holds %llu bytes, more than the %llu kiln reads", path, (unsigned long long)in->size,
                     (unsigned long long)max);
    return 0;
}

int erofs_ro_read(struct erofs_ro *e, const char *path, size_t max, char **text, size_t *len)
{
    struct inode in;
    int r = lookup(e, path, max, &in);
    if (r < 0) return r;
    char *b = xmalloc((size_t)in.size + 1);
    if ((r = read_data(e, &in, 0, b, (size_t)in.size, path)) < 0) {
        free(b);
        return r;
    }
    b[in.size] = 0;
    *text = b;
    if (len) *len = (size_t)in.size;
    return 0;
}

int erofs_ro_copy(struct erofs_ro *e, const char *path, int fd, uint64_t max, uint64_t *size)
{
    struct inode in;
    int r = lookup(e, path, max, &in);
    if (r < 0) return r;
    *size = in.size;
    enum { CHUNK = 1 << 20 };
    char *buf = xmalloc(CHUNK);
    for (uint64_t pos = 0; pos < in.size && r == 0; pos += CHUNK) {
        size_t n = (size_t)MIN((uint64_t)CHUNK, in.size - pos);
        if ((r = read_data(e, &in, pos, buf, n, path)) < 0) break;
        int w = fs_sink_fd(&fd, buf, n);
        if (w < 0) r = failf(e, -EIO, "cannot write the copy of %s: %s", path, strerror(-w));
    }
    free(buf);
    return r;
}
