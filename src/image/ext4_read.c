/* Reads files of an ext4 filesystem where it lies in a disk image: libext2fs does the
 * filesystem, through an io_manager whose blocks come from kiln's disk reader (raw, qcow2, VHD)
 * at the partition's offset. Nothing is copied out first. */
#include "image/ext4.h"

#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <pthread.h>

#include "image/disk.h"
#include "image/fs_sink.h"
#include "image/disk_int.h"
#include "util/util.h"

/* The channel's state: the partition [off, off+len) of d, and what has been read of it. */
struct chan {
    struct disk *d;
    uint64_t off, len;
    uint64_t read, budget;
    int disk_err; /* the disk reader's failure (-errno), 0 when none */
    bool over;    /* the read budget ran out */
};

struct ext4_ro {
    ext2_filsys fs;
    struct chan *c;
    char *why;
};

/* ext2fs_open2 names its device by string: ours is the channel's address. */
static struct chan *chan_of_name(const char *name)
{
    void *p = NULL;
    return sscanf(name, "kiln-disk:%p", &p) == 1 ? p : NULL;
}

static errcode_t ch_open(const char *name, int flags, io_channel *out);

static errcode_t ch_close(io_channel ch)
{
    if (--ch->refcount > 0) return 0;
    free(ch->name);
    free(ch);
    return 0;
}

static errcode_t ch_set_blksize(io_channel ch, int bs)
{
    ch->block_size = bs;
    return 0;
}

/* count > 0 is blocks, count < 0 is bytes (libext2fs's convention). Out of the partition, over
 * the budget or a disk read error: an error, never bytes from elsewhere. */
static errcode_t ch_read64(io_channel ch, unsigned long long block, int count, void *data)
{
    struct chan *c = ch->private_data;
    uint64_t n = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * (uint64_t)ch->block_size;
    if (ch->block_size <= 0 || block > c->len / (uint64_t)ch->block_size) return EXT2_ET_LLSEEK_FAILED;
    uint64_t at = block * (uint64_t)ch->block_size;
    if (n > c->len - at) return EXT2_ET_SHORT_READ;
    if (n > c->budget - c->read) {
        c->over = true;
        return EXT2_ET_SHORT_READ;
    }
    c->read += n;
    int r = disk_pread(c->d, data, (size_t)n, c->off + at);
    if (r < 0) {
        c->disk_err = r;
        return EXT2_ET_SHORT_READ;
    }
    return 0;
}

static errcode_t ch_read(io_channel ch, unsigned long block, int count, void *data)
{
    return ch_read64(ch, block, count, data);
}

static errcode_t ch_write(io_channel ch, unsigned long block, int count, const void *data)
{
    (void)ch, (void)block, (void)count, (void)data;
    return EXT2_ET_RO_FILSYS;
}

static errcode_t ch_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
    (void)ch, (void)block, (void)count, (void)data;
    return EXT2_ET_RO_FILSYS;
}

static errcode_t ch_flush(io_channel ch)
{
    (void)ch;
    return 0;
}

static struct struct_io_manager disk_io = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "kiln disk reader",
    .open = ch_open,
    .close = ch_close,
    .set_blksize = ch_set_blksize,
    .read_blk = ch_read,
    .write_blk = ch_write,
    .flush = ch_flush,
    .read_blk64 = ch_read64,
    .write_blk64 = ch_write64,
};

static errcode_t ch_open(const char *name, int flags, io_channel *out)
{
    struct chan *c = chan_of_name(name);
    if (!c || (flags & IO_FLAG_RW)) return EXT2_ET_BAD_DEVICE_NAME;
    io_channel ch = xcalloc(1, sizeof *ch);
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = &disk_io;
    ch->name = xstrdup(name);
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->private_data = c;
    *out = ch;
    return 0;
}

static void error_table_init(void) { initialize_ext2_error_table(); }

int ext4_ro_open(struct disk *d, uint64_t off, uint64_t len, uint64_t budget, struct ext4_ro **out, char **reterr)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, error_table_init);
    *out = NULL;
    /* budget is the image's: what earlier filesystems of d read counts (128 crafted partitions
     * of 1.4 s and 325 MB each kept kiln inspect busy for 28 s: hostile finding) */
    if (d->ext4_read >= budget) {
        return err_setf(reterr, -EFBIG, "kiln has read %llu bytes of this image's filesystems already, all it reads of one image",
                         (unsigned long long)d->ext4_read);
    }
    budget -= d->ext4_read;
    /* libext2fs sizes the group descriptor table from the superblock before reading it: a
     * superblock larger than its partition, or with more descriptors than the budget, is
     * refused here so that it cannot ask for gigabytes */
    uint8_t sb[1024];
    if (len < 2048) {
        return err_setf(reterr, -EUCLEAN, "too small for an ext4 filesystem");
    }
    int r = disk_pread(d, sb, sizeof sb, off + 1024);
    if (r < 0) {
        return err_setf(reterr, -EIO, "cannot read the disk: %s", disk_strerror(d, r));
    }
    uint32_t log_bs = get_le32(sb + 24), bpg = get_le32(sb + 32), incompat = get_le32(sb + 96);
    uint64_t blocks = get_le32(sb + 4) | (incompat & 0x80 ? (uint64_t)get_le32(sb + 0x150) << 32 : 0);
    uint64_t dsz = incompat & 0x80 ? get_le16(sb + 254) : 32;
    if (get_le16(sb + 56) != 0xef53) {
        return err_setf(reterr, -EUCLEAN, "no ext4 superblock");
    }
    if (log_bs > 6 || !bpg || blocks > len >> (10 + log_bs) || blocks / bpg + 1 > budget / MAX(dsz, 32)) {
        return err_setf(reterr, -EUCLEAN, "the superblock claims %llu blocks of %u bytes (%u a group) in a %llu-byte partition",
                         (unsigned long long)blocks, 1024u << MIN(log_bs, 20u), bpg, (unsigned long long)len);
    }
    struct ext4_ro *e = xcalloc(1, sizeof *e);
    e->c = xcalloc(1, sizeof *e->c);
    *e->c = (struct chan){.d = d, .off = off, .len = len, .budget = budget};
    char name[64];
    snprintf(name, sizeof name, "kiln-disk:%p", (void *)e->c);
    errcode_t ec = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_SOFTSUPP_FEATURES, 0, 0, &disk_io, &e->fs);
    if (ec) {
        r = e->c->disk_err ? -EIO : -EUCLEAN;
        *reterr = e->c->disk_err ? xasprintf("cannot read the disk: %s", disk_strerror(d, e->c->disk_err))
                              : xasprintf("not a readable ext4 filesystem: %s", error_message(ec));
        free(e->c);
        free(e);
        return r;
    }
    *out = e;
    return 0;
}

void ext4_ro_close(struct ext4_ro *e)
{
    if (!e) return;
    ext2fs_close_free(&e->fs);
    e->c->d->ext4_read += e->c->read;
    free(e->c);
    free(e->why);
    free(e);
}

const char *ext4_ro_strerror(const struct ext4_ro *e) { return e->why ? e->why : "no error"; }

/* A libext2fs error as -errno, with its sentence kept for ext4_ro_strerror. */
static int fail(struct ext4_ro *e, errcode_t ec, const char *path)
{
    free(e->why);
    if (e->c->over) {
        e->why = xasprintf("reading %s took kiln past the %llu bytes it reads from this filesystem", path,
                           (unsigned long long)e->c->budget);
        return -EFBIG;
    }
    if (e->c->disk_err) {
        e->why = xasprintf("%s: %s", path, disk_strerror(e->c->d, e->c->disk_err));
        return -EIO;
    }
    e->why = xasprintf("%s: %s", path, error_message(ec));
    if (ec == EXT2_ET_FILE_NOT_FOUND || ec == EXT2_ET_NO_DIRECTORY) return -ENOENT;
    if (ec == EXT2_ET_SYMLINK_LOOP) return -ELOOP;
    return ec > 0 && ec < 4096 ? -(int)ec : -EUCLEAN;
}

/* path's inode with every symbolic link followed inside the filesystem, which must be a
 * regular file of at most max bytes. */
static int lookup(struct ext4_ro *e, const char *path, uint64_t max, ext2_ino_t *ino, struct ext2_inode *in, uint64_t *size)
{
    errcode_t ec = ext2fs_namei_follow(e->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
    if (!ec) ec = ext2fs_read_inode(e->fs, *ino, in);
    if (ec) return fail(e, ec, path);
    if (!LINUX_S_ISREG(in->i_mode)) {
        free(e->why);
        e->why = xasprintf("%s is not a regular file", path);
        return -EINVAL;
    }
    *size = EXT2_I_SIZE(in);
    if (*size > max) {
        free(e->why);
        e->why = xasprintf("%s holds %llu bytes, more than the %llu kiln reads", path, (unsigned long long)*size,
                           (unsigned long long)max);
        return -EFBIG;
    }
    return 0;
}

/* Calls put for each piece of the file's size bytes, in order. */
static int read_all(struct ext4_ro *e, const char *path, ext2_ino_t ino, struct ext2_inode *in, uint64_t size,
                    int (*put)(void *ctx, const void *buf, size_t n), void *ctx)
{
    ext2_file_t f;
    errcode_t ec = ext2fs_file_open2(e->fs, ino, in, 0, &f);
    if (ec) return fail(e, ec, path);
    enum { CHUNK = 1 << 20 };
    char *buf = xmalloc(CHUNK);
    int r = 0;
    for (uint64_t got = 0; got < size && r == 0;) {
        unsigned n = 0;
        ec = ext2fs_file_read(f, buf, (unsigned)MIN((uint64_t)CHUNK, size - got), &n);
        if (ec) r = fail(e, ec, path);
        else if (!n) r = fail(e, EXT2_ET_SHORT_READ, path);
        else if ((r = put(ctx, buf, n)) < 0) {
            free(e->why);
            e->why = xasprintf("cannot write the copy of %s: %s", path, strerror(-r));
        } else got += n;
    }
    free(buf);
    ext2fs_file_close(f);
    return r;
}

int ext4_ro_read(struct ext4_ro *e, const char *path, size_t max, char **text, size_t *len)
{
    ext2_ino_t ino;
    struct ext2_inode in;
    uint64_t size;
    int r = lookup(e, path, max, &ino, &in, &size);
    if (r < 0) return r;
    struct fs_mem m = {xmalloc((size_t)size + 1), 0};
    if ((r = read_all(e, path, ino, &in, size, fs_sink_mem, &m)) < 0) {
        free(m.p);
        return r;
    }
    m.p[m.n] = 0;
    *text = m.p;
    if (len) *len = m.n;
    return 0;
}

int ext4_ro_copy(struct ext4_ro *e, const char *path, int fd, uint64_t max, uint64_t *size)
{
    ext2_ino_t ino;
    struct ext2_inode in;
    int r = lookup(e, path, max, &ino, &in, size);
    if (r < 0) return r;
    return read_all(e, path, ino, &in, *size, fs_sink_fd, &fd);
}
