/* Area cvm's decisions from canned guest output (tpm2-tools 5.4 as Debian 12 ships it, od,
 * mokutil, the kernel's secureboot lines): a pass, a failure naming the evidence, and what
 * cannot be decided, for each. */
#include "suites/decide_cvm.h"
#include "tap.h"
#include "verdicts.h"
#include "util/util.h"

#define RS "\036"
#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define P0 "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"
#define P4 "aa4b1a0ff7ab4e3a4e7de5e1ab5b1c1b3b4e4f6f7ae8dd3b3f7d6c2b1a0f9e8d"
#define P7 "65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068"

static const char getcap_ok[] = "TPM2_PT_FAMILY_INDICATOR:\n  raw: 0x322E3000\n  value: \"2.0\"\n"
                                "TPM2_PT_LEVEL:\n  raw: 0\nTPM2_PT_REVISION:\n  raw: 0xA4\n  value: 1.64\n"
                                "TPM2_PT_MANUFACTURER:\n  raw: 0x49424D00\n  value: \"IBM\"\n";

static void test_tpm_present(void)
{
    struct verdict v = {0};
    struct gfiles sys;
    gfiles_parse(RS "/sys/class/tpm/tpm0/tpm_version_major\n2\n\n", &sys);
    struct gcap gc = cap(0, getcap_ok, NULL);
    expect(decide_tpm_present(&sys, true, &gc, &v), &v, VERDICT_PASS, "manufacturer \"IBM\"", "tpm: 2.0 answers");
    expect(decide_tpm_present(&sys, true, NULL, &v), &v, VERDICT_PASS, "lacks tpm2-tools",
           "tpm: without tpm2-tools the kernel's view decides, and the pass says so");
    expect(decide_tpm_present(&sys, false, &gc, &v), &v, VERDICT_FAIL, "/dev/tpmrm0 is missing", "tpm: no tpmrm0");
    struct gcap dead = cap(1, "", "ERROR:tcti:src/tss2-tcti/tcti-device.c:452:Tss2_Tcti_Device_Init() Failed to open "
                                  "specified TCTI device file /dev/tpmrm0: Input/output error\n");
    expect(decide_tpm_present(&sys, true, &dead, &v), &v, VERDICT_FAIL,
           "the TPM does not answer: tpm2_getcap properties-fixed exited 1: ERROR:tcti", "tpm: getcap fails");
    struct gcap v12 = cap(0, "TPM2_PT_FAMILY_INDICATOR:\n  raw: 0x312E3200\n  value: \"1.2\"\n", NULL);
    expect(decide_tpm_present(&sys, true, &v12, &v), &v, VERDICT_FAIL, "TPM2_PT_FAMILY_INDICATOR is \"1.2\"",
           "tpm: family 1.2 named");
    struct gcap none = cap(0, "TPM2_PT_LEVEL:\n  raw: 0\n", NULL);
    expect(decide_tpm_present(&sys, true, &none, &v), &v, VERDICT_SKIP, "no TPM2_PT_FAMILY_INDICATOR",
           "tpm: no family property cannot decide");
    /* a property further down must not lend its value to a bare key */
    struct gcap bare = cap(0, "TPM2_PT_FAMILY_INDICATOR:\n  raw: 0x322E3000\nTPM2_PT_REVISION:\n  value: 1.64\n", NULL);
    expect(decide_tpm_present(&sys, true, &bare, &v), &v, VERDICT_SKIP, NULL, "tpm: value read inside its key only");
    gfiles_free(&sys);

    gfiles_parse(RS "/sys/class/tpm/tpm0/tpm_version_major\n1\n\n", &sys);
    expect(decide_tpm_present(&sys, true, &gc, &v), &v, VERDICT_FAIL,
           "/sys/class/tpm/tpm0/tpm_version_major is 1, expected 2", "tpm: a TPM 1.2 named by sysfs");
    gfiles_free(&sys);
    gfiles_parse("", &sys);
    expect(decide_tpm_present(&sys, false, NULL, &v), &v, VERDICT_FAIL, "the guest has no TPM", "tpm: none bound");
    gfiles_free(&sys);
    gfiles_parse(RS "/sys/class/tpm/tpm0/tpm_version_major\nzz\n\n", &sys);
    expect(decide_tpm_present(&sys, true, &gc, &v), &v, VERDICT_SKIP, "not a number", "tpm: garbage in sysfs");
    gfiles_free(&sys);
}

/* tpm2_eventlog's shape: the events, then the replayed banks under "pcrs:" */
#define EVENTS "---\nversion: 1\nevents:\n- EventNum: 0\n  PCRIndex: 0\n  EventType: EV_NO_ACTION\n" \
               "  Digest: \"0000000000000000000000000000000000000000\"\n" \
               "- EventNum: 1\n  PCRIndex: 0\n  EventType: EV_S_CRTM_VERSION\n  DigestCount: 1\n  Digests:\n" \
               "  - AlgorithmId: sha256\n    Digest: \"d4720b4009438213b803568017f903093f6bea8ab47d283db32b6eabedbbf155\"\n"
#define LOG_PCRS(p4) "pcrs:\n  sha1:\n    0  : 0x7ee5ca0b2b5f5c5ab1e8a8f4b6a2a6bd1d1e2f3a\n  sha256:\n" \
                     "    0  : 0x" P0 "\n    4  : 0x" p4 "\n    7  : 0x" P7 "\n"
#define READ(p4) "  sha256:\n    0 : 0x" P0 "\n    1 : 0x" Z64 "\n    2 : 0x" Z64 "\n    3 : 0x" Z64 "\n" \
                 "    4 : 0x" p4 "\n    5 : 0x" Z64 "\n    6 : 0x" Z64 "\n    7 : 0x" P7 "\n"

static void test_measured_boot(void)
{
    struct verdict v = {0};
    struct gcap log = cap(0, EVENTS LOG_PCRS(P4), NULL), pcrs = cap(0, READ(P4), NULL);
    expect(decide_measured_boot(true, &log, &pcrs, &v), &v, VERDICT_PASS, "3 extended", "pcr: the log replays");
    /* upper-case hex from one tool, lower from the other */
    struct gcap upper = cap(0, "  sha256:\n    0 : 0x3D458CFE55CC03EA1F443F1562BEEC8DF51C75E14A9FCF9A7234A13F198E7969\n"
                               "    1 : 0x" Z64 "\n    2 : 0x" Z64 "\n    3 : 0x" Z64 "\n    4 : 0x" P4 "\n"
                               "    5 : 0x" Z64 "\n    6 : 0x" Z64 "\n    7 : 0x" P7 "\n", NULL);
    expect(decide_measured_boot(true, &log, &upper, &v), &v, VERDICT_PASS, NULL, "pcr: hex case does not matter");

    struct gcap other = cap(0, READ("1111111111111111111111111111111111111111111111111111111111111111"), NULL);
    expect(decide_measured_boot(true, &log, &other, &v), &v, VERDICT_FAIL,
           "PCR 4: the event log replays to 0x" P4 ", the TPM reports 0x1111111111111111111111111111111111111111111111111111111111111111",
           "pcr: a mismatch names the PCR and both values");
    /* PCR 5 is not in the log: the TPM must hold zeros there */
    struct gcap ext5 = cap(0, "  sha256:\n    0 : 0x" P0 "\n    1 : 0x" Z64 "\n    2 : 0x" Z64 "\n    3 : 0x" Z64 "\n"
                              "    4 : 0x" P4 "\n    5 : 0x" P7 "\n    6 : 0x" Z64 "\n    7 : 0x" P7 "\n", NULL);
    expect(decide_measured_boot(true, &log, &ext5, &v), &v, VERDICT_FAIL, "PCR 5: the event log replays to 0x" Z64,
           "pcr: a PCR extended outside the log is caught");

    expect(decide_measured_boot(false, &log, &pcrs, &v), &v, VERDICT_FAIL,
           "no firmware event log: /sys/kernel/security/tpm0/binary_bios_measurements is missing", "pcr: no log");
    struct gcap bad = cap(1, "", "ERROR: Unable to run tpm2_eventlog\n");
    expect(decide_measured_boot(true, &bad, &pcrs, &v), &v, VERDICT_FAIL, "tpm2_eventlog cannot replay", "pcr: bad log");
    struct gcap nopcrs = cap(0, EVENTS, NULL);
    expect(decide_measured_boot(true, &nopcrs, &pcrs, &v), &v, VERDICT_FAIL, "records no measurement",
           "pcr: a log replaying to nothing");
    struct gcap sha1 = cap(0, EVENTS "pcrs:\n  sha1:\n    0  : 0x7ee5ca0b2b5f5c5ab1e8a8f4b6a2a6bd1d1e2f3a\n", NULL);
    expect(decide_measured_boot(true, &sha1, &pcrs, &v), &v, VERDICT_SKIP, "only sha1", "pcr: sha1-only log");
    struct gcap short_read = cap(0, "  sha256:\n    0 : 0x" P0 "\n", NULL);
    expect(decide_measured_boot(true, &log, &short_read, &v), &v, VERDICT_SKIP, "no sha256 value for PCR 1",
           "pcr: an incomplete pcrread cannot decide");
    struct gcap noread = cap(1, "", "ERROR: Could not read PCRs\n");
    expect(decide_measured_boot(true, &log, &noread, &v), &v, VERDICT_FAIL, "tpm2_pcrread", "pcr: pcrread fails");

    /* a hostile guest's sha1-length "sha256" digests, the same in the log and the TPM: no match
     * of values that are no sha256 digest is a pass */
#define H40 "7ee5ca0b2b5f5c5ab1e8a8f4b6a2a6bd1d1e2f3a"
    struct gcap log40 = cap(0, EVENTS "pcrs:\n  sha256:\n    0  : 0x" H40 "\n", NULL);
    struct gcap read40 = cap(0, "  sha256:\n    0 : 0x" H40 "\n    1 : 0x" Z64 "\n    2 : 0x" Z64 "\n    3 : 0x" Z64
                                "\n    4 : 0x" Z64 "\n    5 : 0x" Z64 "\n    6 : 0x" Z64 "\n    7 : 0x" Z64 "\n", NULL);
    expect(decide_measured_boot(true, &log40, &read40, &v), &v, VERDICT_FAIL, "measured nothing into PCR 0-7",
           "pcr: 40-hex-digit values in the sha256 bank are not sha256 digests");
    expect(decide_measured_boot(true, &log, &read40, &v), &v, VERDICT_SKIP, "no sha256 value for PCR 0",
           "pcr: a pcrread value of the wrong length is not read");

    char hex[CVM_PCRS][129];
    is_int(cvm_parse_pcr_bank("sha1:\n  0 : 0x" H40 "\n  1 : 0x" P0 "\n", "sha1", hex), 1u << 0,
           "pcr parse: a sha1 bank reads 40-hex-digit digests only");
    is_int(cvm_parse_pcr_bank("  sha256:\n    9 : 0x" P0 "\n    3 : 0xzz\n    2 : 0x" P0 "ff\n", "sha256", hex), 0,
           "pcr parse: out-of-range index, non-hex and odd-length digests are ignored");
    is_int(cvm_parse_pcr_bank("sha256:\n  1 : 0x" P0 "\nsha384:\n  2 : 0x" P0 "\n", "sha256", hex), 1u << 1,
           "pcr parse: the bank ends at the next key of its level");
}

#define SB_ON "SecureBoot 6 0 0 0 1\nSetupMode 6 0 0 0 0\n"

static void test_secure_boot(void)
{
    struct verdict v = {0};
    struct gcap on = cap(0, SB_ON, NULL), klog = cap(0, "[    0.000000] secureboot: Secure boot enabled\n", NULL);
    expect(decide_secure_boot(&on, NULL, &klog, &v), &v, VERDICT_PASS, "secureboot: Secure boot enabled",
           "sb: enforced and seen by the kernel");
    struct gcap setup = cap(0, "SecureBoot 6 0 0 0 0\nSetupMode 6 0 0 0 1\n", NULL);
    struct gcap koff = cap(0, "[    0.000000] secureboot: Secure boot disabled\n", NULL);
    expect(decide_secure_boot(&setup, NULL, &koff, &v), &v, VERDICT_FAIL, "SecureBoot=0, SetupMode=1 (efivarfs)",
           "sb: setup mode (no keys) named");
    struct gcap off = cap(0, "SecureBoot 6 0 0 0 0\nSetupMode 6 0 0 0 0\n", NULL);
    expect(decide_secure_boot(&off, NULL, &koff, &v), &v, VERDICT_FAIL, "SecureBoot=0, SetupMode=0",
           "sb: disabled with keys enrolled");
    struct gcap odd = cap(0, "SecureBoot 6 0 0 0 1\nSetupMode 6 0 0 0 1\n", NULL);
    expect(decide_secure_boot(&odd, NULL, &klog, &v), &v, VERDICT_FAIL, "SetupMode=1", "sb: setup mode with SecureBoot=1");
    expect(decide_secure_boot(&on, NULL, &koff, &v), &v, VERDICT_FAIL, "the kernel reports \"[    0.000000] secureboot: Secure boot disabled\"",
           "sb: the kernel disagreeing with the firmware");
    struct gcap quiet = cap(0, "", NULL);
    expect(decide_secure_boot(&on, NULL, &quiet, &v), &v, VERDICT_SKIP, "no \"Secure boot\" line",
           "sb: no kernel line cannot decide");
    struct gcap noefi = cap(0, "no-efi\n", NULL);
    expect(decide_secure_boot(&noefi, NULL, &klog, &v), &v, VERDICT_FAIL, "did not boot through UEFI", "sb: BIOS boot");
    /* efivarfs not mounted: mokutil decides, else nothing can */
    struct gcap mok_on = cap(0, "SecureBoot enabled\n", NULL), mok_off = cap(0, "SecureBoot disabled\n", NULL);
    expect(decide_secure_boot(&quiet, &mok_on, &klog, &v), &v, VERDICT_PASS, "mokutil --sb-state", "sb: from mokutil");
    expect(decide_secure_boot(&quiet, &mok_off, &klog, &v), &v, VERDICT_FAIL, "SecureBoot=0 (mokutil --sb-state)",
           "sb: mokutil says disabled");
    expect(decide_secure_boot(&quiet, NULL, &klog, &v), &v, VERDICT_SKIP, "no readable SecureBoot", "sb: nothing to read");
    struct gcap trunc = cap(0, "SecureBoot 6 0 0\n", NULL);
    expect(decide_secure_boot(&trunc, NULL, &klog, &v), &v, VERDICT_SKIP, NULL, "sb: a short variable cannot decide");
}

/* systemd-boot 252's refusal as it reaches the serial console through OVMF */
static const char console_refused[] =
    "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)\n"
    "Error loading \\debian-sb\\6.1.0-57-amd64\\linux-kiln-unsigned: Security Violation\n"
    "[    0.000000] Linux version 6.1.0-57-amd64\n";

static void test_unsigned_kernel(void)
{
    struct verdict v = {0};
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "debian-sb-1.0.0.conf", console_refused, &v), &v,
           VERDICT_PASS, "Error loading \\debian-sb\\6.1.0-57-amd64\\linux-kiln-unsigned: Security Violation",
           "unsigned: refused, the console line is the evidence");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "debian-sb-1.0.0.conf",
                                          "Error loading \\x\\linux: Access Denied\n", &v),
           &v, VERDICT_PASS, "Access Denied", "unsigned: refused as EFI_ACCESS_DENIED");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "kiln-unsigned.conf", "", &v), &v, VERDICT_FAIL,
           "a kernel without a signature booted under Secure Boot: LoaderEntrySelected is kiln-unsigned.conf",
           "unsigned: it booted");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "kiln-unsigned.conf", console_refused, &v), &v,
           VERDICT_FAIL, "booted under Secure Boot", "unsigned: booted wins over a refusal line (a later attempt)");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "debian-sb-1.0.0.conf",
                                          "Error loading \\x\\linux-kiln-unsigned: Not Found\n", &v),
           &v, VERDICT_SKIP, "not for its signature: \"Error loading", "unsigned: missing file is not a refusal");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", "debian-sb-1.0.0.conf", "boot boot\n", &v), &v,
           VERDICT_SKIP, "guest booted debian-sb-1.0.0.conf and the console shows no refusal",
           "unsigned: no evidence either way");
    expect(decide_unsigned_kernel_refused("kiln-unsigned.conf", NULL, "", &v), &v, VERDICT_SKIP, "an unknown entry",
           "unsigned: the entry after is unknown");
}

/* Neither systemd-boot nor kiln's grub.cfg: the skip names the boot path the guest shows, else
 * a kernel handed to the firmware directly. */
static void test_unsigned_probe_skip(void)
{
    struct verdict v = {0};
    expect(decide_unsigned_probe_skip("shim\ngrub\n", &v), &v, VERDICT_SKIP,
           "the guest was booted by shim and GRUB (shim's MokListRT variable, GRUB's BOOT_IMAGE= on the kernel command "
           "line), not by systemd-boot nor by GRUB from a grub.cfg kiln can offer a kernel in (EFI/debian/grub.cfg as "
           "kiln build's boot.secure_boot: distro writes it): no kernel without a signature was offered",
           "probe skip: shim and GRUB");
    expect(decide_unsigned_probe_skip("grub\n", &v), &v, VERDICT_SKIP, "booted by GRUB (GRUB's BOOT_IMAGE=",
           "probe skip: GRUB without shim");
    expect(decide_unsigned_probe_skip("shim", &v), &v, VERDICT_SKIP, "booted by shim (shim's MokListRT variable)",
           "probe skip: shim, last line without a newline");
    expect(decide_unsigned_probe_skip("", &v), &v, VERDICT_SKIP,
           "not booted by systemd-boot from its disk (a kernel handed to the firmware directly?)", "probe skip: nothing seen");
    expect(decide_unsigned_probe_skip(NULL, &v), &v, VERDICT_SKIP, "a kernel handed to the firmware directly?",
           "probe skip: unknown");
    expect(decide_unsigned_probe_skip("grubby\nshimmer\n", &v), &v, VERDICT_SKIP, "a kernel handed to the firmware",
           "probe skip: whole lines only");
}

static void parts_free(struct kiln_subtest *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].name);
        free(subs[i].reason);
    }
}

/* verify_secure_boot_enforced's two parts from the captures of examples/cvm.yml's boot (a
 * kernel handed to the firmware: no probe) and cvm-disk.yml's (systemd-boot refused it): the
 * pass says what it did not check, in a skipped subtest and in its reason. */
static void test_secure_boot_parts(void)
{
    struct gcap vars = cap(0, SB_ON, NULL), klog = cap(0, "[    0.000000] secureboot: Secure boot enabled\n", NULL);
    struct verdict on = {0}, probe = {0}, v = {0};
    struct kiln_subtest subs[2];
    decide_secure_boot(&vars, NULL, &klog, &on);
    decide_unsigned_probe_skip("", &probe); /* LOADER_SH printed nothing: no shim, no GRUB */
    size_t n = decide_secure_boot_parts(&on, false, &probe, subs, &v);
    is_int(n, 2, "parts: both parts reported");
    is_str(subs[0].name, "secure_boot_on", "parts: first is secure_boot_on");
    is_int(subs[0].status, ST_PASSED, "parts: Secure Boot on passed");
    is_str(subs[1].name, "unsigned_kernel_refused", "parts: second is unsigned_kernel_refused");
    is_int(subs[1].status, ST_SKIPPED, "parts: no kernel offered: unsigned_kernel_refused skipped");
    has(subs[1].reason, "not booted by systemd-boot from its disk", "parts: the skip says why");
    parts_free(subs, n);
    expect(v.kind, &v, VERDICT_PASS, "; not checked: that a kernel without a signature is refused (the guest was not",
           "parts: the pass names what it did not check");
    verdict_free(&probe);

    decide_unsigned_kernel_refused("kiln-unsigned.conf", "debian-sb-1.0.0.conf", console_refused, &probe);
    n = decide_secure_boot_parts(&on, true, &probe, subs, &v);
    ok(n == 2 && subs[0].status == ST_PASSED && subs[1].status == ST_PASSED, "parts: both checked, both pass");
    has(subs[1].reason, "Security Violation", "parts: the refusal is the second part's evidence");
    parts_free(subs, n);
    ok(v.kind == VERDICT_PASS && !strstr(v.reason, "not checked"), "parts: a full check claims nothing unchecked");
    verdict_free(&v);
    verdict_free(&probe);

    decide_unsigned_kernel_refused("kiln-unsigned.conf", "kiln-unsigned.conf", "", &probe);
    n = decide_secure_boot_parts(&on, true, &probe, subs, &v);
    ok(n == 2 && subs[1].status == ST_FAILED, "parts: an unsigned kernel that booted fails its part");
    parts_free(subs, n);
    expect(v.kind, &v, VERDICT_FAIL, "a kernel without a signature booted", "parts: and the case");
    verdict_free(&probe);
    verdict_free(&on);

    struct gcap off = cap(0, "SecureBoot 6 0 0 0 0\nSetupMode 6 0 0 0 1\n", NULL);
    decide_secure_boot(&off, NULL, &klog, &on);
    n = decide_secure_boot_parts(&on, false, &probe, subs, &v);
    ok(n == 1 && subs[0].status == ST_FAILED, "parts: Secure Boot off: one failed part, no probe part");
    parts_free(subs, n);
    expect(v.kind, &v, VERDICT_FAIL, "SecureBoot=0", "parts: the case fails with the first part's reason");
    verdict_free(&on);
}

/* GRUB offered the unsigned copy first: its refusal (Debian's GRUB 2.06 through shim's verifier,
 * as the console showed it under OVMF's Microsoft keys) and the signed kernel after it. */
static void test_grub_unsigned(void)
{
    struct verdict v = {0};
    const char *off = "/img/6.1.0-57-amd64/linux-kiln-unsigned";
    const char *signed_cmdline = "BOOT_IMAGE=/img/6.1.0-57-amd64/linux root=PARTUUID=d32a6841 rw console=ttyS0\n";
    const char *refused = "\033[0m\033[30m\033[47mWelcome to GRUB!\n\nerror: bad shim signature.\n"
                          "EFI stub: UEFI Secure Boot is enabled.\n";
    expect(decide_grub_unsigned_refused(off, signed_cmdline, refused, &v), &v, VERDICT_PASS,
           "a kernel without a signature is refused (GRUB, /img/6.1.0-57-amd64/linux-kiln-unsigned): the console says "
           "\"error: bad shim signature.\" and GRUB started /img/6.1.0-57-amd64/linux", "grub unsigned: refused");
    const char *booted = "BOOT_IMAGE=/img/6.1.0-57-amd64/linux-kiln-unsigned root=PARTUUID=d32a6841 rw console=ttyS0\n";
    expect(decide_grub_unsigned_refused(off, booted, "EFI stub: UEFI Secure Boot is enabled.\n", &v), &v, VERDICT_FAIL,
           "a kernel without a signature booted under Secure Boot: GRUB started /img/6.1.0-57-amd64/linux-kiln-unsigned "
           "(BOOT_IMAGE= in /proc/cmdline)", "grub unsigned: it booted");
    expect(decide_grub_unsigned_refused(off, booted, refused, &v), &v, VERDICT_FAIL, "booted under Secure Boot",
           "grub unsigned: booted wins over a refusal line");
    expect(decide_grub_unsigned_refused(off, signed_cmdline, "error: file not found.\n", &v), &v, VERDICT_SKIP,
           "cannot decide: after offering GRUB a kernel without a signature (/img/6.1.0-57-amd64/linux-kiln-unsigned) "
           "the guest booted /img/6.1.0-57-amd64/linux and the console shows no refusal", "grub unsigned: another error");
    expect(decide_grub_unsigned_refused(off, "root=/dev/vda1 console=ttyS0", "", &v), &v, VERDICT_SKIP,
           "a kernel GRUB did not name (no BOOT_IMAGE=)", "grub unsigned: no BOOT_IMAGE=");
    expect(decide_grub_unsigned_refused(off, "BOOT_IMAGE=/img/linux-kiln-unsigned-not", "error: Security Violation\n", &v), &v,
           VERDICT_PASS, "Security Violation", "grub unsigned: a refusal through LoadImage; BOOT_IMAGE= compared whole");
}

#define P4B "bb4b1a0ff7ab4e3a4e7de5e1ab5b1c1b3b4e4f6f7ae8dd3b3f7d6c2b1a0f9e8d"

static void test_pcr4_change(void)
{
    struct verdict v = {0};
    struct gcap a = cap(0, "  sha256:\n    4 : 0x" P4 "\n", NULL), b = cap(0, "  sha256:\n    4 : 0x" P4B "\n", NULL);
    struct gcap upper = cap(0, "  sha256:\n    4 : 0xBB4B1A0FF7AB4E3A4E7DE5E1AB5B1C1B3B4E4F6F7AE8DD3B3F7D6C2B1A0F9E8D\n", NULL);
    const char *what = "EFI/BOOT/BOOTX64.EFI from /usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed";
    expect(decide_pcr4_change(&a, &b, what, &v), &v, VERDICT_PASS,
           "PCR 4 (sha256) changed from 0x" P4 " to 0x" P4B " after upgrading EFI/BOOT/BOOTX64.EFI", "pcr4: changed");
    expect(decide_pcr4_change(&a, &a, what, &v), &v, VERDICT_FAIL,
           "PCR 4 (sha256) is 0x" P4 " both before and after upgrading EFI/BOOT/BOOTX64.EFI from", "pcr4: unchanged");
    expect(decide_pcr4_change(&b, &upper, what, &v), &v, VERDICT_FAIL, "is 0x" P4B " both",
           "pcr4: the same value in upper case is the same value");
    struct gcap zero = cap(0, "  sha256:\n    4 : 0x" Z64 "\n", NULL);
    expect(decide_pcr4_change(&zero, &b, what, &v), &v, VERDICT_FAIL, "PCR 4 is all zeros before the upgrade",
           "pcr4: nothing measured to begin with");
    struct gcap sha1 = cap(0, "  sha1:\n    4 : 0x1111111111111111111111111111111111111111\n", NULL);
    expect(decide_pcr4_change(&a, &sha1, what, &v), &v, VERDICT_SKIP, "no sha256 value for PCR 4 after the upgrade",
           "pcr4: no sha256 bank after");
    struct gcap dead = cap(1, "", "ERROR:tcti:src/tss2-tcti/tcti-device.c:452:Tss2_Tcti_Device_Init() Failed to open device file /dev/tpmrm0");
    expect(decide_pcr4_change(&dead, &b, what, &v), &v, VERDICT_FAIL, "the TPM does not answer before the upgrade",
           "pcr4: no TPM");
    struct gcap pcr5 = cap(0, "  sha256:\n    5 : 0x" P4B "\n", NULL);
    expect(decide_pcr4_change(&a, &pcr5, what, &v), &v, VERDICT_SKIP, "no sha256 value for PCR 4",
           "pcr4: another PCR is not PCR 4");
}

/* cryptsetup 2.6 luksDump --dump-json-metadata after systemd 252's first-boot enrollment: the
 * recovery keyslot (1, a systemd-recovery token) and the TPM2 keyslot (0, sealed to PCR 7) */
#define LUKS_HEAD "{\n  \"keyslots\":{\n    \"0\":{\"type\":\"luks2\",\"key_size\":64},\n    \"1\":{\"type\":\"luks2\",\"key_size\":64}\n  },\n  \"tokens\":{\n"
#define LUKS_TAIL "  },\n  \"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"8388608\"}},\n  \"config\":{\"json_size\":\"12288\"}\n}\n"
#define TOK_REC "    \"0\":{\"type\":\"systemd-recovery\",\"keyslots\":[\"1\"]}"
#define TOK_TPM(pcrs) "    \"1\":{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AJ4AIAx=\",\"tpm2-pcrs\":[" pcrs "],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"ecc\",\"tpm2-pin\":false}\n"
#define UNLOCKED_TPM "Automatically discovered security TPM2 token unlocks volume.\nSet cipher aes, mode xts-plain64, key size 512 bits for device /dev/disk/by-uuid/1b0c.\n"

static void test_encrypted_root(void)
{
    struct verdict v = {0};
    char dev[64];
    ok(cvm_luks_device("/dev/mapper/root crypt ext4\n/dev/vda2 part crypto_LUKS\n/dev/vda disk \n", dev, sizeof dev) &&
           streq(dev, "/dev/vda2"),
       "luks: the LUKS partition under the mapping");
    ok(!cvm_luks_device("/dev/vda2 part ext4\n/dev/vda disk \n", dev, sizeof dev), "luks: a plain root has none");
    ok(!cvm_luks_device("/dev/vda2 part crypto_LUKS\n", dev, sizeof dev),
       "luks: a LUKS device not under a crypt mapping is not the root's");
    ok(!cvm_luks_device("", dev, sizeof dev) && !cvm_luks_device("crypt\n\n\n", dev, sizeof dev), "luks: garbage");

    const char *d = "/dev/vda2";
    struct gcap good = cap(0, LUKS_HEAD TOK_REC ",\n" TOK_TPM("7") LUKS_TAIL, NULL);
    struct gcap no_empty = cap(2, "", "No key available with this passphrase.\n"), yes_empty = cap(0, "", NULL);
    struct gcap by_tpm = cap(0, UNLOCKED_TPM, NULL);
    expect(decide_encrypted_root(d, &good, &no_empty, &by_tpm, &v), &v, VERDICT_PASS,
           "/dev/vda2 is LUKS2, unlocked this boot by its TPM2 token (keyslot 0, PCRs [7]); no empty passphrase opens it "
           "(tokens: systemd-recovery, systemd-tpm2)", "luks: sealed to PCR 7, unlocked by the TPM");
    struct gcap pcr017 = cap(0, LUKS_HEAD TOK_REC ",\n" TOK_TPM("0,1,7") LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &pcr017, &no_empty, &by_tpm, &v), &v, VERDICT_PASS, "PCRs [0,1,7]",
           "luks: more PCRs than 7 is still sealed to 7");
    struct gcap nopcr = cap(0, LUKS_HEAD TOK_REC ",\n" TOK_TPM("") LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &nopcr, &no_empty, &by_tpm, &v), &v, VERDICT_FAIL,
           "the TPM2 token of /dev/vda2 (keyslot 0) is sealed to PCRs [none], not to PCR 7", "luks: sealed to no PCR");
    struct gcap pcr0 = cap(0, LUKS_HEAD TOK_TPM("0") LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &pcr0, &no_empty, &by_tpm, &v), &v, VERDICT_FAIL, "sealed to PCRs [0], not to PCR 7",
           "luks: sealed to another PCR");
    struct gcap rec_only = cap(0, LUKS_HEAD TOK_REC "\n" LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &rec_only, &yes_empty, &by_tpm, &v), &v, VERDICT_FAIL,
           "no keyslot of /dev/vda2 is sealed to the TPM: its LUKS2 header has no systemd-tpm2 token (tokens: "
           "systemd-recovery); an empty passphrase opens it (never enrolled?)", "luks: never enrolled");
    struct gcap none = cap(0, LUKS_HEAD LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &none, &no_empty, &by_tpm, &v), &v, VERDICT_FAIL, "(tokens: none)",
           "luks: no tokens at all");
    expect(decide_encrypted_root(d, &good, &yes_empty, &by_tpm, &v), &v, VERDICT_FAIL,
           "an empty passphrase opens /dev/vda2", "luks: the empty passphrase left beside the TPM");
    /* systemd 252 with cryptsetup's token plugin: the token opens the volume, logged at debug level only */
    struct gcap by_plugin = cap(0, "Starting systemd-cryptsetup@root.service - Cryptography Setup for root...\n"
                                   "Finished systemd-cryptsetup@root.service - Cryptography Setup for root.\n", NULL);
    expect(decide_encrypted_root(d, &good, &no_empty, &by_plugin, &v), &v, VERDICT_PASS,
           "unlocked this boot by its TPM2 token (keyslot 0, PCRs [7]; no passphrase or key file tried)",
           "luks: the token plugin's silent unlock");
    struct gcap by_key = cap(0, "Starting systemd-cryptsetup@root.service - Cryptography Setup for root...\n"
                                "Set cipher aes, mode xts-plain64, key size 512 bits for device /dev/vda2.\n"
                                "Finished systemd-cryptsetup@root.service - Cryptography Setup for root.\n", NULL);
    expect(decide_encrypted_root(d, &good, &no_empty, &by_key, &v), &v, VERDICT_FAIL,
           "this boot did not unlock /dev/vda2 with the TPM: its systemd-cryptsetup unit took a passphrase or key file "
           "(\"Set cipher\" without \"TPM2 token unlocks volume\"): \"Starting systemd-cryptsetup@root.service",
           "luks: unlocked by something else (a key file in the initrd)");
    struct gcap fallback = cap(0, "No TPM2 metadata matching the current system state found in LUKS2 header, falling "
                                  "back to traditional unlocking.\nFinished systemd-cryptsetup@root.service\n", NULL);
    expect(decide_encrypted_root(d, &good, &no_empty, &fallback, &v), &v, VERDICT_FAIL,
           "did not unlock /dev/vda2 with the TPM", "luks: the TPM refused and a passphrase opened it");
    struct gcap nothing = cap(0, "", NULL), nojournal = cap(1, "", "No journal files were found.\n");
    expect(decide_encrypted_root(d, &good, &no_empty, &nothing, &v), &v, VERDICT_SKIP,
           "cannot decide how this boot opened /dev/vda2", "luks: an empty journal cannot decide");
    expect(decide_encrypted_root(d, &good, &no_empty, &nojournal, &v), &v, VERDICT_SKIP,
           "cannot decide how this boot opened", "luks: no journal cannot decide");
    struct gcap fido = cap(0, LUKS_HEAD TOK_REC ",\n" TOK_TPM("7") ",\n    \"2\":{\"type\":\"systemd-fido2\","
                              "\"keyslots\":[\"2\"]}\n" LUKS_TAIL, NULL);
    expect(decide_encrypted_root(d, &fido, &no_empty, &by_plugin, &v), &v, VERDICT_SKIP,
           "cannot decide which token opened /dev/vda2 this boot: its header has tokens other than systemd-tpm2 "
           "(systemd-recovery, systemd-tpm2, systemd-fido2)", "luks: a silent token unlock with a FIDO2 token beside");
    expect(decide_encrypted_root(d, &fido, &no_empty, &by_tpm, &v), &v, VERDICT_PASS, "PCRs [7])",
           "luks: the TPM2 line names the token whatever else is enrolled");
    struct gcap bad = cap(1, "", "Device /dev/vda2 is not a valid LUKS device.\n");
    expect(decide_encrypted_root(d, &bad, &no_empty, &by_tpm, &v), &v, VERDICT_FAIL,
           "cannot read the LUKS header of /dev/vda2: cryptsetup luksDump exited 1: Device /dev/vda2 is not a valid LUKS",
           "luks: header unreadable");
    struct gcap garbage = cap(0, "{\"keyslots\": [1, 2", NULL), luks1 = cap(0, "{\"tokens\":{}}", NULL);
    expect(decide_encrypted_root(d, &garbage, &no_empty, &by_tpm, &v), &v, VERDICT_SKIP, "cannot decide",
           "luks: truncated JSON cannot decide");
    expect(decide_encrypted_root(d, &luks1, &no_empty, &by_tpm, &v), &v, VERDICT_SKIP, "no LUKS2 metadata",
           "luks: JSON without keyslots cannot decide");
    struct gcap odd = cap(0, "{\"keyslots\":{},\"tokens\":{\"0\":{\"type\":7},\"1\":{\"type\":\"systemd-tpm2\","
                             "\"keyslots\":[3,\"\\u0001x\"],\"tpm2-pcrs\":[\"7\",7.5,99999999999]}}}", NULL);
    expect(decide_encrypted_root(d, &odd, &no_empty, &by_tpm, &v), &v, VERDICT_FAIL,
           "(keyslot none) is sealed to PCRs [99999999999], not to PCR 7", "luks: odd JSON values are not taken as 7");

    struct gcap unsealed = cap(0, "", NULL), refused = cap(1, "", "No usable token is available.\n");
    expect(decide_pcr7_seal(d, &unsealed, &refused, &v), &v, VERDICT_PASS,
           "the TPM unseals the key of /dev/vda2 with PCR 7 as booted and refuses once PCR 7 changed (cryptsetup open "
           "--token-only exited 1: No usable token is available.)", "seal: follows PCR 7");
    expect(decide_pcr7_seal(d, &unsealed, &unsealed, &v), &v, VERDICT_FAIL,
           "after PCR 7 was extended the TPM still unsealed the key of /dev/vda2: the seal does not depend on PCR 7",
           "seal: PCR 7 does not matter");
    expect(decide_pcr7_seal(d, &refused, &refused, &v), &v, VERDICT_FAIL,
           "the TPM does not unseal the key of /dev/vda2 with PCR 7 as booted: cryptsetup open --test-passphrase "
           "--token-only exited 1: No usable token", "seal: never unseals");
    /* a second try that hung or was not run is not the TPM refusing */
    struct gcap hung = cap(-1, "", "did not end within 120 s");
    expect(decide_pcr7_seal(d, &unsealed, &hung, &v), &v, VERDICT_SKIP,
           "cannot decide whether the seal of /dev/vda2 depends on PCR 7: after PCR 7 was extended, cryptsetup open "
           "--token-only exited -1: did not end within 120 s", "seal: a hung second try is no refusal");
    struct gcap gone = cap(127, "", "sh: 1: cryptsetup: not found");
    expect(decide_pcr7_seal(d, &unsealed, &gone, &v), &v, VERDICT_SKIP, "exited 127: sh: 1: cryptsetup: not found",
           "seal: a second try that did not run is no refusal");
    struct gcap killed = cap(137, "", "");
    expect(decide_pcr7_seal(d, &unsealed, &killed, &v), &v, VERDICT_SKIP, "exited 137", "seal: a killed try");
    ok(cvm_unlock_kind(UNLOCKED_TPM) == UNLOCK_TPM2 && cvm_unlock_kind("") == UNLOCK_UNKNOWN &&
           cvm_unlock_kind("x Finished systemd-cryptsetup@root.service") == UNLOCK_UNKNOWN,
       "unlock: the TPM2 line; Finished only at a line's start");
    verdict_free(&v);
}

int main(void)
{
    test_tpm_present();
    test_measured_boot();
    test_secure_boot();
    test_unsigned_kernel();
    test_unsigned_probe_skip();
    test_secure_boot_parts();
    test_grub_unsigned();
    test_pcr4_change();
    test_encrypted_root();
    return tap_done();
}
