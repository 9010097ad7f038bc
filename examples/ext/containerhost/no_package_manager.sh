#!/bin/sh
# kiln: { area: containers, priority: 1, tags: [fast], description: "An image built with packages.package_manager: remove has no package manager in PATH, and keeps its package database" }
# The container host is immutable: everything is baked in at build, workloads come as containers.
found=
for c in apt apt-get apt-cache apt-mark apt-config apt-key dpkg dpkg-query dpkg-deb dpkg-divert dpkg-trigger \
         update-alternatives rpm dnf yum microdnf tdnf; do
    p=$(command -v "$c" 2>/dev/null) && found="$found $p"
done
[ -z "$found" ] || { echo "package manager commands in PATH ($PATH):$found" >&2; exit 1; }
for db in /var/lib/dpkg/status /var/lib/rpm /usr/lib/sysimage/rpm; do
    [ -e "$db" ] && { echo "no package manager in PATH ($PATH); the package database $db is kept"; exit 0; }
done
echo "no package database (/var/lib/dpkg/status, the rpm db): kiln sbom would find no packages" >&2
exit 1
