/* TAP 13/14 and KTAP parser: streaming, bounded, never fails on garbage (unknown lines
 * are ignored). Nested tests (indentation, TAP14 "# Subtest:", kselftest's "# " prefix)
 * become subtests named "parent:child". */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "core/results.h"

struct tap_parser;

struct tap_parser *tap_new(void);
void tap_feed(struct tap_parser *p, const char *data, size_t len); /* any chunking */
/* Ends the stream and moves the subtests out (caller owns them). Returns true when any
 * TAP/KTAP was seen at all. */
bool tap_finish(struct tap_parser *p, struct kiln_subtest **out, size_t *n);
void tap_free(struct tap_parser *p);
void subtests_free(struct kiln_subtest *v, size_t n);
/* Whole-buffer convenience. */
bool tap_parse(const char *text, size_t len, struct kiln_subtest **out, size_t *n);
