#include "model/req.h"

#include <stdio.h>
#include <string.h>

#include "util/util.h"

const char *const kiln_feature_names[] = {"serial-console", "uefi", "nvme", "tpm", "gpu", "hot-add-disk", "private-network", "multiqueue", "secure-boot", "update", "rdma", "iscsi", NULL};

unsigned kiln_feature_parse(const char *name)
{
    for (int i = 0; kiln_feature_names[i]; i++)
        if (streq(kiln_feature_names[i], name)) return 1u << i;
    return 0;
}

void kiln_features_format(unsigned f, char *buf, size_t sz)
{
    buf[0] = 0;
    size_t off = 0;
    for (int i = 0; kiln_feature_names[i]; i++)
        if (f & (1u << i)) {
            int n = snprintf(buf + off, sz - off, "%s%s", off ? "," : "", kiln_feature_names[i]);
            if (n < 0 || (size_t)n >= sz - off) break;
            off += (size_t)n;
        }
}

void kiln_req_merge(struct kiln_req *into, const struct kiln_req *o)
{
    into->nodes = MAX(into->nodes, o->nodes);
    into->cpus = MAX(into->cpus, o->cpus);
    into->memory_mb = MAX(into->memory_mb, o->memory_mb);
    into->nics = MAX(into->nics, o->nics);
    into->data_disks = MAX(into->data_disks, o->data_disks);
    into->features |= o->features;
}

bool kiln_req_satisfied(const struct kiln_req *have, const struct kiln_req *need, char **reterr)
{
    if (kiln_req_nodes(need) > kiln_req_nodes(have)) {
        return err_setf(reterr, false, "needs nodes>=%d, environment has %d", kiln_req_nodes(need), kiln_req_nodes(have));
    }
    if (need->cpus > have->cpus) {
        return err_setf(reterr, false, "needs cpus>=%d, node has %d", need->cpus, have->cpus);
    }
    if (need->memory_mb > have->memory_mb) {
        return err_setf(reterr, false, "needs memory>=%d MiB, node has %d MiB", need->memory_mb, have->memory_mb);
    }
    if (need->nics > have->nics) {
        return err_setf(reterr, false, "needs nics>=%d, node has %d", need->nics, have->nics);
    }
    if (need->data_disks > have->data_disks) {
        return err_setf(reterr, false, "needs data_disks>=%d, node has %d", need->data_disks, have->data_disks);
    }
    unsigned missing = need->features & ~have->features;
    if (missing) {
        char f[128];
        kiln_features_format(missing, f, sizeof f);
        return err_setf(reterr, false, "needs feature %s, not available", f);
    }
    return true;
}
