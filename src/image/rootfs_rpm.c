/* rpm-based package trees: `dnf --installroot` against the spec's repositories only (the host's
 * repo files are never read), signatures checked against each repo's gpgkey, downloaded
 * packages kept in kiln's cache. */
#include <errno.h>

#include "image/build.h"
#include "util/fs.h"
#include "util/util.h"

int rootfs_rpm(struct build_ctx *c, const char *dest)
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
    _cleanup_free_ char *cache = kiln_cache_path("build/dnf");
    mkdir_p(cache, 0755);
    _cleanup_free_ char *o_root = xasprintf("--installroot=%s", dest);
    _cleanup_free_ char *o_rel = xasprintf("--releasever=%s", s->releasever ? s->releasever : "1");
    _cleanup_free_ char *o_reposdir = xasprintf("--setopt=reposdir=%s", reposd);
    _cleanup_free_ char *o_cache = xasprintf("--setopt=cachedir=%s", cache);
    char **argv = xcalloc(s->ninstall + 24, sizeof *argv);
    size_t n = 0;
    argv[n++] = "dnf";
    argv[n++] = "-y";
    argv[n++] = "--config=/dev/null";
    argv[n++] = o_root;
    argv[n++] = o_rel;
    argv[n++] = o_reposdir;
    argv[n++] = o_cache;
    argv[n++] = "--setopt=keepcache=True";
    argv[n++] = "--setopt=gpgcheck=True";
    argv[n++] = "--setopt=localpkg_gpgcheck=True";
    argv[n++] = "--setopt=install_weak_deps=False";
    argv[n++] = "--setopt=tsflags=nodocs";
    argv[n++] = "--nodocs";
    argv[n++] = "--forcearch=x86_64";
    argv[n++] = "install";
    for (size_t i = 0; i < s->ninstall; i++) argv[n++] = s->install[i];
    argv[n] = NULL;
    r = build_run(c, "rootfs", argv);
    free(argv);
    if (r < 0 || !s->nremove) return r;
    argv = xcalloc(s->nremove + 12, sizeof *argv);
    n = 0;
    argv[n++] = "dnf";
    argv[n++] = "-y";
    argv[n++] = "--config=/dev/null";
    argv[n++] = o_root;
    argv[n++] = o_rel;
    argv[n++] = o_reposdir;
    argv[n++] = o_cache;
    argv[n++] = "remove";
    for (size_t i = 0; i < s->nremove; i++) argv[n++] = s->remove[i];
    argv[n] = NULL;
    r = build_run(c, "rootfs", argv);
    free(argv);
    return r;
}
