/* Area cvm: what a confidential or trusted-boot VM relies on and any host can give it: a
 * TPM 2.0 (the qemu platform's swtpm), the firmware's measurements in it, and Secure Boot
 * enforced by the firmware and seen by the kernel. Decisions in decide_cvm.c. Priority 3:
 * each needs an environment of its own (a TPM, Secure Boot firmware), so the tier runbooks
 * do not boot one; examples/cvm.yml selects the area. */
#include "suites/decide_cvm.h"
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

KILN_CASE(verify_secure_boot_enforced,
          .area = "cvm", .priority = 3, .timeout_s = 120,
          .description = "Secure Boot is on and enforced: SecureBoot=1 and SetupMode=0 in the firmware's variables, "
                         "and the kernel reports Secure boot enabled",
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
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}
