/* Image formats, GPT, the spec parser, the ext4 time fixup, ext4, squashfs and erofs read in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "image/disk.h"
#include "image/erofs.h"
#include "image/ext4.h"
#include "image/gpt.h"
#include "image/inspect.h"
#include "image/pkgmgr.h"
#include "image/spec.h"
#include "image/squashfs.h"
#include "tap.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/endian.h"
#include "util/inroot.h"
#include "util/util.h"

/* Discoverable Partitions Specification: root partition, x86-64 */
#define ROOT_X86_64 "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"

static char dir[] = "/tmp/kiln-test-image-XXXXXX";

static char *tmp(const char *name) { return path_join(dir, name); }

static void test_chs(void)
{
    uint16_t c;
    uint8_t h, s;
    vhd_chs(2ull << 30, &c, &h, &s);
    ok(c == 4161 && h == 16 && s == 63, "2 GiB → CHS 4161/16/63 (got %u/%u/%u)", c, h, s);
    vhd_chs(20ull << 20, &c, &h, &s);
    ok((uint64_t)c * h * s <= (20ull << 20) / 512 && s == 17, "20 MiB → 17 sectors per track, not above the size");
    vhd_chs(3000ull << 30, &c, &h, &s);
    ok(c == 65535 && h == 16 && s == 255, "sizes past the CHS limit cap at 65535/16/255");
}

static void test_guid(void)
{
    struct guid g;
    ok(guid_parse(GPT_TYPE_ESP, &g), "ESP type GUID parses");
    static const uint8_t disk_order[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                           0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
    ok(!memcmp(g.b, disk_order, 16), "stored mixed-endian as the UEFI spec lays it out");
    char s[37];
    guid_format(&g, s);
    is_str(s, GPT_TYPE_ESP, "formats back");
    ok(!guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93", &g), "short GUID rejected");
    ok(!guid_parse("C12A7328XF81F-11D2-BA4B-00A0C93EC93B", &g), "bad separator rejected");
    ok(!guid_parse("G12A7328-F81F-11D2-BA4B-00A0C93EC93B", &g), "non-hex rejected");
    struct guid a, b, c2;
    guid_derive("seed", "root", &a);
    guid_derive("seed", "root", &b);
    guid_derive("seed", "esp", &c2);
    ok(!memcmp(a.b, b.b, 16) && memcmp(a.b, c2.b, 16), "derived GUIDs: same seed+label same GUID, other label other GUID");
    guid_format(&a, s);
    ok(s[14] == '4' && strchr("89AB", s[19]), "derived GUID has version 4 and the RFC 4122 variant (%s)", s);
}

static void test_gpt(void)
{
    _cleanup_free_ char *p = tmp("gpt.raw");
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint64_t size = 64ull << 20;
    ok(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "64 MiB disk file");
    struct gpt_part parts[2] = {0};
    guid_parse(GPT_TYPE_ESP, &parts[0].type);
    guid_derive("t", "a", &parts[0].uuid);
    parts[0].first_lba = 2048, parts[0].last_lba = 2048 + 16384 - 1;
    strcpy(parts[0].name, "esp");
    guid_parse(ROOT_X86_64, &parts[1].type);
    guid_derive("t", "b", &parts[1].uuid);
    parts[1].first_lba = 2048 + 16384, parts[1].last_lba = gpt_last_usable(size);
    strcpy(parts[1].name, "root-x86-64");
    struct guid dg;
    guid_derive("t", "disk", &dg);
    is_int(gpt_write(fd, size, &dg, parts, 2), 0, "gpt_write");
    struct gpt_part bad = parts[1];
    bad.last_lba = gpt_last_usable(size) + 1;
    is_int(gpt_write(fd, size, &dg, &bad, 1), -ERANGE, "a partition over the backup table is refused");
    close(fd);
    struct disk *d;
    char *err = NULL;
    ok(disk_open(p, &d, &err) == 0, "open");
    struct gpt_part *got = NULL;
    size_t n = 0;
    struct guid gdg;
    ok(gpt_read(d, &gdg, &got, &n, &err) == 0 && n == 2, "read back 2 partitions");
    ok(n == 2 && !memcmp(gdg.b, dg.b, 16) && got[1].first_lba == parts[1].first_lba && !strcmp(got[1].name, "root-x86-64") &&
           !strcmp(gpt_type_name(&got[0].type), "esp"),
       "partitions, names and disk GUID match");
    free(got);
    disk_close(d);
    /* sgdisk, if present, must agree the table is valid */
    char *v[] = {"sgdisk", "-v", p, NULL};
    char *out = NULL;
    int st = proc_run(v, 30000, &out);
    if (st != -ENOENT) ok(st == 0 && out && strstr(out, "No problems found"), "sgdisk -v: no problems (%s)", out ? out : "");
    free(out);
    /* damage the primary header: the backup still gives the table */
    fd = open(p, O_RDWR);
    ok(pwrite(fd, "X", 1, 512 + 20) == 1, "flip a byte in the primary header");
    close(fd);
    ok(disk_open(p, &d, &err) == 0 && gpt_read(d, &gdg, &got, &n, &err) == 0 && n == 2, "backup header used");
    free(got);
    disk_close(d);
    fd = open(p, O_RDWR);
    ok(pwrite(fd, "X", 1, (off_t)size - 512 + 20) == 1, "flip a byte in the backup header too");
    close(fd);
    disk_open(p, &d, &err);
    ok(gpt_read(d, &gdg, &got, &n, &err) < 0 && err && strstr(err, "CRC"), "both damaged: error names the CRC (%s)", err ? err : "");
    free(err);
    disk_close(d);
}

/* Rewrites partition slot idx (0-based) of both GPT copies of the disk at p and fixes the CRCs:
 * a table that reads fine but describes what cannot be. */
static void gpt_patch(const char *p, uint64_t size, int idx, uint64_t first, uint64_t last)
{
    int fd = open(p, O_RDWR);
    uint64_t lbas[2] = {1, size / 512 - 1};
    for (int c = 0; c < 2; c++) {
        uint8_t h[512], arr[128 * 128];
        if (pread(fd, h, 512, (off_t)(lbas[c] * 512)) != 512) abort();
        uint64_t elba = get_le64(h + 72);
        if (pread(fd, arr, sizeof arr, (off_t)(elba * 512)) != (ssize_t)sizeof arr) abort();
        put_le64(arr + 128 * idx + 32, first);
        put_le64(arr + 128 * idx + 40, last);
        put_le32(h + 88, (uint32_t)crc32(0, arr, sizeof arr));
        put_le32(h + 16, 0);
        put_le32(h + 16, (uint32_t)crc32(0, h, 92));
        if (pwrite(fd, arr, sizeof arr, (off_t)(elba * 512)) != (ssize_t)sizeof arr || pwrite(fd, h, 512, (off_t)(lbas[c] * 512)) != 512) abort();
    }
    close(fd);
}

static void test_gpt_hostile(void)
{
    _cleanup_free_ char *p = tmp("bad-gpt.raw");
    uint64_t size = 64ull << 20;
    struct gpt_part parts[2] = {0};
    guid_parse(GPT_TYPE_ESP, &parts[0].type);
    guid_parse(ROOT_X86_64, &parts[1].type);
    parts[0].first_lba = 2048, parts[0].last_lba = 18431;
    parts[1].first_lba = 18432, parts[1].last_lba = 40000;
    struct guid dg = {{1}};
    static const struct { uint64_t first, last; const char *why; } cases[] = {
        {50000, 40000, "GPT partition 2 ends before it starts (LBA 50000-40000)"},
        {18000, 40000, "GPT partitions 1 and 2 overlap (LBA 2048-18431 and 18000-40000)"},
        {18432, 131040, "GPT partition 2 (LBA 18432-131040) lies outside the disk's usable area (LBA 34-131038)"},
        {18432, ~0ull, "GPT partition 2 (LBA 18432-18446744073709551615) lies outside the disk's usable area (LBA 34-131038)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (ftruncate(fd, (off_t)size) || gpt_write(fd, size, &dg, parts, 2)) abort();
        close(fd);
        gpt_patch(p, size, 1, cases[i].first, cases[i].last);
        struct disk *d;
        char *err = NULL;
        struct gpt_part *got = NULL;
        size_t n = 0;
        struct guid g;
        ok(disk_open(p, &d, &err) == 0, "open");
        is_int(gpt_read(d, &g, &got, &n, &err), -EINVAL, "impossible partition refused, not listed");
        is_str(err, cases[i].why, "... with where and why");
        free(err);
        free(got);
        disk_close(d);
    }
    /* no GPT at all is not an error of the same kind: the disk just has none */
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (ftruncate(fd, (off_t)size)) abort();
    close(fd);
    struct disk *d;
    char *err = NULL;
    struct gpt_part *got = NULL;
    size_t n = 0;
    struct guid g;
    disk_open(p, &d, &err);
    is_int(gpt_read(d, &g, &got, &n, &err), -ENOENT, "a disk without a GPT: -ENOENT");
    free(err);
    disk_close(d);
}

/* A raw disk with data, an explicit zero stretch, a hole and an odd tail. */
static char *make_raw(uint64_t size)
{
    char *p = tmp("src.raw");
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (ftruncate(fd, (off_t)size)) abort();
    uint8_t *buf = malloc(3 << 20);
    for (size_t i = 0; i < 3u << 20; i++) buf[i] = (uint8_t)(i * 2654435761u >> 13);
    memset(buf + (1 << 20), 0, 256 << 10); /* zero grains inside data */
    if (pwrite(fd, buf, 3 << 20, 1 << 20) != 3 << 20) abort();
    if (pwrite(fd, buf, 4096, (off_t)size - 4096) != 4096) abort();
    free(buf);
    close(fd);
    return p;
}

static bool same_content(struct disk *a, struct disk *b)
{
    if (disk_size(a) > disk_size(b)) return false;
    uint8_t *x = malloc(1 << 20), *y = malloc(1 << 20);
    bool same = true;
    for (uint64_t off = 0; off < disk_size(b) && same; off += 1 << 20) {
        size_t n = (size_t)MIN((uint64_t)1 << 20, disk_size(b) - off);
        if (disk_pread(b, y, n, off) < 0) same = false;
        size_t na = off < disk_size(a) ? (size_t)MIN((uint64_t)n, disk_size(a) - off) : 0;
        memset(x, 0, n);
        if (na && disk_pread(a, x, na, off) < 0) same = false;
        if (memcmp(x, y, n)) same = false;
    }
    free(x);
    free(y);
    return same;
}

static void test_formats(void)
{
    uint64_t size = (16ull << 20) + 3 * 512;
    _cleanup_free_ char *src = make_raw(size);
    struct disk *in;
    char *err = NULL;
    ok(disk_open(src, &in, &err) == 0 && disk_format(in) == DISK_RAW && disk_size(in) == size, "raw detected");
    enum disk_format fmts[] = {DISK_QCOW2, DISK_VHD_FIXED, DISK_VHD_DYNAMIC, DISK_RAW};
    const char *names[] = {"o.qcow2", "o.vhd", "o-dyn.vhd", "o.raw"};
    struct disk_write_opts o = {.unix_time = 1700000000};
    memset(o.id, 7, 16);
    for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
        _cleanup_free_ char *p = tmp(names[i]);
        int cr = disk_convert(in, p, fmts[i], &o, &err);
        ok(cr == 0, "convert to %s%s%s", disk_format_name(fmts[i]), err ? ": " : "", err ? err : "");
        free(err), err = NULL;
        struct disk *out;
        ok(disk_open(p, &out, &err) == 0 && disk_format(out) == fmts[i], "%s detected as %s", names[i], disk_format_name(fmts[i]));
        if (fmts[i] == DISK_VHD_FIXED) is_int(disk_size(out), 17ull << 20, "fixed VHD size rounded up to a whole MiB");
        else if (fmts[i] != DISK_VHD_DYNAMIC) is_int(disk_size(out), size, "virtual size kept");
        ok(same_content(in, out), "%s reads back the same bytes", names[i]);
        /* the zeroed 256 KiB inside the data and the big hole are not stored */
        uint64_t s, e;
        int r = disk_next_data(out, 0, &s, &e);
        if (fmts[i] == DISK_VHD_DYNAMIC) /* allocation is per 2 MiB block there */
            ok(r == 1 && s == 0 && e == 4 << 20, "%s: data only in the two blocks that hold it", names[i]);
        else
            ok(r == 1 && s == 1 << 20 && e <= (2 << 20), "%s: first data extent [%llu,%llu) stops at the zero stretch",
               names[i], (unsigned long long)s, (unsigned long long)e);
        struct stat st;
        stat(p, &st);
        ok((uint64_t)st.st_blocks * 512 < (4ull << 20), "%s allocates %lld KiB for 3 MiB of data", names[i], (long long)st.st_blocks / 2);
        /* qemu-img must accept and read it exactly */
        const char *qf[] = {"qcow2", "vpc", "vpc", "raw"};
        char *cmp[] = {"qemu-img", "compare", "-q", "-f", "raw", "-F", (char *)qf[i], src, p, NULL};
        int st2 = proc_run(cmp, 60000, NULL);
        if (st2 != -ENOENT) ok(st2 == 0, "qemu-img compare %s: identical", names[i]);
        if (fmts[i] == DISK_QCOW2) {
            char *chk[] = {"qemu-img", "check", "-q", p, NULL};
            ok(proc_run(chk, 60000, NULL) == 0, "qemu-img check accepts kiln's qcow2");
        }
        disk_close(out);
    }
    /* reproducible: same input and options → same bytes */
    _cleanup_free_ char *a = tmp("r1.qcow2");
    _cleanup_free_ char *b = tmp("r2.qcow2");
    disk_convert(in, a, DISK_QCOW2, &o, &err);
    disk_convert(in, b, DISK_QCOW2, &o, &err);
    char *ta = NULL, *tb = NULL;
    size_t la, lb;
    read_file(a, 64 << 20, &ta, &la);
    read_file(b, 64 << 20, &tb, &lb);
    ok(ta && tb && la == lb && !memcmp(ta, tb, la), "two conversions are byte-identical");
    free(ta);
    free(tb);
    disk_close(in);
}

static void write_bytes(const char *p, const void *data, size_t n)
{
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (write(fd, data, n) != (ssize_t)n) abort();
    close(fd);
}

static void test_hostile(void)
{
    _cleanup_free_ char *p = tmp("bad.img");
    struct disk *d;
    char *err = NULL;
    uint8_t q[72] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
    q[23] = 16; /* cluster bits */
    write_bytes(p, q, sizeof q);
    ok(disk_open(p, &d, &err) < 0 && err && strstr(err, "truncated"), "truncated qcow2 v3 header: %s", err ? err : "");
    free(err), err = NULL;
    uint8_t q2[512] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 2};
    q2[23] = 16;              /* cluster bits */
    q2[31] = 0x10;            /* size: 4 KiB * 16 */
    q2[39] = 200;             /* l1 size: far beyond the file */
    q2[47] = 0;               /* l1 offset 0 */
    write_bytes(p, q2, sizeof q2);
    ok(disk_open(p, &d, &err) < 0 && err, "qcow2 L1 table beyond the file: %s", err ? err : "");
    free(err), err = NULL;
    uint8_t v[1024] = {0};
    memcpy(v + 512, "conectix", 8);
    write_bytes(p, v, sizeof v);
    ok(disk_open(p, &d, &err) < 0 && err && strstr(err, "checksum"), "VHD footer with a bad checksum: %s", err ? err : "");
    free(err), err = NULL;
    /* a dynamic VHD whose block table points past the end */
    _cleanup_free_ char *src = make_raw(4 << 20);
    struct disk *in;
    disk_open(src, &in, &err);
    _cleanup_free_ char *dyn = tmp("t-dyn.vhd");
    struct disk_write_opts o = {0};
    disk_convert(in, dyn, DISK_VHD_DYNAMIC, &o, &err);
    disk_close(in);
    struct stat st;
    stat(dyn, &st);
    if (truncate(dyn, st.st_size - 1024 * 1024)) abort();
    /* the closing footer is gone with the tail, the copy at the start is not: refused, not raw */
    _cleanup_free_ char *want = xasprintf("%s: this VHD has lost its closing footer (truncated file)", dyn);
    ok(disk_open(dyn, &d, &err) == -EINVAL && err && !strcmp(err, want), "cut dynamic VHD refused: %s", err ? err : "");
    free(err), err = NULL;
    /* a qcow2 cut inside its header: the magic says qcow2, so it is that error, never raw */
    _cleanup_free_ char *qc = tmp("cut.qcow2");
    _cleanup_free_ char *qcow = tmp("whole.qcow2");
    disk_open(src, &in, &err);
    disk_convert(in, qcow, DISK_QCOW2, &o, &err);
    disk_close(in);
    uint8_t head[50];
    int qfd = open(qcow, O_RDONLY);
    if (qfd < 0 || read(qfd, head, sizeof head) != (ssize_t)sizeof head) abort();
    close(qfd);
    const size_t cuts[] = {50, 10, 4};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        write_bytes(qc, head, cuts[i]);
        _cleanup_free_ char *w = xasprintf("%s: qcow2 header is truncated: the file holds %zu bytes, the header needs 72 "
                                           "(the file was cut short)", qc, cuts[i]);
        ok(disk_open(qc, &d, &err) == -EINVAL && err && !strcmp(err, w), "qcow2 cut to %zu bytes: %s", cuts[i], err ? err : "");
        free(err), err = NULL;
    }
    /* a fixed VHD whose footer lost its last bytes */
    _cleanup_free_ char *fixed = tmp("t-fixed.vhd");
    disk_open(src, &in, &err);
    disk_convert(in, fixed, DISK_VHD_FIXED, &o, &err);
    disk_close(in);
    stat(fixed, &st);
    const int keep[] = {300, 8}; /* each cut from the whole file's size: the file only shrinks */
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        if (truncate(fixed, st.st_size - 512 + keep[i])) abort();
        _cleanup_free_ char *w = xasprintf("%s: the VHD footer is cut short: %d of its 512 bytes are there (truncated file)",
                                           fixed, keep[i]);
        ok(disk_open(fixed, &d, &err) == -EINVAL && err && !strcmp(err, w), "fixed VHD footer cut to %d bytes: %s", keep[i],
           err ? err : "");
        free(err), err = NULL;
    }
    /* a file that is only a VHD footer's first bytes */
    write_bytes(p, "conectix\0\0\0\2", 12);
    ok(disk_open(p, &d, &err) == -EINVAL && err && strstr(err, "this VHD has lost its closing footer"), "a 12-byte VHD footer: %s",
       err ? err : "");
    free(err);
}

/* A qcow2 v3 file of nclusters 64 KiB clusters: header, L1 table in cluster 1 (l1 entries,
 * each pointing at l2), L2 table in cluster 2 whose entries get e[0..ne). */
enum { QC = 65536 };
static uint8_t *qcow2_file(uint64_t vsize, uint32_t l1_entries, uint64_t l2, const uint64_t *e, size_t ne, size_t nclusters)
{
    uint8_t *f = xcalloc(nclusters, QC);
    put_be32(f, 0x514649fb);
    put_be32(f + 4, 3);
    put_be32(f + 20, 16);
    put_be64(f + 24, vsize);
    put_be32(f + 36, l1_entries);
    put_be64(f + 40, QC);
    put_be32(f + 96, 4);
    put_be32(f + 100, 104);
    for (uint32_t i = 0; i < l1_entries; i++) put_be64(f + QC + 8 * i, l2 | (1ull << 63));
    for (size_t j = 0; j < ne; j++) put_be64(f + 2 * QC + 8 * j, e[j]);
    return f;
}

/* disk_open of the bytes: 0 or the error; *err holds the message (without the path). */
static int open_bytes(const char *p, const void *bytes, size_t n, struct disk **d, char **msg)
{
    write_bytes(p, bytes, n);
    char *err = NULL;
    int r = disk_open(p, d, &err);
    *msg = NULL;
    if (r < 0) {
        *msg = xstrdup(err && strlen(err) > strlen(p) + 2 ? err + strlen(p) + 2 : "");
        free(err);
    }
    return r;
}

static void test_qcow2_hostile(void)
{
    _cleanup_free_ char *p = tmp("h.qcow2");
    struct disk *d;
    char *msg;
    /* 256 KiB: 128 L1 entries all pointing at one L2 table whose 8192 entries all point at one
     * data cluster, claiming 64 GiB: refused at open, before a single byte is copied */
    uint64_t one[8192];
    for (size_t j = 0; j < 8192; j++) one[j] = 3ull * QC | (1ull << 63);
    uint8_t *f = qcow2_file(64ull << 30, 128, 2 * QC, one, 8192, 4);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "256 KiB qcow2 mapping 64 GiB onto one cluster: refused");
    is_str(msg, "qcow2: the tables use more clusters than the 262144-byte file holds: some cluster is used twice "
                "(corrupt or crafted image; `qemu-img check` shows where)", "... saying a cluster is used twice");
    free(msg), free(f);
    /* two virtual clusters on one host cluster, in a file with room to spare */
    uint64_t two[2] = {3ull * QC | (1ull << 63), 3ull * QC | (1ull << 63)};
    f = qcow2_file(1 << 20, 1, 2 * QC, two, 2, 8);
    is_int(open_bytes(p, f, 8 * QC, &d, &msg), -EINVAL, "two virtual clusters on one host cluster: refused");
    is_str(msg, "qcow2: the host cluster at offset 196608 is used twice (by two virtual clusters or by a table and data): "
                "corrupt or crafted image; `qemu-img check` shows where", "... naming the host offset");
    free(msg), free(f);
    /* data mapped onto the L1 table */
    uint64_t onl1[1] = {1ull * QC};
    f = qcow2_file(1 << 20, 1, 2 * QC, onl1, 1, 4);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "a data cluster on the L1 table: refused");
    ok(msg && strstr(msg, "host cluster at offset 65536 is used twice"), "... with the reason");
    free(msg), free(f);
    uint64_t odd[1] = {3ull * QC + 512}, past[1] = {9ull * QC};
    f = qcow2_file(1 << 20, 1, 2 * QC, odd, 1, 4);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "an unaligned data cluster: refused");
    is_str(msg, "qcow2: the cluster at virtual offset 0 points at host offset 197120, not cluster-aligned (corrupt image)", "... with the reason");
    free(msg), free(f);
    f = qcow2_file(1 << 20, 1, 2 * QC, past, 1, 4);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "a data cluster past the end of the file: refused");
    is_str(msg, "qcow2: the cluster at virtual offset 0 points at host offset 589824, past the end of the file (corrupt image)", "... with the reason");
    free(msg), free(f);
    /* an L1 table pointing at an L2 table outside the file */
    f = qcow2_file(1 << 20, 1, 7ull * QC, NULL, 0, 4);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "an L2 table outside the file: refused");
    ok(msg && strstr(msg, "an L2 table at host offset 458752 lies outside the file"), "... with the reason");
    free(msg), free(f);
    /* incompatible features are named */
    f = qcow2_file(1 << 20, 1, 0, NULL, 0, 4);
    put_be64(f + 72, 16);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -ENOTSUP, "extended L2 entries: refused");
    ok(msg && strstr(msg, "extended L2 entries (subclusters)"), "... with the reason");
    free(msg);
    put_be64(f + 72, 2);
    is_int(open_bytes(p, f, 4 * QC, &d, &msg), -EINVAL, "the corrupt bit: refused");
    ok(msg && strstr(msg, "qemu-img check -r all"), "... with the reason");
    free(msg);
    put_be64(f + 72, 1);
    ok(open_bytes(p, f, 4 * QC, &d, &msg) == 0, "the dirty bit alone: read (kiln never uses the refcounts)");
    disk_close(d);
    free(f);
}

/* A compressed cluster (raw deflate, as qemu writes it) at host offset at: the L2 entry. */
static uint64_t deflate_cluster(uint8_t *file, uint64_t at, const uint8_t *data, size_t *clen)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
    z.next_in = (uint8_t *)data;
    z.avail_in = QC;
    z.next_out = file + at;
    z.avail_out = 2 * QC;
    deflate(&z, Z_FINISH);
    *clen = z.total_out;
    deflateEnd(&z);
    uint64_t sectors = (at % 512 + *clen + 511) / 512; /* sectors touched, from the one holding at */
    return (1ull << 62) | ((sectors - 1) << (62 - 8)) | at;
}

static void test_qcow2_compressed(void)
{
    _cleanup_free_ char *p = tmp("c.qcow2");
    struct disk *d;
    char *msg;
    uint8_t *a = xmalloc(QC), *b = xmalloc(QC), *got = xmalloc(QC);
    for (size_t i = 0; i < QC; i++) a[i] = (uint8_t)(i / 7), b[i] = (uint8_t)(i % 251 ^ 0x5a);
    uint64_t e[2];
    size_t la, lb;
    uint8_t *f = qcow2_file(1 << 20, 1, 2 * QC, NULL, 0, 8);
    e[0] = deflate_cluster(f, 3 * QC + 100, a, &la);
    e[1] = deflate_cluster(f, 3 * QC + 100 + la, b, &lb); /* packed right behind, as qemu does */
    for (size_t j = 0; j < 2; j++) put_be64(f + 2 * QC + 8 * j, e[j]);
    ok(open_bytes(p, f, 8 * QC, &d, &msg) == 0, "crafted compressed qcow2 opens");
    ok(disk_pread(d, got, QC, 0) == 0 && !memcmp(got, a, QC), "first compressed cluster inflates to its data");
    ok(disk_pread(d, got, QC, QC) == 0 && !memcmp(got, b, QC), "second one, packed behind it, too");
    uint64_t s, en;
    ok(disk_next_data(d, 0, &s, &en) == 1 && s == 0 && en == 2 * QC, "compressed clusters count as data");
    disk_close(d);
    /* a damaged stream is a read error naming the cluster, not zeros or garbage */
    f[3 * QC + 100 + 5] ^= 0xff;
    f[3 * QC + 100 + 6] ^= 0xff;
    ok(open_bytes(p, f, 8 * QC, &d, &msg) == 0, "damaged compressed qcow2 still opens");
    int r = disk_pread(d, got, QC, 0);
    ok(r < 0 && !strcmp(disk_strerror(d, r), "qcow2: the compressed cluster at host offset 196708 does not decompress to "
                                               "one cluster (corrupt image)"),
       "damaged cluster: %s", r < 0 ? disk_strerror(d, r) : "read");
    disk_close(d);
    /* two virtual clusters on one compressed stream */
    put_be64(f + 2 * QC + 8, e[0]);
    is_int(open_bytes(p, f, 8 * QC, &d, &msg), -EINVAL, "two clusters on one compressed stream: refused");
    ok(msg && strstr(msg, "two compressed clusters start at host offset 196708"), "... with the reason");
    free(msg), free(f), free(a), free(b), free(got);
    /* what qemu-img writes: zlib (the default) and zstd, read back exactly */
    _cleanup_free_ char *src = make_raw(8 << 20);
    struct disk *in;
    char *err = NULL;
    disk_open(src, &in, &err);
    const char *types[] = {"compression_type=zlib", "compression_type=zstd"};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        _cleanup_free_ char *q = tmp(i ? "qz.qcow2" : "qc.qcow2");
        char *cv[] = {"qemu-img", "convert", "-c", "-O", "qcow2", "-o", (char *)types[i], src, q, NULL};
        int st = proc_run(cv, 60000, NULL);
        if (st == -ENOENT) {
            ok(true, "# SKIP qemu-img not installed");
            break;
        }
        ok(st == 0 && disk_open(q, &d, &err) == 0, "qemu-img convert -c (%s) opens", types[i]);
        ok(same_content(in, d), "... and reads back the same bytes as the raw image");
        disk_close(d);
    }
    disk_close(in);
    /* disk_next_data never returns a range starting before off, even inside a cluster */
    _cleanup_free_ char *k = tmp("k.qcow2");
    _cleanup_free_ char *src2 = make_raw(8 << 20);
    disk_open(src2, &in, &err);
    struct disk_write_opts o = {0};
    disk_convert(in, k, DISK_QCOW2, &o, &err);
    disk_close(in);
    disk_open(k, &d, &err);
    ok(disk_next_data(d, (1 << 20) + 1000, &s, &en) == 1 && s == (1 << 20) + 1000 && en > s,
       "next data from inside an allocated cluster starts there (%llu)", (unsigned long long)s);
    disk_close(d);
}

static void test_vhd_hostile(void)
{
    _cleanup_free_ char *src = make_raw(6 << 20);
    _cleanup_free_ char *p = tmp("h.vhd");
    struct disk *in, *d;
    char *err = NULL, *msg;
    disk_open(src, &in, &err);
    struct disk_write_opts o = {0};
    disk_convert(in, p, DISK_VHD_DYNAMIC, &o, &err);
    char *text = NULL;
    size_t n;
    read_file(p, 64 << 20, &text, &n);
    uint8_t *f = (uint8_t *)text, *h = f + 512;
    /* the header claims 2^32-1 table entries: only the three the disk needs are read */
    put_be32(h + 28, 0xffffffffu);
    uint32_t sum = 0;
    put_be32(h + 36, 0);
    for (size_t i = 0; i < 1024; i++) sum += h[i];
    put_be32(h + 36, ~sum);
    ok(open_bytes(p, f, n, &d, &msg) == 0 && same_content(in, d), "max_table_entries 0xffffffff: opens, reads the same");
    disk_close(d);
    /* block 1 in the same place as block 0 */
    uint8_t *bat = f + 1536;
    memcpy(bat + 4, bat, 4);
    is_int(open_bytes(p, f, n, &d, &msg), -EINVAL, "two blocks in one place: refused");
    is_str(msg, "dynamic VHD: blocks 0 and 1 overlap in the file (corrupt or crafted file)", "... with the reason");
    free(msg);
    /* a block table read from a hole: every entry 0, every block on the footer */
    memset(bat, 0, 12);
    is_int(open_bytes(p, f, n, &d, &msg), -EINVAL, "a zeroed block table: refused at its first entry");
    is_str(msg, "dynamic VHD: block 0 overlaps the footer, header or block table (corrupt or crafted file)", "... with the reason");
    free(msg);
    put_be32(bat, (uint32_t)(n / 512));
    is_int(open_bytes(p, f, n, &d, &msg), -EINVAL, "a block past the end: refused");
    is_str(msg, "dynamic VHD: block 0 lies outside the file (truncated or corrupt file)", "... with the reason");
    free(msg);
    free(text);
    disk_close(in);
}

static void test_os_release(void)
{
    char text[] = "# comment\nID=debian\nPRETTY_NAME=\"Debian \xff\xfe 12\"\nVERSION_ID='12'\nNAME\xc3=x\nnot a pair\n";
    json_t *o = os_release_parse(text);
    is_str(json_string_value(json_object_get(o, "ID")), "debian", "os-release: plain value");
    is_str(json_string_value(json_object_get(o, "VERSION_ID")), "12", "os-release: single quotes removed");
    is_str(json_string_value(json_object_get(o, "PRETTY_NAME")), "Debian ?? 12", "os-release: bytes that are not UTF-8 become '?'");
    is_str(json_string_value(json_object_get(o, "NAME?")), "x", "os-release: in keys too");
    is_int(json_object_size(o), 4, "os-release: comments and lines without '=' skipped");
    json_decref(o);
    /* os-release(5) quoting, shell style: the escapes are undone, not shown */
    char q[] = "A=\"say \\\"hi\\\" \\$HOME \\` \\\\ \\n\"\nB='it\\s'\nC=plain\\ word more\nD=\"x\"'y'z\n";
    o = os_release_parse(q);
    is_str(json_string_value(json_object_get(o, "A")), "say \"hi\" $HOME ` \\ \\n", "os-release: \\\" \\$ \\` \\\\ undone in double quotes, \\n kept");
    is_str(json_string_value(json_object_get(o, "B")), "it\\s", "os-release: nothing escaped in single quotes");
    is_str(json_string_value(json_object_get(o, "C")), "plain word", "os-release: unquoted, a backslash escapes, a blank ends");
    is_str(json_string_value(json_object_get(o, "D")), "xyz", "os-release: quoted parts joined");
    json_decref(o);
}

static void test_foreign(void)
{
    static const struct { size_t off; const char *magic; size_t len; const char *what; } sigs[] = {
        {0, "KDMV", 4, "this is a VMDK image, which kiln does not read"},
        {0, "# Disk DescriptorFile", 21, "this is a VMDK descriptor"},
        {0, "vhdxfile", 8, "this is a VHDX image, which kiln does not read"},
        {0, "QED\0", 4, "this is a QED image"},
        {64, "\x7f\x10\xda\xbe", 4, "this is a VirtualBox VDI image"},
        {0, "WithoutFreeSpace", 16, "this is a Parallels image"},
        {0, "LUKS\xba\xbe", 6, "this is a LUKS-encrypted volume, not a disk image"},
        {0, "\x1f\x8b\x08", 3, "this is a gzip-compressed file, not a disk image: decompress it first (gunzip)"},
        {0, "\xfd" "7zXZ\0", 6, "this is an xz-compressed file"},
        {0, "\x28\xb5\x2f\xfd", 4, "this is a zstd-compressed file"},
        {257, "ustar", 5, "this is a tar archive (an OVA?)"},
        {0, "QFI\xfb\0\0\0\x01", 8, "this is a QCOW version 1 image"},
    };
    _cleanup_free_ char *p = tmp("disk.vmdk");
    uint8_t buf[4096];
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf + sigs[i].off, sigs[i].magic, sigs[i].len);
        struct disk *d;
        char *msg;
        int r = open_bytes(p, buf, sizeof buf, &d, &msg);
        ok(r == -ENOTSUP && msg && startswith(msg, sigs[i].what), "%s... refused: %s", sigs[i].what, msg ? msg : "opened");
        if (r == 0) disk_close(d);
        free(msg);
    }
    memset(buf, 0, sizeof buf);
    memcpy(buf, "KDMV", 4);
    write_bytes(p, buf, sizeof buf);
    struct disk *d;
    char *err = NULL;
    _cleanup_free_ char *want = xasprintf("%s: this is a VMDK image, which kiln does not read (it reads raw, qcow2 and VHD); "
                                          "convert it first: qemu-img convert -O qcow2 %s %s/disk.qcow2", p, p, dir);
    ok(disk_open(p, &d, &err) == -ENOTSUP && err && !strcmp(err, want), "the message says how to convert: %s", err ? err : "");
    free(err);
    memset(buf, 0, sizeof buf);
    memcpy(buf + sizeof buf - 512, "koly", 4);
    write_bytes(p, buf, sizeof buf);
    err = NULL;
    ok(disk_open(p, &d, &err) == -ENOTSUP && err && strstr(err, "an Apple disk image (DMG)"), "DMG trailer: %s", err ? err : "");
    free(err);
}

static const char *good_spec =
    "name: t\nversion: 1.0.0\nbase: { family: deb, suite: bookworm }\n"
    "packages: { install: [openssh-server, linux-image-amd64] }\n"
    "os:\n  hostname: box\n  users: [ { name: ops, groups: [sudo], ssh_keys: [\"ssh-ed25519 AAAA x\"] } ]\n"
    "  sysctl: { kernel.kptr_restrict: 2 }\n  services: { enable: [ssh] }\n"
    "storage: { size: 1536M }\noutput: [raw, vhd-fixed]\n";

static char *spec_errors(const char *text)
{
    _cleanup_free_ char *p = tmp("spec.yml");
    write_bytes(p, text, strlen(text));
    struct diags d = {0};
    struct image_spec *s = NULL;
    int r = spec_load(p, NULL, &s, &d);
    spec_free(s);
    if (r == 0) {
        diags_free(&d);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    diags_print(&d, f);
    fclose(f);
    diags_free(&d);
    return buf;
}

/* arch: the kernel and boot chain packages of the spec's architecture, the image's own
 * systemd-boot when the host's is for another, the architecture's serial console (a warning). */
static void test_spec_arch(void)
{
#define ARM_HEAD "name: t\nversion: 1\narch: aarch64\nbase: { family: deb, suite: bookworm }\n"
    char *e = spec_errors(ARM_HEAD "packages: { install: [systemd-boot-efi, linux-image-amd64, grub-efi-amd64-signed] }\n");
    has(e, "spec.yml:5:41: packages.install[1]: linux-image-amd64 is a package for x86_64, this image is aarch64 (arch): "
           "install linux-image-arm64", "an amd64 kernel in an aarch64 spec: the arm64 one named, at the item");
    has(e, "packages.install[2]: grub-efi-amd64-signed is a package for x86_64, this image is aarch64 (arch): install "
           "grub-efi-arm64-signed", "and its boot loader, the suffix kept");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\npackages: { install: [linux-image-arm64, shim-aa64, "
                              "kernel.aarch64, crossbuild-essential-arm64, gcc-aarch64-linux-gnu] }\n");
    e = e ? e : xstrdup("");
    has(e, "packages.install[0]: linux-image-arm64 is a package for aarch64, this image is x86_64 (arch): install linux-image-amd64",
        "the other way: arm64's kernel in an x86_64 spec");
    has(e, "packages.install[1]: shim-aa64 is a package for aarch64, this image is x86_64 (arch): install shim-x64",
        "rpm's UEFI spelling");
    has(e, "packages.install[2]: kernel.aarch64 is a package for aarch64, this image is x86_64 (arch): install kernel.x86_64",
        "rpm's arch suffix");
    ok(!strstr(e, "crossbuild") && !strstr(e, "gcc-aarch64"), "cross toolchains for another arch are not refused: %s", e);
    free(e);
    e = spec_errors(ARM_HEAD "packages: { install: [linux-image-arm64] }\n");
    if (kiln_arch_host() != kiln_arch_find("aarch64"))
        has(e ? e : "", "spec.yml:5:22: packages.install: an aarch64 disk image built on this x86_64 host needs the image's own "
                        "systemd-boot (systemd-bootaa64.efi): add systemd-boot-efi to packages.install",
            "an arm64 disk without systemd-boot-efi on another host");
    else ok(!e, "an arm64 disk on an arm64 host may take the host's systemd-boot");
    free(e);
    ok(!spec_errors(ARM_HEAD "packages: { install: [linux-image-arm64] }\noutput: [tar]\n"),
       "a rootfs archive alone needs no boot loader");
    ok(!spec_errors(ARM_HEAD "packages: { install: [linux-image-arm64, systemd-boot] }\n"),
       "systemd-boot (which pulls systemd-boot-efi) will do");
    _cleanup_free_ char *p = tmp("spec.yml");
    const char *text = ARM_HEAD "packages: { install: [linux-image-arm64, systemd-boot-efi] }\n"
                                "os: { kernel_cmdline: \"quiet console=ttyS0,115200\" }\n";
    write_bytes(p, text, strlen(text));
    struct diags d = {0};
    struct image_spec *sp = NULL;
    ok(spec_load(p, NULL, &sp, &d) == 0 && sp, "console=ttyS0 on aarch64 loads (a warning, not an error)");
    ok(sp && sp->warnings.n == 1 && sp->warnings.v[0].line == 6 &&
           streq(sp->warnings.v[0].msg, "console=ttyS0 is x86_64's serial console; an aarch64 guest's (QEMU virt) is "
                                        "ttyAMA0: console=ttyAMA0"),
       "and the warning names ttyAMA0 at os.kernel_cmdline: %s", sp && sp->warnings.n ? sp->warnings.v[0].msg : "none");
    spec_free(sp);
    diags_free(&d);
    text = ARM_HEAD "packages: { install: [linux-image-arm64, systemd-boot-efi] }\nos: { kernel_cmdline: \"console=ttyAMA0\" }\n";
    write_bytes(p, text, strlen(text));
    sp = NULL;
    ok(spec_load(p, NULL, &sp, &d) == 0 && sp && sp->warnings.n == 0, "console=ttyAMA0 on aarch64: no warning");
    spec_free(sp);
    diags_free(&d);
#undef ARM_HEAD
}

/* storage.encrypt: tpm2 needs what unlocks it at boot (dracut's systemd initrd, the TPM2
 * libraries), on Debian and the standard layout, without grow_root. */
static void test_spec_encrypt(void)
{
#define ENC_PKGS "packages: { install: [linux-image-amd64, dracut, libcryptsetup12, tpm2-tools, cryptsetup-bin] }\n"
    _cleanup_free_ char *p = tmp("spec.yml");
    static const char good[] = "name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                               "storage: { encrypt: tpm2 }\n";
    write_bytes(p, good, strlen(good));
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0 && s && s->encrypt == ENCRYPT_TPM2, "encrypt: tpm2 loads");
    spec_free(s);
    diags_free(&d);
    char *e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                          "storage: { encrypt: luks }\n");
    has(e, "spec.yml:5:21: storage.encrypt: expected one of none | tpm2, got \"luks\"", "encrypt: an unknown value, where and the choices");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64, initramfs-tools, libcryptsetup12, tpm2-tools, cryptsetup-bin] }\n"
                    "storage: { encrypt: tpm2 }\n");
    has(e, "spec.yml:5:21: storage.encrypt: tpm2 needs dracut in packages.install: a systemd initrd",
        "encrypt: initramfs-tools cannot unlock with the TPM");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64, dracut, libcryptsetup12, cryptsetup-bin] }\nstorage: { encrypt: tpm2 }\n");
    has(e, "tpm2 needs tpm2-tools in packages.install", "encrypt: no TPM2 libraries for the initrd");
    free(e);
    /* every missing package at once, as boot.secure_boot: distro reports them */
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64] }\nstorage: { encrypt: tpm2 }\n");
    has(e, "tpm2 needs dracut in packages.install", "encrypt: all missing: dracut");
    has(e, "tpm2 needs libcryptsetup12 in packages.install", "encrypt: all missing: libcryptsetup12");
    has(e, "tpm2 needs tpm2-tools in packages.install", "encrypt: all missing: tpm2-tools");
    has(e, "tpm2 needs cryptsetup-bin in packages.install: verify_encrypted_root", "encrypt: all missing: cryptsetup-bin, for the case");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                    "os: { first_boot: { grow_root: true } }\nstorage: { encrypt: tpm2 }\n");
    has(e, "does not go with os.first_boot.grow_root", "encrypt: no grow_root");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                    "storage: { encrypt: tpm2, layout: immutable }\n");
    has(e, "standard only", "encrypt: the standard layout only");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                    "storage: { encrypt: none }\n");
    ok(!e, "encrypt: none needs nothing");
    free(e);
    /* apt's spellings of a package name count (hostile finding: "dracut=059-4" was refused) */
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64, \"dracut=059-4\", \"libcryptsetup12:amd64\", tpm2-tools/bookworm, cryptsetup-bin] }\n"
                    "storage: { encrypt: tpm2 }\n");
    ok(!e, "encrypt: NAME=VERSION, NAME:ARCH and NAME/RELEASE name the package (%s)", e ? e : "no error");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64, dracut, libcryptsetup12, tpm2-tools, cryptsetup-bin], remove: [tpm2-tools] }\n"
                    "storage: { encrypt: tpm2 }\n");
    has(e, "tpm2 needs tpm2-tools, which packages.remove takes out", "encrypt: a needed package removed again");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
                    "packages: { install: [linux-image-amd64, dracutx, libcryptsetup12, tpm2-tools, cryptsetup-bin] }\n"
                    "storage: { encrypt: tpm2 }\n");
    has(e, "tpm2 needs dracut in packages.install", "encrypt: a longer name is another package");
    free(e);
    /* hostile findings: an empty output list built no image at all, a format twice was silent */
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\noutput: []\n");
    has(e, "spec.yml:4:9: output: lists no output: give at least one of raw, qcow2, vhd-fixed, vhd, tar",
        "output: [] is refused");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\noutput: ~\n");
    has(e, "spec.yml:4:9: output: lists no output", "output: ~ too");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\noutput: [tar, qcow2, tar]\n");
    has(e, "spec.yml:4:22: output[2]: tar is listed twice", "a format twice is named at the second");
    free(e);
    /* the rootfs archive would hold the encrypted root in the clear (hostile finding: accepted) */
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                    "storage: { encrypt: tpm2 }\noutput: [qcow2, tar]\n");
    has(e, "spec.yml:5:21: storage.encrypt: tpm2 does not go with the tar output: the rootfs archive would carry the "
           "root filesystem that storage.encrypt: tpm2 encrypts on the disk unencrypted",
        "encrypt: refused with the tar output, where and why");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n" ENC_PKGS
                    "storage: { encrypt: tpm2 }\noutput: [tar]\nwsl: true\n");
    has(e, "spec.yml:5:21: storage.encrypt: tpm2 does not go with the tar output (wsl: true)", "encrypt: refused with wsl");
    free(e);
    /* kiln build --format tar asks for an output the spec does not list */
    write_bytes(p, good, strlen(good));
    ok(spec_load(p, NULL, &s, &d) == 0 && s, "encrypt: the spec without tar loads");
    const char *why = s ? spec_output_refused(s, OUT_TAR) : NULL;
    ok(why && strstr(why, "build the archive from a spec without storage.encrypt"), "encrypt: --format tar is refused: %s",
       why ? why : "(accepted)");
    ok(s && !spec_output_refused(s, OUT_QCOW2) && !spec_output_refused(s, OUT_RAW), "encrypt: --format qcow2 and raw are not");
    spec_free(s);
    diags_free(&d);
#undef ENC_PKGS
}

static void test_spec(void)
{
    uint64_t v;
    ok(spec_parse_size("2G", &v) && v == 2ull << 30, "2G");
    ok(spec_parse_size("1536M", &v) && v == 1536ull << 20, "1536M");
    ok(spec_parse_size("1.5GiB", &v) && v == 3ull << 29, "1.5GiB");
    ok(!spec_parse_size("2X", &v) && !spec_parse_size("", &v) && !spec_parse_size("-1G", &v), "garbage sizes rejected");
    /* hostile finding: strtod's other spellings were sizes */
    ok(!spec_parse_size("0x10G", &v) && !spec_parse_size("0x1p40", &v) && !spec_parse_size("1e3G", &v) &&
           !spec_parse_size(" 2G", &v) && !spec_parse_size("+2G", &v) && !spec_parse_size("infG", &v) &&
           !spec_parse_size("nan", &v) && !spec_parse_size(".5G", &v) && !spec_parse_size("1.2.3G", &v),
       "hex, exponents, blanks, signs, inf and nan are not sizes");
    ok(spec_parse_size("0.5G", &v) && v == 512ull << 20 && spec_parse_size("4096", &v) && v == 4096, "0.5G and bytes");
    _cleanup_free_ char *p = tmp("spec.yml");
    write_bytes(p, good_spec, strlen(good_spec));
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0, "good spec loads");
    if (s) {
        ok(s->size == 1536ull << 20 && s->outputs[OUT_RAW] && s->outputs[OUT_VHD_FIXED] && !s->outputs[OUT_QCOW2], "size and outputs");
        ok(s->nusers == 1 && !strcmp(s->users[0].groups[0], "sudo") && s->nsysctl == 1 && s->regenerate_ssh_host_keys,
           "users, sysctl, first-boot defaults");
    }
    spec_free(s);
    diags_free(&d);
    char *e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\npackages: { install: [\"foo;rm -rf /\"] }\n");
    has(e, "spec.yml:4:", "bad package: file:line");
    has(e, "not a valid package name", "bad package: says why");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nstorage: { size: lots }\n");
    has(e, "spec.yml:4:", "bad size: where");
    has(e, "at least 64M", "bad size: what to write");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nstorrage: {}\n");
    has(e, "storage", "unknown key: did-you-mean");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: rpm }\n");
    has(e, "needs \"repos\"", "rpm base without repos");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\nos: { files: [ { src: /nonexistent/x, dst: ../etc/x } ] }\n");
    has(e, "spec.yml:4:23: os.files[0].src: /nonexistent/x: No such file or directory", "missing file source");
    has(e, "spec.yml:4:44: os.files[0].dst: \"../etc/x\" is not a file path inside the image: it must be an absolute path", "relative destination");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\noutput: [iso]\n");
    has(e, "unknown output \"iso\"", "unknown output");
    free(e);
    test_spec_encrypt();
}

#define SPEC_HEAD "name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"

/* The first diagnostic for a spec that is SPEC_HEAD plus os: { KEY: VALUE }, without the
 * temp directory: "spec.yml:LINE:COL: PATH: MESSAGE". */
static char *os_error(const char *key, const char *yaml_value)
{
    _cleanup_free_ char *text = xasprintf(SPEC_HEAD "os:\n  %s: %s\n", key, yaml_value);
    char *e = spec_errors(text);
    if (!e) return xstrdup("(ok)");
    char *nl = strchr(e, '\n');
    if (nl) *nl = 0;
    char *r = xstrdup(strstr(e, "spec.yml:") ? strstr(e, "spec.yml:") : e);
    free(e);
    return r;
}

static void spec_ok(const char *key, const char *v, const char *what)
{
    _cleanup_free_ char *e = os_error(key, v);
    is_str(e, "(ok)", what);
}

static void spec_bad(const char *key, const char *v, const char *want, const char *what)
{
    _cleanup_free_ char *e = os_error(key, v);
    has(e, want, what);
}

/* Every spec field the image's OS reads is checked with the rules of the program reading it. */
static void test_spec_fields(void)
{
    /* the issue's input: an 88-character FQDN as the host name */
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(TEST_INPUTS_DIR "/spec-hostname/spec.yml", NULL, &s, &d) < 0 && d.n == 1,
       "spec-hostname/spec.yml is refused");
    _cleanup_free_ char *m = d.n ? xasprintf("%d:%d %s: %s", d.v[0].line, d.v[0].col, d.v[0].path, d.v[0].msg) : NULL;
    has(m, "7:13 os.hostname: \"ci-runner-7f3a9c2e-4b1d-4e8a-9f00-1234567890ab.europe-west4-b.c.example-project.internal\" "
           "is not a valid host name (RFC 1123, at most 64 characters): it has 88 characters, at most 64",
        "at its line:col, RFC 1123 and 64 named");
    diags_free(&d);
    spec_bad("hostname", "a..b", "spec.yml:5:13: os.hostname: \"a..b\" is not a valid host name (RFC 1123, at most 64 "
                                 "characters): it has an empty label", "a..b");
    spec_bad("hostname", "x.-y", "label \"-y\" starts or ends with '-'", "x.-y");
    spec_bad("hostname", "host.", "empty label", "host. (trailing dot)");
    spec_bad("hostname", ".host", "empty label", ".host");
    spec_bad("hostname", "a_b", "'_' is not allowed", "underscore");
    spec_bad("hostname", "\"a b\"", "' ' is not allowed", "space");
    spec_bad("hostname", "x-", "starts or ends with '-'", "trailing '-'");
    _cleanup_free_ char *l64 = xasprintf("%s.%s", "a123456789012345678901234567890123456789012345678901234567890",
                                         "bc"); /* 61 + 1 + 2 = 64 */
    spec_ok("hostname", l64, "64 characters in two labels: ok");
    _cleanup_free_ char *l65 = xasprintf("%s.abc", "a123456789012345678901234567890123456789012345678901234567890");
    spec_bad("hostname", l65, "it has 65 characters, at most 64", "65 characters");
    _cleanup_free_ char *lab64 = xasprintf("%064d", 7);
    spec_bad("hostname", lab64, "a label has 64 characters, at most 63", "a 64-character label");
    spec_ok("hostname", "kiln-debian.example", "a dotted name");
    spec_ok("hostname", "0host", "a label may start with a digit (RFC 1123)");

    /* users and groups: useradd's NAME_REGEX, at most 32 */
    spec_bad("users", "[ { name: Ops } ]", "\"Ops\" is not a valid user name (useradd): it must start with a-z or '_'",
             "upper-case user");
    spec_bad("users", "[ { name: 1ops } ]", "must start with a-z or '_'", "digit first");
    spec_bad("users", "[ { name: \"-rf\" } ]", "must start with a-z or '_'", "option-like user");
    spec_bad("users", "[ { name: \"a.b\" } ]", "only a-z, 0-9, '_' and '-' are allowed", "dot in a user name");
    spec_bad("users", "[ { name: abcdefghijabcdefghijabcdefghijabc } ]", "it has 33 characters", "33 characters");
    spec_ok("users", "[ { name: _svc }, { name: \"build$\" }, { name: ops-1, groups: [sudo, adm] } ]",
            "_svc, build$, ops-1 are user names");
    spec_bad("users", "[ { name: ops, groups: [sudo, \"Wheel\"] } ]",
             "os.users[0].groups[1]: \"Wheel\" is not a valid group name (groupadd)", "group names too");
    spec_bad("users", "[ { name: ops, groups: \"a,b\" } ]", "only a-z, 0-9", "a comma would split useradd's list");
    spec_bad("users", "[ { name: ops, ssh_keys: [\"ssh-ed25519 AAAA\\nssh-rsa BBBB\"] } ]", "not an OpenSSH public key line",
             "a key with a newline");

    /* file destinations: absolute and normalized */
    _cleanup_free_ char *src = tmp("motd");
    write_bytes(src, "hi\n", 3);
    spec_ok("files", "[ { src: motd, dst: /etc/motd } ]", "a file next to the spec");
    const char *bad_dst[] = {"/etc/../x", "/etc//motd", "/etc/./motd", "/etc/motd/", "etc/motd", "/", "/etc/..", "/a/b c"};
    for (size_t i = 0; i < ARRAY_SIZE(bad_dst); i++) {
        _cleanup_free_ char *v = xasprintf("[ { src: motd, dst: \"%s\" } ]", bad_dst[i]);
        _cleanup_free_ char *e = os_error("files", v);
        has(e, "is not a file path inside the image", bad_dst[i]);
    }
    spec_ok("files", "[ { src: motd, dst: /var/run/X } ]", "/var/run/X is a valid destination (resolved in the tree)");

    /* sources stay under the spec's directory */
    spec_bad("files", "[ { src: ../../../../../../../../etc/hostname, dst: /x } ]",
             "resolves to /etc/hostname, outside ", "src ../../../../etc/hostname refused");
    spec_bad("files", "[ { src: /etc/hostname, dst: /x } ]", "\"/etc/hostname\" resolves to /etc/hostname, outside", "an absolute src elsewhere refused");
    _cleanup_free_ char *lnk = tmp("shadow");
    if (symlink("/etc/hostname", lnk) < 0) perror(lnk);
    spec_bad("files", "[ { src: shadow, dst: /x } ]", "\"shadow\" resolves to /etc/hostname, outside", "a symlink out of the directory");
    _cleanup_free_ char *sub = tmp("sub");
    mkdir(sub, 0755);
    spec_bad("files", "[ { src: sub, dst: /x } ]", "is not a regular file", "a directory as a source");
    {
        _cleanup_free_ char *p = tmp("spec.yml");
        const char *text = SPEC_HEAD "os: { files: [ { src: /etc/hostname, dst: /x } ] }\n";
        write_bytes(p, text, strlen(text));
        struct image_spec *sr = NULL;
        ok(spec_load(p, "/etc", &sr, &d) == 0 && sr && streq(sr->files[0].src_rel, "hostname"),
           "with a source root given (kiln build --source-root /etc) it is allowed, relative to it");
        spec_free(sr);
        diags_free(&d);
    }

    /* services, sysctl, kernel command line */
    spec_bad("services", "{ enable: [\"--now\"] }", "\"--now\" is not a valid systemd unit name: it must start with",
             "an option as a unit");
    spec_bad("services", "{ mask: [\"a@b@c.service\"] }", "more than one '@'", "two '@'");
    spec_bad("services", "{ disable: [\"x/../y\"] }", "only letters, digits", "'/' in a unit");
    spec_bad("services", "{ enable: [\"ssh.\"] }", "it ends with '.'", "a trailing dot");
    spec_ok("services", "{ enable: [ssh, getty@tty1.service, systemd-networkd, fstrim.timer, \"dev-disk-by\\\\x2dlabel.swap\"] }",
            "plain, instance, timer and escaped unit names");
    spec_bad("sysctl", "{ net/ipv4/ip_forward: 1 }", "os.sysctl.net/ipv4/ip_forward: \"net/ipv4/ip_forward\" is not a sysctl name",
             "'/' in a sysctl key");
    spec_bad("sysctl", "{ kernel..x: 1 }", "empty name between dots", "'..' in a sysctl key");
    spec_bad("sysctl", "{ \"kernel.x\": \"1\\n2\" }", "one line", "a value with a newline");
    spec_ok("sysctl", "{ net.ipv4.conf.*.rp_filter: 1, kernel.kptr_restrict: 2 }", "globs and plain keys");
    spec_bad("kernel_cmdline", "\"console=ttyS0\\ninit=/bin/sh\"", "contains control characters", "a newline in the command line");
    _cleanup_free_ char *long_cmd = xasprintf("\"%01600d\"", 0);
    spec_bad("kernel_cmdline", long_cmd, "is 1600 bytes; at most 1536", "a command line past the kernel's limit");

    /* package names per family */
    char *e = spec_errors(SPEC_HEAD "packages: { install: [NetworkManager, \"-oDebug=1\", ok-pkg, vim=2:9.0-1, "
                                                   "\"foo:amd64\", \"bar/bookworm-backports\", x], remove: [\"a=1\"] }\n");
    has(e, "packages.install[0]: \"NetworkManager\" is not a valid package name: a Debian package name", "upper case on deb");
    has(e, "packages.install[1]: \"-oDebug=1\"", "an option as a package");
    has(e, "packages.install[6]: \"x\"", "a one-letter Debian name");
    has(e, "packages.remove[0]: \"a=1\"", "a version in remove");
    ok(e && !strstr(e, "install[2]") && !strstr(e, "install[3]") && !strstr(e, "install[4]") && !strstr(e, "install[5]"),
       "pkg, pkg=epoch:version, pkg:arch, pkg/release accepted");
    free(e);
    _cleanup_free_ char *key = tmp("key.asc");
    write_bytes(key, "k", 1);
    _cleanup_free_ char *repo = tmp("repo");
    mkdir(repo, 0755);
    e = spec_errors("name: t\nversion: 1\nbase: { family: rpm, repos: [ { name: r, baseurl: repo, gpgkey: key.asc } ] }\n"
                    "packages: { install: [NetworkManager, perl-Text-Tabs+Wrap, \"bash-5.1-1.x86_64\", \"-x\"] }\n");
    has(e, "packages.install[3]: \"-x\" is not a valid package name: an rpm package name starts with", "rpm: an option");
    ok(e && !strstr(e, "install[0]") && !strstr(e, "install[1]") && !strstr(e, "install[2]"), "rpm names with capitals, + and NEVRA");
    free(e);
    e = spec_errors("name: t\nversion: 1\nbase: { family: rpm, repos: [ { name: r, baseurl: \"file:///etc\", gpgkey: /etc/hostname } ] }\n");
    has(e, "base.repos[0].baseurl: \"/etc\" resolves to /etc, outside", "a file: repository outside the source root");
    has(e, "base.repos[0].gpgkey: \"/etc/hostname\" resolves to /etc/hostname, outside", "a key outside the source root");
    free(e);
    _cleanup_free_ char *long_name = xasprintf("name: %065d\nversion: 1\nbase: { family: deb, suite: bookworm }\n", 1);
    e = spec_errors(long_name);
    has(e, "is not a valid image name", "a 65-character image name (it names the output files)");
    free(e);
}

static void test_ext4(void)
{
    _cleanup_free_ char *tree = tmp("tree");
    _cleanup_free_ char *sub = tmp("tree/etc");
    mkdir_p(sub, 0755);
    _cleanup_free_ char *f = tmp("tree/etc/hostname");
    write_bytes(f, "box\n", 4);
    char *sums[2] = {0};
    for (int i = 0; i < 2; i++) {
        _cleanup_free_ char *img = tmp(i ? "b.ext4" : "a.ext4");
        /* a fresh ctime for every file in the tree, as on any build host */
        chmod(f, i ? 0600 : 0644);
        chmod(f, 0644);
        /* mke2fs copies atime and mtime too: the second build's tree was read since (another
         * atime) and written after the epoch (an mtime later, with nanoseconds); the clamp makes
         * both what the first build's were */
        struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
        struct timespec later[2] = {{1800000000, 123}, {1800000000, 456789}};
        utimensat(AT_FDCWD, f, i ? later : ts, 0);
        utimensat(AT_FDCWD, sub, ts, 0);
        utimensat(AT_FDCWD, tree, ts, 0);
        char *mk[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-U", "6b696c6e-0000-4000-8000-00000000000a", "-E",
                      "hash_seed=6b696c6e-0000-4000-8000-00000000000b,root_owner=0:0", "-d", tree, img, "16M", NULL};
        setenv("E2FSPROGS_FAKE_TIME", "1700000000", 1);
        int r = proc_run(mk, 60000, NULL);
        if (r == -ENOENT) {
            ok(true, "# SKIP mke2fs not installed");
            return;
        }
        char *err = NULL;
        ok(r == 0 && ext4_clamp_times(img, 0, 1700000000, &err) == 0, "mke2fs -d + clamp %d", i);
        free(err);
        char *fsck[] = {"e2fsck", "-fn", img, NULL};
        char *out = NULL;
        ok(proc_run(fsck, 60000, &out) == 0, "e2fsck -fn clean after the rewrite (checksums right)");
        free(out);
        char *sum[] = {"sha256sum", img, NULL};
        proc_run(sum, 60000, &sums[i]);
        if (!i) sleep(1);
    }
    ok(sums[0] && sums[1] && !strncmp(sums[0], sums[1], 64), "two builds a second apart are identical");
    free(sums[0]);
    free(sums[1]);
    /* the same filesystem made 1 MiB into a larger file (mke2fs -E offset=, as kiln build makes
     * the root in the disk) and clamped there: the same bytes at the offset, nothing before it touched */
    {
        enum { OFF = 1 << 20, FS = 16 << 20 };
        _cleanup_free_ char *raw = tmp("c.raw");
        _cleanup_free_ char *alone = tmp("a.ext4");
        uint8_t *pre = xmalloc(OFF);
        memset(pre, 0xab, OFF);
        write_bytes(raw, pre, OFF);
        if (truncate(raw, OFF + FS + OFF) < 0) abort();
        struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
        utimensat(AT_FDCWD, f, ts, 0);
        utimensat(AT_FDCWD, sub, ts, 0);
        utimensat(AT_FDCWD, tree, ts, 0);
        char *mk[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-U", "6b696c6e-0000-4000-8000-00000000000a", "-E",
                      "hash_seed=6b696c6e-0000-4000-8000-00000000000b,root_owner=0:0,offset=1048576,nodiscard", "-d", tree,
                      raw, "16M", NULL};
        char *err = NULL;
        ok(proc_run(mk, 60000, NULL) == 0 && ext4_clamp_times(raw, OFF, 1700000000, &err) == 0, "mke2fs -E offset= + clamp at the offset");
        free(err);
        char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        bool same = read_file(alone, FS + 1, &a, &alen) == 0 && read_file(raw, OFF + FS + OFF + 1, &b, &blen) == 0 &&
                    alen == FS && blen == (size_t)OFF + FS + OFF && !memcmp(b + OFF, a, FS);
        ok(same, "the filesystem at the offset is the image made on its own, byte for byte");
        ok(b && !memcmp(b, pre, OFF), "the bytes before the offset are untouched");
        free(a);
        free(b);
        free(pre);
        err = NULL;
        ok(ext4_clamp_times(raw, OFF + 4096, 1700000000, &err) == -EINVAL && err, "no ext4 at another offset: refused");
        free(err);
    }
    /* a superblock claiming 2^40 blocks in a 64 KiB file: refused, not 2^25 descriptors read */
    _cleanup_free_ char *bad = tmp("bad.ext4");
    uint8_t img[65536] = {0};
    uint8_t *sb = img + 1024;
    put_le32(sb + 4, 0);
    put_le32(sb + 0x150, 256);  /* blocks_count_hi */
    put_le32(sb + 24, 2);       /* 4 KiB blocks */
    put_le32(sb + 32, 32768);   /* blocks per group */
    put_le32(sb + 40, 8192);    /* inodes per group */
    put_le16(sb + 56, 0xef53);
    put_le16(sb + 88, 256);     /* inode size */
    put_le32(sb + 96, 0x80);    /* 64bit */
    put_le16(sb + 254, 64);     /* descriptor size */
    write_bytes(bad, img, sizeof img);
    char *err = NULL;
    _cleanup_free_ char *want = xasprintf("%s: unexpected ext4 superblock values (33554432 groups of 8192 inodes do not fit the file)", bad);
    ok(ext4_clamp_times(bad, 0, 1700000000, &err) == -EINVAL && err && !strcmp(err, want), "hostile superblock refused: %s", err ? err : "");
    free(err);
}

/* An ext4 read where it lies (image/ext4.h): mke2fs -d of a known tree, 1 MiB into a raw disk
 * and the same disk as qcow2 (kiln's writer), read through the disk reader at that offset. */
static void test_ext4_in_place(void)
{
    _cleanup_free_ char *tree = tmp("ip");
    _cleanup_free_ char *usr = tmp("ip/usr/lib"), *etc = tmp("ip/etc"), *dird = tmp("ip/dir");
    mkdir_p(usr, 0755), mkdir_p(etc, 0755), mkdir_p(dird, 0755);
    _cleanup_free_ char *osr = tmp("ip/usr/lib/os-release");
    write_bytes(osr, "ID=ip\n", 6);
    /* 300 KiB of a known pattern: more than one extent block read, more than the 1 MiB piece is not needed */
    size_t big_n = 300 << 10;
    char *big = xmalloc(big_n);
    for (size_t i = 0; i < big_n; i++) big[i] = (char)(i * 7 + i / 4096);
    _cleanup_free_ char *bigp = tmp("ip/dir/a b"), *sparse = tmp("ip/sparse");
    write_bytes(bigp, big, big_n);
    int sfd = open(sparse, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ok(sfd >= 0 && ftruncate(sfd, 1ll << 40) == 0, "a 1 TiB sparse file in the tree");
    if (sfd >= 0) close(sfd);
    /* a slow link: its target (over 60 bytes) is stored in a block, not in the inode */
    const char *long_target = "/usr/./././././././././././././././././././././././././././lib/os-release";
    struct { const char *target, *name; } links[] = {
        {"../usr/lib/os-release", "ip/etc/rel"}, {"/usr/lib/os-release", "ip/etc/abs"},
        {"../../../../usr/lib/os-release", "ip/etc/up"}, {long_target, "ip/etc/slow"},
        {"/dir/a b", "ip/etc/blank"}, {"/etc/loop2", "ip/etc/loop1"}, {"/etc/loop1", "ip/etc/loop2"},
        {"/etc/rel", "ip/etc/chain"}, {"/nowhere", "ip/etc/dangling"}, {"/etc", "ip/etcl"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        _cleanup_free_ char *l = tmp(links[i].name);
        if (symlink(links[i].target, l) < 0) abort();
    }
    _cleanup_free_ char *fsimg = tmp("ip.ext4");
    char *mk[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, fsimg, "8M", NULL};
    int r = proc_run(mk, 60000, NULL);
    if (r == -ENOENT) {
        ok(true, "# SKIP mke2fs not installed");
        free(big);
        return;
    }
    ok(r == 0, "mke2fs -d");
    /* the filesystem at 1 MiB of a raw disk whose first MiB is not zero */
    char *fsb = NULL;
    size_t fsn = 0;
    read_file(fsimg, 64 << 20, &fsb, &fsn);
    size_t diskn = (1 << 20) + fsn + (1 << 20);
    uint8_t *disk = xcalloc(1, diskn);
    memset(disk, 0xa5, 1 << 20);
    if (fsb) memcpy(disk + (1 << 20), fsb, fsn);
    free(fsb);
    _cleanup_free_ char *raw = tmp("ip.raw"), *qc = tmp("ip.qcow2");
    write_bytes(raw, disk, diskn);
    free(disk);
    struct disk *d = NULL;
    char *err = NULL;
    if (disk_open(raw, &d, &err) == 0) {
        struct disk_write_opts o = {0};
        ok(disk_convert(d, qc, DISK_QCOW2, &o, &err) == 0, "the disk as qcow2");
        disk_close(d);
    }
    free(err), err = NULL;
    const char *imgs[] = {raw, qc};
    for (size_t k = 0; k < ARRAY_SIZE(imgs); k++) {
        const char *fmt = k ? "qcow2" : "raw";
        if (disk_open(imgs[k], &d, &err) < 0) {
            ok(false, "%s: open: %s", fmt, err);
            free(err), err = NULL;
            continue;
        }
        struct ext4_ro *e = NULL;
        ok(ext4_ro_open(d, 1 << 20, fsn, 64 << 20, &e, &err) == 0, "%s: ext4 opened at 1 MiB: %s", fmt, err ? err : "");
        free(err), err = NULL;
        if (!e) {
            disk_close(d);
            continue;
        }
        static const char *const same[] = {"/usr/lib/os-release", "/etc/rel", "/etc/abs", "/etc/up", "/etc/slow",
                                           "/etc/chain", "/etcl/abs", "/dir/../usr/lib/os-release"};
        for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
            char *t = NULL;
            size_t n = 0;
            r = ext4_ro_read(e, same[i], 4096, &t, &n);
            ok(r == 0 && n == 6 && !strcmp(t, "ID=ip\n"), "%s: %s reads the os-release (%d)", fmt, same[i], r);
            free(t);
        }
        char *t = NULL;
        size_t n = 0;
        r = ext4_ro_read(e, "/etc/blank", big_n, &t, &n);
        ok(r == 0 && n == big_n && !memcmp(t, big, big_n), "%s: a link to a name with a blank, 300 KiB read whole", fmt);
        free(t), t = NULL;
        _cleanup_free_ char *copy = tmp("ip.copy");
        int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        uint64_t size = 0;
        r = ext4_ro_copy(e, "/dir/a b", fd, big_n, &size);
        close(fd);
        char *back = NULL;
        size_t bn = 0;
        read_file(copy, big_n + 1, &back, &bn);
        ok(r == 0 && size == big_n && bn == big_n && back && !memcmp(back, big, big_n), "%s: ext4_ro_copy writes the same bytes", fmt);
        free(back);
        ok(ext4_ro_read(e, "/dir/a b", big_n - 1, &t, NULL) == -EFBIG, "%s: one byte over max: -EFBIG", fmt);
        ok(strstr(ext4_ro_strerror(e), "/dir/a b holds 307200 bytes, more than the 307199 kiln reads") != NULL,
           "%s: and says so: %s", fmt, ext4_ro_strerror(e));
        ok(ext4_ro_read(e, "/sparse", 64 << 20, &t, NULL) == -EFBIG, "%s: a 1 TiB sparse file is refused unread", fmt);
        ok(ext4_ro_read(e, "/etc/loop1", 4096, &t, NULL) == -ELOOP, "%s: a link loop: -ELOOP", fmt);
        ok(ext4_ro_read(e, "/etc/dangling", 4096, &t, NULL) == -ENOENT, "%s: a dangling link: -ENOENT", fmt);
        ok(ext4_ro_read(e, "/no/such", 4096, &t, NULL) == -ENOENT, "%s: a missing file: -ENOENT", fmt);
        ok(ext4_ro_read(e, "/dir", 4096, &t, NULL) == -EINVAL, "%s: a directory: -EINVAL", fmt);
        ext4_ro_close(e);
        /* the budget is the image's: what the handle above read counts (a crafted image of many
         * partitions must not get a fresh budget for each: hostile finding) */
        ok(ext4_ro_open(d, 1 << 20, fsn, 16 << 10, &e, &err) == -EFBIG && err && strstr(err, "already"),
           "%s: a 16 KiB image budget is spent by the reads before: %s", fmt, err ? err : "");
        free(err), err = NULL;
        disk_close(d);
        if (disk_open(imgs[k], &d, &err) < 0) {
            ok(false, "%s: open again: %s", fmt, err);
            free(err), err = NULL;
            continue;
        }
        /* all reads are bounded: 16 KiB does not reach the 300 KiB file's end */
        ok(ext4_ro_open(d, 1 << 20, fsn, 16 << 10, &e, &err) == 0, "%s: opened with a 16 KiB read budget", fmt);
        free(err), err = NULL;
        if (e) {
            ok(ext4_ro_read(e, "/dir/a b", big_n, &t, NULL) == -EFBIG && strstr(ext4_ro_strerror(e), "past the 16384 bytes"),
               "%s: the budget stops the read: %s", fmt, ext4_ro_strerror(e));
            ext4_ro_close(e);
        }
        /* a partition shorter than the filesystem its superblock describes */
        ok(ext4_ro_open(d, 1 << 20, fsn / 2, 64 << 20, &e, &err) == -EUCLEAN && err && strstr(err, "8192 blocks of 1024 bytes"),
           "%s: a superblock larger than its partition is refused: %s", fmt, err ? err : "");
        free(err), err = NULL;
        ok(ext4_ro_open(d, 0, fsn, 64 << 20, &e, &err) == -EUCLEAN && err && !strcmp(err, "no ext4 superblock"),
           "%s: the wrong offset: no ext4 superblock", fmt);
        free(err), err = NULL;
        disk_close(d);
    }
    free(big);
}

/* A squashfs /usr read where it lies (image/squashfs.h): mksquashfs of a known tree, 1 MiB into
 * a raw disk and the same disk as qcow2, read through the disk reader at that offset, mounted at
 * /usr as the immutable layout's /usr is. */
static void test_squashfs_in_place(void)
{
    _cleanup_free_ char *lib = tmp("sq/lib"), *doc = tmp("sq/share/doc/b"), *deep = tmp("sq/d/e");
    mkdir_p(lib, 0755), mkdir_p(doc, 0755), mkdir_p(deep, 0755);
    _cleanup_free_ char *osr = tmp("sq/lib/os-release"), *cp = tmp("sq/share/doc/b/copyright");
    write_bytes(osr, "ID=sq\n", 6);
    write_bytes(cp, "License: MIT\n", 13);
    /* 300 KiB that do not compress (a linear congruential sequence): more than two 128 KiB
     * blocks and a fragment, stored larger than the 64 KiB budget below */
    size_t big_n = 300 << 10;
    char *big = xmalloc(big_n);
    uint32_t x = 1;
    for (size_t i = 0; i < big_n; i++) x = x * 1103515245u + 12345u, big[i] = (char)(x >> 16);
    _cleanup_free_ char *bigp = tmp("sq/d/e/a b");
    write_bytes(bigp, big, big_n);
    struct { const char *target, *name; } links[] = {
        {"b", "sq/share/doc/a"},                       /* a sibling, as Debian's /usr/share/doc links are */
        {"/usr/lib/os-release", "sq/abs"},             /* absolute: from the image's root */
        {"../../lib/os-release", "sq/d/e/up"},         /* relative, up */
        {"../../../../../lib/os-release", "sq/d/e/over"}, /* ".." stops at the root */
        {"/etc/os-release", "sq/out"},                 /* absolute, outside /usr: not here */
        {"/usr/loop2", "sq/loop1"}, {"loop1", "sq/loop2"},
        {"/usr/d/e/a b", "sq/blank"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        _cleanup_free_ char *l = tmp(links[i].name);
        if (symlink(links[i].target, l) < 0) abort();
    }
    _cleanup_free_ char *tree = tmp("sq"), *fsimg = tmp("sq.img");
    char *mk[] = {"mksquashfs", tree, fsimg, "-noappend", "-quiet", "-no-progress", NULL};
    int r = proc_run(mk, 60000, NULL);
    if (r == -ENOENT) {
        ok(true, "# SKIP mksquashfs not installed");
        free(big);
        return;
    }
    ok(r == 0, "mksquashfs");
    char *fsb = NULL;
    size_t fsn = 0;
    read_file(fsimg, 64 << 20, &fsb, &fsn);
    size_t diskn = (1 << 20) + fsn + (1 << 20);
    uint8_t *disk = xcalloc(1, diskn);
    memset(disk, 0xa5, 1 << 20);
    if (fsb) memcpy(disk + (1 << 20), fsb, fsn);
    free(fsb);
    _cleanup_free_ char *raw = tmp("sq.raw"), *qc = tmp("sq.qcow2");
    write_bytes(raw, disk, diskn);
    free(disk);
    struct disk *d = NULL;
    char *err = NULL;
    if (disk_open(raw, &d, &err) == 0) {
        struct disk_write_opts o = {0};
        ok(disk_convert(d, qc, DISK_QCOW2, &o, &err) == 0, "the squashfs disk as qcow2");
        disk_close(d);
    }
    free(err), err = NULL;
    const char *imgs[] = {raw, qc};
    for (size_t k = 0; k < ARRAY_SIZE(imgs); k++) {
        const char *fmt = k ? "qcow2" : "raw";
        if (disk_open(imgs[k], &d, &err) < 0) {
            ok(false, "%s: open: %s", fmt, err);
            free(err), err = NULL;
            continue;
        }
        struct squash_ro *s = NULL;
        ok(squash_ro_open(d, 1 << 20, fsn, "/usr", 64 << 20, &s, &err) == 0, "%s: squashfs opened at 1 MiB: %s", fmt,
           err ? err : "");
        free(err), err = NULL;
        if (!s) {
            disk_close(d);
            continue;
        }
        static const char *const same[] = {"/usr/lib/os-release", "/usr/abs", "/usr/d/e/up", "/usr/d/e/over", "/usr/./d/../lib/os-release"};
        for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
            char *t = NULL;
            size_t n = 0;
            r = squash_ro_read(s, same[i], 4096, &t, &n);
            ok(r == 0 && n == 6 && !strcmp(t, "ID=sq\n"), "%s: %s reads the os-release (%d: %s)", fmt, same[i], r,
               r ? squash_ro_strerror(s) : "");
            free(t);
        }
        char *t = NULL;
        size_t n = 0;
        r = squash_ro_read(s, "/usr/share/doc/a/copyright", 4096, &t, &n);
        ok(r == 0 && n == 13 && !strcmp(t, "License: MIT\n"), "%s: a doc directory linked to its sibling", fmt);
        free(t), t = NULL;
        r = squash_ro_read(s, "/usr/blank", big_n, &t, &n);
        ok(r == 0 && n == big_n && !memcmp(t, big, big_n), "%s: 300 KiB (blocks and a fragment) read whole", fmt);
        free(t), t = NULL;
        _cleanup_free_ char *copy = tmp("sq.copy");
        int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        uint64_t size = 0;
        r = squash_ro_copy(s, "/usr/d/e/a b", fd, big_n, &size);
        close(fd);
        char *back = NULL;
        size_t bn = 0;
        read_file(copy, big_n + 1, &back, &bn);
        ok(r == 0 && size == big_n && bn == big_n && back && !memcmp(back, big, big_n), "%s: squash_ro_copy writes the same bytes",
           fmt);
        free(back);
        ok(squash_ro_read(s, "/usr/d/e/a b", big_n - 1, &t, NULL) == -EFBIG &&
               strstr(squash_ro_strerror(s), "/usr/d/e/a b holds 307200 bytes, more than the 307199 kiln reads"),
           "%s: one byte over max: -EFBIG, said: %s", fmt, squash_ro_strerror(s));
        ok(squash_ro_read(s, "/usr/loop1", 4096, &t, NULL) == -ELOOP, "%s: a link loop: -ELOOP", fmt);
        ok(squash_ro_read(s, "/usr/out", 4096, &t, NULL) == -ENOENT, "%s: a link out of /usr: -ENOENT", fmt);
        ok(squash_ro_read(s, "/etc/os-release", 4096, &t, NULL) == -ENOENT, "%s: a path outside /usr: -ENOENT", fmt);
        ok(squash_ro_read(s, "/usr/no/such", 4096, &t, NULL) == -ENOENT, "%s: a missing file: -ENOENT", fmt);
        ok(squash_ro_read(s, "/usr/d", 4096, &t, NULL) == -EINVAL, "%s: a directory: -EINVAL", fmt);
        squash_ro_close(s);
        /* the image's budget, shared with ext4: what the handle above read counts */
        ok(squash_ro_open(d, 1 << 20, fsn, "/usr", 4 << 10, &s, &err) == -EFBIG && err && strstr(err, "already"),
           "%s: a 4 KiB image budget is spent by the reads before: %s", fmt, err ? err : "");
        free(err), err = NULL;
        disk_close(d);
        if (disk_open(imgs[k], &d, &err) < 0) {
            free(err), err = NULL;
            continue;
        }
        ok(squash_ro_open(d, 1 << 20, fsn, "/usr", 64 << 10, &s, &err) == 0, "%s: opened with a 64 KiB read budget", fmt);
        free(err), err = NULL;
        if (s) {
            ok(squash_ro_read(s, "/usr/d/e/a b", big_n, &t, NULL) == -EFBIG && strstr(squash_ro_strerror(s), "past the"),
               "%s: the budget stops the read: %s", fmt, squash_ro_strerror(s));
            free(t), t = NULL;
            squash_ro_close(s);
        }
        /* a partition shorter than the filesystem, and the wrong offset */
        ok(squash_ro_open(d, 1 << 20, fsn / 2, "/usr", 64 << 20, &s, &err) == -EUCLEAN && err,
           "%s: a superblock larger than its partition is refused: %s", fmt, err ? err : "");
        free(err), err = NULL;
        ok(squash_ro_open(d, 0, fsn, "/usr", 64 << 20, &s, &err) == -EUCLEAN && err && strstr(err, "not a readable squashfs"),
           "%s: the wrong offset: not squashfs: %s", fmt, err ? err : "");
        free(err), err = NULL;
        disk_close(d);
    }
    free(big);
}

/* An erofs /usr read where it lies (image/erofs.h): mkfs.erofs of a known tree as kiln build runs
 * it (no compression: compact inodes, tails inline) and with extended inodes and no inline data
 * (whole blocks only), 1 MiB into a raw disk and the same disk as qcow2, mounted at /usr. */
static void test_erofs_in_place(void)
{
    _cleanup_free_ char *lib = tmp("er/lib"), *doc = tmp("er/share/doc/b"), *deep = tmp("er/d/e"), *many = tmp("er/many");
    mkdir_p(lib, 0755), mkdir_p(doc, 0755), mkdir_p(deep, 0755), mkdir_p(many, 0755);
    _cleanup_free_ char *osr = tmp("er/lib/os-release"), *cp = tmp("er/share/doc/b/copyright");
    write_bytes(osr, "ID=er\n", 6);
    write_bytes(cp, "License: MIT\n", 13);
    /* a directory of several blocks: 400 entries of 60-byte names, each file holding its number */
    for (int i = 0; i < 400; i++) {
        char name[128], body[16];
        snprintf(name, sizeof name, "er/many/%04d-%s", i, "a-name-long-enough-to-fill-directory-blocks-quickly-xx");
        _cleanup_free_ char *p = tmp(name);
        write_bytes(p, body, (size_t)snprintf(body, sizeof body, "%d", i));
    }
    /* 300 KiB and 5 bytes: whole blocks and a tail */
    size_t big_n = (300 << 10) + 5;
    char *big = xmalloc(big_n);
    uint32_t x = 1;
    for (size_t i = 0; i < big_n; i++) x = x * 1103515245u + 12345u, big[i] = (char)(x >> 16);
    _cleanup_free_ char *bigp = tmp("er/d/e/a b"), *rep = tmp("er/d/e/repeated");
    write_bytes(bigp, big, big_n);
    char same_bytes[32 << 10];
    memset(same_bytes, 'k', sizeof same_bytes);
    write_bytes(rep, same_bytes, sizeof same_bytes); /* what lz4 compresses, unlike big */
    struct { const char *target, *name; } links[] = {
        {"b", "er/share/doc/a"},                          /* a sibling, as Debian's /usr/share/doc links are */
        {"/usr/lib/os-release", "er/abs"},                /* absolute: from the image's root */
        {"../../lib/os-release", "er/d/e/up"},            /* relative, up */
        {"../../../../../lib/os-release", "er/d/e/over"}, /* ".." stops at the root */
        {"/etc/os-release", "er/out"},                    /* absolute, outside /usr: not here */
        {"/usr/loop2", "er/loop1"}, {"loop1", "er/loop2"},
        {"/usr/d/e/a b", "er/blank"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        _cleanup_free_ char *l = tmp(links[i].name);
        if (symlink(links[i].target, l) < 0) abort();
    }
    _cleanup_free_ char *tree = tmp("er");
    static const char *const variants[] = {"-T1700000000", "-Eforce-inode-extended,noinline_data"};
    for (size_t v = 0; v < ARRAY_SIZE(variants); v++) {
        _cleanup_free_ char *fsimg = tmp("er.img");
        char *mk[] = {"mkfs.erofs", "--quiet", (char *)variants[v], fsimg, tree, NULL};
        int r = proc_run(mk, 60000, NULL);
        if (r == -ENOENT) {
            ok(true, "# SKIP mkfs.erofs not installed");
            break;
        }
        ok(r == 0, "mkfs.erofs %s", variants[v]);
        char *fsb = NULL;
        size_t fsn = 0;
        read_file(fsimg, 64 << 20, &fsb, &fsn);
        size_t diskn = (1 << 20) + fsn + (1 << 20);
        uint8_t *disk = xcalloc(1, diskn);
        memset(disk, 0xa5, 1 << 20);
        if (fsb) memcpy(disk + (1 << 20), fsb, fsn);
        free(fsb);
        _cleanup_free_ char *raw = tmp("er.raw"), *qc = tmp("er.qcow2");
        write_bytes(raw, disk, diskn);
        free(disk);
        struct disk *d = NULL;
        char *err = NULL;
        unlink(qc);
        if (disk_open(raw, &d, &err) == 0) {
            struct disk_write_opts o = {0};
            ok(disk_convert(d, qc, DISK_QCOW2, &o, &err) == 0, "the erofs disk as qcow2");
            disk_close(d);
        }
        free(err), err = NULL;
        const char *imgs[] = {raw, qc};
        for (size_t k = 0; k < ARRAY_SIZE(imgs); k++) {
            _cleanup_free_ char *fmt = xasprintf("%s %s", k ? "qcow2" : "raw", variants[v]);
            if (disk_open(imgs[k], &d, &err) < 0) {
                ok(false, "%s: open: %s", fmt, err);
                free(err), err = NULL;
                continue;
            }
            struct erofs_ro *e = NULL;
            ok(erofs_ro_open(d, 1 << 20, fsn, "/usr", 64 << 20, &e, &err) == 0, "%s: erofs opened at 1 MiB: %s", fmt, err ? err : "");
            free(err), err = NULL;
            if (!e) {
                disk_close(d);
                continue;
            }
            static const char *const same[] = {"/usr/lib/os-release", "/usr/abs", "/usr/d/e/up", "/usr/d/e/over",
                                               "/usr/./d/../lib/os-release", "/usr//lib/os-release"};
            for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
                char *t = NULL;
                size_t n = 0;
                r = erofs_ro_read(e, same[i], 4096, &t, &n);
                ok(r == 0 && n == 6 && !strcmp(t, "ID=er\n"), "%s: %s reads the os-release (%d: %s)", fmt, same[i], r,
                   r ? erofs_ro_strerror(e) : "");
                free(t);
            }
            char *t = NULL;
            size_t n = 0;
            r = erofs_ro_read(e, "/usr/share/doc/a/copyright", 4096, &t, &n);
            ok(r == 0 && n == 13 && !strcmp(t, "License: MIT\n"), "%s: a doc directory linked to its sibling", fmt);
            free(t), t = NULL;
            int right = 0;
            for (int i = 0; i < 400; i++) {
                char name[128], want[16];
                snprintf(name, sizeof name, "/usr/many/%04d-%s", i, "a-name-long-enough-to-fill-directory-blocks-quickly-xx");
                snprintf(want, sizeof want, "%d", i);
                if (erofs_ro_read(e, name, 64, &t, &n) == 0 && !strcmp(t, want)) right++;
                free(t), t = NULL;
            }
            ok(right == 400, "%s: each of 400 files in a directory of several blocks holds its number (%d do)", fmt, right);
            r = erofs_ro_read(e, "/usr/blank", big_n, &t, &n);
            ok(r == 0 && n == big_n && !memcmp(t, big, big_n), "%s: 300 KiB + 5 bytes (blocks and a tail) read whole (%d: %s)", fmt, r,
               r ? erofs_ro_strerror(e) : "");
            free(t), t = NULL;
            _cleanup_free_ char *copy = tmp("er.copy");
            int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            uint64_t size = 0;
            r = erofs_ro_copy(e, "/usr/d/e/a b", fd, big_n, &size);
            close(fd);
            char *back = NULL;
            size_t bn = 0;
            read_file(copy, big_n + 1, &back, &bn);
            ok(r == 0 && size == big_n && bn == big_n && back && !memcmp(back, big, big_n), "%s: erofs_ro_copy writes the same bytes", fmt);
            free(back);
            r = erofs_ro_read(e, "/usr/d/e/a b", big_n - 1, &t, NULL);
            ok(r == -EFBIG &&
                   strstr(erofs_ro_strerror(e), "/usr/d/e/a b holds 307205 bytes, more than the 307204 kiln reads"),
               "%s: one byte over max: -EFBIG, said: %s", fmt, erofs_ro_strerror(e));
            ok(erofs_ro_read(e, "/usr/loop1", 4096, &t, NULL) == -ELOOP, "%s: a link loop: -ELOOP", fmt);
            r = erofs_ro_read(e, "/usr/out", 4096, &t, NULL);
            ok(r == -ENOENT && strstr(erofs_ro_strerror(e), "outside"),
               "%s: a link out of /usr: -ENOENT: %s", fmt, erofs_ro_strerror(e));
            ok(erofs_ro_read(e, "/etc/os-release", 4096, &t, NULL) == -ENOENT, "%s: a path outside /usr: -ENOENT", fmt);
            ok(erofs_ro_read(e, "/usr/no/such", 4096, &t, NULL) == -ENOENT, "%s: a missing file: -ENOENT", fmt);
            ok(erofs_ro_read(e, "/usr/lib/os-release/x", 4096, &t, NULL) == -ENOENT, "%s: a file as a directory: -ENOENT", fmt);
            ok(erofs_ro_read(e, "/usr/d", 4096, &t, NULL) == -EINVAL, "%s: a directory: -EINVAL", fmt);
            erofs_ro_close(e);
            /* the image's budget, shared with ext4 and squashfs: what the handle above read counts */
            ok(erofs_ro_open(d, 1 << 20, fsn, "/usr", 4 << 10, &e, &err) == -EFBIG && err && strstr(err, "already"),
               "%s: a 4 KiB image budget is spent by the reads before: %s", fmt, err ? err : "");
            free(err), err = NULL;
            disk_close(d);
            if (disk_open(imgs[k], &d, &err) < 0) {
                free(err), err = NULL;
                continue;
            }
            ok(erofs_ro_open(d, 1 << 20, fsn, "/usr", 64 << 10, &e, &err) == 0, "%s: opened with a 64 KiB read budget", fmt);
            free(err), err = NULL;
            if (e) {
                r = erofs_ro_read(e, "/usr/d/e/a b", big_n, &t, NULL);
                ok(r == -EFBIG && strstr(erofs_ro_strerror(e), "past the"),
                   "%s: the budget stops the read: %s", fmt, erofs_ro_strerror(e));
                free(t), t = NULL;
                erofs_ro_close(e);
            }
            /* a partition cut in half: each file reads whole as it is, or is named damaged (its blocks,
             * its inode or its directory's lie past the cut); never other bytes */
            r = erofs_ro_open(d, 1 << 20, fsn / 2, "/usr", 64 << 20, &e, &err);
            if (r == 0) {
                int same_n = 0, damaged = 0;
                for (int i = 0; i <= 400; i++) {
                    char name[128], want[16];
                    snprintf(name, sizeof name, "/usr/many/%04d-%s", i, "a-name-long-enough-to-fill-directory-blocks-quickly-xx");
                    snprintf(want, sizeof want, "%d", i);
                    r = erofs_ro_read(e, i < 400 ? name : "/usr/d/e/a b", big_n, &t, &n);
                    if (r == 0 && (i < 400 ? !strcmp(t, want) : n == big_n && !memcmp(t, big, big_n))) same_n++;
                    else if (r == -EUCLEAN && strstr(erofs_ro_strerror(e), "damaged erofs")) damaged++;
                    free(t), t = NULL;
                }
                ok(same_n + damaged == 401 && damaged > 0, "%s: a truncated filesystem: %d files read right, %d named damaged", fmt,
                   same_n, damaged);
                erofs_ro_close(e);
            } else {
                ok(r == -EUCLEAN && err, "%s: a truncated filesystem is refused: %s", fmt, err ? err : "");
            }
            free(err), err = NULL;
            ok(erofs_ro_open(d, 0, fsn, "/usr", 64 << 20, &e, &err) == -EUCLEAN && err && strstr(err, "not a readable erofs"),
               "%s: the wrong offset: not erofs: %s", fmt, err ? err : "");
            free(err), err = NULL;
            disk_close(d);
        }
    }
    /* compressed (mkfs.erofs -zlz4, which kiln build does not pass): said, not misread */
    _cleanup_free_ char *zimg = tmp("erz.img");
    char *mkz[] = {"mkfs.erofs", "--quiet", "-zlz4", zimg, tree, NULL};
    if (proc_run(mkz, 60000, NULL) == 0) {
        struct disk *d = NULL;
        char *err = NULL;
        struct stat st;
        stat(zimg, &st);
        if (disk_open(zimg, &d, &err) == 0) {
            struct erofs_ro *e = NULL;
            if (erofs_ro_open(d, 0, (uint64_t)st.st_size, "/usr", 64 << 20, &e, &err) == 0) {
                char *t = NULL;
                int r = erofs_ro_read(e, "/usr/d/e/repeated", 64 << 10, &t, NULL);
                ok(r == -EOPNOTSUPP && strstr(erofs_ro_strerror(e), "stored compressed"),
                   "lz4: a compressed file is refused, saying so (%d): %s", r, erofs_ro_strerror(e));
                free(t);
                erofs_ro_close(e);
            } else {
                ok(false, "lz4: opened: %s", err);
            }
            disk_close(d);
        }
        free(err);
    }
    free(big);
}

/* A fresh P-256 key in dir/NAME.key and, when cert_name, a self-signed certificate for it in
 * dir/CERT_NAME; with pass the key is written encrypted (AES-256-CBC). */
static void write_pair(const char *name, const char *cert_name, const char *pass)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    _cleanup_free_ char *kp = tmp(name);
    FILE *f = fopen(kp, "we");
    if (!k || !f) abort();
    PEM_write_PrivateKey(f, k, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL, (void *)pass);
    fclose(f);
    if (cert_name) {
        X509 *x = X509_new();
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"kiln test db", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(x));
        X509_set_pubkey(x, k);
        X509_sign(x, k, EVP_sha256());
        _cleanup_free_ char *cp = tmp(cert_name);
        f = fopen(cp, "we");
        if (!f) abort();
        PEM_write_X509(f, x);
        fclose(f);
        X509_free(x);
    }
    EVP_PKEY_free(k);
}

/* boot.secure_boot: the signing pair is checked before any stage runs, with file:line:col */
static void test_spec_secure_boot(void)
{
    write_pair("db.key", "db.pem", NULL);
    write_pair("other.key", NULL, NULL);
    write_pair("locked.key", "locked.pem", "pw");
    _cleanup_free_ char *junk = tmp("junk.pem");
    write_bytes(junk, "not a certificate\n", 18);
    /* hostile paths: a FIFO (must not hang), a directory, a file larger than any PEM pair */
    _cleanup_free_ char *fifo = tmp("fifo.pem"), *sub = tmp("dir.pem"), *big = tmp("big.pem");
    unlink(fifo);
    ok(mkfifo(fifo, 0600) == 0, "a FIFO as a certificate");
    mkdir(sub, 0700);
    size_t bigsz = (2u << 20);
    char *bigdata = xmalloc(bigsz);
    memset(bigdata, 'A', bigsz);
    write_bytes(big, bigdata, bigsz);
    free(bigdata);
    _cleanup_free_ char *p = tmp("spec.yml");
    const char *good = SPEC_HEAD "boot: { secure_boot: { key: db.key, cert: db.pem } }\n";
    write_bytes(p, good, strlen(good));
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0 && s && s->sb_key && endswith(s->sb_key, "/db.key") && endswith(s->sb_cert, "/db.pem"),
       "a key and its certificate load, as real paths");
    spec_free(s);
    diags_free(&d);
    s = NULL;
    /* a key readable by others: a warning, the build goes on; 0600: nothing */
    _cleanup_free_ char *kp = tmp("db.key");
    chmod(kp, 0644);
    int loaded = spec_load(p, NULL, &s, &d);
    ok(loaded == 0 && s && s->warnings.n == 1 &&
           strstr(s->warnings.v[0].msg, "db.key is readable by others (mode 0644): chmod 600 it"),
       "a key of mode 0644 loads with a warning: %s", s && s->warnings.n ? s->warnings.v[0].msg : "(none)");
    spec_free(s);
    diags_free(&d);
    s = NULL;
    chmod(kp, 0600);
    ok(spec_load(p, NULL, &s, &d) == 0 && s && s->warnings.n == 0, "a key of mode 0600: no warning");
    spec_free(s);
    diags_free(&d);
    s = NULL;
    const char *plain = SPEC_HEAD "boot: uefi\n";
    write_bytes(p, plain, strlen(plain));
    ok(spec_load(p, NULL, &s, &d) == 0 && s && !s->sb_key && !s->sb_cert, "boot: uefi signs nothing");
    spec_free(s);
    diags_free(&d);
    static const struct { const char *boot, *want, *what; } bad[] = {
        {"{ secure_boot: { key: db.key } }", "spec.yml:4:22: boot.secure_boot: needs \"cert\"", "no certificate"},
        {"{ secure_boot: { key: other.key, cert: db.pem } }", "spec.yml:4:22: boot.secure_boot: the key ", "a key of another pair"},
        {"{ secure_boot: { key: locked.key, cert: locked.pem } }", "is an encrypted private key: kiln build runs unattended",
         "an encrypted key (sbsign would prompt)"},
        {"{ secure_boot: { key: db.key, cert: junk.pem } }", "junk.pem is not a PEM X.509 certificate", "a certificate that is not one"},
        {"{ secure_boot: { key: db.pem, cert: db.pem } }", "db.pem is not a PEM private key", "the certificate as the key"},
        {"{ secure_boot: { key: /etc/hostname, cert: db.pem } }", "spec.yml:4:29: boot.secure_boot.key: \"/etc/hostname\" resolves to /etc/hostname, outside",
         "a key outside the spec's sources"},
        {"{ secure_boot: { key: db.key, cert: db.pem, pass: x } }", "boot.secure_boot", "an unknown key"},
        {"bios", "spec.yml:4:7: boot", "boot: bios"},
        {"{ secure_boot: { key: nokey.key, cert: db.pem } }",
         "nokey.key: No such file or directory; make a signing pair with openssl as docs/image.md", "a missing key says how to make one"},
        {"{ secure_boot: { key: db.key, cert: none.pem } }", "none.pem: No such file or directory; make a signing pair",
         "a missing certificate too"},
        {"{ secure_boot: true }", "spec.yml:4:22: boot.secure_boot: expected distro (the distribution's signed shim, GRUB "
                                  "and kernel) or { key: KEY, cert: CERT } (kiln signs systemd-boot and the kernel with "
                                  "your pair), got \"true\"", "secure_boot: true names both forms"},
        {"{ secureboot: {} }", "spec.yml:4:9: boot", "a misspelt secure_boot"},
        {"{ secure_boot: { key: db.key, cert: fifo.pem } }", "fifo.pem is not a regular file", "a FIFO certificate"},
        {"{ secure_boot: { key: fifo.pem, cert: db.pem } }", "fifo.pem is not a regular file", "a FIFO key"},
        {"{ secure_boot: { key: db.key, cert: dir.pem } }", "dir.pem is not a regular file", "a directory certificate"},
        {"{ secure_boot: { key: db.key, cert: big.pem } }", "spec.yml:4:22: boot.secure_boot: ", "a 2 MiB certificate"},
        {"{ secure_boot: { key: db.key, cert: big.pem } }", "big.pem is larger than 1 MiB: no PEM certificate or key is",
         "a 2 MiB certificate is not read whole"},
        {"{ secure_boot: { key: big.pem, cert: db.pem } }", "big.pem is larger than 1 MiB", "a 2 MiB key"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *text = xasprintf(SPEC_HEAD "boot: %s\n", bad[i].boot);
        _cleanup_free_ char *e = spec_errors(text);
        has(e, bad[i].want, bad[i].what);
    }
    /* the private key cannot be put into the image through os.files either */
    char *e = spec_errors(SPEC_HEAD "os: { files: [ { src: db.key, dst: /etc/db.key } ] }\n"
                                                   "boot: { secure_boot: { key: db.key, cert: db.pem } }\n");
    has(e, "spec.yml:4:16: os.files[0]: is the Secure Boot signing key", "the key as an os.files source");
    free(e);
    /* nor under another name: a hard link to it, or a copy of its bytes */
    _cleanup_free_ char *kl = tmp("db-link.key"), *kc = tmp("db-copy.key");
    unlink(kl);
    ok(link(kp, kl) == 0, "a hard link to the key");
    char *kbytes = NULL;
    size_t klen = 0;
    ok(read_file(kp, 1 << 20, &kbytes, &klen) == 0, "the key's bytes");
    write_bytes(kc, kbytes ? kbytes : "", klen);
    free(kbytes);
    e = spec_errors(SPEC_HEAD "os: { files: [ { src: db-link.key, dst: /etc/ssl/a } ] }\n"
                              "boot: { secure_boot: { key: db.key, cert: db.pem } }\n");
    has(e, "spec.yml:4:16: os.files[0]: is the Secure Boot signing key", "a hard link to the key as an os.files source");
    free(e);
    e = spec_errors(SPEC_HEAD "os: { files: [ { src: db-copy.key, dst: /etc/ssl/a } ] }\n"
                              "boot: { secure_boot: { key: db.key, cert: db.pem } }\n");
    has(e, "spec.yml:4:16: os.files[0]: is the Secure Boot signing key", "a copy of the key as an os.files source");
    free(e);
    e = spec_errors(SPEC_HEAD "os: { files: [ { src: other.key, dst: /etc/ssl/a } ] }\n"
                              "boot: { secure_boot: { key: db.key, cert: db.pem } }\n");
    ok(e == NULL, "another key may go into the image: %s", e ? e : "");
    free(e);
    e = spec_errors(SPEC_HEAD "os: { files: [ { src: db.pem, dst: /etc/db.pem } ] }\n"
                              "boot: { secure_boot: { key: db.key, cert: db.pem } }\n");
    ok(e == NULL, "the certificate may go into the image (it is public)");
    free(e);
}

/* boot.initrd_modules: vm (default) or most, with file:line:col for anything else */
static void test_spec_initrd_modules(void)
{
    _cleanup_free_ char *p = tmp("spec.yml");
    static const struct { const char *boot; enum image_initrd_modules want; const char *what; } good[] = {
        {"", INITRD_MODULES_VM, "no boot: the VM drivers"},
        {"boot: uefi\n", INITRD_MODULES_VM, "boot: uefi: the VM drivers"},
        {"boot: { initrd_modules: most }\n", INITRD_MODULES_MOST, "most"},
        {"boot: { initrd_modules: vm }\n", INITRD_MODULES_VM, "vm"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        _cleanup_free_ char *text = xasprintf(SPEC_HEAD "%s", good[i].boot);
        write_bytes(p, text, strlen(text));
        struct diags d = {0};
        struct image_spec *s = NULL;
        ok(spec_load(p, NULL, &s, &d) == 0 && s && s->initrd_modules == good[i].want, "initrd_modules: %s", good[i].what);
        spec_free(s);
        diags_free(&d);
    }
    char *e = spec_errors(SPEC_HEAD "boot: { initrd_modules: all }\n");
    has(e, "spec.yml:4:25: boot.initrd_modules: expected one of vm | most, got \"all\"", "an unknown value, where it is");
    free(e);
    e = spec_errors(SPEC_HEAD "boot: { initrd_modules: [vm] }\n");
    has(e, "spec.yml:4:25: boot.initrd_modules", "a list");
    free(e);
}

/* boot.secure_boot: distro: Debian's signed shim and GRUB from the image's packages; the spec
 * check asks for the packages and refuses what GRUB cannot carry (file:line:col). */
static void test_spec_secure_boot_distro(void)
{
#define DISTRO_HEAD "name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"
    _cleanup_free_ char *p = tmp("spec.yml");
    const char *good = DISTRO_HEAD "packages: { install: [linux-image-amd64, shim-signed, grub-efi-amd64-signed=2.06] }\n"
                                   "os: { kernel_cmdline: \"console=ttyS0 quiet\" }\nboot: { secure_boot: distro }\n";
    write_bytes(p, good, strlen(good));
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0 && s && s->sb_distro && !s->sb_key && !s->sb_cert,
       "secure_boot: distro loads, with nothing for kiln to sign");
    spec_free(s), s = NULL;
    diags_free(&d);
    const char *keys = DISTRO_HEAD "boot: { secure_boot: { key: db.key, cert: db.pem } }\n";
    write_bytes(p, keys, strlen(keys));
    ok(spec_load(p, NULL, &s, &d) == 0 && s && !s->sb_distro && s->sb_key, "secure_boot: { key, cert } is not distro");
    spec_free(s), s = NULL;
    diags_free(&d);
    const char *arm = DISTRO_HEAD "arch: aarch64\npackages: { install: [shim-signed, grub-efi-amd64-signed] }\n"
                                  "boot: { secure_boot: distro }\n";
    char *e = spec_errors(arm);
    has(e, "spec.yml:6:22: boot.secure_boot: distro needs grub-efi-arm64-signed in packages.install",
        "aarch64 asks for the arm64 GRUB package");
    static const struct { const char *rest, *want, *what; } bad[] = {
        {"boot: { secure_boot: distro }\n",
         "spec.yml:4:22: boot.secure_boot: distro needs shim-signed in packages.install (the ESP gets its signed shim and MokManager)",
         "no shim-signed"},
        {"packages: { install: [shim-signed] }\nboot: { secure_boot: distro }\n",
         "spec.yml:5:22: boot.secure_boot: distro needs grub-efi-amd64-signed in packages.install (the ESP gets its signed GRUB)",
         "no signed GRUB"},
        {"packages: { install: [shim-signed-common, grub-efi-amd64-signed] }\nboot: { secure_boot: distro }\n",
         "distro needs shim-signed in packages.install", "a package whose name starts with shim-signed is not it"},
        {"packages: { install: [shim-signed, grub-efi-amd64-signed] }\nos: { kernel_cmdline: \"a='b c'\" }\nboot: { secure_boot: distro }\n",
         "spec.yml:5:23: os.kernel_cmdline: contains a quote or backslash, which GRUB", "a single quote in the command line"},
        {"packages: { install: [shim-signed, grub-efi-amd64-signed] }\nos: { kernel_cmdline: 'a=\"b\"' }\nboot: { secure_boot: distro }\n",
         "os.kernel_cmdline: contains a quote or backslash", "a double quote in the command line"},
        {"packages: { install: [shim-signed, grub-efi-amd64-signed] }\nos: { kernel_cmdline: 'a=b\\c' }\nboot: { secure_boot: distro }\n",
         "os.kernel_cmdline: contains a quote or backslash", "a backslash in the command line"},
        {"boot: { secure_boot: microsoft }\n", "spec.yml:4:22: boot.secure_boot: ", "another word than distro"},
        {"boot: { secure_boot: [distro] }\n", "spec.yml:4:22: boot.secure_boot: expected distro or { key: KEY, cert: CERT }",
         "a list"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *text = xasprintf(DISTRO_HEAD "%s", bad[i].rest);
        _cleanup_free_ char *m = spec_errors(text);
        has(m, bad[i].want, bad[i].what);
    }
    free(e);
    _cleanup_free_ char *key = tmp("key.asc"), *repo = tmp("repo");
    write_bytes(key, "k", 1);
    mkdir(repo, 0755);
    e = spec_errors("name: t\nversion: 1\nbase: { family: rpm, repos: [ { name: r, baseurl: repo, gpgkey: key.asc } ] }\n"
                    "boot: { secure_boot: distro }\n");
    has(e, "spec.yml:4:22: boot.secure_boot: distro is Debian's signed shim and GRUB: base.family must be deb", "an rpm family");
    free(e);
#undef DISTRO_HEAD
}

/* packages.package_manager: the key, and what removal takes from a tree and what it leaves. */
static void test_package_manager(void)
{
    _cleanup_free_ char *p = tmp("spec.yml");
    const char *text = SPEC_HEAD "packages: { install: [apt], package_manager: remove }\n";
    write_bytes(p, text, strlen(text));
    struct diags d = {0};
    struct image_spec *s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0 && s && s->remove_package_manager, "package_manager: remove");
    spec_free(s);
    diags_free(&d);
    text = SPEC_HEAD "packages: { install: [apt] }\n";
    write_bytes(p, text, strlen(text));
    s = NULL;
    ok(spec_load(p, NULL, &s, &d) == 0 && s && !s->remove_package_manager, "kept by default");
    spec_free(s);
    diags_free(&d);
    char *e = spec_errors(SPEC_HEAD "packages: { package_manager: remvoe }\n");
    has(e, "spec.yml:4:30: packages.package_manager: expected one of keep | remove, got \"remvoe\"; did you mean \"remove\"?",
        "a misspelt value: file:line:col and did you mean");
    free(e);
    e = spec_errors(SPEC_HEAD "packages: { package_manger: remove }\n");
    has(e, "did you mean \"package_manager\"", "a misspelt key");
    free(e);

    /* a Debian tree, merged /usr, as mmdebstrap leaves it: file lists name /usr/bin and /bin paths */
    _cleanup_free_ char *root = tmp("pmroot");
    _cleanup_free_ char *mk = xasprintf("mkdir -p %s/usr/bin %s/usr/sbin %s/usr/lib/apt %s/var/lib/dpkg/info && "
                                        "ln -s usr/bin %s/bin && ln -s usr/sbin %s/sbin", root, root, root, root, root, root);
    ok(system(mk) == 0, "fake tree");
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *files[] = {"usr/bin/apt", "usr/bin/apt-get", "usr/bin/dpkg", "usr/bin/dpkg-query", "usr/sbin/dpkg-preconfigure",
                           "usr/bin/update-alternatives", "usr/sbin/start-stop-daemon", "usr/bin/ctr", "usr/lib/apt/apt-helper", "var/lib/dpkg/status"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) inroot_write(fd, files[i], "x", 1, 0755, (uid_t)-1, 0);
    inroot_write(fd, "var/lib/dpkg/info/apt.list",
                 "/.\n/usr\n/usr/bin\n/usr/bin/apt\n/usr/bin/apt-get\n/usr/lib/apt/apt-helper\n/usr/bin/apt-cdrom\n", 85, 0644,
                 (uid_t)-1, 0);
    const char *dl = "/.\n/usr/sbin/start-stop-daemon\n/usr/bin/dpkg\n/bin/dpkg-query\n/usr/bin/update-alternatives\n/usr/share/doc/dpkg\n";
    inroot_write(fd, "var/lib/dpkg/info/dpkg:amd64.list", dl, strlen(dl), 0644, (uid_t)-1, 0);
    /* debconf is not a package manager: its command stays even though it lives in sbin */
    inroot_write(fd, "var/lib/dpkg/info/debconf.list", "/usr/sbin/dpkg-preconfigure\n", 28, 0644, (uid_t)-1, 0);
    char **rm = NULL;
    size_t n = 0;
    _cleanup_free_ char *why = NULL;
    ok(pkgmgr_remove(fd, pkgmgr_front_ends_deb, &rm, &n, &why) == 0, "deb removal: %s", why ? why : "");
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++) sbuf_printf(&b, "%s%s", i ? " " : "", rm[i]), free(rm[i]);
    free(rm);
    /* the listed PATH commands that exist, once each, sorted: /bin/dpkg-query is /usr/bin's
     * through the symlink; apt-cdrom is listed but absent; /usr/lib/apt is not in PATH */
    is_str(b.s, "/bin/dpkg-query /usr/bin/apt /usr/bin/apt-get /usr/bin/dpkg /usr/bin/update-alternatives",
           "deb: removed what the file lists put in PATH");
    sbuf_free(&b);
    ok(!inroot_exists(fd, "usr/bin/dpkg-query") && inroot_exists(fd, "usr/bin/ctr") && inroot_exists(fd, "usr/lib/apt/apt-helper") &&
       inroot_exists(fd, "usr/sbin/dpkg-preconfigure") && inroot_exists(fd, "usr/sbin/start-stop-daemon") &&
       inroot_exists(fd, "var/lib/dpkg/status") &&
       inroot_exists(fd, "var/lib/dpkg/info/apt.list"),
       "deb: the database, libraries, start-stop-daemon and other packages' commands stay");
    char *marker = NULL;
    size_t len;
    ok(inroot_read(fd, PKGMGR_REMOVED_MARKER, 4096, &marker, &len) == 0 && strstr(marker, "\n/usr/bin/apt-get\n") &&
       strstr(marker, "package_manager: remove"), "deb: the marker lists the removed paths");
    free(marker);
    close(fd);

    /* rpm: the fixed command names, in any PATH directory; no file lists there */
    _cleanup_free_ char *rroot = tmp("pmrpm");
    _cleanup_free_ char *mk2 = xasprintf("mkdir -p %s/usr/bin %s/usr/sbin %s/var/lib/rpm", rroot, rroot, rroot);
    ok(system(mk2) == 0, "fake rpm tree");
    fd = open(rroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *rf[] = {"usr/bin/rpm", "usr/bin/dnf-3", "usr/bin/tdnf", "usr/sbin/rpmdb", "usr/bin/bash", "var/lib/rpm/rpmdb.sqlite"};
    for (size_t i = 0; i < ARRAY_SIZE(rf); i++) inroot_write(fd, rf[i], "x", 1, 0755, (uid_t)-1, 0);
    _cleanup_free_ char *lnk = xasprintf("%s/usr/bin/dnf", rroot);
    ok(symlink("dnf-3", lnk) == 0, "dnf -> dnf-3");
    rm = NULL, n = 0;
    ok(pkgmgr_remove(fd, pkgmgr_front_ends_rpm, &rm, &n, &why) == 0, "rpm removal: %s", why);
    b = (struct sbuf){0};
    for (size_t i = 0; i < n; i++) sbuf_printf(&b, "%s%s", i ? " " : "", rm[i]), free(rm[i]);
    free(rm);
    is_str(b.s, "/usr/bin/dnf /usr/bin/dnf-3 /usr/bin/rpm /usr/bin/tdnf /usr/sbin/rpmdb", "rpm: the front ends, symlinks too");
    sbuf_free(&b);
    ok(inroot_exists(fd, "usr/bin/bash") && inroot_exists(fd, "var/lib/rpm/rpmdb.sqlite"), "rpm: the database stays");
    close(fd);

    /* a deb tree without dpkg's file lists is refused rather than left with its package manager */
    _cleanup_free_ char *eroot = tmp("pmempty");
    mkdir(eroot, 0755);
    fd = open(eroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ok(pkgmgr_remove(fd, pkgmgr_front_ends_deb, &rm, &n, &why) == -ENOENT && strstr(why, "no dpkg file lists"), "no dpkg lists: %s", why);
    close(fd);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_chs();
    test_guid();
    test_gpt();
    test_gpt_hostile();
    test_formats();
    test_hostile();
    test_qcow2_hostile();
    test_qcow2_compressed();
    test_vhd_hostile();
    test_foreign();
    test_os_release();
    test_spec();
    test_spec_fields();
    test_spec_secure_boot();
    test_spec_secure_boot_distro();
    test_spec_initrd_modules();
    test_package_manager();
    test_spec_arch();
    test_ext4();
    test_ext4_in_place();
    test_squashfs_in_place();
    test_erofs_in_place();
    rm_rf(dir);
    return tap_done();
}
