#!/bin/sh
# bench/run-all.sh: runs the benches named (all when none) with the non-ASan kiln in BUILD_DIR
# and keeps each one's whole output in bench/results/NAME.txt, headed by the date, the commit,
# the host's cores and its load when the bench started (a ratio measured on a busy host says
# so). scripts/bench-table.sh turns those files into the README's performance table, so every
# figure there is the latest run's.   usage: bench/run-all.sh BUILD_DIR [NAME...]
# A bench that fails keeps its output (with the failure) and the others still run; the exit
# status is 1 when any failed.
set -u
build=${1:?usage: bench/run-all.sh BUILD_DIR [NAME...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -gt 0 ] || set -- overhead convert sign build boot concurrency rollout service
mkdir -p bench/results
status=0
for name in "$@"; do
    case $name in
        overhead|sign|build|boot|concurrency|rollout|service) args=$build ;;
        convert) args="$build 5" ;;
        reboots) args=$build ;;
        *) echo "bench/run-all.sh: no bench named \"$name\" (overhead convert sign build boot concurrency rollout service reboots)" >&2; exit 2 ;;
    esac
    case $name in
        boot|reboots)
            [ -f out/debian-server-1.0.0.qcow2 ] || "./$build/kiln" build examples/images/debian-server.yml --out out || { status=1; continue; } ;;
    esac
    out=bench/results/$name.txt
    {
        echo "# bench/$name  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')  $(nproc) cores  load $(cut -d' ' -f1-3 /proc/loadavg)"
        # shellcheck disable=SC2086
        sh "bench/$name/run.sh" $args 2>&1
        echo "# exit $?"
    } | tee "$out.tmp"
    mv "$out.tmp" "$out"
    grep -q '^# exit 0$' "$out" || status=1
done
exit $status
