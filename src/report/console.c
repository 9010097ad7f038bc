/* Live console lines: a case's start and end, a RUNNING line while it runs, and a summary at
 * the end. Each line is masked whole (secret_fprintf): case names and paths may hold a secret as
 * well as the reasons. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "model/case.h"
#include "report/notifier.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/util.h"

static const char *status_word(int st)
{
    /* attempted: the run was interrupted while the case ran (scheduler.c) */
    static const char *const w[] = {"QUEUED", "RUNNING", "PASSED", "FAILED", "SKIPPED", "INTERRUPTED", "FLAKY"};
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

/* "42s", "3m07s", "1h02m": how long, to the second. */
static void elapsed(double s, char buf[24])
{
    long t = s < 0 ? 0 : (long)s;
    if (t < 60) snprintf(buf, 24, "%lds", t);
    else if (t < 3600) snprintf(buf, 24, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, 24, "%ldh%02ldm", t / 3600, t % 3600 / 60);
}

void console_notifier_tick(struct console_notifier *cn, double now)
{
    pthread_mutex_lock(&cn->lock);
    char e[24];
    for (size_t i = 0; i < cn->nrunning; i++) {
        struct console_running *c = &cn->running[i];
        elapsed(now - c->t0, e);
        if (cn->live) {
            secret_fprintf(cn->out, "\r\033[K  %-9s %s ... %s", "RUNNING", c->id, e);
            fflush(cn->out);
        } else if (now >= c->next) {
            secret_fprintf(cn->out, "  %-9s %s for %s\n", "RUNNING", c->id, e);
            fflush(cn->out);
            while (c->next <= now) c->next += cn->every_s;
        }
    }
    pthread_mutex_unlock(&cn->lock);
}

static void *ticker_main(void *arg)
{
    struct console_notifier *cn = arg;
    pthread_mutex_lock(&cn->lock);
    while (!cn->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_cond_timedwait(&cn->wake, &cn->lock, &ts) != ETIMEDOUT || cn->stop) continue;
        pthread_mutex_unlock(&cn->lock);
        console_notifier_tick(cn, now_s());
        pthread_mutex_lock(&cn->lock);
    }
    pthread_mutex_unlock(&cn->lock);
    return NULL;
}

static void run_started(void *self, const struct kiln_results *r)
{
    struct console_notifier *cn = self;
    cn->total = r->n;
    if (cn->every_s <= 0) cn->every_s = 60;
    pthread_mutex_init(&cn->lock, NULL);
    pthread_cond_init(&cn->wake, NULL);
    cn->ticking = pthread_create(&cn->ticker, NULL, ticker_main, cn) == 0;
    secret_fprintf(cn->out, "kiln run %s: %zu case(s), results in %s\n", r->name, r->n, r->dir);
    fflush(cn->out);
}

static void case_started(void *self, const struct kiln_results *r, const struct kiln_result *c)
{
    struct console_notifier *cn = self;
    double t0 = now_s();
    pthread_mutex_lock(&cn->lock);
    *APPEND(cn->running, cn->nrunning, cn->cap) = (struct console_running){xstrdup(c->id), t0, t0 + cn->every_s};
    char e[24];
    elapsed((double)(c->started - r->started), e);
    if (cn->live) secret_fprintf(cn->out, "  %-9s %s ...", "RUNNING", c->id);
    else secret_fprintf(cn->out, "  %-9s %s (%s into the run)\n", "STARTED", c->id, e);
    fflush(cn->out);
    pthread_mutex_unlock(&cn->lock);
}

/* For a case without a reason (a pass) with skipped subtests: "K of N subtests skipped: NAME
 * (REASON)", the first one named, escaped for the terminal; else NULL. A pass must not look as
 * if it checked what it did not. */
static char *skipped_parts(const struct kiln_result *c)
{
    size_t skipped = 0;
    const struct kiln_subtest *first = NULL;
    for (size_t k = 0; k < c->nsubtests; k++)
        if (c->subtests[k].status == ST_SKIPPED && !skipped++) first = &c->subtests[k];
    if (!first) return NULL;
    _cleanup_free_ char *why = first->reason && *first->reason ? secret_mask(first->reason) : NULL;
    if (why) why[strcspn(why, "\n")] = 0;
    _cleanup_free_ char *text = xasprintf("%zu of %zu subtests skipped: %s%s%s%s", skipped, c->nsubtests, first->name,
                                          why ? " (" : "", why ? why : "", why ? ")" : "");
    return utf8_escape_controls(text, strlen(text), false);
}

static void case_finished(void *self, const struct kiln_results *r, const struct kiln_result *c, size_t done)
{
    struct console_notifier *cn = self;
    (void)r;
    pthread_mutex_lock(&cn->lock);
    for (size_t i = 0; i < cn->nrunning; i++)
        if (streq(cn->running[i].id, c->id)) {
            free(cn->running[i].id);
            cn->running[i] = cn->running[--cn->nrunning];
            break;
        }
    if (cn->live) fputs("\r\033[K", cn->out);
    char *reason = c->reason ? secret_mask(c->reason) : NULL; /* masked before the cut at a newline */
    if (reason) {
        char *nl = strchr(reason, '\n');
        if (nl) *nl = 0;
        /* a reason quotes what the guest said: it must not drive the terminal */
        char *e = utf8_escape_controls(reason, strlen(reason), false);
        free(reason);
        reason = e;
    }
    if (!reason) reason = skipped_parts(c);
    int width = cn->total >= 100 ? 3 : cn->total >= 10 ? 2 : 1;
    secret_fprintf(cn->out, "[%*zu/%zu] %s%-9s%s %-32s %7.1fs%s%s\n", width, done, cn->total, cn->tty ? color(c->status) : "",
           status_word(c->status), cn->tty ? "\033[0m" : "", c->id, c->duration_s, reason ? "  " : "",
           reason ? reason : "");
    fflush(cn->out);
    pthread_mutex_unlock(&cn->lock);
    free(reason);
}

static int run_finished(void *self, const struct kiln_results *r, char **reterr)
{
    (void)reterr;
    struct console_notifier *cn = self;
    pthread_mutex_lock(&cn->lock);
    cn->stop = true;
    pthread_cond_signal(&cn->wake);
    pthread_mutex_unlock(&cn->lock);
    if (cn->ticking) pthread_join(cn->ticker, NULL);
    cn->ticking = false;
    for (size_t i = 0; i < cn->nrunning; i++) free(cn->running[i].id); /* an interrupted run's */
    free(cn->running);
    cn->running = NULL;
    cn->nrunning = cn->cap = 0;
    pthread_cond_destroy(&cn->wake);
    pthread_mutex_destroy(&cn->lock);
    size_t n[ST_FLAKY + 1];
    results_count(r, n);
    secret_fprintf(cn->out, "\n%s: %zu passed, %zu failed, %zu skipped", r->interrupted ? "INTERRUPTED" : "summary", n[ST_PASSED],
           n[ST_FAILED], n[ST_SKIPPED]);
    if (n[ST_ATTEMPTED]) secret_fprintf(cn->out, ", %zu interrupted", n[ST_ATTEMPTED]);
    if (n[ST_FLAKY]) secret_fprintf(cn->out, ", %zu flaky", n[ST_FLAKY]);
    secret_fprintf(cn->out, " in %.1f s (platform %s, accel %s)\n", r->duration_s, r->platform ? r->platform : "-",
           r->accel ? r->accel : "-");
    for (size_t i = 0; i < r->n; i++) {
        const struct kiln_result *c = &r->v[i];
        if (c->status != ST_FAILED && c->status != ST_ATTEMPTED) continue;
        _cleanup_free_ char *reason = c->reason ? utf8_escape_controls(c->reason, strlen(c->reason), true) : NULL;
        secret_fprintf(cn->out, "  %s %s: %s\n    log: %s/%s\n", c->status == ST_ATTEMPTED ? "INTERRUPTED" : "FAILED", c->id,
                       reason ? reason : "no reason recorded", r->dir,
                       c->log_rel ? c->log_rel : "");
    }
    secret_fprintf(cn->out, "report: %s/report.html\n", r->dir);
    return 0;
}

const struct kiln_notifier notifier_console = {
    .name = "console",
    .run_started = run_started,
    .case_started = case_started,
    .case_finished = case_finished,
    .run_finished = run_finished,
};
