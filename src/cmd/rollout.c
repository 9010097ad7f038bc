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

/* rollout set's valued options: each checks its value as it is given. */
static bool take_version(const char *verb, const char *opt, const char *val, void *to)
{
    struct rollout_policy *p = to;
    if (!rollout_version_ok(val)) {
        fprintf(stderr, "kiln %s: %s %.80s%s: want a version: at most %d of A-Z a-z 0-9 . _ + ~ -, starting with a letter or "
                        "digit, no run of more than %d digits\n",
                verb, opt, val, strlen(val) > 80 ? "..." : "", ROLLOUT_TARGET_MAX, ROLLOUT_DIGITS_MAX);
        return false;
    }
    snprintf(p->target, sizeof(p->target), "%s", val);
    return true;
}

static bool take_percent(const char *verb, const char *opt, const char *val, void *to)
{
    struct rollout_policy *p = to;
    if (rollout_parse_percent(val, &p->permyriad) < 0) {
        fprintf(stderr, "kiln %s: %s %s: want 0 to 100 with at most two decimals (10, 2.5, 0.25)\n", verb, opt, val);
        return false;
    }
    return true;
}

static bool take_floor(const char *verb, const char *opt, const char *val, void *to)
{
    struct rollout_policy *p = to;
    if (p->nfloors == ROLLOUT_FLOORS_MAX) {
        fprintf(stderr, "kiln %s: %s %s: at most %d floors\n", verb, opt, val, ROLLOUT_FLOORS_MAX);
        return false;
    }
    if (!rollout_version_ok(val)) {
        fprintf(stderr, "kiln %s: %s %.80s: want a version (as --version)\n", verb, opt, val);
        return false;
    }
    snprintf(p->floors[p->nfloors++], sizeof(p->floors[0]), "%s", val);
    return true;
}

static bool take_pin(const char *verb, const char *opt, const char *val, void *to)
{
    struct rollout_policy *p = to;
    _cleanup_free_ char *why = NULL;
    if (p->npins == ROLLOUT_PINS_MAX) {
        fprintf(stderr, "kiln %s: %s %s: at most %d pins\n", verb, opt, val, ROLLOUT_PINS_MAX);
        return false;
    }
    if (rollout_parse_pin(val, &p->pins[p->npins], &why) < 0) {
        fprintf(stderr, "kiln %s: %s %s: %s\n", verb, opt, val, why);
        return false;
    }
    p->npins++;
    return true;
}

/* kiln rollout set on an existing rollout changes what it is given and keeps the rest: a
 * --percent 100 alone must not drop the limits set before. Floors and pins are kept only while
 * the target stays the same (they are versions relative to it). A new rollout needs --version
 * and --percent. Negative limits are the ones not given. -EINVAL with *err naming what is
 * missing; -EIO when the database cannot say. */
static int merge_old(struct kiln_store *st, struct kiln_rollout *ro, long max_per_hour, long max_inflight, long pause_after,
                     char **reterr)
{
    struct rollout_policy *p = &ro->p;
    struct kiln_rollout old;
    char *e2 = NULL;
    int r = kiln_store_rollout_get(st, ro->name, ro->channel, &old, &e2);
    if (r < 0 && r != -ENOENT) {
        *reterr = xasprintf("cannot read the rollout: %s", e2 ? e2 : strerror(-r));
        free(e2);
        return -EIO;
    }
    free(e2);
    if (r == -ENOENT) {
        if (!p->target[0] || p->permyriad < 0) {
            *reterr = xasprintf("%s has no rollout in channel %s yet: --version V and --percent P are needed", ro->name, ro->channel);
            return -EINVAL;
        }
        return 0;
    }
    bool same = !p->target[0] || streq(p->target, old.p.target);
    if (!p->target[0]) snprintf(p->target, sizeof p->target, "%s", old.p.target);
    if (p->permyriad < 0) p->permyriad = old.p.permyriad;
    if (max_per_hour < 0) p->max_per_period = old.p.max_per_period;
    if (max_inflight < 0) p->max_inflight = old.p.max_inflight;
    if (pause_after < 0) p->pause_after_failures = old.p.pause_after_failures;
    p->period_ms = old.p.period_ms;
    if (same && !p->nfloors) {
        memcpy(p->floors, old.p.floors, sizeof p->floors);
        p->nfloors = old.p.nfloors;
    }
    if (same && !p->npins) {
        memcpy(p->pins, old.p.pins, sizeof p->pins);
        p->npins = old.p.npins;
    }
    return 0;
}

/* Whether policy p holds together (rollout_policy_check); else says why on stderr. */
static bool policy_ok(const struct rollout_policy *p)
{
    _cleanup_free_ char *why = NULL;
    if (rollout_policy_check(p, &why) >= 0) return true;
    fprintf(stderr, "kiln rollout set: %s\n", why);
    return false;
}

/* kiln rollout set on the stored rollout: what was not given taken from it, the whole policy
 * checked, the gallery asked whether it has what the rollout names. EXIT_OK, or EXIT_USAGE
 * after saying why. */
static int set_prepare(struct kiln_store *st, struct kiln_rollout *ro, bool whole, long max_per_hour, long max_inflight,
                       long pause_after, const char *gallery)
{
    char *err = NULL;
    if (merge_old(st, ro, max_per_hour, max_inflight, pause_after, &err) < 0) {
        fprintf(stderr, "kiln rollout set: %s\n", err);
        free(err);
        return EXIT_USAGE;
    }
    if (!whole && !policy_ok(&ro->p)) return EXIT_USAGE;
    if (gallery) gallery_warn(gallery, ro);
    return EXIT_OK;
}

/* Prints the rollout's status (as JSON with json); the exit code: 1 when there is none (a
 * mistyped name or channel is not a success) or the database failed. */
static int show_status(struct kiln_store *st, const char *name, const char *channel, bool json)
{
    struct kiln_rollout_status s;
    char *err = NULL;
    int r = kiln_store_rollout_status(st, name, channel, &s, &err);
    if (r < 0) {
        fprintf(stderr, "kiln rollout status: %s\n", err ? err : strerror(-r));
        free(err);
        return EXIT_FAIL;
    }
    snprintf(s.rollout.name, sizeof(s.rollout.name), "%s", name);
    snprintf(s.rollout.channel, sizeof(s.rollout.channel), "%s", channel);
    if (json) {
        json_t *j = status_json(&s);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text);
        free(text);
        json_decref(j);
    } else status_print(&s);
    int rc = EXIT_OK;
    if (!s.has_rollout) {
        fprintf(stderr, "kiln rollout status: no rollout is set for %s in channel %s\n", name, channel);
        rc = EXIT_FAIL;
    }
    kiln_rollout_status_free(&s);
    return rc;
}

/* cmd_rollout's options in their order: the subcommands that take each (NULL: every one),
 * and the one named when another is given it */
static const struct {
    const char *in, *home;
} belongs[] = {{NULL, NULL}, {NULL, NULL}, {" set status pause resume ", "kiln rollout status"},
               {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"},
               {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"},
               {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"}, {" set ", "kiln rollout set"},
               {" pause ", "kiln rollout pause"}};
static const char exits[] = "0 done, 1 no rollout is set for NAME CHANNEL or the database failed, 2 usage or\n"
                            "no kiln database there";
static const char json_shape[] = "{\"name\", \"channel\", \"policy\": {\"enabled\", \"target\", \"percent\", \"max_per_period\", \"period_s\",\n"
                                 "\"max_inflight\", \"pause_after_failures\", \"floors\", \"pins\"} | null, \"paused\", \"pause_reason\",\n"
                                 "\"machines\", \"inflight\", \"versions\": {V: N}, \"failures\": [...], \"history\": [...]}";

/* Marks each of opts (in belongs' order) that subcommand verb does not take with the one that
 * takes it, for cmd_parse's "OPT belongs to kiln rollout SUB". */
static void mark_elsewhere(struct cmd_opt *opts, const char *verb)
{
    _cleanup_free_ char *word = xasprintf(" %s ", verb);
    for (size_t i = 0; i < ARRAY_SIZE(belongs); i++)
        if (belongs[i].in && !strstr(belongs[i].in, word)) opts[i].elsewhere = belongs[i].home;
}

/* The database step of every subcommand but set's preparation: writes what verb asks and
 * prints the outcome (the rollout's status, or the machine's group). The exit code. */
static int run_verb(struct kiln_store *st, const char *verb, const struct kiln_rollout *ro, const char *name,
                    const char *channel, const char *machine, const char *reason, bool json)
{
    char *err = NULL;
    int r = 0, rc = EXIT_OK;
    if (streq(verb, "set")) r = kiln_store_rollout_set(st, ro, &err);
    else if (streq(verb, "pause")) r = kiln_store_rollout_pause(st, name, channel, true, reason, &err);
    else if (streq(verb, "resume")) r = kiln_store_rollout_pause(st, name, channel, false, NULL, &err);
    /* "group NAME GROUP MACHINE": the machine's group for pins */
    else if (streq(verb, "group")) r = kiln_store_machine_group(st, name, machine, channel, &err);
    if (r < 0) {
        fprintf(stderr, "kiln rollout %s: %s\n", verb, err ? err : strerror(-r));
        rc = r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    } else if (!streq(verb, "group")) rc = show_status(st, name, channel, json);
    else printf("%s: machine %s is in group %s\n", name, machine, channel);
    free(err);
    return rc;
}

/* The names a subcommand takes, each against its rule: EXIT_OK, or the usage error's exit code
 * (the rule printed). */
static int check_names(const char *cmd, const char *verb, const char *name, const char *channel, const char *machine)
{
    if (!catalog_safe_name(name))
        return cmd_usage_error(cmd, "image name \"%.128s\": want 1 to 128 of A-Z a-z 0-9 . _ + ~ -, not starting with '.' or "
                                    "'-', without \"..\"", name);
    if (streq(verb, "group") && !rollout_group_ok(channel))
        return cmd_usage_error(cmd, "group \"%.64s\": want 1 to %d of A-Z a-z 0-9 . _ -", channel, ROLLOUT_GROUP_MAX);
    if (streq(verb, "group") && !omaha_name_ok(machine))
        return cmd_usage_error(cmd, "machine id \"%.128s\": want 1 to %d of %s, not starting with '.', without '/' or \"..\"",
                               machine, OMAHA_TOKEN_MAX, "A-Z a-z 0-9 . _ + ~ : { } @ = -");
    if (!streq(verb, "group") && !kiln_store_name_ok(channel))
        return cmd_usage_error(cmd, "channel \"%.64s\": want " KILN_STORE_NAME_RULE, channel);
    return EXIT_OK;
}

int cmd_rollout(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *reason = NULL, *gallery = NULL;
    bool json = false, disable = false;
    long max_per_hour = -1, max_inflight = -1, pause_after = -1; /* -1: not given */
    struct kiln_rollout ro = {.p = {.permyriad = -1, .period_ms = 3600 * 1000}};
    struct rollout_policy *p = &ro.p;
    struct cmd_opt opts[] = {
        {0, "data", "DIR", CMD_STR, &data, .help = "the service's state directory (its kiln.db, which must exist)"},
        {0, "db", "URL", CMD_STR, &db, .help = "sqlite:PATH or a postgresql:// URI instead of DIR/kiln.db (or $KILN_DB)"},
        {0, "json", NULL, CMD_FLAG, &json, .help = "the rollout's status as JSON on stdout"},
        {0, "version", "V", CMD_FN, p, .fn = take_version, .help = "the target version (needed for a new rollout)"},
        {0, "percent", "P", CMD_FN, p, .fn = take_percent,
         .help = "the share of machines offered V (needed for a new rollout): 0-100, at\nmost two decimals; each machine's place is "
                 "stable (SHA-256 of machine id and V)"},
        {0, "max-per-hour", "N", CMD_LONG, &max_per_hour, 0, 1000000, .help = "updates started per hour at most (0: no limit)"},
        {0, "max-inflight", "N", CMD_LONG, &max_inflight, 0, 1000000, .help = "updates under way at once at most (0: no limit)"},
        {0, "pause-after-failures", "N", CMD_LONG, &pause_after, 0, 1000000,
         .help = "pause after N failure reports on V (0: never)"},
        {0, "floor", "V", CMD_FN, p, .fn = take_floor, .repeat = true,
         .help = "a version below the target that machines pass through on the way;\nrepeatable, each once"},
        {0, "pin", "GROUP=V", CMD_FN, p, .fn = take_pin, .repeat = true, .help = "machines of GROUP get V; repeatable, a group once"},
        {0, "disable", NULL, CMD_FLAG, &disable, .help = "offer no update in this channel"},
        {0, "gallery", "DIR", CMD_STR, &gallery,
         .help = "the gallery kiln serve offers: warn when it lacks the name, the\nchannel or a version"},
        {0, "reason", "TEXT", CMD_STR, &reason, .help = "why, in a few words (shown by status)"},
        {0},
    };
    _Static_assert(ARRAY_SIZE(belongs) == ARRAY_SIZE(opts) - 1, "a line per option");
    const struct cmd_verb subs[] = {
        {"rollout set", "NAME CHANNEL --version V --percent P [--max-per-hour N] [--max-inflight N]\n"
                        "NAME CHANNEL ... [--pause-after-failures N] [--floor V]... [--pin GROUP=V]... [--disable] [--gallery DIR]",
         "Sets the rollout of image NAME in CHANNEL (contradictions are refused before anything is\n"
         "written) and prints its status. On an existing rollout, what is not given keeps its value\n"
         "(floors and pins only while the target stays the same); --disable is given each time.", opts, 2, 2, "NAME and CHANNEL", exits, json_shape},
        {"rollout status", "NAME CHANNEL [--json]", "Prints the rollout's policy, machines per version, failures and history.",
         opts, 2, 2, "NAME and CHANNEL", exits, json_shape},
        {"rollout pause", "NAME CHANNEL [--reason TEXT]", "Stops offering the target until resumed.", opts, 2, 2,
         "NAME and CHANNEL", exits, json_shape},
        {"rollout resume", "NAME CHANNEL", "Offers the target again.", opts, 2, 2, "NAME and CHANNEL", exits, json_shape},
        {"rollout group", "NAME GROUP MACHINE-ID", "Puts a machine in GROUP, for --pin.", opts, 3, 3,
         "NAME, GROUP and MACHINE-ID", "0 done, 1 the database failed, 2 usage or no kiln database there"},
    };
    const struct cmd_verb top = {
        "rollout", "set NAME CHANNEL --version V --percent P [...]\nstatus NAME CHANNEL [--json]\n"
                   "pause NAME CHANNEL [--reason TEXT]\nresume NAME CHANNEL\ngroup NAME GROUP MACHINE-ID",
        "The update server's rollout policy per image and channel, in the database kiln serve uses\n"
        "(--data DIR or --db URL). `kiln rollout SUB --help` describes each subcommand.", NULL, 0, 0, NULL, exits};
    int rc;
    const struct cmd_verb *v = cmd_pick_sub(&top, subs, ARRAY_SIZE(subs), "set, status, pause, resume or group", argc, argv, &rc);
    if (!v) return rc;
    const char *verb = argv[1];
    bool set = streq(verb, "set");
    mark_elsewhere(opts, verb);
    int n, r = cmd_parse(v, argc - 1, argv + 1, &n);
    if (r != CMD_GO) return r;
    const char *name = argv[2], *channel = argv[3], *machine = n > 2 ? argv[4] : NULL;
    p->enabled = !disable;
    p->max_per_period = (int)MAX(max_per_hour, 0);
    p->max_inflight = (int)MAX(max_inflight, 0);
    p->pause_after_failures = (int)MAX(pause_after, 0);
    /* every name is checked before the database is opened, the rule stated */
    if ((rc = check_names(v->name, verb, name, channel, machine)) != EXIT_OK) return rc;
    bool whole = p->target[0] && p->permyriad >= 0; /* a set that needs nothing of the old one */
    snprintf(ro.name, sizeof(ro.name), "%s", name);
    snprintf(ro.channel, sizeof(ro.channel), "%s", channel);
    /* contradictions are refused before the database is touched */
    if (set && whole && !policy_ok(p)) return EXIT_USAGE;
    struct kiln_store *st = NULL;
    r = cmd_store_open(v->name, data, db, false, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    if (set && set_prepare(st, &ro, whole, max_per_hour, max_inflight, pause_after, gallery) != EXIT_OK) rc = EXIT_USAGE;
    else rc = run_verb(st, verb, &ro, name, channel, machine, reason, json);
    kiln_store_close(st);
    return rc;
}
