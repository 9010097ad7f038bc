/* Format detection, the raw format, and the one conversion loop every output format shares. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "model/artifact.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

_Static_assert((int)DISK_RAW == ARTIFACT_RAW && (int)DISK_QCOW2 == ARTIFACT_QCOW2 &&
                   (int)DISK_VHD_FIXED == ARTIFACT_VHD_FIXED && (int)DISK_VHD_DYNAMIC == ARTIFACT_VHD &&
                   (int)DISK_FORMAT_COUNT == ARTIFACT_TAR,
               "the disk formats are the artifact table's first rows");

const char *disk_format_name(enum disk_format f) { return f < DISK_FORMAT_COUNT ? kiln_artifacts[f].name : "?"; }

int disk_format_parse(const char *name)
{
    if (streq(name, "vhd-dynamic")) return DISK_VHD_DYNAMIC;
    const struct kiln_artifact *a = artifact_by_name(name);
    return a && a - kiln_artifacts < DISK_FORMAT_COUNT ? (int)(a - kiln_artifacts) : -1;
}

int disk_read_error(struct disk *d, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(&d->why, r, fmt, ap);
    va_end(ap);
    return r;
}

const char *disk_strerror(const struct disk *d, int r)
{
    return d->why ? d->why : strerror(-r);
}

int disk_refuse(struct disk *d, char **reterr, const char *what)
{
    const char *base = strrchr(d->path, '/') ? strrchr(d->path, '/') + 1 : d->path;
    const char *dot = strrchr(base, '.');
    _cleanup_free_ char *stem = dot && dot != base ? xstrndup(d->path, (size_t)(dot - d->path)) : xstrdup(d->path);
    /* a QCOW v1 file may already be called x.qcow2: never suggest writing over the input */
    bool same = endswith(d->path, ".qcow2") && strlen(d->path) == strlen(stem) + 6;
    return err_setf(reterr, -ENOTSUP,
                      "this is %s, which kiln does not read (it reads raw, qcow2 and VHD); convert it first: "
                      "qemu-img convert -O qcow2 %s %s%s.qcow2",
                      what, d->path, stem, same ? "-converted" : "");
}

/* Formats kiln does not read, by their signature: without this they would pass for raw disks
 * and be inspected or converted as garbage. */
static int foreign_open(struct disk *d, char **reterr)
{
    static const struct {
        uint64_t off;
        const char *magic;
        size_t len;
        const char *what;
        const char *hint; /* NULL: convert with qemu-img */
    } sigs[] = {
        {0, "KDMV", 4, "a VMDK image", NULL},
        {0, "COWD", 4, "a VMware ESX sparse (COWD) image", NULL},
        {0, "# Disk DescriptorFile", 21, "a VMDK descriptor (the data is in the extent files it names)", NULL},
        {0, "vhdxfile", 8, "a VHDX image", NULL},
        {0, "QED\0", 4, "a QED image", NULL},
        {64, "\x7f\x10\xda\xbe", 4, "a VirtualBox VDI image", NULL},
        {0, "WithoutFreeSpace", 16, "a Parallels image", NULL},
        {0, "WithouFreSpacExt", 16, "a Parallels image", NULL},
        {0, "Bochs Virtual HD Image", 22, "a Bochs image", NULL},
        {0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop", 37, "a cloop image", NULL},
        {0, "LUKS\xba\xbe", 6, "a LUKS-encrypted volume",
         "kiln reads only unencrypted disk images; open it with cryptsetup and read the mapped device's contents"},
        {0, "\x1f\x8b\x08", 3, "a gzip-compressed file", "decompress it first (gunzip)"},
        {0, "\xfd" "7zXZ\0", 6, "an xz-compressed file", "decompress it first (xz -d)"},
        {0, "\x28\xb5\x2f\xfd", 4, "a zstd-compressed file", "decompress it first (zstd -d)"},
        {257, "ustar", 5, "a tar archive (an OVA?)", "unpack it and pass the disk image inside"},
    };
    uint8_t head[512];
    size_t have = (size_t)MIN((uint64_t)sizeof head, d->file_size);
    if (file_pread_full(d->fd, head, have, 0) < 0) return -EMEDIUMTYPE;
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
        if (sigs[i].off + sigs[i].len > have || memcmp(head + sigs[i].off, sigs[i].magic, sigs[i].len)) continue;
        if (!sigs[i].hint) return disk_refuse(d, reterr, sigs[i].what);
        return err_setf(reterr, -ENOTSUP, "this is %s, not a disk image: %s", sigs[i].what, sigs[i].hint);
    }
    /* Apple's UDIF (.dmg) ends with a "koly" trailer */
    uint8_t tail[4];
    if (d->file_size >= 512 && file_pread_full(d->fd, tail, 4, d->file_size - 512) == 0 && !memcmp(tail, "koly", 4))
        return disk_refuse(d, reterr, "an Apple disk image (DMG)");
    return -EMEDIUMTYPE;
}

int file_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return -EIO;
        p += r, len -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

int file_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = pwrite(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EINVAL) {
            /* direct I/O refuses this buffer or offset alignment: go on through the page cache */
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0 && (fl & O_DIRECT) && fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0) continue;
        }
        if (r < 0) return -errno;
        p += r, len -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

int file_next_data(int fd, uint64_t limit, uint64_t off, uint64_t *start, uint64_t *end)
{
    if (off >= limit) return 0;
    off_t s = lseek(fd, (off_t)off, SEEK_DATA);
    if (s < 0) {
        if (errno == ENXIO) return 0; /* only a hole from off on */
        *start = off, *end = limit;    /* no SEEK_DATA here: everything may be data */
        return 1;
    }
    if ((uint64_t)s >= limit) return 0;
    off_t e = lseek(fd, s, SEEK_HOLE);
    *start = (uint64_t)s;
    *end = e < 0 || (uint64_t)e > limit ? limit : (uint64_t)e;
    return 1;
}

/* raw */
static int raw_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
    return file_pread_full(d->fd, buf, len, off);
}

static int raw_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    return file_next_data(d->fd, d->size, off, start, end);
}

static void raw_close(struct disk *d) { (void)d; }

static const struct disk_ops raw_ops = {raw_pread, raw_next_data, raw_close};

int disk_open(const char *path, struct disk **out, char **reterr)
{
    /* a FIFO or a device would block the open or never end: only regular files are images */
    struct stat st;
    int fd = open_regular(path, false, &st);
    if (fd < 0) {
        *reterr = fs_open_error(path, fd, "pass the disk image file itself (raw, qcow2 or VHD)");
        return fd;
    }
    struct disk *d = xcalloc(1, sizeof *d);
    d->fd = fd;
    d->path = path;
    d->file_size = (uint64_t)st.st_size;
    d->file_alloc = MIN((uint64_t)st.st_blocks * 512, d->file_size);
    int (*const probes[])(struct disk *, char **) = {qcow2_open, vhd_open, foreign_open};
    for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
        char *e = NULL;
        int r = probes[i](d, &e);
        if (r == 0) {
            d->path = NULL;
            *out = d;
            return 0;
        }
        if (r != -EMEDIUMTYPE) {
            err_setf(reterr, 0, "%s: %s", path, e ? e : strerror(-r));
            free(e);
            close(fd);
            free(d->why);
            free(d);
            return r;
        }
        free(e);
    }
    d->path = NULL;
    d->ops = &raw_ops;
    d->fmt = DISK_RAW;
    d->size = d->file_size;
    *out = d;
    return 0;
}

void disk_close(struct disk *d)
{
    if (!d) return;
    d->ops->close(d);
    close(d->fd);
    free(d->why);
    free(d);
}

uint64_t disk_size(const struct disk *d) { return d->size; }
uint64_t disk_file_size(const struct disk *d) { return d->file_size; }
uint64_t disk_file_allocated(const struct disk *d) { return d->file_alloc; }
enum disk_format disk_format(const struct disk *d) { return d->fmt; }

static void clear_error(struct disk *d)
{
    free(d->why);
    d->why = NULL;
}

int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
    clear_error(d);
    if (off > d->size || len > d->size - off)
        return disk_read_error(d, -EINVAL, "read of %zu bytes at %llu is past the end of the %llu-byte disk", len,
                               (unsigned long long)off, (unsigned long long)d->size);
    return d->ops->pread(d, buf, len, off);
}

int disk_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    clear_error(d);
    if (off >= d->size) return 0;
    int r = d->ops->next_data(d, off, start, end);
    if (r != 1) return r;
    /* callers loop on this: a range that does not move forward would never end */
    *start = MAX(*start, off);
    *end = MIN(*end, d->size);
    if (*end <= *start) return disk_read_error(d, -EIO, "internal error: empty data range at %llu", (unsigned long long)off);
    return 1;
}

/* raw output: the data where it belongs, holes everywhere else */
static int raw_put(struct disk_sink *s, uint64_t off, const void *buf, size_t len)
{
    return file_pwrite_full(s->fd, buf, len, off);
}

static int raw_finish(struct disk_sink *s) { return ftruncate(s->fd, (off_t)s->size) < 0 ? -errno : 0; }
static void sink_nofree(struct disk_sink *s) { (void)s; }

static bool all_zero(const uint8_t *p, size_t n) { return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1)); }

enum { GRAIN = 64 * 1024, CHUNK = 4 * 1024 * 1024 };

/* Feeds every nonzero GRAIN of in to the sink, coalesced into runs. A read error sets *rerr. */
static int pump(struct disk *in, struct disk_sink *s, char **rerr)
{
    uint8_t *buf;
    if (posix_memalign((void **)&buf, 4096, CHUNK)) return -ENOMEM;
    uint64_t off = 0, start, end;
    int r;
    /* progress counts the bytes of data read (what the copy's time goes on), of all there are:
     * the same runs the copy below reads, found first (SEEK_DATA or the format's tables) */
    uint64_t data_total = 0, data_done = 0;
    bool progress = s->o && s->o->progress;
    if (progress) {
        while ((r = disk_next_data(in, off, &start, &end)) == 1) {
            start -= start % GRAIN;
            uint64_t lim = MIN(in->size, end + (GRAIN - end % GRAIN) % GRAIN);
            data_total += lim - start;
            off = lim;
        }
        if (r < 0) {
            *rerr = xstrdup(disk_strerror(in, r));
            goto out;
        }
        off = 0;
        s->o->progress(s->o->progress_ctx, 0, data_total);
    }
    while ((r = disk_next_data(in, off, &start, &end)) == 1) {
        start -= start % GRAIN;
        uint64_t lim = MIN(in->size, end + (GRAIN - end % GRAIN) % GRAIN);
        for (uint64_t pos = start; pos < lim; pos += CHUNK) {
            if (kiln_interrupted) {
                r = -EINTR;
                goto out;
            }
            size_t n = (size_t)MIN((uint64_t)CHUNK, lim - pos);
            if ((r = disk_pread(in, buf, n, pos)) < 0) {
                *rerr = xstrdup(disk_strerror(in, r));
                goto out;
            }
            size_t run = 0, run_len = 0;
            for (size_t g = 0; g < n; g += GRAIN) {
                size_t gl = MIN((size_t)GRAIN, n - g);
                if (!all_zero(buf + g, gl)) {
                    if (!run_len) run = g;
                    run_len += gl;
                    continue;
                }
                if (run_len && (r = s->put(s, pos + run, buf + run, run_len)) < 0) goto out;
                run_len = 0;
            }
            if (run_len && (r = s->put(s, pos + run, buf + run, run_len)) < 0) goto out;
            data_done += n;
            if (progress) s->o->progress(s->o->progress_ctx, MIN(data_done, data_total), data_total);
        }
        off = lim;
    }
    if (r < 0) *rerr = xstrdup(disk_strerror(in, r));
    else if (progress) s->o->progress(s->o->progress_ctx, data_total, data_total);
out:
    free(buf);
    return r;
}

int disk_convert(struct disk *in, const char *path, enum disk_format fmt, const struct disk_write_opts *o,
                 char **reterr)
{
    struct disk_sink s = {.o = o, .size = in->size, .free = sink_nofree};
    if (fmt == DISK_VHD_FIXED) s.size = (in->size + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
    else if (fmt == DISK_VHD_DYNAMIC) s.size = (in->size + 511) & ~(uint64_t)511;
    if (fmt != DISK_RAW && s.size > (uint64_t)2040 << 30 && fmt != DISK_QCOW2) {
        return err_setf(reterr, -EFBIG, "%s is %llu bytes; VHD holds at most 2040 GiB", path, (unsigned long long)in->size);
    }
    _cleanup_free_ char *tmp = NULL;
    s.fd = open_beside(path, 0644, &tmp);
    if (s.fd < 0) {
        int e = -s.fd;
        *reterr = e == EEXIST ? xasprintf("%s exists and is not a regular file: give another output path", path)
                           : xasprintf("cannot create a file beside %s: %s", path, strerror(e));
        return -e;
    }
    switch (fmt) {
    case DISK_QCOW2: qcow2_sink_init(&s); break;
    case DISK_VHD_FIXED: vhd_sink_init(&s, false); break;
    case DISK_VHD_DYNAMIC: vhd_sink_init(&s, true); break;
    default: s.put = raw_put, s.finish = raw_finish; break;
    }
    /* Data goes straight to the device (no page-cache copy, and fsync has little left to do);
     * headers and footers are small unaligned writes, done buffered. */
    int fl = fcntl(s.fd, F_GETFL);
    bool direct = fl >= 0 && fcntl(s.fd, F_SETFL, fl | O_DIRECT) == 0;
    _cleanup_free_ char *rerr = NULL;
    int r = pump(in, &s, &rerr);
    if (direct && fcntl(s.fd, F_SETFL, fl) < 0 && r >= 0) r = -errno;
    if (r >= 0) r = s.finish(&s);
    if (r >= 0 && fsync(s.fd) < 0) r = -errno;
    s.free(&s);
    if (close(s.fd) < 0 && r >= 0) r = -errno;
    if (r >= 0 && rename(tmp, path) < 0) r = -errno;
    if (r < 0) {
        unlink(tmp);
        if (r == -EINTR) err_setf(reterr, 0, "interrupted while writing %s", path);
        else if (rerr) err_setf(reterr, 0, "cannot read the input image: %s", rerr);
        else err_setf(reterr, 0, "writing %s failed: %s", path, strerror(-r));
    }
    return r < 0 ? r : 0;
}
