/* LTP results: the table runltp writes with -l (and kirk's text log):
 *   Testcase      Result     Exit Value
 *   abort01       PASS       0
 * plus per-test "Summary:" blocks. PASS → passed, CONF → skipped, FAIL/BROK/WARN → failed.
 * Bounded and tolerant: unknown lines are ignored. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "core/results.h"

/* Returns true when any LTP result line was found. */
bool ltp_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
/* kirk's JSON report (--json-report): results[].test_fqn/status/test.duration/test.log. */
bool ltp_kirk_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
