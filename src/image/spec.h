/* The image spec: what `kiln build` makes, parsed from YAML with file:line:col diagnostics. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/arch.h"
#include "model/family.h"
#include "util/yaml.h"

enum image_layout { LAYOUT_STANDARD, LAYOUT_IMMUTABLE };
/* os.network: unset (kiln build warns when nothing configures a NIC), dhcp (written for the
 * image's network manager, see image/network.h), none (no network on purpose: no warning). */
enum image_network { IMAGE_NET_UNSET, IMAGE_NET_DHCP, IMAGE_NET_NONE };
/* storage.encrypt: the root filesystem in LUKS2, its key sealed to the TPM (image/encrypt.h) */
enum image_encrypt { ENCRYPT_NONE, ENCRYPT_TPM2 };
/* boot.initrd_modules: which kernel modules the initrd carries (image/rootfs_deb.c writes the
 * initrd tool's configuration). vm: the drivers a virtual machine's root disk needs (virtio,
 * AHCI, NVMe, SCSI, Hyper-V storvsc; ext4, xfs, btrfs, erofs, squashfs; dm-crypt, dm-verity;
 * TPM); most: the tool's own wide default (initramfs-tools MODULES=most, dracut without a driver
 * list), for hardware kiln does not know. */
enum image_initrd_modules { INITRD_MODULES_VM, INITRD_MODULES_MOST };
enum image_output { OUT_RAW, OUT_QCOW2, OUT_VHD_FIXED, OUT_VHD, OUT_TAR, OUT_COUNT };

struct image_repo {
    char *name, *baseurl, *gpgkey; /* gpgkey: a file (resolved against the spec) */
    char *suite;                   /* deb: the suite (NULL: base.suite) */
    char **components;             /* deb: the components (none: base.components, else main) */
    size_t ncomponents;
};

struct image_user {
    char *name;
    char **groups, **ssh_keys;
    size_t ngroups, nssh_keys;
};

struct image_file {
    char *src;     /* real path on the build host, under image_spec.source_root */
    char *src_rel; /* the same, relative to source_root: the build opens it beneath that */
    char *dst;     /* absolute and normalized, inside the image */
    unsigned mode;
};

struct image_kv {
    char *key, *value;
};

/* updates: the in-image updater (docs/updates.md); set only with the immutable layout. */
struct image_updates {
    bool set;
    char *server;          /* http:// Omaha endpoint, e.g. http://10.0.2.2:8470/v1/update/ */
    char *channel;         /* the gallery channel (Omaha track) */
    bool auto_apply;       /* auto: false checks and reports, never applies */
    bool reboot;           /* reboot once installed (default), else the next reboot switches */
    char *check;           /* health check command (sh -c) a new version's boot must pass, or NULL */
    long interval_s;       /* between checks (default 3600) */
    char **keys;           /* trusted minisign public keys (real paths under source_root) */
    size_t nkeys;
};

struct image_spec {
    char *path, *name, *version;
    char *source_root; /* real path; every file the spec reads from the host lies under it */
    const struct kiln_arch *arch; /* "arch:", default x86_64: packages, boot loader, GPT types */
    enum pkg_family family; /* FAMILY_DEB or FAMILY_RPM */
    char *suite, *mirror, *releasever;
    char **components;
    size_t ncomponents;
    struct image_repo *repos;
    size_t nrepos;
    char **install, **remove;
    size_t ninstall, nremove;
    int remove_package_manager; /* packages.package_manager: 0 keep, 1 remove (image/pkgmgr.h) */
    char *hostname;
    struct image_user *users;
    size_t nusers;
    struct image_file *files;
    size_t nfiles;
    char **enable, **disable, **mask;
    size_t nenable, ndisable, nmask;
    struct image_kv *sysctl;
    size_t nsysctl;
    char *kernel_cmdline;
    enum image_network network;
    bool regenerate_ssh_host_keys, reset_machine_id, grow_root;
    enum image_layout layout;
    uint64_t size;
    char *filesystem;     /* root: ext4 | xfs */
    char *usr_filesystem; /* immutable usr: erofs | squashfs */
    enum image_encrypt encrypt;
    bool outputs[OUT_COUNT];
    struct image_updates updates;
    bool wsl; /* "wsl: true": the tar output carries /etc/wsl.conf (WSL's per-distribution settings) */
    /* boot.secure_boot: the PEM private key and X.509 certificate (a db entry of the target
     * firmware) kiln build signs the boot loader and the kernel with (sbsign); real paths under
     * source_root, both NULL when nothing is signed. The key is only ever read by sbsign: never
     * copied into the image, the outputs or the build log. */
    char *sb_key, *sb_cert;
    struct diags warnings; /* what the spec probably got wrong but a build can go on with (file:line:col) */
    /* boot.secure_boot: distro: Debian's Microsoft-signed shim, its signed GRUB and the
     * distribution's signed kernel go on the ESP instead of systemd-boot; nothing is signed by
     * kiln (sb_key and sb_cert stay NULL). */
    bool sb_distro;
    enum image_initrd_modules initrd_modules; /* boot.initrd_modules, default vm */
};

/* Parses and validates the spec at path: every value the image's OS reads later is checked
 * with the rules of the program that reads it (RFC 1123 host name, useradd names, systemd unit
 * names, sysctl.d keys, normalized absolute destinations, Debian / rpm package names, ...).
 * Files the spec reads from the host (os.files[].src, repos' gpgkey and local baseurl, a file:
 * mirror) must resolve under source_root (NULL: the spec's directory). Returns 0, or -EINVAL
 * with file:line:col diagnostics in d. */
int spec_load(const char *path, const char *source_root, struct image_spec **out, struct diags *d);
void spec_free(struct image_spec *s);
/* "2G", "512M", "1.5G", "4096" (bytes) → bytes; false on garbage. */
bool spec_parse_size(const char *s, uint64_t *out);
const char *spec_output_name(enum image_output o);
/* Why spec s cannot be built into output o (kiln build --format asks for one the spec may not
 * list), or NULL: the rule spec_load applies to the spec's own outputs. */
const char *spec_output_refused(const struct image_spec *s, enum image_output o);
