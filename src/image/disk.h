/* Disk image files: read raw, qcow2 (v2/v3, uncompressed) and VHD (fixed and dynamic) as one
 * flat virtual disk, and write any of them from any other. Writers are sparse-aware: holes stay
 * holes and all-zero clusters are not stored. Every reader checks offsets against the file, so
 * a hostile image gives an error, never a crash. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Big-endian helpers shared by the format code. */
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static inline void put_be32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (24 - 8 * i); }
static inline void put_be64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (56 - 8 * i); }
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }
static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static inline void put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p + 4) << 32 | get_le32(p); }
