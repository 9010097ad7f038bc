#!/bin/sh
# kiln check / list: config errors carry file:line:col and exit 2; good runbooks pass.
. "$(dirname "$0")/lib.sh"

cat > tier0.yml <<'YAML'
name: tier0
platform:
  type: qemu
  qemu:
    kernel: /bin/true
testcase:
  - criteria:
      priority: high
YAML
expect_status 2 "$KILN" check tier0.yml
expect_in "$T/err" 'tier0.yml:8:17: testcase[0].criteria.priority: expected an integer or a list of integers, got "high"'

printf 'name: x\nplatfrom: {}\n' > typo.yml
expect_status 2 "$KILN" check typo.yml
expect_in "$T/err" 'typo.yml:2:1: platfrom: unknown key "platfrom"; did you mean "platform"?'

printf 'name: [unclosed\n' > syntax.yml
expect_status 2 "$KILN" check syntax.yml
expect_in "$T/err" 'syntax.yml:'
expect_in "$T/err" 'invalid YAML'

printf 'include: [ ./b.yml ]\n' > a.yml
printf 'include: [ ./a.yml ]\n' > b.yml
expect_status 2 "$KILN" check a.yml
expect_in "$T/err" 'include cycle'

busybox_runbook ok </dev/null > ok.yml
expect_status 0 "$KILN" check ok.yml
expect_in "$T/out" 'ok.yml: ok ('

expect_status 2 "$KILN" check -v broken ok.yml
expect_in "$T/err" 'kiln check: -v broken: the form is -v name=value, or -v s:name=value for a secret'
expect_status 2 "$KILN" check missing-file.yml
expect_in "$T/err" 'cannot open runbook'
expect_status 2 "$KILN" frobnicate
expect_in "$T/err" 'unknown verb'

busybox_runbook sel <<'YAML' > sel.yml
testcase:
  - criteria: { priority: 0 }
YAML
expect_status 0 "$KILN" list sel.yml
expect_in "$T/out" 'smoke'
expect_not_in "$T/out" 'verify_kernel_cmdline'
expect_status 0 "$KILN" list --json
[ "$(jq 'map(select(.name=="verify_console_clean"))[0].requires.features' "$T/out")" = '"serial-console"' ] ||
    fail "kiln list --json lacks requirements"

# script-test metadata errors point into the test file
mkdir -p badext
printf '#!/bin/sh\n# kiln: { priority: 9, aera: x }\ntrue\n' > badext/t.sh
chmod +x badext/t.sh
busybox_runbook badext <<YAML > badext.yml
extension: [ ./badext ]
YAML
expect_status 2 "$KILN" check badext.yml
expect_in "$T/err" "badext/t.sh:2:21: kiln.priority: 9 is out of range (0 to 5)"
expect_in "$T/err" 'badext/t.sh:2:24: kiln.aera: unknown key "aera"; did you mean "area"?'

# hostile runbooks (issue 13, part 6): refused with file:line:col, nothing written outside
# --runs-dir, parsing bounded
inputs=$KILN_ROOT/tests/data/inputs
expect_status 2 "$KILN" check "$inputs/yaml-multidoc/runbook.yml"
expect_in "$T/err" "yaml-multidoc/runbook.yml:8:1: more than one YAML document in the file"
mkdir -p a/b
busybox_runbook ../../escape </dev/null > a/b/esc.yml
expect_status 2 "$KILN" run --runs-dir a/b/R a/b/esc.yml
expect_in "$T/err" 'esc.yml:1:7: name: "../../escape" cannot name the run directory'
[ "$(ls a)" = b ] && [ ! -e a/b/R ] || fail "kiln run created $(ls a a/b)"
{ printf 'a: '; head -c 100000 /dev/zero | tr '\0' '['; } > deep.yml
expect_status 2 "$KILN" check deep.yml
expect_in "$T/err" 'deep.yml:1:67: nested deeper than 64 levels'
{ echo 'variable:'; echo '  - { name: v1, value: xxxxxxxxxx }'
  for i in 2 3 4 5 6 7 8 9; do p=$((i - 1)); echo "  - { name: v$i, value: \"$(printf '$(v%d)' $p $p $p $p $p $p $p $p $p $p)\" }"; done
} > bomb.yml
busybox_runbook bomb "\$(v9)" </dev/null >> bomb.yml
expect_status 2 "$KILN" check bomb.yml
expect_in "$T/err" 'variable $(v7) expands to more than 1 MiB'

# what the cases will read is checked now, not after the VMs booted
busybox_runbook prof > prof.yml <<'YAML'
policy_profile: nonexist
vulnerability_feed: /nonexistent-feed.yml
YAML
expect_status 2 "$KILN" check prof.yml
# each at the file:line:col of its value (busybox_runbook writes 11 lines before these)
expect_in "$T/err" "prof.yml:12:17: policy_profile: $KILN_ROOT/data/policy.yml has no profile \"nonexist\" (it has: hardened, container-host)"
expect_in "$T/err" "prof.yml:13:21: vulnerability_feed: /nonexistent-feed.yml does not exist"
# the files the platform's nodes boot from (its driver's tested_files) and the admin key, each
# at its value
cat > files.yml <<'YAML'
name: files
platform:
  type: qemu
  admin_private_key_file: /nonexistent-key
  qemu:
    image: /nonexistent.qcow2
    kernel: /nonexistent-vmlinuz
    initrd: /nonexistent-initrd
YAML
expect_status 2 "$KILN" check files.yml
expect_in "$T/err" "files.yml:6:12: platform.qemu.image: /nonexistent.qcow2 does not exist"
expect_in "$T/err" "files.yml:7:13: platform.qemu.kernel: /nonexistent-vmlinuz does not exist"
expect_in "$T/err" "files.yml:8:13: platform.qemu.initrd: /nonexistent-initrd does not exist"
expect_in "$T/err" "files.yml:4:27: platform.admin_private_key_file: /nonexistent-key does not exist"
[ "$(grep -c 'does not exist' "$T/err")" -eq 4 ] || fail "four missing files, each said once"
# ready tests machines, not files: only the key is checked
cat > rfiles.yml <<'YAML'
name: rfiles
platform:
  type: ready
  admin_private_key_file: /nonexistent-key
  ready: { nodes: [ { address: 127.0.0.1 } ] }
YAML
expect_status 2 "$KILN" check rfiles.yml
expect_in "$T/err" "rfiles.yml:4:27: platform.admin_private_key_file: /nonexistent-key does not exist"
[ "$(grep -c 'does not exist' "$T/err")" -eq 1 ] || fail "ready: only the key is a file to check"
# an unknown policy file, and one that is not YAML (located in the policy itself)
busybox_runbook pol > pol.yml <<'YAML'
policy: nonexistent-policy.yml
YAML
expect_status 2 "$KILN" check pol.yml
expect_in "$T/err" "pol.yml:12:9: policy: cannot load the policy $T/nonexistent-policy.yml: "
printf 'sshd: [\n' > broken-policy.yml
busybox_runbook pol3 > pol3.yml <<'YAML'
policy: broken-policy.yml
policy_profile: hardened
YAML
expect_status 2 "$KILN" check pol3.yml
expect_in "$T/err" "pol3.yml:12:9: policy: cannot load the policy: $T/broken-policy.yml:2:1: invalid YAML"
busybox_runbook prof2 > prof2.yml <<'YAML'
policy_profile: hardened
YAML
expect_status 0 "$KILN" check prof2.yml

# a rule that matches no case, among rules that do, is named where it is written, with the
# case or area meant when it is a near miss (a typo used to pass as "ok" unnoticed)
busybox_runbook typo > typo.yml <<'YAML'
testcase:
  - criteria: { name: verify_sshd_confg }
  - criteria: { area: secuirty }
  - criteria: { name: "verify_.*", priority: 5 }
  - criteria: { priority: 0 }
YAML
expect_status 0 "$KILN" check typo.yml
expect_in "$T/err" "kiln check: warning: typo.yml:13:5: testcase[0] matches no case; name: did you mean \"verify_sshd_config\"? (see \`kiln list\`)"
expect_in "$T/err" "kiln check: warning: typo.yml:14:5: testcase[1] matches no case; area: did you mean \"security\"? (see \`kiln list\`)"
expect_in "$T/err" "kiln check: warning: typo.yml:15:5: testcase[2] matches no case (see \`kiln list\`)"
[ "$(grep -c 'matches no case' "$T/err")" = 3 ] || fail "the rule that selects smoke was warned about"
expect_status 0 "$KILN" list typo.yml
expect_in "$T/err" "kiln list: warning: typo.yml:13:5: testcase[0] matches no case"

# what kiln run refuses before booting, from the files the runbook names, kiln check reports
# with the same message at the key (it said "ok" to an aarch64 runbook for an x86_64 image)
head -c 2097152 /dev/zero > img.raw && sgdisk -o -n 1:2048:0 img.raw > /dev/null  # a GPT disk: kiln run refuses one without a partition table first
printf '{"name": "img", "arch": "x86_64", "artifacts": [{"file": "img.raw"}]}\n' > img.manifest.json
printf 'name: arch\nplatform:\n  type: qemu\n  qemu:\n    image: img.raw\n    arch: aarch64\n' > arch.yml
archmsg="platform.qemu.arch is aarch64 but $PWD/img.raw was built for x86_64 (its manifest says so); fix the arch or the image"
expect_status 2 "$KILN" check arch.yml
expect_in "$T/err" "arch.yml:6:11: $archmsg"
expect_status 2 "$KILN" run arch.yml
expect_in "$T/err" "kiln: error: $archmsg"
printf '{"name": "img", "arch": "sparc", "artifacts": [{"file": "img.raw"}]}\n' > img.manifest.json
printf 'name: sparc\nplatform:\n  type: qemu\n  qemu:\n    image: img.raw\n' > sparc.yml
expect_status 2 "$KILN" check sparc.yml
expect_in "$T/err" "sparc.yml:5:12: platform.qemu: $PWD/img.manifest.json: \"arch\" is \"sparc\", which kiln does not know (known: x86_64, aarch64); set platform.qemu.arch"
# an arm64 image (from its manifest) with Secure Boot, which kiln offers for x86_64 only
printf '{"name": "img", "arch": "aarch64", "artifacts": [{"file": "img.raw"}]}\n' > img.manifest.json
printf 'name: sb\nplatform:\n  type: qemu\n  qemu:\n    image: img.raw\n    firmware: uefi\n    secure_boot: ms\n' > sb.yml
expect_status 2 "$KILN" check sb.yml
expect_in "$T/err" "sb.yml:7:18: platform.qemu.secure_boot: kiln offers Secure Boot for x86_64 guests only, these are aarch64; remove secure_boot"
# and the matching arch is fine
sed 's/aarch64/x86_64/' arch.yml > x86.yml
printf '{"name": "img", "arch": "x86_64", "artifacts": [{"file": "img.raw"}]}\n' > img.manifest.json
expect_status 0 "$KILN" check x86.yml
expect_in "$T/out" "x86.yml: ok ("
# a file with no partition table, which kiln run would refuse before booting it
head -c 1048576 /dev/zero > blank.raw
printf 'name: blank\nplatform:\n  type: qemu\n  qemu:\n    image: blank.raw\n' > blank.yml
blankmsg="platform.qemu.image: $PWD/blank.raw: it is not a bootable disk image: read as raw (1048576 bytes) it has no partition table (GPT or MBR), and its first 40 bytes are zeros"
expect_status 2 "$KILN" check blank.yml
expect_in "$T/err" "blank.yml:5:12: $blankmsg"
expect_status 2 "$KILN" run blank.yml
expect_in "$T/err" "kiln: error: $blankmsg"

# garbage must not crash the parser
head -c 4096 /dev/urandom > garbage.yml
"$KILN" check garbage.yml >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "garbage runbook exited $rc, expected 2"
exit 0
