/* The decisions of areas hpc (src/suites/hpc.c: RDMA over soft-RoCE), gpu (src/suites/gpu.c)
 * and of verify_kdump (src/suites/kernel.c), as pure functions of captured guest output with
 * the conventions of decide.h (unit-tested in tests/unit/test_hpc.c, fuzzed by
 * tests/fuzz/fuzz_decide.c). Guest output is untrusted: any text, lines of any length.
 * Formats: iproute2's `rdma link show`, rdma-core's ibv_*_pingpong (libibverbs/examples),
 * perftest 4.5's result tables, kdump-tools' `kdump-config status`, Linux's /proc/iomem and
 * /sys/kernel/kexec_crash_{size,loaded}, the PCI sysfs attributes (class, vendor, device). */
#pragma once
#include <stdbool.h>

#include "suites/common.h"

/* ---- hpc ---- */

/* The RDMA link over node's private NIC netdev. setup: the command that loads rdma_rxe and
 * adds the rxe link (its stderr names the step that failed: "modprobe rdma_rxe: ...");
 * links: `rdma link show` ("link rxe0/1 state ACTIVE physical_state LINK_UP netdev ens5").
 * A pass needs a link over netdev in state ACTIVE; dev gets its device name ("rxe0", at most
 * devsz-1 bytes). */
enum verdict_kind decide_rdma_link(const char *node, const char *netdev, const struct gcap *setup,
                                   const struct gcap *links, char *dev, size_t devsz, struct verdict *v);

/* One ibv_*_pingpong exchange (tool "ibv_rc_pingpong", "ibv_ud_pingpong"), each side's output
 * judged: exit 0, the peer's "remote address:" line, and "N iters in S seconds" with N = iters.
 * mbit and usec (may be NULL) get the client's "= X Mbit/sec" and "= Y usec/iter". */
enum verdict_kind decide_pingpong(const char *tool, const char *server_node, const struct gcap *server,
                                  const char *client_node, const struct gcap *client, long iters, struct verdict *v,
                                  double *mbit, double *usec);

/* The value in column (a header as perftest prints it, e.g. "BW average[MB/sec]",
 * "t_avg[usec]") of the first result row of a perftest table in text; false when text has
 * no such table, column or number. */
bool perftest_value(const char *text, const char *column, double *value);

/* A perftest run (tool "ib_write_bw", "ib_read_lat"): both sides exited 0 and the client's
 * table holds column; value gets it. */
enum verdict_kind decide_perftest(const char *tool, const char *column, const struct gcap *server,
                                  const struct gcap *client, struct verdict *v, double *value);

/* ---- kdump ---- */

/* Memory reserved for a crash kernel: crash_size is /sys/kernel/kexec_crash_size (bytes; NULL
 * when unreadable), iomem the "Crash kernel" lines of /proc/iomem, cmdline /proc/cmdline
 * (names crashkernel= in a failure). mib gets the reservation. */
enum verdict_kind decide_crashkernel(const char *crash_size, const char *iomem, const char *cmdline, struct verdict *v,
                                     double *mib);

/* kdump armed: crash_loaded is /sys/kernel/kexec_crash_loaded ("1": a crash kernel is loaded;
 * NULL when unreadable), status `kdump-config status` or NULL when kdump-tools is not installed
 * ("current state   : ready to kdump"). */
enum verdict_kind decide_kdump_armed(const char *crash_loaded, const struct gcap *status, struct verdict *v);

/* A vmcore left by the crash: before and after list the files under /var/crash ("SIZE PATH"
 * lines) before the crash and after the reboot. A new non-empty dump (dump.*, vmcore*) passes;
 * only an incomplete one (*incomplete*) or none fails, naming what is there. */
enum verdict_kind decide_vmcore(const struct gcap *before, const struct gcap *after, struct verdict *v);

/* ---- gpu ---- */

/* The guest's PCI devices, one line each: "ADDRESS CLASS VENDOR DEVICE DRIVER" (sysfs values:
 * class 0x030000, vendor 0x10de; driver "-" when none is bound). lspci: `lspci -nn` or NULL,
 * whose line for a GPU names it in the reason. A GPU is a display-class (0x03) device that
 * no hypervisor emulates (QEMU's stdvga, QXL, virtio-gpu, VMware SVGA do not count). */
enum verdict_kind decide_gpu_visible(const struct gcap *pci, const struct gcap *lspci, struct verdict *v,
                                     int *count);

/* Each GPU of pci (as above) is bound to a GPU driver (nvidia, amdgpu, i915, xe, nouveau,
 * radeon); nvidia_smi: `nvidia-smi -L` or NULL when not installed (must exit 0 when it is). */
enum verdict_kind decide_gpu_driver(const struct gcap *pci, const struct gcap *nvidia_smi, struct verdict *v);
