#!/bin/sh
# Installs the Debian packages kiln needs to build, test and run its demo.
# Idempotent: installs only what is missing. Must run as root (or with sudo).
set -eu
pkgs="build-essential meson ninja-build pkg-config git
      libyaml-dev libssh-dev libjansson-dev libssl-dev libxml2-dev clang libclang-rt-14-dev
      qemu-system-x86 qemu-utils ovmf qemu-system-arm qemu-efi-aarch64 qemu-user-static arch-test
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      busybox-static dropbear-bin mmdebstrap eatmydata cpio e2fsprogs dosfstools mtools zstd
      openssh-client openssh-server jq bc linux-source rsync libxml2-utils perl
      zlib1g-dev libzstd-dev systemd-boot-efi gdisk erofs-utils squashfs-tools cryptsetup-bin
      rpm dnf createrepo-c gnupg apt-utils mkosi minisign libarchive-dev libsodium-dev
      libsqlite3-dev libext2fs-dev libsquashfs-dev uidmap sqlite3 libpq-dev postgresql-15 libmicrohttpd-dev libcurl4-openssl-dev chromium
      swtpm sbsigntool podman nodejs tgt"
# aarch64 images: mmdebstrap runs arm64 maintainer scripts through binfmt_misc + qemu-user-static;
# containers often have binfmt_misc unmounted, so qemu-user-static's own registration did not land
binfmt() {
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return 0
    [ -e /usr/lib/binfmt.d/qemu-aarch64.conf ] || return 0
    [ "$(id -u)" -eq 0 ] || { echo "deps.sh: run as root to register qemu-aarch64 with binfmt_misc" >&2; return 0; }
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 0
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register ||
        echo "deps.sh: cannot register qemu-aarch64 with binfmt_misc: aarch64 images cannot be built here" >&2
}
# The SBOM validators the tests run (tests/tools/validate-sbom.js): the CycloneDX project's
# library with its schemas and validator, and Ajv, pinned, from the npm registry into a prefix
# of their own (KILN_VALIDATORS; the tests read the same variable).
validators() {
    dir=${KILN_VALIDATORS:-/usr/local/lib/kiln-validators}
    want="@cyclonedx/cyclonedx-library@10.3.0 ajv@8.20.0 ajv-formats@3.0.1 ajv-formats-draft2019@1.6.1"
    [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ] && return 0
    # a Node.js build that bundles npm (NodeSource's) conflicts with Debian's npm package
    command -v npm >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive ${SUDO-} apt-get install -y -qq --no-install-recommends npm ||
        { echo "deps.sh: no npm: the SBOM validators are not installed" >&2; return 1; }
    echo "deps.sh: installing the SBOM validators into $dir: $want"
    mkdir -p "$dir" && npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error $want &&
        echo "$want" > "$dir/.installed"
}
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { binfmt; validators; exit; }
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps.sh: missing packages:$missing" >&2
        echo "deps.sh: run as root (or install sudo) so they can be installed with apt-get" >&2
        exit 1
    fi
else SUDO=; fi
echo "deps.sh: installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
binfmt
validators
