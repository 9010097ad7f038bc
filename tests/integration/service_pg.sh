#!/bin/sh
# The validation service end to end on PostgreSQL (started here: initdb into a temp dir, unix
# socket only, tests/lib/pg.sh): kiln serve --db postgresql://..., three kiln workers, real jobs
# of the busybox test image (one quick case, verify_cpu_count, in a TCG VM each: no job kind
# runs without a VM, so the count is what TCG affords, KILN_PG_JOBS: 12 in make check, 300 in
# make check-long; test_store races 300 claims without VMs on both backends).
#  - every job is done and passed exactly once: one passing attempt each, any other attempt
#    incomplete with its reason, and the workers started exactly the attempts the store lists;
#  - kill -9 of the worker running a job: its job process and qemu end with it (PDEATHSIG), the
#    job process hands the job back (attempt incomplete, saying the worker died), and another
#    worker runs it to done;
#  - kill -9 of a worker's whole process group (the host lost: nothing is handed back): the
#    attempt ends incomplete when its lease lapses, and another worker runs it to done;
#  - no qemu is left by either.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null && command -v psql >/dev/null || { echo "curl, jq and psql are needed"; exit 77; }
jobs_n=${KILN_PG_JOBS:-12}

# PostgreSQL runs as kiln-test, which cannot enter $T (0700): its own directory
pgdir=$(mktemp -d /tmp/kiln-pg-XXXXXX)
url=$(setsid sh "$KILN_ROOT/tests/lib/pg.sh" start "$pgdir" $$ 2> pg.err)
rc=$?
[ $rc -eq 2 ] && { cat pg.err; exit 77; }
[ $rc -eq 0 ] || { cat pg.err; rm -rf "$pgdir"; fail "PostgreSQL did not start"; }
pids=
cleanup() {
    st=$?
    for p in $pids; do kill -9 "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    sleep 0.5
    sh "$KILN_ROOT/tests/lib/pg.sh" stop "$pgdir"
    dump_consoles $st
    rm -rf "$T"
}
trap cleanup EXIT
sql() { psql -X -A -t -q "$url" -c "$1"; }

data=$T/data
"$KILN" serve --init --data "$data" --db "$url" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --max-jobs 3 --db "$url" 2>/dev/null) || fail "tenant add"
for w in w1 w2 w3; do
    eval "W_$w=\$(\"\$KILN\" worker add $w --db \"\$url\" 2>/dev/null)" || fail "worker add $w"
done
serve_start serve.log --data "$data" --db "$url" --lease-s 15
pids=$serve_pid
expect_in serve.log "store: postgresql"

# each worker in a session (and process group) of its own, as on a host of its own
start_worker() {
    eval "tok=\$W_$1"
    KILN_WORKER_TOKEN=$tok setsid "$KILN" worker --server "$S" --work "$T/$1" >> "$1.log" 2>&1 &
    eval "pid_$1=$!"
    pids="$pids $!"
}
for w in w1 w2 w3; do start_worker $w; done

api() { curl -s -H "Authorization: Bearer $TA" "$@"; }
BB=$KILN_BUSYBOX
kd=$(sha256sum "$BB/vmlinuz" | cut -c1-64) id_=$(sha256sum "$BB/initrd.img" | cut -c1-64)
api -o /dev/null --data-binary @"$BB/vmlinuz" "$S/api/v1/images"
api -o /dev/null --data-binary @"$BB/initrd.img" "$S/api/v1/images"
job='{"image":"'$id_'","kernel":"'$kd'","append":"console=ttyS0 quiet","selections":[{"caseName":"verify_cpu_count"}]}'
submit() { api -d "$job" "$S/api/v1/jobs" | jq -r .id; }
state() { api "$S/api/v1/jobs/$1" | jq -r "$2"; }
wait_done() { # ID SECONDS
    for i in $(seq $(( $2 * 2 ))); do [ "$(state "$1" .state)" = done ] && return 0; sleep 0.5; done
    api "$S/api/v1/jobs/$1" >&2; fail "job $1 is not done after $2 s"
}
# kill_mid HOW: a job, the worker running it killed (HOW: worker = kill -9 of the worker process,
# host = kill -9 of its process group) once its VM booted; prints the job id
kill_mid() {
    jid=$(submit)
    for i in $(seq 600); do [ "$(state "$jid" .state)" = running ] && grep -q "kiln-busybox: ready" "$data/jobs/$jid/console.log" 2>/dev/null && break; sleep 0.5; done
    grep -q "kiln-busybox: ready" "$data/jobs/$jid/console.log" 2>/dev/null || fail "job $jid never booted"
    victim=$(state "$jid" .worker)
    eval "vp=\$pid_$victim"
    if [ "$1" = host ]; then kill -9 "-$vp"; else kill -9 "$vp"; fi
    note "job $jid: kill -9 ($1) of worker $victim while its VM runs" >&2
    echo "$jid $victim"
}
no_qemu_of() { # WORKER: none of its qemu processes within 20 s
    for i in $(seq 40); do pgrep -f "qemu-system-x86_64 -name kiln-.*$T/$1/" >/dev/null || return 0; sleep 0.5; done
    pgrep -af "qemu-system-x86_64 -name kiln-.*$T/$1/" >&2
    fail "worker $1 was killed and its qemu still runs"
}

# --- kill -9 of the worker: the job process hands the job back, its qemu gone ---
set -- $(kill_mid worker)
j1=$1 v1=$2
no_qemu_of "$v1"
wait_done "$j1" 300
api "$S/api/v1/jobs/$j1" > j1.json
expect_jq j1.json .result passed
expect_jq j1.json '.attempts[0].result' incomplete
expect_jq j1.json '.attempts[0].worker' "$v1"
expect_jq j1.json '.attempts[0].reason' "the worker process ended under the job (killed); the job goes back to the queue"
expect_jq j1.json '.attempts | map(select(.result == "passed")) | length' 1
[ "$(jq -r '.attempts[-1].worker' j1.json)" != "$v1" ] || fail "job $j1 was retried on the killed worker"
[ -z "$(ls "$T/$v1" 2>/dev/null)" ] || { ls -R "$T/$v1" >&2; fail "the killed worker's job process left files"; }
start_worker "$v1"

# --- kill -9 of the worker's process group (the host lost): the lease lapses ---
set -- $(kill_mid host)
j2=$1 v2=$2
no_qemu_of "$v2"
wait_done "$j2" 300
api "$S/api/v1/jobs/$j2" > j2.json
expect_jq j2.json .result passed
expect_jq j2.json '.attempts[0].result' incomplete
expect_jq j2.json '.attempts[0].worker' "$v2"
expect_jq j2.json '.attempts[0].reason | test("^incomplete: worker '"$v2"' stopped renewing its lease")' true
[ "$(jq -r '.attempts[-1].worker' j2.json)" != "$v2" ] || fail "job $j2 was retried on the lost worker"
expect_in serve.log "whose worker went silent were queued again"
start_worker "$v2"

# --- N jobs: every one done exactly once, none lost ---
: > ids
for n in $(seq "$jobs_n"); do submit >> ids; done
[ "$(sort -u ids | grep -c '^[0-9]')" -eq "$jobs_n" ] || fail "the server did not give $jobs_n distinct ids: $(cat ids)"
start=$(date +%s)
while [ "$(sql "SELECT COUNT(*) FROM jobs WHERE state <> 'done'")" -ne 0 ]; do
    [ $(( $(date +%s) - start )) -lt $(( jobs_n * 120 )) ] || { sql "SELECT id, state FROM jobs WHERE state <> 'done'" >&2; fail "jobs left undone"; }
    sleep 2
done
note "$jobs_n jobs done in $(( $(date +%s) - start )) s by 3 workers"
total=$(( jobs_n + 2 ))
[ "$(sql "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND result = 'passed'")" -eq $total ] ||
    { sql "SELECT id, result, reason FROM jobs" >&2; fail "not every job passed"; }
# one passing attempt per job; any other attempt incomplete, with a reason
[ "$(sql "SELECT COUNT(*) FROM jobs j WHERE (SELECT COUNT(*) FROM job_attempts a WHERE a.job_id = j.id AND a.result = 'passed') <> 1")" -eq 0 ] ||
    fail "a job has not exactly one passing attempt: $(sql "SELECT job_id, attempt, result FROM job_attempts ORDER BY 1, 2")"
[ "$(sql "SELECT COUNT(*) FROM job_attempts WHERE result IS DISTINCT FROM 'passed' AND (result <> 'incomplete' OR reason IS NULL OR reason = '')")" -eq 0 ] ||
    fail "an attempt that did not pass is not incomplete with a reason"
attempts=$(sql "SELECT COUNT(*) FROM job_attempts")
# the workers started exactly the attempts the store lists: no job ran twice unrecorded
started=$(cat w1.log w2.log w3.log | grep -c "kiln worker: job [0-9]* started")
[ "$started" -eq "$attempts" ] || fail "the workers started $started job attempts, the store lists $attempts"
note "$total jobs, $attempts attempts ($(( attempts - total )) incomplete and retried)"

for p in $pids; do kill -TERM "$p" 2>/dev/null; done
for p in $pids; do wait "$p" 2>/dev/null; done
pids=
expect_no_qemu
echo "service_pg: $total jobs on PostgreSQL through kiln serve, each passed exactly once; kill -9 of a worker and of a host both retried"
