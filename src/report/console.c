/* Live console lines: one per case, and a summary at the end. Each line is masked whole
 * (secret_fprintf): case names and paths may hold a secret as well as the reasons. */
#include <stdio.h>
#include <unistd.h>

#include "core/case.h"
#include "report/notifier.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/util.h"

static const char *status_word(int st)
{
    static const char *const w[] = {"QUEUED", "RUNNING", "PASSED", "FAILED", "SKIPPED", "ATTEMPTED", "FLAKY"};
    return w[st];
}

static const char *color(int st)
{
    switch (st) {
    case ST_PASSED: return "\033[32m";
    case ST_FAILED: return "\033[31m";
    case ST_FLAKY: return "\033[33m";
    default: return "\033[90m";
    }
}

static void run_started(void *self, const struct kiln_results *r)
{
    struct console_notifier *cn = self;
    cn->total = r->n;
    secret_fprintf(stdout, "kiln run %s: %zu case(s), results in %s\n", r->name, r->n, r->dir);
}

static void case_started(void *self, const struct kiln_results *r, const struct kiln_result *c)
{
    struct console_notifier *cn = self;
    (void)r;
    if (!cn->live) return;
    secret_fprintf(stdout, "  %-9s %s ...", "RUNNING", c->id);
}

static void case_finished(void *self, const struct kiln_results *r, const struct kiln_result *c, size_t done)
{
    struct console_notifier *cn = self;
    (void)r;
    if (cn->live) fputs("\r\033[K", stdout);
    char *reason = c->reason ? secret_mask(c->reason) : NULL; /* masked before the cut at a newline */
    if (reason) {
        char *nl = strchr(reason, '\n');
        if (nl) *nl = 0;
        /* a reason quotes what the guest said: it must not drive the terminal */
        char *e = utf8_escape_controls(reason, strlen(reason), false);
        free(reason);
        reason = e;
    }
    int width = cn->total >= 100 ? 3 : cn->total >= 10 ? 2 : 1;
    secret_fprintf(stdout, "[%*zu/%zu] %s%-9s%s %-32s %7.1fs%s%s\n", width, done, cn->total, cn->tty ? color(c->status) : "",
           status_word(c->status), cn->tty ? "\033[0m" : "", c->id, c->duration_s, reason ? "  " : "",
           reason ? reason : "");
    free(reason);
}

static int run_finished(void *self, const struct kiln_results *r)
{
    (void)self;
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    secret_fprintf(stdout, "\n%s: %zu passed, %zu failed, %zu skipped", r->interrupted ? "INTERRUPTED" : "summary", n[ST_PASSED],
           n[ST_FAILED] + n[ST_ATTEMPTED], n[ST_SKIPPED]);
    if (n[ST_FLAKY]) secret_fprintf(stdout, ", %zu flaky", n[ST_FLAKY]);
    secret_fprintf(stdout, " in %.1f s (platform %s, accel %s)\n", r->duration_s, r->platform ? r->platform : "-",
           r->accel ? r->accel : "-");
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        if (c->status != ST_FAILED && c->status != ST_ATTEMPTED) continue;
        _cleanup_free_ char *reason = c->reason ? utf8_escape_controls(c->reason, strlen(c->reason), true) : NULL;
        secret_fprintf(stdout, "  FAILED %s: %s\n    log: %s/%s\n", c->id, reason ? reason : "no reason recorded", r->dir,
                       c->log_rel ? c->log_rel : "");
    }
    secret_fprintf(stdout, "report: %s/report.html\n", r->dir);
    return 0;
}

const struct kiln_notifier notifier_console = {
    .name = "console",
    .run_started = run_started,
    .case_started = case_started,
    .case_finished = case_finished,
    .run_finished = run_finished,
};
