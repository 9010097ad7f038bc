/* Reads files of a squashfs filesystem where it lies in a disk image: libsquashfs does the
 * filesystem (superblock, compressed metadata and data, directories, fragments), through an
 * sqfs_file_t whose bytes come from kiln's disk reader at the partition's offset. Nothing is
 * copied out first. libsquashfs sizes what it allocates from the image (an inode's block list
 * from its file size, a link's target, the fragment table): those sizes are checked here first. */
#include "image/squashfs.h"

#include <errno.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>

#include "image/disk.h"
#include "image/fs_sink.h"
#include "image/disk_int.h"
#include "util/util.h"

/* The partition [off, off+len) of d as libsquashfs's file, and what has been read of it. */
struct part {
    sqfs_file_t file;
    struct disk *d;
    uint64_t off, len;
    uint64_t read, budget;
    int disk_err; /* the disk reader's failure (-errno), 0 when none */
    bool over;    /* the read budget ran out */
};

struct squash_ro {
    struct part p;
    char *mount;
    sqfs_super_t super;
    sqfs_compressor_t *cmp;
    sqfs_meta_reader_t *inodes, *dirs;
    sqfs_data_reader_t *data;
    char *why;
};

/* Out of the partition, over the budget or a disk read error: an error, never bytes from elsewhere. */
static int p_read_at(sqfs_file_t *f, sqfs_u64 at, void *buf, size_t n)
{
    struct part *p = (struct part *)f;
    if (at > p->len || n > p->len - at) return SQFS_ERROR_OUT_OF_BOUNDS;
    if (n > p->budget - p->read) {
        p->over = true;
        return SQFS_ERROR_IO;
    }
    p->read += n;
    int r = disk_pread(p->d, buf, n, p->off + at);
    if (r < 0) {
        p->disk_err = r;
        return SQFS_ERROR_IO;
    }
    return 0;
}

static int p_write_at(sqfs_file_t *f, sqfs_u64 at, const void *buf, size_t n)
{
    (void)f, (void)at, (void)buf, (void)n;
    return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 p_get_size(const sqfs_file_t *f) { return ((const struct part *)f)->len; }

static int p_truncate(sqfs_file_t *f, sqfs_u64 size)
{
    (void)f, (void)size;
    return SQFS_ERROR_UNSUPPORTED;
}

/* embedded in struct squash_ro, freed with it */
static void p_destroy(sqfs_object_t *o) { (void)o; }

/* A libsquashfs error as -errno, with its sentence (naming what) kept for squash_ro_strerror. */
static int fail(struct squash_ro *s, int code, const char *what)
{
    free(s->why);
    if (s->p.over) {
        s->why = xasprintf("reading %s took kiln past the %llu bytes it reads from this filesystem", what,
                           (unsigned long long)s->p.budget);
        return -EFBIG;
    }
    if (s->p.disk_err) {
        s->why = xasprintf("%s: %s", what, disk_strerror(s->p.d, s->p.disk_err));
        return -EIO;
    }
    switch (code) {
    case SQFS_ERROR_NO_ENTRY: s->why = xasprintf("%s: no such file", what); return -ENOENT;
    case SQFS_ERROR_NOT_DIR: s->why = xasprintf("%s: a component is not a directory", what); return -ENOENT;
    case SQFS_ERROR_ALLOC: s->why = xasprintf("%s: out of memory", what); return -ENOMEM;
    case SQFS_ERROR_UNSUPPORTED: s->why = xasprintf("%s: a squashfs feature libsquashfs does not read", what); return -EUCLEAN;
    default: s->why = xasprintf("%s: damaged squashfs (libsquashfs error %d)", what, code); return -EUCLEAN;
    }
}

/* 64 MiB of fragment table at most */
enum { MAX_FRAGMENTS = 1 << 22 };

int squash_ro_open(struct disk *d, uint64_t off, uint64_t len, const char *mount, uint64_t budget, struct squash_ro **out,
                   char **reterr)
{
    *out = NULL;
    /* the image's budget: what its other filesystems read counts (as for ext4) */
    if (d->ext4_read >= budget) {
        *reterr = xasprintf("kiln has read %llu bytes of this image's filesystems already, all it reads of one image",
                         (unsigned long long)d->ext4_read);
        return -EFBIG;
    }
    budget -= d->ext4_read;
    struct squash_ro *s = xcalloc(1, sizeof *s);
    s->p = (struct part){.file = {.base = {.destroy = p_destroy},
                                  .read_at = p_read_at,
                                  .write_at = p_write_at,
                                  .get_size = p_get_size,
                                  .truncate = p_truncate},
                         .d = d,
                         .off = off,
                         .len = len,
                         .budget = budget};
    s->mount = xstrdup(mount);
    int r = sqfs_super_read(&s->super, &s->p.file);
    const sqfs_super_t *sb = &s->super;
    /* the tables in order inside the filesystem, and a fragment table libsquashfs can hold
     * (16 bytes an entry, read whole): a real /usr has tens of thousands */
    if (r == 0 && (sb->bytes_used > len || sb->inode_table_start > sb->directory_table_start ||
                   sb->directory_table_start > sb->bytes_used || sb->fragment_entry_count > MAX_FRAGMENTS))
        r = SQFS_ERROR_OUT_OF_BOUNDS;
    sqfs_compressor_config_t cfg;
    if (r == 0) r = sqfs_compressor_config_init(&cfg, sb->compression_id, sb->block_size, SQFS_COMP_FLAG_UNCOMPRESS);
    if (r == 0) r = sqfs_compressor_create(&cfg, &s->cmp);
    if (r == 0 && !(s->inodes = sqfs_meta_reader_create(&s->p.file, s->cmp, sb->inode_table_start, sb->directory_table_start)))
        r = SQFS_ERROR_ALLOC;
    if (r == 0 && !(s->dirs = sqfs_meta_reader_create(&s->p.file, s->cmp, sb->directory_table_start, sb->bytes_used)))
        r = SQFS_ERROR_ALLOC;
    if (r == 0 && !(s->data = sqfs_data_reader_create(&s->p.file, sb->block_size, s->cmp, 0))) r = SQFS_ERROR_ALLOC;
    if (r == 0) r = sqfs_data_reader_load_fragment_table(s->data, &s->super);
    if (r) {
        int e = fail(s, r, "the superblock and tables");
        *reterr = xasprintf("not a readable squashfs filesystem: %s", s->why);
        squash_ro_close(s);
        return e;
    }
    *out = s;
    return 0;
}

void squash_ro_close(struct squash_ro *s)
{
    if (!s) return;
    s->p.d->ext4_read += s->p.read;
    sqfs_destroy(s->data);
    sqfs_destroy(s->dirs);
    sqfs_destroy(s->inodes);
    sqfs_destroy(s->cmp);
    free(s->mount);
    free(s->why);
    free(s);
}

const char *squash_ro_strerror(const struct squash_ro *s) { return s->why ? s->why : "no error"; }

/* path below mount ("/usr/lib/x" → "lib/x"), or NULL when it is not under mount */
static const char *below(const struct squash_ro *s, const char *path)
{
    size_t m = strlen(s->mount);
    if (strncmp(path, s->mount, m) || (path[m] && path[m] != '/')) return NULL;
    return path + m;
}

enum { MAX_LINKS = 8, MAX_DEPTH = 64, MAX_TARGET = 4096, MAX_ENTRIES = 1 << 20 };

/* The inode at ref (a block of the inode table << 16 | an offset in it), read by libsquashfs
 * once its sizes are known to be ones it can hold: a regular file of at most max bytes (its
 * block list is as long as the file), a link target of at most MAX_TARGET bytes. */
static int read_inode(struct squash_ro *s, uint64_t ref, uint64_t max, const char *path, sqfs_inode_generic_t **out)
{
    uint64_t block = ref >> 16;
    size_t offset = ref & 0xffff;
    uint8_t h[16 + 40];
    int r = sqfs_meta_reader_seek(s->inodes, s->super.inode_table_start + block, offset);
    if (r == 0) r = sqfs_meta_reader_read(s->inodes, h, 16);
    if (r) return fail(s, r, path);
    /* the type-specific fields after the 16-byte common header (squashfs's inode layout) */
    uint16_t type = get_le16(h);
    size_t more = type == SQFS_INODE_FILE ? 16 : type == SQFS_INODE_EXT_FILE ? 40 : (type == SQFS_INODE_SLINK || type == SQFS_INODE_EXT_SLINK) ? 8 : 0;
    if (more && (r = sqfs_meta_reader_read(s->inodes, h + 16, more))) return fail(s, r, path);
    uint64_t size = type == SQFS_INODE_FILE ? get_le32(h + 28) : type == SQFS_INODE_EXT_FILE ? get_le64(h + 24) : 0;
    if (size > max) {
        free(s->why);
        s->why = xasprintf("%s holds %llu bytes, more than the %llu kiln reads", path, (unsigned long long)size,
                           (unsigned long long)max);
        return -EFBIG;
    }
    if ((type == SQFS_INODE_SLINK || type == SQFS_INODE_EXT_SLINK) && get_le32(h + 20) > MAX_TARGET)
        return fail(s, SQFS_ERROR_CORRUPTED, path);
    if ((r = sqfs_meta_reader_read_inode(s->inodes, &s->super, block, offset, out))) return fail(s, r, path);
    return 0;
}

static bool is_dir(const sqfs_inode_generic_t *n) { return n->base.type == SQFS_INODE_DIR || n->base.type == SQFS_INODE_EXT_DIR; }

/* The reference of the inode named name in directory dir, or -ENOENT. */
static int dir_find(struct squash_ro *s, const sqfs_inode_generic_t *dir, const char *name, const char *path, uint64_t *ref)
{
    sqfs_readdir_state_t st;
    int r = sqfs_readdir_state_init(&st, &s->super, dir);
    if (r) return fail(s, r, path);
    size_t n = strlen(name);
    for (size_t i = 0; i < MAX_ENTRIES; i++) {
        sqfs_dir_entry_t *ent = NULL;
        r = sqfs_meta_reader_readdir(s->dirs, &st, &ent, NULL, ref);
        if (r > 0) return fail(s, SQFS_ERROR_NO_ENTRY, path);
        if (r < 0) return fail(s, r, path);
        bool same = (size_t)ent->size + 1 == n && !memcmp(ent->name, name, n);
        sqfs_free(ent);
        if (same) return 0;
    }
    return fail(s, SQFS_ERROR_CORRUPTED, path);
}

/* path's inode with every symbolic link followed inside the filesystem (*out: caller
 * sqfs_free's); a regular file at the end is at most max bytes. */
static int resolve(struct squash_ro *s, const char *path, uint64_t max, sqfs_inode_generic_t **out)
{
    *out = NULL;
    const char *rel = below(s, path);
    if (!rel) return fail(s, SQFS_ERROR_NO_ENTRY, path);
    sqfs_inode_generic_t *stack[MAX_DEPTH + 1];
    size_t depth = 0;
    int e = read_inode(s, s->super.root_inode_ref, 0, path, &stack[0]);
    if (e) return e;
    char *rest = xstrdup(rel), *cur = rest;
    int links = 0;
    while (!e) {
        while (*cur == '/') cur++;
        if (!*cur) break;
        char *slash = strchr(cur, '/');
        if (slash) *slash = 0;
        char *name = cur, *next = slash ? slash + 1 : cur + strlen(cur);
        if (streq(name, ".")) {
            cur = next;
            continue;
        }
        if (streq(name, "..")) {
            if (depth) sqfs_free(stack[depth--]);
            cur = next;
            continue;
        }
        if (!is_dir(stack[depth])) {
            e = fail(s, SQFS_ERROR_NOT_DIR, path);
            break;
        }
        uint64_t ref;
        sqfs_inode_generic_t *child = NULL;
        if ((e = dir_find(s, stack[depth], name, path, &ref)) || (e = read_inode(s, ref, max, path, &child))) break;
        if (child->base.type == SQFS_INODE_SLINK || child->base.type == SQFS_INODE_EXT_SLINK) {
            if (++links > MAX_LINKS) {
                sqfs_free(child);
                free(s->why);
                s->why = xasprintf("%s: more than %d symbolic links on the way, or a loop", path, MAX_LINKS);
                e = -ELOOP;
                break;
            }
            _cleanup_free_ char *target = xstrndup((const char *)child->extra, child->data.slink.target_size);
            sqfs_free(child);
            const char *t = target;
            if (target[0] == '/') {
                /* absolute: from the image's root, so only a target under mount is here */
                if (!(t = below(s, target))) {
                    e = fail(s, SQFS_ERROR_NO_ENTRY, path);
                    break;
                }
                while (depth) sqfs_free(stack[depth--]);
            }
            char *joined = xasprintf("%s/%s", t, next);
            free(rest);
            rest = cur = joined;
            continue;
        }
        if (depth == MAX_DEPTH) {
            sqfs_free(child);
            free(s->why);
            s->why = xasprintf("%s: more than %d directories deep", path, MAX_DEPTH);
            e = -ELOOP;
            break;
        }
        stack[++depth] = child;
        cur = next;
    }
    free(rest);
    if (e) {
        for (size_t i = 0; i <= depth; i++) sqfs_free(stack[i]);
        return e;
    }
    *out = stack[depth];
    for (size_t i = 0; i < depth; i++) sqfs_free(stack[i]);
    return 0;
}

/* path's regular file of at most max bytes: its inode and size. */
static int lookup(struct squash_ro *s, const char *path, uint64_t max, sqfs_inode_generic_t **in, uint64_t *size)
{
    int r = resolve(s, path, max, in);
    if (r < 0) return r;
    if ((*in)->base.type != SQFS_INODE_FILE && (*in)->base.type != SQFS_INODE_EXT_FILE) {
        free(s->why);
        s->why = xasprintf("%s is not a regular file", path);
        r = -EINVAL;
    } else if ((r = sqfs_inode_get_file_size(*in, size))) {
        r = fail(s, r, path);
    } else if (*size > max) {
        free(s->why);
        s->why = xasprintf("%s holds %llu bytes, more than the %llu kiln reads", path, (unsigned long long)*size,
                           (unsigned long long)max);
        r = -EFBIG;
    }
    if (r < 0) sqfs_free(*in), *in = NULL;
    return r;
}

/* Calls put for each piece of the file's size bytes, in order. */
static int read_all(struct squash_ro *s, const char *path, sqfs_inode_generic_t *in, uint64_t size,
                    int (*put)(void *ctx, const void *buf, size_t n), void *ctx)
{
    enum { CHUNK = 1 << 20 };
    char *buf = xmalloc(CHUNK);
    int r = 0;
    for (uint64_t got = 0; got < size && r == 0;) {
        sqfs_s32 n = sqfs_data_reader_read(s->data, in, got, buf, (sqfs_u32)MIN((uint64_t)CHUNK, size - got));
        if (n < 0) r = fail(s, n, path);
        else if (n == 0) r = fail(s, SQFS_ERROR_CORRUPTED, path);
        else if ((r = put(ctx, buf, (size_t)n)) < 0) {
            free(s->why);
            s->why = xasprintf("cannot write the copy of %s: %s", path, strerror(-r));
            r = -EIO;
        } else got += (uint64_t)n;
    }
    free(buf);
    return r;
}

int squash_ro_read(struct squash_ro *s, const char *path, size_t max, char **text, size_t *len)
{
    sqfs_inode_generic_t *in;
    uint64_t size;
    int r = lookup(s, path, max, &in, &size);
    if (r < 0) return r;
    struct fs_mem m = {xmalloc((size_t)size + 1), 0};
    r = read_all(s, path, in, size, fs_sink_mem, &m);
    sqfs_free(in);
    if (r < 0) {
        free(m.p);
        return r;
    }
    m.p[m.n] = 0;
    *text = m.p;
    if (len) *len = m.n;
    return 0;
}

int squash_ro_copy(struct squash_ro *s, const char *path, int fd, uint64_t max, uint64_t *size)
{
    sqfs_inode_generic_t *in;
    int r = lookup(s, path, max, &in, size);
    if (r < 0) return r;
    r = read_all(s, path, in, *size, fs_sink_fd, &fd);
    sqfs_free(in);
    return r;
}
