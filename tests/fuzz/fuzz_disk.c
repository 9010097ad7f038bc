#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/disk.h"
#include "image/ext4.h"
#include "image/gpt.h"
#include "util/util.h"

/* An ext4 at [off, off+len) read in place as kiln inspect and kiln sbom do (libext2fs over the
 * disk reader): the files they look for, read and copied, and a link loop's worth of lookups. */
static void ext4_files(struct disk *d, uint64_t off, uint64_t len)
{
    static const char *const paths[] = {"/usr/lib/os-release", "/etc/os-release", "/var/lib/dpkg/status",
                                        "/usr/share/doc/a/copyright", "/var/lib/rpm/rpmdb.sqlite"};
    struct ext4_ro *e;
    char *err = NULL;
    if (ext4_ro_open(d, off, len, 64 << 20, &e, &err) == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
            char *text = NULL;
            uint64_t size;
            if (ext4_ro_read(e, paths[i], 65536, &text, NULL) == 0) free(text);
            ext4_ro_copy(e, paths[i], null, 1 << 20, &size);
        }
        close(null);
        ext4_ro_close(e);
    }
    free(err);
}

/* Any bytes as a disk image file: detection, reads, extents, the GPT reader and the ext4 reader
 * (on the whole disk and on each partition) must give an answer or an error, never a crash, a
 * hang or an out-of-bounds read. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("disk", 0);
    /* a harness that cannot set up must stop the run, not pass every input untested */
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct disk *d;
    char *err = NULL;
    if (disk_open(path, &d, &err) == 0) {
        uint8_t buf[4096];
        uint64_t off = 0, s, e;
        for (int i = 0; i < 64 && disk_next_data(d, off, &s, &e) == 1 && e > off; i++) {
            size_t n = (size_t)MIN((uint64_t)sizeof buf, e - s);
            disk_pread(d, buf, n, s);
            off = e;
        }
        disk_pread(d, buf, (size_t)MIN((uint64_t)sizeof buf, disk_size(d)), 0);
        struct guid g;
        struct gpt_part *p = NULL;
        size_t np = 0;
        char *gerr = NULL;
        ext4_files(d, 0, disk_size(d));
        if (gpt_read(d, &g, &p, &np, &gerr) == 0) {
            for (size_t i = 0; i < np; i++)
                ext4_files(d, p[i].first_lba * 512, (p[i].last_lba - p[i].first_lba + 1) * 512);
            free(p);
        }
        free(gerr);
        disk_close(d);
    }
    free(err);
    close(fd);
    return 0;
}
