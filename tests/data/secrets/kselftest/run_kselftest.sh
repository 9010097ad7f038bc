#!/bin/sh
# A stand-in for the kernel's run_kselftest.sh (tests/integration/secrets.sh): runs one
# COLLECTION:TEST given with -t and reports it in KTAP as the real runner does.
[ "$1" = -t ] || exit 2
coll=${2%%:*} test=${2#*:}
echo "TAP version 13"
echo "1..1"
echo "# selftests: $coll: $test"
out=$(cd "$coll" && ./"$test" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
if [ $rc -eq 0 ]; then echo "ok 1 selftests: $coll: $test"; else echo "not ok 1 selftests: $coll: $test # exit=$rc"; fi
