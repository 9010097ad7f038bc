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
. "$KILN_ROOT/tests/lib/update_version.sh"
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
"$KILN" gallery init --gallery G --trust k.pub -k k.key --require-priority -1 > /dev/null || fail "gallery init"
for n in os burst brake forged; do mkver $n 1.0; [ $n = forged ] && FORGE_KERNEL=1 mkver $n 1.1 || mkver $n 1.1; done
mkver plain 1.0 && NO_PAYLOAD=1 mkver plain 1.1

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
    serve_start "serve-$label.log" --data "$data" --gallery G "$@"
    spid=$serve_pid
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

# rollout set refuses contradictory or doubtful knobs with the reason, before any write
# (hostile finding 4); each refusal exits 2 and leaves the rollout as it was
data="$T/data-sqlite"
"$KILN" rollout status os stable --json --data "$data" > before.json || fail "status os"
refused() { # MESSAGE ARGS...: rollout set os stable ARGS exits 2 saying MESSAGE
    msg=$1; shift
    "$KILN" rollout set os stable "$@" --data "$data" > out.txt 2> err.txt && fail "rollout set $* was accepted"
    [ $? -eq 2 ] || fail "rollout set $*: exit status not 2"
    # a value cmd_parse refuses is followed by the try line; a contradiction found after it is not
    [ "$(head -n 1 err.txt)" = "kiln rollout set: $msg" ] || fail "rollout set $*: said '$(cat err.txt)', expected '$msg'"
    case $(sed 1d err.txt) in ""|"try 'kiln rollout set --help'") ;; *) fail "rollout set $*: more than one message: $(cat err.txt)" ;; esac
}
refused "the floor 2.0 is not below the target 1.0: a floor is a version machines pass through on the way to the target" --version 1.0 --percent 5 --floor 2.0
refused "the floor 1.0 is not below the target 1.0: a floor is a version machines pass through on the way to the target" --version 1.0 --percent 5 --floor 1.0
refused "the floor 0.5 is given twice" --version 1.0 --percent 5 --floor 0.5 --floor 0.5
refused "the floors 0.5 and 0.05 are the same version" --version 1.0 --percent 5 --floor 0.5 --floor 0.05
refused "group g is pinned twice" --version 1.0 --percent 5 --pin g=0.1 --pin g=0.2
refused "--version given twice (1.0 and 1.1): give it once" --version 1.0 --percent 5 --version 1.1
refused "--percent given twice (5 and 50): give it once" --version 1.0 --percent 5 --percent 50
refused "--max-per-hour given twice (5 and 6): give it once" --version 1.0 --percent 5 --max-per-hour 5 --max-per-hour 6
refused "--max-inflight given twice (1 and 1): give it once" --version 1.0 --percent 5 --max-inflight 1 --max-inflight 1
refused "--pause-after-failures given twice (3 and 4): give it once" --version 1.0 --percent 5 --pause-after-failures 3 --pause-after-failures 4
for n in 0100 ' 5' +5 5. .5 5.0 -1 1e3 0x10 99999999999999999999 ''; do
    for o in --max-per-hour --max-inflight --pause-after-failures; do
        refused "$o $n: want a whole number from 0 to 1000000" --version 1.0 --percent 5 $o "$n"
    done
done
for n in 0100 ' 5' +5 5. .5 00.5 100.01 101 -0 ''; do
    refused "--percent $n: want 0 to 100 with at most two decimals (10, 2.5, 0.25)" --version 1.0 --percent "$n"
done
long=99999999999999999999999999999999999999.1
refused "--version $long: want a version: at most 64 of A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit, no run of more than 18 digits" --version $long --percent 5
refused "--version 1.0.1234567890123456789: want a version: at most 64 of A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit, no run of more than 18 digits" --version 1.0.1234567890123456789 --percent 5
refused "--floor $long: want a version (as --version)" --version 1.0 --percent 5 --floor $long
"$KILN" rollout set os stable --data "$data" --version 1.0 --percent 5 --max-per-hour > out.txt 2> err.txt; st=$?
[ $st -eq 2 ] && [ "$(cat err.txt)" = "kiln rollout set: --max-per-hour needs a value: N, updates started per hour at most (0: no limit)
try 'kiln rollout set --help'" ] ||
    fail "a missing value: exit $st, '$(cat err.txt)'"
"$KILN" rollout status os stable --json --data "$data" > after.json
cmp -s before.json after.json || fail "a refused rollout set changed the rollout"
# the accepted edges: 0 and 100, a number of 18 digits, two decimals, one floor below the target
for args in "--percent 0 --max-per-hour 0" "--percent 100 --max-inflight 1000000" "--percent 99.99 --floor 1.0" "--percent 0.5"; do
    "$KILN" rollout set edge stable --version 1.1 $args --data "$data" > /dev/null 2> err.txt || fail "rollout set $args refused: $(cat err.txt)"
done
"$KILN" rollout set edge stable --version 1.1.123456789012345678 --percent 1 --data "$data" > /dev/null || fail "an 18-digit run refused"
# --gallery: what the gallery lacks is said (a warning: the version may be published later)
"$KILN" rollout set nosuch stable --version 1.0 --percent 5 --gallery G --data "$data" > /dev/null 2> err.txt || fail "set nosuch"
expect_in err.txt "kiln rollout set: warning: the gallery G has no image nosuch: no machine is offered anything until it is published"
"$KILN" rollout set os beta --version 1.1 --percent 5 --gallery G --data "$data" > /dev/null 2> err.txt || fail "set os beta"
expect_in err.txt "kiln rollout set: warning: the gallery G has no version of os in channel beta"
"$KILN" rollout set os stable --version 1.2 --percent 10 --floor 1.1 --floor 0.9 --gallery G --data "$data" > /dev/null 2> err.txt || fail "set os 1.2"
expect_in err.txt "kiln rollout set: warning: os 1.2 is not published in channel stable of G: it is not offered until it is"
expect_in err.txt "kiln rollout set: warning: os 0.9 is not published in channel stable of G"
expect_not_in err.txt "os 1.1 is not published"
"$KILN" rollout set os stable --version 1.1 --percent 10 --gallery G --data "$data" > /dev/null 2> err.txt || fail "set os back"
[ ! -s err.txt ] || fail "a rollout of a published version warned: $(cat err.txt)"
# set on an existing rollout changes what it is given and keeps the rest (a --percent alone
# dropped the limits once: fresh-user finding); floors and pins only while the target stays
"$KILN" rollout set keep stable --version 1.0 --percent 10 --max-per-hour 50 --pause-after-failures 3 --floor 0.9 --pin canary=0.95 \
    --data "$data" > /dev/null || fail "set keep"
"$KILN" rollout set keep stable --percent 20 --data "$data" > /dev/null 2> err.txt || fail "set keep --percent 20: $(cat err.txt)"
"$KILN" rollout status keep stable --json --data "$data" > keep.json
expect_jq keep.json '[.policy.target, .policy.percent, .policy.max_per_period, .policy.pause_after_failures, (.policy.floors | length), (.policy.pins | length)] | map(tostring) | join(" ")' "1.0 20 50 3 1 1"
"$KILN" rollout set keep stable --version 1.1 --data "$data" > /dev/null 2> err.txt || fail "set keep --version 1.1: $(cat err.txt)"
"$KILN" rollout status keep stable --json --data "$data" > keep.json
expect_jq keep.json '[.policy.target, .policy.percent, .policy.max_per_period, (.policy.floors | length), (.policy.pins | length)] | map(tostring) | join(" ")' "1.1 20 50 0 0"
"$KILN" rollout set fresh stable --percent 5 --data "$data" > /dev/null 2> err.txt; st=$?
[ $st -eq 2 ] || fail "a new rollout without --version exited $st"
expect_in err.txt "kiln rollout set: fresh has no rollout in channel stable yet: --version V and --percent P are needed"
note "rollout set on an existing rollout kept what it was not given"
# status of a rollout that does not exist fails (exit 1) saying so; status takes no set knobs
"$KILN" rollout status nosuch beta --data "$data" > out.txt 2> err.txt; st=$?
[ $st -eq 1 ] || fail "status of a missing rollout exited $st"
expect_in err.txt "kiln rollout status: no rollout is set for nosuch in channel beta"
"$KILN" rollout status os stable --percent 5 --data "$data" > out.txt 2> err.txt; st=$?
[ $st -eq 2 ] && expect_in err.txt "kiln rollout status: --percent belongs to kiln rollout set"
"$KILN" rollout pause nosuch beta --data "$data" > out.txt 2> err.txt; st=$?
[ $st -eq 1 ] || fail "pause of a missing rollout exited $st"
expect_in err.txt "no rollout is set for nosuch in channel beta"
note "rollout set refused floors at or above the target, duplicates, repeated options, non-canonical numbers and absurd versions with the reason (exit 2, nothing changed); --gallery warned of what the gallery lacks; status of a missing rollout exits 1"

# the response names the payload the server serves; bad requests are refused clearly
data="$T/data-sqlite"
port=
serve_start serve2.log --data "$data" --gallery G
spid=$serve_pid
p=$port
trap 'kill $spid 2>/dev/null; sh "$KILN_ROOT/tests/lib/pg.sh" stop "$T/pg" 2>/dev/null; rm -rf "$T"' EXIT
u="http://127.0.0.1:$p/v1/update/"
mid=$(jq -r '.offered_ids[0]' f1.json)
printf '<?xml version="1.0"?><request protocol="3.0"><app appid="os" version="1.0" track="stable" machineid="%s"><updatecheck/></app></request>' "$mid" > req.xml
curl -s -H 'Content-Type: text/xml' --data-binary @req.xml "$u" > resp.xml
python3 - "$T/resp.xml" "$T/src" <<'PY' || fail "the offered package is not the payload (response: $(cat resp.xml))"
import base64, hashlib, json, sys, urllib.request, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
uc = r.find("app/updatecheck"); pkg = uc.find("manifest/packages/package"); act = uc.find("manifest/actions/action")
base = uc.find("urls/url").get("codebase")
# the client's contract (docs/updates.md): the package is update.json, under the codebase are
# it, its signature and every file it names, byte for byte the gallery's
assert pkg.get("name") == "os-1.1.update.json", pkg.get("name")
data = open(sys.argv[2] + "/os-1.1.update.json", "rb").read()
got = urllib.request.urlopen(base + pkg.get("name")).read()
assert got == data, "served update.json differs"
assert pkg.get("hash_sha256") == hashlib.sha256(data).hexdigest()
assert act.get("sha256") == base64.b64encode(hashlib.sha256(data).digest()).decode()
assert int(pkg.get("size")) == len(data) and act.get("kiln_roothash") == json.loads(data)["verity"]["root_hash"] == "ab" * 32
assert act.get("kiln_signature") == "os-1.1.update.json.minisig", act.get("kiln_signature")
sig = urllib.request.urlopen(base + act.get("kiln_signature")).read()
assert sig == open(sys.argv[2] + "/os-1.1.update.json.minisig", "rb").read(), sig[:40]
u = json.loads(data)
for k in ("usr", "verity", "kernel", "initrd"):
    body = urllib.request.urlopen(base + u[k]["file"]).read()
    assert hashlib.sha256(body).hexdigest() == u[k]["sha256"] and len(body) == u[k]["size"], k
PY
# an update.json naming a file that is not a signed file of its version is never offered
"$KILN" rollout set forged stable --version 1.1 --percent 100 --data "$data" > /dev/null || fail "set forged"
printf '<request protocol="3.0"><app appid="forged" version="1.0" track="stable" machineid="m1"><updatecheck/></app></request>' > f.xml
curl -s -H 'Content-Type: text/xml' --data-binary @f.xml "$u" > fresp.xml
grep -q 'updatecheck status="noupdate"' fresp.xml || fail "forged 1.1 was offered: $(cat fresp.xml)"
grep -q "forged-1.1.update.json names kernel forged-1.1.vmlinuz, which is not a signed file of the version with that sha256" serve2.log ||
    fail "the log does not say why forged 1.1 is not offered: $(tail -5 serve2.log)"
note "an update.json naming a kernel whose sha256 the gallery did not sign is not offered (noupdate, the reason logged)"
# a version published without an update payload is never offered, and no grant is left in
# flight for it (one was, counted against --max-inflight: fresh-user finding)
"$KILN" rollout set plain stable --version 1.1 --percent 100 --data "$data" > /dev/null || fail "set plain"
sed 's/appid="forged"/appid="plain"/' f.xml > p.xml
curl -s -H 'Content-Type: text/xml' --data-binary @p.xml "$u" > presp.xml
grep -q 'updatecheck status="noupdate"' presp.xml || fail "plain 1.1 (no payload) was offered: $(cat presp.xml)"
"$KILN" rollout status plain stable --json --data "$data" > plain.json
expect_jq plain.json .inflight 0
note "a version without an update payload is not offered and leaves nothing in flight"
note "the offered package is update.json (hash_sha256, action sha256, kiln_roothash, kiln_signature its own); it, its signature and the 4 files it names are served byte for byte"
code() { curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@"; }
# refused_xml TEXT [APP-STATUS]: the last answer is in the protocol its client spoke (a 503 of
# the update server came as the API's JSON once: hostile finding): text/xml, an Omaha
# <response> whose kiln_error says TEXT, or whose one app has APP-STATUS and says TEXT
refused_xml() {
    grep -qi '^Content-Type: text/xml' "$T/hdr" || fail "an update server refusal is not text/xml: $(cat "$T/hdr" "$T/body")"
    python3 -c 'import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
assert r.tag == "response" and r.get("protocol") == "3.0", r.tag
apps = r.findall("app")
if sys.argv[2]:
    assert len(apps) == 1 and apps[0].get("status") == sys.argv[2], ET.tostring(r)
    print(apps[0].get("kiln_error"))
else:
    assert not apps, ET.tostring(r)
    print(r.get("kiln_error"))' "$T/body" "${2:-}" > "$T/reason" || fail "the refusal is not an Omaha response: $(cat "$T/body")"
    expect_in "$T/reason" "$1"
}
[ "$(code -H 'Content-Type: text/xml' --data-binary '<request protocol="3.0"><app' "$u")" = 400 ] || fail "malformed XML not 400"
refused_xml "malformed XML at line 1"
[ "$(code -H 'Content-Type: application/json' -d '{}' "$u")" = 415 ] || fail "JSON not 415"
refused_xml "an Omaha request is XML: send it as Content-Type: text/xml"
head -c 70000 /dev/zero | tr '\0' ' ' > big
[ "$(code -H 'Content-Type: text/xml' --data-binary @big "$u")" = 413 ] || fail "70 kB not 413"
refused_xml "an Omaha request is at most 65536 bytes"
[ "$(code "$u")" = 405 ] || fail "GET /v1/update/ not 405"
refused_xml "method not allowed here"
# a body whose length is ambiguous: refused in XML too, and the connection closed
python3 - "$p" > "$T/framing" <<'PY' || fail "two Content-Length fields: $(cat "$T/framing")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
s.settimeout(10)
a = b""
while True:
    b = s.recv(4096)
    if not b: break
    a += b
head, body = a.split(b"\r\n\r\n", 1)
print(head.decode())
assert head.startswith(b"HTTP/1.1 400") and b"text/xml" in head and b"Connection: close" in head
assert b'kiln_error="the request has 2 Content-Length fields; send one"' in body, body
PY
[ "$(code "http://127.0.0.1:$p/v1/update/payload/os/1.1/os-1.1.manifest.json.x")" = 404 ] || fail "an unlisted file was served"
grep -qi '^Content-Type: text/plain' "$T/hdr" && [ "$(cat "$T/body")" = "no such file of a published version" ] ||
    fail "a payload download's 404 is not the reason as plain text: $(cat "$T/hdr" "$T/body")"
[ "$(code "http://127.0.0.1:$p/v1/update/payload/os/1.1/..%2f..%2fgallery.yml")" = 404 ] || fail "a traversal was served"
printf '<request protocol="3.0"><app appid="os" version="1.0" track="stable" machineid="m&#10;x"><updatecheck/></app></request>' > ctl.xml
[ "$(code -H 'Content-Type: text/xml' --data-binary @ctl.xml "$u")" = 400 ] || fail "a newline in machineid not 400"
refused_xml "machineid"
! grep -q "m$" serve2.log || fail "the machine id with a newline reached the log"
note "malformed 400 (with line), JSON 415, 70 kB 413, GET 405, two Content-Length 400, control characters 400, each an Omaha response (text/xml, kiln_error saying why); unlisted and traversing payload paths 404 as plain text"
# what a publish cut off before its index leaves (a version directory), and a stray file,
# leave every published version's updates as they were; each is logged once
mkdir -p G/images/os/1.2 && echo x > G/images/os/1.2/os-1.2.update.json && echo junk > G/images/stray
sleep 2.5 # the server reloads the catalog when it is 2 s old
for i in 1 2; do
    curl -s -H 'Content-Type: text/xml' --data-binary @req.xml "$u" > stray.xml
    grep -q '<manifest version="1.1">' stray.xml || fail "with a stray G/images/os/1.2 os 1.1 was not offered: $(cat stray.xml)"
    sleep 2.5
done
[ "$(grep -c "G/images/os/1.2 is not a version the gallery's newest index lists" serve2.log)" = 1 ] ||
    fail "G/images/os/1.2 not logged once: $(grep -c 'images/os/1.2' serve2.log)"
[ "$(grep -c "G/images/stray is not a version the gallery's newest index lists" serve2.log)" = 1 ] || fail "G/images/stray not logged once"
rm -r G/images/os/1.2 G/images/stray
note "a stray G/images/os/1.2 and G/images/stray: os 1.1 still offered, each logged once"
kill "$spid"; wait "$spid" 2>/dev/null

# machine ids are the client's to invent: past --max-machines a new one is refused (503 with
# Retry-After, saying why), while the machines it knows still get their answer
serve_start serve3.log --data "$T/data-bound" --gallery G --max-machines 2
spid=$serve_pid
check() { printf '<?xml version="1.0"?><request protocol="3.0"><app appid="os" version="1.0" track="stable" machineid="%s"><updatecheck/></app></request>' "$1" |
          curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @- "$u"; }
[ "$(check inv-1)" = 200 ] && [ "$(check inv-2)" = 200 ] || fail "the first two machines were not answered"
[ "$(check inv-3)" = 503 ] || fail "a third machine past --max-machines 2 got $(cat "$T/body")"
grep -qi '^Retry-After: 30' "$T/hdr" || fail "the 503 has no Retry-After"
refused_xml "the update server keeps 2 machines of os, none unseen for 7 days" error-instanceRegistrationFailed
[ "$(check inv-1)" = 200 ] || fail "a known machine was refused"
# a known machine and a new one in one request: each app is answered on its own (the whole
# request got 503 once, after the known machine's event was recorded: a retry recorded it
# twice, and the known machine was not served: hostile finding); the new one writes nothing
app() { printf '<app appid="os" version="1.0" track="stable" machineid="%s"><event eventtype="13" eventresult="1"/><updatecheck/></app>' "$1"; }
rows() { python3 -c 'import sqlite3, sys
d = sqlite3.connect(sys.argv[1])
print(d.execute("SELECT COUNT(*) FROM machines").fetchone()[0], d.execute("SELECT COUNT(*) FROM update_events").fetchone()[0],
      d.execute("SELECT COUNT(*) FROM update_events WHERE machine_id = ?1", ("inv-3",)).fetchone()[0])' "$T/data-bound/kiln.db"; }
[ "$(rows)" = "2 0 0" ] || fail "before the mixed requests: machines, events, inv-3 events $(rows)"
for order in "inv-1 inv-3" "inv-3 inv-2"; do
    set -- $order
    printf '<?xml version="1.0"?><request protocol="3.0">%s%s</request>' "$(app "$1")" "$(app "$2")" |
        curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @- "$u" > "$T/code"
    [ "$(cat "$T/code")" = 200 ] || fail "$order: a request serving a known machine answered $(cat "$T/code") $(cat "$T/body")"
    python3 - "$T/body" "$1" <<'PY' || fail "$order: $(cat "$T/body")"
import sys, xml.etree.ElementTree as ET
apps = ET.parse(sys.argv[1]).getroot().findall("app")
assert len(apps) == 2, len(apps)
known, new = (apps[0], apps[1]) if sys.argv[2] != "inv-3" else (apps[1], apps[0])
assert known.get("status") == "ok" and known.find("event").get("status") == "ok", ET.tostring(known)
assert known.find("updatecheck").get("status") == "noupdate", ET.tostring(known)
assert new.get("status") == "error-instanceRegistrationFailed" and new.find("event") is None, ET.tostring(new)
assert "keeps 2 machines of os" in new.get("kiln_error"), new.get("kiln_error")
PY
done
[ "$(rows)" = "2 2 0" ] || fail "after two mixed requests: machines, events, inv-3 events $(rows), expected 2 2 0"
# an app that cannot be served at all refuses the request before anything of it is written
printf '<?xml version="1.0"?><request protocol="3.0">%s<app appid="os" version="1.0" track="bad+track" machineid="inv-2"/></request>' "$(app inv-1)" |
    curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @- "$u" > "$T/code"
[ "$(cat "$T/code")" = 400 ] || fail "a request with a bad track answered $(cat "$T/code")"
refused_xml "track: want a channel"
[ "$(rows)" = "2 2 0" ] || fail "a refused request wrote rows: $(rows)"
kill "$spid"; wait "$spid" 2>/dev/null
note "--max-machines 2: a third invented machine id got 503 with Retry-After, known machines 200; a known and a new machine in one request: 200, the known one served, the new one error-instanceRegistrationFailed with nothing written; a bad app refuses the request before any write"

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
