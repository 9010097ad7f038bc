/* junit.xml for CI systems: one testsuite per run; metrics as properties; subtests as
 * their own testcases named case/subtest so a CI shows each. */
#include "core/case.h"
#include "report/notifier.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

static void put(struct sbuf *b, const char *s)
{
    char *m = secret_mask(s ? s : "");
    char *e = xml_escape(m);
    sbuf_puts(b, e);
    free(e);
    free(m);
}

static void outcome(struct sbuf *b, int status, const char *reason)
{
    if (status == ST_FAILED || status == ST_ATTEMPTED) {
        sbuf_puts(b, "      <failure message=\"");
        put(b, reason ? reason : "failed");
        sbuf_puts(b, "\"/>\n");
    } else if (status == ST_SKIPPED) {
        sbuf_puts(b, "      <skipped message=\"");
        put(b, reason ? reason : "skipped");
        sbuf_puts(b, "\"/>\n");
    }
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
    struct sbuf b = {0};
    sbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kiln\">\n  <testsuite name=\"");
    put(&b, r->name);
    sbuf_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\" timestamp=\"%s\">\n",
                tests, failures, skipped, r->duration_s, when);
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        sbuf_puts(&b, "    <testcase classname=\"kiln.");
        put(&b, c->c->area);
        sbuf_puts(&b, "\" name=\"");
        put(&b, c->id);
        sbuf_printf(&b, "\" time=\"%.3f\">\n", c->duration_s);
        if (c->nmetrics) {
            sbuf_puts(&b, "      <properties>\n");
            for (size_t k = 0; k < c->nmetrics; k++) {
                sbuf_puts(&b, "        <property name=\"metric.");
                put(&b, c->metrics[k].name);
                sbuf_printf(&b, "\" value=\"%g", c->metrics[k].value);
                if (*c->metrics[k].unit) {
                    sbuf_puts(&b, " ");
                    put(&b, c->metrics[k].unit);
                }
                sbuf_puts(&b, "\"/>\n");
            }
            sbuf_puts(&b, "      </properties>\n");
        }
        outcome(&b, c->status, c->reason);
        if (c->log_rel) {
            sbuf_puts(&b, "      <system-out>log: ");
            put(&b, c->log_rel);
            sbuf_puts(&b, "</system-out>\n");
        }
        sbuf_puts(&b, "    </testcase>\n");
        for (size_t k = 0; k < c->nsubtests; k++) {
            const struct kiln_subtest *s = &c->subtests[k];
            sbuf_puts(&b, "    <testcase classname=\"kiln.");
            put(&b, c->c->area);
            sbuf_puts(&b, ".");
            put(&b, c->id);
            sbuf_puts(&b, "\" name=\"");
            put(&b, s->name);
            sbuf_printf(&b, "\" time=\"%.3f\">\n", s->duration_s);
            outcome(&b, s->status, s->reason);
            sbuf_puts(&b, "    </testcase>\n");
        }
    }
    sbuf_puts(&b, "  </testsuite>\n</testsuites>\n");
    return report_write(r, "junit.xml", &b);
}

const struct kiln_notifier notifier_junit = {.name = "junit", .run_finished = run_finished};
