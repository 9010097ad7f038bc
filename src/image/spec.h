/* The image spec: what `kiln build` makes, parsed from YAML with file:line:col diagnostics. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/yaml.h"

enum image_family { FAMILY_DEB, FAMILY_RPM };
enum image_layout { LAYOUT_STANDARD, LAYOUT_IMMUTABLE };
enum image_output { OUT_RAW, OUT_QCOW2, OUT_VHD_FIXED, OUT_VHD, OUT_TAR, OUT_COUNT };

struct image_repo {
    char *name, *baseurl, *gpgkey; /* gpgkey: a file (resolved against the spec) */
};

struct image_user {
    char *name;
    char **groups, **ssh_keys;
    size_t ngroups, nssh_keys;
};

struct image_file {
    char *src, *dst; /* src resolved against the spec's directory */
    unsigned mode;
};

struct image_kv {
    char *key, *value;
};

struct image_spec {
    char *path, *name, *version;
    enum image_family family;
    char *suite, *mirror, *releasever;
    char **components;
    size_t ncomponents;
    struct image_repo *repos;
    size_t nrepos;
    char **install, **remove;
    size_t ninstall, nremove;
    char *hostname;
    struct image_user *users;
    size_t nusers;
    struct image_file *files;
    size_t nfiles;
    char **enable, **disable, **mask;
    size_t nenable, ndisable, nmask;
    struct image_kv *sysctl;
    size_t nsysctl;
    char *kernel_cmdline;
    bool regenerate_ssh_host_keys, reset_machine_id, grow_root;
    enum image_layout layout;
    uint64_t size;
    char *filesystem;     /* root: ext4 | xfs */
    char *usr_filesystem; /* immutable usr: erofs | squashfs */
    bool outputs[OUT_COUNT];
};

int spec_load(const char *path, struct image_spec **out, struct diags *d);
void spec_free(struct image_spec *s);
/* "2G", "512M", "1.5G", "4096" (bytes) → bytes; false on garbage. */
bool spec_parse_size(const char *s, uint64_t *out);
const char *spec_output_name(enum image_output o);
