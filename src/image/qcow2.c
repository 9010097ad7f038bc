/* qcow2 (the QEMU image format, versions 2 and 3): a reader for uncompressed images without a
 * backing file, and a writer that lays data clusters first and the tables after them. */
#include <errno.h>

#include "image/disk_int.h"
#include "util/util.h"

#define QCOW2_MAGIC 0x514649fbu
#define OFFSET_MASK 0x00fffffffffffe00ull
#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)
#define ZERO_FLAG 1ull

struct qcow2 {
    unsigned cluster_bits;
    uint64_t cluster;
    uint64_t l2_entries;
    uint64_t *l1;
    uint32_t l1_size;
    uint64_t *l2_cache; /* one L2 table */
    uint64_t l2_cache_off;
};

/* Host offset of virtual off: 0 = unallocated or zero; sets *run to bytes left in the cluster. */
static int lookup(struct disk *d, uint64_t off, uint64_t *host)
{
    struct qcow2 *q = d->priv;
    uint64_t ci = off >> q->cluster_bits;
    uint64_t l1i = ci / q->l2_entries, l2i = ci % q->l2_entries;
    *host = 0;
    if (l1i >= q->l1_size) return -EIO;
    uint64_t l2off = q->l1[l1i] & OFFSET_MASK;
    if (!l2off) return 0;
    if (l2off != q->l2_cache_off) {
        if (l2off % q->cluster || l2off + q->cluster > d->file_size) return -EIO;
        uint8_t *raw = (uint8_t *)q->l2_cache;
        int r = file_pread_full(d->fd, raw, q->cluster, l2off);
        if (r < 0) return r;
        for (uint64_t i = 0; i < q->l2_entries; i++) q->l2_cache[i] = get_be64(raw + 8 * i);
        q->l2_cache_off = l2off;
    }
    uint64_t e = q->l2_cache[l2i];
    if (e & COMPRESSED) return -ENOTSUP;
    if (e & ZERO_FLAG) return 0;
    uint64_t h = e & OFFSET_MASK;
    if (!h) return 0;
    if (h % q->cluster || h + q->cluster > d->file_size + q->cluster) return -EIO;
    *host = h;
    return 0;
}

static int q_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
    struct qcow2 *q = d->priv;
    uint8_t *p = buf;
    while (len) {
        uint64_t in = off & (q->cluster - 1);
        size_t n = (size_t)MIN((uint64_t)len, q->cluster - in);
        uint64_t host;
        int r = lookup(d, off, &host);
        if (r < 0) return r;
        if (!host) memset(p, 0, n);
        else if (host + in + n > d->file_size) {
            /* the last cluster of a file may be short: the rest reads as zeros */
            uint64_t have = host + in < d->file_size ? d->file_size - host - in : 0;
            if (have > n) have = n;
            if (have && (r = file_pread_full(d->fd, p, (size_t)have, host + in)) < 0) return r;
            memset(p + have, 0, n - (size_t)have);
        } else if ((r = file_pread_full(d->fd, p, n, host + in)) < 0) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int q_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    struct qcow2 *q = d->priv;
    off &= ~(q->cluster - 1);
    while (off < d->size) {
        uint64_t host;
        int r = lookup(d, off, &host);
        if (r < 0) return r;
        if (!host) {
            /* skip a whole unallocated L2 range at once */
            uint64_t l1i = (off >> q->cluster_bits) / q->l2_entries;
            if (!(q->l1[l1i] & OFFSET_MASK)) off = (l1i + 1) * q->l2_entries * q->cluster;
            else off += q->cluster;
            continue;
        }
        *start = off;
        while (off < d->size && !lookup(d, off, &host) && host) off += q->cluster;
        *end = MIN(off, d->size);
        return 1;
    }
    return 0;
}

static void q_close(struct disk *d)
{
    struct qcow2 *q = d->priv;
    free(q->l1);
    free(q->l2_cache);
    free(q);
}

static const struct disk_ops qcow2_ops = {q_pread, q_next_data, q_close};

int qcow2_open(struct disk *d, char **err)
{
    uint8_t h[104];
    if (d->file_size < 72 || file_pread_full(d->fd, h, 72, 0) < 0 || get_be32(h) != QCOW2_MAGIC)
        return -EMEDIUMTYPE;
    uint32_t version = get_be32(h + 4);
    if (version != 2 && version != 3) return disk_fail(err, -ENOTSUP, "only qcow2 versions 2 and 3 are supported");
    if (get_be64(h + 8)) return disk_fail(err, -ENOTSUP, "qcow2 images with a backing file are not supported; flatten it with `qemu-img convert` first");
    unsigned cb = get_be32(h + 20);
    if (cb < 9 || cb > 21) return disk_fail(err, -EINVAL, "qcow2 header: cluster size out of range");
    if (get_be32(h + 32)) return disk_fail(err, -ENOTSUP, "encrypted qcow2 images are not supported");
    if (version == 3) {
        if (d->file_size < 104 || file_pread_full(d->fd, h + 72, 32, 72) < 0) return disk_fail(err, -EIO, "qcow2 header is truncated");
        if (get_be64(h + 72)) return disk_fail(err, -ENOTSUP, "qcow2 image uses incompatible features kiln does not read (dirty, corrupt, external data or compression type)");
        if (get_be32(h + 96) != 4) return disk_fail(err, -ENOTSUP, "qcow2 refcount width other than 16 bits is not supported");
    }
    struct qcow2 *q = xcalloc(1, sizeof *q);
    q->cluster_bits = cb;
    q->cluster = 1ull << cb;
    q->l2_entries = q->cluster / 8;
    uint64_t size = get_be64(h + 24);
    uint32_t l1_size = get_be32(h + 36);
    uint64_t l1_off = get_be64(h + 40);
    uint64_t per_l1 = q->l2_entries * q->cluster;
    if (size > (1ull << 50) || (uint64_t)l1_size < (size + per_l1 - 1) / per_l1 || l1_size > (1u << 25) ||
        l1_off % q->cluster || l1_off > d->file_size || (uint64_t)l1_size * 8 > d->file_size - l1_off) {
        free(q);
        return disk_fail(err, -EINVAL, "qcow2 header: L1 table does not fit the image (truncated or corrupt file)");
    }
    q->l1_size = l1_size;
    q->l1 = xcalloc(l1_size ? l1_size : 1, 8);
    uint8_t *raw = xmalloc((size_t)l1_size * 8 + 1);
    int r = l1_size ? file_pread_full(d->fd, raw, (size_t)l1_size * 8, l1_off) : 0;
    for (uint32_t i = 0; !r && i < l1_size; i++) q->l1[i] = get_be64(raw + 8 * i);
    free(raw);
    q->l2_cache = xmalloc(q->cluster);
    q->l2_cache_off = 0;
    d->priv = q;
    d->ops = &qcow2_ops;
    if (r < 0) {
        q_close(d);
        return disk_fail(err, r, "qcow2: cannot read the L1 table");
    }
    d->fmt = DISK_QCOW2;
    d->size = size;
    return 0;
}

/* Writer: cluster 0 = header; data clusters from cluster 1 in the order they come; then L2
 * tables, the L1 table, refcount blocks and the refcount table. Every cluster has refcount 1. */
enum { CB = 16, CL = 1 << CB, L2E = CL / 8 };

struct qsink {
    uint64_t next;   /* next free host offset */
    uint64_t **l2;   /* per L1 index, NULL until used */
    uint64_t l1_size;
};

static int qs_put(struct disk_sink *s, uint64_t off, const void *buf, size_t len)
{
    struct qsink *q = s->priv;
    size_t padded = (len + CL - 1) & ~(size_t)(CL - 1);
    int r;
    if (padded != len) {
        uint8_t *tmp;
        if (posix_memalign((void **)&tmp, 4096, padded)) return -ENOMEM;
        memset(tmp + len, 0, padded - len);
        memcpy(tmp, buf, len);
        r = file_pwrite_full(s->fd, tmp, padded, q->next);
        free(tmp);
    } else r = file_pwrite_full(s->fd, buf, len, q->next);
    if (r < 0) return r;
    for (size_t i = 0; i < padded / CL; i++) {
        uint64_t ci = off / CL + i, l1i = ci / L2E;
        if (!q->l2[l1i]) q->l2[l1i] = xcalloc(L2E, 8);
        q->l2[l1i][ci % L2E] = q->next + (uint64_t)i * CL;
    }
    q->next += padded;
    return 0;
}

static int qs_finish(struct disk_sink *s)
{
    struct qsink *q = s->priv;
    uint8_t *cl = xmalloc(CL);
    int r = 0;
    uint64_t *l1 = xcalloc(q->l1_size ? q->l1_size : 1, 8);
    for (uint64_t i = 0; i < q->l1_size && r >= 0; i++) {
        if (!q->l2[i]) continue;
        for (uint64_t j = 0; j < L2E; j++) put_be64(cl + 8 * j, q->l2[i][j] ? q->l2[i][j] | COPIED : 0);
        l1[i] = q->next | COPIED;
        r = file_pwrite_full(s->fd, cl, CL, q->next);
        q->next += CL;
    }
    uint64_t l1_off = q->next, l1_bytes = (q->l1_size * 8 + CL - 1) & ~(uint64_t)(CL - 1);
    if (!l1_bytes) l1_bytes = CL;
    uint8_t *l1raw = xcalloc(1, l1_bytes);
    for (uint64_t i = 0; i < q->l1_size; i++) put_be64(l1raw + 8 * i, l1[i]);
    if (r >= 0) r = file_pwrite_full(s->fd, l1raw, l1_bytes, l1_off);
    free(l1raw);
    free(l1);
    q->next += l1_bytes;
    /* refcount blocks (16-bit entries) and the table must count themselves too */
    uint64_t used = q->next / CL, per_block = CL / 2, nblk = 0, ntab = 0;
    for (;;) {
        uint64_t total = used + nblk + ntab;
        uint64_t b = (total + per_block - 1) / per_block, t = (b * 8 + CL - 1) / CL;
        if (b == nblk && t == ntab) break;
        nblk = b, ntab = t;
    }
    uint64_t total = used + nblk + ntab, blk_off = q->next, tab_off = blk_off + nblk * CL;
    for (uint64_t b = 0; b < nblk && r >= 0; b++) {
        memset(cl, 0, CL);
        for (uint64_t i = 0; i < per_block && b * per_block + i < total; i++) put_be16(cl + 2 * i, 1);
        r = file_pwrite_full(s->fd, cl, CL, blk_off + b * CL);
    }
    uint8_t *tab = xcalloc(1, ntab * CL);
    for (uint64_t b = 0; b < nblk; b++) put_be64(tab + 8 * b, blk_off + b * CL);
    if (r >= 0) r = file_pwrite_full(s->fd, tab, ntab * CL, tab_off);
    free(tab);
    memset(cl, 0, CL);
    put_be32(cl, QCOW2_MAGIC);
    put_be32(cl + 4, 3);
    put_be32(cl + 20, CB);
    put_be64(cl + 24, s->size);
    put_be32(cl + 36, (uint32_t)q->l1_size);
    put_be64(cl + 40, l1_off);
    put_be64(cl + 48, tab_off);
    put_be32(cl + 56, (uint32_t)ntab);
    put_be32(cl + 96, 4);   /* refcount_order: 16-bit refcounts */
    put_be32(cl + 100, 104); /* header length */
    if (r >= 0) r = file_pwrite_full(s->fd, cl, CL, 0);
    free(cl);
    if (r >= 0 && ftruncate(s->fd, (off_t)(total * CL)) < 0) r = -errno;
    return r;
}

static void qs_free(struct disk_sink *s)
{
    struct qsink *q = s->priv;
    for (uint64_t i = 0; i < q->l1_size; i++) free(q->l2[i]);
    free(q->l2);
    free(q);
}

void qcow2_sink_init(struct disk_sink *s)
{
    struct qsink *q = xcalloc(1, sizeof *q);
    q->next = CL;
    q->l1_size = (s->size + (uint64_t)L2E * CL - 1) / ((uint64_t)L2E * CL);
    q->l2 = xcalloc(q->l1_size ? q->l1_size : 1, sizeof *q->l2);
    s->priv = q;
    s->put = qs_put;
    s->finish = qs_finish;
    s->free = qs_free;
}
