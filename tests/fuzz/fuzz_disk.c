#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/disk.h"
#include "image/gpt.h"
#include "util/util.h"

/* Any bytes as a disk image file: detection, reads, extents and the GPT reader must give an
 * answer or an error, never a crash or an out-of-bounds read. */
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
        if (gpt_read(d, &g, &p, &np, &gerr) == 0) free(p);
        free(gerr);
        disk_close(d);
    }
    free(err);
    close(fd);
    return 0;
}
