#!/bin/sh
# scripts/bench-table.sh: the README's performance table is rebuilt from the kept bench outputs,
# each row quoting that bench's summary lines and its run header; a failed bench says FAILED;
# text outside the markers is kept byte for byte; a README without the markers is refused. No VM.
. "$(dirname "$0")/lib.sh"
mkdir res
printf '# bench/sign  2026-12-01 07:25 UTC  commit abc1234  2 cores  load 0.10 0.20 0.30\nnoise\nsign+verify 2 GiB: kiln 5.88 s  minisign 5.95 s  ratio 0.99×  (rounds: 1 | 2)\n# exit 0\n' > res/sign.txt
printf '# bench/concurrency  2026-12-01 08:00 UTC  commit abc1234  2 cores  load 1.00 1.00 1.00\n  N=1: 16/16 passed in 100.0 s on 1 environment(s): 9.60 cases/min, 1.00x N=1 (kiln exit 0)\n  N=2: 15/16 passed in 60.0 s on 2 environment(s): 15.00 cases/min, 1.56x N=1 (kiln exit 1)\n# exit 1\n' > res/concurrency.txt
printf 'intro\n<!-- bench-table:begin -->\nold row\n<!-- bench-table:end -->\noutro | with a pipe\n' > README.md
KILN_BENCH_RESULTS=$T/res sh "$KILN_ROOT/scripts/bench-table.sh" README.md || fail "bench-table.sh failed"
[ "$(head -n 2 README.md)" = "intro
<!-- bench-table:begin -->" ] || fail "text before the table changed: $(head -n 2 README.md)"
[ "$(tail -n 2 README.md)" = "<!-- bench-table:end -->
outro | with a pipe" ] || fail "text after the table changed: $(tail -n 2 README.md)"
grep -q 'old row' README.md && fail "the old table was kept"
grep -qxF '| `bench/sign` | sign + verify <= 1.0x minisign | sign+verify 2 GiB: kiln 5.88 s  minisign 5.95 s  ratio 0.99×  (rounds: 1 \| 2) | 2026-12-01 07:25 UTC  commit abc1234  2 cores  load 0.10 0.20 0.30 |' README.md ||
    fail "sign row: $(grep sign README.md)"
grep -q 'noise' README.md && fail "a line that is not a summary line was quoted"
row=$(grep '^| `bench/concurrency`' README.md)
case $row in *"FAILED (exit 1): see bench/results/concurrency.txt<br>N=1: 16/16 passed"*"<br>N=2: 15/16 passed"*) ;; *) fail "concurrency row: $row" ;; esac
[ "$(grep -c '^| `bench/' README.md)" -eq 2 ] || fail "rows for benches without output: $(grep '^| `bench/' README.md)"
printf 'no markers\n' > plain.md
expect_status 2 sh "$KILN_ROOT/scripts/bench-table.sh" plain.md
grep -q 'no bench-table markers' err || fail "no-marker message: $(cat err)"
[ "$(cat plain.md)" = "no markers" ] || fail "a README without markers was changed"
echo "bench_table: ok"
