/* kiln publish PREFIX --gallery DIR -k KEY --channel C --run RUN-DIR
 * kiln gallery init|trust|list|show|pull ... --gallery DIR */
#include <limits.h>
#include <time.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "gallery/gallery.h"
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

static struct gallery *open_gallery(const char *dir, const char *verb)
{
    if (!dir) dir = getenv("KILN_GALLERY");
    if (!dir) {
        fprintf(stderr, "kiln %s: which gallery? pass --gallery DIR (or set KILN_GALLERY)\n", verb);
        return NULL;
    }
    struct diags d = {0};
    struct gallery *g = NULL;
    char *err = NULL;
    if (gallery_open(dir, &g, &d, &err) < 0) {
        diags_print(&d, stderr);
        fprintf(stderr, "kiln %s: %s\n", verb, err);
    }
    diags_free(&d);
    free(err);
    return g;
}

int cmd_publish(int argc, char **argv)
{
    struct publish_req q = {.channel = "stable", .support_days = -1};
    const char *gdir = NULL, *keyfile = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--gallery") && i + 1 < argc) gdir = argv[++i];
        else if ((streq(argv[i], "-k") || streq(argv[i], "--key")) && i + 1 < argc) keyfile = argv[++i];
        else if (streq(argv[i], "--channel") && i + 1 < argc) q.channel = argv[++i];
        else if (streq(argv[i], "--run") && i + 1 < argc) q.run_dir = argv[++i];
        else if (streq(argv[i], "--support-days") && i + 1 < argc) {
            if (!cmd_opt_long("publish", argv[i], argv[i + 1], 0, 100000, &q.support_days)) return EXIT_USAGE;
            i++;
        } else if (argv[i][0] == '-' || q.prefix) goto usage;
        else q.prefix = argv[i];
    }
    if (!q.prefix || !keyfile) goto usage;
    struct gallery *g = open_gallery(gdir, "publish");
    if (!g) return EXIT_FAIL;
    struct ms_seckey *key = load_key(keyfile, "publish");
    if (!key) {
        gallery_free(g);
        return EXIT_FAIL;
    }
    char *state = gallery_state_path();
    g->state = state;
    char *err = NULL;
    int r = gallery_publish(g, &q, key, &err);
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
usage:
    fprintf(stderr, "usage: kiln publish OUT/NAME-VERSION --gallery DIR -k SECRET.key [--channel stable|beta|dev] "
                    "--run RUN-DIR [--support-days N]\n"
                    "       (-k signs the gallery's entry and index: a key the gallery trusts)\n");
    return EXIT_USAGE;
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

static int gallery_list(json_t *index, const char *name, const char *ch, bool supported, int64_t at)
{
    printf("%-24s %-12s %-16s %-20s %-20s %s\n", "NAME", "VERSION", "CHANNELS", "PUBLISHED", "SUPPORT-END", "STATUS");
    size_t i, shown = 0;
    json_t *e;
    json_array_foreach(json_object_get(index, "images"), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!n || (name && !streq(n, name))) continue;
        struct sbuf chans = {0};
        size_t k;
        json_t *c;
        bool in = !ch;
        json_array_foreach(json_object_get(e, "channels"), k, c) {
            sbuf_printf(&chans, "%s%s", k ? "," : "", json_string_value(c));
            in |= ch && streq(json_string_value(c), ch);
        }
        const char *end = json_string_value(json_object_get(e, "support_end"));
        bool live = parse_utc(end) > at;
        if (in && (live || !supported)) {
            printf("%-24s %-12s %-16s %-20s %-20s %s\n", n, json_string_value(json_object_get(e, "version")), chans.s,
                   json_string_value(json_object_get(e, "published")), end, live ? "supported" : "end of support");
            shown++;
        }
        sbuf_free(&chans);
    }
    if (!shown) printf("(nothing published%s)\n", supported ? " that is still supported" : "");
    printf("(index serial %lld, %s, signed by key %s)\n", (long long)json_integer_value(json_object_get(index, "serial")),
           json_string_value(json_object_get(index, "file")), json_string_value(json_object_get(index, "signed_by")));
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

int cmd_gallery(int argc, char **argv)
{
    if (argc < 2) goto usage;
    const char *sub = argv[1], *gdir = NULL, *ch = NULL, *ref = NULL, *out = ".", *artifact = NULL, *keyfile = NULL;
    const char *keys[16], *areas[16];
    size_t nkeys = 0, nareas = 0;
    long prio = 1;
    bool supported = false, force = false;
    int64_t at = wall_s();
    uint64_t min_serial = 0;
    for (int i = 2; i < argc; i++) {
        if (streq(argv[i], "--gallery") && i + 1 < argc) gdir = argv[++i];
        else if (streq(argv[i], "--channel") && i + 1 < argc) ch = argv[++i];
        else if ((streq(argv[i], "--trust") || streq(argv[i], "-p")) && i + 1 < argc && nkeys < ARRAY_SIZE(keys))
            keys[nkeys++] = argv[++i];
        else if ((streq(argv[i], "-k") || streq(argv[i], "--key")) && i + 1 < argc) keyfile = argv[++i];
        else if (streq(argv[i], "--require-area") && i + 1 < argc && nareas < ARRAY_SIZE(areas)) areas[nareas++] = argv[++i];
        else if (streq(argv[i], "--require-priority") && i + 1 < argc) {
            if (!cmd_opt_long("gallery", argv[i], argv[i + 1], -1, 5, &prio)) return EXIT_USAGE;
            i++;
        } else if (streq(argv[i], "--min-serial") && i + 1 < argc) {
            long v;
            if (!cmd_opt_long("gallery", argv[i], argv[i + 1], 0, LONG_MAX, &v)) return EXIT_USAGE;
            i++;
            min_serial = (uint64_t)v;
        } else if (streq(argv[i], "--supported")) supported = true;
        else if (streq(argv[i], "--force")) force = true;
        else if (streq(argv[i], "--at") && i + 1 < argc) {
            if (!parse_date(argv[++i], &at)) {
                fprintf(stderr, "kiln gallery: --at takes a date like 2027-01-31\n");
                return EXIT_USAGE;
            }
        } else if ((streq(argv[i], "--out") || streq(argv[i], "-o")) && i + 1 < argc) out = argv[++i];
        else if (streq(argv[i], "--artifact") && i + 1 < argc) artifact = argv[++i];
        else if (argv[i][0] == '-' || ref) goto usage;
        else ref = argv[i];
    }
    if (!gdir) gdir = getenv("KILN_GALLERY");
    char *err = NULL;
    if (streq(sub, "init")) {
        if (!gdir || !keyfile) goto usage;
        struct ms_seckey *key = load_key(keyfile, "gallery init");
        if (!key) return EXIT_FAIL;
        int r = gallery_init(gdir, keys, nkeys, key, prio, areas, nareas, &err);
        ms_seckey_free(key);
        if (r < 0) {
            fprintf(stderr, "kiln gallery init: %s\n", err);
            free(err);
            return EXIT_FAIL;
        }
        printf("kiln gallery: %s set up, trusting %zu key(s); policy in %s/gallery.yml\n", gdir, nkeys, gdir);
        return EXIT_OK;
    }
    if (streq(sub, "trust")) {
        if (!gdir || !ref) goto usage;
        char id[17];
        if (gallery_trust(gdir, ref, id, &err) < 0) {
            fprintf(stderr, "kiln gallery trust: %s\n", err);
            free(err);
            return EXIT_FAIL;
        }
        printf("kiln gallery: key %s trusted (keys/%s.pub); keys trusted before stay trusted\n", id, id);
        return EXIT_OK;
    }
    bool list = streq(sub, "list"), show = streq(sub, "show") && ref, pull = streq(sub, "pull") && ref;
    if (!list && !show && !pull) goto usage;
    struct gallery *g = open_gallery(gdir, "gallery");
    if (!g) return EXIT_FAIL;
    char *state = gallery_state_path();
    g->state = state;
    g->pin_keys = keys;
    g->npin = nkeys;
    g->min_serial = min_serial;
    int rc = EXIT_OK;
    json_t *index = NULL, *e = NULL;
    if (gallery_load(g, &index, &err) < 0) {
        fprintf(stderr, "kiln gallery %s: the gallery's catalog does not verify: %s\n", sub, err);
        rc = EXIT_FAIL;
    } else if (list) {
        rc = gallery_list(index, ref, ch, supported, at);
    } else if (!(e = find(g, index, ref, ch, sub))) {
        rc = EXIT_FAIL;
    } else if (show) {
        if (gallery_check_run(g, e, &err) < 0) {
            fprintf(stderr, "kiln gallery show: %s\n", err);
            rc = EXIT_FAIL;
        } else {
            json_dumpf(e, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
        }
    } else {
        bool wrote = false;
        if (gallery_pull(g, e, artifact, out, force, &wrote, &err) < 0) {
            if (wrote) fprintf(stderr, "kiln gallery pull: failed, and %s was left changed: %s\n", out, err);
            else fprintf(stderr, "kiln gallery pull: refused, nothing written: %s\n", err);
            rc = EXIT_FAIL;
        } else
            printf("kiln gallery pull: %s %s verified (signatures and digests) into %s\n",
                   json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "version")), out);
    }
    free(err);
    free(state);
    json_decref(index);
    gallery_free(g);
    return rc;
usage:
    fprintf(stderr,
            "usage: kiln gallery init --gallery DIR --trust KEY.pub -k SECRET.key [--require-priority N] [--require-area AREA]...\n"
            "                         (-k signs the gallery's first index: the secret half of a --trust key)\n"
            "       kiln gallery trust KEY.pub --gallery DIR            (key rotation: old keys stay trusted)\n"
            "       kiln gallery list [NAME] --gallery DIR [--channel C] [--supported] [--at YYYY-MM-DD]\n"
            "       kiln gallery show NAME[@VERSION] --gallery DIR [--channel C]\n"
            "       kiln gallery pull NAME[@VERSION] --gallery DIR [--channel C] [--artifact qcow2|raw|vhd-fixed|vhd]\n"
            "                         [--out DIR] [--force]   (every file verified before any is written; all or none)\n"
            "       list, show, pull: [-p KEY.pub]... verify with these keys instead of the gallery's keys/;\n"
            "                         [--min-serial N] refuse an index older than N (each client also remembers\n"
            "                         the newest serial it saw of each gallery and refuses to go back)\n");
    return EXIT_USAGE;
}
