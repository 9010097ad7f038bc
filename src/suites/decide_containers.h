/* The decisions of area containers (src/suites/containers.c) and of verify_iscsi_login (area
 * storage), as pure functions of captured guest output, with the conventions of decide.h
 * (unit-tested in tests/unit/test_containers.c, fuzzed by tests/fuzz/fuzz_decide.c). Guest
 * output is untrusted: any text, bounded copies only. */
#pragma once
#include <stdbool.h>

#include "suites/common.h"

/* RUNTIME_STOPPED: one is installed but does not answer (its daemon is not running). */
enum ctr_runtime { RUNTIME_NONE, RUNTIME_DOCKER, RUNTIME_PODMAN, RUNTIME_CONTAINERD, RUNTIME_STOPPED };

/* The shell command that names the guest's runtime: one line "docker", "podman", "ctr", or
 * "none" followed by what was found of each ("ctr=1 sock=0 ..."). Docker (when its daemon
 * answers) comes before podman, which comes before containerd alone: docker runs on
 * containerd too, and the runtime people use is the one to test. */
extern const char CTR_DETECT_CMD[];
/* The runtime the detection's output names. RUNTIME_NONE with VERDICT_NOTHING when the guest
 * has none; RUNTIME_STOPPED with VERDICT_FAIL when one is installed but does not answer (ctr
 * without containerd's socket /run/containerd/containerd.sock, docker without its daemon);
 * VERDICT_PASS otherwise. */
enum verdict_kind decide_container_runtime(const struct gcap *detect, enum ctr_runtime *rt, struct verdict *v);
const char *ctr_runtime_name(enum ctr_runtime rt);

/* A container ran: load is the image import's result, run the container's (`ctr run` /
 * `podman run` / `docker run`), which must exit want_code (the runtime passes the container's
 * exit status on) having printed "kiln-container TOKEN". */
enum verdict_kind decide_container_run(const struct gcap *load, const struct gcap *run, int want_code, const char *token,
                                       struct verdict *v);

/* A container's view (kiln-guest ctr-probe inside it, under a memory limit of mem_bytes and a
 * CPU quota cpu_max such as "50000 100000") against the guest's own (host: ctr-probe run on the
 * guest outside any container): its own PID (it is pid 1), mount, network and UTS namespaces,
 * the limits in its cgroup v2 files (memory.max, cpu.max), its root on overlayfs. */
enum verdict_kind decide_container_isolation(const char *host, const struct gcap *ctr, long long mem_bytes,
                                             const char *cpu_max, struct verdict *v);

/* A memory hog (kiln-guest hog hog_mb, printing hog=N per MiB) in a container limited to
 * limit_mb: it must be killed (exit 137, SIGKILL) before the limit's worth plus slack, and the
 * kernel log after the case's mark (kmsg) must show the memory cgroup's OOM kill of kiln-guest
 * ("Memory cgroup out of memory: Killed process N (kiln-guest)"). controllers: the guest's
 * /sys/fs/cgroup/cgroup.controllers, named when memory is missing from it. A count that shrinks
 * or is negative cannot be decided on (VERDICT_SKIP). */
enum verdict_kind decide_container_oom(const struct gcap *hog, long limit_mb, long hog_mb, const char *kmsg,
                                       const char *controllers, struct verdict *v);

/* What kubelet needs of a node, from "key=value" lines (CTR_KUBELET_CMD): swaps (active swap
 * areas in /proc/swaps), swap_ok (1 when kubelet is configured to run with swap: failSwapOn:
 * false), bridge_nf (net.bridge.bridge-nf-call-iptables, "absent" without br_netfilter),
 * ip_forward (net.ipv4.ip_forward), cgroup_fs (stat -fc %T /sys/fs/cgroup: cgroup2fs),
 * cgroup_driver (systemd | cgroupfs | unknown: containerd's SystemdCgroup, podman's or docker's
 * cgroup manager), cri_socket (the CRI socket found, or none), runtime (as CTR_DETECT_CMD).
 * Every unmet prerequisite is named (rt RUNTIME_STOPPED too). A guest with no runtime at all is NOTHING unless
 * kubelet_node (the container-host policy profile): then it fails. */
extern const char CTR_KUBELET_CMD[];
enum verdict_kind decide_kubelet_prerequisites(const char *facts, enum ctr_runtime rt, bool kubelet_node,
                                               struct verdict *v);

/* verify_iscsi_login's guest script output: "@step NAME RC" lines, each followed by that step's
 * output; steps discover, login, device, partition, mkfs, mount, write, remount, read, logout,
 * sessions (in that order; the script stops at the first failure but always logs out); the
 * write and read steps print the SHA-256 of the data. A failed step is named with its output
 * (its lines joined). iqn: the target's name, which discovery must list. */
enum verdict_kind decide_iscsi_login(const char *out, const char *iqn, struct verdict *v);
