/* Image spec parser. Every value that ends up in a file or a command inside the image is
 * checked against a strict character set here, so later stages never quote user text into
 * a shell. */
#include "image/spec.h"

#include "trust/minisign.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/fs.h"
#include "util/util.h"

#define FIELD(map, key) y_get((map), (key))
#define SUBPATH(var, parent, key) _cleanup_free_ char *var = ypath((parent), (key))

static const char *const out_names[] = {"raw", "qcow2", "vhd-fixed", "vhd", "tar"};

const char *spec_output_name(enum image_output o) { return o < OUT_COUNT ? out_names[o] : "?"; }

bool spec_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || isinf(v)) return false;
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
static const char *package_problem(const char *p, enum image_family fam, bool install, char *buf, size_t sz)
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

static void parse_base(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"family", "suite", "components", "mirror", "repos", "releasever", NULL};
    static const char *const fams[] = {"deb", "rpm", NULL};
    if (!y_expect(d, n, "base", YN_MAP)) return;
    y_check_keys(d, n, "base", keys);
    const struct ynode *x;
    int fam = 0;
    if ((x = FIELD(n, "family"))) y_enum(d, x, "base.family", fams, &fam);
    else diag_add(d, n, "base", "needs \"family\": deb (mmdebstrap) or rpm (dnf --installroot)");
    s->family = fam;
    if ((x = FIELD(n, "suite"))) checked_str(d, x, "base.suite", "-._", true, "suite name", &s->suite);
    if ((x = FIELD(n, "components"))) checked_list(d, x, "base.components", "-._", "component", &s->components, &s->ncomponents);
    if ((x = FIELD(n, "mirror")) && y_str(d, x, "base.mirror", &s->mirror)) {
        if (!charset(s->mirror, ":/._-~%+@", true) || strlen(s->mirror) > 1024 ||
            !(startswith(s->mirror, "http://") || startswith(s->mirror, "https://") || startswith(s->mirror, "file:/")))
            diag_add(d, x, "base.mirror", "\"%.80s\" is not an http(s):// or file:/ URL", s->mirror);
        else if (startswith(s->mirror, "file:/")) {
            char *dir = NULL;
            if (source_path(d, x, "base.mirror", s, s->mirror + (startswith(s->mirror, "file://") ? 7 : 5), S_IFDIR, &dir, NULL)) {
                free(s->mirror);
                s->mirror = xasprintf("file://%s", dir);
            }
            free(dir);
        }
    }
    if ((x = FIELD(n, "releasever"))) checked_str(d, x, "base.releasever", "._-", true, "release version", &s->releasever);
    if ((x = FIELD(n, "repos")) && y_expect(d, x, "base.repos", YN_SEQ)) {
        static const char *const rkeys[] = {"name", "baseurl", "gpgkey", "suite", "components", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("base.repos", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, rkeys);
            struct image_repo *r = APPEND(s->repos, s->nrepos, cap);
            memset(r, 0, sizeof *r);
            const struct ynode *y;
            if ((y = FIELD(it, "name"))) { SUBPATH(q, p, "name"); checked_str(d, y, q, "-._", true, "repository id", &r->name); }
            else diag_add(d, it, p, "needs \"name\"");
            if ((y = FIELD(it, "baseurl"))) {
                SUBPATH(q, p, "baseurl");
                if (y_str(d, y, q, &r->baseurl) && !no_control(r->baseurl)) {
                    diag_add(d, y, q, "contains control characters");
                } else if (r->baseurl && !startswith(r->baseurl, "http://") && !startswith(r->baseurl, "https://")) {
                    /* a local directory (a path relative to the spec, or a file: URL) */
                    const char *local = r->baseurl + (startswith(r->baseurl, "file://") ? 7 : startswith(r->baseurl, "file:") ? 5 : 0);
                    char *abs = NULL;
                    if (source_path(d, y, q, s, local, S_IFDIR, &abs, NULL)) {
                        free(r->baseurl);
                        r->baseurl = xasprintf("file://%s", abs);
                    }
                    free(abs);
                }
            } else diag_add(d, it, p, "needs \"baseurl\"");
            if ((y = FIELD(it, "gpgkey"))) {
                SUBPATH(q, p, "gpgkey");
                char *k = NULL;
                if (y_str(d, y, q, &k)) source_path(d, y, q, s, startswith(k, "file://") ? k + 7 : k, S_IFREG, &r->gpgkey, NULL);
                free(k);
            } else diag_add(d, it, p, "needs \"gpgkey\": kiln installs RPMs with signature checks on");
            /* deb: an apt source "deb [signed-by=GPGKEY] BASEURL SUITE COMPONENTS", one line */
            if (fam == FAMILY_DEB && r->baseurl && strpbrk(r->baseurl, " \t[]"))
                diag_add(d, FIELD(it, "baseurl"), p, "baseurl \"%.80s\" has a space or a bracket, which an apt source line cannot hold", r->baseurl);
            if (fam == FAMILY_DEB && r->gpgkey && strpbrk(r->gpgkey, " \t[]"))
                diag_add(d, FIELD(it, "gpgkey"), p, "the key's path %.80s has a space or a bracket, which apt's signed-by cannot hold", r->gpgkey);
            if ((y = FIELD(it, "suite"))) {
                SUBPATH(q, p, "suite");
                if (fam != FAMILY_DEB) diag_add(d, y, q, "only a deb repository has a suite (dnf reads baseurl/repodata)");
                else checked_str(d, y, q, "-._", true, "suite name", &r->suite);
            }
            if ((y = FIELD(it, "components"))) {
                SUBPATH(q, p, "components");
                if (fam != FAMILY_DEB) diag_add(d, y, q, "only a deb repository has components");
                else checked_list(d, y, q, "-._", "component", &r->components, &r->ncomponents);
            }
        }
    }
    if (s->family == FAMILY_DEB && !s->suite) diag_add(d, n, "base", "a deb base needs \"suite\" (e.g. bookworm)");
    if (s->family == FAMILY_RPM && !s->nrepos) diag_add(d, n, "base", "an rpm base needs \"repos\" (baseurl + gpgkey each)");
}

static void parse_os(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"hostname", "users", "files", "services", "sysctl", "kernel_cmdline", "first_boot", "network", NULL};
    if (!y_expect(d, n, "os", YN_MAP)) return;
    y_check_keys(d, n, "os", keys);
    const struct ynode *x;
    char buf[256];
    const char *why;
    if ((x = FIELD(n, "hostname")) && y_str(d, x, "os.hostname", &s->hostname) &&
        (why = hostname_problem(s->hostname, buf, sizeof buf)))
        diag_add(d, x, "os.hostname", "\"%.255s\" is not a valid host name (RFC 1123, at most %d characters): %s",
                 s->hostname, HOST_NAME_MAX_LEN, why);
    if ((x = FIELD(n, "users")) && y_expect(d, x, "os.users", YN_SEQ)) {
        static const char *const ukeys[] = {"name", "groups", "ssh_keys", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("os.users", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, ukeys);
            struct image_user *u = APPEND(s->users, s->nusers, cap);
            memset(u, 0, sizeof *u);
            const struct ynode *y;
            if ((y = FIELD(it, "name"))) {
                SUBPATH(q, p, "name");
                if (y_str(d, y, q, &u->name) && (why = account_problem(u->name, buf, sizeof buf)))
                    diag_add(d, y, q, "\"%.80s\" is not a valid user name (useradd): %s", u->name, why);
            } else diag_add(d, it, p, "needs \"name\"");
            if ((y = FIELD(it, "groups"))) {
                SUBPATH(q, p, "groups");
                if (y_str_list(d, y, q, &u->groups, &u->ngroups))
                    check_list(d, y, q, u->groups, u->ngroups, "group name (groupadd)", account_problem);
            }
            if ((y = FIELD(it, "ssh_keys"))) {
                SUBPATH(q, p, "ssh_keys");
                if (y_str_list(d, y, q, &u->ssh_keys, &u->nssh_keys))
                    for (size_t k = 0; k < u->nssh_keys; k++)
                        if (!no_control(u->ssh_keys[k]) || strlen(u->ssh_keys[k]) > 16384 ||
                            !(startswith(u->ssh_keys[k], "ssh-") || startswith(u->ssh_keys[k], "ecdsa-") || startswith(u->ssh_keys[k], "sk-")))
                            diag_add(d, y, q, "entry %zu is not an OpenSSH public key line (ssh-ed25519 AAAA…)", k);
            }
        }
    }
    if ((x = FIELD(n, "files")) && y_expect(d, x, "os.files", YN_SEQ)) {
        static const char *const fkeys[] = {"src", "dst", "mode", NULL};
        size_t cap = 0;
        for (size_t i = 0; i < x->n; i++) {
            const struct ynode *it = x->items[i];
            _cleanup_free_ char *p = ypath_index("os.files", i);
            if (!y_expect(d, it, p, YN_MAP)) continue;
            y_check_keys(d, it, p, fkeys);
            struct image_file *f = APPEND(s->files, s->nfiles, cap);
            memset(f, 0, sizeof *f);
            f->mode = 0644;
            const struct ynode *y;
            if ((y = FIELD(it, "src"))) {
                SUBPATH(q, p, "src");
                char *v = NULL;
                if (y_str(d, y, q, &v)) source_path(d, y, q, s, v, S_IFREG, &f->src, &f->src_rel);
                free(v);
            } else diag_add(d, it, p, "needs \"src\"");
            if ((y = FIELD(it, "dst"))) {
                SUBPATH(q, p, "dst");
                if (y_str(d, y, q, &f->dst) && (why = dest_problem(f->dst, buf, sizeof buf)))
                    diag_add(d, y, q, "\"%.80s\" is not a file path inside the image: %s", f->dst, why);
            } else diag_add(d, it, p, "needs \"dst\"");
            if ((y = FIELD(it, "mode"))) {
                SUBPATH(q, p, "mode");
                char *v = NULL;
                if (y_str(d, y, q, &v)) {
                    char *end;
                    unsigned long m = strtoul(v, &end, 8);
                    if (*end || !*v || m > 07777) diag_add(d, y, q, "\"%s\" is not an octal mode such as \"0644\"", v);
                    else f->mode = (unsigned)m;
                }
                free(v);
            }
        }
    }
    if ((x = FIELD(n, "services")) && y_expect(d, x, "os.services", YN_MAP)) {
        static const char *const skeys[] = {"enable", "disable", "mask", NULL};
        y_check_keys(d, x, "os.services", skeys);
        struct { const char *key, *path; char ***v; size_t *n; } lists[] = {
            {"enable", "os.services.enable", &s->enable, &s->nenable},
            {"disable", "os.services.disable", &s->disable, &s->ndisable},
            {"mask", "os.services.mask", &s->mask, &s->nmask}};
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
            const struct ynode *y = FIELD(x, lists[i].key);
            if (y && y_str_list(d, y, lists[i].path, lists[i].v, lists[i].n))
                check_list(d, y, lists[i].path, *lists[i].v, *lists[i].n, "systemd unit name", unit_problem);
        }
    }
    if ((x = FIELD(n, "sysctl")) && y_expect(d, x, "os.sysctl", YN_MAP)) {
        size_t cap = 0;
        for (size_t i = 0; i + 1 < x->n; i += 2) {
            const struct ynode *k = x->items[i], *v = x->items[i + 1];
            _cleanup_free_ char *p = ypath("os.sysctl", k->scalar ? k->scalar : "?");
            if ((why = sysctl_problem(k->scalar, buf, sizeof buf))) {
                diag_add(d, k, p, "\"%.80s\" is not a sysctl name (sysctl.d): %s", k->scalar, why);
                continue;
            }
            char *val = NULL;
            if (!y_str(d, v, p, &val)) continue;
            if (!no_control(val) || strlen(val) > 4096) {
                diag_add(d, v, p, "the value must be one line of at most 4096 bytes");
                free(val);
                continue;
            }
            struct image_kv *kv = APPEND(s->sysctl, s->nsysctl, cap);
            kv->key = xstrdup(k->scalar);
            kv->value = val;
        }
    }
    if ((x = FIELD(n, "kernel_cmdline")) && y_str(d, x, "os.kernel_cmdline", &s->kernel_cmdline)) {
        if (!no_control(s->kernel_cmdline))
            diag_add(d, x, "os.kernel_cmdline", "contains control characters (a newline ends the boot entry's options line)");
        else if (strlen(s->kernel_cmdline) > KERNEL_CMDLINE_MAX)
            diag_add(d, x, "os.kernel_cmdline", "is %zu bytes; at most %d: the kernel reads 2048 (x86 COMMAND_LINE_SIZE) "
                     "and kiln adds up to 512 (root=, usrhash=, ...)", strlen(s->kernel_cmdline), KERNEL_CMDLINE_MAX);
    }
    if ((x = FIELD(n, "network"))) {
        static const char *const nets[] = {"dhcp", "none", NULL};
        int v;
        if (y_enum(d, x, "os.network", nets, &v)) s->network = v == 0 ? IMAGE_NET_DHCP : IMAGE_NET_NONE;
    }
    if ((x = FIELD(n, "first_boot")) && y_expect(d, x, "os.first_boot", YN_MAP)) {
        static const char *const bkeys[] = {"regenerate_ssh_host_keys", "reset_machine_id", "grow_root", NULL};
        y_check_keys(d, x, "os.first_boot", bkeys);
        const struct ynode *y;
        if ((y = FIELD(x, "regenerate_ssh_host_keys"))) y_bool(d, y, "os.first_boot.regenerate_ssh_host_keys", &s->regenerate_ssh_host_keys);
        if ((y = FIELD(x, "reset_machine_id"))) y_bool(d, y, "os.first_boot.reset_machine_id", &s->reset_machine_id);
        if ((y = FIELD(x, "grow_root"))) y_bool(d, y, "os.first_boot.grow_root", &s->grow_root);
    }
}

static void parse_storage(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"layout", "size", "filesystem", "usr_filesystem", "encrypt", NULL};
    static const char *const encrypts[] = {"none", "tpm2", NULL};
    static const char *const layouts[] = {"standard", "immutable", NULL};
    static const char *const rootfs[] = {"ext4", NULL};
    static const char *const usrfs[] = {"erofs", "squashfs", NULL};
    if (!y_expect(d, n, "storage", YN_MAP)) return;
    y_check_keys(d, n, "storage", keys);
    const struct ynode *x;
    int v = 0;
    if ((x = FIELD(n, "layout")) && y_enum(d, x, "storage.layout", layouts, &v)) s->layout = v;
    if ((x = FIELD(n, "size"))) {
        char *t = NULL;
        if (y_str(d, x, "storage.size", &t) && (!spec_parse_size(t, &s->size) || s->size < (64u << 20)))
            diag_add(d, x, "storage.size", "\"%s\" is not a disk size of at least 64M (e.g. 2G, 1536M)", t);
        free(t);
    }
    v = 0;
    if ((x = FIELD(n, "filesystem")) && y_enum(d, x, "storage.filesystem", rootfs, &v)) {
        free(s->filesystem);
        s->filesystem = xstrdup(rootfs[v]);
    }
    v = 0;
    if ((x = FIELD(n, "usr_filesystem")) && y_enum(d, x, "storage.usr_filesystem", usrfs, &v)) {
        free(s->usr_filesystem);
        s->usr_filesystem = xstrdup(usrfs[v]);
    }
    v = 0;
    if ((x = FIELD(n, "encrypt")) && y_enum(d, x, "storage.encrypt", encrypts, &v)) s->encrypt = v;
}

/* storage.encrypt: tpm2 (image/encrypt.h): why spec s cannot be built so, naming the fix, or NULL. */
static char *encrypt_spec_check(const struct image_spec *s)
{
    if (s->family != FAMILY_DEB)
        return xstrdup("tpm2 is built for Debian images (base.family: deb) only: the initrd setup is dracut's as "
                       "Debian packages it");
    if (s->layout != LAYOUT_STANDARD) return xstrdup("tpm2 is built with storage.layout: standard only");
    if (s->grow_root)
        return xstrdup("tpm2 does not go with os.first_boot.grow_root: growing the root would also need its LUKS "
                       "volume resized; set grow_root: false and size the disk with storage.size");
    static const char *const need[][2] = {
        {"dracut", "a systemd initrd that runs systemd-cryptsetup (initramfs-tools' cryptroot cannot use a TPM2 token)"},
        {"libcryptsetup12", "systemd-cryptsetup and systemd-cryptenroll load it"},
        {"tpm2-tools", "dracut's tpm2-tss module needs it to put the TPM2 libraries into the initrd"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(need); k++) {
        bool has = false;
        for (size_t i = 0; i < s->ninstall; i++) has |= streq(s->install[i], need[k][0]);
        if (!has) return xasprintf("tpm2 needs %s in packages.install: %s", need[k][0], need[k][1]);
    }
    return NULL;
}

/* updates: {server, channel, auto, reboot, check, interval, keys} */
static void parse_updates(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    static const char *const keys[] = {"server", "channel", "auto", "reboot", "check", "interval", "keys", NULL};
    struct image_updates *u = &s->updates;
    if (!y_expect(d, n, "updates", YN_MAP)) return;
    y_check_keys(d, n, "updates", keys);
    u->set = true;
    u->auto_apply = u->reboot = true;
    u->interval_s = 3600;
    const struct ynode *x;
    if ((x = FIELD(n, "server")) && y_str(d, x, "updates.server", &u->server)) {
        bool ok = startswith(u->server, "http://") && u->server[7] && u->server[7] != '/' && strlen(u->server) < 1000;
        for (const char *p = u->server; ok && *p; p++) ok = (unsigned char)*p > ' ' && *p != 0x7f && *p != '"' && *p != '\\';
        if (!ok)
            diag_add(d, x, "updates.server", "\"%.80s\" is not an http:// URL (the updater speaks plain HTTP: update.json "
                                             "is signed and vouches for every file, see docs/updates.md)", u->server);
    } else if (!x) diag_add(d, n, "updates.server", "missing \"server:\" (the update server's Omaha URL, e.g. "
                                                     "http://updates.example:8470/v1/update/)");
    if ((x = FIELD(n, "channel"))) checked_str(d, x, "updates.channel", "._-", true, "channel name", &u->channel);
    else u->channel = xstrdup("stable");
    if ((x = FIELD(n, "auto"))) y_bool(d, x, "updates.auto", &u->auto_apply);
    if ((x = FIELD(n, "reboot"))) y_bool(d, x, "updates.reboot", &u->reboot);
    if ((x = FIELD(n, "check")) && y_str(d, x, "updates.check", &u->check) && (!*u->check || strchr(u->check, '\n')))
        diag_add(d, x, "updates.check", "the health check is one non-empty shell command line");
    if ((x = FIELD(n, "interval"))) {
        char *t = NULL;
        if (y_str(d, x, "updates.interval", &t) && (!parse_long(t, &u->interval_s) || u->interval_s < 60 || u->interval_s > 7 * 86400))
            diag_add(d, x, "updates.interval", "\"%.40s\" is not a number of seconds between 60 and 604800", t);
        free(t);
    }
    if ((x = FIELD(n, "keys")) && y_str_list(d, x, "updates.keys", &u->keys, &u->nkeys)) {
        for (size_t i = 0; i < u->nkeys; i++) {
            const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
            _cleanup_free_ char *p = ypath_index("updates.keys", i);
            char *abs = NULL, *err = NULL;
            char id[17];
            if (!source_path(d, at, p, s, u->keys[i], S_IFREG, &abs, NULL)) continue;
            if (ms_key_id(abs, id, &err) < 0) diag_add(d, at, p, "%s is not a minisign public key: %s", abs, err);
            free(err);
            free(u->keys[i]);
            u->keys[i] = abs;
        }
    }
    if (!u->nkeys) diag_add(d, x ? x : n, "updates.keys", "the updater needs the gallery's trusted public keys: "
                                                         "keys: [keys/release.pub] (kiln keygen makes one)");
}

/* wsl: true shapes the rootfs archive only (a WSL distribution is imported from a tar), and
 * kiln writes /etc/wsl.conf and /etc/fstab into it: a disk-only spec, or a file the spec copies
 * to either path, would be silently ignored or overwritten. */
static void check_wsl(struct diags *d, const struct ynode *x, const struct ynode *root, const struct image_spec *s)
{
    if (!s->outputs[OUT_TAR])
        diag_add(d, x, "wsl", "wsl: true applies to the rootfs archive only: add tar to \"output\" (e.g. output: [tar]) "
                              "or remove wsl");
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

/* The signing pair must be usable before any stage runs: a PEM certificate, an unencrypted PEM
 * private key, and the two must belong together (X509_check_private_key). Messages name the
 * files, never their content. */
static void check_signing_pair(struct diags *d, const struct ynode *at, const char *path, const char *key,
                               const char *cert)
{
    FILE *f = fopen(cert, "re");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f) fclose(f);
    if (!x) {
        diag_add(d, at, path, "%s is not a PEM X.509 certificate (-----BEGIN CERTIFICATE-----); sbsign needs one", cert);
        return;
    }
    bool asked = false;
    f = fopen(key, "re");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, no_passphrase, &asked) : NULL;
    if (f) fclose(f);
    if (!k)
        diag_add(d, at, path, "%s is %s", key,
                 asked ? "an encrypted private key: kiln build runs unattended and sbsign would ask for its "
                         "passphrase; give an unencrypted copy, mode 0600 (openssl pkey -in KEY -out COPY)"
                       : "not a PEM private key (-----BEGIN PRIVATE KEY-----)");
    else if (X509_check_private_key(x, k) != 1)
        diag_add(d, at, path, "the key %s does not belong to the certificate %s", key, cert);
    EVP_PKEY_free(k);
    X509_free(x);
}

/* boot: uefi, or boot: { secure_boot: { key: K, cert: C } } (UEFI, signed for Secure Boot) */
static void parse_boot(const struct ynode *n, struct image_spec *s, struct diags *d)
{
    if (n->kind != YN_MAP) {
        static const char *const boots[] = {"uefi", NULL};
        int v;
        y_enum(d, n, "boot", boots, &v);
        return;
    }
    static const char *const keys[] = {"secure_boot", NULL};
    y_check_keys(d, n, "boot", keys);
    const struct ynode *sb = FIELD(n, "secure_boot");
    if (!sb || !y_expect(d, sb, "boot.secure_boot", YN_MAP)) return;
    static const char *const sbkeys[] = {"key", "cert", NULL};
    y_check_keys(d, sb, "boot.secure_boot", sbkeys);
    struct { const char *name, *path; char **out; } fields[] = {
        {"key", "boot.secure_boot.key", &s->sb_key}, {"cert", "boot.secure_boot.cert", &s->sb_cert}};
    bool ok = true;
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        const struct ynode *y = FIELD(sb, fields[i].name);
        _cleanup_free_ char *v = NULL;
        if (!y) {
            diag_add(d, sb, "boot.secure_boot", "needs \"%s\": the PEM %s sbsign signs the boot loader and kernel with",
                     fields[i].name, i ? "certificate" : "private key");
            ok = false;
        } else if (!y_str(d, y, fields[i].path, &v) || !source_path(d, y, fields[i].path, s, v, S_IFREG, fields[i].out, NULL))
            ok = false;
    }
    if (ok) check_signing_pair(d, sb, "boot.secure_boot", s->sb_key, s->sb_cert);
}

int spec_load(const char *path, const char *source_root, struct image_spec **out, struct diags *d)
{
    static const char *const keys[] = {"name", "version", "arch", "base", "packages", "os", "storage", "boot", "output", "updates", "wsl", NULL};
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
    if (d->n == before && y_expect(d, root, "", YN_MAP)) {
        y_check_keys(d, root, "", keys);
        const struct ynode *x;
        if ((x = FIELD(root, "name"))) checked_str(d, x, "name", "._-", true, "image name (letters, digits, . _ -, at most 64)", &s->name);
        else diag_add_at(d, path, 1, 1, "name", "missing \"name:\" (the image name, e.g. debian-server)");
        if ((x = FIELD(root, "version"))) checked_str(d, x, "version", "._+~-", true, "version (e.g. 1.2.0, at most 64)", &s->version);
        else diag_add_at(d, path, 1, 1, "version", "missing \"version:\" (e.g. 1.0.0)");
        int a;
        if ((x = FIELD(root, "arch")) && y_enum(d, x, "arch", kiln_arch_names(), &a)) s->arch = kiln_arch_find(kiln_arch_names()[a]);
        if ((x = FIELD(root, "base"))) parse_base(x, s, d);
        else diag_add_at(d, path, 1, 1, "base", "missing \"base:\" (family deb with a suite, or rpm with repos)");
        if ((x = FIELD(root, "packages")) && y_expect(d, x, "packages", YN_MAP)) {
            static const char *const pkeys[] = {"install", "remove", NULL};
            y_check_keys(d, x, "packages", pkeys);
            struct { const char *key, *path; char ***v; size_t *n; } lists[] = {
                {"install", "packages.install", &s->install, &s->ninstall},
                {"remove", "packages.remove", &s->remove, &s->nremove}};
            for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
                const struct ynode *y = FIELD(x, lists[l].key);
                if (!y || !y_str_list(d, y, lists[l].path, lists[l].v, lists[l].n)) continue;
                for (size_t i = 0; i < *lists[l].n; i++) {
                    char buf[128];
                    const char *pkg = (*lists[l].v)[i], *why = package_problem(pkg, s->family, l == 0, buf, sizeof buf);
                    if (!why) continue;
                    const struct ynode *at = y->kind == YN_SEQ && i < y->n ? y->items[i] : y;
                    _cleanup_free_ char *p = ypath_index(lists[l].path, i);
                    diag_add(d, at, p, "\"%.80s\" is not a valid package name: %s", pkg, why);
                }
            }
        }
        if ((x = FIELD(root, "os"))) parse_os(x, s, d);
        if ((x = FIELD(root, "storage"))) parse_storage(x, s, d);
        if ((x = FIELD(root, "updates"))) parse_updates(x, s, d);
        if ((x = FIELD(root, "boot"))) parse_boot(x, s, d);
        if ((x = FIELD(root, "output"))) {
            char **o = NULL;
            size_t no = 0;
            if (y_str_list(d, x, "output", &o, &no))
                for (size_t i = 0; i < no; i++) {
                    size_t k = 0;
                    while (k < OUT_COUNT && !streq(o[i], out_names[k])) k++;
                    if (k < OUT_COUNT) s->outputs[k] = true;
                    else {
                        const struct ynode *at = x->kind == YN_SEQ && i < x->n ? x->items[i] : x;
                        _cleanup_free_ char *p = ypath_index("output", i);
                        diag_add(d, at, p, "unknown output \"%s\" (raw, qcow2, vhd-fixed, vhd, tar)", o[i]);
                    }
                }
            for (size_t i = 0; i < no; i++) free(o[i]);
            free(o);
        } else s->outputs[OUT_RAW] = true;
        if ((x = FIELD(root, "wsl")) && y_bool(d, x, "wsl", &s->wsl) && s->wsl) check_wsl(d, x, root, s);
    }
    for (size_t i = 0; s->sb_key && i < s->nfiles; i++)
        if (s->files[i].src && streq(s->files[i].src, s->sb_key)) {
            _cleanup_free_ char *p = ypath_index("os.files", i);
            const struct ynode *files = y_get(y_get(root, "os"), "files");
            diag_add(d, files && files->kind == YN_SEQ && i < files->n ? files->items[i] : files, p,
                     "is the Secure Boot signing key (boot.secure_boot.key): the private key never goes into an image");
        }
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
        if (why) diag_add(d, y_get(y_get(root, "storage"), "encrypt"), "storage.encrypt", "%s", why);
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
    ynode_free(root);
    if (d->n > before) {
        spec_free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void spec_free(struct image_spec *s)
{
    if (!s) return;
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
        for (size_t k = 0; k < s->repos[i].ncomponents; k++) free(s->repos[i].components[k]);
        free(s->repos[i].components);
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
