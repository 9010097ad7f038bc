#include "ext/output.h"

#include "ext/junit.h"
#include "ext/ltp.h"
#include "ext/tap.h"
#include "util/utf8.h"
#include "util/util.h"

static void take(struct ext_output *o, struct kiln_subtest *v, size_t n)
{
    for (size_t i = 0; i < n; i++) *APPEND(o->subtests, o->n, o->cap) = v[i];
    free(v);
}

void ext_output_read(const char *text, size_t len, struct ext_output *o)
{
    *o = (struct ext_output){0};
    _cleanup_free_ char *clean = utf8_sanitize(text, len, UTF8_STRIP_ANSI);
    size_t clen = strlen(clean);
    struct kiln_subtest *v;
    size_t n;
    struct junit_span *spans = NULL;
    size_t nspans = junit_read(clean, clen, &v, &n, &spans);
    take(o, v, n);
    /* the rest, line structure kept: reports' bytes become blanks, their newlines stay */
    for (size_t i = 0; i < nspans; i++)
        for (size_t k = spans[i].start; k < spans[i].end; k++)
            if (clean[k] != '\n') clean[k] = ' ';
    free(spans);
    tap_parse(clean, clen, &v, &n, &o->skip_all);
    take(o, v, n);
    if (strstr(clean, "Testcase") && strstr(clean, "Result")) {
        ltp_parse(clean, clen, &v, &n);
        take(o, v, n);
    }
}

void ext_output_free(struct ext_output *o)
{
    subtests_free(o->subtests, o->n);
    free(o->skip_all);
    *o = (struct ext_output){0};
}
