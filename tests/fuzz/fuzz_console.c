/* Console line cleaning and matching against the shipped patterns. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/console.h"
#include "util/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kiln_patterns *p;
    if (!p) {
        struct diags d = {0};
        p = patterns_load(KILN_SOURCE_DATA_DIR "/console-patterns.yml", NULL, 0, &d);
        diags_free(&d);
        if (!p) abort();
    }
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = 0;
    console_clean_line(line);
    bool fatal;
    patterns_match(p, line, &fatal);
    free(line);
    return 0;
}
