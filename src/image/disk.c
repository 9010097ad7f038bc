/* Format detection, the raw format, and the one conversion loop every output format shares. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "util/proc.h"
#include "util/util.h"

static const char *const names[] = {"raw", "qcow2", "vhd-fixed", "vhd"};
static const char *const suffixes[] = {"raw", "qcow2", "vhd", "vhd"};

const char *disk_format_name(enum disk_format f) { return f < DISK_FORMAT_COUNT ? names[f] : "?"; }
const char *disk_format_suffix(enum disk_format f) { return f < DISK_FORMAT_COUNT ? suffixes[f] : "img"; }

int disk_format_parse(const char *name)
{
    if (streq(name, "vhd-dynamic")) return DISK_VHD_DYNAMIC;
    for (int i = 0; i < DISK_FORMAT_COUNT; i++)
        if (streq(name, names[i])) return i;
    return -1;
}

int disk_fail(char **err, int r, const char *msg)
{
    *err = xstrdup(msg);
    return r;
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
    if (off > d->size || len > d->size - off) return -EINVAL;
    return file_pread_full(d->fd, buf, len, off);
}

static int raw_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    return file_next_data(d->fd, d->size, off, start, end);
}

static void raw_close(struct disk *d) { (void)d; }

static const struct disk_ops raw_ops = {raw_pread, raw_next_data, raw_close};

int disk_open(const char *path, struct disk **out, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *err = xasprintf("cannot open %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *err = xasprintf("%s is not a regular file", path);
        return -EINVAL;
    }
    struct disk *d = xcalloc(1, sizeof *d);
    d->fd = fd;
    d->file_size = (uint64_t)st.st_size;
    int (*const probes[])(struct disk *, char **) = {qcow2_open, vhd_open};
    for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
        char *e = NULL;
        int r = probes[i](d, &e);
        if (r == 0) {
            *out = d;
            return 0;
        }
        if (r != -EMEDIUMTYPE) {
            *err = xasprintf("%s: %s", path, e ? e : strerror(-r));
            free(e);
            close(fd);
            free(d);
            return r;
        }
        free(e);
    }
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
    free(d);
}

uint64_t disk_size(const struct disk *d) { return d->size; }
enum disk_format disk_format(const struct disk *d) { return d->fmt; }

int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
    if (off > d->size || len > d->size - off) return -EINVAL;
    return d->ops->pread(d, buf, len, off);
}

int disk_next_data(struct disk *d, uint64_t off, uint64_t *start, uint64_t *end)
{
    if (off >= d->size) return 0;
    return d->ops->next_data(d, off, start, end);
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

/* Feeds every nonzero GRAIN of in to the sink, coalesced into runs. */
static int pump(struct disk *in, struct disk_sink *s)
{
    uint8_t *buf;
    if (posix_memalign((void **)&buf, 4096, CHUNK)) return -ENOMEM;
    uint64_t off = 0, start, end;
    int r;
    while ((r = disk_next_data(in, off, &start, &end)) == 1) {
        start -= start % GRAIN;
        uint64_t lim = MIN(in->size, end + (GRAIN - end % GRAIN) % GRAIN);
        for (uint64_t pos = start; pos < lim; pos += CHUNK) {
            if (kiln_interrupted) {
                r = -EINTR;
                goto out;
            }
            size_t n = (size_t)MIN((uint64_t)CHUNK, lim - pos);
            if ((r = disk_pread(in, buf, n, pos)) < 0) goto out;
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
        }
        off = lim;
    }
out:
    free(buf);
    return r;
}

int disk_convert(struct disk *in, const char *path, enum disk_format fmt, const struct disk_write_opts *o,
                 char **err)
{
    struct disk_sink s = {.o = o, .size = in->size, .free = sink_nofree};
    if (fmt == DISK_VHD_FIXED) s.size = (in->size + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
    else if (fmt == DISK_VHD_DYNAMIC) s.size = (in->size + 511) & ~(uint64_t)511;
    if (fmt != DISK_RAW && s.size > (uint64_t)2040 << 30 && fmt != DISK_QCOW2) {
        *err = xasprintf("%s is %llu bytes; VHD holds at most 2040 GiB", path, (unsigned long long)in->size);
        return -EFBIG;
    }
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    s.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.fd < 0) {
        int e = errno;
        *err = xasprintf("cannot create %s: %s", tmp, strerror(e));
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
    int r = pump(in, &s);
    if (direct && fcntl(s.fd, F_SETFL, fl) < 0 && r >= 0) r = -errno;
    if (r >= 0) r = s.finish(&s);
    if (r >= 0 && fsync(s.fd) < 0) r = -errno;
    s.free(&s);
    if (close(s.fd) < 0 && r >= 0) r = -errno;
    if (r >= 0 && rename(tmp, path) < 0) r = -errno;
    if (r < 0) {
        unlink(tmp);
        *err = r == -EINTR ? xasprintf("interrupted while writing %s", path)
                           : xasprintf("writing %s failed: %s", path, strerror(-r));
    }
    return r < 0 ? r : 0;
}
