#include "util/fs.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "util/secret.h"
#include "util/util.h"

/* mkdir that takes an existing directory (or a symlink to one) as done: EEXIST alone says
 * only that a name is taken, and a file there would make every later path under it fail with
 * ENOTDIR far from here (kiln build once ran all its stages before its output failed so). */
static int mkdir_one(const char *p, unsigned mode)
{
    if (mkdir(p, mode) == 0) return 0;
    if (errno != EEXIST) return -errno;
    struct stat st;
    if (stat(p, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return errno = ENOTDIR, -ENOTDIR;
    return 0;
}

int mkdir_p(const char *path, unsigned mode)
{
    if (!*path) return errno = ENOENT, -ENOENT; /* as mkdir("") says */
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        int r = mkdir_one(p, mode);
        if (r < 0) return r;
        *s = '/';
    }
    return mkdir_one(p, mode);
}

int fd_copy_sparse(int in, int out, uint64_t max, uint64_t *copied, bool *on_write)
{
    enum { BUF = 1 << 20, BLOCK = 4096 };
    uint8_t *buf = xmalloc(BUF);
    uint64_t total = 0;
    int r = 0;
    bool w = false;
    for (;;) {
        ssize_t n = read(in, buf, BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0) break;
        if ((total += (uint64_t)n) > max) {
            r = -EFBIG;
            break;
        }
        for (ssize_t off = 0; off < n && r == 0; off += BLOCK) {
            size_t len = (size_t)MIN((ssize_t)BLOCK, n - off);
            const uint8_t *b = buf + off;
            if (b[0] == 0 && !memcmp(b, b + 1, len - 1)) {
                if (lseek(out, (off_t)len, SEEK_CUR) < 0) r = -errno, w = true;
            } else if (fd_write_all(out, b, len) < 0) {
                r = -errno, w = true;
            }
        }
        if (r < 0) break;
    }
    free(buf);
    if (r == 0 && ftruncate(out, (off_t)total) < 0) r = -errno, w = true;
    if (copied) *copied = total;
    if (on_write) *on_write = w;
    return r;
}

int fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (streq(e->d_name, ".") || streq(e->d_name, "..")) continue;
            _cleanup_free_ char *c = path_join(path, e->d_name);
            rm_rf(c);
        }
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
    }
    return unlink(path) < 0 ? -errno : 0;
}

int open_beside(const char *path, unsigned mode, char **tmp)
{
    struct stat st;
    *tmp = NULL;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return -EEXIST;
    char *t = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(t, O_CLOEXEC);
    if (fd < 0 || fchmod(fd, mode & 07777) < 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(t);
        }
        free(t);
        return -e;
    }
    *tmp = t;
    return fd;
}

int write_file_atomic(const char *path, const char *data, size_t len, unsigned mode)
{
    _cleanup_free_ char *tmp = NULL;
    int fd = open_beside(path, mode, &tmp);
    if (fd < 0) return fd;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int open_regular(const char *path, bool nofollow, struct stat *stp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) return -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : !S_ISREG(st.st_mode) ? -ENOTREG : 0;
    int fl = r ? -1 : fcntl(fd, F_GETFL);
    if (!r && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    if (stp) *stp = st;
    return fd;
}

const char *fs_strerror(int r)
{
    return r == -ENOTREG ? "not a regular file (a FIFO, device or socket)" : strerror(-r);
}

char *fs_open_error(const char *path, int r, const char *fix)
{
    struct stat st;
    const char *kind = NULL;
    if (r == -ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) kind = "a symbolic link";
    else if ((r == -ENOTREG || r == -EISDIR) && stat(path, &st) == 0)
        kind = S_ISFIFO(st.st_mode)  ? "a FIFO"
               : S_ISSOCK(st.st_mode) ? "a socket"
               : S_ISCHR(st.st_mode)  ? "a character device"
               : S_ISBLK(st.st_mode)  ? "a block device"
               : S_ISDIR(st.st_mode)  ? "a directory"
                                      : NULL;
    if (!kind) return xasprintf("cannot read %s: %s", path, fs_strerror(r));
    return xasprintf("%s is %s, not a regular file%s%s", path, kind, fix ? ": " : "", fix ? fix : "");
}

int read_file(const char *path, size_t max, char **data, size_t *lenp)
{
    return read_regular(path, false, max, data, lenp);
}

int read_regular(const char *path, bool nofollow, size_t max, char **data, size_t *lenp)
{
    int fd = open_regular(path, nofollow, NULL);
    if (fd < 0) return fd;
    struct sbuf b = {0};
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            sbuf_free(&b);
            return -e;
        }
        if (n == 0) break;
        if (b.len + (size_t)n > max) {
            close(fd);
            sbuf_free(&b);
            return -EFBIG;
        }
        sbuf_append(&b, buf, (size_t)n);
    }
    close(fd);
    if (lenp) *lenp = b.len;
    *data = sbuf_steal(&b);
    return 0;
}

char *path_join(const char *a, const char *b)
{
    if (!a || !*a || b[0] == '/') return xstrdup(b);
    return xasprintf("%s%s%s", a, endswith(a, "/") ? "" : "/", b);
}

char *path_dirname(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return xstrdup(".");
    if (s == path) return xstrdup("/");
    return xstrndup(path, (size_t)(s - path));
}

/* Lexical clean-up: drops "." and empty segments, folds "x/.." (never above the start). */
static char *path_normalize(const char *p)
{
    bool abs = p[0] == '/';
    _cleanup_free_ char *copy = xstrdup(p);
    char *segs[256];
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (streq(s, ".")) continue;
        if (streq(s, "..") && n > 0 && !streq(segs[n - 1], "..")) {
            n--;
            continue;
        }
        if (streq(s, "..") && abs) continue;
        if (n < ARRAY_SIZE(segs)) segs[n++] = s;
    }
    struct sbuf b = {0};
    if (abs) sbuf_puts(&b, "/");
    for (size_t i = 0; i < n; i++) sbuf_printf(&b, "%s%s", i ? "/" : "", segs[i]);
    if (!b.len) sbuf_puts(&b, ".");
    return sbuf_steal(&b);
}

char *path_resolve(const char *base_dir, const char *p)
{
    _cleanup_free_ char *joined = NULL;
    if (startswith(p, "~/")) {
        const char *home = getenv("HOME");
        joined = path_join(home ? home : "/", p + 2);
    } else {
        joined = path_join(base_dir, p);
    }
    return path_normalize(joined);
}

bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int symlink_replace(const char *target, const char *link)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", link, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) < 0) return -errno;
    if (rename(tmp, link) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

static char *exe_dir(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    return path_dirname(exe);
}

char *kiln_data_path(const char *name)
{
    const char *env = getenv("KILN_DATA_DIR");
    if (env && *env) return path_join(env, name);
    _cleanup_free_ char *dir = exe_dir();
    if (dir) {
        _cleanup_free_ char *share = path_join(dir, "../share/kiln");
        char *p = path_join(share, name);
        if (file_exists(p)) return p;
        free(p);
    }
    return path_join(KILN_SOURCE_DATA_DIR, name);
}

char *kiln_cache_path(const char *name)
{
    const char *kc = getenv("KILN_CACHE");
    if (kc && *kc) return path_join(kc, name);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    _cleanup_free_ char *base = xdg && *xdg ? xstrdup(xdg) : path_join(home && *home ? home : "/tmp", ".cache");
    _cleanup_free_ char *kiln = path_join(base, "kiln");
    return path_join(kiln, name);
}

char *kiln_guest_file_path(const char *name)
{
    _cleanup_free_ char *dir = exe_dir();
    _cleanup_free_ char *libexec = path_join("../libexec/kiln", name);
    if (dir) {
        const char *rel[] = {name, libexec};
        for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
            char *p = path_join(dir, rel[i]);
            if (file_exists(p)) return p;
            free(p);
        }
    }
    _cleanup_free_ char *build = path_dirname(KILN_GUEST_BUILD_PATH);
    return path_join(build, name);
}

char *kiln_guest_helper_path(void)
{
    const char *env = getenv("KILN_GUEST_HELPER");
    if (env && *env) return xstrdup(env);
    return kiln_guest_file_path("kiln-guest");
}

int elf_machine_of(const char *path, uint16_t *machine)
{
    int fd = open_regular(path, false, NULL);
    if (fd < 0) return fd;
    unsigned char h[20];
    ssize_t n = pread(fd, h, sizeof h, 0);
    int e = errno;
    close(fd);
    if (n < 0) return -e;
    if (n < (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG)) return -ENOEXEC;
    if (h[EI_DATA] == ELFDATA2LSB) *machine = (uint16_t)(h[18] | h[19] << 8);
    else if (h[EI_DATA] == ELFDATA2MSB) *machine = (uint16_t)(h[18] << 8 | h[19]);
    else return -ENOEXEC;
    return 0;
}

/* Masks every string value in place: a secret escaped by the JSON encoder (one with a quote
 * or a control character) would no longer match in the text. */
static void json_mask_strings(json_t *j)
{
    if (json_is_string(j)) {
        char *m = secret_mask_n(json_string_value(j), json_string_length(j));
        json_string_setn(j, m, strlen(m));
        free(m);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) json_mask_strings(json_array_get(j, i));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) json_mask_strings(v);
    }
}

int json_write_file(const char *path, json_t *j)
{
    json_t *copy = json_deep_copy(j);
    if (!copy) return -ENOMEM;
    json_mask_strings(copy);
    char *text = json_dumps(copy, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(copy);
    if (!text) return -ENOMEM;
    struct sbuf b = {0};
    sbuf_printf(&b, "%s\n", text);
    free(text);
    int r = secret_write_structured(path, b.s, b.len, 0644);
    sbuf_free(&b);
    return r;
}
