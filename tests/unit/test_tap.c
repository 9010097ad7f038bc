#include "ext/tap.h"
#include "tap.h"
#include "util/fs.h"
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

static const char *reason_of(struct kiln_subtest *v, size_t n, const char *name)
{
    const struct kiln_subtest *s = find(v, n, name);
    return s && s->reason ? s->reason : "(none)";
}

static size_t failed(struct kiln_subtest *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += v[i].status == ST_FAILED;
    return k;
}

/* A stream from tests/data/inputs (the shapes of real reports). */
static bool parse_file(const char *rel, struct kiln_subtest **v, size_t *n, char **skip)
{
    _cleanup_free_ char *path = path_join(TEST_DATA_DIR "/inputs", rel);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (read_file(path, 1 << 20, &text, &len) < 0) {
        ok(false, "cannot read %s", path);
        *v = NULL, *n = 0, *skip = NULL;
        return false;
    }
    return tap_parse(text, len, v, n, skip);
}

static bool parse_str(const char *text, struct kiln_subtest **v, size_t *n, char **skip)
{
    return tap_parse(text, strlen(text), v, n, skip);
}

int main(void)
{
    struct kiln_subtest *v;
    size_t n;
    char *skip;
    /* TAP 13, from the TAP specification's examples */
    const char *t13 = "TAP version 13\n1..4\nok 1 - Input file opened\nnot ok 2 - First line of the input valid\n"
                      "  ---\n  message: 'First line invalid'\n  ...\nok 3 - Read the rest of the file\n"
                      "not ok 4 - Summarized correctly # TODO Not written yet\n";
    ok(parse_str(t13, &v, &n, &skip), "TAP 13 recognised");
    is_int(n, 4, "four results");
    is_int(status_of(v, n, "Input file opened"), ST_PASSED, "ok");
    is_int(status_of(v, n, "First line of the input valid"), ST_FAILED, "not ok");
    is_int(status_of(v, n, "Summarized correctly"), ST_SKIPPED, "TODO is not a failure");
    ok(skip == NULL, "no skip-all");
    subtests_free(v, n);

    const char *skips = "1..2\nok 1 # SKIP no network\nok 2 - b # skip: disabled\n";
    parse_str(skips, &v, &n, NULL);
    is_int(status_of(v, n, "test 1"), ST_SKIPPED, "unnamed skip gets a name");
    is_str(find(v, n, "b")->reason, "disabled", "skip reason");
    subtests_free(v, n);

    /* TAP 14 subtests */
    const char *t14 = "TAP version 14\n1..2\n# Subtest: parser\n    1..2\n    ok 1 - tokens\n    not ok 2 - errors\n"
                      "not ok 1 - parser\nok 2 - writer\n";
    parse_str(t14, &v, &n, NULL);
    is_int(status_of(v, n, "parser:tokens"), ST_PASSED, "TAP14 nested child named parent:child");
    is_int(status_of(v, n, "parser:errors"), ST_FAILED, "nested failure");
    is_int(status_of(v, n, "parser"), ST_FAILED, "parent result");
    is_int(status_of(v, n, "writer"), ST_PASSED, "sibling after a subtest block");
    is_int(n, 4, "a well-formed nested stream has no TAP problem");
    subtests_free(v, n);

    /* KTAP, as in the kernel's Documentation/dev-tools/ktap.rst */
    const char *ktap = "KTAP version 1\n1..1\n  KTAP version 1\n  1..3\n  ok 1 test_1\n  ok 2 test_2 # SKIP unsupported\n"
                       "  not ok 3 test_3\nnot ok 1 example_test\n";
    parse_str(ktap, &v, &n, NULL);
    is_int(status_of(v, n, "example_test:test_1"), ST_PASSED, "KTAP nested pass");
    is_int(status_of(v, n, "example_test:test_2"), ST_SKIPPED, "KTAP nested skip");
    is_int(status_of(v, n, "example_test:test_3"), ST_FAILED, "KTAP nested fail");
    is_int(status_of(v, n, "example_test"), ST_FAILED, "KTAP parent");
    is_int(n, 4, "no problem reported");
    subtests_free(v, n);

    /* the plan rules hold in nested KTAP too: a child plan 1..3 with two results, and a
     * nested block without a plan, fail even when the parent says ok */
    const char *ktap_short = "KTAP version 1\n1..2\n  KTAP version 1\n  1..3\n  ok 1 a\n  ok 2 b\nok 1 suite_one\n"
                             "  KTAP version 1\n  ok 1 c\nok 2 suite_two\n";
    parse_str(ktap_short, &v, &n, NULL);
    is_int(status_of(v, n, "suite_one:TAP"), ST_FAILED, "nested plan mismatch fails as parent:TAP");
    is_str(reason_of(v, n, "suite_one:TAP"), "plan 1..3 but 2 reported", "its reason");
    is_str(reason_of(v, n, "suite_two:TAP"), "no plan (a line 1..N) in the TAP output", "nested block without a plan");
    is_int(status_of(v, n, "suite_one"), ST_PASSED, "the parent's own line is kept as it is");
    subtests_free(v, n);

    /* kselftest's runner (run_kselftest.sh) */
    const char *ks = "TAP version 13\n1..3\n# timeout set to 45\n# selftests: timers: posix_timers\n# TAP version 13\n"
                     "# 1..2\n# ok 1 Check itimer virtual\n# ok 2 Check timer_create\n"
                     "# # Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0\n"
                     "ok 1 selftests: timers: posix_timers\n# selftests: timers: nanosleep\n"
                     "not ok 2 selftests: timers: nanosleep # TIMEOUT 45 seconds\n"
                     "ok 3 selftests: size: get_size # SKIP\n";
    parse_str(ks, &v, &n, NULL);
    is_int(status_of(v, n, "timers:posix_timers"), ST_PASSED, "kselftest collection:test");
    is_int(status_of(v, n, "timers:posix_timers:Check timer_create"), ST_PASSED, "kselftest nested results under '# '");
    is_int(status_of(v, n, "timers:nanosleep"), ST_FAILED, "kselftest timeout fails");
    is_str(find(v, n, "timers:nanosleep")->reason, "TIMEOUT 45 seconds", "timeout reason");
    is_int(status_of(v, n, "size:get_size"), ST_SKIPPED, "kselftest skip");
    is_int(n, 5, "no results invented");
    subtests_free(v, n);

    /* a YAML block under "# " (kselftest) is data too */
    const char *ksy = "TAP version 13\n1..1\n# TAP version 13\n# 1..1\n# ok 1 inner\n#   ---\n#   not ok 9 data\n#   ...\n"
                      "ok 1 selftests: x: y\n";
    parse_str(ksy, &v, &n, NULL);
    is_int(n, 2, "YAML under '# ' is not a test");
    is_int(failed(v, n), 0, "nothing failed");
    subtests_free(v, n);

    const char *short_plan = "1..3\nok 1 a\n";
    parse_str(short_plan, &v, &n, NULL);
    is_str(reason_of(v, n, "TAP"), "plan 1..3 but 1 reported", "fewer results than planned is a failure");
    subtests_free(v, n);
    const char *bail = "1..2\nok 1 a\nBail out! database gone\nnot ok 2 b\n";
    parse_str(bail, &v, &n, NULL);
    is_str(find(v, n, "bail out")->reason, "database gone", "Bail out! recorded");
    ok(!find(v, n, "b") && !find(v, n, "TAP"), "nothing is read after Bail out!, and the plan is not judged");
    subtests_free(v, n);

    ok(!parse_str("hello\nworld\n", &v, &n, &skip) && n == 0 && !skip, "plain text is not TAP");
    subtests_free(v, n);
    ok(!parse_str("building...\nok\nnot ok\nok - looks fine\ndone\n", &v, &n, NULL) && n == 0,
       "unnumbered ok lines alone are not TAP (a stray ok in other output)");
    subtests_free(v, n);
    ok(parse_str("ok\nok\n1..2\n", &v, &n, NULL) && n == 2 && !failed(v, n), "with a plan they are tests");
    subtests_free(v, n);

    /* the issue's streams (tests/data/inputs/tap-plans, tap-yaml-block) */
    ok(parse_file("tap-plans/over-plan.txt", &v, &n, &skip), "over-plan is TAP");
    is_str(reason_of(v, n, "TAP"), "plan 1..2 but 3 reported", "over-plan: more tests than planned fails");
    is_int(failed(v, n), 1, "over-plan: only the plan fails");
    is_int(n, 4, "over-plan: the three tests are kept");
    subtests_free(v, n);
    parse_file("tap-plans/zero-plan-with-test.txt", &v, &n, &skip);
    is_str(reason_of(v, n, "TAP"), "plan 1..0 but 1 reported", "1..0 after a test fails");
    ok(!skip, "and is not a skip");
    subtests_free(v, n);
    ok(parse_file("tap-plans/skip-all.txt", &v, &n, &skip), "skip-all is TAP");
    is_str(skip, "no virtio-rng device on this node", "1..0 # SKIP reason skips the whole test");
    is_int(n, 0, "with no subtests");
    free(skip);
    subtests_free(v, n);
    parse_file("tap-plans/no-plan.txt", &v, &n, &skip);
    is_str(reason_of(v, n, "TAP"), "no plan (a line 1..N) in the TAP output", "no plan fails");
    is_int(status_of(v, n, "a"), ST_PASSED, "no plan: the tests are still read");
    subtests_free(v, n);
    parse_file("tap-yaml-block/yaml-block.txt", &v, &n, &skip);
    is_int(n, 2, "yaml-block: two subtests (the captured stream inside --- ... is data)");
    is_int(status_of(v, n, "reporter prints the expected stream"), ST_PASSED, "yaml-block: first passed");
    is_int(status_of(v, n, "reporter exits 0"), ST_PASSED, "yaml-block: second passed");
    subtests_free(v, n);

    /* siblings the examples do not name (each also checked against prove by tests/integration/script_output.sh) */
    static const struct {
        const char *file, *reason;
    } broken[] = {
        {"tap-siblings/two-plans.txt", "more than one plan (1..2, then 1..2)"},
        {"tap-siblings/plan-in-middle.txt", "plan 1..3 in the middle of the tests (it belongs first or last)"},
        {"tap-siblings/out-of-sequence.txt", "test 3 reported where 2 was expected"},
        {"tap-siblings/duplicate-number.txt", "test 1 reported where 2 was expected"},
        {"tap-siblings/version-only.txt", "no plan (a line 1..N) in the TAP output"},
        {"tap-siblings/yaml-ended-by-dedent.txt", "a YAML block (---) is not closed with ..."},
    };
    for (size_t i = 0; i < ARRAY_SIZE(broken); i++) {
        parse_file(broken[i].file, &v, &n, &skip);
        has(reason_of(v, n, "TAP"), broken[i].reason, broken[i].file);
        subtests_free(v, n);
        free(skip);
    }
    parse_file("tap-siblings/zero-plan-no-reason.txt", &v, &n, &skip);
    is_str(skip, "no reason given", "1..0 without a reason skips");
    free(skip);
    subtests_free(v, n);
    parse_file("tap-siblings/skip-on-counted-plan.txt", &v, &n, &skip);
    ok(!skip && n == 2 && !failed(v, n), "1..2 # SKIP: the tests still count (TAP 13)");
    subtests_free(v, n);
    parse_file("tap-siblings/plan-at-end.txt", &v, &n, &skip);
    ok(n == 2 && !failed(v, n), "a plan at the end is fine");
    subtests_free(v, n);
    parse_file("tap-siblings/bail-out.txt", &v, &n, &skip);
    ok(status_of(v, n, "bail out") == ST_FAILED && !find(v, n, "b"), "bail-out: fails, later lines ignored");
    subtests_free(v, n);

    /* the spec's own skip-all example form, and YAML block scalars with blank lines */
    parse_str("TAP version 13\n1..0 # Skipped: WWW::Mechanize not installed\n", &v, &n, &skip);
    is_str(skip, "WWW::Mechanize not installed", "1..0 # Skipped: reason");
    free(skip);
    subtests_free(v, n);
    parse_str("1..2\nok 1\n  ---\n  log: |\n    one\n\n    ok 7 - inside\n  ...\nok 2\n", &v, &n, NULL);
    ok(n == 2 && !failed(v, n), "a blank line inside a YAML block does not end it");
    subtests_free(v, n);
    parse_str("1..1\nok 1\n  ---\n  a: 1\n", &v, &n, NULL);
    is_str(reason_of(v, n, "TAP"), "a YAML block (---) is not closed with ...", "a YAML block open at the end fails");
    subtests_free(v, n);

    /* chunked feeding gives the same result as a whole buffer */
    struct tap_parser *p = tap_new();
    for (size_t i = 0; i < strlen(ks); i++) tap_feed(p, ks + i, 1);
    size_t n2;
    tap_finish(p, &v, &n2, NULL);
    tap_free(p);
    is_int(n2, 5, "byte-by-byte feeding");
    subtests_free(v, n2);

    /* garbage never crashes and stays bounded */
    struct sbuf g = {0};
    for (int i = 0; i < 20000; i++) sbuf_printf(&g, "%*sok %d\n", i % 40, "", i);
    sbuf_puts(&g, "not ok");
    for (int i = 0; i < 10000; i++) sbuf_puts(&g, "#");
    tap_parse(g.s, g.len, &v, &n, NULL);
    ok(n > 0, "deeply ragged indentation handled (%zu results)", n);
    subtests_free(v, n);
    sbuf_free(&g);
    return tap_done();
}
