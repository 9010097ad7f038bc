#include "util/inroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "util/fs.h"
#include "util/util.h"

/* Deeper than any real tree; bounds the recursion (and the fds it holds) in a removal. */
#define RM_MAX_DEPTH 256

static const char *strip_slashes(const char *rel)
{
    while (*rel == '/') rel++;
    return *rel ? rel : ".";
}

static int openat2_or_walk(int dirfd, const char *rel, int flags, unsigned mode, unsigned long long resolve)
{
    rel = strip_slashes(rel);
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
        .resolve = resolve | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    /* EAGAIN: a concurrent rename raced a ".." lookup; the kernel asks for a retry */
    int tries = 0;
    do fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 64);
    if (fd >= 0) return (int)fd;
    if (errno != ENOSYS) return -errno;
    return inroot_open_walk(dirfd, rel, flags, mode);
}

int inroot_open(int rootfd, const char *rel, int flags, unsigned mode)
{
    return openat2_or_walk(rootfd, rel, flags, mode, RESOLVE_IN_ROOT);
}

int inroot_open_beneath(int dirfd, const char *rel, int flags)
{
    return openat2_or_walk(dirfd, rel, flags, 0, RESOLVE_BENEATH);
}

int inroot_open_walk(int rootfd, const char *rel, int flags, unsigned mode)
{
    _cleanup_free_ char *copy = xstrdup(strip_slashes(rel));
    char *comps[256];
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (streq(c, "..")) return -EXDEV;
        if (streq(c, ".")) continue;
        if (n == ARRAY_SIZE(comps)) return -ENAMETOOLONG;
        comps[n++] = c;
    }
    if (!n) {
        int fd = openat(rootfd, ".", flags | O_CLOEXEC, mode);
        return fd < 0 ? -errno : fd;
    }
    int dfd = rootfd;
    for (size_t i = 0; i + 1 < n; i++) {
        int fd = openat(dfd, comps[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) < 0) e = errno, close(fd), fd = -1;
        else if (fd >= 0 && !S_ISDIR(st.st_mode)) e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR, close(fd), fd = -1;
        if (dfd != rootfd) close(dfd);
        if (fd < 0) return -e;
        dfd = fd;
    }
    int fd = openat(dfd, comps[n - 1], flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int e = errno;
    if (dfd != rootfd) close(dfd);
    return fd < 0 ? -e : fd;
}

int inroot_mkdir_p(int rootfd, const char *rel, unsigned mode)
{
    _cleanup_free_ char *p = xstrdup(strip_slashes(rel));
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if ((p[i] != '/' && p[i]) || p[i - 1] == '/') continue;
        /* p[0..i) names the next directory: its parent is resolved in the tree, it is made there */
        char saved = p[i];
        p[i] = 0;
        char *slash = strrchr(p, '/');
        const char *name = slash ? slash + 1 : p;
        if (slash) *slash = 0;
        int dfd = inroot_open(rootfd, slash ? p : ".", O_PATH | O_DIRECTORY, 0);
        if (slash) *slash = '/';
        int r = dfd;
        if (dfd >= 0) {
            r = !streq(name, ".") && mkdirat(dfd, name, mode) < 0 && errno != EEXIST ? -errno : 0;
            close(dfd);
        }
        p[i] = saved;
        if (r < 0) return r;
    }
    int fd = inroot_open(rootfd, p, O_PATH | O_DIRECTORY, 0);
    if (fd < 0) return fd;
    close(fd);
    return 0;
}

/* Opens the parent of rel in the tree (made if missing) and a fresh temp file in it. */
static int begin_replace(int rootfd, const char *rel, int *dfd, char **base, char **tmp)
{
    _cleanup_free_ char *p = xstrdup(strip_slashes(rel));
    char *slash = strrchr(p, '/');
    const char *name = slash ? slash + 1 : p;
    if (!*name || streq(name, ".") || streq(name, "..")) return -EISDIR;
    if (slash) {
        *slash = 0;
        int r = inroot_mkdir_p(rootfd, p, 0755);
        if (r < 0) return r;
    }
    *dfd = inroot_open(rootfd, slash ? p : ".", O_PATH | O_DIRECTORY, 0);
    if (*dfd < 0) return *dfd;
    for (unsigned k = 0;; k++) {
        /* short, so that a name of NAME_MAX bytes still gets a temp file */
        *tmp = xasprintf(".kiln-%d-%u.tmp", (int)getpid(), k);
        int fd = openat(*dfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *base = xstrdup(name);
            return fd;
        }
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        if (e != EEXIST || k == 100) {
            close(*dfd);
            return -e;
        }
    }
}

static int end_replace(int fd, int dfd, const char *base, char *tmp, int r, unsigned mode, uid_t uid, gid_t gid)
{
    if (r == 0 && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) r = -errno;
    if (r == 0 && fchmod(fd, mode) < 0) r = -errno;
    if (close(fd) < 0 && r == 0) r = -errno;
    if (r == 0 && renameat(dfd, tmp, dfd, base) < 0) r = -errno;
    if (r < 0) unlinkat(dfd, tmp, 0);
    close(dfd);
    free(tmp);
    return r;
}

int inroot_write(int rootfd, const char *rel, const void *data, size_t len, unsigned mode, uid_t uid, gid_t gid)
{
    int dfd;
    _cleanup_free_ char *base = NULL;
    char *tmp = NULL;
    int fd = begin_replace(rootfd, rel, &dfd, &base, &tmp);
    if (fd < 0) return fd;
    return end_replace(fd, dfd, base, tmp, fd_write_all(fd, data, len), mode, uid, gid);
}

int inroot_copy(int rootfd, const char *rel, int srcfd, unsigned mode, uid_t uid, gid_t gid)
{
    int dfd;
    _cleanup_free_ char *base = NULL;
    char *tmp = NULL;
    int fd = begin_replace(rootfd, rel, &dfd, &base, &tmp);
    if (fd < 0) return fd;
    int r = 0;
    char buf[65536];
    for (;;) {
        ssize_t n = read(srcfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        if ((r = fd_write_all(fd, buf, (size_t)n)) < 0) break;
    }
    return end_replace(fd, dfd, base, tmp, r, mode, uid, gid);
}

int inroot_read(int rootfd, const char *rel, size_t max, char **data, size_t *len)
{
    int fd = inroot_open(rootfd, rel, O_RDONLY, 0);
    if (fd < 0) return fd;
    struct sbuf b = {0};
    char buf[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        if (b.len + (size_t)n > max) {
            r = -EFBIG;
            break;
        }
        sbuf_append(&b, buf, (size_t)n);
    }
    close(fd);
    if (r < 0) {
        sbuf_free(&b);
        return r;
    }
    if (len) *len = b.len;
    *data = b.s ? sbuf_steal(&b) : xstrdup("");
    return 0;
}

bool inroot_exists(int rootfd, const char *rel)
{
    int fd = inroot_open(rootfd, rel, O_PATH | O_NOFOLLOW, 0);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* Removes name in dfd; a directory with everything in it, through fds, never following a link. */
static int rm_at(int dfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
    if (depth == RM_MAX_DEPTH) return -ELOOP;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -ENOMEM;
    }
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!streq(e->d_name, ".") && !streq(e->d_name, "..")) {
            int k = rm_at(fd, e->d_name, depth + 1);
            if (k < 0 && r == 0) r = k;
        }
    closedir(d);
    if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0) r = -errno;
    return r;
}

/* Matches comps[0] in the directory dir (resolved in the tree), then the rest below each match;
 * removes the matches of the last component. Returns how many were removed, or the first error. */
static int rm_glob_in(int rootfd, const char *dir, char **comps, size_t n)
{
    int dfd = inroot_open(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0) return dfd == -ENOENT || dfd == -ENOTDIR ? 0 : dfd;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    if (!strpbrk(comps[0], "*?[")) {
        *APPEND(names, nn, cap) = xstrdup(comps[0]);
    } else {
        int fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!d && fd2 >= 0) close(fd2);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (!streq(e->d_name, ".") && !streq(e->d_name, "..") && fnmatch(comps[0], e->d_name, FNM_PERIOD) == 0)
                *APPEND(names, nn, cap) = xstrdup(e->d_name);
        if (d) closedir(d);
    }
    int count = 0, err = 0;
    for (size_t i = 0; i < nn; i++) {
        int r;
        struct stat st;
        if (n > 1) {
            _cleanup_free_ char *sub = xasprintf("%s/%s", dir, names[i]);
            r = rm_glob_in(rootfd, sub, comps + 1, n - 1);
        } else if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = 0;
        } else {
            r = rm_at(dfd, names[i], 0);
            if (r == 0) r = 1;
        }
        if (r < 0 && !err) err = r;
        if (r > 0) count += r;
        free(names[i]);
    }
    free(names);
    close(dfd);
    return err ? err : count;
}

int inroot_rm_glob(int rootfd, const char *pattern)
{
    _cleanup_free_ char *copy = xstrdup(strip_slashes(pattern));
    char *comps[64];
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (n == ARRAY_SIZE(comps) || streq(c, "..")) return -EINVAL;
        if (!streq(c, ".")) comps[n++] = c;
    }
    return n ? rm_glob_in(rootfd, ".", comps, n) : -EINVAL;
}

char *inroot_host_path(int rootfd, const char *rel)
{
    int fd = inroot_open(rootfd, rel, O_PATH, 0);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    char link[64], buf[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n <= 0 || (size_t)n >= sizeof buf - 1) {
        errno = n <= 0 ? e : ENAMETOOLONG;
        return NULL;
    }
    buf[n] = 0;
    return xstrdup(buf);
}
