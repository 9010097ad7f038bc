#!/bin/sh
# kiln tenant add / kiln worker add: a token printed once on stdout, only its SHA-256 in the
# service's database; bad names, duplicates and bad key files refused.
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
echo "service_cli: ok"
