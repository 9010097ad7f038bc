/* The runbook loader end to end: YAML, includes (to files that do not exist), variables,
 * schema checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runbook/runbook.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/kiln-fuzz-%d.yml", (int)getpid());
    /* a harness that cannot set up must stop the run, not pass every input untested */
    if (write_file_atomic(path, (const char *)data, size, 0600) < 0) abort();
    struct diags d = {0};
    struct kiln_runbook *rb = NULL;
    if (runbook_load(path, NULL, 0, &rb, &d) == 0) runbook_free(rb);
    diags_free(&d);
    secret_clear();
    unlink(path);
    return 0;
}
