/* The YAML loader on its own: the event-driven tree builder (limits, anchors and aliases,
 * duplicate keys, document count) and the merge used for includes. Any bytes give a tree or
 * a diagnostic, within the loader's limits. */
#include <stddef.h>
#include <stdint.h>

#include "util/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diags d = {0};
    struct ynode *a = yaml_load_string("fuzz.yml", (const char *)data, size, &d);
    if (a) {
        /* merging a document with itself exercises every key lookup of the include merge */
        struct ynode *b = yaml_load_string("fuzz.yml", (const char *)data, size, &d);
        ynode_free(ynode_merge(a, b));
    }
    diags_free(&d);
    yfiles_free();
    return 0;
}
