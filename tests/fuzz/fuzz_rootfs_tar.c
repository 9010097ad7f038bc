#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/inspect.h"
#include "image/rootfs_tar.h"
#include "util/fs.h"

/* Any bytes as a root filesystem archive (tar, zstd or not) for kiln sbom's and kiln inspect's
 * reader: the items found or an error, never a crash, a hang, memory or time beyond the limits,
 * or a file outside the destination; the destination and TMPDIR are empty afterwards. */
static char dir[] = "/tmp/kiln-fuzz-rootfs-tar-XXXXXX";

static void cleanup(void) { rm_rf(dir); }

static void expect_empty(const char *d)
{
    DIR *h = opendir(d);
    if (!h) abort();
    for (struct dirent *e; (e = readdir(h));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) abort();
    closedir(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static char tmpdir[64], dest[64];
    if (!ready) {
        if (!mkdtemp(dir) || atexit(cleanup)) abort();
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
        snprintf(dest, sizeof dest, "%s/dest", dir);
        if (mkdir_p(tmpdir, 0700) < 0 || setenv("TMPDIR", tmpdir, 1) < 0) abort();
        ready = true;
    }
    int fd = memfd_create("archive", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (mkdir_p(dest, 0700) < 0) abort();
    static const char *const items[] = {"/var/lib/dpkg/status", "/usr/lib/os-release", "/etc/os-release",
                                        "/usr/lib/sysimage/rpm/rpmdb.sqlite"};
    /* small limits: each input costs little, and every limit is reachable */
    struct rootfs_tar_limits lim = {.entries = 512, .bytes = 4 << 20, .path = 4096, .file = 64 << 10, .copied = 256 << 10};
    struct rootfs_tar_info info;
    char *err = NULL;
    int r = rootfs_tar_extract(path, items, 4, dest, &lim, &info, &err);
    if (r < 0 && !err) abort();
    if (r > 4 || (r >= 0 && info.expanded > lim.bytes + (1 << 20))) abort();
    free(err);
    rm_rf(dest);
    /* kiln inspect's path: it cleans up its own temporary directory */
    json_t *j = NULL;
    err = NULL;
    if (image_inspect(path, &j, &err) == 0) json_decref(j);
    free(err);
    close(fd);
    expect_empty(tmpdir);
    return 0;
}
