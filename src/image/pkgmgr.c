/* packages.package_manager: remove (see pkgmgr.h). */
#include "image/pkgmgr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/inroot.h"
#include "util/util.h"

/* Debian's PATH directories (login.defs ENV_SUPATH), merged /usr or not. */
static const char *const path_dirs[] = {"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"};

/* The packages whose PATH commands make a package manager: dpkg (dpkg, dpkg-query, dpkg-deb,
 * dpkg-divert, dpkg-split, dpkg-statoverride, dpkg-trigger, dpkg-realpath, update-alternatives...),
 * apt (apt, apt-get, apt-cache, apt-mark, apt-config, apt-key, apt-cdrom), and front ends that
 * drive them. */
static const char *const deb_pkgs[] = {"dpkg", "apt", "apt-utils", "aptitude", "unattended-upgrades"};

/* What those packages ship that is no package manager: init scripts run start-stop-daemon. */
static const char *const deb_keep[] = {"start-stop-daemon"};

static bool deb_kept(const char *p)
{
    const char *base = strrchr(p, '/');
    for (size_t i = 0; i < ARRAY_SIZE(deb_keep); i++)
        if (streq(base ? base + 1 : p, deb_keep[i])) return true;
    return false;
}

static const char *const rpm_cmds[] = {"rpm", "rpmdb", "rpmkeys", "rpmquery", "rpmverify", "rpmsign", "rpm2cpio",
                                       "rpm2archive", "dnf", "dnf-3", "dnf4", "dnf5", "dnf-automatic", "yum",
                                       "microdnf", "tdnf"};

const char *const pkgmgr_units[] = {"apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
                                    "apt-daily-upgrade.service", "dpkg-db-backup.timer", "dpkg-db-backup.service",
                                    "dnf-makecache.timer", "dnf-makecache.service", "dnf-automatic.timer",
                                    "dnf5-makecache.timer", "tdnf-cache-updateinfo.timer", NULL};

static bool in_path_dir(const char *p)
{
    while (*p == '/') p++;
    for (size_t i = 0; i < ARRAY_SIZE(path_dirs); i++) {
        size_t n = strlen(path_dirs[i]);
        if (!strncmp(p, path_dirs[i], n) && p[n] == '/' && p[n + 1] && !strchr(p + n + 1, '/')) return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct pkgmgr_removal {
    char **v;
    size_t n, cap;
};

/* Removes rel (a file or a symlink, never followed) when the tree has it, and records it. */
static int remove_one(int rootfd, const char *rel, struct pkgmgr_removal *out, char **reterr)
{
    while (*rel == '/') rel++;
    if (!inroot_exists(rootfd, rel)) return 0;
    for (size_t i = 0; i < out->n; i++)
        if (streq(out->v[i] + 1, rel)) return 0;
    /* a glob of the name itself: fnmatch special characters never occur in these names */
    if (strpbrk(rel, "*?[\\")) {
        return err_setf(reterr, -EINVAL, "/%s: unexpected characters in a package's file name", rel);
    }
    int r = inroot_rm_glob(rootfd, rel);
    if (r < 0) {
        return err_setf(reterr, r, "cannot remove /%s: %s", rel, strerror(-r));
    }
    *APPEND(out->v, out->n, out->cap) = xasprintf("/%s", rel);
    return 0;
}

/* dpkg's file list of pkg, under either name it uses (PKG.list, or PKG:ARCH.list for
 * Multi-Arch: same packages). NULL when pkg is not installed. */
static char *deb_list(int rootfd, const char *pkg)
{
    char *text = NULL;
    size_t len;
    _cleanup_free_ char *rel = xasprintf("var/lib/dpkg/info/%s.list", pkg);
    if (inroot_read(rootfd, rel, 16 << 20, &text, &len) == 0) return text;
    _cleanup_free_ char *pat = xasprintf("%s:", pkg);
    int fd = inroot_open(rootfd, "var/lib/dpkg/info", O_RDONLY | O_DIRECTORY, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0) close(fd);
    struct dirent *de;
    while (d && (de = readdir(d)) && !text)
        if (startswith(de->d_name, pat) && endswith(de->d_name, ".list")) {
            _cleanup_free_ char *r2 = xasprintf("var/lib/dpkg/info/%s", de->d_name);
            if (inroot_read(rootfd, r2, 16 << 20, &text, &len) < 0) text = NULL;
        }
    if (d) closedir(d);
    return text;
}

int pkgmgr_front_ends_deb(int rootfd, struct pkgmgr_removal *out, char **reterr)
{
    bool any = false;
    int r = 0;
    for (size_t p = 0; p < ARRAY_SIZE(deb_pkgs) && r == 0; p++) {
        char *text = deb_list(rootfd, deb_pkgs[p]);
        if (!text) continue;
        any = true;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save))
            if (in_path_dir(line) && !deb_kept(line)) r = remove_one(rootfd, line, out, reterr);
        free(text);
    }
    if (r == 0 && !any)
        return err_setf(reterr, -ENOENT, "the tree has no dpkg file lists (var/lib/dpkg/info/dpkg.list): is it a Debian tree?");
    return r;
}

int pkgmgr_front_ends_rpm(int rootfd, struct pkgmgr_removal *out, char **reterr)
{
    int r = 0;
    for (size_t d = 0; d < ARRAY_SIZE(path_dirs) && r == 0; d++)
        for (size_t i = 0; i < ARRAY_SIZE(rpm_cmds) && r == 0; i++) {
            _cleanup_free_ char *rel = xasprintf("%s/%s", path_dirs[d], rpm_cmds[i]);
            r = remove_one(rootfd, rel, out, reterr);
        }
    return r;
}

int pkgmgr_remove(int rootfd, pkgmgr_front_ends_fn front_ends, char ***removed, size_t *n, char **reterr)
{
    struct pkgmgr_removal out = {0};
    int r = front_ends(rootfd, &out, reterr);
    if (r == 0) {
        qsort(out.v, out.n, sizeof *out.v, cmp_str);
        struct sbuf b = {0};
        sbuf_puts(&b, "# kiln build removed the package manager (packages.package_manager: remove); its database is kept\n");
        for (size_t i = 0; i < out.n; i++) sbuf_printf(&b, "%s\n", out.v[i]);
        r = inroot_write(rootfd, PKGMGR_REMOVED_MARKER, b.s, b.len, 0644, 0, 0);
        sbuf_free(&b);
        if (r < 0) err_setf(reterr, 0, "cannot write /%s: %s", PKGMGR_REMOVED_MARKER, strerror(-r));
    }
    if (r < 0) {
        for (size_t i = 0; i < out.n; i++) free(out.v[i]);
        free(out.v);
        return r;
    }
    *removed = out.v;
    *n = out.n;
    return 0;
}
