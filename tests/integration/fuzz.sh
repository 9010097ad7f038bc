#!/bin/sh
# Every parser's fuzz target runs for a bounded time without findings (5 s each in make check;
# KILN_FUZZ_SECONDS for longer runs).
. "$(dirname "$0")/lib.sh"
KILN_FUZZ_OUT=$T/build-fuzz sh "$KILN_ROOT/tests/fuzz/run.sh" "${KILN_FUZZ_SECONDS:-5}"
