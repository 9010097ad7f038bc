#include "ext/tap.h"
#include "tap.h"
#include "util/util.h"

static const struct kiln_subtest *find(struct kiln_subtest *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(v[i].name, name)) return &v[i];
    return NULL;
}

static int status_of(struct kiln_subtest *v, size_t n, const char *name)
{
    const struct kiln_subtest *s = find(v, n, name);
    return s ? s->status : -1;
}

int main(void)
{
    struct kiln_subtest *v;
    size_t n;
    /* TAP 13, from the TAP specification's examples */
    const char *t13 = "TAP version 13\n1..4\nok 1 - Input file opened\nnot ok 2 - First line of the input valid\n"
                      "  ---\n  message: 'First line invalid'\n  ...\nok 3 - Read the rest of the file\n"
                      "not ok 4 - Summarized correctly # TODO Not written yet\n";
    ok(tap_parse(t13, strlen(t13), &v, &n), "TAP 13 recognised");
    is_int(n, 4, "four results");
    is_int(status_of(v, n, "Input file opened"), ST_PASSED, "ok");
    is_int(status_of(v, n, "First line of the input valid"), ST_FAILED, "not ok");
    is_int(status_of(v, n, "Summarized correctly"), ST_SKIPPED, "TODO is not a failure");
    subtests_free(v, n);

    const char *skip = "1..2\nok 1 # SKIP no network\nok 2 - b # skip: disabled\n";
    tap_parse(skip, strlen(skip), &v, &n);
    is_int(status_of(v, n, "test 1"), ST_SKIPPED, "unnamed skip gets a name");
    is_str(find(v, n, "b")->reason, "disabled", "skip reason");
    subtests_free(v, n);

    /* TAP 14 subtests */
    const char *t14 = "TAP version 14\n1..2\n# Subtest: parser\n    1..2\n    ok 1 - tokens\n    not ok 2 - errors\n"
                      "not ok 1 - parser\nok 2 - writer\n";
    tap_parse(t14, strlen(t14), &v, &n);
    is_int(status_of(v, n, "parser:tokens"), ST_PASSED, "TAP14 nested child named parent:child");
    is_int(status_of(v, n, "parser:errors"), ST_FAILED, "nested failure");
    is_int(status_of(v, n, "parser"), ST_FAILED, "parent result");
    is_int(status_of(v, n, "writer"), ST_PASSED, "sibling after a subtest block");
    subtests_free(v, n);

    /* KTAP, as in the kernel's Documentation/dev-tools/ktap.rst */
    const char *ktap = "KTAP version 1\n1..1\n  KTAP version 1\n  1..3\n  ok 1 test_1\n  ok 2 test_2 # SKIP unsupported\n"
                       "  not ok 3 test_3\nnot ok 1 example_test\n";
    tap_parse(ktap, strlen(ktap), &v, &n);
    is_int(status_of(v, n, "example_test:test_1"), ST_PASSED, "KTAP nested pass");
    is_int(status_of(v, n, "example_test:test_2"), ST_SKIPPED, "KTAP nested skip");
    is_int(status_of(v, n, "example_test:test_3"), ST_FAILED, "KTAP nested fail");
    is_int(status_of(v, n, "example_test"), ST_FAILED, "KTAP parent");
    subtests_free(v, n);

    /* kselftest's runner (run_kselftest.sh) */
    const char *ks = "TAP version 13\n1..3\n# timeout set to 45\n# selftests: timers: posix_timers\n# TAP version 13\n"
                     "# 1..2\n# ok 1 Check itimer virtual\n# ok 2 Check timer_create\n"
                     "# # Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0\n"
                     "ok 1 selftests: timers: posix_timers\n# selftests: timers: nanosleep\n"
                     "not ok 2 selftests: timers: nanosleep # TIMEOUT 45 seconds\n"
                     "ok 3 selftests: size: get_size # SKIP\n";
    tap_parse(ks, strlen(ks), &v, &n);
    is_int(status_of(v, n, "timers:posix_timers"), ST_PASSED, "kselftest collection:test");
    is_int(status_of(v, n, "timers:posix_timers:Check timer_create"), ST_PASSED, "kselftest nested results under '# '");
    is_int(status_of(v, n, "timers:nanosleep"), ST_FAILED, "kselftest timeout fails");
    is_str(find(v, n, "timers:nanosleep")->reason, "TIMEOUT 45 seconds", "timeout reason");
    is_int(status_of(v, n, "size:get_size"), ST_SKIPPED, "kselftest skip");
    is_int(n, 5, "no results invented");
    subtests_free(v, n);

    const char *short_plan = "1..3\nok 1 a\n";
    tap_parse(short_plan, strlen(short_plan), &v, &n);
    is_int(status_of(v, n, "missing tests"), ST_FAILED, "fewer results than planned is a failure");
    subtests_free(v, n);
    const char *bail = "1..2\nok 1 a\nBail out! database gone\n";
    tap_parse(bail, strlen(bail), &v, &n);
    is_str(find(v, n, "bail out")->reason, "database gone", "Bail out! recorded");
    subtests_free(v, n);

    ok(!tap_parse("hello\nworld\n", 12, &v, &n) && n == 0, "plain text is not TAP");
    subtests_free(v, n);

    /* chunked feeding gives the same result as a whole buffer */
    struct tap_parser *p = tap_new();
    for (size_t i = 0; i < strlen(ks); i++) tap_feed(p, ks + i, 1);
    size_t n2;
    tap_finish(p, &v, &n2);
    tap_free(p);
    is_int(n2, 5, "byte-by-byte feeding");
    subtests_free(v, n2);

    /* garbage never crashes and stays bounded */
    struct sbuf g = {0};
    for (int i = 0; i < 20000; i++) sbuf_printf(&g, "%*sok %d\n", i % 40, "", i);
    sbuf_puts(&g, "not ok");
    for (int i = 0; i < 10000; i++) sbuf_puts(&g, "#");
    tap_parse(g.s, g.len, &v, &n);
    ok(n > 0, "deeply ragged indentation handled (%zu results)", n);
    subtests_free(v, n);
    sbuf_free(&g);
    return tap_done();
}
