/* Area cvm's decisions (decide_cvm.h). Guest output is untrusted: every parser reads a
 * NUL-terminated text of any content, copies at most a bounded value and never assumes a
 * shape. Output formats: tpm2-tools 5 (tpm2_getcap, tpm2_pcrread, tpm2_eventlog print
 * YAML-like text), od(1), mokutil's --sb-state, the kernel's "secureboot:" lines. */
#include <ctype.h>
#include <jansson.h>
#include <strings.h>

#include "suites/decide_cvm.h"
#include "util/util.h"

/* Indentation of the line at p (spaces), and its content's end (the newline or NUL). */
static size_t line_indent(const char *p) { return strspn(p, " "); }
static const char *line_end(const char *p) { return p + strcspn(p, "\n"); }
static const char *line_next(const char *p)
{
    p = line_end(p);
    return *p ? p + 1 : NULL;
}

/* Whether the content of the line at p (indentation skipped, trailing blanks ignored) is s. */
static bool line_is(const char *p, const char *s)
{
    p += line_indent(p);
    size_t n = strlen(s);
    if (strncmp(p, s, n) != 0) return false;
    for (p += n; *p && *p != '\n'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') return false;
    return true;
}

/* The value: of property key in tpm2_getcap's output ("KEY:\n  raw: ..\n  value: \"2.0\""),
 * quotes removed, at most sz-1 printable bytes; false when absent. */
static bool getcap_value(const char *text, const char *key, char *buf, size_t sz)
{
    _cleanup_free_ char *head = xasprintf("%s:", key);
    for (const char *p = text; p; p = line_next(p)) {
        if (line_indent(p) != 0 || !line_is(p, head)) continue;
        for (const char *q = line_next(p); q && line_indent(q) > 0; q = line_next(q)) {
            const char *s = q + line_indent(q);
            if (!startswith(s, "value:")) continue;
            s += 6;
            s += strspn(s, " \"");
            size_t n = 0;
            while (s[n] && s[n] != '"' && s[n] != '\n' && s[n] != '\r' && n + 1 < sz) {
                buf[n] = isprint((unsigned char)s[n]) ? s[n] : '?';
                n++;
            }
            buf[n] = 0;
            return true;
        }
        return false;
    }
    return false;
}

enum verdict_kind decide_tpm_present(const struct gfiles *sysfs, bool have_tpmrm, const struct gcap *getcap,
                                     struct verdict *v)
{
    if (!sysfs->n)
        return verdict_set(v, VERDICT_FAIL, "the guest has no TPM: no /sys/class/tpm/tpm*/tpm_version_major (the "
                                            "platform attached one; no TPM driver bound to it: tpm_crb, tpm_tis)");
    const struct gfile *f = &sysfs->v[0];
    _cleanup_free_ char *text = xstrdup(f->text);
    long major = 0;
    if (!parse_long(strstrip(text), &major))
        return verdict_set(v, VERDICT_SKIP, "cannot decide: %s holds \"%.40s\", not a number", f->path, text);
    if (major != 2) return verdict_set(v, VERDICT_FAIL, "%s is %ld, expected 2 (a TPM 2.0)", f->path, major);
    if (!have_tpmrm)
        return verdict_set(v, VERDICT_FAIL, "/dev/tpmrm0 is missing: the kernel runs no TPM 2.0 resource manager "
                                            "(%s is 2)", f->path);
    if (!getcap)
        return verdict_set(v, VERDICT_PASS, "TPM 2.0 by the kernel's account (%s = 2, /dev/tpmrm0); the guest lacks "
                                            "tpm2-tools, so the TPM itself was not asked", f->path);
    if (getcap->status != 0) {
        _cleanup_free_ char *why = gcap_why(getcap);
        return verdict_set(v, VERDICT_FAIL, "the TPM does not answer: tpm2_getcap properties-fixed %s", why);
    }
    char family[64], maker[64];
    if (!getcap_value(getcap->out, "TPM2_PT_FAMILY_INDICATOR", family, sizeof family))
        return verdict_set(v, VERDICT_SKIP, "cannot decide: tpm2_getcap properties-fixed printed no "
                                            "TPM2_PT_FAMILY_INDICATOR value");
    if (!streq(family, "2.0"))
        return verdict_set(v, VERDICT_FAIL, "TPM2_PT_FAMILY_INDICATOR is \"%s\", expected \"2.0\" (tpm2_getcap "
                                            "properties-fixed)", family);
    bool m = getcap_value(getcap->out, "TPM2_PT_MANUFACTURER", maker, sizeof maker);
    return verdict_set(v, VERDICT_PASS, "TPM 2.0 answers: TPM2_PT_FAMILY_INDICATOR \"2.0\"%s%s%s, /dev/tpmrm0",
                       m ? ", manufacturer \"" : "", m ? maker : "", m ? "\"" : "");
}

/* "N : 0xHEX" → index and lower-case hex (a digest of 20..64 bytes); false otherwise. */
static bool pcr_line(const char *p, int *idx, char hex[129])
{
    p += line_indent(p);
    if (!isdigit((unsigned char)*p)) return false;
    long i = 0;
    while (isdigit((unsigned char)*p) && i < 100) i = i * 10 + (*p++ - '0');
    p += strspn(p, " ");
    if (*p++ != ':') return false;
    p += strspn(p, " ");
    if (strncasecmp(p, "0x", 2) != 0) return false;
    p += 2;
    size_t n = 0;
    while (isxdigit((unsigned char)p[n]) && n < 128) {
        hex[n] = (char)tolower((unsigned char)p[n]);
        n++;
    }
    hex[n] = 0;
    if (isxdigit((unsigned char)p[n]) || (n != 40 && n != 64 && n != 96 && n != 128)) return false;
    *idx = (int)i;
    return true;
}

/* The hex digits of a digest of bank (TPM 2.0 Library part 2, TPM_ALG_ID: the digest sizes),
 * or 0 for a bank not named here (any of pcr_line's lengths). */
static size_t bank_hex_len(const char *bank)
{
    static const struct { const char *name; size_t len; } banks[] = {
        {"sha1", 40}, {"sha256", 64}, {"sha384", 96}, {"sha512", 128}, {"sm3_256", 64}, {"sha3_256", 64},
        {"sha3_384", 96}, {"sha3_512", 128},
    };
    for (size_t i = 0; i < ARRAY_SIZE(banks); i++)
        if (streq(bank, banks[i].name)) return banks[i].len;
    return 0;
}

unsigned cvm_parse_pcr_bank(const char *text, const char *bank, char hex[CVM_PCRS][129])
{
    _cleanup_free_ char *head = xasprintf("%s:", bank);
    size_t want = bank_hex_len(bank);
    unsigned got = 0;
    for (const char *p = text; p; p = line_next(p)) {
        if (!line_is(p, head)) continue;
        size_t indent = line_indent(p);
        for (const char *q = line_next(p); q; q = line_next(q)) {
            if (line_is(q, "")) continue;
            if (line_indent(q) <= indent) break;
            int i;
            char h[129];
            /* a digest of another length is not this bank's value (a sha1 one under sha256:) */
            if (pcr_line(q, &i, h) && i >= 0 && i < CVM_PCRS && (!want || strlen(h) == want)) {
                memcpy(hex[i], h, sizeof h);
                got |= 1u << i;
            }
        }
        break;
    }
    return got;
}

enum verdict_kind decide_measured_boot(bool log_present, const struct gcap *eventlog, const struct gcap *pcrread,
                                       struct verdict *v)
{
    static const char log_path[] = "/sys/kernel/security/tpm0/binary_bios_measurements";
    if (!log_present)
        return verdict_set(v, VERDICT_FAIL, "no firmware event log: %s is missing (the firmware measured nothing, "
                                            "or did not hand its log to the kernel)", log_path);
    if (eventlog->status != 0) {
        _cleanup_free_ char *why = gcap_why(eventlog);
        return verdict_set(v, VERDICT_FAIL, "tpm2_eventlog cannot replay %s: %s", log_path, why);
    }
    /* the replayed values close tpm2_eventlog's output, under "pcrs:" at the left margin */
    const char *pcrs = NULL;
    for (const char *p = eventlog->out; p && !pcrs; p = line_next(p))
        if (line_indent(p) == 0 && line_is(p, "pcrs:")) pcrs = p;
    if (!pcrs)
        return verdict_set(v, VERDICT_FAIL, "the firmware event log %s records no measurement (tpm2_eventlog "
                                            "replays no PCR)", log_path);
    char want[CVM_PCRS][129], have[CVM_PCRS][129];
    unsigned logged = cvm_parse_pcr_bank(pcrs, "sha256", want);
    if (!logged) {
        bool other = strstr(pcrs, "sha1:") != NULL;
        return other ? verdict_set(v, VERDICT_SKIP, "cannot decide: the event log extends no sha256 PCR 0-7 (only "
                                                    "sha1), which is the bank compared")
                     : verdict_set(v, VERDICT_FAIL, "the firmware event log %s measured nothing into PCR 0-7",
                                   log_path);
    }
    if (pcrread->status != 0) {
        _cleanup_free_ char *why = gcap_why(pcrread);
        return verdict_set(v, VERDICT_FAIL, "the TPM does not answer: tpm2_pcrread sha256:0,1,2,3,4,5,6,7 %s", why);
    }
    unsigned read = cvm_parse_pcr_bank(pcrread->out, "sha256", have);
    for (int i = 0; i < CVM_PCRS; i++)
        if (!(read & (1u << i)))
            return verdict_set(v, VERDICT_SKIP, "cannot decide: tpm2_pcrread printed no sha256 value for PCR %d", i);
    struct sbuf bad = {0};
    int nbad = 0;
    for (int i = 0; i < CVM_PCRS; i++) {
        /* a PCR the log never extends is still at its reset value, all zeros */
        char zero[129];
        memset(zero, '0', 64);
        zero[64] = 0;
        const char *w = logged & (1u << i) ? want[i] : zero;
        if (streq(w, have[i])) continue;
        sbuf_printf(&bad, "%sPCR %d: the event log replays to 0x%s, the TPM reports 0x%s", nbad ? "; " : "", i, w,
                    have[i]);
        nbad++;
    }
    if (nbad) {
        verdict_set(v, VERDICT_FAIL, "the firmware event log does not match the TPM (%d of PCR 0-7, sha256): %s", nbad,
                    bad.s);
        sbuf_free(&bad);
        return VERDICT_FAIL;
    }
    return verdict_set(v, VERDICT_PASS, "the firmware event log replays to the TPM's PCR 0-7 (sha256; %d extended)",
                       __builtin_popcount(logged));
}

/* The value byte of an efivarfs file as `od -An -tu1` shows it ("NAME 6 0 0 0 1": four
 * attribute bytes, then the value): 0..255, or -1 when the line is absent or short. */
static int efivar_byte(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p; p = line_next(p)) {
        if (strncmp(p, name, n) != 0 || p[n] != ' ') continue;
        const char *s = p + n, *end = line_end(p);
        long bytes[5];
        int k = 0;
        while (s < end && k < 5) {
            s += strspn(s, " \t");
            if (s >= end || !isdigit((unsigned char)*s)) break;
            long b = 0;
            while (s < end && isdigit((unsigned char)*s) && b < 1000) b = b * 10 + (*s++ - '0');
            bytes[k++] = b;
        }
        return k == 5 && bytes[4] <= 255 ? (int)bytes[4] : -1;
    }
    return -1;
}

/* The first line of text holding needle (case-insensitive), at most 160 bytes, allocated. */
static char *line_with(const char *text, const char *needle)
{
    for (const char *p = text; p; p = line_next(p)) {
        size_t len = (size_t)(line_end(p) - p);
        _cleanup_free_ char *l = xstrndup(p, len > 160 ? 160 : len);
        if (strcasestr(l, needle)) return xstrdup(strstrip(l));
    }
    return NULL;
}

enum verdict_kind decide_secure_boot(const struct gcap *efivars, const struct gcap *mokutil, const struct gcap *klog,
                                     struct verdict *v)
{
    static const char guid[] = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
    for (const char *p = efivars->out; p; p = line_next(p))
        if (line_is(p, "no-efi"))
            return verdict_set(v, VERDICT_FAIL, "the guest did not boot through UEFI (no /sys/firmware/efi), so "
                                                "there is no Secure Boot");
    int sb = efivar_byte(efivars->out, "SecureBoot"), setup = efivar_byte(efivars->out, "SetupMode");
    const char *from = "efivarfs";
    if (sb < 0 && mokutil) {
        /* mokutil --sb-state: "SecureBoot enabled" / "SecureBoot disabled" */
        const char *o = mokutil->out;
        sb = strstr(o, "SecureBoot enabled") ? 1 : strstr(o, "SecureBoot disabled") ? 0 : -1;
        from = "mokutil --sb-state";
    }
    if (sb < 0)
        return verdict_set(v, VERDICT_SKIP, "cannot decide: efivarfs holds no readable SecureBoot-%s%s", guid,
                           mokutil ? " and mokutil --sb-state says neither enabled nor disabled" : " (and no mokutil)");
    char setup_s[32] = "";
    if (setup >= 0) snprintf(setup_s, sizeof setup_s, ", SetupMode=%d", setup);
    if (sb != 1)
        return verdict_set(v, VERDICT_FAIL, "SecureBoot=%d%s (%s): the firmware does not enforce Secure Boot%s", sb,
                           setup_s, from,
                           setup == 1 ? "; in setup mode no Platform Key is enrolled, so no signature is checked" : "");
    if (setup > 0)
        return verdict_set(v, VERDICT_FAIL, "SecureBoot=1 but SetupMode=%d (%s): in setup mode no Platform Key is "
                                            "enrolled, so no signature is checked", setup, from);
    _cleanup_free_ char *on = line_with(klog->out, "Secure boot enabled");
    if (on)
        return verdict_set(v, VERDICT_PASS, "SecureBoot=1%s (%s); the kernel reports \"%s\"", setup_s, from, on);
    _cleanup_free_ char *other = line_with(klog->out, "Secure boot");
    if (other)
        return verdict_set(v, VERDICT_FAIL, "the firmware says SecureBoot=1 (%s) but the kernel reports \"%s\"", from,
                           other);
    return verdict_set(v, VERDICT_SKIP, "cannot decide: SecureBoot=1%s (%s), but the kernel log has no \"Secure boot\" "
                                        "line saying whether the kernel saw it", setup_s, from);
}

enum verdict_kind decide_unsigned_kernel_refused(const char *probe_entry, const char *entry_after, const char *console,
                                                 struct verdict *v)
{
    if (entry_after && streq(entry_after, probe_entry))
        return verdict_set(v, VERDICT_FAIL, "a kernel without a signature booted under Secure Boot: LoaderEntrySelected "
                                            "is %s, the entry kiln offered it in", probe_entry);
    static const char *const refusals[] = {"Security Violation", "Access Denied"};
    for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
        _cleanup_free_ char *line = line_with(console, refusals[i]);
        if (line)
            return verdict_set(v, VERDICT_PASS, "a kernel without a signature is refused (entry %s): the console says "
                                                "\"%s\"", probe_entry, line);
    }
    _cleanup_free_ char *other = line_with(console, "Error loading");
    if (other)
        return verdict_set(v, VERDICT_SKIP, "cannot decide: the kernel without a signature (entry %s) was not started, "
                                            "but not for its signature: \"%s\"", probe_entry, other);
    return verdict_set(v, VERDICT_SKIP, "cannot decide: after offering a kernel without a signature once (entry %s) the "
                                        "guest booted %s and the console shows no refusal (did systemd-boot read "
                                        "LoaderEntryOneShot?)", probe_entry, entry_after && *entry_after ? entry_after : "an unknown entry");
}

bool cvm_has_line(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, word, n) == 0 && (p[n] == '\n' || !p[n])) return true;
    return false;
}

enum verdict_kind decide_unsigned_probe_skip(const char *loader, struct verdict *v)
{
    bool shim = loader && cvm_has_line(loader, "shim"), grub = loader && cvm_has_line(loader, "grub");
    if (shim || grub)
        return verdict_set(v, VERDICT_SKIP, "the guest was booted by %s (%s), not by systemd-boot nor by GRUB from a "
                                            "grub.cfg kiln can offer a kernel in (EFI/debian/grub.cfg as kiln build's "
                                            "boot.secure_boot: distro writes it): no kernel without a signature was "
                                            "offered", shim && grub ? "shim and GRUB" : shim ? "shim" : "GRUB",
                           shim && grub ? "shim's MokListRT variable, GRUB's BOOT_IMAGE= on the kernel command line"
                           : shim       ? "shim's MokListRT variable"
                                        : "GRUB's BOOT_IMAGE= on the kernel command line");
    return verdict_set(v, VERDICT_SKIP, "the guest was not booted by systemd-boot from its disk (a kernel handed to the "
                                        "firmware directly?), so no unsigned kernel was offered");
}

static int verdict_status(enum verdict_kind k)
{
    return k == VERDICT_PASS ? ST_PASSED : k == VERDICT_FAIL ? ST_FAILED : ST_SKIPPED;
}

size_t decide_secure_boot_parts(const struct verdict *on, bool offered, const struct verdict *probe,
                                struct kiln_subtest subs[2], struct verdict *v)
{
    const char *on_why = on->reason ? on->reason : "Secure Boot enforced";
    const char *probe_why = probe->reason ? probe->reason : "";
    subs[0] = (struct kiln_subtest){.name = xstrdup("secure_boot_on"), .status = verdict_status(on->kind),
                                    .reason = xstrdup(on_why)};
    if (on->kind != VERDICT_PASS) {
        verdict_set(v, on->kind, "%s", on_why);
        return 1;
    }
    /* not offered: nothing was tried, whatever the probe's kind says */
    int st = offered ? verdict_status(probe->kind) : ST_SKIPPED;
    subs[1] = (struct kiln_subtest){.name = xstrdup("unsigned_kernel_refused"), .status = st,
                                    .reason = xstrdup(probe_why)};
    if (!offered)
        verdict_set(v, VERDICT_PASS, "%s; not checked: that a kernel without a signature is refused (%s)", on_why,
                    probe_why);
    else
        verdict_set(v, probe->kind, "%s; %s", on_why, probe_why);
    return 2;
}

/* The value of BOOT_IMAGE= when cmdline begins with it, else NULL. */
static char *boot_image(const char *cmdline)
{
    if (!cmdline || !startswith(cmdline, "BOOT_IMAGE=")) return NULL;
    const char *p = cmdline + strlen("BOOT_IMAGE=");
    return xstrndup(p, strcspn(p, " \t\n"));
}

enum verdict_kind decide_grub_unsigned_refused(const char *offered, const char *cmdline, const char *console,
                                               struct verdict *v)
{
    _cleanup_free_ char *booted = boot_image(cmdline);
    if (booted && streq(booted, offered))
        return verdict_set(v, VERDICT_FAIL, "a kernel without a signature booted under Secure Boot: GRUB started %s "
                                            "(BOOT_IMAGE= in /proc/cmdline), the kernel kiln offered it", offered);
    static const char *const refusals[] = {"bad shim signature", "Security Violation", "Access Denied"};
    for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
        _cleanup_free_ char *line = line_with(console, refusals[i]);
        if (line)
            return verdict_set(v, VERDICT_PASS, "a kernel without a signature is refused (GRUB, %s): the console says "
                                                "\"%s\"%s%s", offered, line, booted ? " and GRUB started " : "",
                               booted ? booted : "");
    }
    return verdict_set(v, VERDICT_SKIP, "cannot decide: after offering GRUB a kernel without a signature (%s) the guest "
                                        "booted %s and the console shows no refusal", offered,
                       booted ? booted : "a kernel GRUB did not name (no BOOT_IMAGE=)");
}

enum verdict_kind decide_pcr4_change(const struct gcap *before, const struct gcap *after, const char *what,
                                     struct verdict *v)
{
    const struct gcap *caps[] = {before, after};
    char hex[2][CVM_PCRS][129];
    for (int i = 0; i < 2; i++) {
        static const char *const when[] = {"before the upgrade", "after the upgrade and reboot"};
        if (caps[i]->status != 0) {
            _cleanup_free_ char *why = gcap_why(caps[i]);
            return verdict_set(v, VERDICT_FAIL, "the TPM does not answer %s: tpm2_pcrread sha256:4 %s", when[i], why);
        }
        if (!(cvm_parse_pcr_bank(caps[i]->out, "sha256", hex[i]) & (1u << 4)))
            return verdict_set(v, VERDICT_SKIP, "cannot decide: tpm2_pcrread printed no sha256 value for PCR 4 %s",
                               when[i]);
    }
    if (strspn(hex[0][4], "0") == strlen(hex[0][4]))
        return verdict_set(v, VERDICT_FAIL, "PCR 4 is all zeros before the upgrade: the firmware measured no boot "
                                            "application, so an upgrade cannot show in it");
    if (streq(hex[0][4], hex[1][4]))
        return verdict_set(v, VERDICT_FAIL, "PCR 4 (sha256) is 0x%s both before and after upgrading %s and rebooting: "
                                            "the firmware did not start the upgraded binary (the VM boots another "
                                            "path, e.g. a kernel given directly to the firmware)", hex[0][4], what);
    return verdict_set(v, VERDICT_PASS, "PCR 4 (sha256) changed from 0x%s to 0x%s after upgrading %s; the VM booted "
                                        "again", hex[0][4], hex[1][4], what);
}

bool cvm_luks_device(const char *lsblk, char *dev, size_t sz)
{
    bool crypt = false;
    for (const char *p = lsblk; p && *p; p = line_next(p)) {
        char name[256], type[32], fstype[32] = "";
        _cleanup_free_ char *line = xstrndup(p, (size_t)(line_end(p) - p));
        int n = sscanf(line, "%255s %31s %31s", name, type, fstype);
        if (n < 2) continue;
        if (streq(type, "crypt")) crypt = true;
        else if (crypt && n == 3 && streq(fstype, "crypto_LUKS")) {
            snprintf(dev, sz, "%s", name);
            return true;
        }
    }
    return false;
}

enum cvm_unlock cvm_unlock_kind(const char *journal)
{
    if (strstr(journal, "TPM2 token unlocks volume")) return UNLOCK_TPM2;
    if (strstr(journal, "Set cipher ") || strstr(journal, "falling back to traditional unlocking")) return UNLOCK_OTHER;
    /* the unit's own lines (systemd's "Finished UNIT - DESCRIPTION.") with nothing else said */
    for (const char *p = journal; p; p = line_next(p))
        if (startswith(p, "Finished systemd-cryptsetup@")) return UNLOCK_TOKEN;
    return UNLOCK_UNKNOWN;
}

/* A printable copy of at most max bytes of s, for a reason. */
static char *printable(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *c = xstrndup(s, n);
    for (char *p = c; *p; p++)
        if (!isprint((unsigned char)*p)) *p = ' ';
    return c;
}

/* The keyslots of a token as "1,2" (at most 8 listed). */
static char *token_slots(json_t *tok)
{
    struct sbuf b = {0};
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(tok, "keyslots"), i, s)
    {
        if (i >= 8 || !json_is_string(s)) break;
        _cleanup_free_ char *p = printable(json_string_value(s), 8);
        sbuf_printf(&b, "%s%s", i ? "," : "", p);
    }
    return b.s ? sbuf_steal(&b) : xstrdup("none");
}

enum verdict_kind decide_encrypted_root(const char *dev, const struct gcap *dump, const struct gcap *empty,
                                        const struct gcap *unlock, struct verdict *v)
{
    if (dump->status != 0) {
        _cleanup_free_ char *why = gcap_why(dump);
        return verdict_set(v, VERDICT_FAIL, "cannot read the LUKS header of %s: cryptsetup luksDump %s", dev, why);
    }
    json_error_t je;
    json_t *hdr = json_loads(dump->out, 0, &je);
    json_t *tokens = json_object_get(hdr, "tokens");
    if (!json_is_object(tokens) || !json_is_object(json_object_get(hdr, "keyslots"))) {
        json_decref(hdr);
        return verdict_set(v, VERDICT_SKIP, "cannot decide: cryptsetup luksDump --dump-json-metadata %s printed no "
                                            "LUKS2 metadata with keyslots and tokens", dev);
    }
    json_t *tpm = NULL, *tok;
    const char *id;
    struct sbuf kinds = {0};
    bool other_plugin = false; /* a token besides systemd-tpm2 that could have opened the volume */
    json_object_foreach(tokens, id, tok)
    {
        const char *type = json_string_value(json_object_get(tok, "type"));
        _cleanup_free_ char *t = printable(type ? type : "?", 40);
        sbuf_printf(&kinds, "%s%s", kinds.s ? ", " : "", t);
        if (type && streq(type, "systemd-tpm2") && !tpm) tpm = tok;
        else if (!type || !streq(type, "systemd-recovery")) other_plugin = true;
    }
    _cleanup_free_ char *kinds_s = kinds.s ? sbuf_steal(&kinds) : xstrdup("none");
    enum verdict_kind k;
    if (!tpm) {
        k = verdict_set(v, VERDICT_FAIL, "no keyslot of %s is sealed to the TPM: its LUKS2 header has no systemd-tpm2 "
                                         "token (tokens: %s)%s", dev, kinds_s,
                        empty->status == 0 ? "; an empty passphrase opens it (never enrolled?)" : "");
        json_decref(hdr);
        return k;
    }
    _cleanup_free_ char *slots = token_slots(tpm);
    bool pcr7 = false;
    struct sbuf pcrs = {0};
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(tpm, "tpm2-pcrs"), i, p)
    {
        if (!json_is_integer(p) || i >= 24) continue;
        sbuf_printf(&pcrs, "%s%lld", pcrs.s ? "," : "", (long long)json_integer_value(p));
        pcr7 |= json_integer_value(p) == 7;
    }
    _cleanup_free_ char *pcrs_s = pcrs.s ? sbuf_steal(&pcrs) : xstrdup("none");
    json_decref(hdr);
    if (!pcr7)
        return verdict_set(v, VERDICT_FAIL, "the TPM2 token of %s (keyslot %s) is sealed to PCRs [%s], not to PCR 7: "
                                            "the key unseals whatever the Secure Boot state and keys", dev, slots, pcrs_s);
    if (empty->status == 0)
        return verdict_set(v, VERDICT_FAIL, "an empty passphrase opens %s (cryptsetup open --test-passphrase with an "
                                            "empty line): anyone with the disk reads the root, the TPM seal protects "
                                            "nothing", dev);
    enum cvm_unlock how = unlock->status == 0 ? cvm_unlock_kind(unlock->out) : UNLOCK_UNKNOWN;
    size_t len = strlen(unlock->out);
    _cleanup_free_ char *last = printable(unlock->out + (len > 300 ? len - 300 : 0), 300);
    if (how == UNLOCK_UNKNOWN)
        return verdict_set(v, VERDICT_SKIP, "cannot decide how this boot opened %s: the journal of its "
                                            "systemd-cryptsetup unit says neither how nor that it finished: \"%s\"",
                           dev, strstrip(last));
    if (how == UNLOCK_OTHER)
        return verdict_set(v, VERDICT_FAIL, "this boot did not unlock %s with the TPM: its systemd-cryptsetup unit "
                                            "took a passphrase or key file (\"Set cipher\" without \"TPM2 token "
                                            "unlocks volume\"): \"%s\"", dev, strstrip(last));
    if (how == UNLOCK_TOKEN && other_plugin)
        return verdict_set(v, VERDICT_SKIP, "cannot decide which token opened %s this boot: its header has tokens "
                                            "other than systemd-tpm2 (%s) and systemd 252 names the token at debug "
                                            "level only", dev, kinds_s);
    return verdict_set(v, VERDICT_PASS, "%s is LUKS2, unlocked this boot by its TPM2 token (keyslot %s, PCRs [%s]%s); "
                                        "no empty passphrase opens it (tokens: %s)", dev, slots, pcrs_s,
                       how == UNLOCK_TOKEN ? "; no passphrase or key file tried" : "", kinds_s);
}

enum verdict_kind decide_pcr7_seal(const char *dev, const struct gcap *now, const struct gcap *changed,
                                   struct verdict *v)
{
    if (now->status != 0) {
        _cleanup_free_ char *why = gcap_why(now);
        return verdict_set(v, VERDICT_FAIL, "the TPM does not unseal the key of %s with PCR 7 as booted: "
                                            "cryptsetup open --test-passphrase --token-only %s", dev, why);
    }
    if (changed->status == 0)
        return verdict_set(v, VERDICT_FAIL, "after PCR 7 was extended the TPM still unsealed the key of %s: the seal "
                                            "does not depend on PCR 7", dev);
    _cleanup_free_ char *why = gcap_why(changed);
    /* cryptsetup refusing exits 1 or 2: a command that did not end (-1) or was not run (126,
     * 127, a signal's 128+N) says nothing about the seal */
    if (changed->status < 0 || changed->status >= 126)
        return verdict_set(v, VERDICT_SKIP, "cannot decide whether the seal of %s depends on PCR 7: after PCR 7 was "
                                            "extended, cryptsetup open --token-only %s, which is not a refusal", dev, why);
    return verdict_set(v, VERDICT_PASS, "the TPM unseals the key of %s with PCR 7 as booted and refuses once PCR 7 "
                                        "changed (cryptsetup open --token-only %s)", dev, why);
}
