#!/bin/sh
# bench/rollout: 1,000 simulated Omaha clients (random machine ids) against kiln serve
# --gallery with a 10 % rollout (no VMs). Prints the share offered (must be 8-12 %), whether
# every machine got the same answer twice, that --max-per-hour and --pause-after-failures
# held, and the server's requests per second. usage: bench/rollout/run.sh [BUILD_DIR]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
export KILN="$root/${1:-build}/kiln" KILN_ROOT="$root" KILN_ROLLOUT_FLEET=1000
exec sh "$root/tests/integration/rollout.sh"
