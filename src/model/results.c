#include "model/results.h"

#include "util/strv.h"
#include "util/util.h"

const char *const kiln_status_names[] = {"queued", "running", "passed", "failed", "skipped", "attempted",
                                         "flaky", NULL};

void result_set_reason(struct kiln_result *r, const char *reason)
{
    free(r->reason);
    r->reason = reason ? xstrdup(reason) : NULL;
}

void results_free(struct kiln_results *rs)
{
    free(rs->runbook);
    for (size_t i = 0; i < rs->nvars; i++) {
        free(rs->vars[i].name);
        free(rs->vars[i].value);
    }
    free(rs->vars);
    for (size_t i = 0; i < rs->ntested; i++) {
        free(rs->tested[i].role);
        free(rs->tested[i].path);
    }
    for (size_t i = 0; i < rs->n; i++) {
        struct kiln_result *r = &rs->v[i];
        free(r->id);
        free(r->reason);
        free(r->node);
        free(r->env);
        free(r->log_rel);
        for (size_t m = 0; m < r->nmetrics; m++) {
            free(r->metrics[m].name);
            free(r->metrics[m].unit);
        }
        free(r->metrics);
        for (size_t s = 0; s < r->nsubtests; s++) {
            free(r->subtests[s].name);
            free(r->subtests[s].reason);
        }
        free(r->subtests);
        strv_free(r->notes, r->nnotes);
    }
    free(rs->v);
    free(rs->name);
    free(rs->id);
    free(rs->dir);
    free(rs->platform);
    free(rs->accel);
    memset(rs, 0, sizeof *rs);
}

void results_count(const struct kiln_results *rs, size_t counts[])
{
    for (int i = 0; i <= ST_FLAKY; i++) counts[i] = 0;
    for (size_t i = 0; i < rs->n; i++) counts[rs->v[i].status]++;
}

int results_exit_code(const struct kiln_results *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct kiln_result *r = &rs->v[i];
        if ((r->status == ST_FAILED || r->status == ST_ATTEMPTED) && !r->ignore_failure) return 1;
    }
    return rs->interrupted ? 1 : 0;
}
