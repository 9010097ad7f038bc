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

#include "image/ext4.h"
#include "image/inspect.h"

/* Any bytes as a disk image for kiln inspect (format, partitions, filesystem signatures, the
 * ext4 read in place, the copy of a squashfs or erofs /usr to TMPDIR), as an ext4 filesystem
 * for the build's inode time rewrite, and as os-release text: an answer or an error, never a
 * crash, a hang or a file left in TMPDIR. */
static char dir[] = "/tmp/kiln-fuzz-inspect-XXXXXX";

static void cleanup(void) { rmdir(dir); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (!mkdtemp(dir) || setenv("TMPDIR", dir, 1) < 0 || atexit(cleanup)) abort();
        ready = true;
    }
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = 0;
    json_decref(os_release_parse(text));
    free(text);
    int fd = memfd_create("image", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    json_t *j = NULL;
    char *err = NULL;
    if (image_inspect(path, &j, &err) == 0) json_decref(j);
    free(err), err = NULL;
    ext4_clamp_times(path, 0, 1700000000, &err);
    free(err);
    close(fd);
    /* what inspect unpacked is gone, whatever happened */
    DIR *d = opendir(dir);
    if (!d) abort();
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) abort();
    closedir(d);
    return 0;
}
