#include "ext/tap.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>

#include "util/util.h"

#define MAX_LINE 4096
#define MAX_DEPTH 16
#define MAX_SUBTESTS 200000
#define MAX_PROBLEMS 1024 /* bytes of problem text kept per level */

struct level {
    int indent;        /* columns of indentation (after "# " prefixes) */
    int hashes;        /* "# " prefixes (kselftest nests child output that way) */
    long planned;      /* the last plan's count; -1 when no plan was seen */
    int plans;         /* plan lines seen */
    long plan_at;      /* tests seen when the plan came */
    bool mid_plan;     /* a test came after a trailing plan (reported once) */
    bool out_of_seq;   /* a test number out of sequence (reported once) */
    char *skip;        /* "1..0 # SKIP reason": the reason */
    long seen;
    size_t first;      /* index in out of this level's first result */
    char *subtest;     /* TAP14 "# Subtest: name" */
    struct sbuf problems;
};

struct tap_parser {
    struct sbuf line;
    bool evidence;     /* the text is TAP (see tap.h) */
    bool bailed;       /* "Bail out!": the rest of the stream is not read */
    bool in_yaml;      /* inside a YAML diagnostic block */
    bool overflow;     /* more results than MAX_SUBTESTS */
    int yaml_indent, yaml_hashes;
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

static void level_clear(struct level *l)
{
    free(l->subtest);
    free(l->skip);
    sbuf_free(&l->problems);
    *l = (struct level){.planned = -1};
}

void tap_free(struct tap_parser *p)
{
    if (!p) return;
    sbuf_free(&p->line);
    for (int i = 0; i < MAX_DEPTH; i++) level_clear(&p->lv[i]);
    subtests_free(p->out, p->n);
    free(p);
}

static void add(struct tap_parser *p, char *name, int status, char *reason)
{
    if (p->n >= MAX_SUBTESTS) {
        p->overflow = true;
        free(name);
        free(reason);
        return;
    }
    struct kiln_subtest *s = APPEND(p->out, p->n, p->cap);
    s->name = name;
    s->status = status;
    s->reason = reason;
}

__attribute__((format(printf, 2, 3))) static void problem(struct level *l, const char *fmt, ...)
{
    if (l->problems.len >= MAX_PROBLEMS) return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    sbuf_printf(&l->problems, "%s%s", l->problems.len ? "; " : "", msg);
    free(msg);
}

/* The plan rules, checked when a level ends; problems become one failed subtest "TAP". */
static void level_verdict(struct tap_parser *p, struct level *l, bool top)
{
    if (!p->bailed) {
        if (!l->plans && (top || l->seen)) problem(l, "no plan (a line 1..N) in the TAP output");
        else if (l->plans && l->planned != l->seen)
            problem(l, "plan 1..%ld but %ld reported", l->planned, l->seen);
    }
    if (l->problems.len) add(p, xstrdup("TAP"), ST_FAILED, sbuf_steal(&l->problems));
}

/* Children arrive before their parent's result line: on that line, prefix them. */
static void close_level(struct tap_parser *p, const char *parent_name)
{
    struct level *l = &p->lv[p->depth - 1];
    level_verdict(p, l, false);
    for (size_t i = l->first; parent_name && i < p->n; i++) {
        char *nn = xasprintf("%s:%s", parent_name, p->out[i].name);
        free(p->out[i].name);
        p->out[i].name = nn;
    }
    level_clear(l);
    p->depth--;
}

static void open_level(struct tap_parser *p, int indent, int hashes)
{
    if (p->depth == MAX_DEPTH) return;
    struct level *l = &p->lv[p->depth++];
    level_clear(l);
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

/* "ok", "not ok", alone or followed by a space; *rest points after it. */
static bool test_word(const char *s, bool *okay, const char **rest)
{
    size_t k = startswith(s, "not ok") ? 6 : startswith(s, "ok") ? 2 : 0;
    if (!k || (s[k] && s[k] != ' ')) return false;
    *okay = k == 2;
    *rest = s + k;
    return true;
}

/* A test number right after the word: digits then the end or a space. */
static bool test_number(const char *rest, long *num)
{
    while (*rest == ' ') rest++;
    if (!isdigit((unsigned char)*rest)) return false;
    char *end;
    *num = strtol(rest, &end, 10);
    return !*end || *end == ' ';
}

static void test_line(struct tap_parser *p, bool okay, const char *rest)
{
    /* rest: "[N] [- ]description [# DIRECTIVE reason]" */
    struct level *l = &p->lv[p->depth - 1];
    long num;
    if (test_number(rest, &num)) {
        while (*rest == ' ') rest++;
        while (isdigit((unsigned char)*rest)) rest++;
        if (num != l->seen + 1 && !l->out_of_seq) {
            problem(l, "test %ld reported where %ld was expected", num, l->seen + 1);
            l->out_of_seq = true;
        }
    }
    while (*rest == ' ') rest++;
    if (l->plans && l->plan_at > 0 && !l->mid_plan) {
        problem(l, "plan 1..%ld in the middle of the tests (it belongs first or last)", l->planned);
        l->mid_plan = true;
    }
    const char *hash = NULL;
    for (const char *q = rest; *q; q++)
        if (*q == '#' && (q == rest || q[-1] == ' ') && (q == rest || q[-1] != '\\')) {
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
        name = xasprintf("test %ld", l->seen + 1);
    }
    l->seen++;
    add(p, name, status, reason);
}

/* "1..N" or "1..N # directive": the count, and where the directive starts (NULL without
 * one); false when s is not a plan. */
static bool plan_syntax(const char *s, long *count, const char **directive)
{
    if (!startswith(s, "1..") || !isdigit((unsigned char)s[3])) return false;
    char *end;
    *count = strtol(s + 3, &end, 10);
    while (*end == ' ') end++;
    *directive = *end == '#' ? end + 1 : NULL;
    return !*end || *end == '#';
}

static void plan_line(struct tap_parser *p, long count, const char *directive)
{
    struct level *l = &p->lv[p->depth - 1];
    if (l->plans++) problem(l, "more than one plan (1..%ld, then 1..%ld)", l->planned, count);
    l->planned = count;
    l->plan_at = l->seen;
    if (!directive) return;
    const char *d = directive;
    while (*d == ' ') d++;
    if (strncasecmp(d, "SKIP", 4)) return;
    /* "# SKIP reason", "# Skipped: reason" */
    d += 4;
    while (*d && *d != ' ') d++;
    while (*d == ' ') d++;
    /* on 1..N with N > 0 the tests still count (TAP 13) */
    if (!count) {
        free(l->skip);
        l->skip = xstrdup(*d ? d : "no reason given");
    }
}

/* Trailing blanks cut; kselftest's "# " prefixes (one per nesting of its runner) and the
 * indentation skipped and counted. */
static char *unwrap(char *s, int *hashes, int *indent)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = 0;
    *hashes = 0;
    while (s[0] == '#' && s[1] == ' ' &&
           (startswith(s + 2, "ok ") || startswith(s + 2, "not ok ") || startswith(s + 2, "1..") ||
            startswith(s + 2, "TAP version") || startswith(s + 2, "KTAP version") || startswith(s + 2, "# ") ||
            startswith(s + 2, "  "))) {
        s += 2;
        (*hashes)++;
    }
    *indent = 0;
    while (*s == ' ' || *s == '\t') *indent += *s == '\t' ? 4 : 1, s++;
    return s;
}

/* A YAML block: its lines are data up to "..." at its indentation; a line indented less ends
 * it too, but a block without its marker may have swallowed results. True when the line was
 * the block's (or opened one). */
static bool yaml_line(struct tap_parser *p, const char *s, int indent, int hashes)
{
    if (p->in_yaml) {
        if (!*s) return true;
        if (hashes == p->yaml_hashes && indent >= p->yaml_indent) {
            if (indent == p->yaml_indent && streq(s, "...")) p->in_yaml = false;
            return true;
        }
        p->in_yaml = false;
        problem(&p->lv[p->depth - 1], "a YAML block (---) is not closed with ...");
    }
    if (streq(s, "---") && (indent || hashes)) {
        p->in_yaml = true;
        p->yaml_indent = indent;
        p->yaml_hashes = hashes;
        return true;
    }
    return false;
}

/* Closes the nested blocks deeper than key: the line that closes one is its parent's result
 * (test line rest, NULL for other lines), whose name names the children. */
static void close_deeper(struct tap_parser *p, int key, const char *rest)
{
    struct level *cur = &p->lv[p->depth - 1];
    while (key < cur->hashes * 1000 + cur->indent && p->depth > 1) {
        char *pname = NULL;
        if (rest) {
            const char *r = rest;
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
    }
}

/* "# Subtest: NAME" names the block it opens (or the one this line's indentation opened). */
static void subtest_line(struct tap_parser *p, char *s, int indent, int hashes, bool opened)
{
    struct level *cur = &p->lv[p->depth - 1];
    if (!opened) {
        open_level(p, indent + 4, hashes);
        cur = &p->lv[p->depth - 1];
    }
    free(cur->subtest);
    cur->subtest = xstrdup(strstrip(s + 10));
}

static void handle(struct tap_parser *p, char *line)
{
    if (p->bailed) return;
    int hashes, indent;
    char *s = unwrap(line, &hashes, &indent);
    if (yaml_line(p, s, indent, hashes)) return;
    bool okay = false;
    const char *rest = NULL;
    long num, count = 0;
    const char *directive = NULL;
    bool is_test = test_word(s, &okay, &rest);
    bool is_plan = plan_syntax(s, &count, &directive);
    bool is_version = startswith(s, "TAP version") || startswith(s, "KTAP version");
    bool is_subtest = startswith(s, "# Subtest:");
    bool is_bail = startswith(s, "Bail out!");
    if (!is_test && !is_plan && !is_version && !is_subtest && !is_bail) return;
    if (!is_test || test_number(rest, &num)) p->evidence = true;
    const struct level *cur = &p->lv[p->depth - 1];
    int key = hashes * 1000 + indent;
    bool opened = key > cur->hashes * 1000 + cur->indent;
    if (opened) open_level(p, indent, hashes);
    else close_deeper(p, key, is_test ? rest : NULL);
    if (is_version) return;
    if (is_subtest) subtest_line(p, s, indent, hashes, opened);
    else if (is_plan) plan_line(p, count, directive);
    else if (is_bail) {
        add(p, xstrdup("bail out"), ST_FAILED, xstrdup(*strstrip(s + 9) ? strstrip(s + 9) : "bailed out"));
        p->bailed = true;
    } else test_line(p, okay, rest);
}

void tap_feed(struct tap_parser *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n') {
            if (p->line.s) handle(p, p->line.s);
            p->line.len = 0;
            if (p->line.s) p->line.s[0] = 0;
            continue;
        }
        if (c == 0) c = ' ';
        if (p->line.len < MAX_LINE) sbuf_append(&p->line, &c, 1);
    }
}

bool tap_finish(struct tap_parser *p, struct kiln_subtest **out, size_t *n, char **skip_all)
{
    if (skip_all) *skip_all = NULL;
    if (p->line.len) handle(p, p->line.s);
    p->line.len = 0;
    if (p->in_yaml && !p->bailed) problem(&p->lv[p->depth - 1], "a YAML block (---) is not closed with ...");
    p->in_yaml = false;
    while (p->depth > 1) close_level(p, p->lv[p->depth - 1].subtest);
    struct level *top = &p->lv[0];
    if (p->evidence) level_verdict(p, top, true);
    if (p->evidence && p->overflow) {
        /* results were left unread: make room to say so */
        struct kiln_subtest *last = &p->out[--p->n];
        free(last->name);
        free(last->reason);
        add(p, xstrdup("TAP"), ST_FAILED, xasprintf("more than %d results; the rest were not read", MAX_SUBTESTS - 1));
    }
    if (!p->evidence) {
        subtests_free(p->out, p->n);
        p->out = NULL;
        p->n = p->cap = 0;
    } else if (skip_all && top->plans == 1 && top->planned == 0 && !top->seen && !p->n) {
        *skip_all = xstrdup(top->skip ? top->skip : "no reason given");
    }
    *out = p->out;
    *n = p->n;
    p->out = NULL;
    p->n = p->cap = 0;
    return p->evidence;
}

bool tap_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n, char **skip_all)
{
    struct tap_parser *p = tap_new();
    tap_feed(p, text, len);
    bool seen = tap_finish(p, out, n, skip_all);
    tap_free(p);
    return seen;
}
