/* The disk stages: /usr as a verity-protected image (immutable layout), the partition plan
 * and the root filesystem, the ESP, and the GPT disk they go into; and the identities (UUIDs,
 * the kernel command line) derived from the build's seed. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <jansson.h>
#include <sys/stat.h>

#include "image/build_int.h"
#include "image/disk_int.h"
#include "image/encrypt.h"
#include "image/ext4.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/utf8.h"
#include "util/util.h"

enum { MiB = 1 << 20, ESP_MIN = 128 };


/* Discoverable Partitions convention: a verity-protected partition's UUID is the first 128 bits
 * of its root hash, its hash partition's the last 128 bits. */
static void guid_from_hash(const char *hex, struct guid *g)
{
    char s[37];
    snprintf(s, sizeof s, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    guid_parse(s, g);
}

static char *guid_lower(const struct guid *g)
{
    char s[37];
    guid_format(g, s);
    for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    return xstrdup(s);
}

/* A GUID derived from the build's seed and a label, as lower-case text (fstab, UUIDs). */
char *partuuid_str(struct build_ctx *c, const char *label)
{
    struct guid g;
    guid_derive(c->seed, label, &g);
    return guid_lower(&g);
}

char *kernel_cmdline(struct build_ctx *c)
{
    _cleanup_free_ char *root = partuuid_str(c, "partition-root");
    struct sbuf b = {0};
    _cleanup_free_ char *luks = encrypt_cmdline(c);
    if (luks) sbuf_printf(&b, "%s rw", luks);
    else sbuf_printf(&b, "root=PARTUUID=%s rw", root);
    if (c->spec->layout == LAYOUT_IMMUTABLE) {
        struct guid a, h;
        guid_from_hash(c->usr_hash, &a);
        guid_from_hash(c->usr_hash + 32, &h);
        _cleanup_free_ char *as = guid_lower(&a);
        _cleanup_free_ char *hs = guid_lower(&h);
        sbuf_printf(&b, " usrhash=%s systemd.verity_usr_data=PARTUUID=%s systemd.verity_usr_hash=PARTUUID=%s"
                        " mount.usr=/dev/mapper/usr mount.usrfstype=%s mount.usrflags=ro",
                    c->usr_hash, as, hs, c->spec->usr_filesystem);
    }
    if (c->spec->kernel_cmdline) sbuf_printf(&b, " %s", c->spec->kernel_cmdline);
    return sbuf_steal(&b);
}

static uint64_t file_size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The file rel under the image's /usr (also when /usr is set aside in work/usr), or NULL. */
static char *usr_file(struct build_ctx *c, const char *rel)
{
    _cleanup_free_ char *in_usr = xasprintf("usr/%s", rel);
    char *f = tree_path(c, in_usr);
    if (f || !c->usr_moved) return f;
    /* /usr is set aside in work/usr: resolved there as if it were the image's /usr */
    _cleanup_free_ char *usr = path_join(c->work, "usr");
    int ufd = open(usr, O_PATH | O_DIRECTORY | O_CLOEXEC);
    f = ufd >= 0 ? inroot_host_path(ufd, rel) : NULL;
    if (ufd >= 0) close(ufd);
    return f;
}

/* systemd-boot for the image's architecture: the image's own, else the build host's (which has
 * only its own architecture's file, so another architecture's image must ship it). */
static char *bootloader_path(struct build_ctx *c)
{
    _cleanup_free_ char *rel = xasprintf("lib/systemd/boot/efi/%s", c->spec->arch->systemd_boot);
    char *boot = usr_file(c, rel);
    if (boot) return boot;
    _cleanup_free_ char *host = xasprintf("/usr/%s", rel);
    return file_exists(host) ? xstrdup(host) : NULL;
}

/* boot.secure_boot: distro: the image's Microsoft-signed shim, its MokManager and the
 * distribution's signed GRUB (Debian's shim-signed and grub-efi-ARCH-signed), never the build
 * host's: they must match the image's kernel and its signing key. */
enum { CHAIN_SHIM, CHAIN_MM, CHAIN_GRUB, CHAIN_N };
static void chain_paths(struct build_ctx *c, char *out[CHAIN_N])
{
    const struct kiln_arch *a = c->spec->arch;
    _cleanup_free_ char *shim = xasprintf("lib/shim/shim%s.efi.signed", a->efi_short);
    _cleanup_free_ char *mm = xasprintf("lib/shim/mm%s.efi.signed", a->efi_short);
    _cleanup_free_ char *grub = xasprintf("lib/grub/%s", a->grub_signed);
    out[CHAIN_SHIM] = usr_file(c, shim);
    out[CHAIN_MM] = usr_file(c, mm);
    out[CHAIN_GRUB] = usr_file(c, grub);
}

static void chain_free(char *p[CHAIN_N])
{
    for (size_t i = 0; i < CHAIN_N; i++) free(p[i]), p[i] = NULL;
}

/* The ESP holds the boot loader (systemd-boot twice, or shim, MokManager and GRUB), the kernel
 * and the initrd, with room to spare. */
uint64_t esp_size(struct build_ctx *c)
{
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    _cleanup_free_ char *kernel = tree_path(c, krel);
    _cleanup_free_ char *irel = tree_initrd(c);
    _cleanup_free_ char *initrd = irel ? tree_path(c, irel) : NULL;
    uint64_t need = (kernel ? file_size_of(kernel) : 0) + (initrd ? file_size_of(initrd) : 0);
    if (c->spec->sb_distro) {
        char *chain[CHAIN_N];
        chain_paths(c, chain);
        for (size_t i = 0; i < CHAIN_N; i++) need += chain[i] ? file_size_of(chain[i]) : 0;
        chain_free(chain);
    } else {
        _cleanup_free_ char *boot = bootloader_path(c);
        need += boot ? file_size_of(boot) * 2 : 0;
    }
    return MAX((uint64_t)ESP_MIN, (need * 3 / 2) / MiB + 16) * MiB;
}

/* Signs the EFI binary in for Secure Boot with the spec's pair into work/NAME (sbsign adds its
 * signature beside any the binary already carries, as Debian's own on its kernel), then checks
 * it against the certificate (sbverify), so a pair the firmware would refuse fails the build
 * rather than the first boot. The key is passed to sbsign by path: it is never copied. */
static char *sb_sign(struct build_ctx *c, const char *in, const char *name)
{
    char *out = path_join(c->work, name);
    char *sign[] = {"sbsign", "--key", c->spec->sb_key, "--cert", c->spec->sb_cert, "--output", out, (char *)in, NULL};
    char *verify[] = {"sbverify", "--cert", c->spec->sb_cert, out, NULL};
    if (build_run(c, "esp", sign) < 0 || build_run(c, "esp", verify) < 0) {
        free(out);
        return NULL;
    }
    clamp_tree(out, c->epoch);
    return out;
}

/* The boot loader, kernel and initrd the ESP gets, from the tree (the boot loader perhaps from
 * the build host). */
static int esp_sources(struct build_ctx *c, char **boot, char **kernel, char **initrd)
{
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    _cleanup_free_ char *irel = tree_initrd(c);
    *kernel = tree_path(c, krel);
    *initrd = irel ? tree_path(c, irel) : NULL;
    *boot = bootloader_path(c);
    if (!*kernel || !*initrd) return build_error(c, "esp", "the kernel or initrd for %s is gone from /boot", c->kver);
    if (!*boot && c->spec->arch == kiln_arch_host())
        return build_error(c, "esp", "systemd-boot is not available: add systemd-boot to the image or install "
                                     "systemd-boot-efi on the build host (`make deps`)");
    if (!*boot)
        return build_error(c, "esp", "%s is not in the image: add systemd-boot-efi to packages.install (the build "
                                     "host's systemd-boot is for its own architecture, not %s)",
                           c->spec->arch->systemd_boot, c->spec->arch->name);
    return 0;
}

/* The empty FAT32 file system at img, its volume id derived from the seed. */
static int esp_mkfs(struct build_ctx *c, const char *img)
{
    _cleanup_free_ char *kb = xasprintf("%llu", (unsigned long long)(c->esp_bytes / MiB * 1024));
    struct guid g;
    guid_derive(c->seed, "esp-volume-id", &g);
    _cleanup_free_ char *volid = xasprintf("%02X%02X%02X%02X", g.b[0], g.b[1], g.b[2], g.b[3]);
    /* --invariant pins the label timestamp (it also sets a fixed volume id, which the -i after it replaces) */
    char *mk[] = {"mkfs.vfat", "-C", "-F", "32", "-n", "ESP", "--invariant", "-i", volid, (char *)img, kb, NULL};
    return build_run(c, "esp", mk);
}

/* The empty ESP with systemd-boot's directories. */
static int esp_format(struct build_ctx *c, const char *img, const char *kdir)
{
    int r = esp_mkfs(c, img);
    if (r < 0) return r;
    _cleanup_free_ char *ent_dir = xasprintf("::/%s", c->spec->name);
    char *mmd[] = {"mmd", "-i", (char *)img, "::/EFI", "::/EFI/BOOT", "::/EFI/systemd", "::/loader", "::/loader/entries",
                   ent_dir, (char *)kdir, NULL};
    return build_run(c, "esp", mmd);
}

/* systemd-boot's loader.conf and the image's entry (Boot Loader Specification type #1) as
 * work/loader.conf and work/entry.conf, clamped to the epoch. */
static int esp_loader_files(struct build_ctx *c, const char *entry_name)
{
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *loader = path_join(c->work, "loader.conf");
    _cleanup_free_ char *entry = path_join(c->work, "entry.conf");
    _cleanup_free_ char *loader_txt = xasprintf("default %s\ntimeout 0\neditor no\n", entry_name);
    _cleanup_free_ char *cmdline = kernel_cmdline(c);
    _cleanup_free_ char *entry_txt = xasprintf("title %s %s\nversion %s\nlinux /%s/%s/linux\ninitrd /%s/%s/initrd\noptions %s\n",
                                               s->name, s->version, c->kver, s->name, c->kver, s->name, c->kver, cmdline);
    if (write_file_atomic(loader, loader_txt, strlen(loader_txt), 0644) < 0 ||
        write_file_atomic(entry, entry_txt, strlen(entry_txt), 0644) < 0)
        return build_error(c, "esp", "cannot write the loader files in %s", c->work);
    clamp_tree(loader, c->epoch);
    clamp_tree(entry, c->epoch);
    return 0;
}

/* Copies each (host file, ESP path) pair into the FAT image img (mcopy keeps the epoch mtimes). */
static int esp_copy(struct build_ctx *c, const char *img, const char *const (*copies)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *cp[] = {"mcopy", "-m", "-o", "-i", (char *)img, (char *)copies[i][0], (char *)copies[i][1], NULL};
        int r = build_run(c, "esp", cp);
        if (r < 0) return r;
    }
    return 0;
}

/* Single quotes: GRUB's script expands nothing inside them. */
char *grub_cfg_text(const char *kernel, const char *initrd, const char *cmdline)
{
    struct sbuf b = {0};
    sbuf_printf(&b, "set timeout=0\nlinux '%s'", kernel);
    for (const char *p = cmdline; *p;) {
        size_t n = strcspn(p, " \t");
        if (n) sbuf_printf(&b, " '%.*s'", (int)n, p);
        p += n;
        p += strspn(p, " \t");
    }
    sbuf_printf(&b, "\ninitrd '%s'\nboot\n", initrd);
    return sbuf_steal(&b);
}

/* boot.secure_boot: distro. The firmware starts shim as the removable-media loader; shim (its
 * default second stage, grubARCH.efi beside itself) starts the signed GRUB, whose built-in
 * prefix is /EFI/debian on the same device: its embedded memdisk config sources
 * $prefix/grub.cfg, the file written here, which loads the kernel (verified by shim against
 * Debian's key in shim) and the initrd with the spec's command line. No fallback (fbARCH.efi) is
 * installed, so shim never looks for BOOT.CSV entries. Every byte comes from the image's packages. */
static int stage_esp_distro(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    const struct kiln_arch *a = s->arch;
    char *chain[CHAIN_N];
    chain_paths(c, chain);
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    _cleanup_free_ char *irel = tree_initrd(c);
    _cleanup_free_ char *kernel = tree_path(c, krel);
    _cleanup_free_ char *initrd = irel ? tree_path(c, irel) : NULL;
    int r = 0;
    if (!kernel || !initrd) r = build_error(c, "esp", "the kernel or initrd for %s is gone from /boot", c->kver);
    else if (!chain[CHAIN_SHIM] || !chain[CHAIN_MM])
        r = build_error(c, "esp", "the image has no /usr/lib/shim/shim%s.efi.signed or mm%s.efi.signed: "
                                  "boot.secure_boot: distro needs shim-signed in packages.install", a->efi_short, a->efi_short);
    else if (!chain[CHAIN_GRUB])
        r = build_error(c, "esp", "the image has no /usr/lib/grub/%s: boot.secure_boot: distro needs %s in "
                                  "packages.install", a->grub_signed, a->grub_package);
    if (r < 0) {
        chain_free(chain);
        return r;
    }
    _cleanup_free_ char *img = path_join(c->work, "esp.img");
    _cleanup_free_ char *kdir = xasprintf("::/%s/%s", s->name, c->kver);
    _cleanup_free_ char *cfg = path_join(c->work, "grub.cfg");
    _cleanup_free_ char *cmdline = kernel_cmdline(c);
    _cleanup_free_ char *k_esp = xasprintf("/%s/%s/linux", s->name, c->kver);
    _cleanup_free_ char *i_esp = xasprintf("/%s/%s/initrd", s->name, c->kver);
    _cleanup_free_ char *cfg_txt = grub_cfg_text(k_esp, i_esp, cmdline);
    if (write_file_atomic(cfg, cfg_txt, strlen(cfg_txt), 0644) < 0) {
        chain_free(chain);
        return build_error(c, "esp", "cannot write %s", cfg);
    }
    clamp_tree(cfg, c->epoch);
    _cleanup_free_ char *ndir = xasprintf("::/%s", s->name);
    char *mmd[] = {"mmd", "-i", img, "::/EFI", "::/EFI/BOOT", "::/EFI/debian", ndir, kdir, NULL};
    _cleanup_free_ char *d_shim = xasprintf("::/EFI/BOOT/%s", a->efi_boot);
    _cleanup_free_ char *d_mm = xasprintf("::/EFI/BOOT/mm%s.efi", a->efi_short);
    _cleanup_free_ char *d_grub = xasprintf("::/EFI/BOOT/grub%s.efi", a->efi_short);
    _cleanup_free_ char *d_linux = xasprintf("%s/linux", kdir);
    _cleanup_free_ char *d_initrd = xasprintf("%s/initrd", kdir);
    const char *const copies[][2] = {{chain[CHAIN_SHIM], d_shim}, {chain[CHAIN_MM], d_mm}, {chain[CHAIN_GRUB], d_grub},
                                     {cfg, "::/EFI/debian/grub.cfg"}, {kernel, d_linux}, {initrd, d_initrd}};
    if ((r = esp_mkfs(c, img)) >= 0 && (r = build_run(c, "esp", mmd)) >= 0)
        r = esp_copy(c, img, copies, ARRAY_SIZE(copies));
    chain_free(chain);
    if (r < 0) return r;
    build_note(c, "(%llu MiB, the distribution's signed shim and GRUB, kernel %s)", (unsigned long long)(c->esp_bytes / MiB), c->kver);
    return 0;
}

int stage_esp(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    if (s->sb_distro) return stage_esp_distro(c);
    _cleanup_free_ char *boot = NULL, *kernel = NULL, *initrd = NULL;
    int r = esp_sources(c, &boot, &kernel, &initrd);
    if (r < 0) return r;
    _cleanup_free_ char *img = path_join(c->work, "esp.img");
    _cleanup_free_ char *kdir = xasprintf("::/%s/%s", s->name, c->kver);
    _cleanup_free_ char *entry_name = xasprintf("%s-%s.conf", s->name, s->version);
    if ((r = esp_format(c, img, kdir)) < 0 || (r = esp_loader_files(c, entry_name)) < 0) return r;
    if (s->sb_key) {
        char *signed_boot = sb_sign(c, boot, "boot.signed.efi");
        char *signed_kernel = signed_boot ? sb_sign(c, kernel, "linux.signed.efi") : NULL;
        free(boot), free(kernel);
        boot = signed_boot, kernel = signed_kernel;
        if (!kernel) return -EIO;
    }
    _cleanup_free_ char *loader = path_join(c->work, "loader.conf");
    _cleanup_free_ char *entry = path_join(c->work, "entry.conf");
    _cleanup_free_ char *d_entry = xasprintf("::/loader/entries/%s", entry_name);
    _cleanup_free_ char *d_linux = xasprintf("%s/linux", kdir);
    _cleanup_free_ char *d_initrd = xasprintf("%s/initrd", kdir);
    _cleanup_free_ char *d_removable = xasprintf("::/EFI/BOOT/%s", s->arch->efi_boot);
    _cleanup_free_ char *d_sdboot = xasprintf("::/EFI/systemd/%s", s->arch->systemd_boot);
    struct { const char *src, *dst; } copies[] = {
        {boot, d_removable}, {boot, d_sdboot}, {loader, "::/loader/loader.conf"},
        {entry, d_entry}, {kernel, d_linux}, {initrd, d_initrd}};
    for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
        char *cp[] = {"mcopy", "-m", "-o", "-i", img, (char *)copies[i].src, (char *)copies[i].dst, NULL};
        if ((r = build_run(c, "esp", cp)) < 0) return r;
    }
    build_note(c, "(%llu MiB, systemd-boot, kernel %s%s)", (unsigned long long)(c->esp_bytes / MiB), c->kver,
               s->sb_key ? ", both signed for Secure Boot" : "");
    return 0;
}

/* What the tree needs on an ext4 file system: every entry and its blocks (a regular file's
 * size in 4 KiB blocks, anything else one block). */
static void tree_usage(const char *root, long *bytes, long *inodes)
{
    *bytes = *inodes = 0;
    char *paths[] = {(char *)root, NULL};
    FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    FTSENT *e;
    while (fts && (e = fts_read(fts))) {
        if (e->fts_info == FTS_DP) continue; /* a directory seen the second time, after its contents */
        ++*inodes;
        if (e->fts_info == FTS_F) *bytes += (e->fts_statp->st_size + 4095) / 4096 * 4096;
        else *bytes += 4096;
    }
    if (fts) fts_close(fts);
}

static void human_size(uint64_t v, char *buf, size_t n)
{
    if (v >= (1ull << 30)) snprintf(buf, n, "%.1fG", (double)v / (1 << 30));
    else snprintf(buf, n, "%lluM", (unsigned long long)((v + MiB - 1) / MiB));
}

static json_t *fs_json(const char *type, const char *uuid, const char *label)
{
    json_t *fs = json_object();
    json_object_set_new(fs, "type", json_string(type));
    if (uuid) json_object_set_new(fs, "uuid", json_string(uuid));
    if (label) json_object_set_new(fs, "label", json_string(label));
    return fs;
}

/* The partitions of the layout, in disk order; the root partition last takes the rest. */
static size_t plan_partitions(struct build_ctx *c, struct part_plan *pl)
{
    const struct kiln_arch *a = c->spec->arch;
    size_t n = 0;
    struct guid g;
    guid_derive(c->seed, "esp-volume-id", &g);
    char vol[10];
    snprintf(vol, sizeof vol, "%02X%02X-%02X%02X", g.b[0], g.b[1], g.b[2], g.b[3]);
    pl[n] = (struct part_plan){GPT_TYPE_ESP, "esp", NULL, {{0}}, c->esp_bytes, fs_json("vfat", vol, "ESP")};
    pl[n].img = path_join(c->work, "esp.img");
    guid_derive(c->seed, "partition-esp", &pl[n++].uuid);
    if (c->spec->layout == LAYOUT_IMMUTABLE) {
        _cleanup_free_ char *fsu = partuuid_str(c, "fs-usr");
        pl[n] = (struct part_plan){a->gpt_usr, "usr-a", NULL, {{0}}, c->usr_bytes, fs_json(c->spec->usr_filesystem, fsu, NULL)};
        pl[n].img = path_join(c->work, "usr.img");
        pl[n].keep = true;
        guid_from_hash(c->usr_hash, &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr_verity, "usr-a-verity", NULL, {{0}}, c->verity_bytes, fs_json("dm-verity hash tree", NULL, NULL)};
        pl[n].img = path_join(c->work, "usr.verity");
        pl[n].keep = true;
        guid_from_hash(c->usr_hash + 32, &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr, "usr-b", NULL, {{0}}, c->usr_bytes, NULL};
        guid_derive(c->seed, "partition-usr-b", &pl[n++].uuid);
        pl[n] = (struct part_plan){a->gpt_usr_verity, "usr-b-verity", NULL, {{0}}, c->verity_bytes, NULL};
        guid_derive(c->seed, "partition-usr-b-verity", &pl[n++].uuid);
    }
    _cleanup_free_ char *fsr = partuuid_str(c, "fs-root");
    json_t *fs = fs_json("ext4", fsr, "root");
    pl[n] = (struct part_plan){a->gpt_root, a->gpt_root_name, NULL, {{0}}, 0, c->spec->encrypt ? encrypt_fs_json(c, fs) : fs};
    pl[n].img = path_join(c->work, "root.img");
    guid_derive(c->seed, "partition-root", &pl[n++].uuid);
    return n;
}

/* The partition plan and what it leaves the root partition (the rest of storage.size). */
static int plan_disk(struct build_ctx *c)
{
    c->disk_bytes = (c->spec->size + MiB - 1) / MiB * MiB;
    c->nplan = plan_partitions(c, c->plan);
    uint64_t first = (uint64_t)GPT_ALIGN_LBA * 512;
    for (size_t i = 0; i + 1 < c->nplan; i++) first += c->plan[i].bytes;
    uint64_t last = (gpt_last_usable(c->disk_bytes) + 1) / GPT_ALIGN_LBA * GPT_ALIGN_LBA * 512;
    if (last <= first + 64 * (uint64_t)MiB) {
        char a[32];
        human_size(first + 160 * (uint64_t)MiB, a, sizeof a);
        return build_error(c, "spec", "storage.size leaves no room for the root partition after %llu MiB of other "
                                      "partitions; use at least %s",
                           (unsigned long long)((first - (uint64_t)GPT_ALIGN_LBA * 512) / MiB), a);
    }
    c->root_bytes = last - first;
    return 0;
}

/* The root filesystem image work/root.img: ext4 by mke2fs -d from the tree, every time the epoch. */
static int make_root_fs(struct build_ctx *c)
{
    long tree_bytes, tree_inodes;
    tree_usage(c->root, &tree_bytes, &tree_inodes);
    /* data + 10% + inode tables (one 256-byte inode per 16 KiB) + journal + reserve */
    uint64_t need = (uint64_t)tree_bytes + (uint64_t)tree_bytes / 10 + (uint64_t)tree_inodes * 256 + 96 * (uint64_t)MiB;
    need += need / 64;
    /* an encrypted root's filesystem leaves room for the LUKS2 header in its partition */
    uint64_t fs_bytes = c->root_bytes - encrypt_reserve(c->spec);
    if (need > fs_bytes) {
        char want[32], have[32], spec[32], disk[32];
        human_size(need, want, sizeof want);
        human_size(fs_bytes, have, sizeof have);
        human_size(c->spec->size, spec, sizeof spec);
        human_size(need + c->disk_bytes - c->root_bytes, disk, sizeof disk);
        return build_error(c, "root-fs", "storage.size %s is too small: the root filesystem needs about %s (%ld files, "
                                         "%ld MiB of data) but its partition gets %s; set storage.size to at least %s",
                           spec, want, tree_inodes, tree_bytes / MiB, have, disk);
    }
    /* An unencrypted root is made where it lies in the disk (mke2fs -E offset=): no copy of its
     * hundreds of MiB into the disk afterwards. cryptsetup encrypts root.img in place first. */
    c->root_in_disk = !c->spec->encrypt;
    _cleanup_free_ char *img = path_join(c->work, c->root_in_disk ? "disk.raw" : "root.img");
    uint64_t off = 0;
    if (c->root_in_disk) {
        struct part_plan *root = &c->plan[c->nplan - 1];
        free(root->img);
        root->img = NULL;
        off = (uint64_t)GPT_ALIGN_LBA * 512;
        for (size_t i = 0; i + 1 < c->nplan; i++) off += c->plan[i].bytes;
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int r = fd < 0 || ftruncate(fd, (off_t)c->disk_bytes) < 0 ? -errno : 0;
        if (fd >= 0) close(fd);
        if (r < 0) return build_error(c, "root-fs", "cannot create %s: %s", img, strerror(-r));
    }
    _cleanup_free_ char *uuid = partuuid_str(c, "fs-root");
    _cleanup_free_ char *hs = partuuid_str(c, "fs-root-hash-seed");
    _cleanup_free_ char *ext = xasprintf("hash_seed=%s,root_owner=0:0,offset=%llu,nodiscard", hs, (unsigned long long)off);
    _cleanup_free_ char *kb = xasprintf("%lluk", (unsigned long long)(fs_bytes / 1024));
    /* mke2fs copies each file's times as they are now (reading the tree moved atimes, customize
     * wrote files): ext4_clamp_times sets them in the image afterwards, no walk of the tree */
    char *mk[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-U", uuid, "-E", ext, "-d", c->root, img, kb, NULL};
    int mr = build_run(c, "root-fs", mk);
    if (mr == -EINTR) return mr; /* build_run said "interrupted": no cause to guess */
    if (mr < 0)
        return build_error(c, "root-fs", "mke2fs could not populate the root filesystem; if it ran out of space, raise storage.size");
    char *err = NULL;
    if (ext4_clamp_times(img, off, (uint32_t)c->epoch, &err) < 0) {
        int r = build_error(c, "root-fs", "%s", err);
        free(err);
        return r;
    }
    char a[32];
    human_size(c->root_bytes, a, sizeof a);
    build_note(c, "(ext4 %s, %ld files, %ld MiB)", a, tree_inodes, tree_bytes / MiB);
    return 0;
}

/* Puts /usr back into the tree after the immutable layout's root filesystem is made without
 * it: the outputs (the rootfs archive, os-release) read the whole tree. */
static void usr_restore(struct build_ctx *c)
{
    if (!c->usr_moved) return;
    _cleanup_free_ char *usr = path_join(c->work, "usr");
    if (unlinkat(c->root_fd, "usr", AT_REMOVEDIR) == 0 && renameat(AT_FDCWD, usr, c->root_fd, "usr") == 0) c->usr_moved = false;
}

int stage_root_fs(struct build_ctx *c)
{
    int r = plan_disk(c);
    if (r == 0) r = make_root_fs(c);
    if (r == 0 && c->spec->encrypt) r = encrypt_root(c, c->root_bytes);
    usr_restore(c);
    return r;
}

/* Copies the data extents of a file into fd at off (holes stay holes). */
static int copy_sparse(const char *src, int fd, uint64_t off)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    struct stat st;
    fstat(in, &st);
    uint64_t pos = 0, s, e;
    int r;
    while ((r = file_next_data(in, (uint64_t)st.st_size, pos, &s, &e)) == 1) {
        loff_t io = (loff_t)s, oo = (loff_t)(off + s);
        size_t left = (size_t)(e - s);
        while (left) {
            ssize_t n = copy_file_range(in, &io, fd, &oo, left, 0);
            if (n <= 0) {
                r = n < 0 ? -errno : -EIO;
                break;
            }
            left -= (size_t)n;
        }
        if (r < 0) break;
        pos = e;
    }
    close(in);
    return r < 0 ? r : 0;
}

static uint64_t round_mib(uint64_t v) { return (v + MiB - 1) / MiB * MiB; }

/* immutable layout: /usr as a read-only erofs (or squashfs) image with a dm-verity hash tree */
int stage_usr(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *usr = path_join(c->work, "usr");
    struct stat st;
    if (fstatat(c->root_fd, "usr", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return build_error(c, "usr", "the image's /usr is not a directory");
    if (renameat(c->root_fd, "usr", AT_FDCWD, usr) < 0 || mkdirat(c->root_fd, "usr", 0755) < 0)
        return build_error(c, "usr", "cannot set /usr aside: %s", strerror(errno));
    c->usr_moved = true;
    /* no clamping here: mkfs.erofs -T / mksquashfs -all-time set every timestamp, and the empty
     * /usr left in the root is clamped with the rest of the root before mke2fs */
    _cleanup_free_ char *img = path_join(c->work, "usr.img");
    _cleanup_free_ char *uuid = partuuid_str(c, "fs-usr");
    _cleanup_free_ char *t = xasprintf("-T%ld", c->epoch);
    _cleanup_free_ char *u = xasprintf("-U%s", uuid);
    _cleanup_free_ char *ts = xasprintf("%ld", c->epoch);
    char *squash[] = {"mksquashfs", usr, img, "-noappend", "-quiet", "-no-progress", "-all-time", ts, "-mkfs-time", ts, NULL};
    char *erofs[] = {"mkfs.erofs", "--quiet", t, u, img, usr, NULL};
    int r = build_run(c, "usr", streq(s->usr_filesystem, "squashfs") ? squash : erofs);
    if (r < 0) return r;
    /* salt and superblock UUID derived from the spec: the hash tree is reproducible too */
    struct guid sa, sb;
    guid_derive(c->seed, "usr-verity-salt-1", &sa);
    guid_derive(c->seed, "usr-verity-salt-2", &sb);
    char salt[65];
    for (int i = 0; i < 16; i++) snprintf(salt + 2 * i, 3, "%02x", sa.b[i]), snprintf(salt + 32 + 2 * i, 3, "%02x", sb.b[i]);
    _cleanup_free_ char *vuuid = partuuid_str(c, "usr-verity");
    _cleanup_free_ char *o_salt = xasprintf("--salt=%s", salt);
    _cleanup_free_ char *o_uuid = xasprintf("--uuid=%s", vuuid);
    _cleanup_free_ char *hashf = path_join(c->work, "usr.roothash");
    _cleanup_free_ char *o_hash = xasprintf("--root-hash-file=%s", hashf);
    _cleanup_free_ char *ver = path_join(c->work, "usr.verity");
    char *vs[] = {"veritysetup", "format", "--data-block-size=4096", "--hash-block-size=4096", o_salt, o_uuid, o_hash, img, ver, NULL};
    if ((r = build_run(c, "usr", vs)) < 0) return r;
    char *h = NULL;
    size_t hl;
    if (read_file(hashf, 4096, &h, &hl) < 0 || strlen(strstrip(h)) != 64) {
        free(h);
        return build_error(c, "usr", "veritysetup wrote no root hash to %s", hashf);
    }
    memcpy(c->usr_hash, strstrip(h), 65);
    free(h);
    /* slot B gets the same room; a quarter more than today's /usr leaves space for updates */
    c->usr_bytes = round_mib(file_size_of(img) + file_size_of(img) / 4);
    c->verity_bytes = round_mib(file_size_of(ver) + file_size_of(ver) / 4);
    build_note(c, "(%s %llu MiB, verity root hash %.16s%s)", s->usr_filesystem,
               (unsigned long long)(file_size_of(img) / MiB), c->usr_hash, text_ellipsis());
    return 0;
}

/* The manifest's entry for partition i: what the GPT says and the plan's filesystem. */
static json_t *partition_json(size_t i, const struct gpt_part *p, struct part_plan *pl)
{
    json_t *j = json_object();
    char g[37];
    json_object_set_new(j, "number", json_integer((json_int_t)i + 1));
    json_object_set_new(j, "name", json_string(p->name));
    json_object_set_new(j, "type", json_string(gpt_type_name(&p->type)));
    guid_format(&p->type, g);
    json_object_set_new(j, "type_guid", json_string(g));
    guid_format(&p->uuid, g);
    json_object_set_new(j, "uuid", json_string(g));
    json_object_set_new(j, "offset", json_integer((json_int_t)(p->first_lba * 512)));
    json_object_set_new(j, "size", json_integer((json_int_t)((p->last_lba - p->first_lba + 1) * 512)));
    json_object_set_new(j, "filesystem", pl->fs ? pl->fs : json_null());
    pl->fs = NULL;
    return j;
}

/* work/disk.raw: the GPT (kiln's, image/gpt.h) with each planned image copied into its
 * partition; the manifest's "partitions". */
int stage_disk(struct build_ctx *c)
{
    struct part_plan *pl = c->plan;
    size_t n = c->nplan;
    uint64_t size = c->disk_bytes;
    _cleanup_free_ char *raw = path_join(c->work, "disk.raw");
    /* the root filesystem may be in it already (make_root_fs) */
    int fd = open(raw, O_RDWR | O_CREAT | (c->root_in_disk ? 0 : O_TRUNC) | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        if (fd >= 0) close(fd);
        return build_error(c, "disk", "cannot create %s: %s", raw, strerror(errno));
    }
    struct gpt_part p[BUILD_MAX_PARTS] = {0};
    uint64_t lba = GPT_ALIGN_LBA, end = (gpt_last_usable(size) + 1) / GPT_ALIGN_LBA * GPT_ALIGN_LBA;
    for (size_t i = 0; i < n; i++) {
        guid_parse(pl[i].type_guid, &p[i].type);
        p[i].uuid = pl[i].uuid;
        p[i].first_lba = lba;
        p[i].last_lba = pl[i].bytes ? lba + pl[i].bytes / 512 - 1 : end - 1;
        snprintf(p[i].name, sizeof p[i].name, "%s", pl[i].name);
        lba = p[i].last_lba + 1;
    }
    struct guid dg;
    guid_derive(c->seed, "disk", &dg);
    int r = gpt_write(fd, size, &dg, p, n);
    for (size_t i = 0; i < n && r >= 0; i++)
        if (pl[i].img) r = copy_sparse(pl[i].img, fd, p[i].first_lba * 512);
    close(fd);
    if (r < 0) return build_error(c, "disk", "cannot assemble %s: %s", raw, strerror(-r));
    json_t *parts = json_array();
    for (size_t i = 0; i < n; i++) {
        if (pl[i].img && !pl[i].keep) unlink(pl[i].img);
        json_array_append_new(parts, partition_json(i, &p[i], &pl[i]));
    }
    json_object_set_new(c->manifest, "partitions", parts);
    char dgs[37];
    guid_format(&dg, dgs);
    build_note(c, "(GPT %s, %zu partitions, %llu MiB)", dgs, n, (unsigned long long)(size / MiB));
    return 0;
}
