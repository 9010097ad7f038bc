/* Sinks for the in-place filesystem readers (ext4_read.c, squashfs_read.c, erofs_read.c): where the bytes of a
 * file read out of an image go, a chunk at a time. Each returns 0 or a negative errno. */
#pragma once

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A buffer the reader sized beforehand to the file's size (+1 for a NUL). */
struct fs_mem {
    char *p;
    size_t n;
};

static inline int fs_sink_mem(void *ctx, const void *buf, size_t n)
{
    struct fs_mem *m = ctx;
    memcpy(m->p + m->n, buf, n);
    m->n += n;
    return 0;
}

/* ctx points at an open file descriptor; short writes and EINTR are retried. */
static inline int fs_sink_fd(void *ctx, const void *buf, size_t n)
{
    int fd = *(int *)ctx;
    for (const char *p = buf; n;) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w, n -= (size_t)w;
    }
    return 0;
}
