#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "trust/dsse.h"
#include "util/fs.h"
#include "util/util.h"

/* Any bytes as a .intoto.jsonl file: dsse_verify gives an answer or an error, never a crash or
 * an out-of-bounds read, whatever the JSON, base64, signatures or line breaks. The key pair is
 * made once; the seed is an envelope of the right shape whose keyid and signature are not this
 * key's. */
static char dir[] = "/tmp/kiln-fuzz-dsse-XXXXXX";
static char *pub;

static void cleanup(void) { rm_rf(dir); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pub) {
        char *err = NULL;
        if (!mkdtemp(dir) || atexit(cleanup)) abort();
        char *base = path_join(dir, "k");
        if (ms_keygen(base, NULL, &err) < 0) abort();
        pub = xasprintf("%s.pub", base);
        free(base);
    }
    char *err = NULL, *payload = NULL;
    size_t plen = 0;
    dsse_verify(pub, (const char *)data, size, "fuzz.intoto.jsonl", DSSE_INTOTO_TYPE, &payload, &plen, &err);
    free(payload);
    free(err);
    return 0;
}
