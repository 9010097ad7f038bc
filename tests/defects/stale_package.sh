#!/bin/sh
# case: verify_vulnerable_packages
# expect: openssh-server
# image: packages
# The image's openssh-server is older than an advisory's fixed version: the feed (written
# beside the image) says the fix is one build newer than what the image has.
. "$(dirname "$0")/lib.sh"
ver=$(debugfs -R "cat /var/lib/dpkg/status" "$IMG" 2>/dev/null |
      awk '/^Package: openssh-server$/ {p=1} p && /^Version:/ {print $2; exit}')
[ -n "$ver" ] || { echo "openssh-server not found in the image's dpkg status" >&2; exit 1; }
cat > "$IMG.feed.yml" <<YAML
advisories:
  - { id: KILN-TEST-0001, package: openssh-server, family: deb, fixed: "$ver+kiln1", severity: high }
YAML
echo "vulnerability_feed: $IMG.feed.yml" >> "$IMG.extra.yml"
