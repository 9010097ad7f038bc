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
};

/* Fills res->v and runs everything. Returns 0 (statuses are in res). */
int sched_run(const struct kiln_sched_opts *o, struct kiln_results *res);
/* MemAvailable of this host, MiB, less a reserve for the host itself. */
long host_memory_budget_mb(void);
