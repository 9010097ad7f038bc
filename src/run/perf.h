/* Performance counters around each case, for the telemetry archive: the host side of every
 * node (its VM process: CPU time, resident memory, disk I/O) sampled once a second while the
 * case runs, and the guest side (/proc/stat, meminfo, diskstats, net/dev) read before and
 * after. Written as cases/<id>/perf.json. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

struct kiln_node;
struct perf;

/* pids[i] is node i's process on this host (<= 0: none, e.g. the ready platform). */
struct perf *perf_start(struct kiln_node **nodes, const pid_t *pids, size_t n);
/* Stops sampling, reads the guests again and writes path. Frees p. */
void perf_finish(struct perf *p, const char *path);
