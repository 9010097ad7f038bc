/* Which cases a runbook selects (LISA semantics: rules apply in order;
 * force-include/force-exclude lock a case against later rules). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "core/case.h"
#include "runbook/runbook.h"

struct kiln_selected {
    const struct kiln_case *c;
    long times, retry, timeout_s;
    bool ignore_failure;
};

/* Fills *out (caller frees) in registry order. Returns the count. */
size_t select_cases(const struct kiln_runbook *rb, struct kiln_selected **out);
bool criteria_match(const struct kiln_criteria *cr, const struct kiln_case *c);

/* The testcase rules of rb that match no registered case, each as a message naming the rule's
 * place ("FILE:LINE:COL: testcase[I] matches no case: ...") and, for a plain-word name or area
 * within a few edits of a real one, "did you mean ...". *out (caller frees each string and the array)
 * gets them in rule order; returns the count. A typo in one rule among others that select
 * cases used to pass unnoticed. */
size_t select_unmatched_rules(const struct kiln_runbook *rb, char ***out);
