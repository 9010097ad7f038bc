/* What a case needs from its environment, and what an environment provides. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum kiln_feature {
    FEAT_SERIAL_CONSOLE = 1u << 0,
    FEAT_UEFI = 1u << 1,
    FEAT_NVME = 1u << 2,
    FEAT_TPM = 1u << 3,
    FEAT_GPU = 1u << 4,         /* a GPU passed through from the host (VFIO) */
    FEAT_HOT_ADD_DISK = 1u << 5,
    FEAT_PRIVATE_NET = 1u << 6, /* one more NIC per node, on a segment only the environment's nodes share */
    FEAT_MULTIQUEUE = 1u << 7,  /* one more NIC per node with one queue pair per vCPU (at least 2) */
    FEAT_SECURE_BOOT = 1u << 8, /* UEFI firmware that enforces Secure Boot with keys enrolled */
    FEAT_UPDATE = 1u << 9,      /* an update server (kiln serve --gallery) the nodes are pointed at */
    FEAT_RDMA = 1u << 10,       /* RDMA between the nodes: on qemu soft-RoCE (rdma_rxe) over the private network */
    FEAT_ISCSI = 1u << 11,      /* an iSCSI target on the host for the environment (struct kiln_iscsi) */
};

struct kiln_req {
    int nodes;         /* 0 means 1 */
    int cpus;          /* minimum per node */
    int memory_mb;     /* minimum per node */
    int nics;          /* minimum per node */
    int data_disks;    /* minimum per node */
    unsigned features; /* FEAT_* bits */
};

extern const char *const kiln_feature_names[]; /* NULL-terminated, bit order */
/* Parses a feature name; returns the bit or 0. */
unsigned kiln_feature_parse(const char *name);
/* "serial-console,uefi" */
void kiln_features_format(unsigned features, char *buf, size_t sz);
/* Component-wise maximum (features: union). */
void kiln_req_merge(struct kiln_req *into, const struct kiln_req *other);
/* True when have meets need; otherwise false with a one-line reason naming the dimension in *reterr. */
bool kiln_req_satisfied(const struct kiln_req *have, const struct kiln_req *need, char **reterr);
static inline int kiln_req_nodes(const struct kiln_req *r) { return r->nodes > 0 ? r->nodes : 1; }
