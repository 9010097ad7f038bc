/* kiln serve's look at a submission: see submitcheck.h. */
#include "service/submitcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/disk.h"
#include "image/gpt.h"
#include "run/select.h"
#include "runbook/runbook.h"
#include "util/fs.h"
#include "util/secret.h"
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
            r = err_setf(reterr, -EINVAL,
                         "it is not a bootable disk image: read as %s (%llu bytes) it has no partition table (GPT or MBR), and %s; "
                         "send the disk image itself (raw, qcow2 or VHD with a partition table, as kiln build writes), or an "
                         "initrd with --kernel",
                         out->format, (unsigned long long)disk_size(d), seen);
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

/* The diagnostics as kiln check prints them, each file named by its base name. */
static void diags_line(const struct diags *d, char **reterr)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        if (i == 5) {
            sbuf_printf(&b, "; ... and %zu more", d->n - i);
            break;
        }
        const struct diag *g = &d->v[i];
        const char *base = strrchr(g->file, '/') ? strrchr(g->file, '/') + 1 : g->file;
        sbuf_printf(&b, "%s%s", i ? "; " : "", base);
        if (g->line > 0) sbuf_printf(&b, ":%d:%d", g->line, g->col);
        sbuf_printf(&b, ": %s%s%s", g->path && *g->path ? g->path : "", g->path && *g->path ? ": " : "", g->msg);
    }
    /* the tenant's own secret variables too: a key spelt like one is named in its message */
    _cleanup_free_ char *masked = secret_mask(b.s ? b.s : "the runbook does not load");
    err_setf(reterr, 0, "%s", masked);
    sbuf_free(&b);
}

int kiln_runbook_check(const char *text, size_t len, const char *tmpdir, char **reterr)
{
    _cleanup_free_ char *tmpl = path_join(tmpdir, "runbook-XXXXXX");
    if (!mkdtemp(tmpl)) {
        int e = errno;
        return err_setf(reterr, -e, "cannot make a directory in %s: %s", tmpdir, strerror(e));
    }
    /* the platform is the service's (the worker adds its own): appended, so the tenant's lines
     * keep their numbers; after a document end marker ("...") it would start a second document */
    size_t keep = len;
    while (keep && (text[keep - 1] == '\n' || text[keep - 1] == ' ' || text[keep - 1] == '\r')) keep--;
    if (keep >= 3 && !memcmp(text + keep - 3, "...", 3) && (keep == 3 || text[keep - 4] == '\n')) len = keep - 3;
    _cleanup_free_ char *path = path_join(tmpl, "runbook.yml"),
                        *full = xasprintf("%.*s\nplatform: {type: qemu, qemu: {image: disk.qcow2}}\n", (int)len, text);
    int r = write_file_atomic(path, full, strlen(full), 0600);
    if (r < 0) {
        err_setf(reterr, 0, "cannot write %s: %s", path, strerror(-r));
        rm_rf(tmpl);
        return r;
    }
    struct diags d = {0}, warn = {0};
    struct kiln_runbook *rb = NULL;
    /* the runbook's secret variables are registered while it is checked, and only then */
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&one);
    size_t mark = secret_mark();
    r = runbook_load_warn(path, NULL, 0, &rb, &d, &warn);
    if (r == 0 && !d.n) {
        struct kiln_selected *sel = NULL;
        size_t n = select_cases(rb, &sel);
        free(sel);
        if (!n) diag_add_at(&d, path, 0, 0, "testcase", "the criteria select no case (see `kiln list`)");
    }
    if (d.n) {
        diags_line(&d, reterr);
        r = -EINVAL;
    } else if (r < 0) {
        err_setf(reterr, 0, "the runbook does not load: %s", strerror(-r));
        r = -EINVAL;
    }
    secret_release(mark);
    pthread_mutex_unlock(&one);
    runbook_free(rb);
    diags_free(&d);
    diags_free(&warn);
    rm_rf(tmpl);
    return r;
}
