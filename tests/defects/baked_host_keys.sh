#!/bin/sh
# case: verify_ssh_host_keys_unique
# expect: host keys are baked into the image
# image: pair-a
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d); ssh-keygen -q -t ed25519 -N '' -C baked -f "$d/k"
put /etc/ssh/ssh_host_ed25519_key 600 "$(cat "$d/k")\n"
put /etc/ssh/ssh_host_ed25519_key.pub 644 "$(cat "$d/k.pub")\n"
rm -rf "$d"
