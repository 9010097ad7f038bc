#!/bin/sh
# case: verify_repos_signed
# expect: nothing to examine: apt has no repository
# image: packages
# No repository definition at all: nothing to examine, which the base policy skips and a
# policy with cases.nothing_to_examine: fail (written beside the image) fails.
. "$(dirname "$0")/lib.sh"
remove /etc/apt/sources.list
sed 's/^  nothing_to_examine: skip$/  nothing_to_examine: fail/' "$(dirname "$0")/../../data/policy.yml" > "$IMG.policy.yml"
grep -q 'nothing_to_examine: fail' "$IMG.policy.yml" || { echo "data/policy.yml has no cases.nothing_to_examine: skip" >&2; exit 1; }
echo "policy: $IMG.policy.yml" >> "$IMG.extra.yml"
