#!/bin/sh
# case: verify_hot_add_disk
# expect: the guest did not see the added disk (serial kiln-hot0)
# image: cmdline
# ACPI PCI hot plug switched off on the command line (acpiphp.disable=1, from a bare-metal
# tuning guide): QEMU's q35 announces hot-added devices through ACPI, so an added disk
# never appears.
. "$(dirname "$0")/lib.sh"
cmdline_add acpiphp.disable=1
