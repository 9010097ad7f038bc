/* GUID Partition Table (UEFI 2.x, chapter 5): write one with a protective MBR, both headers and
 * both entry arrays, and read one back (with CRC checks) for `kiln inspect`. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/disk.h"

struct guid {
    uint8_t b[16]; /* on-disk byte order (first three fields little-endian) */
};

/* "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" ⇄ guid. */
bool guid_parse(const char *s, struct guid *g);
void guid_format(const struct guid *g, char out[37]);
/* A version-4-shaped GUID derived from a seed and a label (reproducible builds). */
void guid_derive(const char *seed, const char *label, struct guid *g);

/* Discoverable Partitions Specification type GUIDs; the per-architecture ones (root, usr,
 * usr-verity) are in the architecture table, core/arch.c. */
#define GPT_TYPE_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

struct gpt_part {
    struct guid type, uuid;
    uint64_t first_lba, last_lba; /* inclusive, 512-byte sectors */
    uint64_t attrs;
    char name[37];   /* ASCII; stored as UTF-16LE */
    uint32_t number; /* gpt_read: the entry's slot, from 1 (what sgdisk and the kernel call it) */
};

enum { GPT_ENTRIES = 128, GPT_ALIGN_LBA = 2048 /* 1 MiB */ };

/* First and last usable LBA for a disk of size bytes (entries on both ends). */
uint64_t gpt_first_usable(void);
uint64_t gpt_last_usable(uint64_t disk_size);
/* Writes the protective MBR, primary header + entries, backup entries + header into fd. */
int gpt_write(int fd, uint64_t disk_size, const struct guid *disk_guid, const struct gpt_part *parts, size_t n);
/* Reads the primary table (falling back to the backup) and checks that every partition lies in
 * the disk's usable area, ends after it starts and overlaps no other. Returns 0; -ENOENT when
 * the disk has no GPT (neither header is there); -EBADMSG when the headers are damaged (CRC,
 * sizes); -EINVAL when a readable table describes impossible partitions; another -errno when
 * the disk cannot be read. *reterr explains every failure. */
int gpt_read(struct disk *d, struct guid *disk_guid, struct gpt_part **parts, size_t *n, char **reterr);
/* A name for known type GUIDs ("esp", "root-x86-64", ...), else NULL. */
const char *gpt_type_name(const struct guid *type);
