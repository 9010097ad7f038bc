/* Area gpu: a GPU passed through from the host (feature gpu: platform.qemu.gpu or the host's
 * $KILN_GPU names a device bound to vfio-pci) is seen by the guest and driven by its driver.
 * Without such a device the platform does not offer the feature and these cases are skipped
 * with the reason. Decisions in decide_hpc.c. */
#include "suites/decide_hpc.h"
#include "util/util.h"

/* "ADDRESS CLASS VENDOR DEVICE DRIVER" for each PCI device, from sysfs (no lspci needed) */
#define PCI_LISTING                                                                                              \
    "for d in /sys/bus/pci/devices/*; do [ -e \"$d/class\" ] || continue; "                                      \
    "drv=-; [ -e \"$d/driver\" ] && drv=$(basename \"$(readlink \"$d/driver\")\"); "                            \
    "echo \"${d##*/} $(cat \"$d/class\") $(cat \"$d/vendor\") $(cat \"$d/device\") $drv\"; done"

KILN_CASE(verify_gpu_visible,
          .area = "gpu", .priority = 3, .timeout_s = 120,
          .description = "The passed-through GPU is on the guest's PCI bus (a display-class device no hypervisor "
                         "emulates)",
          .requires = {.features = FEAT_GPU})
{
    struct gcap pci = {0}, lspci = {0};
    bool has_lspci = guest_has_cmd(t, "lspci");
    bool ok = guest_capture(t, NULL, PCI_LISTING, &pci) == 0 &&
              (!has_lspci || guest_capture(t, NULL, "lspci -D -nn", &lspci) == 0);
    struct verdict v = {0};
    int count = 0;
    if (ok) decide_gpu_visible(&pci, has_lspci ? &lspci : NULL, &v, &count);
    gcap_free(&pci);
    gcap_free(&lspci);
    if (ok && v.kind == VERDICT_PASS) case_metric(t, "gpus", count, "");
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}

KILN_CASE(verify_gpu_driver_loaded,
          .area = "gpu", .priority = 3, .timeout_s = 180,
          .description = "Each GPU is bound to a GPU driver (nvidia, amdgpu, i915, xe, nouveau, radeon); nvidia-smi "
                         "answers where it is installed",
          .requires = {.features = FEAT_GPU})
{
    struct gcap pci = {0}, smi = {0};
    bool has_smi = guest_has_cmd(t, "nvidia-smi");
    bool ok = guest_capture(t, NULL, PCI_LISTING, &pci) == 0 &&
              (!has_smi || guest_capture(t, NULL, "nvidia-smi -L", &smi) == 0);
    struct verdict v = {0};
    if (ok) decide_gpu_driver(&pci, has_smi ? &smi : NULL, &v);
    gcap_free(&pci);
    gcap_free(&smi);
    return ok ? case_verdict(t, &v) : CASE_FAIL;
}
