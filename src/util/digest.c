#include "util/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/util.h"

/* Whether [off, off + len) of fd is a hole (reads as zeros without being stored): a sparse disk
 * image is mostly holes, which the hash then takes from a zero buffer rather than from read(),
 * where the kernel would zero-fill and copy every page of them. */
static bool hole_at(int fd, uint64_t off, uint64_t len)
{
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    return d < 0 ? errno == ENXIO : (uint64_t)d >= off + len;
}

static int digest_file_with(const char *path, bool nofollow, const EVP_MD *md, uint8_t *out, uint64_t *size,
                          bool (*progress)(uint64_t done, void *ctx), void *ctx)
{
    int fd = open_regular(path, nofollow, NULL);
    if (fd < 0) return fd;
    enum { BUF = 4 << 20 };
    static uint8_t zeros[BUF]; /* never written */
    struct stat st;
    /* fewer blocks than bytes: the file has holes, looked up piece by piece */
    bool sparse = fstat(fd, &st) == 0 && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, md, NULL);
    uint8_t *buf = xmalloc(BUF);
    uint64_t total = 0;
    ssize_t n;
    bool stopped = false;
    for (;;) {
        const uint8_t *piece = buf;
        if (sparse && total + BUF <= (uint64_t)st.st_size && hole_at(fd, total, BUF)) piece = zeros, n = BUF;
        else n = sparse && lseek(fd, (off_t)total, SEEK_SET) < 0 ? -1 : read(fd, buf, BUF);
        if (n <= 0) break;
        EVP_DigestUpdate(c, piece, (size_t)n);
        total += (uint64_t)n;
        if (progress && !progress(total, ctx)) {
            stopped = true;
            break;
        }
    }
    int r = stopped ? -ECANCELED : n < 0 ? -errno : 0;
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

int sha256_file_hex_progress(const char *path, char out[65], uint64_t *size, bool (*progress)(uint64_t done, void *ctx),
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
