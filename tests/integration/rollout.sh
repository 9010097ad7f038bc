#!/bin/sh
# The update server without VMs (kiln issue 15): a gallery with os 1.0 and 1.1 (1.1 carrying
# an update payload), kiln serve --gallery, and fleets of 200 simulated Omaha clients
# (bench/rollout/fleet.py): a 10 % rollout offers exactly the machines whose bucket is below
# 1000 (computed here with hashlib), every machine gets the same answer twice, max per hour
# and pause after failures hold, the payload served is the one the response names, and bad
# requests get 400/413/415. On SQLite, then on PostgreSQL (tests/lib/pg.sh).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null && command -v python3 >/dev/null || fail "curl, jq and python3 are needed"
fleet="$KILN_ROOT/bench/rollout/fleet.py"
# bench/rollout/run.sh runs this with 1,000 clients and prints the share and requests/s
N=${KILN_ROLLOUT_FLEET:-200}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# mkver NAME VERSION: a signed build with a raw disk and (from 1.1) an update payload
mkver() {
    p=src/$1-$2
    mkdir -p "src/run-$1-$2"
    head -c 30000 /dev/urandom > "$p.raw"
    head -c 20000 /dev/urandom > "$p.usr.verity"
    printf '{"spdxVersion":"SPDX-2.3","packages":[{"name":"%s","versionInfo":"%s","primaryPackagePurpose":"OPERATING-SYSTEM"}]}\n' "$1" "$2" > "$p.spdx.json"
    printf '{"bomFormat":"CycloneDX","metadata":{"component":{"type":"operating-system","name":"%s"}}}\n' "$1" > "$p.cdx.json"
    jq -n --arg n "$1" --arg v "$2" --arg r "$(sha "$p.raw")" --arg u "$(sha "$p.usr.verity")" --arg s "$(sha "$p.spdx.json")" \
        --arg c "$(sha "$p.cdx.json")" '{name: $n, version: $v,
        artifacts: [{file: "\($n)-\($v).raw", sha256: $r, kind: "raw", size: 30000},
                    {file: "\($n)-\($v).usr.verity", sha256: $u, kind: "update", size: 20000, roothash: ("ab" * 32)}],
        sbom: [{file: "\($n)-\($v).spdx.json", sha256: $s}, {file: "\($n)-\($v).cdx.json", sha256: $c}]}' > "$p.manifest.json"
    jq -n --arg n "$1" --arg v "$2" --arg r "$(sha "$p.raw")" --arg u "$(sha "$p.usr.verity")" --arg s "$(sha "$p.spdx.json")" \
        --arg c "$(sha "$p.cdx.json")" '{_type: "https://in-toto.io/Statement/v1", predicateType: "https://slsa.dev/provenance/v1",
        subject: [{name: "\($n)-\($v).raw", digest: {sha256: $r}}, {name: "\($n)-\($v).usr.verity", digest: {sha256: $u}},
        {name: "\($n)-\($v).spdx.json", digest: {sha256: $s}}, {name: "\($n)-\($v).cdx.json", digest: {sha256: $c}}]}' > "$p.provenance.json"
    jq -n --arg r "$(sha "$p.raw")" --arg f "$T/$p.raw" '{schema: "kiln.results/v1", run: {id: "r", name: "fake", tested: [{role: "image",
        path: $f, sha256: $r}]}, summary: {passed: 1, failed: 0}, cases: []}' > "src/run-$1-$2/results.json"
    "$KILN" sign -k k.key "$p".* > /dev/null || fail "sign $p"
    "$KILN" publish "$p" --gallery G --channel stable --run "src/run-$1-$2" -k k.key > pub.txt 2>&1 || { cat pub.txt; fail "publish $1 $2"; }
}
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
"$KILN" gallery init --gallery G --trust k.pub -k k.key --require-priority -1 > /dev/null || fail "gallery init"
for n in os burst brake; do mkver $n 1.0; mkver $n 1.1; done

# expected NAME TARGET PERMYRIAD IDS-JSON: how many of the ids fall inside the ramp
expected() {
    python3 -c 'import hashlib,json,sys
ids=json.load(open(sys.argv[1])); t=sys.argv[2]; p=int(sys.argv[3])
print(sum(1 for m in ids if int.from_bytes(hashlib.sha256(m.encode()+b"\0"+t.encode()).digest()[:8],"big")%10000 < p))' "$@"
}

run_backend() { # LABEL DB-ARGS...
    label=$1; shift
    data="$T/data-$label"
    port=
    for try in 1 2 3 4 5; do
        p=$(( 30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
        "$KILN" serve --listen "127.0.0.1:$p" --data "$data" --gallery G "$@" 2> "serve-$label.log" &
        spid=$!
        sleep 1
        if kill -0 "$spid" 2>/dev/null; then port=$p; break; fi
    done
    [ -n "$port" ] || { cat "serve-$label.log"; fail "$label: kiln serve did not start"; }
    u="http://127.0.0.1:$port/v1/update/"
    # 10 %: exactly the machines inside the ramp, the same answer on the second check
    "$KILN" rollout set os stable --version 1.1 --percent 10 "$@" --data "$data" > /dev/null || fail "$label: rollout set"
    python3 "$fleet" "$u" os stable 1.0 "$N" 1 > f1.json || { cat "serve-$label.log"; fail "$label: fleet"; }
    jq .offered_ids f1.json > ids.json
    python3 -c 'import json,random; r=random.Random(1); print(json.dumps(["%032x" % r.getrandbits(128) for _ in range('"$N"')]))' > all.json
    want=$(expected all.json 1.1 1000)
    got=$(jq .offered f1.json)
    [ "$got" = "$want" ] || fail "$label: 10 % of 200 offered $got, the buckets say $want"
    [ "$(jq .same_answer f1.json)" = "$N" ] || fail "$label: $(jq .same_answer f1.json) of $N got the same answer twice"
    if [ "$N" -ge 1000 ]; then
        share=$(jq '.offered * 1000 / .clients | floor' f1.json)  # per mille
        [ "$share" -ge 80 ] && [ "$share" -le 120 ] || fail "$label: $share per mille offered, outside 8-12 %"
        echo "bench rollout $label: $got of $N offered ($(jq '.offered * 100 / .clients' f1.json) %), $(jq .requests f1.json) requests in $(jq .seconds f1.json) s: $(jq .rps f1.json) requests/s"
    fi
    [ "$(jq -c .versions f1.json)" = '["1.1"]' ] || fail "$label: offered $(jq -c .versions f1.json)"
    note "$label: 10 % rollout offered $got of $N (buckets: $want), all $N answered the same twice"
    "$KILN" rollout status os stable --json "$@" --data "$data" > st.json || fail "$label: status"
    [ "$(jq .machines st.json)" = "$N" ] && [ "$(jq .inflight st.json)" = "$got" ] && [ "$(jq '.versions["1.0"]' st.json)" = "$N" ] ||
        fail "$label: status says $(jq -c '{machines, inflight, versions}' st.json)"

    # max per hour: 5 of 200 at 100 %, and those 5 keep their answer
    "$KILN" rollout set burst stable --version 1.1 --percent 100 --max-per-hour 5 "$@" --data "$data" > /dev/null || fail "$label: set burst"
    python3 "$fleet" "$u" burst stable 1.0 200 2 > f2.json || fail "$label: fleet burst"
    [ "$(jq .offered f2.json)" = 5 ] && [ "$(jq .same_answer f2.json)" = 200 ] ||
        fail "$label: max 5 per hour offered $(jq .offered f2.json), same answer $(jq .same_answer f2.json)"
    note "$label: --max-per-hour 5 offered 5 of 200, the same 5 on the second check"

    # pause after 3 failures: the rollout stops offering, the reason names the count
    "$KILN" rollout set brake stable --version 1.1 --percent 100 --pause-after-failures 3 "$@" --data "$data" > /dev/null || fail "$label: set brake"
    python3 "$fleet" "$u" brake stable 1.0 20 3 --fail 3 > f3.json || fail "$label: fleet brake"
    [ "$(jq .failures_sent f3.json)" = 3 ] || fail "$label: sent $(jq .failures_sent f3.json) failures"
    "$KILN" rollout status brake stable --json "$@" --data "$data" > st.json
    [ "$(jq .paused st.json)" = true ] || fail "$label: not paused after 3 failures: $(jq -c . st.json)"
    jq -r .pause_reason st.json | grep -q "^3 failure events on 1.1 (the limit is 3)" || fail "$label: reason $(jq .pause_reason st.json)"
    [ "$(jq '.failures | length' st.json)" = 3 ] && [ "$(jq '.failures[0].errorcode' st.json)" = 7 ] || fail "$label: failures $(jq -c .failures st.json)"
    python3 "$fleet" "$u" brake stable 1.0 20 4 > f4.json
    [ "$(jq .offered f4.json)" = 0 ] || fail "$label: a paused rollout offered $(jq .offered f4.json)"
    "$KILN" rollout resume brake stable "$@" --data "$data" > /dev/null || fail "$label: resume"
    python3 "$fleet" "$u" brake stable 1.0 20 4 > f5.json
    [ "$(jq .offered f5.json)" = 20 ] || fail "$label: resumed, offered $(jq .offered f5.json) of 20"
    note "$label: paused after 3 failures (error code 7 shown), offered nothing while paused, all 20 after resume"
    kill "$spid"; wait "$spid" 2>/dev/null
}

run_backend sqlite

# the response names the payload the server serves; bad requests are refused clearly
data="$T/data-sqlite"
p=$(( 30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
"$KILN" serve --listen "127.0.0.1:$p" --data "$data" --gallery G 2> serve2.log &
spid=$!
trap 'kill $spid 2>/dev/null; sh "$KILN_ROOT/tests/lib/pg.sh" stop "$T/pg" 2>/dev/null; rm -rf "$T"' EXIT
sleep 1
u="http://127.0.0.1:$p/v1/update/"
mid=$(jq -r '.offered_ids[0]' f1.json)
printf '<?xml version="1.0"?><request protocol="3.0"><app appid="os" version="1.0" track="stable" machineid="%s"><updatecheck/></app></request>' "$mid" > req.xml
curl -s -H 'Content-Type: text/xml' --data-binary @req.xml "$u" > resp.xml
python3 - "$T/resp.xml" "$T/src/os-1.1.usr.verity" <<'PY' || fail "the offered package is not the payload (response: $(cat resp.xml))"
import base64, hashlib, sys, urllib.request, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
uc = r.find("app/updatecheck"); pkg = uc.find("manifest/packages/package"); act = uc.find("manifest/actions/action")
data = open(sys.argv[2], "rb").read()
got = urllib.request.urlopen(uc.find("urls/url").get("codebase") + pkg.get("name")).read()
assert got == data, "served bytes differ"
assert pkg.get("hash_sha256") == hashlib.sha256(data).hexdigest()
assert act.get("sha256") == base64.b64encode(hashlib.sha256(data).digest()).decode()
assert int(pkg.get("size")) == len(data) and act.get("kiln_roothash") == "ab" * 32
sig = urllib.request.urlopen(uc.find("urls/url").get("codebase") + act.get("kiln_signature")).read()
assert sig.startswith(b"untrusted comment:"), sig[:40]
PY
note "the offered package, its hash_sha256, action sha256 and signature are the gallery's payload"
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
[ "$(code -H 'Content-Type: text/xml' --data-binary '<request protocol="3.0"><app' "$u")" = 400 ] || fail "malformed XML not 400"
grep -q "malformed XML at line 1" body || fail "the 400 does not say where: $(cat body)"
[ "$(code -H 'Content-Type: application/json' -d '{}' "$u")" = 415 ] || fail "JSON not 415"
head -c 70000 /dev/zero | tr '\0' ' ' > big
[ "$(code -H 'Content-Type: text/xml' --data-binary @big "$u")" = 413 ] || fail "70 kB not 413"
[ "$(code "$u")" = 405 ] || fail "GET /v1/update/ not 405"
[ "$(code "http://127.0.0.1:$p/v1/update/payload/os/1.1/os-1.1.manifest.json.x")" = 404 ] || fail "an unlisted file was served"
[ "$(code "http://127.0.0.1:$p/v1/update/payload/os/1.1/..%2f..%2fgallery.yml")" = 404 ] || fail "a traversal was served"
printf '<request protocol="3.0"><app appid="os" version="1.0" track="stable" machineid="m&#10;x"><updatecheck/></app></request>' > ctl.xml
[ "$(code -H 'Content-Type: text/xml' --data-binary @ctl.xml "$u")" = 400 ] || fail "a newline in machineid not 400"
grep -q "machineid" body || fail "the 400 does not name machineid"
! grep -q "m$" serve2.log || fail "the machine id with a newline reached the log"
note "malformed 400 (with line), JSON 415, 70 kB 413, GET 405, unlisted and traversing payload paths 404, control characters 400"
kill "$spid"; wait "$spid" 2>/dev/null

# PostgreSQL
pgdir="$T/pg"
chmod 711 "$T"
if ! uri=$(setsid sh "$KILN_ROOT/tests/lib/pg.sh" start "$pgdir" $$ 2>"$T/pgerr"); then
    st=$?
    cat "$T/pgerr" >&2
    [ "$st" -eq 2 ] && case " ${KILN_ALLOW_SKIP:-} " in *" rollout "*) exit 77 ;; esac
    fail "cannot start a PostgreSQL server for the test"
fi
run_backend postgresql --db "$uri"
echo "rollout: ok"
