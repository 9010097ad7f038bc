/* A root filesystem tree as a reproducible tar archive (kiln build's `tar` output), and the
 * bounded reader kiln inspect and kiln sbom use on such archives.
 *
 * Format: the POSIX.1-2001 pax interchange format (IEEE Std 1003.1, `pax`), written and read by
 * libarchive; extended attributes as SCHILY.xattr.NAME records and POSIX.1e ACLs as
 * SCHILY.acl.access / SCHILY.acl.default (star's keywords, which GNU tar and libarchive read);
 * compressed as one zstd stream (RFC 8878). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A file the archive carries instead of (or besides) the tree's file at the same path. */
struct rootfs_tar_file {
    const char *path; /* relative to the root, normalized ("etc/wsl.conf"); its directory must exist in the tree */
    const char *data;
    size_t len;
    unsigned mode; /* permission bits; owner 0:0, mtime the epoch */
};

/* Writes the tree under root to dst as pax + zstd (level 9), so that the same tree and epoch
 * give the same bytes on any host: "./" first, then depth first, each directory's names in byte
 * order; numeric owners only (no user or group names); mode, xattrs and POSIX ACLs as in the
 * tree; mtime min(mtime, epoch) in whole seconds, no atime or ctime, no file flags, no sparse
 * maps; hard links stored as links to the first of their names in that order; sockets left out
 * (tar cannot hold them). Symbolic links are stored as links and never followed. The archive is
 * written to a temporary file beside dst and renamed onto it. 0, or -errno with *reterr set (the
 * path that failed and why); nothing is left at dst on failure. */
int rootfs_tar_write(const char *root, const char *dst, int64_t epoch, const struct rootfs_tar_file *extra,
                     size_t nextra, char **reterr);

/* What the reader may spend on one archive. */
struct rootfs_tar_limits {
    uint64_t entries;  /* headers read */
    uint64_t bytes;    /* decompressed bytes (headers and data, read or skipped) */
    size_t path;       /* bytes of one entry's path */
    uint64_t file;     /* bytes of one extracted item */
    uint64_t copied;   /* bytes written out, every item (and every copy of one) together */
};

/* The defaults for a file of file_size bytes: 4 Mi entries, 1 GiB + 16 x file_size expanded
 * bytes (a rootfs compresses 3-5 times; a zstd bomb is stopped long before it costs much),
 * paths of 4096 bytes (PATH_MAX), items of 256 MiB, 64 MiB + 4 x file_size written out (what
 * image_extract allows a disk image). */
struct rootfs_tar_limits rootfs_tar_default_limits(uint64_t file_size);

/* true when path starts like an archive this reader takes: a zstd frame (RFC 8878 magic
 * 28 b5 2f fd) or an uncompressed tar (ustar magic at offset 257). */
bool rootfs_tar_probe(const char *path);

struct rootfs_tar_info {
    uint64_t entries;  /* headers in the archive */
    uint64_t expanded; /* decompressed bytes */
    const char *compression; /* "zstd" or "none" */
};

/* Reads the archive at path once and copies the items (distinct absolute paths of regular files
 * in the image, e.g. "/var/lib/dpkg/status", in any order) into dest/<item> (dest must exist). A member matches an
 * item when its path, with leading "/" and "./" removed, is the item without its leading "/";
 * the last such member wins, as it would when unpacking. Only regular files are copied: a
 * symbolic or hard link named like an item is not an item, so no link in the archive is ever
 * followed, and nothing but dest/<item> is written. Returns how many items were found (>= 0),
 * or -errno with *reterr: -E2BIG over a limit (naming it), -EINVAL not a tar archive, -EFBIG an
 * item over lim->file or the items over lim->copied, -EINTR on SIGINT. info (may be NULL) gets the counts. */
int rootfs_tar_extract(const char *path, const char *const *items, size_t nitems, const char *dest,
                       const struct rootfs_tar_limits *lim, struct rootfs_tar_info *info, char **reterr);
