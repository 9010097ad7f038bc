#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ext/output.h"
#include "util/utf8.h"
#include "util/util.h"

/* A script test's whole output: every format at once, names and reasons always UTF-8. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ext_output o;
    ext_output_read((const char *)data, size, &o);
    for (size_t i = 0; i < o.n; i++) {
        const char *texts[] = {o.subtests[i].name, o.subtests[i].reason};
        for (size_t t = 0; t < 2; t++) {
            if (!texts[t]) continue;
            char *u = utf8_sanitize(texts[t], strlen(texts[t]), 0);
            if (!streq(u, texts[t])) abort();
            free(u);
        }
    }
    ext_output_free(&o);
    return 0;
}
