#!/bin/sh
# case: verify_sshd_config
# expect: sshd -T for user root: permitrootlogin is "yes"
# image: cmdline
# A Match block lets root in by password: plain `sshd -T` shows the global
# prohibit-password, only `sshd -T -C user=root,...` shows what a root login gets.
. "$(dirname "$0")/lib.sh"
put /etc/ssh/sshd_config.d/20-maintenance.conf 644 "Match User root\n    PermitRootLogin yes\n"
