#!/bin/sh
# A throw-away PostgreSQL server for one test process, reachable only through a unix socket
# in its own directory (no TCP listener).
#
#   pg.sh start DIR OWNER_PID   initdb into DIR/data and start the server; prints the libpq URI
#   pg.sh stop DIR              stop it and remove DIR
#   pg.sh halt DIR              stop it, keeping DIR (a test of the database going away)
#   pg.sh resume DIR            start the halted server again
#
# A watchdog in a session of its own stops the server and removes DIR once OWNER_PID (and
# this script) are gone, so a test that crashes, aborts under ASan or is killed leaves no
# postgres behind. Start it with setsid, as test_store does, so that killing the test's
# process group cannot stop this script half-way. PostgreSQL refuses to run as root: as root the server runs as the system
# user kiln-test (created when missing). Server binaries: $KILN_PG_BINDIR, else
# /usr/lib/postgresql/15/bin. Exit 2: no server binaries.
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
bindir=${KILN_PG_BINDIR:-/usr/lib/postgresql/15/bin}
user=kiln-test
cmd=${1:?usage: pg.sh start DIR OWNER_PID | stop DIR | halt DIR | resume DIR}
dir=${2:?usage: pg.sh start DIR OWNER_PID | stop DIR | halt DIR | resume DIR}

as_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

stop_now() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

# fsync off: the data is thrown away; the socket directory is DIR, the only way in.
pg_up() {
    as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off -c max_connections=40 -c shared_buffers=16MB" \
        start >/dev/null 2>&1
}

case $cmd in
start)
    owner=${3:?usage: pg.sh start DIR OWNER_PID}
    if [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
        echo "pg.sh: no PostgreSQL server in $bindir (install postgresql-15: sh scripts/deps.sh, or set KILN_PG_BINDIR)" >&2
        exit 2
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        # two tests may create it at once: the loser finds it made
        getent passwd "$user" >/dev/null ||
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" 2>/dev/null ||
            getent passwd "$user" >/dev/null
        chown "$user" "$dir"
    fi
    chmod 700 "$dir"
    # The watchdog outlives this script and the owner: once both are gone, it stops the server
    # and removes DIR (a normal stop removes DIR first, and it just ends).
    setsid sh -c 'while { kill -0 "$1" || kill -0 "$2"; } 2>/dev/null && [ -d "$3" ]; do sleep 0.5; done
                  [ -d "$3" ] && exec sh "$4" stop "$3"' \
        pg-watchdog "$owner" "$$" "$dir" "$self" </dev/null >/dev/null 2>&1 &
    cd "$dir"
    if ! as_user "$bindir/initdb" -D "$dir/data" --auth=trust --username=kiln -E UTF8 --no-sync \
        >"$dir/initdb.log" 2>&1; then
        log=$(cat "$dir/initdb.log")
        stop_now
        echo "$log" >&2
        exit 1
    fi
    if ! pg_up; then
        log=$(cat "$dir/server.log" 2>/dev/null || true)
        stop_now
        echo "$log" >&2
        exit 1
    fi
    echo "postgresql:///postgres?host=$dir&user=kiln"
    ;;
stop)
    stop_now
    ;;
halt)
    cd "$dir"  # kiln-test may not enter the caller's directory
    as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    ;;
resume)
    cd "$dir"
    pg_up || { cat "$dir/server.log" >&2; exit 1; }
    ;;
*)
    echo "pg.sh: unknown command $cmd" >&2
    exit 64
    ;;
esac
