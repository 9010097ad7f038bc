#!/bin/sh
# kiln tenant add / kiln worker add: a token printed once on stdout, only its SHA-256 in the
# service's database; bad names, duplicates and bad key files refused; the same through
# $KILN_DB on a PostgreSQL server started here (tests/lib/pg.sh).
. "$(dirname "$0")/lib.sh"

data="$T/data"
"$KILN" keygen --out keys/acme --no-passphrase >/dev/null || fail "keygen"
# Only kiln serve (or kiln serve --init) makes a database: every other verb given a --data
# without one (a typo) fails with exit 2 naming the path and creates nothing, a read-only
# verb included (hostile finding 3: each of these used to succeed into a new empty database)
nodb() { # DIR VERB...: exit 2, the message, nothing created
    d=$1; shift
    expect_status 2 "$KILN" "$@" --data "$d"
    expect_in "$T/err" "no kiln database in $d: create it with \`kiln serve --init --data $d\` (or start kiln serve --data $d once), or check --data"
    [ ! -e "$d" ] || fail "$* created $d"
}
for v in "tenant add zed" "worker add w9" "rollout set x stable --version 1.0 --percent 50" "rollout status x stable" \
         "rollout status x stable --json" "rollout pause x stable" "rollout resume x stable" "rollout group x g m1"; do
    nodb "$T/typo/a/b" $v
done
mkdir -p "$T/empty"
nodb "$T/empty/sub" tenant add zed
expect_status 2 "$KILN" tenant add zed --data "$T/empty"
[ -z "$(ls -A "$T/empty")" ] || fail "tenant add wrote into an existing directory without a database: $(ls -A "$T/empty")"
# a file there that is not kiln's (an empty file, another program's SQLite database) is the
# same error, and is left byte for byte as it was (not turned to WAL, no table added)
: > "$T/empty/kiln.db"
expect_status 2 "$KILN" rollout status x stable --data "$T/empty"
expect_in "$T/err" "no kiln database in $T/empty"
[ ! -s "$T/empty/kiln.db" ] || fail "rollout status wrote into an empty kiln.db"
rm "$T/empty/kiln.db"
sqlite3 "$T/empty/kiln.db" "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine')" || fail "sqlite3"
sum=$(sha256sum < "$T/empty/kiln.db")
expect_status 2 "$KILN" worker add w9 --data "$T/empty"
expect_in "$T/err" "no kiln database in $T/empty"
[ "$(sha256sum < "$T/empty/kiln.db")" = "$sum" ] && [ "$(ls -A "$T/empty")" = kiln.db ] || fail "another program's database was changed"
# kiln serve --init makes it (and is idempotent); then the verbs work, status reads only
expect_status 0 "$KILN" serve --init --data "$data"
expect_in "$T/err" "kiln serve --init: the sqlite database in $data is ready (schema version"
expect_status 0 "$KILN" serve --init --data "$data"
[ "$(stat -c %a "$data")" = 700 ] || fail "the data directory is not private"
expect_status 0 "$KILN" tenant add acme --max-jobs 4 --trust keys/acme.pub --data "$data"
token=$(cat "$T/out")
expect_in "$T/err" "acme, at most 4 jobs at once"
expect_in "$T/err" "acme trusts key"
echo "$token" | grep -qE '^kt_[0-9a-f]{64}$' || fail "tenant token '$token' is not kt_ and 64 hex digits"
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "stdout holds more than the token"

expect_status 0 "$KILN" worker add host7 --data "$data"
wtoken=$(cat "$T/out")
echo "$wtoken" | grep -qE '^kw_[0-9a-f]{64}$' || fail "worker token '$wtoken' is not kw_ and 64 hex digits"

# the database files hold each token's SHA-256 and never the token
for t in "$token" "$wtoken"; do
    hash=$(printf %s "$t" | sha256sum | cut -d' ' -f1)
    grep -rqF "$hash" "$data" || fail "the SHA-256 of a token is not in $data (the check would prove nothing)"
    ! grep -rqF "${t#k?_}" "$data" || fail "a token is stored in clear in $data"
done
[ "$(stat -c %a "$data/kiln.db")" = 600 ] || fail "kiln.db is not private (mode $(stat -c %a "$data/kiln.db"))"

expect_status 1 "$KILN" tenant add acme --data "$data"
expect_in "$T/err" "tenant acme exists already"
expect_status 1 "$KILN" worker add host7 --data "$data"
expect_in "$T/err" "worker host7 exists already"
expect_status 2 "$KILN" tenant add "../x" --data "$data"   # a name's rule is usage, not a failed store
expect_in "$T/err" 'tenant name "../x": want 1 to 64 of A-Z a-z 0-9 . _ -'
expect_status 2 "$KILN" tenant add beta --max-jobs 0 --data "$data"
expect_in "$T/err" "--max-jobs 0: want a whole number from 1 to 100000"
printf 'not a key\n' > bad.pub
expect_status 2 "$KILN" tenant add beta --trust bad.pub --data "$data"
expect_in "$T/err" "--trust bad.pub:"
expect_status 0 "$KILN" tenant add beta --data "$data"   # the bad key added no tenant
expect_status 2 "$KILN" tenant add gamma
expect_in "$T/err" "--data DIR or --db URL"
expect_status 1 "$KILN" tenant add gamma --db "postgresql://kiln:hunter2@localhost/kiln?host=$T/nosocket"
expect_in "$T/err" "cannot connect to PostgreSQL"
expect_not_in "$T/err" "hunter2"
expect_status 2 "$KILN" tenant list --data "$data"
expect_in "$T/err" "usage: kiln tenant add"
# kiln serve's startup failures each exit as README says, naming what to change: 2 for what
# it was given (a port another program holds, an address not this host's, a --data it cannot
# create, a malformed --listen), 1 for a database it cannot open
"$KILN" serve --data "$data" --listen 127.0.0.1:0 2> first.log &
first=$!
for i in $(seq 100); do grep -q "listening on http://127.0.0.1:" first.log && break; sleep 0.1; done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' first.log)
[ -n "$port" ] || { kill "$first"; cat first.log; fail "kiln serve --listen 127.0.0.1:0 did not say its port"; }
expect_status 2 "$KILN" serve --data "$data" --listen "127.0.0.1:$port"
expect_in "$T/err" "kiln serve: --listen 127.0.0.1:$port: port $port is taken by another program"
kill "$first"; wait "$first"
expect_status 2 "$KILN" serve --data "$data" --listen 192.0.2.1:8470
expect_in "$T/err" "--listen 192.0.2.1:8470: the address is not one of this host's"
expect_status 2 "$KILN" serve --data "$data" --listen 127.0.0.1
expect_in "$T/err" "--listen 127.0.0.1: want IPV4:PORT"
: > afile
expect_status 2 "$KILN" serve --data afile/sub --listen 127.0.0.1:0
expect_in "$T/err" "--data afile/sub: cannot create afile/sub"
mkdir notdb && printf 'not a database%4096s' x > notdb/kiln.db
expect_status 1 "$KILN" serve --data notdb --listen 127.0.0.1:0
# PostgreSQL: the server lives in $T/pg; pg.sh's watchdog removes it if this script dies
pgdir="$T/pg"
trap 'sh "$KILN_ROOT/tests/lib/pg.sh" stop "$pgdir"; rm -rf "$T"' EXIT
chmod 711 "$T"   # the server runs as kiln-test when this runs as root: it must reach $T/pg
if ! uri=$(setsid sh "$KILN_ROOT/tests/lib/pg.sh" start "$pgdir" $$ 2>"$T/pgerr"); then
    st=$?
    cat "$T/pgerr" >&2
    [ "$st" -eq 2 ] && case " ${KILN_ALLOW_SKIP:-} " in *" service_cli "*) exit 77 ;; esac
    fail "cannot start a PostgreSQL server for the test"
fi
# a PostgreSQL database without kiln's schema is the same error; nothing is created in it
expect_status 2 env KILN_DB="$uri" "$KILN" tenant add acme --max-jobs 3
expect_in "$T/err" "kiln tenant add: no kiln database at the --db URL from \$KILN_DB (the database holds no kiln schema): create it with \`kiln serve --init --db URL\`, or check the URL"
expect_status 2 "$KILN" rollout status x stable --db "$uri"
expect_in "$T/err" "kiln rollout status: no kiln database at the --db URL (the database holds no kiln schema)"
[ "$(psql "$uri" -Atc "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")" = 0 ] ||
    fail "a refused verb created tables in PostgreSQL"
expect_status 0 "$KILN" serve --init --db "$uri"
expect_in "$T/err" "kiln serve --init: the postgresql database is ready (schema version"
expect_status 0 env KILN_DB="$uri" "$KILN" tenant add acme --max-jobs 3
pgtoken=$(cat "$T/out")
echo "$pgtoken" | grep -qE '^kt_[0-9a-f]{64}$' || fail "tenant token on PostgreSQL: '$pgtoken'"
expect_status 1 "$KILN" tenant add acme --db "$uri"
expect_in "$T/err" "tenant acme exists already"
expect_status 0 "$KILN" worker add host7 --db "$uri"
psql "$uri" -Atc "SELECT name || ' ' || max_jobs || ' ' || token_hash FROM tenants" > "$T/rows"
expect_in "$T/rows" "acme 3 $(printf %s "$pgtoken" | sha256sum | cut -d' ' -f1)"
psql "$uri" -Atc "SELECT * FROM tenants; SELECT * FROM workers" > "$T/dump"
expect_not_in "$T/dump" "${pgtoken#kt_}"
echo "service_cli: ok"
# the client: a token that would add a header, and credentials in the server URL, are refused
# before anything is sent, and the password is never echoed
echo x > img.raw
expect_status 2 env KILN_TOKEN="$(printf 'kt_abc\r\nX-Evil: injected')" "$KILN" submit --server http://127.0.0.1:9 img.raw
expect_in "$T/err" "the token holds characters a kiln token never has"
expect_status 2 env KILN_TOKEN=kt_abc "$KILN" submit --server http://admin:S3cretPW@127.0.0.1:9 img.raw
expect_in "$T/err" "the URL holds a user name or password"
expect_not_in "$T/err" "S3cretPW"
echo "service_cli: client checks ok"

# replies a kiln server never sends (a proxy's {}, another program on the port): each is an
# error naming the request and the field, never a default ("{}" used to mean "the image is
# there", job id 0, a job followed forever as "?", every running job stopped)
d=$(sha256sum img.raw | cut -d' ' -f1)
img_ok="\"GET /api/v1/images/\": [200, \"{\\\"digest\\\": \\\"$d\\\", \\\"size\\\": 2}\"]"
job_ok='"POST /api/v1/jobs": [201, "{\"id\": 7, \"queue_position\": 0}"]'
# fake TABLE CMD...: CMD run against fake_server.py answering from TABLE (its requests in
# reqs); CMD finds the server's port in the file port
fake() {
    printf '%s\n' "$1" > table.json; shift
    rm -f port reqs
    python3 "$KILN_ROOT/tests/integration/fake_server.py" port table.json reqs &
    fpid=$!
    i=0; while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    "$@" >"$T/out" 2>"$T/err"
    fake_rc=$?
    kill $fpid; wait $fpid 2>/dev/null
}
submit() { fake "$1" sh -c 'KILN_TOKEN=kt_abc exec timeout 30 "$0" submit --server "http://127.0.0.1:$(cat port)" img.raw --wait' "$KILN"; }
expect_fake() { # RC STDERR: the exit status and the last line of stderr
    [ "$fake_rc" -eq "$1" ] || { cat "$T/err" >&2; fail "exited $fake_rc, expected $1"; }
    [ "$(tail -n 1 "$T/err")" = "$2" ] || fail "stderr ends '$(tail -n 1 "$T/err")', expected '$2'"
}
need="(a server of another version, or not a kiln server; check --server)"
submit '{"GET /api/v1/images/": [200, "{}"]}'
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/images/$d lacks what kiln needs: Object item not found: digest $need"
submit '{"GET /api/v1/images/": [200, "{\"digest\": \"0000\", \"size\": 2}"]}'
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/images/$d names image 0000 of 2 bytes, not img.raw (sha256 $d, 2 bytes): a broken server or proxy; nothing was queued"
submit '{"POST /api/v1/images": [201, "{}"]}'
expect_fake 3 "kiln submit: the server's reply to POST /api/v1/images lacks what kiln needs: Object item not found: digest $need"
submit '{"GET /api/v1/images/": [200, "not json"]}'
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/images/$d is not a JSON object (not json): is the URL a kiln server's?"
submit "{$img_ok, \"POST /api/v1/jobs\": [201, \"{}\"]}"
expect_fake 3 "kiln submit: the server's reply to POST /api/v1/jobs lacks what kiln needs: Object item not found: id $need"
[ ! -s "$T/out" ] || fail "a job id was printed: $(cat "$T/out")"
submit "{$img_ok, $job_ok, \"GET /api/v1/jobs/7\": [200, \"{}\"]}"
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/jobs/7 lacks what kiln needs: Object item not found: state $need"
submit "{$img_ok, $job_ok, \"GET /api/v1/jobs/7\": [200, \"{\\\"state\\\": \\\"done\\\", \\\"result\\\": null, \\\"cases\\\": []}\"]}"
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/jobs/7 gives the done job the result null, not passed, failed or incomplete"
submit "{$img_ok, $job_ok, \"GET /api/v1/jobs/7\": [200, \"{\\\"state\\\": \\\"done\\\", \\\"result\\\": \\\"passed\\\", \\\"cases\\\": [{}]}\"]}"
expect_fake 3 "kiln submit: the server's reply to GET /api/v1/jobs/7 lacks what kiln needs: case 1 has no name or no status"
# and the complete reply is followed to its verdict
submit "{$img_ok, $job_ok, \"GET /api/v1/jobs/7\": [200, \"{\\\"state\\\": \\\"done\\\", \\\"result\\\": \\\"passed\\\", \\\"reason\\\": null, \\\"cases\\\": [{\\\"name\\\": \\\"a\\\", \\\"status\\\": \\\"passed\\\"}]}\"]}"
expect_fake 0 "kiln submit: job 7: done passed"
[ "$(cat "$T/out")" = "$(printf '7\npassed   a')" ] || fail "stdout is '$(cat "$T/out")'"
# the worker: a declare reply without the lease stops it; a claim without an image hands the
# job back as incomplete; a heartbeat without "held" keeps what runs (logged)
worker() { fake "$1" sh -c 'KILN_WORKER_TOKEN=kw_abc exec timeout "$1" "$0" worker --work "$PWD/w" --server "http://127.0.0.1:$(cat port)"' "$KILN" "$2"; }
worker '{"POST /api/v1/worker/declare": [200, "{}"]}' 20
expect_fake 1 "kiln worker: the server's reply to POST /api/v1/worker/declare lacks what kiln needs: Object item not found: lease_ms $need"
worker '{"POST /api/v1/worker/declare": [200, "{\"lease_ms\": 4000}"], "POST /api/v1/worker/heartbeat": [200, "{}"], "POST /api/v1/worker/claim": [200, "{\"id\": 5}"]}' 4
[ "$fake_rc" -eq 124 ] || { cat "$T/err"; fail "the worker exited $fake_rc"; }
expect_in "$T/err" "the server's reply to POST /api/v1/worker/heartbeat lacks what kiln needs: Object item not found: held $need; the running jobs are kept"
expect_in "$T/err" "the server's reply to POST /api/v1/worker/claim lacks what kiln needs: Object item not found: image $need"
expect_in reqs "POST /api/v1/worker/jobs/5/finish {\"result\":\"incomplete\",\"reason\":\"the server's reply to POST /api/v1/worker/claim lacks what kiln needs: Object item not found: image"
echo "service_cli: server replies ok"

# option errors name the option, the bad value and what is accepted (kiln serve printed only
# its usage text); the same in every service verb's parser
opt_err() { # MESSAGE CMD...: exit 2, stderr is "MESSAGE", then for an error cmd_parse finds "try
    msg=$1; shift  # 'kiln VERB --help'" (a check made after parsing prints the line alone)
    expect_status 2 "$@"
    [ "$(head -n 1 "$T/err")" = "$msg" ] || fail "$*: stderr is '$(cat "$T/err")', expected '$msg'"
    rest=$(sed 1d "$T/err")
    case $rest in
        ""|"try 'kiln "*" --help'") ;;
        *) fail "$*: stderr after '$msg' is '$rest', expected nothing or a try line" ;;
    esac
    case $msg in
        "kiln serve:"*|"kiln submit:"*|*"needs a value"*|*"unknown option"*|*"given twice"*|*"want a whole number"*)
            [ -n "$rest" ] || fail "$*: no try line after '$msg'" ;;
    esac
}
opt_err "kiln serve: --lease-s 2: want a whole number from 5 to 3600" "$KILN" serve --data d --lease-s 2
opt_err "kiln serve: --max-image-mb 0x: want a whole number from 1 to 1073741823" "$KILN" serve --max-image-mb 0x --data d
opt_err "kiln serve: --max-queued 0: want a whole number from 1 to 1000000" "$KILN" serve --data d --max-queued 0
opt_err "kiln serve: --lease-s needs a value: N, a claim's lease in seconds (default 60)" "$KILN" serve --data d --lease-s
opt_err "kiln serve: unknown option --port; the options are: --init, --data DIR, --listen IPV4:PORT, --db URL, --gallery DIR, --max-machines N, --max-image-mb N, --max-queued N, --lease-s N, --gallery-key SECRET.key, --gallery-require-priority N" \
    "$KILN" serve --data d --port 80
opt_err "kiln serve: --data DIR is needed: the directory of images, job files and (without --db) kiln.db" "$KILN" serve
opt_err "kiln serve: --listen 127.0.0.1:99999: want IPV4:PORT, e.g. 127.0.0.1:8470" "$KILN" serve --data "$T/sd" --listen 127.0.0.1:99999
opt_err "kiln worker: --slots 0: want a whole number from 1 to 64" "$KILN" worker --server http://127.0.0.1:9 --slots 0
opt_err "kiln worker: --server needs a value: URL, the service's URL, e.g. http://127.0.0.1:8470" "$KILN" worker --server
opt_err "kiln worker: unknown option --slot; did you mean --slots?" "$KILN" worker --slot 2
opt_err "kiln worker: unknown option --listen; the options are: --server URL, --token WTOKEN, --slots N, --work DIR, --key SECRET.key, --withhold FEATURES" \
    "$KILN" worker --listen 2
opt_err "kiln worker: --server URL is needed: the service to pull jobs from" env KILN_WORKER_TOKEN=kw_x "$KILN" worker --work w
# a --key that names no readable file stops the worker at start (a relative one was read from
# each job's directory, where it named nothing: every archive went unsigned, a warning per job)
opt_err "kiln worker: --key nosuch.key: No such file or directory; give the minisign secret key that signs the jobs' archives (kiln keygen makes one)" \
    env KILN_WORKER_TOKEN=kw_x "$KILN" worker --server http://127.0.0.1:9 --work wkey --key nosuch.key
[ ! -e wkey ] || fail "kiln worker created --work wkey though its --key was refused"
opt_err "kiln submit: --tier 3: want a whole number from 0 to 2" "$KILN" submit --tier 3 img.raw
opt_err "kiln submit: --tier 0 and --runbook rb.yml: give one of them (a runbook selects its own cases)" \
    "$KILN" submit --server http://127.0.0.1:9 --tier 0 --runbook rb.yml img.raw
opt_err "kiln submit: other.raw: one image per submission (img.raw is the image already)" "$KILN" submit img.raw other.raw
opt_err "kiln submit: no IMAGE given: name the disk image to validate" "$KILN" submit --server http://127.0.0.1:9
opt_err "kiln tenant add: --trust needs a value: KEY.pub, a minisign public key whose signatures self-service publishing accepts; repeatable" "$KILN" tenant add x --trust
opt_err "kiln tenant add: unknown option --max-job; did you mean --max-jobs?" "$KILN" tenant add x --max-job 2
opt_err "kiln tenant add: unknown option --key; the options are: --data DIR, --db URL, --trust KEY.pub, --max-jobs N, --admin" "$KILN" tenant add x --key k
opt_err "kiln worker add: b: one worker at a time (a is the name already)" "$KILN" worker add a b --data d
# numbers have one spelling in every verb: no leading zero, sign, space or point
for n in 0100 +5 ' 5' 5. .5 1e3; do
    opt_err "kiln tenant add: --max-jobs $n: want a whole number from 1 to 100000" "$KILN" tenant add x --max-jobs "$n" --data d
    opt_err "kiln serve: --max-queued $n: want a whole number from 1 to 1000000" "$KILN" serve --data d --max-queued "$n"
    opt_err "kiln worker: --slots $n: want a whole number from 1 to 64" "$KILN" worker --server http://127.0.0.1:9 --slots "$n"
done
opt_err "kiln serve: --gallery-require-priority -0: want a whole number from -1 to 5" "$KILN" serve --data d --gallery-require-priority -0
# a single-valued option given twice is refused in every service verb (it used to be last one wins)
opt_err "kiln tenant add: --max-jobs given twice (2 and 3): give it once" "$KILN" tenant add x --max-jobs 2 --max-jobs 3 --data d
opt_err "kiln tenant add: --data given twice (a and b): give it once" "$KILN" tenant add x --data a --data b
opt_err "kiln worker add: --db given twice (x and y): give it once" "$KILN" worker add w --db x --db y
opt_err "kiln serve: --listen given twice (127.0.0.1:1 and 127.0.0.1:2): give it once" "$KILN" serve --data d --listen 127.0.0.1:1 --listen 127.0.0.1:2
opt_err "kiln worker: --slots given twice (1 and 2): give it once" "$KILN" worker --server http://127.0.0.1:9 --slots 1 --slots 2
opt_err "kiln worker: --token given twice: give it once" "$KILN" worker --server http://127.0.0.1:9 --token kw_Zq9a --token kw_Zq9b
expect_not_in "$T/err" "Zq9"   # a token's values are never echoed
opt_err "kiln submit: --tier given twice (0 and 1): give it once" "$KILN" submit --tier 0 --tier 1 img.raw
opt_err "kiln submit: --memory-mb given twice (256 and 512): give it once" "$KILN" submit --memory-mb 256 --memory-mb 512 img.raw
opt_err "kiln submit: --name given twice (a and b): give it once" "$KILN" submit --name a --name b img.raw
opt_err "kiln publish: --support-days 010: want a whole number from 0 to 36500" "$KILN" publish x -k y --support-days 010
opt_err "kiln gallery list: --min-serial +2: want a whole number from 0 to 9223372036854775807" "$KILN" gallery list --gallery G --min-serial +2
opt_err "kiln gallery init: --require-priority 1.0: want a whole number from -1 to 5" "$KILN" gallery init --gallery G --require-priority 1.0
# an option that would have no effect is refused, not silently ignored (--max-machines without
# --gallery was accepted: hostile finding); the rule is the option table's, one for every verb
opt_err "kiln serve: --max-machines goes with --gallery DIR: without it, it has no effect; give both, or leave --max-machines out" \
    "$KILN" serve --data d --max-machines 5
opt_err "kiln serve: --gallery-require-priority goes with --gallery-key SECRET.key: without it, it has no effect; give both, or leave --gallery-require-priority out" \
    "$KILN" serve --data d --gallery-require-priority 1
for o in "--listen 127.0.0.1:1" "--gallery G" "--max-image-mb 5" "--max-queued 5" "--lease-s 5" "--gallery-key k.key"; do
    opt_err "kiln serve: ${o%% *} has no effect with --init: leave one of them out" "$KILN" serve --init --data "$T/never" $o
done
[ ! -e "$T/never" ] || fail "a refused kiln serve --init made its --data"
opt_err "kiln submit: --append goes with --kernel VMLINUZ: without it, it has no effect; give both, or leave --append out" \
    "$KILN" submit --server http://127.0.0.1:9 --append console=ttyS0 img.raw
opt_err "kiln shell: --initrd goes with --kernel FILE: without it, it has no effect; give both, or leave --initrd out" "$KILN" shell --initrd i img.raw
opt_err "kiln archive: --pubkey goes with --verify FILE: without it, it has no effect; give both, or leave --pubkey out" "$KILN" archive run -p k.pub
opt_err "kiln archive: --out has no effect with --verify: leave one of them out" "$KILN" archive --verify a.tar.zst -o x
# a name the service cannot hold is a usage error (2) with the rule, said before any database
# is opened (kiln tenant add 'a b' exited 1 from the store: hostile finding)
rule="want 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-', without \"..\""
opt_err "kiln tenant add: tenant name \"a b\": $rule" "$KILN" tenant add 'a b' --data "$T/nodb"
opt_err "kiln tenant add: tenant name \"-x\": $rule" "$KILN" tenant add --data "$T/nodb" -- -x
opt_err "kiln worker add: worker name \".w\": $rule" "$KILN" worker add .w --data "$T/nodb"
opt_err "kiln worker add: worker name \"a..b\": $rule" "$KILN" worker add a..b --data "$T/nodb"
opt_err "kiln rollout set: channel \"st able\": $rule" "$KILN" rollout set os 'st able' --version 1 --percent 5 --data "$T/nodb"
opt_err "kiln rollout status: channel \"x/y\": $rule" "$KILN" rollout status os x/y --data "$T/nodb"
opt_err "kiln rollout set: image name \"a b\": want 1 to 128 of A-Z a-z 0-9 . _ + ~ -, not starting with '.' or '-', without \"..\"" \
    "$KILN" rollout set 'a b' stable --version 1 --percent 5 --data "$T/nodb"
opt_err "kiln rollout group: group \"g g\": want 1 to 64 of A-Z a-z 0-9 . _ -" "$KILN" rollout group os 'g g' m1 --data "$T/nodb"
opt_err "kiln rollout group: machine id \"m/1\": want 1 to 128 of A-Z a-z 0-9 . _ + ~ : { } @ = -, not starting with '.', without '/' or \"..\"" \
    "$KILN" rollout group os g m/1 --data "$T/nodb"
opt_err "kiln gallery pull: image name \"a b\": want 1 to 128 of A-Z a-z 0-9 . _ + ~ -, not starting with '.' or '-', without \"..\"" \
    "$KILN" gallery pull 'a b@1' --gallery "$T/nogallery"
opt_err "kiln gallery list: channel \"a b\": want 1 to 128 of A-Z a-z 0-9 . _ + ~ -, not starting with '.' or '-', without \"..\"" \
    "$KILN" gallery list --channel 'a b' --gallery "$T/nogallery"
[ ! -e "$T/nodb" ] || fail "a refused name made a database"
echo "service_cli: option errors ok"
