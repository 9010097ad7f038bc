#include "ext/ltp.h"

#include <ctype.h>
#include <jansson.h>

#include "ext/tap.h"
#include "util/secret.h"
#include "util/utf8.h"
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

static void add(struct kiln_subtest **out, size_t *n, size_t *cap, char *name, int status, char *reason)
{
    if (*n >= MAX_RESULTS) {
        free(name);
        free(reason);
        return;
    }
    *APPEND(*out, *n, *cap) = (struct kiln_subtest){.name = name, .status = status, .reason = reason};
}

/* A table row "name RESULT [exit]"; false when line is not one. */
static bool result_row(const char *line, char *name, int *st, const char **why, int *k, long *exitv)
{
    char result[16], extra[16];
    *k = sscanf(line, "%255s %15s %15s", name, result, extra);
    *st = *k >= 2 ? status_of(result, why) : -1;
    *exitv = 0;
    return *st >= 0 && valid_name(name) && !streq(name, "Testcase") && (*k < 3 || parse_long(extra, exitv));
}

bool ltp_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    bool seen = false;
    /* inside the table: 0 before its header, 1 header seen, 2 rows (after the dashes), 3 ended */
    int table = 0;
    long rows = 0, total = -1;
    struct sbuf problems = {0};
    size_t lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        char line[512];
        size_t cl = MIN(l, sizeof line - 1);
        memcpy(line, p, cl);
        line[cl] = 0;
        while (cl && (line[cl - 1] == ' ' || line[cl - 1] == '\r' || line[cl - 1] == '\t')) line[--cl] = 0;
        char name[256];
        int st, k;
        long exitv;
        const char *why = NULL;
        bool row = l < sizeof line && result_row(line, name, &st, &why, &k, &exitv);
        if (row) {
            add(out, n, &cap, xstrdup(name), st,
                why ? (k == 3 ? xasprintf("%s (exit %ld)", why, exitv) : xstrdup(why)) : NULL);
            seen = true;
            rows += table == 2;
        } else if (table == 0 && startswith(line, "Testcase") && strstr(line, "Result")) {
            table = 1;
        } else if (table == 1 && startswith(line, "--------")) {
            table = 2;
        } else if (table == 2 && (!cl || startswith(line, "-----"))) {
            table = 3;
        } else if (table == 2 && problems.len < 1024) {
            /* a row of the table kiln cannot read is a result lost, not noise */
            sbuf_printf(&problems, "%sline %zu is not a result row: %.*s", problems.len ? "; " : "", lineno,
                        (int)utf8_cut(line, 80), line);
        } else if (startswith(line, "Total Tests:")) {
            parse_long(strstrip(line + 12), &total);
        }
        p = nl ? nl + 1 : end;
    }
    if (table == 1 || table == 2)
        sbuf_printf(&problems, "%sthe result table is cut short (no blank or ---- line after it)", problems.len ? "; " : "");
    else if (table && total >= 0 && total != rows)
        sbuf_printf(&problems, "%s\"Total Tests: %ld\" but the table has %ld rows", problems.len ? "; " : "", total, rows);
    if (problems.len) {
        add(out, n, &cap, xstrdup("LTP"), ST_FAILED, sbuf_steal(&problems));
        seen = true;
    }
    sbuf_free(&problems);
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
        if (*n >= MAX_RESULTS) break;
        /* a result kiln cannot read is a failure, never left out */
        if (!name || !valid_name(name)) {
            add(out, n, &cap, xstrdup("LTP"), ST_FAILED,
                xasprintf("result %zu of kirk's report has no usable test_fqn", i + 1));
            continue;
        }
        char word[8] = {0};
        for (size_t k = 0; status && k < sizeof word - 1 && status[k]; k++) word[k] = (char)toupper((unsigned char)status[k]);
        const char *why = NULL;
        int st = status && strlen(status) < sizeof word ? status_of(word, &why) : -1;
        if (st < 0) {
            add(out, n, &cap, xstrdup(name), ST_FAILED,
                status ? xasprintf("kirk reported status \"%.*s\", which kiln cannot read", (int)utf8_cut(status, 20), status)
                       : xstrdup("kirk reported no status"));
            continue;
        }
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
            _cleanup_free_ char *last = xstrndup(log + b, l - b);
            /* a cut inside neither a character nor a secret */
            s->reason = xasprintf("%s: %.*s", why, (int)secret_cut(last, l - b, utf8_cut(last, 300)), last);
        } else {
            s->reason = why ? xstrdup(why) : NULL;
        }
    }
    json_decref(root);
    return *n > 0;
}
