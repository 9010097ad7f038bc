/* The build stages, in order. Each prints one line with its duration; a failure names the stage
 * and the cause and leaves nothing at the output path (outputs are staged, then renamed). */
#include "image/build.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "image/disk_int.h"
#include "image/encrypt.h"
#include "image/ext4.h"
#include "image/gpt.h"
#include "image/inspect.h"
#include "image/reposnap.h"
#include "image/network.h"
#include "trust/minisign.h"
#include "image/rootfs_tar.h"
#include "trust/pkgdb.h"
#include "trust/provenance.h"
#include "trust/sbom.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

enum { MiB = 1 << 20, ESP_MIN = 128, REPO_TIMEOUT_S = 30, REPO_SNAPSHOT_MAX = 1 << 20 };
static double stage_t0;
static int stage_no, nstages = 7;

static void stage_begin(const char *name)
{
    stage_no++;
    stage_t0 = now_s();
    fprintf(stderr, "kiln build: [%d/%d] %s ...\n", stage_no, nstages, name);
}

static void stage_end(const char *name, const char *note)
{
    fprintf(stderr, "kiln build: [%d/%d] %-10s %7.1f s%s%s\n", stage_no, nstages, name, now_s() - stage_t0,
            note ? "  " : "", note ? note : "");
}

int build_error(struct build_ctx *c, const char *stage, const char *fmt, ...)
{
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *m = xvasprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "kiln build: %s: %s\n", stage, m);
    return -1;
}

/* The last lines of the build log from offset on. */
static void print_tail(struct build_ctx *c, off_t from)
{
    char *text = NULL;
    size_t len;
    if (read_file(c->log_path, 64 << 20, &text, &len) < 0) return;
    if ((size_t)from > len) from = 0;
    const char *s = text + from, *p = text + len;
    int lines = 0;
    while (p > s && lines < 16)
        if (*--p == '\n' && p + 1 < text + len) lines++;
    fprintf(stderr, "%s%s", p == s ? "" : "  ...\n", p + (p > s));
    free(text);
}

int build_run(struct build_ctx *c, const char *stage, char *const argv[])
{
    struct sbuf cmd = {0};
    for (size_t i = 0; argv[i]; i++) sbuf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
    off_t start = lseek(c->log_fd, 0, SEEK_END);
    dprintf(c->log_fd, "$ %s\n", cmd.s);
    pid_t pid;
    int r = proc_spawn(argv, -1, c->log_fd, c->log_fd, &pid);
    if (r < 0) {
        build_error(c, stage, "cannot run %s: %s%s", argv[0], strerror(-r),
                    r == -ENOENT ? " (is it installed? `make deps` installs what kiln needs)" : "");
        sbuf_free(&cmd);
        return -1;
    }
    int st = 0;
    while ((r = proc_wait(pid, 200, &st)) == -ETIMEDOUT)
        if (kiln_interrupted) {
            proc_kill(pid, 3000);
            sbuf_free(&cmd);
            return build_error(c, stage, "interrupted");
        }
    if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        build_error(c, stage, "`%.300s` failed (%s %d); its last output:", cmd.s,
                    r == 0 && WIFEXITED(st) ? "exit" : "signal", r == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        print_tail(c, start);
        fprintf(stderr, "kiln build: the whole log is in %s\n", c->log_path);
        sbuf_free(&cmd);
        return -1;
    }
    sbuf_free(&cmd);
    return 0;
}

int build_chroot(struct build_ctx *c, const char *stage, char *const argv[])
{
    size_t n = 0;
    while (argv[n]) n++;
    char **av = xcalloc(n + 3, sizeof *av);
    av[0] = "chroot";
    av[1] = c->root;
    for (size_t i = 0; i < n; i++) av[i + 2] = argv[i];
    int r = build_run(c, stage, av);
    free(av);
    return r;
}

/* Every access to the tree below goes through util/inroot: paths resolve as they would in the
 * image (var/run -> /run is the tree's run/), so no spec value or symlink in the package tree
 * can make kiln write, read or delete on the build host. */

/* Writes a file into the tree (parents made), with mode, owned by root. */
static int tree_write(struct build_ctx *c, const char *rel, const char *content, unsigned mode)
{
    int r = inroot_write(c->root_fd, rel, content, strlen(content), mode, 0, 0);
    if (r < 0) return build_error(c, "customize", "cannot write /%s in the image: %s", rel, strerror(-r));
    return 0;
}

static bool tree_has(struct build_ctx *c, const char *rel)
{
    return inroot_exists(c->root_fd, rel);
}

/* The build-host path of a file in the tree, for the tools that read it (mcopy, cp). */
static char *tree_path(struct build_ctx *c, const char *rel)
{
    return inroot_host_path(c->root_fd, rel);
}

/* The cache key of the package tree: everything the package manager's result depends on,
 * including the repositories' state (repos; NULL when it could not be read: the key is then
 * what it was before kiln read it). The epoch counts only when the user set SOURCE_DATE_EPOCH
 * (a build-time default would make every key new); mtimes are clamped to each build's epoch
 * afterwards either way. */
static char *tree_key(const struct image_spec *s, long epoch, const struct repo_state *repos, size_t nrepos)
{
    struct sbuf k = {0};
    sbuf_printf(&k, "kiln-rootfs-2\n%d\n%s\n%s\n%s\n%ld\n", s->family, s->suite ? s->suite : "",
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
    /* only other architectures add a line: trees cached for x86_64 keep their keys */
    if (s->arch != kiln_arch_default()) sbuf_printf(&k, "arch %s\n", s->arch->name);
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
 * with every repository's state, or (after one warning line) with none when some cannot be read. */
static json_t *read_repo_states(struct build_ctx *c, char **key)
{
    const struct image_spec *s = c->spec;
    struct repo_src *srcs = NULL;
    size_t n = s->family == FAMILY_DEB ? rootfs_deb_sources(s, &srcs) : rootfs_rpm_sources(s, &srcs);
    struct repo_state *st = NULL;
    int r = repo_snapshot(srcs, n, s->arch->debian, REPO_TIMEOUT_S, &st);
    size_t bad = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n; i++)
        if (st[i].error) bad++, first = first ? first : st[i].error;
    if (r < 0)
        fprintf(stderr, "kiln build: rootfs: warning: cannot read the state of %zu of %zu repositories (%s); the cache key "
                        "leaves the repositories out, so a cached tree may predate their last update (--refresh rebuilds it)\n",
                bad, n, first);
    *key = tree_key(s, c->epoch_given ? c->epoch : -1, r < 0 ? NULL : st, n);
    json_t *j = repo_states_json(st, n);
    repo_states_free(st, n);
    repo_srcs_free(srcs, n);
    return j;
}

static int stage_rootfs(struct build_ctx *c)
{
    stage_begin("rootfs");
    _cleanup_free_ char *key = NULL;
    json_t *now = read_repo_states(c, &key);
    _cleanup_free_ char *rel = xasprintf("build/rootfs-%s", key);
    _cleanup_free_ char *dir = kiln_cache_path(rel);
    _cleanup_free_ char *tree = path_join(dir, "tree");
    _cleanup_free_ char *done = path_join(dir, ".done");
    _cleanup_free_ char *snap = path_join(dir, "repositories.json");
    bool cached = !c->opts->no_cache && file_exists(done);
    if (!cached) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", dir, (int)getpid());
        rm_rf(tmp);
        mkdir_p(tmp, 0755);
        _cleanup_free_ char *ttree = path_join(tmp, "tree");
        if (foreign_arch_check(c) < 0) {
            json_decref(now);
            rm_rf(tmp);
            return -1;
        }
        int r = c->spec->family == FAMILY_DEB ? rootfs_deb(c, ttree) : rootfs_rpm(c, ttree);
        if (r < 0) {
            json_decref(now);
            rm_rf(tmp);
            return -1;
        }
        /* the snapshot read just before the package manager ran: the tree's, for every build
         * that takes it from the cache */
        _cleanup_free_ char *tsnap = path_join(tmp, "repositories.json");
        json_write_file(tsnap, now);
        _cleanup_free_ char *tdone = path_join(tmp, ".done");
        write_file_atomic(tdone, key, strlen(key), 0644);
        rm_rf(dir);
        if (rename(tmp, dir) < 0) {
            json_decref(now);
            rm_rf(tmp);
            return build_error(c, "rootfs", "cannot move the tree into the cache %s: %s", dir, strerror(errno));
        }
    }
    json_decref(now);
    char *text = NULL;
    size_t len;
    /* a tree cached before kiln kept snapshots has none: the manifest then says null */
    if (read_file(snap, REPO_SNAPSHOT_MAX, &text, &len) == 0) c->repos = json_loadb(text, len, 0, NULL);
    free(text);
    /* the cached tree stays pristine; this build customizes a copy */
    _cleanup_free_ char *src = xasprintf("%s/.", tree);
    char *cp[] = {"cp", "-a", "--reflink=auto", src, c->root, NULL};
    mkdir_p(c->root, 0755);
    if (build_run(c, "rootfs", cp) < 0) return -1;
    c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0) return build_error(c, "rootfs", "cannot open %s: %s", c->root, strerror(errno));
    _cleanup_free_ char *note = xasprintf("(%s %s)", cached ? "cached tree" : "new tree, cached in", cached ? key : dir);
    stage_end("rootfs", note);
    return 0;
}

static int passwd_ids(struct build_ctx *c, const char *user, unsigned *uid, unsigned *gid, char **home)
{
    char *text = NULL;
    size_t len;
    if (inroot_read(c->root_fd, "etc/passwd", 4 << 20, &text, &len) < 0) return -1;
    int r = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        size_t k = 0;
        for (char *q = line; k < 7; k++) {
            f[k] = q;
            q = strchr(q, ':');
            if (!q) break;
            *q++ = 0;
        }
        if (k < 6 || !streq(f[0], user)) continue;
        *uid = (unsigned)strtoul(f[2], NULL, 10);
        *gid = (unsigned)strtoul(f[3], NULL, 10);
        *home = xstrdup(f[5]);
        r = 0;
        break;
    }
    free(text);
    return r;
}

static int customize_users(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    for (size_t i = 0; i < s->nusers; i++) {
        const struct image_user *u = &s->users[i];
        unsigned uid, gid;
        char *home = NULL;
        if (!streq(u->name, "root") && passwd_ids(c, u->name, &uid, &gid, &home) < 0) {
            struct sbuf groups = {0};
            for (size_t g = 0; g < u->ngroups; g++) sbuf_printf(&groups, "%s%s", g ? "," : "", u->groups[g]);
            char *av[] = {"useradd", "--create-home", "--user-group", "--shell", "/bin/bash", u->ngroups ? "--groups" : NULL,
                          groups.s, NULL, NULL};
            if (u->ngroups) av[7] = u->name;
            else av[5] = u->name;
            int r = build_chroot(c, "customize", av);
            sbuf_free(&groups);
            if (r < 0) return build_error(c, "customize", "os.users: cannot create user %s (does every group in its \"groups\" exist in the image?)", u->name);
        }
        if (!home && passwd_ids(c, u->name, &uid, &gid, &home) < 0)
            return build_error(c, "customize", "os.users: user %s is not in the image's /etc/passwd", u->name);
        if (u->nssh_keys) {
            /* home comes from the image's /etc/passwd: resolved in the tree like any path */
            _cleanup_free_ char *ssh = path_join(home, ".ssh");
            _cleanup_free_ char *ak = path_join(ssh, "authorized_keys");
            struct sbuf keys = {0};
            for (size_t k = 0; k < u->nssh_keys; k++) sbuf_printf(&keys, "%s\n", u->ssh_keys[k]);
            int r = inroot_mkdir_p(c->root_fd, ssh, 0700);
            int dfd = r < 0 ? r : inroot_open(c->root_fd, ssh, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
            if (dfd < 0) r = dfd;
            else if (fchown(dfd, uid, gid) < 0 || fchmod(dfd, 0700) < 0) r = -errno;
            if (dfd >= 0) close(dfd);
            if (r == 0) r = inroot_write(c->root_fd, ak, keys.s, keys.len, 0600, uid, gid);
            sbuf_free(&keys);
            if (r < 0) {
                build_error(c, "customize", "os.users: cannot install SSH keys for %s in %s: %s", u->name, ssh, strerror(-r));
                free(home);
                return -1;
            }
        }
        free(home);
    }
    return 0;
}

static int customize_services(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    struct { const char *verb; char **units; size_t n; } ops[] = {
        {"enable", s->enable, s->nenable}, {"disable", s->disable, s->ndisable}, {"mask", s->mask, s->nmask}};
    for (size_t o = 0; o < ARRAY_SIZE(ops); o++) {
        if (!ops[o].n) continue;
        if (!tree_has(c, "usr/bin/systemctl") && !tree_has(c, "bin/systemctl"))
            return build_error(c, "customize", "os.services: the image has no systemctl (add systemd to packages.install)");
        char **av = xcalloc(ops[o].n + 4, sizeof *av);
        av[0] = "systemctl";
        av[1] = "--no-reload";
        av[2] = (char *)ops[o].verb;
        for (size_t i = 0; i < ops[o].n; i++) av[3 + i] = ops[o].units[i];
        int r = build_chroot(c, "customize", av);
        free(av);
        if (r < 0) return build_error(c, "customize", "os.services.%s: systemctl could not %s the units (is each unit installed?)", ops[o].verb, ops[o].verb);
    }
    return 0;
}

/* os.files: each source is opened again beneath the spec's source root (it may have changed
 * since the spec was checked), each destination resolved in the tree. */
static int customize_files(struct build_ctx *c)
{
    if (!c->spec->nfiles) return 0;
    int srcdir = open(c->spec->source_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (srcdir < 0) return build_error(c, "customize", "os.files: cannot open %s: %s", c->spec->source_root, strerror(errno));
    int r = 0;
    for (size_t i = 0; i < c->spec->nfiles && r == 0; i++) {
        const struct image_file *f = &c->spec->files[i];
        int fd = inroot_open_beneath(srcdir, f->src_rel, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -EINVAL;
        }
        r = fd < 0 ? fd : inroot_copy(c->root_fd, f->dst, fd, f->mode, 0, 0);
        if (fd >= 0) close(fd);
        if (r < 0)
            build_error(c, "customize", "os.files: cannot install %s as %s: %s", f->src, f->dst,
                        r == -EXDEV || r == -EINVAL ? "it is no longer a regular file under the source root" : strerror(-r));
    }
    close(srcdir);
    return r < 0 ? -1 : 0;
}

/* os.network, then whether anything brings a NIC up at boot: an image without network boots
 * to a login prompt and never answers SSH, which `kiln run` would otherwise learn only by
 * waiting out its boot timeout. Runs after os.files and os.services, which may configure it. */
static int customize_network(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    /* WSL gives its distributions their network itself */
    if (s->network == IMAGE_NET_NONE || (s->wsl && s->network == IMAGE_NET_UNSET)) return 0;
    struct image_net n;
    char what[1024], why[512];
    int r = image_net_probe(c->root_fd, &n);
    if (r < 0) return build_error(c, "customize", "cannot read the tree's network configuration: %s", strerror(-r));
    if (s->network == IMAGE_NET_DHCP) {
        enum image_net_plan plan;
        r = image_net_plan(&n, &plan, why, sizeof why);
        if (r == 0) r = image_net_write_dhcp(c->root_fd, plan, why, sizeof why);
        bool enable = r == 0 && ((plan == NET_PLAN_NETWORKD && !n.networkd_enabled) || (plan == NET_PLAN_NM && !n.nm_enabled));
        image_net_free(&n);
        if (r < 0) return build_error(c, "customize", "os.network: dhcp: %s", why);
        if (enable) {
            char *av[] = {"systemctl", "--no-reload", "enable",
                          plan == NET_PLAN_NM ? "NetworkManager.service" : "systemd-networkd.service", NULL};
            if (build_chroot(c, "customize", av) < 0) return -1;
        }
        r = image_net_probe(c->root_fd, &n);
        if (r < 0) return build_error(c, "customize", "cannot read the tree's network configuration: %s", strerror(-r));
        bool ok = image_net_configured(&n, what, sizeof what);
        image_net_free(&n);
        /* the configuration kiln just wrote must be what the probe finds */
        if (!ok) return build_error(c, "customize", "os.network: dhcp: written, yet %s", what);
        fprintf(stderr, "kiln build: customize: os.network: dhcp through %s\n", what);
        return 0;
    }
    if (!image_net_configured(&n, what, sizeof what))
        fprintf(stderr, "kiln build: warning: %s A VM of this image boots but cannot be reached over SSH. Set os.network: "
                        "dhcp (kiln writes DHCP configuration for the image's network manager), configure one with "
                        "os.files and os.services, or set os.network: none if the image has no network on purpose.\n",
                what);
    image_net_free(&n);
    return 0;
}

static const char *keygen_unit =
    "[Unit]\n"
    "Description=Generate SSH host keys on first boot (kiln)\n"
    "Before=ssh.service sshd.service\n"
    "ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key\n\n"
    "[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n"
    "[Install]\nWantedBy=multi-user.target\n";

/* Removes what must not ship: host identity, build logs, caches, histories. */
static void generalize(struct build_ctx *c)
{
    static const char *const junk[] = {
        "etc/ssh/ssh_host_*", "var/lib/dbus/machine-id", "var/lib/systemd/random-seed", "var/lib/systemd/credential.secret",
        "var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*", "var/cache/dnf/*",
        "var/cache/ldconfig/aux-cache", "var/cache/debconf/*-old", "var/lib/dpkg/*-old", "root/.bash_history",
        "home/*/.bash_history", "tmp/*", "var/tmp/*", "var/log/*.log", "var/log/apt/*", "var/log/dnf*", "var/log/journal/*",
        "var/log/alternatives.log", "var/log/dpkg.log", "var/lib/cloud/instance*", "var/lib/cloud/instances/*",
        "etc/*-", "var/backups/*",
    };
    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) inroot_rm_glob(c->root_fd, junk[i]);
    if (c->spec->reset_machine_id) inroot_write(c->root_fd, "etc/machine-id", "", 0, 0444, 0, 0);
}

static long clamp_to;
static int clamp_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)flag, (void)f;
    struct timespec ts[2];
    ts[1].tv_sec = st->st_mtime > clamp_to ? clamp_to : st->st_mtime;
    ts[1].tv_nsec = 0;
    ts[0] = ts[1];
    utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
    return 0;
}

/* Every mtime (and atime) no later than SOURCE_DATE_EPOCH, whole seconds. */
static void clamp_tree(const char *root, long epoch)
{
    clamp_to = epoch;
    nftw(root, clamp_one, 64, FTW_PHYS | FTW_DEPTH);
}


static int find_kernel(struct build_ctx *c)
{
    int fd = inroot_open(c->root_fd, "boot", O_RDONLY | O_DIRECTORY, 0);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir && fd >= 0) close(fd);
    struct dirent *de;
    char *best = NULL;
    while (dir && (de = readdir(dir))) {
        if (!startswith(de->d_name, "vmlinuz-") || !de->d_name[8]) continue;
        const char *v = de->d_name + strlen("vmlinuz-");
        if (!best || strverscmp(v, best) > 0) {
            free(best);
            best = xstrdup(v);
        }
    }
    if (dir) closedir(dir);
    if (!best) {
        _cleanup_free_ char *deb = xasprintf("linux-image-%s (and initramfs-tools)", c->spec->arch->debian);
        return build_error(c, "customize", "the image has no kernel in /boot; add %s to packages.install",
                           c->spec->family == FAMILY_DEB ? deb : "kernel-core");
    }
    c->kver = best;
    return 0;
}

static char *initrd_rel(struct build_ctx *c)
{
    char *a = xasprintf("boot/initrd.img-%s", c->kver);
    if (tree_has(c, a)) return a;
    free(a);
    a = xasprintf("boot/initramfs-%s.img", c->kver);
    if (tree_has(c, a)) return a;
    free(a);
    return NULL;
}

/* Discoverable Partitions convention: a verity-protected partition's UUID is the first 128 bits
 * of its root hash, its hash partition's the last 128 bits. */
static void guid_from_hash(const char *hex, struct guid *g)
{
    char s[37];
    snprintf(s, sizeof s, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    guid_parse(s, g);
}

static char *guid_lower(const struct guid *g)
{
    char s[37];
    guid_format(g, s);
    for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    return xstrdup(s);
}

/* A GUID derived from the build's seed and a label, as lower-case text (fstab, UUIDs). */
static char *partuuid_str(struct build_ctx *c, const char *label)
{
    struct guid g;
    guid_derive(c->seed, label, &g);
    return guid_lower(&g);
}

static char *kernel_cmdline(struct build_ctx *c)
{
    _cleanup_free_ char *root = partuuid_str(c, "partition-root");
    struct sbuf b = {0};
    _cleanup_free_ char *luks = encrypt_cmdline(c);
    if (luks) sbuf_printf(&b, "%s rw", luks);
    else sbuf_printf(&b, "root=PARTUUID=%s rw", root);
    if (c->spec->layout == LAYOUT_IMMUTABLE) {
        struct guid a, h;
        guid_from_hash(c->usr_hash, &a);
        guid_from_hash(c->usr_hash + 32, &h);
        _cleanup_free_ char *as = guid_lower(&a);
        _cleanup_free_ char *hs = guid_lower(&h);
        sbuf_printf(&b, " usrhash=%s systemd.verity_usr_data=PARTUUID=%s systemd.verity_usr_hash=PARTUUID=%s"
                        " mount.usr=/dev/mapper/usr mount.usrfstype=%s mount.usrflags=ro",
                    c->usr_hash, as, hs, c->spec->usr_filesystem);
    }
    if (c->spec->kernel_cmdline) sbuf_printf(&b, " %s", c->spec->kernel_cmdline);
    return sbuf_steal(&b);
}

/* The immutable layout's os-release (in /usr, so it changes with the slot) names the image
 * and its version (os-release(5) IMAGE_ID, IMAGE_VERSION): the updater reports the version it
 * runs from there. */
static int stamp_os_release(struct build_ctx *c)
{
    const char *rel = "usr/lib/os-release";
    char *text = NULL;
    size_t len;
    if (inroot_read(c->root_fd, rel, 1 << 20, &text, &len) < 0)
        return build_error(c, "customize", "the immutable layout needs /%s in the image (the updater reads its version there)", rel);
    struct sbuf b = {0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (!startswith(line, "IMAGE_ID=") && !startswith(line, "IMAGE_VERSION=")) sbuf_printf(&b, "%s\n", line);
    free(text);
    sbuf_printf(&b, "IMAGE_ID=%s\nIMAGE_VERSION=%s\n", c->spec->name, c->spec->version);
    int r = inroot_write(c->root_fd, rel, b.s, b.len, 0644, 0, 0);
    sbuf_free(&b);
    return r < 0 ? build_error(c, "customize", "cannot write /%s in the image: %s", rel, strerror(-r)) : 0;
}

/* The updater binary: next to kiln (build tree or libexec), else where meson built it. */
static char *updater_path(void)
{
    const char *env = getenv("KILN_UPDATER");
    if (env && *env) return xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        _cleanup_free_ char *dir = path_dirname(self);
        const char *rel[] = {"kiln-updater", "../libexec/kiln/kiln-updater"};
        for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
            char *p = path_join(dir, rel[i]);
            if (file_exists(p)) return p;
            free(p);
        }
    }
    return file_exists(KILN_UPDATER_BUILD_PATH) ? xstrdup(KILN_UPDATER_BUILD_PATH) : NULL;
}

/* Everything a version's updater and health check consist of lives in /usr, which an update
 * replaces: the root partition (/etc, /var) stays the machine's own across versions, so a unit
 * or check written there would be the first version's forever (the broken 1.0.2 of
 * examples/update.yml would run 1.0.0's passing check and never roll back). Only the machine's
 * settings (/etc/kiln/updater.conf, which the owner edits to opt out) and the trusted keys are
 * in /etc. */
static const char *updater_units[][2] = {
    {"usr/lib/systemd/system/kiln-updater.service",
     "[Unit]\nDescription=kiln updater: check, download, verify and install the next image version\n"
     "Wants=network-online.target\n"
     "After=network-online.target boot-complete.target\nConditionPathExists=/etc/kiln/updater.conf\n\n"
     "[Service]\nType=oneshot\nExecStart=/usr/lib/kiln/kiln-updater\nSuccessExitStatus=75\n"},
    /* `systemctl start kiln-updater-now` checks at once, whatever the schedule says (the
     * updater's lock keeps it from running beside the timer's run); exit 75: the server could
     * not be asked and the updater backs off, which is no failure of the unit */
    {"usr/lib/systemd/system/kiln-updater-now.service",
     "[Unit]\nDescription=kiln updater: check for the next image version now\nWants=network-online.target\n"
     "After=network-online.target boot-complete.target\nConditionPathExists=/etc/kiln/updater.conf\n\n"
     "[Service]\nType=oneshot\nExecStart=/usr/lib/kiln/kiln-updater --now\nSuccessExitStatus=75\n"},
    /* the provisioning override: a system credential kiln-updater.conf (SMBIOS type 11, the
     * kernel command line, a container manager) becomes /run/kiln/updater.conf, whose keys win
     * over /etc/kiln/updater.conf's; tmpfiles.d's ^ reads system credentials (systemd >= 252) */
    {"usr/lib/tmpfiles.d/kiln-updater.conf",
     "d /run/kiln 0755 root root -\nf^ /run/kiln/updater.conf 0644 root root - kiln-updater.conf\n"},
    /* ...but systemd-tmpfiles-setup.service sees only the credentials its unit loads: Debian 12's
     * (systemd 252) lists LoadCredential= tmpfiles.extra, login.*, network.hosts and
     * ssh.authorized_keys.root, newer ones ImportCredential= globs of those; a name not found
     * is skipped, so a machine without the credential boots as before */
    {"usr/lib/systemd/system/systemd-tmpfiles-setup.service.d/50-kiln-updater.conf",
     "[Service]\nLoadCredential=kiln-updater.conf\n"},
    /* the timer only wakes the updater: its own schedule (interval, jitter, back-off) decides */
    {"usr/lib/systemd/system/kiln-updater.timer",
     "[Unit]\nDescription=kiln updater\n\n[Timer]\nOnBootSec=90\nOnUnitInactiveSec=5min\nRandomizedDelaySec=30\n\n"
     "[Install]\nWantedBy=timers.target\n"},
    /* a counted boot (systemd-boot's LoaderBootCountPath) that fails its checks reboots, so
     * the entry uses up its tries and the previous one boots */
    {"usr/lib/systemd/system/systemd-boot-check-no-failures.service.d/50-kiln.conf",
     "[Unit]\nFailureAction=reboot\n"
     "ConditionPathExists=/sys/firmware/efi/efivars/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f\n"},
};

/* Enabled in every image with updates: (the enablement link in /etc outlives the version); a
 * version without a check has no /usr/lib/kiln/health-check and the unit is skipped. */
static const char *health_unit =
    "[Unit]\nDescription=kiln update health check (the spec's updates.check)\n"
    "After=multi-user.target\nBefore=boot-complete.target\n"
    "ConditionPathExists=/sys/firmware/efi/efivars/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f\n"
    "ConditionPathExists=/usr/lib/kiln/health-check\n"
    "FailureAction=reboot\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh /usr/lib/kiln/health-check\n\n"
    "[Install]\nRequiredBy=boot-complete.target\n";

/* updates: the updater, its configuration, the trusted keys, the units (docs/updates.md). */
static int install_updater(struct build_ctx *c)
{
    const struct image_updates *u = &c->spec->updates;
    if (!tree_has(c, "usr/lib/systemd/systemd-bless-boot") && !tree_has(c, "lib/systemd/systemd-bless-boot"))
        return build_error(c, "customize", "updates: the image has no systemd-bless-boot (boot counting and blessing): "
                                           "add systemd-boot to packages.install");
    _cleanup_free_ char *bin = updater_path();
    int fd = bin ? open(bin, O_RDONLY | O_CLOEXEC) : -1;
    int r = fd < 0 ? -ENOENT : inroot_copy(c->root_fd, "usr/lib/kiln/kiln-updater", fd, 0755, 0, 0);
    if (fd >= 0) close(fd);
    if (r < 0)
        return build_error(c, "customize", "updates: cannot install kiln-updater (%s): %s; build it with ninja or set "
                                           "KILN_UPDATER", bin ? bin : "not found", strerror(-r));
    _cleanup_free_ char *conf = xasprintf("# made by kiln build from the spec's updates: (docs/updates.md)\nserver=%s\n"
                                          "channel=%s\nauto=%s\nreboot=%s\ninterval=%ld\njitter=%ld\n",
                                          u->server, u->channel, u->auto_apply ? "true" : "false",
                                          u->reboot ? "true" : "false", u->interval_s, u->interval_s / 10);
    if (tree_write(c, "etc/kiln/updater.conf", conf, 0644) < 0) return -1;
    for (size_t i = 0; i < u->nkeys; i++) {
        char id[17];
        char *err = NULL;
        if (ms_key_id(u->keys[i], id, &err) < 0) {
            build_error(c, "customize", "updates.keys: %s", err);
            free(err);
            return -1;
        }
        _cleanup_free_ char *dst = xasprintf("etc/kiln/update-keys/%s.pub", id);
        fd = open(u->keys[i], O_RDONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : inroot_copy(c->root_fd, dst, fd, 0644, 0, 0);
        if (fd >= 0) close(fd);
        if (r < 0) return build_error(c, "customize", "updates.keys: cannot install %s: %s", u->keys[i], strerror(-r));
    }
    for (size_t i = 0; i < ARRAY_SIZE(updater_units); i++)
        if (tree_write(c, updater_units[i][0], updater_units[i][1], 0644) < 0) return -1;
    if (tree_write(c, "usr/lib/systemd/system/kiln-update-health.service", health_unit, 0644) < 0) return -1;
    if (u->check) {
        _cleanup_free_ char *script = xasprintf("#!/bin/sh\n# updates.check from the image spec: a new version is kept "
                                                "only if this passes on its first boots\n%s\n", u->check);
        if (tree_write(c, "usr/lib/kiln/health-check", script, 0755) < 0) return -1;
    }
    char *en[] = {"systemctl", "--no-reload", "enable", "kiln-updater.timer", "systemd-boot-check-no-failures.service",
                  "kiln-update-health.service", NULL};
    return build_chroot(c, "customize", en);
}

static int stage_customize(struct build_ctx *c)
{
    stage_begin("customize");
    const struct image_spec *s = c->spec;
    if (find_kernel(c) < 0) return -1;
    _cleanup_free_ char *initrd = initrd_rel(c);
    if (!initrd)
        return build_error(c, "customize", "kernel %s has no initrd in /boot; add %s to packages.install", c->kver,
                           s->family == FAMILY_DEB ? "initramfs-tools" : "dracut");
    if (s->hostname) {
        _cleanup_free_ char *h = xasprintf("%s\n", s->hostname);
        _cleanup_free_ char *hosts = xasprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", s->hostname);
        if (tree_write(c, "etc/hostname", h, 0644) < 0 || tree_write(c, "etc/hosts", hosts, 0644) < 0) return -1;
    }
    _cleanup_free_ char *root = partuuid_str(c, "partition-root");
    _cleanup_free_ char *esp = partuuid_str(c, "partition-esp");
    _cleanup_free_ char *fstab = xasprintf("# made by kiln build: partitions by PARTUUID\n"
                                           "PARTUUID=%s\t/\text4\tdefaults,errors=remount-ro%s\t0\t1\n"
                                           "PARTUUID=%s\t/boot/efi\tvfat\tumask=0077,nofail\t0\t2\n",
                                           root, s->grow_root ? ",x-systemd.growfs" : "", esp);
    if (tree_write(c, "etc/fstab", fstab, 0644) < 0) return -1;
    int r = inroot_mkdir_p(c->root_fd, "boot/efi", 0755);
    if (r < 0) return build_error(c, "customize", "cannot make /boot/efi in the image: %s", strerror(-r));
    if (s->grow_root) {
        if (tree_has(c, "usr/bin/systemd-repart") || tree_has(c, "bin/systemd-repart")) {
            if (tree_write(c, "etc/repart.d/50-root.conf", "[Partition]\nType=root\n", 0644) < 0) return -1;
        } else
            fprintf(stderr, "kiln build: customize: note: first_boot.grow_root: the image has no systemd-repart, so the root "
                            "filesystem grows to fill its partition only (x-systemd.growfs)\n");
    }
    if (s->nsysctl) {
        struct sbuf b = {0};
        sbuf_puts(&b, "# from the image spec (kiln build)\n");
        for (size_t i = 0; i < s->nsysctl; i++) sbuf_printf(&b, "%s = %s\n", s->sysctl[i].key, s->sysctl[i].value);
        r = tree_write(c, "etc/sysctl.d/60-kiln-image.conf", b.s, 0644);
        sbuf_free(&b);
        if (r < 0) return -1;
    }
    if (customize_users(c) < 0 || customize_files(c) < 0) return -1;
    if (s->encrypt && encrypt_customize(c) < 0) return -1;
    if (s->layout == LAYOUT_IMMUTABLE && stamp_os_release(c) < 0) return -1;
    if (s->updates.set && install_updater(c) < 0) return -1;
    if (s->regenerate_ssh_host_keys && (tree_has(c, "usr/bin/ssh-keygen"))) {
        if (tree_write(c, "etc/systemd/system/kiln-ssh-keygen.service", keygen_unit, 0644) < 0) return -1;
        char *av[] = {"systemctl", "--no-reload", "enable", "kiln-ssh-keygen.service", NULL};
        if (build_chroot(c, "customize", av) < 0) return -1;
    }
    if (customize_services(c) < 0 || customize_network(c) < 0) return -1;
    generalize(c);
    clamp_tree(c->root, c->epoch);
    stage_end("customize", NULL);
    return 0;
}

static uint64_t file_size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* systemd-boot for the image's architecture: the image's own, else the build host's (which has
 * only its own architecture's file, so another architecture's image must ship it). */
static char *bootloader_path(struct build_ctx *c)
{
    _cleanup_free_ char *rel = xasprintf("lib/systemd/boot/efi/%s", c->spec->arch->systemd_boot);
    _cleanup_free_ char *in_usr = xasprintf("usr/%s", rel);
    char *boot = tree_path(c, in_usr);
    if (boot) return boot;
    if (c->usr_moved) {
        /* /usr is set aside in work/usr: resolved there as if it were the image's /usr */
        _cleanup_free_ char *usr = path_join(c->work, "usr");
        int ufd = open(usr, O_PATH | O_DIRECTORY | O_CLOEXEC);
        boot = ufd >= 0 ? inroot_host_path(ufd, rel) : NULL;
        if (ufd >= 0) close(ufd);
        if (boot) return boot;
    }
    _cleanup_free_ char *host = xasprintf("/%s", in_usr);
    return file_exists(host) ? xstrdup(host) : NULL;
}

/* The ESP holds the boot loader twice, the kernel and the initrd, with room to spare. */
static uint64_t esp_size(struct build_ctx *c)
{
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    _cleanup_free_ char *kernel = tree_path(c, krel);
    _cleanup_free_ char *irel = initrd_rel(c);
    _cleanup_free_ char *initrd = irel ? tree_path(c, irel) : NULL;
    _cleanup_free_ char *boot = bootloader_path(c);
    uint64_t need = (kernel ? file_size_of(kernel) : 0) + (initrd ? file_size_of(initrd) : 0) + (boot ? file_size_of(boot) * 2 : 0);
    return MAX((uint64_t)ESP_MIN, (need * 3 / 2) / MiB + 16) * MiB;
}

/* Signs the EFI binary in for Secure Boot with the spec's pair into work/NAME (sbsign adds its
 * signature beside any the binary already carries, as Debian's own on its kernel), then checks
 * it against the certificate (sbverify), so a pair the firmware would refuse fails the build
 * rather than the first boot. The key is passed to sbsign by path: it is never copied. */
static char *sb_sign(struct build_ctx *c, const char *in, const char *name)
{
    char *out = path_join(c->work, name);
    char *sign[] = {"sbsign", "--key", c->spec->sb_key, "--cert", c->spec->sb_cert, "--output", out, (char *)in, NULL};
    char *verify[] = {"sbverify", "--cert", c->spec->sb_cert, out, NULL};
    if (build_run(c, "esp", sign) < 0 || build_run(c, "esp", verify) < 0) {
        free(out);
        return NULL;
    }
    clamp_tree(out, c->epoch);
    return out;
}

static int stage_esp(struct build_ctx *c, uint64_t esp_bytes)
{
    stage_begin("esp");
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    _cleanup_free_ char *kernel = tree_path(c, krel);
    _cleanup_free_ char *irel = initrd_rel(c);
    _cleanup_free_ char *initrd = irel ? tree_path(c, irel) : NULL;
    _cleanup_free_ char *boot = bootloader_path(c);
    if (!kernel || !initrd) return build_error(c, "esp", "the kernel or initrd for %s is gone from /boot", c->kver);
    if (!boot && c->spec->arch == kiln_arch_host())
        return build_error(c, "esp", "systemd-boot is not available: add systemd-boot to the image or install "
                                     "systemd-boot-efi on the build host (`make deps`)");
    if (!boot)
        return build_error(c, "esp", "%s is not in the image: add systemd-boot-efi to packages.install (the build "
                                     "host's systemd-boot is for its own architecture, not %s)",
                           c->spec->arch->systemd_boot, c->spec->arch->name);
    uint64_t mib = esp_bytes / MiB;
    _cleanup_free_ char *img = path_join(c->work, "esp.img");
    _cleanup_free_ char *kb = xasprintf("%llu", (unsigned long long)(mib * 1024));
    struct guid g;
    guid_derive(c->seed, "esp-volume-id", &g);
    _cleanup_free_ char *volid = xasprintf("%02X%02X%02X%02X", g.b[0], g.b[1], g.b[2], g.b[3]);
    /* --invariant pins the label timestamp (it also sets a fixed volume id, which the -i after it replaces) */
    char *mk[] = {"mkfs.vfat", "-C", "-F", "32", "-n", "ESP", "--invariant", "-i", volid, img, kb, NULL};
    if (build_run(c, "esp", mk) < 0) return -1;
    _cleanup_free_ char *ent_dir = xasprintf("::/%s", s->name);
    _cleanup_free_ char *kdir = xasprintf("::/%s/%s", s->name, c->kver);
    char *mmd[] = {"mmd", "-i", img, "::/EFI", "::/EFI/BOOT", "::/EFI/systemd", "::/loader", "::/loader/entries", ent_dir, kdir, NULL};
    if (build_run(c, "esp", mmd) < 0) return -1;
    _cleanup_free_ char *loader = path_join(c->work, "loader.conf");
    _cleanup_free_ char *entry = path_join(c->work, "entry.conf");
    _cleanup_free_ char *entry_name = xasprintf("%s-%s.conf", s->name, s->version);
    _cleanup_free_ char *loader_txt = xasprintf("default %s\ntimeout 0\neditor no\n", entry_name);
    _cleanup_free_ char *cmdline = kernel_cmdline(c);
    _cleanup_free_ char *entry_txt = xasprintf("title %s %s\nversion %s\nlinux /%s/%s/linux\ninitrd /%s/%s/initrd\noptions %s\n",
                                               s->name, s->version, c->kver, s->name, c->kver, s->name, c->kver, cmdline);
    if (write_file_atomic(loader, loader_txt, strlen(loader_txt), 0644) < 0 ||
        write_file_atomic(entry, entry_txt, strlen(entry_txt), 0644) < 0)
        return build_error(c, "esp", "cannot write the loader files in %s", c->work);
    clamp_tree(loader, c->epoch);
    clamp_tree(entry, c->epoch);
    _cleanup_free_ char *d_entry = xasprintf("::/loader/entries/%s", entry_name);
    _cleanup_free_ char *d_linux = xasprintf("%s/linux", kdir);
    _cleanup_free_ char *d_initrd = xasprintf("%s/initrd", kdir);
    _cleanup_free_ char *d_removable = xasprintf("::/EFI/BOOT/%s", c->spec->arch->efi_boot);
    _cleanup_free_ char *d_sdboot = xasprintf("::/EFI/systemd/%s", c->spec->arch->systemd_boot);
    if (s->sb_key) {
        char *signed_boot = sb_sign(c, boot, "boot.signed.efi");
        char *signed_kernel = signed_boot ? sb_sign(c, kernel, "linux.signed.efi") : NULL;
        free(boot), free(kernel);
        boot = signed_boot, kernel = signed_kernel;
        if (!kernel) return -1;
    }
    struct { const char *src, *dst; } copies[] = {
        {boot, d_removable}, {boot, d_sdboot}, {loader, "::/loader/loader.conf"},
        {entry, d_entry}, {kernel, d_linux}, {initrd, d_initrd}};
    for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
        char *cp[] = {"mcopy", "-m", "-o", "-i", img, (char *)copies[i].src, (char *)copies[i].dst, NULL};
        if (build_run(c, "esp", cp) < 0) return -1;
    }
    _cleanup_free_ char *note = xasprintf("(%llu MiB, systemd-boot, kernel %s%s)", (unsigned long long)mib, c->kver,
                                          s->sb_key ? ", both signed for Secure Boot" : "");
    stage_end("esp", note);
    return 0;
}

static long tree_bytes, tree_inodes;
static int count_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p, (void)f;
    tree_inodes++;
    if (flag == FTW_F && S_ISREG(st->st_mode)) tree_bytes += (st->st_size + 4095) / 4096 * 4096;
    else tree_bytes += 4096;
    return 0;
}

static void human_size(uint64_t v, char *buf, size_t n)
{
    if (v >= (1ull << 30)) snprintf(buf, n, "%.1fG", (double)v / (1 << 30));
    else snprintf(buf, n, "%lluM", (unsigned long long)((v + MiB - 1) / MiB));
}

static int stage_rootimg(struct build_ctx *c, uint64_t root_bytes, uint64_t other_bytes)
{
    stage_begin("root-fs");
    tree_bytes = tree_inodes = 0;
    nftw(c->root, count_one, 64, FTW_PHYS);
    /* data + 10% + inode tables (one 256-byte inode per 16 KiB) + journal + reserve */
    uint64_t need = (uint64_t)tree_bytes + (uint64_t)tree_bytes / 10 + (uint64_t)tree_inodes * 256 + 96 * (uint64_t)MiB;
    need += need / 64;
    if (need > root_bytes) {
        char want[32], have[32], spec[32], disk[32];
        human_size(need, want, sizeof want);
        human_size(root_bytes, have, sizeof have);
        human_size(c->spec->size, spec, sizeof spec);
        human_size(need + other_bytes, disk, sizeof disk);
        return build_error(c, "root-fs", "storage.size %s is too small: the root filesystem needs about %s (%ld files, "
                                         "%ld MiB of data) but its partition gets %s; set storage.size to at least %s",
                           spec, want, tree_inodes, tree_bytes / MiB, have, disk);
    }
    _cleanup_free_ char *img = path_join(c->work, "root.img");
    _cleanup_free_ char *uuid = partuuid_str(c, "fs-root");
    _cleanup_free_ char *hs = partuuid_str(c, "fs-root-hash-seed");
    _cleanup_free_ char *ext = xasprintf("hash_seed=%s,root_owner=0:0", hs);
    _cleanup_free_ char *kb = xasprintf("%lluk", (unsigned long long)(root_bytes / 1024));
    clamp_tree(c->root, c->epoch); /* mke2fs copies atimes: reading the tree since the last clamp changed some */
    char *mk[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-U", uuid, "-E", ext, "-d", c->root, img, kb, NULL};
    if (build_run(c, "root-fs", mk) < 0)
        return build_error(c, "root-fs", "mke2fs could not populate the root filesystem; if it ran out of space, raise storage.size");
    char *err = NULL;
    if (ext4_clamp_times(img, (uint32_t)c->epoch, &err) < 0) {
        build_error(c, "root-fs", "%s", err);
        free(err);
        return -1;
    }
    char a[32];
    human_size(root_bytes, a, sizeof a);
    _cleanup_free_ char *note = xasprintf("(ext4 %s, %ld files, %ld MiB)", a, tree_inodes, tree_bytes / MiB);
    stage_end("root-fs", note);
    return 0;
}

/* Copies the data extents of a file into fd at off (holes stay holes). */
static int copy_sparse(const char *src, int fd, uint64_t off)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    struct stat st;
    fstat(in, &st);
    uint64_t pos = 0, s, e;
    int r;
    while ((r = file_next_data(in, (uint64_t)st.st_size, pos, &s, &e)) == 1) {
        loff_t io = (loff_t)s, oo = (loff_t)(off + s);
        size_t left = (size_t)(e - s);
        while (left) {
            ssize_t n = copy_file_range(in, &io, fd, &oo, left, 0);
            if (n <= 0) {
                r = n < 0 ? -errno : -EIO;
                break;
            }
            left -= (size_t)n;
        }
        if (r < 0) break;
        pos = e;
    }
    close(in);
    return r < 0 ? r : 0;
}

static uint64_t round_mib(uint64_t v) { return (v + MiB - 1) / MiB * MiB; }

/* immutable layout: /usr as a read-only erofs (or squashfs) image with a dm-verity hash tree */
static int stage_usr(struct build_ctx *c)
{
    stage_begin("usr");
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *usr = path_join(c->work, "usr");
    struct stat st;
    if (fstatat(c->root_fd, "usr", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return build_error(c, "usr", "the image's /usr is not a directory");
    if (renameat(c->root_fd, "usr", AT_FDCWD, usr) < 0 || mkdirat(c->root_fd, "usr", 0755) < 0)
        return build_error(c, "usr", "cannot set /usr aside: %s", strerror(errno));
    c->usr_moved = true;
    /* no clamping here: mkfs.erofs -T / mksquashfs -all-time set every timestamp, and the empty
     * /usr left in the root is clamped with the rest of the root before mke2fs */
    _cleanup_free_ char *img = path_join(c->work, "usr.img");
    _cleanup_free_ char *uuid = partuuid_str(c, "fs-usr");
    _cleanup_free_ char *t = xasprintf("-T%ld", c->epoch);
    _cleanup_free_ char *u = xasprintf("-U%s", uuid);
    _cleanup_free_ char *ts = xasprintf("%ld", c->epoch);
    if (streq(s->usr_filesystem, "squashfs")) {
        char *mk[] = {"mksquashfs", usr, img, "-noappend", "-quiet", "-no-progress", "-all-time", ts, "-mkfs-time", ts, NULL};
        if (build_run(c, "usr", mk) < 0) return -1;
    } else {
        char *mk[] = {"mkfs.erofs", "--quiet", t, u, img, usr, NULL};
        if (build_run(c, "usr", mk) < 0) return -1;
    }
    /* salt and superblock UUID derived from the spec: the hash tree is reproducible too */
    struct guid sa, sb;
    guid_derive(c->seed, "usr-verity-salt-1", &sa);
    guid_derive(c->seed, "usr-verity-salt-2", &sb);
    char salt[65];
    for (int i = 0; i < 16; i++) snprintf(salt + 2 * i, 3, "%02x", sa.b[i]), snprintf(salt + 32 + 2 * i, 3, "%02x", sb.b[i]);
    _cleanup_free_ char *vuuid = partuuid_str(c, "usr-verity");
    _cleanup_free_ char *o_salt = xasprintf("--salt=%s", salt);
    _cleanup_free_ char *o_uuid = xasprintf("--uuid=%s", vuuid);
    _cleanup_free_ char *hashf = path_join(c->work, "usr.roothash");
    _cleanup_free_ char *o_hash = xasprintf("--root-hash-file=%s", hashf);
    _cleanup_free_ char *ver = path_join(c->work, "usr.verity");
    char *vs[] = {"veritysetup", "format", "--data-block-size=4096", "--hash-block-size=4096", o_salt, o_uuid, o_hash, img, ver, NULL};
    if (build_run(c, "usr", vs) < 0) return -1;
    char *h = NULL;
    size_t hl;
    if (read_file(hashf, 4096, &h, &hl) < 0 || strlen(strstrip(h)) != 64) {
        free(h);
        return build_error(c, "usr", "veritysetup wrote no root hash to %s", hashf);
    }
    memcpy(c->usr_hash, strstrip(h), 65);
    free(h);
    /* slot B gets the same room; a quarter more than today's /usr leaves space for updates */
    c->usr_bytes = round_mib(file_size_of(img) + file_size_of(img) / 4);
    c->verity_bytes = round_mib(file_size_of(ver) + file_size_of(ver) / 4);
    _cleanup_free_ char *note = xasprintf("(%s %llu MiB, verity root hash %.16s…)", s->usr_filesystem,
                                          (unsigned long long)(file_size_of(img) / MiB), c->usr_hash);
    stage_end("usr", note);
    return 0;
}

static void usr_restore(struct build_ctx *c)
{
    if (!c->usr_moved) return;
    _cleanup_free_ char *usr = path_join(c->work, "usr");
    if (unlinkat(c->root_fd, "usr", AT_REMOVEDIR) == 0 && renameat(AT_FDCWD, usr, c->root_fd, "usr") == 0) c->usr_moved = false;
}

struct part_plan {
    const char *type_guid, *name, *img; /* img: file to copy in, or NULL for an empty partition */
    struct guid uuid;
    uint64_t bytes;                     /* 0 for the last: the rest of the disk */
    json_t *fs;
    bool keep;                          /* img stays after the disk is made (the update payload) */
};

static int stage_disk(struct build_ctx *c, uint64_t size, struct part_plan *pl, size_t n, json_t *parts)
{
    stage_begin("disk");
    _cleanup_free_ char *raw = path_join(c->work, "disk.raw");
    int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        if (fd >= 0) close(fd);
        return build_error(c, "disk", "cannot create %s: %s", raw, strerror(errno));
    }
    struct gpt_part p[8] = {0};
    uint64_t lba = GPT_ALIGN_LBA, end = (gpt_last_usable(size) + 1) / GPT_ALIGN_LBA * GPT_ALIGN_LBA;
    for (size_t i = 0; i < n; i++) {
        guid_parse(pl[i].type_guid, &p[i].type);
        p[i].uuid = pl[i].uuid;
        p[i].first_lba = lba;
        p[i].last_lba = pl[i].bytes ? lba + pl[i].bytes / 512 - 1 : end - 1;
        snprintf(p[i].name, sizeof p[i].name, "%s", pl[i].name);
        lba = p[i].last_lba + 1;
    }
    struct guid dg;
    guid_derive(c->seed, "disk", &dg);
    int r = gpt_write(fd, size, &dg, p, n);
    for (size_t i = 0; i < n && r >= 0; i++)
        if (pl[i].img) r = copy_sparse(pl[i].img, fd, p[i].first_lba * 512);
    close(fd);
    if (r < 0) return build_error(c, "disk", "cannot assemble %s: %s", raw, strerror(-r));
    for (size_t i = 0; i < n; i++) {
        if (pl[i].img && !pl[i].keep) unlink(pl[i].img);
        json_t *j = json_object();
        char g[37];
        json_object_set_new(j, "number", json_integer((json_int_t)i + 1));
        json_object_set_new(j, "name", json_string(p[i].name));
        json_object_set_new(j, "type", json_string(gpt_type_name(&p[i].type)));
        guid_format(&p[i].type, g);
        json_object_set_new(j, "type_guid", json_string(g));
        guid_format(&p[i].uuid, g);
        json_object_set_new(j, "uuid", json_string(g));
        json_object_set_new(j, "offset", json_integer((json_int_t)(p[i].first_lba * 512)));
        json_object_set_new(j, "size", json_integer((json_int_t)((p[i].last_lba - p[i].first_lba + 1) * 512)));
        json_object_set_new(j, "filesystem", pl[i].fs ? pl[i].fs : json_null());
        pl[i].fs = NULL;
        json_array_append_new(parts, j);
    }
    char dgs[37];
    guid_format(&dg, dgs);
    _cleanup_free_ char *note = xasprintf("(GPT %s, %zu partitions, %llu MiB)", dgs, n, (unsigned long long)(size / MiB));
    stage_end("disk", note);
    return 0;
}

static json_t *fs_json(const char *type, const char *uuid, const char *label)
{
    json_t *fs = json_object();
    json_object_set_new(fs, "type", json_string(type));
    if (uuid) json_object_set_new(fs, "uuid", json_string(uuid));
    if (label) json_object_set_new(fs, "label", json_string(label));
    return fs;
}

/* The partitions of the layout, in disk order; the root partition last takes the rest. */
static size_t plan_partitions(struct build_ctx *c, uint64_t esp_bytes, struct part_plan *pl)
{
    const struct kiln_arch *a = c->spec->arch;
    size_t n = 0;
    struct guid g;
    guid_derive(c->seed, "esp-volume-id", &g);
    char vol[10];
    snprintf(vol, sizeof vol, "%02X%02X-%02X%02X", g.b[0], g.b[1], g.b[2], g.b[3]);
    pl[n] = (struct part_plan){GPT_TYPE_ESP, "esp", NULL, {{0}}, esp_bytes, fs_json("vfat", vol, "ESP")};
    pl[n].img = path_join(c->work, "esp.img");
    guid_derive(c->seed, "partition-esp", &pl[n++].uuid);
    if (c->spec->layout == LAYOUT_IMMUTABLE) {
        _cleanup_free_ char *fsu = partuuid_str(c, "fs-usr");
        pl[n] = (struct part_plan){a->gpt_usr, "usr-a", NULL, {{0}}, c->usr_bytes, fs_json(c->spec->usr_filesystem, fsu, NULL)};
        pl[n].img = path_join(c->work, "usr.img");
        pl[n].keep = true;
        guid_from_hash(c->usr_hash, &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr_verity, "usr-a-verity", NULL, {{0}}, c->verity_bytes, fs_json("dm-verity hash tree", NULL, NULL)};
        pl[n].img = path_join(c->work, "usr.verity");
        pl[n].keep = true;
        guid_from_hash(c->usr_hash + 32, &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr, "usr-b", NULL, {{0}}, c->usr_bytes, NULL};
        guid_derive(c->seed, "partition-usr-b", &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr_verity, "usr-b-verity", NULL, {{0}}, c->verity_bytes, NULL};
        guid_derive(c->seed, "partition-usr-b-verity", &pl[n++].uuid);
    }
    _cleanup_free_ char *fsr = partuuid_str(c, "fs-root");
    json_t *fs = fs_json("ext4", fsr, "root");
    pl[n] = (struct part_plan){a->gpt_root, a->gpt_root_name, NULL, {{0}}, 0, c->spec->encrypt ? encrypt_fs_json(c, fs) : fs};
    pl[n].img = path_join(c->work, "root.img");
    guid_derive(c->seed, "partition-root", &pl[n++].uuid);
    return n;
}

static json_t *os_release_json(struct build_ctx *c)
{
    static const char *const cand[] = {"etc/os-release", "usr/lib/os-release"};
    for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
        char *text = NULL;
        size_t len;
        if (inroot_read(c->root_fd, cand[i], 1 << 20, &text, &len) < 0) continue;
        json_t *o = os_release_parse(text);
        free(text);
        return o;
    }
    return json_object();
}

/* Artifacts are hashed two at a time: the build host has more than one core and the images
 * are gigabytes of mostly zeros. */
struct hash_job {
    const char *dir;
    char **names;
    size_t n;
    size_t next;
    char (*hex)[65];
    uint64_t *size;
    int *rc;
};

static void *hash_worker(void *arg)
{
    struct hash_job *j = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_SEQ_CST);
        if (i >= j->n) return NULL;
        _cleanup_free_ char *p = path_join(j->dir, j->names[i]);
        j->rc[i] = sha256_file_hex(p, j->hex[i], &j->size[i]);
    }
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The artifact of this kind in the manifest's list, as {file, size, sha256}. */
static json_t *artifact_ref(json_t *arts, const char *kind)
{
    size_t i;
    json_t *a;
    json_array_foreach(arts, i, a) if (streq(json_string_value(json_object_get(a, "kind")), kind))
        return json_pack("{s:O, s:O, s:O}", "file", json_object_get(a, "file"), "size", json_object_get(a, "size"),
                         "sha256", json_object_get(a, "sha256"));
    return NULL;
}

/* NAME-VERSION.update.json: what an updater needs to move a machine to this version (format in
 * docs/updates.md). Signed like every artifact, it vouches for the others through their sha256. */
static int write_update_manifest(struct build_ctx *c, const char *stage_dir, const char *base, json_t *arts)
{
    json_t *usr = artifact_ref(arts, "usr"), *ver = artifact_ref(arts, "usr-verity");
    json_t *kernel = artifact_ref(arts, "kernel"), *initrd = artifact_ref(arts, "initrd");
    if (!usr || !ver || !kernel || !initrd) {
        json_decref(usr), json_decref(ver), json_decref(kernel), json_decref(initrd);
        return build_error(c, "outputs", "the update payload is incomplete (/usr image, hash tree, kernel, initrd)");
    }
    json_object_set_new(usr, "filesystem", json_string(c->spec->usr_filesystem));
    json_object_set_new(ver, "root_hash", json_string(c->usr_hash));
    json_object_set_new(ver, "hash_algorithm", json_string("sha256"));
    json_object_set_new(ver, "data_block_size", json_integer(4096));
    json_object_set_new(ver, "hash_block_size", json_integer(4096));
    json_object_set_new(kernel, "version", json_string(c->kver));
    json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "format", "kiln-update/1", "name", c->spec->name,
                          "version", c->spec->version, "arch", c->spec->arch->name, "usr", usr, "verity", ver,
                          "kernel", kernel, "initrd", initrd);
    _cleanup_free_ char *name = xasprintf("%s.update.json", base);
    _cleanup_free_ char *path = path_join(stage_dir, name);
    int r = json_write_file(path, u);
    json_decref(u);
    char hex[65];
    uint64_t size = 0;
    if (r < 0 || sha256_file_hex(path, hex, &size) < 0) return build_error(c, "outputs", "cannot write %s", path);
    json_array_append_new(arts, json_pack("{s:s, s:s, s:I, s:s}", "file", name, "kind", "update", "size", (json_int_t)size,
                                          "sha256", hex));
    return 0;
}

/* The tree as NAME-VERSION.tar.zst (image/rootfs_tar.h: sorted, numeric owners, xattrs and ACLs,
 * mtimes clamped to the epoch). With wsl: true it carries /etc/wsl.conf (WSL's per-distribution
 * settings: systemd as init, the first os.users entry as the default user) and an /etc/fstab
 * without the disk's PARTUUID mounts, which do not exist in a WSL distribution. */
static int output_rootfs_tar(struct build_ctx *c, const char *stage_dir, const char *base)
{
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *dst = xasprintf("%s/%s.tar.zst", stage_dir, base);
    struct sbuf conf = {0};
    sbuf_puts(&conf, "# made by kiln build (wsl: true)\n[boot]\nsystemd=true\n");
    if (s->nusers) sbuf_printf(&conf, "\n[user]\ndefault=%s\n", s->users[0].name);
    static const char fstab[] = "# made by kiln build (wsl: true): WSL mounts the root; the disk image's partitions do not exist here\n";
    const struct rootfs_tar_file wsl[] = {{"etc/fstab", fstab, strlen(fstab), 0644}, {"etc/wsl.conf", conf.s, conf.len, 0644}};
    char *err = NULL;
    int r = rootfs_tar_write(c->root, dst, c->epoch, wsl, s->wsl ? ARRAY_SIZE(wsl) : 0, &err);
    sbuf_free(&conf);
    if (r < 0) {
        build_error(c, "outputs", "the rootfs archive: %s", err);
        free(err);
        return -1;
    }
    return 0;
}

static int stage_outputs(struct build_ctx *c, const char *stage_dir, json_t *manifest)
{
    stage_begin("outputs");
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *base = xasprintf("%s-%s", s->name, s->version);
    _cleanup_free_ char *raw = path_join(c->work, "disk.raw");
    bool want[OUT_COUNT];
    for (int i = 0; i < OUT_COUNT; i++) want[i] = c->opts->only_output < 0 ? s->outputs[i] : c->opts->only_output == i;
    json_t *arts = json_array();
    json_object_set_new(manifest, "artifacts", arts);
    struct { enum image_output o; enum disk_format f; const char *suffix; } disks[] = {
        {OUT_QCOW2, DISK_QCOW2, ".qcow2"}, {OUT_VHD_FIXED, DISK_VHD_FIXED, ".vhd"}, {OUT_VHD, DISK_VHD_DYNAMIC, "-dynamic.vhd"}};
    struct disk *d = NULL;
    char *err = NULL;
    if (disk_open(raw, &d, &err) < 0) {
        build_error(c, "outputs", "%s", err);
        free(err);
        return -1;
    }
    struct sbuf made = {0};
    for (size_t i = 0; i < ARRAY_SIZE(disks); i++) {
        if (!want[disks[i].o]) continue;
        _cleanup_free_ char *name = xasprintf("%s%s", base, disks[i].suffix);
        _cleanup_free_ char *dst = path_join(stage_dir, name);
        struct disk_write_opts wo = {.unix_time = (uint32_t)c->epoch};
        struct guid g;
        guid_derive(c->seed, name, &g);
        memcpy(wo.id, g.b, 16);
        if (disk_convert(d, dst, disks[i].f, &wo, &err) < 0) {
            disk_close(d);
            build_error(c, "outputs", "%s", err);
            free(err);
            sbuf_free(&made);
            return -1;
        }
        sbuf_printf(&made, " %s", spec_output_name(disks[i].o));
    }
    disk_close(d);
    if (want[OUT_RAW]) {
        _cleanup_free_ char *dst = xasprintf("%s/%s.raw", stage_dir, base);
        if (rename(raw, dst) < 0) return build_error(c, "outputs", "cannot move %s: %s", raw, strerror(errno));
        sbuf_puts(&made, " raw");
    }
    if (want[OUT_TAR]) {
        if (output_rootfs_tar(c, stage_dir, base) < 0) return -1;
        sbuf_puts(&made, " tar");
    }
    /* direct-kernel boot artifacts, always */
    _cleanup_free_ char *irel = initrd_rel(c);
    struct { const char *src_rel, *suffix; } kfiles[] = {{NULL, ".vmlinuz"}, {irel, ".initrd"}};
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    kfiles[0].src_rel = krel;
    for (size_t i = 0; i < ARRAY_SIZE(kfiles); i++) {
        /* the direct-boot kernel is the one the ESP holds: signed when the spec signs */
        _cleanup_free_ char *src = i == 0 && s->sb_key ? path_join(c->work, "linux.signed.efi")
                                   : kfiles[i].src_rel ? tree_path(c, kfiles[i].src_rel) : NULL;
        if (!src) return build_error(c, "outputs", "the kernel or initrd for %s is gone from /boot", c->kver);
        _cleanup_free_ char *dst = xasprintf("%s/%s%s", stage_dir, base, kfiles[i].suffix);
        char *cp[] = {"cp", "--preserve=timestamps", src, dst, NULL};
        if (build_run(c, "outputs", cp) < 0) return -1;
    }
    /* the immutable layout's update payload: slot A's /usr image and its hash tree (the kernel
     * and initrd above go with them; update.json, written below, ties them together) */
    if (s->layout == LAYOUT_IMMUTABLE) {
        const char *parts[][2] = {{"usr.img", ".usr.img"}, {"usr.verity", ".usr.verity"}};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
            _cleanup_free_ char *src = path_join(c->work, parts[i][0]);
            _cleanup_free_ char *dst = xasprintf("%s/%s%s", stage_dir, base, parts[i][1]);
            char *mv[] = {"mv", src, dst, NULL};
            if (build_run(c, "outputs", mv) < 0) return -1;
        }
    }
    /* size and sha256 of everything staged, by name */
    DIR *dir = opendir(stage_dir);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    while (dir && (de = readdir(dir)))
        if (de->d_name[0] != '.') *APPEND(names, nn, cap) = xstrdup(de->d_name);
    if (dir) closedir(dir);
    qsort(names, nn, sizeof *names, cmp_names);
    struct hash_job job = {.dir = stage_dir, .names = names, .n = nn};
    job.hex = xcalloc(nn ? nn : 1, sizeof *job.hex);
    job.size = xcalloc(nn ? nn : 1, sizeof *job.size);
    job.rc = xcalloc(nn ? nn : 1, sizeof *job.rc);
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, hash_worker, &job) == 0) started++;
    if (!started) hash_worker(&job);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    int r = 0;
    for (size_t i = 0; i < nn; i++) {
        if (job.rc[i] < 0 && r == 0) r = build_error(c, "outputs", "cannot read %s/%s", stage_dir, names[i]);
        json_t *a = json_object();
        json_object_set_new(a, "file", json_string(names[i]));
        const char *kind = endswith(names[i], ".qcow2") ? "qcow2" : endswith(names[i], "-dynamic.vhd") ? "vhd"
                         : endswith(names[i], ".vhd") ? "vhd-fixed" : endswith(names[i], ".raw") ? "raw"
                         : endswith(names[i], ".tar.zst") ? "tar" : endswith(names[i], ".vmlinuz") ? "kernel"
                         : endswith(names[i], ".usr.img") ? "usr" : endswith(names[i], ".usr.verity") ? "usr-verity" : "initrd";
        json_object_set_new(a, "kind", json_string(kind));
        json_object_set_new(a, "size", json_integer((json_int_t)job.size[i]));
        json_object_set_new(a, "sha256", json_string(job.hex[i]));
        json_array_append_new(arts, a);
        free(names[i]);
    }
    free(names);
    free(job.hex);
    free(job.size);
    free(job.rc);
    if (r == 0 && s->layout == LAYOUT_IMMUTABLE) r = write_update_manifest(c, stage_dir, base, arts);
    if (r < 0) {
        sbuf_free(&made);
        return r;
    }
    _cleanup_free_ char *note = xasprintf("(%s + kernel, initrd%s)", made.s ? made.s + 1 : "no disk",
                                          s->layout == LAYOUT_IMMUTABLE ? ", update payload" : "");
    sbuf_free(&made);
    stage_end("outputs", note);
    return 0;
}

static const char *family_name(const struct image_spec *s)
{
    return s->family == FAMILY_DEB ? "deb" : "rpm";
}

/* SPDX and CycloneDX documents of the tree's packages, listed in the manifest with digests.
 * Their time is SOURCE_DATE_EPOCH: a rebuild gives the same bytes. */
static int write_sboms(struct build_ctx *c, const char *stage_dir, json_t *manifest, json_t *pkgs, json_t *digests)
{
    /* each package's license from its copyright file in the tree (DEP-5) */
    json_t *licenses = sbom_licenses(c->root_fd, family_name(c->spec), pkgs);
    struct sbom_subject sub = {.name = c->spec->name, .version = c->spec->version, .arch = c->spec->arch->name,
                               .family = family_name(c->spec),
                               .os_release = json_object_get(manifest, "os_release"), .created = c->epoch,
                               .licenses = licenses, .digests = digests};
    json_t *list = json_array();
    json_object_set_new(manifest, "sbom", list);
    const enum sbom_format fmts[] = {SBOM_SPDX, SBOM_CYCLONEDX};
    for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
        _cleanup_free_ char *name = xasprintf("%s-%s%s", c->spec->name, c->spec->version, sbom_suffix(fmts[i]));
        _cleanup_free_ char *path = path_join(stage_dir, name);
        json_t *doc = sbom_make(fmts[i], &sub, pkgs);
        int r = json_write_file(path, doc);
        json_decref(doc);
        char hex[65];
        if (r < 0 || sha256_file_hex(path, hex, NULL) < 0) {
            json_decref(licenses);
            return build_error(c, "manifest", "cannot write %s", path);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "file", name, "format",
                                              fmts[i] == SBOM_SPDX ? "spdx-2.3" : "cyclonedx-1.5", "sha256", hex));
    }
    json_decref(licenses);
    return 0;
}

/* The in-toto / SLSA statement: subjects are every artifact, the SBOMs and the manifest. */
static int write_provenance(struct build_ctx *c, const char *stage_dir, json_t *manifest, json_t *pkgs, json_t *digests,
                            const char *manifest_name)
{
    json_t *subjects = json_array();
    const char *lists[] = {"artifacts", "sbom"};
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(manifest, lists[k]), i, a)
            json_array_append_new(subjects, json_pack("{s:O, s:{s:O}}", "name", json_object_get(a, "file"), "digest",
                                                      "sha256", json_object_get(a, "sha256")));
    }
    _cleanup_free_ char *mp = path_join(stage_dir, manifest_name);
    char mhex[65], shex[65];
    if (sha256_file_hex(mp, mhex, NULL) < 0) {
        json_decref(subjects);
        return build_error(c, "manifest", "cannot read %s", mp);
    }
    json_array_append_new(subjects, json_pack("{s:s, s:{s:s}}", "name", manifest_name, "digest", "sha256", mhex));
    if (sha256_file_hex(c->spec->path, shex, NULL) < 0) {
        json_decref(subjects);
        return build_error(c, "manifest", "cannot read the spec %s", c->spec->path);
    }
    json_t *outs = json_array();
    for (int i = 0; i < OUT_COUNT; i++)
        if (c->opts->only_output < 0 ? c->spec->outputs[i] : c->opts->only_output == i)
            json_array_append_new(outs, json_string(spec_output_name(i)));
    json_t *params = json_pack("{s:s, s:s, s:s, s:o, s:I}", "name", c->spec->name, "version", c->spec->version, "layout",
                               c->spec->layout == LAYOUT_IMMUTABLE ? "immutable" : "standard", "outputs", outs,
                               "source_date_epoch", (json_int_t)c->epoch);
    struct provenance_in in = {
        .spec_path = c->spec->path, .spec_sha256 = shex, .family = family_name(c->spec),
        .os_release = json_object_get(manifest, "os_release"), .packages = pkgs, .digests = digests,
        .subjects = subjects, .parameters = params, .started = c->started, .finished = wall_s(),
    };
    json_t *st = provenance_make(&in);
    json_decref(subjects);
    json_decref(params);
    _cleanup_free_ char *path = xasprintf("%s/%s-%s.provenance.json", stage_dir, c->spec->name, c->spec->version);
    int r = json_write_file(path, st);
    json_decref(st);
    return r < 0 ? build_error(c, "manifest", "cannot write %s", path) : 0;
}

/* Moves the staged files into out_dir, the manifest last: a reader that sees the manifest sees
 * every artifact it lists. */
static int publish_outputs(struct build_ctx *c, const char *stage_dir, const char *manifest_name)
{
    DIR *dir = opendir(stage_dir);
    if (!dir) return build_error(c, "outputs", "cannot read %s", stage_dir);
    struct dirent *de;
    int r = 0;
    while ((de = readdir(dir)) && r == 0) {
        if (de->d_name[0] == '.' || streq(de->d_name, manifest_name)) continue;
        _cleanup_free_ char *a = path_join(stage_dir, de->d_name);
        _cleanup_free_ char *b = path_join(c->opts->out_dir, de->d_name);
        if (rename(a, b) < 0) r = build_error(c, "outputs", "cannot move %s to %s: %s", a, b, strerror(errno));
    }
    closedir(dir);
    if (r < 0) return r;
    _cleanup_free_ char *a = path_join(stage_dir, manifest_name);
    _cleanup_free_ char *b = path_join(c->opts->out_dir, manifest_name);
    if (rename(a, b) < 0) return build_error(c, "outputs", "cannot move %s: %s", a, strerror(errno));
    return 0;
}

int image_build(const struct image_spec *s, const struct build_opts *o)
{
    if (geteuid() != 0)
        return build_error(NULL, "spec", "building the package tree needs root (mmdebstrap --mode=root / dnf --installroot); run kiln build as root");
    stage_no = 0;
    nstages = s->layout == LAYOUT_IMMUTABLE ? 8 : 7;
    struct build_ctx c = {.spec = s, .opts = o, .log_fd = -1, .root_fd = -1};
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    c.epoch_given = sde && parse_long(sde, &c.epoch) && c.epoch >= 0;
    if (!c.epoch_given) {
        c.epoch = (long)time(NULL);
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", c.epoch);
        setenv("SOURCE_DATE_EPOCH", buf, 1);
    }
    _cleanup_free_ char *fake = xasprintf("%ld", c.epoch);
    setenv("E2FSPROGS_FAKE_TIME", fake, 1);
    c.seed = xasprintf("%s\n%s\n%ld", s->name, s->version, c.epoch);
    /* large scratch space (the tree and a full disk): $TMPDIR, else /var/tmp rather than a tmpfs /tmp */
    const char *td = getenv("TMPDIR");
    c.work = xasprintf("%s/kiln-build-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(c.work)) {
        build_error(&c, "setup", "cannot create a work directory %s: %s", c.work, strerror(errno));
        free(c.work);
        return -1;
    }
    c.root = path_join(c.work, "root");
    c.log_path = path_join(c.work, "build.log");
    c.log_fd = open(c.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (mkdir_p(o->out_dir, 0755) < 0) {
        build_error(&c, "setup", "cannot create the output directory %s", o->out_dir);
        rm_rf(c.work);
        return -1;
    }
    _cleanup_free_ char *stage_dir = xasprintf("%s/.kiln-build-%d", o->out_dir, (int)getpid());
    rm_rf(stage_dir);
    mkdir_p(stage_dir, 0755);
    double t0 = now_s();
    uint64_t size = (s->size + MiB - 1) / MiB * MiB, esp_bytes = 0;
    json_t *manifest = json_object(), *parts = json_array(), *pkgs = NULL;
    c.started = wall_s();
    _cleanup_free_ char *manifest_name = xasprintf("%s-%s.manifest.json", s->name, s->version);
    struct part_plan plan[8] = {0};
    size_t nplan = 0;
    int r = stage_rootfs(&c);
    if (r >= 0) r = stage_customize(&c);
    if (r >= 0) esp_bytes = esp_size(&c);
    if (r >= 0 && s->layout == LAYOUT_IMMUTABLE) r = stage_usr(&c);
    uint64_t root_bytes = 0;
    if (r >= 0) {
        nplan = plan_partitions(&c, esp_bytes, plan);
        uint64_t first = (uint64_t)GPT_ALIGN_LBA * 512;
        for (size_t i = 0; i + 1 < nplan; i++) first += plan[i].bytes;
        uint64_t last = (gpt_last_usable(size) + 1) / GPT_ALIGN_LBA * GPT_ALIGN_LBA * 512;
        if (last <= first + 64 * (uint64_t)MiB) {
            char a[32];
            human_size(first + 160 * (uint64_t)MiB, a, sizeof a);
            r = build_error(&c, "spec", "storage.size leaves no room for the root partition after %llu MiB of other "
                                        "partitions; use at least %s",
                            (unsigned long long)((first - (uint64_t)GPT_ALIGN_LBA * 512) / MiB), a);
        } else root_bytes = last - first;
    }
    if (r >= 0) r = stage_rootimg(&c, root_bytes - encrypt_reserve(s), size - root_bytes);
    if (r >= 0 && s->encrypt) r = encrypt_root(&c, root_bytes);
    usr_restore(&c);
    if (r >= 0) r = stage_esp(&c, esp_bytes);
    if (r >= 0) r = stage_disk(&c, size, plan, nplan, parts);
    for (size_t i = 0; i < nplan; i++) {
        free((char *)plan[i].img);
        json_decref(plan[i].fs);
    }
    if (r >= 0) {
        json_object_set_new(manifest, "name", json_string(s->name));
        json_object_set_new(manifest, "version", json_string(s->version));
        json_object_set_new(manifest, "arch", json_string(s->arch->name));
        json_object_set_new(manifest, "family", json_string(family_name(s)));
        json_object_set_new(manifest, "source_date_epoch", json_integer(c.epoch));
        json_object_set_new(manifest, "builder", json_string("kiln " KILN_VERSION));
        json_object_set_new(manifest, "os_release", os_release_json(&c));
        json_t *kernel = json_object();
        _cleanup_free_ char *cmdline = kernel_cmdline(&c);
        json_object_set_new(kernel, "version", json_string(c.kver));
        json_object_set_new(kernel, "cmdline", json_string(cmdline));
        json_object_set_new(manifest, "kernel", kernel);
        json_object_set_new(manifest, "layout", json_string(s->layout == LAYOUT_IMMUTABLE ? "immutable" : "standard"));
        json_object_set_new(manifest, "verity_root_hash", s->layout == LAYOUT_IMMUTABLE ? json_string(c.usr_hash) : json_null());
        json_object_set_new(manifest, "disk_size", json_integer((json_int_t)size));
        json_object_set_new(manifest, "partitions", json_incref(parts));
        json_object_set_new(manifest, "repositories", c.repos ? json_incref(c.repos) : json_null());
        _cleanup_free_ char *db = inroot_host_path(c.root_fd, s->family == FAMILY_DEB ? "var/lib/dpkg" : PKGDB_RPM_DBPATH);
        char *perr = NULL;
        if (!db) {
            r = build_error(&c, "manifest", "the image has no package database (%s)",
                            s->family == FAMILY_DEB ? "/var/lib/dpkg" : "/" PKGDB_RPM_DBPATH);
        } else if (pkgdb_list(family_name(s), db, &pkgs, &perr) < 0) {
            r = build_error(&c, "manifest", "%s", perr);
            free(perr);
        } else json_object_set_new(manifest, "packages", json_incref(pkgs));
        if (r >= 0) r = stage_outputs(&c, stage_dir, manifest);
    }
    if (r >= 0) {
        stage_begin("manifest");
        _cleanup_free_ char *mp = path_join(stage_dir, manifest_name);
        /* the package files hashed once, for the SBOMs and the provenance */
        _cleanup_free_ char *cache = kiln_cache_path(s->family == FAMILY_DEB ? "build/debs" : "build/dnf");
        json_t *digests = pkgdb_file_digests(family_name(s), pkgs, cache);
        r = write_sboms(&c, stage_dir, manifest, pkgs, digests);
        if (r >= 0 && json_write_file(mp, manifest) < 0) r = build_error(&c, "manifest", "cannot write %s", mp);
        if (r >= 0) r = write_provenance(&c, stage_dir, manifest, pkgs, digests, manifest_name);
        json_decref(digests);
        if (r >= 0) r = publish_outputs(&c, stage_dir, manifest_name);
        if (r >= 0 && s->encrypt) r = encrypt_publish(&c);
        if (r >= 0) stage_end("manifest", "(+ SPDX and CycloneDX SBOMs, SLSA provenance)");
    }
    json_decref(pkgs);
    json_decref(manifest);
    json_decref(parts);
    if (r >= 0)
        fprintf(stderr, "kiln build: %s %s built in %.1f s → %s/%s-%s.*\n", s->name, s->version, now_s() - t0, o->out_dir,
                s->name, s->version);
    else if (c.log_fd >= 0) {
        _cleanup_free_ char *keep = xasprintf("%s/%s-%s.build.log", o->out_dir, s->name, s->version);
        char *cp[] = {"cp", c.log_path, keep, NULL};
        if (proc_run(cp, 60000, NULL) == 0) fprintf(stderr, "kiln build: failed; the build log is kept at %s\n", keep);
    }
    if (c.log_fd >= 0) close(c.log_fd);
    if (c.root_fd >= 0) close(c.root_fd);
    rm_rf(stage_dir);
    rm_rf(c.work);
    free(c.work);
    free(c.root);
    free(c.log_path);
    free(c.seed);
    free(c.kver);
    json_decref(c.repos);
    return r < 0 ? -1 : 0;
}
