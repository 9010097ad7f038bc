/* What is inside a disk image: format, sizes, partitions, filesystems, os-release. */
#include "image/inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "image/ext4.h"
#include "image/gpt.h"
#include "image/rootfs_tar.h"
#include "image/squashfs.h"
#include "image/erofs.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

/* A filesystem UUID as stored (RFC 4122 byte order) in lower-case text. */
static void uuid_text(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
             u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Filesystem signature at the start of a partition (or a whole disk): *out gets a description
 * or NULL when none is known. -errno when the disk cannot be read. */
static int probe_fs(struct disk *d, uint64_t off, uint64_t len, json_t **out)
{
    uint8_t b[4096];
    size_t n = (size_t)MIN((uint64_t)sizeof b, len);
    *out = NULL;
    if (n < 2048) return 0;
    int r = disk_pread(d, b, n, off);
    if (r < 0) return r;
    json_t *fs = json_object();
    char uuid[37];
    if (get_le16(b + 1024 + 56) == 0xef53) {
        const uint8_t *sb = b + 1024;
        uint32_t incompat = get_le32(sb + 96);
        json_object_set_new(fs, "type", json_string(incompat & 0x40 ? "ext4" : "ext2/3"));
        uuid_text(sb + 104, uuid);
        json_object_set_new(fs, "uuid", json_string(uuid));
        char label[17] = {0};
        memcpy(label, sb + 120, 16);
        for (char *c = label; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
        json_object_set_new(fs, "label", json_string(label));
    } else if (get_le32(b + 1024) == 0xe0f5e1e2) {
        json_object_set_new(fs, "type", json_string("erofs"));
        const uint8_t *u = b + 1024 + 48;
        uuid_text(u, uuid);
        json_object_set_new(fs, "uuid", json_string(uuid));
    } else if (!memcmp(b, "LUKS\xba\xbe", 6) && (get_be16(b + 6) == 1 || get_be16(b + 6) == 2)) {
        /* LUKS1 and LUKS2 on-disk formats (cryptsetup's docs): magic, big-endian version at 6,
         * the volume's UUID as text at 168 */
        json_object_set_new(fs, "type", json_string(get_be16(b + 6) == 2 ? "crypto_LUKS (LUKS2)" : "crypto_LUKS (LUKS1)"));
        char u[41] = {0};
        memcpy(u, b + 168, 40);
        for (char *c = u; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
        json_object_set_new(fs, "uuid", json_string(u));
    } else if (!memcmp(b, "hsqs", 4)) {
        json_object_set_new(fs, "type", json_string("squashfs"));
    } else if (!memcmp(b, "verity\0\0", 8)) {
        json_object_set_new(fs, "type", json_string("dm-verity hash tree"));
        const uint8_t *u = b + 16;
        uuid_text(u, uuid);
        json_object_set_new(fs, "uuid", json_string(uuid));
    } else if (b[510] == 0x55 && b[511] == 0xaa && (!memcmp(b + 82, "FAT32   ", 8) || !memcmp(b + 54, "FAT1", 4))) {
        bool f32 = !memcmp(b + 82, "FAT32   ", 8);
        json_object_set_new(fs, "type", json_string(f32 ? "vfat (FAT32)" : "vfat (FAT12/16)"));
        const uint8_t *id = b + (f32 ? 67 : 39), *lab = b + (f32 ? 71 : 43);
        snprintf(uuid, sizeof uuid, "%02X%02X-%02X%02X", id[3], id[2], id[1], id[0]);
        json_object_set_new(fs, "uuid", json_string(uuid));
        char label[12] = {0};
        memcpy(label, lab, 11);
        for (char *c = label; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
        json_object_set_new(fs, "label", json_string(strstrip(label)));
    } else {
        json_decref(fs);
        return 0;
    }
    *out = fs;
    return 0;
}

/* Reads dir/rel (rel relative, '/'-separated) without following a symbolic link at any step:
 * tools that unpack a hostile filesystem may leave links pointing anywhere on the host. At
 * most max bytes. 0, -ENOENT, -ELOOP (a link on the way), -EFBIG, or another -errno. */
static int read_beneath(const char *dir, const char *rel, size_t max, char **text)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    _cleanup_free_ char *copy = xstrdup(rel);
    char *save = NULL, *next;
    for (char *c = strtok_r(copy, "/", &save); c; c = next) {
        next = strtok_r(NULL, "/", &save);
        int nfd = openat(fd, c, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : 0));
        int e = errno;
        close(fd);
        if (nfd < 0) return e == ENOTDIR ? -ELOOP : -e;
        fd = nfd;
    }
    struct stat st;
    int e = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : (uint64_t)st.st_size > max ? -EFBIG : 0;
    if (e < 0) {
        close(fd);
        return e;
    }
    char *b = xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, b, (size_t)st.st_size);
    close(fd);
    if (n < 0) {
        free(b);
        return -EIO;
    }
    b[n] = 0;
    *text = b;
    return 0;
}

/* What the files kiln unpacks from one image may add up to: a fixed margin plus a few times
 * what the image file holds (a file may be compressed in it). */
static uint64_t unpack_budget(const struct disk *d) { return (64ull << 20) + 4 * disk_file_allocated(d); }

/* What kiln reads through one ext4 filesystem (image/ext4.h), metadata and files together: a
 * fixed margin (the files it copies, the directories it searches) plus a few times what the image
 * file holds, so a crafted one cannot keep it reading for long. */
static uint64_t read_budget(const struct disk *d) { return (256ull << 20) + 4 * disk_file_allocated(d); }

/* The image's bytes need not be UTF-8, which JSON strings must be: the others become '?'. */
static void to_ascii(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) *s = '?';
}

/* A value as os-release(5) quotes it (shell style): in double quotes a backslash escapes only
 * \ " $ ` (and is kept before anything else), in single quotes nothing is escaped, outside
 * quotes a backslash escapes the next character and blanks end the value. Unescaped in place. */
static void os_release_unquote(char *v)
{
    char *out = v, q = 0;
    for (char *p = v; *p; p++) {
        if (q == '\'') {
            if (*p == '\'') q = 0;
            else *out++ = *p;
        } else if (q == '"') {
            if (*p == '"') q = 0;
            else if (*p == '\\' && p[1] && strchr("\\\"$`", p[1])) *out++ = *++p;
            else *out++ = *p;
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == '\\' && p[1]) {
            *out++ = *++p;
        } else if (*p == ' ' || *p == '\t') {
            break;
        } else {
            *out++ = *p;
        }
    }
    *out = 0;
}

json_t *os_release_parse(char *text)
{
    json_t *o = json_object();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#' || startswith(line, "debugfs ")) continue;
        *eq = 0;
        char *v = eq + 1;
        os_release_unquote(v);
        json_t *j = json_string(v);
        if (!j) to_ascii(v), j = json_string(v);
        if (json_object_set_new(o, line, j) < 0) {
            to_ascii(line);
            json_object_set_new(o, line, json_string(v));
        }
    }
    return o;
}

/* The most an os-release file may hold. */
enum { OS_RELEASE_MAX = 64 << 10 };

/* A filesystem whose files kiln reads where it lies: ext4 through libext2fs (image/ext4.h), a
 * squashfs /usr through libsquashfs (image/squashfs.h), an erofs /usr through kiln's own reader
 * (image/erofs.h); same errors, same budget. */
enum fs_kind { FS_EXT4, FS_SQUASH_USR, FS_EROFS_USR };

struct fs_ro {
    struct ext4_ro *e;
    struct squash_ro *s;
    struct erofs_ro *r;
};

static int fs_ro_open(struct disk *d, uint64_t off, uint64_t len, enum fs_kind kind, struct fs_ro *f, char **reterr)
{
    *f = (struct fs_ro){0};
    switch (kind) {
    case FS_SQUASH_USR: return squash_ro_open(d, off, len, "/usr", read_budget(d), &f->s, reterr);
    case FS_EROFS_USR: return erofs_ro_open(d, off, len, "/usr", read_budget(d), &f->r, reterr);
    default: return ext4_ro_open(d, off, len, read_budget(d), &f->e, reterr);
    }
}

static int fs_ro_read(struct fs_ro *f, const char *path, size_t max, char **text)
{
    return f->s ? squash_ro_read(f->s, path, max, text, NULL)
           : f->r ? erofs_ro_read(f->r, path, max, text, NULL)
                  : ext4_ro_read(f->e, path, max, text, NULL);
}

static int fs_ro_copy(struct fs_ro *f, const char *path, int fd, uint64_t max, uint64_t *size)
{
    return f->s ? squash_ro_copy(f->s, path, fd, max, size)
           : f->r ? erofs_ro_copy(f->r, path, fd, max, size)
                  : ext4_ro_copy(f->e, path, fd, max, size);
}

static const char *fs_ro_strerror(const struct fs_ro *f)
{
    return f->s ? squash_ro_strerror(f->s) : f->r ? erofs_ro_strerror(f->r) : ext4_ro_strerror(f->e);
}

static void fs_ro_close(struct fs_ro *f)
{
    squash_ro_close(f->s);
    erofs_ro_close(f->r);
    ext4_ro_close(f->e);
}

/* The os-release of the ext4 filesystem (or squashfs or erofs /usr) at [off, off+len) of d,
 * read in place (/usr/lib's, else /etc's; one without ID= is not one): *text NULL when there is
 * none or the filesystem cannot be read; then *damage the reader's sentence when that is because
 * the filesystem is damaged, *unread when it is stored in a way kiln does not read (a compressed
 * erofs file); -EIO with *err only when the disk cannot be read. */
static int fs_os_release(struct disk *d, uint64_t off, uint64_t len, enum fs_kind kind, char **text, char **damage,
                         char **unread, char **reterr)
{
    static const char *const paths[] = {"/usr/lib/os-release", "/etc/os-release"};
    struct fs_ro f;
    char *why = NULL;
    *text = NULL;
    int r = fs_ro_open(d, off, len, kind, &f, &why);
    if (r < 0) {
        if (r == -EIO) *reterr = why;
        else if (r == -EUCLEAN) *damage = why;
        else if (r == -EOPNOTSUPP) *unread = why;
        else free(why);
        return r == -EIO ? r : 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(paths) && !*text && r == 0; i++) {
        int k = fs_ro_read(&f, paths[i], OS_RELEASE_MAX, text);
        if (k == -EIO) {
            *reterr = xstrdup(fs_ro_strerror(&f));
            r = k;
        } else if (k == -EUCLEAN && !*damage) {
            *damage = xstrdup(fs_ro_strerror(&f));
        } else if (k == -EOPNOTSUPP && !*unread) {
            *unread = xstrdup(fs_ro_strerror(&f));
        } else if (k == 0 && !strstr(*text, "ID=")) *text = (free(*text), NULL);
    }
    fs_ro_close(&f);
    return r;
}

/* Sets fs's key to the reader's sentence s (made ASCII), which it frees. */
static void set_sentence(json_t *fs, const char *key, char *s)
{
    if (!s) return;
    to_ascii(s);
    json_object_set_new(fs, key, json_string(s));
    free(s);
}

/* os-release from a filesystem in the image (ext4, or the /usr partition's squashfs or erofs),
 * read in place without mounting. *out stays NULL when the filesystem has none; a damaged one
 * is noted in fs as "damaged", one kiln does not read as "unread" (the reader's sentence);
 * -errno (with *err) when the disk cannot be read. */
static int os_release(struct disk *d, uint64_t off, uint64_t len, json_t *fs, json_t **out, char **reterr)
{
    const char *fstype = json_string_value(json_object_get(fs, "type"));
    enum fs_kind kind = streq(fstype, "squashfs") ? FS_SQUASH_USR : streq(fstype, "erofs") ? FS_EROFS_USR : FS_EXT4;
    *out = NULL;
    char *text = NULL, *damage = NULL, *unread = NULL;
    int r = fs_os_release(d, off, len, kind, &text, &damage, &unread, reterr);
    set_sentence(fs, "damaged", damage);
    set_sentence(fs, "unread", text ? (free(unread), NULL) : unread);
    if (r < 0) return r;
    if (text) *out = os_release_parse(text);
    free(text);
    return 0;
}

/* gpt_read's failure (other than "no GPT") as a sentence. */
static char *table_problem(int r, const char *gerr)
{
    if (r == -EINVAL) return xasprintf("invalid partition table: %s", gerr);
    if (r == -EBADMSG) return xasprintf("damaged partition table: %s", gerr);
    return xstrdup(gerr);
}

/* The filesystems kiln reads files from in place, in order (GPT partitions, or the whole disk):
 * ext4, and squashfs or erofs in a /usr partition (the immutable layout's). Each: offset,
 * length, partition number (0: the whole disk), its enum fs_kind. -errno with *err when the
 * partition table is damaged or the disk cannot be read. */
static int readable_filesystems(struct disk *d, uint64_t (*fs)[4], size_t max, size_t *k, char **reterr)
{
    struct guid dg;
    struct gpt_part *parts = NULL;
    size_t n = 0;
    char *gerr = NULL;
    json_t *f = NULL;
    *k = 0;
    int r = gpt_read(d, &dg, &parts, &n, &gerr);
    if (r == 0) {
        for (size_t i = 0; i < n && *k < max && r >= 0; i++) {
            uint64_t off = parts[i].first_lba * 512, len = (parts[i].last_lba - parts[i].first_lba + 1) * 512;
            if ((r = probe_fs(d, off, len, &f)) < 0) {
                err_setf(reterr, 0, "cannot read partition %u: %s", parts[i].number, disk_strerror(d, r));
                break;
            }
            const char *t = f ? json_string_value(json_object_get(f, "type")) : NULL;
            const char *tn = gpt_type_name(&parts[i].type);
            bool usr = tn && startswith(tn, "usr-");
            int kind = !t ? -1 : streq(t, "ext4") ? FS_EXT4 : usr && streq(t, "squashfs") ? FS_SQUASH_USR
                                                     : usr && streq(t, "erofs")    ? FS_EROFS_USR
                                                                                   : -1;
            if (kind >= 0) fs[*k][0] = off, fs[*k][1] = len, fs[*k][2] = parts[i].number, fs[*k][3] = (uint64_t)kind, (*k)++;
            json_decref(f);
        }
    } else if (r == -ENOENT) {
        if ((r = probe_fs(d, 0, disk_size(d), &f)) < 0) err_setf(reterr, 0, "cannot read the disk: %s", disk_strerror(d, r));
        const char *t = f ? json_string_value(json_object_get(f, "type")) : NULL;
        if (t && streq(t, "ext4") && max) fs[*k][0] = 0, fs[*k][1] = disk_size(d), fs[*k][2] = 0, fs[*k][3] = 0, (*k)++;
        json_decref(f);
    } else {
        *reterr = table_problem(r, gerr);
    }
    free(gerr);
    free(parts);
    return r < 0 ? r : 0;
}

/* Copies each of items found in the filesystem e (of disk d) to dest+item, new files only;
 * *found counts them and *budget (what may still be unpacked) shrinks by their sizes. An item
 * not in the filesystem is skipped, and so is one behind a damaged directory (the first such
 * sentence into *damage when it is NULL); 0, or -errno with *why (unless interrupted: -EINTR). */
static int extract_items(struct disk *d, struct fs_ro *e, const char *const *items, size_t nitems, const char *dest,
                         uint64_t *budget, int *found, char **damage, char **why)
{
    for (size_t i = 0; i < nitems; i++) {
        if (kiln_interrupted) return -EINTR;
        _cleanup_free_ char *p = xasprintf("%s%s", dest, items[i]);
        _cleanup_free_ char *dir = path_dirname(p);
        int r = mkdir_p(dir, 0755);
        if (r < 0) {
            *why = xasprintf("cannot create %s: %s", dir, strerror(-r));
            return r;
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            r = -errno;
            *why = xasprintf("cannot create %s: %s", p, strerror(-r));
            return r;
        }
        uint64_t size = 0;
        r = fs_ro_copy(e, items[i], fd, *budget, &size);
        close(fd);
        if (r == 0) {
            (*found)++;
            *budget -= MIN(*budget - 1, size);
            continue;
        }
        unlink(p);
        if (r == -EFBIG) {
            *why = xasprintf("%s: a crafted or damaged filesystem (what kiln copies out of a %llu-byte image adds up to "
                             "64 MiB + 4 x what the file holds at most)",
                             fs_ro_strerror(e), (unsigned long long)disk_file_size(d));
            return r;
        }
        if (r == -ELOOP) {
            *why = xasprintf("%s in the image is a symbolic link that kiln does not follow (more than 8 links on the way, "
                             "or a loop): a crafted or damaged filesystem",
                             items[i]);
            return r;
        }
        if (r == -EIO || r == -ENOMEM) {
            *why = xstrdup(fs_ro_strerror(e));
            return r;
        }
        if (r == -EUCLEAN && !*damage) *damage = xstrdup(fs_ro_strerror(e));
        /* -ENOENT, not a regular file: not in the image; -EOPNOTSUPP (a compressed erofs
         * file): not read, as if it were not there */
    }
    return 0;
}

int image_extract(const char *path, const char *const *items, size_t nitems, const char *dest, char **reterr)
{
    if (rootfs_tar_probe(path)) {
        struct stat st;
        struct rootfs_tar_limits lim = rootfs_tar_default_limits(stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
        return rootfs_tar_extract(path, items, nitems, dest, &lim, NULL, reterr);
    }
    struct disk *d;
    int r = disk_open(path, &d, reterr);
    if (r < 0) return r;
    uint64_t fs[16][4];
    size_t nfs = 0;
    char *why = NULL;
    if ((r = readable_filesystems(d, fs, ARRAY_SIZE(fs), &nfs, &why)) < 0) {
        err_setf(reterr, 0, "%s: %s", path, why);
        free(why);
        disk_close(d);
        return r;
    }
    if (!nfs) {
        disk_close(d);
        return err_setf(reterr, -ENOENT, "%s has no ext4 filesystem (or squashfs or erofs /usr) to read", path);
    }
    uint64_t budget = unpack_budget(d);
    int found = 0;
    /* the first damaged filesystem: where, and libext2fs's sentence */
    char *damage = NULL;
    uint64_t damaged_at[3] = {0};
    for (size_t k = 0; k < nfs && r >= 0 && !found; k++) {
        struct fs_ro e;
        char *oerr = NULL, *derr = NULL;
        if ((r = fs_ro_open(d, fs[k][0], fs[k][1], (enum fs_kind)fs[k][3], &e, &oerr)) < 0) {
            /* a filesystem that cannot be opened holds none of the items; a disk that cannot be read stops */
            if (r == -EIO) why = oerr;
            else if (r == -EUCLEAN) derr = oerr, r = 0;
            else free(oerr), r = 0;
        } else {
            r = extract_items(d, &e, items, nitems, dest, &budget, &found, &derr, &why);
            fs_ro_close(&e);
        }
        if (derr && !damage) damage = derr, damaged_at[0] = fs[k][2], damaged_at[1] = fs[k][0], damaged_at[2] = fs[k][3];
        else free(derr);
    }
    disk_close(d);
    if (r >= 0 && !found && damage) {
        /* "not found" would send the user looking for a missing package database */
        _cleanup_free_ char *where = damaged_at[0] ? xasprintf("partition %llu (at byte %llu)", (unsigned long long)damaged_at[0],
                                                               (unsigned long long)damaged_at[1])
                                                   : xstrdup("the whole disk");
        to_ascii(damage);
        err_setf(reterr, 0, "%s: the %s filesystem of %s is damaged (%s), so kiln could not look for %s%s there; "
                         "see what %s says of a copy of it, or rebuild the image",
                         path, damaged_at[2] == FS_SQUASH_USR ? "squashfs" : damaged_at[2] == FS_EROFS_USR ? "erofs" : "ext4", where,
                         damage, items[0], nitems > 1 ? " and the rest" : "",
                         damaged_at[2] == FS_SQUASH_USR ? "unsquashfs -l" : damaged_at[2] == FS_EROFS_USR ? "fsck.erofs" : "e2fsck -fn");
        free(damage);
        free(why);
        return -EUCLEAN;
    }
    free(damage);
    if (r < 0) {
        if (r == -EINTR) err_setf(reterr, 0, "interrupted while reading %s", path);
        else err_setf(reterr, 0, "cannot read the filesystems of %s: %s", path, why ? why : strerror(-r));
        free(why);
        return r;
    }
    free(why);
    return found;
}

/* A rootfs archive: its counts, os-release (usr/lib's, else etc's: a link there is not followed)
 * and whether it carries WSL's /etc/wsl.conf. Read in one pass, os-release at most
 * OS_RELEASE_MAX bytes. */
static int inspect_rootfs_tar(const char *path, json_t **out, char **reterr)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        return err_setf(reterr, -e, "%s: %s", path, strerror(e));
    }
    const char *td = getenv("TMPDIR");
    _cleanup_free_ char *tmpl = xasprintf("%s/kiln-inspect-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(tmpl)) {
        int e = errno;
        return err_setf(reterr, -e, "cannot create a temporary directory under %s: %s", td && *td ? td : "/var/tmp", strerror(e));
    }
    static const char *const items[] = {"/usr/lib/os-release", "/etc/os-release", "/etc/wsl.conf"};
    struct rootfs_tar_limits lim = rootfs_tar_default_limits((uint64_t)st.st_size);
    lim.file = OS_RELEASE_MAX;
    struct rootfs_tar_info info = {0};
    int r = rootfs_tar_extract(path, items, ARRAY_SIZE(items), tmpl, &lim, &info, reterr);
    char *text = NULL;
    for (size_t i = 0; i < 2 && r >= 0 && !text; i++)
        if (read_beneath(tmpl, items[i] + 1, OS_RELEASE_MAX, &text) == 0 && !strstr(text, "ID=")) text = (free(text), NULL);
    struct stat wst;
    _cleanup_free_ char *wsl = path_join(tmpl, items[2] + 1);
    bool has_wsl = lstat(wsl, &wst) == 0;
    rm_rf(tmpl);
    if (r < 0) {
        free(text);
        return r;
    }
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(path));
    json_object_set_new(j, "format", json_string("rootfs-tar"));
    json_object_set_new(j, "compression", json_string(info.compression));
    json_object_set_new(j, "file_size", json_integer((json_int_t)st.st_size));
    json_object_set_new(j, "entries", json_integer((json_int_t)info.entries));
    json_object_set_new(j, "expanded_size", json_integer((json_int_t)info.expanded));
    json_object_set_new(j, "wsl_conf", json_boolean(has_wsl));
    if (text) json_object_set_new(j, "os_release", os_release_parse(text));
    free(text);
    *out = j;
    return 0;
}

int image_inspect(const char *path, json_t **out, char **reterr)
{
    if (rootfs_tar_probe(path)) return inspect_rootfs_tar(path, out, reterr);
    struct disk *d;
    int r = disk_open(path, &d, reterr);
    if (r < 0) return r;
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(path));
    json_object_set_new(j, "format", json_string(disk_format_name(disk_format(d))));
    json_object_set_new(j, "virtual_size", json_integer((json_int_t)disk_size(d)));
    json_object_set_new(j, "file_size", json_integer((json_int_t)disk_file_size(d)));
    struct guid dg;
    struct gpt_part *parts = NULL;
    size_t n = 0;
    char *gerr = NULL, *why = NULL;
    json_t *fs = NULL, *osr = NULL;
    r = gpt_read(d, &dg, &parts, &n, &gerr);
    if (r == 0) {
        char s[37];
        guid_format(&dg, s);
        json_object_set_new(j, "partition_table", json_string("gpt"));
        json_object_set_new(j, "disk_guid", json_string(s));
        json_t *arr = json_array();
        json_object_set_new(j, "partitions", arr);
        for (size_t i = 0; i < n && r >= 0; i++) {
            json_t *p = json_object();
            json_array_append_new(arr, p);
            const char *tn = gpt_type_name(&parts[i].type);
            guid_format(&parts[i].type, s);
            json_object_set_new(p, "number", json_integer((json_int_t)parts[i].number));
            json_object_set_new(p, "type", json_string(tn ? tn : s));
            json_object_set_new(p, "type_guid", json_string(s));
            guid_format(&parts[i].uuid, s);
            json_object_set_new(p, "uuid", json_string(s));
            json_object_set_new(p, "name", json_string(parts[i].name));
            /* gpt_read checked that every partition lies on the disk */
            uint64_t off = parts[i].first_lba * 512, len = (parts[i].last_lba - parts[i].first_lba + 1) * 512;
            json_object_set_new(p, "offset", json_integer((json_int_t)off));
            json_object_set_new(p, "size", json_integer((json_int_t)len));
            if ((r = probe_fs(d, off, len, &fs)) < 0) {
                why = xasprintf("cannot read partition %u: %s", parts[i].number, disk_strerror(d, r));
                break;
            }
            if (!fs) continue;
            json_object_set_new(p, "filesystem", fs);
            const char *t = json_string_value(json_object_get(fs, "type"));
            bool usr = tn && startswith(tn, "usr-");
            if (t && (streq(t, "ext4") || (usr && (streq(t, "erofs") || streq(t, "squashfs")))) &&
                !json_object_get(j, "os_release")) {
                if ((r = os_release(d, off, len, fs, &osr, &why)) < 0) break;
                if (osr) json_object_set_new(j, "os_release", osr);
            }
        }
    } else if (r == -ENOENT) {
        json_object_set_new(j, "partition_table", json_null());
        json_object_set_new(j, "partition_table_note", json_string(gerr));
        if ((r = probe_fs(d, 0, disk_size(d), &fs)) < 0) why = xasprintf("cannot read the disk: %s", disk_strerror(d, r));
        else if (fs) {
            const char *t = json_string_value(json_object_get(fs, "type"));
            json_object_set_new(j, "filesystem", fs);
            if (t && streq(t, "ext4") && (r = os_release(d, 0, disk_size(d), fs, &osr, &why)) == 0 && osr)
                json_object_set_new(j, "os_release", osr);
        }
    } else {
        why = table_problem(r, gerr);
    }
    free(gerr);
    free(parts);
    disk_close(d);
    if (r < 0) {
        *reterr = r == -EINTR ? xasprintf("interrupted while reading %s", path) : xasprintf("%s: %s", path, why);
        free(why);
        json_decref(j);
        return r;
    }
    *out = j;
    return 0;
}
