/* Rollout policy arithmetic: buckets (values computed independently with Python's hashlib),
 * the ramp's share over a fleet, floors, support dates, pins, limits, pauses, parsing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "update/policy.h"
#include "util/util.h"

#define DAY (86400 * 1000LL)
static const int64_t NOW = 1767225600000LL; /* 2026-01-01 */

static struct rollout_policy base(void)
{
    struct rollout_policy p;
    memset(&p, 0, sizeof(p));
    p.enabled = true;
    snprintf(p.target, sizeof(p.target), "1.0.1");
    p.permyriad = 10000;
    p.period_ms = 3600 * 1000;
    return p;
}

static const struct rollout_version published[] = {
    {"1.0.0", NOW + 300 * DAY}, {"1.0.1", NOW + 400 * DAY}, {"1.0.5", NOW + 400 * DAY},
    {"2.0.0", NOW + 700 * DAY}, {"0.9.0", NOW - DAY},
};
#define NPUB (sizeof(published) / sizeof(published[0]))

static struct rollout_decision decide(const struct rollout_policy *p, const char *machine, const char *group,
                                      const char *running, struct rollout_counts c)
{
    struct rollout_decision d;
    int r = rollout_decide(p, published, NPUB, machine, group, running, &c, NOW, &d);
    if (r < 0) d.verdict = -1;
    return d;
}

int main(void)
{
    struct rollout_counts none = {0};
    /* buckets: SHA-256(machine NUL target), first 8 bytes big-endian, mod 10000 */
    is_int(rollout_bucket("m1", "1.0.1"), 5413, "bucket of m1 for 1.0.1");
    is_int(rollout_bucket("0123456789abcdef0123456789abcdef", "1.0.1"), 4099, "bucket of a hex machine id");
    is_int(rollout_bucket("m1", "1.0.2"), 4080, "a new target reshuffles");
    int in = 0;
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "machine-%d", i);
        in += rollout_bucket(id, "1.0.1") < 1000;
    }
    is_int(in, 996, "10 % of 10,000 machines: 996 (hashlib agrees)");

    struct rollout_policy p = base();
    p.permyriad = 1000;
    struct rollout_decision d = decide(&p, "m1", "", "1.0.0", none);
    ok(d.verdict == ROLLOUT_NOT_YET && d.bucket == 5413, "m1 (place 5413) is outside a 10 %% ramp: %s", d.why);
    p.permyriad = 5414;
    d = decide(&p, "m1", "", "1.0.0", none);
    ok(d.verdict == ROLLOUT_OFFER && d.new_grant, "…and inside a 54.14 %% one");
    is_str(d.version, "1.0.1", "offers the target");
    p.permyriad = 5413;
    ok(decide(&p, "m1", "", "1.0.0", none).verdict == ROLLOUT_NOT_YET, "the ramp's edge is exclusive (place 5413 at 54.13 %%)");
    p.permyriad = 10000;
    d = decide(&p, "m1", "", "1.0.1", none);
    ok(d.verdict == ROLLOUT_UP_TO_DATE, "running the target: up to date (%s)", d.why);
    ok(decide(&p, "m1", "", "1.0.2", none).verdict == ROLLOUT_UP_TO_DATE, "running past the target: no downgrade");
    ok(decide(&p, "m1", "", "1.0.1~rc1", none).verdict == ROLLOUT_OFFER, "1.0.1~rc1 < 1.0.1 (Debian order)");

    p.enabled = false;
    ok(decide(&p, "m1", "", "1.0.0", none).verdict == ROLLOUT_HELD, "disabled: nothing");
    p = base();
    snprintf(p.target, sizeof(p.target), "1.0.3");
    d = decide(&p, "m1", "", "1.0.0", none);
    ok(d.verdict == ROLLOUT_HELD && strstr(d.why, "not published"), "an unpublished target is held: %s", d.why);
    p = base();
    snprintf(p.target, sizeof(p.target), "0.9.0");
    d = decide(&p, "m1", "", "0.8", none);
    ok(d.verdict == ROLLOUT_HELD && strstr(d.why, "end of support"), "a target past support is never offered: %s", d.why);

    /* floors */
    p = base();
    snprintf(p.target, sizeof(p.target), "2.0.0");
    snprintf(p.floors[0], sizeof(p.floors[0]), "1.0.5");
    snprintf(p.floors[1], sizeof(p.floors[1]), "1.0.1");
    p.nfloors = 2;
    d = decide(&p, "m1", "", "1.0.0", none);
    is_str(d.version, "1.0.1", "1.0.0 -> the lowest floor above it, 1.0.1");
    d = decide(&p, "m1", "", "1.0.1", none);
    is_str(d.version, "1.0.5", "1.0.1 -> the next floor, 1.0.5");
    d = decide(&p, "m1", "", "1.0.5", none);
    is_str(d.version, "2.0.0", "1.0.5 -> the target");
    d = decide(&p, "m1", "", "1.0.6", none);
    is_str(d.version, "2.0.0", "past every floor -> the target");
    snprintf(p.floors[1], sizeof(p.floors[1]), "0.9.0");
    d = decide(&p, "m1", "", "0.8", none);
    ok(d.verdict == ROLLOUT_HELD && strstr(d.why, "0.9.0"), "a floor past support holds the machine there: %s", d.why);

    /* pins */
    p = base();
    p.permyriad = 0;
    snprintf(p.pins[0].group, sizeof(p.pins[0].group), "canary");
    snprintf(p.pins[0].version, sizeof(p.pins[0].version), "1.0.5");
    p.npins = 1;
    ok(decide(&p, "m1", "", "1.0.0", none).verdict == ROLLOUT_NOT_YET, "ungrouped at 0 %%: not yet");
    d = decide(&p, "m1", "canary", "1.0.0", none);
    ok(d.verdict == ROLLOUT_OFFER && d.bucket == -1, "a pinned group is outside the ramp");
    is_str(d.version, "1.0.5", "…and gets its pin, not the target");
    ok(decide(&p, "m1", "canary", "1.0.5", none).verdict == ROLLOUT_UP_TO_DATE, "at its pin: up to date");
    ok(decide(&p, "m1", "canary", "2.0.0", none).verdict == ROLLOUT_UP_TO_DATE, "past its pin: no downgrade");
    ok(decide(&p, "m1", "other", "1.0.0", none).verdict == ROLLOUT_NOT_YET, "another group follows the ramp");

    /* limits and grants */
    p = base();
    p.max_inflight = 2;
    p.max_per_period = 5;
    struct rollout_counts c = {.inflight = 2};
    d = decide(&p, "m1", "", "1.0.0", c);
    ok(d.verdict == ROLLOUT_HELD && d.version[0] == 0, "2 in flight of 2: held (%s)", d.why);
    c.held = "1.0.1";
    d = decide(&p, "m1", "", "1.0.0", c);
    ok(d.verdict == ROLLOUT_OFFER && !d.new_grant, "a machine holding a grant gets it again, outside the limits");
    c = (struct rollout_counts){.inflight = 1, .granted_in_period = 5};
    d = decide(&p, "m1", "", "1.0.0", c);
    ok(d.verdict == ROLLOUT_HELD && strstr(d.why, "3600 s"), "5 granted this hour of 5: held (%s)", d.why);
    c.granted_in_period = 4;
    ok(decide(&p, "m1", "", "1.0.0", c).verdict == ROLLOUT_OFFER, "4 of 5: offered");
    c.held = "1.0.0"; /* a grant of another version does not count */
    c.granted_in_period = 5;
    ok(decide(&p, "m1", "", "1.0.0", c).verdict == ROLLOUT_HELD, "a grant of another version is no pass");

    /* pause */
    p = base();
    p.pause_after_failures = 3;
    char reason[ROLLOUT_REASON_MAX + 1] = "";
    ok(!rollout_should_pause(&p, 2, "m9", 7, reason), "2 failures of 3: running");
    ok(rollout_should_pause(&p, 3, "m9", 7, reason), "3 failures of 3: pause");
    is_str(reason, "3 failure events on 1.0.1 (the limit is 3); the last from machine m9, error code 7", "the reason");
    p.pause_after_failures = 0;
    ok(!rollout_should_pause(&p, 100, "m9", 7, reason), "0: never pauses");
    p.paused = true;
    snprintf(p.pause_reason, sizeof(p.pause_reason), "%s", reason);
    d = decide(&p, "m1", "", "1.0.0", none);
    ok(d.verdict == ROLLOUT_HELD && strstr(d.why, "paused: 3 failure events"), "paused: held with the reason (%s)", d.why);
    ok(decide(&p, "m1", "", "1.0.1", none).verdict == ROLLOUT_UP_TO_DATE, "paused, up to date is still up to date");

    /* parsing */
    int pm = -1;
    ok(rollout_parse_percent("10", &pm) == 0 && pm == 1000, "10 -> 1000");
    ok(rollout_parse_percent("2.5", &pm) == 0 && pm == 250, "2.5 -> 250");
    ok(rollout_parse_percent("0.01", &pm) == 0 && pm == 1, "0.01 -> 1");
    ok(rollout_parse_percent("100", &pm) == 0 && pm == 10000, "100 -> 10000");
    ok(rollout_parse_percent("0", &pm) == 0 && pm == 0, "0 -> 0");
    ok(rollout_parse_percent("100.00", &pm) == 0 && pm == 10000, "100.00 -> 10000");
    ok(rollout_parse_percent("0.5", &pm) == 0 && pm == 50, "0.5 -> 50");
    const char *bad[] = {"100.5", "101", "-1", "1.", ".5", "1.234", "", "10%", "1e2", "0x10", "0100", "00.5", "05", " 5", "+5", "100.01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) ok(rollout_parse_percent(bad[i], &pm) == -EINVAL, "percent '%s' refused", bad[i]);
    struct rollout_pin pin;
    _cleanup_free_ char *why = NULL;
    ok(rollout_parse_pin("canary=1.0.5", &pin, &why) == 0, "canary=1.0.5");
    is_str(pin.group, "canary", "pin group");
    is_str(pin.version, "1.0.5", "pin version");
    ok(rollout_parse_pin("=1.0", &pin, &why) == -EINVAL, "no group");
    ok(rollout_parse_pin("g=../x", &pin, &why) == -EINVAL, "a version with '/'");
    ok(rollout_parse_pin("g x=1", &pin, &why) == -EINVAL, "a group with a space");
    ok(rollout_parse_pin("canary", &pin, &why) == -EINVAL, "no '='");
    ok(rollout_parse_pin("g=99999999999999999999.1", &pin, &why) == -EINVAL, "a pin to a 20-digit run");

    /* versions a rollout sends machines to: the image spec's grammar */
    ok(rollout_version_ok("1.0.1"), "1.0.1 is a version");
    ok(rollout_version_ok("2.0~rc1+b2_x-1"), "letters and . _ + ~ - are");
    ok(rollout_version_ok("1.123456789012345678"), "an 18-digit run is");
    char v64[65];
    memset(v64, '1', 64);
    for (int i = 1; i < 64; i += 2) v64[i] = '.';
    v64[64] = 0;
    ok(rollout_version_ok(v64), "64 bytes are");
    const char *vbad[] = {"99999999999999999999999999999999999999.1", "1.1234567890123456789", "", ".1", "-1", "~1", "1.0/x",
                          "1.0<script>", "1:0", "1 0"};
    for (size_t i = 0; i < sizeof(vbad) / sizeof(*vbad); i++) ok(!rollout_version_ok(vbad[i]), "version '%s' refused", vbad[i]);
    char v65[66];
    memset(v65, 'a', 65);
    v65[65] = 0;
    ok(!rollout_version_ok(v65), "65 bytes refused");

    /* knobs that contradict each other */
    struct rollout_policy k;
    memset(&k, 0, sizeof(k));
    k.enabled = true;
    k.period_ms = 3600000;
    k.permyriad = 1000;
    snprintf(k.target, sizeof(k.target), "1.0");
    ok(rollout_policy_check(&k, &why) == 0, "target 1.0 at 10 %%: fine");
    snprintf(k.floors[0], sizeof(k.floors[0]), "2.0");
    k.nfloors = 1;
    ok(rollout_policy_check(&k, &why) == -EINVAL, "a floor above the target refused");
    is_str(why, "the floor 2.0 is not below the target 1.0: a floor is a version machines pass through on the way to the target", "saying why");
    snprintf(k.floors[0], sizeof(k.floors[0]), "1.0");
    ok(rollout_policy_check(&k, &why) == -EINVAL, "a floor equal to the target refused");
    snprintf(k.floors[0], sizeof(k.floors[0]), "1.0~rc1");
    ok(rollout_policy_check(&k, &why) == 0, "a floor just below (1.0~rc1) is fine");
    snprintf(k.floors[1], sizeof(k.floors[1]), "0.5");
    snprintf(k.floors[2], sizeof(k.floors[2]), "0.5");
    k.nfloors = 3;
    ok(rollout_policy_check(&k, &why) == -EINVAL, "a duplicate floor refused");
    is_str(why, "the floor 0.5 is given twice", "naming it");
    snprintf(k.floors[2], sizeof(k.floors[2]), "0.05");
    ok(rollout_policy_check(&k, &why) == -EINVAL, "the same version spelt otherwise refused");
    is_str(why, "the floors 0.5 and 0.05 are the same version", "naming both");
    k.nfloors = 2;
    snprintf(k.pins[0].group, sizeof(k.pins[0].group), "canary");
    snprintf(k.pins[0].version, sizeof(k.pins[0].version), "1.1");
    k.pins[1] = k.pins[0];
    snprintf(k.pins[1].version, sizeof(k.pins[1].version), "0.9");
    k.npins = 2;
    ok(rollout_policy_check(&k, &why) == -EINVAL, "a group pinned twice refused");
    is_str(why, "group canary is pinned twice", "naming the group");
    k.npins = 1;
    ok(rollout_policy_check(&k, &why) == 0, "one pin (above the target: pins are exact) is fine");
    snprintf(k.target, sizeof(k.target), "99999999999999999999999999999999999999.1");
    ok(rollout_policy_check(&k, &why) == -EINVAL, "an absurd target refused");
    snprintf(k.target, sizeof(k.target), "1.0");
    k.permyriad = 10001;
    ok(rollout_policy_check(&k, &why) == -EINVAL, "over 100 %% refused");
    k.permyriad = 0;
    k.max_inflight = -1;
    ok(rollout_policy_check(&k, &why) == -EINVAL, "a negative limit refused");
    return tap_done();
}
