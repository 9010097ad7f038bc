#!/bin/sh
# Builds each parser's libFuzzer target with clang (ASan+UBSan) and runs it for a bounded
# time from the seed corpus. usage: tests/fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]
set -eu
secs=${1:-10}
targets="tap ltp junit runbook console disk spec archive minisign dsse inspect pkgdb secret gallery yaml decide api manifest omaha rootfs_tar dashboard repostate network pkgprogress progress"
[ $# -gt 1 ] && shift && targets="$*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${KILN_FUZZ_OUT:-$root/build-fuzz}
mkdir -p "$out"
command -v clang >/dev/null || { echo "fuzz: clang is not installed" >&2; exit 77; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu17 -D_GNU_SOURCE
       -DKILN_VERSION=\"fuzz\" -DKILN_SOURCE_DATA_DIR=\"$root/data\" -DKILN_GUEST_BUILD_PATH=\"/nonexistent\"
       -I$root/src $(pkg-config --cflags yaml-0.1 libxml-2.0 jansson)"
libs="$(pkg-config --libs yaml-0.1 libxml-2.0 jansson zlib libzstd libcrypto libarchive libsodium libssh ext2fs com_err libsquashfs1) -lpthread -lm"
util="$root/src/util/util.c $root/src/util/utf8.c $root/src/util/log.c $root/src/util/secret.c $root/src/util/fs.c $root/src/util/yaml.c $root/src/util/timeutil.c $root/src/util/proc.c $root/src/util/digest.c $root/src/util/strv.c"
# the architecture and artifact tables: specs, runbooks, GPT type names and disk formats look
# facts up in them
model="$root/src/model/arch.c $root/src/model/artifact.c"
image="$root/src/image/disk.c $root/src/image/qcow2.c $root/src/image/vhd.c $root/src/image/gpt.c $root/src/image/ext4_read.c $root/src/image/squashfs_read.c $root/src/image/erofs_read.c $root/src/image/imagecheck.c"
sources() {
    case $1 in
        tap) echo "$root/src/ext/tap.c" ;;
        ltp) echo "$root/src/ext/ltp.c $root/src/ext/tap.c" ;;
        junit) echo "$root/src/ext/junit.c $root/src/ext/tap.c" ;;
        output) echo "$root/src/ext/output.c $root/src/ext/junit.c $root/src/ext/tap.c $root/src/ext/ltp.c" ;;
        # the platform drivers parse their own platform.<type> sections; they link with what they use
        runbook) echo "$root/src/runbook/runbook.c $root/src/runbook/lisa.c $root/src/model/req.c $root/src/platform/*.c
                       $root/src/platform/kvm_probe.S $root/src/node/*.c $image $root/src/image/manifest.c" ;;
        console) echo "$root/src/node/console.c $root/src/node/bootwatch.c" ;;
        network) echo "$root/src/image/network.c $root/src/node/bootwatch.c $root/src/util/inroot.c" ;;
        disk) echo "$image" ;;
        inspect) echo "$image $root/src/image/inspect.c $root/src/image/ext4.c $root/src/image/rootfs_tar.c" ;;
        minisign) echo "$root/src/trust/minisign.c" ;;
        dsse) echo "$root/src/trust/dsse.c $root/src/trust/minisign.c" ;;
        pkgdb) echo "$root/src/trust/pkgdb.c $root/src/trust/sbom.c $root/src/util/html.c $root/src/util/inroot.c $image $root/src/image/inspect.c $root/src/image/rootfs_tar.c" ;;
        rootfs_tar) echo "$image $root/src/image/inspect.c $root/src/image/rootfs_tar.c" ;;
        spec) echo "$root/src/image/spec.c $root/src/trust/minisign.c" ;;
        archive) echo "$root/src/report/archive.c" ;;
        secret) echo "" ;;
        gallery) echo "$root/src/gallery/catalog.c" ;;
        yaml) ;;
        decide) echo "$root/src/suites/decide_cvm.c $root/src/suites/decide_hpc.c $root/src/suites/decide_containers.c $root/src/suites/decide.c $root/src/util/version.c" ;;
        api) echo "$root/src/service/api.c" ;;
        manifest) echo "$root/src/image/manifest.c" ;;
        repostate) echo "$root/src/image/repostate.c" ;;
        pkgprogress) echo "$root/src/image/pkg_progress.c $root/src/util/progress.c" ;;
        progress) echo "$root/src/util/progress.c" ;;
        omaha) echo "$root/src/update/omaha.c $root/src/util/xml.c" ;;
        dashboard) echo "$root/src/service/dash_parse.c $root/src/gallery/catalog.c" ;;
    esac
}
# Each source is compiled once into $out/obj (the targets share most of them), two at a time,
# and each target links its own objects: compiling the shared sources again for every target
# was most of this script's time.
mkdir -p "$out/obj"
objs() { for f in "$@"; do echo "$out/obj/$(echo "${f#"$root"/}" | tr / _).o"; done; }
# shellcheck disable=SC2086
all_src=$(for t in $targets; do echo "$here/fuzz_$t.c" $(sources $t) $util $model; done | tr ' ' '\n' | sed '/^$/d' | sort -u)
for f in $all_src; do
    o=$(objs "$f")
    [ -f "$o" ] && [ "$o" -nt "$f" ] || echo "$f $o"
done | FUZZ_FLAGS=$flags xargs -r -n 2 -P 2 sh -c 'clang $FUZZ_FLAGS -c -o "$1" "$0"' || { echo "fuzz: compiling the targets failed" >&2; exit 1; }
status=0
for t in $targets; do
    # shellcheck disable=SC2086
    clang $flags -o "$out/fuzz_$t" $(objs "$here/fuzz_$t.c" $(sources $t) $util $model) $libs
    mkdir -p "$out/corpus-$t"
    maxlen=16384
    case $t in disk | inspect | rootfs_tar) maxlen=70000 ;; archive | minisign | dsse) maxlen=8192 ;; esac
    if "$out/fuzz_$t" -max_total_time="$secs" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/fuzz_$t-" \
        "$out/corpus-$t" "$here/corpus/$t" > "$out/fuzz_$t.log" 2>&1; then
        # a target that ran no input (a harness or corpus that never got going) has proved nothing
        runs=$(grep -Eo 'Done [0-9]+ runs' "$out/fuzz_$t.log" | tail -n 1 | grep -Eo '[0-9]+' || true)
        if [ "${runs:-0}" -gt 0 ]; then
            echo "fuzz_$t: $runs runs in ${secs}s, no findings"
        else
            echo "fuzz_$t: ran no input (see $out/fuzz_$t.log)"; tail -n 30 "$out/fuzz_$t.log"; status=1
        fi
    else
        echo "fuzz_$t: FINDING (see $out/fuzz_$t.log)"; tail -n 30 "$out/fuzz_$t.log"; status=1
    fi
done
exit $status
