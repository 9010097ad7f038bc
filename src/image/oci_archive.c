/* One-layer OCI image archives (oci_archive.h). Media types and JSON shapes from the OCI image
 * spec v1.0 (image-layout.md, image-index.md, manifest.md, config.md); docker's manifest.json
 * from its image spec v1.2 "combined image JSON + filesystem changeset format". */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "image/oci_archive.h"
#include "util/fs.h"
#include "util/util.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"

const char *oci_goarch(const char *machine)
{
    return streq(machine, "x86_64") ? "amd64" : streq(machine, "aarch64") ? "arm64" : machine;
}

static la_ssize_t mem_write(struct archive *a, void *buf, const void *data, size_t len)
{
    (void)a;
    sbuf_append(buf, data, len);
    return (la_ssize_t)len;
}

static void sha256_digest(const void *data, size_t len, char out[72])
{
    unsigned char md[32];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    int k = snprintf(out, 72, "sha256:");
    for (int i = 0; i < 32; i++) k += snprintf(out + k, (size_t)(72 - k), "%02x", md[i]);
}

/* One tar entry (a directory when data is NULL) at the epoch, owned by 0:0. */
static int tar_entry(struct archive *a, const char *path, const void *data, size_t len, unsigned mode)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, data ? AE_IFREG : AE_IFDIR);
    archive_entry_set_perm(e, mode & 07777);
    archive_entry_set_size(e, data ? (la_int64_t)len : 0);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int ok = archive_write_header(a, e) == ARCHIVE_OK && (!data || archive_write_data(a, data, len) == (la_ssize_t)len);
    archive_entry_free(e);
    return ok ? 0 : -EIO;
}

/* The layer: the directories a container's runtime mounts over (dev, proc, sys, tmp, etc)
 * and each file's parent directories, then the files. */
static int layer_tar(const struct oci_file *files, size_t n, struct sbuf *out, char **reterr)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    archive_write_set_bytes_in_last_block(a, 1);
    int r = archive_write_open(a, out, NULL, mem_write, NULL) == ARCHIVE_OK ? 0 : -EIO;
    static const char *const dirs[] = {"dev/", "etc/", "proc/", "sys/", "tmp/"};
    for (size_t i = 0; r == 0 && i < sizeof dirs / sizeof *dirs; i++) r = tar_entry(a, dirs[i], NULL, 0, 0755);
    for (size_t i = 0; r == 0 && i < n; i++) {
        for (const char *s = strchr(files[i].path, '/'); r == 0 && s; s = strchr(s + 1, '/')) {
            _cleanup_free_ char *dir = xstrndup(files[i].path, (size_t)(s - files[i].path) + 1);
            bool listed = false;
            for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) listed |= streq(dir, dirs[k]);
            if (!listed) r = tar_entry(a, dir, NULL, 0, 0755);
        }
        if (r == 0) r = tar_entry(a, files[i].path, files[i].data ? files[i].data : "", files[i].len, files[i].mode);
    }
    if (r == 0 && archive_write_close(a) != ARCHIVE_OK) r = -EIO;
    if (r < 0) err_setf(reterr, 0, "cannot write the image's layer: %s", archive_error_string(a) ? archive_error_string(a) : "?");
    archive_write_free(a);
    return r;
}

static char *dumps(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* "blobs/sha256/HEX" for "sha256:HEX" */
static char *blob_path(const char *digest) { return xasprintf("blobs/sha256/%s", digest + 7); }

int oci_archive_write(const char *dst, const char *ref, const char *arch, const struct oci_file *files, size_t n,
                      char config_digest[72], char **reterr)
{
    struct sbuf layer = {0};
    if (layer_tar(files, n, &layer, reterr) < 0) return sbuf_free(&layer), -EIO;
    char ld[72], cd[72], md[72];
    sha256_digest(layer.s, layer.len, ld);
    _cleanup_free_ char *config =
        dumps(json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[s]}}", "architecture", arch, "os", "linux", "config", "Cmd",
                        "/bin/true", "rootfs", "type", "layers", "diff_ids", ld));
    sha256_digest(config, strlen(config), cd);
    _cleanup_free_ char *manifest = dumps(json_pack(
        "{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2, "mediaType", MT_MANIFEST, "config",
        "mediaType", MT_CONFIG, "digest", cd, "size", (json_int_t)strlen(config), "layers", "mediaType", MT_LAYER,
        "digest", ld, "size", (json_int_t)layer.len));
    sha256_digest(manifest, strlen(manifest), md);
    _cleanup_free_ char *index = dumps(json_pack(
        "{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}, s:{s:s, s:s}}]}", "schemaVersion", 2, "mediaType", MT_INDEX,
        "manifests", "mediaType", MT_MANIFEST, "digest", md, "size", (json_int_t)strlen(manifest), "platform",
        "architecture", arch, "os", "linux", "annotations", "io.containerd.image.name", ref,
        "org.opencontainers.image.ref.name", ref));
    _cleanup_free_ char *cpath = blob_path(cd), *lpath = blob_path(ld), *mpath = blob_path(md);
    /* docker's RepoTag has no registry host for Docker Hub names */
    const char *tag = startswith(ref, "docker.io/") ? ref + 10 : ref;
    _cleanup_free_ char *docker = dumps(json_pack("[{s:s, s:[s], s:[s]}]", "Config", cpath, "RepoTags", tag, "Layers", lpath));

    struct sbuf out = {0};
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    archive_write_set_bytes_in_last_block(a, 1);
    int r = archive_write_open(a, &out, NULL, mem_write, NULL) == ARCHIVE_OK ? 0 : -EIO;
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    struct { const char *path; const char *data; size_t len; } members[] = {
        {"oci-layout", layout, strlen(layout)}, {"index.json", index, strlen(index)},
        {"manifest.json", docker, strlen(docker)}, {"blobs/", NULL, 0}, {"blobs/sha256/", NULL, 0},
        {mpath, manifest, strlen(manifest)}, {cpath, config, strlen(config)}, {lpath, layer.s, layer.len}};
    for (size_t i = 0; r == 0 && i < sizeof members / sizeof *members; i++)
        r = tar_entry(a, members[i].path, members[i].data, members[i].len, members[i].data ? 0644 : 0755);
    if (r == 0 && archive_write_close(a) != ARCHIVE_OK) r = -EIO;
    if (r < 0) err_setf(reterr, 0, "cannot write the image archive: %s", archive_error_string(a) ? archive_error_string(a) : "?");
    archive_write_free(a);
    sbuf_free(&layer);
    if (r == 0 && (r = write_file_atomic(dst, out.s, out.len, 0644)) < 0)
        err_setf(reterr, 0, "cannot write %s: %s", dst, strerror(-r));
    sbuf_free(&out);
    if (r == 0) snprintf(config_digest, 72, "%s", cd);
    return r;
}
