/* deb-based package trees: mmdebstrap from Debian packages, with downloaded .debs kept in
 * kiln's cache between builds (mmdebstrap's sync-in / sync-out hooks). */
#include <errno.h>
#include <glob.h>
#include <jansson.h>

#include "image/build.h"
#include "util/fs.h"
#include "util/proc.h"
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

int rootfs_deb(struct build_ctx *c, const char *dest)
{
    const struct image_spec *s = c->spec;
    char *main = s->mirror ? xstrdup(s->mirror) : NULL, *security = NULL;
    if (!s->mirror) host_mirrors(&main, &security);
    struct sbuf comps = {0};
    for (size_t i = 0; i < s->ncomponents; i++) sbuf_printf(&comps, "%s%s", i ? " " : "", s->components[i]);
    if (!s->ncomponents) sbuf_puts(&comps, "main");
    struct sbuf inc = {0};
    sbuf_puts(&inc, "--include=");
    for (size_t i = 0; i < s->ninstall; i++) sbuf_printf(&inc, "%s%s", i ? "," : "", s->install[i]);
    _cleanup_free_ char *debs = kiln_cache_path("build/debs");
    mkdir_p(debs, 0755);
    /* mmdebstrap runs hook strings through sh: the cache path is quoted */
    _cleanup_free_ char *q = shell_quote(debs);
    char *sync_in = "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/";
    _cleanup_free_ char *sync_in2 = xasprintf("--setup-hook=sync-in %s /var/cache/apt/archives/", q);
    _cleanup_free_ char *sync_out = xasprintf("--customize-hook=sync-out /var/cache/apt/archives %s", q);
    _cleanup_free_ char *src1 = xasprintf("deb %s %s %s", main, s->suite, comps.s);
    _cleanup_free_ char *src2 = xasprintf("deb %s %s-updates %s", main, s->suite, comps.s);
    _cleanup_free_ char *src3 = security ? xasprintf("deb %s %s-security %s", security, s->suite, comps.s) : NULL;
    bool stable_suite = !streq(s->suite, "sid") && !streq(s->suite, "unstable") && !streq(s->suite, "experimental");
    char *argv[32];
    size_t n = 0;
    argv[n++] = "mmdebstrap";
    argv[n++] = "--variant=apt";
    argv[n++] = "--mode=root";
    argv[n++] = "--format=directory";
    /* another architecture's maintainer scripts run through the host's binfmt_misc (qemu-user) */
    _cleanup_free_ char *arch = xasprintf("--architectures=%s", s->arch->debian);
    argv[n++] = arch;
    argv[n++] = "--skip=download/empty";
    argv[n++] = "--skip=essential/unlink";
    argv[n++] = "--aptopt=Acquire::Languages \"none\"";
    argv[n++] = "--dpkgopt=path-exclude=/usr/share/doc/*/changelog*";
    if (s->ninstall) argv[n++] = inc.s;
    /* immutable layout: the initrd must set up dm-verity for /usr, which a systemd initrd made by
     * dracut does; its configuration is in place before the kernel package makes the initrd */
    _cleanup_free_ char *dracut = s->layout == LAYOUT_IMMUTABLE
        ? xasprintf("--setup-hook=mkdir -p \"$1/etc/dracut.conf.d\" && printf '%%s\\n' 'hostonly=\"no\"' "
                    "'add_dracutmodules+=\" systemd-veritysetup \"' 'add_drivers+=\" %s dm-verity virtio_blk virtio_pci virtio_scsi nvme \"' "
                    "> \"$1/etc/dracut.conf.d/90-kiln-verity.conf\"", s->usr_filesystem)
        : NULL;
    if (dracut) argv[n++] = dracut;
    argv[n++] = sync_in;
    argv[n++] = sync_in2;
    argv[n++] = sync_out;
    argv[n++] = s->suite;
    argv[n++] = (char *)dest;
    argv[n++] = src1;
    if (stable_suite) argv[n++] = src2;
    if (src3 && stable_suite) argv[n++] = src3;
    argv[n] = NULL;
    int r = build_run(c, "rootfs", argv);
    sbuf_free(&comps);
    sbuf_free(&inc);
    free(main);
    free(security);
    if (r < 0) return r;
    /* packages.remove: purge them in the tree, then drop what nothing needs any more */
    if (s->nremove) {
        char **av = xcalloc(s->nremove + 8, sizeof *av);
        size_t k = 0;
        av[k++] = "apt-get";
        av[k++] = "-y";
        av[k++] = "-q";
        av[k++] = "purge";
        for (size_t i = 0; i < s->nremove; i++) av[k++] = s->remove[i];
        av[k] = NULL;
        struct build_ctx sub = *c;
        sub.root = (char *)dest;
        r = build_chroot(&sub, "rootfs", av);
        free(av);
    }
    return r;
}
