/* The manifest stage: NAME-VERSION.manifest.json (the image, its kernel, partitions,
 * packages, repositories and artifacts), the SPDX and CycloneDX SBOMs and the SLSA provenance,
 * then every staged file renamed into the output directory, the manifest last. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>

#include "image/build_int.h"
#include "image/encrypt.h"
#include "image/inspect.h"
#include "trust/pkgdb.h"
#include "trust/provenance.h"
#include "trust/sbom.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/timeutil.h"
#include "util/proc.h"
#include "util/util.h"

static json_t *os_release_json(struct build_ctx *c)
{
    static const char *const cand[] = {"etc/os-release", "usr/lib/os-release"};
    for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
        char *text = NULL;
        size_t len;
        if (inroot_read(c->root_fd, cand[i], 1 << 20, &text, &len) < 0) continue;
        json_t *o = os_release_parse(text);
        free(text);
        return o;
    }
    return json_object();
}

/* SPDX and CycloneDX documents of the tree's packages, listed in the manifest with digests.
 * Their time is SOURCE_DATE_EPOCH: a rebuild gives the same bytes. */
static int write_sboms(struct build_ctx *c, json_t *digests)
{
    json_t *manifest = c->manifest, *pkgs = c->pkgs;
    /* each package's license from its copyright file in the tree (DEP-5), read before the tree went */
    manifest_read_tree(c);
    json_t *licenses = c->licenses;
    struct sbom_subject sub = {.name = c->spec->name, .version = c->spec->version, .arch = c->spec->arch->name,
                               .family = c->family->name,
                               .os_release = json_object_get(manifest, "os_release"), .created = c->epoch,
                               .licenses = licenses, .digests = digests};
    json_t *list = json_array();
    json_object_set_new(manifest, "sbom", list);
    const enum sbom_format fmts[] = {SBOM_SPDX, SBOM_CYCLONEDX};
    for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
        _cleanup_free_ char *name = xasprintf("%s%s", c->base, sbom_suffix(fmts[i]));
        _cleanup_free_ char *path = path_join(c->stage_dir, name);
        json_t *doc = sbom_make(fmts[i], &sub, pkgs);
        int r = json_write_file(path, doc);
        json_decref(doc);
        char hex[65];
        if (r < 0 || sha256_file_hex(path, hex, NULL) < 0) {
            return build_error(c, "manifest", "cannot write %s", path);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "file", name, "format",
                                              fmts[i] == SBOM_SPDX ? "spdx-2.3" : "cyclonedx-1.5", "sha256", hex));
    }
    return 0;
}

/* The in-toto / SLSA statement: subjects are every artifact, the SBOMs and the manifest. */
static int write_provenance(struct build_ctx *c, json_t *digests)
{
    json_t *manifest = c->manifest;
    json_t *subjects = json_array();
    const char *lists[] = {"artifacts", "sbom"};
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(manifest, lists[k]), i, a)
            json_array_append_new(subjects, json_pack("{s:O, s:{s:O}}", "name", json_object_get(a, "file"), "digest",
                                                      "sha256", json_object_get(a, "sha256")));
    }
    _cleanup_free_ char *mp = path_join(c->stage_dir, c->manifest_name);
    char mhex[65], shex[65];
    if (sha256_file_hex(mp, mhex, NULL) < 0) {
        json_decref(subjects);
        return build_error(c, "manifest", "cannot read %s", mp);
    }
    json_array_append_new(subjects, json_pack("{s:s, s:{s:s}}", "name", c->manifest_name, "digest", "sha256", mhex));
    if (sha256_file_hex(c->spec->path, shex, NULL) < 0) {
        json_decref(subjects);
        return build_error(c, "manifest", "cannot read the spec %s", c->spec->path);
    }
    json_t *outs = json_array();
    for (int i = 0; i < OUT_COUNT; i++)
        if (c->opts->only_output < 0 ? c->spec->outputs[i] : c->opts->only_output == i)
            json_array_append_new(outs, json_string(spec_output_name(i)));
    json_t *params = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "name", c->spec->name, "version", c->spec->version, "arch",
                               c->spec->arch->name, "layout", c->spec->layout == LAYOUT_IMMUTABLE ? "immutable" : "standard",
                               "outputs", outs, "source_date_epoch", (json_int_t)c->epoch);
    struct provenance_in in = {
        .spec_path = c->spec->path, .spec_sha256 = shex, .family = c->family->name,
        .os_release = json_object_get(manifest, "os_release"), .packages = c->pkgs, .digests = digests,
        .subjects = subjects, .parameters = params, .started = c->started, .finished = wall_s(),
    };
    json_t *st = provenance_make(&in);
    json_decref(subjects);
    json_decref(params);
    _cleanup_free_ char *path = xasprintf("%s/%s.provenance.json", c->stage_dir, c->base);
    int r = json_write_file(path, st);
    json_decref(st);
    return r < 0 ? build_error(c, "manifest", "cannot write %s", path) : 0;
}

/* Moves the staged files into out_dir, the manifest last: a reader that sees the manifest sees
 * every artifact it lists. */
static int publish_outputs(struct build_ctx *c)
{
    const char *stage_dir = c->stage_dir, *manifest_name = c->manifest_name;
    DIR *dir = opendir(stage_dir);
    if (!dir) return build_error(c, "outputs", "cannot read %s", stage_dir);
    struct dirent *de;
    int r = 0;
    while ((de = readdir(dir)) && r == 0) {
        if (de->d_name[0] == '.' || streq(de->d_name, manifest_name)) continue;
        _cleanup_free_ char *a = path_join(stage_dir, de->d_name);
        _cleanup_free_ char *b = path_join(c->opts->out_dir, de->d_name);
        if (rename(a, b) < 0) r = build_error(c, "outputs", "cannot move %s to %s: %s", a, b, strerror(errno));
    }
    closedir(dir);
    if (r < 0) return r;
    _cleanup_free_ char *a = path_join(stage_dir, manifest_name);
    _cleanup_free_ char *b = path_join(c->opts->out_dir, manifest_name);
    if (rename(a, b) < 0) return build_error(c, "outputs", "cannot move %s: %s", a, strerror(errno));
    c->published = true;
    return 0;
}

/* The image's own fields: name, version, arch, family, epoch, os-release, kernel, layout, disk,
 * repositories (the partitions and artifacts are the disk and outputs stages'). */
static void manifest_image(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    json_t *m = c->manifest;
    json_object_set_new(m, "name", json_string(s->name));
    json_object_set_new(m, "version", json_string(s->version));
    json_object_set_new(m, "arch", json_string(s->arch->name));
    json_object_set_new(m, "family", json_string(c->family->name));
    json_object_set_new(m, "source_date_epoch", json_integer(c->epoch));
    json_object_set_new(m, "builder", json_string("kiln " KILN_VERSION));
    manifest_read_tree(c);
    json_object_set_new(m, "os_release", json_incref(c->os_release));
    _cleanup_free_ char *cmdline = kernel_cmdline(c);
    /* null for a rootfs archive from a tree without a kernel */
    json_object_set_new(m, "kernel", c->kver ? json_pack("{s:s, s:s}", "version", c->kver, "cmdline", cmdline) : json_null());
    json_object_set_new(m, "layout", json_string(s->layout == LAYOUT_IMMUTABLE ? "immutable" : "standard"));
    json_object_set_new(m, "verity_root_hash", s->layout == LAYOUT_IMMUTABLE ? json_string(c->usr_hash) : json_null());
    json_object_set_new(m, "disk_size", c->disk_bytes ? json_integer((json_int_t)c->disk_bytes) : json_null()); /* null: no disk made */
    json_object_set_new(m, "repositories", c->repos ? json_incref(c->repos) : json_null());
    json_t *pm = json_object();
    json_object_set_new(pm, "removed", json_boolean(c->pm_removed != NULL));
    if (c->pm_removed) json_object_set_new(pm, "files", json_incref(c->pm_removed));
    json_object_set_new(m, "package_manager", pm);
}

void manifest_read_tree(struct build_ctx *c)
{
    if (c->os_release) return; /* read already */
    c->os_release = os_release_json(c);
    c->licenses = sbom_licenses(c->root_fd, c->family->name, c->pkgs);
}

int manifest_packages(struct build_ctx *c)
{
    _cleanup_free_ char *db = inroot_host_path(c->root_fd, c->family->db_path);
    if (!db) return build_error(c, "manifest", "the image has no package database (/%s)", c->family->db_path);
    char *err = NULL;
    if (pkgdb_list(c->family->name, db, &c->pkgs, &err) < 0) {
        int r = build_error(c, "manifest", "%s", err);
        free(err);
        return r;
    }
    json_object_set_new(c->manifest, "packages", json_incref(c->pkgs));
    return 0;
}

int stage_manifest(struct build_ctx *c)
{
    manifest_image(c);
    _cleanup_free_ char *mp = path_join(c->stage_dir, c->manifest_name);
    /* the package files hashed once, for the SBOMs and the provenance */
    _cleanup_free_ char *cache = kiln_cache_path(c->family->pkg_cache);
    json_t *digests = pkgdb_file_digests(c->family->name, c->pkgs, cache);
    int r = write_sboms(c, digests);
    if (r == 0 && json_write_file(mp, c->manifest) < 0) r = build_error(c, "manifest", "cannot write %s", mp);
    if (r == 0) r = write_provenance(c, digests);
    json_decref(digests);
    /* the last moment a Ctrl-C can keep the outputs out of the output directory */
    proc_test_pause("build-publish");
    if (r == 0 && kiln_interrupted) r = build_interrupted(c, "manifest");
    if (r == 0) r = publish_outputs(c);
    if (r == 0 && c->spec->encrypt) r = encrypt_publish(c);
    if (r == 0) build_note(c, "(+ SPDX and CycloneDX SBOMs, SLSA provenance)");
    return r;
}
