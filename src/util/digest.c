#include "util/digest.h"

#include <errno.h>
#include <fcntl.h>

#include "util/fs.h"
#include "util/util.h"

static int digest_file_with(const char *path, bool nofollow, const EVP_MD *md, uint8_t *out, uint64_t *size,
                          void (*progress)(uint64_t done, void *ctx), void *ctx)
{
    int fd = open_regular(path, nofollow, NULL);
    if (fd < 0) return fd;
    enum { BUF = 4 << 20 };
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, md, NULL);
    uint8_t *buf = xmalloc(BUF);
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, BUF)) > 0) {
        EVP_DigestUpdate(c, buf, (size_t)n);
        total += (uint64_t)n;
        if (progress) progress(total, ctx);
    }
    int r = n < 0 ? -errno : 0;
    unsigned len;
    EVP_DigestFinal_ex(c, out, &len);
    EVP_MD_CTX_free(c);
    free(buf);
    close(fd);
    if (size) *size = total;
    return r;
}

int digest_file(const char *path, bool nofollow, const EVP_MD *md, uint8_t *out, uint64_t *size)
{
    return digest_file_with(path, nofollow, md, out, size, NULL, NULL);
}

int sha256_file_hex_progress(const char *path, char out[65], uint64_t *size, void (*progress)(uint64_t done, void *ctx),
                             void *ctx)
{
    uint8_t md[32] = {0};
    int r = digest_file_with(path, false, EVP_sha256(), md, size, progress, ctx);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return r;
}

int sha256_regular_hex(const char *path, bool nofollow, char out[65], uint64_t *size)
{
    uint8_t md[32] = {0};
    int r = digest_file(path, nofollow, EVP_sha256(), md, size);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return r;
}

int sha256_file_hex(const char *path, char out[65], uint64_t *size)
{
    return sha256_regular_hex(path, false, out, size);
}
