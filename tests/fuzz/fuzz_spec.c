#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/spec.h"
#include "util/yaml.h"

/* Any bytes as an image spec: a spec or file:line:col diagnostics, nothing else. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("spec.yml", 0);
    /* a harness that cannot set up must stop the run, not pass every input untested */
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct diags d = {0};
    struct image_spec *s = NULL;
    if (spec_load(path, NULL, &s, &d) == 0) spec_free(s);
    diags_free(&d);
    yfiles_free();
    close(fd);
    return 0;
}
