/* `kiln build`: spec → rootfs (cached) → customized, generalized tree → ESP + root filesystem
 * images → GPT disk → raw / qcow2 / VHD / tar + manifest.json. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "image/spec.h"

struct build_opts {
    const char *out_dir;
    bool no_cache;      /* --refresh / --no-cache: rebuild the package tree even when a cached one matches */
    int only_output;    /* -1: the spec's outputs; else one enum image_output */
};

int image_build(const struct image_spec *s, const struct build_opts *o);

/* Internals shared by the build stages (src/image/build*.c, rootfs_*.c). */
struct build_ctx {
    const struct image_spec *spec;
    const struct build_opts *opts;
    char *work;       /* temp dir for this build */
    char *root;       /* work/root: the tree that becomes the root filesystem */
    int root_fd;      /* root, opened once the tree is there: every access goes through util/inroot */
    char *log_path;   /* work/build.log, copied next to the outputs on failure */
    int log_fd;
    long epoch;       /* SOURCE_DATE_EPOCH */
    int64_t started;  /* wall clock at the start, for the provenance */
    bool epoch_given; /* set by the user rather than defaulted to the build time */
    char *seed;       /* name, version, epoch: every derived id starts here */
    char *kver;       /* kernel version found in the tree */
    /* immutable layout */
    bool usr_moved;   /* root/usr lives in work/usr while the root filesystem is made */
    char usr_hash[65];
    uint64_t usr_bytes, verity_bytes; /* partition sizes, per slot */
    struct json_t *pm_removed; /* packages.package_manager: remove: the removed paths (manifest), else NULL */
    struct json_t *repos; /* the repository snapshot the package tree was built from (manifest), or NULL */
};

/* Runs argv with output appended to the build log; on failure returns -1 and prints the
 * command and the last lines of its output under the stage name. */
int build_run(struct build_ctx *c, const char *stage, char *const argv[]);
/* Prints "kiln build: STAGE: message" and returns -1. */
int build_error(struct build_ctx *c, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like build_run, in the tree: chroot ROOT argv... */
int build_chroot(struct build_ctx *c, const char *stage, char *const argv[]);

int rootfs_deb(struct build_ctx *c, const char *dest);
int rootfs_rpm(struct build_ctx *c, const char *dest);
/* The repositories the package manager reads for spec s, in the order it is given them: for
 * deb the mirror's suite, SUITE-updates and the host's SUITE-security (releases only), then
 * base.repos; for rpm base.repos with dnf's variables expanded. Returns how many (*out: free
 * with repo_srcs_free). */
struct repo_src;
size_t rootfs_deb_sources(const struct image_spec *s, struct repo_src **out);
size_t rootfs_rpm_sources(const struct image_spec *s, struct repo_src **out);
