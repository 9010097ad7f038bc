#!/bin/sh
# passes: verify_update_apply verify_update_rollback verify_update_tampered verify_update_opt_out
# The update cases end to end under TCG (make check-long: several image builds and reboots):
# examples/update-images.sh builds debian-update 1.0.0, 1.0.1 and the broken 1.0.2, validates
# and publishes them; examples/update.yml then runs verify_update_apply, _rollback, _tampered
# and _opt_out, each on a fresh machine from 1.0.0, against the update server the qemu
# platform runs. Images are kept in KILN_UPDATE_OUT (default out/update) between runs.
. "$(dirname "$0")/lib.sh"
out=${KILN_UPDATE_OUT:-$KILN_ROOT/out/update}
start=$(date +%s)
sh "$KILN_ROOT/examples/update-images.sh" "$KILN" "$out" > images.txt 2>&1 || { tail -40 images.txt; fail "update-images.sh failed"; }
note "images built, validated and published in $(( $(date +%s) - start )) s"
# what a version changes is in its /usr (the root partition stays the machine's): the health
# check, its unit, the updater's units, and the drop-in that lets systemd-tmpfiles-setup read
# the credential kiln-updater.conf (systemd 252 loads only the credentials its unit names)
for v in 1.0.0 1.0.1 1.0.2; do
    for f in /lib/kiln/health-check /lib/systemd/system/kiln-update-health.service /lib/systemd/system/kiln-updater.service \
             /lib/systemd/system/systemd-tmpfiles-setup.service.d/50-kiln-updater.conf; do
        # dump.erofs exits 0 on a missing path too: its "File :" line says it found it
        dump.erofs --path="$f" "$out/debian-update-$v.usr.img" 2>/dev/null | grep -qx "File : $f" ||
            fail "debian-update $v: /usr$f is not in its /usr image"
    done
done
gallery_before=$(cd "$out/gallery" && find . -type f -exec sha256sum {} + | sort | sha256sum)
"$KILN" run --runs-dir runs -v "out=$out" "$KILN_ROOT/examples/update.yml" > run.txt 2>&1
rc=$?
cat run.txt
r=runs/latest/results.json
for c in verify_update_apply verify_update_rollback verify_update_tampered verify_update_opt_out; do
    st=$(jq -r ".cases[] | select(.name==\"$c\") | .status" "$r")
    note "$c: $st: $(jq -r ".cases[] | select(.name==\"$c\") | .reason // \"\"" "$r")"
    [ "$st" = passed ] || fail "$c $st"
done
[ "$rc" -eq 0 ] || fail "kiln run exited $rc"
# the tampered case put the gallery back byte for byte
[ "$(cd "$out/gallery" && find . -type f -exec sha256sum {} + | sort | sha256sum)" = "$gallery_before" ] ||
    fail "the gallery differs after the run"
expect_in runs/latest/update-server.log "kiln serve: stopping"
expect_no_qemu
note "update.yml: 4 passed in $(( $(date +%s) - start )) s in all"
exit 0
