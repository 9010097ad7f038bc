#!/bin/sh
# The PostgreSQL server a test starts (tests/lib/pg.sh) ends when that test is killed with -9,
# when nothing of the test can stop it: pg.sh's watchdog, in a session of its own, sees the
# owner gone, stops the server and removes its directory. The owner here is a stand-in process.
. "$(dirname "$0")/lib.sh"
[ -x "${KILN_PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_ctl" ] || { echo "skip: no PostgreSQL server (scripts/deps.sh)"; exit 77; }
pgdir=$(mktemp -d /tmp/kiln-pg-XXXXXX)
sleep 600 &
owner=$!
uri=$(setsid sh "$KILN_ROOT/tests/lib/pg.sh" start "$pgdir" $owner 2> pg.err) || { cat pg.err; kill $owner; fail "pg.sh start"; }
pm=$(head -n 1 "$pgdir/data/postmaster.pid")
kill -0 "$pm" 2>/dev/null || { kill $owner; fail "no postmaster $pm runs for $uri"; }
note "postgres $pm serving $uri for owner $owner"
kill -9 $owner
wait $owner 2>/dev/null
i=0
while kill -0 "$pm" 2>/dev/null || [ -d "$pgdir" ]; do
    i=$((i + 1))
    [ $i -le 300 ] || { sh "$KILN_ROOT/tests/lib/pg.sh" stop "$pgdir"; fail "postgres $pm or $pgdir still there 30 s after its owner's kill -9"; }
    sleep 0.1
done
note "the owner killed with -9: postgres $pm stopped and $pgdir removed after $((i / 10)).$((i % 10)) s"
exit 0
