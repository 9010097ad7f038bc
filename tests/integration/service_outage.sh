#!/bin/sh
# A server outage longer than a lease while a job runs (kiln serve stopped, restarted on the same
# data): the worker keeps the finished run and hands it in once the server is back; the server
# does not take its own downtime for the worker's silence. So the job passes on its first
# attempt, its console holds each line once, the worker says once that the server is
# unreachable and once that it is back (its lines time-stamped), and logs the verdict only
# after the server took it.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed"; exit 77; }

data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add"
W1=$("$KILN" worker add host7 --data "$data" 2>/dev/null) || fail "worker add"

# the server on a port of its own, lease 20 s; restarted later on the same port (serve_start)
port=
serve_start serve.log --data "$data" --lease-s 20
S=http://127.0.0.1:$port
trap 'rc=$?; kill $serve_pid $w_pid 2>/dev/null; sleep 1; dump_consoles $rc; rm -rf "$T"' EXIT
KILN_WORKER_TOKEN=$W1 "$KILN" worker --server "$S" --work "$T/w" > worker.log 2>&1 &
w_pid=$!

BB=$KILN_BUSYBOX
id=$(KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel "$BB/vmlinuz" --append "console=ttyS0 quiet" "$BB/initrd.img" \
    --tier 0 2> submit.err) || { cat submit.err; fail "kiln submit"; }
for i in $(seq 1200); do grep -q '^\[node0\] ' "$data/jobs/$id/console.log" 2>/dev/null && break; sleep 0.2; done
grep -q '^\[node0\] ' "$data/jobs/$id/console.log" || fail "job $id never showed a console line"

# --- the outage: the run ends while the server is down, and stays down past the lease ---
kill -TERM $serve_pid
wait $serve_pid
note "server stopped while job $id runs"
for i in $(seq 3000); do grep -q "job $id: the run exited" worker.log && break; sleep 0.2; done
expect_in worker.log "job $id: the run exited 0"
sleep 25
expect_not_in worker.log "job $id: passed"  # not before the server took it
serve_start serve.log --data "$data" --lease-s 20
note "server restarted"
for i in $(seq 1500); do
    st=$(curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id" | jq -r .state)
    [ "$st" = done ] && break
    sleep 0.2
done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id" > job.json
expect_jq job.json .state done
expect_jq job.json .result passed
expect_jq job.json '.attempts | length' 1
expect_jq job.json '.cases[] | select(.name=="smoke") | .status' passed
expect_in serve.log "held job(s) get a lease of 20 s from now"
expect_not_in serve.log "whose worker went silent"

# --- the worker: once unreachable, once back, then the verdict; its lines say when ---
[ "$(grep -c "the server is unreachable" worker.log)" -eq 1 ] || { cat worker.log; fail "the worker did not say once that the server is unreachable"; }
# the one line that says so quotes the error; no warning per failed request
[ "$(grep -c "Failed to connect" worker.log)" -eq 1 ] || { cat worker.log; fail "the worker warned at failed requests"; }
expect_in worker.log "the server is back"
expect_in worker.log "job $id: passed"
grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z ' worker.log || fail "the worker's log lines carry no time"

# --- the console: every line once, and all of the run ---
curl -s -H "Authorization: Bearer $TA" -o console.txt "$S/api/v1/jobs/$id/console"
[ "$(grep -c 'PASSED' console.txt)" -eq 1 ] || { cat console.txt; fail "the console does not hold the case line once"; }
curl -sf -H "Authorization: Bearer $TA" -o node0.txt "$S/api/v1/jobs/$id/artifacts/nodes/node0/console.log" || fail "node0's console"
want=$(awk 'END { print NR }' node0.txt)
got=$(grep -c '^\[node0\] ' console.txt)
[ "$got" -eq "$want" ] || fail "the job's console has $got [node0] lines; the run's nodes/node0/console.log has $want"

# --- an idle worker stops at once on SIGINT (its claim's long poll is cut short) ---
t0=$(date +%s.%N)
kill -INT $w_pid
wait $w_pid || fail "the worker exited $? on SIGINT"
note "idle worker stopped $(echo "$(date +%s.%N) - $t0" | bc) s after SIGINT"
kill -TERM $serve_pid
wait $serve_pid
expect_no_qemu
echo "service_outage: job $id passed on its first attempt across a server outage longer than its lease"
