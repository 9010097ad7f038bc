/* The decisions of area cvm (src/suites/cvm.c): the TPM, measured boot and Secure Boot, as
 * pure functions of captured guest output, with the conventions of decide.h (unit-tested in
 * tests/unit/test_cvm.c, fuzzed by tests/fuzz/fuzz_decide.c). Guest output is untrusted. */
#pragma once
#include <stdbool.h>

#include "model/results.h"
#include "suites/common.h"

#define CVM_PCRS 8 /* PCR 0-7: what the firmware and boot loader measure (TCG PC Client PFP) */

/* A TPM 2.0 answers. sysfs: /sys/class/tpm/tpm* /tpm_version_major files (guest_read_files);
 * have_tpmrm: /dev/tpmrm0 is a character device (the kernel's TPM 2.0 resource manager);
 * getcap: `tpm2_getcap properties-fixed` (tpm2-tools 5), or NULL when the guest lacks
 * tpm2-tools: the kernel's view then decides, and the pass says so. */
enum verdict_kind decide_tpm_present(const struct gfiles *sysfs, bool have_tpmrm, const struct gcap *getcap,
                                     struct verdict *v);

/* The firmware's event log replays to the PCRs the TPM reports. log_present: the log
 * (/sys/kernel/security/tpm0/binary_bios_measurements) exists; eventlog: `tpm2_eventlog` of
 * it (its closing "pcrs:" map holds the replayed values per bank); pcrread: `tpm2_pcrread
 * sha256:0,1,2,3,4,5,6,7`. The sha256 bank is compared; a PCR the log never extends must
 * read all zeros. A mismatch names the PCR and both values. */
enum verdict_kind decide_measured_boot(bool log_present, const struct gcap *eventlog, const struct gcap *pcrread,
                                       struct verdict *v);

/* The PCRs of one bank (e.g. "sha256") in tpm2-tools' YAML-like output, from the first line
 * at or after text whose content is "BANK:": lines "N : 0xHEX" indented deeper. Fills
 * hex[i] (lower case, without 0x) for i < CVM_PCRS and sets bit i of the return value. A value
 * whose length is not the bank's digest size (sha1 40 hex digits, sha256 64, ...) is not read.  */
unsigned cvm_parse_pcr_bank(const char *text, const char *bank, char hex[CVM_PCRS][129]);

/* Secure Boot is on and enforced. efivars: lines "NAME B0 B1 B2 B3 B4" (`od -An -tu1` of
 * /sys/firmware/efi/efivars/NAME-8be4df61-93ca-11d2-aa0d-00e098032b8c: four attribute bytes,
 * then the value) for SecureBoot and SetupMode, and "no-efi" when /sys/firmware/efi is
 * absent; mokutil: `mokutil --sb-state` or NULL when not installed (used when efivarfs
 * gives no SecureBoot); klog: the kernel log's lines that mention Secure boot (dmesg). */
enum verdict_kind decide_secure_boot(const struct gcap *efivars, const struct gcap *mokutil, const struct gcap *klog,
                                     struct verdict *v);

/* The second half of Secure Boot enforcement: a kernel without a signature, offered once by
 * systemd-boot (LoaderEntryOneShot = probe_entry), is refused. entry_after: the entry the
 * guest booted after the attempt (LoaderEntrySelected, systemd's Boot Loader Interface);
 * console: the serial console's lines from the attempt's reboot on. Firmware refuses with
 * EFI_SECURITY_VIOLATION or EFI_ACCESS_DENIED, which systemd-boot prints as "Error loading
 * PATH: Security Violation" (or "Access Denied"). */
enum verdict_kind decide_unsigned_kernel_refused(const char *probe_entry, const char *entry_after, const char *console,
                                                 struct verdict *v);

/* Whether text has a line that is exactly word. */
bool cvm_has_line(const char *text, const char *word);

/* Why no kernel without a signature was offered: the guest was booted neither by systemd-boot
 * from its disk (no LoaderEntrySelected) nor by GRUB from a grub.cfg the probe can change (kiln
 * build's EFI/debian/grub.cfg). loader: the guest's lines "shim" (shim's MokListRT variable,
 * vendor GUID 605dab50-e046-4300-abb6-3dd810dd8b23, is in efivarfs) and "grub" (/proc/cmdline
 * begins with GRUB's BOOT_IMAGE=), or NULL when unknown. Sets a VERDICT_SKIP whose reason names
 * the boot path seen. */
enum verdict_kind decide_unsigned_probe_skip(const char *loader, struct verdict *v);

/* verify_secure_boot_enforced's two parts, so that a pass does not claim the half it did not
 * check: on is decide_secure_boot's verdict (its reason: what showed Secure Boot on); offered
 * says whether a kernel without a signature was offered (false: probe is
 * decide_unsigned_probe_skip's verdict, why not); probe is the probe's verdict. Fills
 * subs[0] "secure_boot_on" and subs[1] "unsigned_kernel_refused" (status ST_*, reason
 * allocated: free both names and reasons) and returns their count: 1 when on did not pass
 * (the probe is not tried then), else 2. v: on's verdict when it did not pass; else FAIL when
 * the probe failed, SKIP when an offered kernel left no evidence either way, PASS otherwise,
 * whose reason names what was checked and, when no kernel was offered, "not checked:" why. */
size_t decide_secure_boot_parts(const struct verdict *on, bool offered, const struct verdict *probe,
                                struct kiln_subtest subs[2], struct verdict *v);

/* The same through GRUB: grub.cfg tried offered (the ESP path of a kernel without a signature)
 * before the signed kernel. cmdline: /proc/cmdline after the reboot (GRUB's BOOT_IMAGE= names
 * the kernel it started); console: the console from the reboot on. Debian's signed GRUB 2.06
 * refuses through shim's verifier with "error: bad shim signature."; a GRUB that loads kernels
 * with the firmware's LoadImage gets EFI_SECURITY_VIOLATION or EFI_ACCESS_DENIED. */
enum verdict_kind decide_grub_unsigned_refused(const char *offered, const char *cmdline, const char *console,
                                               struct verdict *v);

/* PCR 4 (sha256) changes when a boot component is upgraded: before and after are `tpm2_pcrread
 * sha256:4` before the upgrade and after the reboot that follows it; what names the upgrade
 * ("EFI/BOOT/BOOTX64.EFI from /usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed"). PCR 4
 * holds the firmware's measurements of the EFI applications it starts (TCG PC Client PFP:
 * EV_EFI_BOOT_SERVICES_APPLICATION, the PE image's Authenticode digest), so an upgrade that
 * reached the boot path changes it; an equal value means the firmware started something else. */
enum verdict_kind decide_pcr4_change(const struct gcap *before, const struct gcap *after, const char *what,
                                     struct verdict *v);

/* The LUKS device under the root filesystem, from `lsblk -nrspo NAME,TYPE,FSTYPE SOURCE` (SOURCE:
 * findmnt's source of /; lines "NAME TYPE FSTYPE", the mounted device first, then what it
 * sits on): copies into dev the first device whose FSTYPE is crypto_LUKS below a "crypt" one.
 * False when there is none (the root is not on dm-crypt over LUKS). */
bool cvm_luks_device(const char *lsblk, char *dev, size_t sz);

/* The root volume is LUKS2 and set to be unlocked by the TPM: dev is cvm_luks_device's; dump:
 * `cryptsetup luksDump --dump-json-metadata DEV` (cryptsetup 2.4+: the LUKS2 JSON area, whose
 * "tokens" of type "systemd-tpm2" systemd-cryptenroll writes with "tpm2-pcrs" and "keyslots");
 * empty: `printf '\n' | cryptsetup open --test-passphrase --disable-external-tokens DEV` (an
 * empty line as the passphrase, tokens not tried; status 0: an empty passphrase opens a keyslot); unlock: the journal of this boot's systemd-cryptsetup unit for
 * the volume (`journalctl -b -o cat -u systemd-cryptsetup@NAME.service`). Fails naming the
 * evidence: no TPM2 token, a token not sealed to PCR 7, an empty passphrase that opens it, a
 * boot that was not unlocked by the TPM (a key file, a passphrase typed or tried, cvm_unlock_kind);
 * a boot unlocked by "a LUKS2 token" counts as the TPM when systemd-tpm2 is the header's only
 * token that a plugin unlocks with (systemd-recovery is a passphrase's record, not a plugin). */
enum verdict_kind decide_encrypted_root(const char *dev, const struct gcap *dump, const struct gcap *empty,
                                        const struct gcap *unlock, struct verdict *v);

/* How this boot's systemd-cryptsetup unit opened the volume, from its journal (systemd 252):
 * a LUKS2 token tried first (crypt_activate_by_token with any token: for a systemd-tpm2 token,
 * the TPM unsealing through cryptsetup's token plugin) logs only at debug level, so the unit
 * says "Starting" and "Finished" and nothing between; every other way (a passphrase typed or
 * tried empty, a key file, TPM2 without the plugin) first logs "Set cipher ..." and the
 * plugin-less TPM2 way "... TPM2 token unlocks volume". */
enum cvm_unlock { UNLOCK_UNKNOWN, UNLOCK_TPM2, UNLOCK_TOKEN, UNLOCK_OTHER };
enum cvm_unlock cvm_unlock_kind(const char *journal);

/* The seal depends on PCR 7: now and changed are `cryptsetup open --test-passphrase
 * --token-only --token-type systemd-tpm2 DEV` (the systemd-tpm2 token plugin asks the TPM to
 * unseal) with PCR 7 as booted, and after PCR 7 was extended (tpm2_pcrextend). The key must
 * unseal now and must not after the change; a second try that did not end (status -1) or was
 * not run or was killed (126, 127, 128+N) cannot decide. */
enum verdict_kind decide_pcr7_seal(const char *dev, const struct gcap *now, const struct gcap *changed,
                                   struct verdict *v);
