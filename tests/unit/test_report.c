#include <errno.h>
#include <string.h>
#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "model/case.h"
#include "report/notifier.h"
#include "tap.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

static int noop(struct kiln_case_ctx *t)
{
    (void)t;
    return CASE_PASS;
}

static const struct kiln_case k = {.name = "verify_<x>", .area = "core", .priority = 1, .run = noop,
                                   .description = "a & b", .tags = KILN_TAGS("fast")};

/* No value in a parsed report that came from data (names, reasons, ids) holds the secret. */
static bool json_clean(json_t *j, const char *sec)
{
    if (json_is_string(j)) return !strstr(json_string_value(j), sec);
    bool ok = true;
    size_t i;
    json_t *v;
    const char *key;
    if (json_is_array(j)) json_array_foreach(j, i, v) ok = json_clean(v, sec) && ok;
    /* the schema id, status words and dates are the format's own */
    if (json_is_object(j))
        json_object_foreach(j, key, v) if (!streq(key, "schema") && !streq(key, "status") && !streq(key, "started"))
            ok = json_clean(v, sec) && ok;
    return ok;
}

static bool xml_clean(xmlNode *n, const char *sec)
{
    static const char *const data_attrs[] = {"name", "classname", "message"};
    bool ok = true;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        for (size_t i = 0; i < ARRAY_SIZE(data_attrs); i++) {
            xmlChar *v = xmlGetProp(n, (const xmlChar *)data_attrs[i]);
            if (v && strstr((const char *)v, sec)) ok = false;
            xmlFree(v);
        }
        ok = xml_clean(n->children, sec) && ok;
    }
    return ok;
}

/* Secrets shaped like JSON or XML syntax, one byte long, or part of a case's name: every report
 * stays well-formed (each value is masked before it is serialised, never the serialised bytes)
 * and no data value carries the secret. */
static void hostile_secrets(const char *dir)
{
    const char *secrets[] = {"a", "\"", "1", "{", "<", "&", ":", "ok_ca", "verify_<", "\\", "},"};
    _cleanup_free_ char *jp = path_join(dir, "junit.xml");
    _cleanup_free_ char *rp = path_join(dir, "results.json");
    _cleanup_free_ char *hp = path_join(dir, "report.html");
    for (size_t i = 0; i < ARRAY_SIZE(secrets); i++) {
        const char *sec = secrets[i];
        secret_clear();
        secret_add(sec);
        struct kiln_results r = {.name = xasprintf("run%s", sec), .id = xstrdup("run-1"), .dir = xstrdup(dir),
                                 .platform = xstrdup("qemu"), .accel = xstrdup("tcg"), .started = 1700000000};
        r.v = xcalloc(2, sizeof *r.v);
        r.n = 2;
        r.v[0] = (struct kiln_result){.id = xstrdup("verify_<x>"), .c = &k, .status = ST_FAILED,
                                      .reason = xasprintf("got %s{\"k\": 1, \"v\": [\"%s\"]} <b>&amp;</b> %s", sec, sec, sec),
                                      .log_rel = xstrdup("cases/verify_x/log.txt")};
        *APPEND(r.v[0].subtests, r.v[0].nsubtests, r.v[0].capsubtests) =
            (struct kiln_subtest){.name = xasprintf("sub%s", sec), .status = ST_FAILED, .reason = xstrdup(sec)};
        r.v[1] = (struct kiln_result){.id = xstrdup("ok_case"), .c = &k, .status = ST_PASSED};
        ok(notifier_json.run_finished(NULL, &r, NULL) == 0 && notifier_junit.run_finished(NULL, &r, NULL) == 0 &&
               notifier_html.run_finished(NULL, &r, NULL) == 0,
           "secret '%s': reports written", sec);
        json_error_t err;
        json_t *j = json_load_file(rp, JSON_REJECT_DUPLICATES, &err);
        ok(j != NULL, "secret '%s': results.json parses (%s)", sec, j ? "" : err.text);
        ok(j && json_clean(j, sec), "secret '%s': in no value of results.json", sec);
        json_t *c0 = json_array_get(json_object_get(j, "cases"), 0);
        ok(streq(json_string_value(json_object_get(c0, "status")), "failed"), "secret '%s': status kept", sec);
        _cleanup_free_ char *want = secret_mask(r.v[0].reason);
        ok(streq(json_string_value(json_object_get(c0, "reason")), want), "secret '%s': the reason masked, the rest kept", sec);
        json_decref(j);
        xmlDoc *doc = xmlReadFile(jp, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        ok(doc != NULL, "secret '%s': junit.xml is well-formed", sec);
        ok(doc && xml_clean(xmlDocGetRootElement(doc), sec), "secret '%s': in no name or message of junit.xml", sec);
        xmlFreeDoc(doc);
        char *html = NULL;
        read_file(hp, 1 << 20, &html, NULL);
        ok(html && strstr(html, "</table>\n</body></html>\n"), "secret '%s': report.html whole, its markup untouched", sec);
        free(html);
        results_free(&r);
    }
    secret_clear();
}

/* xmllint --schema with the junit-10.xsd fixture; its complaint on failure. */
static bool valid_junit(const char *path)
{
    char *argv[] = {"xmllint", "--noout", "--nonet", "--schema", TEST_DATA_DIR "/schemas/junit-10.xsd", (char *)path, NULL};
    _cleanup_free_ char *out = NULL;
    int r = proc_run(argv, 30000, &out);
    if (r != 0) printf("# xmllint --schema: %d: %s\n", r, out ? out : "");
    return r == 0;
}

/* A case log whose tail starts inside a multibyte character, holds controls, a terminal
 * escape, U+FFFE, a Latin-1 byte and a NUL: what a guest may print. */
static void write_hostile_log(const char *dir, struct kiln_result *c)
{
    _cleanup_free_ char *cdir = path_join(dir, "cases/x");
    mkdir_p(cdir, 0755);
    _cleanup_free_ char *lp = path_join(cdir, "log.txt");
    struct sbuf b = {0};
    /* 8 KiB and one byte before the end: the second byte of "О", with no newline after it
     * before the tail's first line */
    sbuf_puts(&b, "early line that is cut away\n");
    for (int i = 0; i < 100; i++) sbuf_puts(&b, "x");
    sbuf_puts(&b, "\xD0\x9E");
    size_t tail_from = b.len - 1;
    while (b.len < tail_from + 8 * 1024 - 64) sbuf_puts(&b, "y");
    sbuf_puts(&b, "\x1b[31mred\x1b[0m \x01\x07 \xEF\xBF\xBE r\xE9sum\xE9 ");
    sbuf_append(&b, "nul\0byte", 8);
    while (b.len < tail_from + 8 * 1024) sbuf_puts(&b, "z");
    write_file_atomic(lp, b.s, b.len, 0644);
    sbuf_free(&b);
    free(c->log_rel);
    c->log_rel = xstrdup("cases/x/log.txt");
}

static const xmlNode *child(const xmlNode *n, const char *name, size_t nth)
{
    for (n = n ? n->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && streq((const char *)n->name, name) && nth-- == 0) return n;
    return NULL;
}

/* The failure's body is the reason and the log's tail with nothing XML cannot hold; each
 * subtest's failure its own message. */
static void check_hostile_junit(xmlDoc *doc)
{
    const xmlNode *suite = child(xmlDocGetRootElement(doc), "testsuite", 0);
    const xmlNode *failure = child(child(suite, "testcase", 0), "failure", 0);
    xmlChar *body = failure ? xmlNodeGetContent(failure) : NULL;
    const char *t = (const char *)body;
    ok(t && strstr(t, "--- end of cases/x/log.txt ---\n"), "the failure body quotes the log's tail");
    ok(t && !strstr(t, "early line") && strstr(t, "yyy"), "only its tail");
    ok(t && strstr(t, "red  ") && !strchr(t, 0x1b) && !strchr(t, 0x01) && !strchr(t, 0x07),
       "terminal escapes and controls dropped");
    ok(t && !strstr(t, "\xEF\xBF\xBE") && strstr(t, "  r\xEF\xBF\xBDsum\xEF\xBF\xBD nulbyte"),
       "U+FFFE and NUL dropped, a Latin-1 byte as U+FFFD");
    ok(t && !strstr(t, "\x9E"), "the tail does not start inside a character");
    xmlFree(body);
    /* testcases: verify_<x>, its 5 subtests, ok_case */
    const xmlNode *sub = child(suite, "testcase", 4);
    xmlChar *name = sub ? xmlGetProp(sub, (const xmlChar *)"name") : NULL;
    xmlChar *msg = sub ? xmlGetProp(child(sub, "failure", 0), (const xmlChar *)"message") : NULL;
    is_str((const char *)name, "esc  bell ", "a subtest's name: escape and control dropped");
    is_str((const char *)msg, "esc  bell ", "its failure has its own message");
    xmlFree(name);
    xmlFree(msg);
}

/* report.html read back by libxml2's HTML parser: a reason that is markup stays the text of
 * its cell (no element comes out of it), the case links its log, the node its console. */
static void check_html_markup(const char *dir)
{
    struct kiln_results r = {.name = xstrdup("markup"), .id = xstrdup("m-1"), .dir = xstrdup(dir),
                             .platform = xstrdup("qemu"), .accel = xstrdup("tcg"), .started = 1700000000};
    r.v = xcalloc(1, sizeof *r.v);
    r.n = 1;
    const char *evil = "</td></tr></table><script>alert(1)</script><img src=x onerror=alert(2)>";
    r.v[0] = (struct kiln_result){.id = xstrdup("c1"), .c = &k, .status = ST_FAILED, .reason = xstrdup(evil),
                                  .node = xstrdup("node0"), .log_rel = xstrdup("cases/c1/log.txt")};
    ok(notifier_html.run_finished(NULL, &r, NULL) == 0, "html with a markup reason written");
    _cleanup_free_ char *hp = path_join(dir, "report.html");
    htmlDocPtr doc = htmlReadFile(hp, "UTF-8", HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
    ok(doc != NULL, "report.html parses as HTML");
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    size_t scripts = 0, imgs = 0, reasons = 0;
    _cleanup_free_ char *reason = NULL, *log_href = NULL, *console_href = NULL;
    for (xmlNode *n = root; n;) {
        if (n->type == XML_ELEMENT_NODE) {
            scripts += streq((const char *)n->name, "script");
            imgs += streq((const char *)n->name, "img");
            xmlChar *cls = xmlGetProp(n, (const xmlChar *)"class"), *href = xmlGetProp(n, (const xmlChar *)"href");
            if (cls && streq((const char *)cls, "reason") && !reasons++) {
                xmlChar *t = xmlNodeGetContent(n);
                reason = xstrdup((const char *)t);
                xmlFree(t);
            }
            if (href && strstr((const char *)href, "log.txt")) log_href = xstrdup((const char *)href);
            if (href && strstr((const char *)href, "console.log")) console_href = xstrdup((const char *)href);
            xmlFree(cls);
            xmlFree(href);
        }
        /* depth first, without recursion */
        if (n->children) n = n->children;
        else {
            while (n && !n->next) n = n->parent;
            if (n) n = n->next;
        }
    }
    is_int(scripts, 0, "no <script> came out of the reason");
    is_int(imgs, 0, "no <img> either");
    is_str(reason, evil, "the reason is its cell's text, whole");
    is_str(log_href, "cases/c1/log.txt", "the case links its log");
    is_str(console_href, "nodes/node0/console.log", "the node links its console");
    xmlFreeDoc(doc);
    results_free(&r);
}

int main(void)
{
    char dir[] = "/tmp/kiln-rep-XXXXXX";
    mkdtemp(dir);
    secret_add("pa55word");
    struct kiln_results r = {.name = xstrdup("demo"), .id = xstrdup("demo-1"), .dir = xstrdup(dir),
                             .platform = xstrdup("qemu"), .accel = xstrdup("tcg"), .started = 1700000000,
                             .duration_s = 12.5};
    r.v = xcalloc(2, sizeof *r.v);
    r.n = 2;
    r.v[0] = (struct kiln_result){.id = xstrdup("verify_<x>"), .c = &k, .status = ST_FAILED,
                                  .reason = xstrdup("value \"7\" < 8 with pa55word"), .log_rel = xstrdup("cases/x/log.txt")};
    struct kiln_metric *m = APPEND(r.v[0].metrics, r.v[0].nmetrics, r.v[0].capmetrics);
    *m = (struct kiln_metric){.name = xstrdup("boot_time"), .unit = xstrdup("s"), .value = 4.5, .ok = true};
    struct kiln_subtest *s = APPEND(r.v[0].subtests, r.v[0].nsubtests, r.v[0].capsubtests);
    *s = (struct kiln_subtest){.name = xstrdup("timers:posix"), .status = ST_SKIPPED, .reason = xstrdup("CONF")};
    r.v[1] = (struct kiln_result){.id = xstrdup("ok_case"), .c = &k, .status = ST_PASSED};
    *APPEND(r.v[1].notes, r.v[1].nnotes, r.v[1].capnotes) = xstrdup("not checked: the other half (why)");

    char *text = results_to_json(&r);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    ok(j != NULL, "results.json parses");
    is_str(json_string_value(json_object_get(j, "schema")), "kiln.results/v1", "schema id");
    is_int(json_integer_value(json_object_get(json_object_get(j, "summary"), "failed")), 1, "summary counts");
    is_int(json_integer_value(json_object_get(json_object_get(j, "run"), "exit_code")), 1, "exit code 1 on failure");
    json_t *c0 = json_array_get(json_object_get(j, "cases"), 0);
    is_str(json_string_value(json_object_get(c0, "status")), "failed", "case status");
    ok(!strstr(text, "pa55word"), "secret not in results.json");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(c0, "subtests"), 0), "name")),
           "timers:posix", "subtests serialised");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(c0, "metrics"), 0), "unit")), "s",
           "metrics serialised");
    json_decref(j);
    free(text);

    ok(notifier_junit.run_finished(NULL, &r, NULL) == 0, "junit written");
    ok(notifier_html.run_finished(NULL, &r, NULL) == 0, "html written");
    _cleanup_free_ char *jp = path_join(dir, "junit.xml");
    _cleanup_free_ char *hp = path_join(dir, "report.html");
    char *junit, *html;
    read_file(jp, 1 << 20, &junit, NULL);
    read_file(hp, 1 << 20, &html, NULL);
    has(junit, "name=\"verify_&lt;x&gt;\"", "junit escapes names");
    has(junit, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\"", "junit counts subtests");
    has(junit, "<property name=\"metric.verify_&lt;x&gt;.boot_time\" value=\"4.5 s\"/>",
        "junit carries metrics as suite properties");
    has(junit, "metric boot_time = 4.5 s\n", "and as a line of the case's system-out");
    has(junit, "<failure message=\"value &quot;7&quot; &lt; 8 with ******\" type=\"failed\">value &quot;7&quot; &lt; 8 with ******</failure>",
        "a failure without a log: the reason as message and body");
    has(junit, "<skipped message=\"CONF\"/>", "a skipped subtest keeps its own reason");
    has(junit, "<system-out>note: not checked: the other half (why)\n</system-out>",
        "a pass's note is a line of its system-out");
    has(html, "note: not checked: the other half (why)", "and of its html details");
    ok(valid_junit(jp), "junit.xml is valid against junit-10.xsd");
    ok(!strstr(junit, "pa55word") && !strstr(html, "pa55word"), "secret in neither junit nor html");
    has(html, "href=\"cases/x/log.txt\"", "html links the case log");
    has(html, "a &amp; b", "html escapes text");
    free(junit);
    free(html);

    /* a case the run's interruption cut off is an error in junit.xml and "interrupted" in the
     * html, never a failure: the image did nothing wrong */
    r.v[1].status = ST_ATTEMPTED;
    r.v[1].reason = xstrdup("interrupted while the case ran");
    ok(notifier_junit.run_finished(NULL, &r, NULL) == 0 && notifier_html.run_finished(NULL, &r, NULL) == 0,
       "junit and html written for an interrupted case");
    read_file(jp, 1 << 20, &junit, NULL);
    read_file(hp, 1 << 20, &html, NULL);
    has(junit, "tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"1\"", "junit counts the interrupted case as an error");
    has(junit, "<error message=\"interrupted while the case ran\" type=\"attempted\">", "junit: <error> for the interrupted case");
    ok(valid_junit(jp), "junit.xml with an <error> is valid against junit-10.xsd");
    has(html, ">1 failed<", "html: the interrupted case is not counted as failed");
    has(html, ">1 interrupted<", "html: it is counted as interrupted");
    free(junit);
    free(html);

    /* a report that cannot be written gives its message to the caller (kiln run prints it once),
     * each notifier's after the other's */
    {
        char *real = r.dir;
        r.dir = path_join(dir, "missing");
        _cleanup_free_ char *why = NULL, *all = NULL;
        ok(notifier_json.run_finished(NULL, &r, &why) == -ENOENT, "results.json into a missing directory: -ENOENT");
        _cleanup_free_ char *want = xasprintf("cannot write %s/results.json: %s", r.dir, strerror(ENOENT));
        is_str(why, want, "the message names the file and the reason");
        struct kiln_notifiers ns = {0};
        notifiers_add(&ns, &notifier_json, NULL);
        notifiers_add(&ns, &notifier_junit, NULL);
        ok(notifiers_run_finished(&ns, &r, &all) == -ENOENT, "notifiers: the first failure's errno");
        _cleanup_free_ char *want2 = xasprintf("%s; cannot write %s/junit.xml: %s", want, r.dir, strerror(ENOENT));
        is_str(all, want2, "every notifier's message, in order");
        free(r.dir);
        r.dir = real;
    }

    /* whatever bytes a guest printed, junit.xml stays well-formed and results.json keeps the
     * text: U+FFFD only where the bytes were not UTF-8 */
    struct kiln_result *res0 = &r.v[0];
    write_hostile_log(dir, res0);
    const char *names[] = {"r\xE9sum\xE9 export", "returns \xEF\xBF\xBF / \xEF\xBF\xBE", "esc \x1b[1m bell \a",
                           "cut \xD0\x9E\xD0"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        *APPEND(res0->subtests, res0->nsubtests, res0->capsubtests) =
            (struct kiln_subtest){.name = xstrdup(names[i]), .status = ST_FAILED, .reason = xstrdup(names[i])};
    ok(notifier_junit.run_finished(NULL, &r, NULL) == 0 && notifier_json.run_finished(NULL, &r, NULL) == 0, "reports written");
    xmlDoc *doc = xmlReadFile(jp, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ok(doc != NULL, "junit.xml with hostile bytes is well-formed XML");
    ok(valid_junit(jp), "junit.xml with hostile bytes is valid against junit-10.xsd");
    check_hostile_junit(doc);
    xmlFreeDoc(doc);
    char *xargv[] = {"xmllint", "--noout", jp, NULL};
    _cleanup_free_ char *xout = NULL;
    int xr = proc_run(xargv, 30000, &xout);
    ok(xr == 0, "xmllint --noout accepts it (%d: %s)", xr, xout ? xout : "");
    _cleanup_free_ char *rp = path_join(dir, "results.json");
    json_t *rj = json_load_file(rp, 0, &err);
    json_t *subs = json_object_get(json_array_get(json_object_get(rj, "cases"), 0), "subtests");
    const char *want[] = {"r\xEF\xBF\xBDsum\xEF\xBF\xBD export", "returns \xEF\xBF\xBF / \xEF\xBF\xBE",
                          "esc \x1b[1m bell \a", "cut \xD0\x9E\xEF\xBF\xBD"};
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        is_str(json_string_value(json_object_get(json_array_get(subs, i + 1), "name")), want[i], "results.json name");
        is_str(json_string_value(json_object_get(json_array_get(subs, i + 1), "reason")), want[i], "results.json reason");
    }
    json_decref(rj);
    results_free(&r);
    hostile_secrets(dir);
    check_html_markup(dir);
    rm_rf(dir);
    secret_clear();
    return tap_done();
}
