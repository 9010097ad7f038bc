#pragma once
#include <stddef.h>
#include <stdint.h>

/* A squashfs filesystem (the immutable layout's read-only /usr) read where it lies: libsquashfs
 * (squashfs-tools-ng) over kiln's disk reader (image/disk.h), at the partition [off, off+len)
 * of a raw, qcow2 or VHD disk; nothing is copied out. The filesystem is mounted at mount in the
 * image ("/usr"; "" for a root filesystem): paths are the image's ("/usr/lib/os-release"), and
 * an absolute symbolic link inside it resolves from the image's root, so one that leaves mount
 * names nothing here. The disk is untrusted: every read stays inside the partition, and all
 * reads of the image's filesystems (ext4's too, image/ext4.h) add up to at most budget bytes
 * (then -EFBIG, also from squash_ro_open once it is spent). Read-only. */
struct disk;
struct squash_ro;
/* 0, or -errno with *reterr: -EUCLEAN not squashfs or damaged, -EIO when the disk cannot be read,
 * -ENOMEM. d must outlive the handle. */
int squash_ro_open(struct disk *d, uint64_t off, uint64_t len, const char *mount, uint64_t budget, struct squash_ro **out,
                   char **reterr);
void squash_ro_close(struct squash_ro *s);
/* The regular file at path with every symbolic link on the way followed inside the filesystem
 * (at most 8, ".." stopping at its root), whole into *text (NUL-terminated, caller frees; *len
 * its size when len is not NULL); or -ENOENT (no such file, or not under mount), -ELOOP (too
 * many links), -EINVAL (not a regular file), -EFBIG (larger than max, or the budget ran out),
 * -EUCLEAN (damaged), -EIO (the disk cannot be read; squash_ro_copy: fd cannot be written).
 * squash_ro_strerror then says what and where. */
int squash_ro_read(struct squash_ro *s, const char *path, size_t max, char **text, size_t *len);
/* squash_ro_read written to fd instead, in pieces of at most 1 MiB; *size is the file's size. */
int squash_ro_copy(struct squash_ro *s, const char *path, int fd, uint64_t max, uint64_t *size);
/* The last failure's sentence (it names the path). */
const char *squash_ro_strerror(const struct squash_ro *s);
