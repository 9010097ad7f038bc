/* The rootfs archive (image/rootfs_tar.h): what the writer stores and leaves out, that it is
 * reproducible, and that the reader stays within its limits and never follows a link; the
 * spec's wsl key. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>
#include <zstd.h>

#include "image/inspect.h"
#include "image/rootfs_tar.h"
#include "image/spec.h"
#include "tap.h"
#include "util/fs.h"
#include "util/util.h"

#define EPOCH 1750000000

static char dir[] = "/var/tmp/kiln-test-rootfs-tar-XXXXXX";

static char *tmp(const char *name) { return path_join(dir, name); }

static void put(const char *root, const char *rel, const char *text, long mtime)
{
    _cleanup_free_ char *p = path_join(root, rel);
    _cleanup_free_ char *d = path_dirname(p);
    mkdir_p(d, 0755);
    write_file_atomic(p, text, strlen(text), 0644);
    struct utimbuf t = {.actime = mtime, .modtime = mtime};
    utime(p, &t);
}

static char *slurp(const char *path, size_t *len)
{
    char *b = NULL;
    if (read_file(path, 64 << 20, &b, len) < 0) return NULL;
    return b;
}

/* One member as the test reads it back. */
struct member {
    char path[256], link[256], hardlink[256], acl[256], xattr[64];
    int type;
    long uid, gid, mtime;
    bool uname, atime, ctime;
    char data[64];
};

static size_t read_members(const char *path, struct member *m, size_t max)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    size_t n = 0;
    struct archive_entry *e;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) return 0;
    int h;
    /* WARN: a name not convertible to the C locale's charset; the entry is there */
    while (n < max && ((h = archive_read_next_header(a, &e)) == ARCHIVE_OK || h == ARCHIVE_WARN)) {
        struct member *x = &m[n++];
        memset(x, 0, sizeof *x);
        const char *pn = archive_entry_pathname_utf8(e);
        snprintf(x->path, sizeof x->path, "%s", pn ? pn : archive_entry_pathname(e) ? archive_entry_pathname(e) : "(null)");
        if (archive_entry_symlink(e)) snprintf(x->link, sizeof x->link, "%s", archive_entry_symlink(e));
        if (archive_entry_hardlink(e)) snprintf(x->hardlink, sizeof x->hardlink, "%s", archive_entry_hardlink(e));
        x->type = (int)archive_entry_filetype(e);
        x->uid = (long)archive_entry_uid(e), x->gid = (long)archive_entry_gid(e), x->mtime = (long)archive_entry_mtime(e);
        const char *un = archive_entry_uname(e), *gn = archive_entry_gname(e);
        x->uname = (un && *un) || (gn && *gn);
        x->atime = archive_entry_atime_is_set(e), x->ctime = archive_entry_ctime_is_set(e);
        char *acl = archive_entry_acl_to_text(e, NULL, ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_STYLE_SEPARATOR_COMMA);
        if (acl) snprintf(x->acl, sizeof x->acl, "%s", acl);
        free(acl);
        const char *xn;
        const void *xv;
        size_t xs;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
            if (!strncmp(xn, "user.", 5)) snprintf(x->xattr, sizeof x->xattr, "%s=%.*s", xn, (int)xs, (const char *)xv);
        la_ssize_t k = archive_read_data(a, x->data, sizeof x->data - 1);
        if (k > 0) x->data[k] = 0;
    }
    archive_read_free(a);
    return n;
}

static const struct member *find(const struct member *m, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].path, path)) return &m[i];
    return NULL;
}

/* A POSIX ACL as the kernel takes it in system.posix_acl_access (version 2, then tag, perm, id
 * entries in tag order): user::rw-, user:4242:r--, group::r--, mask::r--, other::---. */
static int set_acl(const char *path)
{
    struct { uint16_t tag, perm; uint32_t id; } ents[] = {
        {0x01, 6, 0xffffffff}, {0x02, 4, 4242}, {0x04, 4, 0xffffffff}, {0x10, 4, 0xffffffff}, {0x20, 0, 0xffffffff}};
    uint8_t buf[4 + sizeof ents];
    uint32_t v = 2;
    memcpy(buf, &v, 4);
    memcpy(buf + 4, ents, sizeof ents);
    return setxattr(path, "system.posix_acl_access", buf, sizeof buf, 0);
}

static void make_tree(const char *root)
{
    put(root, "b", "bee\n", EPOCH - 100);
    put(root, "caf\xc3\xa9", "utf-8 name\n", EPOCH - 100);
    put(root, "bad\xff", "not utf-8\n", EPOCH - 100);
    put(root, "a.c", "c\n", EPOCH - 100);
    put(root, "a/x", "x\n", EPOCH + 86400); /* newer than the epoch: clamped */
    put(root, "etc/wsl.conf", "the tree's own\n", EPOCH - 5);
    put(root, "etc/hostname", "kiln\n", EPOCH - 5);
    put(root, "usr/bin/perl", "#!perl\n", EPOCH - 7);
    _cleanup_free_ char *p1 = path_join(root, "usr/bin/perl");
    _cleanup_free_ char *p2 = path_join(root, "usr/bin/perl5.36");
    link(p1, p2);
    _cleanup_free_ char *ln = path_join(root, "etc/os-release");
    symlink("/etc/passwd", ln);
    _cleanup_free_ char *xf = path_join(root, "etc/hostname");
    setxattr(xf, "user.kiln", "yes", 3, 0);
    set_acl(xf);
    if (geteuid() == 0) lchown(xf, 1234, 5678);
    /* a socket: tar cannot hold one */
    _cleanup_free_ char *sp = path_join(root, "run.sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sp);
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    close(s);
}

/* The whole decompressed stream, to look for what must not be in it. */
static char *decompressed(const char *path, size_t *n)
{
    size_t len;
    _cleanup_free_ char *z = slurp(path, &len);
    unsigned long long want = z ? ZSTD_getFrameContentSize(z, len) : 0;
    if (!z || want == ZSTD_CONTENTSIZE_ERROR) return NULL;
    /* streamed frames need not record their size */
    size_t cap = want == ZSTD_CONTENTSIZE_UNKNOWN ? 16 << 20 : (size_t)want;
    char *out = xmalloc(cap + 1);
    size_t r = ZSTD_decompress(out, cap, z, len);
    if (ZSTD_isError(r)) {
        free(out);
        return NULL;
    }
    out[r] = 0;
    *n = r;
    return out;
}

static void test_write(void)
{
    _cleanup_free_ char *root = tmp("root");
    mkdir_p(root, 0755);
    make_tree(root);
    _cleanup_free_ char *out1 = tmp("one.tar.zst");
    _cleanup_free_ char *out2 = tmp("two.tar.zst");
    static const char wsl[] = "[boot]\nsystemd=true\n";
    const struct rootfs_tar_file extra[] = {{"etc/wsl.conf", wsl, strlen(wsl), 0644}, {"etc/new", "n\n", 2, 0600}};
    char *err = NULL;
    ok(rootfs_tar_write(root, out1, EPOCH, extra, 2, &err) == 0, "the tree is written (%s)", err ? err : "ok");
    free(err), err = NULL;
    /* reading the tree changed atimes; ctimes change with a chmod back and forth */
    _cleanup_free_ char *b = path_join(root, "b");
    chmod(b, 0600), chmod(b, 0644);
    ok(rootfs_tar_write(root, out2, EPOCH, extra, 2, &err) == 0, "written again");
    free(err), err = NULL;
    size_t l1 = 0, l2 = 0;
    _cleanup_free_ char *c1 = slurp(out1, &l1);
    _cleanup_free_ char *c2 = slurp(out2, &l2);
    ok(c1 && c2 && l1 == l2 && !memcmp(c1, c2, l1), "the same tree and epoch give the same bytes (%zu, %zu)", l1, l2);
    ok(c1 && l1 > 4 && !memcmp(c1, "\x28\xb5\x2f\xfd", 4), "zstd-compressed");

    struct member m[32];
    size_t n = read_members(out1, m, 32);
    const char *order[] = {"./", "./a/", "./a/x", "./a.c", "./b", "./bad\xff", "./caf\xc3\xa9", "./etc/", "./etc/hostname", "./etc/new", "./etc/os-release",
                           "./etc/wsl.conf", "./usr/", "./usr/bin/", "./usr/bin/perl", "./usr/bin/perl5.36"};
    bool same = n == ARRAY_SIZE(order);
    for (size_t i = 0; same && i < n; i++) same = !strcmp(m[i].path, order[i]);
    ok(same, "entries: ./ first, then depth first with each directory's names in byte order; no socket (%zu entries)", n);
    bool clean = true;
    for (size_t i = 0; i < n; i++) clean &= !m[i].uname && !m[i].atime && !m[i].ctime && m[i].mtime <= EPOCH;
    ok(clean, "no owner names, no atime or ctime, every mtime at most the epoch");
    const struct member *x;
    ok((x = find(m, n, "./a/x")) && x->mtime == EPOCH, "a newer mtime is clamped to the epoch");
    ok((x = find(m, n, "./b")) && x->mtime == EPOCH - 100 && !strcmp(x->data, "bee\n"), "an older mtime and the data are kept");
    ok((x = find(m, n, "./etc/os-release")) && x->type == AE_IFLNK && !strcmp(x->link, "/etc/passwd"),
       "a symbolic link is stored, not followed");
    ok((x = find(m, n, "./usr/bin/perl5.36")) && !strcmp(x->hardlink, "./usr/bin/perl"),
       "the second name of a file links to the first");
    ok((x = find(m, n, "./etc/wsl.conf")) && !strcmp(x->data, wsl) && x->mtime == EPOCH && x->uid == 0,
       "an extra file replaces the tree's, owned by root, at the epoch");
    ok((x = find(m, n, "./etc/new")) && !strcmp(x->data, "n\n"), "an extra file the tree lacks is added in order");
    x = find(m, n, "./etc/hostname");
    ok(x && !strcmp(x->xattr, "user.kiln=yes"), "xattrs are kept (%s)", x ? x->xattr : "-");
    ok(x && strstr(x->acl, "user:4242:r--") != NULL, "POSIX ACLs are kept (%s)", x ? x->acl : "-");
    if (geteuid() == 0) ok(x && x->uid == 1234 && x->gid == 5678, "owners are numeric (%ld:%ld)", x ? x->uid : -1, x ? x->gid : -1);
    size_t dn = 0;
    _cleanup_free_ char *raw = decompressed(out1, &dn);
    ok(raw && !memmem(raw, dn, "SCHILY.dev", 10) && !memmem(raw, dn, "SCHILY.ino", 10) && !memmem(raw, dn, "atime=", 6) &&
           !memmem(raw, dn, "SCHILY.fflags", 13) && !memmem(raw, dn, "GNU.sparse", 10),
       "no device or inode numbers, access times, file flags or sparse maps in the stream");
    const char *hc = raw ? memmem(raw, dn, "hdrcharset=BINARY", 17) : NULL;
    ok(hc && !memmem(hc + 1, dn - (size_t)(hc + 1 - raw), "hdrcharset", 10) && memmem(raw, dn, "path=./caf\xc3\xa9\n", 13),
       "a UTF-8 name is a plain pax path record; only the name that is not UTF-8 is marked binary");
    ok(raw && memmem(raw, dn, "SCHILY.xattr.user.kiln", 22) && memmem(raw, dn, "SCHILY.acl.access", 17),
       "xattrs and ACLs as star's pax keywords");

    ok(rootfs_tar_write(root, out2, EPOCH - 1000, NULL, 0, &err) == 0, "another epoch");
    free(err), err = NULL;
    n = read_members(out2, m, 32);
    ok((x = find(m, n, "./b")) && x->mtime == EPOCH - 1000, "the epoch is what mtimes are clamped to");
    ok((x = find(m, n, "./etc/wsl.conf")) && !strcmp(x->data, "the tree's own\n"), "without extras the tree's file is kept");

    const struct rootfs_tar_file orphan[] = {{"nodir/x", "x", 1, 0644}};
    _cleanup_free_ char *out3 = tmp("three.tar.zst");
    int r = rootfs_tar_write(root, out3, EPOCH, orphan, 1, &err);
    ok(r == -ENOENT && err && strstr(err, "no directory for nodir/x"),
       "an extra file needs its directory in the tree (%s)", err ? err : "");
    free(err), err = NULL;
    ok(!file_exists(out3), "nothing is left at the destination on failure");
    _cleanup_free_ char *missing = tmp("no-such-root");
    ok(rootfs_tar_write(missing, out3, EPOCH, NULL, 0, &err) == -ENOENT && !file_exists(out3), "a missing tree is an error");
    free(err);
}

/* An archive with the given members: "path=data" (regular), "path->target" (symlink),
 * "path=>target" (hard link). */
static void make_archive(const char *out, bool zstd, const char *const *members, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax(a);
    if (zstd) archive_write_add_filter_zstd(a);
    archive_write_open_filename(a, out);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        const char *eq = strchr(members[i], '='), *arrow = strstr(members[i], "->");
        bool hard = eq && eq[1] == '>';
        size_t nl = arrow ? (size_t)(arrow - members[i]) : (size_t)(eq - members[i]);
        _cleanup_free_ char *name = xstrndup(members[i], nl);
        archive_entry_copy_pathname(e, name);
        archive_entry_set_perm(e, 0644);
        if (arrow) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_copy_symlink(e, arrow + 2);
        } else if (hard) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_copy_hardlink(e, eq + 2);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(eq + 1));
        }
        archive_write_header(a, e);
        if (!arrow && !hard) archive_write_data(a, eq + 1, strlen(eq + 1));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void test_read(void)
{
    _cleanup_free_ char *ar = tmp("r.tar.zst");
    const char *const members[] = {"./etc/=", "./var/lib/dpkg/status=Package: old\n", "var/lib/dpkg/status=Package: a\n",
                                   "/usr/lib/os-release=ID=debian\n", "etc/os-release->/etc/shadow",
                                   "../../var/lib/rpm/Packages=escape"};
    make_archive(ar, true, members, ARRAY_SIZE(members));
    ok(rootfs_tar_probe(ar), "a tar.zst is probed as a rootfs archive");
    const char *const items[] = {"/var/lib/dpkg/status", "/usr/lib/os-release", "/etc/os-release", "/var/lib/rpm/Packages"};
    _cleanup_free_ char *dest = tmp("x1");
    mkdir_p(dest, 0700);
    struct rootfs_tar_limits lim = rootfs_tar_default_limits(1000);
    struct rootfs_tar_info info = {0};
    char *err = NULL;
    int r = rootfs_tar_extract(ar, items, ARRAY_SIZE(items), dest, &lim, &info, &err);
    ok(r == 2, "two items are regular files in the archive (%d %s)", r, err ? err : "");
    free(err), err = NULL;
    ok(info.entries == ARRAY_SIZE(members) && !strcmp(info.compression, "zstd") && info.expanded > 0,
       "counts: %llu entries, %llu bytes, %s", (unsigned long long)info.entries, (unsigned long long)info.expanded,
       info.compression);
    size_t len;
    _cleanup_free_ char *sp = path_join(dest, "var/lib/dpkg/status");
    _cleanup_free_ char *st = slurp(sp, &len);
    is_str(st, "Package: a\n", "the last member of a path wins; ./ and / prefixes name the same path");
    _cleanup_free_ char *lp = path_join(dest, "etc/os-release");
    struct stat sb;
    ok(lstat(lp, &sb) < 0, "a symbolic link named like an item is not copied, nor followed");
    _cleanup_free_ char *rp = path_join(dest, "var/lib/rpm/Packages");
    ok(lstat(rp, &sb) < 0, "a member with .. components matches no item");

    /* the same members uncompressed */
    _cleanup_free_ char *plain = tmp("r.tar");
    make_archive(plain, false, members, ARRAY_SIZE(members));
    ok(rootfs_tar_probe(plain), "a plain tar is probed as a rootfs archive");
    _cleanup_free_ char *d2 = tmp("x2");
    mkdir_p(d2, 0700);
    r = rootfs_tar_extract(plain, items, ARRAY_SIZE(items), d2, &lim, &info, &err);
    ok(r == 2 && !strcmp(info.compression, "none"), "a plain tar reads the same (%d, %s)", r, info.compression);
    free(err), err = NULL;

    /* a hard link named like an item: its data is elsewhere, and it is not copied */
    const char *const hl[] = {"etc/shadow=secret", "var/lib/dpkg/status=>etc/shadow"};
    _cleanup_free_ char *har = tmp("h.tar.zst");
    make_archive(har, true, hl, 2);
    _cleanup_free_ char *d3 = tmp("x3");
    mkdir_p(d3, 0700);
    ok(rootfs_tar_extract(har, items, 1, d3, &lim, NULL, &err) == 0, "a hard link is not an item");
    free(err), err = NULL;

    /* limits: entries, expanded bytes (checked against a member's size before it is read), path, item size */
    struct rootfs_tar_limits l = lim;
    l.entries = 3;
    r = rootfs_tar_extract(ar, items, 1, d3, &l, NULL, &err);
    ok(r == -E2BIG && err && strstr(err, "more than 3 entries"),
       "entry limit: %s", err ? err : "");
    free(err), err = NULL;
    l = lim;
    l.bytes = 3000;
    _cleanup_free_ char *big = xmalloc(8001);
    memset(big, 'z', 8000);
    big[8000] = 0;
    _cleanup_free_ char *bm = xasprintf("var/big=%s", big);
    const char *const bigm[] = {bm};
    _cleanup_free_ char *bar = tmp("b.tar.zst");
    make_archive(bar, true, bigm, 1);
    r = rootfs_tar_extract(bar, items, 1, d3, &l, NULL, &err);
    ok(r == -E2BIG && err && strstr(err, "expands to more than 3000 bytes"),
       "expanded-size limit: %s", err ? err : "");
    free(err), err = NULL;
    l = lim;
    l.path = 10;
    r = rootfs_tar_extract(ar, items, 1, d3, &l, NULL, &err);
    ok(r == -E2BIG && err && strstr(err, "has a path of"),
       "path limit: %s", err ? err : "");
    free(err), err = NULL;
    l = lim;
    l.file = 4;
    r = rootfs_tar_extract(ar, items, 1, d3, &l, NULL, &err);
    ok(r == -EFBIG && err && strstr(err, "/var/lib/dpkg/status holds more than"),
       "item size limit: %s", err ? err : "");
    free(err), err = NULL;
    _cleanup_free_ char *cut_copy = xasprintf("%s/var/lib/dpkg/status", d3);
    ok(access(cut_copy, F_OK) != 0, "the cut copy is removed, not left for a reader");

    /* what is copied out, every item and every copy of one together (hostile finding: a 32 KB
     * .tar.zst of four 250 MiB copyright files of zeros made kiln sbom write 870 MB to TMPDIR) */
    l = lim;
    l.copied = 20000;
    _cleanup_free_ char *b8k = xasprintf("var/lib/dpkg/status=%s", big);
    const char *const many_copies[] = {b8k, b8k, b8k};
    _cleanup_free_ char *car = tmp("c.tar.zst");
    make_archive(car, true, many_copies, 3);
    r = rootfs_tar_extract(car, items, 1, d3, &l, NULL, &err);
    ok(r == -EFBIG && err && strstr(err, "the files kiln copies out of it hold more than 20000 bytes"),
       "copy budget: three copies of 8000 bytes over 20000: %s", err ? err : "");
    free(err), err = NULL;
    l.copied = 24000;
    r = rootfs_tar_extract(car, items, 1, d3, &l, NULL, &err);
    ok(r == 1, "three copies of 8000 bytes within 24000 (%d %s)", r, err ? err : "");
    free(err), err = NULL;
    struct rootfs_tar_limits dl = rootfs_tar_default_limits(1000);
    ok(dl.copied == (64ull << 20) + 4000, "the default copy budget: 64 MiB + 4 x the file's size");

    /* zstd data that is not a tar */
    _cleanup_free_ char *nz = tmp("n.zst");
    char src[600], dst[700];
    memset(src, 'q', sizeof src);
    size_t zn = ZSTD_compress(dst, sizeof dst, src, sizeof src, 3);
    FILE *f = fopen(nz, "w");
    fwrite(dst, 1, zn, f);
    fclose(f);
    ok(rootfs_tar_probe(nz), "any zstd frame is probed");
    r = rootfs_tar_extract(nz, items, 1, d3, &lim, NULL, &err);
    ok(r == -EINVAL && err && strstr(err, "not a tar archive"),
       "zstd data that is no tar: %s", err ? err : "");
    free(err), err = NULL;

    /* many items in no order, looked up by bisection (hostile finding: a scan of every item per
     * member made an SBOM of 29,000 packages over 100,000 members take 131 s) */
    {
        enum { NI = 2000 };
        char **many = xcalloc(NI, sizeof *many);
        for (size_t i = 0; i < NI; i++) many[i] = xasprintf("/usr/share/doc/p%04zu/copyright", NI - 1 - i);
        const char *const mm[] = {"usr/share/doc/p0007/copyright=seven", "./usr/share/doc/p1999/copyright=last",
                                  "usr/share/doc/p0007x/copyright=no", "usr/share/doc/p0500/copyright->/etc/shadow"};
        _cleanup_free_ char *mar = tmp("many.tar.zst");
        make_archive(mar, true, mm, ARRAY_SIZE(mm));
        _cleanup_free_ char *d4 = tmp("x4");
        mkdir_p(d4, 0700);
        r = rootfs_tar_extract(mar, (const char *const *)many, NI, d4, &lim, NULL, &err);
        ok(r == 2, "two of 2000 unsorted items are regular members (%d %s)", r, err ? err : "");
        free(err), err = NULL;
        _cleanup_free_ char *p7 = path_join(d4, "usr/share/doc/p0007/copyright");
        _cleanup_free_ char *t7 = slurp(p7, &len);
        is_str(t7, "seven", "each copied to its own path");
        for (size_t i = 0; i < NI; i++) free(many[i]);
        free(many);
    }

    /* cut inside the pax header a long path needs: libarchive gives no message of its own
     * (hostile finding: "not a tar archive ((null))") */
    char longname[160];
    memset(longname, 'p', 150);
    strcpy(longname + 150, "=data");
    const char *const lm[] = {longname};
    _cleanup_free_ char *cut = tmp("cut.tar");
    make_archive(cut, false, lm, 1);
    ok(truncate(cut, 700) == 0, "the pax archive cut at 700 bytes");
    r = rootfs_tar_extract(cut, items, 1, d3, &lim, NULL, &err);
    ok(r < 0 && err && strstr(err, "the archive is cut short or damaged") && !strstr(err, "(null)"),
       "an archive cut inside a pax header says so: %s", err ? err : "");
    free(err), err = NULL;

    /* inspect on the archive */
    json_t *j = NULL;
    r = image_inspect(ar, &j, &err);
    ok(r == 0, "kiln inspect reads a rootfs archive (%s)", err ? err : "ok");
    free(err), err = NULL;
    is_str(json_string_value(json_object_get(j, "format")), "rootfs-tar", "inspect: format");
    is_str(json_string_value(json_object_get(json_object_get(j, "os_release"), "ID")), "debian", "inspect: os-release from /usr/lib");
    ok(json_is_false(json_object_get(j, "wsl_conf")), "inspect: no wsl.conf");
    is_int(json_integer_value(json_object_get(j, "entries")), ARRAY_SIZE(members), "inspect: entries");
    json_decref(j);
}

static char *spec_errors(const char *text)
{
    _cleanup_free_ char *p = tmp("spec.yml");
    write_file_atomic(p, text, strlen(text), 0644);
    struct diags d = {0};
    struct image_spec *s = NULL;
    int r = spec_load(p, NULL, &s, &d);
    spec_free(s);
    struct sbuf b = {0};
    for (size_t i = 0; i < d.n; i++) sbuf_printf(&b, "%d:%d %s: %s\n", d.v[i].line, d.v[i].col, d.v[i].path, d.v[i].msg);
    diags_free(&d);
    if (r == 0) sbuf_puts(&b, "(ok)");
    return sbuf_steal(&b);
}

#define HEAD "name: t\nversion: 1\nbase: { family: deb, suite: bookworm }\n"

static void test_spec_wsl(void)
{
    _cleanup_free_ char *files = tmp("motd");
    write_file_atomic(files, "hi\n", 3, 0644);
    char *e = spec_errors(HEAD "output: [tar]\nwsl: true\n");
    is_str(e, "(ok)", "wsl: true with the tar output");
    free(e);
    e = spec_errors(HEAD "output: [raw, qcow2]\nwsl: true\n");
    has(e, "5:6 wsl: wsl: true applies to the rootfs archive only: add tar to \"output\"", "wsl without tar: where and what to do");
    free(e);
    e = spec_errors(HEAD "wsl: true\n");
    has(e, "4:6 wsl: wsl: true applies to the rootfs archive only", "wsl with the default output (raw)");
    free(e);
    e = spec_errors(HEAD "output: [raw]\nwsl: false\n");
    is_str(e, "(ok)", "wsl: false needs no tar");
    free(e);
    e = spec_errors(HEAD "output: [tar]\nwsl: maybe\n");
    has(e, "5:6 wsl:", "wsl must be a boolean");
    free(e);
    e = spec_errors(HEAD "os:\n  files:\n    - { src: motd, dst: /etc/motd }\n    - { src: motd, dst: /etc/wsl.conf }\n"
                         "output: [tar]\nwsl: true\n");
    has(e, "7:25 os.files[1].dst: /etc/wsl.conf is written by kiln when wsl: true", "a file for /etc/wsl.conf conflicts");
    free(e);
    /* hostile finding: accepted, and the WSL distribution had a writable /usr and no update slots */
    e = spec_errors(HEAD "storage: { layout: immutable }\npackages: { install: [dracut, libcryptsetup12] }\n"
                         "output: [tar]\nwsl: true\n");
    has(e, "7:6 wsl: wsl: true does not go with storage.layout: immutable: WSL imports the archive as one writable "
           "filesystem", "wsl with the immutable layout: where and why");
    free(e);
    e = spec_errors(HEAD "storage: { layout: immutable }\npackages: { install: [dracut, libcryptsetup12] }\n"
                         "output: [qcow2, tar]\n");
    is_str(e, "(ok)", "the immutable layout with a tar output for containers, without wsl");
    free(e);
    e = spec_errors(HEAD "os:\n  files: [ { src: motd, dst: /etc/fstab } ]\noutput: [tar]\nwsl: true\n");
    has(e, "os.files[0].dst: /etc/fstab is written by kiln when wsl: true", "a file for /etc/fstab conflicts");
    free(e);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_write();
    test_read();
    test_spec_wsl();
    rm_rf(dir);
    return tap_done();
}
