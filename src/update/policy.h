/* Rollout policy: which version, if any, the update server offers one machine now. Pure
 * functions over plain values: the store (service/store.c) reads the counts and records the
 * answer in one transaction; these only decide. Knobs from Nebraska's groups and Fedora's
 * Cincinnati/Zincati: a rollout per image name and channel with a target version, a ramp
 * percentage where each machine's place is stable, rate and concurrency limits, a pause
 * after failures, required intermediate (floor) versions, support dates and per-group pins.
 *
 * Versions compare as the gallery orders them (Debian rules, version_cmp_deb of
 * util/version.h). Times are ms since the Unix epoch. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLLOUT_VERSION_MAX 128    /* bytes of a version (the gallery's catalog_safe_name) */
/* What a rollout accepts as a version it sends machines to (target, floor, pin): the image
 * spec's version grammar (image/spec.c: at most 64 bytes), and no run of more than 18 digits
 * (a release number that fits the 64-bit integers version tools parse components into). */
#define ROLLOUT_TARGET_MAX 64
#define ROLLOUT_DIGITS_MAX 18
#define ROLLOUT_GROUP_MAX 64       /* bytes of a machine group: [A-Za-z0-9._-] */
#define ROLLOUT_FLOORS_MAX 16
#define ROLLOUT_PINS_MAX 16
#define ROLLOUT_REASON_MAX 512
#define ROLLOUT_BUCKETS 10000      /* a machine's place: 0..9999; the ramp is in these units */
/* A grant with no completion or failure reported within this long stops counting as in
 * flight (the machine went away or lost power mid-update). */
#define ROLLOUT_INFLIGHT_TTL_MS (6 * 3600 * 1000LL)

struct rollout_pin {
    char group[ROLLOUT_GROUP_MAX + 1];
    char version[ROLLOUT_VERSION_MAX + 1];
};

struct rollout_policy {
    bool enabled;                          /* false: nothing is offered */
    char target[ROLLOUT_VERSION_MAX + 1];  /* "" : no rollout yet */
    int permyriad;                         /* ramp, 0..10000 (10000 = 100 %) */
    int max_per_period;                    /* offers newly granted per period; 0: no limit */
    int64_t period_ms;                     /* > 0 (default one hour) */
    int max_inflight;                      /* machines granted and not yet done; 0: no limit */
    int pause_after_failures;              /* failure events on the target before pausing; 0: never */
    bool paused;
    char pause_reason[ROLLOUT_REASON_MAX + 1];
    char floors[ROLLOUT_FLOORS_MAX][ROLLOUT_VERSION_MAX + 1]; /* required intermediate versions */
    size_t nfloors;
    struct rollout_pin pins[ROLLOUT_PINS_MAX];
    size_t npins;
};

/* A published version of the name in the channel (from the gallery's verified catalog). */
struct rollout_version {
    const char *version;
    int64_t support_end_ms;
};

/* What the store counted for this decision. */
struct rollout_counts {
    int granted_in_period; /* grants made in [now - period_ms, now) */
    int inflight;          /* grants not completed, failed or expired */
    /* this machine already holds an unexpired grant of this version ("" none): it gets the
     * same answer again without using the limits */
    const char *held;
};

enum rollout_verdict {
    ROLLOUT_OFFER,        /* offer decision.version */
    ROLLOUT_UP_TO_DATE,   /* at or past what it would get */
    ROLLOUT_NOT_YET,      /* outside the ramp */
    ROLLOUT_HELD,         /* disabled, paused, limits reached, unpublished or unsupported target */
};

struct rollout_decision {
    enum rollout_verdict verdict;
    char version[ROLLOUT_VERSION_MAX + 1]; /* ROLLOUT_OFFER: the version to install */
    bool new_grant;       /* ROLLOUT_OFFER: not a repeat of a held grant (count it) */
    int bucket;           /* the machine's place for this target, 0..9999 (-1: not computed) */
    char why[ROLLOUT_REASON_MAX + 1]; /* one line for logs and status */
};

/* The machine's stable place: SHA-256 over machine_id, a NUL and target, the first 8 bytes
 * as a big-endian integer modulo 10000. The same machine and target give the same bucket on
 * every check and every server; a new target reshuffles the fleet. */
int rollout_bucket(const char *machine_id, const char *target);

/* The decision for a machine of group (may be "") running version, at now_ms. versions:
 * what the channel has published. Order of the checks: disabled; pin for the group (an exact
 * version, outside the ramp); up to date; the next floor between the running version and
 * the target; unpublished or past support; paused; ramp; then (unless the machine holds a
 * grant of that version) max in flight and max per period. Never offers a version at or
 * below the running one. -EINVAL: a bad argument (NULL, empty machine id). */
int rollout_decide(const struct rollout_policy *p, const struct rollout_version *versions, size_t nversions,
                   const char *machine_id, const char *group, const char *running, const struct rollout_counts *c,
                   int64_t now_ms, struct rollout_decision *out);

/* After a failure event on the target: true (and reason filled) when failures reach the
 * policy's pause_after_failures. last_* describe the failure that tipped it. */
bool rollout_should_pause(const struct rollout_policy *p, int failures, const char *last_machine, int64_t last_errorcode,
                          char reason[ROLLOUT_REASON_MAX + 1]);

/* "10", "2.5", "100" -> permyriad (1000, 250, 10000): 0..100 with at most two decimals.
 * -EINVAL otherwise. */
int rollout_parse_percent(const char *s, int *permyriad);
/* "GROUP=VERSION" -> pin. -EINVAL naming what is wrong in *reterr. */
int rollout_parse_pin(const char *s, struct rollout_pin *pin, char **reterr);
/* A version a rollout may send machines to: 1..ROLLOUT_TARGET_MAX of [A-Za-z0-9._+~-],
 * starting with a letter or digit, no "..", no digit run longer than ROLLOUT_DIGITS_MAX. */
bool rollout_version_ok(const char *s);
/* Whether the knobs make sense together: target, floors and pins are versions; each floor is
 * below the target (Debian order) and given once; each group is pinned once; the
 * percentage within 0..100 and no limit negative. 0, or -EINVAL naming the knob in *reterr. */
int rollout_policy_check(const struct rollout_policy *p, char **reterr);
/* A group name: 1..ROLLOUT_GROUP_MAX of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool rollout_group_ok(const char *s);
