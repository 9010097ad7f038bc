#include "ext/ltp.h"

#include <ctype.h>
#include <jansson.h>

#include "ext/tap.h"
#include "util/secret.h"
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

/* kirk's --json-report: {"results": [{"test_fqn": "abort01", "status": "pass",
 * "test": {"duration": 0.1, "log": "...", ...}}, ...], ...}. */
bool ltp_kirk_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *results = root ? json_object_get(root, "results") : NULL;
    if (!json_is_array(results)) {
        json_decref(root);
        return false;
    }
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        const char *name = json_string_value(json_object_get(r, "test_fqn"));
        const char *status = json_string_value(json_object_get(r, "status"));
        if (!name || !status || !valid_name(name) || *n >= MAX_RESULTS) continue;
        char word[8] = {0};
        for (size_t k = 0; k < sizeof word - 1 && status[k]; k++) word[k] = (char)toupper((unsigned char)status[k]);
        const char *why = NULL;
        int st = status_of(word, &why);
        if (st < 0) continue;
        json_t *test = json_object_get(r, "test");
        struct kiln_subtest *s = APPEND(*out, *n, cap);
        s->name = xstrdup(name);
        s->status = st;
        s->duration_s = json_number_value(json_object_get(test, "duration"));
        const char *log = json_string_value(json_object_get(test, "log"));
        if (st == ST_FAILED && log && *log) {
            /* the last non-empty line of the test's log says the most */
            size_t l = strlen(log);
            while (l && (log[l - 1] == '\n' || log[l - 1] == ' ')) l--;
            size_t b = l;
            while (b && log[b - 1] != '\n') b--;
            s->reason = xasprintf("%s: %.*s", why, (int)secret_cut(log + b, l - b, MIN(l - b, 300)), log + b);
        } else {
            s->reason = why ? xstrdup(why) : NULL;
        }
    }
    json_decref(root);
    return *n > 0;
}
