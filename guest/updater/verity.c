/* dm-verity verification (verity.h). */
#include "verity.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

enum { SB_SIZE = 512, DIGEST = 32, MAX_BLOCK = 1 << 16 };

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return -EIO;
        done += (size_t)k;
    }
    return 0;
}

static void hash_block(const uint8_t *salt, size_t saltlen, const uint8_t *block, size_t n, uint8_t out[DIGEST])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, salt, saltlen);
    crypto_hash_sha256_update(&st, block, n);
    crypto_hash_sha256_final(&st, out);
}

int verity_verify(int data_fd, uint64_t data_size, int hash_fd, uint64_t hash_size, const char *root_hex, char **reterr)
{
    uint8_t want_root[DIGEST];
    if (!root_hex || strlen(root_hex) != 2 * DIGEST ||
        sodium_hex2bin(want_root, sizeof want_root, root_hex, 2 * DIGEST, NULL, NULL, NULL) < 0)
        return err_setf(reterr, -EINVAL, "the root hash is not 64 hex digits");
    uint8_t sb[SB_SIZE];
    int r = read_at(hash_fd, sb, sizeof sb, 0);
    if (r < 0) return err_setf(reterr, r, "cannot read the verity superblock: %s", strerror(-r));
    /* layout: signature[8] version hash_type uuid[16] algorithm[32] data_block_size
     * hash_block_size data_blocks(u64) salt_size(u16) pad[6] salt[256] */
    if (memcmp(sb, "verity\0\0", 8) || le32(sb + 8) != 1 || le32(sb + 12) != 1)
        return err_setf(reterr, -EINVAL, "the hash device has no dm-verity version 1 superblock of hash type 1");
    if (strncmp((const char *)sb + 32, "sha256", 32))
        return err_setf(reterr, -EINVAL, "the hash tree uses %.32s, not sha256", (const char *)sb + 32);
    uint32_t dbs = le32(sb + 64), hbs = le32(sb + 68);
    uint64_t nblocks = le64(sb + 72);
    uint16_t saltlen = (uint16_t)(sb[80] | sb[81] << 8);
    const uint8_t *salt = sb + 88;
    if (dbs < 512 || dbs > MAX_BLOCK || (dbs & (dbs - 1)) || hbs < 512 || hbs > MAX_BLOCK || (hbs & (hbs - 1)) ||
        saltlen > 256 || !nblocks || nblocks > data_size / dbs)
        return err_setf(reterr, -EINVAL, "the verity superblock is not plausible (block sizes %u/%u, %llu data blocks for "
                                         "%llu bytes of data)", dbs, hbs, (unsigned long long)nblocks,
                    (unsigned long long)data_size);
    const uint64_t per = hbs / DIGEST;
    /* level sizes bottom-up; stored top level first, after the superblock's block */
    uint64_t lvl_blocks[32] = {1};
    int levels = 0; /* one data block has no tree: the root hash is that block's hash */
    for (uint64_t n = nblocks; n > 1 && levels < 32;) {
        n = (n + per - 1) / per;
        lvl_blocks[levels++] = n;
        if (n == 1) break;
    }
    uint64_t lvl_off[32], pos = hbs > SB_SIZE ? hbs : SB_SIZE;
    for (int i = levels - 1; i >= 0; i--) {
        lvl_off[i] = pos;
        pos += lvl_blocks[i] * hbs;
    }
    if (pos > hash_size) return err_setf(reterr, -EINVAL, "the hash tree (%llu bytes) does not fit the hash device", (unsigned long long)pos);
    uint8_t *buf = malloc(dbs > hbs ? dbs : hbs), *stored = malloc(hbs);
    /* the hashes of the level below, packed as the tree stores them (zero-padded blocks) */
    uint8_t *cur = calloc(lvl_blocks[0], hbs);
    if (!buf || !stored || !cur) {
        free(buf), free(stored), free(cur);
        return err_setf(reterr, -ENOMEM, "out of memory for %llu hash blocks", (unsigned long long)lvl_blocks[0]);
    }
    for (uint64_t b = 0; b < nblocks && r == 0; b++) {
        r = read_at(data_fd, buf, dbs, b * dbs);
        if (r < 0) err_setf(reterr, r, "cannot read data block %llu: %s", (unsigned long long)b, strerror(-r));
        else hash_block(salt, saltlen, buf, dbs, cur + (b / per) * hbs + (b % per) * DIGEST);
    }
    for (int l = 0; l < levels && r == 0; l++) {
        for (uint64_t b = 0; b < lvl_blocks[l] && r == 0; b++) {
            r = read_at(hash_fd, stored, hbs, lvl_off[l] + b * hbs);
            if (r < 0) err_setf(reterr, r, "cannot read the hash tree: %s", strerror(-r));
            else if (memcmp(stored, cur + b * hbs, hbs))
                r = err_setf(reterr, -EBADMSG, "hash tree level %d block %llu does not match the data", l, (unsigned long long)b);
        }
        if (r < 0 || l + 1 == levels) break;
        uint8_t *up = calloc(lvl_blocks[l + 1], hbs);
        if (!up) {
            r = err_setf(reterr, -ENOMEM, "out of memory");
            break;
        }
        for (uint64_t b = 0; b < lvl_blocks[l]; b++)
            hash_block(salt, saltlen, cur + b * hbs, hbs, up + (b / per) * hbs + (b % per) * DIGEST);
        free(cur);
        cur = up;
    }
    if (r == 0) {
        uint8_t root[DIGEST];
        if (levels) hash_block(salt, saltlen, cur, hbs, root);
        else memcpy(root, cur, DIGEST);
        if (memcmp(root, want_root, DIGEST)) r = err_setf(reterr, -EBADMSG, "the data does not hash to the expected verity root hash");
    }
    free(buf), free(stored), free(cur);
    return r;
}
