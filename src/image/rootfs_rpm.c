/* rpm-based package trees: `dnf --installroot` against the spec's repositories only (the host's
 * repo files are never read), signatures checked against each repo's gpgkey, downloaded
 * packages kept in kiln's cache. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>

#include <sys/stat.h>

#include "image/build_int.h"
#include "image/reposnap.h"
#include "trust/pkgdb.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/proc.h"
#include "util/util.h"

static int rpm_install(struct build_ctx *c, char *const env[], char *o_conf, char *o_root, char *o_rel);

/* baseurl as dnf expands it: $releasever, $basearch and $arch (also in ${...} form). */
static char *expand_url(const struct image_spec *s, const char *url)
{
    const struct { const char *name, *value; } vars[] = {
        {"releasever", s->releasever ? s->releasever : "1"}, {"basearch", s->arch->rpm}, {"arch", s->arch->rpm}};
    struct sbuf b = {0};
    for (const char *p = url; *p;) {
        bool done = false;
        for (size_t i = 0; *p == '$' && i < ARRAY_SIZE(vars) && !done; i++) {
            size_t n = strlen(vars[i].name);
            if (strncmp(p + 1, vars[i].name, n) == 0 && !isalnum((unsigned char)p[1 + n]) && p[1 + n] != '_') {
                sbuf_puts(&b, vars[i].value);
                p += 1 + n;
                done = true;
            } else if (p[1] == '{' && strncmp(p + 2, vars[i].name, n) == 0 && p[2 + n] == '}') {
                sbuf_puts(&b, vars[i].value);
                p += 3 + n;
                done = true;
            }
        }
        if (!done) sbuf_append(&b, p++, 1);
    }
    for (; b.len && b.s[b.len - 1] == '/';) b.s[--b.len] = 0;
    return sbuf_steal(&b);
}

static size_t rootfs_rpm_sources(const struct image_spec *s, struct repo_src **out)
{
    struct repo_src *v = xcalloc(s->nrepos ? s->nrepos : 1, sizeof *v);
    for (size_t i = 0; i < s->nrepos; i++) v[i].url = expand_url(s, s->repos[i].baseurl);
    *out = v;
    return s->nrepos;
}

static int rootfs_rpm(struct build_ctx *c, const char *dest)
{
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *reposd = path_join(c->work, "yum.repos.d");
    mkdir_p(reposd, 0755);
    struct sbuf conf = {0};
    for (size_t i = 0; i < s->nrepos; i++)
        sbuf_printf(&conf, "[%s]\nname=%s\nbaseurl=%s\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=0\ngpgkey=file://%s\n\n",
                    s->repos[i].name, s->repos[i].name, s->repos[i].baseurl, s->repos[i].gpgkey);
    _cleanup_free_ char *repo_file = path_join(reposd, "kiln.repo");
    int r = write_file_atomic(repo_file, conf.s, conf.len, 0644);
    sbuf_free(&conf);
    if (r < 0) return build_error(c, "rootfs", "cannot write %s", repo_file);
    _cleanup_free_ char *cache = kiln_cache_path(family_rpm.pkg_cache);
    mkdir_p(cache, 0755);
    /* dnf's own configuration: nothing from the host's /etc/dnf */
    _cleanup_free_ char *conf_path = path_join(c->work, "dnf.conf");
    _cleanup_free_ char *main_conf = xasprintf("[main]\ngpgcheck=True\nlocalpkg_gpgcheck=True\nkeepcache=True\n"
                                               "install_weak_deps=False\ntsflags=nodocs\nreposdir=%s\ncachedir=%s\n",
                                               reposd, cache);
    if (write_file_atomic(conf_path, main_conf, strlen(main_conf), 0644) < 0)
        return build_error(c, "rootfs", "cannot write %s", conf_path);
    _cleanup_free_ char *o_conf = xasprintf("--config=%s", conf_path);
    _cleanup_free_ char *o_root = xasprintf("--installroot=%s", dest);
    _cleanup_free_ char *o_rel = xasprintf("--releasever=%s", s->releasever ? s->releasever : "1");
    /* rpm on Debian keeps its database under $HOME; the tree's goes where Fedora keeps it */
    _cleanup_free_ char *home = path_join(c->work, "rpm-home");
    _cleanup_free_ char *macros = path_join(home, ".rpmmacros");
    const char *dbmacro = "%_dbpath /" PKGDB_RPM_DBPATH "\n";
    mkdir_p(home, 0700);
    if (write_file_atomic(macros, dbmacro, strlen(dbmacro), 0644) < 0)
        return build_error(c, "rootfs", "cannot write %s", macros);
    /* boot.initrd_modules: vm: dracut's configuration is in the tree before the kernel package's
     * scripts run dracut */
    _cleanup_free_ char *dracut_conf = path_join(dest, KILN_VM_DRACUT_CONF_PATH);
    _cleanup_free_ char *dracut_dir = path_dirname(dracut_conf);
    if (s->initrd_modules == INITRD_MODULES_VM &&
        (mkdir_p(dracut_dir, 0755) < 0 || write_file_atomic(dracut_conf, KILN_VM_DRACUT_CONF, strlen(KILN_VM_DRACUT_CONF), 0644) < 0))
        return build_error(c, "rootfs", "cannot write %s", dracut_conf);
    char **env = proc_env_set(c->env, "HOME", home);
    r = rpm_install(c, env, o_conf, o_root, o_rel);
    proc_env_free(env);
    if (r < 0) return r;
    /* the tree is another system's root: var/lib is resolved in it (util/inroot) */
    int root = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return build_error(c, "rootfs", "cannot open %s: %s", dest, strerror(errno));
    r = 0;
    if (!inroot_exists(root, "var/lib/rpm")) {
        int vl = inroot_mkdir_p(root, "var/lib", 0755);
        if (vl == 0) vl = inroot_open(root, "var/lib", O_PATH | O_DIRECTORY, 0);
        int e = vl < 0 ? -vl : symlinkat("../../" PKGDB_RPM_DBPATH, vl, "rpm") < 0 ? errno : 0;
        if (e) r = build_error(c, "rootfs", "cannot link /var/lib/rpm to /" PKGDB_RPM_DBPATH " in %s: %s", dest, strerror(e));
        if (vl >= 0) close(vl);
    }
    close(root);
    return r;
}

static int rpm_install(struct build_ctx *c, char *const env[], char *o_conf, char *o_root, char *o_rel)
{
    const struct image_spec *s = c->spec;
    int r;
    char **argv = xcalloc(s->ninstall + 24, sizeof *argv);
    _cleanup_free_ char *forcearch = xasprintf("--forcearch=%s", s->arch->rpm);
    size_t n = 0;
    argv[n++] = "dnf";
    argv[n++] = "-y";
    argv[n++] = o_conf;
    argv[n++] = o_root;
    argv[n++] = o_rel;
    argv[n++] = "--nodocs";
    argv[n++] = forcearch;
    /* dnf would trust its cached metadata for metadata_expire (48 h): a repository that changed
     * since (a security update) must be read now, as the cache key says */
    argv[n++] = "--refresh";
    argv[n++] = "install";
    for (size_t i = 0; i < s->ninstall; i++) argv[n++] = s->install[i];
    argv[n] = NULL;
    r = build_run_env(c, "rootfs", argv, env);
    free(argv);
    if (r < 0 || !s->nremove) return r;
    argv = xcalloc(s->nremove + 12, sizeof *argv);
    n = 0;
    argv[n++] = "dnf";
    argv[n++] = "-y";
    argv[n++] = o_conf;
    argv[n++] = o_root;
    argv[n++] = o_rel;
    argv[n++] = "remove";
    for (size_t i = 0; i < s->nremove; i++) argv[n++] = s->remove[i];
    argv[n] = NULL;
    r = build_run_env(c, "rootfs", argv, env);
    free(argv);
    return r;
}

static char *rpm_kernel_packages(const struct kiln_arch *a)
{
    (void)a;
    return xstrdup("kernel-core");
}

const struct pkg_family_ops family_rpm = {
    .family = FAMILY_RPM,
    .name = "rpm",
    .db_path = PKGDB_RPM_DBPATH,
    .pkg_cache = "build/dnf",
    .initrd_tool = "dracut",
    .kernel_packages = rpm_kernel_packages,
    .sources = rootfs_rpm_sources,
    .create = rootfs_rpm,
};
