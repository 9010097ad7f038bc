/* Whether a file is a bootable disk image: see imagecheck.h. */
#include "image/imagecheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/disk.h"
#include "image/gpt.h"
#include "util/util.h"

/* The MBR's partition table: the boot signature and at least one entry with a type. */
static bool mbr_table(const unsigned char s[512])
{
    if (s[510] != 0x55 || s[511] != 0xAA) return false;
    for (int i = 0; i < 4; i++)
        if (s[446 + 16 * i + 4] != 0) return true;
    return false;
}

/* What the first bytes of a disk without a partition table look like, for the message. */
static void describe_start(const unsigned char *b, size_t n, char *out, size_t sz)
{
    size_t text = 0;
    while (text < n && (b[text] == '\n' || b[text] == '\t' || b[text] == '\r' || (b[text] >= 0x20 && b[text] < 0x7f))) text++;
    if (n && text == n) {
        char quoted[48];
        size_t k = 0;
        for (size_t i = 0; i < n && k + 2 < sizeof quoted; i++) quoted[k++] = b[i] == '\n' || b[i] == '\t' || b[i] == '\r' ? ' ' : (char)b[i];
        quoted[k] = 0;
        snprintf(out, sz, "its first bytes are text (\"%s\")", quoted);
        return;
    }
    bool zero = true;
    for (size_t i = 0; i < n && zero; i++) zero = b[i] == 0;
    if (zero) snprintf(out, sz, "its first %zu bytes are zeros", n);
    else snprintf(out, sz, "its first bytes are %02x %02x %02x %02x, which no disk kiln reads starts with", n > 0 ? b[0] : 0,
                  n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n > 3 ? b[3] : 0);
}

int kiln_image_check(const char *path, struct kiln_image_facts *out, char **reterr)
{
    memset(out, 0, sizeof *out);
    struct disk *d = NULL;
    char *err = NULL;
    int r = disk_open(path, &d, &err);
    if (r < 0) {
        /* the reader names the file by its path on the server, which is not the tenant's to see */
        const char *e = err ? err : strerror(-r);
        size_t pl = strlen(path);
        if (!strncmp(e, path, pl) && !strncmp(e + pl, ": ", 2)) e += pl + 2;
        err_setf(reterr, 0, "it is not a disk image kiln reads: %s", e);
        free(err);
        return r == -ENOTSUP || r == -EINVAL ? -EINVAL : r;
    }
    snprintf(out->format, sizeof out->format, "%s", disk_format_name(disk_format(d)));
    struct guid g;
    struct gpt_part *parts = NULL;
    size_t n = 0;
    r = gpt_read(d, &g, &parts, &n, &err);
    if (r == 0) {
        snprintf(out->table, sizeof out->table, "gpt");
        bool esp = false, bios = false;
        for (size_t i = 0; i < n; i++) {
            const char *t = gpt_type_name(&parts[i].type);
            esp |= t && streq(t, "esp");
            bios |= t && streq(t, "bios-boot");
        }
        out->uefi_only = esp && !bios;
    } else if (r == -ENOENT) {
        unsigned char s[512] = {0};
        size_t len = disk_size(d) < sizeof s ? (size_t)disk_size(d) : sizeof s;
        r = disk_pread(d, s, len, 0);
        if (r < 0) err_setf(reterr, 0, "it cannot be read: %s", disk_strerror(d, r));
        else if (len == sizeof s && mbr_table(s)) {
            snprintf(out->table, sizeof out->table, "mbr");
        } else {
            char seen[96];
            describe_start(s, MIN(len, (size_t)40), seen, sizeof seen);
            out->no_table = true;
            err_setf(reterr, 0,
                     "it is not a bootable disk image: read as %s (%llu bytes) it has no partition table (GPT or MBR), and %s",
                     out->format, (unsigned long long)disk_size(d), seen);
            r = -EINVAL;
        }
    } else if (r == -EBADMSG || r == -EINVAL) {
        err_setf(reterr, 0, "its partition table is damaged: %s", err ? err : strerror(-r));
        r = -EINVAL;
    } else {
        err_setf(reterr, 0, "it cannot be read: %s", err ? err : strerror(-r));
    }
    free(err);
    free(parts);
    disk_close(d);
    return r < 0 ? r : 0;
}
