/* Disk image files: read raw, qcow2 (v2/v3, compressed clusters included) and VHD (fixed and
 * dynamic) as one flat virtual disk, and write any of them from any other. Writers are
 * sparse-aware: holes stay holes and all-zero clusters are not stored.
 *
 * Every reader treats the file as hostile: opening checks every table against the file (offsets
 * inside it, no host cluster or block used twice), so the data a disk can yield is bounded by
 * the file's size (times the compression ratio for compressed qcow2 clusters), and memory by a
 * fraction of it. Other known formats (VMDK, VHDX, VDI, QED, LUKS, compressed files...) are
 * refused by name instead of being read as raw. */
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

struct disk;

/* Opens path and detects its format. On error returns -errno and sets *reterr to a sentence:
 * -ENOTSUP for a format or feature kiln does not read (the sentence says how to convert it),
 * -EINVAL for a damaged or inconsistent image. */
int disk_open(const char *path, struct disk **out, char **reterr);
void disk_close(struct disk *d);
uint64_t disk_size(const struct disk *d);
/* Bytes the file itself holds: its size, and what it has allocated on disk (holes excluded). */
uint64_t disk_file_size(const struct disk *d);
uint64_t disk_file_allocated(const struct disk *d);
enum disk_format disk_format(const struct disk *d);
/* Reads virtual bytes [off, off+len); unallocated areas read as zeros. */
int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off);
/* The next range at or after off that may hold data: [*start, *end) with off <= *start < *end
 * <= disk_size(). Returns 1 when found, 0 at the end of the disk, -errno on error. */
int disk_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end);
/* What went wrong in the last failed disk_pread / disk_next_data (r is what it returned):
 * the reader's own sentence (which table, which offset) or strerror. */
const char *disk_strerror(const struct disk *d, int r);

struct disk_write_opts {
    uint32_t unix_time; /* VHD footer timestamp (build time or SOURCE_DATE_EPOCH) */
    uint8_t id[16];     /* VHD unique id */
    /* when set, called as the copy moves on: the bytes of data read so far and all the input
     * holds (its allocated runs in 64 KiB grains; holes are neither read nor counted, so done
     * rises at the pace of the copy and ends near the size a sparse output takes). The first
     * call has done 0, the last done == total. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

/* Writes the virtual disk in to path as fmt, through path.tmp + rename. A raw or fixed VHD
 * disk's size must be a whole number of 512-byte sectors; fixed VHD sizes are rounded up to a
 * whole MiB (what Azure requires). Returns 0 or -errno with *reterr set. */
int disk_convert(struct disk *in, const char *path, enum disk_format fmt, const struct disk_write_opts *o,
                 char **reterr);

/* The VHD CHS geometry for a size, per the VHD specification's algorithm. */
void vhd_chs(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt);
