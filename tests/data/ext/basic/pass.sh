#!/bin/sh
# kiln: { area: ext, priority: 1, tags: [fast], description: "passes, and reads its data folder" }
set -e
test "$(cat "$KILN_DATA/expected.txt")" = "kiln data ok"
test -d "$AUTOPKGTEST_TMP"
echo "pass: $KILN_CASE"
