/* What a running case sees and the helpers it calls: the engine's side of the case API
 * (model/case.h holds the case's data and the registry). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/case.h"

/* What a running case sees. */
struct kiln_case_ctx {
    const struct kiln_case *c;
    struct kiln_platform_ctx *plat;
    struct kiln_env *env;
    struct kiln_node *node; /* the first node */
    struct kiln_result *res;
    FILE *log;              /* cases/<id>/log.txt */
    char *dir;              /* cases/<id> */
    int64_t deadline_ms;    /* monotonic */
    uint64_t console_mark;  /* console findings before this belong to earlier cases */
};

/* Case helpers. fail/skip keep the first reason and return CASE_FAIL/CASE_SKIP. */
int case_fail(struct kiln_case_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int case_skip(struct kiln_case_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void case_log(struct kiln_case_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A measurement of the case; a value that is not finite (NaN, infinity) is logged and not kept. */
void case_metric(struct kiln_case_ctx *t, const char *name, double value, const char *unit);
/* A metric with a threshold: higher_is_better says which side passes. A miss fails the case,
 * and so does a value that is not finite. */
int case_metric_check(struct kiln_case_ctx *t, const char *name, double value, const char *unit,
                      double threshold, bool higher_is_better);
/* Seconds left before the case's deadline (at least 1). */
int case_time_left(struct kiln_case_ctx *t);
/* Runs cmd on the first node; returns its exit status, or negative errno. out/err may be NULL. */
int case_sh(struct kiln_case_ctx *t, const char *cmd, char **out);
int case_sh_on(struct kiln_case_ctx *t, struct kiln_node *n, const char *cmd, char **out, char **reterr);
