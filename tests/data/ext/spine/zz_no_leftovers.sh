#!/bin/sh
# runs after timeout.sh on the same node: the timed-out command's processes are gone
if pgrep -f 'sleep 300[12]' >/dev/null; then
    echo "left over: $(pgrep -af 'sleep 300[12]' 2>/dev/null || pgrep -f 'sleep 300[12]')" >&2
    exit 1
fi
echo "no leftovers"
