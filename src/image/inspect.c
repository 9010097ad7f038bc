/* What is inside a disk image: format, sizes, partitions, filesystems, os-release. */
#include "image/inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "image/disk_int.h"
#include "image/gpt.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

/* A filesystem UUID as stored (RFC 4122 byte order) in lower-case text. */
static void uuid_text(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
             u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Filesystem signature at the start of a partition (or a whole disk). */
static json_t *probe_fs(struct disk *d, uint64_t off, uint64_t len)
{
    uint8_t b[4096];
    size_t n = (size_t)MIN((uint64_t)sizeof b, len);
    if (n < 2048 || disk_pread(d, b, n, off) < 0) return NULL;
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
        return NULL;
    }
    return fs;
}

/* Copies [off, off+len) of d into a sparse temp file (so e2fsprogs can read it). */
static int extract(struct disk *d, uint64_t off, uint64_t len, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    uint8_t *buf = xmalloc(1 << 20);
    uint64_t pos = off, s, e;
    int r;
    while ((r = disk_next_data(d, pos, &s, &e)) == 1 && s < off + len) {
        e = MIN(e, off + len);
        for (uint64_t p = s; p < e && r >= 0; p += 1 << 20) {
            size_t n = (size_t)MIN((uint64_t)1 << 20, e - p);
            r = disk_pread(d, buf, n, p);
            if (r >= 0) r = file_pwrite_full(fd, buf, n, p - off);
        }
        if (r < 0) break;
        pos = e;
    }
    if (r >= 0 && ftruncate(fd, (off_t)len) < 0) r = -errno;
    free(buf);
    close(fd);
    return r < 0 ? r : 0;
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
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) v[vl - 1] = 0, v++;
        json_object_set_new(o, line, json_string(v));
    }
    return o;
}

/* os-release from a filesystem in the image, read without mounting: debugfs for ext4 (root or
 * /etc), fsck.erofs --extract or unsquashfs -cat for a read-only /usr. */
static json_t *os_release(struct disk *d, uint64_t off, uint64_t len, const char *fstype)
{
    const char *td = getenv("TMPDIR");
    _cleanup_free_ char *tmpl = xasprintf("%s/kiln-inspect-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(tmpl)) return NULL;
    _cleanup_free_ char *img = path_join(tmpl, "fs.img");
    json_t *o = NULL;
    if (extract(d, off, len, img) == 0) {
        if (streq(fstype, "ext4")) {
            static const char *const paths[] = {"cat /usr/lib/os-release", "cat /etc/os-release"};
            for (size_t i = 0; i < ARRAY_SIZE(paths) && !o; i++) {
                char *argv[] = {"debugfs", "-R", (char *)paths[i], img, NULL};
                _cleanup_free_ char *out = NULL;
                if (proc_run(argv, 60000, &out) == 0 && out && strstr(out, "ID=")) o = os_release_parse(out);
            }
        } else if (streq(fstype, "squashfs")) {
            char *argv[] = {"unsquashfs", "-cat", img, "lib/os-release", NULL};
            _cleanup_free_ char *out = NULL;
            if (proc_run(argv, 60000, &out) == 0 && out && strstr(out, "ID=")) o = os_release_parse(out);
        } else if (streq(fstype, "erofs")) {
            _cleanup_free_ char *dir = path_join(tmpl, "x");
            _cleanup_free_ char *opt = xasprintf("--extract=%s", dir);
            char *argv[] = {"fsck.erofs", opt, img, NULL};
            _cleanup_free_ char *osr = path_join(dir, "lib/os-release");
            char *text = NULL;
            size_t tl;
            if (proc_run(argv, 300000, NULL) == 0 && read_file(osr, 1 << 20, &text, &tl) == 0) o = os_release_parse(text);
            free(text);
        }
    }
    rm_rf(tmpl);
    return o;
}

/* ext4 filesystems of the image in order (GPT partitions, or the whole disk): offset, length. */
static size_t ext4_filesystems(struct disk *d, uint64_t (*fs)[2], size_t max)
{
    struct guid dg;
    struct gpt_part *parts = NULL;
    size_t n = 0, k = 0;
    char *gerr = NULL;
    if (gpt_read(d, &dg, &parts, &n, &gerr) == 0) {
        for (size_t i = 0; i < n && k < max; i++) {
            uint64_t off = parts[i].first_lba * 512, len = (parts[i].last_lba - parts[i].first_lba + 1) * 512;
            if (off >= disk_size(d) || len > disk_size(d) - off) continue;
            json_t *f = probe_fs(d, off, len);
            const char *t = f ? json_string_value(json_object_get(f, "type")) : NULL;
            if (t && streq(t, "ext4")) fs[k][0] = off, fs[k][1] = len, k++;
            json_decref(f);
        }
    } else {
        json_t *f = probe_fs(d, 0, disk_size(d));
        const char *t = f ? json_string_value(json_object_get(f, "type")) : NULL;
        if (t && streq(t, "ext4") && max) fs[k][0] = 0, fs[k][1] = disk_size(d), k++;
        json_decref(f);
    }
    free(gerr);
    free(parts);
    return k;
}

int image_extract(const char *path, const char *const *items, size_t nitems, const char *dest, char **err)
{
    struct disk *d;
    int r = disk_open(path, &d, err);
    if (r < 0) return r;
    uint64_t fs[16][2];
    size_t nfs = ext4_filesystems(d, fs, ARRAY_SIZE(fs));
    const char *td = getenv("TMPDIR");
    _cleanup_free_ char *tmpl = xasprintf("%s/kiln-extract-XXXXXX", td && *td ? td : "/var/tmp");
    if (!mkdtemp(tmpl)) {
        disk_close(d);
        *err = xasprintf("cannot create a temporary directory under %s: %s", td && *td ? td : "/var/tmp", strerror(errno));
        return -errno;
    }
    _cleanup_free_ char *img = path_join(tmpl, "fs.img");
    _cleanup_free_ char *cmds = path_join(tmpl, "cmds");
    struct sbuf b = {0};
    for (size_t i = 0; i < nitems; i++) {
        _cleanup_free_ char *dir = xasprintf("%s%s", dest, items[i]);
        char *slash = strrchr(dir, '/');
        *slash = 0;
        mkdir_p(dir, 0755);
        /* debugfs splits its arguments at blanks; kiln's item paths have none */
        sbuf_printf(&b, "rdump %s %s\n", items[i], dir);
    }
    int found = 0;
    if (write_file_atomic(cmds, b.s ? b.s : "", b.len, 0600) < 0) r = -EIO;
    for (size_t k = 0; k < nfs && r >= 0 && !found; k++) {
        if ((r = extract(d, fs[k][0], fs[k][1], img)) < 0) break;
        char *argv[] = {"debugfs", "-f", cmds, img, NULL};
        _cleanup_free_ char *out = NULL;
        if (proc_run(argv, 300000, &out) != 0) continue;
        for (size_t i = 0; i < nitems; i++) {
            _cleanup_free_ char *p = xasprintf("%s%s", dest, items[i]);
            struct stat st;
            if (lstat(p, &st) == 0) found++;
        }
    }
    sbuf_free(&b);
    rm_rf(tmpl);
    disk_close(d);
    if (r < 0) {
        *err = xasprintf("cannot read the filesystems of %s: %s", path, strerror(-r));
        return r;
    }
    if (!nfs) {
        *err = xasprintf("%s has no ext4 filesystem to read", path);
        return -ENOENT;
    }
    return found;
}

int image_inspect(const char *path, json_t **out, char **err)
{
    struct disk *d;
    int r = disk_open(path, &d, err);
    if (r < 0) return r;
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(path));
    json_object_set_new(j, "format", json_string(disk_format_name(disk_format(d))));
    json_object_set_new(j, "virtual_size", json_integer((json_int_t)disk_size(d)));
    json_object_set_new(j, "file_size", json_integer((json_int_t)d->file_size));
    struct guid dg;
    struct gpt_part *parts = NULL;
    size_t n = 0;
    char *gerr = NULL;
    if (gpt_read(d, &dg, &parts, &n, &gerr) == 0) {
        char s[37];
        guid_format(&dg, s);
        json_object_set_new(j, "partition_table", json_string("gpt"));
        json_object_set_new(j, "disk_guid", json_string(s));
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_object();
            const char *tn = gpt_type_name(&parts[i].type);
            guid_format(&parts[i].type, s);
            json_object_set_new(p, "number", json_integer((json_int_t)i + 1));
            json_object_set_new(p, "type", json_string(tn ? tn : s));
            json_object_set_new(p, "type_guid", json_string(s));
            guid_format(&parts[i].uuid, s);
            json_object_set_new(p, "uuid", json_string(s));
            json_object_set_new(p, "name", json_string(parts[i].name));
            uint64_t off = parts[i].first_lba * 512, len = (parts[i].last_lba - parts[i].first_lba + 1) * 512;
            json_object_set_new(p, "offset", json_integer((json_int_t)off));
            json_object_set_new(p, "size", json_integer((json_int_t)len));
            if (off < disk_size(d) && len <= disk_size(d) - off) {
                json_t *fs = probe_fs(d, off, len);
                if (fs) {
                    json_object_set_new(p, "filesystem", fs);
                    const char *t = json_string_value(json_object_get(fs, "type"));
                    bool usr = gpt_type_name(&parts[i].type) && startswith(gpt_type_name(&parts[i].type), "usr-");
                    if (t && (streq(t, "ext4") || (usr && (streq(t, "erofs") || streq(t, "squashfs")))) &&
                        !json_object_get(j, "os_release")) {
                        json_t *osr = os_release(d, off, len, t);
                        if (osr) json_object_set_new(j, "os_release", osr);
                    }
                }
            }
            json_array_append_new(arr, p);
        }
        json_object_set_new(j, "partitions", arr);
    } else {
        json_object_set_new(j, "partition_table", json_null());
        json_object_set_new(j, "partition_table_note", json_string(gerr));
        json_t *fs = probe_fs(d, 0, disk_size(d));
        if (fs) {
            const char *t = json_string_value(json_object_get(fs, "type"));
            json_object_set_new(j, "filesystem", fs);
            if (t && streq(t, "ext4")) {
                json_t *osr = os_release(d, 0, disk_size(d), t);
                if (osr) json_object_set_new(j, "os_release", osr);
            }
        }
    }
    free(gerr);
    free(parts);
    disk_close(d);
    *out = j;
    return 0;
}
