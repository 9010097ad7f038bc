/* LTP results and JUnit XML, on samples in the formats those tools document. */
#include "ext/junit.h"
#include "ext/ltp.h"
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

static const char *reason_of(struct kiln_subtest *v, size_t n, const char *name)
{
    const struct kiln_subtest *s = find(v, n, name);
    return s && s->reason ? s->reason : "(none)";
}

int main(void)
{
    struct kiln_subtest *v;
    size_t n;
    const char *ltp = "Test Start Time: Sat Nov 21 09:00:00 2026\n"
                      "-----------------------------------------\n"
                      "Testcase                                           Result     Exit Value\n"
                      "--------                                           ------     ----------\n"
                      "abort01                                            PASS       0    \n"
                      "accept01                                           FAIL       1    \n"
                      "add_key05                                          CONF       32   \n"
                      "fcntl36                                            BROK       2    \n"
                      "mmap18                                             WARN       4    \n"
                      "\n-----------------------------------------------\nTotal Tests: 5\nTotal Skipped Tests: 1\n"
                      "Total Failures: 3\nKernel Version: 6.1.0\n";
    ok(ltp_parse(ltp, strlen(ltp), &v, &n), "LTP results table recognised");
    is_int(n, 5, "five results, header and totals ignored");
    is_int(find(v, n, "abort01")->status, ST_PASSED, "PASS");
    is_int(find(v, n, "accept01")->status, ST_FAILED, "FAIL");
    is_int(find(v, n, "add_key05")->status, ST_SKIPPED, "CONF is skipped");
    has(find(v, n, "add_key05")->reason, "CONF", "CONF reason");
    is_int(find(v, n, "fcntl36")->status, ST_FAILED, "BROK fails");
    has(find(v, n, "mmap18")->reason, "WARN", "WARN reason");
    subtests_free(v, n);
    ok(!ltp_parse("hello world\n", 12, &v, &n) && n == 0, "plain text is not LTP");
    subtests_free(v, n);
    /* a table kiln cannot fully read fails rather than passing on what it could */
    const char *ltp_bad = "Testcase   Result   Exit Value\n--------   ------   ----------\nabort01   PASS   0\n"
                          "accept01   TIMEOUT   -1\n\n-----\nTotal Tests: 3\n";
    ok(ltp_parse(ltp_bad, strlen(ltp_bad), &v, &n), "table with an unreadable row recognised");
    is_str(reason_of(v, n, "LTP"),
           "line 4 is not a result row: accept01   TIMEOUT   -1; \"Total Tests: 3\" but the table has 1 rows",
           "unreadable row and a total that does not match fail");
    subtests_free(v, n);
    const char *ltp_cut = "Testcase   Result   Exit Value\n--------   ------   ----------\nabort01   PASS   0\n";
    ltp_parse(ltp_cut, strlen(ltp_cut), &v, &n);
    is_str(reason_of(v, n, "LTP"), "the result table is cut short (no blank or ---- line after it)", "a cut table fails");
    subtests_free(v, n);

    const char *kirk = "{\"environment\": {\"kernel\": \"6.1.0\"}, \"results\": [\n"
                       " {\"test_fqn\": \"abort01\", \"status\": \"pass\", \"test\": {\"command\": \"abort01\", "
                       "\"duration\": 0.25, \"log\": \"abort01.c:60: TPASS: abort() dumped core\\n\", \"retval\": [\"0\"]}},\n"
                       " {\"test_fqn\": \"accept01\", \"status\": \"fail\", \"test\": {\"duration\": 1.5, "
                       "\"log\": \"tst_test.c:1690: TINFO: start\\naccept01.c:91: TFAIL: accept() succeeded\\n\\n\"}},\n"
                       " {\"test_fqn\": \"add_key05\", \"status\": \"conf\", \"test\": {\"duration\": 0}},\n"
                       " {\"test_fqn\": \"bad name;rm\", \"status\": \"pass\"},\n"
                       " {\"test_fqn\": \"mystery\", \"status\": \"unknown\"}\n], \"stats\": {}}";
    ok(ltp_kirk_parse(kirk, strlen(kirk), &v, &n), "kirk JSON report recognised");
    is_int(n, 5, "five results: a status or a name kiln cannot read is a failure, never left out");
    is_str(reason_of(v, n, "mystery"), "kirk reported status \"unknown\", which kiln cannot read", "unknown status fails");
    is_str(reason_of(v, n, "LTP"), "result 4 of kirk's report has no usable test_fqn", "unusable name fails");
    is_int(find(v, n, "abort01")->status, ST_PASSED, "kirk pass");
    ok(find(v, n, "abort01")->duration_s > 0.24 && find(v, n, "abort01")->duration_s < 0.26, "kirk duration");
    is_int(find(v, n, "accept01")->status, ST_FAILED, "kirk fail");
    is_str(find(v, n, "accept01")->reason, "FAIL: accept01.c:91: TFAIL: accept() succeeded", "kirk reason is the log's last line");
    is_int(find(v, n, "add_key05")->status, ST_SKIPPED, "kirk conf is skipped");
    subtests_free(v, n);
    ok(!ltp_kirk_parse("{\"results\": 3}", 15, &v, &n) && n == 0, "results not a list");
    subtests_free(v, n);
    ok(!ltp_kirk_parse("[1,2", 4, &v, &n) && n == 0, "garbage JSON");
    subtests_free(v, n);

    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<testsuites><testsuite name=\"net\" tests=\"4\">\n"
                      "  <testcase classname=\"net.dns\" name=\"resolves\" time=\"0.25\"/>\n"
                      "  <testcase classname=\"net.dns\" name=\"times_out\"><failure message=\"no answer in 5 s\">trace</failure></testcase>\n"
                      "  <testcase name=\"ipv6\"><skipped message=\"no IPv6\"/></testcase>\n"
                      "  <testcase classname=\"x\" name=\"crash\"><error>segfault</error></testcase>\n"
                      "</testsuite></testsuites>\n";
    struct junit_span *sp;
    is_int(junit_read(xml, strlen(xml), &v, &n, &sp), 1, "JUnit recognised");
    is_int(n, 4, "four testcases");
    is_int(find(v, n, "net.dns.resolves")->status, ST_PASSED, "pass with classname.name");
    ok(find(v, n, "net.dns.resolves")->duration_s > 0.2, "time read");
    is_str(find(v, n, "net.dns.times_out")->reason, "no answer in 5 s", "failure message");
    is_int(find(v, n, "ipv6")->status, ST_SKIPPED, "skipped");
    is_str(find(v, n, "x.crash")->reason, "segfault", "error body as reason");
    ok(sp[0].start == 0 && sp[0].end == strlen(xml) - 1, "the report's span ends at its root's end tag");
    free(sp);
    subtests_free(v, n);

    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE testsuite [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<testsuite><testcase name=\"a\"><failure message=\"&x;\"/></testcase></testsuite>";
    junit_read(xxe, strlen(xxe), &v, &n, NULL);
    ok(n == 1 && !strstr(v[0].reason, "root:"), "external entities are not expanded");
    has(reason_of(v, n, "JUnit"), "declares a DOCTYPE", "a report with a DTD is refused, and says so");
    subtests_free(v, n);
    ok(!junit_read("<html><body/></html>", 20, &v, &n, NULL) && !n, "other XML is not JUnit");
    subtests_free(v, n);
    ok(!junit_read("<?xml version=\"1.0\"?>\n<config/>\n", 32, &v, &n, NULL) && !n, "nor is another document");
    subtests_free(v, n);
    ok(!junit_read("we look for <testsuite> elements\n", 33, &v, &n, NULL) && !n, "a mention inside a line is not a report");
    subtests_free(v, n);

    /* damaged reports: what could be recovered, plus a failed "JUnit" naming where */
    const char *cut = "<testsuite>\n<testcase name=\"a\"/>\n<testcase name=\"b\"><failure message=\"x\"/>";
    is_int(junit_read(cut, strlen(cut), &v, &n, NULL), 1, "a report cut short is a report");
    is_int(status_of(v, n, "a"), ST_PASSED, "its first testcase is recovered");
    has(reason_of(v, n, "JUnit"), "the report at output line 1 is not well-formed XML (its line 3", "cut short: fails, names where");
    subtests_free(v, n);
    const char *amp = "log\n<testsuite>\n  <testcase name=\"a & b\"/>\n</testsuite>\n";
    junit_read(amp, strlen(amp), &v, &n, NULL);
    has(reason_of(v, n, "JUnit"), "report at output line 2 is not well-formed XML (its line 2, column", "a raw & fails");
    subtests_free(v, n);
    /* libxml2 follows some messages with a snippet of the input cut at a byte count */
    const char *snip = "<testsuite>\n<!-- \xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E"
                       "\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E"
                       "\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E\xD0\x9E";
    junit_read(snip, strlen(snip), &v, &n, NULL);
    is_str(reason_of(v, n, "JUnit"),
           "the report at output line 1 is not well-formed XML (its line 2, column 39: Comment not terminated); "
           "the testcases it could recover are listed",
           "libxml2's message is kept to its first line");
    subtests_free(v, n);
    const char *glued = "<testsuite><testcase name=\"a\"/></testsuite><testsuite><testcase name=\"b\"/></testsuite>\n";
    is_int(junit_read(glued, strlen(glued), &v, &n, NULL), 2, "two reports on one line are two");
    ok(n == 2 && status_of(v, n, "b") == ST_PASSED, "both read");
    subtests_free(v, n);
    const char *latin = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<testsuite><testcase name=\"caf\xC3\xA9\"/></testsuite>\n";
    junit_read(latin, strlen(latin), &v, &n, NULL);
    ok(n == 1 && streq(v[0].name, "caf\xC3\xA9"), "output is read as UTF-8 whatever the declaration says");
    subtests_free(v, n);
    const char *ctl = "<testsuite><testcase name=\"a\x01\"><failure>bad \xEF\xBF\xBF</failure></testcase></testsuite>";
    junit_read(ctl, strlen(ctl), &v, &n, NULL);
    ok(n == 1 && streq(v[0].name, "a?") && streq(v[0].reason, "bad \xEF\xBF\xBD"),
       "characters XML cannot hold are not damage (%s / %s)", n ? v[0].name : "-", n ? v[0].reason : "-");
    subtests_free(v, n);
    return tap_done();
}
