/* LTP results: the table runltp writes with -l (and kirk's text log):
 *   Testcase      Result     Exit Value
 *   abort01       PASS       0
 * plus per-test "Summary:" blocks. PASS → passed, CONF → skipped, FAIL/BROK/WARN → failed.
 * Bounded; lines outside the table that are not results are ignored, but what would lose a
 * result is a failed subtest "LTP": a row of the table kiln cannot read, a table cut short
 * (no blank or dashed line after it), or "Total Tests: N" differing from the table's rows. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/results.h"

/* Returns true when any LTP result line (or a failed "LTP" subtest) was found. */
bool ltp_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
/* kirk's JSON report (--json-report): results[].test_fqn/status/test.duration/test.log. A
 * result with a status kiln does not know is failed; one without a usable name is a failed
 * subtest "LTP". */
bool ltp_kirk_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
