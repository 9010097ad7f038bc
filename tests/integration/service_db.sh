#!/bin/sh
# kiln tenant add / worker add beside a running kiln serve on SQLite (the README's workflow):
# the server's many connections keep their locks, so the new tokens work at once, the WAL is
# never deleted under the server and the database stays intact. (Opening and closing the
# database file before each connection dropped the server's POSIX locks: the CLI then
# checkpointed and deleted the WAL under it, new tokens got 401, integrity_check failed.)
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v sqlite3 >/dev/null || fail "curl and sqlite3 are needed"
data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
ta=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add"
serve_start serve.log --data "$data"
spid=$serve_pid
trap 'dump_consoles $?; kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$T"' EXIT
u=http://127.0.0.1:$port/api/v1
# the server refuses what is not a disk image: a small GPT disk with a BIOS boot partition
truncate -s 4M img && sgdisk -n1:2048:+1M -t1:ef02 img > /dev/null 2>&1 || fail "sgdisk"
dg=$(sha256sum img | cut -c1-64)
curl -s -o /dev/null -H "Authorization: Bearer $ta" --data-binary @img "$u/images"
for round in 1 2 3; do
    # concurrent requests make the server open more connections to the database
    seq 1 20 | xargs -P 20 -I{} curl -s -o /dev/null -H "Authorization: Bearer $ta" \
        -d "{\"image\":\"$dg\",\"tier\":0}" "$u/jobs"
    tw=$("$KILN" worker add "host$round" --data "$data" 2>/dev/null) || fail "worker add, round $round"
    tn=$("$KILN" tenant add "t$round" --data "$data" 2>/dev/null) || fail "tenant add, round $round"
    w=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tw" -X POST "$u/worker/heartbeat")
    t=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tn" "$u/jobs")
    [ "$w" = 200 ] && [ "$t" = 200 ] || fail "round $round: a token added beside the server got worker $w, tenant $t"
done
# links planted in a job's directory never take the worker's writes outside it
tw=$("$KILN" worker add links --data "$data" 2>/dev/null) || fail "worker add links"
curl -s -o /dev/null -H "Authorization: Bearer $tw" \
    -d '{"caps":{"accel":"tcg","arch":"x86_64","cpus":2,"memory_mb":4096},"slots":1}' "$u/worker/declare"
jid=$(curl -s -H "Authorization: Bearer $tw" -X POST "$u/worker/claim?wait=1" | jq -r .id)
[ -n "$jid" ] && [ "$jid" != null ] || fail "the worker claimed no job"
mkdir -p outside
echo before > outside/console
ln -s "$T/outside" "$data/jobs/$jid/linkdir"
ln -sf "$T/outside/console" "$data/jobs/$jid/console.log"
echo planted > f
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tw" -T f "$u/worker/jobs/$jid/artifacts/linkdir/pwned")
[ "$code" = 404 ] || fail "an artifact under a planted link got $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tw" -T f "$u/worker/jobs/$jid/artifacts/linkdir/made/pwned")
[ "$code" = 404 ] || fail "an artifact in a new directory under a planted link got $code, expected 404"
curl -s -o /dev/null -H "Authorization: Bearer $tw" --data-binary @f "$u/worker/jobs/$jid/console"
[ ! -e outside/pwned ] && [ ! -e outside/made ] && [ "$(cat outside/console)" = before ] ||
    fail "a write or a directory went through a link out of the job's directory: $(ls outside)"
# a retried job shows its own attempt's results, never the last one's
rm -f "$data/jobs/$jid/linkdir" "$data/jobs/$jid/console.log"
printf '{"cases":[{"name":"smoke","status":"passed","reason":"attempt-1"}]}' > r1.json
curl -s -o /dev/null -H "Authorization: Bearer $tw" -T r1.json "$u/worker/jobs/$jid/artifacts/results.json"
curl -s -o /dev/null -H "Authorization: Bearer $tw" -d '{"to":"running"}' "$u/worker/jobs/$jid/advance"
curl -s -o /dev/null -H "Authorization: Bearer $tw" -d '{"result":"incomplete","reason":"host out of disk"}' "$u/worker/jobs/$jid/finish"
tw2=$("$KILN" worker add second --data "$data" 2>/dev/null) || fail "worker add second"
curl -s -o /dev/null -H "Authorization: Bearer $tw2" \
    -d '{"caps":{"accel":"tcg","arch":"x86_64","cpus":2,"memory_mb":4096},"slots":70}' "$u/worker/declare"
got=
for i in $(seq 1 70); do
    c=$(curl -s -H "Authorization: Bearer $tw2" -X POST "$u/worker/claim?wait=1")
    [ "$(echo "$c" | jq -r .id)" = "$jid" ] && { got=$(echo "$c" | jq -r .attempt); break; }
done
[ "$got" = 2 ] || fail "the job given back was not claimed again as attempt 2 (got '$got')"
job=$(curl -s -H "Authorization: Bearer $ta" "$u/jobs/$jid")
[ "$(echo "$job" | jq '.cases | length')" -eq 0 ] || fail "attempt 2 shows the cases of attempt 1: $job"
[ ! -e "$data/jobs/$jid/results.json" ] || fail "attempt 1's results.json is still in the job's directory"
deleted=$(ls -l "/proc/$spid/fd" 2>/dev/null | grep -c 'kiln.db.*(deleted)')
[ "$deleted" -eq 0 ] || fail "the server holds $deleted deleted database file(s)"
listed=$(curl -s -H "Authorization: Bearer $ta" "$u/jobs" | jq '.jobs | length')
# query parameters: each once and only those the endpoint reads, in every endpoint that reads
# any (?limit=1&limit=1000 answered a page of 1, ?limt=5 the whole list: hostile finding)
q400() { # WANT-FIELD WANT-ERROR TOKEN METHOD PATH
    code=$(curl -s -o q.json -w '%{http_code}' -H "Authorization: Bearer $3" -X "$4" "$u$5")
    [ "$code" = 400 ] && [ "$(jq -r .field q.json)" = "$1" ] && [ "$(jq -r .error q.json)" = "$2" ] ||
        fail "$4 $5: $code $(cat q.json), expected 400 naming $1"
}
q400 limit "limit is given twice: give it once" "$ta" GET "/jobs?limit=1&limit=1000"
q400 state "state is given twice: give it once" "$ta" GET "/jobs?state=done&state=queued"
q400 limt "limt is not a parameter of this endpoint; it reads state, limit, before" "$ta" GET "/jobs?limt=5"
q400 wait "wait is given twice: give it once" "$tw2" POST "/worker/claim?wait=1&wait=30"
q400 follow "follow is not a parameter of this endpoint; it reads none" "$ta" GET "/jobs/$jid?follow=1"
q400 x "x is not a parameter of this endpoint; it reads none" "$ta" GET "/workers?x=1"
[ "$(curl -s -H "Authorization: Bearer $ta" "$u/jobs?limit=2&state=queued" | jq '.jobs | length')" = 2 ] || fail "limit=2&state=queued"
code=$(curl -s -o dash.html -w '%{http_code}' "http://127.0.0.1:$port/login?next=/a&next=/b")
[ "$code" = 400 ] && grep -q "next is given twice: give it once" dash.html || fail "the dashboard took next twice: $code"
# an image past the server's bound is refused before it is read: a 1 TB sparse file was hashed
# for many minutes in silence (hostile finding); the bound comes from GET /api/v1/limits
[ "$(curl -s -H "Authorization: Bearer $ta" "$u/limits" | jq .max_image_bytes)" = $((16384 << 20)) ] || fail "limits: not the 16 GiB default"
truncate -s 1T huge.raw
posts=$(grep -c "POST /api/v1/images" serve.log)
KILN_TOKEN=$ta "$KILN" submit --server "http://127.0.0.1:$port" huge.raw > out.txt 2> err.txt; st=$?
[ $st -eq 2 ] || fail "a 1 TB image: exit $st, $(cat err.txt)"
[ "$(cat err.txt)" = "kiln submit: huge.raw is 1099511627776 bytes (1024.0 GiB); the server takes images of at most 17179869184 bytes (16.0 GiB, kiln serve --max-image-mb): nothing was read or sent; convert it to qcow2 (kiln convert) or shrink it" ] ||
    fail "a 1 TB image: $(cat err.txt)"
[ "$(grep -c "POST /api/v1/images" serve.log)" = "$posts" ] || fail "the 1 TB image was sent"
rm huge.raw
# the sign-in form likewise: a token given twice is refused, not the last one taken
code=$(curl -s -o dash.html -w '%{http_code}' --data-urlencode "token=kt_wrong" --data-urlencode "token=$ta" "http://127.0.0.1:$port/login")
[ "$code" = 400 ] && grep -q "The form holds token twice: give it once." dash.html || fail "the sign-in form took token twice: $code"
kill "$spid"; wait "$spid" 2>/dev/null
[ "$(sqlite3 "$data/kiln.db" 'pragma integrity_check')" = ok ] || fail "integrity_check: $(sqlite3 "$data/kiln.db" 'pragma integrity_check')"
ondisk=$(sqlite3 "$data/kiln.db" 'select count(*) from jobs')
[ "$ondisk" -eq 60 ] && [ "$listed" -eq 60 ] || fail "60 jobs submitted: the server listed $listed, the file holds $ondisk"
! grep -qF "${ta#kt_}" serve.log || fail "the tenant token is in the server's log"
exit 0
