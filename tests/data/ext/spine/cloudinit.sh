#!/bin/sh
# The NoCloud seed kiln offers: a FAT disk labelled CIDATA with user-data and meta-data.
set -e
dev=$(findfs LABEL=CIDATA)
mkdir -p /mnt/seed
mount -t vfat -o ro "$dev" /mnt/seed
trap 'umount /mnt/seed' EXIT
head -n 1 /mnt/seed/user-data | grep -qx '#cloud-config'
grep -q '^ssh_authorized_keys:' /mnt/seed/user-data
grep -q 'ssh-ed25519 ' /mnt/seed/user-data
grep -q '^instance-id: kiln-' /mnt/seed/meta-data
# the same key the SMBIOS credential carried is the one we logged in with
key=$(grep -o 'ssh-ed25519 [A-Za-z0-9+/=]*' /mnt/seed/user-data | head -n 1)
grep -qF "$key" /root/.ssh/authorized_keys
echo "seed on $dev matches authorized_keys"
