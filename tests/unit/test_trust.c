/* minisign-format signing: BLAKE2b vectors, round trips, and every kind of tampering refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/util.h"

static char dir[] = "/tmp/kiln-test-trust-XXXXXX";

static char *hex(const uint8_t *p, size_t n)
{
    char *s = xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

static void put(const char *name, const char *text)
{
    _cleanup_free_ char *p = path_join(dir, name);
    write_file_atomic(p, text, strlen(text), 0644);
}

static char *get(const char *name)
{
    _cleanup_free_ char *p = path_join(dir, name);
    char *t = NULL;
    size_t n;
    read_file(p, 1 << 20, &t, &n);
    return t;
}

/* replaces the first occurrence of a by b in file name */
static void edit(const char *name, const char *a, const char *b)
{
    char *t = get(name);
    char *at = t ? strstr(t, a) : NULL;
    if (at) {
        struct sbuf s = {0};
        sbuf_append(&s, t, (size_t)(at - t));
        sbuf_puts(&s, b);
        sbuf_puts(&s, at + strlen(a));
        put(name, s.s);
        sbuf_free(&s);
    }
    free(t);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    uint8_t out[64];
    blake2b(out, 64, "abc", 3);
    char *h = hex(out, 64);
    is_str(h, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc95"
              "18d38aa8dbf1925ab92386edd4009923", "BLAKE2b-512(\"abc\"), RFC 7693 appendix A");
    free(h);
    blake2b(out, 32, "", 0);
    h = hex(out, 32);
    is_str(h, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", "BLAKE2b-256 of the empty string");
    free(h);
    uint8_t big[300];
    for (int i = 0; i < 300; i++) big[i] = (uint8_t)i;
    uint8_t a[64], b[64];
    blake2b(a, 64, big, 300);
    blake2b(b, 64, big, 299);
    ok(memcmp(a, b, 64), "multi-block input: one byte less, another hash");

    _cleanup_free_ char *base = path_join(dir, "k");
    _cleanup_free_ char *base2 = path_join(dir, "other");
    _cleanup_free_ char *file = path_join(dir, "image.raw");
    _cleanup_free_ char *pub = path_join(dir, "k.pub");
    _cleanup_free_ char *key = path_join(dir, "k.key");
    _cleanup_free_ char *pub2 = path_join(dir, "other.pub");
    char *err = NULL, *tc = NULL;
    ok(ms_keygen(base, NULL, &err) == 0 && ms_keygen(base2, NULL, &err) == 0, "two unencrypted key pairs");
    ok(!ms_key_encrypted(key), "the key is unencrypted");
    put("image.raw", "disk image bytes\n");
    ok(ms_sign(key, NULL, file, "name:test\tversion:1.0", &err) == 0, "sign");
    ok(ms_verify(pub, file, NULL, &tc, &err) == 0, "verify");
    is_str(tc, "name:test\tversion:1.0", "trusted comment comes back");
    free(tc), tc = NULL;

    put("image.raw", "disk image bytez\n");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "image.raw does not match"), "flipped byte in the file: %s", err);
    free(err), err = NULL;
    put("image.raw", "disk image bytes\n");

    ok(ms_verify(pub2, file, NULL, NULL, &err) < 0 && strstr(err, "was made with key"), "another key: %s", err);
    free(err), err = NULL;

    char *sig = get("image.raw.minisig");
    edit("image.raw.minisig", "version:1.0", "version:9.9");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "trusted comment"), "edited trusted comment: %s", err);
    free(err), err = NULL;
    put("image.raw.minisig", sig);
    /* flip one character of the signature line (line 2) */
    char *nl = strchr(sig, '\n');
    char *flipped = xstrdup(sig);
    size_t pos = (size_t)(nl - sig) + 20;
    flipped[pos] = flipped[pos] == 'A' ? 'B' : 'A';
    put("image.raw.minisig", flipped);
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0, "flipped signature byte refused: %s", err ? err : "");
    free(err), err = NULL;
    free(flipped);
    /* truncated and garbage signatures */
    put("image.raw.minisig", "untrusted comment: x\nRUQ=\n");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0 && strstr(err, "not a valid minisign signature"), "truncated: %s", err);
    free(err), err = NULL;
    put("image.raw.minisig", "\x01\x02garbage");
    ok(ms_verify(pub, file, NULL, NULL, &err) < 0, "garbage signature refused");
    free(err), err = NULL;
    put("image.raw.minisig", sig);
    ok(ms_verify(pub, file, NULL, NULL, &err) == 0, "restored signature verifies again");
    free(sig);
    /* damaged keys */
    put("bad.pub", "untrusted comment: x\nRWQAAAA=\n");
    _cleanup_free_ char *badpub = path_join(dir, "bad.pub");
    ok(ms_verify(badpub, file, NULL, NULL, &err) < 0 && strstr(err, "truncated or damaged key"), "short public key: %s", err);
    free(err), err = NULL;
    char *k = get("k.key");
    char *kline = strchr(k, '\n') + 1;
    kline[120] = kline[120] == 'A' ? 'B' : 'A';
    put("k2.key", k);
    free(k);
    _cleanup_free_ char *k2 = path_join(dir, "k2.key");
    ok(ms_sign(k2, NULL, file, NULL, &err) < 0 && strstr(err, "damaged"), "damaged secret key refused: %s", err ? err : "");
    free(err), err = NULL;
    rm_rf(dir);
    return tap_done();
}
