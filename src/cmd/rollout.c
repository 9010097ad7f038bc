/* kiln rollout: the update server's rollout policy per image and channel (src/update/policy.h),
 * in the service's store directly, as kiln tenant does (--data DIR or --db URL). */
#include <errno.h>
#include <jansson.h>
#include <time.h>

#include "cmd/common.h"
#include "gallery/catalog.h"
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

static bool num(const char *s, long lo, long hi, long *v)
{
    return parse_long(s, v) && *v >= lo && *v <= hi;
}

int cmd_rollout(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *name = NULL, *channel = NULL, *reason = NULL, *machine = NULL;
    const char *verb = argc > 1 ? argv[1] : "";
    bool json = false, have_version = false;
    /* declared before the first goto usage: the cleanup runs on that path too */
    _cleanup_free_ char *cmdname = NULL;
    struct kiln_rollout ro;
    memset(&ro, 0, sizeof(ro));
    struct rollout_policy *p = &ro.p;
    p->enabled = true;
    p->permyriad = -1;
    p->period_ms = 3600 * 1000;
    long v;
    char why[160];
    if (!streq(verb, "set") && !streq(verb, "status") && !streq(verb, "pause") && !streq(verb, "resume") && !streq(verb, "group"))
        goto usage;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *n = i + 1 < argc ? argv[i + 1] : NULL;
        if (streq(a, "--data") && n) data = argv[++i];
        else if (streq(a, "--db") && n) db = argv[++i];
        else if (streq(a, "--json")) json = true;
        else if (streq(a, "--reason") && n) reason = argv[++i];
        else if (streq(a, "--disable")) p->enabled = false;
        else if (streq(a, "--version") && n && catalog_safe_name(n)) snprintf(p->target, sizeof(p->target), "%s", n), have_version = true, i++;
        else if (streq(a, "--percent") && n) {
            if (rollout_parse_percent(argv[++i], &p->permyriad) < 0) {
                fprintf(stderr, "kiln rollout: --percent %s: want 0 to 100 with at most two decimals\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (streq(a, "--max-per-hour") && n && num(n, 0, 1000000, &v)) p->max_per_period = (int)v, i++;
        else if (streq(a, "--max-inflight") && n && num(n, 0, 1000000, &v)) p->max_inflight = (int)v, i++;
        else if (streq(a, "--pause-after-failures") && n && num(n, 0, 1000000, &v)) p->pause_after_failures = (int)v, i++;
        else if (streq(a, "--floor") && n && catalog_safe_name(n) && p->nfloors < ROLLOUT_FLOORS_MAX)
            snprintf(p->floors[p->nfloors++], sizeof(p->floors[0]), "%s", n), i++;
        else if (streq(a, "--pin") && n && p->npins < ROLLOUT_PINS_MAX) {
            if (rollout_parse_pin(argv[++i], &p->pins[p->npins], why, sizeof(why)) < 0) {
                fprintf(stderr, "kiln rollout: --pin %s: %s\n", argv[i], why);
                return EXIT_USAGE;
            }
            p->npins++;
        } else if (a[0] == '-') goto usage;
        else if (!name) name = a;
        else if (!channel) channel = a;
        else if (streq(verb, "group") && !machine) machine = a;
        else goto usage;
    }
    if (!name || !channel || !catalog_safe_name(name)) goto usage;
    if (streq(verb, "set") && (!have_version || p->permyriad < 0)) {
        fprintf(stderr, "kiln rollout set: --version V and --percent P are needed\n");
        return EXIT_USAGE;
    }
    if (streq(verb, "group") && !machine) goto usage;
    snprintf(ro.name, sizeof(ro.name), "%s", name);
    snprintf(ro.channel, sizeof(ro.channel), "%s", channel);
    struct kiln_store *st = NULL;
    cmdname = xasprintf("rollout %s", verb);
    int r = cmd_store_open(cmdname, data, db, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    char *err = NULL;
    int rc = EXIT_OK;
    if (streq(verb, "set")) r = kiln_store_rollout_set(st, &ro, &err);
    else if (streq(verb, "pause")) r = kiln_store_rollout_pause(st, name, channel, true, reason, &err);
    else if (streq(verb, "resume")) r = kiln_store_rollout_pause(st, name, channel, false, NULL, &err);
    /* "group NAME GROUP MACHINE": the machine's group for pins */
    else if (streq(verb, "group")) r = kiln_store_machine_group(st, name, machine, channel, &err);
    if (r < 0) {
        fprintf(stderr, "kiln rollout %s: %s\n", verb, err ? err : strerror(-r));
        rc = r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    } else if (streq(verb, "status") || streq(verb, "set") || streq(verb, "pause") || streq(verb, "resume")) {
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
            kiln_rollout_status_free(&s);
        }
    } else printf("%s: machine %s is in group %s\n", name, machine, channel);
    free(err);
    kiln_store_close(st);
    return rc;
usage:
    fprintf(stderr,
            "usage: kiln rollout set NAME CHANNEL --version V --percent P [--max-per-hour N] [--max-inflight N]\n"
            "                        [--pause-after-failures N] [--floor V]... [--pin GROUP=V]... [--disable]\n"
            "       kiln rollout status NAME CHANNEL [--json]\n"
            "       kiln rollout pause NAME CHANNEL [--reason TEXT] | kiln rollout resume NAME CHANNEL\n"
            "       kiln rollout group NAME GROUP MACHINE-ID      (pins apply per group)\n"
            "  each with --data DIR or --db URL (or $KILN_DB), the database kiln serve uses.\n"
            "  P: 0-100, each machine's place stable (SHA-256 of machine id and version); 0 for N: no limit.\n");
    return EXIT_USAGE;
}
