/* The rootfs stage: the package tree, made by the spec's package family into kiln's cache
 * under a key of everything its contents depend on, then copied for this build to customize;
 * and the helpers every stage reads the tree with. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <fts.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/build_int.h"
#include "image/reposnap.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

enum { REPO_TIMEOUT_S = 30, REPO_SNAPSHOT_MAX = 1 << 20 };

bool tree_has(struct build_ctx *c, const char *rel)
{
    return inroot_exists(c->root_fd, rel);
}

char *tree_path(struct build_ctx *c, const char *rel)
{
    return inroot_host_path(c->root_fd, rel);
}

char *tree_initrd(struct build_ctx *c)
{
    char *a = xasprintf("boot/initrd.img-%s", c->kver);
    if (tree_has(c, a)) return a;
    free(a);
    a = xasprintf("boot/initramfs-%s.img", c->kver);
    if (tree_has(c, a)) return a;
    free(a);
    return NULL;
}

void clamp_tree(const char *path, long epoch)
{
    char *paths[] = {(char *)path, NULL};
    FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    FTSENT *e;
    while (fts && (e = fts_read(fts))) {
        /* a directory after its contents (FTS_DP), so nothing below changes its times again */
        if (e->fts_info == FTS_D || e->fts_info == FTS_NS || e->fts_info == FTS_ERR) continue;
        struct timespec ts[2];
        ts[1].tv_sec = e->fts_statp->st_mtime > epoch ? epoch : e->fts_statp->st_mtime;
        ts[1].tv_nsec = 0;
        ts[0] = ts[1];
        utimensat(AT_FDCWD, e->fts_accpath, ts, AT_SYMLINK_NOFOLLOW);
    }
    if (fts) fts_close(fts);
}

/* The cache key of the package tree: everything the package manager's result depends on,
 * including the repositories' state (repos; NULL when it could not be read: the key is then
 * what it was before kiln read it). The epoch counts only when the user set SOURCE_DATE_EPOCH
 * (a build-time default would make every key new); mtimes are clamped to each build's epoch
 * afterwards either way. */
static char *tree_key(const struct image_spec *s, long epoch, const struct repo_state *repos, size_t nrepos)
{
    struct sbuf k = {0};
    /* 3: the tree is clamped to the epoch when it is made (make_tree), which builds that link
     * to it rely on; trees cached before were not */
    sbuf_printf(&k, "kiln-rootfs-3\n%d\n%s\n%s\n%s\n%ld\n", (int)s->family, s->suite ? s->suite : "",
                s->mirror ? s->mirror : "", s->releasever ? s->releasever : "", epoch);
    for (size_t i = 0; i < s->ncomponents; i++) sbuf_printf(&k, "c %s\n", s->components[i]);
    for (size_t i = 0; i < s->nrepos; i++) {
        const struct image_repo *r = &s->repos[i];
        sbuf_printf(&k, "r %s %s %s\n", r->name, r->baseurl, r->gpgkey);
        if (r->suite) sbuf_printf(&k, "rs %s\n", r->suite);
        for (size_t j = 0; j < r->ncomponents; j++) sbuf_printf(&k, "rc %s\n", r->components[j]);
    }
    /* what the repositories hold now: a security update means another tree */
    for (size_t i = 0; repos && i < nrepos; i++)
        sbuf_printf(&k, "state %s %s %s\n", repos[i].url, repos[i].suite ? repos[i].suite : "-", repos[i].key);
    for (size_t i = 0; i < s->ninstall; i++) sbuf_printf(&k, "i %s\n", s->install[i]);
    for (size_t i = 0; i < s->nremove; i++) sbuf_printf(&k, "x %s\n", s->remove[i]);
    if (s->layout == LAYOUT_IMMUTABLE) sbuf_printf(&k, "immutable %s\n", s->usr_filesystem);
    if (s->encrypt) sbuf_puts(&k, "encrypt tpm2\n"); /* its dracut configuration */
    /* boot.initrd_modules: vm (trees cached before it had the tool's wide default: most) */
    if (s->initrd_modules == INITRD_MODULES_VM) sbuf_puts(&k, "initrd-modules vm\n");
    /* only other architectures add a line: trees cached for x86_64 keep their keys */
    if (s->arch != kiln_arch_default()) sbuf_printf(&k, "arch %s\n", s->arch->name);
    const char *recipe = pkg_family_ops(s->family)->tree_recipe;
    if (recipe) sbuf_printf(&k, "recipe %s\n", recipe);
    uint8_t md[32];
    unsigned mdlen;
    EVP_Digest(k.s, k.len, md, &mdlen, EVP_sha256(), NULL);
    sbuf_free(&k);
    char *hex = xmalloc(33);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

/* Packages of another architecture run their maintainer scripts through binfmt_misc: without
 * an entry the package manager fails deep in its log, so say it first. */
static int foreign_arch_check(struct build_ctx *c)
{
    const struct kiln_arch *a = c->spec->arch;
    if (a == kiln_arch_host()) return 0;
    _cleanup_free_ char *entry = xasprintf("/proc/sys/fs/binfmt_misc/%s", a->binfmt);
    char *text = NULL;
    size_t len;
    bool enabled = read_file(entry, 4096, &text, &len) == 0 && startswith(text, "enabled");
    free(text);
    if (enabled) return 0;
    return build_error(c, "rootfs", "arch %s: this host cannot run %s programs, which the package tree's maintainer "
                                    "scripts are: %s is %s; install qemu-user-static and register it "
                                    "(scripts/deps.sh mounts binfmt_misc and does both)",
                       a->name, a->name, entry, file_exists(entry) ? "disabled" : "missing");
}

/* The repositories' state now, as the manifest records it, and in *key the tree's cache key:
 * with every repository's state, or (after one warning) with none when some cannot be read. */
static json_t *read_repo_states(struct build_ctx *c, char **key)
{
    const struct image_spec *s = c->spec;
    struct repo_src *srcs = NULL;
    size_t n = c->family->sources(s, &srcs);
    struct repo_state *st = NULL;
    int r = repo_snapshot(srcs, n, s->arch->debian, REPO_TIMEOUT_S, &st);
    size_t bad = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n; i++)
        if (st[i].error) bad++, first = first ? first : st[i].error;
    if (r < 0)
        build_say(c, BUILD_WARNING, "rootfs", "cannot read the state of %zu of %zu repositories (%s); the cache key "
                                              "leaves the repositories out, so a cached tree may predate their last "
                                              "update (--refresh rebuilds it)", bad, n, first);
    *key = tree_key(s, c->epoch_given ? c->epoch : -1, r < 0 ? NULL : st, n);
    json_t *j = repo_states_json(st, n);
    repo_states_free(st, n);
    repo_srcs_free(srcs, n);
    return j;
}

/* Makes the package tree in dir.tmp.PID and renames it to dir, with the repository snapshot
 * read just before the package manager ran (every build that takes the tree from the cache
 * records that one) and .done holding the key. */
static int make_tree(struct build_ctx *c, const char *dir, const char *key, json_t *now)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", dir, (int)getpid());
    rm_rf(tmp);
    mkdir_p(tmp, 0755);
    _cleanup_free_ char *ttree = path_join(tmp, "tree");
    int r = foreign_arch_check(c);
    if (r == 0) r = c->family->create(c, ttree);
    if (r < 0) {
        rm_rf(tmp);
        return r;
    }
    /* no mtime in the cached tree is later than this build's epoch, nor so later builds' (the
     * key holds a given epoch; a default one is the time a build starts): the clamp of a build
     * never changes the mtime of a file it shares with the cache (tree_copy) */
    clamp_tree(ttree, c->epoch);
    _cleanup_free_ char *tsnap = path_join(tmp, "repositories.json");
    json_write_file(tsnap, now);
    _cleanup_free_ char *tdone = path_join(tmp, ".done");
    write_file_atomic(tdone, key, strlen(key), 0644);
    rm_rf(dir);
    if (rename(tmp, dir) < 0) {
        r = build_error(c, "rootfs", "cannot move the tree into the cache %s: %s", dir, strerror(errno));
        rm_rf(tmp);
    }
    return r;
}

/* c->root from the cached tree, which stays as it is: /usr (nine tenths of a tree) as hard links
 * when the work directory is on the cache's filesystem, everything else copied (cp -a, reflinks
 * where the filesystem has them). Nothing writes a file of /usr in place while the tree is
 * customized: kiln replaces the files it writes (util/inroot: a temp file renamed over the old
 * one), and the tools it runs in the tree (useradd, systemctl) write /etc, /var and the homes;
 * a package database under /usr (rpm's, which rpm -qa rewrites) is copied. The clamp (every
 * mtime of the cached tree is at most this build's epoch: make_tree) sets a linked file's atime
 * to its mtime, as reading it would set it; its mtime, content, owner and mode stay. */
static int tree_copy(struct build_ctx *c, const char *tree)
{
    struct stat top, work;
    if (stat(tree, &top) < 0 || stat(c->work, &work) < 0 || mkdir_p(c->root, 0755) < 0)
        return build_error(c, "rootfs", "cannot read %s or make %s: %s", tree, c->root, strerror(errno));
    bool link = top.st_dev == work.st_dev;
    DIR *d = opendir(tree);
    if (!d) return build_error(c, "rootfs", "cannot read %s: %s", tree, strerror(errno));
    char **argv = NULL;
    size_t n = 0, cap = 0;
    const char *lead[] = {"cp", "-a", "--reflink=auto"};
    for (size_t i = 0; i < ARRAY_SIZE(lead); i++) *APPEND(argv, n, cap) = xstrdup(lead[i]);
    bool usr = false;
    struct dirent *de;
    while ((de = readdir(d)))
        if (streq(de->d_name, "usr") && link) usr = true;
        else if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
            *APPEND(argv, n, cap) = path_join(tree, de->d_name);
    closedir(d);
    size_t nsrc = n - ARRAY_SIZE(lead);
    *APPEND(argv, n, cap) = xstrdup(c->root);
    *APPEND(argv, n, cap) = NULL;
    int r = nsrc ? build_run_step(c, "rootfs", "copying the package tree", argv) : 0;
    strv_free(argv, n);
    _cleanup_free_ char *src_usr = path_join(tree, "usr");
    char *ln[] = {"cp", "-a", "--link", src_usr, c->root, NULL};
    if (r == 0 && usr) r = build_run_step(c, "rootfs", "linking /usr to the package tree", ln);
    if (r < 0) return r;
    /* the top directory itself, as cp -a TREE/. ROOT made it */
    struct timespec ts[2] = {top.st_atim, top.st_mtim};
    if (chown(c->root, top.st_uid, top.st_gid) < 0 || chmod(c->root, top.st_mode & 07777) < 0 ||
        utimensat(AT_FDCWD, c->root, ts, 0) < 0)
        return build_error(c, "rootfs", "cannot set the owner, mode and times of %s: %s", c->root, strerror(errno));
    c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0) return build_error(c, "rootfs", "cannot open %s: %s", c->root, strerror(errno));
    if (!usr || !startswith(c->family->db_path, "usr/")) return 0;
    /* the package database: copies in place of the links (cp unlinks each before it writes) */
    int tfd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *db_src = tfd >= 0 ? inroot_host_path(tfd, c->family->db_path) : NULL;
    _cleanup_free_ char *db_dst = inroot_host_path(c->root_fd, c->family->db_path);
    if (tfd >= 0) close(tfd);
    if (!db_src || !db_dst) return 0; /* no database there: nothing rewrites it */
    _cleanup_free_ char *from = xasprintf("%s/.", db_src);
    char *db[] = {"cp", "-a", "--remove-destination", from, db_dst, NULL};
    return build_run(c, "rootfs", db);
}

/* Takes dir.lock (beside the cache directory of one key) exclusively: builds of the same package
 * set side by side (CI lanes, a service's workers) take turns to look for, make and copy that
 * tree, so the second takes the first one's tree instead of making its own and removing the
 * first's while the first copies from it (make_tree replaces a tree without .done; --refresh
 * replaces any). Trees of other keys are not held up. Returns the lock's fd (closing it lets go),
 * TREE_UNLOCKED when the cache cannot hold a lock file (read-only: the build goes on unlocked),
 * or a negative errno after a BUILD_ERROR (-EINTR when interrupted while waiting). */
enum { TREE_UNLOCKED = -1 }; /* tree_lock: no lock file could be made in a read-only cache */
static int tree_lock(struct build_ctx *c, const char *dir, double *waited)
{
    *waited = 0;
    _cleanup_free_ char *path = xasprintf("%s.lock", dir);
    _cleanup_free_ char *parent = path_dirname(path);
    mkdir_p(parent, 0755);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    /* a cache the build may only read (mounted read-only, another user's): nothing to take
     * turns on there but reading; a tree it lacks fails later, saying where it could not write */
    if (fd < 0 && (errno == EROFS || errno == EACCES)) return TREE_UNLOCKED;
    if (fd < 0) return build_error(c, "rootfs", "cannot open the cache lock %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno == EWOULDBLOCK) {
        /* a step of the stage, with its time going on while it waits (a lock held for minutes
         * looked like a hang), and a step again when it ends (a log through a pipe showed a
         * minute of silence) */
        _cleanup_free_ char *text =
            xasprintf("waiting for another kiln build that is making or copying the same package tree (%s)", path);
        build_progress(c, true, text, 0, 0, 0);
        double t0 = now_s();
        for (int shown = (int)(t0 - c->stage_t0);;) {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                *waited = now_s() - t0;
                _cleanup_free_ char *done = xasprintf("the other build is done (waited %.1f s)", *waited);
                build_progress(c, true, done, 0, 0, 0);
                return fd;
            }
            if (errno != EWOULDBLOCK && errno != EINTR) break;
            if (proc_sleep(200) < 0) {
                close(fd);
                return build_interrupted(c, "rootfs");
            }
            if (build_tick_due(c, &shown)) build_progress(c, false, text, 0, 0, now_s() - t0);
        }
    }
    int e = errno;
    close(fd);
    return build_error(c, "rootfs", "cannot lock %s: %s", path, strerror(e));
}

int stage_rootfs(struct build_ctx *c)
{
    _cleanup_free_ char *key = NULL;
    double t0 = now_s();
    json_t *now = read_repo_states(c, &key);
    double t1 = now_s();
    _cleanup_free_ char *rel = xasprintf("build/rootfs-%s", key);
    _cleanup_free_ char *dir = kiln_cache_path(rel);
    _cleanup_free_ char *tree = path_join(dir, "tree");
    _cleanup_free_ char *done = path_join(dir, ".done");
    _cleanup_free_ char *snap = path_join(dir, "repositories.json");
    double waited;
    int lock = tree_lock(c, dir, &waited);
    if (lock < 0 && lock != TREE_UNLOCKED) {
        json_decref(now);
        return lock;
    }
    bool cached = !c->opts->no_cache && file_exists(done);
    int r = cached ? 0 : make_tree(c, dir, key, now);
    double t2 = now_s();
    json_decref(now);
    if (r < 0) {
        if (lock >= 0) close(lock);
        return r;
    }
    char *text = NULL;
    size_t len;
    /* a tree cached before kiln kept snapshots has none: the manifest then says null */
    if (read_file(snap, REPO_SNAPSHOT_MAX, &text, &len) == 0) c->repos = json_loadb(text, len, 0, NULL);
    free(text);
    r = tree_copy(c, tree);
    if (lock >= 0) close(lock);
    if (r < 0) return r;
    /* where the stage's time went: the repositories' state, another build's turn, the package
     * manager, the copy */
    _cleanup_free_ char *wait = waited > 0 ? xasprintf(", waiting %.1f s", waited) : xstrdup("");
    _cleanup_free_ char *made = cached ? xstrdup("") : xasprintf(", packages %.1f s", t2 - t1 - waited);
    build_note(c, "(%s %s; repositories %.1f s%s%s, copy %.1f s)", cached ? "cached tree" : "new tree, cached in",
               cached ? key : dir, t1 - t0, wait, made, now_s() - t2);
    return 0;
}
