#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gallery/catalog.h"
#include "util/util.h"

/* Any bytes as a gallery index, an entry and an index file name: a checked catalog or an
 * error, never a crash, an out-of-bounds read or a leak. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    char *err = NULL;
    if (catalog_parse_index((const char *)data, size, &j, &err) == 0) {
        char *again = catalog_dump(j);
        json_t *k = NULL;
        /* what kiln writes back must parse the same */
        if (!again || catalog_parse_index(again, strlen(again), &k, &err) < 0 || !json_equal(j, k)) abort();
        free(again);
        json_decref(k);
    }
    json_decref(j);
    j = NULL;
    if (catalog_parse_entry((const char *)data, size, &j, &err) == 0) json_decref(j);
    free(err);
    char *name = xstrndup((const char *)data, size < 64 ? size : 64);
    uint64_t serial;
    if (catalog_index_serial(name, &serial)) {
        char *canon = catalog_index_name(serial);
        if (strcmp(canon, name)) abort();
        free(canon);
    }
    free(name);
    return 0;
}
