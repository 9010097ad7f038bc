/* The customize stage: the copy of the package tree made into this image (kernel and initrd
 * found, hostname, fstab, users and SSH keys, files, sysctl, services, network, the updater,
 * first-boot units), then generalized (no host identity, logs or caches) and clamped to the
 * epoch. */
#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "image/build_int.h"
#include "image/encrypt.h"
#include "image/pkgmgr.h"
#include "image/network.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/util.h"

static int tree_write(struct build_ctx *c, const char *rel, const char *content, unsigned mode)
{
    int r = inroot_write(c->root_fd, rel, content, strlen(content), mode, 0, 0);
    if (r < 0) return build_error(c, "customize", "cannot write /%s in the image: %s", rel, strerror(-r));
    return 0;
}

static int passwd_ids(struct build_ctx *c, const char *user, unsigned *uid, unsigned *gid, char **home)
{
    char *text = NULL;
    size_t len;
    int r = inroot_read(c->root_fd, "etc/passwd", 4 << 20, &text, &len);
    if (r < 0) return r;
    r = -ENOENT;
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
                free(home);
                return build_error(c, "customize", "os.users: cannot install SSH keys for %s in %s: %s", u->name, ssh,
                                   strerror(-r));
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
    return r < 0 ? -EIO : 0;
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
    _cleanup_free_ char *what = NULL, *why = NULL;
    int r = image_net_probe(c->root_fd, &n);
    if (r < 0) return build_error(c, "customize", "cannot read the tree's network configuration: %s", strerror(-r));
    if (s->network == IMAGE_NET_DHCP) {
        enum image_net_plan plan;
        r = image_net_plan(&n, &plan, &why);
        if (r == 0) r = image_net_write_dhcp(c->root_fd, plan, &why);
        bool enable = r == 0 && ((plan == NET_PLAN_NETWORKD && !n.networkd_enabled) || (plan == NET_PLAN_NM && !n.nm_enabled));
        image_net_free(&n);
        if (r < 0) return build_error(c, "customize", "os.network: dhcp: %s", why);
        if (enable) {
            char *av[] = {"systemctl", "--no-reload", "enable",
                          plan == NET_PLAN_NM ? "NetworkManager.service" : "systemd-networkd.service", NULL};
            if ((r = build_chroot(c, "customize", av)) < 0) return r;
        }
        r = image_net_probe(c->root_fd, &n);
        if (r < 0) return build_error(c, "customize", "cannot read the tree's network configuration: %s", strerror(-r));
        bool ok = image_net_configured(&n, &what);
        image_net_free(&n);
        /* the configuration kiln just wrote must be what the probe finds */
        if (!ok) return build_error(c, "customize", "os.network: dhcp: written, yet %s", what);
        build_say(c, BUILD_INFO, "customize", "os.network: dhcp through %s", what);
        return 0;
    }
    if (!image_net_configured(&n, &what))
        build_say(c, BUILD_WARNING, NULL, "%s A VM of this image boots but cannot be reached over SSH. Set os.network: "
                                          "dhcp (kiln writes DHCP configuration for the image's network manager), configure "
                                          "one with os.files and os.services, or set os.network: none if the image has no "
                                          "network on purpose.", what);
    image_net_free(&n);
    return 0;
}

static const char keygen_unit[] =
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
    if (!best && !build_needs_kernel(c->spec, c->opts)) return 0; /* a rootfs archive alone: none needed */
    if (!best) {
        _cleanup_free_ char *pkgs = c->family->kernel_packages(c->spec->arch);
        return build_error(c, "customize", "the image has no kernel in /boot; add %s to packages.install", pkgs);
    }
    c->kver = best;
    return 0;
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
static const char *const updater_units[][2] = {
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
static const char health_unit[] =
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
    if ((r = tree_write(c, "etc/kiln/updater.conf", conf, 0644)) < 0) return r;
    for (size_t i = 0; i < u->nkeys; i++) {
        char id[17];
        char *err = NULL;
        if (ms_key_id(u->keys[i], id, &err) < 0) {
            r = build_error(c, "customize", "updates.keys: %s", err);
            free(err);
            return r;
        }
        _cleanup_free_ char *dst = xasprintf("etc/kiln/update-keys/%s.pub", id);
        fd = open(u->keys[i], O_RDONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : inroot_copy(c->root_fd, dst, fd, 0644, 0, 0);
        if (fd >= 0) close(fd);
        if (r < 0) return build_error(c, "customize", "updates.keys: cannot install %s: %s", u->keys[i], strerror(-r));
    }
    for (size_t i = 0; i < ARRAY_SIZE(updater_units); i++)
        if ((r = tree_write(c, updater_units[i][0], updater_units[i][1], 0644)) < 0) return r;
    if ((r = tree_write(c, "usr/lib/systemd/system/kiln-update-health.service", health_unit, 0644)) < 0) return r;
    if (u->check) {
        _cleanup_free_ char *script = xasprintf("#!/bin/sh\n# updates.check from the image spec: a new version is kept "
                                                "only if this passes on its first boots\n%s\n", u->check);
        if ((r = tree_write(c, "usr/lib/kiln/health-check", script, 0755)) < 0) return r;
    }
    char *en[] = {"systemctl", "--no-reload", "enable", "kiln-updater.timer", "systemd-boot-check-no-failures.service",
                  "kiln-update-health.service", NULL};
    return build_chroot(c, "customize", en);
}

/* The system's own files: hostname, fstab by PARTUUID, the ESP's mount point, the root's
 * first-boot growth, sysctl. */
static int customize_system(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    int r;
    if (s->hostname) {
        _cleanup_free_ char *h = xasprintf("%s\n", s->hostname);
        _cleanup_free_ char *hosts = xasprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", s->hostname);
        if ((r = tree_write(c, "etc/hostname", h, 0644)) < 0 || (r = tree_write(c, "etc/hosts", hosts, 0644)) < 0) return r;
    }
    _cleanup_free_ char *root = partuuid_str(c, "partition-root");
    _cleanup_free_ char *esp = partuuid_str(c, "partition-esp");
    _cleanup_free_ char *fstab = xasprintf("# made by kiln build: partitions by PARTUUID\n"
                                           "PARTUUID=%s\t/\text4\tdefaults,errors=remount-ro%s\t0\t1\n"
                                           "PARTUUID=%s\t/boot/efi\tvfat\tumask=0077,nofail\t0\t2\n",
                                           root, s->grow_root ? ",x-systemd.growfs" : "", esp);
    if ((r = tree_write(c, "etc/fstab", fstab, 0644)) < 0) return r;
    r = inroot_mkdir_p(c->root_fd, "boot/efi", 0755);
    if (r < 0) return build_error(c, "customize", "cannot make /boot/efi in the image: %s", strerror(-r));
    if (s->grow_root) {
        if (tree_has(c, "usr/bin/systemd-repart") || tree_has(c, "bin/systemd-repart")) {
            if ((r = tree_write(c, "etc/repart.d/50-root.conf", "[Partition]\nType=root\n", 0644)) < 0) return r;
        } else
            build_say(c, BUILD_NOTE, "customize", "first_boot.grow_root: the image has no systemd-repart, so the root "
                                                  "filesystem grows to fill its partition only (x-systemd.growfs)");
    }
    if (s->nsysctl) {
        struct sbuf b = {0};
        sbuf_puts(&b, "# from the image spec (kiln build)\n");
        for (size_t i = 0; i < s->nsysctl; i++) sbuf_printf(&b, "%s = %s\n", s->sysctl[i].key, s->sysctl[i].value);
        r = tree_write(c, "etc/sysctl.d/60-kiln-image.conf", b.s, 0644);
        sbuf_free(&b);
        if (r < 0) return r;
    }
    return 0;
}

/* first_boot.regenerate_ssh_host_keys: generalize removes the host keys; a unit makes the
 * machine's own on its first boot. */
static int first_boot_keygen(struct build_ctx *c)
{
    if (!tree_has(c, "usr/bin/ssh-keygen")) return 0;
    int r = tree_write(c, "etc/systemd/system/kiln-ssh-keygen.service", keygen_unit, 0644);
    char *av[] = {"systemctl", "--no-reload", "enable", "kiln-ssh-keygen.service", NULL};
    return r < 0 ? r : build_chroot(c, "customize", av);
}

/* packages.package_manager: remove, after everything is installed and configured (systemctl
 * and useradd have run): the front ends go, the database stays (manifest, SBOMs, kiln sbom),
 * and the units that would run them on a schedule are masked so none fails at boot. */
static int remove_package_manager(struct build_ctx *c)
{
    _cleanup_free_ char *why = NULL;
    char **removed = NULL;
    size_t n = 0;
    if (pkgmgr_remove(c->root_fd, c->family->pkgmgr_front_ends, &removed, &n, &why) < 0)
        return build_error(c, "customize", "packages.package_manager: remove: %s", why);
    c->pm_removed = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(c->pm_removed, json_string(removed[i]));
        free(removed[i]);
    }
    free(removed);
    char *av[16] = {"systemctl", "--no-reload", "mask"};
    size_t k = 3;
    for (size_t i = 0; pkgmgr_units[i] && k + 1 < ARRAY_SIZE(av); i++) {
        _cleanup_free_ char *a = xasprintf("usr/lib/systemd/system/%s", pkgmgr_units[i]);
        _cleanup_free_ char *b = xasprintf("lib/systemd/system/%s", pkgmgr_units[i]);
        if (tree_has(c, a) || tree_has(c, b)) av[k++] = (char *)pkgmgr_units[i];
    }
    int r;
    if (k > 3 && (r = build_chroot(c, "customize", av)) < 0) return r;
    build_say(c, BUILD_INFO, "customize", "packages.package_manager: removed %zu command(s), masked %zu unit(s); "
                                          "the package database stays", n, k - 3);
    return 0;
}

int host_copies_remove(const struct pkg_family_ops *f, int root_fd)
{
    int n = 0;
    for (const char *const *p = f->host_copies; p && *p; p++) {
        int fd = inroot_open(root_fd, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
        struct stat st;
        bool regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        if (fd >= 0) close(fd);
        if (regular && !(f->owned && f->owned(root_fd, *p))) n += inroot_rm_glob(root_fd, *p) > 0;
    }
    return n;
}

int stage_customize(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    int r = find_kernel(c);
    if (r < 0) return r;
    _cleanup_free_ char *initrd = c->kver ? tree_initrd(c) : NULL;
    if (c->kver && !initrd)
        return build_error(c, "customize", "kernel %s has no initrd in /boot; add %s to packages.install", c->kver,
                           c->family->initrd_tool);
    /* the build host's resolver and name, copied in by the tree maker: not the image's */
    host_copies_remove(c->family, c->root_fd);
    if ((r = customize_system(c)) < 0 || (r = customize_users(c)) < 0 || (r = customize_files(c)) < 0) return r;
    if (s->encrypt && (r = encrypt_customize(c)) < 0) return r;
    if (s->layout == LAYOUT_IMMUTABLE && (r = stamp_os_release(c)) < 0) return r;
    if (s->updates.set && (r = install_updater(c)) < 0) return r;
    if (s->regenerate_ssh_host_keys && (r = first_boot_keygen(c)) < 0) return r;
    if ((r = customize_services(c)) < 0 || (r = customize_network(c)) < 0) return r;
    if (s->remove_package_manager && (r = remove_package_manager(c)) < 0) return r;
    generalize(c);
    clamp_tree(c->root, c->epoch);
    /* the tree's /boot is final: the ESP is sized for its kernel, initrd and boot loader */
    if (c->kver) c->esp_bytes = esp_size(c);
    return 0;
}
