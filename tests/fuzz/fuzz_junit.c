#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ext/junit.h"
#include "ext/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_subtest *v;
    size_t n;
    struct junit_span *spans;
    size_t k = junit_read((const char *)data, size, &v, &n, &spans);
    /* reports lie in the text, in order, without overlapping */
    for (size_t i = 0; i < k; i++)
        if (spans[i].start >= spans[i].end || spans[i].end > size || (i && spans[i].start < spans[i - 1].end)) abort();
    free(spans);
    subtests_free(v, n);
    return 0;
}
