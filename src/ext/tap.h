/* TAP 13/14 and KTAP parser: streaming, bounded, never fails on garbage (unknown lines
 * are ignored). Specs: testanything.org (TAP 13, TAP 14), the kernel's
 * Documentation/dev-tools/ktap.rst.
 *
 * Nested tests (indentation, TAP14 "# Subtest:", kselftest's "# " prefix) become subtests
 * named "parent:child". YAML diagnostic blocks (an indented "---" up to its "...") are data,
 * never tests.
 *
 * A stream that breaks TAP's rules is a failure, as Perl's prove judges it: a plan whose count
 * differs from the tests reported, no plan, more than one plan, a plan in the middle of the
 * tests, a test number out of sequence, a YAML block never closed. Each level with such
 * problems gets one failed subtest named "TAP" ("parent:TAP" when nested) whose reason lists
 * them, e.g. "plan 1..2 but 3 reported".
 *
 * Text is TAP only with evidence: a version line, a plan, a numbered test line ("ok 3",
 * "not ok 1"), "# Subtest:" or "Bail out!". A stray "ok" line in other output is not. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/results.h"

struct tap_parser;

struct tap_parser *tap_new(void);
void tap_feed(struct tap_parser *p, const char *data, size_t len); /* any chunking */
/* Ends the stream and moves the subtests out (caller owns them). Returns true when the text
 * held TAP/KTAP (see above); otherwise *n is 0. When the top-level plan is 1..0 and no test
 * ran, *skip_all (if skip_all is not NULL) receives the reason after "# SKIP" ("no reason
 * given" without one; caller frees), else NULL. */
bool tap_finish(struct tap_parser *p, struct kiln_subtest **out, size_t *n, char **skip_all);
void tap_free(struct tap_parser *p);
void subtests_free(struct kiln_subtest *v, size_t n);
/* Whole-buffer convenience. */
bool tap_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n, char **skip_all);
