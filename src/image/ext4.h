#pragma once
#include <stddef.h>
#include <stdint.h>

/* Sets ctime and crtime of every in-use inode of the ext4 filesystem at byte off of the file at
 * path (0: an image of its own; a partition's offset in a raw disk, where `mke2fs -E offset=`
 * made it) to t, mtime to at most t in whole seconds and atime to that mtime, and fixes the
 * inode checksums (ext4 disk layout: inode fields and metadata_csum), so `mke2fs -d` output
 * depends only on the tree's content and its mtimes up to t. 0, or -errno with *reterr (-EINVAL: no ext4 there, or a superblock whose groups
 * would not fit the file). */
int ext4_clamp_times(const char *path, uint64_t off, uint32_t t, char **reterr);

/* An ext4 filesystem read where it lies: libext2fs over kiln's disk reader (image/disk.h), at
 * the partition [off, off+len) of a raw, qcow2 or VHD disk; nothing is copied out. The disk is
 * untrusted: every read stays inside the partition, all reads of every handle on one disk add
 * up to at most budget bytes (the image's budget: then -EFBIG, also from ext4_ro_open once it is
 * spent), and a superblock whose group descriptors would not fit the partition or what is left
 * of the budget is refused before libext2fs allocates them. Read-only. */
struct disk;
struct ext4_ro;
/* 0, or -errno with *reterr: -EUCLEAN not ext4 or damaged, -EIO when the disk cannot be read.
 * d must outlive the handle. */
int ext4_ro_open(struct disk *d, uint64_t off, uint64_t len, uint64_t budget, struct ext4_ro **out, char **reterr);
void ext4_ro_close(struct ext4_ro *e);
/* The regular file at path (absolute), its symbolic links (those of the directories on the way
 * and of the file itself) followed inside the filesystem, at most 8 in all, ".." stopping at
 * its root: the whole file into *text (NUL-terminated, caller frees; *len its size when len is
 * not NULL), or -ENOENT (no such file), -ELOOP (too many links), -EINVAL (not a regular file),
 * -EFBIG (larger than max, or the budget ran out), -EUCLEAN (damaged), -EIO (the disk cannot be
 * read; ext4_ro_copy: fd cannot be written, its -errno).
 * ext4_ro_strerror then says what and where. */
int ext4_ro_read(struct ext4_ro *e, const char *path, size_t max, char **text, size_t *len);
/* ext4_ro_read written to fd instead, in pieces of at most 1 MiB; *size is the file's size. */
int ext4_ro_copy(struct ext4_ro *e, const char *path, int fd, uint64_t max, uint64_t *size);
/* The last failure's sentence (it names the path). */
const char *ext4_ro_strerror(const struct ext4_ro *e);
