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
passed=0 failed=0 skipped=0 failures= skips=

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

# Integration tests run in KILN_TEST_LANES lanes side by side (default 2: under TCG a guest
# keeps one core busy, and CI has two). Each lane takes the next test from one queue, the
# longest first; a test's output is printed whole when it ends.
LONG_ONLY="arm64 update update_defects kdump containers encrypted_root secure_boot_distro service_debian tier1 hpc secure_boot"
LONGEST_FIRST="defects stock rpm_guest console cvm tier1 hpc image_rpm image_immutable image demo external accel scripts network uefi"
if [ -z "${KILN_UNIT_ONLY:-}" ]; then
    KILN_BUSYBOX=$(sh tests/images/build.sh busybox) || { echo "cannot build the busybox test image"; exit 1; }
    export KILN_BUSYBOX
    q=$(mktemp -d /tmp/kiln-tests-XXXXXX)
    all=
    for t in tests/integration/*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        [ "$name" = lib ] && continue
        case " ${KILN_TESTS:-} " in "  "|*" $name "*) ;; *) continue ;; esac
        # hours under TCG from a cold cache: make check-long runs them by name
        case " $LONG_ONLY " in *" $name "*) [ -n "${KILN_TESTS:-}" ] || continue ;; esac
        all="$all $name"
    done
    n=0
    for name in $LONGEST_FIRST $all; do
        case " $all " in *" $name "*) ;; *) continue ;; esac
        [ -e "$q/seen-$name" ] && continue
        : > "$q/seen-$name"
        n=$((n + 1))
        echo "$name" > "$q/todo-$(printf %03d $n)"
    done
    lane() {
        for f in "$q"/todo-*; do
            [ -e "$f" ] || continue
            case $f in *.taken-*) continue ;; esac  # listed after another lane took it
            mv "$f" "$f.taken-$1" 2>/dev/null || continue  # another lane took it first
            name=$(cat "$f.taken-$1")
            start=$(date +%s)
            sh "tests/integration/$name.sh" > "$q/out-$name" 2>&1
            echo "$? $(( $(date +%s) - start ))" > "$q/rc-$name"
            { echo "=== integration: $name"; cat "$q/out-$name"; } > "$q/done-$name"
            # print whole, one test at a time
            while ! mkdir "$q/print.lock" 2>/dev/null; do sleep 0.2; done
            cat "$q/done-$name"
            read -r rc took < "$q/rc-$name"
            case $rc in
                0) echo "--- PASS $name (${took}s)" ;;
                77) echo "--- SKIP $name" ;;
                *) echo "--- FAIL $name (exit $rc, ${took}s)" ;;
            esac
            rmdir "$q/print.lock"
        done
    }
    lanes=${KILN_TEST_LANES:-2}
    # defects.sh's own lanes would add a third guest beside the other lane's: with TCG guests
    # of two vCPUs on two cores, more guests than cores spin on each other's locks (stock.sh took
    # 1311 s beside defects.sh's two lanes, 437 s alone); one lane of its own here
    if [ "$lanes" -gt 1 ] && [ -z "${KILN_DEFECT_LANES:-}" ]; then KILN_DEFECT_LANES=1; export KILN_DEFECT_LANES; fi
    i=0
    while [ "$i" -lt "$lanes" ]; do lane "$i" & i=$((i + 1)); done
    wait
    for name in $all; do
        [ -f "$q/rc-$name" ] || { failed=$((failed + 1)); failures="$failures $name"; echo "--- FAIL $name (did not run)"; continue; }
        rc=$(cut -d' ' -f1 "$q/rc-$name")
        case $rc in
            0) passed=$((passed + 1)) ;;
            77) skipped=$((skipped + 1)); skips="$skips $name" ;;
            *) failed=$((failed + 1)); failures="$failures $name" ;;
        esac
    done
    rm -rf "$q"
    # A skipped test proved nothing: on the machines kiln's CI runs on, none may skip unless
    # named in KILN_ALLOW_SKIP (e.g. where tmpfs cannot be mounted or clang is missing).
    for name in $skips; do
        case " ${KILN_ALLOW_SKIP:-} " in
            *" $name "*) echo "skipped (allowed by KILN_ALLOW_SKIP): $name" ;;
            *) echo "skipped, not allowed (set KILN_ALLOW_SKIP=\"$name\" if this machine cannot run it): $name"
               failed=$((failed + 1)); failures="$failures $name(skipped)" ;;
        esac
    done
fi
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
