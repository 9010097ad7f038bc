/* The qemu platform's configuration (the runbook's platform.qemu, docs/runbook.md), parsed by
 * qemu_conf.c, and what the host can give its guests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/arch.h"
#include "util/yaml.h"

struct kiln_platform_file;

enum kiln_firmware { FW_BIOS, FW_UEFI };
enum kiln_accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
/* platform.qemu.secure_boot: which variable store the Secure Boot firmware starts from */
enum kiln_secure_boot { SB_OFF, SB_MS, SB_SNAKEOIL, SB_FILE };

struct kiln_qemu_conf {
    char *image;            /* absolute path, or NULL with kernel set */
    int firmware;           /* enum kiln_firmware */
    char *kernel, *initrd, *append;
    long memory_mb, cpus;
    int accel;              /* enum kiln_accel */
    char *cpu_model;        /* qemu -cpu; NULL: "host" under KVM, the architecture's default under TCG */
    const struct kiln_arch *arch; /* the guest's; NULL: from the image's manifest, else x86_64 */
    long boot_timeout_s;
    /* a guest whose console showed it booted (login prompt, multi-user) and nothing of its
     * network fails this long after that line instead of at boot_timeout_s; 0: never early */
    long booted_grace_s;
    int secure_boot;        /* enum kiln_secure_boot; not SB_OFF only with firmware uefi */
    char *secure_boot_vars; /* SB_FILE: absolute path of the variable store each node gets a copy of */
    /* platform.qemu.gpu: host PCI devices ("DDDD:BB:DD.F") bound to vfio-pci that each node of
     * an environment with feature gpu is given (with $KILN_GPU's, which the host declares) */
    char **gpu;
    size_t ngpu;
    /* platform.qemu.update: the update server kiln serves the guests (feature update) */
    struct kiln_qemu_update {
        char *gallery;      /* absolute path of a gallery directory; NULL: no update server */
        char *name;         /* the image name the cases roll out (the Omaha appid) */
        char *channel;      /* the channel (default "stable") */
        char *target;       /* the version the update cases move machines to (NULL: not named) */
        char *broken;       /* a newer one whose health check fails (the rollback case) */
        char *untrusted_key; /* absolute path of a minisign secret key (no passphrase) the images
                              * must not trust, for the tampered case; NULL: the case makes one */
    } update;
};

/* The platform vtable's parse_conf and free_conf for platform.qemu: *conf is a struct
 * kiln_qemu_conf with the defaults (1024 MiB, 2 CPUs, boot_timeout_s 300, booted_grace_s 60)
 * under what n sets; errors go to d at file:line:col. */
void qemu_conf_parse(const struct ynode *n, struct diags *d, void **conf);
void qemu_conf_free(void *conf);
/* The vtable's tested_files: image, kernel, initrd, those that are set, in that order. */
size_t qemu_conf_tested_files(const void *conf, struct kiln_platform_file *out, size_t max);
/* The vtable's kernel_args: append, with direct kernel boot only (an image's boot loader
 * chooses its own command line). */
const char *qemu_conf_kernel_args(const void *conf, const char **key);

/* What the qemu platform can give guests of arch (NULL: the host's) on this host, from
 * evidence, as FEAT_* bits: uefi when the firmware code and variable template exist; tpm when
 * the swtpm deploy would use ($KILN_SWTPM, else $PATH; empty $KILN_SWTPM: none) runs and
 * answers --print-capabilities within 10 s; secure-boot when OVMF's SMM build and its
 * variable store with Microsoft's keys exist (platform.qemu.secure_boot: ms). *reterr (why may
 * be NULL; a malloc'd string) gets what is missing and why. kiln worker declares these. */
unsigned kiln_qemu_host_features(const struct kiln_arch *arch, char **reterr);
