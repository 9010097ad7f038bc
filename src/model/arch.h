/* CPU architectures kiln builds and boots images for: every per-architecture fact in one
 * table, so a build stage or the QEMU platform looks facts up instead of comparing names. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_arch {
    const char *name;          /* uname -m spelling, used in specs, runbooks and manifests: "x86_64" */
    const char *debian;        /* Debian architecture (dpkg --print-architecture): "amd64" */
    const char *rpm;           /* rpm's architecture (dnf --forcearch): "x86_64" */
    const char *multiarch;     /* Debian's multiarch tuple, its libraries' directory under /usr/lib: "x86_64-linux-gnu" */
    const char *binfmt;        /* binfmt_misc entry that runs its programs on another host: "qemu-x86_64" */
    uint16_t elf_machine;      /* e_machine of its ELF programs (elf.h: EM_X86_64 62, EM_AARCH64 183) */
    /* QEMU */
    const char *qemu;          /* system emulator binary, looked up in $PATH */
    const char *machine;       /* -machine type; ",accel=kvm|tcg" is appended */
    const char *tcg_cpu;       /* -cpu under TCG when the runbook names none */
    const char *const *fw_code; /* UEFI firmware code, candidate paths in order of preference */
    const char *const *fw_vars; /* its variable store template, same order */
    const char *fw_package;    /* the Debian package that ships them */
    /* Secure Boot (NULL: kiln offers none for this architecture): code that needs SMM, and
     * variable stores with keys enrolled and Secure Boot on (Debian's ovmf README.Debian) */
    const char *fw_code_secure;
    const char *fw_vars_ms;       /* Microsoft's KEK and db, the distribution's PK */
    const char *fw_vars_snakeoil; /* the test key shipped with its private key as PK, KEK and db */
    uint64_t pflash_bytes;     /* size each pflash device must have (0: the files' own size) */
    const char *console;       /* the serial console's device in the guest: "ttyS0" */
    /* UEFI boot (UEFI specification 2.10, 3.5.1.1: removable media boot file names) */
    const char *efi_boot;      /* \EFI\BOOT\ file name: "BOOTX64.EFI" */
    const char *systemd_boot;  /* systemd-boot's file in /usr/lib/systemd/boot/efi/ */
    /* Debian's Microsoft-signed chain (packages shim-signed, grub-efi-ARCH-signed): the
     * architecture's short EFI name in shimSHORT.efi.signed / mmSHORT.efi.signed, and GRUB's
     * signed directory and file under /usr/lib/grub/ */
    const char *efi_short;     /* "x64" */
    const char *grub_signed;   /* "x86_64-efi-signed/grubx64.efi.signed" */
    const char *grub_package;  /* "grub-efi-amd64-signed" */
    /* GPT partition types (UAPI Discoverable Partitions Specification) */
    const char *gpt_root, *gpt_usr, *gpt_usr_verity;
    /* their names in the same specification (kiln's inspect and manifest say these) */
    const char *gpt_root_name, *gpt_usr_name, *gpt_usr_verity_name;
};

/* The architecture named name (its uname -m spelling), or NULL. */
const struct kiln_arch *kiln_arch_find(const char *name);
/* Every architecture kiln knows; *n gets their number. */
const struct kiln_arch *kiln_arch_all(size_t *n);
/* The default for specs and runbooks that name none: x86_64. */
const struct kiln_arch *kiln_arch_default(void);
/* The architecture kiln itself runs on (compile time), or NULL when the table lacks it. */
const struct kiln_arch *kiln_arch_host(void);
/* NULL-terminated list of every name, for "expected one of" diagnostics and y_enum. */
const char *const *kiln_arch_names(void);
struct diags;
struct ynode;
/* The architecture a spec's or runbook's arch: value n names (its uname -m spelling) into
 * *out; false with a diagnostic at n otherwise, naming the spelling meant when n is another
 * one of it (Debian's "arm64", "AARCH64"). */
bool kiln_arch_y(struct diags *d, const struct ynode *n, const char *path, const struct kiln_arch **out);
