/* The updater's state file and lock (store.h). Plain libc: it is linked into the static
 * updater and into test_updater without kiln's utility library. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STATE_MAX = 64 << 10 };

/* The whole of a small file, NUL-terminated; -EFBIG past STATE_MAX. */
static int slurp(const char *path, char **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    char *buf = malloc(STATE_MAX + 1);
    size_t len = 0;
    int r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        ssize_t n = read(fd, buf + len, STATE_MAX + 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) r = -errno;
        else if (n == 0) break;
        else if ((len += (size_t)n) > STATE_MAX) r = -EFBIG;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = 0;
    *out = buf;
    return 0;
}

int upd_store_open(const char *lock_path, const char *state_path, struct upd_state *s, bool *damaged)
{
    *damaged = false;
    memset(s, 0, sizeof *s);
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) return -errno;
    while (flock(lock, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(lock);
        return -e;
    }
    char *text = NULL;
    int r = slurp(state_path, &text);
    if ((r < 0 && r != -ENOENT) || (r == 0 && upd_state_parse(text, s) < 0)) {
        *damaged = true;
        memset(s, 0, sizeof *s);
    }
    free(text);
    return lock;
}

static int fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return -ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -errno;
    int r = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
    close(fd);
    return r;
}

int upd_write_durable(const char *path, const char *data, size_t len, unsigned mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) return -ENOMEM;
    int fd = mkostemp(tmp, O_CLOEXEC);
    int r = fd < 0 || fchmod(fd, mode & 07777) < 0 ? -errno : 0;
    for (size_t off = 0; r == 0 && off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) r = -errno;
        else off += (size_t)n;
    }
    /* EINVAL: a file system without fsync (nothing more can be done there) */
    if (r == 0 && fsync(fd) < 0 && errno != EINVAL) r = -errno;
    if (fd >= 0 && close(fd) < 0 && r == 0) r = -errno;
    if (r == 0 && rename(tmp, path) < 0) r = -errno;
    if (r < 0 && fd >= 0) unlink(tmp);
    free(tmp);
    return r < 0 ? r : fsync_dir_of(path);
}

int upd_store_save(const char *state_path, const struct upd_state *s)
{
    char *text = upd_state_format(s);
    if (!text) return -ENOMEM;
    const char *slash = strrchr(state_path, '/');
    if (slash && slash != state_path) {
        char *dir = strndup(state_path, (size_t)(slash - state_path));
        int r = dir ? 0 : -ENOMEM;
        if (r == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST) r = -errno;
        free(dir);
        if (r < 0) {
            free(text);
            return r;
        }
    }
    int r = upd_write_durable(state_path, text, strlen(text), 0644);
    free(text);
    return r;
}
