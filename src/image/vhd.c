/* VHD (Virtual Hard Disk, the 2006 "Virtual Hard Disk Image Format Specification"): fixed disks
 * (data + 512-byte footer) and dynamic disks (footer copy, dynamic header, block allocation table,
 * blocks of a sector bitmap + data, footer). All fields big-endian. */
#include <errno.h>

#include "image/disk_int.h"
#include "util/util.h"

#define VHD_EPOCH 946684800u /* 2000-01-01T00:00:00Z */
#define BAT_UNUSED 0xffffffffu
enum { FOOTER = 512, DYNHDR = 1024, BLOCK = 2 * 1024 * 1024, TYPE_FIXED = 2, TYPE_DYNAMIC = 3, TYPE_DIFF = 4 };

static uint32_t checksum(const uint8_t *p, size_t n, size_t skip_at)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (i < skip_at || i >= skip_at + 4) sum += p[i];
    return ~sum;
}

void vhd_chs(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
    uint64_t ts = size / 512, cth;
    unsigned s, h;
    if (ts > 65535ull * 16 * 255) ts = 65535ull * 16 * 255;
    if (ts >= 65535ull * 16 * 63) {
        s = 255, h = 16, cth = ts / s;
    } else {
        s = 17, cth = ts / s;
        h = (unsigned)((cth + 1023) / 1024);
        if (h < 4) h = 4;
        if (cth >= h * 1024ull || h > 16) s = 31, h = 16, cth = ts / s;
        if (cth >= h * 1024ull) s = 63, h = 16, cth = ts / s;
    }
    *cyl = (uint16_t)(cth / h);
    *heads = (uint8_t)h;
    *spt = (uint8_t)s;
}

void vhd_footer(uint8_t f[512], uint64_t size, bool dynamic, const struct disk_write_opts *o)
{
    memset(f, 0, FOOTER);
    memcpy(f, "conectix", 8);
    put_be32(f + 8, 2);          /* features: reserved bit always set */
    put_be32(f + 12, 0x00010000); /* format version 1.0 */
    put_be64(f + 16, dynamic ? FOOTER : ~0ull);
    put_be32(f + 24, o->unix_time > VHD_EPOCH ? o->unix_time - VHD_EPOCH : 0);
    /* Creator application: readers such as qemu take the footer's size as the disk size only
     * for creators they know to write it exactly (Hyper-V's "win " among them); with any other
     * value they derive the size from CHS geometry, which cannot express most whole-MiB sizes. */
    memcpy(f + 28, "win ", 4);
    put_be32(f + 32, 0x000a0000);
    memcpy(f + 36, "Wi2k", 4);
    put_be64(f + 40, size);
    put_be64(f + 48, size);
    uint16_t c;
    uint8_t h, s;
    vhd_chs(size, &c, &h, &s);
    put_be16(f + 56, c);
    f[58] = h;
    f[59] = s;
    put_be32(f + 60, dynamic ? TYPE_DYNAMIC : TYPE_FIXED);
    memcpy(f + 68, o->id, 16);
    put_be32(f + 64, checksum(f, FOOTER, 64));
}

/* A dynamic disk keeps only its allocated blocks in memory (block number and byte offset,
 * sorted by number), so a block table that claims 2^32 entries costs nothing unless the file
 * really holds that many blocks. */
struct vblock {
    uint64_t at; /* byte offset of its sector bitmap */
    uint32_t bn; /* block number */
};

struct vhd {
    struct vblock *b;
    size_t n;
    uint32_t block;
    uint32_t bitmap_bytes; /* rounded to sectors */
    uint8_t *bitmap;       /* cached bitmap of one block */
    int64_t bitmap_of;
};

static int v_pread_fixed(struct disk *d, void *buf, size_t len, uint64_t off)
{
    return file_pread_full(d->fd, buf, len, off);
}

static int v_next_fixed(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    return file_next_data(d->fd, d->size, off, start, end);
}

/* The first allocated block numbered bi or more: its index in b, or n. */
static size_t first_from(const struct vhd *v, uint32_t bi)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->b[mid].bn < bi) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int load_bitmap(struct disk *d, size_t k)
{
    struct vhd *v = d->priv;
    if (v->bitmap_of == (int64_t)k) return 0;
    int r = file_pread_full(d->fd, v->bitmap, v->bitmap_bytes, v->b[k].at);
    v->bitmap_of = r < 0 ? -1 : (int64_t)k;
    return r;
}

static int v_pread_dyn(struct disk *d, void *buf, size_t len, uint64_t off)
{
    struct vhd *v = d->priv;
    uint8_t *p = buf;
    while (len) {
        uint32_t bi = (uint32_t)(off / v->block);
        uint64_t in = off % v->block;
        size_t n, k = first_from(v, bi);
        if (k == v->n || v->b[k].bn != bi) {
            n = (size_t)MIN((uint64_t)len, v->block - in);
            memset(p, 0, n);
        } else {
            int r = load_bitmap(d, k);
            if (r < 0) return disk_read_error(d, r, "dynamic VHD: cannot read block %u: %s", bi, strerror(-r));
            /* extend over following sectors in the same bitmap state, within the block */
            uint64_t sec = in / 512;
            bool set = v->bitmap[sec / 8] & (0x80 >> (sec % 8));
            uint64_t lim = MIN(in + len, (uint64_t)v->block);
            uint64_t e = (sec + 1) * 512;
            while (e < lim && (bool)(v->bitmap[(e / 512) / 8] & (0x80 >> ((e / 512) % 8))) == set) e += 512;
            n = (size_t)(MIN(e, lim) - in);
            if (set) {
                r = file_pread_full(d->fd, p, n, v->b[k].at + v->bitmap_bytes + in);
                if (r < 0) return disk_read_error(d, r, "dynamic VHD: cannot read block %u: %s", bi, strerror(-r));
            } else memset(p, 0, n);
        }
        p += n, off += n, len -= n;
    }
    return 0;
}

static int v_next_dyn(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    struct vhd *v = d->priv;
    size_t k = first_from(v, (uint32_t)(off / v->block));
    if (k == v->n) return 0;
    *start = MAX(off, (uint64_t)v->b[k].bn * v->block);
    while (k + 1 < v->n && v->b[k + 1].bn == v->b[k].bn + 1) k++;
    *end = MIN(d->size, ((uint64_t)v->b[k].bn + 1) * v->block);
    return 1;
}

static void v_close(struct disk *d)
{
    struct vhd *v = d->priv;
    if (!v) return;
    free(v->b);
    free(v->bitmap);
    free(v);
}

static const struct disk_ops fixed_ops = {v_pread_fixed, v_next_fixed, v_close};
static const struct disk_ops dyn_ops = {v_pread_dyn, v_next_dyn, v_close};

struct extent {
    uint64_t start, end;
    int64_t block; /* -1: the footers, header or block table */
};

static int cmp_extent(const void *a, const void *b)
{
    const struct extent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Reads the block table: every allocated block inside the file, before its closing footer,
 * overlapping neither another block nor the metadata. So the blocks hold at most the file's
 * size of data, whatever the table says, and a table read from a hole (all zeros: every block
 * at offset 0) fails at its first entry. */
static int read_bat(struct disk *d, struct vhd *v, uint64_t bat_off, uint64_t hoff, uint64_t need, char **reterr)
{
    uint64_t span = (uint64_t)v->bitmap_bytes + v->block;
    uint64_t max_blocks = d->file_size / span;
    size_t cap_b = 0, ne = 0, cap_e = 0;
    struct extent *ex = NULL;
    const struct extent meta[] = {
        {0, FOOTER, -1}, {hoff, hoff + DYNHDR, -1}, {bat_off, bat_off + need * 4, -1}, {d->file_size - FOOTER, d->file_size, -1}};
    enum { CHUNK_ENTRIES = 16384 };
    uint8_t *raw = xmalloc(CHUNK_ENTRIES * 4);
    int r = 0;
    for (uint64_t i = 0; i < need && r >= 0; i += CHUNK_ENTRIES) {
        size_t cnt = (size_t)MIN((uint64_t)CHUNK_ENTRIES, need - i);
        if ((r = file_pread_full(d->fd, raw, cnt * 4, bat_off + i * 4)) < 0) {
            r = err_setf(reterr, r, "dynamic VHD: cannot read the block table");
            break;
        }
        for (size_t j = 0; j < cnt; j++) {
            uint32_t e = get_be32(raw + 4 * j);
            if (e == BAT_UNUSED) continue;
            uint64_t at = (uint64_t)e * 512;
            if (at > d->file_size - FOOTER || span > d->file_size - FOOTER - at) {
                r = err_setf(reterr, -EINVAL, "dynamic VHD: block %llu lies outside the file (truncated or corrupt file)",
                               (unsigned long long)(i + j));
                break;
            }
            for (size_t m = 0; m < ARRAY_SIZE(meta) && r >= 0; m++)
                if (at < meta[m].end && meta[m].start < at + span)
                    r = err_setf(reterr, -EINVAL, "dynamic VHD: block %llu overlaps the footer, header or block table "
                                                 "(corrupt or crafted file)",
                                   (unsigned long long)(i + j));
            if (r < 0) break;
            if (v->n >= max_blocks) {
                r = err_setf(reterr, -EINVAL, "dynamic VHD: the block table lists more blocks than the %llu-byte file "
                                             "holds: blocks overlap (corrupt or crafted file)",
                               (unsigned long long)d->file_size);
                break;
            }
            *APPEND(v->b, v->n, cap_b) = (struct vblock){at, (uint32_t)(i + j)};
        }
    }
    free(raw);
    if (r < 0) return r;
    if (!v->n) return 0;
    for (size_t k = 0; k < v->n; k++) *APPEND(ex, ne, cap_e) = (struct extent){v->b[k].at, v->b[k].at + span, v->b[k].bn};
    qsort(ex, ne, sizeof *ex, cmp_extent);
    /* same-sized blocks sorted by offset: one overlapping another overlaps its predecessor */
    for (size_t k = 1; k < ne && r >= 0; k++)
        if (ex[k].start < ex[k - 1].end)
            r = err_setf(reterr, -EINVAL, "dynamic VHD: blocks %lld and %lld overlap in the file (corrupt or crafted file)",
                           (long long)MIN(ex[k].block, ex[k - 1].block), (long long)MAX(ex[k].block, ex[k - 1].block));
    free(ex);
    return r;
}

int vhd_open(struct disk *d, char **reterr)
{
    uint8_t f[FOOTER];
    if (d->file_size < FOOTER || file_pread_full(d->fd, f, FOOTER, d->file_size - FOOTER) < 0 ||
        memcmp(f, "conectix", 8)) {
        /* a dynamic disk starts with a copy of its footer: without the closing one it is cut short */
        size_t head = (size_t)MIN((uint64_t)FOOTER, d->file_size);
        if (head >= 8 && file_pread_full(d->fd, f, head, 0) == 0 && !memcmp(f, "conectix", 8))
            return err_setf(reterr, -EINVAL, "this VHD has lost its closing footer (truncated file)");
        /* a fixed disk's footer that starts in the last 511 bytes was cut short */
        size_t tail = (size_t)MIN((uint64_t)FOOTER - 1, d->file_size);
        if (tail >= 8 && file_pread_full(d->fd, f, tail, d->file_size - tail) == 0) {
            const uint8_t *c = memmem(f, tail, "conectix", 8);
            if (c)
                return err_setf(reterr, -EINVAL, "the VHD footer is cut short: %zu of its %d bytes are there (truncated file)",
                                  (size_t)(f + tail - c), FOOTER);
        }
        return -EMEDIUMTYPE;
    }
    if (get_be32(f + 64) != checksum(f, FOOTER, 64))
        return err_setf(reterr, -EINVAL, "VHD footer checksum does not match (corrupt footer)");
    uint32_t type = get_be32(f + 60);
    uint64_t size = get_be64(f + 48);
    if (size % 512 || size > (uint64_t)2040 << 30) return err_setf(reterr, -EINVAL, "VHD footer: disk size is not a whole number of sectors or exceeds 2040 GiB");
    if (type == TYPE_FIXED) {
        if (size > d->file_size - FOOTER) return err_setf(reterr, -EINVAL, "fixed VHD is shorter than the size its footer states (truncated file)");
        d->ops = &fixed_ops;
        d->fmt = DISK_VHD_FIXED;
        d->size = size;
        return 0;
    }
    if (type == TYPE_DIFF) return err_setf(reterr, -ENOTSUP, "differencing VHDs are not supported; merge it into its parent first");
    if (type != TYPE_DYNAMIC) return err_setf(reterr, -EINVAL, "VHD footer: unknown disk type");
    uint64_t hoff = get_be64(f + 16);
    uint8_t h[DYNHDR];
    if (hoff > d->file_size || d->file_size - hoff < DYNHDR || file_pread_full(d->fd, h, DYNHDR, hoff) < 0 ||
        memcmp(h, "cxsparse", 8))
        return err_setf(reterr, -EINVAL, "dynamic VHD: no dynamic disk header where the footer points");
    if (get_be32(h + 36) != checksum(h, DYNHDR, 36)) return err_setf(reterr, -EINVAL, "dynamic VHD header checksum does not match");
    uint64_t bat_off = get_be64(h + 16);
    uint32_t entries = get_be32(h + 28), block = get_be32(h + 32);
    if (block < 512 || block > (256u << 20) || (block & (block - 1)))
        return err_setf(reterr, -EINVAL, "dynamic VHD header: block size is not a power of two between 512 B and 256 MiB");
    /* the table may be longer than the disk needs; entries past the disk's end map nothing */
    uint64_t need = (size + block - 1) / block;
    if (entries < need) return err_setf(reterr, -EINVAL, "dynamic VHD header: the block table does not cover the disk");
    if (bat_off > d->file_size || need * 4 > d->file_size - bat_off)
        return err_setf(reterr, -EINVAL, "dynamic VHD: the block table lies outside the file (truncated file)");
    struct vhd *v = xcalloc(1, sizeof *v);
    v->block = block;
    v->bitmap_bytes = ((block / 512 + 7) / 8 + 511) & ~511u;
    v->bitmap_of = -1;
    d->priv = v;
    int r = read_bat(d, v, bat_off, hoff, need, reterr);
    if (r < 0) {
        v_close(d);
        d->priv = NULL;
        return r;
    }
    v->bitmap = xmalloc(v->bitmap_bytes);
    d->ops = &dyn_ops;
    d->fmt = DISK_VHD_DYNAMIC;
    d->size = size;
    return 0;
}

/* fixed writer: data at its offset, footer after the (MiB-rounded) size */
static int fixed_put(struct disk_sink *s, uint64_t off, const void *buf, size_t len)
{
    return file_pwrite_full(s->fd, buf, len, off);
}

static int fixed_finish(struct disk_sink *s)
{
    uint8_t f[FOOTER];
    vhd_footer(f, s->size, false, s->o);
    return file_pwrite_full(s->fd, f, FOOTER, s->size);
}

/* dynamic writer: blocks appended in the order data comes */
struct dsink {
    uint8_t *bitmap; /* all sectors present, 4 KiB aligned for direct I/O */
    uint32_t *bat;
    uint32_t entries;
    uint64_t first, next; /* byte offsets */
};

static const uint32_t BITMAP = 512; /* 2 MiB block = 4096 sectors = 512 bitmap bytes */

static int dyn_put(struct disk_sink *s, uint64_t off, const void *buf, size_t len)
{
    struct dsink *v = s->priv;
    const uint8_t *p = buf;
    while (len) {
        uint32_t bi = (uint32_t)(off / BLOCK);
        uint64_t in = off % BLOCK;
        size_t n = (size_t)MIN((uint64_t)len, BLOCK - in);
        if (v->bat[bi] == BAT_UNUSED) {
            /* the bitmap sector sits just before a 4 KiB boundary so the block's data is aligned
             * for direct I/O; the gap before it is a hole */
            uint64_t data = (v->next + BITMAP + 4095) & ~4095ull;
            int r = file_pwrite_full(s->fd, v->bitmap, BITMAP, data - BITMAP);
            if (r < 0) return r;
            v->bat[bi] = (uint32_t)((data - BITMAP) / 512);
            v->next = data + BLOCK;
        }
        int r = file_pwrite_full(s->fd, p, n, (uint64_t)v->bat[bi] * 512 + BITMAP + in);
        if (r < 0) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int dyn_finish(struct disk_sink *s)
{
    struct dsink *v = s->priv;
    uint8_t f[FOOTER], h[DYNHDR];
    vhd_footer(f, s->size, true, s->o);
    memset(h, 0, sizeof h);
    memcpy(h, "cxsparse", 8);
    put_be64(h + 8, ~0ull);
    put_be64(h + 16, FOOTER + DYNHDR);
    put_be32(h + 24, 0x00010000);
    put_be32(h + 28, v->entries);
    put_be32(h + 32, BLOCK);
    put_be32(h + 36, checksum(h, DYNHDR, 36));
    size_t bat_bytes = (size_t)(v->first - FOOTER - DYNHDR);
    uint8_t *bat = xmalloc(bat_bytes);
    memset(bat, 0xff, bat_bytes);
    for (uint32_t i = 0; i < v->entries; i++) put_be32(bat + 4 * i, v->bat[i]);
    int r = file_pwrite_full(s->fd, f, FOOTER, 0);
    if (r >= 0) r = file_pwrite_full(s->fd, h, DYNHDR, FOOTER);
    if (r >= 0) r = file_pwrite_full(s->fd, bat, bat_bytes, FOOTER + DYNHDR);
    free(bat);
    if (r >= 0) r = file_pwrite_full(s->fd, f, FOOTER, v->next);
    if (r >= 0 && ftruncate(s->fd, (off_t)(v->next + FOOTER)) < 0) r = -errno;
    return r;
}

static void dyn_free(struct disk_sink *s)
{
    struct dsink *v = s->priv;
    free(v->bitmap);
    free(v->bat);
    free(v);
}

void vhd_sink_init(struct disk_sink *s, bool dynamic)
{
    if (!dynamic) {
        s->put = fixed_put;
        s->finish = fixed_finish;
        return;
    }
    struct dsink *v = xcalloc(1, sizeof *v);
    if (posix_memalign((void **)&v->bitmap, 4096, 4096)) abort();
    memset(v->bitmap, 0xff, 4096);
    v->entries = (uint32_t)((s->size + BLOCK - 1) / BLOCK);
    v->bat = xmalloc((size_t)v->entries * 4 + 4);
    memset(v->bat, 0xff, (size_t)v->entries * 4 + 4);
    /* blocks start after the table, sector aligned */
    v->first = v->next = FOOTER + DYNHDR + (((uint64_t)v->entries * 4 + 511) & ~511ull);
    s->priv = v;
    s->put = dyn_put;
    s->finish = dyn_finish;
    s->free = dyn_free;
}
