/* The architecture table. Firmware paths are Debian's (ovmf, qemu-efi-aarch64); GPT type
 * GUIDs from the UAPI Group's Discoverable Partitions Specification (`systemd-id128 show
 * root-arm64` prints them too). */
#include "model/arch.h"

#include <elf.h>
#include <pthread.h>
#include <strings.h>

#include "util/util.h"
#include "util/yaml.h"

static const char *const ovmf_code[] = {"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd", NULL};
static const char *const ovmf_vars[] = {"/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd", NULL};
static const char *const aavmf_code[] = {"/usr/share/AAVMF/AAVMF_CODE.fd", NULL};
static const char *const aavmf_vars[] = {"/usr/share/AAVMF/AAVMF_VARS.fd", NULL};

static const struct kiln_arch arches[] = {
    {
        .name = "x86_64", .debian = "amd64", .rpm = "x86_64", .multiarch = "x86_64-linux-gnu", .binfmt = "qemu-x86_64", .elf_machine = EM_X86_64,
        .qemu = "qemu-system-x86_64", .machine = "q35", .tcg_cpu = "max",
        .fw_code = ovmf_code, .fw_vars = ovmf_vars, .fw_package = "ovmf", .pflash_bytes = 0,
        .fw_code_secure = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
        .fw_vars_ms = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
        .fw_vars_snakeoil = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
        .console = "ttyS0",
        .efi_boot = "BOOTX64.EFI", .systemd_boot = "systemd-bootx64.efi",
        .efi_short = "x64", .grub_signed = "x86_64-efi-signed/grubx64.efi.signed", .grub_package = "grub-efi-amd64-signed",
        .gpt_root = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        .gpt_usr = "8484680C-9521-48C6-9C11-B0720656F69E",
        .gpt_usr_verity = "77FF5F63-E7B6-4633-ACF4-1565B864C0E6",
        .gpt_root_name = "root-x86-64", .gpt_usr_name = "usr-x86-64", .gpt_usr_verity_name = "usr-x86-64-verity",
    },
    {
        /* virt is the machine made for guests (PCIe, GICv2, PL011 UART = ttyAMA0); cortex-a57
         * is cheaper to emulate than max (no pointer authentication), which the Debian
         * kernel does not need. QEMU's virt board wants both pflash devices 64 MiB. */
        .name = "aarch64", .debian = "arm64", .rpm = "aarch64", .multiarch = "aarch64-linux-gnu", .binfmt = "qemu-aarch64", .elf_machine = EM_AARCH64,
        .qemu = "qemu-system-aarch64", .machine = "virt", .tcg_cpu = "cortex-a57",
        .fw_code = aavmf_code, .fw_vars = aavmf_vars, .fw_package = "qemu-efi-aarch64",
        .pflash_bytes = 64ull << 20,
        .console = "ttyAMA0",
        .efi_boot = "BOOTAA64.EFI", .systemd_boot = "systemd-bootaa64.efi",
        .efi_short = "aa64", .grub_signed = "arm64-efi-signed/grubaa64.efi.signed", .grub_package = "grub-efi-arm64-signed",
        .gpt_root = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
        .gpt_usr = "B0E01050-EE5F-4390-949A-9101B17104E9",
        .gpt_usr_verity = "6E11A4E7-FBCA-4DED-B9E9-E1A512BB664E",
        .gpt_root_name = "root-arm64", .gpt_usr_name = "usr-arm64", .gpt_usr_verity_name = "usr-arm64-verity",
    },
};

/* the table's names in its order, NULL-terminated: made from it once, so a row is the one
 * place an architecture is named */
static const char *names[ARRAY_SIZE(arches) + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_fill(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(arches); i++) names[i] = arches[i].name;
}

const struct kiln_arch *kiln_arch_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(arches); i++)
        if (streq(arches[i].name, name)) return &arches[i];
    return NULL;
}

const struct kiln_arch *kiln_arch_all(size_t *n)
{
    *n = ARRAY_SIZE(arches);
    return arches;
}

const struct kiln_arch *kiln_arch_default(void)
{
    return &arches[0];
}

const struct kiln_arch *kiln_arch_host(void)
{
#if defined(__x86_64__)
    return kiln_arch_find("x86_64");
#elif defined(__aarch64__)
    return kiln_arch_find("aarch64");
#else
    return NULL;
#endif
}

const char *const *kiln_arch_names(void)
{
    pthread_once(&names_once, names_fill);
    return names;
}

bool kiln_arch_y(struct diags *d, const struct ynode *n, const char *path, const struct kiln_arch **out)
{
    int a;
    if (n && n->kind == YN_SCALAR)
        for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
            const struct kiln_arch *k = &arches[i];
            if (streq(n->scalar, k->name)) return *out = k, true;
            /* the other spellings people meet (dpkg's amd64/arm64, AARCH64): named, not guessed */
            if (streq(n->scalar, k->debian)) {
                diag_add(d, n, path, "\"%s\" is Debian's name for %s: write %s (kiln spells architectures as uname -m "
                                     "does)", n->scalar, k->name, k->name);
                return false;
            }
            if (!strcasecmp(n->scalar, k->name)) {
                diag_add(d, n, path, "\"%.40s\": write %s (kiln spells architectures as uname -m does, in lower case)",
                         n->scalar, k->name);
                return false;
            }
        }
    y_enum(d, n, path, kiln_arch_names(), &a);
    return false;
}
