#include "model/artifact.h"

#include <string.h>

#include "util/util.h"

const struct kiln_artifact kiln_artifacts[ARTIFACT_COUNT] = {
    [ARTIFACT_RAW] = {"raw", ".raw", "raw"},
    [ARTIFACT_QCOW2] = {"qcow2", ".qcow2", "qcow2"},
    /* qemu's driver for VHD is "vpc" (Virtual PC, whose format VHD is) */
    [ARTIFACT_VHD_FIXED] = {"vhd-fixed", ".vhd", "vpc"},
    [ARTIFACT_VHD] = {"vhd", "-dynamic.vhd", "vpc"},
    [ARTIFACT_TAR] = {"tar", ".tar.zst", NULL},
    [ARTIFACT_KERNEL] = {"kernel", ".vmlinuz", NULL},
    [ARTIFACT_INITRD] = {"initrd", ".initrd", NULL},
    [ARTIFACT_USR] = {"usr", ".usr.img", NULL},
    [ARTIFACT_USR_VERITY] = {"usr-verity", ".usr.verity", NULL},
};

const struct kiln_artifact *artifact_by_name(const char *name)
{
    for (size_t i = 0; i < ARTIFACT_COUNT; i++)
        if (streq(name, kiln_artifacts[i].name)) return &kiln_artifacts[i];
    return NULL;
}

const struct kiln_artifact *artifact_by_file(const char *file)
{
    const struct kiln_artifact *best = NULL;
    for (size_t i = 0; file && i < ARTIFACT_COUNT; i++)
        if (endswith(file, kiln_artifacts[i].suffix) && (!best || strlen(kiln_artifacts[i].suffix) > strlen(best->suffix)))
            best = &kiln_artifacts[i];
    return best;
}

bool artifact_is_disk(const char *kind)
{
    const struct kiln_artifact *a = artifact_by_name(kind);
    return a && a->qemu;
}
