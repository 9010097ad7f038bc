#!/bin/sh
# Builds the Debian bookworm test image: systemd, OpenSSH, the Debian kernel, DHCP on
# every NIC through systemd-networkd. Made with mmdebstrap and `mke2fs -d` (no loop
# devices, no mounts). Generalised: no SSH host keys (made on first boot), empty
# machine-id, root password locked, hardening sysctls, SSH keys come from the systemd credential or cloud-init,
# time from systemd-timesyncd against 10.0.2.2 (kiln's NTP source on the host, src/platform/ntp.c).
# tpm2-tools: the cvm cases ask the TPM (tpm2_getcap, tpm2_pcrread, tpm2_eventlog).
#
# usage: debian.sh OUTDIR → OUTDIR/disk.qcow2 (whole-disk ext4, label "root"),
#        OUTDIR/vmlinuz, OUTDIR/initrd.img, OUTDIR/root-uuid
set -eu
out=${1:?usage: debian.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${KILN_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
uuid=6b696c6e-0000-4000-8000-000000000001

mmdebstrap --variant=apt --mode=root --format=directory \
    --include=systemd-sysv,udev,dbus,openssh-server,linux-image-amd64,initramfs-tools,iproute2,kmod,procps,systemd-timesyncd,e2fsprogs,netbase,ca-certificates,tpm2-tools \
    --customize-hook='echo kiln-debian > "$1/etc/hostname"' \
    --customize-hook="echo 'UUID=$uuid / ext4 defaults,errors=remount-ro 0 1' > \"\$1/etc/fstab\"" \
    --customize-hook='mkdir -p "$1/etc/systemd/network" && printf "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/80-dhcp.network"' \
    --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-timesyncd' \
    --customize-hook='mkdir -p "$1/etc/systemd/timesyncd.conf.d" && printf "[Time]\nNTP=10.0.2.2\n" > "$1/etc/systemd/timesyncd.conf.d/50-kiln.conf"' \
    --customize-hook='printf "nameserver 10.0.2.3\n" > "$1/etc/resolv.conf"' \
    --customize-hook='chroot "$1" usermod -p "*" root' \
    --customize-hook='printf "kernel.kptr_restrict = 2\nkernel.dmesg_restrict = 1\nnet.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.default.accept_redirects = 0\nnet.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\nnet.ipv6.conf.all.accept_redirects = 0\nfs.suid_dumpable = 0\n" > "$1/etc/sysctl.d/50-kiln-hardening.conf"' \
    --customize-hook='mkdir -p "$1/etc/ssh/sshd_config.d" && printf "PasswordAuthentication no\nPermitRootLogin prohibit-password\n" > "$1/etc/ssh/sshd_config.d/50-kiln.conf"' \
    --customize-hook='printf "[Unit]\nDescription=Generate SSH host keys on first boot\nBefore=ssh.service\nConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n[Install]\nWantedBy=multi-user.target\n" > "$1/etc/systemd/system/kiln-ssh-keygen.service" && chroot "$1" systemctl enable kiln-ssh-keygen.service' \
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
echo "$uuid" > "$out/root-uuid"
