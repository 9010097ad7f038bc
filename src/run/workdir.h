/* A run's work directory: TMPDIR/kiln-run-XXXXXX, mode 0700, holding what must never reach
 * the run directory (the run's private key, cloud-init seeds, raw consoles, QMP sockets,
 * overlays). A file "owner" in it (JSON) names the kiln process (pid and start time: pids
 * are reused) and its run directory, so that a later kiln tells the directory of a kiln that
 * was killed (kill -9, power loss: nothing of its own could clean up) from a live one. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#define WORKDIR_PREFIX "kiln-run-"

struct workdir_owner {
    pid_t pid;
    unsigned long long start; /* proc_start_time() of pid */
    char *run_dir;            /* absolute; NULL when unknown */
    char *name, *platform;    /* the runbook's name, the platform type */
    int64_t started;          /* wall clock, s */
};

/* Creates a fresh work directory under tmp with an owner file for the calling process
 * (o->pid and o->start are filled in). 0 and *path, or -errno. */
int workdir_create(const char *tmp, struct workdir_owner *o, char **path);
/* Removes every work directory under tmp that belongs to this user and whose owner process
 * is gone (one without an owner file only when older than a minute: it may be just being
 * made). Returns how many it removed; their owners in *out (caller frees with
 * workdir_owners_free). */
size_t workdir_sweep(const char *tmp, struct workdir_owner **out);
void workdir_owners_free(struct workdir_owner *v, size_t n);
