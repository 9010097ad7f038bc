/* Which accelerator guests get: KVM only when it runs a representative guest here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model/arch.h"

/* Seconds a KVM guest gets to show a sign of life (a byte on its serial console, a read of
 * its disk, an SSH answer) before kiln concludes that /dev/kvm does not run real guests.
 * Under working KVM firmware and kernels write to the console within a second or two. */
#define KILN_KVM_LIFE_WINDOW_S 20

/* True when KVM runs kiln's probe guest (kvm_probe.S: long mode, paging, timer interrupts)
 * on the machine type and CPU model (cpu_model, e.g. "host") the guests will get, within
 * 5 s. The verdict is cached for a day per host kernel, qemu build and CPU model
 * (~/.cache/kiln/accel-probe, or $KILN_CACHE). *detail gets a one-line reason (malloc'd). The probe is an
 * x86_64 guest: a guest of another architecture than the host's (KVM cannot run it at all),
 * or an aarch64 guest on an aarch64 host (no probe yet), gets false without a probe. */
/* cpu_model: the -cpu the guests get under KVM; NULL means "host" (what kiln run uses unless
 * platform.qemu.cpu_model says otherwise), so kiln worker's probe shares kiln run's verdict. */
bool accel_kvm_works(const struct kiln_arch *guest, const char *work_dir, const char *cpu_model, char **detail);

/* Records that a real guest made no progress under KVM although the probe passed, so runs
 * within the next day start with TCG without waiting for the watchdog again. */
void accel_kvm_failed(const char *cpu_model, const char *detail);
