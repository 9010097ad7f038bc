#!/bin/sh
# case: verify_no_authorized_keys
# expect: /root/.ssh/authorized_keys2: ssh-ed25519 builder@ci
# image: system
# a key the builder left for root, in the second file sshd reads (the first is where the
# systemd credential puts kiln's key)
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d); ssh-keygen -q -t ed25519 -N '' -C builder@ci -f "$d/k"
put /root/.ssh/authorized_keys2 600 "$(cat "$d/k.pub")\n"
rm -rf "$d"
