#!/bin/sh
# case: verify_repos_signed
# expect: /etc/apt/sources.list.d/vendor.sources:1: Trusted: yes
# image: system
# a deb822 source that apt trusts without a signature
. "$(dirname "$0")/lib.sh"
put /etc/apt/sources.list.d/vendor.sources 644 "Types: deb\nURIs: http://vendor.invalid/debian\nSuites: bookworm\nComponents: main\nTrusted: yes\n"
