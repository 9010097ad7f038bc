#include <stddef.h>
#include <stdint.h>

#include "ext/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_subtest *v;
    size_t n;
    tap_parse((const char *)data, size, &v, &n);
    subtests_free(v, n);
    /* the streaming path with odd chunking must agree on not crashing */
    struct tap_parser *p = tap_new();
    for (size_t i = 0; i < size; i += 7) tap_feed(p, (const char *)data + i, size - i < 7 ? size - i : 7);
    tap_finish(p, &v, &n);
    tap_free(p);
    subtests_free(v, n);
    return 0;
}
