/* What kiln serve checks of a submission before it queues the job: its runbook, with the
 * loader and the checks of `kiln check` (a criteria typo is refused as kiln check refuses it,
 * with file:line:col in the submitted text), and its disk image: that it
 * is a disk image at all (a text file named .qcow2 was accepted and booted), and whether it
 * boots only through UEFI (the job then requires uefi, as kiln submit would have said). The
 * disk readers are image/disk.h's (raw, qcow2, VHD: every table checked against the file),
 * the partition tables GPT (UEFI 2.10 section 5.3) and the MBR's (a 0x55AA signature at byte
 * 510 and a non-empty entry of the four at 446). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kiln_image_facts {
    char format[16]; /* "raw", "qcow2", "vhd-fixed", "vhd" */
    char table[8];   /* "gpt" or "mbr" */
    bool uefi_only;  /* a GPT with an EFI system partition and no BIOS boot partition */
};

/* 0 with *out when path is a disk image with a partition table. -EINVAL with *reterr (what the
 * file was seen to be, and what to send instead) when it is not: a format kiln does not read,
 * a damaged image, or a disk with no partition table (for a raw one, whether its first bytes
 * are text, quoted, or binary). Another -errno (*reterr says it) when the file cannot be read. */
int kiln_image_check(const char *path, struct kiln_image_facts *out, char **reterr);

/* A tenant's runbook text (its keys limited to name, concurrency, variable and testcase by
 * kiln_api_parse_job, so it includes and reads no file) and a qemu platform appended (as the
 * worker appends its own) loaded as `kiln check` loads one, from tmpdir/<new dir>/runbook.yml,
 * removed after: 0 when it loads and its criteria select a
 * case; -EINVAL with *reterr holding kiln check's messages, each "runbook.yml:LINE:COL: ...",
 * joined with "; " (at most 5, then how many more); another -errno when tmpdir cannot be
 * written. */
int kiln_runbook_check(const char *text, size_t len, const char *tmpdir, char **reterr);
