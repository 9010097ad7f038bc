/* report.html: one self-contained page (inline CSS, no scripts, no network), with a
 * summary, every case with status, reason, metrics and subtests, and links to the logs. */
#include "model/case.h"
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

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "h1{font-size:20px}table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.passed{color:#107010}.failed{color:#b00020;font-weight:bold}"
    ".skipped{color:#777}.flaky{color:#a06000}.reason{white-space:pre-wrap;font-family:monospace;font-size:12px}"
    ".sum span{margin-right:1.5em}small{color:#666}";

static int run_finished(void *self, const struct kiln_results *r)
{
    (void)self;
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    char when[32];
    format_utc(when, r->started);
    struct sbuf b = {0};
    sbuf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>kiln: ");
    put(&b, r->name);
    sbuf_printf(&b, "</title><style>%s</style></head><body>\n<h1>kiln run ", css);
    put(&b, r->name);
    sbuf_puts(&b, " <small>");
    put(&b, r->id);
    sbuf_puts(&b, "</small></h1>\n<p class=\"sum\">");
    sbuf_printf(&b, "<span>started %s</span><span>%.1f s</span><span>platform ", when, r->duration_s);
    put(&b, r->platform);
    sbuf_puts(&b, " / ");
    put(&b, r->accel);
    sbuf_printf(&b, "</span></p>\n<p class=\"sum\"><span class=\"passed\">%zu passed</span>"
                    "<span class=\"failed\">%zu failed</span><span class=\"skipped\">%zu skipped</span>"
                    "<span class=\"flaky\">%zu flaky</span>%s</p>\n",
                n[ST_PASSED], n[ST_FAILED] + n[ST_ATTEMPTED], n[ST_SKIPPED], n[ST_FLAKY],
                r->interrupted ? "<span class=\"failed\">interrupted</span>" : "");
    sbuf_puts(&b, "<p><a href=\"results.json\">results.json</a> · <a href=\"junit.xml\">junit.xml</a> · "
                  "<a href=\"kiln.log\">kiln.log</a></p>\n");
    sbuf_puts(&b, "<table><tr><th>case</th><th>area</th><th>P</th><th>status</th><th>time</th><th>node</th>"
                  "<th>details</th></tr>\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        const char *st = kiln_status_names[c->status];
        sbuf_puts(&b, "<tr><td>");
        if (c->log_rel) {
            sbuf_puts(&b, "<a href=\"");
            put(&b, c->log_rel);
            sbuf_puts(&b, "\">");
            put(&b, c->id);
            sbuf_puts(&b, "</a>");
        } else {
            put(&b, c->id);
        }
        sbuf_puts(&b, "<br><small>");
        put(&b, c->c->description);
        sbuf_puts(&b, "</small></td><td>");
        put(&b, c->c->area);
        sbuf_printf(&b, "</td><td>%d</td><td class=\"%s\">%s</td><td>%.1f s</td><td>", c->c->priority, st, st,
                    c->duration_s);
        if (c->node) {
            sbuf_puts(&b, "<a href=\"nodes/");
            put(&b, c->node);
            sbuf_puts(&b, "/console.log\">");
            put(&b, c->node);
            sbuf_puts(&b, "</a>");
        }
        sbuf_puts(&b, "</td><td>");
        if (c->reason) {
            sbuf_puts(&b, "<div class=\"reason\">");
            put(&b, c->reason);
            sbuf_puts(&b, "</div>");
        }
        for (size_t k = 0; k < c->nmetrics; k++) {
            const struct kiln_metric *m = &c->metrics[k];
            sbuf_printf(&b, "<div%s>", m->ok ? "" : " class=\"failed\"");
            put(&b, m->name);
            sbuf_printf(&b, " = %g ", m->value);
            put(&b, m->unit);
            if (m->has_threshold) sbuf_printf(&b, " (%s %g)", m->higher_is_better ? "&ge;" : "&le;", m->threshold);
            sbuf_puts(&b, "</div>");
        }
        for (size_t k = 0; k < c->nnotes; k++) {
            sbuf_puts(&b, "<div class=\"note\">note: ");
            put(&b, c->notes[k]);
            sbuf_puts(&b, "</div>");
        }
        if (c->nsubtests) {
            sbuf_printf(&b, "<details><summary>%zu subtests</summary><table>", c->nsubtests);
            for (size_t k = 0; k < c->nsubtests; k++) {
                const struct kiln_subtest *s = &c->subtests[k];
                sbuf_puts(&b, "<tr><td>");
                put(&b, s->name);
                sbuf_printf(&b, "</td><td class=\"%s\">%s</td><td>", kiln_status_names[s->status],
                            kiln_status_names[s->status]);
                put(&b, s->reason);
                sbuf_puts(&b, "</td></tr>");
            }
            sbuf_puts(&b, "</table></details>");
        }
        sbuf_puts(&b, "</td></tr>\n");
    }
    sbuf_puts(&b, "</table>\n</body></html>\n");
    return report_write(r, "report.html", &b);
}

const struct kiln_notifier notifier_html = {.name = "html", .run_finished = run_finished};
