#!/bin/sh
# Builds the small orchestration test image: Debian's kernel plus an initramfs
# holding busybox and dropbear. Boots to SSH in seconds under TCG.
# Root's SSH key comes from the SMBIOS credential ssh.authorized_keys.root,
# the same credential systemd reads, so kiln injects keys the same way for both.
#
# usage: busybox.sh OUTDIR   (writes OUTDIR/vmlinuz, OUTDIR/initrd.img)
set -eu
out=${1:?usage: busybox.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || { echo "busybox.sh: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 1; }
(cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1) || { echo "busybox.sh: apt-get download $kpkg failed" >&2; exit 1; }
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
kver=$(ls "$work/k/lib/modules")

r=$work/root
mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/etc/init.d "$r"/etc/dropbear \
         "$r"/proc "$r"/sys "$r"/dev "$r"/tmp "$r"/run "$r"/root/.ssh "$r"/var/log \
         "$r"/lib/modules "$r"/usr/share/udhcpc "$r"/mnt
cp /usr/bin/busybox "$r/bin/busybox"
for app in $("$r/bin/busybox" --list-full); do
    [ -e "$r/$app" ] || ln -s /bin/busybox "$r/$app"
done

# Only the drivers a QEMU guest needs, with what they depend on (read from each module's
# own depends= field); modules.dep is then made by busybox's depmod.
m=$work/k/lib/modules/$kver
mkdir -p "$r/lib/modules/$kver"
add_module() {
    name=$1
    f=$(find "$m/kernel" \( -name "$name.ko" -o -name "$(echo "$name" | tr _ -).ko" -o -name "$(echo "$name" | tr - _).ko" \) | head -n 1)
    [ -n "$f" ] || { grep -qE "/$name.ko$|/$(echo "$name" | tr _ -).ko$" "$m/modules.builtin" || echo "busybox.sh: module $name not found" >&2; return 0; }
    d=$r/lib/modules/$kver/${f#"$m/"}
    [ -e "$d" ] && return 0
    mkdir -p "$(dirname "$d")"
    cp "$f" "$d"
    for dep in $(busybox strings -a "$f" | sed -n 's/^depends=//p' | tr , ' '); do add_module "$dep"; done
}
# crc32c_generic: ext4 asks the crypto API for crc32c at mount time, not through depends=
for mod in virtio_pci virtio_net virtio_blk virtio_rng virtio_scsi sd_mod nvme ext4 crc32c_generic vfat nls_cp437 nls_ascii; do
    add_module "$mod"
done
cp "$m/modules.builtin" "$m/modules.order" "$r/lib/modules/$kver/"
"$r/bin/busybox" depmod -b "$r" "$kver"

cp /usr/sbin/dropbear "$r/usr/sbin/dropbear"
for lib in $(ldd /usr/sbin/dropbear | awk '/=>/{print $3} /ld-linux/{print $1}'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
done

cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
P
echo 'root:*:19000:0:99999:7:::' > "$r/etc/shadow"
echo 'root:x:0:' > "$r/etc/group"
echo '/bin/sh' > "$r/etc/shells"
cat > "$r/etc/os-release" <<'P'
ID=kiln-busybox
NAME="kiln busybox test image"
PRETTY_NAME="kiln busybox test image"
VERSION_ID=1
P
cat > "$r/etc/inittab" <<'P'
::sysinit:/etc/init.d/rcS
::respawn:/usr/sbin/dropbear -F -E -R -s -p 22
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
P
cat > "$r/usr/share/udhcpc/default.script" <<'P'
#!/bin/sh
case "$1" in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    for d in ${dns:-}; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
P
cat > "$r/etc/init.d/rcS" <<'P'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for mod in virtio_pci virtio_net virtio_blk virtio_rng virtio_scsi sd_mod nvme crc32c_generic ext4 vfat; do
    modprobe "$mod" 2>/dev/null
done
hostname kiln-busybox
ip link set lo up
for n in /sys/class/net/*; do
    i=${n##*/}
    [ "$i" = lo ] && continue
    ip link set "$i" up
    udhcpc -i "$i" -q -n -t 5 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 &
done
wait
# systemd-style credentials from SMBIOS type 11 OEM strings.
for e in /sys/firmware/dmi/entries/11-*/raw; do
    [ -r "$e" ] || continue
    dd if="$e" bs=1 skip=5 2>/dev/null | tr '\0' '\n' | while IFS= read -r s; do
        case "$s" in
        io.systemd.credential.binary:ssh.authorized_keys.root=*)
            echo "${s#*=}" | base64 -d >> /root/.ssh/authorized_keys ;;
        io.systemd.credential:ssh.authorized_keys.root=*)
            echo "${s#*=}" >> /root/.ssh/authorized_keys ;;
        esac
    done
done
chmod 700 /root/.ssh
[ -f /root/.ssh/authorized_keys ] && chmod 600 /root/.ssh/authorized_keys
echo "kiln-busybox: ready"
P
chmod 755 "$r/etc/init.d/rcS" "$r/usr/share/udhcpc/default.script"
ln -s /bin/busybox "$r/init" 2>/dev/null || true

cp "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9n) > "$out/initrd.img.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$kver" > "$out/kernel-version"
