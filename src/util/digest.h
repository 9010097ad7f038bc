/* Hashing a whole file as a stream (multi-GiB images never sit in memory). */
#pragma once
#include <openssl/evp.h>
#include <stdint.h>

#include <stdbool.h>

/* A regular file (open_regular: with nofollow a symbolic link is -ELOOP) hashed; out gets
 * EVP_MD_get_size(md) bytes; *size (when non-NULL) the bytes read. 0 or -errno. */
int digest_file(const char *path, bool nofollow, const EVP_MD *md, uint8_t *out, uint64_t *size);
/* sha256_file_hex calling progress(bytes read so far, ctx) after each piece it reads (4 MiB):
 * a caller hashing a large file says how far it is. progress returns whether to go on: false
 * stops the hash there with -ECANCELED (a build interrupted while it hashes gigabytes). */
int sha256_file_hex_progress(const char *path, char out[65], uint64_t *size, bool (*progress)(uint64_t done, void *ctx),
                             void *ctx);
/* SHA-256 of a file as 64 lower-case hex digits (always terminated, even on error). */
int sha256_regular_hex(const char *path, bool nofollow, char out[65], uint64_t *size);
/* sha256_regular_hex following links. */
int sha256_file_hex(const char *path, char out[65], uint64_t *size);
