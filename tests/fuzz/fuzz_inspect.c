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

#include "image/disk.h"
#include "image/erofs.h"
#include "image/ext4.h"
#include "image/inspect.h"
#include "image/squashfs.h"

/* Any bytes as a disk image for kiln inspect (format, partitions, filesystem signatures, ext4
 * and a squashfs or erofs /usr read in place), as a squashfs /usr and as an erofs /usr read in
 * place (its os-release and a file behind links), as an ext4 filesystem for the build's
 * inode time rewrite, and as os-release text: an answer or an error, never a crash, a hang or a
 * file left in TMPDIR. */
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
    struct disk *disk;
    if (disk_open(path, &disk, &err) == 0) {
        struct squash_ro *s;
        char *why = NULL, *t = NULL;
        if (squash_ro_open(disk, 0, disk_size(disk), "/usr", 64 << 20, &s, &why) == 0) {
            if (squash_ro_read(s, "/usr/lib/os-release", 64 << 10, &t, NULL) == 0) free(t), t = NULL;
            if (squash_ro_read(s, "/usr/share/doc/a/copyright", 64 << 10, &t, NULL) == 0) free(t);
            squash_ro_close(s);
        }
        free(why), why = NULL;
        struct erofs_ro *e;
        if (erofs_ro_open(disk, 0, disk_size(disk), "/usr", 64 << 20, &e, &why) == 0) {
            if (erofs_ro_read(e, "/usr/lib/os-release", 64 << 10, &t, NULL) == 0) free(t), t = NULL;
            if (erofs_ro_read(e, "/usr/share/doc/a/copyright", 64 << 10, &t, NULL) == 0) free(t), t = NULL;
            erofs_ro_close(e);
        }
        free(why);
        disk_close(disk);
    }
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
