#include "image/manifest.h"

#include <errno.h>
#include <glob.h>
#include <jansson.h>

#include "util/fs.h"
#include "util/util.h"

enum { MANIFEST_MAX = 16 << 20, MANIFESTS_MAX = 256 };

int manifest_arch(json_t *m, const struct kiln_arch **arch, char **reterr)
{
    json_t *ja = json_object_get(m, "arch");
    const char *name = json_string_value(ja);
    *arch = !ja ? kiln_arch_default() : kiln_arch_find(name);
    if (*arch) return 0;
    struct sbuf b = {0};
    for (const char *const *n = kiln_arch_names(); *n; n++) sbuf_printf(&b, "%s%s", b.len ? ", " : "", *n);
    _cleanup_free_ char *known = sbuf_steal(&b);
    return err_setf(reterr, -EINVAL, "\"arch\" is %s%.40s%s, which kiln does not know (known: %s)", name ? "\"" : "",
                    name ? name : "not a string", name ? "\"" : "", known);
}

int manifest_arch_parse(const char *text, size_t len, const char *base, const struct kiln_arch **arch, char **reterr)
{
    json_error_t e;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(m)) {
        json_decref(m);
        return err_setf(reterr, -EBADMSG, "not a kiln manifest: %s", m ? "not a JSON object" : e.text);
    }
    bool listed = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(m, "artifacts"), i, a)
        listed |= streq(json_string_value(json_object_get(a, "file")), base);
    int r = -ENOENT;
    if (!listed) err_setf(reterr, r, "does not list %s", base);
    else r = manifest_arch(m, arch, reterr);
    json_decref(m);
    return r;
}

int manifest_arch_for(const char *artifact, const struct kiln_arch **arch, char **reterr)
{
    _cleanup_free_ char *dir = path_dirname(artifact);
    const char *base = strrchr(artifact, '/') ? strrchr(artifact, '/') + 1 : artifact;
    _cleanup_free_ char *pattern = path_join(dir, "*.manifest.json");
    glob_t g = {0};
    int r = -ENOENT;
    err_setf(reterr, 0, "no *.manifest.json in %s lists %s", dir, base);
    if (glob(pattern, GLOB_NOESCAPE, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc && i < MANIFESTS_MAX && r == -ENOENT; i++) {
            char *text = NULL;
            size_t len;
            _cleanup_free_ char *w = NULL;
            int rr = read_file(g.gl_pathv[i], MANIFEST_MAX, &text, &len);
            if (rr == 0) rr = manifest_arch_parse(text, len, base, arch, &w);
            free(text);
            /* another image's manifest, or a file that is none, says nothing about this artifact */
            if (rr != 0 && rr != -EINVAL) continue;
            r = rr;
            if (r < 0) err_setf(reterr, 0, "%s: %s", g.gl_pathv[i], w);
        }
    globfree(&g);
    return r;
}
