/* The outputs stage: the disk in each format the spec asks for, the rootfs archive, the
 * direct-boot kernel and initrd, the immutable layout's update payload, all staged in
 * OUT/.kiln-build-PID and listed in the manifest's "artifacts" with size and sha256. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "image/build_int.h"
#include "image/disk.h"
#include "image/rootfs_tar.h"
#include "model/artifact.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/parallel.h"
#include "util/proc.h"
#include "util/progress.h"
#include "util/timeutil.h"
#include "util/util.h"

static bool wanted(struct build_ctx *c, enum image_output o)
{
    return c->opts->only_output < 0 ? c->spec->outputs[o] : c->opts->only_output == (int)o;
}

/* One file of the stage as it is written: live progress with its bytes (at most ten a second),
 * then a step line with its size and time. */
struct piece {
    struct build_ctx *c;
    const char *name;
    double t0, shown;
    uint64_t data; /* the bytes of data the live line counted to (a disk's, holes not counted) */
};

static void piece_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct piece *p = ctx;
    double now = now_s();
    p->data = total;
    if (done < total && now - p->shown < 0.1) return;
    p->shown = now;
    _cleanup_free_ char *t = xasprintf("writing %s", p->name);
    build_progress(p->c, false, t, done, total, now - p->t0);
}

static void piece_done(struct piece *p, const char *path, const char *verb)
{
    struct stat st;
    char size[32] = "?";
    if (stat(path, &st) == 0) human_bytes((uint64_t)st.st_size, size, sizeof size);
    /* the live line counted the disk's data read, the file has its own size (zeros left out of a
     * qcow2, a fixed VHD the whole disk): both are said, so the two do not seem to disagree */
    char data[32] = "";
    if (p->data) human_bytes(p->data, data, sizeof data);
    _cleanup_free_ char *t = xasprintf("%s %s (%s%s%s%s) in %.1f s", verb, p->name, size, p->data ? " file, " : "",
                                       data, p->data ? " read" : "", now_s() - p->t0);
    build_progress(p->c, true, t, 0, 0, 0);
}

/* The disk in the other formats (kiln's writers, image/disk.h), each with its own id derived
 * from the seed; the raw disk itself last, moved rather than copied. made gets " NAME" each. */
static int output_disks(struct build_ctx *c, struct sbuf *made)
{
    static const struct { enum image_output o; enum disk_format f; } disks[] = {
        {OUT_QCOW2, DISK_QCOW2}, {OUT_VHD_FIXED, DISK_VHD_FIXED}, {OUT_VHD, DISK_VHD_DYNAMIC}};
    _cleanup_free_ char *raw = path_join(c->work, "disk.raw");
    bool any = false;
    for (int o = 0; o < OUT_COUNT; o++) any |= o != OUT_TAR && wanted(c, o);
    if (!any) return 0; /* a rootfs archive alone: no disk was made */
    struct disk *d = NULL;
    char *err = NULL;
    int r = disk_open(raw, &d, &err);
    for (size_t i = 0; i < ARRAY_SIZE(disks) && r == 0; i++) {
        if (!wanted(c, disks[i].o)) continue;
        _cleanup_free_ char *name = xasprintf("%s%s", c->base, kiln_artifacts[disks[i].o].suffix);
        _cleanup_free_ char *dst = path_join(c->stage_dir, name);
        struct piece pc = {.c = c, .name = name, .t0 = now_s()};
        struct disk_write_opts wo = {.unix_time = (uint32_t)c->epoch, .progress = piece_progress, .progress_ctx = &pc};
        struct guid g;
        guid_derive(c->seed, name, &g);
        memcpy(wo.id, g.b, 16);
        r = disk_convert(d, dst, disks[i].f, &wo, &err);
        if (r == 0) sbuf_printf(made, " %s", spec_output_name(disks[i].o));
        if (r == 0) piece_done(&pc, dst, "wrote");
    }
    if (d) disk_close(d);
    if (r < 0) {
        /* interrupted: the partial file and the rest of the build are removed, nothing is kept */
        if (r == -EINTR) build_interrupted(c, "outputs");
        else build_error(c, "outputs", "%s", err);
        free(err);
        return r == -EINTR ? r : -EIO;
    }
    if (!wanted(c, OUT_RAW)) return 0;
    _cleanup_free_ char *dst = xasprintf("%s/%s%s", c->stage_dir, c->base, kiln_artifacts[ARTIFACT_RAW].suffix);
    struct piece pc = {.c = c, .name = strrchr(dst, '/') + 1, .t0 = now_s()};
    if (rename(raw, dst) < 0) return build_error(c, "outputs", "cannot move %s: %s", raw, strerror(errno));
    sbuf_puts(made, " raw");
    piece_done(&pc, dst, "moved");
    return 0;
}

/* The tree as NAME-VERSION.tar.zst (image/rootfs_tar.h: sorted, numeric owners, xattrs and ACLs,
 * mtimes clamped to the epoch). With wsl: true it carries /etc/wsl.conf (WSL's per-distribution
 * settings: systemd as init, the first os.users entry as the default user) and an /etc/fstab
 * without the disk's PARTUUID mounts, which do not exist in a WSL distribution. */
static int output_rootfs_tar(struct build_ctx *c)
{
    const struct image_spec *s = c->spec;
    _cleanup_free_ char *dst = xasprintf("%s/%s%s", c->stage_dir, c->base, kiln_artifacts[ARTIFACT_TAR].suffix);
    struct sbuf conf = {0};
    sbuf_puts(&conf, "# made by kiln build (wsl: true)\n[boot]\nsystemd=true\n");
    if (s->nusers) sbuf_printf(&conf, "\n[user]\ndefault=%s\n", s->users[0].name);
    static const char fstab[] = "# made by kiln build (wsl: true): WSL mounts the root; the disk image's partitions do not exist here\n";
    const struct rootfs_tar_file wsl[] = {{"etc/fstab", fstab, strlen(fstab), 0644}, {"etc/wsl.conf", conf.s, conf.len, 0644}};
    char *err = NULL;
    struct piece pc = {.c = c, .name = strrchr(dst, '/') + 1, .t0 = now_s()};
    piece_progress(&pc, 0, 0);
    int r = rootfs_tar_write(c->root, dst, c->epoch, wsl, s->wsl ? ARRAY_SIZE(wsl) : 0, &err);
    if (r == 0) piece_done(&pc, dst, "wrote");
    sbuf_free(&conf);
    if (r == -EINTR) build_interrupted(c, "outputs");
    else if (r < 0) r = build_error(c, "outputs", "the rootfs archive: %s", err);
    free(err);
    return r;
}

/* Every output is 0644, as the disks and the archive are: dracut makes the initrd 0600 (its
 * umask 077, in case a host put keys in it; kiln puts none: a sealed key stays in the TPM) and
 * the hash tree was made 0600, but both are published beside the kernel (a gallery, the update
 * payload), so a private mode here protects nothing and only makes the outputs differ. */
static int output_mode(struct build_ctx *c, const char *path)
{
    if (chmod(path, 0644) < 0) return build_error(c, "outputs", "cannot chmod 0644 %s: %s", path, strerror(errno));
    return 0;
}

/* The kernel and initrd for direct boot, always (the kernel the ESP holds: signed when the spec
 * signs); for the immutable layout also slot A's /usr image and its hash tree, which with them
 * make the update payload (update.json ties them together). */
static int output_boot_files(struct build_ctx *c)
{
    if (!c->kver) return 0; /* a rootfs archive alone, from a tree without a kernel */
    _cleanup_free_ char *irel = tree_initrd(c);
    _cleanup_free_ char *krel = xasprintf("boot/vmlinuz-%s", c->kver);
    const struct { const char *src_rel, *suffix; } kfiles[] = {{krel, kiln_artifacts[ARTIFACT_KERNEL].suffix},
                                                          {irel, kiln_artifacts[ARTIFACT_INITRD].suffix}};
    int r;
    for (size_t i = 0; i < ARRAY_SIZE(kfiles); i++) {
        _cleanup_free_ char *src = i == 0 && c->spec->sb_key ? path_join(c->work, "linux.signed.efi")
                                   : kfiles[i].src_rel ? tree_path(c, kfiles[i].src_rel) : NULL;
        if (!src) return build_error(c, "outputs", "the kernel or initrd for %s is gone from /boot", c->kver);
        _cleanup_free_ char *dst = xasprintf("%s/%s%s", c->stage_dir, c->base, kfiles[i].suffix);
        char *cp[] = {"cp", "--preserve=timestamps", src, dst, NULL};
        if ((r = build_run(c, "outputs", cp)) < 0 || (r = output_mode(c, dst)) < 0) return r;
    }
    if (c->spec->layout != LAYOUT_IMMUTABLE) return 0;
    const char *parts[][2] = {{"usr.img", kiln_artifacts[ARTIFACT_USR].suffix},
                              {"usr.verity", kiln_artifacts[ARTIFACT_USR_VERITY].suffix}};
    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
        _cleanup_free_ char *src = path_join(c->work, parts[i][0]);
        _cleanup_free_ char *dst = xasprintf("%s/%s%s", c->stage_dir, c->base, parts[i][1]);
        char *mv[] = {"mv", src, dst, NULL};
        if ((r = build_run(c, "outputs", mv)) < 0 || (r = output_mode(c, dst)) < 0) return r;
    }
    return 0;
}

/* The manifest's kind of an artifact, from its name's ending (every file staged here has a row). */
static const char *artifact_kind(const char *name)
{
    const struct kiln_artifact *k = artifact_by_file(name);
    return k ? k->name : "?";
}

struct hash_job {
    const char *dir;
    char **names;
    char (*hex)[65];
    uint64_t *size;
    int *rc;
    /* progress: the bytes hashed of all the files together, from both threads */
    struct build_ctx *c;
    pthread_mutex_t lock;
    uint64_t *seen, done, total;
    double t0, shown;
    char *text;
};

struct hash_file {
    struct hash_job *j;
    size_t i;
};

/* Reports the bytes hashed; false (stop hashing) once the build is interrupted. */
static bool hash_progress(uint64_t done, void *ctx)
{
    struct hash_file *f = ctx;
    struct hash_job *j = f->j;
    pthread_mutex_lock(&j->lock);
    j->done += done - j->seen[f->i];
    j->seen[f->i] = done;
    double now = now_s();
    if (now - j->shown >= 0.1) {
        j->shown = now;
        build_progress(j->c, false, j->text, j->done, j->total, now - j->t0);
    }
    pthread_mutex_unlock(&j->lock);
    return !kiln_interrupted;
}

static void hash_one(size_t i, void *arg)
{
    struct hash_job *j = arg;
    _cleanup_free_ char *p = path_join(j->dir, j->names[i]);
    struct hash_file f = {j, i};
    j->rc[i] = kiln_interrupted ? -ECANCELED : sha256_file_hex_progress(p, j->hex[i], &j->size[i], hash_progress, &f);
}

/* Hashes every file of job, two at a time, reporting the bytes of all together. */
static void hash_all(struct build_ctx *c, struct hash_job *job, size_t nn)
{
    job->c = c;
    job->seen = xcalloc(nn ? nn : 1, sizeof *job->seen);
    for (size_t i = 0; i < nn; i++) {
        struct stat st;
        _cleanup_free_ char *p = path_join(job->dir, job->names[i]);
        if (stat(p, &st) == 0) job->total += (uint64_t)st.st_size;
    }
    char size[32];
    human_bytes(job->total, size, sizeof size);
    job->text = xasprintf("sha256 of %zu files", nn);
    pthread_mutex_init(&job->lock, NULL);
    job->t0 = now_s();
    parallel_for(nn, 2, hash_one, job);
    pthread_mutex_destroy(&job->lock);
    if (kiln_interrupted) {
        free(job->text);
        free(job->seen);
        return;
    }
    _cleanup_free_ char *t = xasprintf("%s (%s) in %.1f s", job->text, size, now_s() - job->t0);
    build_progress(c, true, t, 0, 0, 0);
    free(job->text);
    free(job->seen);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Size and sha256 of everything staged, by name, into arts. Two at a time: the build host has
 * more than one core and the images are gigabytes of mostly zeros. */
static int list_artifacts(struct build_ctx *c, json_t *arts)
{
    DIR *dir = opendir(c->stage_dir);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    while (dir && (de = readdir(dir)))
        if (de->d_name[0] != '.') *APPEND(names, nn, cap) = xstrdup(de->d_name);
    if (dir) closedir(dir);
    qsort(names, nn, sizeof *names, cmp_names);
    struct hash_job job = {.dir = c->stage_dir, .names = names};
    job.hex = xcalloc(nn ? nn : 1, sizeof *job.hex);
    job.size = xcalloc(nn ? nn : 1, sizeof *job.size);
    job.rc = xcalloc(nn ? nn : 1, sizeof *job.rc);
    hash_all(c, &job, nn);
    int r = kiln_interrupted ? build_interrupted(c, "outputs") : 0;
    for (size_t i = 0; i < nn; i++) {
        if (job.rc[i] < 0 && r == 0) r = build_error(c, "outputs", "cannot read %s/%s", c->stage_dir, names[i]);
        json_array_append_new(arts, json_pack("{s:s, s:s, s:I, s:s}", "file", names[i], "kind", artifact_kind(names[i]),
                                              "size", (json_int_t)job.size[i], "sha256", job.hex[i]));
        free(names[i]);
    }
    free(names);
    free(job.hex);
    free(job.size);
    free(job.rc);
    return r;
}

/* The artifact of this kind in the manifest's list, as {file, size, sha256}. */
static json_t *artifact_ref(json_t *arts, const char *kind)
{
    size_t i;
    json_t *a;
    json_array_foreach(arts, i, a) if (streq(json_string_value(json_object_get(a, "kind")), kind))
        return json_pack("{s:O, s:O, s:O}", "file", json_object_get(a, "file"), "size", json_object_get(a, "size"),
                         "sha256", json_object_get(a, "sha256"));
    return NULL;
}

/* NAME-VERSION.update.json: what an updater needs to move a machine to this version (format in
 * docs/updates.md). Signed like every artifact, it vouches for the others through their sha256. */
static int write_update_manifest(struct build_ctx *c, json_t *arts)
{
    json_t *usr = artifact_ref(arts, "usr"), *ver = artifact_ref(arts, "usr-verity");
    json_t *kernel = artifact_ref(arts, "kernel"), *initrd = artifact_ref(arts, "initrd");
    if (!usr || !ver || !kernel || !initrd) {
        json_decref(usr), json_decref(ver), json_decref(kernel), json_decref(initrd);
        return build_error(c, "outputs", "the update payload is incomplete (/usr image, hash tree, kernel, initrd)");
    }
    json_object_set_new(usr, "filesystem", json_string(c->spec->usr_filesystem));
    json_object_set_new(ver, "root_hash", json_string(c->usr_hash));
    json_object_set_new(ver, "hash_algorithm", json_string("sha256"));
    json_object_set_new(ver, "data_block_size", json_integer(4096));
    json_object_set_new(ver, "hash_block_size", json_integer(4096));
    json_object_set_new(kernel, "version", json_string(c->kver));
    json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "format", "kiln-update/1", "name", c->spec->name,
                          "version", c->spec->version, "arch", c->spec->arch->name, "usr", usr, "verity", ver,
                          "kernel", kernel, "initrd", initrd);
    _cleanup_free_ char *name = xasprintf("%s.update.json", c->base);
    _cleanup_free_ char *path = path_join(c->stage_dir, name);
    int r = json_write_file(path, u);
    json_decref(u);
    char hex[65];
    uint64_t size = 0;
    if (r < 0 || sha256_file_hex(path, hex, &size) < 0) return build_error(c, "outputs", "cannot write %s", path);
    json_array_append_new(arts, json_pack("{s:s, s:s, s:I, s:s}", "file", name, "kind", "update", "size", (json_int_t)size,
                                          "sha256", hex));
    return 0;
}

static void *tree_rm_main(void *arg)
{
    rm_rf(arg);
    return NULL;
}

/* The tree is no output's any more (the disks and the archive are written, the manifest has
 * read what it needs of it): a thread removes it while the outputs are hashed, a second or so
 * of a rebuild's unlinks on the other core; build_teardown joins it. */
static void tree_release(struct build_ctx *c)
{
    manifest_read_tree(c);
    if (c->root_fd >= 0) close(c->root_fd);
    c->root_fd = -1;
    c->tree_rm_running = pthread_create(&c->tree_rm, NULL, tree_rm_main, c->root) == 0;
}

int stage_outputs(struct build_ctx *c)
{
    bool immutable = c->spec->layout == LAYOUT_IMMUTABLE;
    json_t *arts = json_array();
    json_object_set_new(c->manifest, "artifacts", arts);
    /* the packages are listed first, as kiln always has: rpm -qa rewrites the database's
     * rpmdb.sqlite-shm in the tree, which the rootfs archive holds */
    int r = manifest_packages(c);
    if (r < 0) return r;
    struct sbuf made = {0};
    r = output_disks(c, &made);
    if (r == 0 && wanted(c, OUT_TAR) && (r = output_rootfs_tar(c)) == 0) sbuf_puts(&made, " tar");
    if (r == 0) r = output_boot_files(c);
    if (r == 0) tree_release(c);
    proc_test_pause("build-hash");
    if (r == 0) r = list_artifacts(c, arts);
    if (r == 0 && immutable) r = write_update_manifest(c, arts);
    if (r == 0)
        build_note(c, "(%s%s%s)", made.s ? made.s + 1 : "no disk", c->kver ? " + kernel, initrd" : ", no kernel",
                   immutable ? ", update payload" : "");
    sbuf_free(&made);
    return r;
}
