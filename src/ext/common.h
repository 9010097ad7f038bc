/* What the external suites (script tests, kselftest, LTP) share: uploading a directory to a
 * node once per boot, collecting parsed subtests, and judging a case by its subtests. */
#pragma once
#include <stddef.h>

#include "run/case.h"
#include "model/results.h"
#include "node/node.h"
#include "util/yaml.h"

/* Packs local_dir with tar and unpacks it at remote on the case's first node (replacing what
 * was there), once per node and boot. Returns 0, or a CASE_FAIL already recorded. */
int ext_upload_dir(struct kiln_case_ctx *t, const char *local_dir, const char *remote);
/* Forgets what was uploaded (for kiln's own teardown). */
void ext_upload_forget(void);
/* The last count lines of text, joined by '|' (for one-line reasons). */
char *ext_last_lines(const char *text, int count);
/* Keeps a test's output as <case dir>/<subdir>/<name>.log ('/' in name becomes '_'). */
void ext_save_output(struct kiln_case_ctx *t, const char *subdir, const char *name, const char *out, const char *err);
/* Runs one test's cmd on the case's node within limit_s seconds and keeps its output with
 * ext_save_output(subdir, name). 0 with *e filled (timed out or not; the caller frees it), or,
 * when the node was lost before the command ended, a negative errno after recording subtest
 * sub as failed for that reason. */
int ext_run_test(struct kiln_case_ctx *t, const char *cmd, int limit_s, const char *sub, const char *subdir,
                 const char *name, struct kiln_exec *e);
/* Moves subs[0..n) into the case's result, prefixing every name with prefix (may be NULL). */
void ext_add_subtests(struct kiln_case_ctx *t, struct kiln_subtest *subs, size_t n, const char *prefix);
/* Adds one subtest. */
void ext_add_subtest(struct kiln_case_ctx *t, const char *name, int status, double duration_s, const char *reason);
/* NULL when no subtest in v[0..n) failed, else "F of N subtests failed: " naming the first
 * five failed ones, each with the first line of its reason (at most 100 bytes). Caller frees. */
char *ext_subtests_verdict(const struct kiln_subtest *v, size_t n);
/* CASE_PASS when no subtest failed, else a failure saying ext_subtests_verdict's text. */
int ext_judge_subtests(struct kiln_case_ctx *t);

/* A case an external suite registers per collection or group: <prefix>.<name>. */
struct ext_case {
    struct kiln_case c;
    char *name, *case_name, *description;
};
struct ext_cases {
    struct ext_case **v;
    size_t n, cap;
};
/* A community suite whose runbook section lists names (kselftest collections, LTP groups), one
 * case each: the suite's constants, and the cases it registered. */
struct ext_suite {
    const char *prefix; /* case names are <prefix>.<name>; also the cases' one tag */
    const char *key;    /* the runbook key listing the names, for diagnostics */
    const char *area;
    int timeout_s;
    int (*run)(struct kiln_case_ctx *t);
    char *(*describe)(const char *name); /* the case's description, allocated */
    const char *tags[2];                 /* filled by ext_suite_load */
    struct ext_cases cases;
};
/* Registers one case per names[0..n) at the given priority, data = its ext_case. A name already
 * registered is reported in d against rb_path's key, and then -EINVAL is returned (0 otherwise). */
int ext_suite_load(struct ext_suite *s, char *const *names, size_t n, long priority, const char *rb_path,
                   struct diags *d);
void ext_cases_free(struct ext_cases *list);
