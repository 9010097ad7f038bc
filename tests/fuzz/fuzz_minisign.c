#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust/minisign.h"
#include "util/fs.h"
#include "util/util.h"

/* Any bytes as minisign files: the input is a public key, a signature and a secret key joined by
 * NUL bytes. Parsing, key ids, verification and signing with an unencrypted key must give an
 * answer or an error, never a crash or an out-of-bounds read. (Encrypted keys are not unlocked:
 * scrypt's cost is the key file's to choose, capped by minisign.c, and would only slow the
 * fuzzer down.) */
static char dir[] = "/tmp/kiln-fuzz-minisign-XXXXXX";
static char *pub, *file, *sig, *sec, *file2;

static void cleanup(void) { rm_rf(dir); }

static void put(const char *path, const uint8_t *data, size_t n)
{
    if (write_file_atomic(path, (const char *)data, n, 0600) < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pub) {
        if (!mkdtemp(dir) || atexit(cleanup)) abort();
        pub = path_join(dir, "k.pub"), sec = path_join(dir, "k.key");
        file = path_join(dir, "f"), sig = path_join(dir, "f.minisig"), file2 = path_join(dir, "g");
        put(file, (const uint8_t *)"data\n", 5);
    }
    const uint8_t *part[3] = {data, data, data};
    size_t len[3] = {size, 0, 0};
    for (int k = 1; k < 3; k++) {
        const uint8_t *z = memchr(part[k - 1], 0, len[k - 1]);
        if (!z) break;
        part[k] = z + 1;
        len[k] = len[k - 1] - (size_t)(part[k] - part[k - 1]);
        len[k - 1] = (size_t)(z - part[k - 1]);
    }
    put(pub, part[0], len[0]);
    put(sig, part[1], len[1]);
    put(sec, part[2], len[2]);
    put(file2, (const uint8_t *)"other\n", 6);
    char id[17], *err = NULL, *tc = NULL;
    ms_key_id(pub, id, &err);
    free(err), err = NULL;
    ms_sig_key_id(file, id, &err);
    free(err), err = NULL;
    const char *keys[] = {pub};
    ms_check_signer(keys, 1, file, id, &err);
    free(err), err = NULL;
    ms_verify(pub, file, NULL, &tc, &err);
    free(tc), free(err), err = NULL, tc = NULL;
    ms_key_encrypted(sec);
    ms_sign(sec, NULL, file2, NULL, &err);
    free(err), err = NULL;
    ms_verify(pub, file2, NULL, &tc, &err);
    free(tc), free(err);
    return 0;
}
