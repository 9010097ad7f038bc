/* Which cases a runbook selects (LISA semantics: rules apply in order;
 * force-include/force-exclude lock a case against later rules). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "run/case.h"
#include "runbook/runbook.h"

struct kiln_selected {
    const struct kiln_case *c;
    long times, retry, timeout_s;
    bool ignore_failure;
};

/* Fills *out (caller frees) in registry order. Returns the count. Rules follow LISA's
 * lisa/testselector.py: include and force-include add every matching case; exclude and
 * force-exclude remove matching cases selected at that point; none (SEL_NONE) only sets the
 * times/retry/timeout/ignore_failure of selected ones. A forced rule locks the cases it changes
 * against later unforced rules; a forced rule meeting the other direction's lock is a conflict
 * (select_conflicts), whose case keeps the earlier lock. */
size_t select_cases(const struct kiln_runbook *rb, struct kiln_selected **out);
/* The conflicts of forced rules, each "FILE:LINE:COL: testcase[I] (ACTION) conflicts over case
 * NAME with testcase[J] (ACTION) at FILE:LINE:COL; ..." in *out (caller frees each and the
 * array; NULL when none). LISA refuses such a runbook: kiln check and kiln run do too. */
size_t select_conflicts(const struct kiln_runbook *rb, char ***out);

/* A selection narrowed on the command line, as kola's `kola run [GLOB...] --tag T`: a case
 * stays when its name matches one of globs (fnmatch(3), whole name) or equals one of names
 * (when either is given), it carries one of the plain tags (when any is given) and none of the
 * "!TAG" ones, and its priority is one of priorities (when given). */
struct kiln_select_filter {
    const char *const *globs;
    size_t nglobs;
    const char *const *names; /* exact case names (kiln run --rerun-failed) */
    size_t nnames;
    const char *const *tags;
    size_t ntags;
    const long *priorities;
    size_t npriorities;
};
/* Keeps the entries of sel[0..n) f lets through, in order; returns how many. *unmatched gets
 * the globs and names that match none of sel[0..n) (NULL-terminated; NULL when there are none;
 * caller frees each and the array): a glob that selects nothing is a mistake worth naming. */
size_t select_filter(struct kiln_selected *sel, size_t n, const struct kiln_select_filter *f, char ***unmatched);
bool criteria_match(const struct kiln_criteria *cr, const struct kiln_case *c);

/* The testcase rules of rb that match no registered case, each as a message naming the rule's
 * place ("FILE:LINE:COL: testcase[I] matches no case: ...") and, for a plain-word name or area
 * within a few edits of a real one, "did you mean ...". *out (caller frees each string and the array)
 * gets them in rule order; returns the count. A typo in one rule among others that select
 * cases used to pass unnoticed. */
size_t select_unmatched_rules(const struct kiln_runbook *rb, char ***out);
