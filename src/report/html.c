/* report.html: one self-contained page (inline CSS, no scripts, no network), with a
 * summary, every case with status, reason, metrics and subtests, and links to the logs.
 * Built as a libxml2 tree (util/html.h), so every value is escaped by the serialiser; each
 * value is masked before it goes in, never the serialised page. */
#include <errno.h>

#include "model/case.h"
#include "report/notifier.h"
#include "util/html.h"
#include "util/secret.h"
#include "util/timeutil.h"
#include "util/util.h"

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "h1{font-size:20px}table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.passed{color:#107010}.failed{color:#b00020;font-weight:bold}"
    ".skipped{color:#777}.flaky{color:#a06000}.reason{white-space:pre-wrap;font-family:monospace;font-size:12px}"
    ".sum span{margin-right:1.5em}small{color:#666}";

/* Appends s (data: masked) to n. */
static void text(xmlNodePtr n, const char *s)
{
    _cleanup_free_ char *m = secret_mask(s ? s : "");
    kh_text(n, m);
}

/* A new <tag> child of parent holding data text s, masked (NULL: empty). */
static xmlNodePtr el(xmlNodePtr parent, const char *tag, const char *s)
{
    xmlNodePtr n = kh_el(parent, tag, NULL);
    text(n, s);
    return n;
}

static xmlNodePtr el_class(xmlNodePtr parent, const char *tag, const char *cls, const char *s)
{
    xmlNodePtr n = el(parent, tag, s);
    kh_attr(n, "class", cls);
    return n;
}

/* <a href=HREF>TEXT</a>, both data. */
static void data_link(xmlNodePtr parent, const char *href, const char *s)
{
    _cleanup_free_ char *m = secret_mask(href);
    kh_attr(el(parent, "a", s), "href", m);
}

static void summary(xmlNodePtr body, const struct kiln_results *r)
{
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    char when[32];
    format_utc(when, r->started);
    xmlNodePtr h1 = kh_el(body, "h1", "kiln run ");
    text(h1, r->name);
    text(h1, " ");
    el(h1, "small", r->id);
    kh_text(body, "\n");
    xmlNodePtr p = kh_el(body, "p", NULL);
    kh_attr(p, "class", "sum");
    kh_elf(p, "span", "started %s", when);
    kh_elf(p, "span", "%.1f s", r->duration_s);
    xmlNodePtr plat = kh_el(p, "span", "platform ");
    text(plat, r->platform);
    text(plat, " / ");
    text(plat, r->accel);
    kh_text(body, "\n");
    p = kh_el(body, "p", NULL);
    kh_attr(p, "class", "sum");
    kh_attr(kh_elf(p, "span", "%zu passed", n[ST_PASSED]), "class", "passed");
    kh_attr(kh_elf(p, "span", "%zu failed", n[ST_FAILED]), "class", "failed");
    /* cut off by the run's interruption: neither passed nor failed (console.c says INTERRUPTED) */
    if (n[ST_ATTEMPTED]) kh_attr(kh_elf(p, "span", "%zu interrupted", n[ST_ATTEMPTED]), "class", "failed");
    kh_attr(kh_elf(p, "span", "%zu skipped", n[ST_SKIPPED]), "class", "skipped");
    kh_attr(kh_elf(p, "span", "%zu flaky", n[ST_FLAKY]), "class", "flaky");
    if (r->interrupted) kh_attr(kh_el(p, "span", "interrupted"), "class", "failed");
    kh_text(body, "\n");
    p = kh_el(body, "p", NULL);
    kh_link(p, "results.json", "results.json");
    kh_text(p, " · ");
    kh_link(p, "junit.xml", "junit.xml");
    kh_text(p, " · ");
    kh_link(p, "kiln.log", "kiln.log");
    kh_text(body, "\n");
}

/* The details cell: reason, metrics, notes, subtests. */
static void details(xmlNodePtr td, const struct kiln_result *c)
{
    if (c->reason) el_class(td, "div", "reason", c->reason);
    for (size_t k = 0; k < c->nmetrics; k++) {
        const struct kiln_metric *m = &c->metrics[k];
        xmlNodePtr div = el(td, "div", m->name);
        if (!m->ok) kh_attr(div, "class", "failed");
        kh_textf(div, " = %g ", m->value);
        text(div, m->unit);
        if (m->has_threshold) kh_textf(div, " (%s %g)", m->higher_is_better ? "≥" : "≤", m->threshold);
    }
    for (size_t k = 0; k < c->nnotes; k++) text(el_class(td, "div", "note", "note: "), c->notes[k]);
    if (!c->nsubtests) return;
    xmlNodePtr det = kh_el(td, "details", NULL);
    kh_elf(det, "summary", "%zu subtests", c->nsubtests);
    xmlNodePtr table = kh_el(det, "table", NULL);
    for (size_t k = 0; k < c->nsubtests; k++) {
        const struct kiln_subtest *s = &c->subtests[k];
        const char *st = kiln_status_names[s->status];
        xmlNodePtr tr = kh_el(table, "tr", NULL);
        el(tr, "td", s->name);
        kh_attr(kh_el(tr, "td", st), "class", st);
        el(tr, "td", s->reason);
    }
}

static void case_row(xmlNodePtr table, const struct kiln_result *c)
{
    const char *st = kiln_status_names[c->status];
    xmlNodePtr tr = kh_el(table, "tr", NULL);
    xmlNodePtr td = kh_el(tr, "td", NULL);
    if (c->log_rel) data_link(td, c->log_rel, c->id);
    else text(td, c->id);
    kh_el(td, "br", NULL);
    el(td, "small", c->c->description);
    el(tr, "td", c->c->area);
    kh_elf(tr, "td", "%d", c->c->priority);
    kh_attr(kh_el(tr, "td", st), "class", st);
    kh_elf(tr, "td", "%.1f s", c->duration_s);
    td = kh_el(tr, "td", NULL);
    if (c->node) {
        _cleanup_free_ char *href = xasprintf("nodes/%s/console.log", c->node);
        data_link(td, href, c->node);
    }
    details(kh_el(tr, "td", NULL), c);
    kh_text(table, "\n");
}

static int run_finished(void *self, const struct kiln_results *r, char **reterr)
{
    (void)self;
    _cleanup_free_ char *name = secret_mask(r->name ? r->name : "");
    _cleanup_free_ char *title = xasprintf("kiln: %s", name);
    struct kh_page page;
    kh_page_init(&page, title, css);
    kh_text(page.body, "\n");
    summary(page.body, r);
    xmlNodePtr table = kh_el(page.body, "table", NULL);
    xmlNodePtr head = kh_el(table, "tr", NULL);
    static const char *const cols[] = {"case", "area", "P", "status", "time", "node", "details"};
    for (size_t i = 0; i < ARRAY_SIZE(cols); i++) kh_el(head, "th", cols[i]);
    kh_text(table, "\n");
    for (size_t i = 0; i < r->n; i++) case_row(table, &r->v[i]);
    kh_text(page.body, "\n");
    size_t len = 0;
    char *html = kh_page_finish(&page, &len);
    if (!html) return err_setf(reterr, -ENOMEM, "cannot write report.html: out of memory");
    struct sbuf b = {.s = html, .len = len, .cap = len + 1};
    return report_write(r, "report.html", &b, reterr);
}

const struct kiln_notifier notifier_html = {.name = "html", .run_finished = run_finished};
