#!/bin/sh
# kiln tenant add / kiln worker add: a token printed once on stdout, only its SHA-256 in the
# service's database; bad names, duplicates and bad key files refused; the same through
# $KILN_DB on a PostgreSQL server started here (tests/lib/pg.sh).
. "$(dirname "$0")/lib.sh"

data="$T/data"
"$KILN" keygen --out keys/acme --no-passphrase >/dev/null || fail "keygen"
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
expect_status 1 "$KILN" tenant add "../x" --data "$data"
expect_in "$T/err" 'tenant name "../x"'
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
