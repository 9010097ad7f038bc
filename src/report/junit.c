/* junit.xml for CI systems: one testsuite per run; metrics as properties; subtests as
 * their own testcases named case/subtest so a CI shows each. Written with libxml2's
 * xmlTextWriter; text from guests is made well-formed XML first (utf8_sanitize with
 * UTF8_XML: ill-formed UTF-8 and characters XML 1.0 cannot hold become U+FFFD). */
#include <errno.h>
#include <libxml/xmlwriter.h>

#include "core/case.h"
#include "report/notifier.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

struct out {
    xmlTextWriterPtr w;
    int rc; /* < 0 once a write failed */
};

static void chk(struct out *o, int r)
{
    if (r < 0) o->rc = -EIO;
}

static const xmlChar *X(const char *s)
{
    return (const xmlChar *)s;
}

/* Secrets masked, then made XML-safe. */
static char *clean(const char *s)
{
    char *m = secret_mask(s ? s : "");
    char *c = utf8_sanitize(m, strlen(m), UTF8_XML);
    free(m);
    return c;
}

static void attr(struct out *o, const char *name, const char *value)
{
    char *c = clean(value);
    chk(o, xmlTextWriterWriteAttribute(o->w, X(name), X(c)));
    free(c);
}

static void start(struct out *o, const char *name)
{
    chk(o, xmlTextWriterStartElement(o->w, X(name)));
}

static void end(struct out *o)
{
    chk(o, xmlTextWriterEndElement(o->w));
}

static void outcome(struct out *o, int status, const char *reason)
{
    if (status != ST_FAILED && status != ST_ATTEMPTED && status != ST_SKIPPED) return;
    bool skip = status == ST_SKIPPED;
    start(o, skip ? "skipped" : "failure");
    attr(o, "message", reason ? reason : skip ? "skipped" : "failed");
    end(o);
}

static void testcase(struct out *o, const char *classname, const char *name, double duration_s)
{
    start(o, "testcase");
    attr(o, "classname", classname);
    attr(o, "name", name);
    chk(o, xmlTextWriterWriteFormatAttribute(o->w, X("time"), "%.3f", duration_s));
}

static int run_finished(void *self, const struct kiln_results *r)
{
    (void)self;
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    size_t tests = r->n, failures = n[ST_FAILED] + n[ST_ATTEMPTED], skipped = n[ST_SKIPPED];
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->v[i].nsubtests; k++) {
            int st = r->v[i].subtests[k].status;
            tests++;
            failures += st == ST_FAILED;
            skipped += st == ST_SKIPPED;
        }
    char when[32];
    format_utc(when, r->started);
    xmlBufferPtr buf = xmlBufferCreate();
    struct out o = {.w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL};
    if (!o.w) {
        xmlBufferFree(buf);
        return log_error("cannot write junit.xml: out of memory");
    }
    chk(&o, xmlTextWriterSetIndent(o.w, 1));
    chk(&o, xmlTextWriterSetIndentString(o.w, X("  ")));
    chk(&o, xmlTextWriterStartDocument(o.w, "1.0", "UTF-8", NULL));
    start(&o, "testsuites");
    attr(&o, "name", "kiln");
    start(&o, "testsuite");
    attr(&o, "name", r->name);
    chk(&o, xmlTextWriterWriteFormatAttribute(o.w, X("tests"), "%zu", tests));
    chk(&o, xmlTextWriterWriteFormatAttribute(o.w, X("failures"), "%zu", failures));
    chk(&o, xmlTextWriterWriteAttribute(o.w, X("errors"), X("0")));
    chk(&o, xmlTextWriterWriteFormatAttribute(o.w, X("skipped"), "%zu", skipped));
    chk(&o, xmlTextWriterWriteFormatAttribute(o.w, X("time"), "%.3f", r->duration_s));
    chk(&o, xmlTextWriterWriteAttribute(o.w, X("timestamp"), X(when)));
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        _cleanup_free_ char *cls = xasprintf("kiln.%s", c->c->area);
        testcase(&o, cls, c->id, c->duration_s);
        if (c->nmetrics) {
            start(&o, "properties");
            for (size_t k = 0; k < c->nmetrics; k++) {
                _cleanup_free_ char *name = xasprintf("metric.%s", c->metrics[k].name);
                _cleanup_free_ char *value = *c->metrics[k].unit
                                                 ? xasprintf("%g %s", c->metrics[k].value, c->metrics[k].unit)
                                                 : xasprintf("%g", c->metrics[k].value);
                start(&o, "property");
                attr(&o, "name", name);
                attr(&o, "value", value);
                end(&o);
            }
            end(&o);
        }
        outcome(&o, c->status, c->reason);
        if (c->log_rel) {
            _cleanup_free_ char *text = xasprintf("log: %s", c->log_rel);
            _cleanup_free_ char *t = clean(text);
            chk(&o, xmlTextWriterWriteElement(o.w, X("system-out"), X(t)));
        }
        end(&o);
        _cleanup_free_ char *subcls = xasprintf("kiln.%s.%s", c->c->area, c->id);
        for (size_t k = 0; k < c->nsubtests; k++) {
            const struct kiln_subtest *s = &c->subtests[k];
            testcase(&o, subcls, s->name, s->duration_s);
            outcome(&o, s->status, s->reason);
            end(&o);
        }
    }
    chk(&o, xmlTextWriterEndDocument(o.w));
    xmlFreeTextWriter(o.w);
    struct sbuf b = {0};
    if (o.rc == 0) sbuf_append(&b, (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
    xmlBufferFree(buf);
    if (o.rc < 0) return log_error("cannot write junit.xml: libxml2's writer failed");
    return report_write(r, "junit.xml", &b);
}

const struct kiln_notifier notifier_junit = {.name = "junit", .run_finished = run_finished};
