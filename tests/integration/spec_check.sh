#!/bin/sh
# kiln build --check on hostile specs (issue 13, part 6): every value the image's OS reads is
# refused with file:line:col and the rule it breaks, and a spec reads host files only under its
# own directory (or --source-root). Nothing is built, so no root and no network are needed.
. "$(dirname "$0")/lib.sh"
inputs=$KILN_ROOT/tests/data/inputs

expect_status 2 "$KILN" build --check "$inputs/spec-hostname/spec.yml"
expect_in "$T/err" 'spec-hostname/spec.yml:7:13: os.hostname: "ci-runner-7f3a9c2e-4b1d-4e8a-9f00-1234567890ab.europe-west4-b.c.example-project.internal" is not a valid host name (RFC 1123, at most 64 characters): it has 88 characters, at most 64'

spec() { # spec FILE OS_YAML: a small valid spec with the given os: section
    printf 'name: t\nversion: 1.0.0\nbase: { family: deb, suite: bookworm }\nos:\n%s\n' "$2" > "$1"
}
spec dots.yml '  hostname: a..b'
expect_status 2 "$KILN" build --check dots.yml
expect_in "$T/err" 'dots.yml:5:13: os.hostname: "a..b" is not a valid host name (RFC 1123, at most 64 characters): it has an empty label'
spec dash.yml '  hostname: x.-y'
expect_status 2 "$KILN" build --check dash.yml
expect_in "$T/err" "dash.yml:5:13: os.hostname: \"x.-y\" is not a valid host name (RFC 1123, at most 64 characters): label \"-y\" starts or ends with '-'"
spec trail.yml '  hostname: host.'
expect_status 2 "$KILN" build --check trail.yml
expect_in "$T/err" 'trail.yml:5:13: os.hostname:'
spec good.yml '  hostname: kiln-debian'
expect_status 0 "$KILN" build --check good.yml

# a source outside the spec's directory, by ../ or by a symlink; --source-root lets it in
mkdir -p specs
echo hello > specs/motd
ln -s /etc/hostname specs/host-link
spec specs/up.yml '  files: [ { src: ../../../../../../../../etc/hostname, dst: /etc/x } ]'
expect_status 2 "$KILN" build --check specs/up.yml
expect_in "$T/err" "specs/up.yml:5:19: os.files[0].src: \"../../../../../../../../etc/hostname\" resolves to /etc/hostname, outside $T/specs, the directory this spec's sources are read from"
spec specs/link.yml '  files: [ { src: host-link, dst: /etc/x } ]'
expect_status 2 "$KILN" build --check specs/link.yml
expect_in "$T/err" '"host-link" resolves to /etc/hostname, outside'
expect_status 0 "$KILN" build --check --source-root / specs/up.yml
spec specs/ok.yml '  files: [ { src: motd, dst: /var/run/motd } ]'
expect_status 0 "$KILN" build --check specs/ok.yml

# the other fields the OS reads
spec fields.yml '  users: [ { name: Admin, groups: [sudo] } ]
  files: [ { src: fields.yml, dst: /etc//x } ]
  services: { enable: ["--now"] }
  sysctl: { net/ipv4/ip_forward: 1 }'
expect_status 2 "$KILN" build --check fields.yml
expect_in "$T/err" 'fields.yml:5:20: os.users[0].name: "Admin" is not a valid user name (useradd)'
expect_in "$T/err" 'fields.yml:6:36: os.files[0].dst: "/etc//x" is not a file path inside the image'
expect_in "$T/err" 'fields.yml:7:24: os.services.enable[0]: "--now" is not a valid systemd unit name'
expect_in "$T/err" 'fields.yml:8:13: os.sysctl.net/ipv4/ip_forward: "net/ipv4/ip_forward" is not a sysctl name'
# updates: (docs/updates.md): each value checked where it stands, and what the updater needs
"$KILN" keygen --out rel --no-passphrase > /dev/null || fail keygen
echo "not a key" > bad.pub
upd() { # upd FILE LAYOUT PACKAGES UPDATES_YAML
    printf 'name: t\nversion: 1.0.0\nbase: { family: deb, suite: bookworm }\npackages: { install: [%s] }\nstorage: { layout: %s }\nupdates:\n%b\n' \
        "$3" "$2" "$4" > "$1"
}
pk="dracut, libcryptsetup12, systemd-boot"
upd u-good.yml immutable "$pk" '  { server: "http://10.0.2.2:8470/v1/update/", channel: stable, auto: false, check: "systemctl is-active ssh", keys: [rel.pub] }'
expect_status 0 "$KILN" build --check u-good.yml
upd u-std.yml standard "$pk" '  { server: "http://h/v1/update/", keys: [rel.pub] }'
expect_status 2 "$KILN" build --check u-std.yml
expect_in "$T/err" 'u-std.yml:7:3: updates: updates need storage.layout: immutable'
upd u-sdboot.yml immutable "dracut, libcryptsetup12" '  { server: "http://h/v1/update/", keys: [rel.pub] }'
expect_status 2 "$KILN" build --check u-sdboot.yml
expect_in "$T/err" 'add systemd-boot to packages.install'
upd u-https.yml immutable "$pk" '  server: "https://h/v1/update/"\n  keys: [rel.pub]'
expect_status 2 "$KILN" build --check u-https.yml
expect_in "$T/err" 'u-https.yml:7:11: updates.server: "https://h/v1/update/" is not an http:// URL'
upd u-inject.yml immutable "$pk" '  server: "http://h/a b"\n  keys: [rel.pub]'
expect_status 2 "$KILN" build --check u-inject.yml
expect_in "$T/err" 'u-inject.yml:7:11: updates.server:'
upd u-nokeys.yml immutable "$pk" '  server: "http://h/"'
expect_status 2 "$KILN" build --check u-nokeys.yml
expect_in "$T/err" "updates.keys: the updater needs the gallery's trusted public keys"
upd u-badkey.yml immutable "$pk" '  server: "http://h/"\n  keys: [bad.pub]'
expect_status 2 "$KILN" build --check u-badkey.yml
expect_in "$T/err" 'u-badkey.yml:8:10: updates.keys[0]:'
expect_in "$T/err" 'is not a minisign public key'
upd u-outside.yml immutable "$pk" '  server: "http://h/"\n  keys: [/etc/hostname]'
expect_status 2 "$KILN" build --check u-outside.yml
expect_in "$T/err" 'outside'
upd u-check.yml immutable "$pk" '  server: "http://h/"\n  keys: [rel.pub]\n  check: ""\n  interval: 5\n  channel: "a b"\n  bogus: 1'
expect_status 2 "$KILN" build --check u-check.yml
expect_in "$T/err" 'updates.check: the health check is one non-empty shell command line'
expect_in "$T/err" 'updates.interval: "5" is not a number of seconds between 60 and 604800'
expect_in "$T/err" 'updates.channel: "a b" is not a valid channel name'
expect_in "$T/err" 'u-check.yml:12:3: updates.bogus: unknown key "bogus"'
# a leading 0 is octal in YAML 1.1 (PyYAML reads 0600 as 384): refused, not read as 600
upd u-octal.yml immutable "$pk" '  server: "http://h/"\n  keys: [rel.pub]\n  interval: 0600'
expect_status 2 "$KILN" build --check u-octal.yml
expect_in "$T/err" 'updates.interval: "0600" is not a number of seconds between 60 and 604800'
exit 0
