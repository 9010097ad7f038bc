/* kiln publish PREFIX --gallery DIR --channel C --run RUN-DIR
 * kiln gallery init|trust|list|show|pull ... --gallery DIR */
#include <time.h>

#include "cmd/common.h"
#include "gallery/gallery.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"

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
    const char *gdir = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--gallery") && i + 1 < argc) gdir = argv[++i];
        else if (streq(argv[i], "--channel") && i + 1 < argc) q.channel = argv[++i];
        else if (streq(argv[i], "--run") && i + 1 < argc) q.run_dir = argv[++i];
        else if (streq(argv[i], "--support-days") && i + 1 < argc) {
            if (!parse_long(argv[++i], &q.support_days) || q.support_days < 0) goto usage;
        } else if (argv[i][0] == '-' || q.prefix) goto usage;
        else q.prefix = argv[i];
    }
    if (!q.prefix) goto usage;
    struct gallery *g = open_gallery(gdir, "publish");
    if (!g) return EXIT_FAIL;
    char *err = NULL;
    int r = gallery_publish(g, &q, &err);
    if (r < 0) fprintf(stderr, "kiln publish: refused: %s\n", err);
    else printf("kiln publish: %s published in %s (channel %s)\n", q.prefix, g->dir, q.channel);
    free(err);
    gallery_free(g);
    return r < 0 ? EXIT_FAIL : EXIT_OK;
usage:
    fprintf(stderr, "usage: kiln publish OUT/NAME-VERSION --gallery DIR [--channel stable|beta|dev] --run RUN-DIR "
                    "[--support-days N]\n");
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

static int gallery_list(struct gallery *g, const char *name, const char *ch, bool supported, int64_t at)
{
    json_t *index = gallery_index(g);
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
    json_decref(index);
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
    const char *sub = argv[1], *gdir = NULL, *ch = NULL, *ref = NULL, *out = ".", *artifact = NULL;
    const char *keys[16], *areas[16];
    size_t nkeys = 0, nareas = 0;
    long prio = 1;
    bool supported = false;
    int64_t at = wall_s();
    for (int i = 2; i < argc; i++) {
        if (streq(argv[i], "--gallery") && i + 1 < argc) gdir = argv[++i];
        else if (streq(argv[i], "--channel") && i + 1 < argc) ch = argv[++i];
        else if ((streq(argv[i], "--trust") || streq(argv[i], "-p")) && i + 1 < argc && nkeys < ARRAY_SIZE(keys))
            keys[nkeys++] = argv[++i];
        else if (streq(argv[i], "--require-area") && i + 1 < argc && nareas < ARRAY_SIZE(areas)) areas[nareas++] = argv[++i];
        else if (streq(argv[i], "--require-priority") && i + 1 < argc) {
            if (!parse_long(argv[++i], &prio) || prio < -1 || prio > 5) goto usage;
        } else if (streq(argv[i], "--supported")) supported = true;
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
        if (!gdir) goto usage;
        if (gallery_init(gdir, keys, nkeys, prio, areas, nareas, &err) < 0) {
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
    struct gallery *g = open_gallery(gdir, "gallery");
    if (!g) return EXIT_FAIL;
    int rc = EXIT_OK;
    json_t *index = gallery_index(g);
    if (streq(sub, "list")) {
        rc = gallery_list(g, ref, ch, supported, at);
    } else if (streq(sub, "show") && ref) {
        json_t *e = find(g, index, ref, ch, "show");
        if (!e) rc = EXIT_FAIL;
        else {
            json_dumpf(e, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
        }
    } else if (streq(sub, "pull") && ref) {
        json_t *e = find(g, index, ref, ch ? ch : NULL, "pull");
        if (!e) rc = EXIT_FAIL;
        else if (gallery_pull(g, e, artifact, keys, nkeys, out, &err) < 0) {
            fprintf(stderr, "kiln gallery pull: refused, nothing written: %s\n", err);
            rc = EXIT_FAIL;
        } else
            printf("kiln gallery pull: %s %s verified (signatures and digests) into %s\n",
                   json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "version")), out);
    } else {
        json_decref(index);
        gallery_free(g);
        goto usage;
    }
    free(err);
    json_decref(index);
    gallery_free(g);
    return rc;
usage:
    fprintf(stderr,
            "usage: kiln gallery init --gallery DIR --trust KEY.pub [--require-priority N] [--require-area AREA]...\n"
            "       kiln gallery trust KEY.pub --gallery DIR            (key rotation: old keys stay trusted)\n"
            "       kiln gallery list [NAME] --gallery DIR [--channel C] [--supported] [--at YYYY-MM-DD]\n"
            "       kiln gallery show NAME[@VERSION] --gallery DIR [--channel C]\n"
            "       kiln gallery pull NAME[@VERSION] --gallery DIR [--channel C] [--artifact qcow2|raw|vhd-fixed|vhd]\n"
            "                         [--out DIR] [-p KEY.pub]...   (every file verified before any is written)\n");
    return EXIT_USAGE;
}
