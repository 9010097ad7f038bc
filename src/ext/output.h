/* A test's output read as results: every format kiln knows, wherever it stands in the text.
 *
 * The output is first made well-formed UTF-8 (U+FFFD for invalid bytes) without terminal
 * escape sequences. Then every JUnit XML report in it is read (ext/junit.h); the text outside
 * the reports is read as TAP/KTAP (ext/tap.h), and, when it has an LTP result table header,
 * as LTP results (ext/ltp.h). So a stray "ok" line, text around a report or two reports
 * never hide results, and output that looks like a report but cannot be read gives a failed
 * subtest ("JUnit", "TAP", "LTP") saying why. */
#pragma once
#include <stddef.h>

#include "model/results.h"

struct ext_output {
    struct kiln_subtest *subtests;
    size_t n, cap;
    char *skip_all; /* TAP plan 1..0: the reason the test skipped itself, else NULL */
};

void ext_output_read(const char *text, size_t len, struct ext_output *o);
void ext_output_free(struct ext_output *o);
