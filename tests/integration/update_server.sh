#!/bin/sh
# platform.qemu.update (docs/updates.md): kiln run starts kiln serve --gallery on a loopback
# port the kernel picks, points the guests' updaters at it through the system credential
# kiln-updater.conf (server http://10.0.2.2:PORT/v1/update/, the channel), answers Omaha there,
# and ends the server when the run ends, after SIGINT and kill -9 too. A runbook without it skips the
# update cases with the reason.
. "$(dirname "$0")/lib.sh"
"$KILN" keygen --out k --no-passphrase > /dev/null || fail keygen
"$KILN" gallery init --gallery G --trust k.pub -k k.key > /dev/null || fail "gallery init"
no_server() {
    ! pgrep -f "kiln serve --listen 127.0.0.1:0 .*--gallery $T/G" > /dev/null || { pgrep -af "kiln serve" >&2; fail "$1: kiln serve outlived the run"; }
}
busybox_runbook upd <<YAML > upd.yml
    update: { gallery: $T/G, name: debian-update, channel: beta, target: 1.0.1 }
testcase:
  - criteria: { name: "smoke|verify_update_apply" }
YAML
"$KILN" run --runs-dir runs upd.yml > run.txt 2>&1
rc=$?
cat run.txt
[ "$rc" -eq 0 ] || fail "kiln run exited $rc"
log=runs/latest/update-server.log
expect_in "$log" "listening on http://127.0.0.1:"
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -n 1)
[ "$port" -gt 0 ] || fail "no port in $log"
expect_in runs/latest/kiln.log "update server for debian-update in channel beta at http://127.0.0.1:$port/v1/update/"
# the credential carries this run's server and channel (base64 in the SMBIOS string)
b64=$(sed -n 's/.*io.systemd.credential.binary:kiln-updater.conf=\([A-Za-z0-9+/=]*\).*/\1/p' runs/latest/nodes/node0/qemu-cmdline.txt)
[ "$(echo "$b64" | base64 -d)" = "$(printf 'server=http://10.0.2.2:%s/v1/update/\nchannel=beta' "$port")" ] ||
    fail "the credential says: $(echo "$b64" | base64 -d)"
# the busybox guest has no updater: the update case is skipped with that reason, not failed
expect_jq runs/latest/results.json '.cases[] | select(.name=="verify_update_apply") | .status' skipped
expect_jq runs/latest/results.json '.cases[] | select(.name=="verify_update_apply") | .reason' \
    "the image has no kiln-updater (build it with updates:)"
expect_in "$log" "kiln serve: stopping"
no_server "after the run"
note "kiln serve on port $port for the run, credential server=http://10.0.2.2:$port/v1/update/ channel=beta, stopped at the end"

# SIGINT while the guest boots: the server ends with the run
"$KILN" run --runs-dir runs-int upd.yml > int.txt 2>&1 &
pid=$!
i=0
until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$T/" > /dev/null &&
      grep -q "listening on" runs-int/*/update-server.log 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 900 ] || { kill -9 $pid; fail "the run never started its VM and server"; }
    sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 130 ] || { cat int.txt; fail "kiln exited $rc after SIGINT, expected 130"; }
sleep 0.5
no_server "after SIGINT"
expect_no_qemu
note "SIGINT: kiln exited 130, no kiln serve or qemu left"

# kill -9 while the guest boots: nothing of kiln's can clean up; the server and qemu die with it
# (PDEATHSIG, util/proc.c), within a short bound
"$KILN" run --runs-dir runs-kill upd.yml > kill.txt 2>&1 &
pid=$!
i=0
until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$T/" > /dev/null &&
      grep -q "listening on" runs-kill/*/update-server.log 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 900 ] || { kill -9 $pid; fail "the run never started its VM and server"; }
    sleep 0.1
done
kill -9 $pid
wait $pid
i=0
while pgrep -f "kiln serve --listen 127.0.0.1:0 .*--gallery $T/G" > /dev/null ||
      pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" > /dev/null; do
    i=$((i + 1)); [ $i -le 50 ] || break
    sleep 0.1
done
no_server "5 s after kill -9"
expect_no_qemu
note "kill -9: no kiln serve or qemu left"

# without platform.qemu.update the update cases say what is missing
busybox_runbook plain <<YAML > plain.yml
testcase:
  - criteria: { name: "verify_update_opt_out" }
YAML
"$KILN" run --runs-dir runs-plain plain.yml > plain.txt 2>&1
expect_jq runs-plain/latest/results.json '.cases[0].reason' \
    "needs feature update: set platform.qemu.update {gallery, name} (docs/updates.md)"
exit 0
