#!/bin/sh
# kiln build's storage.encrypt: tpm2 and verify_encrypted_root. examples/images/debian-encrypted.yml
# is built (the package tree is cached once): the root partition is a LUKS2 header with an empty
# passphrase (slot 0) and the recovery key (slot 1, a systemd-recovery token), which is only in
# the 0600 .recovery-key file: not in the build's output, the manifest, the SBOMs or the
# provenance. examples/cvm-encrypted.yml boots it with a swtpm: the first boot seals the key to PCR 7
# and wipes the empty passphrase, the next boots unlock with the TPM, and the TPM refuses the key
# once PCR 7 is extended: the case passes. Defects, each an image built from the same spec: the
# enrollment sealed to no PCR (a drop-in over kiln-tpm2-enroll.service with --tpm2-pcrs=), and the
# enrollment never run (the unit masked: the empty passphrase still opens the root); each fails
# naming its evidence. No TPM offered: skipped saying so, no VM. SIGINT while the VM boots: exit
# 130, no swtpm or qemu left. Three builds (15 minutes for the package tree on a loaded host when
# it is not cached, then about a minute each: 13 s of it the encryption), three Debian VMs under
# TCG with seven boots (18 minutes in all, measured at a load of 8-16 on 2 cores).
# fails: verify_encrypted_root
# passes: verify_encrypted_root
. "$(dirname "$0")/lib.sh"
command -v swtpm >/dev/null || { echo "swtpm is not installed (scripts/deps.sh installs it)"; exit 77; }
command -v cryptsetup >/dev/null || { echo "cryptsetup is not installed (scripts/deps.sh installs it)"; exit 77; }
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || { echo "no OVMF (apt-get install ovmf)"; exit 77; }

src=$T/spec
mkdir -p "$src"
cp -r "$KILN_ROOT/examples/images/files" "$src/"
cp "$KILN_ROOT/examples/images/debian-encrypted.yml" "$src/spec.yml"
# the defects: sealed to no PCR at all; never enrolled
mkdir -p "$src/files/defect"
printf '%s\n' '[Service]' 'ExecStart=' \
    'ExecStart=/usr/bin/systemd-cryptenroll --tpm2-device=auto --tpm2-pcrs= --wipe-slot=empty /dev/disk/by-partlabel/root-x86-64' \
    'ExecStart=/bin/mkdir -p /var/lib/kiln' 'ExecStart=/bin/touch /var/lib/kiln/tpm2-enrolled' > "$src/files/defect/nopcr.conf"
sed -e 's/^name: .*/name: enc-nopcr/' \
    -e 's|^  files:|  files:\n    - { src: files/defect/nopcr.conf, dst: /etc/systemd/system/kiln-tpm2-enroll.service.d/50-defect.conf, mode: "0644" }|' \
    "$src/spec.yml" > "$src/nopcr.yml"
sed -e 's/^name: .*/name: enc-unenrolled/' \
    -e 's/services: { enable: \[\(.*\)\] }/services: { enable: [\1], mask: [kiln-tpm2-enroll.service] }/' \
    "$src/spec.yml" > "$src/unenrolled.yml"
grep -q 'mask: \[kiln-tpm2-enroll.service\]' "$src/unenrolled.yml" || fail "the unenrolled spec was not made"
grep -q '50-defect.conf' "$src/nopcr.yml" || fail "the nopcr spec was not made"

"$KILN" build "$src/spec.yml" --out images > build.txt 2>&1 || { cat build.txt; fail "kiln build failed"; }
cat build.txt
base=images/debian-encrypted-1.0.0
key=$base.recovery-key
expect_in build.txt "the root volume's recovery key is in images/debian-encrypted-1.0.0.recovery-key (mode 0600"
[ "$(stat -c %a $key)" = 600 ] || fail "$key is mode $(stat -c %a $key), expected 600"
grep -Eqx '([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}' $key || fail "$key is not a systemd recovery key: $(wc -c < $key) bytes"
# the key in no other output and not in the build's output
! grep -rlF -f $key images build.txt | grep -v '\.recovery-key$' || fail "the recovery key is in another output"
! jq -e '.artifacts | tostring | test("recovery")' $base.manifest.json >/dev/null || fail "the manifest lists the recovery key"
expect_jq $base.manifest.json '.partitions[] | select(.name=="root-x86-64") | .filesystem.type' crypto_LUKS
expect_jq $base.manifest.json '.partitions[] | select(.name=="root-x86-64") | .filesystem.inner.type' ext4
luks=$(jqv $base.manifest.json '.partitions[] | select(.name=="root-x86-64") | .filesystem.uuid')
expect_in $base.manifest.json "root=/dev/mapper/root rd.luks.name=$luks=root rd.luks.options=$luks=tpm2-device=auto,try-empty-password"
"$KILN" inspect $base.qcow2 > inspect.txt 2>&1 || { cat inspect.txt; fail "kiln inspect failed"; }
expect_in inspect.txt "root-x86-64   1.9 GiB"
expect_in inspect.txt "crypto_LUKS (LUKS2) uuid=$luks"
# the header as built, read from the qcow2 (qemu-img dd counts its blocks from the start of the input)
off=$(jqv $base.manifest.json '.partitions[] | select(.name=="root-x86-64") | .offset')
s=$((off / 1048576))
qemu-img dd -f qcow2 -O raw bs=1M skip=$s count=$((s + 16)) if=$base.qcow2 of=hdr.raw || fail "cannot read the root partition's header"
cryptsetup luksDump --dump-json-metadata hdr.raw > hdr.json || fail "the root partition is not LUKS2"
expect_jq hdr.json '.keyslots | keys | join(",")' 0,1
expect_jq hdr.json '[.tokens[] | .type] | join(",")' systemd-recovery
expect_jq hdr.json '.tokens[] | .keyslots | join(",")' 1
expect_status 0 cryptsetup open --test-passphrase --key-file $key --key-slot 1 hdr.raw
printf '\n' | cryptsetup open --test-passphrase --disable-external-tokens --key-slot 0 hdr.raw || fail "the empty passphrase does not open slot 0"
note "built: LUKS2 root ($luks), empty passphrase and recovery key slots, the key only in its 0600 file"

# no TPM offered: skipped saying why, no VM
KILN_SWTPM= "$KILN" run -v image="$T/$base.qcow2" --runs-dir runs-n "$KILN_ROOT/examples/cvm-encrypted.yml" verify_encrypted_root > out-n.txt 2>&1
expect_jq runs-n/latest/results.json '.cases[] | select(.name=="verify_encrypted_root") | .reason' 'needs feature tpm, $KILN_SWTPM is set empty (unset it to use swtpm from $PATH)'
[ ! -e runs-n/latest/nodes ] || fail "a VM was deployed though the case was skipped"

# SIGINT while the VM with its TPM boots the encrypted image: kiln exits 130, nothing is left
"$KILN" run -v image="$T/$base.qcow2" --runs-dir runs-i "$KILN_ROOT/examples/cvm-encrypted.yml" verify_encrypted_root > out-i.txt 2>&1 &
pid=$!
i=0
until pgrep -f "qemu-system-x86_64 -name kiln-node0 .*$TMPDIR/" >/dev/null; do
    i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; cat out-i.txt; fail "qemu never started"; }
    sleep 0.1
done
pgrep -f "swtpm socket .*$T/" >/dev/null || fail "no swtpm runs beside the VM"
sleep 5
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 130 ] || { cat out-i.txt; fail "kiln exited $rc after SIGINT, expected 130"; }
sleep 0.5
expect_no_swtpm
expect_no_qemu
note "SIGINT while the VM boots: exit 130, no swtpm or qemu left"

# the image as built: the case passes
"$KILN" run -v image="$T/$base.qcow2" --runs-dir runs "$KILN_ROOT/examples/cvm-encrypted.yml" verify_encrypted_root > run.txt 2>&1 || { cat run.txt; fail "the cvm-encrypted run failed"; }
cat run.txt
r=runs/latest/results.json
expect_jq "$r" '.cases[] | select(.name=="verify_encrypted_root") | .status' passed
l=runs/latest/cases/verify_encrypted_root/log.txt
# a pass's reason is the case log's last word before its result
reason=$(grep '^/dev/vda2 is LUKS2' $l)
case $reason in "/dev/vda2 is LUKS2, unlocked this boot by its TPM2 token (keyslot "*", PCRs [7]"*"no empty passphrase opens it (tokens: systemd-recovery, systemd-tpm2); the TPM unseals the key of /dev/vda2 with PCR 7 as booted and refuses once PCR 7 changed (cryptsetup open --token-only exited "*"); the reboot after it unlocked by the TPM again") ;;
    *) fail "verify_encrypted_root reason: $reason" ;; esac
expect_in $l "rebooting (this boot was not unlocked by the TPM"
expect_in $l "rebooting (to reset PCR 7)"
expect_in $l "tpm2_pcrextend 7:sha256="
# the TPM's own refusal, through cryptsetup's systemd-tpm2 token plugin
expect_in $l "Current policy digest does not match stored policy digest"
# the first boot took the empty passphrase (systemd-cryptsetup's "Set cipher"), later ones the TPM
expect_in $l "Set cipher aes, mode xts-plain64"
! grep -F -f $key runs -r >/dev/null || fail "the recovery key is in the run's files"
expect_no_swtpm
expect_no_qemu
note "the built image: sealed to PCR 7, unlocked by the TPM, refused after PCR 7 changed"

# defects: each fails naming its evidence
for d in nopcr unenrolled; do
    "$KILN" build "$src/$d.yml" --out images-$d > build-$d.txt 2>&1 || { cat build-$d.txt; fail "kiln build $d failed"; }
    img=$(ls "$T"/images-$d/*.qcow2)
    "$KILN" run -v image="$img" --runs-dir runs-$d "$KILN_ROOT/examples/cvm-encrypted.yml" verify_encrypted_root > run-$d.txt 2>&1
    rc=$?
    cat run-$d.txt
    [ "$rc" -eq 1 ] || fail "the $d run exited $rc, expected 1 (the case failed)"
    reason=$(jqv runs-$d/latest/results.json '.cases[] | select(.name=="verify_encrypted_root") | .reason')
    case $d:$reason in
        "nopcr:the TPM2 token of /dev/vda2 (keyslot "*") is sealed to PCRs [none], not to PCR 7: the key unseals whatever the Secure Boot state and keys") ;;
        "unenrolled:no keyslot of /dev/vda2 is sealed to the TPM: its LUKS2 header has no systemd-tpm2 token (tokens: systemd-recovery); an empty passphrase opens it (never enrolled?)") ;;
        *) fail "$d: verify_encrypted_root reason: $reason" ;;
    esac
    expect_no_swtpm
    expect_no_qemu
    rm -rf images-$d
    note "defect $d caught: $reason"
done
exit 0
