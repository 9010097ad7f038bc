/* A one-layer container image as an archive every runtime loads without a registry: the OCI
 * image layout (OCI image-spec v1.0: oci-layout, index.json, blobs/sha256/DIGEST) with docker's
 * `docker save` manifest.json beside it naming the same blobs, so `ctr images import`,
 * `podman load` and `docker load` all take the one file. The layer is an uncompressed ustar
 * (media type application/vnd.oci.image.layer.v1.tar), so its digest is its diff_id. */
#pragma once
#include <stddef.h>

/* A file in the layer: owner 0:0, mtime the epoch (the archive's bytes depend only on these). */
struct oci_file {
    const char *path; /* relative, e.g. "bin/kiln-guest"; its parent directories are added */
    const void *data;
    size_t len;
    unsigned mode; /* permission bits */
};

/* Writes the image to dst (through a temporary file beside it, renamed): files in one layer,
 * ref the image's name ("docker.io/kiln/probe:1", in both the containerd and OCI ref
 * annotations and as docker's RepoTag), arch the GOARCH the config declares ("amd64",
 * "arm64"). config_digest receives "sha256:HEX" of the image config: the image ID podman and
 * docker give it, whatever name they show. 0, or -errno with the reason in *reterr. */
int oci_archive_write(const char *dst, const char *ref, const char *arch, const struct oci_file *files, size_t n,
                      char config_digest[72], char **reterr);

/* The GOARCH name of a machine (uname -m, kiln's arch names): "amd64" for x86_64, "arm64" for
 * aarch64; the name itself otherwise. */
const char *oci_goarch(const char *machine);
