#!/bin/sh
# bench/service: kiln serve on SQLite and on PostgreSQL side by side, loopback only.
# For each backend: 5 tenants submit SUBMITS jobs at once (SUBMITS/5 each, one curl process per
# request, all started together: xargs -P), then 5 simulated workers (curl loops speaking the
# worker API: claim, advance to running, finish passed) take every job. Checks, per backend:
# every submission got 201 and a distinct id, the server lists exactly those jobs (0 lost, 0
# duplicates), each was claimed by exactly one worker and is done/passed after one attempt.
# Prints submit latency p50/p99 (curl's time_total, nearest rank: with 50 samples p99 is the
# slowest) and claims/s (jobs claimed, moved to running and finished through the API per second
# of the claim phase, 5 workers).
# usage: bench/service/run.sh [BUILD_DIR] [SUBMITS]   (PostgreSQL: tests/lib/pg.sh, as root
# it runs the server as the kiln-test user; without PostgreSQL only SQLite is measured)
set -eu
build=${1:-build}
submits=${2:-50}
tenants=5
workers=5
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "build kiln first (make build)" >&2; exit 2; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "curl and jq are needed" >&2; exit 2; }
[ $((submits % tenants)) -eq 0 ] || { echo "SUBMITS must be a multiple of $tenants" >&2; exit 2; }
T=$(mktemp -d /tmp/kiln-bench-service-XXXXXX)
pgdir=
serve_pid=
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$pgdir" ] && sh "$root/tests/lib/pg.sh" stop "$pgdir" && rm -rf "$pgdir"
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
cd "$T"

# nearest-rank percentile P of the numbers on stdin (seconds) in ms
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END {r=int((p*NR+99)/100); if (r<1) r=1; printf "%.1f", v[r]*1000}'; }

# bench NAME DB-ARGS...: one backend; prints its line
bench() {
    name=$1; shift
    d=$T/$name
    mkdir -p "$d"
    "$kiln" serve --init --data "$d/data" "$@" 2>/dev/null || { echo "bench service: $name: serve --init failed" >&2; exit 1; }
    adm=$("$kiln" tenant add admin --admin --data "$d/data" "$@" 2>/dev/null)
    for t in $(seq $tenants); do "$kiln" tenant add "t$t" --max-jobs "$submits" --data "$d/data" "$@" 2>/dev/null > "$d/tok$t"; done
    for w in $(seq $workers); do "$kiln" worker add "w$w" --data "$d/data" "$@" 2>/dev/null > "$d/wtok$w"; done
    port=
    for try in 1 2 3 4 5; do
        p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
        "$kiln" serve --listen 127.0.0.1:$p --data "$d/data" --max-queued "$submits" "$@" > "$d/serve.log" 2>&1 &
        serve_pid=$!
        for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/api/v1/openapi.json" && { port=$p; break; }; sleep 0.1; done
        [ -n "$port" ] && break
        kill "$serve_pid" 2>/dev/null || true
    done
    [ -n "$port" ] || { cat "$d/serve.log" >&2; echo "kiln serve did not start" >&2; exit 1; }
    S=http://127.0.0.1:$port/api/v1
    # each tenant's image (what the jobs name; no VM runs them here): the server takes only a
    # disk image, so a small GPT disk with a BIOS boot partition (random bytes are refused: 400)
    truncate -s 4M "$d/img" && sgdisk -n1:2048:+1M -t1:ef02 "$d/img" > /dev/null 2>&1 ||
        { echo "bench service: sgdisk failed (apt-get install gdisk)" >&2; exit 1; }
    dg=$(sha256sum "$d/img" | cut -c1-64)
    for t in $(seq $tenants); do curl -s -o /dev/null -H "Authorization: Bearer $(cat "$d/tok$t")" --data-binary @"$d/img" "$S/images"; done
    for w in $(seq $workers); do
        curl -s -o /dev/null -H "Authorization: Bearer $(cat "$d/wtok$w")" \
            -d "{\"caps\":{\"accel\":\"tcg\",\"arch\":\"x86_64\",\"cpus\":2,\"memory_mb\":4096},\"slots\":$submits}" "$S/worker/declare"
    done
    # the submissions: all at once
    : > "$d/reqs"
    for n in $(seq "$submits"); do echo "$(( (n - 1) % tenants + 1 )) $n" >> "$d/reqs"; done
    body="{\"image\":\"$dg\",\"selections\":[{\"caseName\":\"smoke\"}]}"
    mkdir -p "$d/sub"
    # one curl per request, all started together ($1 the tenant, $2 the request's number)
    D=$d SURL=$S BODY=$body xargs -P "$submits" -L 1 sh -c 'curl -s -o "$D/sub/$2.json" -w "%{http_code} %{time_total}\n" \
        -H "Authorization: Bearer $(cat "$D/tok$1")" -d "$BODY" "$SURL/jobs" > "$D/sub/$2.w"' submit < "$d/reqs"
    ok=$(cat "$d/sub"/*.w | grep -c '^201 ' || true)
    # a refused submission says why, once: the bench is not to report a silent 0
    [ "$ok" -eq "$submits" ] || for n in $(seq "$submits"); do
        grep -q '^201 ' "$d/sub/$n.w" || { echo "$name: submission $n: $(cut -d' ' -f1 "$d/sub/$n.w") $(head -c 300 "$d/sub/$n.json")" >&2; break; }
    done
    ids=$(cat "$d/sub"/*.json | jq -r .id | sort -n)
    distinct=$(echo "$ids" | sort -u | grep -c . || true)
    dup=$(( $(echo "$ids" | grep -c .) - distinct ))
    listed=$(curl -s -H "Authorization: Bearer $adm" "$S/jobs" | jq -r '.jobs[].id' | sort -n)
    lost=$(echo "$ids" | grep -cvxF "$listed" || true)
    [ "$(echo "$listed" | grep -c .)" -eq "$distinct" ] || lost=$(( lost + distinct - $(echo "$listed" | grep -c .) ))
    p50=$(cut -d' ' -f2 "$d"/sub/*.w | pct 50)
    p99=$(cut -d' ' -f2 "$d"/sub/*.w | pct 99)
    # the simulated workers: claim, advance to running, finish passed, until nothing is left
    t0=$(date +%s.%N)
    wpids=
    for w in $(seq $workers); do
        # a process of its own (not a subshell: dash runs the EXIT trap in those)
        sh -c 'tok=$(cat "$1/wtok$2")
            while :; do
                id=$(curl -s -X POST -H "Authorization: Bearer $tok" "$3/worker/claim?wait=0" | jq -r ".id // empty" 2>/dev/null)
                [ -n "$id" ] || break
                echo "$id" >> "$1/claimed$2"
                curl -s -o /dev/null -H "Authorization: Bearer $tok" -d "{\"state\":\"running\"}" "$3/worker/jobs/$id/advance"
                curl -s -o /dev/null -H "Authorization: Bearer $tok" -d "{\"result\":\"passed\"}" "$3/worker/jobs/$id/finish"
            done' worker "$d" "$w" "$S" &
        wpids="$wpids $!"
    done
    wait $wpids
    t1=$(date +%s.%N)
    claims=$(cat "$d"/claimed* 2>/dev/null | grep -c . || true)
    cdup=$(( claims - $(cat "$d"/claimed* 2>/dev/null | sort -u | grep -c . || true) ))
    rate=$(echo "$claims / ($t1 - $t0)" | bc -l)
    done_once=$(curl -s -H "Authorization: Bearer $adm" "$S/jobs?state=done" | jq '[.jobs[] | select(.result == "passed" and .attempt == 1)] | length')
    kill "$serve_pid" && wait "$serve_pid" 2>/dev/null || true
    serve_pid=
    printf '%-11s %7s %5s %5s %4s %8s %8s %8.1f %7s %6s\n' "$name" "$submits" "$ok" "$lost" "$dup" "$p50" "$p99" "$rate" "$claims" "$cdup"
    [ "$ok" -eq "$submits" ] && [ "$lost" -eq 0 ] && [ "$dup" -eq 0 ] && [ "$claims" -eq "$submits" ] && [ "$cdup" -eq 0 ] &&
        [ "$done_once" -eq "$submits" ] || { echo "$name: lost, duplicated or unfinished jobs (done once: $done_once)" >&2; return 1; }
}

printf '%-11s %7s %5s %5s %4s %8s %8s %8s %7s %6s\n' backend submits 201s lost dup "p50 ms" "p99 ms" claims/s claimed "dup"
rc=0
bench sqlite || rc=1
pgdir=$(mktemp -d /tmp/kiln-bench-pg-XXXXXX)
if url=$(setsid sh "$root/tests/lib/pg.sh" start "$pgdir" $$ 2> "$T/pg.err"); then
    bench postgresql --db "$url" || rc=1
else
    echo "postgresql: not measured: $(cat "$T/pg.err")"
    rm -rf "$pgdir"
    pgdir=
fi
exit $rc
