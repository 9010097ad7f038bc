/* dm-verity hash tree verification, as `veritysetup verify` does it, in process: the updater
 * is static and Debian ships libcryptsetup only as a shared library (no libcryptsetup.a).
 * Format: the dm-verity on-disk superblock (version 1, cryptsetup's "verity" superblock) at
 * the start of the hash device, then the hash tree, top level first; hash type 1 hashes
 * salt || block (Linux Documentation/admin-guide/device-mapper/verity.rst). Only sha256 is
 * accepted (what kiln build writes). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Checks that the data device's blocks hash, through the tree stored on the hash device, to
 * root_hex (64 hex digits), and that the stored tree is the one the data gives. data_size and
 * hash_size bound what the superblock may claim (a partition's size). Reads in 4 KiB blocks;
 * memory is 32 bytes per data block. Returns 0; -EBADMSG when something does not match,
 * -EINVAL for a malformed superblock, -errno on a read error; *reterr says which. */
int verity_verify(int data_fd, uint64_t data_size, int hash_fd, uint64_t hash_size, const char *root_hex, char **reterr);
