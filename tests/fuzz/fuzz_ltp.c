#include <stddef.h>
#include <stdint.h>

#include "ext/ltp.h"
#include "ext/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_subtest *v;
    size_t n;
    ltp_parse((const char *)data, size, &v, &n);
    subtests_free(v, n);
    ltp_kirk_parse((const char *)data, size, &v, &n); /* kirk's JSON report */
    subtests_free(v, n);
    return 0;
}
