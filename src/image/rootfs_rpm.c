/* rpm-based package trees: `dnf --installroot` against the spec's repositories only (the host's
 * repo files are never read), signatures checked against each repo's gpgkey, downloaded
 * packages kept in kiln's cache. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <sys/stat.h>

#include "image/build_int.h"
#include "image/reposnap.h"
#include "trust/pkgdb.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/proc.h"
#include "util/util.h"

static int rpm_install(struct build_ctx *c, char *const env[], char *o_conf, char *o_root, char *o_rel);
static int rpm_settle_dbs(struct build_ctx *c, int root);

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
    if (r == 0) r = rpm_settle_dbs(c, root);
    close(root);
    return r;
}

/* dnf's command line as history.sqlite keeps it, without what names the build's own paths
 * (--config=WORK/dnf.conf, --installroot=CACHE/...tmp.PID/tree). */
static char *history_cmdline(const char *cmd)
{
    struct sbuf b = {0};
    for (const char *p = cmd; *p;) {
        size_t n = strcspn(p, " ");
        if (n && strncmp(p, "--config=", 9) && strncmp(p, "--installroot=", 14))
            sbuf_printf(&b, "%s%.*s", b.len ? " " : "", (int)n, p);
        p += n;
        p += strspn(p, " ");
    }
    return b.s ? sbuf_steal(&b) : xstrdup("");
}

/* history.sqlite's transactions: begun and ended at the build's epoch, the command line
 * without the build's paths. */
static int history_settle(sqlite3 *db, long epoch)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT id, cmdline FROM trans", -1, &sel, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE trans SET dt_begin = ?1, dt_end = ?1, cmdline = ?2 WHERE id = ?3", -1, &upd, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    int step = SQLITE_DONE;
    while (rc == SQLITE_OK && (step = sqlite3_step(sel)) == SQLITE_ROW) {
        const unsigned char *cmd = sqlite3_column_text(sel, 1);
        char *norm = history_cmdline(cmd ? (const char *)cmd : "");
        sqlite3_bind_int64(upd, 1, epoch);
        sqlite3_bind_text(upd, 2, norm, -1, free);
        sqlite3_bind_int64(upd, 3, sqlite3_column_int64(sel, 0));
        rc = sqlite3_step(upd) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(upd);
    }
    if (rc == SQLITE_OK && step != SQLITE_DONE) rc = sqlite3_errcode(db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

/* One sqlite database of the tree, DIR/NAME (resolved in the tree; a NAME that is not a regular
 * file is left alone): history made the same (history_settle), then its write-ahead log
 * checkpointed into it and, as the last connection closes, its -wal and -shm files removed:
 * their bytes are the writing process's memory and timing, not the database's content. */
static int rpm_settle_db(struct build_ctx *c, int root, const char *dir, const char *name, bool history)
{
    int dfd = inroot_open(root, dir, O_PATH | O_DIRECTORY, 0);
    if (dfd == -ENOENT) return 0;
    if (dfd < 0) return build_error(c, "rootfs", "cannot open /%s in the tree: %s", dir, strerror(-dfd));
    struct stat st;
    int r = 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) return close(dfd), 0;
    _cleanup_free_ char *path = xasprintf("/proc/self/fd/%d/%s", dfd, name);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    /* VACUUM: the rows rewritten in place kept the old lengths' layout in their pages */
    if (rc == SQLITE_OK && history) rc = history_settle(db, c->epoch);
    if (rc == SQLITE_OK && history) rc = sqlite3_exec(db, "VACUUM", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        r = build_error(c, "rootfs", "cannot settle /%s/%s in the tree: %s", dir, name,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (sqlite3_close(db) != SQLITE_OK && r == 0)
        r = build_error(c, "rootfs", "cannot close /%s/%s in the tree: %s", dir, name, sqlite3_errmsg(db));
    for (size_t i = 0; r == 0 && i < 2; i++) {
        _cleanup_free_ char *side = xasprintf("%s%s", name, i ? "-shm" : "-wal");
        if (fstatat(dfd, side, &st, AT_SYMLINK_NOFOLLOW) == 0)
            r = build_error(c, "rootfs", "/%s/%s is still there after the database was closed", dir, side);
    }
    close(dfd);
    return r;
}

/* rpm's and dnf's databases as the same packages make them, whatever the build's paths, time
 * and cache (two builds of one spec give the same bytes). */
static int rpm_settle_dbs(struct build_ctx *c, int root)
{
    int r = rpm_settle_db(c, root, PKGDB_RPM_DBPATH, "rpmdb.sqlite", false);
    if (r == 0) r = rpm_settle_db(c, root, "var/lib/dnf", "history.sqlite", true);
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
    r = build_run_pkgmgr(c, "rootfs", argv, env);
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
    r = build_run_pkgmgr(c, "rootfs", argv, env);
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
    .pkgmgr_front_ends = pkgmgr_front_ends_rpm,
};
