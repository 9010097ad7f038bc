#!/bin/sh
# bench/inspect: what `kiln inspect` and `kiln sbom` cost on one image: the bytes they and their
# children write (wchar in /proc/PID/io of the shell that waited for them: TMPDIR copies,
# outputs and all) and the elapsed time, for each kiln binary given (e.g. main's build and this
# tree's, to compare before and after). The image is the example image kiln build makes, or any
# disk image. One run each: the byte counts do not vary, the times are indicative.
# usage: bench/inspect/run.sh IMAGE KILN...
set -eu
[ $# -ge 2 ] || { echo "usage: bench/inspect/run.sh IMAGE KILN..." >&2; exit 2; }
img=$(realpath "$1"); shift
T=$(mktemp -d /var/tmp/kiln-bench-inspect-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
echo "image: $img ($(du -m --apparent-size "$img" | cut -f1) MiB file)"
printf '%-40s %-8s %14s %9s\n' kiln verb "bytes written" seconds
for k in "$@"; do
    for verb in inspect sbom; do
        case $verb in inspect) args="inspect --json $img" ;; sbom) args="sbom $img -f spdx -o $T/out.json" ;; esac
        # shellcheck disable=SC2086
        line=$(TMPDIR=$T sh -c 't0=$(date +%s.%N); "$@" > /dev/null 2>&1 || echo FAILED >&2; t1=$(date +%s.%N)
                echo "$(sed -n "s/^wchar: //p" /proc/$$/io) $(echo "$t1 - $t0" | bc -l)"' sh "$k" $args)
        printf '%-40s %-8s %14s %9.2f\n' "$k" "$verb" "${line% *}" "${line#* }"
        rm -f "$T/out.json"
    done
done
