#!/bin/sh
# scripts/bench-table.sh: rewrites the README's performance table (between the lines
# "<!-- bench-table:begin -->" and "<!-- bench-table:end -->") from bench/results/*.txt, the
# outputs bench/run-all.sh keeps. Each row quotes the bench's own summary lines verbatim and
# the header line of its run (date, commit, load), so the README never holds a figure that no
# kept output shows.   usage: scripts/bench-table.sh [README]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
readme=${1:-$root/README.md}
R=${KILN_BENCH_RESULTS:-$root/bench/results}
grep -q '^<!-- bench-table:begin -->$' "$readme" && grep -q '^<!-- bench-table:end -->$' "$readme" ||
    { echo "scripts/bench-table.sh: $readme has no bench-table markers" >&2; exit 2; }
# name|goal (from issue 19)|summary-line pattern (extended regex)
rows='overhead|kiln per-case overhead above the libssh floor <= 10 ms|^  (kiln run|floor,|openssh|kiln overhead|ratio kiln)
convert|(qemu-img is the reference)|^raw→
sign|sign + verify <= 1.0x minisign|^sign\+verify
build|cold <= 0.8x mkosi 14, warm rebuild <= 10 s|^[a-z-]+: kiln .*ratio
boot|tier 0 <= 1.3x (plain qemu to SSH + the cases'"'"' work)|^  (floor|kiln|ratio)
concurrency|N=2 >= 1.7x N=1, no failure at N=8|^  N=
rollout|8-12 % offered at 10 %, limits held|^bench rollout
service|no job lost or run twice|^(backend|sqlite|postgresql)
reboots|every reboot comes back|^(median|[0-9]+/[0-9]+ reboots)'
tab=$(mktemp)
trap 'rm -f "$tab" "$readme.tmp"' EXIT
{
    echo "| bench | goal | latest figures (the bench's own lines) | run |"
    echo "|---|---|---|---|"
    echo "$rows" | while IFS='|' read -r name goal pat; do
        f=$R/$name.txt
        [ -f "$f" ] || continue
        head=$(head -n 1 "$f" | sed 's/^# bench\/[a-z]*  //')
        st=$(sed -n 's/^# exit //p' "$f" | tail -n 1)
        lines=$(grep -E "$pat" "$f" | sed 's/^ *//; s/|/\\|/g' | awk 'NR > 1 {printf "<br>"} {printf "%s", $0}')
        [ "$st" = 0 ] || lines="FAILED (exit ${st:-?}): see bench/results/$name.txt${lines:+<br>}$lines"
        printf '| `bench/%s` | %s | %s | %s |\n' "$name" "$goal" "${lines:-no summary line}" "$head"
    done
} > "$tab"
awk -v tab="$tab" '
    /^<!-- bench-table:begin -->$/ { print; while ((getline l < tab) > 0) print l; skip = 1; next }
    /^<!-- bench-table:end -->$/ { skip = 0 }
    !skip' "$readme" > "$readme.tmp"
mv "$readme.tmp" "$readme"
