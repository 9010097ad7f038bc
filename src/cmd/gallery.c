/* kiln publish PREFIX --gallery DIR -k KEY --channel C --run RUN-DIR
 * kiln gallery init|trust|list|show|pull ... --gallery DIR */
#include <errno.h>
#include <limits.h>
#include <time.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "gallery/catalog.h"
#include "gallery/gallery.h"
#include "util/progress.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

/* The secret key that signs the gallery's catalog, its passphrase asked for when encrypted. */
static struct ms_seckey *load_key(const char *path, const char *verb)
{
    char *pass = NULL, *err = NULL;
    if (ms_key_encrypted(path) && !(pass = passphrase_read("Passphrase: ", false))) {
        fprintf(stderr, "kiln %s: %s is encrypted and there is no passphrase (no terminal, KILN_PASSPHRASE unset)\n", verb,
                path);
        return NULL;
    }
    if (pass) secret_add(pass);
    struct ms_seckey *k = NULL;
    if (ms_seckey_load(path, pass, &k, &err) < 0) fprintf(stderr, "kiln %s: %s\n", verb, err);
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    free(err);
    return k;
}

/* $KILN_GALLERY, NULL when unset or empty (an empty path would be the current directory). */
static const char *env_gallery(void)
{
    const char *g = getenv("KILN_GALLERY");
    return g && *g ? g : NULL;
}

/* The gallery, or NULL after saying why with the exit status in *rc: 2 when none is named or
 * dir holds no gallery (a missing input), 1 when it is there but damaged. */
static struct gallery *open_gallery(const char *dir, const char *verb, int *rc)
{
    if (!dir) dir = env_gallery();
    if (!dir) {
        *rc = cmd_usage_error(verb, "which gallery? pass --gallery DIR (or set KILN_GALLERY)");
        return NULL;
    }
    struct diags d = {0};
    struct gallery *g = NULL;
    char *err = NULL;
    int r = gallery_open(dir, &g, &d, &err);
    if (r < 0) {
        diags_print(&d, stderr);
        fprintf(stderr, "kiln %s: %s\n", verb, err);
        *rc = r == -ENOENT ? EXIT_USAGE : EXIT_FAIL;
    }
    diags_free(&d);
    free(err);
    return g;
}

/* kiln publish: each file as it is copied in, on stderr: on a terminal one line rewritten
 * (the count, the sum, the file), otherwise a line per file; the sums for the last line. */
struct publish_count {
    bool tty;
    size_t files;
    uint64_t bytes;
};

static void publish_line(void *ctx, const char *name, uint64_t bytes)
{
    struct publish_count *c = ctx;
    c->files++, c->bytes += bytes;
    if (c->tty)
        fprintf(stderr, "\r\033[Kkiln publish: %zu files, %llu bytes: %s", c->files, (unsigned long long)c->bytes, name);
    else
        fprintf(stderr, "kiln publish: %s (%llu bytes)\n", name, (unsigned long long)bytes);
}

int cmd_publish(int argc, char **argv)
{
    struct publish_req q = {.channel = "stable", .support_days = -1};
    const char *gdir = NULL, *keyfile = NULL;
    const struct cmd_opt opts[] = {
        {0, "gallery", "DIR", CMD_STR, &gdir, .help = "the gallery (default: $KILN_GALLERY)"},
        {'k', "key", "SECRET.key", CMD_STR, &keyfile, .help = "signs the gallery's entry and index: a key the gallery trusts"},
        {0, "channel", "C", CMD_STR, &q.channel, .help = "stable (default), beta, dev or another the gallery defines"},
        {0, "run", "RUN-DIR", CMD_STR, &q.run_dir, .help = "the validation run of this version (kiln run's directory)"},
        {0, "support-days", "N", CMD_LONG, &q.support_days, 0, 36500,
         .help = "days of support from today (default: the channel's)"},
        {0},
    };
    const struct cmd_verb v = {
        "publish", "OUT/NAME-VERSION --gallery DIR -k SECRET.key [--channel C] --run RUN-DIR [--support-days N]",
        "Publishes the version kiln build wrote as OUT/NAME-VERSION.* into a gallery, only if every\n"
        "file is signed by a trusted key, digests, SBOMs and provenance agree, the run passed the\n"
        "gallery's required selection and the version is newer than the channel's (docs/trust.md).",
        opts, 1, 1, "OUT/NAME-VERSION",
        .exits = "0 published, 1 refused (what failed is named; nothing is left in the gallery),\n"
                 "2 usage, no gallery at DIR, a missing key file",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    q.prefix = argv[1];
    if (!keyfile) return cmd_usage_error("publish", "-k SECRET.key is needed: it signs the gallery's entry and index");
    _cleanup_free_ char *manifest = xasprintf("%s.manifest.json", q.prefix);
    if ((rc = cmd_input("publish", manifest, "pass OUT/NAME-VERSION of a version kiln build wrote")) ||
        (rc = cmd_input("publish", keyfile, "pass the key file kiln keygen wrote")))
        return rc;
    struct gallery *g = open_gallery(gdir, "publish", &rc);
    if (!g) return rc;
    struct ms_seckey *key = load_key(keyfile, "publish");
    if (!key) {
        gallery_free(g);
        return EXIT_FAIL;
    }
    char *state = gallery_state_path();
    g->state = state;
    char *err = NULL;
    struct publish_count pc = {.tty = progress_live_ok(2)};
    g->staged = publish_line, g->staged_ctx = &pc;
    int r = gallery_publish(g, &q, key, &err);
    if (pc.tty && pc.files) fputc('\n', stderr);
    if (pc.files) fprintf(stderr, "kiln publish: %zu files, %llu bytes copied\n", pc.files, (unsigned long long)pc.bytes);
    if (r < 0) fprintf(stderr, "kiln publish: refused: %s\n", err);
    else {
        printf("kiln publish: %s published in %s (channel %s)\n", q.prefix, g->dir, q.channel);
        if (err) fprintf(stderr, "kiln publish: warning: %s\n", err);
    }
    free(err);
    free(state);
    ms_seckey_free(key);
    gallery_free(g);
    return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* "2027-01-31" or "2027-01-31T00:00:00Z" → unix time. */
static bool parse_date(const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end) return false;
    if (*end == 'T') end = strptime(end, "T%H:%M:%SZ", &tm);
    if (!end || *end) return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

static int64_t parse_utc(const char *s)
{
    int64_t t = 0;
    return s && parse_date(s, &t) ? t : 0;
}

/* The versions list shows: {name, version, channels, published, support_end, supported}. */
static json_t *list_rows(json_t *index, const char *name, const char *ch, bool supported, int64_t at)
{
    json_t *rows = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(index, "images"), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!n || (name && !streq(n, name))) continue;
        size_t k;
        json_t *c;
        bool in = !ch;
        json_array_foreach(json_object_get(e, "channels"), k, c) in |= ch && streq(json_string_value(c), ch);
        const char *end = json_string_value(json_object_get(e, "support_end"));
        bool live = parse_utc(end) > at;
        /* arch: null for a version published before the catalog recorded it */
        json_t *arch = json_object_get(e, "arch");
        if (in && (live || !supported))
            json_array_append_new(rows, json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:b}", "name", n, "version",
                                                  json_object_get(e, "version"), "arch", arch ? arch : json_null(), "channels",
                                                  json_object_get(e, "channels"), "published", json_object_get(e, "published"),
                                                  "support_end", json_object_get(e, "support_end"), "supported", live));
    }
    return rows;
}

static int gallery_list(const struct gallery *g, json_t *index, const char *name, const char *ch, bool supported,
                        int64_t at, bool json)
{
    json_t *rows = list_rows(index, name, ch, supported, at);
    if (json) {
        json_t *j = json_pack("{s:s, s:{s:O, s:O, s:O}, s:O}", "gallery", g->dir, "index", "serial",
                              json_object_get(index, "serial"), "file", json_object_get(index, "file"), "signed_by",
                              json_object_get(index, "signed_by"), "images", rows);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
        json_decref(rows);
        return EXIT_OK;
    }
    printf("%-24s %-12s %-16s %-20s %-20s %s\n", "NAME", "VERSION", "CHANNELS", "PUBLISHED", "SUPPORT-END", "STATUS");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        struct sbuf chans = {0};
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(r, "channels"), k, c) sbuf_printf(&chans, "%s%s", k ? "," : "", json_string_value(c));
        printf("%-24s %-12s %-16s %-20s %-20s %s\n", json_string_value(json_object_get(r, "name")),
               json_string_value(json_object_get(r, "version")), chans.s ? chans.s : "",
               json_string_value(json_object_get(r, "published")), json_string_value(json_object_get(r, "support_end")),
               json_is_true(json_object_get(r, "supported")) ? "supported" : "end of support");
        sbuf_free(&chans);
    }
    if (!json_array_size(rows)) printf("(nothing published%s)\n", supported ? " that is still supported" : "");
    printf("(index serial %lld, %s, signed by key %s)\n", (long long)json_integer_value(json_object_get(index, "serial")),
           json_string_value(json_object_get(index, "file")), json_string_value(json_object_get(index, "signed_by")));
    json_decref(rows);
    return EXIT_OK;
}

/* NAME[@VERSION] */
static json_t *find(struct gallery *g, json_t *index, const char *ref, const char *ch, const char *verb)
{
    _cleanup_free_ char *name = xstrdup(ref);
    char *at = strchr(name, '@');
    if (at) *at++ = 0;
    char *err = NULL;
    json_t *e = gallery_find(index, name, at, ch, &err);
    if (!e) fprintf(stderr, "kiln gallery %s: %s (gallery %s)\n", verb, err, g->dir);
    free(err);
    return e;
}

struct gallery_args {
    const char *gdir, *ch, *out, *artifact, *keyfile, *ref;
    struct cmd_strs trust, pins, areas;
    long prio, min_serial;
    bool supported, force, json;
    int64_t at;
};

/* kiln gallery pull: a line on stderr per file pulled, and the sums for the last line. */
struct pull_count {
    size_t files;
    uint64_t bytes;
};

static void pull_line(void *ctx, const char *name, uint64_t bytes)
{
    struct pull_count *c = ctx;
    c->files++, c->bytes += bytes;
    fprintf(stderr, "kiln gallery pull: %s (%llu bytes)\n", name, (unsigned long long)bytes);
}

/* kiln gallery init: a new gallery at gdir trusting a->trust, its first index signed with a->keyfile. */
static int gallery_init_sub(const char *gdir, const struct gallery_args *a)
{
    char *err = NULL;
    int rc;
    if (!gdir) return cmd_usage_error("gallery init", "--gallery DIR is needed: where the gallery goes");
    if (!a->keyfile) return cmd_usage_error("gallery init", "-k SECRET.key is needed: it signs the first index");
    if ((rc = cmd_input("gallery init", a->keyfile, "pass the key file kiln keygen wrote"))) return rc;
    struct ms_seckey *key = load_key(a->keyfile, "gallery init");
    if (!key) return EXIT_FAIL;
    int r = gallery_init(gdir, a->trust.v, a->trust.n, key, a->prio, a->areas.v, a->areas.n, &err);
    ms_seckey_free(key);
    if (r < 0) {
        fprintf(stderr, "kiln gallery init: %s\n", err);
        free(err);
        return EXIT_FAIL;
    }
    printf("kiln gallery: %s set up, trusting %zu key(s); policy in %s/gallery.yml\n", gdir, a->trust.n, gdir);
    return EXIT_OK;
}

/* kiln gallery trust: the gallery at gdir trusts the public key file a->ref too. */
static int gallery_trust_sub(const char *gdir, const struct gallery_args *a)
{
    char *err = NULL;
    int rc;
    if (!gdir) return cmd_usage_error("gallery trust", "--gallery DIR is needed: the gallery that trusts the key");
    if ((rc = cmd_input("gallery trust", a->ref, "pass the .pub file kiln keygen wrote"))) return rc;
    char id[17];
    if (gallery_trust(gdir, a->ref, id, &err) < 0) {
        fprintf(stderr, "kiln gallery trust: %s\n", err);
        free(err);
        return EXIT_FAIL;
    }
    printf("kiln gallery: key %s trusted (keys/%s.pub); keys trusted before stay trusted\n", id, id);
    return EXIT_OK;
}

static int gallery_sub(const char *sub, const struct gallery_args *a)
{
    const char *gdir = a->gdir ? a->gdir : env_gallery();
    char *err = NULL;
    int rc = EXIT_OK;
    if (streq(sub, "init")) return gallery_init_sub(gdir, a);
    if (streq(sub, "trust")) return gallery_trust_sub(gdir, a);
    _cleanup_free_ char *verb = xasprintf("gallery %s", sub);
    /* a name no gallery can hold is a usage error with the rule, not "not published" */
    static const char rule[] = "want 1 to 128 of A-Z a-z 0-9 . _ + ~ -, not starting with '.' or '-', without \"..\"";
    _cleanup_free_ char *rname = a->ref ? xstrdup(a->ref) : NULL;
    char *rver = rname ? strchr(rname, '@') : NULL;
    if (rver) *rver++ = 0;
    if (rname && !catalog_safe_name(rname)) return cmd_usage_error(verb, "image name \"%.128s\": %s", rname, rule);
    if (rver && !catalog_safe_name(rver)) return cmd_usage_error(verb, "version \"%.128s\": %s", rver, rule);
    if (a->ch && !catalog_safe_name(a->ch)) return cmd_usage_error(verb, "channel \"%.128s\": %s", a->ch, rule);
    struct gallery *g = open_gallery(gdir, verb, &rc);
    if (!g) return rc;
    char *state = gallery_state_path();
    g->state = state;
    g->pin_keys = a->pins.v;
    g->npin = a->pins.n;
    g->min_serial = (uint64_t)a->min_serial;
    json_t *index = NULL, *e = NULL;
    if (gallery_load(g, &index, &err) < 0) {
        fprintf(stderr, "kiln gallery %s: the gallery's catalog does not verify: %s\n", sub, err);
        rc = EXIT_FAIL;
    } else if (streq(sub, "list")) {
        rc = gallery_list(g, index, a->ref, a->ch, a->supported, a->at, a->json);
    } else if (!(e = find(g, index, a->ref, a->ch, sub))) {
        rc = EXIT_FAIL;
    } else if (streq(sub, "show")) {
        if (gallery_check_run(g, e, &err) < 0) {
            fprintf(stderr, "kiln gallery show: %s\n", err);
            rc = EXIT_FAIL;
        } else {
            json_dumpf(e, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
        }
    } else {
        bool wrote = false;
        struct pull_count pc = {0};
        g->pulled = pull_line, g->pulled_ctx = &pc;
        if (gallery_pull(g, e, a->artifact, a->out, a->force, &wrote, &err) < 0) {
            if (wrote) fprintf(stderr, "kiln gallery pull: failed, and %s was left changed: %s\n", a->out, err);
            else fprintf(stderr, "kiln gallery pull: refused, nothing written: %s\n", err);
            rc = EXIT_FAIL;
        } else
            printf("kiln gallery pull: %s %s verified (signatures and digests) into %s: %zu files, %llu bytes\n",
                   json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "version")), a->out,
                   pc.files, (unsigned long long)pc.bytes);
    }
    free(err);
    free(state);
    json_decref(index);
    gallery_free(g);
    return rc;
}

static bool take_date(const char *verb, const char *opt, const char *val, void *to)
{
    if (parse_date(val, to)) return true;
    fprintf(stderr, "kiln %s: %s %s: want a date like 2027-01-31 (or 2027-01-31T00:00:00Z)\n", verb, opt, val);
    return false;
}

int cmd_gallery(int argc, char **argv)
{
    struct gallery_args a = {.out = ".", .prio = 1, .at = wall_s()};
    /* the options the subverbs share, then each one's own */
#define GALLERY_OPT {0, "gallery", "DIR", CMD_STR, &a.gdir, .help = "the gallery (default: $KILN_GALLERY)"}
#define CHANNEL_OPT {0, "channel", "C", CMD_STR, &a.ch, .help = "only versions in channel C"}
#define CLIENT_OPTS                                                                                                        \
    {'p', "pubkey", "KEY.pub", CMD_LIST, &a.pins, .help = "verify with these keys instead of the gallery's keys/ (repeatable)"}, \
        {0, "min-serial", "N", CMD_LONG, &a.min_serial, 0, LONG_MAX,                                                          \
         .help = "refuse an index older than N (each client also remembers the newest\nserial it saw and refuses to go back)"}
    const struct cmd_opt init_opts[] = {
        GALLERY_OPT,
        {0, "trust", "KEY.pub", CMD_LIST, &a.trust, .help = "a key whose signatures the gallery accepts (repeatable)"},
        {'k', "key", "SECRET.key", CMD_STR, &a.keyfile, .help = "signs the first index: the secret half of a --trust key"},
        {0, "require-priority", "N", CMD_LONG, &a.prio, -1, 5,
         .help = "a published run must pass the built-in cases up to priority N\n(default 1; -1: no run required)"},
        {0, "require-area", "AREA", CMD_LIST, &a.areas, .help = "... and only those of AREA (repeatable)"},
        {0}};
    const struct cmd_opt trust_opts[] = {GALLERY_OPT, {0}};
    const struct cmd_opt list_opts[] = {
        GALLERY_OPT, CHANNEL_OPT,
        {0, "supported", NULL, CMD_FLAG, &a.supported, .help = "only versions still supported"},
        {0, "at", "YYYY-MM-DD", CMD_FN, &a.at, .fn = take_date, .help = "judge support at this date (default: now)"},
        {0, "json", NULL, CMD_FLAG, &a.json, .help = "the listing as JSON on stdout"},
        CLIENT_OPTS, {0}};
    const struct cmd_opt show_opts[] = {
        GALLERY_OPT, CHANNEL_OPT,
        {0, "json", NULL, CMD_FLAG, &a.json, .help = "the entry as JSON (what show always prints)"},
        CLIENT_OPTS, {0}};
    const struct cmd_opt pull_opts[] = {
        GALLERY_OPT, CHANNEL_OPT,
        {0, "artifact", "A", CMD_STR, &a.artifact, .help = "only this artifact (qcow2, raw, vhd-fixed, vhd, kernel, ...)"},
        {'o', "out", "DIR", CMD_STR, &a.out, .help = "where the files go (default: .)"},
        {0, "force", NULL, CMD_FLAG, &a.force, .help = "replace files of the same name in DIR"},
        CLIENT_OPTS, {0}};
#undef GALLERY_OPT
#undef CHANNEL_OPT
#undef CLIENT_OPTS
    static const char exits[] = "0 done, 1 refused: the catalog, the version or a file does not verify (the\n"
                                "file is named), 2 usage or no gallery at DIR";
    const struct cmd_verb subs[] = {
        {"gallery init", "--gallery DIR --trust KEY.pub -k SECRET.key [--require-priority N] [--require-area AREA]...",
         "Sets up a gallery: its policy (gallery.yml), trusted keys and a first signed index.", init_opts, 0, 0, NULL,
         "0 set up, 1 it could not be written or -k is not a --trust key, 2 usage"},
        {"gallery trust", "KEY.pub --gallery DIR", "Trusts another key (key rotation: the keys trusted before stay trusted).",
         trust_opts, 1, 1, "KEY.pub", "0 trusted, 1 the key could not be read or added, 2 usage"},
        {"gallery list", "[NAME] --gallery DIR [--channel C] [--supported] [--at YYYY-MM-DD] [--json]",
         "Lists the published versions (of NAME) from the verified catalog.", list_opts, 0, 1, "NAME", exits,
         "{\"gallery\": DIR, \"index\": {\"serial\": N, \"file\": PATH, \"signed_by\": KEYID},\n"
         "\"images\": [{\"name\", \"version\", \"channels\": [C], \"published\", \"support_end\", \"supported\": BOOL}]}"},
        {"gallery show", "NAME[@VERSION] --gallery DIR [--channel C] [--json]",
         "Prints a version's verified entry (entry.json with channels, path and digests) as JSON,\n"
         "after checking the validation run kept with it.", show_opts, 1, 1, "NAME[@VERSION]", exits,
         "the entry: {\"name\", \"version\", \"channels\", \"published\", \"support_end\", \"supersedes\",\n"
         "\"artifacts\", \"sbom\", \"run\": {...}, \"path\", \"entry_sha256\", ...} (docs/trust.md)"},
        {"gallery pull", "NAME[@VERSION] --gallery DIR [--channel C] [--artifact A] [--out DIR] [--force]",
         "Copies a version's files into DIR, every file verified before any is written: all or none.", pull_opts, 1, 1,
         "NAME[@VERSION]", exits},
    };
    const struct cmd_verb top = {
        "gallery",
        "init --gallery DIR --trust KEY.pub -k SECRET.key [...]\ntrust KEY.pub --gallery DIR\n"
        "list [NAME] --gallery DIR [...] [--json]\nshow NAME[@VERSION] --gallery DIR [...]\n"
        "pull NAME[@VERSION] --gallery DIR [...] [--out DIR]",
        "A versioned store of signed, validated images (docs/trust.md). `kiln gallery SUB --help`\n"
        "describes each subcommand.", NULL, 1, 1, NULL, exits};
    int n, rc;
    const struct cmd_verb *v = cmd_pick_sub(&top, subs, ARRAY_SIZE(subs), "init, trust, list, show or pull", argc, argv, &rc);
    if (!v) return rc;
    rc = cmd_parse(v, argc - 1, argv + 1, &n);
    if (rc == CMD_GO) {
        a.ref = n ? argv[2] : NULL;
        rc = gallery_sub(v->name + strlen("gallery "), &a);
    }
    free(a.trust.v);
    free(a.pins.v);
    free(a.areas.v);
    return rc;
}
