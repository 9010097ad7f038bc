#!/bin/sh
# The validation service end to end on SQLite: kiln serve, two kiln workers and kiln submit of
# the busybox test image (kernel + initrd, tier 0). One server serves every check:
#  - the job passes; its console is readable while it runs and the stream ends with the job;
#    a kernel command line that cannot boot fails the job (the image's fault, not retried);
#    its archive verifies against the worker's key;
#  - SIGTERM of the worker running it: that worker leaves no qemu and no job directory, and
#    the job is handed back (attempt 1 incomplete) and passes on the other worker;
#  - a job cancelled while it runs is stopped by its worker (heartbeat), nothing left behind;
#  - tenant B gets 404 for every URL of tenant A's job and image; tokens are in no log;
#  - bad input: a field named in 400s, 413 for big bodies and images, artifact paths that
#    leave the job's directory (.., %2e%2e, a symlink) are 404, no token 401, 409, 429;
#  - SIGTERM of kiln serve ends it with a console stream open; an idle worker exits on SIGTERM.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed"; exit 77; }

data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add acme"
TB=$("$KILN" tenant add beta --data "$data" 2>/dev/null) || fail "tenant add beta"
TC=$("$KILN" tenant add gamma --data "$data" 2>/dev/null) || fail "tenant add gamma"
W1=$("$KILN" worker add w1 --data "$data" 2>/dev/null) || fail "worker add w1"
W2=$("$KILN" worker add w2 --data "$data" 2>/dev/null) || fail "worker add w2"
"$KILN" keygen --out "$T/wkey" --no-passphrase >/dev/null || fail "keygen"

serve_start serve.log --data "$data" --max-image-mb 16 --max-queued 2 --lease-s 20
pids="$serve_pid"
trap 'for p in $pids; do kill $p 2>/dev/null; done; sleep 1; rm -rf "$T"' EXIT

# the workers take their tokens from the environment: a token on argv is any local user's
KILN_WORKER_TOKEN=$W1 "$KILN" worker --server "$S" --work "$T/w1" --key "$T/wkey.key" > w1.log 2>&1 &
w1_pid=$!
KILN_WORKER_TOKEN=$W2 "$KILN" worker --server "$S" --work "$T/w2" --key "$T/wkey.key" > w2.log 2>&1 &
w2_pid=$!
pids="$pids $w1_pid $w2_pid"

# api AUTH METHOD PATH [curl args]: the body in $T/body, prints the HTTP status
api() {
    a=$1 m=$2 u=$3; shift 3
    if [ -n "$a" ]; then curl -s --path-as-is -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $a" "$@" "$S$u"
    else curl -s --path-as-is -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$S$u"; fi
}
expect_api() { want=$1; shift; got=$(api "$@"); [ "$got" = "$want" ] || { cat "$T/body" >&2; fail "$2 $3: HTTP $got, expected $want"; }; }
job_state() { api "$TA" GET "/api/v1/jobs/$1" >/dev/null; jq -r .state "$T/body"; }

# --- a job, its live console, a worker stopped under it, and its result ---
BB=$KILN_BUSYBOX
KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel "$BB/vmlinuz" --append "console=ttyS0 quiet" "$BB/initrd.img" \
    --tier 0 --wait > submit.out 2> submit.err &
submit_pid=$!
pids="$pids $submit_pid"
for i in $(seq 600); do [ -s submit.out ] && break; sleep 0.2; done
id=$(head -n 1 submit.out)
[ -n "$id" ] || { cat submit.err; fail "kiln submit printed no job id"; }
for i in $(seq 600); do [ "$(job_state "$id")" = running ] && break; sleep 0.5; done
[ "$(job_state "$id")" = running ] || fail "job $id never ran: $(cat "$T/body")"
curl -sN -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id/console" > live.txt 2> live.err &
console_pid=$!
for i in $(seq 1200); do grep -q "kiln-busybox: ready" live.txt && break; sleep 0.2; done
# node consoles come tagged with the node (kiln may deploy node1 when node0's boot failed)
grep -Eq '^\[node[0-9]+\] kiln-busybox: ready' live.txt || { cat live.txt >&2; fail "the live console lacks the tagged boot line"; }
# the line came while the job still runs: the console is live, not a file read after the end
[ "$(job_state "$id")" = running ] || fail "job $id is $(jq -r .state "$T/body") when its console showed the boot"
holder=$(jq -r .worker "$T/body")
case $holder in w1) victim=$w1_pid vdir=$T/w1 other=w2 ;; w2) victim=$w2_pid vdir=$T/w2 other=w1 ;; *) fail "worker '$holder'" ;; esac
note "job $id runs on $holder; stopping it with SIGTERM"
kill -TERM $victim
wait $victim
[ $? -eq 0 ] || fail "the stopped worker exited $?"
if pgrep -f "qemu-system-x86_64 -name kiln-.*$vdir/" >/dev/null; then fail "worker $holder left a qemu running"; fi
[ -z "$(ls "$vdir" 2>/dev/null)" ] || { ls -R "$vdir" >&2; fail "worker $holder left files in its work directory"; }
expect_in "$holder".log "stopping: 1 job(s) handed back"
# the second attempt starts without the first one's reason (its attempt keeps it)
for i in $(seq 600); do
    api "$TA" GET "/api/v1/jobs/$id" >/dev/null
    [ "$(jq -r '.attempt' "$T/body")" = 2 ] && [ "$(jq -r .state "$T/body")" != queued ] && break
    sleep 0.2
done
[ "$(jq -r .attempt "$T/body")" = 2 ] || fail "job $id did not start its second attempt: $(cat "$T/body")"
[ "$(jq -r .state "$T/body")" = done ] || expect_jq "$T/body" .reason null
wait $submit_pid
rc=$?
[ $rc -eq 0 ] || { cat submit.out submit.err; fail "kiln submit --wait exited $rc, expected 0 (passed)"; }
expect_in submit.out "passed   smoke"
wait $console_pid || fail "the console stream did not end cleanly with the job"
expect_api 200 "$TA" GET "/api/v1/jobs/$id"
cp "$T/body" job.json
expect_jq job.json .state done
expect_jq job.json .result passed
expect_jq job.json .worker "$other"
expect_jq job.json '.attempts | length' 2
expect_jq job.json '.attempts[0].result' incomplete
expect_jq job.json '.attempts[0].reason' "the worker was stopped; the job goes back to the queue"
expect_jq job.json '.attempts[1].result' passed
expect_jq job.json '.cases[] | select(.name=="smoke") | .status' passed
expect_jq job.json '.artifacts | sort | join(",")' "archive.tar.zst,archive.tar.zst.minisig,console.log,junit.xml,kiln.log,report.html,results.json"
expect_api 200 "$TA" GET "/api/v1/jobs/$id/artifacts/results.json"
expect_jq "$T/body" '.cases[] | select(.name=="smoke") | .status' passed
# the whole run directory came up: the report's links to per-case logs resolve on the server
expect_api 200 "$TA" GET "/api/v1/jobs/$id/artifacts/report.html"
expect_in "$T/body" 'href="cases/smoke/log.txt"'
expect_api 200 "$TA" GET "/api/v1/jobs/$id/artifacts/cases/smoke/log.txt"
expect_in "$T/body" "rebooted: boot id"
curl -sf -H "Authorization: Bearer $TA" -o archive.tar.zst "$S/api/v1/jobs/$id/artifacts/archive.tar.zst" || fail "archive"
curl -sf -H "Authorization: Bearer $TA" -o archive.tar.zst.minisig "$S/api/v1/jobs/$id/artifacts/archive.tar.zst.minisig" || fail "signature"
expect_status 0 "$KILN" archive --verify archive.tar.zst -p "$T/wkey.pub"
expect_in "$T/out" "signature good"
# the whole console (both attempts) reads back after the end, and the stream held all of it
expect_api 200 "$TA" GET "/api/v1/jobs/$id/console"
cmp -s "$T/body" live.txt || fail "the live stream differs from the console read after the job"
# both attempts: each run's opening case line, and a boot each (smoke reboots the second)
[ "$(grep -c "^kiln run job-$id: 1 case(s), results in runs/job-$id-" live.txt)" -eq 2 ] || fail "expected both attempts' runs in the console"
[ "$(grep -c "kiln-busybox: ready" live.txt)" -ge 2 ] || fail "expected the boot of both attempts in the console"
# a line parts the attempts; the stopped attempt's case reads interrupted, not failed
expect_in live.txt "--- attempt 2 on worker $other ---"
expect_not_in live.txt "FAILED"
grep -Eq '^\[1/1\] INTERRUPTED +smoke' live.txt || { cat live.txt >&2; fail "the stopped attempt's case line does not say INTERRUPTED"; }
# each console line once: the second attempt's node lines are its nodes' consoles, no more
sed -n "/^--- attempt 2 on worker $other ---\$/,\$p" live.txt > attempt2.txt
for n in node0 node1; do
    [ "$(api "$TA" GET "/api/v1/jobs/$id/artifacts/nodes/$n/console.log")" = 200 ] || continue
    want=$(awk 'END { print NR }' "$T/body")
    got=$(grep -c "^\[$n\] " attempt2.txt)
    [ "$got" -eq "$want" ] || fail "the job's console has $got [$n] lines for attempt 2; its nodes/$n/console.log has $want"
done
# a tenant sees no path of the worker's host: the run is named after the job, its files relative
! grep -qF "$T/w" live.txt || fail "the console names a worker's path: $(grep -F "$T/w" live.txt | head -n 2)"
expect_api 200 "$TA" GET "/api/v1/jobs/$id/artifacts/results.json"
expect_jq "$T/body" .run.name "job-$id"
expect_jq "$T/body" .run.runbook runbook.yml
expect_jq "$T/body" '[.run.tested[].path] | sort | join(",")' "image,kernel"
! grep -qF "$T/w" "$T/body" || fail "results.json names a worker's path"
# a guest that does not boot is the image's failure: failed, not incomplete, not retried.
# The job is a tenant's runbook: the worker adds its platform to it.
cat > tenant.yml <<'YAML'
name: tenant-runbook
variable:
  - { name: pw, value: hunter2-tenant-secret, is_secret: true }
testcase:
  - criteria: { name: smoke }
YAML
expect_status 1 env KILN_TOKEN="$TA" "$KILN" submit --server "$S" --kernel "$BB/vmlinuz" \
    --append "console=ttyS0 rdinit=/nonexistent panic=-1" --runbook tenant.yml "$BB/initrd.img" --wait
expect_in "$T/out" "failed   smoke: node"
expect_in "$T/out" "Kernel panic"
expect_api 200 "$TA" GET "/api/v1/jobs/$(head -n 1 "$T/out")"
expect_jq "$T/body" .result failed
expect_jq "$T/body" .reason "1 of 1 cases failed: smoke"
expect_jq "$T/body" '.attempts | length' 1
# a runbook may hold secrets: the API names it by its sha256 and never gives its text back
expect_jq "$T/body" '.spec.runbook' null
expect_jq "$T/body" '.spec.runbook_sha256 | test("^[0-9a-f]{64}$")' true
expect_not_in "$T/body" "hunter2-tenant-secret"
! grep -rqF "hunter2-tenant-secret" "$data/jobs" || fail "a runbook secret is in a job's files: $(grep -rlF hunter2-tenant-secret "$data/jobs")"
expect_api 200 "$TA" GET "/api/v1/jobs/$(jq -r .id "$T/body")/artifacts/results.json"
expect_jq "$T/body" .run.name tenant-runbook
# the same image again: the client sees the server has it and uploads nothing
KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel "$BB/vmlinuz" "$BB/initrd.img" > again.out 2> again.err || fail "resubmit"
expect_in again.err "is on the server already"
expect_not_in again.err "uploading"
id2=$(cat again.out)
# cancelled while it runs: the worker learns it at its next heartbeat and stops the run
for i in $(seq 600); do grep -q '^\[node' "$data/jobs/$id2/console.log" 2>/dev/null && break; sleep 0.2; done
# kiln cancel is tenant-scoped: tenant B is told there is no such job, and the job runs on
expect_status 2 env KILN_TOKEN="$TB" "$KILN" cancel --server "$S" "$id2"
expect_in "$T/err" "job $id2 not found"
expect_api 200 "$TA" GET "/api/v1/jobs/$id2"
expect_jq "$T/body" .state running
expect_status 0 env KILN_TOKEN="$TA" "$KILN" cancel --server "$S" "$id2"
expect_in "$T/err" "kiln cancel: job $id2: cancelled"
odir=$T/$other
for i in $(seq 300); do [ -z "$(ls "$odir")" ] && break; sleep 0.2; done
[ -z "$(ls "$odir")" ] || { ls -R "$odir" >&2; fail "the cancelled job's files stay on worker $other"; }
if pgrep -f "qemu-system-x86_64 -name kiln-.*$odir/" >/dev/null; then fail "the cancelled job's qemu still runs"; fi
expect_in "$other".log "job $id2 was cancelled or lost; stopping it"
# the worker logs it cancelled: not an incomplete attempt handed back to the queue
for i in $(seq 100); do grep -q "job $id2: cancelled" "$other".log && break; sleep 0.2; done
expect_in "$other".log "kiln worker: job $id2: cancelled; its run was stopped and nothing of it is reported"
expect_not_in "$other".log "job $id2: incomplete"
expect_api 200 "$TA" GET "/api/v1/jobs/$id2"
expect_jq "$T/body" .state cancelled
expect_jq "$T/body" .result incomplete  # README: a cancelled job is incomplete (submit --wait exits 3)
expect_jq "$T/body" .reason "cancelled on request"
expect_jq "$T/body" '.attempts | length' 1
expect_jq "$T/body" '.attempts[0].reason' "cancelled on request"
expect_jq "$T/body" '.attempts[0].result' incomplete
expect_api 409 "$TA" POST "/api/v1/jobs/$id2/cancel"
expect_status 1 env KILN_TOKEN="$TA" "$KILN" cancel --server "$S" "$id2"
expect_in "$T/err" "is already cancelled"
expect_api 409 "$TA" POST "/api/v1/jobs/$id/cancel"

# --- isolation: every URL of tenant A's job is 404 for tenant B ---
digest=$(sha256sum "$BB/initrd.img" | cut -d' ' -f1)
for u in "/api/v1/jobs/$id" "/api/v1/jobs/$id/console" "/api/v1/jobs/$id/artifacts/results.json" \
         "/api/v1/jobs/$id/artifacts/cases/smoke/log.txt" \
         "/api/v1/jobs/$id/artifacts/archive.tar.zst" "/api/v1/images/$digest"; do
    expect_api 404 "$TB" GET "$u"
    [ "$(jq -r '.error | type' "$T/body")" = string ] || fail "$u: not a JSON error: $(cat "$T/body")"
done
expect_api 404 "$TB" POST "/api/v1/jobs/$id/cancel"
expect_api 200 "$TB" GET "/api/v1/jobs"
expect_jq "$T/body" '.jobs | length' 0
expect_api 404 "$TB" POST /api/v1/jobs -d "{\"image\":\"$digest\"}"
expect_jq "$T/body" .field image

# --- bad input ---
expect_api 401 "" GET /api/v1/jobs
expect_api 401 "kt_$(printf '%064d' 0)" GET /api/v1/jobs
expect_api 401 "$W2" GET "/api/v1/jobs/$id"          # a worker's token is not a tenant's
expect_api 401 "$TA" POST /api/v1/worker/claim        # nor the other way round
expect_api 400 "$TA" POST /api/v1/jobs -d "{\"image\":\"$digest\",\"selections\":[{\"casePriority\":\"high\"}]}"
expect_jq "$T/body" .field 'selections[0].casePriority'
expect_api 400 "$TA" POST /api/v1/jobs -d "{\"image\":\"$digest\",\"tier\":7}"
expect_jq "$T/body" .field tier
expect_api 400 "$TA" POST /api/v1/jobs -d "{\"image\":\"$digest\",\"runbook\":\"name: x\\nplatform: {type: ready}\\n\"}"
expect_jq "$T/body" .field runbook
expect_api 400 "$TA" POST /api/v1/jobs -d '{"image": '
expect_jq "$T/body" .field ""
expect_in "$T/body" "not JSON"
head -c 600000 /dev/zero > big.json
expect_api 413 "$TA" POST /api/v1/jobs --data-binary @big.json
head -c $((17 << 20)) /dev/zero > big.img
expect_api 413 "$TA" POST /api/v1/images --data-binary @big.img -H 'Content-Type: application/octet-stream'
expect_api 413 "$TA" POST /api/v1/images -H 'Transfer-Encoding: chunked' --data-binary @big.img
[ -z "$(ls -A "$data/images/.tmp")" ] || fail "a refused upload left a temp file"
for u in "artifacts/../../kiln.db" "artifacts/%2e%2e/%2e%2e/kiln.db" "artifacts/.upload-x" "artifacts//etc/passwd" \
         "artifacts/../$id/results.json"; do
    expect_api 404 "$TA" GET "/api/v1/jobs/$id/$u"
done
ln -s /etc/passwd "$data/jobs/$id/passwd"
expect_api 404 "$TA" GET "/api/v1/jobs/$id/artifacts/passwd"
expect_api 405 "$TA" DELETE "/api/v1/jobs/$id"
expect_api 400 "$TA" GET "/api/v1/jobs?state=bogus"
expect_jq "$T/body" .field state
# tenant C: jobs no worker can run stay queued; past --max-queued 2 a submission is 429
expect_api 201 "$TC" POST /api/v1/images --data-binary @"$BB/initrd.img" -H 'Content-Type: application/octet-stream'
expect_jq "$T/body" .known false  # stored once (acme uploaded the same bytes), but that is acme's to know
expect_api 200 "$TC" POST /api/v1/images --data-binary @"$BB/initrd.img" -H 'Content-Type: application/octet-stream'
expect_jq "$T/body" .known true   # its own upload it may know of
# the initrd is no disk image: as one (no kernel) it is refused, saying what it is
expect_api 400 "$TC" POST /api/v1/jobs -d "{\"image\":\"$digest\"}"
expect_jq "$T/body" .field image
expect_jq "$T/body" .error "image sha256:${digest%${digest#????????????}}: it is not a disk image kiln reads: this is a gzip-compressed file, not a disk image: decompress it first (gunzip)"
expect_api 201 "$TC" POST /api/v1/images --data-binary @"$BB/vmlinuz" -H 'Content-Type: application/octet-stream'
kdg=$(sha256sum "$BB/vmlinuz" | cut -d' ' -f1)
for n in 1 2; do expect_api 201 "$TC" POST /api/v1/jobs -d "{\"image\":\"$digest\",\"kernel\":\"$kdg\",\"requirements\":{\"arch\":\"s390x\"}}"; done
qid=$(jq -r .id "$T/body")
expect_api 429 "$TC" POST /api/v1/jobs -d "{\"image\":\"$digest\",\"kernel\":\"$kdg\"}"
expect_api 200 "$TC" GET "/api/v1/jobs?state=queued"
expect_jq "$T/body" '.jobs | length' 2

# --- shutdown: serve ends with a console stream open; an idle worker ends on SIGTERM ---
curl -sN -H "Authorization: Bearer $TC" "$S/api/v1/jobs/$qid/console" > queued.txt 2>&1 &
stream_pid=$!
sleep 0.5
kill -TERM $serve_pid
wait $serve_pid
[ $? -eq 0 ] || fail "kiln serve exited $? on SIGTERM"
wait $stream_pid
expect_in serve.log "kiln serve: stopping"
kill -TERM $w2_pid $w1_pid 2>/dev/null
wait $w1_pid
wait $w2_pid
expect_no_qemu

# --- tokens: in no log, no file of the service (the database holds their hashes) ---
for t in "$TA" "$TB" "$TC" "$W1" "$W2"; do
    ! grep -rqF "${t#k?_}" serve.log w1.log w2.log submit.err again.err "$data" || fail "a token is in a log or under $data"
done
echo "service: job $id passed after a worker was stopped under it; isolation, bad input and shutdown checked"
