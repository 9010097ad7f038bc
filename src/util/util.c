#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

static void oom(void)
{
    fputs("kiln: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
    n = strnlen(s, n);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) oom();
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

int err_vsetf(char **reterr, int r, const char *fmt, va_list ap)
{
    if (!reterr) return r;
    char *m = xvasprintf(fmt, ap);
    free(*reterr);
    *reterr = m;
    return r;
}

int err_setf(char **reterr, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(reterr, r, fmt, ap);
    va_end(ap);
    return r;
}

int err_appendf(char **reterr, int r, const char *fmt, ...)
{
    if (!reterr) return r;
    va_list ap;
    va_start(ap, fmt);
    char *m = xvasprintf(fmt, ap);
    va_end(ap);
    if (*reterr) {
        char *both = xasprintf("%s%s", *reterr, m);
        free(m);
        m = both;
    }
    free(*reterr);
    *reterr = m;
    return r;
}

void *grow_array(void *arr, size_t sz, size_t n, size_t *cap)
{
    if (n <= *cap) return arr;
    size_t c = *cap ? *cap : 4;
    while (c < n) c *= 2;
    arr = xrealloc(arr, c * sz);
    memset((char *)arr + *cap * sz, 0, (c - *cap) * sz);
    *cap = c;
    return arr;
}

bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *strstrip(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

size_t levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), sub);
            prev = cur;
        }
    }
    return row[lb];
}

char *shell_quote(const char *s)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "'");
    for (; *s; s++) {
        if (*s == '\'') sbuf_puts(&b, "'\\''");
        else sbuf_append(&b, s, 1);
    }
    sbuf_puts(&b, "'");
    return sbuf_steal(&b);
}

char *base64_encode(const void *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    char *out = xmalloc((len + 2) / 3 * 4 + 1), *w = out;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0u) |
                     (i + 2 < len ? (unsigned)s[i + 2] : 0u);
        *w++ = tbl[(v >> 18) & 63];
        *w++ = tbl[(v >> 12) & 63];
        *w++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *w++ = i + 2 < len ? tbl[v & 63] : '=';
    }
    *w = 0;
    return out;
}

bool parse_long(const char *s, long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool parse_long_strict(const char *s, long *out)
{
    const char *d = s && *s == '-' ? s + 1 : s;
    /* one spelling per number: no sign but '-', no space, no leading zero, no "-0" */
    if (!d || !*d || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && (d[1] || d != s))) return false;
    return parse_long(s, out);
}

bool parse_double(const char *s, double *out)
{
    if (!s || !*s || strspn(s, "+-0123456789.eE") != strlen(s)) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

void sbuf_append(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->len + n + 1) c *= 2;
        b->s = xrealloc(b->s, c);
        b->cap = c;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_append(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    sbuf_puts(b, p);
    free(p);
}

char *sbuf_steal(struct sbuf *b)
{
    char *s = b->s ? b->s : xstrdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void sbuf_free(struct sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
