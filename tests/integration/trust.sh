#!/bin/sh
# kiln keygen / sign / verify against stock minisign, both ways, with encrypted and unencrypted
# keys; tampering refused with the file named; the passphrase never printed.
. "$(dirname "$0")/lib.sh"
command -v minisign >/dev/null || { echo "skip: minisign not installed"; exit 77; }
head -c 3000000 /dev/urandom > image.raw
export KILN_PASSPHRASE=kiln-test-passphrase-7f3a

# kiln key (encrypted), kiln signs, stock minisign verifies
"$KILN" keygen --out rel > keygen.txt 2>&1 || { cat keygen.txt; fail "keygen"; }
head -n 1 rel.key | grep -q "encrypted" || fail "the secret key is not encrypted"
[ "$(stat -c %a rel.key)" = 600 ] || fail "secret key mode is $(stat -c %a rel.key)"
"$KILN" sign -k rel.key -t "name:demo version:1.0.0" image.raw > sign.txt 2>&1 || { cat sign.txt; fail "sign"; }
minisign -Vm image.raw -p rel.pub > v1.txt 2>&1 || { cat v1.txt; fail "stock minisign rejects kiln's signature"; }
expect_in v1.txt "Trusted comment: name:demo version:1.0.0"
"$KILN" verify -p rel.pub image.raw > v2.txt 2>&1 || { cat v2.txt; fail "kiln rejects its own signature"; }
# stock minisign can use kiln's encrypted key too
printf '%s\n' "$KILN_PASSPHRASE" | minisign -S -s rel.key -m image.raw -x by-minisign.minisig > ms.txt 2>&1 ||
    { cat ms.txt; fail "stock minisign cannot open kiln's encrypted key"; }
"$KILN" verify -p rel.pub -x by-minisign.minisig image.raw > v3.txt 2>&1 || { cat v3.txt; fail "kiln rejects minisign's signature"; }

# minisign's key (unencrypted), minisign signs, kiln verifies; kiln signs with minisign's key
minisign -G -W -p ms.pub -s ms.key > /dev/null 2>&1 || fail "minisign -G"
cp image.raw other.raw
minisign -S -s ms.key -m other.raw -t "from minisign" > /dev/null 2>&1 || fail "minisign -S"
"$KILN" verify -p ms.pub other.raw > v4.txt 2>&1 || { cat v4.txt; fail "kiln rejects a stock minisign signature"; }
expect_in v4.txt "trusted comment: from minisign"
"$KILN" sign -k ms.key other.raw > /dev/null 2>&1 || fail "kiln cannot sign with minisign's key"
minisign -Vm other.raw -p ms.pub > /dev/null 2>&1 || fail "minisign rejects kiln's signature made with its key"

# tampering and wrong keys: refused, the file named
# (the byte is random: write it back with one bit changed, so the file always differs)
b=$(od -An -tu1 -j1000 -N1 image.raw | tr -d ' ')
printf "\\$(printf %o $((b ^ 1)))" | dd of=image.raw bs=1 seek=1000 conv=notrunc status=none
expect_status 1 "$KILN" verify -p rel.pub image.raw
expect_in "$T/err" "image.raw does not match its signature"
expect_status 1 "$KILN" verify -p ms.pub other.raw -x image.raw.minisig
expect_in "$T/err" "was made with key"
head -c 40 image.raw.minisig > cut.minisig
expect_status 1 "$KILN" verify -p rel.pub -x cut.minisig other.raw
expect_in "$T/err" "not a valid minisign signature"
expect_status 1 env KILN_PASSPHRASE=wrong "$KILN" sign -k rel.key other.raw
expect_in "$T/err" "wrong passphrase"
# a FIFO (no writer) or a device to sign or verify: refused at once, not waited on, as a wrong
# input (2), apart from a signature that does not verify (1)
mkfifo pipe.raw
expect_status 2 timeout 20 "$KILN" sign -k rel.key pipe.raw
expect_in "$T/err" "kiln sign: pipe.raw is a FIFO, not a regular file: kiln signs and verifies regular files only"
cp image.raw.minisig zero.raw.minisig && ln -s /dev/zero zero.raw
expect_status 2 timeout 20 "$KILN" verify -p rel.pub zero.raw
expect_in "$T/err" "kiln verify: zero.raw is a character device, not a regular file: kiln signs and verifies regular files only"
# a missing file, key or -x signature is 2 naming the path; a file with no FILE.minisig is not
# signed: the verification fails (1), with --json as a verdict on stdout
expect_status 2 "$KILN" verify -p rel.pub nosuch.raw
expect_in "$T/err" "kiln verify: cannot read nosuch.raw: No such file or directory"
expect_status 2 "$KILN" verify -p nosuch.pub image.raw
expect_in "$T/err" "kiln verify: cannot read nosuch.pub"
expect_status 2 "$KILN" verify -p rel.pub -x nosuch.minisig image.raw
expect_in "$T/err" "kiln verify: cannot read nosuch.minisig"
expect_status 2 "$KILN" sign -k rel.key image.raw nosuch.raw
expect_in "$T/err" "kiln sign: cannot read nosuch.raw"
head -c 100 /dev/urandom > unsigned.raw
expect_status 1 "$KILN" verify -p rel.pub unsigned.raw --json
expect_jq "$T/out" '"\(.verified) \(.signature) \(.error | test("unsigned.raw.minisig"))"' "false unsigned.raw.minisig true"
expect_status 1 "$KILN" verify -p rel.pub image.raw --json
expect_jq "$T/out" '"\(.verified) \(.trusted_comment)"' "false null"
expect_in "$T/err" "image.raw does not match its signature"
expect_status 0 "$KILN" verify -p ms.pub other.raw --json
expect_jq "$T/out" '"\(.verified) \(.file) \(.error)"' "true other.raw null"
# the passphrase never reaches output
! grep -rqF "$KILN_PASSPHRASE" ./*.txt "$T/out" "$T/err" || fail "the passphrase was printed"
exit 0
