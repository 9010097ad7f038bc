#!/bin/sh
# Builds a small signed RPM repository for the rpm build path (no public RPM repository is
# reachable from these machines): packages made with rpmbuild, signed with a throwaway GPG key,
# indexed with createrepo_c. Payload: a filesystem layout, os-release, busybox (from Debian's
# busybox-static) and a kernel package carrying the busybox test image's kernel and initrd.
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
kver=6.1.0-kiln
top=$work/rpmbuild
mkdir -p "$top/SOURCES" "$top/SPECS"
cp /bin/busybox "$top/SOURCES/busybox"
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
$( [ -n "$3" ] && echo "Requires: $3" )
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
ln -s usr/bin %{buildroot}/bin; ln -s usr/sbin %{buildroot}/sbin; ln -s usr/lib %{buildroot}/lib' \
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
/lib'
spec kiln-release noarch kiln-filesystem \
'mkdir -p %{buildroot}/etc
printf "NAME=\"kiln rpm test\"\nID=kiln-rpm\nID_LIKE=\"rhel fedora\"\nVERSION_ID=1\nPRETTY_NAME=\"kiln rpm test 1\"\n" > %{buildroot}/etc/os-release' \
'/etc/os-release'
spec kiln-busybox x86_64 kiln-filesystem \
'install -D -m 0755 %{_sourcedir}/busybox %{buildroot}/usr/bin/busybox
for a in sh ls cat mount; do ln -s busybox %{buildroot}/usr/bin/$a; done' \
'/usr/bin/busybox
/usr/bin/sh
/usr/bin/ls
/usr/bin/cat
/usr/bin/mount'
spec kiln-kernel x86_64 kiln-filesystem \
"install -D -m 0644 %{_sourcedir}/vmlinuz %{buildroot}/boot/vmlinuz-$kver
install -D -m 0644 %{_sourcedir}/initrd.img %{buildroot}/boot/initramfs-$kver.img" \
"/boot/vmlinuz-$kver
/boot/initramfs-$kver.img"

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
