#!/bin/sh
# External suites end to end on one Debian VM: kselftest collections built from Debian's
# linux-source tarball (cached) and run with run_kselftest.sh, and LTP groups run from an
# installed-LTP tree (tests/data/ltp) uploaded through ltp.source. Every test is a subtest
# in results.json and junit.xml with its own status and reason.
. "$(dirname "$0")/lib.sh"
images=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$src" ] || fail "no /usr/src/linux-source-*.tar.xz (scripts/deps.sh installs linux-source)"
cat > ext.yml <<YAML
name: external
include:
  - path: $KILN_ROOT/examples/common-debian.yml
kselftest:
  source: $src
  collections: [size, sigaltstack, timers]
  # posix_timers arms several 2-second timers: it always outlives a 5 s limit
  skip: [timers:nanosleep, timers:nsleep-lat, timers:set-timer-lat, timers:mqueue-lat,
         timers:inconsistency-check, timers:raw_skew, timers:threadtest, timers:rtcpie]
  timeout_s: 5
ltp:
  source: $KILN_ROOT/tests/data/ltp
  groups: [kilnsmoke]
  skip: [skipme01]
  timeout_s: 5
testcase:
  - criteria: { tags: [kselftest] }
  - criteria: { tags: [ltp] }
YAML
"$KILN" list ext.yml > list.txt || fail "kiln list failed"
expect_in list.txt "kselftest.timers"
expect_in list.txt "ltp.kilnsmoke"
"$KILN" run --runs-dir runs -v images="$images" ext.yml > out.txt 2>&1
rc=$?
cat out.txt
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1 (timers and the LTP fixture fail on purpose)"
r=runs/latest/results.json
case_st() { jqv "$r" ".cases[] | select(.name==\"$1\") | .status"; }
sub() { jqv "$r" "[.cases[].subtests[]? | select(.name==\"$1\")][0] | .$2"; }
expect_sub() { got=$(sub "$1" "$2"); [ "$got" = "$3" ] || fail "$1 $2: '$got', expected '$3'"; }
[ "$(case_st kselftest.size)" = passed ] || fail "kselftest.size did not pass"
[ "$(case_st kselftest.sigaltstack)" = passed ] || fail "kselftest.sigaltstack did not pass"
[ "$(case_st kselftest.timers)" = failed ] || fail "kselftest.timers should fail (posix_timers timeout)"
expect_sub kselftest:size:get_size status passed
expect_sub kselftest:sigaltstack:sas status passed
expect_sub kselftest:timers:posix_timers status failed
case "$(sub kselftest:timers:posix_timers reason)" in "TIMEOUT 5 seconds"*) ;; *) fail "posix_timers reason: $(sub kselftest:timers:posix_timers reason)" ;; esac
expect_sub kselftest:timers:raw_skew status skipped
expect_sub kselftest:timers:raw_skew reason "skipped by the runbook (kselftest.skip)"
# nested KTAP inside a test becomes kselftest:<collection>:<test>:<subtest>
[ "$(jq '[.cases[].subtests[]? | select(.name | startswith("kselftest:sigaltstack:sas:"))] | length' "$r")" -ge 1 ] ||
    fail "no nested sigaltstack subtests"
[ "$(sub kselftest:size:get_size duration_s | cut -d. -f1)" -ge 0 ] || fail "no duration"
[ -s "runs/latest/cases/kselftest.timers/kselftest/timers:posix_timers.log" ] || fail "no per-test output file"
expect_in runs/latest/junit.xml 'name="kselftest:timers:posix_timers"'
expect_in runs/latest/junit.xml 'name="kselftest:size:get_size"'
# LTP: exit codes per LTP's test library, skip list, per-test timeout, runtest arguments
[ "$(case_st ltp.kilnsmoke)" = failed ] || fail "ltp.kilnsmoke should fail"
expect_sub ltp:kilnsmoke:pass01 status passed
expect_sub ltp:kilnsmoke:args01 status passed
expect_sub ltp:kilnsmoke:fail01 status failed
expect_sub ltp:kilnsmoke:fail01 reason "TFAIL (exit 1): fail01.c:31: TFAIL: read() returned 3, expected 4"
expect_sub ltp:kilnsmoke:conf01 status skipped
expect_sub ltp:kilnsmoke:conf01 reason "TCONF: conf01.c:12: TCONF: kernel lacks CONFIG_KILN_FIXTURE"
expect_sub ltp:kilnsmoke:brok01 status failed
case "$(sub ltp:kilnsmoke:brok01 reason)" in "TBROK|TWARN (exit 6): "*) ;; *) fail "brok01 reason: $(sub ltp:kilnsmoke:brok01 reason)" ;; esac
expect_sub ltp:kilnsmoke:hang01 status failed
case "$(sub ltp:kilnsmoke:hang01 reason)" in "timed out after 5 s"*) ;; *) fail "hang01 reason: $(sub ltp:kilnsmoke:hang01 reason)" ;; esac
expect_sub ltp:kilnsmoke:skipme01 status skipped
expect_in runs/latest/junit.xml 'name="ltp:kilnsmoke:conf01"'
# one VM served every case
[ "$(jq '[.cases[].node] | unique | length' "$r")" = 1 ] || fail "cases did not share one VM"
expect_no_qemu
exit 0
