#!/bin/sh
# case: verify_sshd_config
# expect: permitrootlogin is "yes"
# image: system
. "$(dirname "$0")/lib.sh"
# sshd keeps the first value it reads, and 10- sorts before the image's 50-kiln.conf
put /etc/ssh/sshd_config.d/10-legacy.conf 644 "PasswordAuthentication yes\nPermitRootLogin yes\n"
