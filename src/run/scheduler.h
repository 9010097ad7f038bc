/* Runs selected cases on environments from a platform: reuses environments across
 * cases, deploys what a case needs, admits environments against host memory, and
 * replaces nodes that broke. Reports go through the notifiers. */
#pragma once
#include "run/select.h"
#include "platform/platform.h"
#include "report/notifier.h"

struct kiln_sched_opts {
    struct kiln_platform_ctx *pctx;
    const struct kiln_selected *sel;
    size_t nsel;
    long concurrency;
    struct kiln_notifiers *notifiers;
    long host_memory_mb; /* budget for environments; <= 0: read MemAvailable */
    /* Where a run that keeps its environments (the runbook's platform.keep_environment) is
     * handed over: when it says always, or failed and a case failed (sched_keep_wanted), and
     * the run was not interrupted, sched_run returns with the environment each worker still
     * holds after the last case deployed (one replaced during the run is gone by then) and
     * *kept set; the caller reads them with sched_kept_envs and ends them with sched_kept_end.
     * Their workers live on until then: a VM dies with the thread that started it (PDEATHSIG).
     * NULL: every environment is destroyed before sched_run returns. */
    struct sched_kept **kept;
};

/* Fills res->v and runs everything. Returns 0 (statuses are in res). */
int sched_run(const struct kiln_sched_opts *o, struct kiln_results *res);
/* Whether keep (enum kiln_keep_env) keeps the environments of a run with results res: always,
 * or failed when a case's status is failed. */
bool sched_keep_wanted(int keep, const struct kiln_results *res);
/* The kept environments (*n of them), in an array the caller frees. */
struct kiln_env **sched_kept_envs(const struct sched_kept *k, size_t *n);
/* Destroys the kept environments, ends their workers and frees k (NULL-safe). */
void sched_kept_end(struct sched_kept *k);
/* MemAvailable of this host, MiB, less a reserve for the host itself. */
long host_memory_budget_mb(void);
