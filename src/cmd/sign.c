/* kiln keygen / sign / verify: minisign-format keys and signatures (src/trust/minisign.c);
 * provenance also as a DSSE envelope (src/trust/dsse.c). */
#include <errno.h>
#include <jansson.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "trust/dsse.h"
#include "trust/minisign.h"
#include "trust/provenance.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/util.h"

int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    bool none = false;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (streq(argv[i], "--no-passphrase")) none = true;
        else goto usage;
    }
    if (!out) goto usage;
    char *pass = NULL;
    if (!none && !(pass = passphrase_read("Passphrase for the new secret key: ", true))) {
        fprintf(stderr, "kiln keygen: no passphrase (no terminal and KILN_PASSPHRASE unset); "
                        "pass --no-passphrase for an unencrypted key\n");
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    char *err = NULL;
    char *dir = path_dirname(out);
    mkdir_p(dir, 0700);
    free(dir);
    int r = ms_keygen(out, pass, &err);
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    if (r < 0) {
        fprintf(stderr, "kiln keygen: %s\n", err);
        free(err);
        return EXIT_FAIL;
    }
    printf("kiln keygen: %s.key (secret%s) and %s.pub\n", out, none ? ", unencrypted" : ", encrypted", out);
    return EXIT_OK;
usage:
    fprintf(stderr, "usage: kiln keygen --out BASE [--no-passphrase]   (writes BASE.key and BASE.pub)\n");
    return EXIT_USAGE;
}

#define PROVENANCE_SUFFIX ".provenance.json"
#define INTOTO_SUFFIX ".intoto.jsonl"

/* NAME.provenance.json → NAME.intoto.jsonl: the statement as a DSSE envelope signed with the
 * same key, the form in-toto and SLSA verifiers read. */
static int sign_dsse(const char *key, const char *pass, const char *file, char **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_regular(file, false, DSSE_MAX, &text, &len);
    if (r < 0) {
        *err = fs_open_error(file, r, "kiln signs and verifies regular files only");
        return r;
    }
    json_error_t je;
    json_t *st = json_loadb(text, len, 0, &je);
    bool intoto = st && streq(json_string_value(json_object_get(st, "_type")), INTOTO_STATEMENT_TYPE);
    json_decref(st);
    if (!intoto) {
        *err = xasprintf("%s is not an in-toto statement (\"_type\": \"%s\"): no DSSE envelope written", file,
                         INTOTO_STATEMENT_TYPE);
        return -EINVAL;
    }
    struct ms_seckey *k = NULL;
    if ((r = ms_seckey_load(key, pass, &k, err)) < 0) return r;
    _cleanup_free_ char *line = NULL;
    r = dsse_sign(k, DSSE_INTOTO_TYPE, text, len, &line, err);
    ms_seckey_free(k);
    if (r < 0) return r;
    _cleanup_free_ char *out = xasprintf("%.*s" INTOTO_SUFFIX, (int)(strlen(file) - strlen(PROVENANCE_SUFFIX)), file);
    _cleanup_free_ char *body = xasprintf("%s\n", line);
    if ((r = write_file_atomic(out, body, strlen(body), 0644)) < 0) {
        *err = xasprintf("cannot write %s: %s", out, strerror(-r));
        return r;
    }
    printf("kiln sign: %s (DSSE envelope of %s)\n", out, file);
    return 0;
}

/* kiln verify FILE.intoto.jsonl: every envelope signed by the key over an in-toto statement. */
static int verify_dsse(const char *pub, const char *file)
{
    _cleanup_free_ char *text = NULL, *payload = NULL, *err = NULL;
    size_t len, plen = 0;
    int r = read_regular(file, false, DSSE_MAX, &text, &len);
    if (r < 0) {
        _cleanup_free_ char *why = fs_open_error(file, r, "kiln signs and verifies regular files only");
        fprintf(stderr, "kiln verify: %s\n", why);
        return EXIT_USAGE;
    }
    char id[17];
    if (dsse_verify(pub, text, len, file, DSSE_INTOTO_TYPE, &payload, &plen, &err) < 0 || ms_key_id(pub, id, &err) < 0) {
        fprintf(stderr, "kiln verify: %s\n", err);
        return EXIT_FAIL;
    }
    json_t *st = json_loadb(payload, plen, 0, NULL);
    const char *pt = json_string_value(json_object_get(st, "predicateType"));
    bool ok = st && streq(json_string_value(json_object_get(st, "_type")), INTOTO_STATEMENT_TYPE) && pt;
    if (!ok) fprintf(stderr, "kiln verify: %s: the signed payload is not an in-toto Statement v1\n", file);
    else
        printf("kiln verify: %s: DSSE signature by key %s verified; in-toto statement, predicate %s, %zu subject(s)\n", file,
               id, pt, json_array_size(json_object_get(st, "subject")));
    json_decref(st);
    return ok ? EXIT_OK : EXIT_FAIL;
}

int cmd_sign(int argc, char **argv)
{
    const char *key = NULL, *tc = NULL;
    int first = 0;
    for (int i = 1; i < argc; i++) {
        if ((streq(argv[i], "-k") || streq(argv[i], "--key")) && i + 1 < argc) key = argv[++i];
        else if ((streq(argv[i], "-t") || streq(argv[i], "--trusted-comment")) && i + 1 < argc) tc = argv[++i];
        else if (argv[i][0] == '-') goto usage;
        else if (!first) first = i;
    }
    if (!key || !first) goto usage;
    char *pass = NULL;
    if (ms_key_encrypted(key) && !(pass = passphrase_read("Passphrase: ", false))) {
        fprintf(stderr, "kiln sign: %s is encrypted and there is no passphrase (no terminal, KILN_PASSPHRASE unset)\n", key);
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    int rc = EXIT_OK;
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-') {
            i++;
            continue;
        }
        if (endswith(argv[i], ".minisig")) continue; /* `kiln sign out/x-1.0.*` on a second run */
        char *err = NULL;
        if (ms_sign(key, pass, argv[i], tc, &err) < 0) {
            fprintf(stderr, "kiln sign: %s\n", err);
            free(err);
            rc = EXIT_FAIL;
            break;
        }
        printf("kiln sign: %s.minisig\n", argv[i]);
        if (endswith(argv[i], PROVENANCE_SUFFIX) && sign_dsse(key, pass, argv[i], &err) < 0) {
            fprintf(stderr, "kiln sign: %s\n", err);
            free(err);
            rc = EXIT_FAIL;
            break;
        }
    }
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    return rc;
usage:
    fprintf(stderr, "usage: kiln sign -k SECRET.key [-t TRUSTED-COMMENT] FILE...   (writes FILE.minisig;\n"
                    "  for NAME.provenance.json also NAME.intoto.jsonl, the statement in a DSSE envelope)\n");
    return EXIT_USAGE;
}

int cmd_verify(int argc, char **argv)
{
    const char *pub = NULL, *sig = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if ((streq(argv[i], "-p") || streq(argv[i], "--pubkey")) && i + 1 < argc) pub = argv[++i];
        else if ((streq(argv[i], "-x") || streq(argv[i], "--sig")) && i + 1 < argc) sig = argv[++i];
        else if (argv[i][0] == '-' || file) goto usage;
        else file = argv[i];
    }
    if (!pub || !file) goto usage;
    if (endswith(file, INTOTO_SUFFIX) && !sig) return verify_dsse(pub, file);
    char *err = NULL, *tc = NULL;
    if (ms_verify(pub, file, sig, &tc, &err) < 0) {
        fprintf(stderr, "kiln verify: %s\n", err);
        free(err);
        return EXIT_FAIL;
    }
    printf("kiln verify: %s: signature and trusted comment verified\ntrusted comment: %s\n", file, tc);
    free(tc);
    return EXIT_OK;
usage:
    fprintf(stderr, "usage: kiln verify -p PUBLIC.pub [-x FILE.minisig] FILE\n"
                    "  (FILE.intoto.jsonl: the DSSE envelope kiln sign writes for a provenance, checked as such)\n");
    return EXIT_USAGE;
}
