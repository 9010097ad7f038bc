/* junit.xml for CI systems, in the shape Jenkins xunit's junit-10.xsd accepts (the schema most
 * JUnit consumers follow; tests/data/schemas/junit-10.xsd restates it): one testsuite per run; each case
 * a testcase whose <failure> (<error> for one the run's interruption cut off) carries the reason's first line as its message and the reason plus
 * the tail of the case log as its body; metrics as suite <properties> (a testcase may hold no
 * properties in that schema) and as lines of the case's <system-out>; subtests as their own
 * testcases named case/subtest, each failure with its own message. Written with libxml2's
 * xmlTextWriter; text from guests is made well-formed XML first (utf8_sanitize with
 * UTF8_XML_DROP and UTF8_STRIP_ANSI: ill-formed UTF-8 becomes U+FFFD, characters XML 1.0 cannot
 * hold and terminal escapes are dropped). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/case.h"
#include "report/notifier.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/xml.h"
#include "util/secret.h"
#include "util/util.h"

/* How much of a failed case's log its <failure> body quotes: the end, where the error is. */
#define LOG_TAIL_MAX (8u * 1024)
/* A message attribute is one line a CI shows in a list: the rest is in the body. */
#define MESSAGE_MAX 512u

enum { XML_TEXT = UTF8_XML_DROP | UTF8_STRIP_ANSI };

/* Secrets masked, then made XML-safe. */
static char *clean(const char *s)
{
    _cleanup_free_ char *m = secret_mask(s ? s : "");
    return utf8_sanitize(m, strlen(m), XML_TEXT);
}

/* An attribute whose value is data: masked and made XML-safe. */
static void attr(struct xml_out *o, const char *name, const char *value)
{
    _cleanup_free_ char *c = clean(value);
    xml_attr(o, name, c);
}

/* The first line of a reason, at most MESSAGE_MAX bytes, never cut inside a character. */
static char *message(const char *reason)
{
    _cleanup_free_ char *c = clean(reason);
    size_t n = strcspn(c, "\r\n");
    c[n] = 0;
    return xstrndup(c, utf8_cut(c, MESSAGE_MAX));
}

/* The last LOG_TAIL_MAX bytes of the case log, from a line start when there is one (else from
 * the first whole character); NULL when the log cannot be read. The log is a regular file in
 * the run directory: a link there is not followed. */
static char *log_tail(const struct kiln_results *r, const char *rel)
{
    _cleanup_free_ char *path = path_join(r->dir, rel);
    struct stat st;
    int fd = open_regular(path, true, &st);
    if (fd < 0) return NULL;
    off_t from = st.st_size > (off_t)LOG_TAIL_MAX ? st.st_size - (off_t)LOG_TAIL_MAX : 0;
    char *buf = xmalloc(LOG_TAIL_MAX + 1);
    ssize_t n = pread(fd, buf, LOG_TAIL_MAX, from);
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    size_t at = 0;
    if (from > 0) {
        char *nl = memchr(buf, '\n', (size_t)n);
        if (nl && nl + 1 < buf + n) at = (size_t)(nl + 1 - buf);
        else
            while (at < (size_t)n && at < 3 && ((unsigned char)buf[at] & 0xC0) == 0x80) at++;
    }
    /* bytes first (a log may hold NULs), then the masking its writer already did, once more */
    _cleanup_free_ char *u = utf8_sanitize(buf + at, (size_t)n - at, XML_TEXT);
    free(buf);
    return secret_mask(u);
}

static void outcome(struct xml_out *o, const struct kiln_results *r, int status, const char *reason, const char *log_rel)
{
    if (status != ST_FAILED && status != ST_ATTEMPTED && status != ST_SKIPPED) return;
    bool skip = status == ST_SKIPPED;
    /* a case the run's interruption cut off did not fail: JUnit's <error> (an unexpected stop,
     * counted in errors), not <failure> (a check that failed) */
    xml_open(o, skip ? "skipped" : status == ST_ATTEMPTED ? "error" : "failure");
    _cleanup_free_ char *msg = message(reason && *reason ? reason : skip ? "skipped" : "failed");
    xml_attr(o, "message", msg);
    if (!skip) {
        attr(o, "type", kiln_status_names[status]);
        _cleanup_free_ char *why = clean(reason);
        _cleanup_free_ char *tail = log_rel ? log_tail(r, log_rel) : NULL;
        xml_text(o, why);
        if (tail && *tail) {
            _cleanup_free_ char *head = xasprintf("%s--- end of %s ---\n", *why ? "\n\n" : "", log_rel);
            _cleanup_free_ char *h = clean(head);
            xml_text(o, h);
            xml_text(o, tail);
        }
    }
    xml_close(o);
}

static void testcase(struct xml_out *o, const char *classname, const char *name, double duration_s)
{
    xml_open(o, "testcase");
    attr(o, "classname", classname);
    attr(o, "name", name);
    xml_attrf(o, "time", "%.3f", duration_s);
}

static char *metric_value(const struct kiln_metric *m)
{
    return *m->unit ? xasprintf("%g %s", m->value, m->unit) : xasprintf("%g", m->value);
}

static void property(struct xml_out *o, const char *name, const char *value)
{
    xml_open(o, "property");
    attr(o, "name", name);
    attr(o, "value", value ? value : "");
    xml_close(o);
}

/* Run facts and every case's metrics ("metric.CASE.NAME"), for CI plots. */
static void suite_properties(struct xml_out *o, const struct kiln_results *r)
{
    xml_open(o, "properties");
    property(o, "platform", r->platform);
    property(o, "accel", r->accel);
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->v[i].nmetrics; k++) {
            const struct kiln_metric *m = &r->v[i].metrics[k];
            _cleanup_free_ char *name = xasprintf("metric.%s.%s", r->v[i].id, m->name);
            _cleanup_free_ char *value = metric_value(m);
            property(o, name, value);
        }
    xml_close(o);
}

/* The case's log path, its notes (a pass's "not checked: ...") and its metrics with their
 * verdicts, one per line. */
static void system_out(struct xml_out *o, const struct kiln_result *c)
{
    if (!c->log_rel && !c->nmetrics && !c->nnotes) return;
    struct sbuf b = {0};
    if (c->log_rel) sbuf_printf(&b, "log: %s\n", c->log_rel);
    for (size_t k = 0; k < c->nnotes; k++) sbuf_printf(&b, "note: %s\n", c->notes[k]);
    for (size_t k = 0; k < c->nmetrics; k++) {
        const struct kiln_metric *m = &c->metrics[k];
        _cleanup_free_ char *v = metric_value(m);
        sbuf_printf(&b, "metric %s = %s", m->name, v);
        if (m->has_threshold)
            sbuf_printf(&b, " (threshold %s %g: %s)", m->higher_is_better ? ">=" : "<=", m->threshold,
                        m->ok ? "ok" : "missed");
        sbuf_puts(&b, "\n");
    }
    _cleanup_free_ char *t = clean(b.s);
    sbuf_free(&b);
    xml_open(o, "system-out");
    xml_text(o, t);
    xml_close(o);
}

static int run_finished(void *self, const struct kiln_results *r, char **reterr)
{
    (void)self;
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    size_t tests = r->n, failures = n[ST_FAILED], errors = n[ST_ATTEMPTED], skipped = n[ST_SKIPPED];
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->v[i].nsubtests; k++) {
            int st = r->v[i].subtests[k].status;
            tests++;
            failures += st == ST_FAILED;
            errors += st == ST_ATTEMPTED;
            skipped += st == ST_SKIPPED;
        }
    char when[32];
    format_utc(when, r->started);
    struct xml_out o;
    if (xml_out_start(&o, true) < 0) return err_setf(reterr, -ENOMEM, "cannot write junit.xml: out of memory");
    xml_open(&o, "testsuites");
    attr(&o, "name", "kiln");
    xml_attrf(&o, "tests", "%zu", tests);
    xml_attrf(&o, "failures", "%zu", failures);
    xml_attrf(&o, "errors", "%zu", errors);
    xml_attrf(&o, "time", "%.3f", r->duration_s);
    xml_open(&o, "testsuite");
    attr(&o, "name", r->name);
    xml_attrf(&o, "tests", "%zu", tests);
    xml_attrf(&o, "failures", "%zu", failures);
    xml_attrf(&o, "errors", "%zu", errors);
    xml_attrf(&o, "skipped", "%zu", skipped);
    xml_attrf(&o, "time", "%.3f", r->duration_s);
    xml_attr(&o, "timestamp", when);
    if (r->id) attr(&o, "id", r->id);
    suite_properties(&o, r);
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        _cleanup_free_ char *cls = xasprintf("kiln.%s", c->c->area);
        testcase(&o, cls, c->id, c->duration_s);
        outcome(&o, r, c->status, c->reason, c->log_rel);
        system_out(&o, c);
        xml_close(&o);
        _cleanup_free_ char *subcls = xasprintf("kiln.%s.%s", c->c->area, c->id);
        for (size_t k = 0; k < c->nsubtests; k++) {
            const struct kiln_subtest *s = &c->subtests[k];
            testcase(&o, subcls, s->name, s->duration_s);
            /* a CI lists failures by message: one without a reason (a bare TAP "not ok") says which */
            _cleanup_free_ char *said = s->reason && *s->reason ? NULL : xasprintf("%s failed", s->name);
            outcome(&o, r, s->status, said ? said : s->reason, NULL);
            xml_close(&o);
        }
    }
    size_t len = 0;
    char *text = NULL;
    if (xml_out_finish(&o, 0, &text, &len) < 0)
        return err_setf(reterr, -EIO, "cannot write junit.xml: libxml2's writer failed");
    struct sbuf b = {.s = text, .len = len, .cap = len + 1};
    return report_write(r, "junit.xml", &b, reterr);
}

const struct kiln_notifier notifier_junit = {.name = "junit", .run_finished = run_finished};
