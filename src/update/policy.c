/* Rollout policy arithmetic (see policy.h). */
#include "update/policy.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"
#include "util/version.h"

int rollout_bucket(const char *machine_id, const char *target)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, machine_id, strlen(machine_id) + 1) ||
        !EVP_DigestUpdate(c, target, strlen(target)) || !EVP_DigestFinal_ex(c, md, &n)) {
        EVP_MD_CTX_free(c);
        return -ENOMEM;
    }
    EVP_MD_CTX_free(c);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | md[i];
    return (int)(v % ROLLOUT_BUCKETS);
}

__attribute__((format(printf, 3, 4))) static int decided(struct rollout_decision *d, enum rollout_verdict v,
                                                         const char *fmt, ...)
{
    d->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    return 0;
}

static const struct rollout_version *published(const struct rollout_version *v, size_t n, const char *version)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].version && strcmp(v[i].version, version) == 0) return &v[i];
    return NULL;
}

int rollout_decide(const struct rollout_policy *p, const struct rollout_version *versions, size_t nversions,
                   const char *machine_id, const char *group, const char *running, const struct rollout_counts *c,
                   int64_t now_ms, struct rollout_decision *out)
{
    if (!p || !machine_id || !*machine_id || !running || !c || !out) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->bucket = -1;
    if (!p->enabled) return decided(out, ROLLOUT_HELD, "updates are disabled for this channel");

    const char *want = p->target;
    bool pinned = false;
    for (size_t i = 0; group && *group && i < p->npins; i++)
        if (strcmp(p->pins[i].group, group) == 0) {
            want = p->pins[i].version;
            pinned = true;
        }
    if (!*want) return decided(out, ROLLOUT_UP_TO_DATE, "no rollout target is set");
    if (*running && version_cmp_deb(running, want) >= 0)
        return decided(out, ROLLOUT_UP_TO_DATE, "%s is at or past %s%s", running, want,
                       pinned ? " (the version its group is pinned to)" : "");

    /* the lowest required floor strictly between the running version and the target */
    const char *hop = want;
    for (size_t i = 0; i < p->nfloors; i++) {
        const char *f = p->floors[i];
        if ((!*running || version_cmp_deb(f, running) > 0) && version_cmp_deb(f, hop) < 0) hop = f;
    }
    const struct rollout_version *v = published(versions, nversions, hop);
    if (!v) return decided(out, ROLLOUT_HELD, "%s is not published in this channel", hop);
    if (v->support_end_ms <= now_ms) return decided(out, ROLLOUT_HELD, "%s is past its end of support: not offered", hop);
    if (p->paused) return decided(out, ROLLOUT_HELD, "the rollout is paused: %s", p->pause_reason[0] ? p->pause_reason : "by hand");

    if (!pinned) {
        out->bucket = rollout_bucket(machine_id, p->target);
        if (out->bucket < 0) return out->bucket;
        if (out->bucket >= p->permyriad)
            return decided(out, ROLLOUT_NOT_YET, "its place %d is outside the ramp (%d.%02d %%)", out->bucket,
                           p->permyriad / 100, p->permyriad % 100);
    }
    snprintf(out->version, sizeof(out->version), "%s", hop);
    if (c->held && strcmp(c->held, hop) == 0)
        return decided(out, ROLLOUT_OFFER, "offered %s again (granted before)", hop);
    if (p->max_inflight > 0 && c->inflight >= p->max_inflight) {
        out->version[0] = 0;
        return decided(out, ROLLOUT_HELD, "%d machines are updating, the most this rollout allows at once", c->inflight);
    }
    if (p->max_per_period > 0 && c->granted_in_period >= p->max_per_period) {
        out->version[0] = 0;
        return decided(out, ROLLOUT_HELD, "%d updates were granted in the last %" PRId64 " s, the most allowed",
                       c->granted_in_period, p->period_ms / 1000);
    }
    out->new_grant = true;
    return decided(out, ROLLOUT_OFFER, "offered %s%s%s", hop, hop != want ? " (a required step towards " : "",
                   hop != want ? want : "");
}

bool rollout_should_pause(const struct rollout_policy *p, int failures, const char *last_machine, int64_t last_errorcode,
                          char reason[ROLLOUT_REASON_MAX + 1])
{
    if (p->pause_after_failures <= 0 || failures < p->pause_after_failures) return false;
    snprintf(reason, ROLLOUT_REASON_MAX + 1, "%d failure events on %s (the limit is %d); the last from machine %.64s, error code %" PRId64,
             failures, p->target, p->pause_after_failures, last_machine ? last_machine : "?", last_errorcode);
    return true;
}

int rollout_parse_percent(const char *s, int *permyriad)
{
    if (!s || !*s || strlen(s) > 6) return -EINVAL;
    int whole = 0, frac = 0, digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) whole = whole * 10 + (*p - '0');
    /* "0100" is no spelling of 100: one leading zero only before the point */
    if (p == s || (s[0] == '0' && p - s > 1)) return -EINVAL;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9' && digits < 2; p++, digits++) frac = frac * 10 + (*p - '0');
        if (digits == 0) return -EINVAL;
        if (digits == 1) frac *= 10;
    }
    if (*p || whole > 100 || (whole == 100 && frac > 0)) return -EINVAL;
    *permyriad = whole * 100 + frac;
    return 0;
}

bool rollout_version_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0, digits = 0;
    /* a version names gallery paths: ".." is refused as the gallery's names refuse it */
    if (n == 0 || n > ROLLOUT_TARGET_MAX || !isalnum((unsigned char)s[0]) || strstr(s, "..")) return false;
    for (const char *p = s; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *p)) return false;
        digits = isdigit((unsigned char)*p) ? digits + 1 : 0;
        if (digits > ROLLOUT_DIGITS_MAX) return false;
    }
    return true;
}

int rollout_policy_check(const struct rollout_policy *p, char **reterr)
{
    char grammar[160];
    snprintf(grammar, sizeof grammar, "at most %d of A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit, no \"..\", no run of more than %d digits",
             ROLLOUT_TARGET_MAX, ROLLOUT_DIGITS_MAX);
    if (!rollout_version_ok(p->target)) return err_setf(reterr, -EINVAL, "the target version %.80s is not a version (%s)", p->target, grammar);
    if (p->permyriad < 0 || p->permyriad > ROLLOUT_BUCKETS) return err_setf(reterr, -EINVAL, "the percentage is not within 0 to 100");
    if (p->max_per_period < 0 || p->max_inflight < 0 || p->pause_after_failures < 0 || p->period_ms <= 0)
        return err_setf(reterr, -EINVAL, "a limit is negative");
    if (p->nfloors > ROLLOUT_FLOORS_MAX || p->npins > ROLLOUT_PINS_MAX)
        return err_setf(reterr, -EINVAL, "at most %d floors and %d pins", ROLLOUT_FLOORS_MAX, ROLLOUT_PINS_MAX);
    for (size_t i = 0; i < p->nfloors; i++) {
        const char *f = p->floors[i];
        if (!rollout_version_ok(f)) return err_setf(reterr, -EINVAL, "the floor %.80s is not a version (%s)", f, grammar);
        /* a machine below a floor gets the floor first: one at or past the target would send
         * machines beyond the version the rollout is for */
        if (version_cmp_deb(f, p->target) >= 0)
            return err_setf(reterr, -EINVAL, "the floor %s is not below the target %s: a floor is a version machines pass through on the way to the target", f, p->target);
        for (size_t k = 0; k < i; k++)
            if (version_cmp_deb(f, p->floors[k]) == 0)
                return strcmp(f, p->floors[k]) == 0 ? err_setf(reterr, -EINVAL, "the floor %s is given twice", f)
                                                    : err_setf(reterr, -EINVAL, "the floors %s and %s are the same version", p->floors[k], f);
    }
    for (size_t i = 0; i < p->npins; i++) {
        if (!rollout_group_ok(p->pins[i].group))
            return err_setf(reterr, -EINVAL, "the pinned group %.80s is not 1 to %d of A-Z a-z 0-9 . _ -", p->pins[i].group, ROLLOUT_GROUP_MAX);
        if (!rollout_version_ok(p->pins[i].version))
            return err_setf(reterr, -EINVAL, "the version pinned for group %s is not a version (%s)", p->pins[i].group, grammar);
        for (size_t k = 0; k < i; k++)
            if (strcmp(p->pins[i].group, p->pins[k].group) == 0)
                return err_setf(reterr, -EINVAL, "group %s is pinned twice", p->pins[i].group);
    }
    return 0;
}

bool rollout_group_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= ROLLOUT_GROUP_MAX && s[0] != '.' && s[0] != '-' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int rollout_parse_pin(const char *s, struct rollout_pin *pin, char **reterr)
{
    const char *eq = s ? strchr(s, '=') : NULL;
    size_t gl = eq ? (size_t)(eq - s) : 0;
    if (!eq || gl == 0 || gl > ROLLOUT_GROUP_MAX) {
        return err_setf(reterr, -EINVAL, "a pin is GROUP=VERSION");
    }
    memcpy(pin->group, s, gl);
    pin->group[gl] = 0;
    if (!rollout_group_ok(pin->group)) {
        return err_setf(reterr, -EINVAL, "a group is 1 to %d of A-Z a-z 0-9 . _ -", ROLLOUT_GROUP_MAX);
    }
    if (!rollout_version_ok(eq + 1)) {
        return err_setf(reterr, -EINVAL, "the pinned version must be a version (at most %d of A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit, no run of more than %d digits)",
                 ROLLOUT_TARGET_MAX, ROLLOUT_DIGITS_MAX);
    }
    snprintf(pin->version, sizeof(pin->version), "%s", eq + 1);
    return 0;
}
