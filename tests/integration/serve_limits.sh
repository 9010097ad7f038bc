#!/bin/sh
# kiln serve against hostile HTTP clients, no VM (the checks are in serve_limits.py):
#  - one tenant's 300 sign-ins and 20 sign-in links stay within its own bounds: the others and
#    the admin still sign in, its 17th link is 429;
#  - 20 wrong tokens from one address (form or Bearer), then 429 for that address only;
#  - Omaha: TEXT/XML with a charset is XML; too many apps is 400, a big body 413; "../" in
#    track, version or machineid 400; two Content-Length fields, or one with chunked, 400
#    and the connection closed; a capitalised form media type is a form;
#  - a stray directory and file under the gallery's images/ leave updates working (200, not
#    500) and are logged once each;
#  - 300 idle and trickling connections from 127.0.0.2-6 do not keep others from an answer,
#    and the server closes every one of them;
#  - 40 workers' long polls and 40 live console streams at once (the server has 8 threads)
#    leave others answered; a job submitted meanwhile goes to exactly one poll; the streams
#    follow the console live and end when SIGTERM stops the server (exit 0).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "curl and python3 are needed"; exit 77; }
data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "kiln serve --init"
TA=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add acme"
TB=$("$KILN" tenant add bob --data "$data" 2>/dev/null) || fail "tenant add bob"
TR=$("$KILN" tenant add root --admin --data "$data" 2>/dev/null) || fail "tenant add root"
TW=$("$KILN" worker add w1 --data "$data" 2>/dev/null) || fail "worker add w1"
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
"$KILN" gallery init --gallery G --trust k.pub -k k.key > /dev/null || fail "gallery init"
# what a cut-off publish or a hand leaves in images/: not versions the index lists
mkdir -p G/images/stray/1.0 && echo x > G/images/stray/1.0/x.update.json && echo junk > G/images/junk

serve_start serve.log --data "$data" --gallery "$T/G"
trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null; rm -rf "$T"' EXIT
py() { python3 "$KILN_ROOT/tests/integration/serve_limits.py" "$port" "$@" || { tail -n 30 serve.log >&2; fail "serve_limits.py $1"; }; }

py edges "$TA"
py sessions "$TA" "$TB" "$TR"
py failures "$TA"
py slow 60
expect_in serve.log "closed "
[ "$(grep -c "G/images/stray/1.0 is not a version the gallery's newest index lists" serve.log)" = 1 ] ||
    fail "the stray version directory was not logged exactly once: $(grep -c 'images/stray/1.0 is not a version' serve.log)"
[ "$(grep -c "G/images/junk is not a version the gallery's newest index lists" serve.log)" = 1 ] || fail "the stray file was not logged once"
expect_not_in serve.log "cannot be read"
# waiting requests hold no thread (the server has 8); the check ends with SIGTERM
py waiting "$TA" "$TW" $serve_pid 40
wait $serve_pid
rc=$?
[ "$rc" -eq 0 ] || { tail serve.log; fail "kiln serve exited $rc on SIGTERM"; }
expect_in serve.log "kiln serve: stopping"
! grep -q "$TA\|$TB\|$TR\|$TW" serve.log || fail "a token is in the server's log"
note "stray gallery entries logged once, no token in the log, kiln serve stopped with 0"
