#include "run/case.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "node/node.h"
#include "platform/platform.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/util.h"

static int set_reason(struct kiln_case_ctx *t, int code, const char *fmt, va_list ap)
{
    char *msg = xvasprintf(fmt, ap);
    if (!t->res->reason) result_set_reason(t->res, msg);
    case_log(t, "%s: %s", code == CASE_SKIP ? "SKIP" : "FAIL", msg);
    free(msg);
    return code;
}

int case_fail(struct kiln_case_ctx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = set_reason(t, CASE_FAIL, fmt, ap);
    va_end(ap);
    return r;
}

int case_skip(struct kiln_case_ctx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = set_reason(t, CASE_SKIP, fmt, ap);
    va_end(ap);
    return r;
}

void case_log(struct kiln_case_ctx *t, const char *fmt, ...)
{
    if (!t->log) return;
    va_list ap;
    va_start(ap, fmt);
    secret_vfprintf(t->log, fmt, ap);
    va_end(ap);
    fputc('\n', t->log);
    fflush(t->log);
}

static struct kiln_metric *add_metric(struct kiln_case_ctx *t, const char *name, double value, const char *unit)
{
    struct kiln_result *r = t->res;
    struct kiln_metric *m = APPEND(r->metrics, r->nmetrics, r->capmetrics);
    m->name = xstrdup(name);
    m->unit = xstrdup(unit ? unit : "");
    m->value = value;
    m->ok = true;
    return m;
}

void case_metric(struct kiln_case_ctx *t, const char *name, double value, const char *unit)
{
    /* JSON has no NaN or infinity: results.json would carry the metric without its value */
    if (!isfinite(value)) {
        case_log(t, "metric %s = %g %s: not a finite number, not recorded", name, value, unit ? unit : "");
        return;
    }
    add_metric(t, name, value, unit);
    case_log(t, "metric %s = %g %s", name, value, unit ? unit : "");
}

int case_metric_check(struct kiln_case_ctx *t, const char *name, double value, const char *unit, double threshold,
                      bool higher_is_better)
{
    if (!isfinite(value)) return case_fail(t, "%s = %g %s: not a finite number", name, value, unit ? unit : "");
    struct kiln_metric *m = add_metric(t, name, value, unit);
    m->has_threshold = true;
    m->threshold = threshold;
    m->higher_is_better = higher_is_better;
    m->ok = higher_is_better ? value >= threshold : value <= threshold;
    case_log(t, "metric %s = %g %s (threshold %s %g: %s)", name, value, unit ? unit : "", higher_is_better ? ">=" : "<=",
             threshold, m->ok ? "ok" : "MISSED");
    if (!m->ok)
        return case_fail(t, "%s = %g %s, expected %s %g %s", name, value, unit ? unit : "", higher_is_better ? ">=" : "<=",
                         threshold, unit ? unit : "");
    return CASE_PASS;
}

int case_time_left(struct kiln_case_ctx *t)
{
    /* round up: a command given this many seconds must not stop before the case deadline */
    int64_t left = (t->deadline_ms - now_ms() + 999) / 1000;
    return left < 1 ? 1 : (int)left;
}

int case_sh_on(struct kiln_case_ctx *t, struct kiln_node *n, const char *cmd, char **out, char **reterr)
{
    if (now_ms() >= t->deadline_ms) return -ETIMEDOUT;
    struct kiln_exec e;
    int r = node_exec(n, cmd, case_time_left(t), &e);
    if (r == 0) r = e.status;
    if (out) *out = e.out, e.out = NULL;
    if (reterr) *reterr = e.err, e.err = NULL;
    kiln_exec_free(&e);
    return r;
}

int case_sh(struct kiln_case_ctx *t, const char *cmd, char **out)
{
    return case_sh_on(t, t->node, cmd, out, NULL);
}
