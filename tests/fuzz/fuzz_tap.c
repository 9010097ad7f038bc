#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ext/tap.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_subtest *v, *w;
    size_t n, m;
    char *skip, *skip2;
    bool seen = tap_parse((const char *)data, size, &v, &n, &skip);
    /* the streaming path with odd chunking reads the same stream */
    struct tap_parser *p = tap_new();
    for (size_t i = 0; i < size; i += 7) tap_feed(p, (const char *)data + i, size - i < 7 ? size - i : 7);
    bool seen2 = tap_finish(p, &w, &m, &skip2);
    tap_free(p);
    if (seen != seen2 || n != m || !skip != !skip2) abort();
    for (size_t i = 0; i < n; i++)
        if (v[i].status != w[i].status || !streq(v[i].name, w[i].name)) abort();
    subtests_free(v, n);
    subtests_free(w, m);
    free(skip);
    free(skip2);
    return 0;
}
