/* The files kiln build writes for an image NAME-VERSION, as its manifest lists them
 * ("artifacts": file, kind, size, sha256; docs/build.md): one row per kind, so the spec's
 * output names, the file suffixes, the manifest's kinds, which kinds are disks, and qemu's
 * block driver for each disk are read from this table instead of being spelled out at each use. */
#pragma once
#include <stdbool.h>

/* The first five are the spec's `output:` choices, in enum image_output's order; the first
 * four are also the disk formats, in enum disk_format's order (both assert it). */
enum kiln_artifact_kind {
    ARTIFACT_RAW,
    ARTIFACT_QCOW2,
    ARTIFACT_VHD_FIXED,
    ARTIFACT_VHD, /* dynamic VHD */
    ARTIFACT_TAR,
    ARTIFACT_KERNEL,
    ARTIFACT_INITRD,
    ARTIFACT_USR,        /* the immutable layout's /usr image (update payload) */
    ARTIFACT_USR_VERITY, /* its dm-verity hash tree */
    ARTIFACT_COUNT
};

struct kiln_artifact {
    const char *name;   /* spec `output:` value and manifest "kind": "vhd-fixed" */
    const char *suffix; /* what follows NAME-VERSION in the file's name: ".vhd" */
    const char *qemu;   /* qemu's block driver (-drive format=) for a disk image; NULL: not a disk */
};

extern const struct kiln_artifact kiln_artifacts[ARTIFACT_COUNT];

/* The kind named name (as a spec or a manifest spells it), or NULL. */
const struct kiln_artifact *artifact_by_name(const char *name);
/* The kind of a file kiln build wrote, by its suffix (the longest that matches, so
 * "x-1.0-dynamic.vhd" is a dynamic VHD, not a fixed one), or NULL. */
const struct kiln_artifact *artifact_by_file(const char *file);
/* Whether the manifest kind names a whole disk image (raw, qcow2, VHD); false for NULL. */
bool artifact_is_disk(const char *kind);
