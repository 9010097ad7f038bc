/* The rootfs archive: a tree written as reproducible pax + zstd through libarchive, and read
 * back, bounded, for the few files inspect and sbom need. */
#include "image/rootfs_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

enum { COPY_BUF = 1 << 16, ZSTD_LEVEL = 9 };

struct writer {
    struct archive *a, *disk;
    struct archive_entry_linkresolver *links;
    const char *root;
    int64_t epoch;
    const struct rootfs_tar_file *extra;
    size_t nextra;
    char *buf;
    char **err;
};

static int werr(struct writer *w, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int werr(struct writer *w, int r, const char *fmt, ...)
{
    if (*w->err) return r;
    va_list ap;
    va_start(ap, fmt);
    *w->err = xvasprintf(fmt, ap);
    va_end(ap);
    return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const struct rootfs_tar_file *extra_at(struct writer *w, const char *rel)
{
    for (size_t i = 0; i < w->nextra; i++)
        if (streq(w->extra[i].path, rel)) return &w->extra[i];
    return NULL;
}

/* What makes an entry depend on the host or the hour rather than on the tree: clamped. */
static void normalize(struct writer *w, struct archive_entry *e)
{
    archive_entry_copy_uname(e, NULL);
    archive_entry_copy_gname(e, NULL);
    archive_entry_set_mtime(e, MIN((int64_t)archive_entry_mtime(e), w->epoch), 0);
    archive_entry_unset_atime(e);
    archive_entry_unset_ctime(e);
    archive_entry_unset_birthtime(e);
}

static int write_header(struct writer *w, struct archive_entry *e)
{
    /* the device and inode numbers only found the hard links; the archive must not carry them */
    archive_entry_set_dev(e, 0);
    archive_entry_set_ino64(e, 0);
    if (archive_write_header(w->a, e) < ARCHIVE_WARN)
        return werr(w, -EIO, "cannot write %s to the archive: %s", archive_entry_pathname(e), archive_error_string(w->a));
    return 0;
}

static int write_data(struct writer *w, int fd, struct archive_entry *e)
{
    int64_t left = archive_entry_size(e);
    while (left > 0) {
        if (kiln_interrupted) return werr(w, -EINTR, "interrupted");
        ssize_t n = read(fd, w->buf, (size_t)MIN(left, (int64_t)COPY_BUF));
        if (n <= 0)
            return werr(w, n < 0 ? -errno : -EIO, "%s/%s %s while it was archived", w->root,
                        archive_entry_pathname(e) + 2, n < 0 ? strerror(errno) : "shrank");
        if (archive_write_data(w->a, w->buf, (size_t)n) != n)
            return werr(w, -EIO, "cannot write the archive: %s", archive_error_string(w->a));
        left -= n;
    }
    return 0;
}

static int write_extra(struct writer *w, const char *name, const struct rootfs_tar_file *x)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, x->mode & 07777);
    archive_entry_set_size(e, (la_int64_t)x->len);
    archive_entry_set_mtime(e, w->epoch, 0);
    int r = write_header(w, e);
    if (r == 0 && x->len && archive_write_data(w->a, x->data, x->len) != (la_ssize_t)x->len)
        r = werr(w, -EIO, "cannot write the archive: %s", archive_error_string(w->a));
    archive_entry_free(e);
    return r;
}

static int walk(struct writer *w, int dirfd, const char *rel);

/* One name of the directory dirfd (rel: its path in the tree, "" for the root). */
static int write_one(struct writer *w, int dirfd, const char *rel, const char *name)
{
    _cleanup_free_ char *crel = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
    _cleanup_free_ char *aname = xasprintf("./%s", crel);
    const struct rootfs_tar_file *x = extra_at(w, crel);
    if (x) return write_extra(w, aname, x);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return werr(w, -errno, "%s/%s: %s", w->root, crel, strerror(errno));
    if (S_ISSOCK(st.st_mode)) return 0;
    int fd = -1;
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0 || fstat(fd, &st) < 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            return werr(w, -e, "%s/%s: %s", w->root, crel, strerror(e));
        }
    }
    _cleanup_free_ char *src = path_join(w->root, crel);
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_pathname(e, aname);
    archive_entry_copy_sourcepath(e, src);
    int r = 0;
    if (archive_read_disk_entry_from_file(w->disk, e, fd, &st) < ARCHIVE_WARN)
        r = werr(w, -EIO, "%s: %s", src, archive_error_string(w->disk));
    if (r == 0) {
        normalize(w, e);
        struct archive_entry *spare = NULL, *out = e;
        if (!S_ISDIR(st.st_mode)) archive_entry_linkify(w->links, &out, &spare);
        /* tar's strategy: the first name of a file carries its data, later names link to it */
        if (out) r = write_header(w, out);
        if (r == 0 && out && S_ISREG(st.st_mode) && !archive_entry_hardlink(out)) r = write_data(w, fd, out);
        if (spare) archive_entry_free(spare);
        if (out && out != e) archive_entry_free(out);
    }
    archive_entry_free(e);
    if (r == 0 && S_ISDIR(st.st_mode)) r = walk(w, fd, crel);
    if (fd >= 0) close(fd);
    return r;
}

static int walk(struct writer *w, int dirfd, const char *rel)
{
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int e = errno;
        if (dfd >= 0) close(dfd);
        return werr(w, -e, "%s/%s: %s", w->root, rel, strerror(e));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) *APPEND(names, n, cap) = xstrdup(de->d_name);
    closedir(d);
    size_t rl = strlen(rel);
    for (size_t i = 0; i < w->nextra; i++) {
        const char *p = w->extra[i].path, *slash = strrchr(p, '/');
        size_t pl = slash ? (size_t)(slash - p) : 0;
        if (pl != rl || strncmp(p, rel, rl)) continue;
        const char *base = slash ? slash + 1 : p;
        bool have = false;
        for (size_t k = 0; k < n && !have; k++) have = streq(names[k], base);
        if (!have) *APPEND(names, n, cap) = xstrdup(base);
    }
    if (n > 1) qsort(names, n, sizeof *names, cmp_str);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) r = write_one(w, dirfd, rel, names[i]);
        free(names[i]);
    }
    free(names);
    return r;
}

int rootfs_tar_write(const char *root, const char *dst, int64_t epoch, const struct rootfs_tar_file *extra,
                     size_t nextra, char **reterr)
{
    *reterr = NULL;
    for (size_t i = 0; i < nextra; i++) {
        _cleanup_free_ char *dir = path_dirname(extra[i].path);
        _cleanup_free_ char *p = path_join(root, streq(dir, ".") ? "" : dir);
        struct stat st;
        if (extra[i].path[0] == '/' || lstat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
            return err_setf(reterr, -ENOENT, "the tree %s has no directory for %s", root, extra[i].path);
        }
    }
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        int e = errno;
        return err_setf(reterr, -e, "%s: %s", root, strerror(e));
    }
    char *tmp = NULL;
    int fd = open_beside(dst, 0644, &tmp);
    if (fd < 0) {
        close(rootfd);
        return err_setf(reterr, fd, "cannot create a file beside %s: %s", dst, strerror(-fd));
    }
    /* libarchive reads names in the calling thread's locale: in C.UTF-8 (built into glibc since
     * 2.35) a UTF-8 name goes into a plain pax "path=" record, which every tar reads; in kiln's
     * C locale it would be marked "hdrcharset=BINARY", which GNU tar warns about. A name that
     * is not UTF-8 is stored as its bytes either way. */
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t prev = utf8 ? uselocale(utf8) : (locale_t)0;
    struct writer w = {.a = archive_write_new(), .disk = archive_read_disk_new(),
                       .links = archive_entry_linkresolver_new(), .root = root, .epoch = epoch, .extra = extra,
                       .nextra = nextra, .buf = xmalloc(COPY_BUF), .err = reterr};
    char level[16];
    snprintf(level, sizeof level, "%d", ZSTD_LEVEL);
    int r = 0;
    /* file flags and sparse maps depend on the host's filesystem, not on the tree */
    if (archive_read_disk_set_behavior(w.disk, ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE) != ARCHIVE_OK ||
        archive_write_set_format_pax(w.a) != ARCHIVE_OK || archive_write_add_filter_zstd(w.a) != ARCHIVE_OK ||
        archive_write_set_filter_option(w.a, "zstd", "compression-level", level) != ARCHIVE_OK ||
        archive_write_open_fd(w.a, fd) != ARCHIVE_OK)
        r = werr(&w, -EIO, "cannot set up the archive writer: %s", archive_error_string(w.a));
    archive_entry_linkresolver_set_strategy(w.links, archive_format(w.a));
    struct stat st;
    if (r == 0 && fstat(rootfd, &st) < 0) r = werr(&w, -errno, "%s: %s", root, strerror(errno));
    if (r == 0) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_pathname(e, "./");
        archive_entry_copy_sourcepath(e, root);
        if (archive_read_disk_entry_from_file(w.disk, e, rootfd, &st) < ARCHIVE_WARN)
            r = werr(&w, -EIO, "%s: %s", root, archive_error_string(w.disk));
        if (r == 0) normalize(&w, e), r = write_header(&w, e);
        archive_entry_free(e);
    }
    if (r == 0) r = walk(&w, rootfd, "");
    if (archive_write_close(w.a) != ARCHIVE_OK && r == 0)
        r = werr(&w, -EIO, "cannot finish %s: %s", tmp, archive_error_string(w.a));
    archive_write_free(w.a);
    archive_read_free(w.disk);
    if (utf8) {
        uselocale(prev);
        freelocale(utf8);
    }
    archive_entry_linkresolver_free(w.links);
    free(w.buf);
    close(rootfd);
    if (r == 0 && fsync(fd) < 0) r = werr(&w, -errno, "cannot write %s: %s", tmp, strerror(errno));
    if (close(fd) < 0 && r == 0) r = werr(&w, -errno, "cannot write %s: %s", tmp, strerror(errno));
    if (r == 0 && rename(tmp, dst) < 0) r = werr(&w, -errno, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
    if (r < 0) unlink(tmp);
    free(tmp);
    return r;
}

struct rootfs_tar_limits rootfs_tar_default_limits(uint64_t file_size)
{
    uint64_t cap = UINT64_MAX / 32;
    return (struct rootfs_tar_limits){.entries = 4u << 20, .bytes = (1ull << 30) + 16 * MIN(file_size, cap),
                                      .path = 4096, .file = 256u << 20, .copied = (64ull << 20) + 4 * MIN(file_size, cap)};
}

bool rootfs_tar_probe(const char *path)
{
    int fd = open_regular(path, false, NULL);
    if (fd < 0) return false;
    uint8_t b[512];
    ssize_t n = pread(fd, b, sizeof b, 0);
    close(fd);
    return (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4)) || (n >= 262 && !memcmp(b + 257, "ustar", 5));
}

/* libarchive sets no message for some damage (an archive cut inside a pax header). */
static const char *read_why(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "the archive is cut short or damaged";
}

/* The member's path without leading "/" and "./": what it unpacks to below the root. */
static const char *member_rel(const char *p)
{
    for (;;) {
        if (*p == '/') p++;
        else if (p[0] == '.' && p[1] == '/') p += 2;
        else return p;
    }
}

/* Copies the member's data to dest/item; *copied counts what every copy wrote. */
static int copy_member(struct archive *a, const char *path, const char *dest, const char *item,
                       const struct rootfs_tar_limits *lim, uint64_t *copied, char **reterr)
{
    _cleanup_free_ char *p = xasprintf("%s%s", dest, item);
    _cleanup_free_ char *dir = path_dirname(p);
    int r = mkdir_p(dir, 0700);
    if (r < 0) {
        return err_setf(reterr, r, "cannot create %s: %s", dir, strerror(-r));
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        return err_setf(reterr, r, "cannot create %s: %s", p, strerror(-r));
    }
    char *buf = xmalloc(COPY_BUF);
    uint64_t total = 0;
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, COPY_BUF)) > 0) {
        total += (uint64_t)n;
        if (kiln_interrupted) r = -EINTR;
        else if (total > lim->file) {
            err_setf(reterr, 0, "%s: %s holds more than the %llu bytes kiln reads of it", path, item,
                             (unsigned long long)lim->file);
            r = -EFBIG;
        } else if ((*copied += (uint64_t)n) > lim->copied) {
            /* a small archive of zeros would otherwise fill TMPDIR with copies */
            err_setf(reterr, 0, "%s: the files kiln copies out of it hold more than %llu bytes (64 MiB + 4 x its size): "
                             "a crafted or damaged archive", path, (unsigned long long)lim->copied);
            r = -EFBIG;
        } else if ((r = file_pwrite_full(fd, buf, (size_t)n, total - (uint64_t)n)) < 0) err_setf(reterr, 0, "cannot write %s: %s", p, strerror(-r));
        if (r < 0) break;
    }
    if (n < 0 && r == 0) {
        err_setf(reterr, 0, "%s: %s: %s", path, item, read_why(a));
        r = -EIO;
    }
    free(buf);
    close(fd);
    if (r < 0) unlink(p); /* a cut copy is not left for the caller to read */
    return r;
}

/* An item's path without its leading "/", and its index in the caller's list. */
struct item_ix {
    const char *rel;
    size_t k;
};

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct item_ix *)a)->rel, ((const struct item_ix *)b)->rel);
}

int rootfs_tar_extract(const char *path, const char *const *items, size_t nitems, const char *dest,
                       const struct rootfs_tar_limits *lim, struct rootfs_tar_info *info, char **reterr)
{
    *reterr = NULL;
    int fd = open_regular(path, false, NULL);
    if (fd < 0) {
        return err_setf(reterr, fd, "cannot open %s: %s", path, fs_strerror(fd));
    }
    struct archive *a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    bool *found = xcalloc(nitems ? nitems : 1, sizeof *found);
    /* sorted once, each member looked up by bisection: a scan of every item per member made an
     * SBOM's copyright files (one item per package) cost members x packages */
    struct item_ix *ix = xcalloc(nitems ? nitems : 1, sizeof *ix);
    for (size_t i = 0; i < nitems; i++) ix[i] = (struct item_ix){items[i] + (items[i][0] == '/'), i};
    qsort(ix, nitems, sizeof *ix, cmp_item);
    uint64_t entries = 0, copied = 0;
    int r = archive_read_open_fd(a, fd, COPY_BUF) == ARCHIVE_OK ? 0 : -EINVAL;
    if (r < 0) err_setf(reterr, 0, "%s: not a tar archive (%s)", path, read_why(a));
    struct archive_entry *e;
    while (r == 0) {
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF) break;
        if (h < ARCHIVE_WARN) {
            r = entries ? -EIO : -EINVAL;
            *reterr = entries ? xasprintf("%s: after %llu entries: %s", path, (unsigned long long)entries, read_why(a))
                           : xasprintf("%s: not a tar archive (%s)", path, read_why(a));
            break;
        }
        uint64_t pos = (uint64_t)archive_filter_bytes(a, 0);
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        const char *name = archive_entry_pathname(e);
        if (kiln_interrupted) r = err_setf(reterr, -EINTR, "interrupted");
        else if (++entries > lim->entries)
            r = err_setf(reterr, -E2BIG, "%s has more than %llu entries: not a root filesystem archive kiln reads", path,
                                         (unsigned long long)lim->entries);
        else if (size < 0 || pos > lim->bytes || (uint64_t)size > lim->bytes - pos)
            r = err_setf(reterr, -E2BIG, "%s expands to more than %llu bytes (1 GiB + 16 x its size): a crafted or "
                                         "damaged archive", path, (unsigned long long)lim->bytes);
        else if (name && strlen(name) > lim->path)
            r = err_setf(reterr, -E2BIG, "%s: entry %llu has a path of %zu bytes, more than %zu", path,
                                         (unsigned long long)entries, strlen(name), lim->path);
        if (r < 0) break;
        size_t k = nitems;
        if (name && archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
            const struct item_ix key = {member_rel(name), 0};
            const struct item_ix *hit = nitems ? bsearch(&key, ix, nitems, sizeof *ix, cmp_item) : NULL;
            if (hit) k = hit->k;
        }
        if (k < nitems) {
            if ((r = copy_member(a, path, dest, items[k], lim, &copied, reterr)) == 0) found[k] = true;
            else if (r == -EINTR && reterr && !*reterr) err_setf(reterr, 0, "interrupted");
        } else if (archive_read_data_skip(a) < ARCHIVE_WARN) {
            r = -EIO;
            err_setf(reterr, 0, "%s: entry %llu: %s", path, (unsigned long long)entries, read_why(a));
        }
    }
    if (info) {
        info->entries = entries;
        info->expanded = (uint64_t)archive_filter_bytes(a, 0);
        info->compression = archive_filter_count(a) > 1 && archive_filter_code(a, 0) == ARCHIVE_FILTER_ZSTD ? "zstd" : "none";
    }
    archive_read_free(a);
    close(fd);
    int n = 0;
    for (size_t i = 0; i < nitems; i++) n += found[i];
    free(found);
    free(ix);
    return r < 0 ? r : n;
}
