#!/bin/sh
# Every parser's fuzz target runs for a bounded time without findings.
. "$(dirname "$0")/lib.sh"
KILN_FUZZ_OUT=$T/build-fuzz sh "$KILN_ROOT/tests/fuzz/run.sh" "${KILN_FUZZ_SECONDS:-10}"
