/* The results model: reporters read only this. results.json is its serialisation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kiln_status { ST_QUEUED, ST_RUNNING, ST_PASSED, ST_FAILED, ST_SKIPPED, ST_ATTEMPTED, ST_FLAKY };
extern const char *const kiln_status_names[];

struct kiln_metric {
    char *name, *unit;
    double value;
    bool has_threshold, higher_is_better, ok;
    double threshold;
};

struct kiln_subtest {
    char *name;
    int status;
    double duration_s;
    char *reason;
};

struct kiln_result {
    char *id;            /* case name, with #N for repeated runs */
    const struct kiln_case *c;
    int iteration;
    int status;
    char *reason;
    int64_t started;     /* wall clock, s */
    double duration_s;
    int attempts;
    bool ignore_failure;
    char *node, *env;
    char *log_rel;       /* relative to the run dir */
    struct kiln_metric *metrics;
    size_t nmetrics, capmetrics;
    struct kiln_subtest *subtests;
    size_t nsubtests, capsubtests;
    char **notes;        /* what kiln did or saw that did not decide the verdict by itself */
    size_t nnotes, capnotes;
};

/* A file the run tested (the disk image, kernel, initrd), with its digest: what a gallery
 * matches against the image it is asked to publish. */
struct kiln_tested {
    char *role, *path;
    char sha256[65];
};

/* A -v given to the run, kept so kiln run --rerun-failed runs with the same values; a secret's
 * value is never kept (NULL). */
struct kiln_run_var {
    char *name, *value;
    bool secret;
};

struct kiln_results {
    char *name;          /* runbook name */
    char *runbook;       /* the runbook's absolute path (NULL: not known) */
    struct kiln_run_var *vars;
    size_t nvars;
    char *id;            /* run directory name */
    char *dir;
    char *platform, *accel;
    int64_t started;
    double duration_s;
    struct kiln_result *v;
    size_t n;
    bool interrupted;
    struct kiln_tested tested[3];
    size_t ntested;
};

void result_set_reason(struct kiln_result *r, const char *reason);
void results_free(struct kiln_results *r);
/* Counts by status into counts[ST_FLAKY + 1]. */
void results_count(const struct kiln_results *r, size_t counts[]);
/* 0 when nothing failed, 1 otherwise (ignore_failure cases do not count). */
int results_exit_code(const struct kiln_results *r);
