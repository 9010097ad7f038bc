/* Area selftest: cases that measure kiln itself. */
#include "run/case.h"

KILN_CASE(kiln_noop,
          .area = "selftest", .category = "performance", .priority = 4, .timeout_s = 60,
          .description = "Runs `true` on the node; with times: N it measures kiln's per-case overhead (bench/overhead)",
          .tags = KILN_TAGS("bench"), .explicit_only = true)
{
    int r = case_sh(t, "true", NULL);
    return r == 0 ? CASE_PASS : case_fail(t, "`true` exited %d", r);
}
