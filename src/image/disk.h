/* Disk image files: read raw, qcow2 (v2/v3, uncompressed) and VHD (fixed and dynamic) as one
 * flat virtual disk, and write any of them from any other. Writers are sparse-aware: holes stay
 * holes and all-zero clusters are not stored. Every reader checks offsets against the file, so
 * a hostile image gives an error, never a crash. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/endian.h"

enum disk_format { DISK_RAW, DISK_QCOW2, DISK_VHD_FIXED, DISK_VHD_DYNAMIC, DISK_FORMAT_COUNT };

/* "raw", "qcow2", "vhd-fixed", "vhd" */
const char *disk_format_name(enum disk_format f);
/* Accepts the names above and "vhd-dynamic"; -1 when unknown. */
int disk_format_parse(const char *name);
/* The usual file suffix: raw, qcow2, vhd. */
const char *disk_format_suffix(enum disk_format f);

struct disk;

/* Opens path and detects its format. On error returns -errno and sets *err to a sentence. */
int disk_open(const char *path, struct disk **out, char **err);
void disk_close(struct disk *d);
uint64_t disk_size(const struct disk *d);
enum disk_format disk_format(const struct disk *d);
/* Reads virtual bytes [off, off+len); unallocated areas read as zeros. */
int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off);
/* The next range at or after off that may hold data: [*start, *end). Returns 1 when found,
 * 0 at the end of the disk, -errno on error. */
int disk_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end);

struct disk_write_opts {
    uint32_t unix_time; /* VHD footer timestamp (build time or SOURCE_DATE_EPOCH) */
    uint8_t id[16];     /* VHD unique id */
};

/* Writes the virtual disk in to path as fmt, through path.tmp + rename. A raw or fixed VHD
 * disk's size must be a whole number of 512-byte sectors; fixed VHD sizes are rounded up to a
 * whole MiB (what Azure requires). Returns 0 or -errno with *err set. */
int disk_convert(struct disk *in, const char *path, enum disk_format fmt, const struct disk_write_opts *o,
                 char **err);

/* The VHD CHS geometry for a size, per the VHD specification's algorithm. */
void vhd_chs(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt);
