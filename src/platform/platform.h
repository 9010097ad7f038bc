/* The platform vtable: how environments (sets of nodes) are made and ended, and what the
 * runbook's platform.<name> section says about it. The scheduler, the runbook loader, the
 * commands and the cases know only this struct: a driver owns its configuration, its tested
 * files and its capabilities. Adding a platform = one file, one entry in platform.c's table and
 * the file in meson.build's sources (docs/architecture.md lists the docs that name drivers). */
#pragma once
#include <sys/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/req.h"
#include "node/node.h"
#include "runbook/runbook.h"

struct kiln_patterns;

/* With feature private-network every node has one more NIC, with a MAC starting with this
 * prefix, on an Ethernet segment only the environment's nodes share. */
#define KILN_PRIVATE_MAC_PREFIX "52:54:01"
/* With feature multiqueue every node has one more virtio-net NIC with max(2, cpus) queue
 * pairs, its MAC starting with this prefix. */
#define KILN_MULTIQUEUE_MAC_PREFIX "52:54:02"

/* Feature iscsi: the target the platform serves an environment, as its guests reach it. */
struct kiln_iscsi {
    char *portal;       /* HOST:PORT, e.g. "10.0.2.2:41234" */
    char *iqn;          /* the target's name; its LUN 1 is the disk */
    uint64_t lun_bytes; /* LUN 1's size */
};

struct kiln_env {
    int id;
    char *name;
    struct kiln_node **nodes;
    size_t nnodes;
    struct kiln_req spec; /* what it was deployed with */
    bool bad;
    struct kiln_iscsi *iscsi; /* with feature iscsi; NULL otherwise */
    void *priv;
};

/* The update server a platform runs for its guests (feature update, docs/updates.md): kiln
 * serve --gallery over the runbook's gallery, its state in data (SQLite: data/kiln.db), for
 * the update cases to set rollouts and read what machines reported. */
struct kiln_update_server {
    char *url;        /* the Omaha endpoint as the host reaches it: http://127.0.0.1:PORT/v1/update/ */
    char *guest_url;  /* as the guests reach it (their updaters are pointed there) */
    char *data;       /* kiln serve --data */
    char *log;        /* the server's log, in the run directory */
    const char *gallery, *name, *channel; /* the runbook's platform.<type>.update */
    const char *target, *broken;          /* its versions; NULL when not named */
    const char *untrusted_key;            /* a secret key the images must not trust, or NULL */
};

struct kiln_platform_ctx {
    const struct kiln_runbook *rb;
    const struct kiln_platform *ops;
    char *run_dir;      /* nodes/<name>/ live here */
    char *work_dir;     /* overlays, seeds, sockets: removed at the end */
    char *key_path;     /* private key used for every node */
    char *pubkey;       /* its authorized_keys line */
    const struct kiln_patterns *patterns;
    char *accel;        /* what the platform runs guests with, for the log and results */
    atomic_int next_node;
    struct kiln_update_server *update; /* NULL until a platform started one */
    void *priv;
};

/* A file a platform's nodes boot from: results.json records its SHA-256 as tested, kiln
 * check requires it to exist and names key's place in the runbook when it does not. */
#define PLATFORM_FILES_MAX 3 /* results.json's tested[] holds as many */
struct kiln_platform_file {
    const char *role; /* "image", "kernel", "initrd" (results.md's tested[].role) */
    const char *key;  /* its runbook key path, e.g. "platform.qemu.image" */
    const char *path; /* absolute */
};

/* What a platform's nodes are, for cases that compare what the guest sees with what was asked. */
enum {
    /* The nodes have the cpus and memory spec_for gave them. A platform without it takes
     * machines as they are and reports the requested shape as met: cases measure instead. */
    PLATFORM_CAP_PROVISIONS_SHAPE = 1u << 0,
    /* It boots a local image file: its section takes image, kernel, initrd, append, firmware,
     * accel, memory_mb, cpus and boot_timeout_s (kiln shell hands it its options so). */
    PLATFORM_CAP_BOOTS_IMAGE = 1u << 1,
};

struct kiln_platform {
    const char *name;       /* platform.type, and the key of its section platform.<name> */
    /* what the section must give when the runbook has none, for the error ("nodes"); NULL:
     * the section is optional and parse_conf gets NULL */
    const char *conf_needs;
    unsigned caps;          /* PLATFORM_CAP_* */
    /* Parses the runbook's platform.<name> mapping n into the driver's own configuration
     * (*conf, set even when d got errors: free_conf frees what it holds). Errors go to d at
     * file:line:col, under key paths "platform.<name>...". Paths resolve with runbook_get_path. */
    void (*parse_conf)(const struct ynode *n, struct diags *d, void **conf);
    void (*free_conf)(void *conf); /* NULL-safe */
    /* Optional: the files in conf the nodes boot from, at most max into out; how many. */
    size_t (*tested_files)(const void *conf, struct kiln_platform_file *out, size_t max);
    /* Optional: the kernel arguments the platform boots nodes with (NULL when the image's boot
     * loader chooses them), and in *key the runbook key they come from. */
    const char *(*kernel_args)(const void *conf, const char **key);
    /* Optional: what init would refuse in conf and the files it names, found without booting
     * or the host's state (kiln check): -EINVAL with the message (as init logs it) in *reterr
     * and the runbook key it is about in *key; 0 when nothing is wrong. */
    int (*check_conf)(const void *conf, const char **key, char **reterr);
    const char *const *check_keys; /* the keys check_conf may name (NULL-terminated): kept where they stand */
    bool uses_host_memory; /* environments count against host memory admission */
    int max_envs;          /* 0 = no limit */
    /* Readies the platform for the run (finds firmware and helpers, starts what it shares
     * between environments): 0, or -errno with the message in *reterr (cmd/ prints it). */
    int (*init)(struct kiln_platform_ctx *p, char **reterr);
    /* Whether this platform can ever give an environment meeting need (*reterr says why not). */
    bool (*capable)(struct kiln_platform_ctx *p, const struct kiln_req *need, char **reterr);
    /* The spec a new environment for need gets (platform defaults filled in). */
    void (*spec_for)(struct kiln_platform_ctx *p, const struct kiln_req *need, struct kiln_req *spec);
    /* Boots/attaches env->spec nodes and connects to them. Reason in *reterr on failure; -ENOTSUP
     * when deploying again cannot help (the scheduler retries other failures once). */
    int (*deploy)(struct kiln_platform_ctx *p, struct kiln_env *env, char **reterr);
    /* Optional (NULL = unsupported). */
    int (*hot_add_disk)(struct kiln_platform_ctx *p, struct kiln_node *n, int size_mb, char **reterr);
    /* Optional: the node's process on this host (its VM), for performance counters. */
    pid_t (*node_pid)(struct kiln_platform_ctx *p, struct kiln_node *n);
    /* Must be safe on every path, including a half-deployed env. */
    void (*destroy)(struct kiln_platform_ctx *p, struct kiln_env *env);
    void (*fini)(struct kiln_platform_ctx *p);
};

/* The driver whose name is type ("qemu", "ready"), or NULL. */
const struct kiln_platform *platform_find(const char *type);
/* The first driver in the table with every capability in caps, or NULL. */
const struct kiln_platform *platform_find_caps(unsigned caps);
/* Every driver's name, NULL-terminated; the first is platform.type's default. */
const char *const *platform_names(void);
/* Memory one environment needs on the host, MiB (0 for platforms that use none). */
long platform_env_cost_mb(const struct kiln_platform *ops, const struct kiln_req *spec);
void env_free(struct kiln_env *env);
/* Creates a node with a unique name, its directory under run_dir, and the run's key. */
struct kiln_node *platform_new_node(struct kiln_platform_ctx *p);
