# Sourced by integration tests. Provides $KILN, $KILN_BUSYBOX, a scratch dir $T
# (removed on exit) and small assertions that print what they saw.
set -u
: "${KILN:?KILN must point at the kiln binary}"
: "${KILN_ROOT:?KILN_ROOT must point at the source tree}"
T=$(mktemp -d /tmp/kiln-it-XXXXXX)
# When a test fails, the ends of its guests' consoles are the evidence (its directory goes):
# a hang in a VM is otherwise known only by its last line.
dump_consoles() {
    [ "$1" -eq 0 ] || [ "$1" -eq 77 ] && return 0
    find "$T" -name console.log -path '*/nodes/*' 2>/dev/null | sort | head -n 8 | while read -r c; do
        echo "--- last 40 lines of ${c#"$T"/}:" >&2
        tail -n 40 "$c" >&2
    done
}
trap 'dump_consoles $?; rm -rf "$T"' EXIT
cd "$T"
# kiln's work directories (and so every qemu command line) live under $T: the no-orphan
# check below then sees only this test's VMs, whatever else runs on the machine.
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
# what this client saw of each gallery (kiln gallery): the test's own, not the user's
export KILN_STATE_DIR="$T/state"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "  $*"; }

# expect_status WANT CMD...: runs CMD, fails unless its exit status is WANT. Its output is left
# in $T/out and $T/err (files, in the test's working directory): name no output directory so.
expect_status() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $got, expected $want"; }
}
# expect_in FILE TEXT: FILE contains TEXT (fixed string).
expect_in() { grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "$1 lacks: $2"; }; }
# expect_not_in FILE TEXT: FILE exists and does not contain TEXT (a missing file proves nothing).
expect_not_in() { [ -f "$1" ] || fail "$1 does not exist"; ! grep -qF -- "$2" "$1" || fail "$1 contains: $2"; }
# jqv FILE EXPR: prints a jq value.
jqv() { jq -r "$2" "$1"; }
expect_jq() { got=$(jq -r "$2" "$1"); [ "$got" = "$3" ] || fail "$1: $2 is '$got', expected '$3'"; }

# A runbook for the busybox image; extra YAML from stdin is appended.
busybox_runbook() {
    cat <<YAML
name: ${1:-bb}
platform:
  type: qemu
  qemu:
    kernel: $KILN_BUSYBOX/vmlinuz
    initrd: $KILN_BUSYBOX/initrd.img
    append: "${2:-console=ttyS0 quiet}"
    memory_mb: 256
    cpus: 1
    accel: tcg
    boot_timeout_s: ${3:-120}
YAML
    cat
}

# No qemu started by kiln may outlive it (of any architecture).
expect_no_qemu() {
    if pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null; then
        pgrep -af "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >&2
        fail "a qemu process kiln started is still running"
    fi
}

# No swtpm started by kiln may outlive it (its state and socket live under $T).
expect_no_swtpm() {
    if pgrep -f "swtpm socket .*$T/" >/dev/null; then
        pgrep -af "swtpm socket .*$T/" >&2
        fail "a swtpm kiln started is still running"
    fi
}

# loopback_sshd: an OpenSSH server on 127.0.0.1, on a port of its own, with keys of its own
# (log in with $T/client_key); sets $sshd_port and stops it on exit. Exits 77 without sshd.
loopback_sshd() {
    command -v /usr/sbin/sshd >/dev/null || { echo "openssh-server not installed"; exit 77; }
    ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$T/client_key"
    cp "$T/client_key.pub" "$T/authorized_keys"
    mkdir -p /run/sshd
    sshd_port=
    for try in 1 2 3 4 5; do
        p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
        /usr/sbin/sshd -D -e -p "$p" -o ListenAddress=127.0.0.1 -h "$T/host_key" \
            -o AuthorizedKeysFile="$T/authorized_keys" -o StrictModes=no -o PidFile="$T/sshd.pid" \
            -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no 2> "$T/sshd.log" &
        sshd_pid=$!
        sleep 0.5
        if kill -0 $sshd_pid 2>/dev/null; then sshd_port=$p; break; fi
    done
    [ -n "$sshd_port" ] || { cat "$T/sshd.log"; fail "could not start sshd"; }
    trap 'dump_consoles $?; kill $sshd_pid 2>/dev/null; rm -rf "$T"' EXIT
}

# hpc_image: the image examples/images/debian-hpc.yml makes (the hpc and kdump cases), built
# with kiln build once per content of the spec and its files, cached under
# $KILN_CACHE/images; prints its directory (debian-hpc-1.0.0.qcow2, .vmlinuz, .initrd,
# .manifest.json). Tests in parallel lanes wait for one build.
hpc_image() {
    cache=${KILN_CACHE:-${HOME:-/root}/.cache/kiln}/images
    key=$(cat "$KILN_ROOT/examples/images/debian-hpc.yml" "$KILN_ROOT"/examples/images/files/* | sha256sum | cut -c1-16)
    dir=$cache/debian-hpc-$key
    mkdir -p "$cache"
    (
        flock 9
        if [ ! -f "$dir/.done" ]; then
            rm -rf "$dir.tmp"
            "$KILN" build "$KILN_ROOT/examples/images/debian-hpc.yml" --out "$dir.tmp" >&2 || exit 1
            touch "$dir.tmp/.done"
            rm -rf "$dir" && mv "$dir.tmp" "$dir"
        fi
    ) 9>"$cache/.debian-hpc.lock" || return 1
    for old in "$cache"/debian-hpc-*; do [ "$old" = "$dir" ] || [ ! -d "$old" ] || rm -rf "$old"; done
    echo "$dir"
}

# serve_start LOG [ARG...]: kiln serve ARG... on 127.0.0.1, its output appended to LOG, until it
# says it listens (up to 60 s: an encrypted gallery key is seconds of scrypt under ASan). The
# first call takes the port the kernel picks (--listen 127.0.0.1:0: no two tests collide); a
# later call listens on the same $port again (a restart on the same address), trying again for
# up to 10 s while the old socket lingers. Sets serve_pid, port and S (http://127.0.0.1:$port);
# fails the test with the log when kiln serve exits first or never listens.
serve_start() {
    _log=$1
    shift
    for _try in 1 2 3 4 5 6 7 8 9 10; do
        _from=$(($(cat "$_log" 2>/dev/null | wc -l) + 1))
        "$KILN" serve --listen "127.0.0.1:${port:-0}" "$@" >> "$_log" 2>&1 &
        serve_pid=$!
        _p=
        for _i in $(seq 600); do
            _p=$(tail -n +"$_from" "$_log" | sed -n 's|.*kiln serve: listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' | tail -n 1)
            [ -n "$_p" ] && break
            kill -0 $serve_pid 2>/dev/null || break
            sleep 0.1
        done
        if [ -n "$_p" ]; then
            port=$_p
            S=http://127.0.0.1:$port
            return 0
        fi
        kill $serve_pid 2>/dev/null
        wait $serve_pid 2>/dev/null
        [ -n "${port:-}" ] && tail -n +"$_from" "$_log" | grep -q "is taken" || break
        sleep 1
    done
    cat "$_log" >&2
    fail "kiln serve did not start (its log above)"
}
