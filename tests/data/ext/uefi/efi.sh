#!/bin/sh
# kiln: { requires: { features: [uefi] }, description: "booted through UEFI firmware" }
[ -d /sys/firmware/efi ] || { echo "/sys/firmware/efi is missing: not booted via UEFI" >&2; exit 1; }
echo "EFI runtime: $(ls /sys/firmware/efi | tr '\n' ' ')"
