/* A script test's output read as results (ext/output.h) on the shapes of real reports in
 * tests/data/inputs, and the reports kiln writes from what it read. */
#include <jansson.h>

#include "model/case.h"
#include "ext/common.h"
#include "ext/output.h"
#include "report/notifier.h"
#include "tap.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/utf8.h"
#include "util/util.h"

static const struct kiln_subtest *find(const struct ext_output *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (streq(o->subtests[i].name, name)) return &o->subtests[i];
    return NULL;
}

static int status_of(const struct ext_output *o, const char *name)
{
    const struct kiln_subtest *s = find(o, name);
    return s ? s->status : -1;
}

static char *input(const char *rel, size_t *len)
{
    _cleanup_free_ char *path = path_join(TEST_DATA_DIR "/inputs", rel);
    char *text = NULL;
    if (read_file(path, 1 << 20, &text, len) < 0) ok(false, "cannot read %s", path);
    return text;
}

static void read_input(const char *rel, struct ext_output *o)
{
    size_t len = 0;
    _cleanup_free_ char *text = input(rel, &len);
    ext_output_read(text ? text : "", text ? len : 0, o);
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

static int noop(struct kiln_case_ctx *t)
{
    (void)t;
    return CASE_PASS;
}

static const struct kiln_case script = {.name = "ext.web.ui", .area = "web", .priority = 2, .run = noop,
                                        .description = "a script test"};

int main(void)
{
    struct ext_output o;
    /* a script that prints a JUnit report and exits 0: the report's subtests, whatever is
     * around it; the case fails naming the failed one */
    static const char *const junit_inputs[] = {"reference-clean.txt", "esc.txt", "trailing.txt", "two-reports.txt",
                                               "leading.txt", "ok-line.txt"};
    for (size_t i = 0; i < ARRAY_SIZE(junit_inputs); i++) {
        _cleanup_free_ char *rel = xasprintf("junit-from-scripts/%s", junit_inputs[i]);
        read_input(rel, &o);
        bool two = streq(junit_inputs[i], "two-reports.txt");
        is_int(o.n, two ? 4 : 2, rel);
        is_int(status_of(&o, "ui.render.renders header"), ST_PASSED, "renders header passed");
        is_int(status_of(&o, "ui.render.renders footer"), ST_FAILED, "renders footer failed");
        if (two) {
            is_int(status_of(&o, "api.http.renders header"), ST_PASSED, "the second report is read too");
            is_int(status_of(&o, "api.http.renders footer"), ST_FAILED, "and its failure counts");
        }
        ok(!find(&o, "JUnit") && !find(&o, "TAP") && !o.skip_all, "nothing else is made of it");
        _cleanup_free_ char *why = ext_subtests_verdict(o.subtests, o.n);
        has(why, "ui.render.renders footer", "the case fails naming it");
        ext_output_free(&o);
    }
    read_input("junit-from-scripts/esc.txt", &o);
    is_str(find(&o, "ui.render.renders footer")->reason,
           "Error: expected footer to be visible\n    at render.spec.js:14:7", "terminal colours dropped from the reason");
    _cleanup_free_ char *why = ext_subtests_verdict(o.subtests, o.n);
    is_str(why, "1 of 2 subtests failed: ui.render.renders footer (Error: expected footer to be visible…)",
           "the case's reason: the failed subtest and the first line of why");
    ext_output_free(&o);
    read_input("junit-from-scripts/reference-clean.txt", &o);
    _cleanup_free_ char *why2 = ext_subtests_verdict(o.subtests, o.n);
    is_str(why2, "1 of 2 subtests failed: ui.render.renders footer (footer missing)", "reference reason");
    ext_output_free(&o);

    /* TAP plan errors reach the case's reason */
    read_input("tap-plans/over-plan.txt", &o);
    _cleanup_free_ char *why3 = ext_subtests_verdict(o.subtests, o.n);
    is_str(why3, "1 of 4 subtests failed: TAP (plan 1..2 but 3 reported)", "over-plan fails saying why");
    ext_output_free(&o);
    read_input("tap-plans/skip-all.txt", &o);
    is_str(o.skip_all, "no virtio-rng device on this node", "skip-all reaches the case");
    ext_output_free(&o);

    /* formats side by side: TAP and a report both count; TAP-looking lines inside a report
     * are the report's; a report that cannot be read fails */
    const char *mixed = "TAP version 13\n1..1\nnot ok 1 - tap side\n<testsuite>\n <testcase name=\"xml side\">"
                        "<system-out>\nok 2 - inside the report\n</system-out></testcase>\n</testsuite>\n";
    ext_output_read(mixed, strlen(mixed), &o);
    ok(o.n == 2 && status_of(&o, "tap side") == ST_FAILED && status_of(&o, "xml side") == ST_PASSED,
       "TAP and JUnit both read, nothing from inside the report read as TAP (%zu)", o.n);
    ext_output_free(&o);
    const char *broken = "<testsuite>\n <testcase name=\"a\"/>\n <testcase name=\"b\">\n</testsuite>\n";
    ext_output_read(broken, strlen(broken), &o);
    is_int(status_of(&o, "JUnit"), ST_FAILED, "a report libxml2 cannot read fails the case");
    is_int(status_of(&o, "a"), ST_PASSED, "with what was recovered");
    ext_output_free(&o);
    const char *colour = "\x1b[1mTAP version 13\x1b[0m\n1..1\n\x1b[32mok 1 - green\x1b[0m\n";
    ext_output_read(colour, strlen(colour), &o);
    ok(o.n == 1 && status_of(&o, "green") == ST_PASSED, "coloured TAP is TAP");
    ext_output_free(&o);
    const char *ltp = "Testcase   Result   Exit Value\n--------   ------   ----------\nabort01   PASS   0\n"
                      "accept01   FAIL   1\n\n-----\nTotal Tests: 2\n";
    ext_output_read(ltp, strlen(ltp), &o);
    ok(o.n == 2 && status_of(&o, "accept01") == ST_FAILED, "an LTP table is read");
    ext_output_free(&o);

    /* bytes: names and reasons keep their text; U+FFFD only where bytes were invalid */
    struct ext_output lat, uff, cyr;
    read_input("junit-bytes/tap-latin1.txt", &lat);
    read_input("junit-bytes/tap-uffff.txt", &uff);
    read_input("junit-bytes/junit-cyrillic-long.txt", &cyr);
    is_int(status_of(&lat, "r\xEF\xBF\xBDsum\xEF\xBF\xBD export (latin-1 locale)"), ST_FAILED, "Latin-1 byte: U+FFFD");
    is_int(status_of(&uff, "decoder returns \xEF\xBF\xBF for unmapped input"), ST_FAILED, "U+FFFF kept");
    const struct kiln_subtest *long_one = find(&cyr, "i18n.messages.translated error text");
    ok(long_one && long_one->status == ST_FAILED, "the long Cyrillic failure is read");
    size_t clen = 0;
    _cleanup_free_ char *craw = input("junit-bytes/junit-cyrillic-long.txt", &clen);
    const char *body = craw ? strstr(craw, "<failure>") + 9 : "";
    size_t rlen = long_one ? strlen(long_one->reason) : 0;
    ok(long_one && rlen <= 500 + 3 && endswith(long_one->reason, "…") && !strncmp(long_one->reason, body, rlen - 3) &&
           !strstr(long_one->reason, "\xEF\xBF\xBD"),
       "its reason is cut at a character boundary (%zu bytes), no U+FFFD", rlen);

    char dir[] = "/tmp/kiln-out-XXXXXX";
    ok(mkdtemp(dir) != NULL, "run directory");
    struct kiln_results r = {.name = xstrdup("bytes"), .id = xstrdup("bytes-1"), .dir = xstrdup(dir),
                             .platform = xstrdup("ready"), .accel = xstrdup("none"), .started = 1700000000};
    r.v = xcalloc(1, sizeof *r.v);
    r.n = 1;
    r.v[0] = (struct kiln_result){.id = xstrdup("ext.web.ui"), .c = &script, .status = ST_FAILED,
                                  .reason = ext_subtests_verdict(cyr.subtests, cyr.n)};
    struct ext_output *all[] = {&lat, &uff, &cyr};
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        for (size_t k = 0; k < all[i]->n; k++)
            *APPEND(r.v[0].subtests, r.v[0].nsubtests, r.v[0].capsubtests) = all[i]->subtests[k];
        free(all[i]->subtests);
        all[i]->subtests = NULL;
        all[i]->n = 0;
        ext_output_free(all[i]);
    }
    ok(notifier_junit.run_finished(NULL, &r, NULL) == 0 && notifier_json.run_finished(NULL, &r, NULL) == 0, "reports written");
    _cleanup_free_ char *jp = path_join(dir, "junit.xml");
    char *xargv[] = {"xmllint", "--noout", jp, NULL};
    _cleanup_free_ char *xout = NULL;
    int xr = proc_run(xargv, 30000, &xout);
    ok(xr == 0, "xmllint --noout junit.xml: %d %s", xr, xout ? xout : "");
    _cleanup_free_ char *rp = path_join(dir, "results.json");
    _cleanup_free_ char *rtext = NULL;
    size_t rl = 0;
    read_file(rp, 1 << 20, &rtext, &rl);
    json_error_t err;
    json_t *j = json_loads(rtext ? rtext : "", 0, &err);
    json_t *subs = json_object_get(json_array_get(json_object_get(j, "cases"), 0), "subtests");
    is_int(json_array_size(subs), 3, "three subtests in results.json");
    for (size_t i = 0; i < json_array_size(subs); i++) {
        json_t *s = json_array_get(subs, i);
        is_str(json_string_value(json_object_get(s, "name")), r.v[0].subtests[i].name, "name kept as read");
        is_str(json_string_value(json_object_get(s, "reason")), r.v[0].subtests[i].reason, "reason kept as read");
    }
    is_int(count(json_string_value(json_object_get(json_array_get(subs, 0), "name")), "\xEF\xBF\xBD"), 2,
           "U+FFFD for the two Latin-1 bytes only");
    ok(!strstr(rtext ? rtext : "", "invalid UTF-8"), "no text replaced wholesale");
    has(json_string_value(json_object_get(json_array_get(json_object_get(j, "cases"), 0), "reason")),
        "i18n.messages.translated error text (XОшибка", "the case's reason keeps the Cyrillic text");
    json_decref(j);
    results_free(&r);
    rm_rf(dir);
    return tap_done();
}
