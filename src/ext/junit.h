/* JUnit XML reports in a test's output (testsuites/testsuite/testcase with failure, error,
 * skipped, as written by JUnit's Ant task, Maven Surefire, pytest, jest-junit and others) as
 * subtests named classname.name.
 *
 * A report starts on a line of its own (after blanks) with an XML declaration followed by
 * <testsuites> or <testsuite>, or with either element; the text before, between and after
 * reports is left alone, and every report is read. Each is parsed with libxml2 (no network,
 * no DTD, no entity expansion, at most 64 MiB, recovery bounded by the report's end), up to
 * the end of its root element. A report libxml2 cannot read as well-formed XML still gives
 * the testcases it recovered, plus a failed subtest "JUnit" saying what is wrong and where
 * (the report's output line, then line and column within the report): output that looks
 * like a report never passes silently.
 *
 * The text is read as UTF-8 whatever a report declares (callers make it well-formed first,
 * as ext/output.c does; other bytes read as '?'). Characters XML cannot hold (control
 * characters read as '?', U+FFFE and U+FFFF as U+FFFD) are not counted as damage. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/results.h"

/* Where a report lies in the text: bytes [start, end). */
struct junit_span {
    size_t start, end;
};

/* Reads every report in text[0..len); subtests to *out and *n (caller owns them). Returns the
 * number of reports found; their spans go to *spans when spans is not NULL (caller frees). */
size_t junit_read(const char *text, size_t len, struct kiln_subtest **out, size_t *n, struct junit_span **spans);
