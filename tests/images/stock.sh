#!/bin/sh
# Builds a stock Debian bookworm image the way distributions and users configure them, not
# tuned for kiln: Debian's defaults everywhere (sshd, sysctls, NTP pool servers, no
# hardening), one of four network set-ups. Only what makes a generalised image usable stays:
# no SSH host keys and an empty machine-id (made on first boot), root's password locked;
# SSH keys reach root through the systemd credential (systemd 252's provision.conf) or,
# in the cloud-init variant, through cloud-init's NoCloud seed.
#
# usage: stock.sh OUTDIR VARIANT → OUTDIR/disk.qcow2 (whole-disk ext4, label "root"),
#        OUTDIR/vmlinuz, OUTDIR/initrd.img, OUTDIR/append (the kernel command line to boot it)
# VARIANT:
#   networkd   systemd-networkd with one 10-e.network (DHCP on e*), systemd-resolved
#   ifupdown   ifupdown + isc-dhcp-client, eth0 by DHCP (net.ifnames=0, as older cloud images)
#   nm         NetworkManager with its default automatic DHCP connection on every NIC
#   cloudinit  cloud-init + netplan (networkd backend), as Debian 12's cloud images
set -eu
out=${1:?usage: stock.sh OUTDIR VARIANT}
variant=${2:?usage: stock.sh OUTDIR VARIANT}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${KILN_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
uuid=6b696c6e-0000-4000-8000-000000000002
base=systemd-sysv,udev,dbus,openssh-server,linux-image-amd64,initramfs-tools,iproute2,kmod,procps,systemd-timesyncd,e2fsprogs,netbase,ca-certificates,apparmor
append="console=ttyS0 root=LABEL=root rw"
keygen=yes
set --
case $variant in
    networkd)
        pkgs=$base,systemd-resolved
        set -- --customize-hook='mkdir -p "$1/etc/systemd/network" && printf "[Match]\nName=e*\n\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/10-e.network"' \
               --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-resolved' ;;
    ifupdown)
        pkgs=$base,ifupdown,isc-dhcp-client
        append="$append net.ifnames=0"
        set -- --customize-hook='printf "auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n" > "$1/etc/network/interfaces"' ;;
    nm)
        pkgs=$base,network-manager
        set -- --customize-hook='chroot "$1" systemctl enable NetworkManager' ;;
    cloudinit)
        pkgs=$base,cloud-init,netplan.io,systemd-resolved
        keygen=no
        set -- --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-resolved' ;;
    *) echo "stock.sh: unknown variant $variant (networkd, ifupdown, nm, cloudinit)" >&2; exit 2 ;;
esac
if [ "$keygen" = yes ]; then
    # without cloud-init nothing in Debian makes host keys on first boot: the one unit a
    # generalised image needs, as a user's own image would carry
    set -- "$@" --customize-hook='printf "[Unit]\nDescription=Generate SSH host keys on first boot\nBefore=ssh.service\nConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n[Install]\nWantedBy=multi-user.target\n" > "$1/etc/systemd/system/ssh-keygen-first-boot.service" && chroot "$1" systemctl enable ssh-keygen-first-boot.service'
fi

mmdebstrap --variant=apt --mode=root --format=directory --include="$pkgs" \
    --customize-hook="echo debian-$variant > \"\$1/etc/hostname\"" \
    --customize-hook="echo 'UUID=$uuid / ext4 defaults,errors=remount-ro 0 1' > \"\$1/etc/fstab\"" \
    --customize-hook='chroot "$1" usermod -p "*" root' \
    "$@" \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook=': > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"' \
    --customize-hook='cp "$1"/boot/vmlinuz-* "$1/../vmlinuz"; cp "$1"/boot/initrd.img-* "$1/../initrd.img"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/root/.bash_history; find "$1/var/log" -type f -delete' \
    bookworm "$work/root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"

mke2fs -q -t ext4 -L root -U "$uuid" -E root_owner=0:0 -d "$work/root" "$work/disk.raw" 2G
qemu-img convert -q -O qcow2 "$work/disk.raw" "$out/disk.qcow2.tmp"
mv "$work/vmlinuz" "$out/vmlinuz.tmp"
mv "$work/initrd.img" "$out/initrd.img.tmp"
for f in disk.qcow2 vmlinuz initrd.img; do mv "$out/$f.tmp" "$out/$f"; done
echo "$append" > "$out/append"
