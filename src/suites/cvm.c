/* Area cvm: what a confidential or trusted-boot VM relies on and any host can give it: a
 * TPM 2.0 (the qemu platform's swtpm), the firmware's measurements in it, and Secure Boot
 * enforced by the firmware and seen by the kernel. Decisions in decide_cvm.c. Priority 3:
 * each needs an environment of its own (a TPM, Secure Boot firmware), so the tier runbooks
 * do not boot one; examples/cvm.yml selects the area. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/console.h"
#include "node/node.h"
#include "suites/decide_cvm.h"
#include "util/fs.h"
#include "util/util.h"

/* tpm2-tools talk to the kernel's resource manager directly: no tabrmd, no noise about it */
#define TPM2_ENV "TPM2TOOLS_TCTI=device:/dev/tpmrm0 "

/* 1 when the guest has the program, 0 when not, -1 when the command could not run. */
static int guest_has(struct kiln_case_ctx *t, const char *prog)
{
    _cleanup_free_ char *cmd = xasprintf("command -v %s >/dev/null 2>&1", prog);
    struct gcap c;
    if (guest_capture(t, NULL, cmd, &c) < 0) return -1;
    int has = c.status == 0;
    gcap_free(&c);
    return has;
}

KILN_CASE(verify_tpm_present,
          .area = "cvm", .priority = 3, .timeout_s = 120,
          .description = "A TPM 2.0 answers: the kernel bound it (/sys/class/tpm, /dev/tpmrm0) and tpm2_getcap "
                         "properties-fixed reports family 2.0",
          .requires = {.features = FEAT_TPM})
{
    struct gfiles sys;
    if (guest_read_files(t, NULL, "/sys/class/tpm/tpm*/tpm_version_major", &sys) < 0) return CASE_FAIL;
    struct gcap rm = {0}, getcap = {0};
    int has = -1;
    bool ok = guest_capture(t, NULL, "test -c /dev/tpmrm0", &rm) == 0 && (has = guest_has(t, "tpm2_getcap")) >= 0 &&
              (!has || guest_capture(t, NULL, TPM2_ENV "tpm2_getcap properties-fixed", &getcap) == 0);
    struct verdict v = {0};
    if (ok) decide_tpm_present(&sys, rm.status == 0, has ? &getcap : NULL, &v);
    gfiles_free(&sys);
    gcap_free(&rm);
    gcap_free(&getcap);
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}

KILN_CASE(verify_measured_boot,
          .area = "cvm", .priority = 3, .timeout_s = 180,
          .description = "The firmware's TPM event log replays to the PCR 0-7 values the TPM reports (sha256)",
          .requires = {.features = FEAT_TPM})
{
    static const char log[] = "/sys/kernel/security/tpm0/binary_bios_measurements";
    for (const char *prog = "tpm2_eventlog"; prog; prog = streq(prog, "tpm2_eventlog") ? "tpm2_pcrread" : NULL) {
        int has = guest_has(t, prog);
        if (has < 0) return CASE_FAIL;
        if (!has) return case_skip(t, "the guest lacks %s (tpm2-tools), which replays the log and reads the PCRs", prog);
    }
    struct gcap present = {0}, eventlog = {0}, pcrs = {0};
    _cleanup_free_ char *test = xasprintf("test -e %s", log);
    _cleanup_free_ char *replay = xasprintf("tpm2_eventlog %s", log);
    bool ok = guest_capture(t, NULL, test, &present) == 0;
    bool have_log = ok && present.status == 0;
    if (have_log)
        ok = guest_capture(t, NULL, replay, &eventlog) == 0 &&
             guest_capture(t, NULL, TPM2_ENV "tpm2_pcrread sha256:0,1,2,3,4,5,6,7", &pcrs) == 0;
    struct verdict v = {0};
    if (ok) decide_measured_boot(have_log, &eventlog, &pcrs, &v);
    gcap_free(&present);
    gcap_free(&eventlog);
    gcap_free(&pcrs);
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}

/* Finds the ESP holding the systemd-boot entry the guest booted (LoaderEntrySelected, the Boot
 * Loader Interface's variables under this vendor GUID) and prints "esp=DIR" and "entry=ID";
 * prints "no-sdboot" when the guest did not boot through systemd-boot from a disk (a kernel
 * given to the firmware directly, another boot loader). */
#define SDBOOT_ESP_SH                                                                                               \
    "g=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f; v=/sys/firmware/efi/efivars; "                                      \
    "[ -r $v/LoaderEntrySelected-$g ] || { echo no-sdboot; exit 0; }; "                                           \
    "cur=$(cat $v/LoaderEntrySelected-$g | tail -c +5 | tr -d '\\000'); esp=; "                                          \
    "for d in /boot/efi /efi /boot; do [ -f \"$d/loader/entries/$cur\" ] && { esp=$d; break; }; done; "           \
    "[ -n \"$esp\" ] || { echo no-sdboot; exit 0; }; echo \"esp=$esp\"; echo \"entry=$cur\"; "

/* What started the guest when systemd-boot did not (decide_unsigned_probe_skip): shim leaves
 * its MokListRT variable for the OS, GRUB puts BOOT_IMAGE= first on the kernel command line. */
#define LOADER_SH                                                                                                   \
    "[ ! -e /sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23 ] || echo shim; "            \
    "case $(cat /proc/cmdline) in BOOT_IMAGE=*) echo grub ;; esac; exit 0"

/* The entry systemd-boot is asked to start once, holding a copy of the booted kernel whose PE
 * Certificate Table directory entry is zeroed: a kernel with no signature at all. */
#define PROBE_ENTRY "kiln-unsigned.conf"

/* The probe: the unsigned copy beside the booted kernel, its entry, LoaderEntryOneShot set (an
 * efivarfs file: 4 attribute bytes, NV+BS+RT, then the UTF-16LE name with its NUL). The PE
 * offsets are PE/COFF's: e_lfanew at 0x3c; optional header after the 24-byte signature and
 * COFF header, magic 0x10b (267, PE32) or 0x20b (523, PE32+); data directory 4 (Certificate
 * Table) at 128 (PE32) or 144 (PE32+) into it. */
#define UNSIGNED_COPY_SH                                                                                            \
    "dst=${lin%/*}/linux-kiln-unsigned; cp \"$esp$lin\" \"$esp$dst\"; f=$esp$dst; "                                    \
    "pe=$(od -An -tu4 -j60 -N4 \"$f\" | tr -d ' '); m=$(od -An -tu2 -j$((pe + 24)) -N2 \"$f\" | tr -d ' '); "        \
    "case $m in 523) o=$((pe + 24 + 144)) ;; 267) o=$((pe + 24 + 128)) ;; *) echo \"the kernel is not a PE image "   \
    "(optional header magic $m)\" >&2; exit 1 ;; esac; dd if=/dev/zero of=\"$f\" bs=1 seek=$o count=8 conv=notrunc 2>/dev/null; "

static const char probe_sh[] =
    SDBOOT_ESP_SH
    "set -e; ent=$esp/loader/entries/$cur; "
    "lin=$(sed -n 's/^linux[[:space:]]\\{1,\\}//p' \"$ent\" | head -n1); [ -f \"$esp$lin\" ]; "
    UNSIGNED_COPY_SH
    "sed -e \"s|^linux[[:space:]].*|linux $dst|\" -e 's/^title .*/title kiln: a kernel without a signature/' \"$ent\" "
    "> $esp/loader/entries/" PROBE_ENTRY "; sync; "
    "printf '\\007\\000\\000\\000k\\000i\\000l\\000n\\000-\\000u\\000n\\000s\\000i\\000g\\000n\\000e\\000d\\000"
    ".\\000c\\000o\\000n\\000f\\000\\000\\000' > $v/LoaderEntryOneShot-$g; echo \"kernel=$dst\"";

/* Removes the probe's entry and kernel (and a one-shot systemd-boot did not consume). */
static const char probe_cleanup_sh[] =
    SDBOOT_ESP_SH
    "rm -f \"$esp/loader/entries/" PROBE_ENTRY "\"; find \"$esp\" -name linux-kiln-unsigned -delete; "
    "f=$v/LoaderEntryOneShot-$g; [ ! -e $f ] || { chattr -i $f 2>/dev/null; rm -f $f; }; exit 0";

/* The probe for a guest GRUB booted from kiln build's EFI/debian/grub.cfg (boot.secure_boot:
 * distro: top-level linux 'PATH' ARGS and initrd lines, no menu): the unsigned copy beside
 * PATH, and grub.cfg (the original kept as grub.cfg.kiln-orig) first trying it with the same
 * arguments, then, its linux refused, the original lines. GRUB has no one-shot entry: the
 * cleanup puts the original back. Prints "kernel=PATH", or no-grubcfg. */
#define GRUB_CFG_SH                                                                                                 \
    "cfg=; for d in /boot/efi /efi /boot; do [ -f \"$d/EFI/debian/grub.cfg\" ] && { esp=$d; cfg=$d/EFI/debian/grub.cfg; break; }; done; "
static const char grub_probe_sh[] =
    GRUB_CFG_SH
    "[ -n \"$cfg\" ] || { echo no-grubcfg; exit 0; }; [ ! -f \"$cfg.kiln-orig\" ] || mv \"$cfg.kiln-orig\" \"$cfg\"; "
    "l=$(grep -m1 '^linux ' \"$cfg\" || true); i=$(grep -m1 '^initrd ' \"$cfg\" || true); "
    "lin=$(printf '%s\\n' \"$l\" | sed -n \"s/^linux '\\([^']*\\)'.*/\\1/p\"); "
    "[ -n \"$lin\" ] && [ -n \"$i\" ] && [ -f \"$esp$lin\" ] || { echo no-grubcfg; exit 0; }; set -e; "
    UNSIGNED_COPY_SH
    "{ printf \"if linux '%s'%s; then\\n%s\\nboot\\nfi\\n\" \"$dst\" \"${l#\"linux '$lin'\"}\" \"$i\"; cat \"$cfg\"; } > \"$cfg.kiln-new\"; "
    "cp \"$cfg\" \"$cfg.kiln-orig\"; mv \"$cfg.kiln-new\" \"$cfg\"; sync; echo \"kernel=$dst\"";

/* Puts the original grub.cfg back and removes the unsigned copy. */
static const char grub_probe_cleanup_sh[] =
    GRUB_CFG_SH
    "[ -n \"$cfg\" ] || exit 0; [ ! -f \"$cfg.kiln-orig\" ] || mv \"$cfg.kiln-orig\" \"$cfg\"; "
    "find \"$esp\" -name linux-kiln-unsigned -delete; sync; exit 0";

/* What the guest wrote to its console (run directory copy, secrets masked) from byte offset
 * from on, at most the last 4 MiB, escape sequences removed; "" when there is none. */
static char *console_since(struct kiln_node *n, off_t from)
{
    _cleanup_free_ char *path = path_join(n->dir, "console.log");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= from) {
        if (fd >= 0) close(fd);
        return xstrdup("");
    }
    off_t start = MAX(from, st.st_size - (off_t)(4 << 20));
    size_t len = (size_t)(st.st_size - start);
    char *buf = xmalloc(len + 1);
    ssize_t got = pread(fd, buf, len, start);
    close(fd);
    buf[got > 0 ? got : 0] = 0;
    for (ssize_t i = 0; i < got; i++)
        if (!buf[i]) buf[i] = ' ';
    /* the firmware colours its errors: escape sequences out, line by line */
    struct sbuf clean = {0};
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        console_clean_line(line);
        sbuf_printf(&clean, "%s\n", line);
    }
    free(buf);
    return clean.s ? sbuf_steal(&clean) : xstrdup("");
}

static off_t console_size(struct kiln_node *n)
{
    _cleanup_free_ char *path = path_join(n->dir, "console.log");
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Reboots the guest after a probe was installed; *console gets what it printed from then on.
 * 0 when it came back, else a negative errno with why. */
static int probe_reboot(struct kiln_case_ctx *t, char **console, char **reterr)
{
    struct kiln_node *n = t->node;
    off_t mark = console_size(n);
    _cleanup_free_ char *before = xstrdup(n->boot_id ? n->boot_id : "");
    int r = node_reboot(n, MIN(case_time_left(t), 900), reterr);
    /* the firmware's refusal is on the console as EDK II's "BdsDxe: failed to start ...: Access
     * Denied" (a fatal pattern: an image that cannot boot); here it is the one asked for, and the
     * firmware goes on to the next boot option, which boots the default entry */
    for (const char *fatal; r == -EHOSTDOWN && (fatal = node_fatal(n)) && strstr(fatal, "BdsDxe: failed to") &&
                            case_time_left(t) > 0;) {
        case_log(t, "%s: the refusal asked for: %s", n->name, fatal);
        console_clear_fatal(n->console);
        r = node_await_boot(n, before, MIN(case_time_left(t), 900), reterr);
    }
    *console = console_since(n, mark);
    if (r < 0) n->bad = true;
    return r;
}

/* The probe through GRUB (loader: LOADER_SH's output, which says grub): PASS when GRUB refuses
 * the kernel and boots the signed one. */
static int grub_unsigned_probe(struct kiln_case_ctx *t, const char *loader, struct verdict *v)
{
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "offering GRUB a kernel without a signature for one boot", grub_probe_sh, &out) != 0)
        return CASE_FAIL;
    if (!out || cvm_has_line(out, "no-grubcfg")) {
        decide_unsigned_probe_skip(loader, v);
        return CASE_SKIP;
    }
    _cleanup_free_ char *offered = helper_value(out, "kernel");
    _cleanup_free_ char *why = NULL;
    _cleanup_free_ char *console = NULL;
    if (probe_reboot(t, &console, &why) < 0)
        return case_fail(t, "after offering GRUB a kernel without a signature the guest did not come back: %s", why);
    _cleanup_free_ char *cmdline = NULL;
    int rc = case_sh(t, "cat /proc/cmdline", &cmdline);
    /* the probe's grub.cfg tries the unsigned kernel first on every boot: put the original back
     * whatever the verdict (a guest that did not come back is marked bad and not reused) */
    if (case_sh(t, grub_probe_cleanup_sh, NULL) != 0) case_log(t, "could not put the original grub.cfg back");
    if (rc != 0) return case_fail(t, "cannot read /proc/cmdline");
    decide_grub_unsigned_refused(offered ? offered : "linux-kiln-unsigned", cmdline, console, v);
    return CASE_PASS;
}

/* Offers a kernel without a signature for one boot and reboots: PASS when it is refused and the
 * guest comes back on its own entry. CASE_SKIP when neither systemd-boot nor GRUB from kiln's
 * grub.cfg booted the guest. */
static int unsigned_kernel_probe(struct kiln_case_ctx *t, struct verdict *v)
{
    _cleanup_free_ char *out = NULL;
    if (case_sh(t, SDBOOT_ESP_SH, &out) != 0) return case_fail(t, "cannot read the boot loader's variables");
    if (!out || cvm_has_line(out, "no-sdboot")) {
        _cleanup_free_ char *loader = NULL;
        if (case_sh(t, LOADER_SH, &loader) != 0) case_log(t, "cannot tell which boot loader started the guest");
        if (loader && cvm_has_line(loader, "grub")) return grub_unsigned_probe(t, loader, v);
        decide_unsigned_probe_skip(loader, v);
        return CASE_SKIP;
    }
    free(out);
    out = NULL;
    if (guest_sh_ok(t, "offering a kernel without a signature for one boot", probe_sh, &out) != 0) return CASE_FAIL;
    _cleanup_free_ char *why = NULL;
    _cleanup_free_ char *console = NULL;
    if (probe_reboot(t, &console, &why) < 0)
        return case_fail(t, "after offering a kernel without a signature the guest did not come back on its own "
                            "entry: %s", why);
    _cleanup_free_ char *after = NULL;
    int rc = case_sh(t, SDBOOT_ESP_SH, &after);
    if (case_sh(t, probe_cleanup_sh, NULL) != 0) case_log(t, "could not remove the probe entry " PROBE_ENTRY);
    if (rc != 0) return case_fail(t, "cannot read the boot loader's variables");
    _cleanup_free_ char *entry = after ? helper_value(after, "entry") : NULL;
    decide_unsigned_kernel_refused(PROBE_ENTRY, entry, console, v);
    return CASE_PASS;
}

KILN_CASE(verify_secure_boot_enforced,
          .area = "cvm", .priority = 3, .timeout_s = 1200,
          .description = "Secure Boot is on and enforced: SecureBoot=1 and SetupMode=0 in the firmware's variables, "
                         "the kernel reports Secure boot enabled, and (booted by systemd-boot, or by GRUB from kiln's "
                         "grub.cfg) a kernel without a signature offered for one boot is refused; subtests secure_boot_on and "
                         "unsigned_kernel_refused (skipped, and the pass notes it, when no kernel could be offered)",
          .requires = {.features = FEAT_SECURE_BOOT})
{
    struct gcap vars = {0}, klog = {0}, mok = {0};
    int has_mok = -1;
    bool ok = guest_capture(t, NULL, "[ -d /sys/firmware/efi ] || { echo no-efi; exit 0; }; "
                                     "d=/sys/firmware/efi/efivars; g=8be4df61-93ca-11d2-aa0d-00e098032b8c; "
                                     "for v in SecureBoot SetupMode; do f=$d/$v-$g; [ -r \"$f\" ] || continue; "
                                     "echo \"$v $(od -An -tu1 \"$f\" | tr -s ' \\n' '  ')\"; done",
                            &vars) == 0 &&
              guest_capture(t, NULL, "{ dmesg 2>/dev/null || journalctl -k -b -o cat; } | grep -i 'secure boot'; exit 0",
                            &klog) == 0 &&
              (has_mok = guest_has(t, "mokutil")) >= 0 &&
              (!has_mok || guest_capture(t, NULL, "mokutil --sb-state", &mok) == 0);
    struct verdict v = {0};
    if (ok) decide_secure_boot(&vars, has_mok ? &mok : NULL, &klog, &v);
    gcap_free(&vars);
    gcap_free(&klog);
    gcap_free(&mok);
    if (!ok) return CASE_FAIL;
    struct verdict probe = {0};
    int r = v.kind == VERDICT_PASS ? unsigned_kernel_probe(t, &probe) : CASE_PASS;
    if (r == CASE_FAIL) {
        verdict_free(&v);
        verdict_free(&probe);
        return CASE_FAIL;
    }
    /* two subtests: a pass with no kernel offered shows the half it did not check in every
     * report (a skipped subtest with the reason, and a "not checked:" note) */
    struct kiln_subtest subs[2];
    struct verdict parts = {0};
    size_t n = decide_secure_boot_parts(&v, r != CASE_SKIP, &probe, subs, &parts);
    for (size_t i = 0; i < n; i++) *APPEND(t->res->subtests, t->res->nsubtests, t->res->capsubtests) = subs[i];
    if (parts.kind == VERDICT_PASS && r == CASE_SKIP)
        *APPEND(t->res->notes, t->res->nnotes, t->res->capnotes) =
            xasprintf("not checked: that a kernel without a signature is refused (%s)", probe.reason ? probe.reason : "");
    verdict_free(&v);
    verdict_free(&probe);
    return case_verdict(t, &parts);
}

/* The boot loader upgrade, as bootctl(1) update does it: the OS's systemd-boot (its .signed
 * build when there is one) over the ESP's copies that differ from it, and only over copies that
 * are systemd-boot (its ".sdmagic" LoaderInfo string): a GRUB or shim at the removable path
 * stays. Under enforcing Secure
 * Boot only a signed build is installed: an unsigned one would not boot. Prints "upgraded=PATH"
 * per copy replaced, "source=FILE", or one of no-esp, no-source, unsigned-source, same. */
static const char upgrade_sh[] =
    "set -e; v=/sys/firmware/efi/efivars; "
    "case $(uname -m) in x86_64) e=x64; b=BOOTX64.EFI ;; aarch64) e=aa64; b=BOOTAA64.EFI ;; "
    "*) echo \"no systemd-boot build for $(uname -m)\" >&2; exit 1 ;; esac; esp=; "
    "for d in /boot/efi /efi /boot; do [ -f \"$d/EFI/BOOT/$b\" ] && { esp=$d; break; }; done; "
    "[ -n \"$esp\" ] || { echo no-esp; exit 0; }; "
    "u=/usr/lib/systemd/boot/efi/systemd-boot$e.efi; src=; "
    "if [ -f $u.signed ]; then src=$u.signed; elif [ -f $u ]; then src=$u; fi; "
    "[ -n \"$src\" ] || { echo no-source; exit 0; }; echo \"source=$src\"; "
    "sb=$(od -An -tu1 $v/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | awk '{print $5}'); "
    "[ \"$sb\" != 1 ] || [ \"$src\" = $u.signed ] || { echo unsigned-source; exit 0; }; n=0; "
    "for t in \"$esp/EFI/BOOT/$b\" \"$esp/EFI/systemd/systemd-boot$e.efi\"; do [ -f \"$t\" ] || continue; "
    "grep -qa 'LoaderInfo: systemd-boot' \"$t\" || continue; cmp -s \"$src\" \"$t\" && continue; cp \"$src\" \"$t.kiln-new\"; mv \"$t.kiln-new\" \"$t\"; "
    "echo \"upgraded=${t#$esp/}\"; n=$((n + 1)); done; sync; [ $n -gt 0 ] || echo same";

KILN_CASE(verify_pcr_change_on_boot_component_upgrade,
          .area = "cvm", .priority = 1, .timeout_s = 1200,
          .description = "After the boot loader is upgraded (the OS's systemd-boot installed on the ESP, as bootctl "
                         "update does) and the VM rebooted, PCR 4 (sha256) differs and the VM still boots",
          .requires = {.features = FEAT_TPM})
{
    int has = guest_has(t, "tpm2_pcrread");
    if (has < 0) return CASE_FAIL;
    if (!has) return case_skip(t, "the guest lacks tpm2_pcrread (tpm2-tools), which reads PCR 4");
    static const char read_pcr4[] = TPM2_ENV "tpm2_pcrread sha256:4";
    struct gcap before = {0}, after = {0};
    if (guest_capture(t, NULL, read_pcr4, &before) < 0) return CASE_FAIL;
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "upgrading the boot loader", upgrade_sh, &out) != 0) {
        gcap_free(&before);
        return CASE_FAIL;
    }
    static const struct { const char *word, *why; } nothing[] = {
        {"no-esp", "the guest has no ESP with EFI/BOOT/BOOTX64.EFI under /boot/efi, /efi or /boot"},
        {"no-source", "the OS has no systemd-boot build to upgrade to (/usr/lib/systemd/boot/efi)"},
        {"unsigned-source", "Secure Boot is enforced and the OS's systemd-boot has no signed build (.efi.signed)"},
        {"same", "the ESP holds no systemd-boot other than the OS's (already upgraded, or another boot loader)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(nothing); i++)
        if (out && cvm_has_line(out, nothing[i].word)) {
            gcap_free(&before);
            return case_skip(t, "nothing to upgrade: %s", nothing[i].why);
        }
    _cleanup_free_ char *src = helper_value(out, "source"), *dst = helper_value(out, "upgraded");
    _cleanup_free_ char *what = xasprintf("%s from %s", dst ? dst : "the ESP's boot loader", src ? src : "the OS");
    _cleanup_free_ char *why = NULL;
    if (node_reboot(t->node, MIN(case_time_left(t), 900), &why) < 0) {
        t->node->bad = true;
        gcap_free(&before);
        return case_fail(t, "the VM did not boot again after upgrading %s: %s", what, why);
    }
    int r = guest_capture(t, NULL, read_pcr4, &after);
    struct verdict v = {0};
    if (r == 0) decide_pcr4_change(&before, &after, what, &v);
    gcap_free(&before);
    gcap_free(&after);
    return r == 0 ? case_verdict(t, &v) : CASE_FAIL;
}

/* The block devices under the root filesystem, the mounted one first (decide_cvm.h). */
static const char root_stack_sh[] = "lsblk -nrspo NAME,TYPE,FSTYPE \"$(findmnt -nvo SOURCE /)\"";
/* This boot's journal of the systemd-cryptsetup unit that opened the root's mapping, the
 * initrd's part included (journald hands it over at the switch to the root). */
static const char unlock_log_sh[] =
    "n=$(basename \"$(findmnt -nvo SOURCE /)\"); "
    "journalctl -b -q -o cat -u \"systemd-cryptsetup@$(systemd-escape \"$n\").service\" | tail -n 40";

/* Whether this boot's root was opened by a LUKS2 token (the TPM's, decide_encrypted_root tells). */
static bool by_token(const struct gcap *unlock)
{
    enum cvm_unlock k = cvm_unlock_kind(unlock->out);
    return unlock->status == 0 && (k == UNLOCK_TPM2 || k == UNLOCK_TOKEN);
}

/* Reboots the case's node; false (the case failed) when it does not come back. */
static bool reboot_node(struct kiln_case_ctx *t, const char *why_now)
{
    _cleanup_free_ char *why = NULL;
    case_log(t, "%s: rebooting (%s)", t->node->name, why_now);
    if (node_reboot(t->node, MIN(case_time_left(t), 900), &why) == 0) return true;
    t->node->bad = true;
    case_fail(t, "the VM did not boot again after a reboot (%s): %s", why_now, why);
    return false;
}

/* The LUKS device under / into dev, and the guest has the tools the case needs; else false
 * with *rc the case's result (a skip saying what is missing, or CASE_FAIL). */
static bool luks_root(struct kiln_case_ctx *t, char *dev, size_t sz, int *rc)
{
    struct gcap stack = {0};
    *rc = CASE_FAIL;
    if (guest_capture(t, NULL, root_stack_sh, &stack) < 0) return false;
    bool luks = stack.status == 0 && cvm_luks_device(stack.out, dev, sz);
    if (!luks) {
        bool ran = stack.status == 0;
        _cleanup_free_ char *what = ran ? xstrndup(stack.out, strcspn(stack.out, "\n")) : gcap_why(&stack);
        gcap_free(&stack);
        if (!ran) *rc = case_skip(t, "cannot find the block devices under /: lsblk %.200s", what);
        else *rc = case_skip(t, "the root filesystem is not encrypted: no LUKS volume under / (lsblk: %.200s)", what);
        return false;
    }
    gcap_free(&stack);
    for (const char *prog = "cryptsetup"; prog; prog = streq(prog, "cryptsetup") ? "tpm2_pcrextend" : NULL) {
        int has = guest_has(t, prog);
        if (has < 0) return false;
        if (!has) {
            *rc = case_skip(t, "the guest lacks %s (%s), which the case needs to read the LUKS header and to change "
                               "PCR 7", prog, streq(prog, "cryptsetup") ? "cryptsetup-bin" : "tpm2-tools");
            return false;
        }
    }
    return true;
}

/* Whether the TPM refuses the key once PCR 7 changes, into v (decide_pcr7_seal; a failed
 * extend fails v). PCR 7 is changed the only way software can without another firmware:
 * extended with a value the firmware never measures; a reboot resets it. token_sh tests
 * the systemd-tpm2 token on dev. false when a command could not be run at all. */
static bool pcr7_probe(struct kiln_case_ctx *t, const char *dev, const char *token_sh, struct verdict *v)
{
    struct gcap now = {0}, changed = {0}, ext = {0};
    bool ok = guest_capture(t, NULL, token_sh, &now) == 0 &&
              guest_capture(t, NULL, TPM2_ENV "tpm2_pcrextend 7:sha256=$(printf kiln-pcr7-probe | sha256sum | cut -c1-64)",
                            &ext) == 0;
    if (ok && ext.status != 0) {
        _cleanup_free_ char *why = gcap_why(&ext);
        verdict_set(v, VERDICT_FAIL, "cannot extend PCR 7: tpm2_pcrextend %s", why);
    } else if (ok && guest_capture(t, NULL, token_sh, &changed) == 0) {
        decide_pcr7_seal(dev, &now, &changed, v);
    } else ok = false;
    gcap_free(&now);
    gcap_free(&changed);
    gcap_free(&ext);
    return ok;
}

KILN_CASE(verify_encrypted_root,
          .area = "cvm", .priority = 3, .timeout_s = 1800,
          .description = "The root filesystem is LUKS2 unlocked by the TPM without a passphrase: a systemd-tpm2 token "
                         "sealed to PCR 7, no empty passphrase, this boot unlocked by the token; the TPM unseals the key "
                         "with PCR 7 as booted and refuses once PCR 7 is extended",
          .requires = {.features = FEAT_TPM})
{
    char dev[256];
    int rc;
    if (!luks_root(t, dev, sizeof dev, &rc)) return rc;
    _cleanup_free_ char *q = shell_quote(dev);
    _cleanup_free_ char *dump_sh = xasprintf("cryptsetup luksDump --dump-json-metadata %s", q);
    _cleanup_free_ char *empty_sh = xasprintf("printf '\\n' | cryptsetup open --test-passphrase --disable-external-tokens %s", q);
    _cleanup_free_ char *token_sh =
        xasprintf("cryptsetup open --test-passphrase --token-only --token-type systemd-tpm2 %s", q);
    /* kiln build's first-boot enrollment may still be running: let it finish */
    if (case_sh(t, "systemctl start kiln-tpm2-enroll.service 2>/dev/null; exit 0", NULL) != 0) return CASE_FAIL;
    struct gcap unlock = {0}, dump = {0}, empty = {0};
    if (guest_capture(t, NULL, unlock_log_sh, &unlock) < 0) return CASE_FAIL;
    /* the first boot is unlocked before anything is enrolled: judge the boot after it */
    if (unlock.status == 0 && !by_token(&unlock)) {
        gcap_free(&unlock);
        if (!reboot_node(t, "this boot was not unlocked by the TPM; it may have been the first, before enrollment"))
            return CASE_FAIL;
        if (guest_capture(t, NULL, unlock_log_sh, &unlock) < 0) return CASE_FAIL;
    }
    bool ok = guest_capture(t, NULL, dump_sh, &dump) == 0 && guest_capture(t, NULL, empty_sh, &empty) == 0;
    struct verdict v = {0};
    if (ok) decide_encrypted_root(dev, &dump, &empty, &unlock, &v);
    gcap_free(&unlock);
    gcap_free(&dump);
    gcap_free(&empty);
    if (!ok) return CASE_FAIL;
    if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    _cleanup_free_ char *state = xstrdup(v.reason);
    if (!pcr7_probe(t, dev, token_sh, &v)) {
        verdict_free(&v);
        return CASE_FAIL;
    }
    /* PCR 7 back as the firmware measures it: the next boot must unlock by the TPM again */
    if (!reboot_node(t, "to reset PCR 7")) {
        verdict_free(&v);
        return CASE_FAIL;
    }
    if (guest_capture(t, NULL, unlock_log_sh, &unlock) < 0) {
        verdict_free(&v);
        return CASE_FAIL;
    }
    bool again = by_token(&unlock);
    gcap_free(&unlock);
    if (v.kind == VERDICT_PASS && !again)
        verdict_set(&v, VERDICT_FAIL, "after the reboot that reset PCR 7, %s was not unlocked by the TPM", dev);
    else if (v.kind == VERDICT_PASS) {
        _cleanup_free_ char *seal = xstrdup(v.reason);
        verdict_set(&v, VERDICT_PASS, "%s; %s; the reboot after it unlocked by the TPM again", state, seal);
    }
    return case_verdict(t, &v);
}
