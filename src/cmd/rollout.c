/* kiln rollout: the update server's rollout policy per image and channel (src/update/policy.h),
 * in the service's store directly, as kiln tenant does (--data DIR or --db URL). */
#include <errno.h>
#include <jansson.h>
#include <time.h>

#include "cmd/common.h"
#include "gallery/catalog.h"
#include "gallery/gallery.h"
#include "service/store.h"
#include "util/util.h"

static void utc(char buf[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *status_json(const struct kiln_rollout_status *s)
{
    const struct rollout_policy *p = &s->rollout.p;
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(s->rollout.name));
    json_object_set_new(j, "channel", json_string(s->rollout.channel));
    if (s->has_rollout) {
        json_t *floors = json_array(), *pins = json_object();
        for (size_t i = 0; i < p->nfloors; i++) json_array_append_new(floors, json_string(p->floors[i]));
        for (size_t i = 0; i < p->npins; i++) json_object_set_new(pins, p->pins[i].group, json_string(p->pins[i].version));
        json_object_set_new(j, "policy", json_pack("{s:b, s:s, s:f, s:i, s:I, s:i, s:i, s:o, s:o}", "enabled", p->enabled, "target",
                                                   p->target, "percent", p->permyriad / 100.0, "max_per_period", p->max_per_period,
                                                   "period_s", (json_int_t)(p->period_ms / 1000), "max_inflight", p->max_inflight,
                                                   "pause_after_failures", p->pause_after_failures, "floors", floors, "pins", pins));
        json_object_set_new(j, "paused", json_boolean(p->paused));
        json_object_set_new(j, "pause_reason", p->paused ? json_string(p->pause_reason) : json_null());
    } else {
        json_object_set_new(j, "policy", json_null());
        json_object_set_new(j, "paused", json_false());
        json_object_set_new(j, "pause_reason", json_null());
    }
    json_object_set_new(j, "machines", json_integer(s->machines));
    json_object_set_new(j, "inflight", json_integer(s->inflight));
    json_t *v = json_object();
    for (size_t i = 0; i < s->nversions; i++) json_object_set_new(v, s->versions[i].version, json_integer(s->versions[i].machines));
    json_object_set_new(j, "versions", v);
    json_t *f = json_array();
    for (size_t i = 0; i < s->nfailures; i++) {
        const struct kiln_update_failure *x = &s->failures[i];
        char at[32];
        utc(at, x->at_ms);
        json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "machine", x->machine_id, "version", x->version,
                                           "target", x->target, "eventtype", x->type,
                                           "errorcode", x->has_errorcode ? json_integer(x->errorcode) : json_null(), "at", at));
    }
    json_object_set_new(j, "failures", f);
    json_t *l = json_array();
    for (size_t i = 0; i < s->nlog; i++) {
        char at[32];
        utc(at, s->log[i].at_ms);
        json_array_append_new(l, json_pack("{s:s, s:s}", "at", at, "what", s->log[i].what));
    }
    json_object_set_new(j, "history", l);
    return j;
}

static void status_print(const struct kiln_rollout_status *s)
{
    const struct rollout_policy *p = &s->rollout.p;
    if (!s->has_rollout) printf("%s %s: no rollout set\n", s->rollout.name, s->rollout.channel);
    else {
        printf("%s %s: target %s at %d.%02d %%%s%s\n", s->rollout.name, s->rollout.channel, p->target, p->permyriad / 100,
               p->permyriad % 100, p->enabled ? "" : ", updates disabled", p->paused ? ", PAUSED" : "");
        if (p->paused) printf("  paused: %s\n", p->pause_reason);
        printf("  limits: %d per %lld s (0: none), %d in flight (0: none), pause after %d failures (0: never)\n",
               p->max_per_period, (long long)(p->period_ms / 1000), p->max_inflight, p->pause_after_failures);
        for (size_t i = 0; i < p->nfloors; i++) printf("  floor: %s\n", p->floors[i]);
        for (size_t i = 0; i < p->npins; i++) printf("  pin: group %s -> %s\n", p->pins[i].group, p->pins[i].version);
    }
    printf("  machines: %d, in flight: %d\n", s->machines, s->inflight);
    for (size_t i = 0; i < s->nversions; i++) printf("    %-24s %d\n", s->versions[i].version[0] ? s->versions[i].version : "(never seen)", s->versions[i].machines);
    printf("  failures since the target was set: %zu\n", s->nfailures);
    for (size_t i = 0; i < s->nfailures && i < 20; i++) {
        char at[32];
        utc(at, s->failures[i].at_ms);
        printf("    %s machine %s on %s (target %s) event %d error code %lld\n", at, s->failures[i].machine_id,
               s->failures[i].version, s->failures[i].target, s->failures[i].type, (long long)s->failures[i].errorcode);
    }
    for (size_t i = 0; i < s->nlog && i < 10; i++) {
        char at[32];
        utc(at, s->log[i].at_ms);
        printf("  %s %s\n", at, s->log[i].what);
    }
}

/* rollout set --gallery DIR: warnings (never refusals: the version may be published after the
 * rollout is set) when the gallery the server offers lacks what the rollout names. */
static void gallery_warn(const char *dir, const struct kiln_rollout *ro)
{
    struct gallery *g = NULL;
    struct diags d = {0};
    char *err = NULL;
    json_t *cat = NULL;
    if (gallery_open(dir, &g, &d, &err) < 0 || gallery_load(g, &cat, &err) < 0) {
        fprintf(stderr, "kiln rollout set: warning: --gallery %s cannot be read, nothing was checked against it: %s\n", dir,
                err ? err : d.n ? d.v[0].msg : "see its gallery.yml");
    } else {
        bool name = false, channel = false;
        const char *want[1 + ROLLOUT_FLOORS_MAX + ROLLOUT_PINS_MAX];
        size_t nwant = 0;
        want[nwant++] = ro->p.target;
        for (size_t i = 0; i < ro->p.nfloors; i++) want[nwant++] = ro->p.floors[i];
        for (size_t i = 0; i < ro->p.npins; i++) want[nwant++] = ro->p.pins[i].version;
        bool found[sizeof(want) / sizeof(*want)] = {0};
        size_t i, k;
        json_t *e, *c;
        json_array_foreach(json_object_get(cat, "images"), i, e) {
            if (!streq(json_string_value(json_object_get(e, "name")), ro->name)) continue;
            name = true;
            bool in = false;
            json_array_foreach(json_object_get(e, "channels"), k, c) in |= streq(json_string_value(c), ro->channel);
            if (!in) continue;
            channel = true;
            for (size_t w = 0; w < nwant; w++) found[w] |= streq(json_string_value(json_object_get(e, "version")), want[w]);
        }
        if (!name) fprintf(stderr, "kiln rollout set: warning: the gallery %s has no image %s: no machine is offered anything until it is published\n", dir, ro->name);
        else if (!channel) fprintf(stderr, "kiln rollout set: warning: the gallery %s has no version of %s in channel %s\n", dir, ro->name, ro->channel);
        else
            for (size_t w = 0; w < nwant; w++)
                if (!found[w])
                    fprintf(stderr, "kiln rollout set: warning: %s %s is not published in channel %s of %s: it is not offered until it is\n",
                            ro->name, want[w], ro->channel, dir);
    }
    json_decref(cat);
    gallery_free(g);
    diags_free(&d);
    free(err);
}

/* What an option's value is, for "needs a value: ..." */
static const char *opt_what(const char *opt)
{
    static const struct { const char *opt, *what; } t[] = {
        {"--data", "the directory of the service's state"}, {"--db", "sqlite:PATH or a postgresql:// URI"},
        {"--gallery", "the gallery kiln serve offers"}, {"--reason", "why, in a few words"},
        {"--version", "the target version"}, {"--percent", "0 to 100"}, {"--floor", "a version below the target"},
        {"--pin", "GROUP=VERSION"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
        if (streq(opt, t[i].opt)) return t[i].what;
    return "a whole number, 0 for no limit";
}

int cmd_rollout(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *name = NULL, *channel = NULL, *reason = NULL, *machine = NULL, *gallery = NULL;
    const char *verb = argc > 1 ? argv[1] : "";
    const char *seen_version = NULL, *seen_percent = NULL, *seen_max = NULL, *seen_inflight = NULL, *seen_pause = NULL;
    bool json = false;
    /* declared before the first goto usage: the cleanup runs on that path too */
    _cleanup_free_ char *cmdname = NULL;
    struct kiln_rollout ro;
    memset(&ro, 0, sizeof(ro));
    struct rollout_policy *p = &ro.p;
    p->enabled = true;
    p->permyriad = -1;
    p->period_ms = 3600 * 1000;
    long v;
    char why[ROLLOUT_REASON_MAX];
    bool set = streq(verb, "set");
    if (!set && !streq(verb, "status") && !streq(verb, "pause") && !streq(verb, "resume") && !streq(verb, "group")) goto usage;
    cmdname = xasprintf("rollout %s", verb);
    static const char *const set_only[] = {"--version", "--percent", "--max-per-hour", "--max-inflight", "--pause-after-failures",
                                           "--floor", "--pin", "--disable", "--gallery", NULL};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        bool valued = !streq(a, "--json") && !streq(a, "--disable") && a[0] == '-';
        for (const char *const *o = set_only; *o && !set; o++)
            if (streq(a, *o)) {
                fprintf(stderr, "kiln rollout %s: %s belongs to kiln rollout set\n", verb, a);
                return EXIT_USAGE;
            }
        if (streq(a, "--reason") && !streq(verb, "pause")) {
            fprintf(stderr, "kiln rollout %s: --reason belongs to kiln rollout pause\n", verb);
            return EXIT_USAGE;
        }
        if (valued && !(streq(a, "--data") || streq(a, "--db") || streq(a, "--reason") || streq(a, "--version") ||
                         streq(a, "--percent") || streq(a, "--max-per-hour") || streq(a, "--max-inflight") ||
                         streq(a, "--pause-after-failures") || streq(a, "--floor") || streq(a, "--pin") || streq(a, "--gallery")))
            return cmd_opt_unknown(cmdname, a,
                                   "--data DIR, --db URL, --json; for set: --version V, --percent P, --max-per-hour N, --max-inflight N, "
                                   "--pause-after-failures N, --floor V, --pin GROUP=V, --disable, --gallery DIR; for pause: --reason TEXT");
        if (valued && !(val = cmd_opt_value(cmdname, argc, argv, &i, opt_what(a)))) return EXIT_USAGE;
        if (streq(a, "--data")) {
            if (!cmd_opt_once(cmdname, a, &data, val)) return EXIT_USAGE;
        } else if (streq(a, "--db")) {
            if (!cmd_opt_once(cmdname, a, &db, val)) return EXIT_USAGE;
        } else if (streq(a, "--gallery")) {
            if (!cmd_opt_once(cmdname, a, &gallery, val)) return EXIT_USAGE;
        } else if (streq(a, "--reason")) {
            if (!cmd_opt_once(cmdname, a, &reason, val)) return EXIT_USAGE;
        } else if (streq(a, "--json")) json = true;
        else if (streq(a, "--disable")) p->enabled = false;
        else if (streq(a, "--version")) {
            if (!cmd_opt_once(cmdname, a, &seen_version, val)) return EXIT_USAGE;
            if (!rollout_version_ok(val)) {
                fprintf(stderr, "kiln rollout set: --version %.80s%s: want a version: at most %d of A-Z a-z 0-9 . _ + ~ -, starting with a "
                                "letter or digit, no run of more than %d digits\n",
                        val, strlen(val) > 80 ? "..." : "", ROLLOUT_TARGET_MAX, ROLLOUT_DIGITS_MAX);
                return EXIT_USAGE;
            }
            snprintf(p->target, sizeof(p->target), "%s", val);
        } else if (streq(a, "--percent")) {
            if (!cmd_opt_once(cmdname, a, &seen_percent, val)) return EXIT_USAGE;
            if (rollout_parse_percent(val, &p->permyriad) < 0) {
                fprintf(stderr, "kiln rollout set: --percent %s: want 0 to 100 with at most two decimals (10, 2.5, 0.25)\n", val);
                return EXIT_USAGE;
            }
        } else if (streq(a, "--max-per-hour") || streq(a, "--max-inflight") || streq(a, "--pause-after-failures")) {
            const char **seen = streq(a, "--max-per-hour") ? &seen_max : streq(a, "--max-inflight") ? &seen_inflight : &seen_pause;
            if (!cmd_opt_once(cmdname, a, seen, val) || !cmd_opt_long(cmdname, a, val, 0, 1000000, &v)) return EXIT_USAGE;
            *(streq(a, "--max-per-hour") ? &p->max_per_period : streq(a, "--max-inflight") ? &p->max_inflight : &p->pause_after_failures) = (int)v;
        } else if (streq(a, "--floor")) {
            if (p->nfloors == ROLLOUT_FLOORS_MAX) {
                fprintf(stderr, "kiln rollout set: --floor %s: at most %d floors\n", val, ROLLOUT_FLOORS_MAX);
                return EXIT_USAGE;
            }
            if (!rollout_version_ok(val)) {
                fprintf(stderr, "kiln rollout set: --floor %.80s: want a version (as --version)\n", val);
                return EXIT_USAGE;
            }
            snprintf(p->floors[p->nfloors++], sizeof(p->floors[0]), "%s", val);
        } else if (streq(a, "--pin")) {
            if (p->npins == ROLLOUT_PINS_MAX) {
                fprintf(stderr, "kiln rollout set: --pin %s: at most %d pins\n", val, ROLLOUT_PINS_MAX);
                return EXIT_USAGE;
            }
            if (rollout_parse_pin(val, &p->pins[p->npins], why, sizeof(why)) < 0) {
                fprintf(stderr, "kiln rollout set: --pin %s: %s\n", val, why);
                return EXIT_USAGE;
            }
            p->npins++;
        } else if (!name) name = a;
        else if (!channel) channel = a;
        else if (streq(verb, "group") && !machine) machine = a;
        else {
            fprintf(stderr, "kiln rollout %s: unexpected argument %s (the arguments are NAME CHANNEL%s)\n", verb, a,
                    streq(verb, "group") ? " MACHINE-ID" : "");
            return EXIT_USAGE;
        }
    }
    if (!name || !channel) goto usage;
    if (!catalog_safe_name(name)) {
        fprintf(stderr, "kiln rollout %s: %s is not an image name (letters, digits, '.', '_', '+', '~', '-')\n", verb, name);
        return EXIT_USAGE;
    }
    if (set && (!seen_version || !seen_percent)) {
        fprintf(stderr, "kiln rollout set: --version V and --percent P are needed\n");
        return EXIT_USAGE;
    }
    if (streq(verb, "group") && !machine) goto usage;
    snprintf(ro.name, sizeof(ro.name), "%s", name);
    snprintf(ro.channel, sizeof(ro.channel), "%s", channel);
    /* contradictions are refused before the database is touched */
    if (set && rollout_policy_check(p, why, sizeof(why)) < 0) {
        fprintf(stderr, "kiln rollout set: %s\n", why);
        return EXIT_USAGE;
    }
    struct kiln_store *st = NULL;
    int r = cmd_store_open(cmdname, data, db, false, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    if (set && gallery) gallery_warn(gallery, &ro);
    char *err = NULL;
    int rc = EXIT_OK;
    if (set) r = kiln_store_rollout_set(st, &ro, &err);
    else if (streq(verb, "pause")) r = kiln_store_rollout_pause(st, name, channel, true, reason, &err);
    else if (streq(verb, "resume")) r = kiln_store_rollout_pause(st, name, channel, false, NULL, &err);
    /* "group NAME GROUP MACHINE": the machine's group for pins */
    else if (streq(verb, "group")) r = kiln_store_machine_group(st, name, machine, channel, &err);
    if (r < 0) {
        fprintf(stderr, "kiln rollout %s: %s\n", verb, err ? err : strerror(-r));
        rc = r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    } else if (!streq(verb, "group")) {
        struct kiln_rollout_status s;
        if ((r = kiln_store_rollout_status(st, name, channel, &s, &err)) < 0) {
            fprintf(stderr, "kiln rollout status: %s\n", err ? err : strerror(-r));
            rc = EXIT_FAIL;
        } else {
            snprintf(s.rollout.name, sizeof(s.rollout.name), "%s", name);
            snprintf(s.rollout.channel, sizeof(s.rollout.channel), "%s", channel);
            if (json) {
                json_t *j = status_json(&s);
                char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
                printf("%s\n", text);
                free(text);
                json_decref(j);
            } else status_print(&s);
            /* a status of nothing (a mistyped name or channel) is not a success */
            if (!s.has_rollout) {
                fprintf(stderr, "kiln rollout status: no rollout is set for %s in channel %s\n", name, channel);
                rc = EXIT_FAIL;
            }
            kiln_rollout_status_free(&s);
        }
    } else printf("%s: machine %s is in group %s\n", name, machine, channel);
    free(err);
    kiln_store_close(st);
    return rc;
usage:
    fprintf(stderr,
            "usage: kiln rollout set NAME CHANNEL --version V --percent P [--max-per-hour N] [--max-inflight N]\n"
            "                        [--pause-after-failures N] [--floor V]... [--pin GROUP=V]... [--disable] [--gallery DIR]\n"
            "       kiln rollout status NAME CHANNEL [--json]      (exit 1 when no rollout is set)\n"
            "       kiln rollout pause NAME CHANNEL [--reason TEXT] | kiln rollout resume NAME CHANNEL\n"
            "       kiln rollout group NAME GROUP MACHINE-ID      (pins apply per group)\n"
            "  each with --data DIR or --db URL (or $KILN_DB), the database kiln serve uses (it must exist).\n"
            "  P: 0-100 with at most two decimals, each machine's place stable (SHA-256 of machine id and version);\n"
            "  N: a whole number, 0 for no limit. A floor is below V and given once; a group is pinned once.\n"
            "  --gallery: the gallery kiln serve offers, to warn when it lacks the name, channel or versions.\n");
    return EXIT_USAGE;
}
