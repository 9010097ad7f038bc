#!/bin/sh
# Issue 14's end to end on a real Debian image (make check-long): kiln build of
# examples/images/debian-server.yml (a GPT qcow2 that boots through UEFI; kiln's rootfs cache
# makes a rebuild quick), signed with the tenant's key, submitted through kiln serve (SQLite)
# with two kiln workers, tier 0, --publish stable --wait:
#  - the server sees a UEFI-only disk and the job requires uefi (kiln submit prints the note);
#  - the job's console is readable while it runs and shows the Debian guest's boot;
#  - the job ends done/passed on one attempt, every tier 0 case passed;
#  - its telemetry archive downloads over the API and verifies against the worker's key;
#  - it is published in the tenant's gallery, and kiln gallery pull verifies it and gives back
#    the very qcow2 that was validated.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null || { echo "curl and jq are needed"; exit 77; }

v=debian-server-1.0.0
"$KILN" build "$KILN_ROOT/examples/images/debian-server.yml" --out dist --format qcow2 > build.txt 2>&1 ||
    { cat build.txt; fail "kiln build failed"; }
tail -n 1 build.txt
"$KILN" keygen --out tk --no-passphrase >/dev/null && "$KILN" keygen --out gk --no-passphrase >/dev/null &&
    "$KILN" keygen --out wk --no-passphrase >/dev/null || fail "keygen"
"$KILN" sign -k tk.key dist/$v.* >/dev/null || fail "kiln sign"

data=$T/data
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --trust tk.pub --data "$data" 2>/dev/null) || fail "tenant add acme"
W1=$("$KILN" worker add w1 --data "$data" 2>/dev/null) || fail "worker add w1"
W2=$("$KILN" worker add w2 --data "$data" 2>/dev/null) || fail "worker add w2"
serve_start serve.log --data "$data" --gallery-key gk.key
pids=$serve_pid
trap 'st=$?; for p in $pids; do kill $p 2>/dev/null; done; sleep 1; dump_consoles $st; rm -rf "$T"' EXIT
KILN_WORKER_TOKEN=$W1 "$KILN" worker --server "$S" --work "$T/w1" --key wk.key > w1.log 2>&1 &
pids="$pids $!"
KILN_WORKER_TOKEN=$W2 "$KILN" worker --server "$S" --work "$T/w2" --key wk.key > w2.log 2>&1 &
pids="$pids $!"
api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TA" "$S$1"; }

start=$(date +%s)
KILN_TOKEN=$TA "$KILN" submit --server "$S" dist/$v.qcow2 --tier 0 --publish stable --wait > submit.out 2> submit.err &
submit_pid=$!
pids="$pids $submit_pid"
for i in $(seq 3000); do [ -s submit.out ] && break; kill -0 $submit_pid 2>/dev/null || break; sleep 0.2; done
id=$(head -n 1 submit.out)
[ -n "$id" ] || { cat submit.err; fail "kiln submit printed no job id"; }
note "job $id queued $(( $(date +%s) - start )) s after kiln submit started (the upload of a $(du -m dist/$v.qcow2 | cut -f1) MiB qcow2)"
expect_in submit.err "the image boots only through UEFI"
# the live console while the job runs: the guest's own boot lines, tagged with its node
for i in $(seq 1800); do
    api "/api/v1/jobs/$id" >/dev/null
    [ "$(jq -r .state "$T/body")" = running ] && grep -q '^\[node[0-9]*\] .*systemd' "$data/jobs/$id/console.log" 2>/dev/null && break
    sleep 0.5
done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id/console" -o live.txt --max-time 5
api "/api/v1/jobs/$id" >/dev/null
state=$(jq -r .state "$T/body")
grep -Eq '^\[node[0-9]+\] .*systemd' live.txt || { tail -n 20 live.txt >&2; fail "the console read while the job is $state shows no boot of the guest"; }
note "console readable while the job is $state: $(wc -l < live.txt) lines"
wait $submit_pid
rc=$?
end=$(date +%s)
[ $rc -eq 0 ] || { cat submit.out submit.err; tail -n 30 serve.log; fail "kiln submit --wait exited $rc, expected 0 (passed and published)"; }
note "job $id passed and published $(( end - start )) s after kiln submit started"
expect_in submit.err "publish published: debian-server 1.0.0 in channel stable"
[ "$(api "/api/v1/jobs/$id")" = 200 ] || fail "GET job $id"
cp "$T/body" job.json
expect_jq job.json .state done
expect_jq job.json .result passed
expect_jq job.json '.attempts | length' 1
expect_jq job.json '.publish.state' published
expect_jq job.json '[.cases[] | select(.status != "passed")] | length' 0
n=$(jq '.cases | length' job.json)
[ "$n" -ge 1 ] || fail "the job lists no cases"
note "tier 0: $n cases passed on worker $(jq -r .worker job.json): $(jq -r '[.cases[].name] | join(" ")' job.json)"
# the telemetry archive over the API, verified against the worker's key
[ "$(api "/api/v1/jobs/$id/artifacts/archive.tar.zst")" = 200 ] && mv "$T/body" archive.tar.zst || fail "the archive did not download"
code=$(api "/api/v1/jobs/$id/artifacts/archive.tar.zst.minisig")
[ "$code" = 200 ] && mv "$T/body" archive.tar.zst.minisig ||
    fail "the archive's signature did not download: HTTP $code $(head -c 300 "$T/body"); the job's artifacts: $(jq -c .artifacts job.json)"
expect_status 0 "$KILN" archive --verify archive.tar.zst -p wk.pub
expect_in "$T/out" "signature good"
# published: the pull verifies (the server's gallery key, the tenant's signatures) and is the
# qcow2 that was validated
G=$data/galleries/acme
expect_status 0 "$KILN" gallery pull debian-server@1.0.0 --gallery "$G" --artifact qcow2 --out pulled
cmp -s pulled/$v.qcow2 dist/$v.qcow2 || fail "the pulled qcow2 is not the image that was validated"
expect_status 0 "$KILN" verify -p tk.pub pulled/$v.qcow2
expect_jq "$G/images/debian-server/1.0.0/entry.json" .run.tested $v.qcow2
! grep -rqF "${TA#kt_}" serve.log w1.log w2.log || fail "the tenant's token is in a log"
exit 0
