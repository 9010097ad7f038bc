#include "util/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/strv.h"
#include "util/util.h"

const char *const kiln_cache_entries[] = {"accel-probe", "build", "kselftest", NULL};
/* the entries whose children are caches of their own (build/rootfs-KEY, build/debs) */
static const char *const containers[] = {"build", NULL};

struct inode {
    dev_t dev;
    ino_t ino;
};

struct walk {
    bool dry;
    dev_t dev;          /* the cache directory's filesystem */
    struct inode *seen; /* inodes with more than one link, counted once */
    size_t nseen, cap;
};

static bool in_list(const char *const *l, const char *name)
{
    for (; *l; l++)
        if (streq(*l, name)) return true;
    return false;
}

static void item_fail(struct cache_item *it, int err, const char *path, const char *what)
{
    if (it->err) return;
    it->err = err;
    it->why = xasprintf("%s: %s", path, what ? what : strerror(-err));
}

/* Measures and (unless dry) removes name under the directory at, path being its full name for messages. */
static void walk(struct walk *w, int at, const char *name, const char *path, struct cache_item *it)
{
    struct statx sx;
    if (statx(at, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_INO | STATX_NLINK | STATX_BLOCKS, &sx) < 0)
        return item_fail(it, -errno, path, NULL);
    dev_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    if (S_ISDIR(sx.stx_mode)) {
        if (dev != w->dev || ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)))
            return item_fail(it, -EXDEV, path, "a mount point (left alone: unmount it, then run kiln clean again)");
        it->bytes += sx.stx_blocks * 512;
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (!d) {
            int e = -errno;
            if (fd >= 0) close(fd);
            return item_fail(it, e, path, NULL);
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (streq(e->d_name, ".") || streq(e->d_name, "..")) continue;
            _cleanup_free_ char *sub = path_join(path, e->d_name);
            walk(w, dirfd(d), e->d_name, sub, it);
        }
        closedir(d);
        if (!w->dry && unlinkat(at, name, AT_REMOVEDIR) < 0 && !it->err) item_fail(it, -errno, path, NULL);
        return;
    }
    /* a link removed before drops the count of the rest to 1: look each file up */
    bool counted = false;
    for (size_t i = 0; i < w->nseen && !counted; i++) counted = w->seen[i].dev == dev && w->seen[i].ino == sx.stx_ino;
    if (!counted && sx.stx_nlink > 1) *APPEND(w->seen, w->nseen, w->cap) = (struct inode){dev, sx.stx_ino};
    if (!counted) it->bytes += sx.stx_blocks * 512;
    if (!w->dry && unlinkat(at, name, 0) < 0) item_fail(it, -errno, path, NULL);
}

/* / or $HOME or a parent of it: "kiln clean" there would empty far more than a cache. */
static bool too_wide(const char *real)
{
    if (streq(real, "/")) return true;
    const char *home = getenv("HOME");
    _cleanup_free_ char *rhome = home && *home ? realpath(home, NULL) : NULL;
    if (!rhome) return false;
    size_t n = strlen(real);
    return strncmp(rhome, real, n) == 0 && (rhome[n] == 0 || rhome[n] == '/');
}

static void add_item(struct walk *w, struct cache_report *r, int at, const char *name, const char *path)
{
    struct cache_item *it = APPEND(r->v, r->n, r->cap);
    *it = (struct cache_item){.path = xstrdup(path)};
    walk(w, at, name, path, it);
    r->bytes += it->bytes;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory fd, sorted (for a stable listing); NULL-terminated. */
static char **sorted_names(int fd, size_t *n)
{
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    int dup_fd = dup(fd);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!d) {
        if (dup_fd >= 0) close(dup_fd);
        return xcalloc(1, sizeof *v);
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (!streq(e->d_name, ".") && !streq(e->d_name, "..")) *APPEND(v, *n, cap) = xstrdup(e->d_name);
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_str);
    *APPEND(v, *n, cap) = NULL;
    (*n)--;
    return v;
}

int cache_clean(const char *dir, bool dry_run, struct cache_report *r, char **reterr)
{
    *r = (struct cache_report){.dir = xstrdup(dir)};
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
        struct stat st;
        bool link = lstat(dir, &st) == 0 && S_ISLNK(st.st_mode);
        return err_setf(reterr, link ? -EPERM : -ENOTDIR, "%s is %s: kiln clean follows no symlink (set KILN_CACHE to the directory itself)", dir,
                 link ? "a symlink" : "not a directory");
    }
    if (fd < 0) return err_setf(reterr, -errno, "%s: %s", dir, strerror(errno));
    _cleanup_free_ char *real = realpath(dir, NULL);
    struct stat st;
    if (!real || fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return err_setf(reterr, -e, "%s: %s", dir, strerror(e));
    }
    if (too_wide(real)) {
        close(fd);
        return err_setf(reterr, -EPERM, "the cache directory %s is %s: set KILN_CACHE (or XDG_CACHE_HOME) to a directory of kiln's own", real,
                 streq(real, "/") ? "/" : "$HOME or a parent of it");
    }
    struct walk w = {.dry = dry_run, .dev = st.st_dev};
    size_t n;
    char **names = sorted_names(fd, &n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = path_join(dir, names[i]);
        struct stat es;
        if (!in_list(kiln_cache_entries, names[i])) {
            *APPEND(r->foreign, r->nforeign, r->fcap) = xstrdup(path);
        } else if (in_list(containers, names[i]) && fstatat(fd, names[i], &es, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(es.st_mode)) {
            int sub = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                add_item(&w, r, fd, names[i], path); /* which says why */
            } else {
                size_t m;
                char **kids = sorted_names(sub, &m);
                for (size_t k = 0; k < m; k++) {
                    _cleanup_free_ char *kp = path_join(path, kids[k]);
                    add_item(&w, r, sub, kids[k], kp);
                    free(kids[k]);
                }
                free(kids);
                close(sub); /* the container itself stays, empty */
            }
        } else {
            add_item(&w, r, fd, names[i], path);
        }
        free(names[i]);
    }
    free(names);
    free(w.seen);
    close(fd);
    return 0;
}

void cache_report_free(struct cache_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].path);
        free(r->v[i].why);
    }
    free(r->v);
    strv_free(r->foreign, r->nforeign);
    free(r->dir);
    *r = (struct cache_report){0};
}
