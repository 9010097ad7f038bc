#!/bin/sh
# case: verify_repos_signed
# expect: Acquire::AllowInsecureRepositories "true" (apt.conf)
# image: cmdline
# apt's real option name, in /etc/apt/apt.conf rather than apt.conf.d
. "$(dirname "$0")/lib.sh"
put /etc/apt/apt.conf 644 "Acquire::AllowInsecureRepositories \"true\";\n"
