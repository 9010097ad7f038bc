/* storage.encrypt: tpm2 (see encrypt.h): the LUKS2 root, made offline by cryptsetup on the
 * root filesystem's image file (no loop device, no device mapper), and what the image needs to
 * unlock it with its TPM. */
#include "image/encrypt.h"

#include <errno.h>
#include <jansson.h>
#include <sys/random.h>
#include <unistd.h>

#include "image/gpt.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/secret.h"
#include "util/timeutil.h"
#include "util/util.h"

/* cryptsetup reencrypt --encrypt wants twice the header room free at the end of the device; the
 * LUKS2 header it writes (metadata + keyslots) takes half of it at the start. */
#define LUKS_RESERVE (16u << 20)
#define UNIT "kiln-tpm2-enroll.service"
#define MAPPED "root"
#define ENROLLED "/var/lib/kiln/tpm2-enrolled"

char *encrypt_dracut_hook(const struct image_spec *s)
{
    if (!s->encrypt) return NULL;
    /* no host-only initrd: it is made in the build's tree, not on the machine that boots it */
    return xstrdup("--setup-hook=mkdir -p \"$1/etc/dracut.conf.d\" && printf '%s\\n' 'hostonly=\"no\"' "
                   "'add_dracutmodules+=\" systemd crypt tpm2-tss \"' "
                   "'add_drivers+=\" dm_crypt tpm_crb tpm_tis virtio_blk virtio_pci virtio_scsi nvme \"' "
                   "> \"$1/etc/dracut.conf.d/90-kiln-tpm2.conf\"");
}

uint64_t encrypt_reserve(const struct image_spec *s)
{
    return s->encrypt ? LUKS_RESERVE : 0;
}

static char *luks_uuid(struct build_ctx *c)
{
    struct guid g;
    guid_derive(c->seed, "luks-root", &g);
    char s[37];
    guid_format(&g, s);
    for (char *p = s; *p; p++) *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    return xstrdup(s);
}

static char *root_partuuid(struct build_ctx *c)
{
    struct guid g;
    guid_derive(c->seed, "partition-root", &g);
    char s[37];
    guid_format(&g, s);
    for (char *p = s; *p; p++) *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    return xstrdup(s);
}

/* The first boot seals the volume key to PCR 7 and wipes the empty passphrase (systemd-cryptenroll
 * unlocks with $PASSWORD, here empty); once only, and only where there is a TPM 2.0. */
static const char unit_fmt[] =
    "[Unit]\n"
    "Description=Seal the root volume's key to this machine's TPM (PCR 7) (kiln)\n"
    "ConditionSecurity=tpm2\n"
    "ConditionPathExists=!" ENROLLED "\n"
    "Wants=dev-tpmrm0.device\n"
    "After=dev-tpmrm0.device local-fs.target\n\n"
    "[Service]\n"
    "Type=oneshot\n"
    "RemainAfterExit=yes\n"
    "Environment=PASSWORD=\n"
    "ExecStart=/usr/bin/systemd-cryptenroll --tpm2-device=auto --tpm2-pcrs=7 --wipe-slot=empty /dev/disk/by-uuid/%s\n"
    "ExecStart=/bin/mkdir -p /var/lib/kiln\n"
    "ExecStart=/bin/touch " ENROLLED "\n\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

int encrypt_customize(struct build_ctx *c)
{
    _cleanup_free_ char *uuid = luks_uuid(c), *part = root_partuuid(c);
    _cleanup_free_ char *crypttab = xasprintf("# made by kiln build: the root volume, unlocked by the TPM in the initrd\n"
                                              MAPPED " UUID=%s none tpm2-device=auto,try-empty-password,x-initrd.attach\n",
                                              uuid);
    _cleanup_free_ char *unit = xasprintf(unit_fmt, uuid);
    char *fstab = NULL;
    size_t len;
    int r = inroot_read(c->root_fd, "etc/fstab", 1 << 20, &fstab, &len);
    if (r < 0) return build_error(c, "customize", "storage.encrypt: cannot read /etc/fstab in the image: %s", strerror(-r));
    /* the root line names the partition; the filesystem is on the mapped volume */
    _cleanup_free_ char *was = xasprintf("PARTUUID=%s\t/\t", part);
    char *at = strstr(fstab, was);
    struct sbuf b = {0};
    if (at) {
        sbuf_append(&b, fstab, (size_t)(at - fstab));
        sbuf_printf(&b, "/dev/mapper/" MAPPED "\t/\t%s", at + strlen(was));
    }
    free(fstab);
    if (!at) return build_error(c, "customize", "storage.encrypt: /etc/fstab in the image has no root line PARTUUID=%s", part);
    r = inroot_write(c->root_fd, "etc/fstab", b.s, b.len, 0644, 0, 0);
    sbuf_free(&b);
    if (r >= 0) r = inroot_write(c->root_fd, "etc/crypttab", crypttab, strlen(crypttab), 0644, 0, 0);
    if (r >= 0) r = inroot_write(c->root_fd, "usr/lib/systemd/system/" UNIT, unit, strlen(unit), 0644, 0, 0);
    if (r < 0) return build_error(c, "customize", "storage.encrypt: cannot write into the image: %s", strerror(-r));
    char *en[] = {"systemctl", "--no-reload", "enable", UNIT, NULL};
    return build_chroot(c, "customize", en);
}

char *encrypt_cmdline(struct build_ctx *c)
{
    if (!c->spec->encrypt) return NULL;
    _cleanup_free_ char *uuid = luks_uuid(c);
    return xasprintf("root=/dev/mapper/" MAPPED " rd.luks.name=%s=" MAPPED
                     " rd.luks.options=%s=tpm2-device=auto,try-empty-password",
                     uuid, uuid);
}

/* systemd's recovery key form (systemd-cryptenroll(1)): 256 random bits, each byte two ModHex
 * characters, a dash after every eight. */
static int make_recovery_key(char out[72])
{
    static const char modhex[] = "cbdefghijklnrtuv";
    uint8_t raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -errno;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        if (i && i % 4 == 0) out[o++] = '-';
        out[o++] = modhex[raw[i] >> 4];
        out[o++] = modhex[raw[i] & 15];
    }
    out[o] = 0;
    explicit_bzero(raw, sizeof raw);
    return 0;
}

static char *recovery_path(struct build_ctx *c)
{
    return path_join(c->work, "recovery-key");
}

int encrypt_root(struct build_ctx *c, uint64_t part_bytes)
{
    _cleanup_free_ char *img = path_join(c->work, "root.img"), *empty = path_join(c->work, "empty-passphrase");
    _cleanup_free_ char *rec = recovery_path(c), *tok = path_join(c->work, "recovery-token.json");
    _cleanup_free_ char *uuid = luks_uuid(c);
    char key[72];
    int r = make_recovery_key(key);
    if (r < 0) return build_error(c, "root-fs", "storage.encrypt: no random bytes for the recovery key: %s", strerror(-r));
    secret_add(key);
    r = write_file_atomic(rec, key, strlen(key), 0600);
    explicit_bzero(key, sizeof key);
    if (r >= 0) r = write_file_atomic(empty, "", 0, 0600);
    static const char token[] = "{\"type\":\"systemd-recovery\",\"keyslots\":[\"1\"]}";
    if (r >= 0) r = write_file_atomic(tok, token, strlen(token), 0600);
    if (r < 0) return build_error(c, "root-fs", "storage.encrypt: cannot write key files in %s: %s", c->work, strerror(-r));
    double t0 = now_s();
    if (truncate(img, (off_t)part_bytes) < 0)
        return build_error(c, "root-fs", "storage.encrypt: cannot size %s: %s", img, strerror(errno));
    /* Both keyslots are high-entropy or deliberately empty: PBKDF2 at its minimum, as systemd
     * enrolls its recovery keys and TPM2 keys, instead of argon2id's hundreds of MiB and
     * seconds per try that an initrd in a small VM cannot spare. */
    char *enc[] = {"cryptsetup", "reencrypt", "--encrypt", "--type", "luks2", "--batch-mode",
                   "--reduce-device-size", "16M", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                   "--uuid", uuid, "--key-file", empty, img, NULL};
    char *add[] = {"cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "1", "--pbkdf", "pbkdf2",
                   "--pbkdf-force-iterations", "1000", "--key-file", empty, img, rec, NULL};
    char *imp[] = {"cryptsetup", "token", "import", "--json-file", tok, img, NULL};
    if (build_run(c, "root-fs", enc) < 0 || build_run(c, "root-fs", add) < 0 || build_run(c, "root-fs", imp) < 0)
        return build_error(c, "root-fs", "storage.encrypt: cryptsetup could not make the LUKS2 root volume");
    build_say(c, BUILD_INFO, "root-fs", "encrypted in %.1f s (LUKS2 %s: empty passphrase until the first boot "
                                        "seals the key to the TPM, recovery key)", now_s() - t0, uuid);
    return 0;
}

json_t *encrypt_fs_json(struct build_ctx *c, json_t *inner)
{
    _cleanup_free_ char *uuid = luks_uuid(c);
    json_t *fs = json_object();
    json_object_set_new(fs, "type", json_string("crypto_LUKS"));
    json_object_set_new(fs, "uuid", json_string(uuid));
    json_object_set_new(fs, "unlock", json_string("tpm2 (PCR 7), sealed on first boot"));
    json_object_set_new(fs, "inner", inner);
    return fs;
}

int encrypt_publish(struct build_ctx *c)
{
    _cleanup_free_ char *rec = recovery_path(c);
    _cleanup_free_ char *dst = xasprintf("%s/%s-%s.recovery-key", c->opts->out_dir, c->spec->name, c->spec->version);
    char *key = NULL;
    size_t len = 0;
    int r = read_file(rec, 128, &key, &len);
    if (r >= 0) r = write_file_atomic(dst, key, len, 0600);
    if (key) explicit_bzero(key, len);
    free(key);
    if (r < 0) return build_error(c, "outputs", "storage.encrypt: cannot write the recovery key to %s: %s", dst, strerror(-r));
    build_say(c, BUILD_INFO, "outputs", "the root volume's recovery key is in %s (mode 0600; it is in no other "
                                        "output): keep it offline, it opens the root of every machine made from this image", dst);
    return 0;
}
