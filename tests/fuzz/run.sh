#!/bin/sh
# Builds each parser's libFuzzer target with clang (ASan+UBSan) and runs it for a bounded
# time from the seed corpus. usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]
set -eu
secs=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${KILN_FUZZ_OUT:-$root/build-fuzz}
mkdir -p "$out"
command -v clang >/dev/null || { echo "fuzz: clang is not installed" >&2; exit 77; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu17 -D_GNU_SOURCE
       -DKILN_VERSION=\"fuzz\" -DKILN_SOURCE_DATA_DIR=\"$root/data\" -DKILN_GUEST_BUILD_PATH=\"/nonexistent\"
       -I$root/src $(pkg-config --cflags yaml-0.1 libxml-2.0 jansson)"
libs="$(pkg-config --libs yaml-0.1 libxml-2.0 jansson zlib libcrypto libarchive) -lpthread -lm"
util="$root/src/util/util.c $root/src/util/utf8.c $root/src/util/log.c $root/src/util/fs.c $root/src/util/yaml.c $root/src/util/timeutil.c $root/src/util/proc.c"
sources() {
    case $1 in
        tap) echo "$root/src/ext/tap.c" ;;
        ltp) echo "$root/src/ext/ltp.c $root/src/ext/tap.c" ;;
        junit) echo "$root/src/ext/junit.c $root/src/ext/tap.c" ;;
        output) echo "$root/src/ext/output.c $root/src/ext/junit.c $root/src/ext/tap.c $root/src/ext/ltp.c" ;;
        runbook) echo "$root/src/runbook/runbook.c $root/src/core/req.c" ;;
        console) echo "$root/src/node/console.c" ;;
        disk) echo "$root/src/image/disk.c $root/src/image/qcow2.c $root/src/image/vhd.c $root/src/image/gpt.c" ;;
        spec) echo "$root/src/image/spec.c" ;;
        archive) echo "$root/src/report/archive.c" ;;
    esac
}
status=0
for t in tap ltp junit output runbook console disk spec archive; do
    # shellcheck disable=SC2086
    clang $flags -o "$out/fuzz_$t" "$here/fuzz_$t.c" $(sources $t) $util $libs
    mkdir -p "$out/corpus-$t"
    maxlen=16384
    [ "$t" = disk ] && maxlen=70000
    [ "$t" = archive ] && maxlen=8192
    if "$out/fuzz_$t" -max_total_time="$secs" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 \
        "$out/corpus-$t" "$here/corpus/$t" > "$out/fuzz_$t.log" 2>&1; then
        echo "fuzz_$t: $(grep -Eo 'Done [0-9]+ runs' "$out/fuzz_$t.log" | tail -n 1) in ${secs}s, no findings"
    else
        echo "fuzz_$t: FINDING (see $out/fuzz_$t.log)"; tail -n 30 "$out/fuzz_$t.log"; status=1
    fi
done
exit $status
