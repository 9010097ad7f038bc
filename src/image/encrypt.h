/* storage.encrypt: tpm2 — the root filesystem inside LUKS2 (cryptsetup's on-disk format), its
 * volume key sealed to the machine's TPM 2.0 against PCR 7 (the Secure Boot policy: the state,
 * PK, KEK, db, dbx) by systemd-cryptenroll on the first boot.
 *
 * The image ships two keyslots: an empty passphrase (slot 0), which the initrd tries until the
 * first boot's kiln-tpm2-enroll.service has enrolled the TPM and wiped it, and a recovery key
 * (slot 1, a "systemd-recovery" token: 256 random bits in systemd's ModHex form, as
 * systemd-cryptenroll --recovery-key makes them). The recovery key leaves the build only as
 * OUT/NAME-VERSION.recovery-key (mode 0600): never in the build log, the manifest, the SBOMs or
 * the staged outputs a gallery publishes. Every machine made from one image shares its volume
 * key and recovery key until it re-encrypts (cryptsetup reencrypt): an image is a copy.
 *
 * The initrd is dracut's systemd initrd with its crypt and tpm2-tss modules (Debian's
 * initramfs-tools' cryptroot cannot use a TPM2 token); the kernel command line names the volume
 * (rd.luks.name, rd.luks.options=tpm2-device=auto,try-empty-password). Debian family only. */
#pragma once
#include <stdint.h>

#include "image/build_int.h"

/* The mmdebstrap --setup-hook that configures dracut before the kernel package makes the
 * initrd, or NULL when s is not encrypted. */
char *encrypt_dracut_hook(const struct image_spec *s);
/* Bytes of the root partition that the LUKS2 header takes (0 when not encrypted): the root
 * filesystem is made that much smaller. */
uint64_t encrypt_reserve(const struct image_spec *s);
/* customize: /etc/crypttab, the fstab's root line on /dev/mapper/root, the first-boot
 * enrollment unit (enabled). 0 or -1 (printed). */
int encrypt_customize(struct build_ctx *c);
/* The kernel command line's root words for the encrypted root (root=/dev/mapper/root and the
 * rd.luks.* words); NULL when not encrypted. */
char *encrypt_cmdline(struct build_ctx *c);
/* Encrypts WORK/root.img (made encrypt_reserve() smaller than part_bytes) in place into a LUKS2
 * volume of part_bytes, adds the recovery key; 0 or -1 (printed). */
int encrypt_root(struct build_ctx *c, uint64_t part_bytes);
/* The manifest's description of the root partition's content: the LUKS2 volume around inner
 * (which it takes). */
struct json_t *encrypt_fs_json(struct build_ctx *c, struct json_t *inner);
/* After the outputs are published: the recovery key to OUT_DIR/NAME-VERSION.recovery-key
 * (0600), its path printed. 0 or -1 (printed). */
int encrypt_publish(struct build_ctx *c);
