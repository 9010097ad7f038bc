/* What the disk format files share: the reader vtable each format fills and the writer sink. */
#pragma once
#include "image/disk.h"

struct disk_ops {
    int (*pread)(struct disk *d, void *buf, size_t len, uint64_t off);
    int (*next_data)(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end);
    void (*close)(struct disk *d);
};

struct disk {
    const struct disk_ops *ops;
    enum disk_format fmt;
    int fd;
    const char *path;    /* while disk_open probes (for messages), else NULL */
    uint64_t size;       /* virtual */
    uint64_t file_size;  /* on disk */
    uint64_t file_alloc; /* allocated on disk */
    char *why;           /* the last read error's sentence */
    uint64_t ext4_read;  /* bytes the filesystems read in place have read (image/ext4_read.c, and
                          * squashfs_read.c): their read budget is one for the whole image, not
                          * one per partition */
    void *priv;
};

/* Each returns 0 when the file is this format (and fills d), -EMEDIUMTYPE when it is not,
 * another -errno with *reterr set when it is this format but damaged or unsupported. */
int qcow2_open(struct disk *d, char **reterr);
int vhd_open(struct disk *d, char **reterr);

/* The readers report a bad header with err_setf (util/util.h). */
/* Refuses a format kiln does not read: *reterr names it (what, e.g. "a VMDK image") and says how
 * to convert it with qemu-img. Returns -ENOTSUP. */
int disk_refuse(struct disk *d, char **reterr, const char *what);
/* Records why a read failed (for disk_strerror) and returns r. */
int disk_read_error(struct disk *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads exactly len bytes of the file at off, or fails (short file = -EIO). */
int file_pread_full(int fd, void *buf, size_t len, uint64_t off);
int file_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Holes of the raw file: next data at or after off in [start, end). */
int file_next_data(int fd, uint64_t limit, uint64_t off, uint64_t *start, uint64_t *end);

/* A writer: put() gets nonzero data at cluster-aligned virtual offsets, in increasing order. */
struct disk_sink {
    int fd;
    uint64_t size; /* virtual size of the output */
    const struct disk_write_opts *o;
    int (*put)(struct disk_sink *s, uint64_t off, const void *buf, size_t len);
    int (*finish)(struct disk_sink *s);
    void (*free)(struct disk_sink *s);
    void *priv;
};

void qcow2_sink_init(struct disk_sink *s);
void vhd_sink_init(struct disk_sink *s, bool dynamic);
/* 512-byte VHD footer for a disk of size bytes. */
void vhd_footer(uint8_t f[512], uint64_t size, bool dynamic, const struct disk_write_opts *o);
