/* GPT writer and reader. Layout for a disk of N sectors: LBA 0 protective MBR, LBA 1 header,
 * LBA 2-33 entries (128 × 128 bytes), ..., LBA N-33..N-2 backup entries, LBA N-1 backup header. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <strings.h>
#include <zlib.h>

#include "model/arch.h"
#include "image/disk_int.h"
#include "image/gpt.h"
#include "util/util.h"

enum { SECTOR = 512, ENTRY = 128, ARRAY_SECTORS = GPT_ENTRIES * ENTRY / SECTOR, HDR = 92 };

/* RFC 4122 text order ⇄ the mixed-endian order GPT stores (first three fields little-endian). */
static void swap_order(uint8_t b[16])
{
    uint8_t t;
    t = b[0], b[0] = b[3], b[3] = t;
    t = b[1], b[1] = b[2], b[2] = t;
    t = b[4], b[4] = b[5], b[5] = t;
    t = b[6], b[6] = b[7], b[7] = t;
}

bool guid_parse(const char *s, struct guid *g)
{
    uint8_t b[16];
    size_t k = 0;
    for (size_t i = 0; s[i]; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
            continue;
        }
        int hi = s[i], lo = s[i + 1];
        if (!lo || k >= 16) return false;
        char tmp[3] = {(char)hi, (char)lo, 0}, *end;
        long v = strtol(tmp, &end, 16);
        if (*end || !isxdigit(hi)) return false;
        b[k++] = (uint8_t)v;
        i++;
    }
    if (k != 16 || strlen(s) != 36) return false;
    swap_order(b);
    memcpy(g->b, b, 16);
    return true;
}

void guid_format(const struct guid *g, char out[37])
{
    uint8_t b[16];
    memcpy(b, g->b, 16);
    swap_order(b);
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void guid_derive(const char *seed, const char *label, struct guid *g)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, seed, strlen(seed));
    EVP_DigestUpdate(c, "\0", 1);
    EVP_DigestUpdate(c, label, strlen(label));
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    md[6] = (md[6] & 0x0f) | 0x40; /* version 4 layout */
    md[8] = (md[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    swap_order(md);
    memcpy(g->b, md, 16);
}

uint64_t gpt_first_usable(void) { return 2 + ARRAY_SECTORS; }
uint64_t gpt_last_usable(uint64_t disk_size) { return disk_size / SECTOR - 2 - ARRAY_SECTORS; }

static void header(uint8_t h[SECTOR], uint64_t self, uint64_t other, uint64_t entries_lba, uint64_t last_lba,
                   const struct guid *disk_guid, uint32_t array_crc)
{
    memset(h, 0, SECTOR);
    memcpy(h, "EFI PART", 8);
    put_le32(h + 8, 0x00010000);
    put_le32(h + 12, HDR);
    put_le64(h + 24, self);
    put_le64(h + 32, other);
    put_le64(h + 40, gpt_first_usable());
    put_le64(h + 48, last_lba - 1 - ARRAY_SECTORS);
    memcpy(h + 56, disk_guid->b, 16);
    put_le64(h + 72, entries_lba);
    put_le32(h + 80, GPT_ENTRIES);
    put_le32(h + 84, ENTRY);
    put_le32(h + 88, array_crc);
    put_le32(h + 16, (uint32_t)crc32(0, h, HDR));
}

int gpt_write(int fd, uint64_t disk_size, const struct guid *disk_guid, const struct gpt_part *parts, size_t n)
{
    if (n > GPT_ENTRIES || disk_size % SECTOR || disk_size < (uint64_t)(2 * ARRAY_SECTORS + 4) * SECTOR)
        return -EINVAL;
    uint64_t last = disk_size / SECTOR - 1;
    uint8_t mbr[SECTOR] = {0};
    /* protective MBR: one partition of type 0xEE covering the disk (capped at 2^32-1 sectors) */
    uint8_t *pe = mbr + 446;
    pe[1] = 0x00, pe[2] = 0x02, pe[3] = 0x00; /* CHS of LBA 1 */
    pe[4] = 0xee;
    pe[5] = pe[6] = pe[7] = 0xff;
    put_le32(pe + 8, 1);
    put_le32(pe + 12, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
    mbr[510] = 0x55, mbr[511] = 0xaa;
    uint8_t *arr = xcalloc(GPT_ENTRIES, ENTRY);
    for (size_t i = 0; i < n; i++) {
        const struct gpt_part *p = &parts[i];
        if (p->first_lba < gpt_first_usable() || p->last_lba > gpt_last_usable(disk_size) || p->last_lba < p->first_lba) {
            free(arr);
            return -ERANGE;
        }
        uint8_t *e = arr + i * ENTRY;
        memcpy(e, p->type.b, 16);
        memcpy(e + 16, p->uuid.b, 16);
        put_le64(e + 32, p->first_lba);
        put_le64(e + 40, p->last_lba);
        put_le64(e + 48, p->attrs);
        for (size_t k = 0; k < 36 && p->name[k]; k++) put_le16(e + 56 + 2 * k, (uint8_t)p->name[k]);
    }
    uint32_t acrc = (uint32_t)crc32(0, arr, GPT_ENTRIES * ENTRY);
    uint8_t h1[SECTOR], h2[SECTOR];
    header(h1, 1, last, 2, last, disk_guid, acrc);
    header(h2, last, 1, last - ARRAY_SECTORS, last, disk_guid, acrc);
    int r = file_pwrite_full(fd, mbr, SECTOR, 0);
    if (r >= 0) r = file_pwrite_full(fd, h1, SECTOR, SECTOR);
    if (r >= 0) r = file_pwrite_full(fd, arr, GPT_ENTRIES * ENTRY, 2 * SECTOR);
    if (r >= 0) r = file_pwrite_full(fd, arr, GPT_ENTRIES * ENTRY, (last - ARRAY_SECTORS) * SECTOR);
    if (r >= 0) r = file_pwrite_full(fd, h2, SECTOR, last * SECTOR);
    free(arr);
    return r;
}

static int cmp_first_lba(const void *a, const void *b)
{
    const struct gpt_part *x = a, *y = b;
    return x->first_lba < y->first_lba ? -1 : x->first_lba > y->first_lba;
}

/* Partitions a table may describe: inside [first, last] usable, not backwards, not overlapping. */
static int check_parts(const struct gpt_part *v, size_t n, uint64_t first, uint64_t last, char **reterr)
{
    for (size_t i = 0; i < n; i++) {
        const struct gpt_part *p = &v[i];
        if (p->last_lba < p->first_lba)
            return err_setf(reterr, -EINVAL, "GPT partition %u ends before it starts (LBA %llu-%llu)", p->number,
                            (unsigned long long)p->first_lba, (unsigned long long)p->last_lba);
        if (p->first_lba < first || p->last_lba > last)
            return err_setf(reterr, -EINVAL, "GPT partition %u (LBA %llu-%llu) lies outside the disk's usable area (LBA %llu-%llu)",
                            p->number, (unsigned long long)p->first_lba, (unsigned long long)p->last_lba,
                            (unsigned long long)first, (unsigned long long)last);
    }
    if (n == 0) return 0; /* a GPT with no partitions is valid */
    struct gpt_part *s = xmalloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_first_lba);
    int r = 0;
    for (size_t i = 1; i < n && !r; i++)
        if (s[i].first_lba <= s[i - 1].last_lba) {
            const struct gpt_part *a = s[i - 1].number < s[i].number ? &s[i - 1] : &s[i], *b = a == &s[i] ? &s[i - 1] : &s[i];
            err_setf(reterr, 0, "GPT partitions %u and %u overlap (LBA %llu-%llu and %llu-%llu)", a->number, b->number,
                     (unsigned long long)a->first_lba, (unsigned long long)a->last_lba, (unsigned long long)b->first_lba,
                     (unsigned long long)b->last_lba);
            r = -EINVAL;
        }
    free(s);
    return r;
}

/* Reads and checks the header at lba; on success fills the entries. */
static int read_table(struct disk *d, uint64_t lba, struct guid *dg, struct gpt_part **parts, size_t *n, char **reterr)
{
    uint8_t h[SECTOR];
    int r = disk_pread(d, h, SECTOR, lba * SECTOR);
    if (r < 0) return err_setf(reterr, r, "cannot read the GPT header: %s", disk_strerror(d, r));
    if (memcmp(h, "EFI PART", 8)) return err_setf(reterr, -ENOENT, "no GPT header (not a GPT disk)");
    uint32_t hs = get_le32(h + 12);
    if (hs < HDR || hs > SECTOR) return err_setf(reterr, -EBADMSG, "GPT header size is invalid");
    uint32_t want = get_le32(h + 16);
    put_le32(h + 16, 0);
    if ((uint32_t)crc32(0, h, hs) != want) return err_setf(reterr, -EBADMSG, "GPT header CRC does not match");
    uint64_t elba = get_le64(h + 72), nsec = disk_size(d) / SECTOR;
    uint64_t first = get_le64(h + 40), last = get_le64(h + 48);
    uint32_t count = get_le32(h + 80), esize = get_le32(h + 84);
    if (esize < ENTRY || esize > 4096 || esize % 8 || count > 1024)
        return err_setf(reterr, -EBADMSG, "GPT entry array size is out of range");
    uint64_t bytes = (uint64_t)count * esize;
    if (elba > nsec || bytes > disk_size(d) - elba * SECTOR)
        return err_setf(reterr, -EBADMSG, "GPT entry array lies outside the disk");
    if (first > last || last >= nsec)
        return err_setf(reterr, -EBADMSG, "GPT header: the usable area (LBA %llu-%llu) does not fit the disk's %llu sectors",
                        (unsigned long long)first, (unsigned long long)last, (unsigned long long)nsec);
    uint8_t *arr = xmalloc(bytes + 1);
    if ((r = disk_pread(d, arr, bytes, elba * SECTOR)) < 0) {
        free(arr);
        return err_setf(reterr, r, "cannot read the GPT entries: %s", disk_strerror(d, r));
    }
    if ((uint32_t)crc32(0, arr, (uInt)bytes) != get_le32(h + 88)) {
        free(arr);
        return err_setf(reterr, -EBADMSG, "GPT entry array CRC does not match");
    }
    memcpy(dg->b, h + 56, 16);
    struct gpt_part *v = NULL;
    size_t nv = 0, cap = 0;
    static const uint8_t zero[16];
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = arr + (uint64_t)i * esize;
        if (!memcmp(e, zero, 16)) continue;
        struct gpt_part *p = APPEND(v, nv, cap);
        memset(p, 0, sizeof *p);
        memcpy(p->type.b, e, 16);
        memcpy(p->uuid.b, e + 16, 16);
        p->first_lba = get_le64(e + 32);
        p->last_lba = get_le64(e + 40);
        p->attrs = get_le64(e + 48);
        p->number = i + 1;
        for (size_t k = 0; k < 36; k++) {
            uint16_t c = get_le16(e + 56 + 2 * k);
            if (!c) break;
            p->name[k] = c < 0x80 && c >= 0x20 ? (char)c : '?';
        }
    }
    free(arr);
    if ((r = check_parts(v, nv, first, last, reterr)) < 0) {
        free(v);
        return r;
    }
    *parts = v;
    *n = nv;
    return 0;
}

int gpt_read(struct disk *d, struct guid *disk_guid, struct gpt_part **parts, size_t *n, char **reterr)
{
    _cleanup_free_ char *why = NULL, *why2 = NULL;
    if (disk_size(d) < 4 * SECTOR) return err_setf(reterr, -ENOENT, "disk is too small to hold a partition table");
    int r = read_table(d, 1, disk_guid, parts, n, &why);
    /* a table that reads fine but describes impossible partitions is wrong in both copies */
    if (r == 0) return 0;
    if (r != -ENOENT && r != -EBADMSG) return err_setf(reterr, r, "%s", why);
    int r2 = read_table(d, disk_size(d) / SECTOR - 1, disk_guid, parts, n, &why2);
    if (r2 == 0) return 0;
    if (r2 != -ENOENT && r2 != -EBADMSG) return err_setf(reterr, r2, "backup table: %s", why2);
    if (r == -ENOENT && r2 == -ENOENT) return err_setf(reterr, -ENOENT, "no GPT header (not a GPT disk)");
    return err_setf(reterr, -EBADMSG, "%s (backup: %s)", why, why2);
}

const char *gpt_type_name(const struct guid *type)
{
    static const struct { const char *guid, *name; } known[] = {
        {GPT_TYPE_ESP, "esp"},
        {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "linux-generic"},
        {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "swap"},
        {"21686148-6449-6E6F-744E-656564454649", "bios-boot"},
    };
    char s[37];
    guid_format(type, s);
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if (!strcasecmp(s, known[i].guid)) return known[i].name;
    size_t n;
    const struct kiln_arch *a = kiln_arch_all(&n);
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(s, a[i].gpt_root)) return a[i].gpt_root_name;
        if (!strcasecmp(s, a[i].gpt_usr)) return a[i].gpt_usr_name;
        if (!strcasecmp(s, a[i].gpt_usr_verity)) return a[i].gpt_usr_verity_name;
    }
    return NULL;
}
