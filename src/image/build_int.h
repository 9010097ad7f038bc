/* What the build stages share (image/build*.c, rootfs_*.c): the build context, which holds
 * every piece of a build's state, the stage table's row, the package-family vtable and the
 * helpers that run commands and report. Not for cmd/: it sees image/build.h only. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/build.h"
#include "image/gpt.h"
#include "image/pkgmgr.h"

struct json_t;
struct repo_src;
struct build_ctx;

/* A package family's way of making a package tree and of naming its parts (rootfs_deb.c,
 * rootfs_rpm.c): the build asks the vtable, never which family it is. */
struct pkg_family_ops {
    enum pkg_family family;
    const char *name;        /* "deb" | "rpm": the manifest, SBOMs, provenance, trust/pkgdb */
    const char *db_path;     /* the package database in the tree: "var/lib/dpkg" | PKGDB_RPM_DBPATH */
    const char *pkg_cache;   /* downloaded packages, under kiln's cache: "build/debs" | "build/dnf" */
    const char *initrd_tool; /* the package that makes the initrd: "initramfs-tools" | "dracut" */
    /* How create makes a tree, for the cache key (build_tree.c): a new value when the same spec
     * would give another tree, so trees cached before are not taken for it; NULL: the first way. */
    const char *tree_recipe;
    /* what packages.install needs for a kernel, for the message when the tree has none */
    char *(*kernel_packages)(const struct kiln_arch *a);
    /* The repositories the package manager reads for spec s, in the order it is given them: for
     * deb the mirror's suite, SUITE-updates and the host's SUITE-security (releases only), then
     * base.repos; for rpm base.repos with dnf's variables expanded. Returns how many (*out: free
     * with repo_srcs_free). */
    size_t (*sources)(const struct image_spec *s, struct repo_src **out);
    /* The package tree at dest (a new directory): packages.install, then packages.remove. 0, or
     * a negative errno after a BUILD_ERROR (-EINTR when interrupted). */
    int (*create)(struct build_ctx *c, const char *dest);
    /* packages.package_manager: remove: the family's front ends (image/pkgmgr.h) */
    pkgmgr_front_ends_fn pkgmgr_front_ends;
    /* Files the tree maker copies from the build host into the tree and leaves there, paths in
     * the tree, NULL-terminated (deb: mmdebstrap copies the host's /etc/resolv.conf and
     * /etc/hostname "for debootstrap compatibility", man mmdebstrap), or NULL for none. The
     * customize stage removes each that is a regular file no package lists (host_copies_remove). */
    const char *const *host_copies;
    /* Whether an installed package lists /rel (deb: var/lib/dpkg/info/ *.list); NULL: none does. */
    bool (*owned)(int root_fd, const char *rel);
};
extern const struct pkg_family_ops family_deb, family_rpm;
/* The vtable of the spec's family (FAMILY_DEB or FAMILY_RPM). */
const struct pkg_family_ops *pkg_family_ops(enum pkg_family f);

/* One row of the build: run it when enabled(spec, opts) (NULL: every build; opts say the
 * outputs asked for). run returns 0 or a negative errno after a BUILD_ERROR; it may leave a
 * note for its closing line (build_note). */
struct build_stage {
    const char *name;
    int (*run)(struct build_ctx *c);
    bool (*enabled)(const struct image_spec *s, const struct build_opts *o);
};
/* Whether the build needs the tree's kernel and initrd (build.c): for a disk (raw, qcow2, VHD
 * among the outputs asked for), the immutable layout or a signed kernel (the ESP stage runs).
 * A rootfs archive alone (output: [tar], or --format tar) does not: a WSL or container rootfs
 * has no kernel of its own; one the tree has is still written for direct boot. */
bool build_needs_kernel(const struct image_spec *s, const struct build_opts *o);
/* The stages in the order they run (build.c); *n gets how many. */
const struct build_stage *build_stages(size_t *n);

int stage_rootfs(struct build_ctx *c);    /* build_tree.c */
int stage_customize(struct build_ctx *c); /* build_customize.c */
/* Removes from the tree at root_fd family f's host_copies that are regular files (not symlinks)
 * no package owns, so no image carries its builder's resolver or name; returns how many. Runs
 * on the build's copy of the cached tree, before os.hostname and os.files write theirs. */
int host_copies_remove(const struct pkg_family_ops *f, int root_fd);
int stage_usr(struct build_ctx *c);       /* build_disk.c */
int stage_root_fs(struct build_ctx *c);
int stage_esp(struct build_ctx *c);
int stage_disk(struct build_ctx *c);
int stage_outputs(struct build_ctx *c);   /* build_outputs.c */
int stage_manifest(struct build_ctx *c);  /* build_manifest.c */
/* The tree's packages from its own database (trust/pkgdb), into c->pkgs and the manifest
 * (build_manifest.c). */
int manifest_packages(struct build_ctx *c);
/* Reads what the manifest needs of the tree (os-release, each package's license) into
 * c->os_release and c->licenses, so the tree can go before the manifest stage. */
void manifest_read_tree(struct build_ctx *c);

/* The modules boot.initrd_modules: vm puts into the initrd: what a VM's root disk needs on
 * QEMU/KVM, Hyper-V and Azure (virtio PCI and MMIO, virtio-blk, virtio-scsi, AHCI and the PIIX
 * IDE of QEMU's pc machine, NVMe, SCSI disks and CD-ROMs, Hyper-V's VMBus storvsc and keyboard),
 * the root filesystems (ext4, xfs, btrfs, erofs, squashfs), device mapper for dm-crypt and
 * dm-verity, and the TPM for a sealed key. The initrd tools add each one's dependencies; a name
 * the kernel does not have (ata_piix on arm64) is skipped. */
#define KILN_VM_INITRD_DRIVERS "virtio_pci virtio_mmio virtio_blk virtio_scsi ahci ata_piix nvme sd_mod sr_mod " \
                               "hv_vmbus hv_storvsc hyperv_keyboard ext4 xfs btrfs erofs squashfs dm_mod dm_crypt " \
                               "dm_verity tpm_crb tpm_tis"
/* dracut's configuration for boot.initrd_modules: vm: no host-only initrd (it is made in the
 * build's tree, not on the machine that boots it) and KILN_VM_INITRD_DRIVERS as its exclusive
 * driver list (its dm, crypt and tpm2-tss modules still add their own). */
#define KILN_VM_DRACUT_CONF "# made by kiln build (boot.initrd_modules: vm)\nhostonly=\"no\"\n" \
                            "drivers=\" " KILN_VM_INITRD_DRIVERS " \"\n"
#define KILN_VM_DRACUT_CONF_PATH "etc/dracut.conf.d/80-kiln-initrd-modules.conf"
/* mmdebstrap's --customize-hook=... that makes each installed kernel's initrd once, at the end of
 * the bootstrap (rootfs_deb.c runs mmdebstrap with INITRD=No), after writing the initrd tool's
 * configuration for boot.initrd_modules: vm. */
char *deb_initrd_hook(const struct image_spec *s);

enum { BUILD_MAX_PARTS = 8 };

/* A partition of the disk being made, in disk order. */
struct part_plan {
    const char *type_guid, *name;
    char *img;           /* file to copy in, or NULL for an empty partition */
    struct guid uuid;
    uint64_t bytes;      /* 0 for the last: the rest of the disk */
    struct json_t *fs;   /* the manifest's "filesystem", or NULL */
    bool keep;           /* img stays after the disk is made (the update payload) */
};

struct build_ctx {
    const struct image_spec *spec;
    const struct build_opts *opts;
    const struct pkg_family_ops *family;
    char **env;       /* every command's environment: kiln's, with SOURCE_DATE_EPOCH and
                       * E2FSPROGS_FAKE_TIME set to the build's epoch */
    char *work;       /* temp dir for this build */
    char *root;       /* work/root: the tree that becomes the root filesystem */
    int root_fd;      /* root, opened once the tree is there: every access goes through util/inroot */
    char *log_path;   /* work/build.log, copied next to the outputs on failure */
    int log_fd;
    long epoch;       /* SOURCE_DATE_EPOCH */
    int64_t started;  /* wall clock at the start, for the provenance */
    bool epoch_given; /* set by the user rather than defaulted to the build time */
    char *seed;       /* name, version, epoch: every derived id starts here */
    char *base;       /* NAME-VERSION: every artifact's name starts here */
    char *kver;       /* kernel version found in the tree */
    /* the stage running, for its lines */
    const char *stage;
    int stage_no, nstages;
    double stage_t0;
    char *note;       /* what the stage's closing line adds, or NULL */
    /* immutable layout */
    bool usr_moved;   /* root/usr lives in work/usr while the root filesystem is made */
    char usr_hash[65];
    uint64_t usr_bytes, verity_bytes; /* partition sizes, per slot */
    /* the disk */
    uint64_t disk_bytes, esp_bytes, root_bytes;
    bool root_in_disk; /* the root filesystem was made in work/disk.raw at its partition's offset */
    struct part_plan plan[BUILD_MAX_PARTS];
    size_t nplan;
    /* outputs: staged in stage_dir (OUT/.kiln-build-PID), moved into OUT by the manifest stage */
    char *stage_dir;
    char *manifest_name;     /* NAME-VERSION.manifest.json */
    struct json_t *manifest; /* filled by the stages, written last */
    struct json_t *repos;    /* the repository snapshot the package tree was built from, or NULL */
    struct json_t *pm_removed; /* packages.package_manager: remove: the removed paths (manifest), else NULL */
    struct json_t *pkgs;     /* the tree's packages (trust/pkgdb) */
    /* what the manifest reads of the tree, read before the tree is removed (manifest_read_tree) */
    struct json_t *os_release; /* the tree's os-release as a JSON object */
    struct json_t *licenses;   /* each package's declared license (image/sbom.h's sbom_licenses) */
    /* the tree removed by a thread of its own while the outputs are hashed (tree_release) */
    pthread_t tree_rm;
    bool tree_rm_running;
    bool out_made;  /* build_setup made the output directory (it did not exist) */
    bool published; /* the outputs are in the output directory: an interrupt no longer undoes the build */
};

/* Runs argv with output appended to the build log, in env (build_run: c->env); on failure
 * reports the command and the last lines of its output under stage and returns -EIO (-EINTR
 * when kiln was interrupted). */
int build_run_env(struct build_ctx *c, const char *stage, char *const argv[], char *const env[]);
int build_run(struct build_ctx *c, const char *stage, char *const argv[]);
/* build_run_env for the package manager (mmdebstrap --verbose, dnf): its output still goes
 * whole to the build log, and what it is doing (image/pkg_progress.h) is reported as
 * BUILD_PROGRESS events while it runs. */
int build_run_pkgmgr(struct build_ctx *c, const char *stage, char *const argv[], char *const env[]);
/* build_run for a long command that prints little (cp of a whole tree): label ("copying the
 * package tree") is reported as a step, then as the live text with its seconds. */
int build_run_step(struct build_ctx *c, const char *stage, const char *label, char *const argv[]);
/* Reports a BUILD_PROGRESS event under the running stage (image/build.h says what each field is). */
void build_progress(struct build_ctx *c, bool step, const char *text, uint64_t done, uint64_t total, double seconds);
/* Like build_run, in a tree: chroot ROOT argv... (build_chroot: the build's tree). */
int build_chroot_at(struct build_ctx *c, const char *stage, const char *root, char *const argv[]);
int build_chroot(struct build_ctx *c, const char *stage, char *const argv[]);
/* Reports a BUILD_ERROR under stage and returns -EIO. */
int build_error(struct build_ctx *c, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The one message of an interrupted build, "STAGE: interrupted; no output kept in OUT" (a
 * BUILD_ERROR): returns -EINTR. */
int build_interrupted(struct build_ctx *c, const char *stage);
/* Whether the stage's clock (c->stage_t0) has passed another whole second since *shown, which
 * it then updates: the live line's ticks, one per number it shows. */
bool build_tick_due(const struct build_ctx *c, int *shown);
/* Reports a BUILD_INFO, BUILD_NOTE or BUILD_WARNING event (stage may be NULL). */
void build_say(struct build_ctx *c, enum build_event_kind kind, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets what the running stage's closing line adds. */
void build_note(struct build_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The tree, through util/inroot: paths resolve as they would in the image (var/run -> /run is
 * the tree's run/), so no spec value or symlink in the package tree can make kiln write, read
 * or delete on the build host (build_tree.c). */
bool tree_has(struct build_ctx *c, const char *rel);
/* The build-host path of a file in the tree, for the tools that read it (mcopy, cp), or NULL. */
char *tree_path(struct build_ctx *c, const char *rel);
/* The tree's initrd for c->kver (Debian's initrd.img-KVER or dracut's initramfs-KVER.img),
 * relative to the tree, or NULL. */
char *tree_initrd(struct build_ctx *c);
/* Every mtime (and atime) under path (or of path, a file) no later than epoch, whole seconds. */
void clamp_tree(const char *path, long epoch);

/* Identity and boot (build_disk.c). A GUID derived from the build's seed and a label, as
 * lower-case text (fstab, UUIDs). */
char *partuuid_str(struct build_ctx *c, const char *label);
/* root=PARTUUID=... rw, the immutable layout's usr verity arguments, the spec's own. */
char *kernel_cmdline(struct build_ctx *c);
/* boot.secure_boot: distro's EFI/debian/grub.cfg: no menu, the kernel at kernel and the initrd
 * at initrd (ESP paths, no quote in them) with cmdline (no quote, backslash or control
 * character: spec_load refuses them). Each word of cmdline is its own single-quoted argument of
 * GRUB's linux command, which joins its arguments with spaces but wraps one that holds a space
 * in double quotes: the kernel would read that one as a single parameter. */
char *grub_cfg_text(const char *kernel, const char *initrd, const char *cmdline);
/* The ESP's size in bytes: room for the boot loader twice, the kernel and the initrd. */
uint64_t esp_size(struct build_ctx *c);
