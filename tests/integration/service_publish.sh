#!/bin/sh
# Self-service publishing through kiln serve (issue 14): jobs of the busybox test image
# submitted with --publish, as a version kiln build would lay out (the kernel and the initrd as
# its artifacts, both SBOMs, the provenance, the manifest; made here with jq, as gallery.sh does).
#  - unsigned, passed        -> refused, the job says which file is not signed; exit 4
#  - signed, failed          -> refused: only a passed job is published; exit 1
#  - signed by a key the tenant does not trust, passed -> refused, naming the key
#  - signed, passed          -> published in DATA/galleries/acme, catalog signed with the
#                               server's gallery key; `kiln gallery pull` verifies; the same
#                               version again is refused (versions only go up in a channel)
#  - a signed manifest renamed to pass for another version -> refused (its trusted comment)
#  - no-VM checks: publish files not uploaded by the tenant are 404 naming the file; a server
#    without --gallery-key refuses publish requests (400); the gallery key is in no log
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null || { echo "curl and jq are needed"; exit 77; }

BB=$KILN_BUSYBOX
data=$T/data
"$KILN" keygen --out tk --no-passphrase >/dev/null && "$KILN" keygen --out other --no-passphrase >/dev/null &&
    KILN_PASSPHRASE=gallery-pass-phrase "$KILN" keygen --out gk >/dev/null || fail "keygen"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --trust tk.pub --max-jobs 2 --data "$data" 2>/dev/null) || fail "tenant add acme"
W1=$("$KILN" worker add w1 --data "$data" 2>/dev/null) || fail "worker add"

sha() { sha256sum "$1" | cut -d' ' -f1; }
# mkver DIR NAME VERSION [KEY]: the busybox image as version NAME-VERSION in DIR, signed with
# KEY (none: unsigned)
mkver() {
    mkdir -p "$1"
    p=$1/$2-$3
    cp "$BB/vmlinuz" "$p.vmlinuz"
    cp "$BB/initrd.img" "$p.initrd.img"
    printf '{"spdxVersion":"SPDX-2.3","packages":[{"name":"%s","versionInfo":"%s","primaryPackagePurpose":"OPERATING-SYSTEM"}]}\n' \
        "$2" "$3" > "$p.spdx.json"
    printf '{"bomFormat":"CycloneDX","metadata":{"component":{"type":"operating-system","name":"%s"}}}\n' "$2" > "$p.cdx.json"
    k=$(sha "$p.vmlinuz") i=$(sha "$p.initrd.img") s=$(sha "$p.spdx.json") c=$(sha "$p.cdx.json")
    ks=$(stat -c %s "$p.vmlinuz") is=$(stat -c %s "$p.initrd.img")
    jq -n --arg n "$2" --arg v "$3" --arg k "$k" --arg i "$i" --arg s "$s" --arg c "$c" --argjson ks "$ks" --argjson is "$is" \
        '{name: $n, version: $v,
          artifacts: [{file: "\($n)-\($v).vmlinuz", sha256: $k, kind: "kernel", size: $ks},
                      {file: "\($n)-\($v).initrd.img", sha256: $i, kind: "initrd", size: $is}],
          sbom: [{file: "\($n)-\($v).spdx.json", sha256: $s}, {file: "\($n)-\($v).cdx.json", sha256: $c}]}' > "$p.manifest.json"
    jq -n --arg n "$2" --arg v "$3" --arg k "$k" --arg i "$i" --arg s "$s" --arg c "$c" '{_type: "https://in-toto.io/Statement/v1",
        predicateType: "https://slsa.dev/provenance/v1", subject: [{name: "\($n)-\($v).vmlinuz", digest: {sha256: $k}},
        {name: "\($n)-\($v).initrd.img", digest: {sha256: $i}}, {name: "\($n)-\($v).spdx.json", digest: {sha256: $s}},
        {name: "\($n)-\($v).cdx.json", digest: {sha256: $c}}]}' > "$p.provenance.json"
    if [ -n "${4:-}" ]; then "$KILN" sign -k "$4" "$p".* >/dev/null || fail "sign $p"; fi
}
mkver unsigned bbos 1.0
mkver signed bbos 1.0 tk.key
mkver untrusted bbos 1.1 other.key
mkver renamed bbos 1.2 tk.key
mkver resumed bbos 1.4 tk.key
# the 1.2 manifest (signed as bbos-1.2.manifest.json) renamed to pass for 1.3
mv renamed/bbos-1.2.manifest.json renamed/bbos-1.3.manifest.json
mv renamed/bbos-1.2.manifest.json.minisig renamed/bbos-1.3.manifest.json.minisig

start_serve() { # LOG ARGS...: a new kiln serve on a port of its own (lib.sh's serve_start)
    log=$1; shift
    : > "$log"
    port=
    serve_start "$log" --data "$data" --lease-s 20 "$@"
}

# --- a server without a gallery key publishes nothing: the request is refused, no job made ---
start_serve serve0.log
KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel signed/bbos-1.0.vmlinuz signed/bbos-1.0.initrd.img --publish stable \
    > nokey.out 2> nokey.err
[ $? -eq 2 ] || { cat nokey.err; fail "a publish request to a server without --gallery-key did not exit 2"; }
expect_in nokey.err "this server publishes nothing: it was started without --gallery-key"
kill -TERM $serve_pid; wait $serve_pid

# the key's passphrase from the environment; nothing of the secret key reaches the log
KILN_PASSPHRASE=gallery-pass-phrase start_serve serve.log --gallery-key gk.key
trap 'kill $serve_pid $w1_pid 2>/dev/null; sleep 1; rm -rf "$T"' EXIT
KILN_WORKER_TOKEN=$W1 "$KILN" worker --server "$S" --work "$T/w1" --slots 2 > w1.log 2>&1 &
w1_pid=$!
# an encrypted key takes seconds to read (scrypt): said before, not after a silence
expect_in serve.log "reading the gallery key gk.key (scrypt"
expect_in serve.log "tenants' galleries are signed with key $(sed -n 's/.*public key //p' gk.pub)"

# --- refused before anything runs: files that are not the tenant's uploads, bad names ---
h() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TA" "$@"; }
dg=$(sha signed/bbos-1.0.initrd.img)
curl -s -o /dev/null -H "Authorization: Bearer $TA" --data-binary @signed/bbos-1.0.initrd.img "$S/api/v1/images"
code=$(h -d "{\"image\":\"$dg\",\"publish\":{\"channel\":\"stable\",\"files\":{\"bbos-1.0.manifest.json\":\"$(printf '%064d' 7)\"}}}" "$S/api/v1/jobs")
[ "$code" = 404 ] || fail "a publish file nobody uploaded got $code, expected 404"
expect_jq "$T/body" .field "publish.files.bbos-1.0.manifest.json"
code=$(h -d "{\"image\":\"$dg\",\"publish\":{\"channel\":\"stable\",\"files\":{\"../etc/passwd\":\"$dg\"}}}" "$S/api/v1/jobs")
[ "$code" = 400 ] || fail "a publish file name with a path got $code, expected 400"
expect_jq "$T/body" .field "publish.files"
code=$(h -d "{\"image\":\"$dg\",\"publish\":{\"channel\":\"stable\"}}" "$S/api/v1/jobs")
[ "$code" = 400 ] || fail "publish without files got $code, expected 400"
expect_jq "$T/body" .field "publish.files"
code=$(h "$S/api/v1/jobs")
expect_jq "$T/body" '.jobs | length' 0

# submit TAG VERSION-DIR NAME-VERSION APPEND: kiln submit --publish stable --wait, its output in
# TAG.out and TAG.err, its exit status in TAG.rc
submit() {
    KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel "$2/$3.vmlinuz" --append "$4" "$2/$3.initrd.img" --tier 0 \
        --publish stable --wait > "$1.out" 2> "$1.err"
    echo $? > "$1.rc"
}
# result TAG: TAG's output as $T/out, $T/err, and $rc
result() { cp "$1.out" "$T/out"; cp "$1.err" "$T/err"; rc=$(cat "$1.rc"); }
ok_boot="console=ttyS0 quiet"
# the four refusals run side by side (two worker slots)
submit unsigned unsigned bbos-1.0 "$ok_boot" &
s1=$!
submit failed signed bbos-1.0 "console=ttyS0 rdinit=/nonexistent panic=-1" &
s2=$!
submit untrusted untrusted bbos-1.1 "$ok_boot" &
s3=$!
submit renamed renamed bbos-1.2 "$ok_boot" &
s4=$!
wait $s1 $s2 $s3 $s4

# --- unsigned, passed: refused, with the file that is not signed ---
result unsigned
[ $rc -eq 4 ] || { cat "$T/out" "$T/err"; fail "unsigned: kiln submit exited $rc, expected 4 (passed, publish refused)"; }
expect_in "$T/out" "passed   smoke"
expect_in "$T/err" "publish refused: not published: "
expect_in "$T/err" "bbos-1.0.manifest.json"
# the kernel and the initrd are the job's files and the version's: each is sent (or found) once
for f in bbos-1.0.initrd.img bbos-1.0.vmlinuz; do
    n=$(grep -cE "unsigned/$f (\(|is on the server already)" "$T/err")
    [ "$n" -eq 1 ] || { cat "$T/err"; fail "unsigned: kiln submit named $f $n times"; }
done
id=$(head -n 1 "$T/out")
h "$S/api/v1/jobs/$id" >/dev/null
expect_jq "$T/body" .result passed
expect_jq "$T/body" .publish.state refused
expect_jq "$T/body" '.publish.reason | test("not signed|minisig")' true
expect_not_in "$T/body" "$data"   # the refusal names the tenant's files, not the server's paths

# --- signed, failed: refused ---
result failed
[ $rc -eq 1 ] || { cat "$T/out" "$T/err"; fail "signed, failed: kiln submit exited $rc, expected 1"; }
expect_in "$T/err" "publish refused: not published: the job failed; only a job that passed is published"

# --- signed by a key the tenant does not trust, passed: refused naming the key ---
result untrusted
[ $rc -eq 4 ] || { cat "$T/out" "$T/err"; fail "untrusted key: kiln submit exited $rc, expected 4"; }
expect_in "$T/err" "$(sed -n 's/.*public key //p' other.pub)"
[ ! -e "$data/galleries/acme/images/bbos" ] || fail "a refused publish left files in the gallery"

# --- a signed manifest renamed to pass for another version: refused ---
result renamed
[ $rc -eq 4 ] || { cat "$T/out" "$T/err"; fail "renamed manifest: kiln submit exited $rc, expected 4"; }
expect_in "$T/err" "bbos-1.3.manifest.json: its signature was made for the file bbos-1.2.manifest.json, not this one"

# --- signed, passed: published; the pull verifies ---
submit passed signed bbos-1.0 "$ok_boot"
result passed
[ $rc -eq 0 ] || { cat "$T/out" "$T/err"; fail "signed, passed: kiln submit exited $rc, expected 0"; }
expect_in "$T/err" "publish published: bbos 1.0 in channel stable"
G=$data/galleries/acme
"$KILN" gallery list --gallery "$G" > list.txt 2>&1 || { cat list.txt; fail "gallery list"; }
expect_in list.txt "signed by key $(sed -n 's/.*public key //p' gk.pub)"
grep -q '^bbos *1\.0' list.txt || { cat list.txt; fail "the gallery does not list bbos 1.0"; }
expect_status 0 "$KILN" gallery pull bbos@1.0 --gallery "$G" --out pulled
cmp -s pulled/bbos-1.0.initrd.img "$BB/initrd.img" || fail "the pulled initrd is not the image that was validated"
expect_status 0 "$KILN" verify -p tk.pub pulled/bbos-1.0.initrd.img
# the run that passed is the one the signed entry pins
expect_jq "$G/images/bbos/1.0/entry.json" .run.tested bbos-1.0.initrd.img
expect_jq "$G/images/bbos/1.0/entry.json" .run.results_sha256 "$(sha "$G/images/bbos/1.0/run/results.json")"
# --- the same version again: refused, versions only go up in a channel ---
submit again signed bbos-1.0 "$ok_boot"
result again
[ $rc -eq 4 ] || { cat "$T/out" "$T/err"; fail "republish: kiln submit exited $rc, expected 4"; }
expect_in "$T/err" "bbos 1.0 is already published in stable"

# --- the server killed (-9) while publishing: the restarted server resumes the publish ---
# The test holds the gallery's lock, so the publisher waits inside gallery_publish (state
# "publishing") for as long as the test likes; then kill -9, let go, start the server again.
jobs_publish() { curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$1" | jq -r '.publish.state // "-"'; }
# (the subshell becomes the sleep holding the lock: killing it lets go)
( exec 9> "$G/.lock"; flock 9; exec sleep 900 ) &
lock_pid=$!
rid=$(KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel resumed/bbos-1.4.vmlinuz --append "$ok_boot" resumed/bbos-1.4.initrd.img \
    --tier 0 --publish stable 2> resumed.err) || { cat resumed.err; fail "submit bbos 1.4"; }
for i in $(seq 900); do [ "$(jobs_publish "$rid")" = publishing ] && break; sleep 0.5; done
[ "$(jobs_publish "$rid")" = publishing ] || fail "job $rid never started publishing: $(jobs_publish "$rid")"
sleep 1
kill -9 $serve_pid
wait $serve_pid 2>/dev/null
kill $lock_pid
wait $lock_pid 2>/dev/null
[ "$(sqlite3 "$data/kiln.db" "SELECT publish_state FROM jobs WHERE id = $rid")" = publishing ] || fail "the killed publish is not left publishing"
KILN_PASSPHRASE=gallery-pass-phrase start_serve serve2.log --gallery-key gk.key
for i in $(seq 240); do case $(jobs_publish "$rid") in published | refused) break ;; esac; sleep 0.5; done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$rid" > resumed.json
[ "$(jq -r .publish.state resumed.json)" = published ] || { jq -c .publish resumed.json; tail -n 30 serve2.log; fail "the resumed publish did not publish"; }
expect_jq resumed.json .publish.reason "bbos 1.4 in channel stable"
expect_in serve2.log "job $rid: the server publishing it stopped; its publish is resumed"
expect_in serve2.log "job $rid: resuming its publish (taken 2 times)"
expect_status 0 "$KILN" gallery pull bbos@1.4 --gallery "$G" --out pulled14
cmp -s pulled14/bbos-1.4.initrd.img "$BB/initrd.img" || fail "the resumed publish is not the image validated"
note "kill -9 while job $rid was publishing: the restarted server resumed it and published bbos 1.4 (pulled, verified)"
# killed after the gallery committed but before the outcome was recorded: the resumed publish
# finds its version in the channel with the same manifest and says published, not "already there"
kill -TERM $serve_pid; wait $serve_pid
sqlite3 "$data/kiln.db" "UPDATE jobs SET publish_state = 'publishing', publish_reason = NULL WHERE id = $rid" || fail "sqlite3"
KILN_PASSPHRASE=gallery-pass-phrase start_serve serve3.log --gallery-key gk.key
for i in $(seq 240); do case $(jobs_publish "$rid") in published | refused) break ;; esac; sleep 0.5; done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$rid" > resumed2.json
expect_jq resumed2.json .publish.state published
expect_jq resumed2.json .publish.reason "bbos 1.4 in channel stable (before the server that published it stopped)"
note "a publish cut off after the gallery committed is recorded as published on restart"
# cut off between moving the version into the gallery and writing the index that lists it
# (here: that index removed): the gallery does not read until the resumed publish takes the
# unlisted directory out and publishes the version again
kill -TERM $serve_pid; wait $serve_pid
newest=$(ls "$G/index" | grep -E '^[0-9]{10}\.json$' | sort | tail -n 1)
rm "$G/index/$newest" "$G/index/$newest.minisig"
expect_status 1 env KILN_STATE_DIR="$T/state-cut" "$KILN" gallery list --gallery "$G"
expect_in "$T/err" "a publish was cut off before it wrote its index"
# (taken once before, as a job cut off the first time: the two stops above count towards the bound)
sqlite3 "$data/kiln.db" "UPDATE jobs SET publish_state = 'publishing', publish_reason = NULL, publish_takes = 1 WHERE id = $rid" || fail "sqlite3"
KILN_PASSPHRASE=gallery-pass-phrase start_serve serve4.log --gallery-key gk.key
for i in $(seq 240); do case $(jobs_publish "$rid") in published | refused) break ;; esac; sleep 0.5; done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$rid" > resumed3.json
[ "$(jq -r .publish.state resumed3.json)" = published ] || { jq -c .publish resumed3.json; tail -n 30 serve4.log; fail "the cut-off publish did not publish"; }
expect_jq resumed3.json .publish.reason "bbos 1.4 in channel stable"
expect_in serve4.log "removed bbos 1.4 from $G: its publish was cut off before the gallery's index listed it"
expect_status 0 env KILN_STATE_DIR="$T/state-cut" "$KILN" gallery pull bbos@1.4 --gallery "$G" --out pulled14b
cmp -s pulled14b/bbos-1.4.initrd.img "$BB/initrd.img" || fail "the republished initrd is not the image validated"
note "a publish cut off before its index was written: the unlisted version removed and published again on restart"
# the bound: a publish whose server stopped a third time is refused, saying so
kill -TERM $serve_pid; wait $serve_pid
sqlite3 "$data/kiln.db" "UPDATE jobs SET publish_state = 'publishing', publish_reason = NULL, publish_takes = 3 WHERE id = $rid" || fail "sqlite3"
KILN_PASSPHRASE=gallery-pass-phrase start_serve serve5.log --gallery-key gk.key
for i in $(seq 240); do case $(jobs_publish "$rid") in published | refused) break ;; esac; sleep 0.5; done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$rid" > refused3.json
expect_jq refused3.json .publish.state refused
expect_jq refused3.json .publish.reason "not published: the server stopped while publishing this job 3 times; it is not tried again (see the server's log, then submit it again)"

kill -TERM $serve_pid $w1_pid
wait $serve_pid $w1_pid
expect_no_qemu
[ -z "$(ls -A "$G/images/bbos" | grep -v '^1\.[04]$')" ] || fail "a refused publish left files: $(ls -A "$G/images/bbos")"
[ -z "$(ls -A "$data/galleries/.publishing")" ] || fail "publishing left its work directory or lock: $(ls -A "$data/galleries/.publishing")"
! grep -qF gallery-pass-phrase serve.log w1.log || fail "the gallery key's passphrase is in a log"
! grep -rqF "$(sed -n 2p gk.key)" serve.log w1.log "$data" || fail "the gallery's secret key is in a log or under $data"
! grep -qF "${TA#kt_}" serve.log w1.log || fail "the tenant token is in a log"
echo "service_publish: unsigned, failed, untrusted, renamed and repeated versions refused; the signed passed one published and pulled; a publish cut off by kill -9 resumed on restart"
