/* Performance counters around each case, for the telemetry archive: the host side of every
 * node (its VM process: CPU time, resident memory, disk I/O) sampled once a second while the
 * case runs, and the guest side (/proc/stat, meminfo, diskstats, net/dev) read before and
 * after. Written as cases/<id>/perf.json. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

struct kiln_node;
struct perf;

/* A node's process on this host now (<= 0: none, e.g. the ready platform). Asked at every
 * sample, from the sampling thread: a guest that reboots ends its VM's process and the
 * platform starts another, and the samples follow the new one (each sample names its pid). */
typedef pid_t (*perf_pid_fn)(void *ctx, struct kiln_node *node);
/* pid_of NULL: no host samples. */
struct perf *perf_start(struct kiln_node **nodes, size_t n, perf_pid_fn pid_of, void *ctx);
/* Stops sampling, reads the guests again and writes path. Frees p. */
void perf_finish(struct perf *p, const char *path);
