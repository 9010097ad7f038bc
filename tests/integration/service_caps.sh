#!/bin/sh
# What a worker offers comes from evidence, and a job goes only to a worker offering what it
# requires (kiln issue 14): two `kiln worker`s on this host, one started with --withhold
# tpm,secure-boot. The other declares tpm (swtpm runs here) and secure-boot (OVMF's Secure
# Boot build with Microsoft's keys is here) exactly when this host has them, as the qemu
# platform would use them; a job submitted with --require tpm is skipped by the withholding
# worker (it takes a later job without requirements instead: claims are first in, first out)
# and runs on the other. $KILN_SWTPM empty withholds tpm the way the platform knows. Jobs are
# cancelled once assigned: no case has to run.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null && command -v jq >/dev/null || { echo "curl and jq are needed"; exit 77; }
data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --max-jobs 4 --data "$data" 2>/dev/null) || fail "tenant add"
WN=$("$KILN" worker add wno --data "$data" 2>/dev/null) || fail "worker add wno"
WT=$("$KILN" worker add wtpm --data "$data" 2>/dev/null) || fail "worker add wtpm"
WE=$("$KILN" worker add wenv --data "$data" 2>/dev/null) || fail "worker add wenv"
serve_start serve.log --data "$data"
pids=$serve_pid
trap 'for p in $pids; do kill $p 2>/dev/null; done; sleep 1; rm -rf "$T"' EXIT

# what this host has, as the platform would use it
have_tpm=false
swtpm socket --tpm2 --print-capabilities 2>/dev/null | grep -q '"tpm-2.0"' && have_tpm=true
have_sb=false
[ -s /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] && [ -s /usr/share/OVMF/OVMF_VARS_4M.ms.fd ] && have_sb=true
$have_tpm || { echo "swtpm is not installed or does not run: nothing to offer"; exit 77; }

caps() { # NAME FIELD: the worker's declared capability
    curl -s -H "Authorization: Bearer $TA" "$S/api/v1/workers" | jq -r ".workers[] | select(.name == \"$1\") | .caps.$2"
}
wait_declared() { # NAME
    for i in $(seq 300); do [ "$(caps "$1" arch)" != "" ] && [ "$(caps "$1" arch)" != null ] && return 0; sleep 0.2; done
    fail "worker $1 never declared what it offers"
}
job() { curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$1"; }

expect_status 2 "$KILN" worker --server "$S" --withhold tpm,gpu
expect_in "$T/err" "kiln worker: --withhold tpm,gpu: gpu is not a feature a worker offers (uefi, tpm, secure-boot)"
expect_status 2 "$KILN" submit --server "$S" --require nvme x.img
expect_in "$T/err" "kiln submit: --require nvme: want uefi, tpm or secure-boot (what a worker offers)"

# an image that boots only through UEFI (an ESP, no BIOS boot partition, as kiln build writes
# for boot: uefi) requires uefi without --require: booted by SeaBIOS it would show a blank
# console until the SSH wait gave up; one with a BIOS boot partition requires nothing. Checked
# (and cancelled) before any worker runs.
truncate -s 40M esp.raw && sgdisk -n1:2048:+16M -t1:ef00 esp.raw > /dev/null 2>&1 || fail "sgdisk"
cp esp.raw hybrid.raw && sgdisk -n2:0:+1M -t2:ef02 hybrid.raw > /dev/null 2>&1 || fail "sgdisk"
for img in esp hybrid; do
    id=$(KILN_TOKEN=$TA "$KILN" submit --server "$S" --name "$img" "$img.raw" 2> "submit-$img.err") || { cat "submit-$img.err"; fail "submit $img.raw"; }
    job "$id" > "j-$img.json"
    curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id/cancel" > /dev/null || fail "cancel $id"
done
# the server finds it (an API client gets it too) and kiln submit prints what the server says
expect_in submit-esp.err "kiln submit: esp.raw: the image boots only through UEFI (an EFI system partition, no BIOS boot partition): the job requires uefi"
expect_jq j-esp.json .requirements.uefi true
grep -q "boots only through UEFI" submit-hybrid.err && fail "an image with a BIOS boot partition was taken for UEFI-only"
expect_jq j-hybrid.json '.requirements.uefi // false' false
note "a UEFI-only image requires uefi by itself; one with a BIOS boot partition does not"

# what is not a disk image is refused before a job is made, saying what the server saw
printf 'this is a text file, not a disk\n' > notes.qcow2
expect_status 2 env KILN_TOKEN="$TA" "$KILN" submit --server "$S" notes.qcow2
expect_in "$T/err" "HTTP 400: image: image sha256:$(sha256sum notes.qcow2 | cut -c1-12): it is not a bootable disk image: read as raw (32 bytes) it has no partition table (GPT or MBR), and its first bytes are text (\"this is a text file, not a disk \")"
# a runbook is checked with kiln check's loader: a criteria typo is refused with its message,
# at the line and column of the submitted file
printf 'name: typo\ntestcase:\n  - criteria: { priorty: 0 }\n' > typo.yml
expect_status 2 env KILN_TOKEN="$TA" "$KILN" submit --server "$S" --runbook typo.yml hybrid.raw
expect_in "$T/err" 'runbook.yml:3:17: testcase[0].criteria.priorty: unknown key "priorty"; did you mean "priority"?'
# examples/tier0.yml includes the platform it runs on: kiln submit merges its includes and
# leaves out what the service sets, and the job is queued
expect_status 0 env KILN_TOKEN="$TA" "$KILN" submit --server "$S" --runbook "$KILN_ROOT/examples/tier0.yml" hybrid.raw
expect_in "$T/err" "sent with its includes merged; left out, as the service sets them: vulnerability_feed, platform"
jt=$(cat "$T/out")
curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$jt/cancel" > /dev/null || fail "cancel $jt"
expect_not_in "$T/err" "keep_environment"
# platform.keep_environment is what a user counts on happening: that the service does not keep
# a worker's VMs is said on its own (it went under "left out: platform": hostile finding)
printf 'name: keep\ninclude:\n  - path: %s\nplatform: { keep_environment: failed }\n' "$KILN_ROOT/examples/tier0.yml" > keep.yml
expect_status 0 env KILN_TOKEN="$TA" "$KILN" submit --server "$S" --runbook keep.yml hybrid.raw
expect_in "$T/err" "kiln submit: --runbook keep.yml: platform.keep_environment: failed is not honoured by the service: a worker ends the job's VMs with the job (no one could reach them there); to keep them, run the runbook with kiln run"
curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$(cat "$T/out")/cancel" > /dev/null || fail "cancel the keep job"
[ "$(curl -s "$S/api/v1/jobs?state=queued" -H "Authorization: Bearer $TA" | jq '.jobs | length')" = 0 ] || fail "a refused submission queued a job"
note "a text file named .qcow2 and a runbook with a criteria typo were refused with what was wrong; tier0.yml was sent with its includes merged"

KILN_WORKER_TOKEN=$WN "$KILN" worker --server "$S" --work "$T/wno" --withhold tpm,secure-boot > wno.log 2>&1 &
pids="$pids $!"
wait_declared wno
[ "$(caps wno tpm)" = false ] && [ "$(caps wno secure_boot)" = false ] || fail "wno offers what it withholds: $(caps wno tpm) $(caps wno secure_boot)"
[ "$(caps wno uefi)" = true ] || fail "wno does not offer uefi (OVMF is installed)"
expect_in wno.log "features: uefi"

BB=$KILN_BUSYBOX
submit() { KILN_TOKEN=$TA "$KILN" submit --server "$S" --kernel "$BB/vmlinuz" --cpus 1 --memory-mb 256 "$@" "$BB/initrd.img" 2> submit.err ||
    { cat submit.err; fail "submit $*"; }; }
ja=$(submit --require tpm --name needs-tpm)
expect_jq_api() { job "$1" > j.json; expect_jq j.json "$2" "$3"; }
expect_jq_api "$ja" .requirements.tpm true
jb=$(submit --name plain)
# wno takes the later job it can run, never the earlier one that needs a TPM
for i in $(seq 300); do [ "$(job "$jb" | jq -r .worker)" = wno ] && break; sleep 0.2; done
[ "$(job "$jb" | jq -r .worker)" = wno ] || fail "wno did not take job $jb: $(job "$jb" | jq -c '{state, worker}')"
expect_jq_api "$ja" .state queued
curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$jb/cancel" > /dev/null || fail "cancel $jb"
note "wno (tpm withheld) took job $jb and left job $ja (requires tpm) queued"

KILN_WORKER_TOKEN=$WT "$KILN" worker --server "$S" --work "$T/wtpm" > wtpm.log 2>&1 &
pids="$pids $!"
wait_declared wtpm
[ "$(caps wtpm tpm)" = true ] || fail "wtpm does not offer tpm though swtpm runs here: $(cat wtpm.log)"
[ "$(caps wtpm secure_boot)" = "$have_sb" ] || fail "wtpm offers secure_boot $(caps wtpm secure_boot), the host has it: $have_sb"
for i in $(seq 300); do [ "$(job "$ja" | jq -r .worker)" = wtpm ] && break; sleep 0.2; done
[ "$(job "$ja" | jq -r .worker)" = wtpm ] || fail "job $ja did not go to wtpm: $(job "$ja" | jq -c '{state, worker}')"
curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$ja/cancel" > /dev/null || fail "cancel $ja"
note "wtpm offers tpm (swtpm runs) and secure_boot=$have_sb; job $ja went to it"

# the platform's own knob: an empty $KILN_SWTPM means no TPM for guests, so none is offered
KILN_SWTPM= KILN_WORKER_TOKEN=$WE "$KILN" worker --server "$S" --work "$T/wenv" > wenv.log 2>&1 &
pids="$pids $!"
wait_declared wenv
[ "$(caps wenv tpm)" = false ] || fail "wenv offers tpm with KILN_SWTPM empty"
expect_in wenv.log "no tpm: \$KILN_SWTPM is set empty (unset it to use swtpm from \$PATH)"
for id in $ja $jb; do
    for i in $(seq 300); do [ "$(job "$id" | jq -r .state)" = cancelled ] && break; sleep 0.2; done
done
for p in $pids; do kill -TERM $p 2>/dev/null; done
for p in $pids; do wait $p 2>/dev/null; done
pids=
expect_no_qemu
echo "service_caps: tpm and secure-boot offered from evidence, withheld on request; a tpm job went only to the worker offering it"
