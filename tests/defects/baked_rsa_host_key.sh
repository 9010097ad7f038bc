#!/bin/sh
# case: verify_ssh_host_keys_unique
# expect: have the same host key file(s) /etc/ssh/ssh_host_rsa_key: host keys are baked into the image
# image: pair-b
# A baked RSA host key beside fresh ones: first-boot key generation still runs (a drop-in
# clears its "no key yet" condition) and ssh-keygen -A adds the missing ecdsa and ed25519
# keys, so sshd presents a fresh ed25519 key while the RSA key is the same on every VM.
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d); ssh-keygen -q -t rsa -b 2048 -N '' -C baked -f "$d/k"
put /etc/ssh/ssh_host_rsa_key 600 "$(cat "$d/k")\n"
put /etc/ssh/ssh_host_rsa_key.pub 644 "$(cat "$d/k.pub")\n"
rm -rf "$d"
debugfs -w -R "mkdir /etc/systemd/system/kiln-ssh-keygen.service.d" "$IMG" >/dev/null 2>&1 || true
put /etc/systemd/system/kiln-ssh-keygen.service.d/10-always.conf 644 "[Unit]\nConditionPathExistsGlob=\n"
