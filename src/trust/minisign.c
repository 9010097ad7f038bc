/* minisign-format keys and signatures. Layouts (all binary fields base64 on one line):
 *   public key:  "Ed" | key id (8) | Ed25519 public key (32)
 *   secret key:  "Ed" | kdf "Sc" or 0,0 | "B2" | salt (32) | opslimit (8, LE) | memlimit (8, LE) |
 *                [key id (8) | seed (32) + public key (32) | BLAKE2b-256 checksum (32)]
 *                the bracket XORed with scrypt(passphrase) when kdf is "Sc"
 *   signature:   "ED" | key id | Ed25519(BLAKE2b-512(file)); then the trusted comment line and
 *                Ed25519(signature || trusted comment), the global signature.
 * The primitives are libsodium's, as minisign's own: crypto_generichash (BLAKE2b),
 * crypto_sign (Ed25519) and crypto_pwhash_scryptsalsa208sha256. */
#include "trust/minisign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "util/endian.h"
#include "util/fs.h"
#include "util/util.h"

/* base64 with strict checks (no whitespace inside, padding only at the end) */
static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
    static const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    if (n % 4) return -EINVAL;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char ch = s[i + k];
            const char *q = ch ? strchr(A, ch) : NULL;
            if (ch == '=' && i + 4 == n && k >= 2) pad++, v <<= 6;
            else if (q && !pad) v = v << 6 | (uint32_t)(q - A);
            else return -EINVAL;
        }
        for (int k = 0; k < 3 - pad; k++) {
            if (o >= cap) return -EINVAL;
            out[o++] = (uint8_t)(v >> (16 - 8 * k));
        }
    }
    *outlen = o;
    return 0;
}

enum { PK_LEN = 42, SK_LEN = 158, SIG_LEN = 74, KEYNUM_SK = 104 };

/* Reads a two-line file: "untrusted comment: ..." then one base64 line. */
static int read_b64_file(const char *path, uint8_t *out, size_t want, char **reterr)
{
    char *text = NULL;
    size_t len;
    int r = read_file(path, MS_SIG_MAX, &text, &len);
    if (r < 0) {
        *reterr = fs_open_error(path, r, "pass the key or signature file kiln keygen or kiln sign wrote");
        return r;
    }
    char *nl = strchr(text, '\n');
    if (!startswith(text, "untrusted comment:") || !nl) {
        free(text);
        return err_setf(reterr, -EINVAL, "%s is not a minisign key file (no \"untrusted comment:\" line)", path);
    }
    char *line = nl + 1;
    line[strcspn(line, "\r\n")] = 0;
    size_t got;
    r = b64_decode(line, out, want, &got);
    free(text);
    if (r < 0 || got != want) {
        return err_setf(reterr, -EINVAL, "%s: the key line is not %zu bytes of base64 (truncated or damaged key)", path, want);
    }
    return 0;
}

static void key_id_hex(const uint8_t id[8], char out[17])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | id[i];
    snprintf(out, 17, "%016llX", (unsigned long long)v);
}

/* libsodium's scrypt parameter choice for an opslimit/memlimit pair (what minisign stores). */
static void scrypt_params(uint64_t ops, uint64_t mem, uint64_t *N, uint32_t *r, uint32_t *p)
{
    if (ops < 32768) ops = 32768;
    *r = 8;
    unsigned nlog;
    if (ops < mem / 32) {
        *p = 1;
        uint64_t maxn = ops / (*r * 4);
        for (nlog = 1; nlog < 63; nlog++)
            if ((1ull << nlog) > maxn / 2) break;
    } else {
        uint64_t maxn = mem / (*r * 128);
        for (nlog = 1; nlog < 63; nlog++)
            if ((1ull << nlog) > maxn / 2) break;
        uint64_t maxrp = (ops / 4) / (1ull << nlog);
        if (maxrp > 0x3fffffff) maxrp = 0x3fffffff;
        *p = (uint32_t)(maxrp / *r);
    }
    *N = 1ull << nlog;
}

static int scrypt_stream(const char *pass, const uint8_t salt[32], uint64_t ops, uint64_t mem, uint8_t *out, size_t n)
{
    uint64_t N;
    uint32_t r, p;
    scrypt_params(ops, mem, &N, &r, &p);
    if (N > (1ull << 22) || p > 16) return -EINVAL; /* refuse absurd parameters from a hostile key file */
    return crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pass, strlen(pass), salt, 32, N, r, p, out, n) == 0
               ? 0
               : -EINVAL;
}

static void sk_checksum(const uint8_t *keynum, uint8_t chk[32])
{
    uint8_t buf[2 + 8 + 64];
    memcpy(buf, "Ed", 2);
    memcpy(buf + 2, keynum, 72);
    crypto_generichash(chk, 32, buf, sizeof buf, NULL, 0);
}

/* libsodium must be set up once before use; sodium_init is safe to call again and from threads */
static int crypto_ready(char **reterr)
{
    if (sodium_init() < 0) {
        return err_setf(reterr, -EIO, "libsodium could not be initialised");
    }
    return 0;
}

static char *b64(const uint8_t *p, size_t n) { return base64_encode(p, n); }

static int write_text(const char *path, const char *text, unsigned mode, char **reterr)
{
    int r = write_file_atomic(path, text, strlen(text), mode);
    if (r < 0) err_setf(reterr, 0, "cannot write %s: %s", path, strerror(-r));
    return r;
}

int ms_keygen(const char *base, const char *passphrase, char **reterr)
{
    uint8_t seed[32], pk[32], id[8], edsk[64];
    int cr = crypto_ready(reterr);
    if (cr < 0) return cr;
    randombytes_buf(seed, sizeof seed);
    randombytes_buf(id, sizeof id);
    crypto_sign_seed_keypair(pk, edsk, seed);
    sodium_memzero(edsk, sizeof edsk);
    uint8_t sk[SK_LEN] = {0};
    memcpy(sk, "Ed", 2);
    memcpy(sk + 4, "B2", 2);
    uint8_t *keynum = sk + 54;
    memcpy(keynum, id, 8);
    memcpy(keynum + 8, seed, 32);
    memcpy(keynum + 40, pk, 32);
    sk_checksum(keynum, keynum + 72);
    if (passphrase) {
        memcpy(sk + 2, "Sc", 2);
        uint64_t ops = 33554432, mem = 1073741824; /* minisign's defaults */
        randombytes_buf(sk + 6, 32);
        put_le64(sk + 38, ops);
        put_le64(sk + 46, mem);
        uint8_t stream[KEYNUM_SK];
        if (scrypt_stream(passphrase, sk + 6, ops, mem, stream, sizeof stream) < 0) {
            return err_setf(reterr, -ENOMEM, "scrypt failed (not enough memory?)");
        }
        for (size_t i = 0; i < KEYNUM_SK; i++) keynum[i] ^= stream[i];
        sodium_memzero(stream, sizeof stream);
    }
    char hex[17];
    key_id_hex(id, hex);
    _cleanup_free_ char *skb = b64(sk, sizeof sk);
    uint8_t pkf[PK_LEN];
    memcpy(pkf, "Ed", 2);
    memcpy(pkf + 2, id, 8);
    memcpy(pkf + 10, pk, 32);
    _cleanup_free_ char *pkb = b64(pkf, sizeof pkf);
    _cleanup_free_ char *sktext = xasprintf("untrusted comment: %s secret key %s (kiln)\n%s\n",
                                            passphrase ? "minisign encrypted" : "minisign unencrypted", hex, skb);
    _cleanup_free_ char *pktext = xasprintf("untrusted comment: minisign public key %s\n%s\n", hex, pkb);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    _cleanup_free_ char *kp = xasprintf("%s.key", base);
    _cleanup_free_ char *pp = xasprintf("%s.pub", base);
    int r = write_text(kp, sktext, 0600, reterr);
    sodium_memzero(sktext, strlen(sktext));
    if (r == 0) r = write_text(pp, pktext, 0644, reterr);
    return r;
}

bool ms_key_encrypted(const char *seckey_path)
{
    uint8_t sk[SK_LEN];
    char *err = NULL;
    bool enc = read_b64_file(seckey_path, sk, sizeof sk, &err) == 0 && !memcmp(sk + 2, "Sc", 2);
    free(err);
    return enc;
}

struct ms_seckey {
    uint8_t id[8];
    uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* libsodium's form: seed || public key */
};

int ms_seckey_load(const char *path, const char *passphrase, struct ms_seckey **out, char **reterr)
{
    uint8_t sk[SK_LEN];
    int r = crypto_ready(reterr);
    if (r < 0) return r;
    r = read_b64_file(path, sk, sizeof sk, reterr);
    if (r < 0) return r;
    if (memcmp(sk, "Ed", 2) || memcmp(sk + 4, "B2", 2)) {
        return err_setf(reterr, -EINVAL, "%s: not an Ed25519 minisign secret key", path);
    }
    uint8_t *keynum = sk + 54;
    bool enc = !memcmp(sk + 2, "Sc", 2);
    if (enc) {
        if (!passphrase) {
            return err_setf(reterr, -EACCES, "%s is encrypted: give its passphrase (prompt, or KILN_PASSPHRASE)", path);
        }
        uint8_t stream[KEYNUM_SK];
        if (scrypt_stream(passphrase, sk + 6, get_le64(sk + 38), get_le64(sk + 46), stream, sizeof stream) < 0) {
            return err_setf(reterr, -EINVAL, "%s: its scrypt parameters are out of range", path);
        }
        for (size_t i = 0; i < KEYNUM_SK; i++) keynum[i] ^= stream[i];
        sodium_memzero(stream, sizeof stream);
        uint8_t chk[32];
        sk_checksum(keynum, chk);
        if (memcmp(chk, keynum + 72, 32)) {
            sodium_memzero(sk, sizeof sk);
            return err_setf(reterr, -EACCES, "%s: wrong passphrase (the key's checksum does not match)", path);
        }
    } else if (sk[2] || sk[3]) {
        return err_setf(reterr, -EINVAL, "%s: unknown key derivation \"%c%c\"", path, sk[2], sk[3]);
    }
    struct ms_seckey *k = xcalloc(1, sizeof *k);
    memcpy(k->id, keynum, 8);
    /* the stored public half must be the one the seed gives: catches damage in unencrypted keys */
    uint8_t pk[32];
    crypto_sign_seed_keypair(pk, k->sk, keynum + 8);
    bool ok = !memcmp(pk, keynum + 40, 32);
    sodium_memzero(sk, sizeof sk);
    if (!ok) {
        ms_seckey_free(k);
        return err_setf(reterr, -EINVAL, "%s: the secret key is damaged (its public half does not match)", path);
    }
    *out = k;
    return 0;
}

void ms_seckey_free(struct ms_seckey *k)
{
    if (!k) return;
    sodium_memzero(k, sizeof *k);
    free(k);
}

static int ed_sign(const struct ms_seckey *k, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    return crypto_sign_detached(sig, NULL, msg, n, k->sk) == 0 ? 0 : -EIO;
}

static bool ed_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64])
{
    return crypto_sign_verify_detached(sig, msg, n, pk) == 0;
}

/* What is signed or verified: a file (hashed as a stream) or bytes in memory. `name` is what
 * messages call it. */
struct msg {
    const char *file;
    const void *data;
    size_t len;
    const char *name;
};

/* BLAKE2b-512 of the message, a file read as a stream */
static int msg_hash(const struct msg *m, uint8_t out[64], char **reterr)
{
    if (!m->file) {
        crypto_generichash(out, 64, m->data, m->len, NULL, 0);
        return 0;
    }
    int fd = open_regular(m->file, false, NULL); /* a FIFO or a device is refused, not waited on */
    if (fd < 0) {
        *reterr = fs_open_error(m->file, fd, "kiln signs and verifies regular files only");
        return fd;
    }
    enum { BUF = 4 << 20 };
    uint8_t *buf = xmalloc(BUF);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 64);
    ssize_t n;
    while ((n = read(fd, buf, BUF)) > 0) crypto_generichash_update(&st, buf, (size_t)n);
    int e = n < 0 ? errno : 0;
    crypto_generichash_final(&st, out, 64);
    free(buf);
    close(fd);
    if (e) err_setf(reterr, 0, "cannot read %s: %s", m->file, strerror(e));
    return -e;
}

/* The four lines of a .minisig: untrusted comment, signature, trusted comment, global signature. */
static int sign_msg(const struct ms_seckey *k, const struct msg *m, const char *trusted_comment, char **sig_text,
                    char **reterr)
{
    uint8_t h[64];
    int r = msg_hash(m, h, reterr);
    if (r < 0) return r;
    const char *base = strrchr(m->name, '/');
    base = base ? base + 1 : m->name;
    _cleanup_free_ char *tc = trusted_comment ? xstrdup(trusted_comment)
                                              : xasprintf("timestamp:%lld\tfile:%s\thashed", (long long)time(NULL), base);
    if (strchr(tc, '\n') || strchr(tc, '\r')) {
        return err_setf(reterr, -EINVAL, "the trusted comment must be one line");
    }
    uint8_t sig[SIG_LEN];
    memcpy(sig, "ED", 2);
    memcpy(sig + 2, k->id, 8);
    r = ed_sign(k, h, sizeof h, sig + 10);
    size_t tcl = strlen(tc);
    uint8_t *g = xmalloc(64 + tcl);
    memcpy(g, sig + 10, 64);
    memcpy(g + 64, tc, tcl);
    uint8_t gsig[64];
    if (r == 0) r = ed_sign(k, g, 64 + tcl, gsig);
    free(g);
    if (r < 0) {
        return err_setf(reterr, r, "libsodium could not sign");
    }
    char hex[17];
    key_id_hex(k->id, hex);
    _cleanup_free_ char *s1 = b64(sig, sizeof sig);
    _cleanup_free_ char *s2 = b64(gsig, sizeof gsig);
    *sig_text = xasprintf("untrusted comment: signature from kiln, key %s\n%s\ntrusted comment: %s\n%s\n", hex, s1, tc, s2);
    return 0;
}

int ms_sign(const char *seckey_path, const char *passphrase, const char *file, const char *trusted_comment,
            char **reterr)
{
    struct ms_seckey *k = NULL;
    int r = ms_seckey_load(seckey_path, passphrase, &k, reterr);
    if (r < 0) return r;
    _cleanup_free_ char *text = NULL;
    r = sign_msg(k, &(struct msg){.file = file, .name = file}, trusted_comment, &text, reterr);
    ms_seckey_free(k);
    if (r < 0) return r;
    _cleanup_free_ char *out = xasprintf("%s.minisig", file);
    return write_text(out, text, 0644, reterr);
}

int ms_sign_data(const struct ms_seckey *k, const void *data, size_t len, const char *trusted_comment, char **sig_text,
                 char **reterr)
{
    if (!trusted_comment) {
        return err_setf(reterr, -EINVAL, "signing bytes in memory needs a trusted comment");
    }
    return sign_msg(k, &(struct msg){.data = data, .len = len, .name = "data"}, trusted_comment, sig_text, reterr);
}

void ms_seckey_id(const struct ms_seckey *k, char key_id[17]) { key_id_hex(k->id, key_id); }

/* A .minisig's text, split and decoded; sp names it in messages. */
struct parsed_sig {
    uint8_t sig[SIG_LEN], gsig[64];
    char *tc;
};

static int parse_sig(char *text, const char *sp, struct parsed_sig *ps, char **reterr)
{
    char *lines[4] = {0}, *save = NULL;
    size_t nl = 0;
    for (char *l = strtok_r(text, "\n", &save); l && nl < 4; l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r")] = 0;
        lines[nl++] = l;
    }
    size_t got, got2;
    if (nl < 4 || !startswith(lines[0], "untrusted comment:") || !startswith(lines[2], "trusted comment: ") ||
        b64_decode(lines[1], ps->sig, sizeof ps->sig, &got) < 0 || got != SIG_LEN ||
        b64_decode(lines[3], ps->gsig, 64, &got2) < 0 || got2 != 64) {
        return err_setf(reterr, -EINVAL, "%s is not a valid minisign signature (truncated or damaged)", sp);
    }
    ps->tc = lines[2] + strlen("trusted comment: ");
    return 0;
}

/* Reads the minisign public key file path into pk (algorithm "Ed", key id, key). */
static int load_pubkey(const char *path, uint8_t pk[PK_LEN], char **reterr)
{
    int r = crypto_ready(reterr);
    if (r < 0) return r;
    r = read_b64_file(path, pk, PK_LEN, reterr);
    if (r < 0) return r;
    if (memcmp(pk, "Ed", 2)) {
        return err_setf(reterr, -EINVAL, "%s: not an Ed25519 minisign public key", path);
    }
    return 0;
}

/* Verifies m against a parsed signature with the public key file pubkey_path. */
static int verify_msg(const char *pubkey_path, const struct msg *m, const struct parsed_sig *ps, const char *sp,
                      char **trusted, char **reterr)
{
    uint8_t pk[PK_LEN];
    int r = load_pubkey(pubkey_path, pk, reterr);
    if (r < 0) return r;
    char a[17], b[17];
    key_id_hex(ps->sig + 2, a);
    key_id_hex(pk + 2, b);
    if (memcmp(ps->sig + 2, pk + 2, 8)) {
        return err_setf(reterr, -EPERM, "%s was made with key %s, but %s is key %s", sp, a, pubkey_path, b);
    }
    const uint8_t *k = pk + 10;
    bool hashed = !memcmp(ps->sig, "ED", 2);
    if (!hashed && memcmp(ps->sig, "Ed", 2)) {
        return err_setf(reterr, -EINVAL, "%s: unknown signature algorithm", sp);
    }
    bool ok;
    if (hashed) {
        uint8_t h[64];
        if ((r = msg_hash(m, h, reterr)) < 0) return r;
        ok = ed_verify(k, h, sizeof h, ps->sig + 10);
    } else if (!m->file) {
        ok = ed_verify(k, m->data, m->len, ps->sig + 10);
    } else {
        /* legacy signatures cover the file itself: bounded */
        char *data = NULL;
        size_t dl;
        if ((r = read_file(m->file, 256u << 20, &data, &dl)) < 0) {
            return err_setf(reterr, r, "%s: legacy (unhashed) signature over a file kiln cannot read whole: %s", sp, strerror(-r));
        }
        ok = ed_verify(k, (uint8_t *)data, dl, ps->sig + 10);
        free(data);
    }
    if (!ok) {
        return err_setf(reterr, -EPERM, "%s does not match its signature %s (the file or the signature was changed)", m->name, sp);
    }
    size_t tcl = strlen(ps->tc);
    uint8_t *g = xmalloc(64 + tcl);
    memcpy(g, ps->sig + 10, 64);
    memcpy(g + 64, ps->tc, tcl);
    ok = ed_verify(k, g, 64 + tcl, ps->gsig);
    free(g);
    if (!ok) {
        return err_setf(reterr, -EPERM, "%s: the trusted comment does not match the global signature (it was changed)", sp);
    }
    if (trusted) *trusted = xstrdup(ps->tc);
    return 0;
}

int ms_verify(const char *pubkey_path, const char *file, const char *sig_path, char **trusted, char **reterr)
{
    _cleanup_free_ char *sp = sig_path ? xstrdup(sig_path) : xasprintf("%s.minisig", file);
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_file(sp, MS_SIG_MAX, &text, &len);
    if (r < 0) {
        *reterr = fs_open_error(sp, r, "a signature is the regular file kiln sign wrote");
        return r;
    }
    struct parsed_sig ps;
    if ((r = parse_sig(text, sp, &ps, reterr)) < 0) return r;
    return verify_msg(pubkey_path, &(struct msg){.file = file, .name = file}, &ps, sp, trusted, reterr);
}

int ms_sig_key_id(const char *file, char key_id[17], char **reterr)
{
    _cleanup_free_ char *sp = xasprintf("%s.minisig", file);
    char *text = NULL;
    size_t len;
    int r = read_file(sp, MS_SIG_MAX, &text, &len);
    if (r < 0) {
        *reterr = r == -ENOENT ? xasprintf("%s is not signed (no %s); sign it with kiln sign -k KEY", file, sp)
                            : fs_open_error(sp, r, "a signature is the regular file kiln sign wrote");
        return r;
    }
    char *nl = strchr(text, '\n');
    uint8_t sig[SIG_LEN];
    size_t got = 0;
    if (nl) {
        char *line = nl + 1;
        line[strcspn(line, "\r\n")] = 0;
        r = b64_decode(line, sig, sizeof sig, &got);
    }
    free(text);
    if (!nl || r < 0 || got != SIG_LEN) {
        return err_setf(reterr, -EINVAL, "%s is not a valid minisign signature (truncated or damaged)", sp);
    }
    key_id_hex(sig + 2, key_id);
    return 0;
}

/* The trusted key file whose id is key_id, or NULL; *known lists the ids seen. */
static const char *trusted_key(const char *const *pubkeys, size_t n, const char *key_id, struct sbuf *known)
{
    for (size_t i = 0; i < n; i++) {
        char id[17], *kerr = NULL;
        if (ms_key_id(pubkeys[i], id, &kerr) < 0) {
            free(kerr);
            continue;
        }
        sbuf_printf(known, "%s%s", known->len ? ", " : "", id);
        if (streq(id, key_id)) return pubkeys[i];
    }
    return NULL;
}

int ms_check_signer(const char *const *pubkeys, size_t n, const char *file, char key_id[17], char **reterr)
{
    int r = ms_sig_key_id(file, key_id, reterr);
    if (r < 0) return r;
    struct sbuf known = {0};
    if (trusted_key(pubkeys, n, key_id, &known)) {
        sbuf_free(&known);
        return 0;
    }
    err_setf(reterr, 0, "%s was signed with key %s, which is not a trusted key (trusted: %s)", file, key_id,
                     known.len ? known.s : "none");
    sbuf_free(&known);
    return -EPERM;
}

int ms_verify_trusted(const char *const *pubkeys, size_t n, const char *file, char **trusted, char key_id[17], char **reterr)
{
    char id[17];
    int r = ms_check_signer(pubkeys, n, file, id, reterr);
    if (r < 0) return r;
    struct sbuf known = {0};
    const char *pub = trusted_key(pubkeys, n, id, &known);
    sbuf_free(&known);
    if (key_id) memcpy(key_id, id, 17);
    return ms_verify(pub, file, NULL, trusted, reterr);
}

int ms_verify_data_trusted(const char *const *pubkeys, size_t n, const void *data, size_t len, const char *name,
                           const char *sig_text, const char *sig_name, char **trusted, char key_id[17], char **reterr)
{
    _cleanup_free_ char *text = xstrdup(sig_text);
    struct parsed_sig ps;
    int r = parse_sig(text, sig_name, &ps, reterr);
    if (r < 0) return r;
    char id[17];
    key_id_hex(ps.sig + 2, id);
    struct sbuf known = {0};
    const char *pub = trusted_key(pubkeys, n, id, &known);
    if (!pub) {
        err_setf(reterr, 0, "%s was signed with key %s, which is not a trusted key (trusted: %s)", name, id,
                         known.len ? known.s : "none");
        sbuf_free(&known);
        return -EPERM;
    }
    sbuf_free(&known);
    if (key_id) memcpy(key_id, id, 17);
    return verify_msg(pub, &(struct msg){.data = data, .len = len, .name = name}, &ps, sig_name, trusted, reterr);
}

int ms_sign_raw(const struct ms_seckey *k, const void *msg, size_t len, uint8_t sig[64])
{
    return ed_sign(k, msg, len, sig);
}

int ms_verify_raw(const char *pubkey_path, const void *msg, size_t len, const uint8_t sig[64], char **reterr)
{
    uint8_t pk[PK_LEN];
    int r = load_pubkey(pubkey_path, pk, reterr);
    if (r < 0) return r;
    return ed_verify(pk + 10, msg, len, sig) ? 0 : -EPERM;
}

int ms_key_id(const char *pubkey_path, char key_id[17], char **reterr)
{
    uint8_t pk[PK_LEN];
    int r = load_pubkey(pubkey_path, pk, reterr);
    if (r < 0) return r;
    key_id_hex(pk + 2, key_id);
    return 0;
}
