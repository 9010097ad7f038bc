#!/bin/sh
# Builds a small signed RPM repository for the rpm build path (no public RPM repository is
# reachable from these machines): packages made with rpmbuild, signed with a throwaway GPG key,
# indexed with createrepo_c. Payload: a filesystem layout, os-release, busybox (from Debian's
# busybox-static, every applet), a kernel package (the busybox test image's kernel and modules,
# and an initramfs whose /init mounts root=PARTUUID=... and switches to it), an init (busybox
# init, DHCP, SSH keys from the SMBIOS credential as systemd reads them), dropbear, and rpm
# itself with the shared libraries both need: enough for a bootable rpm-based guest that the
# suites can inspect with rpm.
#
# usage: rpmrepo.sh OUTDIR BUSYBOX_IMAGE_DIR
#        → OUTDIR/repo (rpms + repodata), OUTDIR/RPM-GPG-KEY-kiln-test
set -eu
out=${1:?usage: rpmrepo.sh OUTDIR BUSYBOX_IMAGE_DIR}
bb=${2:?usage: rpmrepo.sh OUTDIR BUSYBOX_IMAGE_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "kiln test repository <test@kiln.invalid>" rsa2048 sign never 2>/dev/null
gpg --batch --armor --export > "$out/RPM-GPG-KEY-kiln-test"
kver=$(cat "$bb/kernel-version")   # the running kernel must be the packaged one
top=$work/rpmbuild
mkdir -p "$top/SOURCES" "$top/SPECS"
# Debian's dynamically linked busybox: its shell runs commands from PATH (the static build
# prefers its own applets, so `rpm` would be busybox's rpm applet, not rpm)
(cd "$work" && apt-get download busybox >/dev/null 2>&1) || { echo "rpmrepo.sh: apt-get download busybox failed" >&2; exit 1; }
dpkg-deb -x "$work"/busybox_*.deb "$work/bb"
cp "$work/bb/bin/busybox" "$top/SOURCES/busybox"
(cd "$work" && apt-get download chrony >/dev/null 2>&1) || { echo "rpmrepo.sh: apt-get download chrony failed" >&2; exit 1; }
dpkg-deb -x "$work"/chrony_*.deb "$work/chrony"
cp "$work/chrony/usr/sbin/chronyd" "$top/SOURCES/chronyd"
cp "$bb/vmlinuz" "$top/SOURCES/vmlinuz"
cp "$bb/initrd.img" "$top/SOURCES/initrd.img"

spec() { # NAME ARCH REQUIRES INSTALL-SCRIPT FILES
    cat > "$top/SPECS/$1.spec" <<SPEC
Name: $1
Version: 1.0
Release: 1.kiln
Summary: kiln test package $1
License: MIT
BuildArch: $2
AutoReqProv: no
$( [ -n "$3" ] && echo "Requires: $3" )
%global __os_install_post %{nil}
%description
Test package for kiln's rpm build path.
%install
$4
%files
$5
SPEC
}
spec kiln-filesystem noarch "" \
'for d in etc boot dev proc sys run tmp var/tmp var/log root home usr/bin usr/sbin usr/lib; do mkdir -p %{buildroot}/$d; done
mkdir -p %{buildroot}/usr/lib64
ln -s usr/bin %{buildroot}/bin; ln -s usr/sbin %{buildroot}/sbin; ln -s usr/lib %{buildroot}/lib; ln -s usr/lib64 %{buildroot}/lib64' \
'/etc
/boot
/dev
/proc
/sys
/run
%attr(1777,root,root) /tmp
%dir /var
%attr(1777,root,root) /var/tmp
/var/log
/root
/home
/usr
/bin
/sbin
/lib
/lib64'
spec kiln-release noarch kiln-filesystem \
'mkdir -p %{buildroot}/etc
printf "NAME=\"kiln rpm test\"\nID=kiln-rpm\nID_LIKE=\"rhel fedora\"\nVERSION_ID=1\nPRETTY_NAME=\"kiln rpm test 1\"\n" > %{buildroot}/etc/os-release' \
'/etc/os-release'
# every applet, bin/ and sbin/ folded into usr/ (kiln-filesystem links them)
applets=$("$work/bb/bin/busybox" --list-full | sed 's|^bin/|usr/bin/|; s|^sbin/|usr/sbin/|' | LC_ALL=C sort -u | grep -vE '^usr/bin/(busybox|rpm)$')
spec kiln-busybox x86_64 kiln-libs \
"install -D -m 0755 %{_sourcedir}/busybox %{buildroot}/usr/bin/busybox

for a in $(echo $applets); do mkdir -p %{buildroot}/\$(dirname \$a); case \$a in usr/bin/*) t=busybox ;; *) t=../bin/busybox ;; esac; ln -s \$t %{buildroot}/\$a; done" \
"/usr/bin/busybox
$(echo "$applets" | sed 's|^|/|')"
# the busybox image's initramfs with an /init that boots the disk's root filesystem
ird=$work/initrd
mkdir -p "$ird"
(cd "$ird" && gzip -dc "$bb/initrd.img" | cpio -id --quiet)
bkver=$(ls "$ird/lib/modules")
cp -a "$ird/lib/modules/$bkver" "$top/SOURCES/modules"
rm -f "$ird/init"
cat > "$ird/init" <<'INIT'
#!/bin/sh
# PID 1 of the initramfs: find the partition whose GPT unique GUID is root=PARTUUID=...,
# mount it and switch to its /sbin/init.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_pci virtio_blk virtio_scsi sd_mod nvme crc32c_generic ext4; do modprobe $m 2>/dev/null; done
want=$(sed -n 's/.*root=PARTUUID=\([0-9a-fA-F-]*\).*/\1/p' /proc/cmdline | tr A-F a-f)
guid() { # the 16 bytes at offset $2 of the hex line $1 as a GUID (first three fields little-endian)
    set -- $(echo "$1" | cut -c$(($2 * 3 + 1))-$(($2 * 3 + 48)))
    echo "$4$3$2$1-$6$5-$8$7-$9${10}-${11}${12}${13}${14}${15}${16}"
}
dev=
for try in $(seq 50); do
    for d in /sys/block/*; do
        disk=/dev/${d##*/}
        [ -b "$disk" ] || continue
        n=0
        for line in $(dd if="$disk" bs=512 skip=2 count=32 2>/dev/null | od -An -tx1 -v -w128 | tr ' ' '.'); do
            n=$((n + 1))
            g=$(guid "$(echo "$line" | tr '.' ' ' | sed 's/^ *//')" 16)
            [ "$g" = "$want" ] || continue
            for p in "$disk$n" "${disk}p$n"; do [ -b "$p" ] && dev=$p; done
        done
        [ -n "$dev" ] && break
    done
    [ -n "$dev" ] && break
    sleep 0.2
done
mkdir -p /newroot
if [ -n "$want" ] && [ -n "$dev" ] && mount -t ext4 "$dev" /newroot; then
    umount /proc /sys /dev
    exec switch_root /newroot /sbin/init
fi
echo "kiln initramfs: no root partition with PARTUUID=$want"
exec /bin/sh
INIT
chmod 755 "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9n) > "$top/SOURCES/initrd.img"
spec kiln-kernel x86_64 kiln-filesystem \
"install -D -m 0644 %{_sourcedir}/vmlinuz %{buildroot}/boot/vmlinuz-$kver
install -D -m 0644 %{_sourcedir}/initrd.img %{buildroot}/boot/initramfs-$kver.img
mkdir -p %{buildroot}/usr/lib/modules && cp -a %{_sourcedir}/modules %{buildroot}/usr/lib/modules/$bkver" \
"/boot/vmlinuz-$kver
/boot/initramfs-$kver.img
/usr/lib/modules/$bkver"

# shared libraries of busybox, dropbear, rpm and chronyd, from this host, at their paths
libs=$( (ldd /usr/sbin/dropbear; ldd /usr/bin/rpm; ldd /usr/bin/rpmdb; ldd "$work/bb/bin/busybox"; ldd "$work/chrony/usr/sbin/chronyd") | awk '/=>/{print $3} /ld-linux/{print $1}' | LC_ALL=C sort -u)
ulibs=$(echo "$libs" | sed 's|^/lib/|/usr/lib/|; s|^/lib64/|/usr/lib64/|')
mkdir -p "$top/SOURCES/libs"
for l in $libs; do
    u=$(echo "$l" | sed 's|^/lib/|/usr/lib/|; s|^/lib64/|/usr/lib64/|')
    mkdir -p "$top/SOURCES/libs$(dirname "$u")"
    cp -L "$l" "$top/SOURCES/libs$u"
done
spec kiln-libs x86_64 kiln-filesystem \
"mkdir -p %{buildroot} && cp -a %{_sourcedir}/libs/. %{buildroot}/" \
"$ulibs"

cp /usr/sbin/dropbear "$top/SOURCES/dropbear"
spec kiln-dropbear x86_64 "kiln-libs" \
'install -D -m 0755 %{_sourcedir}/dropbear %{buildroot}/usr/sbin/dropbear
mkdir -p %{buildroot}/etc/dropbear' \
'/usr/sbin/dropbear
%dir /etc/dropbear'

# time: Debian's chronyd, against kiln's NTP source at the user-network gateway
spec kiln-chrony x86_64 "kiln-libs" \
'install -D -m 0755 %{_sourcedir}/chronyd %{buildroot}/usr/sbin/chronyd
mkdir -p %{buildroot}/etc/chrony %{buildroot}/var/lib/chrony
printf "server 10.0.2.2 iburst\nmakestep 1 3\ndriftfile /var/lib/chrony/drift\n" > %{buildroot}/etc/chrony/chrony.conf' \
'/usr/sbin/chronyd
%config /etc/chrony/chrony.conf
%dir /var/lib/chrony'

# rpm itself, reading the database where kiln's rpm trees keep it
cp /usr/bin/rpm /usr/bin/rpmdb "$top/SOURCES/"
cp /usr/lib/rpm/rpmrc /usr/lib/rpm/macros "$top/SOURCES/"
cp /usr/lib/rpm/platform/x86_64-linux/macros "$top/SOURCES/platform-macros"
spec kiln-rpm x86_64 "kiln-libs" \
'install -D -m 0755 %{_sourcedir}/rpm %{buildroot}/usr/bin/rpm
install -D -m 0755 %{_sourcedir}/rpmdb %{buildroot}/usr/bin/rpmdb
install -D -m 0644 %{_sourcedir}/rpmrc %{buildroot}/usr/lib/rpm/rpmrc
install -D -m 0644 %{_sourcedir}/macros %{buildroot}/usr/lib/rpm/macros
install -D -m 0644 %{_sourcedir}/platform-macros %{buildroot}/usr/lib/rpm/platform/x86_64-linux/macros
mkdir -p %{buildroot}/etc/rpm
echo "%%_dbpath /usr/lib/sysimage/rpm" > %{buildroot}/etc/rpm/macros.kiln' \
'/usr/bin/rpm
/usr/bin/rpmdb
/usr/lib/rpm
%config /etc/rpm/macros.kiln'

# busybox init: mounts, modules, DHCP, a machine-id of its own, SSH keys from the SMBIOS
# credential systemd reads (kiln's qemu platform sets it), dropbear with host keys made on
# first use (so every VM gets its own)
cat > "$top/SOURCES/rcS" <<'RCS'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -o remount,rw /
for mod in virtio_pci virtio_net virtio_blk virtio_rng virtio_scsi sd_mod nvme crc32c_generic ext4 vfat; do
    modprobe "$mod" 2>/dev/null
done
[ -s /etc/hostname ] && hostname -F /etc/hostname
for f in /etc/sysctl.d/*.conf; do [ -f "$f" ] && sysctl -q -p "$f"; done
[ -s /etc/machine-id ] || tr -d '-' < /proc/sys/kernel/random/uuid > /etc/machine-id
ip link set lo up
for n in /sys/class/net/*; do
    i=${n##*/}
    [ "$i" = lo ] && continue
    ip link set "$i" up
    udhcpc -i "$i" -q -n -t 5 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 &
done
wait
chronyd -u root   # time from kiln's source for the guests, at the user-network gateway
mkdir -p /root/.ssh
for e in /sys/firmware/dmi/entries/11-*/raw; do
    [ -r "$e" ] || continue
    dd if="$e" bs=1 skip=5 2>/dev/null | tr '\0' '\n' | while IFS= read -r s; do
        case "$s" in
        io.systemd.credential.binary:ssh.authorized_keys.root=*) echo "${s#*=}" | base64 -d >> /root/.ssh/authorized_keys ;;
        io.systemd.credential:ssh.authorized_keys.root=*) echo "${s#*=}" >> /root/.ssh/authorized_keys ;;
        esac
    done
done
chmod 700 /root/.ssh
[ -f /root/.ssh/authorized_keys ] && chmod 600 /root/.ssh/authorized_keys
echo "kiln-rpm: ready"
RCS
# DHCP hook: the busybox image's (the initramfs unpacked above)
cp "$ird/usr/share/udhcpc/default.script" "$top/SOURCES/default.script"
spec kiln-init noarch "kiln-busybox kiln-dropbear kiln-chrony" \
'install -D -m 0755 %{_sourcedir}/rcS %{buildroot}/etc/init.d/rcS
install -D -m 0755 %{_sourcedir}/default.script %{buildroot}/usr/share/udhcpc/default.script
printf "::sysinit:/etc/init.d/rcS\n::respawn:/usr/sbin/dropbear -F -E -R -s -p 22\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n" > %{buildroot}/etc/inittab
printf "root:x:0:0:root:/root:/bin/sh\n" > %{buildroot}/etc/passwd
printf "root:*:19000:0:99999:7:::\n" > %{buildroot}/etc/shadow
printf "root:x:0:\n" > %{buildroot}/etc/group
printf "/bin/sh\n" > %{buildroot}/etc/shells' \
'/etc/init.d/rcS
/usr/share/udhcpc/default.script
%config /etc/inittab
%config /etc/passwd
%attr(0600,root,root) %config /etc/shadow
%config /etc/group
%config /etc/shells'

for s in "$top"/SPECS/*.spec; do
    rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" -bb "$s"
done
mkdir -p "$work/repo"
find "$top/RPMS" -name '*.rpm' -exec cp {} "$work/repo/" \;
fpr=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr/{print $10; exit}')
rpmsign --define "__gpg $(command -v gpg)" --define "_gpg_name $fpr" --addsign "$work"/repo/*.rpm >/dev/null 2>&1
createrepo_c --quiet "$work/repo"
rm -rf "$out/repo"
mv "$work/repo" "$out/repo"
