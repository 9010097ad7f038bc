#include "ext/tap.h"

#include <ctype.h>
#include <stdlib.h>

#include "util/util.h"

#define MAX_LINE 4096
#define MAX_DEPTH 16
#define MAX_SUBTESTS 200000

struct level {
    int indent;        /* columns of indentation (after "# " prefixes) */
    int hashes;        /* "# " prefixes (kselftest nests child output that way) */
    long planned;      /* -1 when no plan was seen */
    long seen;
    size_t first;      /* index in out of this level's first result */
    char *subtest;     /* TAP14 "# Subtest: name" */
};

struct tap_parser {
    struct sbuf line;
    bool overlong;
    bool seen;
    struct level lv[MAX_DEPTH];
    int depth;         /* levels open, >= 1 */
    struct kiln_subtest *out;
    size_t n, cap;
};

struct tap_parser *tap_new(void)
{
    struct tap_parser *p = xcalloc(1, sizeof *p);
    p->depth = 1;
    p->lv[0].planned = -1;
    return p;
}

void subtests_free(struct kiln_subtest *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].reason);
    }
    free(v);
}

void tap_free(struct tap_parser *p)
{
    if (!p) return;
    sbuf_free(&p->line);
    for (int i = 0; i < MAX_DEPTH; i++) free(p->lv[i].subtest);
    subtests_free(p->out, p->n);
    free(p);
}

static void add(struct tap_parser *p, char *name, int status, char *reason)
{
    if (p->n >= MAX_SUBTESTS) {
        free(name);
        free(reason);
        return;
    }
    struct kiln_subtest *s = APPEND(p->out, p->n, p->cap);
    s->name = name;
    s->status = status;
    s->reason = reason;
}

/* Children arrive before their parent's result line: on that line, prefix them. */
static void close_level(struct tap_parser *p, const char *parent_name)
{
    struct level *l = &p->lv[p->depth - 1];
    if (l->planned > l->seen && p->n < MAX_SUBTESTS) {
        char *name = xasprintf("missing tests");
        add(p, name, ST_FAILED, xasprintf("plan 1..%ld but %ld reported", l->planned, l->seen));
    }
    for (size_t i = l->first; parent_name && i < p->n; i++) {
        char *nn = xasprintf("%s:%s", parent_name, p->out[i].name);
        free(p->out[i].name);
        p->out[i].name = nn;
    }
    free(l->subtest);
    l->subtest = NULL;
    p->depth--;
}

static void open_level(struct tap_parser *p, int indent, int hashes)
{
    if (p->depth == MAX_DEPTH) return;
    struct level *l = &p->lv[p->depth++];
    free(l->subtest);
    *l = (struct level){.indent = indent, .hashes = hashes, .planned = -1, .first = p->n};
}

/* Normalises a kselftest name "selftests: timers: posix_timers" to "timers:posix_timers". */
static char *clean_name(const char *s, size_t len)
{
    while (len && isspace((unsigned char)s[len - 1])) len--;
    while (len && (*s == ' ' || *s == '-')) s++, len--;
    char *name = xstrndup(s, len);
    if (startswith(name, "selftests: ")) {
        struct sbuf b = {0};
        for (const char *q = name + 11; *q; q++) {
            if (*q == ':' && q[1] == ' ') {
                sbuf_puts(&b, ":");
                q++;
            } else {
                sbuf_append(&b, q, 1);
            }
        }
        free(name);
        return sbuf_steal(&b);
    }
    return name;
}

static void test_line(struct tap_parser *p, bool okay, const char *rest)
{
    /* rest: "[N] [- ]description [# DIRECTIVE reason]" */
    while (*rest == ' ') rest++;
    long num = -1;
    if (isdigit((unsigned char)*rest)) {
        num = strtol(rest, (char **)&rest, 10);
    }
    (void)num;
    const char *hash = NULL;
    for (const char *q = rest; *q; q++)
        if (*q == '#' && (q == rest || q[-1] == ' ') && q[-1] != '\\') {
            hash = q;
            break;
        }
    size_t dlen = hash ? (size_t)(hash - rest) : strlen(rest);
    char *name = clean_name(rest, dlen);
    int status = okay ? ST_PASSED : ST_FAILED;
    char *reason = NULL;
    if (hash) {
        const char *d = hash + 1;
        while (*d == ' ') d++;
        if (!strncasecmp(d, "SKIP", 4)) {
            status = ST_SKIPPED;
            d += 4;
            while (*d == ' ' || *d == ':') d++;
            reason = xstrdup(*d ? d : "skipped");
        } else if (!strncasecmp(d, "TODO", 4)) {
            status = ST_SKIPPED;
            reason = xasprintf("TODO%s%s", d[4] ? ":" : "", d + 4);
        } else if (!strncasecmp(d, "XFAIL", 5)) {
            status = ST_PASSED;
            reason = xstrdup(d);
        } else if (!okay) {
            reason = xstrdup(d); /* TIMEOUT 45 seconds, exit=1, ... */
        }
    }
    if (!*name) {
        free(name);
        name = xasprintf("test %ld", p->lv[p->depth - 1].seen + 1);
    }
    p->lv[p->depth - 1].seen++;
    add(p, name, status, reason);
}

static void handle(struct tap_parser *p, char *s)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = 0;
    /* kselftest prefixes the output of each test with "# " */
    int hashes = 0;
    while (s[0] == '#' && s[1] == ' ' &&
           (startswith(s + 2, "ok ") || startswith(s + 2, "not ok ") || startswith(s + 2, "1..") ||
            startswith(s + 2, "TAP version") || startswith(s + 2, "KTAP version") || startswith(s + 2, "# ") ||
            startswith(s + 2, "  "))) {
        s += 2;
        hashes++;
    }
    int indent = 0;
    while (*s == ' ' || *s == '\t') indent += *s == '\t' ? 4 : 1, s++;
    bool is_test = startswith(s, "ok ") || streq(s, "ok") || startswith(s, "not ok");
    bool is_plan = startswith(s, "1..");
    bool is_version = startswith(s, "TAP version") || startswith(s, "KTAP version");
    bool is_subtest = startswith(s, "# Subtest:");
    if (!is_test && !is_plan && !is_version && !is_subtest && !startswith(s, "Bail out!")) return;
    p->seen = true;
    struct level *cur = &p->lv[p->depth - 1];
    int key = hashes * 1000 + indent, curkey = cur->hashes * 1000 + cur->indent;
    bool opened = false;
    if (key > curkey) {
        open_level(p, indent, hashes);
        cur = &p->lv[p->depth - 1];
        curkey = key;
        opened = true;
    }
    while (key < curkey && p->depth > 1) {
        /* the line that closes a nested block is its parent's result: name the children */
        char *pname = NULL;
        if (is_test) {
            const char *r = s + (startswith(s, "not ok") ? 6 : 2);
            while (*r == ' ') r++;
            while (isdigit((unsigned char)*r)) r++;
            const char *h = strstr(r, " #");
            pname = clean_name(r, h ? (size_t)(h - r) : strlen(r));
        }
        if ((!pname || !*pname) && cur->subtest) {
            free(pname);
            pname = xstrdup(cur->subtest);
        }
        close_level(p, pname);
        free(pname);
        cur = &p->lv[p->depth - 1];
        curkey = cur->hashes * 1000 + cur->indent;
    }
    if (is_version) return;
    if (is_subtest) {
        if (!opened) {
            open_level(p, indent + 4, hashes);
            p->lv[p->depth - 1].subtest = xstrdup(strstrip(s + 10));
        } else {
            free(cur->subtest);
            cur->subtest = xstrdup(strstrip(s + 10));
        }
        return;
    }
    if (is_plan) {
        cur->planned = strtol(s + 3, NULL, 10);
        if (cur->planned < 0 || cur->planned > MAX_SUBTESTS) cur->planned = -1;
        return;
    }
    if (startswith(s, "Bail out!")) {
        add(p, xstrdup("bail out"), ST_FAILED, xstrdup(*strstrip(s + 9) ? strstrip(s + 9) : "bailed out"));
        cur->planned = -1;
        return;
    }
    bool okay = !startswith(s, "not ok");
    test_line(p, okay, s + (okay ? 2 : 6));
}

void tap_feed(struct tap_parser *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n') {
            if (p->line.s) handle(p, p->line.s);
            p->line.len = 0;
            if (p->line.s) p->line.s[0] = 0;
            p->overlong = false;
            continue;
        }
        if (c == 0) c = ' ';
        if (p->line.len < MAX_LINE) sbuf_append(&p->line, &c, 1);
    }
}

bool tap_finish(struct tap_parser *p, struct kiln_subtest **out, size_t *n)
{
    if (p->line.len) handle(p, p->line.s);
    p->line.len = 0;
    while (p->depth > 1) close_level(p, p->lv[p->depth - 1].subtest);
    struct level *top = &p->lv[0];
    if (top->planned > top->seen)
        add(p, xstrdup("missing tests"), ST_FAILED,
            xasprintf("plan 1..%ld but %ld reported", top->planned, top->seen));
    top->planned = -1;
    *out = p->out;
    *n = p->n;
    p->out = NULL;
    p->n = p->cap = 0;
    return p->seen;
}

bool tap_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n)
{
    struct tap_parser *p = tap_new();
    tap_feed(p, text, len);
    bool seen = tap_finish(p, out, n);
    tap_free(p);
    return seen;
}
