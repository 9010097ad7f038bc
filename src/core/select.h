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
