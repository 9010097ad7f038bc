/* Package lists from a tree's or an image's own database: dpkg-query --admindir / rpm --dbpath
 * read the database files; the host's databases are never consulted. */
#include "trust/pkgdb.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glob.h>
#include <sys/stat.h>

#include "image/inspect.h"
#include "trust/sbom.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/html.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/utf8.h"
#include "util/util.h"

static int cmp_pkg(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
    return r ? r : strcmp(json_string_value(json_object_get(x, "arch")), json_string_value(json_object_get(y, "arch")));
}

/* A JSON string of bytes from an image's database, which need not be UTF-8: ill-formed bytes
 * become U+FFFD and the rest of the text is kept (json_string refuses the whole string). */
static json_t *json_text(const char *v)
{
    _cleanup_free_ char *c = utf8_sanitize(v, strlen(v), 0);
    return json_string(c);
}

static void set_nonempty(json_t *o, const char *key, const char *v)
{
    if (v && *v && !streq(v, "(none)")) json_object_set_new(o, key, json_text(v));
}

/* name-version-release.src.rpm → name */
static char *srpm_name(char *src)
{
    char *end = strstr(src, ".src.rpm");
    if (end) *end = 0;
    for (int dash = 0; dash < 2; dash++) {
        char *d = strrchr(src, '-');
        if (d) *d = 0;
    }
    return src;
}

/* pkgdb_list, naming the database as where in its messages. */
static int list_db(const char *family, const char *dbdir, const char *where, json_t **out, char **reterr)
{
    bool deb = streq(family, "deb");
    _cleanup_free_ char *text = NULL;
    int rc;
    if (deb) {
        char *argv[] = {"dpkg-query", "--admindir", (char *)dbdir, "-W", "-f",
                        "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t"
                        "${source:Version}\t${Maintainer}\t\t\n",
                        NULL};
        rc = proc_run_stdout(argv, 120000, PKGDB_LIST_MAX, &text);
    } else {
        _cleanup_free_ char *dbpath = xasprintf("--dbpath=%s", dbdir);
        char *argv[] = {"rpm", dbpath, "-qa", "--qf",
                        "ii \t%{NAME}\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t\t%{VENDOR}\t"
                        "%|EPOCH?{%{EPOCH}}|\t%{LICENSE}\n",
                        NULL};
        rc = proc_run_stdout(argv, 120000, PKGDB_LIST_MAX, &text);
    }
    if (rc == -EINTR) {
        return err_setf(reterr, -EINTR, "interrupted");
    }
    /* a list cut short would be an SBOM that leaves packages out */
    if (rc == -E2BIG) {
        return err_setf(reterr, -E2BIG, "the %s database in %s lists more than kiln reads (%u MiB of %s output): a crafted or "
                         "damaged database", deb ? "dpkg" : "rpm", where, PKGDB_LIST_MAX >> 20,
                         deb ? "dpkg-query" : "rpm -qa");
    }
    if (rc != 0) {
        _cleanup_free_ char *how = rc > 0 ? xasprintf("exited %d", rc) : xasprintf("failed: %s", strerror(-rc));
        return err_setf(reterr, -EIO, "cannot read the %s database in %s (%s %s)", deb ? "dpkg" : "rpm", where,
                         deb ? "dpkg-query" : "rpm", how);
    }
    *out = pkgdb_parse(family, text);
    return 0;
}

int pkgdb_list(const char *family, const char *dbdir, json_t **out, char **reterr)
{
    return list_db(family, dbdir, dbdir, out, reterr);
}

json_t *pkgdb_parse(const char *family, char *text)
{
    bool deb = streq(family, "deb");
    json_t *arr = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[9] = {0};
        size_t k = 0;
        for (char *p = line; p && k < ARRAY_SIZE(f); k++) {
            f[k] = p;
            char *tab = strchr(p, '\t');
            if (tab) *tab = 0;
            p = tab ? tab + 1 : NULL;
        }
        if (k < 4 || f[0][0] != 'i' || f[0][1] != 'i') continue; /* installed only */
        if (streq(f[1], "gpg-pubkey")) continue;                  /* rpm's imported keys */
        json_t *p = json_object();
        json_object_set_new(p, "name", json_text(f[1]));
        json_object_set_new(p, "version", json_text(f[2]));
        json_object_set_new(p, "arch", json_text(f[3]));
        if (f[4] && *f[4]) set_nonempty(p, "source", deb ? f[4] : srpm_name(f[4]));
        set_nonempty(p, "source_version", f[5]);
        set_nonempty(p, "supplier", f[6]);
        set_nonempty(p, "epoch", f[7]);
        set_nonempty(p, "license", f[8]);
        json_array_append_new(arr, p);
    }
    size_t n = json_array_size(arr);
    json_t **v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp_pkg);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
    free(v);
    return arr;
}

/* The copyright files of pkgs copied out of the image into dir, then read as sbom_licenses does. */
static int image_licenses(const char *image, json_t *pkgs, const char *dir, json_t **out, char **reterr)
{
    size_t n = json_array_size(pkgs);
    char **items = xcalloc(n ? n : 1, sizeof *items);
    size_t k = 0;
    const char *prev = "";
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(pkgs, i), "name"));
        /* multiarch copies (sorted together) share one file; a name that is not a plain one is
         * not looked for */
        if (!name || strpbrk(name, "/\\\"\n") || name[0] == '.' || streq(prev, name)) continue;
        items[k++] = xasprintf("/usr/share/doc/%s/copyright", name);
        prev = name;
    }
    _cleanup_free_ char *docs = path_join(dir, "doc");
    char *why = NULL;
    int r = mkdir_p(docs, 0700);
    if (r == 0) r = image_extract(image, (const char *const *)items, k, docs, &why);
    strv_free(items, k);
    /* licenses are extra: a copy that failed leaves them out, only an interrupt stops */
    if (r == -EINTR) {
        *reterr = why ? why : xstrdup("interrupted");
        return r;
    }
    free(why);
    int fd = open(docs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    *out = r > 0 && fd >= 0 ? sbom_licenses(fd, "deb", pkgs) : json_object();
    if (fd >= 0) close(fd);
    return 0;
}

int pkgdb_from_image(const char *image, json_t **pkgs, json_t **os_release, const char **family, json_t **licenses,
                     char **reterr)
{
    json_t *info;
    int r = image_inspect(image, &info, reterr);
    if (r < 0) return r;
    const char *td = getenv("TMPDIR");
    _cleanup_free_ char *dir = xasprintf("%s/kiln-pkgdb-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(dir)) {
        json_decref(info);
        return err_setf(reterr, -errno, "cannot create a temporary directory: %s", strerror(errno));
    }
    /* dpkg's status file; the rpm database's files (sqlite, Berkeley DB, ndb) where Fedora keeps
     * them and where older layouts did: named files only, so a crafted image cannot make kiln
     * unpack a whole tree */
    static const char *const dirs[] = {"/" PKGDB_RPM_DBPATH, "/var/lib/rpm"};
    static const char *const rpm_files[] = {"rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages", "Packages.db", "Index.db", "Xdb.db"};
    const char *items[1 + ARRAY_SIZE(dirs) * ARRAY_SIZE(rpm_files)];
    char *owned[ARRAY_SIZE(items)] = {0};
    size_t n = 0;
    items[n++] = "/var/lib/dpkg/status";
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        for (size_t k = 0; k < ARRAY_SIZE(rpm_files); k++) items[n] = owned[n] = xasprintf("%s/%s", dirs[i], rpm_files[k]), n++;
    r = image_extract(image, items, n, dir, reterr);
    for (size_t i = 0; i < n; i++) free(owned[i]);
    if (r == 0) {
        err_setf(reterr, 0, "%s has no package database (looked for /var/lib/dpkg/status and the rpm database in %s and %s)",
                         image, dirs[0], dirs[1]);
        r = -ENOENT;
    }
    if (r > 0) {
        _cleanup_free_ char *admin = xasprintf("%s/var/lib/dpkg", dir);
        _cleanup_free_ char *status = path_join(admin, "status");
        _cleanup_free_ char *sysimage = xasprintf("%s%s", dir, dirs[0]);
        _cleanup_free_ char *varlib = xasprintf("%s%s", dir, dirs[1]);
        struct stat st;
        *family = lstat(status, &st) == 0 ? "deb" : "rpm";
        bool in_sysimage = false;
        for (size_t k = 0; k < ARRAY_SIZE(rpm_files) && !in_sysimage; k++) {
            _cleanup_free_ char *f = path_join(sysimage, rpm_files[k]);
            in_sysimage = lstat(f, &st) == 0;
        }
        const char *db = streq(*family, "deb") ? admin : in_sysimage ? sysimage : varlib;
        /* the copy in the temporary directory is gone when the message is read: name the image's */
        _cleanup_free_ char *where = xasprintf("%s's %s", image, streq(*family, "deb") ? "/var/lib/dpkg"
                                                                : in_sysimage ? dirs[0] : dirs[1]);
        r = list_db(*family, db, where, pkgs, reterr);
        /* an installed system lists packages: none means a database that was not read */
        if (r == 0 && json_array_size(*pkgs) == 0) {
            json_decref(*pkgs);
            *pkgs = NULL;
            err_setf(reterr, 0, "%s: the %s database (%s) lists no installed package: it is damaged or kiln could not read "
                             "it; no SBOM was written",
                             image, streq(*family, "deb") ? "dpkg" : "rpm",
                             streq(*family, "deb") ? "/var/lib/dpkg/status" : in_sysimage ? dirs[0] : dirs[1]);
            r = -ENODATA;
        }
        if (r == 0 && licenses) {
            if (streq(*family, "deb")) r = image_licenses(image, *pkgs, dir, licenses, reterr);
            else *licenses = json_object();
            if (r < 0) {
                json_decref(*pkgs);
                *pkgs = NULL;
            }
        }
    }
    rm_rf(dir);
    if (r >= 0) {
        json_t *o = json_object_get(info, "os_release");
        *os_release = o ? json_incref(o) : json_object();
    }
    json_decref(info);
    return r < 0 ? r : 0;
}

/* purl components are percent-encoded outside the unreserved set (RFC 3986). */
static void purl_enc(struct sbuf *b, const char *s)
{
    _cleanup_free_ char *e = kh_url_escape(s, 0);
    sbuf_puts(b, e);
}

char *pkgdb_purl(const char *family, json_t *pkg, const char *distro_id, const char *distro_version)
{
    bool deb = streq(family, "deb");
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *version = json_string_value(json_object_get(pkg, "version"));
    const char *arch = json_string_value(json_object_get(pkg, "arch"));
    const char *epoch = json_string_value(json_object_get(pkg, "epoch"));
    struct sbuf b = {0};
    sbuf_printf(&b, "pkg:%s/", deb ? "deb" : "rpm");
    if (distro_id && *distro_id) {
        purl_enc(&b, distro_id);
        sbuf_puts(&b, "/");
    }
    purl_enc(&b, name ? name : "");
    sbuf_puts(&b, "@");
    /* rpm: the epoch is a qualifier, the version is version-release */
    const char *v = version ? version : "";
    if (!deb && epoch && startswith(v, epoch) && v[strlen(epoch)] == ':') v += strlen(epoch) + 1;
    purl_enc(&b, v);
    char sep = '?';
    if (arch && *arch) {
        sbuf_printf(&b, "%carch=", sep);
        purl_enc(&b, arch);
        sep = '&';
    }
    if (distro_id && *distro_id) {
        sbuf_printf(&b, "%cdistro=", sep);
        purl_enc(&b, distro_id);
        if (distro_version && *distro_version) {
            sbuf_puts(&b, "-");
            purl_enc(&b, distro_version);
        }
        sep = '&';
    }
    if (!deb && epoch && *epoch) {
        sbuf_printf(&b, "%cepoch=", sep);
        purl_enc(&b, epoch);
    }
    return sbuf_steal(&b);
}

char *pkgdb_digest_key(json_t *pkg)
{
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *arch = json_string_value(json_object_get(pkg, "arch"));
    return xasprintf("%s:%s", name ? name : "", arch ? arch : "");
}

/* The package file a package was installed from, in kiln's package cache: apt's name
 * (NAME_VERSION_ARCH.deb, ':' as %3a) or dnf's (NAME-VERSION-RELEASE.ARCH.rpm, no epoch). */
static char *package_file(const char *cache, const char *family, json_t *p)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *ver = json_string_value(json_object_get(p, "version"));
    const char *arch = json_string_value(json_object_get(p, "arch"));
    if (!cache || !name || !ver || !arch) return NULL;
    if (streq(family, "deb")) {
        struct sbuf b = {0};
        sbuf_printf(&b, "%s/%s_", cache, name);
        for (const char *c = ver; *c; c++)
            if (*c == ':') sbuf_puts(&b, "%3a");
            else sbuf_printf(&b, "%c", *c);
        sbuf_printf(&b, "_%s.deb", arch);
        if (file_exists(b.s)) return sbuf_steal(&b);
        sbuf_free(&b);
        return NULL;
    }
    const char *colon = strchr(ver, ':');
    _cleanup_free_ char *pat = xasprintf("%s/*/packages/%s-%s.%s.rpm", cache, name, colon ? colon + 1 : ver, arch);
    glob_t g = {0};
    char *found = NULL;
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc) found = xstrdup(g.gl_pathv[0]);
    globfree(&g);
    return found;
}

json_t *pkgdb_file_digests(const char *family, json_t *pkgs, const char *cache)
{
    json_t *out = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        _cleanup_free_ char *file = package_file(cache, family, p);
        char hx[65];
        if (!file || sha256_file_hex(file, hx, NULL) < 0) continue;
        _cleanup_free_ char *key = pkgdb_digest_key(p);
        json_object_set_new(out, key, json_string(hx));
    }
    return out;
}
