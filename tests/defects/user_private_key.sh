#!/bin/sh
# case: verify_no_baked_private_keys
# expect: /root/.ssh/id_ed25519
# image: pair-a
# the builder's own SSH key left in root's home
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d); ssh-keygen -q -t ed25519 -N '' -C builder@ci -f "$d/k"
put /root/.ssh/id_ed25519 600 "$(cat "$d/k")\n"
rm -rf "$d"
