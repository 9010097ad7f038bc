#!/bin/sh
# kiln serve when its database fails for a whole request (no VMs): a failure that passes with
# time is 503 with Retry-After and the API's JSON {error, field}; the server lives on and
# answers 200 again once the database is back.
#  - SQLite: another process holds the write lock past the busy timeout (30 s): a submit is
#    503 (reads go on: WAL); once the lock is let go the same submit is 201;
#  - PostgreSQL (started here, tests/lib/pg.sh): the server stopped under kiln serve: a
#    tenant's and a worker's requests are 503, not 401 (the token could not be checked) nor
#    500; the dashboard's pages and sign-in too (its HTML); started again, the next request is
#    200 (the lost connections were not pooled); kiln worker and kiln submit --wait wait out
#    the Retry-After;
#  - a refusal of the request's framing on an /api/ path (two Content-Length fields) is the
#    API's JSON too.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null && command -v python3 >/dev/null || { echo "curl, jq and python3 are needed"; exit 77; }

pids=
pgdir=
cleanup() {
    st=$?
    for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -z "$pgdir" ] || sh "$KILN_ROOT/tests/lib/pg.sh" stop "$pgdir"
    dump_consoles $st
    rm -rf "$T"
}
trap cleanup EXIT

start_serve() { # LOG ARGS...: a new kiln serve on a port of its own (lib.sh's serve_start)
    log=$1; shift
    : > "$log"
    port=
    serve_start "$log" "$@"
    pids="$pids $serve_pid"
}
# call TOKEN METHOD PATH [curl args]: prints the status; body in $T/body, headers in $T/hdr
call() {
    tok=$1 m=$2 u=$3; shift 3
    curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok" "$@" "$S$u"
}
# unavailable WHAT: the last answer was 503, Retry-After, JSON {error, field: null}
unavailable() {
    grep -qi '^Retry-After: [0-9]' "$T/hdr" || { cat "$T/hdr"; fail "$1: a 503 without Retry-After"; }
    grep -qi '^Content-Type: application/json' "$T/hdr" || { cat "$T/hdr"; fail "$1: a 503 that is not JSON"; }
    expect_jq "$T/body" .error "the server's database is busy or unreachable; try again later"
    expect_jq "$T/body" .field null
}

# --- SQLite: the write lock held by another process ---
data=$T/data
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add"
start_serve serve.log --data "$data"
truncate -s 4M img && sgdisk -n1:2048:+1M -t1:ef02 img > /dev/null 2>&1 || fail "sgdisk"
dg=$(sha256sum img | cut -c1-64)
[ "$(call "$TA" POST /api/v1/images --data-binary @img)" = 201 ] || fail "upload: $(cat "$T/body")"
# the lock holder keeps BEGIN IMMEDIATE open until the file "release" appears
python3 -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
while not os.path.exists("release"):
    time.sleep(0.1)
c.execute("ROLLBACK")
' "$data/kiln.db" > lock.out 2>&1 &
lock_pid=$!
pids="$pids $lock_pid"
for i in $(seq 100); do grep -q locked lock.out && break; sleep 0.1; done
grep -q locked lock.out || { cat lock.out; fail "the lock holder did not take the lock"; }
job="{\"image\":\"$dg\",\"tier\":0}"
code=$(call "$TA" POST /api/v1/jobs -d "$job")
[ "$code" = 503 ] || { cat "$T/body"; fail "a submit while the database stays locked: $code, expected 503"; }
unavailable "SQLite locked"
[ "$(call "$TA" GET /api/v1/jobs)" = 200 ] || { tail -n 8 serve.log; fail "a read while the write lock is held: $(cat "$T/body")"; }
touch release
wait $lock_pid
code=$(call "$TA" POST /api/v1/jobs -d "$job")
[ "$code" = 201 ] || { cat "$T/body"; fail "the submit once the lock is let go: $code, expected 201"; }
grep -q "kiln serve: store: SQLite: .*locked" serve.log || { tail -n 5 serve.log; fail "the log does not say the database was locked"; }
note "SQLite locked past the busy timeout: 503 with Retry-After, reads 200; let go: 201"

# --- framing refused on an /api/ path: the API's JSON ---
out=$(python3 - "${S#http://127.0.0.1:}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode("utf-8", "replace"))
PY
)
printf '%s\n' "$out" | head -n 1 | grep -q '^HTTP/1.1 400 ' || fail "two Content-Length on /api/v1/jobs: $out"
printf '%s\n' "$out" | grep -qi '^Content-Type: application/json' || fail "the framing refusal on an /api/ path is not JSON: $out"
printf '%s\n' "$out" | tail -n 2 | grep -F '{"error":"the request has 2 Content-Length fields; send one","field":null}' >/dev/null ||
    fail "the framing refusal's body: $out"
note "two Content-Length on /api/v1/jobs: 400, JSON {error, field}, connection closed"
kill $serve_pid; wait $serve_pid 2>/dev/null

# --- PostgreSQL stopped under the server ---
if [ ! -x "${KILN_PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_ctl" ]; then
    note "no PostgreSQL server binaries: the PostgreSQL half is skipped"
    exit 0
fi
# PostgreSQL runs as kiln-test, which cannot enter $T (0700): its own directory
pgdir=$(mktemp -d /tmp/kiln-pg-XXXXXX)
url=$(setsid sh "$KILN_ROOT/tests/lib/pg.sh" start "$pgdir" $$ 2> pg.err) || { cat pg.err; fail "PostgreSQL did not start"; }
"$KILN" serve --init --data "$T/pgdata" --db "$url" 2>/dev/null || fail "serve --init on PostgreSQL"
TP=$("$KILN" tenant add acme --db "$url" 2>/dev/null) || fail "tenant add on PostgreSQL"
TW=$("$KILN" worker add w1 --db "$url" 2>/dev/null) || fail "worker add on PostgreSQL"
start_serve serve-pg.log --data "$T/pgdata" --db "$url"
# a few requests at once: the server pools several connections
cp=
for i in 1 2 3 4; do curl -s -o /dev/null -H "Authorization: Bearer $TP" "$S/api/v1/jobs" & cp="$cp $!"; done
wait $cp
[ "$(call "$TP" GET /api/v1/jobs)" = 200 ] || fail "GET jobs on PostgreSQL: $(cat "$T/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' -c jar --data-urlencode "token=$TP" "$S/login")
[ "$code" = 303 ] || fail "the dashboard's sign-in: $code"
# kiln submit --wait follows a queued job (no worker takes it) across the outage
"$KILN" submit --server "$S" --token "$TP" img --tier 0 --wait > submit.out 2> submit.err &
spid=$!
pids="$pids $spid"
for i in $(seq 300); do grep -q "job [0-9]*: queued" submit.err && break; sleep 0.1; done
grep -q "job [0-9]*: queued" submit.err || { cat submit.err; fail "kiln submit --wait did not report its job queued"; }
sh "$KILN_ROOT/tests/lib/pg.sh" halt "$pgdir" || fail "pg.sh halt"
# the dashboard's pages likewise: 503 with Retry-After, its own HTML page
for page in /jobs /workers; do
    code=$(curl -s -o page.html -D page.hdr -w '%{http_code}' -b jar "$S$page")
    [ "$code" = 503 ] && grep -qi '^Retry-After: [0-9]' page.hdr && grep -qi '^Content-Type: text/html' page.hdr &&
        grep -q "busy or unreachable" page.html || { cat page.hdr page.html; fail "the dashboard's $page with PostgreSQL stopped: $code"; }
done
code=$(curl -s -o page.html -w '%{http_code}' --data-urlencode "token=$TP" "$S/login")
[ "$code" = 503 ] || { cat page.html; fail "a sign-in with PostgreSQL stopped: $code, expected 503 (not a wrong token)"; }
for i in 1 2 3 4 5 6; do
    code=$(call "$TP" GET /api/v1/jobs)
    [ "$code" = 503 ] || { cat "$T/body"; fail "GET jobs (try $i) with PostgreSQL stopped: $code, expected 503"; }
    unavailable "PostgreSQL stopped, tenant, try $i"
done
code=$(call "$TW" POST /api/v1/worker/heartbeat)
[ "$code" = 503 ] || { cat "$T/body"; fail "a worker's heartbeat with PostgreSQL stopped: $code, expected 503"; }
unavailable "PostgreSQL stopped, worker"
kill -0 $serve_pid 2>/dev/null || fail "kiln serve ended when PostgreSQL stopped"
for i in $(seq 100); do grep -q "Retry-After" submit.err && break; sleep 0.1; done
grep -q "asking again in 30 s, as its Retry-After says" submit.err || { cat submit.err; fail "kiln submit --wait does not wait out the 503's Retry-After"; }
kill -0 $spid 2>/dev/null || { cat submit.err; fail "kiln submit --wait gave up on a server that asked for time"; }
kill $spid; wait $spid 2>/dev/null
# a kiln worker started now waits out the 503's Retry-After (30 s) before declaring again,
# instead of asking every 2 s
"$KILN" worker --server "$S" --token "$TW" --work "$T/wwork" > worker.log 2>&1 &
wpid=$!
pids="$pids $wpid"
for i in $(seq 600); do grep -q "POST /api/v1/worker/declare" worker.log && break; sleep 0.1; done
sleep 7
kill $wpid; wait $wpid 2>/dev/null
n=$(grep -c "POST /api/v1/worker/declare" worker.log)
[ "$n" -eq 1 ] || { cat worker.log; fail "kiln worker declared $n times in 7 s after a 503 with Retry-After: 30, expected once"; }
grep -q "asking again in 30 s, as its Retry-After says" worker.log || { cat worker.log; fail "kiln worker does not say it waits out Retry-After"; }
! grep -qF "${TW#kw_}" worker.log || fail "the worker token is in the worker's log"
sh "$KILN_ROOT/tests/lib/pg.sh" resume "$pgdir" || fail "pg.sh resume"
code=$(call "$TP" GET /api/v1/jobs)
[ "$code" = 200 ] || { cat "$T/body"; fail "GET jobs once PostgreSQL is back: $code, expected 200"; }
code=$(call "$TW" POST /api/v1/worker/heartbeat)
[ "$code" = 200 ] || { cat "$T/body"; fail "a heartbeat once PostgreSQL is back: $code, expected 200"; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -b jar "$S/jobs")" = 200 ] || fail "the dashboard once PostgreSQL is back"
note "PostgreSQL stopped: tenant, worker and dashboard requests 503 with Retry-After (kiln worker and kiln submit --wait waited it out); started again: 200"
! grep -qF "${TP#kt_}" serve-pg.log && ! grep -qF "${TA#kt_}" serve.log || fail "a tenant token is in the server's log"
exit 0
