#!/bin/sh
# kiln: { area: security, priority: 3, timeout_s: 120 }
# tests/integration/secrets.sh: the secret kiln put in the kernel command line, sent back
# through every path a guest has: the case's output, a 5000-byte console line with the
# secret across byte 4096 (where kiln cuts console lines), and the failure reason.
tok=$(sed -n 's/.*kiln\.tok=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$tok" ] || { echo "no kiln.tok= on the kernel command line"; exit 2; }
echo "output line: $tok"
pad=$(printf '%4090s' '' | tr ' ' a)
tail=$(printf '%900s' '' | tr ' ' b)
printf '%s%s%s\n' "$pad" "$tok" "$tail" > /dev/ttyS0
echo "the token was $tok" >&2
exit 1
