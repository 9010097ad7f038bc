#!/bin/sh
# The release half of `make demo`: sign what kiln build made, publish it into a gallery that
# accepts only signed images whose validation run passed, pull it back verified, and pack the
# run's telemetry into a signed archive.
#   sh examples/release.sh KILN [OUT-DIR] [RUN-DIR]
set -eu
kiln=${1:-kiln}
out=${2:-out}
run=${3:-runs/latest}
v=debian-server-1.0.0
# a demo key without a passphrase; a real release key gets one (kiln keygen prompts, or KILN_PASSPHRASE)
[ -f "$out/keys/demo.key" ] || "$kiln" keygen --out "$out/keys/demo" --no-passphrase
"$kiln" sign -k "$out/keys/demo.key" "$out/$v".*
"$kiln" verify -p "$out/keys/demo.pub" "$out/$v.qcow2"
rm -rf "$out/gallery" "$out/pulled"
# the demo's run validates the provisioning area: that is what this gallery requires; the key
# signs the gallery's catalog too (its index and each version's entry)
"$kiln" gallery init --gallery "$out/gallery" --trust "$out/keys/demo.pub" -k "$out/keys/demo.key" \
    --require-priority 1 --require-area provisioning
"$kiln" publish "$out/$v" --gallery "$out/gallery" -k "$out/keys/demo.key" --channel stable --run "$run"
"$kiln" gallery list --gallery "$out/gallery" --supported
"$kiln" gallery pull debian-server --gallery "$out/gallery" --channel stable --artifact qcow2 --out "$out/pulled"
id=$(basename "$(readlink -f "$run")")
"$kiln" archive "$run" -k "$out/keys/demo.key" -o "$out/$id.tar.zst"
"$kiln" archive --verify "$out/$id.tar.zst" -p "$out/keys/demo.pub"
