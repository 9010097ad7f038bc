/* Whether a file is a disk image a VM can boot from, before one is started: kiln serve checks
 * a submission with it (a text file named .qcow2 was accepted and booted), kiln shell and the
 * qemu platform an IMAGE (one that is not waited out the boot timeout). Also whether it boots
 * only through UEFI. The disk readers are image/disk.h's (raw, qcow2, VHD: every table checked
 * against the file), the partition tables GPT (UEFI 2.10 section 5.3) and the MBR's (a 0x55AA
 * signature at byte 510 and a non-empty entry of the four at 446). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kiln_image_facts {
    char format[16]; /* "raw", "qcow2", "vhd-fixed", "vhd" */
    char table[8];   /* "gpt" or "mbr" */
    bool uefi_only;  /* a GPT with an EFI system partition and no BIOS boot partition */
    bool no_table;   /* refused because, read as a disk, it has no partition table (not for a
                      * format kiln does not read, which *reterr names with its own advice) */
};

/* 0 with *out when path is a disk image with a partition table. -EINVAL with *reterr (what the
 * file was seen to be; the caller adds what to give instead) when it is not: a format kiln
 * does not read, a damaged image, or a disk with no partition table (for a raw one, whether
 * its first bytes are text, quoted, or binary). Another -errno (*reterr says it) when the file cannot be read. */
int kiln_image_check(const char *path, struct kiln_image_facts *out, char **reterr);
