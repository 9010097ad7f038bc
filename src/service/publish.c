/* Self-service publishing: see publish.h. */
#include "service/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "gallery/catalog.h"
#include "gallery/gallery.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/util.h"

/* msg with every occurrence of from replaced by to (a server path by what the tenant knows). */
static char *replace_all(char *msg, const char *from, const char *to)
{
    if (!msg || !*from) return msg;
    struct sbuf b = {0};
    const char *p = msg, *hit;
    while ((hit = strstr(p, from))) {
        sbuf_append(&b, p, (size_t)(hit - p));
        sbuf_puts(&b, to);
        p = hit + strlen(from);
    }
    sbuf_puts(&b, p);
    free(msg);
    return sbuf_steal(&b);
}

/* The tenant's gallery, created (trusting the server's key and the tenant's) when missing;
 * keys the tenant trusts since are added (rotation: old keys stay). */
static int tenant_gallery(const struct kiln_publisher *p, const char *dir, char **keys, size_t nkeys, struct gallery **g,
                          char **reterr)
{
    _cleanup_free_ char *top = path_join(p->data, "galleries"), *lockp = path_join(top, ".lock");
    if (mkdir_p(top, 0700) < 0) return *reterr = xasprintf("cannot create %s: %s", top, strerror(errno)), -errno;
    /* servers sharing DATA create a tenant's gallery once */
    int lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        int e = errno;
        if (lock >= 0) close(lock);
        return *reterr = xasprintf("cannot lock %s: %s", lockp, strerror(e)), -e;
    }
    _cleanup_free_ char *conf = path_join(dir, "gallery.yml");
    int r = 0;
    if (!file_exists(conf)) {
        const char **pubs = xcalloc(nkeys + 2, sizeof *pubs);
        pubs[0] = p->key_pub;
        for (size_t i = 0; i < nkeys; i++) pubs[i + 1] = keys[i];
        r = gallery_init(dir, pubs, nkeys + 1, p->key, p->require_priority, NULL, 0, reterr);
        free(pubs);
        if (r == 0) log_info("kiln serve: created the gallery %s (requires priority <= %ld)", dir, p->require_priority);
    } else {
        for (size_t i = 0; i < nkeys && r == 0; i++) r = gallery_trust(dir, keys[i], NULL, reterr);
    }
    close(lock);
    if (r < 0) return r;
    struct diags d = {0};
    r = gallery_open(dir, g, &d, reterr);
    diags_free(&d);
    return r;
}

/* The signed manifest's name and version; 0, or a refusal (-EPERM/-EINVAL, *why) or failure. */
static int read_manifest(const char *src, const char *mname, char **keys, size_t nkeys, char **name, char **version, char **why)
{
    _cleanup_free_ char *mp = path_join(src, mname), *trusted = NULL;
    char kid[17];
    int r = ms_verify_trusted((const char *const *)keys, nkeys, mp, &trusted, kid, why);
    if (r < 0) return r;
    /* kiln sign's trusted comment names the file it signed: a signature made for another
     * file (a manifest renamed to pass for another version) is refused */
    const char *f = trusted ? strstr(trusted, "file:") : NULL;
    if (f && (f == trusted || f[-1] == '\t')) {
        size_t n = strcspn(f + 5, "\t");
        if (n != strlen(mname) || strncmp(f + 5, mname, n) != 0)
            return *why = xasprintf("%s: its signature was made for the file %.*s, not this one", mname, (int)(n > 200 ? 200 : n),
                                    f + 5),
                   -EPERM;
    }
    _cleanup_free_ char *text = NULL;
    size_t len;
    if ((r = read_file(mp, GALLERY_JSON_MAX, &text, &len)) < 0)
        return *why = xasprintf("%s: cannot be read as a manifest (%s)", mname, strerror(-r)), -EINVAL;
    json_t *m = json_loadb(text, len, 0, NULL);
    const char *n = json_string_value(json_object_get(m, "name")), *v = json_string_value(json_object_get(m, "version"));
    if (!catalog_safe_name(n) || !catalog_safe_name(v)) {
        json_decref(m);
        return *why = xasprintf("%s is not a kiln build manifest with a name and a version", mname), -EINVAL;
    }
    _cleanup_free_ char *want = xasprintf("%s-%s.manifest.json", n, v);
    if (!streq(want, mname)) {
        r = -EINVAL;
        *why = xasprintf("%s describes %s %s: submit it as %s", mname, n, v, want);
    } else {
        *name = xstrdup(n);
        *version = xstrdup(v);
    }
    json_decref(m);
    return r;
}

/* Links the submitted files (uploads by digest) into src under their names. */
static int stage(const struct kiln_publisher *p, struct kiln_store *st, const struct kiln_job *j, json_t *files, const char *src,
                 char **manifest, char **why)
{
    const char *k;
    json_t *v;
    json_object_foreach(files, k, v) {
        if (endswith(k, ".manifest.json")) {
            if (*manifest) return *why = xasprintf("the submission holds two manifests, %s and %s: publish one version", *manifest, k), -EINVAL;
            *manifest = xstrdup(k);
        }
        struct kiln_image im;
        char *err = NULL;
        int r = kiln_store_image_get(st, j->tenant_id, json_string_value(v), &im, &err);
        free(err);
        if (r < 0) return *why = xasprintf("%s: upload %.12s is not the tenant's", k, json_string_value(v)), -EINVAL;
        _cleanup_free_ char *to = path_join(src, k);
        /* uploads are never rewritten (stored once per digest): a link is a stable copy */
        if (link(im.path, to) < 0) {
            int e = errno;
            log_error("kiln serve: publishing job %lld: linking %s to %s: %s", (long long)j->id, im.path, to, strerror(e));
            return *why = xstrdup("the server could not stage the files (see its log)"), -e;
        }
    }
    (void)p;
    if (!*manifest) return *why = xstrdup("the submission holds no NAME-VERSION.manifest.json (the version's kiln build manifest)"), -EINVAL;
    return 0;
}

/* The tenant's trusted keys as files work/keys/kN.pub (*paths, nkeys of them, freed by the
 * caller with each path): 0 or -errno. */
static int stage_keys(const char *work, char **keys, size_t nkeys, char ***paths)
{
    _cleanup_free_ char *kdir = path_join(work, "keys");
    *paths = xcalloc(nkeys + 1, sizeof **paths);
    mkdir_p(kdir, 0700);
    int r = 0;
    for (size_t i = 0; i < nkeys && r == 0; i++) {
        char n[32];
        snprintf(n, sizeof n, "k%zu.pub", i);
        (*paths)[i] = path_join(kdir, n);
        r = write_file_atomic((*paths)[i], keys[i], strlen(keys[i]), 0600);
    }
    return r;
}

/* A refusal's reason in the tenant's words: its file names, not the server's paths. */
static char *tenant_words(char *why, const char *src, const char *run, const char *idtxt, const char *gdir)
{
    _cleanup_free_ char *srcs = xasprintf("%s/", src), *runs = xasprintf("the job's run (%s)", idtxt);
    why = replace_all(why, srcs, "");
    why = replace_all(why, run, runs);
    return replace_all(why, gdir, "the gallery");
}

/* A resumed publish (the server stopped while it ran): what the cut-off publish moved in but
 * no index lists is taken back out, and whether the gallery committed this very manifest to
 * the channel before the stop (then this job's publish is done). */
static bool published_before(struct gallery *g, const struct kiln_job *j, const char *src, const char *mname, const char *name,
                             const char *version, const char *gdir)
{
    bool dropped = false;
    char *err = NULL;
    if (gallery_drop_cut_off(g, name, version, &dropped, &err) < 0)
        log_error("kiln serve: job %lld: clearing a cut-off publish of %s %s: %s", (long long)j->id, name, version, err);
    else if (dropped)
        log_warn("kiln serve: job %lld: removed %s %s from %s: its publish was cut off before the gallery's index listed it",
                 (long long)j->id, name, version, gdir);
    free(err);
    json_t *cat = NULL;
    char *absent = NULL, have[65];
    _cleanup_free_ char *mp = path_join(src, mname);
    json_t *e = gallery_load(g, &cat, &absent) == 0 ? gallery_find(cat, name, version, j->publish_channel, &absent) : NULL;
    const char *listed = json_string_value(json_object_get(e, "manifest_sha256"));
    bool done = e && listed && sha256_file_hex(mp, have, NULL) == 0 && streq(have, listed);
    free(absent);
    json_decref(cat);
    return done;
}

/* The keys the job's tenant trusts (a kiln_strv, *nkeys > 0), or NULL with *msg saying why
 * nothing is published (the database failed, or the tenant trusts no key). */
static char **tenant_keys(struct kiln_store *st, const struct kiln_job *j, size_t *nkeys, char **msg)
{
    char **keys = NULL, *err = NULL;
    *nkeys = 0;
    if (kiln_store_tenant_keys(st, j->tenant_id, &keys, nkeys, &err) < 0) {
        log_error("kiln serve: publishing job %lld: %s", (long long)j->id, err);
        free(err);
        *msg = xstrdup("not published: the server's database failed");
        return NULL;
    }
    if (!*nkeys) {
        kiln_strv_free(keys);
        *msg = xasprintf("not published: tenant %s trusts no signing key (kiln tenant add --trust KEY.pub)", j->tenant);
        return NULL;
    }
    return keys;
}

/* A new work directory DATA/galleries/.publishing/ID.work-XXXXXX for job id (the caller
 * frees the path), or NULL after logging why. It is named after the job: whoever holds the
 * job's publish lock may remove what a stopped server left there (kiln_publish_recover). */
static char *work_dir(const struct kiln_publisher *p, int64_t id)
{
    _cleanup_free_ char *top = path_join(p->data, "galleries"), *pubdir = path_join(top, ".publishing");
    char *tmpl = xasprintf("%s/%lld.work-XXXXXX", pubdir, (long long)id);
    if (mkdir_p(pubdir, 0700) < 0 || !mkdtemp(tmpl)) {
        log_error("kiln serve: publishing job %lld: cannot create a directory in %s: %s", (long long)id, pubdir, strerror(errno));
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

int kiln_publish_job(const struct kiln_publisher *p, struct kiln_store *st, const struct kiln_job *j, char **reterr)
{
    *reterr = NULL;
    if (j->state != JOB_DONE || j->result != RESULT_PASSED) {
        *reterr = j->state == JOB_CANCELLED ? xstrdup("not published: the job was cancelled")
                                         : xasprintf("not published: the job %s; only a job that passed is published",
                                                     j->result == RESULT_FAILED ? "failed" : "ended incomplete");
        return 0;
    }
    size_t nkeys;
    char **keys = tenant_keys(st, j, &nkeys, reterr), *err = NULL;
    if (!keys) return 0;
    _cleanup_free_ char *work = work_dir(p, j->id);
    if (!work) {
        kiln_strv_free(keys);
        *reterr = xstrdup("not published: the server could not stage the files (see its log)");
        return 0;
    }
    _cleanup_free_ char *top = path_join(p->data, "galleries"), *gdir = path_join(top, j->tenant);
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "jobs/%lld", (long long)j->id);
    _cleanup_free_ char *run = path_join(p->data, idtxt);
    _cleanup_free_ char *src = path_join(work, "src");
    mkdir_p(src, 0700);
    char **kpaths = NULL;
    int r = stage_keys(work, keys, nkeys, &kpaths);
    kiln_strv_free(keys);
    json_t *files = json_loads(j->publish_files ? j->publish_files : "", 0, NULL);
    char *why = NULL, *mname = NULL, *name = NULL, *version = NULL;
    if (r < 0) why = xstrdup("the server could not stage the files (see its log)");
    else if (!json_is_object(files)) r = -EINVAL, why = xstrdup("the job names no files to publish");
    if (r == 0) r = stage(p, st, j, files, src, &mname, &why);
    if (r == 0) r = read_manifest(src, mname, kpaths, nkeys, &name, &version, &why);
    struct gallery *g = NULL;
    if (r == 0 && (r = tenant_gallery(p, gdir, kpaths, nkeys, &g, &err)) < 0) {
        log_error("kiln serve: publishing job %lld: the gallery %s: %s", (long long)j->id, gdir, err);
        why = xstrdup("the server could not open the tenant's gallery (see its log)");
    }
    /* a resumed publish (the server stopped while it ran) may have committed before the stop:
     * the same manifest already in the channel is this job's publish, done */
    bool done_before = r == 0 && j->publish_takes > 1 && published_before(g, j, src, mname, name, version, gdir);
    if (r == 0 && !done_before) {
        _cleanup_free_ char *prefix = xasprintf("%s/%s-%s", src, name, version);
        struct publish_req q = {.prefix = prefix, .channel = j->publish_channel, .run_dir = run, .support_days = -1};
        r = gallery_publish(g, &q, p->key, &why);
        free(err);
        err = NULL;
        /* published: a warning in why is about a client state file the server does not keep */
        if (r == 0) {
            free(why);
            why = NULL;
        }
    }
    if (r == 0) {
        *reterr = xasprintf("%s %s in channel %s%s", name, version, j->publish_channel,
                         done_before ? " (before the server that published it stopped)" : "");
        log_info("kiln serve: job %lld: published %s %s in %s (channel %s)", (long long)j->id, name, version, gdir,
                 j->publish_channel);
    } else {
        why = tenant_words(why, src, run, idtxt, gdir);
        *reterr = xasprintf("not published: %s", why ? why : strerror(-r));
        log_info("kiln serve: job %lld: %s", (long long)j->id, *reterr);
    }
    gallery_free(g);
    json_decref(files);
    strv_free(kpaths, nkeys);
    free(why);
    free(err);
    free(mname);
    free(name);
    free(version);
    rm_rf(work);
    return r == 0 ? 1 : 0;
}

/* DATA/galleries/.publishing/ID.lock, held (flock) by the server publishing job id for as long
 * as it runs: the kernel lets go of it when that server dies, however it dies. fd, or -errno
 * (-EWOULDBLOCK: a live server holds it). */
static int publish_lock(const struct kiln_publisher *p, int64_t id, char **path)
{
    _cleanup_free_ char *dir = xasprintf("%s/galleries/.publishing", p->data);
    *path = xasprintf("%s/%lld.lock", dir, (long long)id);
    if (mkdir_p(dir, 0700) < 0) return -errno;
    int fd = open(*path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* The work directories a stopped publish of job id left (DATA/galleries/.publishing/ID.work-*);
 * the caller holds the job's publish lock. */
static void rm_work(const struct kiln_publisher *p, int64_t id)
{
    _cleanup_free_ char *dir = xasprintf("%s/galleries/.publishing", p->data);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%lld.work-", (long long)id);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (startswith(e->d_name, prefix)) {
            _cleanup_free_ char *w = path_join(dir, e->d_name);
            log_info("kiln serve: job %lld: removing %s, left by the publish that stopped", (long long)id, w);
            rm_rf(w);
        }
    if (d) closedir(d);
}

int kiln_publish_next(const struct kiln_publisher *p, struct kiln_store *st, char **reterr)
{
    struct kiln_job j = {0};
    int n = kiln_store_publish_take(st, &j, reterr);
    if (n != 1) return n;
    _cleanup_free_ char *lp = NULL;
    int lock = publish_lock(p, j.id, &lp);
    if (lock < 0) log_warn("kiln serve: publishing job %lld without its lock %s: %s", (long long)j.id, lp, strerror(-lock));
    if (j.publish_takes > 1) log_info("kiln serve: job %lld: resuming its publish (taken %d times)", (long long)j.id, j.publish_takes);
    char *msg = NULL;
    int pub = kiln_publish_job(p, st, &j, &msg);
    int r = kiln_store_publish_end(st, j.id, pub == 1, msg, reterr);
    if (lock >= 0) {
        unlink(lp);
        close(lock);
    }
    free(msg);
    kiln_job_clear(&j);
    return r < 0 ? r : 1;
}

int kiln_publish_recover(const struct kiln_publisher *p, struct kiln_store *st, int64_t taken_before_ms, char **reterr)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int r = kiln_store_publish_stuck(st, taken_before_ms, &ids, &n, reterr);
    int handled = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        _cleanup_free_ char *lp = NULL;
        int lock = publish_lock(p, ids[i], &lp);
        if (lock == -EWOULDBLOCK) continue; /* a live server publishes it */
        if (lock < 0) {
            log_error("kiln serve: cannot tell whether job %lld is still being published: %s: %s", (long long)ids[i], lp,
                      strerror(-lock));
            continue;
        }
        rm_work(p, ids[i]);
        int k = kiln_store_publish_resume(st, ids[i], KILN_PUBLISH_TAKES_MAX, reterr);
        if (k == 1) log_warn("kiln serve: job %lld: the server publishing it stopped; its publish is resumed", (long long)ids[i]);
        if (k == 2)
            log_error("kiln serve: job %lld: the server stopped while publishing it %d times: refused", (long long)ids[i],
                      KILN_PUBLISH_TAKES_MAX);
        if (k > 0) handled++;
        /* -ESTALE: it ended meanwhile */
        if (k == -ESTALE) {
            free(*reterr);
            *reterr = NULL;
        } else if (k < 0) r = k;
        unlink(lp);
        close(lock);
    }
    free(ids);
    return r < 0 ? r : handled;
}
