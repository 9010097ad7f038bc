#include "gallery/gallery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/case.h"
#include "suites/version.h"
#include "trust/minisign.h"
#include "trust/provenance.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/util.h"

#define DAY (24 * 3600)

static int fail(char **err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **err, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(*err);
    *err = xvasprintf(fmt, ap);
    va_end(ap);
    return r;
}

/* Names and versions become directory names: a strict charset, no dot-only names. */
static bool safe_component(const char *s)
{
    if (!s || !*s || strlen(s) > 128 || streq(s, ".") || streq(s, "..")) return false;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *p)) return false;
    return s[0] != '.' && s[0] != '-';
}

/* ---- configuration ---- */

int gallery_trust(const char *dir, const char *pubkey, char *key_id_out, char **err)
{
    char id[17];
    int r = ms_key_id(pubkey, id, err);
    if (r < 0) return r;
    char *text = NULL;
    size_t len;
    if ((r = read_file(pubkey, 64 * 1024, &text, &len)) < 0) return fail(err, r, "cannot read %s: %s", pubkey, strerror(-r));
    _cleanup_free_ char *keys = path_join(dir, "keys");
    _cleanup_free_ char *dst = xasprintf("%s/%s.pub", keys, id);
    mkdir_p(keys, 0755);
    r = write_file_atomic(dst, text, len, 0644);
    free(text);
    if (r < 0) return fail(err, r, "cannot write %s: %s", dst, strerror(-r));
    if (key_id_out) memcpy(key_id_out, id, 17);
    return 0;
}

int gallery_init(const char *dir, const char *const *pubkeys, size_t nkeys, long max_priority, const char *const *areas,
                 size_t nareas, char **err)
{
    _cleanup_free_ char *conf = path_join(dir, "gallery.yml");
    if (file_exists(conf)) return fail(err, -EEXIST, "%s exists: the gallery is already set up", conf);
    if (!nkeys) return fail(err, -EINVAL, "a gallery needs at least one trusted key (--trust KEY.pub)");
    _cleanup_free_ char *images = path_join(dir, "images");
    if (mkdir_p(images, 0755) < 0) return fail(err, -errno, "cannot create %s: %s", images, strerror(errno));
    for (size_t i = 0; i < nkeys; i++) {
        int r = gallery_trust(dir, pubkeys[i], NULL, err);
        if (r < 0) return r;
    }
    struct sbuf b = {0};
    sbuf_printf(&b, "# kiln gallery: what `kiln publish` accepts. Trusted keys: keys/*.pub (docs/trust.md).\n"
                    "policy:\n"
                    "  # a validation run (--run) must be linked\n"
                    "  require_run: true\n"
                    "  # every built-in case at this priority or below must pass in it ...\n"
                    "  max_priority: %ld\n"
                    "  # ... counting only cases of these areas (empty: every area)\n"
                    "  areas: [",
                max_priority);
    for (size_t i = 0; i < nareas; i++) sbuf_printf(&b, "%s%s", i ? ", " : "", areas[i]);
    sbuf_puts(&b, "]\n"
                  "  # cases required by name, on top\n"
                  "  cases: []\n"
                  "  # a required case may be skipped with a reason (e.g. vDSO under TCG)\n"
                  "  allow_skipped: true\n"
                  "  # failed cases the run may have\n"
                  "  max_failures: 0\n"
                  "channels:\n"
                  "  stable: { support_days: 365 }\n"
                  "  beta: { support_days: 90 }\n"
                  "  dev: { support_days: 30 }\n");
    int r = write_file_atomic(conf, b.s, b.len, 0644);
    sbuf_free(&b);
    return r < 0 ? fail(err, r, "cannot write %s: %s", conf, strerror(-r)) : 0;
}

void gallery_free(struct gallery *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->nkeys; i++) free(g->keys[i]);
    for (size_t i = 0; i < g->nareas; i++) free(g->areas[i]);
    for (size_t i = 0; i < g->ncases; i++) free(g->cases[i]);
    for (size_t i = 0; i < g->nchannels; i++) free(g->channels[i].name);
    free(g->keys);
    free(g->areas);
    free(g->cases);
    free(g->channels);
    free(g->dir);
    free(g);
}

int gallery_open(const char *dir, struct gallery **out, struct diags *d, char **err)
{
    _cleanup_free_ char *conf = path_join(dir, "gallery.yml");
    if (!file_exists(conf))
        return fail(err, -ENOENT, "%s is not a gallery (no gallery.yml); create one with kiln gallery init --gallery %s --trust KEY.pub",
                    dir, dir);
    struct ynode *root = yaml_load_file(conf, d);
    if (!root) return fail(err, -EINVAL, "%s is not valid", conf);
    struct gallery *g = xcalloc(1, sizeof *g);
    g->dir = xstrdup(dir);
    g->require_run = true;
    g->max_priority = 1;
    g->allow_skipped = true;
    static const char *const top[] = {"policy", "channels", NULL};
    static const char *const pk[] = {"require_run", "max_priority", "areas", "cases", "allow_skipped", "max_failures", NULL};
    y_check_keys(d, root, "", top);
    struct ynode *pol = y_get(root, "policy"), *n;
    if (pol && y_expect(d, pol, "policy", YN_MAP)) {
        y_check_keys(d, pol, "policy", pk);
        if ((n = y_get(pol, "require_run"))) y_bool(d, n, "policy.require_run", &g->require_run);
        if ((n = y_get(pol, "max_priority"))) y_long(d, n, "policy.max_priority", -1, 5, &g->max_priority);
        if ((n = y_get(pol, "areas"))) y_str_list(d, n, "policy.areas", &g->areas, &g->nareas);
        if ((n = y_get(pol, "cases"))) y_str_list(d, n, "policy.cases", &g->cases, &g->ncases);
        if ((n = y_get(pol, "allow_skipped"))) y_bool(d, n, "policy.allow_skipped", &g->allow_skipped);
        if ((n = y_get(pol, "max_failures"))) y_long(d, n, "policy.max_failures", 0, 100000, &g->max_failures);
    }
    for (size_t i = 0; i < g->ncases; i++)
        if (!registry_find(g->cases[i])) diag_add(d, y_get(pol, "cases"), "policy.cases", "no built-in case is named %s", g->cases[i]);
    struct ynode *ch = y_get(root, "channels");
    if (ch && y_expect(d, ch, "channels", YN_MAP)) {
        for (size_t i = 0; i + 1 < ch->n; i += 2) {
            const char *name = ch->items[i]->scalar;
            _cleanup_free_ char *path = ypath("channels", name);
            struct gallery_channel c = {.name = xstrdup(name), .support_days = 365};
            if (!safe_component(name)) diag_add(d, ch->items[i], path, "channel names use letters, digits, '.', '_', '-'");
            struct ynode *v = ch->items[i + 1], *sd;
            if (v->kind == YN_MAP && (sd = y_get(v, "support_days"))) {
                _cleanup_free_ char *sp = ypath(path, "support_days");
                y_long(d, sd, sp, 0, 100 * 365, &c.support_days);
            }
            size_t cap = g->nchannels;
            *APPEND(g->channels, g->nchannels, cap) = c;
        }
    }
    ynode_free(root);
    if (!g->nchannels) diag_add_at(d, conf, 1, 1, "channels", "the gallery defines no channel");
    _cleanup_free_ char *pat = path_join(dir, "keys/*.pub");
    glob_t gl = {0};
    if (glob(pat, 0, NULL, &gl) == 0)
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            size_t cap = g->nkeys;
            *APPEND(g->keys, g->nkeys, cap) = xstrdup(gl.gl_pathv[i]);
        }
    globfree(&gl);
    if (d->n) {
        gallery_free(g);
        return fail(err, -EINVAL, "%s has errors", conf);
    }
    if (!g->nkeys) {
        gallery_free(g);
        return fail(err, -ENOKEY, "%s trusts no key (keys/*.pub is empty); add one with kiln gallery trust", dir);
    }
    *out = g;
    return 0;
}

static const struct gallery_channel *channel(const struct gallery *g, const char *name)
{
    for (size_t i = 0; i < g->nchannels; i++)
        if (streq(g->channels[i].name, name)) return &g->channels[i];
    return NULL;
}

/* ---- the catalog ---- */

json_t *gallery_index(const struct gallery *g)
{
    _cleanup_free_ char *p = path_join(g->dir, "index.json");
    json_t *j = file_exists(p) ? json_load_file(p, 0, NULL) : NULL;
    if (!json_is_array(json_object_get(j, "images"))) {
        json_decref(j);
        j = json_pack("{s:s, s:[]}", "schema", "kiln.gallery/v1", "images");
    }
    return j;
}

static bool has_channel(json_t *e, const char *ch)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(e, "channels"), i, c) if (streq(json_string_value(c), ch)) return true;
    return false;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The newest version of name in channel (NULL for any channel), or NULL. */
static json_t *latest(json_t *index, const char *name, const char *ch)
{
    json_t *best = NULL, *e;
    size_t i;
    json_array_foreach(json_object_get(index, "images"), i, e) {
        if (!streq(jstr(e, "name"), name) || (ch && !has_channel(e, ch))) continue;
        if (!best || version_cmp_deb(jstr(e, "version"), jstr(best, "version")) > 0) best = e;
    }
    return best;
}

json_t *gallery_find(json_t *index, const char *name, const char *version, const char *ch, char **err)
{
    json_t *e;
    size_t i;
    if (!version) {
        json_t *l = latest(index, name, ch);
        if (!l) fail(err, -ENOENT, "no version of %s is published%s%s", name, ch ? " in channel " : "", ch ? ch : "");
        return l;
    }
    json_array_foreach(json_object_get(index, "images"), i, e) {
        if (streq(jstr(e, "name"), name) && streq(jstr(e, "version"), version)) {
            if (ch && !has_channel(e, ch)) {
                fail(err, -ENOENT, "%s %s is not in channel %s", name, version, ch);
                return NULL;
            }
            return e;
        }
    }
    fail(err, -ENOENT, "%s %s is not published", name, version);
    return NULL;
}

/* ---- checking a version's files ---- */

struct vfile {
    char *name;     /* base name */
    char *expect;   /* sha256 the manifest (or provenance) claims, or NULL */
    char sha256[65];
    char key[17];   /* signer */
    bool disk;      /* a disk image a run can boot */
};

static void vfiles_free(struct vfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].expect);
    }
    free(v);
}

/* A file in dir: signed by a trusted key, its sha256 what `who` says it is. */
static int check_file(const char *dir, struct vfile *f, const char *const *keys, size_t nkeys, const char *who, char **err)
{
    _cleanup_free_ char *p = path_join(dir, f->name);
    char *kerr = NULL;
    int r = ms_verify_trusted(keys, nkeys, p, NULL, f->key, &kerr);
    if (r < 0) {
        free(*err);
        *err = kerr;
        return r;
    }
    if ((r = sha256_file_hex(p, f->sha256, NULL)) < 0) return fail(err, r, "cannot read %s: %s", p, strerror(-r));
    if (f->expect && !streq(f->expect, f->sha256))
        return fail(err, -EBADMSG, "%s: sha256 %s, but %s says %s (the file was changed)", f->name, f->sha256, who,
                    f->expect);
    return 0;
}

/* check_file over several files, two at a time: hashing dominates a publish or a pull of a
 * multi-GiB version and the host has more than one core. Reports the first failure in order. */
struct check_job {
    const char *dir;
    struct vfile *v;
    const bool *pick;
    size_t n, next;
    const char *const *keys;
    size_t nkeys;
    const char *who;
    int *rc;
    char **errs;
};

static void *check_worker(void *arg)
{
    struct check_job *j = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_SEQ_CST);
        if (i >= j->n) return NULL;
        if (j->pick && !j->pick[i]) continue;
        j->rc[i] = check_file(j->dir, &j->v[i], j->keys, j->nkeys, j->who, &j->errs[i]);
    }
}

static int check_parallel(const char *dir, struct vfile *v, size_t n, const bool *pick, const char *const *keys,
                          size_t nkeys, const char *who, char **err)
{
    struct check_job j = {.dir = dir, .v = v, .pick = pick, .n = n, .keys = keys, .nkeys = nkeys, .who = who};
    j.rc = xcalloc(n ? n : 1, sizeof *j.rc);
    j.errs = xcalloc(n ? n : 1, sizeof *j.errs);
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, check_worker, &j) == 0) started++;
    if (!started) check_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (j.rc[i] < 0 && r == 0) {
            r = j.rc[i];
            free(*err);
            *err = j.errs[i];
            j.errs[i] = NULL;
        }
        free(j.errs[i]);
    }
    free(j.rc);
    free(j.errs);
    return r;
}

/* The version's file list from its manifest: artifacts, SBOMs, provenance, the manifest. */
static int version_files(const char *dir, const char *manifest_name, json_t **manifest, struct vfile **out, size_t *n,
                         char **err)
{
    _cleanup_free_ char *mp = path_join(dir, manifest_name);
    json_error_t je;
    json_t *m = json_load_file(mp, 0, &je);
    if (!m) return fail(err, -EINVAL, "%s: not a kiln build manifest: %s (line %d)", mp, je.text, je.line);
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *version = json_string_value(json_object_get(m, "version"));
    if (!safe_component(name) || !safe_component(version)) {
        json_decref(m);
        return fail(err, -EINVAL, "%s: name and version must be set and use letters, digits, '.', '_', '+', '~', '-'", mp);
    }
    size_t cap = 0;
    *n = 0;
    *out = NULL;
    const char *lists[] = {"artifacts", "sbom"};
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(m, lists[k]), i, a) {
            const char *f = json_string_value(json_object_get(a, "file"));
            const char *h = json_string_value(json_object_get(a, "sha256"));
            if (!safe_component(f) || !h || strlen(h) != 64) {
                vfiles_free(*out, *n);
                json_decref(m);
                return fail(err, -EINVAL, "%s: %s[%zu] needs a plain file name and a sha256", mp, lists[k], i);
            }
            const char *kind = jstr(a, "kind");
            bool disk = k == 0 && (streq(kind, "qcow2") || streq(kind, "raw") || streq(kind, "vhd-fixed") || streq(kind, "vhd"));
            *APPEND(*out, *n, cap) = (struct vfile){.name = xstrdup(f), .expect = xstrdup(h), .disk = disk};
        }
    }
    if (!json_array_size(json_object_get(m, "artifacts"))) {
        vfiles_free(*out, *n);
        json_decref(m);
        return fail(err, -EINVAL, "%s lists no artifacts", mp);
    }
    *APPEND(*out, *n, cap) = (struct vfile){.name = xasprintf("%s-%s.provenance.json", name, version)};
    *APPEND(*out, *n, cap) = (struct vfile){.name = xstrdup(manifest_name)};
    *manifest = m;
    return 0;
}

/* The provenance must be an in-toto SLSA statement whose subjects are these very files. */
static int check_provenance(const char *dir, struct vfile *v, size_t n, const char *manifest_name, char **err)
{
    struct vfile *pf = &v[n - 2];
    _cleanup_free_ char *p = path_join(dir, pf->name);
    json_t *st = json_load_file(p, 0, NULL);
    int r = 0;
    if (!st || !streq(jstr(st, "_type"), INTOTO_STATEMENT_TYPE) || !streq(jstr(st, "predicateType"), SLSA_PROVENANCE_TYPE))
        r = fail(err, -EINVAL, "%s is not an in-toto statement with a SLSA v1 provenance predicate", pf->name);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (&v[i] == pf) continue;
        bool found = false;
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(st, "subject"), k, s) {
            if (!streq(jstr(s, "name"), v[i].name)) continue;
            found = true;
            const char *d = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
            if (!d || !streq(d, v[i].sha256))
                r = fail(err, -EBADMSG, "%s: the provenance gives %s sha256 %s, the file has %s", pf->name, v[i].name,
                         d ? d : "none", v[i].sha256);
        }
        if (!found && r == 0 && !streq(v[i].name, manifest_name))
            r = fail(err, -EINVAL, "%s does not name %s as a subject", pf->name, v[i].name);
    }
    json_decref(st);
    return r;
}

/* An SBOM must say what it claims: SPDX 2.3 with the OS package, or CycloneDX with the OS component. */
static int check_sboms(const char *dir, json_t *m, char **err)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(m, "sbom"), i, a) {
        _cleanup_free_ char *p = path_join(dir, jstr(a, "file"));
        json_t *doc = json_load_file(p, 0, NULL);
        bool ok = false;
        if (json_object_get(doc, "spdxVersion")) {
            size_t k;
            json_t *pk;
            json_array_foreach(json_object_get(doc, "packages"), k, pk) ok |=
                streq(jstr(pk, "primaryPackagePurpose"), "OPERATING-SYSTEM") && streq(jstr(pk, "name"), jstr(m, "name")) &&
                streq(jstr(pk, "versionInfo"), jstr(m, "version"));
        } else if (streq(jstr(doc, "bomFormat"), "CycloneDX")) {
            json_t *c = json_object_get(json_object_get(doc, "metadata"), "component");
            ok = streq(jstr(c, "type"), "operating-system") && streq(jstr(c, "name"), jstr(m, "name"));
        }
        json_decref(doc);
        if (!ok) return fail(err, -EINVAL, "%s is not an SBOM of %s %s", jstr(a, "file"), jstr(m, "name"), jstr(m, "version"));
    }
    return 0;
}

/* The run must have passed what the policy requires and (with v) tested one of these artifacts. */
static int check_run(const struct gallery *g, const char *run_dir, const char *staged, struct vfile *v, size_t n,
                     json_t **summary, char **err)
{
    if (!run_dir) return g->require_run ? fail(err, -EINVAL, "the gallery requires a validation run: pass --run RUN-DIR") : 0;
    _cleanup_free_ char *rp = path_join(staged, "run/results.json");
    json_error_t je;
    json_t *res = json_load_file(rp, 0, &je);
    if (!res || !streq(jstr(res, "schema"), "kiln.results/v1"))
        return fail(err, -EINVAL, "%s/results.json is not a kiln run's results", run_dir);
    json_t *run = json_object_get(res, "run");
    int r = 0;
    const char *tested = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(run, "tested"), i, t) {
        if (!v || !streq(jstr(t, "role"), "image")) continue;
        for (size_t k = 0; k < n && !tested; k++)
            if (v[k].disk && streq(v[k].sha256, jstr(t, "sha256"))) tested = v[k].name;
        if (!tested)
            r = fail(err, -EINVAL, "the run %s tested %s (sha256 %s), which is none of this version's disk images", run_dir,
                     jstr(t, "path"), jstr(t, "sha256"));
    }
    if (r == 0 && v && !tested) r = fail(err, -EINVAL, "the run %s booted no disk image of this version", run_dir);
    if (r == 0 && json_is_true(json_object_get(run, "interrupted"))) r = fail(err, -EINVAL, "the run %s was interrupted", run_dir);
    json_int_t failed = json_integer_value(json_object_get(json_object_get(res, "summary"), "failed"));
    if (r == 0 && failed > g->max_failures) {
        struct sbuf names = {0};
        json_t *c;
        json_array_foreach(json_object_get(res, "cases"), i, c) if (streq(jstr(c, "status"), "failed"))
            sbuf_printf(&names, "%s%s (%s)", names.len ? ", " : "", jstr(c, "id"), jstr(c, "reason"));
        r = fail(err, -EINVAL, "the run %s failed %lld case(s), the policy allows %ld: %s", run_dir, (long long)failed,
                 g->max_failures, names.s ? names.s : "");
        sbuf_free(&names);
    }
    /* the required selection: built-in cases by priority/area, and cases by name */
    size_t ncases;
    const struct kiln_case *const *all = registry_all(&ncases);
    size_t required = 0;
    for (size_t k = 0; k < ncases && r == 0; k++) {
        const struct kiln_case *c = all[k];
        bool want = c->priority <= g->max_priority;
        if (want && g->nareas) {
            want = false;
            for (size_t a = 0; a < g->nareas; a++) want |= streq(g->areas[a], c->area);
        }
        for (size_t a = 0; a < g->ncases; a++) want |= streq(g->cases[a], c->name);
        if (!want) continue;
        required++;
        bool seen = false;
        json_t *rc;
        json_array_foreach(json_object_get(res, "cases"), i, rc) {
            if (!streq(jstr(rc, "name"), c->name)) continue;
            seen = true;
            const char *st = jstr(rc, "status");
            if (!(streq(st, "passed") || (g->allow_skipped && streq(st, "skipped"))))
                r = fail(err, -EINVAL, "required case %s is %s in the run %s%s%s", c->name, st, run_dir,
                         *jstr(rc, "reason") ? ": " : "", jstr(rc, "reason"));
        }
        if (!seen && r == 0)
            r = fail(err, -EINVAL, "the run %s did not include %s, which the gallery's policy requires (priority <= %ld%s)",
                     run_dir, c->name, g->max_priority, g->nareas ? " in its areas" : "");
    }
    if (r == 0 && summary)
        *summary = json_pack("{s:s, s:s, s:s, s:O, s:I}", "id", jstr(run, "id"), "name", jstr(run, "name"), "tested", tested,
                             "summary", json_object_get(res, "summary"), "required_cases", (json_int_t)required);
    json_decref(res);
    return r;
}

/* Errors about a scratch copy name the file it was copied from. */
static void name_source(char **err, const char *scratch, const char *src)
{
    if (!*err) return;
    _cleanup_free_ char *msg = *err;
    struct sbuf b = {0};
    const char *p = msg, *hit;
    while ((hit = strstr(p, scratch))) {
        sbuf_append(&b, p, (size_t)(hit - p));
        sbuf_puts(&b, src);
        p = hit + strlen(scratch);
    }
    sbuf_puts(&b, p);
    *err = sbuf_steal(&b);
}

/* Versions only go up in a channel; a version already published may join another channel
 * (promotion) only with the same manifest (manifest_sha256 NULL: not known yet). */
static int check_order(json_t *index, const char *name, const char *version, const char *ch, const char *manifest_sha256,
                       char **err)
{
    json_t *prev = latest(index, name, ch);
    char *absent = NULL;
    json_t *same = gallery_find(index, name, version, NULL, &absent);
    free(absent);
    if (same && has_channel(same, ch)) return fail(err, -EEXIST, "%s %s is already published in %s", name, version, ch);
    if (prev && version_cmp_deb(version, jstr(prev, "version")) <= 0)
        return fail(err, -EINVAL, "%s %s is not newer than %s, the latest in %s: versions only go up in a channel", name,
                    version, jstr(prev, "version"), ch);
    if (same && manifest_sha256 && !streq(jstr(same, "manifest_sha256"), manifest_sha256))
        return fail(err, -EEXIST, "%s %s is already published with other content; publish a new version", name, version);
    return 0;
}

static int copy_file(const char *src, const char *dst_dir, char **err)
{
    char *argv[] = {"cp", "--sparse=always", "--preserve=timestamps", (char *)src, (char *)dst_dir, NULL};
    _cleanup_free_ char *out = NULL;
    if (proc_run(argv, 3600 * 1000, &out) != 0)
        return fail(err, -EIO, "cannot copy %s to %s: %s", src, dst_dir, out ? strstrip(out) : "cp failed");
    return 0;
}

static int lock_gallery(const char *dir, char **err)
{
    _cleanup_free_ char *p = path_join(dir, ".lock");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail(err, -errno, "cannot open %s: %s", p, strerror(errno));
    for (int i = 0; i < 600; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
        sleep_ms(100);
    }
    close(fd);
    return fail(err, -EBUSY, "another publish holds %s for over a minute", p);
}

static int write_json(const char *path, json_t *j, char **err)
{
    int r = json_write_file(path, j);
    return r < 0 ? fail(err, r, "cannot write %s: %s", path, strerror(-r)) : 0;
}

static json_t *files_json(struct vfile *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "file", v[i].name, "sha256", v[i].sha256, "signed_by", v[i].key));
    return a;
}

int gallery_publish(struct gallery *g, const struct publish_req *q, char **err)
{
    const struct gallery_channel *ch = channel(g, q->channel);
    if (!ch) return fail(err, -EINVAL, "the gallery has no channel \"%s\" (gallery.yml channels)", q->channel);
    _cleanup_free_ char *src_dir = path_dirname(q->prefix);
    const char *base = strrchr(q->prefix, '/') ? strrchr(q->prefix, '/') + 1 : q->prefix;
    _cleanup_free_ char *manifest_name = xasprintf("%s.manifest.json", base);
    json_t *m = NULL;
    struct vfile *v = NULL;
    size_t n = 0;
    int r = version_files(src_dir, manifest_name, &m, &v, &n, err);
    if (r < 0) return r;
    const char *name = jstr(m, "name"), *version = jstr(m, "version");
    _cleanup_free_ char *name_dir = xasprintf("%s/images/%s", g->dir, name);
    _cleanup_free_ char *final = xasprintf("%s/%s", name_dir, version);
    _cleanup_free_ char *staged = xasprintf("%s/.incoming-%s-%d", name_dir, version, (int)getpid());
    _cleanup_free_ char *run_sub = path_join(staged, "run");
    json_t *run = NULL, *index = NULL;
    int lock = -1;
    /* the version order first (again under the lock): refusing takes no copying */
    index = gallery_index(g);
    r = check_order(index, name, version, q->channel, NULL, err);
    json_decref(index);
    index = NULL;
    if (r < 0) {
        json_decref(m);
        vfiles_free(v, n);
        return r;
    }
    rm_rf(staged);
    if (mkdir_p(run_sub, 0755) < 0) r = fail(err, -errno, "cannot create %s: %s", staged, strerror(errno));
    /* the run's verdict first (cheap), then each file copied and the copy checked: what is
     * checked is what gets published */
    if (r == 0 && q->run_dir) {
        _cleanup_free_ char *rj = path_join(q->run_dir, "results.json");
        if (!file_exists(rj)) r = fail(err, -ENOENT, "%s is not a kiln run directory (no results.json)", q->run_dir);
        else r = copy_file(rj, run_sub, err);
    }
    if (r == 0) r = check_run(g, q->run_dir, staged, NULL, 0, NULL, err);
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *f = path_join(src_dir, v[i].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", f);
        if (!file_exists(f)) r = fail(err, -ENOENT, "%s is missing (listed by %s)", f, manifest_name);
        else if (!file_exists(s)) r = fail(err, -EPERM, "%s is not signed (no %s); sign the version with kiln sign -k KEY %s.*", f, s, q->prefix);
        else r = ms_check_signer((const char *const *)g->keys, g->nkeys, f, v[i].key, err);
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *f = path_join(src_dir, v[i].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", f);
        if ((r = copy_file(f, staged, err)) == 0) r = copy_file(s, staged, err);
    }
    if (r == 0) r = check_parallel(staged, v, n, NULL, (const char *const *)g->keys, g->nkeys, "the manifest", err);
    if (r == 0) r = check_sboms(staged, m, err);
    if (r == 0) r = check_provenance(staged, v, n, manifest_name, err);
    if (r == 0) r = check_run(g, q->run_dir, staged, v, n, &run, err);
    if (r == 0 && (lock = lock_gallery(g->dir, err)) < 0) r = lock;
    if (r == 0) {
        index = gallery_index(g);
        json_t *prev = latest(index, name, q->channel);
        char *absent = NULL;
        json_t *same = gallery_find(index, name, version, NULL, &absent);
        free(absent);
        struct vfile *mf = &v[n - 1];
        if ((r = check_order(index, name, version, q->channel, mf->sha256, err)) == 0) {
            int64_t now = wall_s();
            long days = q->support_days >= 0 ? q->support_days : ch->support_days;
            char pub[32], end[32];
            format_utc(pub, now);
            format_utc(end, now + (int64_t)days * DAY);
            json_t *e = same;
            if (same) {
                /* promotion: the same bytes, one more channel */
                json_array_append_new(json_object_get(same, "channels"), json_string(q->channel));
            } else {
                e = json_object();
                json_object_set_new(e, "name", json_string(name));
                json_object_set_new(e, "version", json_string(version));
                json_object_set_new(e, "channels", json_pack("[s]", q->channel));
                json_object_set_new(e, "published", json_string(pub));
                json_object_set_new(e, "support_end", json_string(end));
                json_object_set_new(e, "supersedes", prev ? json_string(jstr(prev, "version")) : json_null());
                json_object_set_new(e, "manifest_sha256", json_string(mf->sha256));
                _cleanup_free_ char *rel = xasprintf("images/%s/%s", name, version);
                json_object_set_new(e, "path", json_string(rel));
                json_object_set_new(e, "run", run ? json_incref(run) : json_null());
                json_object_set_new(e, "files", files_json(v, n));
                _cleanup_free_ char *ep = path_join(staged, "entry.json");
                r = write_json(ep, e, err);
                if (r == 0 && rename(staged, final) < 0)
                    r = fail(err, -errno, "cannot move %s to %s: %s", staged, final, strerror(errno));
                if (r == 0) json_array_append(json_object_get(index, "images"), e);
                json_decref(e);
            }
            if (r == 0) {
                _cleanup_free_ char *ip = path_join(g->dir, "index.json");
                r = write_json(ip, index, err);
            }
        }
    }
    if (lock >= 0) close(lock);
    rm_rf(staged);
    if (r < 0) name_source(err, staged, src_dir);
    json_decref(index);
    json_decref(run);
    json_decref(m);
    vfiles_free(v, n);
    return r;
}

/* Copies NAME and NAME.minisig from src into tmp and checks the copy. */
static int fetch(const char *src, const char *tmp, struct vfile *f, const char *const *keys, size_t nkeys, char **err)
{
    _cleanup_free_ char *p = path_join(src, f->name);
    _cleanup_free_ char *s = xasprintf("%s.minisig", p);
    int r = copy_file(p, tmp, err);
    if (r == 0) r = copy_file(s, tmp, err);
    if (r == 0) r = check_file(tmp, f, keys, nkeys, "the signed manifest", err);
    return r;
}

int gallery_pull(struct gallery *g, json_t *e, const char *artifact, const char *const *pubkeys, size_t npub,
                 const char *out_dir, char **err)
{
    const char *rel = jstr(e, "path");
    const char *name = jstr(e, "name"), *version = jstr(e, "version");
    if (!startswith(rel, "images/") || strstr(rel, "..") || !safe_component(name) || !safe_component(version))
        return fail(err, -EINVAL, "index.json: %s %s has a bad entry (path \"%s\")", name, version, rel);
    _cleanup_free_ char *src = path_join(g->dir, rel);
    const char *const *keys = npub ? pubkeys : (const char *const *)g->keys;
    size_t nkeys = npub ? npub : g->nkeys;
    bool fresh = !file_exists(out_dir);
    if (mkdir_p(out_dir, 0755) < 0) return fail(err, -errno, "cannot create %s: %s", out_dir, strerror(errno));
    _cleanup_free_ char *tmp = xasprintf("%s/.kiln-pull-XXXXXX", out_dir);
    if (!mkdtemp(tmp)) {
        int r = fail(err, -errno, "cannot create a directory in %s: %s", out_dir, strerror(errno));
        if (fresh) rmdir(out_dir);
        return r;
    }
    /* the signed manifest first: it says what the other files must hash to */
    struct vfile mf = {.name = xasprintf("%s-%s.manifest.json", name, version)};
    int r = fetch(src, tmp, &mf, keys, nkeys, err);
    json_t *m = NULL;
    struct vfile *v = NULL;
    size_t n = 0;
    if (r == 0) r = version_files(tmp, mf.name, &m, &v, &n, err);
    if (r == 0 && (!streq(jstr(m, "name"), name) || !streq(jstr(m, "version"), version)))
        r = fail(err, -EINVAL, "%s/%s describes %s %s, not %s %s", src, mf.name, jstr(m, "name"), jstr(m, "version"), name,
                 version);
    /* the SBOMs, the provenance and the artifacts asked for */
    bool *want = xcalloc(n ? n : 1, sizeof *want);
    size_t nwant = 0, nart = json_array_size(json_object_get(m, "artifacts"));
    for (size_t k = 0; r == 0 && k + 1 < n; k++) {
        json_t *a = k < nart ? json_array_get(json_object_get(m, "artifacts"), k) : NULL;
        want[k] = !a || !artifact || streq(jstr(a, "kind"), artifact);
        nwant += a && want[k];
    }
    if (r == 0 && artifact && !nwant) r = fail(err, -ENOENT, "%s %s has no %s artifact", name, version, artifact);
    for (size_t k = 0; k + 1 < n && r == 0; k++) {
        if (!want[k]) continue;
        _cleanup_free_ char *p = path_join(src, v[k].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", p);
        if ((r = copy_file(p, tmp, err)) == 0) r = copy_file(s, tmp, err);
    }
    if (r == 0) r = check_parallel(tmp, v, n - 1, want, keys, nkeys, "the signed manifest", err);
    for (size_t k = 0; k < n && r == 0; k++) {
        if (k + 1 < n && !want[k]) continue;
        _cleanup_free_ char *sig = xasprintf("%s.minisig", v[k].name);
        const char *names[2] = {v[k].name, sig};
        for (int j = 0; j < 2 && r == 0; j++) {
            _cleanup_free_ char *a = path_join(tmp, names[j]);
            _cleanup_free_ char *b = path_join(out_dir, names[j]);
            if (rename(a, b) < 0) r = fail(err, -errno, "cannot move %s to %s: %s", a, b, strerror(errno));
        }
    }
    rm_rf(tmp);
    if (r < 0 && fresh) rmdir(out_dir);
    if (r < 0) name_source(err, tmp, src);
    free(want);
    free(mf.name);
    free(mf.expect);
    json_decref(m);
    vfiles_free(v, n);
    return r;
}
