/* JUnit XML (testsuites/testsuite/testcase with failure, error, skipped) as subtests,
 * named classname.name. Parsed with libxml2: no network, no entity expansion, bounded. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "core/results.h"

bool junit_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
