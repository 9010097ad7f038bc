#!/bin/sh
# kiln keygen / sign / verify against stock minisign, both ways, with encrypted and unencrypted
# keys; tampering refused with the file named; the passphrase never printed. A provenance is
# also signed as a DSSE envelope that OpenSSL verifies on its own (Ed25519 over DSSE's PAE).
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

# provenance: NAME.provenance.json signed also gives NAME.intoto.jsonl, a DSSE envelope of the
# same statement that kiln verify checks and OpenSSL verifies independently
printf '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"image.raw","digest":{"sha256":"%s"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}\n' \
    "$(sha256sum image.raw | cut -d' ' -f1)" > img-1.0.provenance.json
"$KILN" sign -k rel.key img-1.0.provenance.json > dsse.txt 2>&1 || { cat dsse.txt; fail "kiln sign of a provenance"; }
expect_in dsse.txt "kiln sign: img-1.0.intoto.jsonl (DSSE envelope of img-1.0.provenance.json)"
[ "$(wc -l < img-1.0.intoto.jsonl)" = 1 ] || fail "the envelope is not one JSON line"
expect_jq img-1.0.intoto.jsonl .payloadType application/vnd.in-toto+json
# the keyid is the minisign key id: the key's 8 id bytes, little-endian, as minisign prints them
expect_jq img-1.0.intoto.jsonl '.signatures[0].keyid' "$(tail -n 1 rel.pub | base64 -d | od -An -tx1 -j2 -N8 | tr -d ' \n' |
    sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)/\8\7\6\5\4\3\2\1/' | tr a-f A-F)"
jq -r .payload img-1.0.intoto.jsonl | base64 -d | cmp - img-1.0.provenance.json || fail "the envelope's payload is not the provenance"
"$KILN" verify -p rel.pub img-1.0.intoto.jsonl > vd.txt 2>&1 || { cat vd.txt; fail "kiln verify rejects its DSSE envelope"; }
expect_in vd.txt "DSSE signature by key"
expect_in vd.txt "in-toto statement, predicate https://slsa.dev/provenance/v1, 1 subject(s)"
# OpenSSL: the Ed25519 key from rel.pub as SPKI DER, PAE(type, payload) built here, the signature
{ printf '\060\052\060\005\006\003\053\145\160\003\041\000'; tail -n 1 rel.pub | base64 -d | tail -c 32; } > ed.der
{ printf 'DSSEv1 28 application/vnd.in-toto+json %s ' "$(stat -c %s img-1.0.provenance.json)"; cat img-1.0.provenance.json; } > pae.bin
jq -r '.signatures[0].sig' img-1.0.intoto.jsonl | base64 -d > dsse.sig
openssl pkeyutl -verify -pubin -inkey ed.der -keyform DER -rawin -in pae.bin -sigfile dsse.sig > ossl.txt 2>&1 ||
    { cat ossl.txt; fail "OpenSSL does not verify kiln's DSSE signature"; }
# tampered: another subject digest in the payload, re-encoded; the envelope is refused
jq -c --arg p "$(jq -r .payload img-1.0.intoto.jsonl | base64 -d | sed 's/"sha256":"./"sha256":"X/' | base64 -w0)" '.payload = $p' \
    img-1.0.intoto.jsonl > bad.intoto.jsonl
expect_status 1 "$KILN" verify -p rel.pub bad.intoto.jsonl
expect_in "$T/err" "kiln verify: bad.intoto.jsonl: the signature by key"
expect_in "$T/err" "does not match the envelope (its payload, payload type or signature was changed)"
minisign -G -W -p other.pub -s other.key > /dev/null 2>&1 || fail "minisign -G"
expect_status 1 "$KILN" verify -p other.pub img-1.0.intoto.jsonl
expect_in "$T/err" "kiln verify: img-1.0.intoto.jsonl is signed by"

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
