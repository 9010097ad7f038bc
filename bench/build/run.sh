#!/bin/sh
# bench/build: `kiln build` against mkosi 14 (the Debian package) on equivalent minimal Debian
# bookworm specs (same package list, GPT disk with an ext4 root, raw output), in the same run,
# cold (empty caches), warm (second build with the caches of the first) and edit (a third, after
# a one-file change: the file both copy into the image, kiln's os.files, mkosi's mkosi.extra).
# What each covers: both resolve, download and install the packages and write a GPT disk image.
# kiln also makes the image bootable (ESP with systemd-boot, loader entry, kernel, initrd),
# generalizes it and writes a manifest with every package and every artifact's sha256. mkosi 14
# runs with Bootable=no: its bootable path mounts the ESP through a loop device, and where the
# host kernel has no vfat (this one) it cannot build a bootable image at all; kiln needs neither
# loop devices nor mounts. Without Bootable= mkosi also skips the initrd; kiln makes one, once,
# with the drivers a VM boots from (boot.initrd_modules: vm, its default; docs/image.md).
# mkosi also runs with WithDocs=yes: its doc removal goes through
# systemd-nspawn, which needs a booted systemd host. Both run dpkg with force-unsafe-io while
# they bootstrap. mkosi 14 builds the ext4 root on a loop device it mounts; kiln writes it with
# mke2fs -d where it lies in the disk file. mkosi 14 takes security updates from
# security.debian.org itself, kiln from the host's security mirror. Cold: both start from an
# empty cache of their own under $T (kiln's KILN_CACHE holds its .debs and trees, mkosi's
# --cache its .debs), so each downloads every package. Warm: kiln reuses its cached package tree
# (the copy it customizes has /usr as hard links to it, the rest copied);
# mkosi 14 reuses its package cache (its incremental mode applies only to build scripts).
# usage: bench/build/run.sh [BUILD_DIR]   (root)
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$root/$build/kiln
[ -x "$kiln" ] || { echo "build kiln first (make build)" >&2; exit 2; }
command -v mkosi >/dev/null || { echo "mkosi is not installed (apt-get install mkosi)" >&2; exit 2; }
T=$(mktemp -d /var/tmp/kiln-bench-build-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T"
pkgs="systemd-sysv,udev,dbus,openssh-server,linux-image-amd64,initramfs-tools,iproute2,kmod,procps,systemd-timesyncd,e2fsprogs,netbase,ca-certificates"
mirror=$(sed -n 's/^URIs: *\(.*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p files
printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' > files/80-dhcp.network
cat > spec.yml <<YAML
name: bench
version: 1.0.0
base: { family: deb, suite: bookworm, mirror: $mirror }
packages: { install: [$(echo "$pkgs" | sed 's/,/, /g')] }
os:
  hostname: bench
  files: [ { src: files/80-dhcp.network, dst: /etc/systemd/network/80-dhcp.network } ]
  kernel_cmdline: "console=ttyS0"
storage: { size: 2G }
output: [raw]
YAML
mkdir -p mk/mkosi.extra/etc/systemd/network
cp files/80-dhcp.network mk/mkosi.extra/etc/systemd/network/
cat > mk/mkosi.default <<INI
[Distribution]
Distribution=debian
Release=bookworm
Mirror=$mirror

[Output]
Format=gpt_ext4
Bootable=no
Hostname=bench
KernelCommandLine=console=ttyS0

[Content]
WithDocs=yes
Packages=$pkgs

[Partitions]
RootSize=1800M
INI
now() { date +%s.%N; }
run_kiln() { KILN_CACHE=$T/kcache "$kiln" build spec.yml --out "kout-$1" > "kiln-$1.log" 2>&1; }
run_mkosi() { (cd mk && mkosi --cache "$T/mcache" -f -o "$T/mkosi-$1.raw" build) > "mkosi-$1.log" 2>&1; }
# edit: the one file both specs copy in changes, then each tool builds again with its caches
for phase in cold warm edit; do
    if [ "$phase" = edit ]; then
        printf 'LinkLocalAddressing=no\n' >> files/80-dhcp.network
        cp files/80-dhcp.network mk/mkosi.extra/etc/systemd/network/
    fi
    sync; t0=$(now); run_kiln "$phase" || { tail -20 "kiln-$phase.log"; echo "kiln build failed" >&2; exit 1; }; t1=$(now)
    sync; m0=$(now); run_mkosi "$phase" || { tail -20 "mkosi-$phase.log"; echo "mkosi failed" >&2; exit 1; }; m1=$(now)
    k=$(echo "$t1 - $t0" | bc -l) m=$(echo "$m1 - $m0" | bc -l)
    printf '%s: kiln %6.1f s  mkosi %6.1f s  ratio %.2f×\n' "$phase" "$k" "$m" "$(echo "$k / $m" | bc -l)"
    # each phase's images are gigabytes: only the last phase's stay, to list them
    [ "$phase" = edit ] || rm -rf "kout-$phase" "mkosi-$phase.raw" "mkosi-$phase.raw.manifest"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
for phase in cold edit; do
    echo "kiln stages ($phase):"; grep -E '\] [a-z-]+ +[0-9.]+ s' "kiln-$phase.log" | sed 's/^/  /'
done
echo "outputs (edit):"; ls -la kout-edit/ "mkosi-edit.raw" 2>/dev/null | sed 's/^/  /' || true
