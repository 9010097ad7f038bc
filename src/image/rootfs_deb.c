/* deb-based package trees: mmdebstrap from Debian packages, with downloaded .debs kept in
 * kiln's cache between builds (mmdebstrap's sync-in / sync-out hooks). */
#include <errno.h>
#include <glob.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "image/build_int.h"
#include "image/encrypt.h"
#include "image/reposnap.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/proc.h"
#include "util/strv.h"
#include "util/util.h"

/* The host's Debian mirrors (deb822 .sources or one-line .list files): the main archive and the
 * security archive. Falls back to deb.debian.org. */
static void host_mirrors(char **main, char **security)
{
    glob_t g = {0};
    glob("/etc/apt/sources.list.d/*.sources", 0, NULL, &g);
    glob("/etc/apt/sources.list.d/*.list", GLOB_APPEND, NULL, &g);
    glob("/etc/apt/sources.list", GLOB_APPEND, NULL, &g);
    for (size_t i = 0; i < g.gl_pathc && (!*main || !*security); i++) {
        char *text = NULL;
        size_t len;
        if (read_file(g.gl_pathv[i], 1 << 20, &text, &len) < 0) continue;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            line = strstrip(line);
            if (line[0] == '#') continue;
            const char *uri = NULL;
            if (startswith(line, "URIs:")) uri = strstrip(line + 5);
            else if (startswith(line, "deb ")) {
                uri = line + 4;
                if (*uri == '[') uri = strchr(uri, ']') ? strchr(uri, ']') + 1 : uri;
                while (*uri == ' ') uri++;
            }
            if (!uri) continue;
            size_t n = strcspn(uri, " \t");
            char *u = xstrndup(uri, n);
            while (n && u[n - 1] == '/') u[--n] = 0;
            if (!*security && endswith(u, "/debian-security")) *security = u;
            else if (!*main && endswith(u, "/debian")) *main = u;
            else free(u);
        }
        free(text);
    }
    globfree(&g);
    if (!*main) *main = xstrdup("http://deb.debian.org/debian");
}

static char *trimmed_url(const char *u)
{
    char *t = xstrdup(u);
    for (size_t n = strlen(t); n && t[n - 1] == '/';) t[--n] = 0;
    return t;
}

static void add_source(struct repo_src **v, size_t *n, size_t *cap, const char *url, const char *suite,
                       char *const *comps, size_t ncomps, const char *signed_by)
{
    struct repo_src *r = APPEND(*v, *n, *cap);
    memset(r, 0, sizeof *r);
    r->url = trimmed_url(url);
    r->suite = xstrdup(suite);
    r->components = xcalloc(ncomps ? ncomps : 1, sizeof *r->components);
    for (size_t i = 0; i < ncomps; i++) r->components[i] = xstrdup(comps[i]);
    if (!ncomps) r->components[0] = xstrdup("main");
    r->ncomponents = ncomps ? ncomps : 1;
    r->signed_by = signed_by ? xstrdup(signed_by) : NULL;
}

static size_t rootfs_deb_sources(const struct image_spec *s, struct repo_src **out)
{
    char *main = s->mirror ? xstrdup(s->mirror) : NULL, *security = NULL;
    if (!s->mirror) host_mirrors(&main, &security);
    /* the updates and security suites exist for releases, not for the rolling suites */
    bool stable_suite = !streq(s->suite, "sid") && !streq(s->suite, "unstable") && !streq(s->suite, "experimental");
    struct repo_src *v = NULL;
    size_t n = 0, cap = 0;
    add_source(&v, &n, &cap, main, s->suite, s->components, s->ncomponents, NULL);
    _cleanup_free_ char *updates = xasprintf("%s-updates", s->suite);
    _cleanup_free_ char *sec = xasprintf("%s-security", s->suite);
    if (stable_suite) add_source(&v, &n, &cap, main, updates, s->components, s->ncomponents, NULL);
    if (stable_suite && security) add_source(&v, &n, &cap, security, sec, s->components, s->ncomponents, NULL);
    for (size_t i = 0; i < s->nrepos; i++) {
        const struct image_repo *r = &s->repos[i];
        bool own = r->ncomponents > 0;
        add_source(&v, &n, &cap, r->baseurl, r->suite ? r->suite : s->suite, own ? r->components : s->components,
                   own ? r->ncomponents : s->ncomponents, r->gpgkey);
    }
    free(main);
    free(security);
    *out = v;
    return n;
}

/* The sources.list lines mmdebstrap takes for the spec's repositories (*n of them). */
static char **deb_source_lines(const struct image_spec *s, size_t *n)
{
    struct repo_src *srcs = NULL;
    size_t nsrcs = rootfs_deb_sources(s, &srcs);
    char **lines = xcalloc(nsrcs + 1, sizeof *lines);
    for (size_t i = 0; i < nsrcs; i++) {
        struct sbuf l = {0};
        sbuf_puts(&l, "deb ");
        if (srcs[i].signed_by) sbuf_printf(&l, "[signed-by=%s] ", srcs[i].signed_by);
        /* dpkg runs chrooted in the tree, where a file: mirror's pool is not: apt's copy method
         * puts the .debs into the tree's archives (and so into kiln's cache) first */
        const char *u = srcs[i].url;
        if (startswith(u, "file:")) sbuf_printf(&l, "copy:%s %s", u + 5, srcs[i].suite);
        else sbuf_printf(&l, "%s %s", u, srcs[i].suite);
        for (size_t k = 0; k < srcs[i].ncomponents; k++) sbuf_printf(&l, " %s", srcs[i].components[k]);
        lines[i] = sbuf_steal(&l);
    }
    repo_srcs_free(srcs, nsrcs);
    *n = nsrcs;
    return lines;
}

/* initramfs-tools with boot.initrd_modules: vm: MODULES=list (only what is listed or what a hook
 * adds) and a hook adding the VM drivers without loading them at boot (udev loads what the
 * hardware asks for, as with MODULES=most). dracut: KILN_VM_DRACUT_CONF. Shell for mmdebstrap's
 * customize hook, the tree at "$1"; both stay in the image, so the machine's own later initrds
 * (a kernel update) are made the same way. */
static const char vm_initrd_conf[] =
    "if [ -d \"$1/etc/initramfs-tools\" ]; then "
    "mkdir -p \"$1/etc/initramfs-tools/conf.d\" \"$1/etc/initramfs-tools/hooks\" && "
    "printf '%s\\n' '# made by kiln build (boot.initrd_modules: vm): the modules hooks/kiln-vm-drivers lists' "
    "MODULES=list > \"$1/etc/initramfs-tools/conf.d/90-kiln-initrd-modules\" && "
    "printf '%s\\n' '#!/bin/sh' '# made by kiln build (boot.initrd_modules: vm): the drivers a VM root disk needs' "
    "'[ \"$1\" = prereqs ] && exit 0' '. /usr/share/initramfs-tools/hook-functions' "
    "'manual_add_modules " KILN_VM_INITRD_DRIVERS "' > \"$1/etc/initramfs-tools/hooks/kiln-vm-drivers\" && "
    "chmod 755 \"$1/etc/initramfs-tools/hooks/kiln-vm-drivers\"; fi; "
    "if [ -x \"$1/usr/bin/dracut\" ]; then mkdir -p \"$1/etc/dracut.conf.d\" && "
    "printf '%s\\n' '# made by kiln build (boot.initrd_modules: vm)' 'hostonly=\"no\"' "
    "'drivers=\" " KILN_VM_INITRD_DRIVERS " \"' > \"$1/" KILN_VM_DRACUT_CONF_PATH "\"; fi; ";

/* The initrd is made once, at the end: mmdebstrap runs with INITRD=No, which the kernel's
 * postinst.d hooks of initramfs-tools and dracut honour (and initramfs-tools' trigger has no
 * initrd to update), so neither the kernel's postinst nor the triggers of later packages make
 * one; then each installed kernel's initrd is made by the same hook with INITRD unset. */
static const char initrd_once[] =
    "for m in \"$1\"/lib/modules/*; do v=${m##*/}; [ -e \"$1/boot/vmlinuz-$v\" ] || continue; "
    "for h in initramfs-tools dracut; do [ ! -x \"$1/etc/kernel/postinst.d/$h\" ] || "
    "chroot \"$1\" env -u INITRD \"/etc/kernel/postinst.d/$h\" \"$v\" \"/boot/vmlinuz-$v\" || exit 1; done; done";

char *deb_initrd_hook(const struct image_spec *s)
{
    /* no LD_PRELOAD (deb_eatmydata) for the initrd: its tools find a program's libraries with
     * ldd, which would list the preloaded one too and copy it into the initrd */
    return xasprintf("--customize-hook=unset LD_PRELOAD; %s%s", s->initrd_modules == INITRD_MODULES_VM ? vm_initrd_conf : "", initrd_once);
}

/* libeatmydata (Debian's libeatmydata1, the library behind eatmydata(1)) preloaded into apt,
 * dpkg and every maintainer script of the build: fsync, fdatasync, sync_file_range and O_SYNC
 * return at once. dpkg's force-unsafe-io spares the unpacked files only: dpkg still syncs its
 * status database at every state change of every package, apt its state files, and the
 * maintainer scripts whatever they write, about 3,700 fsync and 11,000 sync_file_range calls in
 * a cold build of the bench spec (strace -c), each waiting for the host's disk. A build that
 * stops half way is thrown away whole, so nothing relies on those syncs (mkosi's and
 * mmdebstrap's own eatmydata hook make the same choice). The library must be found at the
 * same path inside the tree, where chrooted programs look for it: the extract hook copies the
 * host's there (the tree's C library is in place from then on) and the last customize hook
 * removes it again, unless a package of the spec owns it, and remakes ld.so.cache without it.
 * Only for a tree of the host's own architecture; NULL when the library is not installed (the
 * build is the same, slower), KILN_BUILD_EATMYDATA=0 or kiln runs with an LD_PRELOAD of its own.
 * Returns the library's path. */
static char *deb_eatmydata(const struct image_spec *s)
{
    const char *off = getenv("KILN_BUILD_EATMYDATA");
    const char *pre = getenv("LD_PRELOAD"); /* a preload of the caller's own stays alone */
    if ((off && !strcmp(off, "0")) || (pre && *pre) || s->arch != kiln_arch_host()) return NULL;
    char *lib = xasprintf("/usr/lib/%s/libeatmydata.so.1", s->arch->multiarch);
    if (access(lib, R_OK) == 0) return lib;
    free(lib);
    return NULL;
}

/* Copies from to a new file beside to, renamed onto it: a reader of to never sees half of it. */
static int copy_whole(const char *from, const char *to)
{
    int in = open_regular(from, true, NULL);
    if (in < 0) return in;
    _cleanup_free_ char *tmp = NULL;
    int out = open_beside(to, 0644, &tmp);
    if (out < 0) {
        close(in);
        return out;
    }
    int r = fd_copy_sparse(in, out, UINT64_MAX, NULL, NULL);
    close(in);
    if (close(out) < 0 && r == 0) r = -errno;
    if (r == 0 && rename(tmp, to) < 0) r = -errno;
    if (r < 0) unlink(tmp);
    return r;
}

/* Moves the .deb files apt downloaded (synced out of the tree to from) into the shared package
 * cache: a file the cache has stays as it is (a Debian archive never holds two files of one
 * name, package_version_arch.deb), a new one appears whole (a rename, or a copy renamed when the
 * work directory is on another filesystem). Two builds side by side used to sync out straight
 * into the cache, rewriting in place files that a third build was hashing for its SBOM. */
static int deb_cache_merge(struct build_ctx *c, const char *from, const char *cache)
{
    DIR *d = opendir(from);
    if (!d) return 0; /* nothing downloaded */
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) && r == 0) {
        if (!endswith(de->d_name, ".deb") || de->d_name[0] == '.') continue;
        _cleanup_free_ char *src = path_join(from, de->d_name);
        _cleanup_free_ char *dst = path_join(cache, de->d_name);
        /* one the cache has is kept, unless its size is not the download's (a file cut short
         * before kiln moved files in whole): that one is replaced, whole, by the rename */
        struct stat a, b;
        if (stat(dst, &b) == 0 && stat(src, &a) == 0 && a.st_size == b.st_size) continue;
        if (rename(src, dst) == 0) continue;
        int e = errno == EXDEV ? copy_whole(src, dst) : -errno;
        if (e < 0) r = build_error(c, "rootfs", "cannot add %s to the package cache %s: %s", de->d_name, cache, strerror(-e));
    }
    closedir(d);
    return r;
}

/* An mmdebstrap --KIND-hook that puts every .deb of the directory from into the directory to
 * (both shell words, quoted) as a hard link, or a copy where they are on two filesystems. */
static char *deb_link_hook(const char *kind, const char *from, const char *to)
{
    return xasprintf("--%s-hook=for f in %s/*.deb; do [ -f \"$f\" ] || continue; "
                     "ln \"$f\" %s/ 2>/dev/null || cp \"$f\" %s/ || exit 1; done", kind, from, to, to);
}

/* mmdebstrap's hooks that make /usr merged where the suite's repository has usr-is-merged */
#define DEB_MERGED_USR_HOOKS "/usr/share/mmdebstrap/hooks/maybe-merged-usr"

/* mmdebstrap's command line for the tree at dest: apt and dpkg verbose, the package cache synced
 * in from debs and out to debs_out, the build's dpkg settings, the initrd made once, libeatmydata
 * (nosync: deb_eatmydata, or NULL) put in and taken out again. NULL-terminated in a. */
static void deb_mmdebstrap_args(const struct build_ctx *c, const char *dest, const char *debs, const char *debs_out,
                                const char *nosync, struct strv *a)
{
    const struct image_spec *s = c->spec;
    strv_push(a, "mmdebstrap");
    /* apt's and dpkg's output as it comes, rather than only after a failure: the build log
     * gets it all, and kiln build's progress (image/pkg_progress.h) reads it */
    strv_push(a, "--verbose");
    strv_push(a, "--variant=apt");
    strv_push(a, "--mode=root");
    strv_push(a, "--format=directory");
    /* another architecture's maintainer scripts run through the host's binfmt_misc (qemu-user) */
    strv_consume(a, xasprintf("--architectures=%s", s->arch->debian));
    strv_push(a, "--skip=download/empty");
    strv_push(a, "--skip=essential/unlink");
    /* merged /usr as debootstrap makes it, where the suite has usr-is-merged (bookworm and later):
     * the hook links /bin, /sbin and /lib into /usr before anything is unpacked and installs
     * usr-is-merged, where otherwise apt satisfies init-system-helpers' "usrmerge |
     * usr-is-merged" with usrmerge, which pulls in perl (three packages, 50 MiB unpacked) to
     * convert a tree at setup that could have been made merged (about 6 s of a cold build).
     * mmdebstrap(1) documents the hook directory; a suite without usr-is-merged is unchanged. */
    if (access(DEB_MERGED_USR_HOOKS "/setup00.sh", X_OK) == 0) strv_push(a, "--hook-dir=" DEB_MERGED_USR_HOOKS);
    strv_push(a, "--aptopt=Acquire::Languages \"none\"");
    /* dpkg's settings for the build, written by a setup hook rather than --dpkgopt: given a
     * path-exclude there, mmdebstrap pipes every essential package through mmtarfilter, a python
     * process each (seconds of a cold build); the extract hook drops what that filter would have.
     * force-unsafe-io (no fsync per unpacked file: a failed build is thrown away whole, as mkosi
     * does) is for the build only, removed before the tree is cached. */
    strv_push(a, "--setup-hook=mkdir -p \"$1/etc/dpkg/dpkg.cfg.d\" && "
                 "echo 'path-exclude=/usr/share/doc/*/changelog*' > \"$1/etc/dpkg/dpkg.cfg.d/99kiln-no-changelogs\" && "
                 "echo force-unsafe-io > \"$1/etc/dpkg/dpkg.cfg.d/kiln-build-unsafe-io\"");
    strv_push(a, "--extract-hook=[ ! -d \"$1/usr/share/doc\" ] || "
                 "(cd \"$1/usr/share/doc\" && find . -path './*/changelog*' ! -type d -delete)");
    strv_push(a, "--customize-hook=rm -f \"$1/etc/dpkg/dpkg.cfg.d/kiln-build-unsafe-io\"");
    if (s->ninstall) {
        struct sbuf inc = {0};
        sbuf_puts(&inc, "--include=");
        for (size_t i = 0; i < s->ninstall; i++) sbuf_printf(&inc, "%s%s", i ? "," : "", s->install[i]);
        strv_consume(a, sbuf_steal(&inc));
    }
    if (nosync) strv_consume(a, xasprintf("--extract-hook=[ -e \"$1%s\" ] || cp %s \"$1%s\"", nosync, nosync, nosync));
    /* immutable layout: the initrd must set up dm-verity for /usr, which a systemd initrd made by
     * dracut does; its configuration is in place before the kernel package makes the initrd */
    if (s->layout == LAYOUT_IMMUTABLE)
        strv_consume(a, xasprintf("--setup-hook=mkdir -p \"$1/etc/dracut.conf.d\" && printf '%%s\\n' 'hostonly=\"no\"' "
                                  "'add_dracutmodules+=\" systemd-veritysetup \"' 'add_drivers+=\" %s dm-verity virtio_blk virtio_pci virtio_scsi nvme \"' "
                                  "> \"$1/etc/dracut.conf.d/90-kiln-verity.conf\"", s->usr_filesystem));
    char *tpm2 = encrypt_dracut_hook(s);
    if (tpm2) strv_consume(a, tpm2);
    strv_consume(a, deb_initrd_hook(s));
    /* the package cache in and out as hard links, a copy only across filesystems: mmdebstrap's
     * sync-in and sync-out hooks copy every byte (2-3 s of a cold build for the bench spec's
     * 121 MiB); apt and dpkg never write a downloaded .deb in place, they rename new ones in and
     * unlink the old. mmdebstrap runs hook strings through sh: the cache paths are quoted. */
    _cleanup_free_ char *q = shell_quote(debs), *q_out = shell_quote(debs_out);
    strv_push(a, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
    strv_consume(a, deb_link_hook("setup", q, "\"$1/var/cache/apt/archives\""));
    strv_consume(a, deb_link_hook("customize", "\"$1/var/cache/apt/archives\"", q_out));
    if (nosync) /* the last customize hook */
        strv_consume(a, xasprintf("--customize-hook=unset LD_PRELOAD; chroot \"$1\" dpkg-query -S %s >/dev/null 2>&1 || "
                                  "{ rm -f \"$1%s\" && chroot \"$1\" ldconfig; }", nosync, nosync));
    strv_push(a, s->suite);
    strv_push(a, dest);
    size_t nsrcs;
    char **lines = deb_source_lines(s, &nsrcs);
    for (size_t i = 0; i < nsrcs; i++) strv_consume(a, lines[i]);
    free(lines);
    strv_consume(a, NULL); /* execvp's terminator */
}

/* packages.remove: purge them in the tree, then drop what nothing needs any more */
static int deb_purge(struct build_ctx *c, const char *dest)
{
    const struct image_spec *s = c->spec;
    if (!s->nremove) return 0;
    char **av = xcalloc(s->nremove + 8, sizeof *av);
    size_t k = 0;
    av[k++] = "apt-get";
    av[k++] = "-y";
    av[k++] = "-q";
    av[k++] = "purge";
    for (size_t i = 0; i < s->nremove; i++) av[k++] = s->remove[i];
    av[k] = NULL;
    int r = build_chroot_at(c, "rootfs", dest, av);
    free(av);
    return r;
}

static int rootfs_deb(struct build_ctx *c, const char *dest)
{
    _cleanup_free_ char *debs = kiln_cache_path(family_deb.pkg_cache);
    mkdir_p(debs, 0755);
    /* out beside the tree (dest's directory: on the cache's filesystem, so hard links; removed
     * with it on failure), then into the cache a file at a time (deb_cache_merge) */
    _cleanup_free_ char *debs_out = xasprintf("%s-debs-out", dest);
    mkdir_p(debs_out, 0755);
    _cleanup_free_ char *nosync = deb_eatmydata(c->spec);
    struct strv a = {0};
    deb_mmdebstrap_args(c, dest, debs, debs_out, nosync, &a);
    char **env = proc_env_set(c->env, "INITRD", "No");
    if (nosync) {
        char **e2 = proc_env_set(env, "LD_PRELOAD", nosync);
        proc_env_free(env);
        env = e2;
    }
    int r = build_run_pkgmgr(c, "rootfs", a.v, env);
    proc_env_free(env);
    strv_clear(&a);
    if (r == 0) r = deb_cache_merge(c, debs_out, debs);
    rm_rf(debs_out);
    return r < 0 ? r : deb_purge(c, dest);
}

static char *deb_kernel_packages(const struct kiln_arch *a)
{
    return xasprintf("linux-image-%s (and initramfs-tools)", a->debian);
}

/* Whether a dpkg file list in the tree names /rel on a line of its own. */
static bool deb_owned(int root_fd, const char *rel)
{
    int fd = inroot_open(root_fd, "var/lib/dpkg/info", O_RDONLY | O_DIRECTORY, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0) close(fd);
    _cleanup_free_ char *line = xasprintf("/%s", rel);
    bool owned = false;
    struct dirent *de;
    while (d && !owned && (de = readdir(d))) {
        if (!endswith(de->d_name, ".list")) continue;
        _cleanup_free_ char *lrel = xasprintf("var/lib/dpkg/info/%s", de->d_name), *text = NULL;
        size_t len;
        if (inroot_read(root_fd, lrel, 64 << 20, &text, &len) < 0) continue;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l && !owned; l = strtok_r(NULL, "\n", &save)) owned = streq(l, line);
    }
    if (d) closedir(d);
    return owned;
}

static const char *const deb_host_copies[] = {"etc/resolv.conf", "etc/hostname", NULL};

const struct pkg_family_ops family_deb = {
    .family = FAMILY_DEB,
    .name = "deb",
    .db_path = "var/lib/dpkg",
    .pkg_cache = "build/debs",
    .initrd_tool = "initramfs-tools",
    .tree_recipe = "merged-usr", /* the maybe-merged-usr hooks (deb_mmdebstrap_args) */
    .kernel_packages = deb_kernel_packages,
    .sources = rootfs_deb_sources,
    .create = rootfs_deb,
    .pkgmgr_front_ends = pkgmgr_front_ends_deb,
    .host_copies = deb_host_copies,
    .owned = deb_owned,
};
