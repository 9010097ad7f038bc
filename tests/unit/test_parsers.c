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

    const char *kirk = "{\"environment\": {\"kernel\": \"6.1.0\"}, \"results\": [\n"
                       " {\"test_fqn\": \"abort01\", \"status\": \"pass\", \"test\": {\"command\": \"abort01\", "
                       "\"duration\": 0.25, \"log\": \"abort01.c:60: TPASS: abort() dumped core\\n\", \"retval\": [\"0\"]}},\n"
                       " {\"test_fqn\": \"accept01\", \"status\": \"fail\", \"test\": {\"duration\": 1.5, "
                       "\"log\": \"tst_test.c:1690: TINFO: start\\naccept01.c:91: TFAIL: accept() succeeded\\n\\n\"}},\n"
                       " {\"test_fqn\": \"add_key05\", \"status\": \"conf\", \"test\": {\"duration\": 0}},\n"
                       " {\"test_fqn\": \"bad name;rm\", \"status\": \"pass\"},\n"
                       " {\"test_fqn\": \"mystery\", \"status\": \"unknown\"}\n], \"stats\": {}}";
    ok(ltp_kirk_parse(kirk, strlen(kirk), &v, &n), "kirk JSON report recognised");
    is_int(n, 3, "three usable results (odd names and statuses ignored)");
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
    ok(junit_parse(xml, strlen(xml), &v, &n), "JUnit recognised");
    is_int(n, 4, "four testcases");
    is_int(find(v, n, "net.dns.resolves")->status, ST_PASSED, "pass with classname.name");
    ok(find(v, n, "net.dns.resolves")->duration_s > 0.2, "time read");
    is_str(find(v, n, "net.dns.times_out")->reason, "no answer in 5 s", "failure message");
    is_int(find(v, n, "ipv6")->status, ST_SKIPPED, "skipped");
    is_str(find(v, n, "x.crash")->reason, "segfault", "error body as reason");
    subtests_free(v, n);

    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<testsuite><testcase name=\"a\"><failure message=\"&x;\"/></testcase></testsuite>";
    junit_parse(xxe, strlen(xxe), &v, &n);
    ok(n == 0 || !v[0].reason || !strstr(v[0].reason, "root:"), "external entities are not expanded");
    subtests_free(v, n);
    ok(!junit_parse("<html><body/></html>", 20, &v, &n), "other XML is not JUnit");
    subtests_free(v, n);
    ok(!junit_parse("<testsuite><testcase", 20, &v, &n) || n <= 1, "truncated XML does not crash");
    subtests_free(v, n);
    return tap_done();
}
