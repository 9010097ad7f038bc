#pragma once
#include <stddef.h>
#include <stdint.h>

/* An erofs filesystem (the immutable layout's default read-only /usr) read where it lies, by
 * kiln's own reader over kiln's disk reader (image/disk.h) at the partition [off, off+len) of a
 * raw, qcow2 or VHD disk; nothing is copied out. Debian 12 ships no erofs library (erofs-utils
 * 1.5 has tools only, which read whole files). The format is the Linux kernel's
 * (Documentation/filesystems/erofs.rst, include/uapi erofs_fs.h): the superblock at 1024, compact
 * (32-byte) and extended (64-byte) inodes at meta_blkaddr * block size + nid * 32, the flat
 * layouts (plain: whole blocks from raw_blkaddr; inline: the last block's bytes right after the
 * inode and its xattrs) and directory blocks of 12-byte dirents followed by their names. That is
 * what mkfs.erofs writes without -z, as kiln build runs it. Compressed files (-z lz4/lz4hc) and
 * chunk-based ones (--chunksize) are not read: -EOPNOTSUPP saying so.
 *
 * The filesystem is mounted at mount in the image ("/usr"): paths are the image's
 * ("/usr/lib/os-release"), and an absolute symbolic link inside it resolves from the image's
 * root, so one that leaves mount names nothing here. The disk is untrusted: every size and block
 * address is checked against the partition before use, nothing is allocated from a size in the
 * image beyond what the caller's max allows (one block at a time otherwise), and all reads of
 * the image's filesystems (ext4's and squashfs's too) add up to at most budget bytes (then
 * -EFBIG, also from erofs_ro_open once it is spent). Read-only. */
struct disk;
struct erofs_ro;
/* 0, or -errno with *reterr: -EUCLEAN not erofs or damaged, -EOPNOTSUPP a feature kiln does not
 * read, -EIO when the disk cannot be read, -EFBIG when the image's budget is spent. d must outlive the handle. */
int erofs_ro_open(struct disk *d, uint64_t off, uint64_t len, const char *mount, uint64_t budget, struct erofs_ro **out,
                  char **reterr);
void erofs_ro_close(struct erofs_ro *e);
/* The regular file at path with every symbolic link on the way followed inside the filesystem
 * (at most 8, ".." stopping at its root), whole into *text (NUL-terminated, caller frees; *len
 * its size when len is not NULL); or -ENOENT (no such file, or not under mount), -ELOOP (too
 * many links, or more than 64 directories deep), -EINVAL (not a regular file), -EFBIG (larger
 * than max, or the budget ran out), -EUCLEAN (damaged), -EOPNOTSUPP (stored compressed or in
 * chunks, or an inode format kiln does not read), -EIO (the disk
 * cannot be read; erofs_ro_copy: fd cannot be written). erofs_ro_strerror then says what and
 * where. */
int erofs_ro_read(struct erofs_ro *e, const char *path, size_t max, char **text, size_t *len);
/* erofs_ro_read written to fd instead, in pieces of at most 1 MiB; *size is the file's size. */
int erofs_ro_copy(struct erofs_ro *e, const char *path, int fd, uint64_t max, uint64_t *size);
/* The last failure's sentence (it names the path). */
const char *erofs_ro_strerror(const struct erofs_ro *e);
