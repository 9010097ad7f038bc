/* platform.qemu of a runbook (docs/runbook.md) into a struct kiln_qemu_conf. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/qemu.h"
#include "platform/vfio.h"
#include "runbook/runbook.h"
#include "util/util.h"


/* A name or channel as the gallery writes them: letters, digits, . _ - (at most 64). */
static void gallery_word(const struct ynode *x, const char *p, struct diags *d, char **out)
{
    if (!y_str(d, x, p, out)) return;
    size_t n = strlen(*out);
    if (!n || n > 64 || (*out)[strspn(*out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] || (*out)[0] == '.')
        diag_add(d, x, p, "\"%.64s\" is not an image name, channel or version (letters, digits, . _ -)", *out);
}

/* platform.qemu.update: {gallery, name, channel} (docs/updates.md) */
static void parse_update(const struct ynode *n, struct kiln_qemu_update *u, struct diags *d)
{
    static const char *const keys[] = {"gallery", "name", "channel", "target", "broken", "untrusted_key", NULL};
    const char *path = "platform.qemu.update";
    if (!y_expect(d, n, path, YN_MAP)) return;
    y_check_keys(d, n, path, keys);
    const struct ynode *x;
    if ((x = FIELD(n, "gallery"))) runbook_get_path(d, x, "platform.qemu.update.gallery", &u->gallery);
    else diag_add(d, n, path, "needs \"gallery\" (the gallery directory kiln serve --gallery answers from)");
    if ((x = FIELD(n, "name"))) gallery_word(x, "platform.qemu.update.name", d, &u->name);
    else diag_add(d, n, path, "needs \"name\" (the image name the update cases roll out)");
    if ((x = FIELD(n, "channel"))) gallery_word(x, "platform.qemu.update.channel", d, &u->channel);
    else u->channel = xstrdup("stable");
    if ((x = FIELD(n, "target"))) gallery_word(x, "platform.qemu.update.target", d, &u->target);
    if ((x = FIELD(n, "broken"))) gallery_word(x, "platform.qemu.update.broken", d, &u->broken);
    if ((x = FIELD(n, "untrusted_key"))) runbook_get_path(d, x, "platform.qemu.update.untrusted_key", &u->untrusted_key);
}

/* "DDDD:BB:DD.F" in hex (the PCI address form of sysfs and lspci -D). */
/* What the guest boots: image, or kernel (with initrd and append), under firmware. */
static void parse_boot(const struct ynode *n, const char *path, struct kiln_qemu_conf *q, struct diags *d)
{
    static const char *const fw[] = {"bios", "uefi", NULL};
    const struct ynode *x;
    if ((x = FIELD(n, "image"))) { SUBPATH(p, path, "image"); runbook_get_path(d, x, p, &q->image); }
    if ((x = FIELD(n, "kernel"))) { SUBPATH(p, path, "kernel"); runbook_get_path(d, x, p, &q->kernel); }
    if ((x = FIELD(n, "initrd"))) { SUBPATH(p, path, "initrd"); runbook_get_path(d, x, p, &q->initrd); }
    if ((x = FIELD(n, "append"))) { SUBPATH(p, path, "append"); y_str(d, x, p, &q->append); }
    if ((x = FIELD(n, "firmware"))) { SUBPATH(p, path, "firmware"); y_enum(d, x, p, fw, &q->firmware); }
}

/* The virtual machine: accel, arch, cpu_model, memory_mb, cpus and the boot time limits. */
static void parse_machine(const struct ynode *n, const char *path, struct kiln_qemu_conf *q, struct diags *d)
{
    static const char *const accel[] = {"auto", "kvm", "tcg", NULL};
    const struct ynode *x;
    if ((x = FIELD(n, "accel"))) { SUBPATH(p, path, "accel"); y_enum(d, x, p, accel, &q->accel); }
    if ((x = FIELD(n, "arch"))) {
        SUBPATH(p, path, "arch");
        kiln_arch_y(d, x, p, &q->arch);
    }
    if ((x = FIELD(n, "cpu_model"))) {
        SUBPATH(p, path, "cpu_model");
        y_str(d, x, p, &q->cpu_model);
        /* a qemu -cpu model: a name with optional ,+feature/-feature flags */
        if (q->cpu_model && (!*q->cpu_model || q->cpu_model[strspn(q->cpu_model, "abcdefghijklmnopqrstuvwxyz"
                                                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,+=")]))
            diag_add(d, x, p, "expected a qemu CPU model such as host, max, qemu64 or Skylake-Server,-hle "
                              "(see qemu-system-x86_64 -cpu help, or qemu-system-aarch64 for arch aarch64)");
    }
    if ((x = FIELD(n, "memory_mb"))) { SUBPATH(p, path, "memory_mb"); y_long(d, x, p, 64, 1 << 20, &q->memory_mb); }
    if ((x = FIELD(n, "cpus"))) { SUBPATH(p, path, "cpus"); y_long(d, x, p, 1, 64, &q->cpus); }
    if ((x = FIELD(n, "boot_timeout_s"))) {
        SUBPATH(p, path, "boot_timeout_s");
        y_long(d, x, p, 1, 86400, &q->boot_timeout_s);
    }
    if ((x = FIELD(n, "booted_grace_s"))) {
        SUBPATH(p, path, "booted_grace_s");
        y_long(d, x, p, 0, 86400, &q->booted_grace_s);
    }
}

/* secure_boot: a named variable store (ms, snakeoil, off) or a file of the user's; UEFI only. */
static void parse_secure_boot(const struct ynode *x, const char *p, struct kiln_qemu_conf *q, struct diags *d)
{
    static const char *const sb[] = {"off", "ms", "snakeoil", NULL};
    const char *v = x->kind == YN_SCALAR ? x->scalar : NULL;
    int i = 0;
    while (v && sb[i] && !streq(sb[i], v)) i++;
    if (v && sb[i]) q->secure_boot = i;
    else if (runbook_get_path(d, x, p, &q->secure_boot_vars)) {
        /* anything else names a variable store of the user's (their own keys enrolled) */
        q->secure_boot = SB_FILE;
        if (access(q->secure_boot_vars, R_OK) != 0)
            diag_add(d, x, p, "expected ms, snakeoil, off or an OVMF variable store file; %s: %s",
                     q->secure_boot_vars, strerror(errno));
    }
    if (q->secure_boot != SB_OFF && q->firmware != FW_UEFI)
        diag_add(d, x, p, "Secure Boot needs UEFI firmware; add \"firmware: uefi\" to platform.qemu");
}

static void parse_gpu(const struct ynode *x, const char *p, struct kiln_qemu_conf *q, struct diags *d)
{
    if (!y_str_list(d, x, p, &q->gpu, &q->ngpu)) return;
    for (size_t i = 0; i < q->ngpu; i++)
        if (!vfio_pci_address_ok(q->gpu[i]))
            diag_add(d, x->kind == YN_SEQ && i < x->n ? x->items[i] : x, p, "\"%s\" " VFIO_NOT_PCI_ADDRESS, q->gpu[i]);
}

void qemu_conf_parse(const struct ynode *n, struct diags *d, void **conf)
{
    static const char *const keys[] = {"image", "firmware", "kernel", "initrd", "append", "memory_mb",
                                       "cpus", "accel", "cpu_model", "boot_timeout_s", "booted_grace_s", "arch", "secure_boot", "update", "gpu", NULL};
    const char *path = "platform.qemu";
    struct kiln_qemu_conf *q = xcalloc(1, sizeof *q);
    *conf = q;
    q->memory_mb = 1024;
    q->cpus = 2;
    q->boot_timeout_s = 300;
    q->booted_grace_s = 60;
    if (!y_expect(d, n, path, YN_MAP)) return;
    y_check_keys(d, n, path, keys);
    parse_boot(n, path, q, d);
    parse_machine(n, path, q, d);
    const struct ynode *x;
    if ((x = FIELD(n, "secure_boot"))) { SUBPATH(p, path, "secure_boot"); parse_secure_boot(x, p, q, d); }
    if ((x = FIELD(n, "update"))) parse_update(x, &q->update, d);
    if ((x = FIELD(n, "gpu"))) { SUBPATH(p, path, "gpu"); parse_gpu(x, p, q, d); }
    if (!q->image && !q->kernel)
        diag_add(d, n, path, "needs \"image\" (a raw, qcow2 or VHD disk) or \"kernel\" (direct kernel boot)");
    if (q->initrd && !q->kernel) diag_add(d, FIELD(n, "initrd"), path, "\"initrd\" needs \"kernel\"");
}

void qemu_conf_free(void *conf)
{
    struct kiln_qemu_conf *q = conf;
    if (!q) return;
    free(q->image);
    free(q->kernel);
    free(q->initrd);
    free(q->append);
    free(q->cpu_model);
    free(q->secure_boot_vars);
    for (size_t i = 0; i < q->ngpu; i++) free(q->gpu[i]);
    free(q->gpu);
    free(q->update.gallery);
    free(q->update.name);
    free(q->update.channel);
    free(q->update.target);
    free(q->update.broken);
    free(q->update.untrusted_key);
    free(q);
}

size_t qemu_conf_tested_files(const void *conf, struct kiln_platform_file *out, size_t max)
{
    const struct kiln_qemu_conf *q = conf;
    const struct kiln_platform_file all[] = {{"image", "platform.qemu.image", q->image},
                                             {"kernel", "platform.qemu.kernel", q->kernel},
                                             {"initrd", "platform.qemu.initrd", q->initrd}};
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(all) && n < max; i++)
        if (all[i].path) out[n++] = all[i];
    return n;
}

const char *qemu_conf_kernel_args(const void *conf, const char **key)
{
    const struct kiln_qemu_conf *q = conf;
    *key = "platform.qemu.append";
    return q->kernel ? q->append : NULL;
}
