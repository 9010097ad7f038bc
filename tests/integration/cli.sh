#!/bin/sh
# One command-line convention for every verb that parses through cmd_parse (src/cmd/common.h):
# help on stdout with exit 0 three ways, an unknown option named (exit 2, the try line), --opt=value
# as good as --opt value, a missing input exit 2 naming the path, and --json verdicts and listings
# that jq parses with the fields the help documents. No VM.
. "$(dirname "$0")/lib.sh"
for t in jq mke2fs sgdisk; do command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }; done

# --- help, unknown option: for every converted verb and subcommand
# VERB(S)|what its usage line starts with
help_table='build|usage: kiln build SPEC
convert|usage: kiln convert IN OUT
inspect|usage: kiln inspect IMAGE
keygen|usage: kiln keygen --out BASE
sign|usage: kiln sign -k SECRET.key
verify|usage: kiln verify -p PUBLIC.pub
publish|usage: kiln publish OUT/NAME-VERSION
gallery|usage: kiln gallery init
gallery init|usage: kiln gallery init --gallery DIR
gallery trust|usage: kiln gallery trust KEY.pub
gallery list|usage: kiln gallery list [NAME]
gallery show|usage: kiln gallery show NAME[@VERSION]
gallery pull|usage: kiln gallery pull NAME[@VERSION]
archive|usage: kiln archive RUN-DIR
sbom|usage: kiln sbom IMAGE
serve|usage: kiln serve --data DIR
submit|usage: kiln submit --server URL
list|usage: kiln list [--json]
run|usage: kiln run RUNBOOK [NAME-GLOB]...
check|usage: kiln check [-v NAME=VALUE]... [--json] RUNBOOK
rollout|usage: kiln rollout set NAME CHANNEL
rollout set|usage: kiln rollout set NAME CHANNEL --version V
rollout status|usage: kiln rollout status NAME CHANNEL
rollout pause|usage: kiln rollout pause NAME CHANNEL
rollout resume|usage: kiln rollout resume NAME CHANNEL
rollout group|usage: kiln rollout group NAME GROUP MACHINE-ID
tenant|usage: kiln tenant add NAME
tenant add|usage: kiln tenant add NAME
worker|usage: kiln worker --server URL
worker add|usage: kiln worker add NAME
clean|usage: kiln clean [--dry-run]
shell|usage: kiln shell IMAGE [options] [-- COMMAND...]
cancel|usage: kiln cancel --server URL'
while IFS='|' read -r verb line; do
    for form in "$verb --help" "$verb -h" "help $verb"; do
        # shellcheck disable=SC2086
        expect_status 0 "$KILN" $form
        [ "$(head -n 1 "$T/out")" != "${line%% *}" ] || fail "kiln $form: empty usage"
        case $(head -n 1 "$T/out") in "$line"*) ;; *) fail "kiln $form: stdout starts '$(head -n 1 "$T/out")', expected '$line'" ;; esac
        expect_in "$T/out" "exit status: 0 "
        [ ! -s "$T/err" ] || fail "kiln $form wrote to stderr: $(cat "$T/err")"
    done
    # shellcheck disable=SC2086
    expect_status 2 "$KILN" $verb --frobnicate
    [ "$(cat "$T/err")" = "kiln $verb: unknown option --frobnicate; the options are: $(sed -n 's/^kiln [a-z ]*: unknown option --frobnicate; the options are: //p' "$T/err")
try 'kiln $verb --help'" ] || fail "kiln $verb --frobnicate: stderr '$(cat "$T/err")'"
    [ ! -s "$T/out" ] || fail "kiln $verb --frobnicate wrote to stdout"
done <<EOF
$help_table
EOF
# the option list comes from the same table as the help, and so does every option in it
expect_status 2 "$KILN" sign --frobnicate
expect_in "$T/err" "the options are: --key SECRET.key, --trusted-comment TEXT"
"$KILN" sign --help > help.txt && expect_in help.txt "  -k, --key SECRET.key" && expect_in help.txt "  -t, --trusted-comment TEXT"
# a near miss or an abbreviation names the option it may mean (getopt_long would take "--ou")
expect_status 2 "$KILN" build --ou x spec.yml
expect_in "$T/err" "kiln build: unknown option --ou; did you mean --out?"
expect_status 2 "$KILN" archive --verfy=x
expect_in "$T/err" "kiln archive: unknown option --verfy; did you mean --verify?"
expect_status 2 "$KILN" inspect -z x
expect_in "$T/err" "kiln inspect: unknown option -z; the options are: --json"
expect_status 2 "$KILN" inspect --json=yes x
expect_in "$T/err" "kiln inspect: --json takes no value"
expect_status 2 "$KILN" convert --format
expect_in "$T/err" "kiln convert: --format needs a value: F, raw, qcow2, vhd-fixed or vhd"
expect_status 2 "$KILN" convert in.raw
expect_in "$T/err" "kiln convert: want IN and OUT, got only in.raw"
expect_status 2 "$KILN" inspect a b
expect_in "$T/err" "kiln inspect: unexpected argument b"
# kiln itself
for form in help --help -h; do
    expect_status 0 "$KILN" $form
    expect_in "$T/out" "usage: kiln VERB [options]"
    expect_in "$T/out" "  gallery "
done
expect_status 2 "$KILN"
expect_in "$T/err" "usage: kiln VERB"
expect_status 2 "$KILN" buidl x
[ "$(cat "$T/err")" = "kiln: unknown verb \"buidl\"; did you mean \"build\"?
try 'kiln --help'" ] || fail "kiln buidl: stderr '$(cat "$T/err")'"
# mkosi's verbs for booting and logging in name the verb that does it
for w in ssh qemu boot; do
    expect_status 2 "$KILN" $w
    expect_in "$T/err" "kiln: unknown verb \"$w\": kiln shell IMAGE boots the image"
    expect_in "$T/err" "try 'kiln shell --help'"
done
expect_in "$T/err" "(as mkosi boot/qemu)"
expect_status 2 "$KILN" help nosuchverb
expect_in "$T/err" 'kiln: unknown verb "nosuchverb"'
echo "cli: help and unknown options ok"

# --- inputs: a GPT disk with an ext4 holding os-release and a dpkg database (as hostile.sh)
mkdir -p tree/usr/lib tree/etc tree/var/lib/dpkg
printf 'ID=kiln-cli\nVERSION_ID=1\nPRETTY_NAME="CLI Test 1"\n' > tree/usr/lib/os-release
ln -s ../usr/lib/os-release tree/etc/os-release
printf 'Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\nMaintainer: T <t@example.org>\nDescription: x\n' \
    > tree/var/lib/dpkg/status
mke2fs -q -F -t ext4 -d tree fs.img 8M || fail "mke2fs"
truncate -s 12M disk.raw
sgdisk -n 1:2048:18431 -t 1:8300 disk.raw > /dev/null || fail "sgdisk"
dd if=fs.img of=disk.raw bs=512 seek=2048 conv=notrunc status=none
mkdir -p run1/cases/smoke && echo '{"name": "r"}' > run1/results.json && echo ok > run1/cases/smoke/log.txt
cat > sel.yml <<'EOF'
name: sel
variable:
  - { name: pat, value: verify_cpu_count }
platform: { type: qemu, qemu: { image: disk.raw } }
testcase:
  - { criteria: { name: "$(pat)" } }
EOF

# --- --opt=value as --opt value: one valued option per verb, its effect seen
expect_status 0 "$KILN" keygen --out=k --no-passphrase
[ -f k.key ] && [ -f k.pub ] || fail "keygen --out=k wrote $(ls)"
expect_status 0 "$KILN" convert --format=qcow2 disk.raw conv.img
# -p: how far the copy is, on stderr: off a terminal a line per tenth of the disk, rising, 100% last
expect_status 0 "$KILN" convert -p disk.raw prog.qcow2
grep '%' "$T/err" | sed -n 's/^kiln convert: \([0-9]*\)% (.*)$/\1/p' > pct.txt
[ "$(grep -c '%' "$T/err")" = "$(wc -l < pct.txt)" ] && [ "$(tail -n 1 pct.txt)" = 100 ] &&
    [ "$(sort -n -u pct.txt)" = "$(cat pct.txt)" ] && [ "$(awk '{print int($1 / 10)}' pct.txt | uniq -d)" = "" ] ||
    fail "convert -p: $(cat "$T/err")"
# the bytes are the disk's data (its allocated runs), not its 12 MiB with the holes
line=$(grep -E "^kiln convert: 100% \(([0-9.]+ [KM]iB) of \1\)$" "$T/err") || fail "convert -p: no 100% line of the data: $(cat "$T/err")"
[ "$(du -B1 disk.raw | cut -f1)" -lt 12582912 ] || fail "disk.raw is not sparse: the test cannot tell data from holes"
echo "$line" | sed -E 's/.*\(([0-9.]+) ([KM])iB of.*/\1 \2/' | awk '{ v = $1 * ($2 == "M" ? 1048576 : 1024); exit !(v > 1048576 && v < 12582912) }' ||
    fail "convert -p counts other bytes than the disk's data: $line"
[ ! -s "$T/out" ] || fail "convert -p wrote to stdout"
# -p on a terminal (script(1)): a copy that fails mid-way (past the file size limit: EFBIG) takes its live
# line off first, so the message starts a line of its own (it used to follow "(2.0 MiB of 12.0 MiB)")
if command -v script > /dev/null; then
    truncate -s 12M half.raw
    head -c 2097152 /dev/zero | tr '\0' x | dd of=half.raw conv=notrunc status=none
    printf x | dd of=half.raw bs=1 seek=11534336 conv=notrunc status=none
    TERM=xterm script -qec "stty cols 200; sh -c 'trap \"\" XFSZ; ulimit -f 8000; exec \"$KILN\" convert -p --format vhd-fixed half.raw half.vhd'" \
        /dev/null > tty.txt 2>&1 < /dev/null && fail "convert past the file size limit succeeded: $(cat -v tty.txt)"
    grep -q '%' tty.txt || fail "convert -p on a terminal: no live line: $(cat -v tty.txt)"
    ! grep -q ')kiln convert' tty.txt || fail "convert -p: the error follows the live line: $(cat -v tty.txt)"
    expect_in tty.txt "kiln convert: writing half.vhd failed: File too large"
fi
expect_status 0 "$KILN" inspect --json conv.img
expect_jq "$T/out" .format qcow2
# a rootfs archive without /etc/wsl.conf: inspect says so (fresh-user finding: no WSL line at all)
mkdir -p rootfs/etc && printf 'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > rootfs/etc/os-release
tar -C rootfs --zstd --numeric-owner --owner=0 --group=0 -cf rootfs.tar.zst etc
expect_status 0 "$KILN" inspect rootfs.tar.zst
expect_in "$T/out" "root filesystem archive (tar, compression zstd)"
expect_in "$T/out" "WSL: no /etc/wsl.conf"
# a short option's value attached (-kFILE) and -- ending the options, as the README says
expect_status 0 "$KILN" sign -kk.key -tattached -- disk.raw
expect_status 0 "$KILN" verify -pk.pub --json -- disk.raw
expect_jq "$T/out" '"\(.verified) \(.trusted_comment)"' "true attached"
expect_status 0 "$KILN" sign --key=k.key --trusted-comment="cli test" disk.raw
expect_status 0 "$KILN" verify --pubkey=k.pub --json disk.raw
expect_jq "$T/out" .trusted_comment "cli test"
cp disk.raw.minisig other.minisig
expect_status 0 "$KILN" verify -p k.pub --sig=other.minisig disk.raw
expect_status 0 "$KILN" sbom --format=cyclonedx --out=- disk.raw
expect_jq "$T/out" '"\(.bomFormat) \([.components[].name] | join(","))"' "CycloneDX hello"
expect_status 0 "$KILN" build --check --format=qcow2 "$KILN_ROOT/examples/images/debian-server.yml"
# --refresh and its older name --no-cache: both taken, both in the help
expect_status 0 "$KILN" build --check --refresh "$KILN_ROOT/examples/images/debian-server.yml"
expect_status 0 "$KILN" build --check --no-cache "$KILN_ROOT/examples/images/debian-server.yml"
expect_status 0 "$KILN" build --help
expect_in "$T/out" "      --refresh               rebuild the package tree from the repositories as they are now"
expect_in "$T/out" "      --no-cache              the same as --refresh (its older name)"
expect_status 2 "$KILN" build --check --format=qcow3 "$KILN_ROOT/examples/images/debian-server.yml"
expect_in "$T/err" "kiln build: --format qcow3: unknown format"
expect_status 0 "$KILN" archive --out=a.tar.zst -k k.key run1
[ -f a.tar.zst ] && [ -f a.tar.zst.minisig ] || fail "archive --out=a.tar.zst wrote $(ls)"
expect_status 0 "$KILN" gallery init --gallery=G --trust=k.pub --key=k.key --require-priority=-1
[ -f G/gallery.yml ] || fail "gallery init --gallery=G wrote no G/gallery.yml"
expect_status 2 "$KILN" publish --gallery=G --support-days=x -k k.key out/x-1
expect_in "$T/err" "kiln publish: --support-days x: want a whole number from 0 to 36500"
expect_status 2 "$KILN" serve --data=d --lease-s=2
expect_in "$T/err" "kiln serve: --lease-s 2: want a whole number from 5 to 3600"
expect_status 2 "$KILN" submit --server=http://127.0.0.1:9 --tier=3 disk.raw
expect_in "$T/err" "kiln submit: --tier 3: want a whole number from 0 to 2"
expect_status 0 "$KILN" list --json --variable=pat=verify_memory sel.yml
expect_jq "$T/out" '[.[].name] | join(",")' verify_memory
expect_status 0 "$KILN" list --json -v pat=verify_cpu_count sel.yml
expect_jq "$T/out" '[.[].name] | join(",")' verify_cpu_count
expect_status 0 "$KILN" check --runbook=sel.yml --variable=pat=verify_memory
[ "$(cat "$T/out")" = "sel.yml: ok (1 case(s) selected)" ] || fail "check --runbook=sel.yml: '$(cat "$T/out")'"
expect_status 2 "$KILN" check -r sel.yml other.yml
expect_in "$T/err" "kiln check: one runbook at a time (sel.yml and other.yml)"
# kiln run refuses these before it boots anything or makes a run directory
expect_status 2 "$KILN" run --runs-dir=r --runbook=sel.yml --tag=nosuchtag
expect_in "$T/err" "kiln run: none of the 1 case(s) sel.yml selects passes the command line's names, --tag and --priority"
expect_status 2 "$KILN" run --runs-dir=r sel.yml --priority=1,9
expect_in "$T/err" "kiln run: --priority 9: want a whole number from 0 to 5"
expect_status 2 "$KILN" run --runs-dir=r -r sel.yml 'nomatch*'
expect_in "$T/err" "kiln run: NAME-GLOB nomatch* matches none of the 1 case(s) sel.yml selects"
expect_status 2 "$KILN" run --runs-dir=r -r sel.yml -r other.yml
expect_in "$T/err" "kiln run: -r given twice (sel.yml and other.yml): give it once"
expect_status 2 "$KILN" run --rerun-failed=nosuch
expect_in "$T/err" "kiln run: --rerun-failed: nosuch/results.json: "
expect_status 2 "$KILN" run --rerun-failed=nosuch sel.yml
expect_in "$T/err" "kiln run: --rerun-failed takes a run directory only"
expect_status 2 "$KILN" run --rerun-failed --rerun-failed=x
expect_in "$T/err" "kiln run: --rerun-failed given twice: give it once"
[ ! -e r ] || fail "a refused kiln run made $(ls r)"
expect_status 2 "$KILN" rollout status --data=nodb os stable
expect_in "$T/err" "kiln rollout status: no kiln database in nodb"
expect_status 2 "$KILN" rollout set os stable --version=1.0 --percent=101 --data=nodb
expect_in "$T/err" "kiln rollout set: --percent 101: want 0 to 100"
expect_status 2 "$KILN" rollout status os stable --reason=x --data=nodb
expect_in "$T/err" "kiln rollout status: --reason belongs to kiln rollout pause"
expect_status 2 "$KILN" tenant add t --max-jobs=0 --data=nodb
expect_in "$T/err" "kiln tenant add: --max-jobs 0: want a whole number from 1 to 100000"
expect_status 2 "$KILN" worker add w --data=nodb
expect_in "$T/err" "kiln worker add: no kiln database in nodb"
# kiln cancel: --server=URL and --token=T taken (the port refuses: 3, the server could not be reached)
expect_status 3 "$KILN" cancel --server=http://127.0.0.1:9 --token=kt_x 5
expect_in "$T/err" "kiln cancel: POST http://127.0.0.1:9/api/v1/jobs/5/cancel: "
expect_status 2 "$KILN" cancel --server=http://127.0.0.1:9 --token=kt_x abc
expect_in "$T/err" "kiln cancel: abc: a job id is a positive number"
expect_status 2 "$KILN" worker --server=http://127.0.0.1:9 --withhold=tpm,gpu
expect_in "$T/err" "kiln worker: --withhold tpm,gpu: gpu is not a feature a worker offers"
[ ! -e nodb ] || fail "a refused service verb made nodb"
echo "cli: --opt=value ok"

# -v NAME for a variable the runbook neither defines nor uses warns (a typo changes nothing
# silently otherwise), with the nearest name it knows; runbook errors come in file order
expect_status 0 "$KILN" list --json -v patt=verify_memory sel.yml
expect_in "$T/err" "kiln: warning: -v patt: sel.yml defines no variable patt and uses no \$(patt); did you mean pat?"
expect_jq "$T/out" '[.[].name] | join(",")' verify_cpu_count
expect_status 0 "$KILN" list -v zzz=1 sel.yml
expect_in "$T/err" "kiln: warning: -v zzz: sel.yml defines no variable zzz and uses no \$(zzz): the value is not used"
expect_status 0 "$KILN" list -v pat=verify_memory sel.yml
[ ! -s "$T/err" ] || fail "a defined variable warned: $(cat "$T/err")"
printf 'name: x\nvariable:\n  - { name: img, value: disk.raw }\ntestcase:\n  - { criteria: { priority: high } }\nplatform: { type: qemu, qemu: { image: "$(img)", cpus: lots } }\nconcurrency: many\n' > order.yml
expect_status 0 "$KILN" list -v img=disk.raw --json sel.yml   # used nowhere in sel.yml: warned
expect_in "$T/err" "-v img: sel.yml defines no variable img"
expect_status 2 "$KILN" list -v img=other.raw order.yml
[ "$(grep -c '^order.yml:' "$T/err")" = 3 ] || fail "order.yml: $(cat "$T/err")"
[ "$(grep '^order.yml:' "$T/err" | cut -d: -f2 | tr '\n' ' ')" = "5 6 7 " ] || fail "errors not in file order: $(cat "$T/err")"
expect_not_in "$T/err" "warning"
echo "cli: variables ok"

# --- a missing input: exit 2, the path named (it was 1 for inspect, convert, sbom, sign,
# verify and archive: the same code as a signature that does not verify)
missing() { # PATH CMD...
    p=$1; shift
    expect_status 2 "$@"
    expect_in "$T/err" "$p"
}
missing nosuch.yml "$KILN" build nosuch.yml
missing nosuch.yml "$KILN" build --check --json nosuch.yml
missing nosuch.raw "$KILN" convert nosuch.raw out.raw
[ ! -e out.raw ] || fail "convert of a missing input wrote out.raw"
missing nosuch.raw "$KILN" inspect nosuch.raw
missing nosuch.raw "$KILN" sbom nosuch.raw
missing nosuch.raw "$KILN" sign -k k.key disk.raw nosuch.raw
missing nosuch.key "$KILN" sign -k nosuch.key disk.raw
missing nosuch.raw "$KILN" verify -p k.pub nosuch.raw
missing nosuch.pub "$KILN" verify -p nosuch.pub disk.raw
missing nosuch-run "$KILN" archive nosuch-run
missing nosuch.tar.zst "$KILN" archive --verify nosuch.tar.zst
missing nosuch.pub "$KILN" archive --verify a.tar.zst -p nosuch.pub
missing out/nosuch-1.manifest.json "$KILN" publish out/nosuch-1 --gallery G -k k.key --run run1
missing NoGallery "$KILN" gallery list --gallery NoGallery
missing NoGallery "$KILN" gallery show x --gallery NoGallery
missing nosuch.pub "$KILN" gallery trust nosuch.pub --gallery G
missing nosuch.yml "$KILN" list nosuch.yml
missing nosuch.yml "$KILN" check nosuch.yml
missing nosuch.yml "$KILN" check --json nosuch.yml
expect_jq "$T/out" '"\(.ok) \(.cases) \(.errors[0].file)"' "false null nosuch.yml"
missing nosuch.yml "$KILN" run --runs-dir r nosuch.yml
missing nosuch.raw env KILN_TOKEN=kt_x "$KILN" submit --server http://127.0.0.1:9 nosuch.raw
missing nosuch.key "$KILN" serve --data d --gallery-key nosuch.key
missing nosuch.raw "$KILN" shell nosuch.raw
missing nosuch.vmlinuz "$KILN" shell --kernel nosuch.vmlinuz -- true
missing nosuch.key "$KILN" shell disk.raw -i nosuch.key
# and what was checked failing is 1, apart from those
echo changed >> disk.raw
expect_status 1 "$KILN" verify -p k.pub disk.raw
echo "cli: missing inputs ok"

# an empty path is refused (exit 2, naming the option), never taken as the current directory:
# `keygen --out ''` wrote .key and .pub here, `gallery init --gallery ''` made a gallery here
# (hostile finding); the rule is cmd_parse's, for every option and operand
mkdir empty-cwd
empty() { # MESSAGE CMD...: run in empty-cwd, exit 2 saying MESSAGE, nothing written there
    msg=$1; shift
    (cd empty-cwd && "$@") > "$T/out" 2> "$T/err"; st=$?
    [ $st -eq 2 ] || fail "$*: exit $st, $(cat "$T/err")"
    [ "$(head -n 1 "$T/err")" = "$msg" ] || fail "$*: said '$(cat "$T/err")', expected '$msg'"
    [ -z "$(ls -A empty-cwd)" ] || fail "$*: wrote $(ls -A empty-cwd) into the current directory"
}
empty "kiln keygen: --out is empty: give BASE" "$KILN" keygen --out '' --no-passphrase
empty "kiln gallery init: --gallery is empty: give DIR" "$KILN" gallery init --gallery= --trust "$T/k.pub" -k "$T/k.key"
empty "kiln gallery init: --gallery DIR is needed: where the gallery goes" env KILN_GALLERY= "$KILN" gallery init --trust "$T/k.pub" -k "$T/k.key"
empty "kiln gallery pull: --out is empty: give DIR" "$KILN" gallery pull x@1 --gallery "$T/G" --out ''
empty "kiln run: --runs-dir is empty: give DIR" "$KILN" run --runs-dir '' x.yml
empty "kiln tenant add: --data is empty: give DIR" "$KILN" tenant add x --data ''
empty "kiln serve: --data is empty: give DIR" "$KILN" serve --init --data ''
empty "kiln sbom: --out is empty: give FILE|-" "$KILN" sbom "$T/disk.raw" --out ''
empty "kiln convert: an empty argument: give IN and OUT" "$KILN" convert "$T/disk.raw" '' --format qcow2
empty "kiln publish: an empty argument: give OUT/NAME-VERSION" "$KILN" publish '' --gallery "$T/G" -k "$T/k.key"
empty "kiln archive: an empty argument: give RUN-DIR" "$KILN" archive ''
empty "kiln sign: -k is empty: give SECRET.key" "$KILN" sign -k '' "$T/disk.raw"
echo "cli: empty paths ok"

# a file that cannot boot is refused before a VM starts: kiln shell of a text file waited out
# the whole boot timeout (hostile finding); kiln run's qemu platform likewise
echo "this is a text file, not a disk" > notes.qcow2
expect_status 2 "$KILN" shell notes.qcow2 -- true
[ "$(cat "$T/err")" = "kiln shell: notes.qcow2: it is not a bootable disk image: read as raw (32 bytes) it has no partition table (GPT or MBR), and its first bytes are text (\"this is a text file, not a disk \"); give a disk image with a partition table (raw, qcow2 or VHD, as kiln build writes), or --kernel FILE" ] ||
    fail "kiln shell of a text file said: $(cat "$T/err")"
truncate -s 4M esp.raw && sgdisk -n1:2048:+1M -t1:ef00 esp.raw > /dev/null || fail "sgdisk esp"
expect_status 2 "$KILN" shell --firmware bios esp.raw -- true
expect_in "$T/err" "kiln shell: esp.raw boots only through UEFI (an EFI system partition, no BIOS boot partition): --firmware bios cannot boot it"
printf 'name: notes\nplatform: { type: qemu, qemu: { image: notes.qcow2, accel: tcg } }\ntestcase:\n  - { criteria: { name: smoke } }\n' > notes.yml
expect_status 2 "$KILN" run --runs-dir runs-notes notes.yml
expect_in "$T/err" "platform.qemu.image: $T/notes.qcow2: it is not a bootable disk image: read as raw (32 bytes) it has no partition table"
expect_no_qemu
echo "cli: unbootable images refused before a boot ok"

# --- --json: stdout parses, with the documented fields; messages stay on stderr
expect_status 1 "$KILN" verify -p k.pub --json disk.raw
expect_jq "$T/out" '[keys_unsorted[]] | join(",")' "file,public_key,signature,verified,trusted_comment,error"
expect_jq "$T/out" '"\(.verified) \(.error | test("does not match"))"' "false true"
expect_in "$T/err" "kiln verify: disk.raw does not match its signature"
expect_status 0 "$KILN" archive --verify a.tar.zst -p k.pub --json
expect_jq "$T/out" '[keys_unsorted[]] | join(",")' "archive,verified,files,signature,trusted_comment,error"
expect_jq "$T/out" '"\(.verified) \(.files) \(.signature) \(.trusted_comment)"' "true 2 good kiln run archive run1"
expect_status 0 "$KILN" archive --verify a.tar.zst --json
expect_jq "$T/out" .signature "not checked"
expect_in "$T/err" "the signature was not checked"
head -c 100 a.tar.zst > cut.tar.zst
expect_status 1 "$KILN" archive --verify cut.tar.zst --json
expect_jq "$T/out" '"\(.verified) \(.error != null)"' "false true"
expect_status 0 "$KILN" build --check --json "$KILN_ROOT/examples/images/debian-server.yml"
expect_jq "$T/out" '"\(.ok) \(.name) \(.version) \(.family) \(.errors | length)"' "true debian-server 1.0.0 deb 0"
printf 'name: x\nversion: 1\n' > bad-spec.yml
expect_status 2 "$KILN" build --check --json bad-spec.yml
expect_jq "$T/out" '"\(.ok) \(.errors[0].file) \(.errors[0].line) \(.errors[0].path)"' "false bad-spec.yml 1 base"
expect_in "$T/err" "bad-spec.yml:1:1: base:"
expect_status 2 "$KILN" build --json bad-spec.yml
expect_in "$T/err" "kiln build: --json goes with --check"
# kiln check --json: the verdict, the same errors as the text (with their places), warnings apart
expect_status 0 "$KILN" check --json -v pat=verify_memory sel.yml
expect_jq "$T/out" '[keys_unsorted[]] | join(",")' "runbook,ok,cases,errors,warnings"
expect_jq "$T/out" '"\(.runbook) \(.ok) \(.cases) \(.errors | length) \(.warnings | length)"' "sel.yml true 1 0 0"
[ ! -s "$T/err" ] || fail "check --json of a valid runbook wrote to stderr: $(cat "$T/err")"
expect_status 2 "$KILN" check --json -v img=other.raw order.yml
expect_jq "$T/out" '"\(.ok) \(.cases) \([.errors[].line] | sort | join(","))"' "false null 5,6,7"
[ "$(grep -c '^order.yml:' "$T/err")" = 3 ] || fail "check --json order.yml: the errors are not on stderr too: $(cat "$T/err")"
printf 'name: y\nplatform: { type: qemu, qemu: { image: nosuch.raw } }\ntestcase:\n  - { criteria: { name: no_such_case } }\n' > unsel.yml
expect_status 2 "$KILN" check --json unsel.yml
expect_jq "$T/out" '[.errors[] | "\(.file):\(.line):\(.col) \(.path)"] | join(",")' "unsel.yml:2:40 platform.qemu.image,unsel.yml:0:0 testcase"
expect_jq "$T/out" '.errors[0].message' "$T/nosuch.raw does not exist; build it first (kiln build SPEC --out DIR) or give the image with -v NAME=PATH"
expect_jq "$T/out" '[.warnings[] | "\(.file):\(.line):\(.col) \(.message)"] | join(",")' "unsel.yml:4:5 testcase[0] matches no case (see \`kiln list\`)"
expect_jq "$T/out" .cases 0
expect_in "$T/err" "unsel.yml:2:40: platform.qemu.image: $T/nosuch.raw does not exist"
# the text verdict says the same on stderr, and "ok" only on stdout when it is
expect_status 2 "$KILN" check unsel.yml
expect_in "$T/err" "unsel.yml:2:40: platform.qemu.image: $T/nosuch.raw does not exist"
expect_in "$T/err" "kiln check: warning: unsel.yml:4:5: testcase[0] matches no case"
expect_in "$T/err" "unsel.yml: testcase: the criteria select no case"
[ ! -s "$T/out" ] || fail "check of an invalid runbook wrote to stdout: $(cat "$T/out")"
expect_status 0 "$KILN" gallery list --gallery G --json
expect_jq "$T/out" '"\(.gallery) \(.index.serial) \(.index.signed_by | length) \(.images | length)"' "G 0 16 0"
expect_status 0 "$KILN" list --json
expect_jq "$T/out" '[.[0] | keys_unsorted[]] | join(",")' "name,area,category,priority,description,tags,timeout_s,times,retry,requires"
expect_status 0 "$KILN" inspect --json disk.raw
expect_jq "$T/out" '"\(.format) \(.partitions[0].filesystem.type) \(.os_release.ID)"' "raw ext4 kiln-cli"
echo "cli: --json ok"
exit 0
