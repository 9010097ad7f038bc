/* results.json: the source every other report is a view of. Schema: docs/results.md. */
#include <errno.h>
#include <jansson.h>

#include "model/case.h"
#include "report/notifier.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/secret.h"
#include "util/util.h"

/* Any bytes a guest printed: ill-formed UTF-8 becomes U+FFFD, the rest is kept as it is. */
static json_t *mstr(const char *s)
{
    if (!s) return json_null();
    char *m = secret_mask(s);
    char *u = utf8_sanitize(m, strlen(m), 0);
    json_t *j = json_string(u);
    free(u);
    free(m);
    return j;
}

/* "run": what ran, where, with which inputs. */
static json_t *run_json(const struct kiln_results *r)
{
    char started[32];
    format_utc(started, r->started);
    json_t *run = json_object();
    json_object_set_new(run, "name", mstr(r->name));
    json_object_set_new(run, "id", mstr(r->id));
    json_object_set_new(run, "started", json_string(started));
    json_object_set_new(run, "duration_s", json_real(r->duration_s));
    json_object_set_new(run, "platform", mstr(r->platform));
    json_object_set_new(run, "accel", mstr(r->accel));
    json_object_set_new(run, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(run, "exit_code", json_integer(results_exit_code(r)));
    json_t *tested = json_array();
    for (size_t i = 0; i < r->ntested; i++)
        json_array_append_new(tested, json_pack("{s:o, s:o, s:o}", "role", mstr(r->tested[i].role), "path",
                                                mstr(r->tested[i].path), "sha256", mstr(r->tested[i].sha256)));
    json_object_set_new(run, "tested", tested);
    if (r->runbook) {
        json_object_set_new(run, "runbook", mstr(r->runbook));
        json_t *vars = json_array();
        for (size_t i = 0; i < r->nvars; i++)
            json_array_append_new(vars, r->vars[i].secret
                                            ? json_pack("{s:o, s:b}", "name", mstr(r->vars[i].name), "secret", 1)
                                            : json_pack("{s:o, s:o}", "name", mstr(r->vars[i].name), "value",
                                                        mstr(r->vars[i].value)));
        json_object_set_new(run, "variables", vars);
    }
    return run;
}

static json_t *metrics_json(const struct kiln_result *c)
{
    json_t *ms = json_array();
    for (size_t k = 0; k < c->nmetrics; k++) {
        const struct kiln_metric *m = &c->metrics[k];
        json_t *mo = json_object();
        json_object_set_new(mo, "name", mstr(m->name));
        json_object_set_new(mo, "value", json_real(m->value));
        json_object_set_new(mo, "unit", mstr(m->unit));
        if (m->has_threshold) {
            json_object_set_new(mo, "threshold", json_real(m->threshold));
            json_object_set_new(mo, "higher_is_better", json_boolean(m->higher_is_better));
        }
        json_object_set_new(mo, "ok", json_boolean(m->ok));
        json_array_append_new(ms, mo);
    }
    return ms;
}

static json_t *subtests_json(const struct kiln_result *c)
{
    json_t *st = json_array();
    for (size_t k = 0; k < c->nsubtests; k++) {
        const struct kiln_subtest *s = &c->subtests[k];
        json_array_append_new(st, json_pack("{s:o,s:s,s:f,s:o}", "name", mstr(s->name), "status",
                                            kiln_status_names[s->status], "duration_s", s->duration_s, "reason",
                                            mstr(s->reason)));
    }
    return st;
}

/* One entry of "cases": the case's metadata, its outcome, where its logs are. */
static json_t *case_json(const struct kiln_results *r, const struct kiln_result *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", mstr(c->id));
    json_object_set_new(o, "name", mstr(c->c->name));
    json_object_set_new(o, "area", mstr(c->c->area));
    json_object_set_new(o, "category", mstr(c->c->category ? c->c->category : "functional"));
    json_object_set_new(o, "priority", json_integer(c->c->priority));
    json_object_set_new(o, "description", mstr(c->c->description));
    json_t *tags = json_array();
    for (const char *const *t = c->c->tags; t && *t; t++) json_array_append_new(tags, mstr(*t));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "status", json_string(kiln_status_names[c->status]));
    json_object_set_new(o, "reason", mstr(c->reason));
    char when[32];
    if (c->started) format_utc(when, c->started);
    json_object_set_new(o, "started", c->started ? json_string(when) : json_null());
    json_object_set_new(o, "duration_s", json_real(c->duration_s));
    json_object_set_new(o, "attempts", json_integer(c->attempts));
    json_object_set_new(o, "ignore_failure", json_boolean(c->ignore_failure));
    json_object_set_new(o, "node", mstr(c->node));
    json_object_set_new(o, "environment", mstr(c->env));
    json_object_set_new(o, "log", mstr(c->log_rel));
    _cleanup_free_ char *perf_rel = xasprintf("cases/%s/perf.json", c->id);
    _cleanup_free_ char *perf_abs = path_join(r->dir, perf_rel);
    json_object_set_new(o, "perf", file_exists(perf_abs) ? mstr(perf_rel) : json_null());
    json_object_set_new(o, "metrics", metrics_json(c));
    json_object_set_new(o, "subtests", subtests_json(c));
    if (c->nnotes) {
        json_t *notes = json_array();
        for (size_t k = 0; k < c->nnotes; k++) json_array_append_new(notes, mstr(c->notes[k]));
        json_object_set_new(o, "notes", notes);
    }
    return o;
}

char *results_to_json(const struct kiln_results *r)
{
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string("kiln.results/v1"));
    json_object_set_new(root, "run", run_json(r));
    json_object_set_new(root, "summary",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)r->n, "passed",
                                  (json_int_t)n[ST_PASSED], "failed", (json_int_t)n[ST_FAILED], "skipped",
                                  (json_int_t)n[ST_SKIPPED], "flaky", (json_int_t)n[ST_FLAKY], "attempted",
                                  (json_int_t)n[ST_ATTEMPTED]));
    json_t *cases = json_array();
    for (size_t i = 0; i < r->n; i++) json_array_append_new(cases, case_json(r, &r->v[i]));
    json_object_set_new(root, "cases", cases);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

static int run_finished(void *self, const struct kiln_results *r, char **reterr)
{
    (void)self;
    char *text = results_to_json(r);
    if (!text) return err_setf(reterr, -ENOMEM, "cannot serialise results");
    struct sbuf b = {0};
    sbuf_puts(&b, text);
    sbuf_puts(&b, "\n");
    free(text);
    return report_write(r, "results.json", &b, reterr);
}

const struct kiln_notifier notifier_json = {.name = "json", .run_finished = run_finished};
