#!/bin/sh
# case: verify_multiqueue
# expect: uses 1 rx / 1 tx queues
# image: packages
. "$(dirname "$0")/lib.sh"
# a .link file caps every NIC at one channel: multiqueue NICs lose their parallelism
put /etc/systemd/network/10-one-queue.link 644 "[Match]\nOriginalName=*\n\n[Link]\nNamePolicy=keep kernel database onboard slot path\nCombinedChannels=1\n"
