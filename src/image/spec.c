/* Image spec parser. Every value that ends up in a file or a command inside the image is
 * checked against a strict character set here, so later stages never quote user text into
 * a shell. */
#include "image/spec.h"

#include "model/artifact.h"
#include "trust/minisign.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/fs.h"
#include "util/strv.h"
#include "util/utf8.h"
#include "util/util.h"

_Static_assert((int)OUT_RAW == ARTIFACT_RAW && (int)OUT_TAR == ARTIFACT_TAR && (int)OUT_COUNT == ARTIFACT_KERNEL, "the outputs are the artifact table's first rows");

const char *spec_output_name(enum image_output o) { return o < OUT_COUNT ? kiln_artifacts[o].name : "?"; }

const char *spec_output_refused(const struct image_spec *s, enum image_output o)
{
    if (o == OUT_TAR && s->encrypt)
        return "the rootfs archive would carry the root filesystem that storage.encrypt: tpm2 encrypts on the disk "
               "unencrypted, with a crypttab and a TPM enrollment unit that no container or WSL runs: build the "
               "archive from a spec without storage.encrypt";
    return NULL;
}

bool spec_parse_size(const char *s, uint64_t *out)
{
    /* digits with an optional fraction: strtod alone also took "0x10G" (16 GiB), "0x1p40" and "1e3G" */
    size_t digits = strspn(s, "0123456789.");
    if (!digits || !isdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s + digits || errno || !(v >= 0) || isinf(v)) return false;
    double mul = 1;
    switch (*end) {
    case 'K': case 'k': mul = 1024.0; end++; break;
    case 'M': case 'm': mul = 1024.0 * 1024; end++; break;
    case 'G': case 'g': mul = 1024.0 * 1024 * 1024; end++; break;
    case 'T': case 't': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    case 0: break;
    default: return false;
    }
    if (*end == 'i' && end[-1] != *s) end++;
    if (*end == 'B') end++;
    if (*end) return false;
    v *= mul;
    if (v > 16.0 * 1024 * 1024 * 1024 * 1024) return false;
    *out = (uint64_t)v;
    return true;
}

static bool charset(const char *s, const char *extra, bool alnum_first)
{
    if (!*s) return false;
    if (alnum_first && !isalnum((unsigned char)*s)) return false;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(extra, *c)) return false;
    return true;
}

/* A string checked against a charset; the message names what is allowed. */
static void checked_str(struct diags *d, const struct ynode *x, const char *path, const char *extra,
                        bool alnum_first, const char *what, char **out)
{
    char *v = NULL;
    if (!y_str(d, x, path, &v)) return;
    if (!charset(v, extra, alnum_first) || strlen(v) > 64) {
        diag_add(d, x, path, "\"%.80s\" is not a valid %s", v, what);
        free(v);
        return;
    }
    free(*out);
    *out = v;
}

static void checked_list(struct diags *d, const struct ynode *x, const char *path, const char *extra,
                         const char *what, char ***out, size_t *n)
{
    if (!y_str_list(d, x, path, out, n)) return;
    for (size_t i = 0; i < *n; i++)
        if (!charset((*out)[i], extra, true) || strlen((*out)[i]) > 64) {
            const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
            _cleanup_free_ char *p = ypath_index(path, i);
            diag_add(d, at, p, "\"%.80s\" is not a valid %s", (*out)[i], what);
        }
}

/* A path from the spec, made absolute (relative to the spec's directory): later stages hand
 * it to tools that run elsewhere (dnf's file:// URLs, chroot). */
static char *spec_path(const struct ynode *at, const char *p)
{
    _cleanup_free_ char *dir = path_dirname(at->file);
    _cleanup_free_ char *r = path_resolve(dir, p);
    if (r[0] == '/') return xstrdup(r);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return xstrdup(r);
    return path_join(cwd, r);
}

static bool no_control(const char *s)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return false;
    return true;
}

/* The rules below are the ones the programs that read each value apply, so a spec that passes
 * --check does not fail (or worse, half-apply) inside the image. Each returns NULL when the
 * value is fine, else why not, in buf. */

#define HOST_NAME_MAX_LEN 64 /* Linux HOST_NAME_MAX; systemd refuses a longer /etc/hostname */
#define KERNEL_CMDLINE_MAX 1536 /* x86 COMMAND_LINE_SIZE 2048, less what kiln adds (root=, usrhash=, ...) */

/* RFC 1123 2.1 host name: labels of letters, digits and '-' (not first or last), 1 to 63
 * characters each, joined by single dots, no trailing dot. */
static const char *hostname_problem(const char *h, char *buf, size_t sz)
{
    size_t len = strlen(h);
    if (len > HOST_NAME_MAX_LEN) {
        snprintf(buf, sz, "it has %zu characters, at most %d (HOST_NAME_MAX); use the short name, not the FQDN", len,
                 HOST_NAME_MAX_LEN);
        return buf;
    }
    for (const char *l = h;; l++) {
        size_t n = strcspn(l, ".");
        if (!n) {
            snprintf(buf, sz, "it has an empty label (a dot at the start or end, or two in a row)");
            return buf;
        }
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)l[i]) && l[i] != '-') {
                snprintf(buf, sz, "'%c' is not allowed (letters, digits, '-' and the dots between labels)", l[i]);
                if (!isprint((unsigned char)l[i])) snprintf(buf, sz, "byte 0x%02x is not allowed", (unsigned char)l[i]);
                return buf;
            }
        if (l[0] == '-' || l[n - 1] == '-') {
            snprintf(buf, sz, "label \"%.*s\" starts or ends with '-'", (int)n, l);
            return buf;
        }
        if (n > 63) {
            snprintf(buf, sz, "a label has %zu characters, at most 63", n);
            return buf;
        }
        l += n;
        if (!*l) return NULL;
    }
}

/* shadow's useradd / groupadd default rule (NAME_REGEX): [a-z_][a-z0-9_-]*[$]?, at most 32. */
static const char *account_problem(const char *n, char *buf, size_t sz)
{
    size_t len = strlen(n);
    if (!len || len > 32) snprintf(buf, sz, "it has %zu characters, 1 to 32 are allowed", len);
    else if (!(islower((unsigned char)n[0]) || n[0] == '_')) snprintf(buf, sz, "it must start with a-z or '_'");
    else if (strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") < len - (n[len - 1] == '$'))
        snprintf(buf, sz, "only a-z, 0-9, '_' and '-' are allowed (and a final '$')");
    else return NULL;
    return buf;
}

/* systemd.unit(5) names: [A-Za-z0-9:_.\\-] with at most one '@' (templates), at most 255
 * characters with the suffix systemctl adds (".service" when the type is missing). Names
 * starting with '-' or '.' are refused: systemctl would read an option. */
static const char *unit_problem(const char *u, char *buf, size_t sz)
{
    size_t len = strlen(u);
    const char *at = strchr(u, '@');
    if (!len || len + strlen(".service") > 255) snprintf(buf, sz, "it has %zu characters, at most 247", len);
    else if (!isalnum((unsigned char)u[0]) && u[0] != '_' && u[0] != '\\')
        snprintf(buf, sz, "it must start with a letter, a digit, '_' or '\\'");
    else if (strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.\\-@") < len)
        snprintf(buf, sz, "only letters, digits, ':', '_', '.', '\\', '-' and one '@' are allowed");
    else if (at && strchr(at + 1, '@')) snprintf(buf, sz, "it has more than one '@'");
    else if (u[len - 1] == '.' || u[len - 1] == '@') snprintf(buf, sz, "it ends with '%c'", u[len - 1]);
    else return NULL;
    return buf;
}

/* sysctl.d(5) keys as dots: segments of [A-Za-z0-9_-] (and '*' globs), no '/', no empty or
 * '..' segments (the key is a path under /proc/sys). */
static const char *sysctl_problem(const char *k, char *buf, size_t sz)
{
    size_t len = strlen(k);
    if (!len || len > 255) snprintf(buf, sz, "it has %zu characters, 1 to 255 are allowed", len);
    else if (strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-*.") < len)
        snprintf(buf, sz, "only letters, digits, '_', '-', '*' and the dots between names are allowed");
    else if (k[0] == '.' || k[len - 1] == '.' || strstr(k, "..")) snprintf(buf, sz, "it has an empty name between dots");
    else if (k[0] == '-') snprintf(buf, sz, "it must not start with '-'");
    else return NULL;
    return buf;
}

/* An absolute, normalized path inside the image: no empty, '.' or '..' components, no
 * trailing '/', each component at most 255 bytes (NAME_MAX). */
static const char *dest_problem(const char *p, char *buf, size_t sz)
{
    if (p[0] != '/') return "it must be an absolute path, e.g. /etc/motd";
    if (strlen(p) > 4095) return "it is longer than 4095 bytes";
    for (const char *c = p + 1;; c++) {
        size_t n = strcspn(c, "/");
        if (!n || (c[0] == '.' && (n == 1 || (n == 2 && c[1] == '.'))))
            return "it must be normalized: no empty, '.' or '..' components and no trailing '/'";
        if (n > 255) return "a component is longer than 255 bytes";
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)c[i]) && !strchr("._-+@:~", c[i])) {
                snprintf(buf, sz, "'%c' is not allowed in a file name here (letters, digits and . _ - + @ : ~)",
                         isprint((unsigned char)c[i]) ? c[i] : '?');
                return buf;
            }
        c += n;
        if (!*c) return NULL;
    }
}

/* Debian policy 5.6.1 package names ([a-z0-9][a-z0-9+.-]+), with apt's ":arch" and, to
 * install, "=version" or "/release"; rpm names ([A-Za-z0-9_+][A-Za-z0-9._+-]*), which dnf also
 * accepts with version, release, epoch (':') and arch, as in NEVRA. */
static const char *package_problem(const char *p, enum pkg_family fam, bool install, char *buf, size_t sz)
{
    size_t len = strlen(p);
    if (len > 256) {
        snprintf(buf, sz, "it has %zu characters, at most 256", len);
        return buf;
    }
    if (fam == FAMILY_RPM) {
        if (!len || !(isalnum((unsigned char)p[0]) || p[0] == '_' || p[0] == '+'))
            return "an rpm package name starts with a letter, a digit, '_' or '+'";
        if (strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-:~^") < len)
            return "an rpm package is letters, digits and . _ + - (with : ~ ^ in a version)";
        return NULL;
    }
    size_t name = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
    if (name < 2 || !isalnum((unsigned char)p[0]))
        return "a Debian package name is at least two of a-z, 0-9, + . - starting with a letter or digit (Debian policy 5.6.1)";
    const char *r = p + name;
    if (*r == ':') {
        size_t a = strspn(r + 1, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (!a) return "\":\" must be followed by an architecture, e.g. :amd64";
        r += 1 + a;
    }
    if (install && *r == '=') {
        if (!isdigit((unsigned char)r[1]) ||
            strspn(r + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+~:-") != strlen(r + 1))
            return "a version after '=' starts with a digit and is letters, digits and . + ~ : - (Debian policy 5.6.12)";
        return NULL;
    }
    if (install && *r == '/') {
        if (!r[1] || strspn(r + 1, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(r + 1))
            return "a release after '/' is a suite name such as bookworm-backports";
        return NULL;
    }
    if (*r) return install ? "a Debian package is NAME, NAME:ARCH, NAME=VERSION or NAME/RELEASE"
                           : "a Debian package to remove is NAME or NAME:ARCH";
    return NULL;
}

static void check_list(struct diags *d, const struct ynode *x, const char *path, char **v, size_t n, const char *what,
                       const char *(*problem)(const char *, char *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        const char *why = problem(v[i], buf, sizeof buf);
        if (!why) continue;
        const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
        _cleanup_free_ char *p = ypath_index(path, i);
        diag_add(d, at, x->kind == YN_SEQ ? p : path, "\"%.80s\" is not a valid %s: %s", v[i], what, why);
    }
}

/* Something the spec reads from the build host (a file to copy in, a key, a local repository):
 * relative to the spec's directory, and its real path (symlinks followed) must lie under
 * s->source_root, so a spec cannot pull /etc/shadow into an image. Sets *abs to the real path
 * and *rel (when asked) to it relative to the source root. */
static bool source_path(struct diags *d, const struct ynode *at, const char *path, const struct image_spec *s,
                        const char *v, mode_t type, char **abs, char **rel)
{
    _cleanup_free_ char *p = spec_path(at, v);
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(p, real) || stat(real, &st) < 0) {
        diag_add(d, at, path, "%s: %s", p, strerror(errno));
        return false;
    }
    const char *root = s->source_root;
    size_t rl = streq(root, "/") ? 0 : strlen(root);
    if (strncmp(real, root, rl) || (real[rl] != '/' && real[rl])) {
        diag_add(d, at, path, "\"%s\" resolves to %s, outside %s, the directory this spec's sources are read from; "
                              "copy it there or give kiln build --source-root DIR", v, real, root);
        return false;
    }
    if ((st.st_mode & S_IFMT) != type) {
        diag_add(d, at, path, "%s is not a %s", real, type == S_IFDIR ? "directory" : "regular file");
        return false;
    }
    free(*abs);
    *abs = xstrdup(real);
    if (rel) {
        free(*rel);
        *rel = xstrdup(real[rl] ? real + rl + 1 : ".");
    }
    return true;
}

/* ---- the spec as tables (util/yaml.h): one row per key, the checks as callbacks ---- */

/* What the callbacks share: the spec being loaded and the file's root (for places). */
struct spec_ctx {
    struct image_spec *s;
    const struct ynode *root;
};

#define SPEC(p) (((struct spec_ctx *)(p)->user)->s)

/* A row's arg for checked_str / checked_list. */
struct charset_rule {
    const char *extra;
    bool alnum_first;
    const char *what;
};

static void field_checked_str(const struct yparse *p, const struct yfield *f, const struct ynode *n,
                              const char *path, void *target)
{
    const struct charset_rule *r = f->arg;
    checked_str(p->d, n, path, r->extra, r->alnum_first, r->what, yf_value(f, target));
}

static void field_checked_list(const struct yparse *p, const struct yfield *f, const struct ynode *n,
                               const char *path, void *target)
{
    const struct charset_rule *r = f->arg;
    checked_list(p->d, n, path, r->extra, r->what, yf_value(f, target), (size_t *)((char *)target + f->count_offset));
}

/* a row of the spec read by checked_str; more designators may follow (.missing) */
#define CHECKED(k, field, ex, first, what_, ...)                                    \
    {k, YF_CUSTOM, offsetof(struct image_spec, field), .parse = field_checked_str, \
     .arg = &(const struct charset_rule){ex, first, what_}, __VA_ARGS__}

static void field_mirror(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                         void *target)
{
    (void)f;
    struct image_spec *s = target;
    if (!y_str(p->d, x, path, &s->mirror)) return;
    if (!charset(s->mirror, ":/._-~%+@", true) || strlen(s->mirror) > 1024 ||
        !(startswith(s->mirror, "http://") || startswith(s->mirror, "https://") || startswith(s->mirror, "file:/"))) {
        diag_add(p->d, x, path, "\"%.80s\" is not an http(s):// or file:/ URL", s->mirror);
        return;
    }
    if (!startswith(s->mirror, "file:/")) return;
    char *dir = NULL;
    if (source_path(p->d, x, path, s, s->mirror + (startswith(s->mirror, "file://") ? 7 : 5), S_IFDIR, &dir, NULL)) {
        free(s->mirror);
        s->mirror = xasprintf("file://%s", dir);
    }
    free(dir);
}

static void field_repo_baseurl(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                               void *target)
{
    (void)f;
    struct image_repo *r = target;
    if (y_str(p->d, y, q, &r->baseurl) && !no_control(r->baseurl)) {
        diag_add(p->d, y, q, "contains control characters");
    } else if (r->baseurl && !startswith(r->baseurl, "http://") && !startswith(r->baseurl, "https://")) {
        /* a local directory (a path relative to the spec, or a file: URL) */
        const char *local = r->baseurl + (startswith(r->baseurl, "file://") ? 7 : startswith(r->baseurl, "file:") ? 5 : 0);
        char *abs = NULL;
        if (source_path(p->d, y, q, SPEC(p), local, S_IFDIR, &abs, NULL)) {
            free(r->baseurl);
            r->baseurl = xasprintf("file://%s", abs);
        }
        free(abs);
    }
}

/* A regular file on the build host under source_root, kept as its real path ("file://" allowed). */
static void field_source_file(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                              void *target)
{
    char *k = NULL;
    if (y_str(p->d, y, q, &k))
        source_path(p->d, y, q, SPEC(p), startswith(k, "file://") ? k + 7 : k, S_IFREG, yf_value(f, target), NULL);
    free(k);
}

/* suite and components of a repository: apt's only */
static void field_repo_deb(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                           void *target)
{
    struct image_repo *r = target;
    if (SPEC(p)->family != FAMILY_DEB)
        diag_add(p->d, y, q, "only a deb repository has %s", f->arg ? "components" : "a suite (dnf reads baseurl/repodata)");
    else if (f->arg) checked_list(p->d, y, q, "-._", "component", &r->components, &r->ncomponents);
    else checked_str(p->d, y, q, "-._", true, "suite name", &r->suite);
}

/* deb: an apt source "deb [signed-by=GPGKEY] BASEURL SUITE COMPONENTS", one line */
static void repo_post(const struct yparse *p, const struct ynode *it, const char *path, void *target)
{
    const struct image_repo *r = target;
    if (SPEC(p)->family != FAMILY_DEB) return;
    if (r->baseurl && strpbrk(r->baseurl, " \t[]"))
        diag_add(p->d, y_get(it, "baseurl"), path, "baseurl \"%.80s\" has a space or a bracket, which an apt source line cannot hold",
                 r->baseurl);
    if (r->gpgkey && strpbrk(r->gpgkey, " \t[]"))
        diag_add(p->d, y_get(it, "gpgkey"), path, "the key's path %.80s has a space or a bracket, which apt's signed-by cannot hold",
                 r->gpgkey);
}

static const struct yschema repo_schema = {
    .fields = (const struct yfield[]){
        {"name", YF_CUSTOM, offsetof(struct image_repo, name), .parse = field_checked_str,
         .arg = &(const struct charset_rule){"-._", true, "repository id"}, .missing = "needs \"name\""},
        {"baseurl", YF_CUSTOM, 0, .parse = field_repo_baseurl, .missing = "needs \"baseurl\""},
        {"gpgkey", YF_CUSTOM, offsetof(struct image_repo, gpgkey), .parse = field_source_file,
         .missing = "needs \"gpgkey\": kiln installs RPMs with signature checks on"},
        {"suite", YF_CUSTOM, 0, .parse = field_repo_deb},
        {"components", YF_CUSTOM, 0, .parse = field_repo_deb, .arg = "components"},
        {0}},
    .post = repo_post,
};

static void base_post(const struct yparse *p, const struct ynode *n, const char *path, void *target)
{
    const struct image_spec *s = target;
    if (s->family == FAMILY_DEB && !s->suite) diag_add(p->d, n, path, "a deb base needs \"suite\" (e.g. bookworm)");
    if (s->family == FAMILY_RPM && !s->nrepos) diag_add(p->d, n, path, "an rpm base needs \"repos\" (baseurl + gpgkey each)");
}

static const struct yschema base_schema = {
    .fields = (const struct yfield[]){
        {"family", YF_ENUM, offsetof(struct image_spec, family), .names = (const char *const[]){"deb", "rpm", NULL},
         .missing = "needs \"family\": deb (mmdebstrap) or rpm (dnf --installroot)"},
        CHECKED("suite", suite, "-._", true, "suite name"),
        {"components", YF_CUSTOM, offsetof(struct image_spec, components), offsetof(struct image_spec, ncomponents),
         .parse = field_checked_list, .arg = &(const struct charset_rule){"-._", true, "component"}},
        {"mirror", YF_CUSTOM, 0, .parse = field_mirror},
        {"repos", YF_SEQ, offsetof(struct image_spec, repos), offsetof(struct image_spec, nrepos), .sub = &repo_schema,
         .elem_size = sizeof(struct image_repo)},
        CHECKED("releasever", releasever, "._-", true, "release version"),
        {0}},
    .post = base_post,
};

/* A string (or each string of a list) checked by one of the *_problem rules above. */
struct problem_rule {
    const char *(*problem)(const char *, char *, size_t);
    const char *what; /* "\"VALUE\" is not a valid WHAT: why" */
};

static void field_problem(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                          void *target)
{
    const struct problem_rule *r = f->arg;
    const char *v = *(char **)yf_value(f, target);
    char buf[256];
    const char *why = r->problem(v, buf, sizeof buf);
    if (why) diag_add(p->d, n, path, "\"%.80s\" is not a valid %s: %s", v, r->what, why);
}

/* The same rule for each entry of a list; arg: the words naming what an entry is. */
static void field_problem_list(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                               void *target)
{
    const struct problem_rule *r = f->arg;
    check_list(p->d, n, path, *(char ***)yf_value(f, target), *(size_t *)((char *)target + f->count_offset), r->what,
               r->problem);
}

static void field_hostname(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                           void *target)
{
    (void)f;
    const char *h = ((struct image_spec *)target)->hostname;
    char buf[256];
    const char *why = hostname_problem(h, buf, sizeof buf);
    if (why)
        diag_add(p->d, x, path, "\"%.255s\" is not a valid host name (RFC 1123, at most %d characters): %s", h,
                 HOST_NAME_MAX_LEN, why);
}

static void field_dst(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q, void *target)
{
    (void)f;
    const char *dst = ((struct image_file *)target)->dst;
    char buf[256];
    const char *why = dest_problem(dst, buf, sizeof buf);
    if (why) diag_add(p->d, y, q, "\"%.80s\" is not a file path inside the image: %s", dst, why);
}

static void field_ssh_keys(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                           void *target)
{
    (void)f;
    const struct image_user *u = target;
    for (size_t k = 0; k < u->nssh_keys; k++)
        if (!no_control(u->ssh_keys[k]) || strlen(u->ssh_keys[k]) > 16384 ||
            !(startswith(u->ssh_keys[k], "ssh-") || startswith(u->ssh_keys[k], "ecdsa-") || startswith(u->ssh_keys[k], "sk-")))
            diag_add(p->d, y, q, "entry %zu is not an OpenSSH public key line (ssh-ed25519 AAAA%s)", k, text_ellipsis());
}

static const struct yschema user_schema = {
    .fields = (const struct yfield[]){
        {"name", YF_STR, offsetof(struct image_user, name), .parse = field_problem, .missing = "needs \"name\"",
         .arg = &(const struct problem_rule){account_problem, "user name (useradd)"}},
        {"groups", YF_STR_LIST, offsetof(struct image_user, groups), offsetof(struct image_user, ngroups),
         .parse = field_problem_list, .arg = &(const struct problem_rule){account_problem, "group name (groupadd)"}},
        {"ssh_keys", YF_STR_LIST, offsetof(struct image_user, ssh_keys), offsetof(struct image_user, nssh_keys),
         .parse = field_ssh_keys},
        {0}},
};

static void field_file_src(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                           void *target)
{
    (void)f;
    struct image_file *file = target;
    char *v = NULL;
    if (y_str(p->d, y, q, &v)) source_path(p->d, y, q, SPEC(p), v, S_IFREG, &file->src, &file->src_rel);
    free(v);
}

static void field_file_mode(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                            void *target)
{
    (void)f;
    char *v = NULL;
    if (y_str(p->d, y, q, &v)) {
        char *end;
        unsigned long m = strtoul(v, &end, 8);
        if (*end || !*v || m > 07777) diag_add(p->d, y, q, "\"%s\" is not an octal mode such as \"0644\"", v);
        else ((struct image_file *)target)->mode = (unsigned)m;
    }
    free(v);
}

static void file_init(void *target) { ((struct image_file *)target)->mode = 0644; }

static const struct yschema file_schema = {
    .fields = (const struct yfield[]){
        {"src", YF_CUSTOM, 0, .parse = field_file_src, .missing = "needs \"src\""},
        {"dst", YF_STR, offsetof(struct image_file, dst), .parse = field_dst, .missing = "needs \"dst\""},
        {"mode", YF_CUSTOM, 0, .parse = field_file_mode},
        {0}},
    .init = file_init,
};

#define UNIT_LIST(k, v)                                                                                         \
    {k, YF_STR_LIST, offsetof(struct image_spec, v), offsetof(struct image_spec, n##v), .parse = field_problem_list, \
     .arg = &(const struct problem_rule){unit_problem, "systemd unit name"}}

static const struct yschema services_schema = {
    .fields = (const struct yfield[]){UNIT_LIST("enable", enable), UNIT_LIST("disable", disable), UNIT_LIST("mask", mask), {0}},
};

static void field_sysctl(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                         void *target)
{
    (void)f;
    struct image_spec *s = target;
    if (!y_expect(p->d, x, path, YN_MAP)) return;
    size_t cap = 0;
    for (size_t i = 0; i + 1 < x->n; i += 2) {
        const struct ynode *k = x->items[i], *v = x->items[i + 1];
        _cleanup_free_ char *kp = ypath(path, k->scalar ? k->scalar : "?");
        char buf[256];
        const char *why = sysctl_problem(k->scalar, buf, sizeof buf);
        if (why) {
            diag_add(p->d, k, kp, "\"%.80s\" is not a sysctl name (sysctl.d): %s", k->scalar, why);
            continue;
        }
        char *val = NULL;
        if (!y_str(p->d, v, kp, &val)) continue;
        if (!no_control(val) || strlen(val) > 4096) {
            diag_add(p->d, v, kp, "the value must be one line of at most 4096 bytes");
            free(val);
            continue;
        }
        struct image_kv *kv = APPEND(s->sysctl, s->nsysctl, cap);
        kv->key = xstrdup(k->scalar);
        kv->value = val;
    }
}

static void field_cmdline(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                          void *target)
{
    (void)f;
    const char *c = ((struct image_spec *)target)->kernel_cmdline;
    if (!no_control(c))
        diag_add(p->d, x, path, "contains control characters (a newline ends the boot entry's options line)");
    else if (strlen(c) > KERNEL_CMDLINE_MAX)
        diag_add(p->d, x, path, "is %zu bytes; at most %d: the kernel reads 2048 (x86 COMMAND_LINE_SIZE) "
                 "and kiln adds up to 512 (root=, usrhash=, ...)", strlen(c), KERNEL_CMDLINE_MAX);
}

static const struct yschema first_boot_schema = {
    .fields = (const struct yfield[]){
        {"regenerate_ssh_host_keys", YF_BOOL, offsetof(struct image_spec, regenerate_ssh_host_keys)},
        {"reset_machine_id", YF_BOOL, offsetof(struct image_spec, reset_machine_id)},
        {"grow_root", YF_BOOL, offsetof(struct image_spec, grow_root)},
        {0}},
};

static const struct yschema os_schema = {
    .fields = (const struct yfield[]){
        {"hostname", YF_STR, offsetof(struct image_spec, hostname), .parse = field_hostname},
        {"users", YF_SEQ, offsetof(struct image_spec, users), offsetof(struct image_spec, nusers), .sub = &user_schema,
         .elem_size = sizeof(struct image_user)},
        {"files", YF_SEQ, offsetof(struct image_spec, files), offsetof(struct image_spec, nfiles), .sub = &file_schema,
         .elem_size = sizeof(struct image_file)},
        {"services", YF_MAP, 0, .sub = &services_schema},
        {"sysctl", YF_CUSTOM, 0, .parse = field_sysctl},
        {"kernel_cmdline", YF_STR, offsetof(struct image_spec, kernel_cmdline), .parse = field_cmdline},
        {"first_boot", YF_MAP, 0, .sub = &first_boot_schema},
        {"network", YF_ENUM, offsetof(struct image_spec, network), .names = (const char *const[]){"dhcp", "none", NULL},
         .values = (const int[]){IMAGE_NET_DHCP, IMAGE_NET_NONE}},
        {0}},
};

static void field_size(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                       void *target)
{
    (void)f;
    struct image_spec *s = target;
    char *t = NULL;
    if (y_str(p->d, x, path, &t) && (!spec_parse_size(t, &s->size) || s->size < (64u << 20)))
        diag_add(p->d, x, path, "\"%s\" is not a disk size of at least 64M (e.g. 2G, 1536M)", t);
    free(t);
}

static const struct yschema storage_schema = {
    .fields = (const struct yfield[]){
        {"layout", YF_ENUM, offsetof(struct image_spec, layout), .names = (const char *const[]){"standard", "immutable", NULL}},
        {"size", YF_CUSTOM, 0, .parse = field_size},
        {"filesystem", YF_ENUM_STR, offsetof(struct image_spec, filesystem), .names = (const char *const[]){"ext4", NULL}},
        {"usr_filesystem", YF_ENUM_STR, offsetof(struct image_spec, usr_filesystem),
         .names = (const char *const[]){"erofs", "squashfs", NULL}},
        {"encrypt", YF_ENUM, offsetof(struct image_spec, encrypt), .names = (const char *const[]){"none", "tpm2", NULL},
         .values = (const int[]){ENCRYPT_NONE, ENCRYPT_TPM2}},
        {0}},
};

static void field_update_server(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                                void *target)
{
    (void)f;
    const char *s = ((struct image_updates *)target)->server;
    bool ok = startswith(s, "http://") && s[7] && s[7] != '/' && strlen(s) < 1000;
    for (const char *c = s; ok && *c; c++) ok = (unsigned char)*c > ' ' && *c != 0x7f && *c != '"' && *c != '\\';
    if (!ok)
        diag_add(p->d, x, path, "\"%.80s\" is not an http:// URL (the updater speaks plain HTTP: update.json "
                                "is signed and vouches for every file, see docs/updates.md)", s);
}

static void field_update_check(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                               void *target)
{
    (void)f;
    const char *c = ((struct image_updates *)target)->check;
    if (!*c || strchr(c, '\n')) diag_add(p->d, x, path, "the health check is one non-empty shell command line");
}

static void field_update_interval(const struct yparse *p, const struct yfield *f, const struct ynode *x,
                                  const char *path, void *target)
{
    (void)f;
    struct image_updates *u = target;
    char *t = NULL;
    /* one spelling per number: "0600" is octal in YAML 1.1 (384), not 600 */
    if (y_str(p->d, x, path, &t) && (!parse_long_strict(t, &u->interval_s) || u->interval_s < 60 || u->interval_s > 7 * 86400))
        diag_add(p->d, x, path, "\"%.40s\" is not a number of seconds between 60 and 604800", t);
    free(t);
}

/* each key a minisign public key file under the source root, kept as its real path */
static void field_update_keys(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                              void *target)
{
    (void)f;
    struct image_updates *u = target;
    for (size_t i = 0; i < u->nkeys; i++) {
        const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
        _cleanup_free_ char *ip = ypath_index(path, i);
        char *abs = NULL, *err = NULL;
        char id[17];
        if (!source_path(p->d, at, ip, SPEC(p), u->keys[i], S_IFREG, &abs, NULL)) continue;
        if (ms_key_id(abs, id, &err) < 0) diag_add(p->d, at, ip, "%s is not a minisign public key: %s", abs, err);
        free(err);
        free(u->keys[i]);
        u->keys[i] = abs;
    }
}

/* storage.encrypt: tpm2 (image/encrypt.h): why spec s cannot be built so, naming the fix, or NULL. */
static char *encrypt_spec_check(const struct image_spec *s)
{
    if (s->family != FAMILY_DEB)
        return xstrdup("tpm2 is built for Debian images (base.family: deb) only: the initrd setup is dracut's as "
                       "Debian packages it");
    if (s->layout != LAYOUT_STANDARD) return xstrdup("tpm2 is built with storage.layout: standard only");
    if (s->outputs[OUT_TAR])
        return xasprintf("tpm2 does not go with the tar output%s: %s", s->wsl ? " (wsl: true)" : "",
                         spec_output_refused(s, OUT_TAR));
    if (s->grow_root)
        return xstrdup("tpm2 does not go with os.first_boot.grow_root: growing the root would also need its LUKS "
                       "volume resized; set grow_root: false and size the disk with storage.size");
    return NULL;
}

/* Whether the n package names of list name the package (apt's =VERSION, :ARCH or /RELEASE
 * after it aside). */
static bool names_package(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcspn(list[i], "=:/") == strlen(name) && startswith(list[i], name)) return true;
    return false;
}

/* Whether packages.install names the package. */
static bool installs(const struct image_spec *s, const char *name)
{
    return names_package(s->install, s->ninstall, name);
}

/* The packages storage.encrypt: tpm2 needs, each with why: every one missing (or removed again
 * by packages.remove) is its own error, all at once. */
static void check_encrypt_packages(const struct ynode *at, const struct image_spec *s, struct diags *d)
{
    static const char *const need[][2] = {
        {"dracut", "a systemd initrd that runs systemd-cryptsetup (initramfs-tools' cryptroot cannot use a TPM2 token)"},
        {"libcryptsetup12", "systemd-cryptsetup and systemd-cryptenroll load it"},
        {"tpm2-tools", "dracut's tpm2-tss module needs it to put the TPM2 libraries into the initrd"},
        {"cryptsetup-bin", "verify_encrypted_root (examples/cvm-encrypted.yml) reads the LUKS2 header and tries the "
                           "TPM's unseal with its cryptsetup, and skips without it"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(need); k++)
        if (names_package(s->remove, s->nremove, need[k][0]))
            diag_add(d, at, "storage.encrypt", "tpm2 needs %s, which packages.remove takes out: %s", need[k][0], need[k][1]);
        else if (!installs(s, need[k][0]))
            diag_add(d, at, "storage.encrypt", "tpm2 needs %s in packages.install: %s", need[k][0], need[k][1]);
}

static void updates_init(void *target)
{
    struct image_updates *u = target;
    u->set = u->auto_apply = u->reboot = true;
    u->interval_s = 3600;
    u->channel = xstrdup("stable");
}

static void updates_post(const struct yparse *p, const struct ynode *n, const char *path, void *target)
{
    const struct image_updates *u = target;
    const struct ynode *x = y_get(n, "keys");
    _cleanup_free_ char *kp = ypath(path, "keys");
    if (!u->nkeys) diag_add(p->d, x ? x : n, kp, "the updater needs the gallery's trusted public keys: "
                                                "keys: [keys/release.pub] (kiln keygen makes one)");
}

static const struct yschema updates_schema = {
    .fields = (const struct yfield[]){
        {"server", YF_STR, offsetof(struct image_updates, server), .parse = field_update_server,
         .missing = "missing \"server:\" (the update server's Omaha URL, e.g. http://updates.example:8470/v1/update/)",
         .flags = YF_MISSING_KEY_PATH},
        {"channel", YF_CUSTOM, offsetof(struct image_updates, channel), .parse = field_checked_str,
         .arg = &(const struct charset_rule){"._-", true, "channel name"}},
        {"auto", YF_BOOL, offsetof(struct image_updates, auto_apply)},
        {"reboot", YF_BOOL, offsetof(struct image_updates, reboot)},
        {"check", YF_STR, offsetof(struct image_updates, check), .parse = field_update_check},
        {"interval", YF_CUSTOM, 0, .parse = field_update_interval},
        {"keys", YF_STR_LIST, offsetof(struct image_updates, keys), offsetof(struct image_updates, nkeys),
         .parse = field_update_keys},
        {0}},
    .init = updates_init,
    .post = updates_post,
};

/* arg: non-NULL for packages.install (NAME=VERSION and NAME/RELEASE allowed) */
static void field_packages(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *path,
                           void *target)
{
    char **v = *(char ***)yf_value(f, target);
    size_t n = *(size_t *)((char *)target + f->count_offset);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        const char *why = package_problem(v[i], SPEC(p)->family, f->arg != NULL, buf, sizeof buf);
        if (!why) continue;
        const struct ynode *at = y->kind == YN_SEQ && i < y->n ? y->items[i] : y;
        _cleanup_free_ char *ip = ypath_index(path, i);
        diag_add(p->d, at, ip, "\"%.80s\" is not a valid package name: %s", v[i], why);
    }
}

static const struct yschema packages_schema = {
    .fields = (const struct yfield[]){
        {"install", YF_STR_LIST, offsetof(struct image_spec, install), offsetof(struct image_spec, ninstall),
         .parse = field_packages, .arg = "install"},
        {"remove", YF_STR_LIST, offsetof(struct image_spec, remove), offsetof(struct image_spec, nremove),
         .parse = field_packages},
        {"package_manager", YF_ENUM, offsetof(struct image_spec, remove_package_manager),
         .names = (const char *const[]){"keep", "remove", NULL}},
        {0}},
};

/* wsl: true shapes the rootfs archive only (a WSL distribution is imported from a tar), and
 * kiln writes /etc/wsl.conf and /etc/fstab into it: a disk-only spec, or a file the spec copies
 * to either path, would be silently ignored or overwritten. WSL unpacks the archive into one
 * writable filesystem of its own, so the immutable layout's promises (a read-only /usr under
 * dm-verity, A/B slots the updater writes) cannot hold there. */
static void check_wsl(struct diags *d, const struct ynode *x, const struct ynode *root, const struct image_spec *s)
{
    if (!s->outputs[OUT_TAR])
        diag_add(d, x, "wsl", "wsl: true applies to the rootfs archive only: add tar to \"output\" (e.g. output: [tar]) "
                              "or remove wsl");
    if (s->layout == LAYOUT_IMMUTABLE)
        diag_add(d, x, "wsl", "wsl: true does not go with storage.layout: immutable: WSL imports the archive as one "
                              "writable filesystem, with no read-only /usr under dm-verity and no A/B slots for "
                              "updates; use storage.layout: standard for the WSL image");
    const struct ynode *files = y_get(y_get(root, "os"), "files");
    for (size_t i = 0; i < s->nfiles; i++) {
        const char *dst = s->files[i].dst;
        if (!dst || !(streq(dst, "/etc/wsl.conf") || streq(dst, "/etc/fstab"))) continue;
        const struct ynode *it = files && files->kind == YN_SEQ && i < files->n ? files->items[i] : x;
        const struct ynode *at = y_get(it, "dst") ? y_get(it, "dst") : it;
        _cleanup_free_ char *p = ypath_index("os.files", i);
        _cleanup_free_ char *q = ypath(p, "dst");
        diag_add(d, at, q, "%s is written by kiln when wsl: true (systemd on, the first os.users entry as the default "
                           "user); remove this file or wsl", dst);
    }
}

/* Never prompts: an encrypted key cannot be used by an unattended build. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag;
    *(bool *)u = true;
    return -1;
}

/* A PEM file of the signing pair, at most 1 MiB (a certificate or key is a few KiB: a larger
 * file is not one, and is not read whole); through read_file, so what became a FIFO or device
 * since field_signing_file looked is refused rather than waited on. NULL with *why set. */
static BIO *pem_file(const char *path, char **data, size_t *len, char **why)
{
    int r = read_file(path, 1 << 20, data, len);
    if (r == -EFBIG) *why = xasprintf("%s is larger than 1 MiB: no PEM certificate or key is", path);
    else if (r < 0) *why = fs_open_error(path, r, NULL);
    return r < 0 ? NULL : BIO_new_mem_buf(*data, (int)*len);
}

/* The signing pair must be usable before any stage runs: a PEM certificate, an unencrypted PEM
 * private key, and the two must belong together (X509_check_private_key). Messages name the
 * files, never their content. */
static void check_signing_pair(struct diags *d, const struct ynode *at, const char *path, const char *key,
                               const char *cert)
{
    char *cdata = NULL, *kdata = NULL, *why = NULL;
    size_t clen = 0, klen = 0;
    BIO *b = pem_file(cert, &cdata, &clen, &why);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(cdata);
    if (!x) {
        if (why) diag_add(d, at, path, "%s", why);
        else diag_add(d, at, path, "%s is not a PEM X.509 certificate (-----BEGIN CERTIFICATE-----); sbsign needs one", cert);
        free(why);
        return;
    }
    bool asked = false;
    b = pem_file(key, &kdata, &klen, &why);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, &asked) : NULL;
    BIO_free(b);
    if (kdata) OPENSSL_cleanse(kdata, klen);
    free(kdata);
    if (!k && why) diag_add(d, at, path, "%s", why);
    else if (!k)
        diag_add(d, at, path, "%s is %s", key,
                 asked ? "an encrypted private key: kiln build runs unattended and sbsign would ask for its "
                         "passphrase; give an unencrypted copy, mode 0600 (openssl pkey -in KEY -out COPY)"
                       : "not a PEM private key (-----BEGIN PRIVATE KEY-----)");
    else if (X509_check_private_key(x, k) != 1)
        diag_add(d, at, path, "the key %s does not belong to the certificate %s", key, cert);
    free(why);
    EVP_PKEY_free(k);
    X509_free(x);
}

static void secure_boot_post(const struct yparse *p, const struct ynode *sb, const char *path, void *target)
{
    const struct image_spec *s = target;
    if (s->sb_key && s->sb_cert) check_signing_pair(p->d, sb, path, s->sb_key, s->sb_cert);
}

/* boot.secure_boot.key and .cert: a source file (field_source_file); one that is not there says
 * how to make a pair. The key (f->arg set) readable by group or others is a warning. */
static void field_signing_file(const struct yparse *p, const struct yfield *f, const struct ynode *y, const char *q,
                               void *target)
{
    _cleanup_free_ char *k = NULL;
    if (!y_str(p->d, y, q, &k)) return;
    _cleanup_free_ char *abs = spec_path(y, startswith(k, "file://") ? k + 7 : k);
    struct stat st;
    if (stat(abs, &st) < 0 && errno == ENOENT) {
        diag_add(p->d, y, q, "%s: No such file or directory; make a signing pair with openssl as docs/image.md and "
                             "examples/images/debian-secure-boot.yml show (Debian's test pair: openssl pkey -in "
                             "/usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out KEY and "
                             "/usr/share/ovmf/PkKek-1-snakeoil.pem as CERT; your own: openssl req -x509 -newkey "
                             "rsa:2048 -nodes -keyout KEY -out CERT -subj /CN=NAME/ -days 3650), or fix the path", abs);
        return;
    }
    field_source_file(p, f, y, q, target);
    char **got = yf_value(f, target);
    if (f->arg && *got && stat(*got, &st) == 0 && (st.st_mode & 077))
        diag_add(&SPEC(p)->warnings, y, q, "the key %s is readable by others (mode %04o): chmod 600 it", *got,
                 (unsigned)(st.st_mode & 07777));
}

static const struct yschema secure_boot_schema = {
    .fields = (const struct yfield[]){
        {"key", YF_CUSTOM, offsetof(struct image_spec, sb_key), .parse = field_signing_file, .arg = "key",
         .missing = "needs \"key\": the PEM private key sbsign signs the boot loader and kernel with"},
        {"cert", YF_CUSTOM, offsetof(struct image_spec, sb_cert), .parse = field_signing_file,
         .missing = "needs \"cert\": the PEM certificate sbsign signs the boot loader and kernel with"},
        {0}},
    .post = secure_boot_post,
};

/* secure_boot: { key: K, cert: C } (kiln signs systemd-boot and the kernel), or
 * secure_boot: distro (the distribution's signed shim, GRUB and kernel) */
static void field_secure_boot(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                              void *target)
{
    (void)f;
    if (n->kind == YN_MAP) yschema_apply(p, n, path, &secure_boot_schema, target);
    else if (n->kind == YN_SCALAR && streq(n->scalar, "distro")) ((struct image_spec *)target)->sb_distro = true;
    else if (n->kind == YN_SCALAR)
        diag_add(p->d, n, path, "expected distro (the distribution's signed shim, GRUB and kernel) or { key: KEY, cert: "
                                "CERT } (kiln signs systemd-boot and the kernel with your pair), got \"%.80s\"", n->scalar);
    else
        diag_add(p->d, n, path, "expected distro or { key: KEY, cert: CERT }");
}

static const struct yschema boot_schema = {
    .fields = (const struct yfield[]){
        {"secure_boot", YF_CUSTOM, 0, .parse = field_secure_boot},
        {"initrd_modules", YF_ENUM, offsetof(struct image_spec, initrd_modules),
         .names = (const char *const[]){"vm", "most", NULL}},
        {0}},
};

/* boot: uefi, or boot: { secure_boot: { key: K, cert: C } | distro, initrd_modules: vm | most } */
static void field_boot(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                       void *target)
{
    (void)f;
    static const char *const boots[] = {"uefi", NULL};
    int v;
    if (n->kind != YN_MAP) y_enum(p->d, n, path, boots, &v);
    else yschema_apply(p, n, path, &boot_schema, target);
}

static void field_output(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                         void *target)
{
    (void)f;
    struct image_spec *s = target;
    char **o = NULL;
    size_t no = 0;
    /* a build that writes no image (output: [] or ~) is a mistake, not a request */
    if (y_null(x) || (x->kind == YN_SEQ && !x->n)) {
        diag_add(p->d, x, path, "lists no output: give at least one of raw, qcow2, vhd-fixed, vhd, tar (without "
                                "\"output\" the disk is raw)");
        return;
    }
    if (y_str_list(p->d, x, path, &o, &no))
        for (size_t i = 0; i < no; i++) {
            size_t k = 0;
            while (k < OUT_COUNT && !streq(o[i], kiln_artifacts[k].name)) k++;
            const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
            _cleanup_free_ char *ip = ypath_index(path, i);
            if (k == OUT_COUNT) diag_add(p->d, at, ip, "unknown output \"%s\" (raw, qcow2, vhd-fixed, vhd, tar)", o[i]);
            else if (s->outputs[k]) diag_add(p->d, at, ip, "%s is listed twice", o[i]);
            else s->outputs[k] = true;
        }
    strv_free(o, no);
}

static void field_arch(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                       void *target)
{
    (void)f;
    kiln_arch_y(p->d, x, path, &((struct image_spec *)target)->arch);
}

static void field_wsl(const struct yparse *p, const struct yfield *f, const struct ynode *x, const char *path,
                      void *target)
{
    (void)f, (void)path;
    const struct image_spec *s = target;
    if (s->wsl) check_wsl(p->d, x, ((struct spec_ctx *)p->user)->root, s);
}

static void spec_post(const struct yparse *p, const struct ynode *root, const char *path, void *target)
{
    (void)p, (void)path;
    if (!y_get(root, "output")) ((struct image_spec *)target)->outputs[OUT_RAW] = true;
}

/* Processed in this order: output before wsl, whose check reads the outputs. */
static const struct yschema spec_schema = {
    .fields = (const struct yfield[]){
        CHECKED("name", name, "._-", true, "image name (letters, digits, . _ -, at most 64)",
                .missing = "missing \"name:\" (the image name, e.g. debian-server)", .flags = YF_MISSING_KEY_PATH),
        CHECKED("version", version, "._+~-", true, "version (e.g. 1.2.0, at most 64)",
                .missing = "missing \"version:\" (e.g. 1.0.0)", .flags = YF_MISSING_KEY_PATH),
        {"arch", YF_CUSTOM, 0, .parse = field_arch},
        {"base", YF_MAP, 0, .sub = &base_schema, .flags = YF_MISSING_KEY_PATH,
         .missing = "missing \"base:\" (family deb with a suite, or rpm with repos)"},
        {"packages", YF_MAP, 0, .sub = &packages_schema},
        {"os", YF_MAP, 0, .sub = &os_schema},
        {"storage", YF_MAP, 0, .sub = &storage_schema},
        {"boot", YF_CUSTOM, 0, .parse = field_boot},
        {"output", YF_CUSTOM, 0, .parse = field_output},
        {"updates", YF_MAP, offsetof(struct image_spec, updates), .sub = &updates_schema},
        {"wsl", YF_BOOL, offsetof(struct image_spec, wsl), .parse = field_wsl},
        {0}},
    .post = spec_post,
};

/* The kernel and boot chain come per architecture, named in the package (Debian's
 * linux-image-amd64, grub-efi-arm64-signed; rpm's shim-x64, grub2-efi-aa64, kernel.aarch64). */
static const char *const per_arch_prefixes[] = {"linux-image-", "linux-headers-", "linux-signed-", "grub-efi-",
                                                "grub2-efi-", "shim-", "kernel", NULL};

/* arch's spelling of kind k in package names: 0 Debian's (arm64), 1 rpm's (aarch64), 2 the
 * UEFI one (aa64, from BOOTAA64.EFI). */
static void arch_token(const struct kiln_arch *a, int k, char buf[16])
{
    const char *t = k == 0 ? a->debian : k == 1 ? a->rpm : a->efi_boot + strlen("BOOT");
    size_t i = 0;
    for (; t[i] && t[i] != '.' && i < 15; i++) buf[i] = (char)tolower((unsigned char)t[i]);
    buf[i] = 0;
}

/* A kernel or boot-chain package of another architecture than the spec's: the package to
 * install instead (its name with this architecture's spelling), and in *other the one named. */
static char *other_arch_package(const struct image_spec *s, const char *name, const struct kiln_arch **other)
{
    bool boot_chain = false;
    for (size_t i = 0; per_arch_prefixes[i]; i++) boot_chain |= startswith(name, per_arch_prefixes[i]);
    size_t na;
    const struct kiln_arch *all = kiln_arch_all(&na);
    for (size_t a = 0; boot_chain && a < na; a++)
        for (int k = 0; k < 3 && &all[a] != s->arch; k++) {
            char tok[16], mine[16];
            arch_token(&all[a], k, tok);
            size_t tl = strlen(tok);
            /* a whole token: after - or ., before the end, - or . */
            for (const char *at = strstr(name, tok); at; at = strstr(at + 1, tok))
                if (at > name && strchr("-.", at[-1]) && strchr("-.", at[tl])) {
                    arch_token(s->arch, k, mine);
                    *other = &all[a];
                    return xasprintf("%.*s%s%s", (int)(at - name), name, mine, at + tl);
                }
        }
    return NULL;
}

/* An image for its architecture: kernel and boot loader packages of that architecture; a
 * disk's systemd-boot from the image when the build host's is for another (build_disk.c); a
 * serial console the architecture's QEMU machine has (a warning: the console may be meant). */
static void check_arch(const struct ynode *root, struct image_spec *s, struct diags *d)
{
    const struct ynode *install = y_get(y_get(root, "packages"), "install");
    bool sdboot = false;
    for (size_t i = 0; i < s->ninstall; i++) {
        sdboot |= streq(s->install[i], "systemd-boot-efi") || streq(s->install[i], "systemd-boot");
        const struct kiln_arch *other = NULL;
        _cleanup_free_ char *want = other_arch_package(s, s->install[i], &other);
        if (!want) continue;
        _cleanup_free_ char *p = ypath_index("packages.install", i);
        diag_add(d, install && install->kind == YN_SEQ && i < install->n ? install->items[i] : install, p,
                 "%s is a package for %s, this image is %s (arch): install %s", s->install[i], other->name,
                 s->arch->name, want);
    }
    bool disk = false;
    for (int o = 0; o < OUT_COUNT; o++) disk |= o != OUT_TAR && s->outputs[o];
    const struct kiln_arch *host = kiln_arch_host();
    if (disk && !sdboot && s->family == FAMILY_DEB && s->arch != host)
        diag_add(d, install ? install : y_get(root, "packages") ? y_get(root, "packages") : y_get(root, "arch"),
                 "packages.install", "an %s disk image built on this %s host needs the image's own systemd-boot (%s): "
                 "add systemd-boot-efi to packages.install", s->arch->name, host ? host->name : "other",
                 s->arch->systemd_boot);
    const struct ynode *cmdline = y_get(y_get(root, "os"), "kernel_cmdline");
    size_t na;
    const struct kiln_arch *all = kiln_arch_all(&na);
    for (size_t a = 0; s->kernel_cmdline && a < na; a++) {
        _cleanup_free_ char *arg = xasprintf("console=%s", all[a].console);
        const char *at = strstr(s->kernel_cmdline, arg);
        size_t l = strlen(arg);
        if (&all[a] != s->arch && at && (at == s->kernel_cmdline || at[-1] == ' ') && strchr(" ,", at[l]))
            diag_add(&s->warnings, cmdline, "os.kernel_cmdline", "%s is %s's serial console; an %s guest's (QEMU %s) "
                     "is %s: console=%s", arg, all[a].name, s->arch->name, s->arch->machine, s->arch->console,
                     s->arch->console);
    }
}

/* Rules across sections, once each section read cleanly. */
/* boot.secure_boot: distro takes its shim and GRUB from the image's packages (Debian's paths),
 * and GRUB's grub.cfg carries the command line: its script quoting and the escaping of quotes
 * and backslashes its linux command adds would change what the kernel gets. */
static void check_distro_boot(const struct ynode *root, const struct image_spec *s, struct diags *d)
{
    const struct ynode *at = y_get(y_get(root, "boot"), "secure_boot");
    if (s->family != FAMILY_DEB) {
        diag_add(d, at, "boot.secure_boot", "distro is Debian's signed shim and GRUB: base.family must be deb; "
                                            "sign with { key, cert } instead");
        return;
    }
    const char *need[] = {"shim-signed", s->arch->grub_package};
    for (size_t k = 0; k < ARRAY_SIZE(need); k++)
        if (!installs(s, need[k]))
            diag_add(d, at, "boot.secure_boot", "distro needs %s in packages.install (the ESP gets its signed %s)",
                     need[k], k == 0 ? "shim and MokManager" : "GRUB");
    const char *c = s->kernel_cmdline;
    if (c && c[strcspn(c, "'\\\"")])
        diag_add(d, y_get(y_get(root, "os"), "kernel_cmdline"), "os.kernel_cmdline",
                 "contains a quote or backslash, which GRUB (boot.secure_boot: distro) would pass escaped; "
                 "remove it");
    if (s->updates.set)
        diag_add(d, y_get(root, "updates"), "updates", "updates need systemd-boot's boot counting, which "
                                                      "boot.secure_boot: distro (GRUB) does not have; use { key, cert }");
}

/* Whether the regular file src holds the private key at key: the same path, the same file under
 * another name (a hard link), or a copy with the same bytes. Both are at most 1 MiB to compare;
 * the bytes read are wiped before they are freed. */
static bool holds_key(const char *key, const char *src)
{
    struct stat a, b;
    if (streq(key, src)) return true;
    if (stat(key, &a) < 0 || stat(src, &b) < 0) return false;
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) return true;
    if (a.st_size != b.st_size || a.st_size > (1 << 20)) return false;
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    bool same = read_file(key, 1 << 20, &x, &xl) == 0 && read_file(src, 1 << 20, &y, &yl) == 0 && xl == yl &&
                memcmp(x, y, xl) == 0;
    if (x) OPENSSL_cleanse(x, xl);
    if (y) OPENSSL_cleanse(y, yl);
    free(x);
    free(y);
    return same;
}

static void check_across(const struct ynode *root, struct image_spec *s, struct diags *d, size_t before)
{
    if (s->sb_distro && d->n == before) check_distro_boot(root, s, d);
    for (size_t i = 0; s->sb_key && i < s->nfiles; i++)
        if (s->files[i].src && holds_key(s->sb_key, s->files[i].src)) {
            _cleanup_free_ char *p = ypath_index("os.files", i);
            const struct ynode *files = y_get(y_get(root, "os"), "files");
            diag_add(d, files && files->kind == YN_SEQ && i < files->n ? files->items[i] : files, p,
                     "is the Secure Boot signing key (boot.secure_boot.key): the private key never goes into an image");
        }
    if (d->n == before) check_arch(root, s, d);
    if (s->layout == LAYOUT_IMMUTABLE && d->n == before) {
        bool dracut = false;
        for (size_t i = 0; i < s->ninstall; i++) dracut |= startswith(s->install[i], "dracut");
        if (!dracut)
            diag_add(d, y_get(y_get(root, "storage"), "layout"), "storage.layout",
                     "the immutable layout needs a systemd initrd that sets up dm-verity for /usr: add dracut "
                     "(and libcryptsetup12) to packages.install instead of initramfs-tools");
    }
    if (s->encrypt && d->n == before) {
        _cleanup_free_ char *why = encrypt_spec_check(s);
        const struct ynode *at = y_get(y_get(root, "storage"), "encrypt");
        if (why) diag_add(d, at, "storage.encrypt", "%s", why);
        else check_encrypt_packages(at, s, d);
    }
    if (s->updates.set && d->n == before) {
        bool sdboot = false;
        for (size_t i = 0; i < s->ninstall; i++) sdboot |= streq(s->install[i], "systemd-boot");
        if (s->layout != LAYOUT_IMMUTABLE)
            diag_add(d, y_get(root, "updates"), "updates", "updates need storage.layout: immutable (the updater "
                                                          "writes the inactive /usr slot)");
        else if (s->family == FAMILY_DEB && !sdboot)
            diag_add(d, y_get(root, "updates"), "updates", "updates need boot counting and blessing "
                                                          "(systemd-bless-boot): add systemd-boot to packages.install");
    }
}

int spec_load(const char *path, const char *source_root, struct image_spec **out, struct diags *d)
{
    size_t before = d->n;
    struct ynode *root = yaml_load_file(path, d);
    if (!root) return -EINVAL;
    struct image_spec *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->arch = kiln_arch_default();
    s->size = 2ull << 30;
    s->filesystem = xstrdup("ext4");
    s->usr_filesystem = xstrdup("erofs");
    s->regenerate_ssh_host_keys = s->reset_machine_id = true;
    _cleanup_free_ char *spec_dir = path_dirname(path);
    char real[PATH_MAX];
    if (realpath(source_root ? source_root : spec_dir, real)) s->source_root = xstrdup(real);
    else diag_add_at(d, path, 0, 0, NULL, "the source directory %s: %s", source_root ? source_root : spec_dir, strerror(errno));
    struct spec_ctx ctx = {s, root};
    if (d->n == before) yschema_apply(&(struct yparse){d, &ctx}, root, "", &spec_schema, s);
    check_across(root, s, d, before);
    ynode_free(root);
    if (d->n > before) {
        spec_free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

void spec_free(struct image_spec *s)
{
    if (!s) return;
    diags_free(&s->warnings);
    free(s->path);
    free(s->source_root);
    free(s->sb_key);
    free(s->sb_cert);
    free(s->name);
    free(s->version);
    free(s->suite);
    free(s->mirror);
    free(s->releasever);
    strv_free(s->components, s->ncomponents);
    for (size_t i = 0; i < s->nrepos; i++) {
        free(s->repos[i].name);
        free(s->repos[i].baseurl);
        free(s->repos[i].gpgkey);
        free(s->repos[i].suite);
        strv_free(s->repos[i].components, s->repos[i].ncomponents);
    }
    free(s->repos);
    strv_free(s->install, s->ninstall);
    strv_free(s->remove, s->nremove);
    free(s->hostname);
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        strv_free(s->users[i].groups, s->users[i].ngroups);
        strv_free(s->users[i].ssh_keys, s->users[i].nssh_keys);
    }
    free(s->users);
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].src);
        free(s->files[i].src_rel);
        free(s->files[i].dst);
    }
    free(s->files);
    strv_free(s->enable, s->nenable);
    strv_free(s->disable, s->ndisable);
    strv_free(s->mask, s->nmask);
    for (size_t i = 0; i < s->nsysctl; i++) {
        free(s->sysctl[i].key);
        free(s->sysctl[i].value);
    }
    free(s->sysctl);
    free(s->kernel_cmdline);
    free(s->filesystem);
    free(s->usr_filesystem);
    free(s->updates.server);
    free(s->updates.channel);
    free(s->updates.check);
    strv_free(s->updates.keys, s->updates.nkeys);
    free(s);
}
