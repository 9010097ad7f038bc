#include "ext/ltp.h"

#include <ctype.h>

#include "ext/tap.h"
#include "util/util.h"

#define MAX_RESULTS 200000

static int status_of(const char *word, const char **reason)
{
    static const struct { const char *w; int st; const char *why; } map[] = {
        {"PASS", ST_PASSED, NULL},      {"FAIL", ST_FAILED, "FAIL"},
        {"CONF", ST_SKIPPED, "CONF: configuration not supported"},
        {"BROK", ST_FAILED, "BROK: test broken"}, {"WARN", ST_FAILED, "WARN: passed with warnings"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (streq(word, map[i].w)) {
            *reason = map[i].why;
            return map[i].st;
        }
    return -1;
}

static bool valid_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.' || *s == ':' || *s == '/')) return false;
    return true;
}

bool ltp_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    bool seen = false;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l < 512) {
            char line[512];
            memcpy(line, p, l);
            line[l] = 0;
            char name[256], result[16], extra[16];
            int k = sscanf(line, "%255s %15s %15s", name, result, extra);
            const char *why = NULL;
            int st = k >= 2 ? status_of(result, &why) : -1;
            long exitv = 0;
            if (st >= 0 && valid_name(name) && !streq(name, "Testcase") && (k < 3 || parse_long(extra, &exitv)) &&
                *n < MAX_RESULTS) {
                struct kiln_subtest *s = APPEND(*out, *n, cap);
                s->name = xstrdup(name);
                s->status = st;
                s->reason = why ? (k == 3 ? xasprintf("%s (exit %ld)", why, exitv) : xstrdup(why)) : NULL;
                seen = true;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return seen;
}
