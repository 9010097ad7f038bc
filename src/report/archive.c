#include "report/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "util/fs.h"
#include "util/util.h"

#define MANIFEST_NAME "MANIFEST.sha256"

struct member {
    char *rel;      /* path below the run directory */
    char hex[65];
    uint64_t size;
    bool seen;
};

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->rel, ((const struct member *)b)->rel);
}

static void members_free(struct member *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].rel);
    free(v);
}

static void list_files(const char *abs, const char *rel, struct member **v, size_t *n, size_t *cap)
{
    DIR *d = opendir(abs);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) continue;
        _cleanup_free_ char *a = path_join(abs, de->d_name);
        _cleanup_free_ char *r = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        struct stat st;
        if (lstat(a, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) list_files(a, r, v, n, cap);
        else if (S_ISREG(st.st_mode) && !streq(r, MANIFEST_NAME)) {
            struct member *m = APPEND(*v, *n, *cap);
            *m = (struct member){.rel = xstrdup(r)};
        }
    }
    closedir(d);
}

static void hex32(const uint8_t *md, char out[65])
{
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Files that must never travel in an archive: private keys (PEM/OpenSSH, minisign secret keys). */
static bool looks_secret(const char *buf, size_t n)
{
    static const char *const markers[] = {"PRIVATE KEY-----", "minisign encrypted secret key",
                                          "minisign unencrypted secret key"};
    for (size_t i = 0; i < ARRAY_SIZE(markers); i++)
        if (memmem(buf, n, markers[i], strlen(markers[i]))) return true;
    return false;
}

/* SHA-256 and size of a file; *secret when a private-key marker shows up (markers split across
 * reads are caught by carrying the last bytes over). */
static int hash_scan(const char *path, struct member *m, bool *secret)
{
    int fd = open_regular(path, true, NULL);
    if (fd < 0) return fd;
    enum { BUF = 1 << 20, KEEP = 64 };
    char *buf = xmalloc(BUF + KEEP);
    size_t carry = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    ssize_t n;
    m->size = 0;
    while ((n = read(fd, buf + carry, BUF)) > 0) {
        EVP_DigestUpdate(c, buf + carry, (size_t)n);
        m->size += (uint64_t)n;
        size_t have = carry + (size_t)n;
        if (looks_secret(buf, have)) *secret = true;
        carry = MIN((size_t)KEEP, have);
        memmove(buf, buf + have - carry, carry);
    }
    int r = n < 0 ? -errno : 0;
    uint8_t md[32];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    hex32(md, m->hex);
    free(buf);
    close(fd);
    return r;
}

static int add_entry(struct archive *a, const char *name, uint64_t size, time_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    return r == ARCHIVE_OK ? 0 : -EIO;
}

static int write_members(struct archive *a, const char *abs, const char *id, struct member *v, size_t n,
                         const char *manifest, size_t mlen, char **reterr)
{
    _cleanup_free_ char *mname = xasprintf("%s/%s", id, MANIFEST_NAME);
    if (add_entry(a, mname, mlen, time(NULL)) < 0 || archive_write_data(a, manifest, mlen) != (la_ssize_t)mlen) {
        return err_setf(reterr, -EIO, "cannot write the archive: %s", archive_error_string(a));
    }
    char *buf = xmalloc(1 << 20);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *p = path_join(abs, v[i].rel);
        _cleanup_free_ char *name = xasprintf("%s/%s", id, v[i].rel);
        struct stat st;
        int fd = open_regular(p, true, &st);
        if (fd < 0 || (uint64_t)st.st_size != v[i].size) {
            err_setf(reterr, 0, "%s changed while it was being archived; archive a finished run", p);
            r = -EAGAIN;
        } else if (add_entry(a, name, v[i].size, st.st_mtime) < 0) {
            err_setf(reterr, 0, "cannot write the archive: %s", archive_error_string(a));
            r = -EIO;
        }
        uint64_t left = v[i].size;
        while (r == 0 && left > 0) {
            ssize_t k = read(fd, buf, (size_t)MIN(left, (uint64_t)(1 << 20)));
            if (k <= 0) {
                err_setf(reterr, 0, "%s changed while it was being archived", p);
                r = -EIO;
            } else if (archive_write_data(a, buf, (size_t)k) != k) {
                err_setf(reterr, 0, "cannot write the archive: %s", archive_error_string(a));
                r = -EIO;
            } else left -= (uint64_t)k;
        }
        if (fd >= 0) close(fd);
    }
    free(buf);
    return r;
}

int archive_create(const char *run_dir, const char *out, char **reterr)
{
    char abs[PATH_MAX];
    if (!realpath(run_dir, abs)) {
        return err_setf(reterr, -errno, "cannot open the run directory %s: %s", run_dir, strerror(errno));
    }
    _cleanup_free_ char *rj = path_join(abs, "results.json");
    if (!file_exists(rj)) {
        return err_setf(reterr, -ENOENT, "%s is not a kiln run directory (no results.json)", run_dir);
    }
    const char *id = strrchr(abs, '/') ? strrchr(abs, '/') + 1 : abs;
    struct member *v = NULL;
    size_t n = 0, cap = 0;
    list_files(abs, "", &v, &n, &cap);
    qsort(v, n, sizeof *v, cmp_member);
    int r = 0;
    struct sbuf man = {0};
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *p = path_join(abs, v[i].rel);
        bool secret = false;
        if ((r = hash_scan(p, &v[i], &secret)) < 0)
            *reterr = fs_open_error(p, r, "a run directory holds the regular files kiln run wrote; remove it from the run directory");
        else if (secret) {
            err_setf(reterr, 0, "%s holds a private key; it must not go into an archive (remove it from the run "
                             "directory)", p);
            r = -EPERM;
        } else sbuf_printf(&man, "%s  %s\n", v[i].hex, v[i].rel);
    }
    _cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", out);
    int fd = r == 0 ? mkostemp(tmp, O_CLOEXEC) : -1;
    if (r == 0 && fd < 0) {
        r = -errno;
        err_setf(reterr, 0, "cannot create %s: %s", tmp, strerror(errno));
    }
    if (fd >= 0) fchmod(fd, 0644);
    if (r == 0) {
        struct archive *a = archive_write_new();
        archive_write_add_filter_zstd(a);
        archive_write_set_format_pax_restricted(a);
        if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
            err_setf(reterr, 0, "cannot write %s: %s", out, archive_error_string(a));
            r = -EIO;
        } else r = write_members(a, abs, id, v, n, man.s ? man.s : "", man.len, reterr);
        if (archive_write_close(a) != ARCHIVE_OK && r == 0) {
            err_setf(reterr, 0, "cannot finish %s: %s", out, archive_error_string(a));
            r = -EIO;
        }
        archive_write_free(a);
        if (r == 0 && fsync(fd) < 0) r = -errno;
        close(fd);
        if (r == 0 && rename(tmp, out) < 0) {
            r = -errno;
            err_setf(reterr, 0, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        }
        if (r < 0) unlink(tmp);
    }
    members_free(v, n);
    sbuf_free(&man);
    return r;
}

/* A path below the run directory that stays there: relative, no empty, "." or ".." component
 * (so no two spellings of one file either). */
/* PATH_MAX and NAME_MAX of Linux: a longer name could not be unpacked anywhere */
enum { NAME_PATH_MAX = 4095, NAME_COMPONENT_MAX = 255 };

static bool name_fits(const char *rel)
{
    if (strlen(rel) > NAME_PATH_MAX) return false;
    for (const char *c = rel; c;) {
        const char *slash = strchr(c, '/');
        if ((slash ? (size_t)(slash - c) : strlen(c)) > NAME_COMPONENT_MAX) return false;
        c = slash ? slash + 1 : NULL;
    }
    return true;
}

static bool safe_name(const char *rel)
{
    if (!*rel) return false;
    for (const char *c = rel; c;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return false;
        c = slash ? slash + 1 : NULL;
    }
    return true;
}

/* "<64 hex>  <path>" lines → sorted members. */
static int parse_manifest(char *text, struct member **v, size_t *n, char **reterr)
{
    size_t cap = 0;
    char *save = NULL;
    unsigned line = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t len = strlen(l);
        bool ok = len > 66 && l[64] == ' ' && l[65] == ' ';
        for (int i = 0; ok && i < 64; i++) ok = strchr("0123456789abcdef", l[i]) && l[i];
        if (!ok) {
            return err_setf(reterr, -EINVAL, "%s line %u is not \"<sha256>  <path>\"", MANIFEST_NAME, line);
        }
        if (!safe_name(l + 66)) {
            return err_setf(reterr, -EINVAL, "%s line %u names %s, which leaves the run directory", MANIFEST_NAME, line, l + 66);
        }
        if (!name_fits(l + 66)) {
            return err_setf(reterr, -ENAMETOOLONG, "%s line %u names a path of %zu bytes (%.40s...): the most is %d, %d per component",
                             MANIFEST_NAME, line, strlen(l + 66), l + 66, NAME_PATH_MAX, NAME_COMPONENT_MAX);
        }
        struct member *m = APPEND(*v, *n, cap);
        *m = (struct member){.rel = xstrdup(l + 66)};
        memcpy(m->hex, l, 64);
        m->hex[64] = 0;
    }
    if (*n) qsort(*v, *n, sizeof **v, cmp_member); /* an empty manifest has no array to sort */
    for (size_t i = 1; i < *n; i++)
        if (streq((*v)[i].rel, (*v)[i - 1].rel)) {
            return err_setf(reterr, -EINVAL, "%s lists %s twice", MANIFEST_NAME, (*v)[i].rel);
        }
    /* a file x and a file x/y cannot both be unpacked: x would have to be a directory too.
     * Each name's directories are looked up: O(length x log n). */
    for (size_t i = 0; i < *n; i++) {
        const char *rel = (*v)[i].rel;
        for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
            _cleanup_free_ char *dir = xstrndup(rel, (size_t)(s - rel));
            struct member key = {.rel = dir};
            if (bsearch(&key, *v, *n, sizeof **v, cmp_member)) {
                return err_setf(reterr, -EINVAL, "%s lists %s as a file and %s inside it: a name cannot be both a file and a directory",
                                 MANIFEST_NAME, dir, rel);
            }
        }
    }
    return 0;
}

/* What archive_verify knows while it reads the members in order. */
struct verify {
    const char *path;
    struct archive *a;
    struct member *v; /* the manifest's, sorted */
    size_t n;
    char *prefix;     /* "<run>/" */
    uint8_t *buf;
    unsigned *files; /* members read after the manifest, matching or not */
    char **err;
};

/* libarchive sets no message for some damage (an archive cut inside a pax header) */
static const char *read_why(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "the archive is cut short or damaged";
}

static int verify_fail(struct verify *w, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int verify_fail(struct verify *w, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *why = xvasprintf(fmt, ap);
    va_end(ap);
    return err_setf(w->err, r, "%s: %s", w->path, why);
}

/* The first member: <run>/MANIFEST.sha256, <run> one plain name ("/MANIFEST.sha256" or
 * "../MANIFEST.sha256" would make every member absolute or outside), read and parsed. */
static int verify_manifest(struct verify *w, struct archive_entry *e, const char *name)
{
    const char *slash = strchr(name, '/');
    _cleanup_free_ char *id = slash ? xstrndup(name, (size_t)(slash - name)) : NULL;
    if (!slash || !safe_name(id) || !name_fits(id) || !streq(slash + 1, MANIFEST_NAME) || archive_entry_size(e) < 0 ||
        archive_entry_size(e) > (16 << 20))
        return verify_fail(w, -EINVAL, "the first member is %s, not <run>/%s: not a kiln run archive", name, MANIFEST_NAME);
    w->prefix = xstrndup(name, (size_t)(slash - name + 1));
    size_t sz = (size_t)archive_entry_size(e);
    _cleanup_free_ char *text = xmalloc(sz + 1);
    la_ssize_t got = archive_read_data(w->a, text, sz);
    text[got < 0 ? 0 : got] = 0;
    if (got != (la_ssize_t)sz) return verify_fail(w, -EIO, "the manifest is truncated: %s", read_why(w->a));
    char *why = NULL;
    int r = parse_manifest(text, &w->v, &w->n, &why);
    if (r < 0) verify_fail(w, r, "%s", why);
    free(why);
    return r;
}

/* A member after the manifest: inside <run>/, listed once, its bytes the listed sha256. */
static int verify_member(struct verify *w, const char *name)
{
    if (!startswith(name, w->prefix) || !safe_name(name + strlen(w->prefix)))
        return verify_fail(w, -EINVAL, "member %s lies outside %s", name, w->prefix);
    struct member key = {.rel = (char *)name + strlen(w->prefix)};
    struct member *m = bsearch(&key, w->v, w->n, sizeof *w->v, cmp_member);
    if (!m) return verify_fail(w, -EINVAL, "%s is not listed in the manifest", name);
    if (m->seen) return verify_fail(w, -EINVAL, "%s appears twice", name);
    m->seen = true;
    (*w->files)++;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    la_ssize_t k;
    while ((k = archive_read_data(w->a, w->buf, 1 << 20)) > 0) EVP_DigestUpdate(c, w->buf, (size_t)k);
    uint8_t md[32];
    char hex[65];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    hex32(md, hex);
    if (k < 0) return verify_fail(w, -EIO, "cannot read %s: %s", name, read_why(w->a));
    if (!streq(hex, m->hex))
        return verify_fail(w, -EBADMSG, "%s does not match the manifest (sha256 %s, manifest says %s)", name, hex, m->hex);
    return 0;
}

/* Every member in order; 0 when the archive ended where it should and held every listed file. */
static int verify_members(struct verify *w)
{
    struct archive_entry *e;
    int st, r = 0;
    bool have_manifest = false;
    while (r == 0 && (st = archive_read_next_header(w->a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!name || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
            return verify_fail(w, -EINVAL, "member %s is not a regular file", name ? name : "(unnamed)");
        if (!have_manifest) {
            r = verify_manifest(w, e, name);
            have_manifest = true;
            continue;
        }
        r = verify_member(w, name);
    }
    if (r < 0) return r;
    if (st != ARCHIVE_EOF) return verify_fail(w, -EIO, "the archive is corrupt: %s", read_why(w->a));
    if (!have_manifest) return verify_fail(w, -EINVAL, "empty archive");
    for (size_t i = 0; i < w->n; i++)
        if (!w->v[i].seen)
            return verify_fail(w, -ENOENT, "%s%s is in the manifest but not in the archive", w->prefix, w->v[i].rel);
    return 0;
}

int archive_verify(const char *path, unsigned *files, char **reterr)
{
    *files = 0;
    int fd = open_regular(path, false, NULL);
    if (fd < 0) {
        *reterr = fs_open_error(path, fd, "pass the .tar.zst file kiln archive wrote");
        return fd;
    }
    struct verify w = {.path = path, .a = archive_read_new(), .files = files, .err = reterr};
    archive_read_support_filter_zstd(w.a);
    archive_read_support_format_tar(w.a);
    int r;
    if (archive_read_open_fd(w.a, fd, 1 << 16) != ARCHIVE_OK) {
        r = verify_fail(&w, -EIO, "cannot read the archive: %s", read_why(w.a));
    } else {
        w.buf = xmalloc(1 << 20);
        r = verify_members(&w);
    }
    members_free(w.v, w.n);
    free(w.prefix);
    free(w.buf);
    archive_read_free(w.a);
    close(fd);
    return r;
}
