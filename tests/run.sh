#!/bin/sh
# Runs every test: unit tests through meson (TAP), then tests/integration/*.sh.
# An integration test exits 0 (pass), 77 (skip) or anything else (fail).
# Prints "N passed, N failed, N skipped" as the closing line.
set -u
build=${1:-build-asan}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KILN="$root/$build/kiln"
export KILN_ROOT="$root"
export KILN_BUILD="$root/$build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 skipped=0 failures=

ninja -C "$build" >/dev/null || { echo "build of $build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
log=$(mktemp)
meson test -C "$build" --print-errorlogs >"$log" 2>&1
rc=$?
cat "$log"
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0})); skipped=$((skipped + ${skip:-0}))
if [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then failed=$((failed + 1)); failures="$failures meson-test"; fi
rm -f "$log"

if [ -z "${KILN_UNIT_ONLY:-}" ]; then
    KILN_BUSYBOX=$(sh tests/images/build.sh busybox) || { echo "cannot build the busybox test image"; exit 1; }
    export KILN_BUSYBOX
    for t in tests/integration/*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        [ "$name" = lib ] && continue
        case "${KILN_TESTS:-}" in ""|*"$name"*) ;; *) continue ;; esac
        echo "=== integration: $name"
        start=$(date +%s)
        sh "$t"
        rc=$?
        took=$(( $(date +%s) - start ))
        case $rc in
            0) passed=$((passed + 1)); echo "--- PASS $name (${took}s)" ;;
            77) skipped=$((skipped + 1)); echo "--- SKIP $name" ;;
            *) failed=$((failed + 1)); failures="$failures $name"; echo "--- FAIL $name (exit $rc, ${took}s)" ;;
        esac
    done
fi
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
