#include "gallery/gallery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <glob.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/manifest.h"
#include "model/artifact.h"
#include "model/case.h"
#include "gallery/catalog.h"
#include "util/version.h"
#include "trust/minisign.h"
#include "trust/provenance.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/parallel.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/util.h"

#define DAY (24 * 3600)

/* What to do about a link, a FIFO or a device in a gallery (fs_open_error's fix). */
#define GALLERY_FIX "a gallery holds only the regular files kiln wrote; replace it with the file itself (from a backup of the gallery)"

/* Everything read from a gallery in place is opened without following a symbolic link: the
 * directory is trusted by where it is, so a link in it would read another file as the gallery's. */
static int read_gallery_file(const char *path, size_t max, char **data, size_t *len, char **reterr)
{
    int r = read_regular(path, true, max, data, len);
    if (r == -EFBIG) return err_setf(reterr, r, "%s is larger than the %zu bytes kiln reads: not a file kiln wrote", path, max);
    if (r < 0 && r != -ENOENT) {
        free(*reterr);
        *reterr = fs_open_error(path, r, GALLERY_FIX);
    }
    return r;
}

/* opendir, refusing a symbolic link at path (see read_gallery_file); NULL with errno set. */
static DIR *opendir_nofollow(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (fd >= 0 && !d) close(fd);
    return d;
}

/* The message for opendir_nofollow's failure on path (errno e). */
static int dir_fail(char **reterr, int e, const char *path)
{
    struct stat st;
    if ((e == ELOOP || e == ENOTDIR) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return err_setf(reterr, -ELOOP, "%s is a symbolic link, not a directory: %s", path, GALLERY_FIX);
    return err_setf(reterr, -e, "cannot read %s: %s", path, strerror(e));
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t h[32];
    unsigned int n = sizeof h;
    EVP_Digest(data, len, h, &n, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof h; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ---- configuration ---- */

int gallery_trust(const char *dir, const char *pubkey, char *key_id_out, char **reterr)
{
    char id[17];
    int r = ms_key_id(pubkey, id, reterr);
    if (r < 0) return r;
    char *text = NULL;
    size_t len;
    if ((r = read_file(pubkey, 64 * 1024, &text, &len)) < 0) {
        free(*reterr);
        *reterr = fs_open_error(pubkey, r, "pass the .pub file kiln keygen wrote");
        return r;
    }
    _cleanup_free_ char *keys = path_join(dir, "keys");
    _cleanup_free_ char *dst = xasprintf("%s/%s.pub", keys, id);
    mkdir_p(keys, 0755);
    r = write_file_atomic(dst, text, len, 0644);
    free(text);
    if (r < 0) return err_setf(reterr, r, "cannot write %s: %s", dst, strerror(-r));
    if (key_id_out) memcpy(key_id_out, id, 17);
    return 0;
}

/* A signing key is usable only if readers will accept what it signs: its public half must be
 * one of the trusted keys. Checked by signing and verifying a probe, which also catches a
 * secret key whose id matches a trusted key but whose public half does not. */
static int check_signing_key(const char *const *keys, size_t nkeys, const struct ms_seckey *key, const char *where,
                             char **reterr)
{
    static const char probe[] = "kiln gallery: signing key check";
    char id[17];
    ms_seckey_id(key, id);
    _cleanup_free_ char *sig = NULL;
    char *kerr = NULL;
    int r = ms_sign_data(key, probe, sizeof probe - 1, "probe", &sig, &kerr);
    if (r == 0) r = ms_verify_data_trusted(keys, nkeys, probe, sizeof probe - 1, "probe", sig, "probe.minisig", NULL, NULL, &kerr);
    free(kerr);
    if (r < 0)
        return err_setf(reterr, -EPERM,
                    "the signing key %s is not one of %s: readers would refuse what it signs "
                    "(trust its public key with kiln gallery trust, or sign with a trusted key)",
                    id, where);
    return 0;
}

static int write_index(const char *dir, const struct ms_seckey *key, const char *gallery_id, uint64_t serial,
                       const char *prev_sha, json_t *items, char sha_out[65], char **reterr);

int gallery_init(const char *dir, const char *const *pubkeys, size_t nkeys, const struct ms_seckey *key, long max_priority,
                 const char *const *areas, size_t nareas, char **reterr)
{
    _cleanup_free_ char *conf = path_join(dir, "gallery.yml");
    if (file_exists(conf)) return err_setf(reterr, -EEXIST, "%s exists: the gallery is already set up", conf);
    if (!nkeys) return err_setf(reterr, -EINVAL, "a gallery needs at least one trusted key (--trust KEY.pub)");
    int r = check_signing_key(pubkeys, nkeys, key, "the keys the gallery is to trust", reterr);
    if (r < 0) return r;
    _cleanup_free_ char *images = path_join(dir, "images");
    if (mkdir_p(images, 0755) < 0) return err_setf(reterr, -errno, "cannot create %s: %s", images, strerror(errno));
    for (size_t i = 0; i < nkeys; i++)
        if ((r = gallery_trust(dir, pubkeys[i], NULL, reterr)) < 0) return r;
    _cleanup_free_ char *lock = path_join(dir, ".lock");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_setf(reterr, -errno, "cannot create %s: %s", lock, strerror(errno));
    close(fd);
    /* serial 0, signed: from now on a missing index is damage, never an empty gallery */
    uint8_t raw[16];
    char id[33], sha[65];
    if (RAND_bytes(raw, sizeof raw) != 1) return err_setf(reterr, -EIO, "no randomness from OpenSSL for the gallery id");
    for (size_t i = 0; i < sizeof raw; i++) snprintf(id + 2 * i, 3, "%02x", raw[i]);
    if ((r = write_index(dir, key, id, 0, NULL, json_array(), sha, reterr)) < 0) return r;
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
    r = write_file_atomic(conf, b.s, b.len, 0644);
    sbuf_free(&b);
    return r < 0 ? err_setf(reterr, r, "cannot write %s: %s", conf, strerror(-r)) : 0;
}

void gallery_free(struct gallery *g)
{
    if (!g) return;
    strv_free(g->keys, g->nkeys);
    strv_free(g->areas, g->nareas);
    strv_free(g->cases, g->ncases);
    for (size_t i = 0; i < g->nchannels; i++) free(g->channels[i].name);
    free(g->channels);
    free(g->dir);
    free(g);
}

/* ---- gallery.yml, read by the tables below (util/yaml.h) ---- */

static void policy_init(void *target)
{
    struct gallery *g = target;
    g->require_run = g->allow_skipped = true;
    g->max_priority = 1;
}

static void field_cases(const struct yparse *p, const struct yfield *f, const struct ynode *n, const char *path,
                        void *target)
{
    (void)f;
    const struct gallery *g = target;
    for (size_t i = 0; i < g->ncases; i++)
        if (!registry_find(g->cases[i])) diag_add(p->d, n, path, "no built-in case is named %s", g->cases[i]);
}

static const struct yschema policy_schema = {
    .fields = (const struct yfield[]){
        {"require_run", YF_BOOL, offsetof(struct gallery, require_run)},
        {"max_priority", YF_LONG, offsetof(struct gallery, max_priority), .min = -1, .max = 5},
        {"areas", YF_STR_LIST, offsetof(struct gallery, areas), offsetof(struct gallery, nareas)},
        {"cases", YF_STR_LIST, offsetof(struct gallery, cases), offsetof(struct gallery, ncases), .parse = field_cases},
        {"allow_skipped", YF_BOOL, offsetof(struct gallery, allow_skipped)},
        {"max_failures", YF_LONG, offsetof(struct gallery, max_failures), .min = 0, .max = 100000},
        {0}},
};

static const struct yschema channel_schema = {
    .fields = (const struct yfield[]){
        {"support_days", YF_LONG, offsetof(struct gallery_channel, support_days), .min = 0, .max = 100 * 365}, {0}},
};

/* channels: NAME: {support_days: N} per channel; a channel with nothing under it (dev:) keeps
 * the defaults */
static void field_channels(const struct yparse *p, const struct yfield *f, const struct ynode *ch, const char *path,
                           void *target)
{
    (void)f;
    struct gallery *g = target;
    if (!y_expect(p->d, ch, path, YN_MAP)) return;
    for (size_t i = 0; i + 1 < ch->n; i += 2) {
        const char *name = ch->items[i]->scalar;
        const struct ynode *v = ch->items[i + 1];
        _cleanup_free_ char *cp = ypath(path, name);
        struct gallery_channel c = {.name = xstrdup(name), .support_days = 365};
        if (!catalog_safe_name(name)) diag_add(p->d, ch->items[i], cp, "channel names use letters, digits, '.', '_', '-'");
        if (!y_null(v)) yschema_apply(p, v, cp, &channel_schema, &c);
        size_t cap = g->nchannels;
        *APPEND(g->channels, g->nchannels, cap) = c;
    }
}

static const struct yschema gallery_schema = {
    .fields = (const struct yfield[]){
        {"policy", YF_MAP, 0, .sub = &policy_schema},
        {"channels", YF_CUSTOM, 0, .parse = field_channels},
        {0}},
    .init = policy_init,
};

int gallery_open(const char *dir, struct gallery **out, struct diags *d, char **reterr)
{
    _cleanup_free_ char *conf = path_join(dir, "gallery.yml");
    if (!file_exists(conf))
        return err_setf(reterr, -ENOENT, "%s is not a gallery (no gallery.yml); create one with kiln gallery init --gallery %s --trust KEY.pub",
                    dir, dir);
    _cleanup_free_ char *text = NULL;
    size_t tlen;
    int r = read_gallery_file(conf, 1u << 20, &text, &tlen, reterr);
    if (r < 0) return r == -ENOENT ? err_setf(reterr, r, "cannot read %s: %s", conf, strerror(-r)) : r;
    struct ynode *root = yaml_load_string(conf, text, tlen, d);
    if (!root) return err_setf(reterr, -EINVAL, "%s is not valid", conf);
    struct gallery *g = xcalloc(1, sizeof *g);
    g->dir = xstrdup(dir);
    size_t before = d->n;
    yschema_apply(&(struct yparse){d, NULL}, root, "", &gallery_schema, g);
    ynode_free(root);
    /* channels: [a] was refused already: "defines no channel" would be a second error for it */
    if (!g->nchannels && d->n == before) diag_add_at(d, conf, 1, 1, "channels", "the gallery defines no channel");
    _cleanup_free_ char *pat = path_join(dir, "keys/*.pub");
    glob_t gl = {0};
    struct stat kst;
    if (glob(pat, 0, NULL, &gl) == 0)
        for (size_t i = 0; i < gl.gl_pathc && r == 0; i++) {
            /* minisign reads a key by its name: a key that is a link is refused here instead */
            if (lstat(gl.gl_pathv[i], &kst) == 0 && !S_ISREG(kst.st_mode)) {
                free(*reterr);
                *reterr = fs_open_error(gl.gl_pathv[i], S_ISLNK(kst.st_mode) ? -ELOOP : -ENOTREG, GALLERY_FIX);
                r = S_ISLNK(kst.st_mode) ? -ELOOP : -ENOTREG;
            }
            size_t cap = g->nkeys;
            *APPEND(g->keys, g->nkeys, cap) = xstrdup(gl.gl_pathv[i]);
        }
    globfree(&gl);
    if (r < 0) {
        gallery_free(g);
        return r;
    }
    if (d->n) {
        gallery_free(g);
        return err_setf(reterr, -EINVAL, "%s has errors", conf);
    }
    if (!g->nkeys) {
        gallery_free(g);
        return err_setf(reterr, -ENOKEY, "%s trusts no key (keys/*.pub is empty); add one with kiln gallery trust", dir);
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

/* ---- finding versions in a catalog ---- */

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

json_t *gallery_find(json_t *index, const char *name, const char *version, const char *ch, char **reterr)
{
    json_t *e;
    size_t i;
    if (!version) {
        json_t *l = latest(index, name, ch);
        if (!l) err_setf(reterr, -ENOENT, "no version of %s is published%s%s", name, ch ? " in channel " : "", ch ? ch : "");
        return l;
    }
    json_array_foreach(json_object_get(index, "images"), i, e) {
        if (streq(jstr(e, "name"), name) && streq(jstr(e, "version"), version)) {
            if (ch && !has_channel(e, ch)) {
                err_setf(reterr, -ENOENT, "%s %s is not in channel %s", name, version, ch);
                return NULL;
            }
            return e;
        }
    }
    err_setf(reterr, -ENOENT, "%s %s is not published", name, version);
    return NULL;
}

/* ---- the signed catalog ---- */

static const char *const *reader_keys(const struct gallery *g, size_t *n)
{
    *n = g->npin ? g->npin : g->nkeys;
    return g->npin ? g->pin_keys : (const char *const *)g->keys;
}

/* A signed catalog file (rel: its path in the gallery): the file and FILE.minisig read once,
 * the signature checked over exactly the bytes returned. */
static int read_signed(const struct gallery *g, const char *rel, size_t max, char **data, size_t *len, char key_id[17],
                       char **reterr)
{
    _cleanup_free_ char *p = path_join(g->dir, rel);
    _cleanup_free_ char *sp = xasprintf("%s.minisig", p);
    _cleanup_free_ char *sig = NULL;
    size_t sl;
    int r = read_gallery_file(p, max, data, len, reterr);
    if (r == -ENOENT) return err_setf(reterr, r, "cannot read %s: %s", p, strerror(-r));
    if (r < 0) return r;
    if ((r = read_gallery_file(sp, MS_SIG_MAX, &sig, &sl, reterr)) < 0) {
        free(*data);
        *data = NULL;
        return r == -ENOENT ? err_setf(reterr, -EPERM, "%s is not signed (no %s)", p, sp) : r;
    }
    size_t nk;
    const char *const *keys = reader_keys(g, &nk);
    char *kerr = NULL;
    if ((r = ms_verify_data_trusted(keys, nk, *data, *len, p, sig, sp, NULL, key_id, &kerr)) < 0) {
        free(*data);
        *data = NULL;
        free(*reterr);
        *reterr = kerr;
    }
    return r;
}

/* The highest serial of index/<serial>.json, or -ENOENT when there is none. */
static int newest_serial(const char *dir, uint64_t *serial, char **reterr)
{
    _cleanup_free_ char *p = path_join(dir, "index");
    DIR *d = opendir_nofollow(p);
    if (!d) return errno == ENOENT ? -ENOENT : dir_fail(reterr, errno, p);
    bool any = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t s;
        if (catalog_index_serial(e->d_name, &s) && (!any || s > *serial)) *serial = s, any = true;
    }
    closedir(d);
    return any ? 0 : -ENOENT;
}

/* index/<serial>.json verified and parsed; sha gets the sha256 of its bytes. */
static int load_index(const struct gallery *g, uint64_t serial, json_t **idx, char sha[65], char key_id[17], char **reterr)
{
    _cleanup_free_ char *name = catalog_index_name(serial);
    _cleanup_free_ char *rel = path_join("index", name);
    _cleanup_free_ char *p = path_join(g->dir, rel);
    char *data = NULL, *perr = NULL;
    size_t len;
    int r = read_signed(g, rel, CATALOG_INDEX_MAX, &data, &len, key_id, reterr);
    if (r < 0) return r;
    sha256_hex(data, len, sha);
    r = catalog_parse_index(data, len, idx, &perr);
    free(data);
    if (r < 0) {
        r = err_setf(reterr, r, "%s: %s", p, perr);
        free(perr);
        return r;
    }
    json_int_t got = json_integer_value(json_object_get(*idx, "serial"));
    if ((uint64_t)got != serial) {
        json_decref(*idx);
        *idx = NULL;
        return err_setf(reterr, -EINVAL, "%s holds index serial %lld: an older index was copied over a newer one", p, (long long)got);
    }
    return 0;
}

/* ---- what this client saw: the state file ---- */

char *gallery_state_path(void)
{
    const char *d = getenv("KILN_STATE_DIR"), *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
    if (d && *d) return path_join(d, "gallery-seen.json");
    if (x && *x) return xasprintf("%s/kiln/gallery-seen.json", x);
    return h && *h ? xasprintf("%s/.local/state/kiln/gallery-seen.json", h) : NULL;
}

/* {schema, galleries: {ID: {serial, sha256, dir, seen}}}; an absent file is an empty one. */
static int state_read(const char *path, json_t **st, char **reterr)
{
    char *text = NULL;
    size_t len;
    int r = read_file(path, 4u << 20, &text, &len);
    if (r == -ENOENT) {
        *st = json_pack("{s:s, s:{}}", "schema", "kiln.gallery-seen/v1", "galleries");
        return 0;
    }
    if (r < 0) {
        free(*reterr);
        *reterr = fs_open_error(path, r, "it is kiln's record of the gallery serials this client saw: replace it with a regular file");
        return r;
    }
    *st = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (!json_is_object(json_object_get(*st, "galleries"))) {
        json_decref(*st);
        return err_setf(reterr, -EINVAL,
                    "%s (the serials this client saw of each gallery) is damaged; remove it to start over, which "
                    "drops the protection against galleries rolled back to older indexes",
                    path);
    }
    return 0;
}

/* Remembers serial (and its digest) for the gallery id; never lowers what is recorded. */
static int state_record(const char *path, const char *dir, const char *id, uint64_t serial, const char *sha, char **reterr)
{
    _cleanup_free_ char *sdir = path_dirname(path);
    _cleanup_free_ char *lp = xasprintf("%s.lock", path);
    if (mkdir_p(sdir, 0700) < 0) return err_setf(reterr, -errno, "cannot create %s: %s", sdir, strerror(errno));
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return err_setf(reterr, -errno, "cannot open %s: %s", lp, strerror(errno));
    if (flock(fd, LOCK_EX) < 0) {
        close(fd);
        return err_setf(reterr, -errno, "cannot lock %s: %s", lp, strerror(errno));
    }
    json_t *st = NULL;
    int r = state_read(path, &st, reterr);
    json_t *gal = r == 0 ? json_object_get(json_object_get(st, "galleries"), id) : NULL;
    if (r == 0 && (!gal || (uint64_t)json_integer_value(json_object_get(gal, "serial")) < serial)) {
        char now[32];
        format_utc(now, wall_s());
        _cleanup_free_ char *real = realpath(dir, NULL);
        json_object_set_new(json_object_get(st, "galleries"), id,
                            json_pack("{s:I, s:s, s:s, s:s}", "serial", (json_int_t)serial, "sha256", sha, "dir",
                                      real ? real : dir, "seen", now));
        r = json_write_file(path, st);
        if (r < 0) r = err_setf(reterr, r, "cannot write %s: %s", path, strerror(-r));
    }
    json_decref(st);
    close(fd);
    return r;
}

/* Index `serial` (idx) must descend from the one this client saw: each index from serial-1
 * down to seen+1 is read, its bytes matched against the digest its successor signed, until
 * the link reaches the digest recorded for `seen`. */
static int check_descent(const struct gallery *g, json_t *idx, uint64_t serial, uint64_t seen, const char *seen_sha,
                         char **reterr)
{
    _cleanup_free_ char *want = xstrdup(json_string_value(json_object_get(idx, "previous_sha256")));
    for (uint64_t k = serial - 1; k > seen; k--) {
        _cleanup_free_ char *name = catalog_index_name(k);
        _cleanup_free_ char *p = xasprintf("%s/index/%s", g->dir, name);
        char *data = NULL, *perr = NULL, sha[65];
        size_t len;
        char *rerr = NULL;
        int r = read_gallery_file(p, CATALOG_INDEX_MAX, &data, &len, &rerr);
        if (r < 0) {
            r = err_setf(reterr, r, "cannot show that index serial %llu follows serial %llu, which this client saw: %s",
                     (unsigned long long)serial, (unsigned long long)seen,
                     rerr ? rerr : strerror(-r));
            free(rerr);
            return r;
        }
        sha256_hex(data, len, sha);
        json_t *old = NULL;
        if (!streq(sha, want)) r = err_setf(reterr, -EPERM, "%s has sha256 %s, but index serial %llu names %s as its predecessor: "
                                                      "the gallery's history was rewritten",
                                        p, sha, (unsigned long long)k + 1, want);
        else if ((r = catalog_parse_index(data, len, &old, &perr)) < 0) r = err_setf(reterr, r, "%s: %s", p, perr);
        free(data);
        free(perr);
        if (r < 0) return r;
        free(want);
        want = xstrdup(json_is_string(json_object_get(old, "previous_sha256"))
                           ? json_string_value(json_object_get(old, "previous_sha256")) : "");
        json_decref(old);
    }
    if (!streq(want, seen_sha))
        return err_setf(reterr, -EPERM,
                    "index serial %llu does not follow serial %llu, which this client saw (%s): the gallery's "
                    "history was rewritten",
                    (unsigned long long)serial, (unsigned long long)seen, g->state);
    return 0;
}

/* Refuses an index older than what this client saw of the same gallery (a rollback, a freeze)
 * or than --min-serial, and one of the same serial with other bytes (a fork). */
static int check_fresh(const struct gallery *g, json_t *idx, uint64_t serial, const char *sha, const char *file, char **reterr)
{
    if (serial < g->min_serial)
        return err_setf(reterr, -EPERM, "%s is index serial %llu, older than the minimum serial %llu asked for", file,
                    (unsigned long long)serial, (unsigned long long)g->min_serial);
    if (!g->state) return 0;
    json_t *st = NULL;
    int r = state_read(g->state, &st, reterr);
    if (r < 0) return r;
    json_t *seen = json_object_get(json_object_get(st, "galleries"), json_string_value(json_object_get(idx, "gallery")));
    uint64_t s = (uint64_t)json_integer_value(json_object_get(seen, "serial"));
    const char *ssha = json_string_value(json_object_get(seen, "sha256"));
    if (!seen || !ssha) r = 0;
    else if (serial < s)
        r = err_setf(reterr, -EPERM,
                 "%s is index serial %llu, but this client saw serial %llu of this gallery: the gallery was rolled "
                 "back, and what was published since may be hidden. If it was restored from a backup on purpose, "
                 "remove gallery %s from %s",
                 file, (unsigned long long)serial, (unsigned long long)s, json_string_value(json_object_get(idx, "gallery")),
                 g->state);
    else if (serial == s && !streq(sha, ssha))
        r = err_setf(reterr, -EPERM, "%s is index serial %llu, but not the serial %llu this client saw (sha256 %s, now %s): two "
                              "different histories were signed",
                 file, (unsigned long long)serial, (unsigned long long)s, ssha, sha);
    else if (serial > s) r = check_descent(g, idx, serial, s, ssha, reterr);
    json_decref(st);
    return r;
}

/* Every directory under images/NAME/ must be a version the index lists: a version directory
 * left behind when a newer index was removed is found here. Dot names are publishes in
 * progress (.incoming-*). With g->skip_unlisted, what is not listed goes into *unlisted
 * instead (a listed version that is a symbolic link fails either way). */
static int check_listed(const struct gallery *g, json_t *images, const char *index_file, json_t *unlisted, char **reterr)
{
    _cleanup_free_ char *root = path_join(g->dir, "images");
    DIR *d = opendir_nofollow(root);
    if (!d) return dir_fail(reterr, errno, root);
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        _cleanup_free_ char *nd = path_join(root, e->d_name);
        DIR *vd = opendir_nofollow(nd);
        if (!vd && errno == ENOTDIR && g->skip_unlisted) {
            json_array_append_new(unlisted, json_string(nd));
            continue;
        }
        if (!vd) {
            r = errno == ENOTDIR ? err_setf(reterr, -EINVAL, "%s is not a directory of versions: %s", nd, strerror(errno))
                                 : dir_fail(reterr, errno, nd);
            break;
        }
        struct dirent *v;
        while (r == 0 && (v = readdir(vd))) {
            if (v->d_name[0] == '.') continue;
            bool listed = false;
            size_t i;
            json_t *it;
            json_array_foreach(images, i, it) listed |= streq(json_string_value(json_object_get(it, "name")), e->d_name) &&
                                                        streq(json_string_value(json_object_get(it, "version")), v->d_name);
            struct stat st;
            bool link = fstatat(dirfd(vd), v->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            if (!listed && g->skip_unlisted) json_array_append_new(unlisted, json_sprintf("%s/%s", nd, v->d_name));
            else if (link) r = err_setf(reterr, -ELOOP, "%s/%s is a symbolic link, not a directory: %s", nd, v->d_name, GALLERY_FIX);
            else if (!listed)
                r = err_setf(reterr, -EPERM,
                         "%s/%s is not listed by %s, the newest index: a newer index was removed (the gallery rolled "
                         "back) or a publish was cut off before it wrote its index",
                         nd, v->d_name, index_file);
        }
        closedir(vd);
    }
    closedir(d);
    return r;
}

/* Readers wait while a publisher commits (a renamed version directory and its index). A
 * gallery whose .lock cannot be opened (a read-only copy) is read without it. */
static int reader_lock(const char *dir, int *fd, char **reterr)
{
    _cleanup_free_ char *p = path_join(dir, ".lock");
    *fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW); /* a FIFO there must not block the open */
    if (*fd < 0) return 0;
    for (int i = 0; i < 600; i++) {
        if (flock(*fd, LOCK_SH | LOCK_NB) == 0) return 0;
        sleep_ms(100);
    }
    close(*fd);
    *fd = -1;
    return err_setf(reterr, -EBUSY, "a publish holds %s for over a minute", p);
}

/* gallery_load; a publisher already holding the lock passes locked. */
/* The entry index item it (of index file ifile) names, read, its signature and sha256 checked
 * and parsed, with the index's channels, its path and its sha256 added: 0 and *out, or -errno. */
static int load_entry(const struct gallery *g, json_t *it, const char *ifile, json_t **out, char **reterr)
{
    const char *name = json_string_value(json_object_get(it, "name"));
    const char *version = json_string_value(json_object_get(it, "version"));
    const char *want = json_string_value(json_object_get(it, "entry_sha256"));
    _cleanup_free_ char *rel = xasprintf("images/%s/%s", name, version);
    _cleanup_free_ char *erel = path_join(rel, "entry.json");
    _cleanup_free_ char *ep = path_join(g->dir, erel);
    char *data = NULL, *perr = NULL, esha[65], ekid[17];
    size_t len;
    json_t *e = NULL;
    if (!file_exists(ep))
        return err_setf(reterr, -ENOENT, "%s lists %s %s, but %s is missing: the version was deleted", ifile, name, version, ep);
    int r = read_signed(g, erel, CATALOG_ENTRY_MAX, &data, &len, ekid, reterr);
    if (r < 0) return r;
    sha256_hex(data, len, esha);
    if (!streq(esha, want))
        r = err_setf(reterr, -EPERM, "%s has sha256 %s, but %s says %s: it was replaced", ep, esha, ifile, want);
    else if ((r = catalog_parse_entry(data, len, &e, &perr)) < 0) r = err_setf(reterr, r, "%s: %s", ep, perr);
    else if (!streq(json_string_value(json_object_get(e, "name")), name) ||
             !streq(json_string_value(json_object_get(e, "version")), version))
        r = err_setf(reterr, -EINVAL, "%s describes %s %s, not %s %s", ep, json_string_value(json_object_get(e, "name")),
                     json_string_value(json_object_get(e, "version")), name, version);
    else if ((json_object_get(e, "arch") || json_object_get(it, "arch")) &&
             !json_equal(json_object_get(e, "arch"), json_object_get(it, "arch")))
        r = err_setf(reterr, -EINVAL, "%s says %s %s is for %s, but %s says %s", ifile, name, version,
                     jstr(it, "arch") ? jstr(it, "arch") : "no arch", ep, jstr(e, "arch") ? jstr(e, "arch") : "no arch");
    free(data);
    free(perr);
    if (r < 0) {
        json_decref(e);
        return r;
    }
    json_object_set(e, "channels", json_object_get(it, "channels"));
    json_object_set_new(e, "path", json_string(rel));
    json_object_set_new(e, "entry_sha256", json_string(esha));
    *out = e;
    return 0;
}

static int load_catalog(struct gallery *g, bool locked, json_t **out, char **reterr)
{
    _cleanup_free_ char *v1 = path_join(g->dir, "index.json");
    if (file_exists(v1))
        return err_setf(reterr, -EINVAL,
                    "%s is an unsigned index from an older kiln; this kiln reads only signed indexes (index/*.json): "
                    "set up a new gallery and publish the versions into it",
                    v1);
    int lk = -1, r = locked ? 0 : reader_lock(g->dir, &lk, reterr);
    if (r < 0) return r;
    uint64_t serial = 0;
    char sha[65], kid[17];
    json_t *idx = NULL, *cat = NULL;
    r = newest_serial(g->dir, &serial, reterr);
    if (r == -ENOENT)
        r = err_setf(reterr, -ENOENT,
                 "%s/index holds no index (NNNNNNNNNN.json): every gallery has one from kiln gallery init on, so "
                 "it was deleted; restore it from a backup",
                 g->dir);
    if (r == 0) r = load_index(g, serial, &idx, sha, kid, reterr);
    _cleanup_free_ char *iname = catalog_index_name(serial);
    _cleanup_free_ char *ifile = xasprintf("%s/index/%s", g->dir, iname);
    if (r == 0) r = check_fresh(g, idx, serial, sha, ifile, reterr);
    if (r == 0)
        cat = json_pack("{s:O, s:I, s:s, s:s, s:s, s:[]}", "gallery", json_object_get(idx, "gallery"), "serial",
                        (json_int_t)serial, "sha256", sha, "file", ifile, "signed_by", kid, "images");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(idx, "images"), i, it) {
        if (r < 0) break;
        json_t *e = NULL;
        if ((r = load_entry(g, it, ifile, &e, reterr)) == 0) json_array_append_new(json_object_get(cat, "images"), e);
    }
    if (r == 0) {
        json_t *unlisted = json_array();
        r = check_listed(g, json_object_get(idx, "images"), ifile, unlisted, reterr);
        if (g->skip_unlisted) json_object_set(cat, "unlisted", unlisted);
        json_decref(unlisted);
    }
    if (lk >= 0) close(lk);
    json_decref(idx);
    if (r == 0 && g->state)
        r = state_record(g->state, g->dir, json_string_value(json_object_get(cat, "gallery")), serial, sha, reterr);
    if (r < 0) {
        json_decref(cat);
        return r;
    }
    *out = cat;
    return 0;
}

int gallery_load(struct gallery *g, json_t **catalog, char **reterr) { return load_catalog(g, false, catalog, reterr); }

int gallery_check_run(const struct gallery *g, json_t *entry, char **reterr)
{
    const char *want = json_string_value(json_object_get(json_object_get(entry, "run"), "results_sha256"));
    if (!want) return 0;
    _cleanup_free_ char *p = xasprintf("%s/%s/run/results.json", g->dir, jstr(entry, "path"));
    char got[65];
    int r = sha256_regular_hex(p, true, got, NULL);
    if (r < 0) {
        free(*reterr);
        *reterr = fs_open_error(p, r, GALLERY_FIX);
        return r;
    }
    if (!streq(got, want))
        return err_setf(reterr, -EPERM, "%s has sha256 %s, but the signed entry says %s: the run's results were changed", p, got, want);
    return 0;
}

/* The bytes kiln signs of a catalog file j (catalog_dump) into *text and their minisign
 * signature with trusted comment tc into *sig (the caller frees both): 0, or -errno with
 * *reterr the signer's message (it replaces any earlier one). */
static int sign_json(const struct ms_seckey *key, json_t *j, const char *tc, char **text, char **sig, char **reterr)
{
    *text = catalog_dump(j);
    if (!*text) return err_setf(reterr, -ENOMEM, "cannot serialise the catalog: out of memory");
    char *kerr = NULL;
    int r = ms_sign_data(key, *text, strlen(*text), tc, sig, &kerr);
    if (r < 0 && reterr) {
        free(*reterr);
        *reterr = kerr;
    } else free(kerr);
    return r;
}

/* Writes index/<serial>.json (items: stolen) and its signature: the signature first, the
 * index last, so the newest index file always has its signature beside it. */
static int write_index(const char *dir, const struct ms_seckey *key, const char *gallery_id, uint64_t serial,
                       const char *prev_sha, json_t *items, char sha_out[65], char **reterr)
{
    char now[32];
    format_utc(now, wall_s());
    json_t *idx = json_pack("{s:s, s:s, s:I, s:o, s:s, s:o}", "schema", CATALOG_INDEX_SCHEMA, "gallery", gallery_id,
                            "serial", (json_int_t)serial, "previous_sha256", prev_sha ? json_string(prev_sha) : json_null(),
                            "updated", now, "images", items);
    _cleanup_free_ char *tc = xasprintf("kiln gallery %s index serial %llu", gallery_id, (unsigned long long)serial);
    _cleanup_free_ char *text = NULL, *sig = NULL;
    int r = sign_json(key, idx, tc, &text, &sig, reterr);
    json_decref(idx);
    if (r < 0) return r;
    _cleanup_free_ char *name = catalog_index_name(serial);
    _cleanup_free_ char *idir = path_join(dir, "index");
    _cleanup_free_ char *p = path_join(idir, name);
    _cleanup_free_ char *sp = xasprintf("%s.minisig", p);
    if (mkdir_p(idir, 0755) < 0) return err_setf(reterr, -errno, "cannot create %s: %s", idir, strerror(errno));
    if ((r = write_file_atomic(sp, sig, strlen(sig), 0644)) < 0) return err_setf(reterr, r, "cannot write %s: %s", sp, strerror(-r));
    if ((r = write_file_atomic(p, text, strlen(text), 0644)) < 0) {
        unlink(sp);
        return err_setf(reterr, r, "cannot write %s: %s", p, strerror(-r));
    }
    sha256_hex(text, strlen(text), sha_out);
    return 0;
}

/* ---- checking a version's files ---- */

struct vfile {
    char *name;     /* base name */
    uint64_t max;   /* bytes a copy may hold: the artifact's size in the manifest, else GALLERY_JSON_MAX */
    char *expect;   /* sha256 the manifest (or provenance) claims, or NULL */
    char sha256[65];
    char key[17];   /* signer */
    bool disk;      /* a disk image a run can boot */
    char *kind;     /* the artifact's kind in the manifest (qcow2, initrd, kernel, ...), or NULL */
};

static void vfiles_free(struct vfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].expect);
        free(v[i].kind);
    }
    free(v);
}

/* A file in dir: signed by a trusted key, its sha256 what `who` says it is. */
static int check_file(const char *dir, struct vfile *f, const char *const *keys, size_t nkeys, const char *who, char **reterr)
{
    _cleanup_free_ char *p = path_join(dir, f->name);
    char *kerr = NULL;
    int r = ms_verify_trusted(keys, nkeys, p, NULL, f->key, &kerr);
    if (r < 0) {
        free(*reterr);
        *reterr = kerr;
        return r;
    }
    if ((r = sha256_file_hex(p, f->sha256, NULL)) < 0) {
        free(*reterr);
        *reterr = fs_open_error(p, r, NULL);
        return r;
    }
    if (f->expect && !streq(f->expect, f->sha256))
        return err_setf(reterr, -EBADMSG, "%s: sha256 %s, but %s says %s (the file was changed)", f->name, f->sha256, who,
                    f->expect);
    return 0;
}

/* check_file over several files, two at a time: hashing dominates a publish or a pull of a
 * multi-GiB version and the host has more than one core. Reports the first failure in order. */
struct check_job {
    const char *dir;
    struct vfile *v;
    const bool *pick;
    const char *const *keys;
    size_t nkeys;
    const char *who;
    int *rc;
    char **errs;
};

static void check_one(size_t i, void *arg)
{
    struct check_job *j = arg;
    if (!j->pick || j->pick[i]) j->rc[i] = check_file(j->dir, &j->v[i], j->keys, j->nkeys, j->who, &j->errs[i]);
}

static int check_parallel(const char *dir, struct vfile *v, size_t n, const bool *pick, const char *const *keys,
                          size_t nkeys, const char *who, char **reterr)
{
    struct check_job j = {.dir = dir, .v = v, .pick = pick, .keys = keys, .nkeys = nkeys, .who = who};
    j.rc = xcalloc(n ? n : 1, sizeof *j.rc);
    j.errs = xcalloc(n ? n : 1, sizeof *j.errs);
    parallel_for(n, 2, check_one, &j);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (j.rc[i] < 0 && r == 0) {
            r = j.rc[i];
            free(*reterr);
            *reterr = j.errs[i];
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
                         char **reterr)
{
    _cleanup_free_ char *mp = path_join(dir, manifest_name);
    _cleanup_free_ char *text = NULL;
    size_t tl;
    int r = read_file(mp, GALLERY_JSON_MAX, &text, &tl);
    if (r == -EFBIG) return err_setf(reterr, r, "%s is larger than %u MiB: not a kiln build manifest", mp, GALLERY_JSON_MAX >> 20);
    if (r < 0) {
        free(*reterr);
        *reterr = fs_open_error(mp, r, "pass the manifest kiln build wrote");
        return r;
    }
    json_error_t je;
    json_t *m = json_loadb(text, tl, 0, &je);
    if (!m) return err_setf(reterr, -EINVAL, "%s: not a kiln build manifest: %s (line %d)", mp, je.text, je.line);
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *version = json_string_value(json_object_get(m, "version"));
    if (!catalog_safe_name(name) || !catalog_safe_name(version)) {
        json_decref(m);
        return err_setf(reterr, -EINVAL, "%s: name and version must be set and use letters, digits, '.', '_', '+', '~', '-'", mp);
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
            /* an artifact's size bounds its copy: a FIFO, a device or a growing file in its place
             * must not fill the disk */
            json_t *sz = json_object_get(a, "size");
            if (!catalog_safe_name(f) || !h || strlen(h) != 64 || (k == 0 && (!json_is_integer(sz) || json_integer_value(sz) < 0))) {
                vfiles_free(*out, *n);
                json_decref(m);
                return err_setf(reterr, -EINVAL, "%s: %s[%zu] needs a plain file name, a sha256%s", mp, lists[k], i,
                            k == 0 ? " and a size" : "");
            }
            const char *kind = jstr(a, "kind");
            bool disk = k == 0 && artifact_is_disk(kind);
            *APPEND(*out, *n, cap) = (struct vfile){.name = xstrdup(f), .expect = xstrdup(h), .disk = disk,
                                                    .kind = k == 0 && kind ? xstrdup(kind) : NULL,
                                                    .max = k == 0 ? (uint64_t)json_integer_value(sz) : GALLERY_JSON_MAX};
        }
    }
    if (!json_array_size(json_object_get(m, "artifacts"))) {
        vfiles_free(*out, *n);
        json_decref(m);
        return err_setf(reterr, -EINVAL, "%s lists no artifacts", mp);
    }
    *APPEND(*out, *n, cap) = (struct vfile){.name = xasprintf("%s-%s.provenance.json", name, version), .max = GALLERY_JSON_MAX};
    *APPEND(*out, *n, cap) = (struct vfile){.name = xstrdup(manifest_name), .max = GALLERY_JSON_MAX};
    *manifest = m;
    return 0;
}

/* The provenance must be an in-toto SLSA statement whose subjects are these very files. */
static int check_provenance(const char *dir, struct vfile *v, size_t n, const char *manifest_name, char **reterr)
{
    struct vfile *pf = &v[n - 2];
    _cleanup_free_ char *p = path_join(dir, pf->name);
    json_t *st = json_load_file(p, 0, NULL);
    int r = 0;
    if (!st || !streq(jstr(st, "_type"), INTOTO_STATEMENT_TYPE) || !streq(jstr(st, "predicateType"), SLSA_PROVENANCE_TYPE))
        r = err_setf(reterr, -EINVAL, "%s is not an in-toto statement with a SLSA v1 provenance predicate", pf->name);
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
                r = err_setf(reterr, -EBADMSG, "%s: the provenance gives %s sha256 %s, the file has %s", pf->name, v[i].name,
                         d ? d : "none", v[i].sha256);
        }
        if (!found && r == 0 && !streq(v[i].name, manifest_name))
            r = err_setf(reterr, -EINVAL, "%s does not name %s as a subject", pf->name, v[i].name);
    }
    json_decref(st);
    return r;
}

/* An SBOM must say what it claims: SPDX 2.3 with the OS package, or CycloneDX with the OS component. */
static int check_sboms(const char *dir, json_t *m, char **reterr)
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
            /* OPERATING_SYSTEM is SPDX 2.3's spelling, OPERATING-SYSTEM 2.3.1's (and older kiln builds') */
            json_array_foreach(json_object_get(doc, "packages"), k, pk) ok |=
                (streq(jstr(pk, "primaryPackagePurpose"), "OPERATING_SYSTEM") ||
                 streq(jstr(pk, "primaryPackagePurpose"), "OPERATING-SYSTEM")) &&
                streq(jstr(pk, "name"), jstr(m, "name")) && streq(jstr(pk, "versionInfo"), jstr(m, "version"));
        } else if (streq(jstr(doc, "bomFormat"), "CycloneDX")) {
            json_t *c = json_object_get(json_object_get(doc, "metadata"), "component");
            ok = streq(jstr(c, "type"), "operating-system") && streq(jstr(c, "name"), jstr(m, "name"));
        }
        json_decref(doc);
        if (!ok) return err_setf(reterr, -EINVAL, "%s is not an SBOM of %s %s", jstr(a, "file"), jstr(m, "name"), jstr(m, "version"));
    }
    return 0;
}

/* The run must have passed what the policy requires and (with v) tested one of these artifacts. */
/* The cases the gallery's policy requires (built-in cases by priority and area, and cases by
 * name), each passed (or skipped, where allowed) in the run's results res: 0 with *required
 * how many, or -EINVAL naming the case. */
static int check_required(const struct gallery *g, json_t *res, const char *run_dir, size_t *required, char **reterr)
{
    size_t ncases, i;
    const struct kiln_case *const *all = registry_all(&ncases);
    int r = 0;
    for (size_t k = 0; k < ncases && r == 0; k++) {
        const struct kiln_case *c = all[k];
        bool want = c->priority <= g->max_priority;
        if (want && g->nareas) {
            want = false;
            for (size_t a = 0; a < g->nareas; a++) want |= streq(g->areas[a], c->area);
        }
        for (size_t a = 0; a < g->ncases; a++) want |= streq(g->cases[a], c->name);
        if (!want) continue;
        (*required)++;
        bool seen = false;
        json_t *rc;
        json_array_foreach(json_object_get(res, "cases"), i, rc) {
            if (!streq(jstr(rc, "name"), c->name)) continue;
            seen = true;
            const char *st = jstr(rc, "status");
            if (!(streq(st, "passed") || (g->allow_skipped && streq(st, "skipped"))))
                r = err_setf(reterr, -EINVAL, "required case %s is %s in the run %s%s%s", c->name, st, run_dir,
                             *jstr(rc, "reason") ? ": " : "", jstr(rc, "reason"));
        }
        if (!seen && r == 0)
            r = err_setf(reterr, -EINVAL, "the run %s did not include %s, which the gallery's policy requires (priority <= %ld%s)",
                         run_dir, c->name, g->max_priority, g->nareas ? " in its areas" : "");
    }
    return r;
}

static int check_run(const struct gallery *g, const char *run_dir, const char *staged, struct vfile *v, size_t n,
                     json_t **summary, char **reterr)
{
    if (!run_dir) return g->require_run ? err_setf(reterr, -EINVAL, "the gallery requires a validation run: pass --run RUN-DIR") : 0;
    _cleanup_free_ char *rp = path_join(staged, "run/results.json");
    json_error_t je;
    json_t *res = json_load_file(rp, 0, &je);
    if (!res || !streq(jstr(res, "schema"), "kiln.results/v1"))
        return err_setf(reterr, -EINVAL, "%s/results.json is not a kiln run's results", run_dir);
    json_t *run = json_object_get(res, "run");
    int r = 0;
    const char *tested = NULL;
    size_t i;
    json_t *t;
    /* what booted: a disk image (role image) of this version; or, in a run without one, an
     * initramfs that is the whole OS (role initrd) with a kernel, both this version's own */
    bool has_disk = false;
    json_array_foreach(json_object_get(run, "tested"), i, t) has_disk |= streq(jstr(t, "role"), "image");
    json_array_foreach(json_object_get(run, "tested"), i, t) {
        const char *role = jstr(t, "role");
        bool disk = streq(role, "image");
        if (!v || !(disk || (!has_disk && (streq(role, "initrd") || streq(role, "kernel"))))) continue;
        const char *match = NULL;
        for (size_t k = 0; k < n && !match; k++)
            if ((disk ? v[k].disk : v[k].kind && streq(v[k].kind, role)) && streq(v[k].sha256, jstr(t, "sha256"))) match = v[k].name;
        if (!match && r == 0)
            r = err_setf(reterr, -EINVAL, "the run %s tested %s (sha256 %s), which is none of this version's %s", run_dir,
                     jstr(t, "path"), jstr(t, "sha256"), disk ? "disk images" : streq(role, "initrd") ? "initrd artifacts" : "kernel artifacts");
        if (match && !streq(role, "kernel")) tested = match;
    }
    if (r == 0 && v && !tested) r = err_setf(reterr, -EINVAL, "the run %s booted no disk image (or initrd) of this version", run_dir);
    if (r == 0 && json_is_true(json_object_get(run, "interrupted"))) r = err_setf(reterr, -EINVAL, "the run %s was interrupted", run_dir);
    json_int_t failed = json_integer_value(json_object_get(json_object_get(res, "summary"), "failed"));
    if (r == 0 && failed > g->max_failures) {
        struct sbuf names = {0};
        json_t *c;
        json_array_foreach(json_object_get(res, "cases"), i, c) if (streq(jstr(c, "status"), "failed"))
            sbuf_printf(&names, "%s%s (%s)", names.len ? ", " : "", jstr(c, "id"), jstr(c, "reason"));
        r = err_setf(reterr, -EINVAL, "the run %s failed %lld case(s), the policy allows %ld: %s", run_dir, (long long)failed,
                 g->max_failures, names.s ? names.s : "");
        sbuf_free(&names);
    }
    /* the required selection: built-in cases by priority/area, and cases by name */
    size_t required = 0;
    if (r == 0) r = check_required(g, res, run_dir, &required, reterr);
    char rsha[65];
    if (r == 0 && summary && (r = sha256_file_hex(rp, rsha, NULL)) < 0) {
        free(*reterr);
        *reterr = fs_open_error(rp, r, NULL);
    }
    /* the signed entry pins the copied results.json: the evidence cannot be swapped later */
    if (r == 0 && summary)
        *summary = json_pack("{s:s, s:s, s:s, s:O, s:I, s:s}", "id", jstr(run, "id"), "name", jstr(run, "name"), "tested",
                             tested, "summary", json_object_get(res, "summary"), "required_cases", (json_int_t)required,
                             "results_sha256", rsha);
    json_decref(res);
    return r;
}

/* Errors about a scratch copy name the file it was copied from. */
static void name_source(char **reterr, const char *scratch, const char *src)
{
    if (!*reterr) return;
    _cleanup_free_ char *msg = *reterr;
    struct sbuf b = {0};
    const char *p = msg, *hit;
    while ((hit = strstr(p, scratch))) {
        sbuf_append(&b, p, (size_t)(hit - p));
        sbuf_puts(&b, src);
        p = hit + strlen(scratch);
    }
    sbuf_puts(&b, p);
    *reterr = sbuf_steal(&b);
}

/* Versions only go up in a channel; a version already published may join another channel
 * (promotion) only with the same manifest (manifest_sha256 NULL: not known yet). */
static int check_order(json_t *index, const char *name, const char *version, const char *ch, const char *manifest_sha256,
                       char **reterr)
{
    json_t *prev = latest(index, name, ch);
    char *absent = NULL;
    json_t *same = gallery_find(index, name, version, NULL, &absent);
    free(absent);
    if (same && has_channel(same, ch)) return err_setf(reterr, -EEXIST, "%s %s is already published in %s", name, version, ch);
    if (prev && version_cmp_deb(version, jstr(prev, "version")) <= 0)
        return err_setf(reterr, -EINVAL, "%s %s is not newer than %s, the latest in %s: versions only go up in a channel", name,
                    version, jstr(prev, "version"), ch);
    if (same && manifest_sha256 && !streq(jstr(same, "manifest_sha256"), manifest_sha256))
        return err_setf(reterr, -EEXIST, "%s %s is already published with other content; publish a new version", name, version);
    return 0;
}

/* Copies src into dst_dir (same base name), at most max bytes, keeping its modification time
 * and its holes (zero blocks are skipped, so a sparse disk image stays sparse). Only a regular
 * file is copied, and with nofollow not through a symbolic link: a FIFO, a device or a link to
 * one put in a gallery fails at once instead of blocking or filling the disk. The partial copy
 * is removed on every failure. */
static int copy_file(const char *src, const char *dst_dir, uint64_t max, bool nofollow, char **reterr)
{
    struct stat st;
    int in = open_regular(src, nofollow, &st);
    if (in < 0) {
        free(*reterr);
        *reterr = fs_open_error(src, in, nofollow ? GALLERY_FIX : "publish the regular files kiln build and kiln sign wrote");
        return in;
    }
    if ((uint64_t)st.st_size > max) {
        close(in);
        return err_setf(reterr, -EFBIG, "%s holds %llu bytes, more than the %llu its manifest allows", src,
                    (unsigned long long)st.st_size, (unsigned long long)max);
    }
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    _cleanup_free_ char *dst = path_join(dst_dir, base);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return err_setf(reterr, -e, "cannot create %s: %s", dst, strerror(e));
    }
    bool on_write = false;
    int r = fd_copy_sparse(in, out, max, NULL, &on_write);
    if (r == -EFBIG) /* it grew while being copied */
        err_setf(reterr, r, "%s grew past the %llu bytes its manifest allows while it was copied", src, (unsigned long long)max);
    else if (r < 0)
        err_setf(reterr, r, "cannot %s %s: %s", on_write ? "write" : "read", on_write ? dst : src, strerror(-r));
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (r == 0 && futimens(out, times) < 0)
        r = err_setf(reterr, -errno, "cannot write %s: %s", dst, strerror(errno));
    if (close(out) < 0 && r == 0) r = err_setf(reterr, -errno, "cannot write %s: %s", dst, strerror(errno));
    close(in);
    if (r < 0) unlink(dst);
    return r;
}

static int lock_gallery(const char *dir, char **reterr)
{
    _cleanup_free_ char *p = path_join(dir, ".lock");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_setf(reterr, -errno, "cannot open %s: %s", p, strerror(errno));
    for (int i = 0; i < 600; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
        sleep_ms(100);
    }
    close(fd);
    return err_setf(reterr, -EBUSY, "another publish holds %s for over a minute", p);
}

int gallery_drop_cut_off(struct gallery *g, const char *name, const char *version, bool *dropped, char **reterr)
{
    *dropped = false;
    if (!catalog_safe_name(name) || !catalog_safe_name(version)) return err_setf(reterr, -EINVAL, "not a name and version: %s %s", name, version);
    _cleanup_free_ char *name_dir = xasprintf("%s/images/%s", g->dir, name), *final = path_join(name_dir, version);
    struct stat st;
    if (lstat(final, &st) < 0 || !S_ISDIR(st.st_mode)) return 0;
    /* under the writers' lock no publish is between its rename and its index: an unlisted
     * directory now is one whose publisher stopped there */
    int lock = lock_gallery(g->dir, reterr);
    if (lock < 0) return lock;
    uint64_t serial = 0;
    char sha[65], kid[17];
    json_t *idx = NULL;
    int r = newest_serial(g->dir, &serial, reterr);
    if (r == 0) r = load_index(g, serial, &idx, sha, kid, reterr);
    bool listed = false;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(idx, "images"), i, it) listed |= streq(jstr(it, "name"), name) && streq(jstr(it, "version"), version);
    if (r == 0 && !listed) {
        _cleanup_free_ char *aside = xasprintf("%s/.cut-off-%s-%d", name_dir, version, (int)getpid());
        rm_rf(aside);
        if (rename(final, aside) < 0) r = err_setf(reterr, -errno, "cannot move %s out of the gallery: %s", final, strerror(errno));
        else {
            rm_rf(aside);
            *dropped = true;
        }
    }
    json_decref(idx);
    close(lock);
    return r;
}

static json_t *files_json(struct vfile *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "file", v[i].name, "sha256", v[i].sha256, "signed_by", v[i].key));
    return a;
}

/* The index items (name, version, arch, channels, entry_sha256) of a catalog, for the next
 * index; an item of an older index without arch stays without. */
static json_t *index_items(json_t *cat)
{
    json_t *items = json_array(), *e;
    size_t i;
    json_array_foreach(json_object_get(cat, "images"), i, e) {
        json_t *it = json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(e, "name"), "version",
                               json_object_get(e, "version"), "channels", json_object_get(e, "channels"),
                               "entry_sha256", json_object_get(e, "entry_sha256"));
        if (json_object_get(e, "arch")) json_object_set(it, "arch", json_object_get(e, "arch"));
        json_array_append_new(items, it);
    }
    return items;
}

/* entry.json and entry.json.minisig into dir; *sha gets the entry's sha256. */
static int write_entry(const char *dir, const struct ms_seckey *key, json_t *e, char sha[65], char **reterr)
{
    _cleanup_free_ char *tc = xasprintf("kiln gallery entry %s %s", json_string_value(json_object_get(e, "name")),
                                        json_string_value(json_object_get(e, "version")));
    _cleanup_free_ char *text = NULL, *sig = NULL;
    int r = sign_json(key, e, tc, &text, &sig, reterr);
    if (r < 0) return r;
    _cleanup_free_ char *p = path_join(dir, "entry.json");
    _cleanup_free_ char *sp = path_join(dir, "entry.json.minisig");
    if ((r = write_file_atomic(p, text, strlen(text), 0644)) < 0 || (r = write_file_atomic(sp, sig, strlen(sig), 0644)) < 0)
        return err_setf(reterr, r, "cannot write %s: %s", r < 0 && file_exists(p) ? sp : p, strerror(-r));
    sha256_hex(text, strlen(text), sha);
    return 0;
}

/* Each file the manifest lists is there and signed by a trusted key, then copied with its
 * signature into staged. */
static int stage_files(const struct gallery *g, const struct publish_req *q, const char *src_dir,
                       const char *manifest_name, const char *staged, struct vfile *v, size_t n, char **reterr)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *f = path_join(src_dir, v[i].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", f);
        if (!file_exists(f)) r = err_setf(reterr, -ENOENT, "%s is missing (listed by %s)", f, manifest_name);
        else if (!file_exists(s)) r = err_setf(reterr, -EPERM, "%s is not signed (no %s); sign the version with kiln sign -k KEY %s.*", f, s, q->prefix);
        else r = ms_check_signer((const char *const *)g->keys, g->nkeys, f, v[i].key, reterr);
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *f = path_join(src_dir, v[i].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", f);
        if ((r = copy_file(f, staged, v[i].max, false, reterr)) == 0) r = copy_file(s, staged, MS_SIG_MAX, false, reterr);
        struct stat st;
        _cleanup_free_ char *copy = path_join(staged, v[i].name);
        if (r == 0 && g->staged && stat(copy, &st) == 0) g->staged(g->staged_ctx, v[i].name, (uint64_t)st.st_size);
    }
    return r;
}

/* Under the lock, with the catalog verified: the version's entry written and staged moved to
 * final (or, for a version already there, one more channel), then the index re-signed. */
static int record_version(struct gallery *g, const struct publish_req *q, const struct ms_seckey *key, json_t *cat,
                          json_t *m, struct vfile *v, size_t n, json_t *run, const char *staged,
                          const char *final, char **reterr)
{
    const char *name = jstr(m, "name"), *version = jstr(m, "version");
    const struct gallery_channel *ch = channel(g, q->channel);
    struct vfile *mf = &v[n - 1];
    bool moved = false;
    const struct kiln_arch *arch = NULL;
    int r = manifest_arch(m, &arch, reterr); /* known: gallery_publish checked it before copying */
    if (r < 0) return r;
    json_t *prev = latest(cat, name, q->channel);
    char *absent = NULL;
    json_t *same = gallery_find(cat, name, version, NULL, &absent);
    free(absent);
    json_t *items = index_items(cat);
    if (same) {
        /* promotion: the same bytes (the entry stays as signed), one more channel in the index */
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) if (streq(jstr(it, "name"), name) && streq(jstr(it, "version"), version))
            json_array_append_new(json_object_get(it, "channels"), json_string(q->channel));
    } else {
        int64_t now = wall_s();
        long days = q->support_days >= 0 ? q->support_days : ch->support_days;
        char pub[32], end[32], esha[65];
        format_utc(pub, now);
        format_utc(end, now + (int64_t)days * DAY);
        json_t *e = json_object();
        json_object_set_new(e, "schema", json_string(CATALOG_ENTRY_SCHEMA));
        json_object_set_new(e, "name", json_string(name));
        json_object_set_new(e, "version", json_string(version));
        json_object_set_new(e, "arch", json_string(arch->name));
        json_object_set_new(e, "channel", json_string(q->channel));
        json_object_set_new(e, "published", json_string(pub));
        json_object_set_new(e, "support_end", json_string(end));
        json_object_set_new(e, "supersedes", prev ? json_string(jstr(prev, "version")) : json_null());
        json_object_set_new(e, "manifest_sha256", json_string(mf->sha256));
        json_object_set_new(e, "run", run ? json_incref(run) : json_null());
        json_object_set_new(e, "files", files_json(v, n));
        r = write_entry(staged, key, e, esha, reterr);
        json_decref(e);
        if (r == 0 && rename(staged, final) < 0)
            r = err_setf(reterr, -errno, "cannot move %s to %s: %s", staged, final, strerror(errno));
        moved = r == 0;
        if (r == 0)
            json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:[s], s:s}", "name", name, "version", version, "arch",
                                                   arch->name, "channels", q->channel, "entry_sha256", esha));
    }
    uint64_t serial = (uint64_t)json_integer_value(json_object_get(cat, "serial")) + 1;
    char sha[65];
    if (r == 0) r = write_index(g->dir, key, jstr(cat, "gallery"), serial, jstr(cat, "sha256"), items, sha, reterr);
    else json_decref(items);
    /* a version directory the index does not list would make the gallery unreadable and
     * block a retry: take it back out (readers are held off by the lock meanwhile) */
    if (r < 0 && moved && rename(final, staged) < 0) {
        char *msg = xasprintf("%s; and %s could not be taken back out (%s): remove it by hand", *reterr, final,
                              strerror(errno));
        free(*reterr);
        *reterr = msg;
    }
    /* published: a state file that cannot be updated leaves a warning in *err, not a refusal */
    if (r == 0 && g->state) (void)state_record(g->state, g->dir, jstr(cat, "gallery"), serial, sha, reterr);
    return r;
}

int gallery_publish(struct gallery *g, const struct publish_req *q, const struct ms_seckey *key, char **reterr)
{
    const struct gallery_channel *ch = channel(g, q->channel);
    if (!ch) return err_setf(reterr, -EINVAL, "the gallery has no channel \"%s\" (gallery.yml channels)", q->channel);
    _cleanup_free_ char *where = xasprintf("the keys %s trusts (%s/keys)", g->dir, g->dir);
    int r = check_signing_key((const char *const *)g->keys, g->nkeys, key, where, reterr);
    if (r < 0) return r;
    _cleanup_free_ char *src_dir = path_dirname(q->prefix);
    const char *base = strrchr(q->prefix, '/') ? strrchr(q->prefix, '/') + 1 : q->prefix;
    _cleanup_free_ char *manifest_name = xasprintf("%s.manifest.json", base);
    json_t *m = NULL;
    struct vfile *v = NULL;
    size_t n = 0;
    if ((r = version_files(src_dir, manifest_name, &m, &v, &n, reterr)) < 0) return r;
    const char *name = jstr(m, "name"), *version = jstr(m, "version");
    _cleanup_free_ char *name_dir = xasprintf("%s/images/%s", g->dir, name);
    _cleanup_free_ char *final = xasprintf("%s/%s", name_dir, version);
    _cleanup_free_ char *staged = xasprintf("%s/.incoming-%s-%d", name_dir, version, (int)getpid());
    _cleanup_free_ char *run_sub = path_join(staged, "run");
    json_t *run = NULL, *cat = NULL;
    int lock = -1;
    bool had_name_dir = file_exists(name_dir);
    /* the manifest's arch (the catalog carries it), the catalog verified and the version order
     * first (again under the lock): refusing takes no copying */
    const struct kiln_arch *arch;
    _cleanup_free_ char *why = NULL;
    if ((r = manifest_arch(m, &arch, &why)) < 0) r = err_setf(reterr, r, "%s/%s: %s", src_dir, manifest_name, why);
    else if ((r = load_catalog(g, false, &cat, reterr)) == 0) r = check_order(cat, name, version, q->channel, NULL, reterr);
    json_decref(cat);
    cat = NULL;
    if (r < 0) {
        json_decref(m);
        vfiles_free(v, n);
        return r;
    }
    rm_rf(staged);
    if (mkdir_p(run_sub, 0755) < 0) r = err_setf(reterr, -errno, "cannot create %s: %s", staged, strerror(errno));
    /* the run's verdict first (cheap), then each file copied and the copy checked: what is
     * checked is what gets published */
    if (r == 0 && q->run_dir) {
        _cleanup_free_ char *rj = path_join(q->run_dir, "results.json");
        if (!file_exists(rj)) r = err_setf(reterr, -ENOENT, "%s is not a kiln run directory (no results.json)", q->run_dir);
        else r = copy_file(rj, run_sub, GALLERY_JSON_MAX, false, reterr);
    }
    if (r == 0) r = check_run(g, q->run_dir, staged, NULL, 0, NULL, reterr);
    if (r == 0) r = stage_files(g, q, src_dir, manifest_name, staged, v, n, reterr);
    if (r == 0) r = check_parallel(staged, v, n, NULL, (const char *const *)g->keys, g->nkeys, "the manifest", reterr);
    if (r == 0) r = check_sboms(staged, m, reterr);
    if (r == 0) r = check_provenance(staged, v, n, manifest_name, reterr);
    if (r == 0) r = check_run(g, q->run_dir, staged, v, n, &run, reterr);
    if (r == 0 && (lock = lock_gallery(g->dir, reterr)) < 0) r = lock;
    if (r == 0) r = load_catalog(g, true, &cat, reterr);
    struct vfile *mf = &v[n - 1];
    if (r == 0) r = check_order(cat, name, version, q->channel, mf->sha256, reterr);
    if (r == 0) r = record_version(g, q, key, cat, m, v, n, run, staged, final, reterr);
    if (lock >= 0) close(lock);
    rm_rf(staged);
    if (!had_name_dir) rmdir(name_dir); /* only when empty: a refused first version of a name leaves nothing */
    if (r < 0) name_source(reterr, staged, src_dir);
    json_decref(cat);
    json_decref(run);
    json_decref(m);
    vfiles_free(v, n);
    return r;
}

/* Copies NAME and NAME.minisig from src into tmp and checks the copy. */
static int fetch(const char *src, const char *tmp, struct vfile *f, const char *const *keys, size_t nkeys, char **reterr)
{
    _cleanup_free_ char *p = path_join(src, f->name);
    _cleanup_free_ char *s = xasprintf("%s.minisig", p);
    int r = copy_file(p, tmp, f->max, true, reterr);
    if (r == 0) r = copy_file(s, tmp, MS_SIG_MAX, true, reterr);
    if (r == 0) r = check_file(tmp, f, keys, nkeys, "the signed manifest", reterr);
    return r;
}

/* Never replaces a file: RENAME_NOREPLACE, or link + unlink where the filesystem lacks it. */
static int move_noreplace(const char *a, const char *b)
{
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -errno;
    if (link(a, b) < 0) return -errno;
    return unlink(a) < 0 ? -errno : 0;
}

int gallery_move_all(const char *dir, const char *out_dir, const char *const *names, size_t n, bool force, bool *wrote,
                     char **reterr)
{
    *wrote = false;
    bool *replace = xcalloc(n ? n : 1, sizeof *replace);
    struct sbuf exist = {0};
    int r = 0;
    /* every target first: a refusal moves nothing */
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *t = path_join(out_dir, names[i]);
        struct stat st;
        if (lstat(t, &st) < 0) {
            if (errno != ENOENT) r = err_setf(reterr, -errno, "cannot check %s: %s", t, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            r = err_setf(reterr, -EISDIR, "%s is a directory where a pulled file would go; kiln never replaces a directory", t);
        } else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            r = err_setf(reterr, -EEXIST, "%s exists and is not a regular file; kiln does not replace it", t);
        } else if (force) {
            replace[i] = true;
        } else {
            sbuf_printf(&exist, "%s%s", exist.len ? ", " : "", names[i]);
        }
    }
    if (r == 0 && exist.len)
        r = err_setf(reterr, -EEXIST, "%s already holds %s: pass --force to replace what is there, or pull into another directory",
                 out_dir, exist.s);
    sbuf_free(&exist);
    _cleanup_free_ char *old = path_join(dir, ".replaced");
    size_t done = 0;
    for (; done < n && r == 0; done++) {
        _cleanup_free_ char *a = path_join(dir, names[done]);
        _cleanup_free_ char *t = path_join(out_dir, names[done]);
        _cleanup_free_ char *keep = path_join(old, names[done]);
        /* a replaced file is kept (hard link) until all moves succeeded, to put it back otherwise */
        if (replace[done] && ((mkdir(old, 0700) < 0 && errno != EEXIST) || link(t, keep) < 0))
            r = err_setf(reterr, -errno, "cannot keep a copy of %s while replacing it: %s", t, strerror(errno));
        else if (replace[done] && rename(a, t) < 0) r = err_setf(reterr, -errno, "cannot move %s to %s: %s", a, t, strerror(errno));
        else if (!replace[done] && (r = move_noreplace(a, t)) < 0) r = err_setf(reterr, r, "cannot move %s to %s: %s", a, t, strerror(-r));
        if (r < 0) break;
    }
    if (r == 0) {
        *wrote = n > 0;
        free(replace);
        return 0;
    }
    /* undo in reverse: new files back into dir, replaced ones restored */
    struct sbuf left = {0};
    size_t undone = 0;
    for (size_t k = done; k-- > 0;) {
        _cleanup_free_ char *a = path_join(dir, names[k]);
        _cleanup_free_ char *t = path_join(out_dir, names[k]);
        _cleanup_free_ char *keep = path_join(old, names[k]);
        if (replace[k] ? rename(keep, t) == 0 : rename(t, a) == 0) undone++;
        else sbuf_printf(&left, "%s%s (%s)", left.len ? ", " : "", t, strerror(errno));
    }
    _cleanup_free_ char *msg = NULL;
    if (left.len)
        msg = xasprintf("%s; of the %zu files moved before it, %zu could not be moved back and stay as pulled: %s", *reterr,
                        done, done - undone, left.s);
    else if (done) msg = xasprintf("%s; the %zu files moved before it were moved back", *reterr, done);
    if (msg) {
        free(*reterr);
        *reterr = xstrdup(msg);
    }
    *wrote = left.len > 0;
    sbuf_free(&left);
    free(replace);
    return r;
}

/* The highest ancestor of path (or path) that does not exist, or NULL when path exists. */
static char *first_missing(const char *path)
{
    char *top = NULL, *cur = xstrdup(path);
    while (!file_exists(cur)) {
        free(top);
        top = cur;
        cur = path_dirname(top);
        if (streq(cur, top)) break;
    }
    free(cur);
    return top;
}

/* Removes the empty directories from path up to top, which mkdir_p created. */
static void remove_created(const char *path, const char *top)
{
    _cleanup_free_ char *cur = xstrdup(path);
    while (rmdir(cur) == 0 && !streq(cur, top)) {
        char *up = path_dirname(cur);
        free(cur);
        cur = up;
    }
}

int gallery_pull(struct gallery *g, json_t *e, const char *artifact, const char *out_dir, bool force, bool *wrote,
                 char **reterr)
{
    *wrote = false;
    const char *name = jstr(e, "name"), *version = jstr(e, "version");
    if (!catalog_safe_name(name) || !catalog_safe_name(version))
        return err_setf(reterr, -EINVAL, "the catalog entry %s %s has an unsafe name", name, version);
    _cleanup_free_ char *src = xasprintf("%s/images/%s/%s", g->dir, name, version);
    size_t nkeys;
    const char *const *keys = reader_keys(g, &nkeys);
    struct stat st;
    if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode)) return err_setf(reterr, -ENOTDIR, "%s is not a directory", out_dir);
    _cleanup_free_ char *created = first_missing(out_dir);
    if (mkdir_p(out_dir, 0755) < 0) {
        int r = err_setf(reterr, -errno, "cannot create %s: %s", out_dir, strerror(errno));
        if (created) remove_created(out_dir, created);
        return r;
    }
    _cleanup_free_ char *tmp = xasprintf("%s/.kiln-pull-XXXXXX", out_dir);
    if (!mkdtemp(tmp)) {
        int r = err_setf(reterr, -errno, "cannot create a directory in %s: %s", out_dir, strerror(errno));
        if (created) remove_created(out_dir, created);
        return r;
    }
    /* the signed manifest first: it says what the other files must hash to */
    struct vfile mf = {.name = xasprintf("%s-%s.manifest.json", name, version), .max = GALLERY_JSON_MAX};
    int r = fetch(src, tmp, &mf, keys, nkeys, reterr);
    json_t *m = NULL;
    struct vfile *v = NULL;
    size_t n = 0;
    if (r == 0) r = version_files(tmp, mf.name, &m, &v, &n, reterr);
    if (r == 0 && (!streq(jstr(m, "name"), name) || !streq(jstr(m, "version"), version)))
        r = err_setf(reterr, -EINVAL, "%s/%s describes %s %s, not %s %s", src, mf.name, jstr(m, "name"), jstr(m, "version"), name,
                 version);
    if (r == 0 && !streq(mf.sha256, jstr(e, "manifest_sha256")))
        r = err_setf(reterr, -EPERM, "%s/%s has sha256 %s, but the signed entry says %s: it was replaced", src, mf.name, mf.sha256,
                 jstr(e, "manifest_sha256"));
    /* the SBOMs, the provenance and the artifacts asked for */
    bool *want = xcalloc(n ? n : 1, sizeof *want);
    size_t nwant = 0, nart = json_array_size(json_object_get(m, "artifacts"));
    for (size_t k = 0; r == 0 && k + 1 < n; k++) {
        json_t *a = k < nart ? json_array_get(json_object_get(m, "artifacts"), k) : NULL;
        want[k] = !a || !artifact || streq(jstr(a, "kind"), artifact);
        nwant += a && want[k];
    }
    if (r == 0 && artifact && !nwant) r = err_setf(reterr, -ENOENT, "%s %s has no %s artifact", name, version, artifact);
    for (size_t k = 0; k + 1 < n && r == 0; k++) {
        if (!want[k]) continue;
        _cleanup_free_ char *p = path_join(src, v[k].name);
        _cleanup_free_ char *s = xasprintf("%s.minisig", p);
        if ((r = copy_file(p, tmp, v[k].max, true, reterr)) == 0) r = copy_file(s, tmp, MS_SIG_MAX, true, reterr);
    }
    if (r == 0) r = check_parallel(tmp, v, n - 1, want, keys, nkeys, "the signed manifest", reterr);
    if (r < 0) name_source(reterr, tmp, src);
    /* every file verified: now all of them move in, or none */
    char **names = xcalloc(2 * n + 1, sizeof *names);
    size_t nn = 0;
    for (size_t k = 0; k < n && r == 0; k++) {
        if (k + 1 < n && !want[k]) continue;
        names[nn++] = xstrdup(v[k].name);
        names[nn++] = xasprintf("%s.minisig", v[k].name);
    }
    if (r == 0) r = gallery_move_all(tmp, out_dir, (const char *const *)names, nn, force, wrote, reterr);
    for (size_t k = 0; k < n && r == 0 && g->pulled; k++) {
        if (k + 1 < n && !want[k]) continue;
        _cleanup_free_ char *p = path_join(out_dir, v[k].name);
        if (stat(p, &st) == 0) g->pulled(g->pulled_ctx, v[k].name, (uint64_t)st.st_size);
    }
    rm_rf(tmp);
    if (r < 0 && !*wrote && created) remove_created(out_dir, created);
    strv_free(names, nn);
    free(want);
    free(mf.name);
    free(mf.expect);
    json_decref(m);
    vfiles_free(v, n);
    return r;
}
