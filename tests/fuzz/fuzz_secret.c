#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/secret.h"
#include "util/util.h"

/* Any text (a guest's output, a console line) written through the masking stream in any
 * chunking: no whole secret may come out, and secret_cut may never return a cut that a
 * secret straddles. Input: 1 byte secret length (1..32), the secret, 1 byte chunk seed, text.
 * Secrets holding '*' are left out: the mask itself would contain them. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t sl = (size_t)(data[0] % 32) + 1;
    if (size < 2 + sl) return 0;
    char secret[33];
    memcpy(secret, data + 1, sl);
    secret[sl] = 0;
    if (strlen(secret) != sl || strchr(secret, '*')) return 0;
    unsigned seed = data[1 + sl];
    const char *text = (const char *)data + 2 + sl;
    size_t len = size - 2 - sl;
    secret_add(secret);

    size_t cut = secret_cut(text, len, len / 2);
    if (cut > len / 2) abort();
    for (size_t st = cut >= sl ? cut - sl + 1 : 0; st < cut; st++)
        if (st + sl <= len && !memcmp(text + st, secret, sl)) abort();

    char *out = NULL;
    size_t outlen = 0;
    FILE *mem = open_memstream(&out, &outlen);
    FILE *w = secret_fwrap(mem);
    for (size_t off = 0; off < len;) {
        size_t n = MIN(len - off, (size_t)(seed % 17) + 1);
        seed = seed * 1103515245u + 12345u;
        fwrite(text + off, 1, n, w);
        fflush(w);
        off += n;
    }
    fclose(w);
    fclose(mem);
    if (memmem(out, outlen, secret, sl)) abort();
    free(out);
    secret_clear();
    return 0;
}
