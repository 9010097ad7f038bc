/* qcow2 (the QEMU image format, versions 2 and 3, as qemu's docs/interop/qcow2.txt lays it
 * out): a reader for images without a backing file, compressed clusters (zlib or zstd)
 * included, and a writer that lays data clusters first and the tables after them. */
#include <errno.h>
#include <zlib.h>
#include <zstd.h>

#include "image/disk_int.h"
#include "util/util.h"

#define QCOW2_MAGIC 0x514649fbu
#define OFFSET_MASK 0x00fffffffffffe00ull
#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)
#define ZERO_FLAG 1ull

enum {
    INCOMPAT_DIRTY = 1,
    INCOMPAT_CORRUPT = 2,
    INCOMPAT_DATA_FILE = 4,
    INCOMPAT_COMPRESSION = 8,
    INCOMPAT_EXTENDED_L2 = 16,
    COMPRESSION_ZLIB = 0,
    COMPRESSION_ZSTD = 1,
    MAX_L1_BYTES = 32 << 20, /* qemu's own limit */
    /* Compressed clusters may yield at most 64 MiB + 64 x the file's size in all: deflate can
     * shrink a cluster ~1000 times and zstd far more, so a small crafted file could otherwise
     * make inspect or convert expand terabytes; qemu-img convert -c of real disks stays well
     * under 64 (zero clusters are not stored, and data rarely shrinks past 10x). */
    COMPRESSED_RATIO_MAX = 64,
    COMPRESSED_FIXED_MAX = 64 << 20,
    ZSTD_WINDOW_LOG_MAX = 23, /* a cluster is at most 2 MiB; refuse frames that ask for more */
};

struct qcow2 {
    unsigned cluster_bits;
    uint64_t cluster;
    uint64_t l2_entries;
    uint64_t *l1;
    uint32_t l1_size;   /* entries that cover the virtual size */
    uint64_t *l2_cache; /* one L2 table */
    uint64_t l2_cache_off;
    /* compressed clusters: descriptor layout, codec, where each one starts (sorted) and the
     * last one inflated */
    unsigned csize_shift;
    uint64_t csize_mask;
    int ctype;
    uint64_t *cstarts;
    size_t ncstarts;
    uint8_t *cin, *cout;
    uint64_t cout_of;
    z_stream zs;
    bool zs_ready;
    ZSTD_DCtx *zd;
};

enum kind { UNALLOCATED, ZEROS, DATA, COMPRESSED_DATA };

/* An L2 entry: its kind, host offset and (compressed) the bytes it may span. */
static enum kind classify(const struct qcow2 *q, uint64_t e, uint64_t *host, uint64_t *span)
{
    if (e & COMPRESSED) {
        *host = e & (((uint64_t)1 << q->csize_shift) - 1);
        uint64_t sectors = ((e >> q->csize_shift) & q->csize_mask) + 1;
        *span = sectors * 512 - (*host & 511);
        return COMPRESSED_DATA;
    }
    if (e & ZERO_FLAG) return ZEROS;
    *host = e & OFFSET_MASK;
    return *host ? DATA : UNALLOCATED;
}

static int load_l2(struct disk *d, uint64_t l2off)
{
    struct qcow2 *q = d->priv;
    if (l2off == q->l2_cache_off) return 0;
    if (l2off % q->cluster || l2off > d->file_size || q->cluster > d->file_size - l2off)
        return disk_read_error(d, -EINVAL, "qcow2: an L2 table at host offset %llu lies outside the file or is not "
                                           "cluster-aligned (corrupt image)",
                               (unsigned long long)l2off);
    uint8_t *raw = (uint8_t *)q->l2_cache;
    q->l2_cache_off = 0;
    int r = file_pread_full(d->fd, raw, q->cluster, l2off);
    if (r < 0) return disk_read_error(d, r, "qcow2: cannot read the L2 table at %llu: %s", (unsigned long long)l2off, strerror(-r));
    for (uint64_t i = 0; i < q->l2_entries; i++) q->l2_cache[i] = get_be64(raw + 8 * i);
    q->l2_cache_off = l2off;
    return 0;
}

/* The L2 entry of virtual cluster ci (0 when its whole L2 table is unallocated). */
static int entry(struct disk *d, uint64_t ci, uint64_t *e)
{
    struct qcow2 *q = d->priv;
    uint64_t l1i = ci / q->l2_entries;
    *e = 0;
    if (l1i >= q->l1_size) return 0;
    uint64_t l2off = q->l1[l1i] & OFFSET_MASK;
    if (!l2off) return 0;
    int r = load_l2(d, l2off);
    if (r < 0) return r;
    *e = q->l2_cache[ci % q->l2_entries];
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Inflates the compressed cluster at host (spanning at most span bytes) into q->cout. */
static int inflate_cluster(struct disk *d, uint64_t host, uint64_t span)
{
    struct qcow2 *q = d->priv;
    if (q->cout_of == host) return 0;
    q->cout_of = UINT64_MAX;
    /* streams never overlap: this one ends where the next compressed cluster starts, which
     * bounds the input all compressed clusters together can consume by the file's size */
    size_t lo = 0, hi = q->ncstarts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->cstarts[mid] <= host) lo = mid + 1;
        else hi = mid;
    }
    uint64_t limit = MIN(host + span, d->file_size);
    if (lo < q->ncstarts) limit = MIN(limit, q->cstarts[lo]);
    if (limit <= host)
        return disk_read_error(d, -EINVAL, "qcow2: the compressed cluster at host offset %llu has no data (corrupt image)",
                               (unsigned long long)host);
    size_t in_len = (size_t)(limit - host);
    int r = file_pread_full(d->fd, q->cin, in_len, host);
    if (r < 0) return disk_read_error(d, r, "qcow2: cannot read the compressed cluster at %llu: %s", (unsigned long long)host, strerror(-r));
    bool ok;
    if (q->ctype == COMPRESSION_ZLIB) {
        if (!q->zs_ready) {
            if (inflateInit2(&q->zs, -12) != Z_OK) return disk_read_error(d, -ENOMEM, "qcow2: cannot set up zlib");
            q->zs_ready = true;
        } else inflateReset(&q->zs);
        q->zs.next_in = q->cin;
        q->zs.avail_in = (uInt)in_len;
        q->zs.next_out = q->cout;
        q->zs.avail_out = (uInt)q->cluster;
        int zr = inflate(&q->zs, Z_FINISH);
        /* the span is only known to the sector: input may be left over, but the cluster must be full */
        ok = (zr == Z_STREAM_END || zr == Z_BUF_ERROR) && q->zs.avail_out == 0;
    } else {
        if (!q->zd) {
            q->zd = ZSTD_createDCtx();
            if (!q->zd || ZSTD_isError(ZSTD_DCtx_setParameter(q->zd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
                return disk_read_error(d, -ENOMEM, "qcow2: cannot set up zstd");
        } else ZSTD_DCtx_reset(q->zd, ZSTD_reset_session_only);
        ZSTD_inBuffer in = {q->cin, in_len, 0};
        ZSTD_outBuffer out = {q->cout, (size_t)q->cluster, 0};
        size_t zr = 1;
        ok = true;
        while (ok && out.pos < out.size) {
            size_t in_was = in.pos, out_was = out.pos;
            zr = ZSTD_decompressStream(q->zd, &out, &in);
            ok = !ZSTD_isError(zr) && (in.pos > in_was || out.pos > out_was);
        }
        ok = ok && zr == 0; /* the frame ends with the cluster */
    }
    if (!ok)
        return disk_read_error(d, -EINVAL, "qcow2: the compressed cluster at host offset %llu does not decompress to "
                                           "one cluster (corrupt image)",
                               (unsigned long long)host);
    q->cout_of = host;
    return 0;
}

static int q_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
    struct qcow2 *q = d->priv;
    uint8_t *p = buf;
    while (len) {
        uint64_t in = off & (q->cluster - 1);
        size_t n = (size_t)MIN((uint64_t)len, q->cluster - in);
        uint64_t e, host = 0, span = 0;
        int r = entry(d, off >> q->cluster_bits, &e);
        if (r < 0) return r;
        switch (classify(q, e, &host, &span)) {
        case UNALLOCATED:
        case ZEROS: memset(p, 0, n); break;
        case COMPRESSED_DATA:
            if ((r = inflate_cluster(d, host, span)) < 0) return r;
            memcpy(p, q->cout + in, n);
            break;
        case DATA:
            if (host + in + n > d->file_size) {
                /* the last cluster of a file may be short: the rest reads as zeros */
                uint64_t have = host + in < d->file_size ? d->file_size - host - in : 0;
                if (have > n) have = n;
                if (have && (r = file_pread_full(d->fd, p, (size_t)have, host + in)) < 0) break;
                memset(p + have, 0, n - (size_t)have);
            } else r = file_pread_full(d->fd, p, n, host + in);
            if (r < 0) return disk_read_error(d, r, "qcow2: cannot read the cluster at %llu: %s", (unsigned long long)host, strerror(-r));
            break;
        }
        p += n, off += n, len -= n;
    }
    return 0;
}

static bool holds_data(const struct qcow2 *q, uint64_t e)
{
    uint64_t host, span;
    enum kind k = classify(q, e, &host, &span);
    return k == DATA || k == COMPRESSED_DATA;
}

static int q_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    struct qcow2 *q = d->priv;
    uint64_t ci = off >> q->cluster_bits, e;
    int r;
    while (ci << q->cluster_bits < d->size) {
        uint64_t l1i = ci / q->l2_entries;
        if (l1i >= q->l1_size || !(q->l1[l1i] & OFFSET_MASK)) {
            ci = (l1i + 1) * q->l2_entries; /* a whole unallocated L2 range */
            continue;
        }
        if ((r = entry(d, ci, &e)) < 0) return r;
        if (!holds_data(q, e)) {
            ci++;
            continue;
        }
        *start = MAX(off, ci << q->cluster_bits);
        do {
            ci++;
            if ((r = entry(d, ci, &e)) < 0) return r;
        } while (ci << q->cluster_bits < d->size && holds_data(q, e));
        *end = MIN(ci << q->cluster_bits, d->size);
        return 1;
    }
    return 0;
}

static void q_close(struct disk *d)
{
    struct qcow2 *q = d->priv;
    free(q->l1);
    free(q->l2_cache);
    free(q->cstarts);
    free(q->cin);
    free(q->cout);
    if (q->zs_ready) inflateEnd(&q->zs);
    ZSTD_freeDCtx(q->zd);
    free(q);
}

static const struct disk_ops qcow2_ops = {q_pread, q_next_data, q_close};

/* The host clusters the tables use, each to be used once: at most max, the clusters the file has. */
struct refs {
    uint64_t *v;
    size_t n, cap, max;
};

static int ref_add(struct disk *d, struct refs *rs, uint64_t off, char **reterr)
{
    if (rs->n >= rs->max)
        return err_setf(reterr, -EINVAL, "qcow2: the tables use more clusters than the %llu-byte file holds: some cluster is "
                                        "used twice (corrupt or crafted image; `qemu-img check` shows where)",
                          (unsigned long long)d->file_size);
    *APPEND(rs->v, rs->n, rs->cap) = off;
    return 0;
}

/* The entries of L2 table i (loaded in q->l2_cache) up to the disk's vclusters: each data
 * cluster cluster-aligned inside the file (into rs), each compressed cluster starting inside
 * it (its start into q->cstarts, whose capacity is *ccap). */
static int check_l2(struct disk *d, uint32_t i, uint64_t vclusters, struct refs *rs, size_t *ccap, char **reterr)
{
    struct qcow2 *q = d->priv;
    for (uint64_t j = 0; j < q->l2_entries && i * q->l2_entries + j < vclusters; j++) {
        uint64_t host, span, voff = (i * q->l2_entries + j) << q->cluster_bits;
        int r;
        switch (classify(q, q->l2_cache[j], &host, &span)) {
        case UNALLOCATED:
        case ZEROS: break;
        case DATA:
            if (host % q->cluster || host >= d->file_size)
                return err_setf(reterr, -EINVAL, "qcow2: the cluster at virtual offset %llu points at host offset %llu, "
                                                "%s (corrupt image)",
                                  (unsigned long long)voff, (unsigned long long)host,
                                  host % q->cluster ? "not cluster-aligned" : "past the end of the file");
            if ((r = ref_add(d, rs, host, reterr)) < 0) return r;
            break;
        case COMPRESSED_DATA:
            if (host >= d->file_size)
                return err_setf(reterr, -EINVAL, "qcow2: the compressed cluster at virtual offset %llu points at host "
                                                "offset %llu, past the end of the file (corrupt image)",
                                  (unsigned long long)voff, (unsigned long long)host);
            *APPEND(q->cstarts, q->ncstarts, *ccap) = host;
            break;
        }
    }
    return 0;
}

/* Sorts v[0..n) and returns the index of the first value that repeats the one before it,
 * 0 when none does. */
static size_t sort_find_repeat(uint64_t *v, size_t n)
{
    if (n) qsort(v, n, sizeof *v, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1]) return i;
    return 0;
}

/* Walks every table once: each L2 table and data cluster inside the file, cluster-aligned and
 * used once (the header and the L1 table count as used), each compressed cluster starting at
 * its own offset, and no more compressed clusters than COMPRESSED_RATIO_MAX allows. After
 * this, the data a disk yields is bounded by the file's size (x 64 + 64 MiB when compressed):
 * an image whose clusters all point at one cluster cannot make a 256 KiB file read as 64 GiB. */
static int q_check(struct disk *d, uint64_t l1_off, char **reterr)
{
    struct qcow2 *q = d->priv;
    struct refs rs = {.max = (d->file_size + q->cluster - 1) / q->cluster};
    uint64_t vclusters = (d->size + q->cluster - 1) / q->cluster;
    size_t ccap = 0, dup;
    int r = ref_add(d, &rs, 0, reterr);
    for (uint64_t o = l1_off; r == 0 && o < l1_off + (uint64_t)q->l1_size * 8; o += q->cluster)
        r = ref_add(d, &rs, o - o % q->cluster, reterr);
    for (uint32_t i = 0; r == 0 && i < q->l1_size; i++) {
        uint64_t l2off = q->l1[i] & OFFSET_MASK;
        if (!l2off) continue;
        if ((r = ref_add(d, &rs, l2off, reterr)) < 0) break;
        if ((r = load_l2(d, l2off)) < 0) {
            *reterr = xstrdup(d->why);
            break;
        }
        r = check_l2(d, i, vclusters, &rs, &ccap, reterr);
    }
    if (r < 0) goto out;
    if ((dup = sort_find_repeat(rs.v, rs.n))) {
        r = err_setf(reterr, -EINVAL, "qcow2: the host cluster at offset %llu is used twice (by two virtual clusters or "
                                     "by a table and data): corrupt or crafted image; `qemu-img check` shows where",
                       (unsigned long long)rs.v[dup]);
        goto out;
    }
    if (q->ncstarts > (COMPRESSED_FIXED_MAX + COMPRESSED_RATIO_MAX * (d->file_size + 1)) / q->cluster) {
        r = err_setf(reterr, -EFBIG, "qcow2: its %zu compressed clusters would expand to %llu bytes, more than the %d MiB + "
                                    "%d x the file's %llu bytes kiln expands (a crafted or corrupt image)",
                       q->ncstarts, (unsigned long long)(q->ncstarts * q->cluster), COMPRESSED_FIXED_MAX >> 20,
                       COMPRESSED_RATIO_MAX, (unsigned long long)d->file_size);
        goto out;
    }
    if ((dup = sort_find_repeat(q->cstarts, q->ncstarts)))
        r = err_setf(reterr, -EINVAL, "qcow2: two compressed clusters start at host offset %llu: corrupt or crafted "
                                     "image; `qemu-img check` shows where",
                       (unsigned long long)q->cstarts[dup]);
out:
    free(rs.v);
    return r;
}

int qcow2_open(struct disk *d, char **reterr)
{
    uint8_t h[112] = {0};
    if (d->file_size < 4 || file_pread_full(d->fd, h, 4, 0) < 0 || get_be32(h) != QCOW2_MAGIC) return -EMEDIUMTYPE;
    /* the magic without the rest of the header is a cut qcow2, not a raw disk */
    if (d->file_size < 72 || file_pread_full(d->fd, h, 72, 0) < 0)
        return err_setf(reterr, -EINVAL, "qcow2 header is truncated: the file holds %llu bytes, the header needs 72 "
                                        "(the file was cut short)", (unsigned long long)d->file_size);
    uint32_t version = get_be32(h + 4);
    if (version == 1) return disk_refuse(d, reterr, "a QCOW version 1 image");
    if (version != 2 && version != 3) return err_setf(reterr, -ENOTSUP, "qcow2 version %u is not one kiln reads (2 and 3 are)", version);
    if (get_be64(h + 8)) return err_setf(reterr, -ENOTSUP, "qcow2 images with a backing file are not supported; flatten it with `qemu-img convert` first");
    unsigned cb = get_be32(h + 20);
    if (cb < 9 || cb > 21) return err_setf(reterr, -EINVAL, "qcow2 header: cluster size out of range");
    if (get_be32(h + 32)) return err_setf(reterr, -ENOTSUP, "encrypted qcow2 images are not supported");
    int ctype = COMPRESSION_ZLIB;
    if (version == 3) {
        if (d->file_size < 104 || file_pread_full(d->fd, h + 72, 32, 72) < 0) return err_setf(reterr, -EIO, "qcow2 header is truncated");
        uint32_t hlen = get_be32(h + 100);
        if (hlen < 104 || hlen % 8 || hlen > (1u << cb)) return err_setf(reterr, -EINVAL, "qcow2 header: header length is invalid");
        if (hlen > 104 && (d->file_size < 112 || file_pread_full(d->fd, h + 104, 8, 104) < 0)) return err_setf(reterr, -EIO, "qcow2 header is truncated");
        uint64_t inc = get_be64(h + 72);
        /* dirty only means the refcounts may be stale: kiln reads the L1/L2 tables, never refcounts */
        if (inc & INCOMPAT_CORRUPT) return err_setf(reterr, -EINVAL, "the qcow2 image is marked corrupt; repair it with `qemu-img check -r all` first");
        if (inc & INCOMPAT_DATA_FILE) return err_setf(reterr, -ENOTSUP, "the qcow2 image keeps its data in an external data file, which kiln does not read; make a self-contained copy with `qemu-img convert -O qcow2`");
        if (inc & INCOMPAT_EXTENDED_L2) return err_setf(reterr, -ENOTSUP, "the qcow2 image uses extended L2 entries (subclusters), which kiln does not read; rewrite it with `qemu-img convert -O qcow2`");
        if (inc & ~(uint64_t)(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION))
            return err_setf(reterr, -ENOTSUP, "the qcow2 image uses incompatible features kiln does not know (bits 0x%llx); rewrite it with `qemu-img convert -O qcow2`", (unsigned long long)(inc & ~(uint64_t)31));
        if (hlen > 104) ctype = h[104];
        if ((inc & INCOMPAT_COMPRESSION) ? ctype != COMPRESSION_ZSTD : ctype != COMPRESSION_ZLIB)
            return err_setf(reterr, -ENOTSUP, "the qcow2 image's compression type %d is not one kiln reads (zlib and zstd are)", ctype);
    }
    struct qcow2 *q = xcalloc(1, sizeof *q);
    q->cluster_bits = cb;
    q->cluster = 1ull << cb;
    q->l2_entries = q->cluster / 8;
    q->csize_shift = 62 - (cb - 8);
    q->csize_mask = (1ull << (cb - 8)) - 1;
    q->ctype = ctype;
    q->cout_of = UINT64_MAX;
    uint64_t size = get_be64(h + 24);
    uint32_t l1_size = get_be32(h + 36);
    uint64_t l1_off = get_be64(h + 40);
    uint64_t per_l1 = q->l2_entries * q->cluster;
    uint64_t need = size <= (1ull << 50) ? (size + per_l1 - 1) / per_l1 : 0;
    if (size > (1ull << 50) || l1_size < need || need * 8 > MAX_L1_BYTES || l1_off % q->cluster ||
        l1_off > d->file_size || need * 8 > d->file_size - l1_off) {
        free(q);
        return err_setf(reterr, -EINVAL, "qcow2 header: L1 table does not fit the image (truncated or corrupt file)");
    }
    /* entries past the virtual size map nothing: read only those that count */
    q->l1_size = (uint32_t)need;
    q->l1 = xcalloc(need ? need : 1, 8);
    uint8_t *raw = xmalloc(need * 8 + 1);
    int r = need ? file_pread_full(d->fd, raw, need * 8, l1_off) : 0;
    for (uint32_t i = 0; !r && i < need; i++) q->l1[i] = get_be64(raw + 8 * i);
    free(raw);
    q->l2_cache = xmalloc(q->cluster);
    q->cin = xmalloc(2 * q->cluster + 512); /* a compressed cluster spans up to 2^(cluster_bits-8) sectors */
    q->cout = xmalloc(q->cluster);
    d->priv = q;
    d->ops = &qcow2_ops;
    d->size = size;
    if (r < 0) {
        q_close(d);
        return err_setf(reterr, r, "qcow2: cannot read the L1 table");
    }
    if ((r = q_check(d, l1_off, reterr)) < 0) {
        q_close(d);
        return r;
    }
    d->fmt = DISK_QCOW2;
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
