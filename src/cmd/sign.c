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
    const struct cmd_opt opts[] = {
        {'o', "out", "BASE", CMD_STR, &out, .help = "writes BASE.key (the secret key) and BASE.pub"},
        {0, "no-passphrase", NULL, CMD_FLAG, &none, .help = "leave the secret key unencrypted (for automation)"},
        {0},
    };
    const struct cmd_verb v = {
        "keygen", "--out BASE [--no-passphrase]",
        "Makes an Ed25519 key pair in minisign's format. The secret key is encrypted (scrypt) with a\n"
        "passphrase read from the terminal or $KILN_PASSPHRASE, unless --no-passphrase.",
        opts, 0, 0, NULL,
        .exits = "0 written, 1 the keys could not be written, 2 usage or no passphrase",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if (!out) return cmd_usage_error("keygen", "--out BASE is needed: where BASE.key and BASE.pub go");
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
}

#define PROVENANCE_SUFFIX ".provenance.json"
#define INTOTO_SUFFIX ".intoto.jsonl"

/* NAME.provenance.json → NAME.intoto.jsonl: the statement as a DSSE envelope signed with the
 * same key, the form in-toto and SLSA verifiers read. */
static int sign_dsse(const char *key, const char *pass, const char *file, char **reterr)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_regular(file, false, DSSE_MAX, &text, &len);
    if (r < 0) {
        *reterr = fs_open_error(file, r, "kiln signs and verifies regular files only");
        return r;
    }
    json_error_t je;
    json_t *st = json_loadb(text, len, 0, &je);
    bool intoto = st && streq(json_string_value(json_object_get(st, "_type")), INTOTO_STATEMENT_TYPE);
    json_decref(st);
    if (!intoto) {
        *reterr = xasprintf("%s is not an in-toto statement (\"_type\": \"%s\"): no DSSE envelope written", file,
                         INTOTO_STATEMENT_TYPE);
        return -EINVAL;
    }
    struct ms_seckey *k = NULL;
    if ((r = ms_seckey_load(key, pass, &k, reterr)) < 0) return r;
    _cleanup_free_ char *line = NULL;
    r = dsse_sign(k, DSSE_INTOTO_TYPE, text, len, &line, reterr);
    ms_seckey_free(k);
    if (r < 0) return r;
    _cleanup_free_ char *out = xasprintf("%.*s" INTOTO_SUFFIX, (int)(strlen(file) - strlen(PROVENANCE_SUFFIX)), file);
    _cleanup_free_ char *body = xasprintf("%s\n", line);
    if ((r = write_file_atomic(out, body, strlen(body), 0644)) < 0) {
        *reterr = xasprintf("cannot write %s: %s", out, strerror(-r));
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
    const struct cmd_opt opts[] = {
        {'k', "key", "SECRET.key", CMD_STR, &key, .help = "the secret key (kiln keygen; its passphrase from the terminal\nor $KILN_PASSPHRASE)"},
        {'t', "trusted-comment", "TEXT", CMD_STR, &tc, .empty_ok = true, .help = "the signed comment (default: the file's name and the time)"},
        {0},
    };
    const struct cmd_verb v = {
        "sign", "-k SECRET.key [-t TRUSTED-COMMENT] FILE...",
        "Writes FILE.minisig beside each FILE in minisign's format (stock minisign verifies it).\n"
        "A FILE ending in .minisig is skipped, so `kiln sign out/NAME-VERSION.*` can be run again.\n"
        "For NAME.provenance.json it also writes NAME.intoto.jsonl: the statement in a DSSE envelope.",
        opts, 1, -1, "FILE",
        .exits = "0 every FILE signed, 1 signing failed (wrong passphrase, unreadable key, a write\n"
                 "error; the files before it stay signed), 2 usage, a missing key or FILE, no passphrase",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if (!key) return cmd_usage_error("sign", "-k SECRET.key is needed: the key that signs");
    if ((rc = cmd_input("sign", key, "pass the key or signature file kiln keygen or kiln sign wrote"))) return rc;
    /* every input is there before anything is signed */
    for (int i = 1; i <= n; i++)
        if ((rc = cmd_input("sign", argv[i], "kiln signs and verifies regular files only"))) return rc;
    char *pass = NULL;
    if (ms_key_encrypted(key) && !(pass = passphrase_read("Passphrase: ", false))) {
        fprintf(stderr, "kiln sign: %s is encrypted and there is no passphrase (no terminal, KILN_PASSPHRASE unset)\n", key);
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    rc = EXIT_OK;
    for (int i = 1; i <= n; i++) {
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
}

int cmd_verify(int argc, char **argv)
{
    const char *pub = NULL, *sig = NULL;
    bool json = false;
    const struct cmd_opt opts[] = {
        {'p', "pubkey", "PUBLIC.pub", CMD_STR, &pub, .help = "the public key (kiln keygen, or minisign's)"},
        {'x', "sig", "FILE.minisig", CMD_STR, &sig, .help = "the signature (default: FILE.minisig)"},
        {0, "json", NULL, CMD_FLAG, &json, .help = "print the verdict as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "verify", "-p PUBLIC.pub [-x FILE.minisig] [--json] FILE",
        "Verifies FILE's minisign signature and its trusted comment against the public key;\n"
        "fails closed, naming what did not match (the file, the trusted comment, the key id).\n"
        "FILE.intoto.jsonl (the DSSE envelope kiln sign writes for a provenance) is checked as\n"
        "such: every envelope signed by the key over an in-toto statement.",
        opts, 1, 1, "FILE",
        .exits = "0 verified, 1 the verification failed (no FILE.minisig, another key, a changed file\n"
                 "or comment), 2 usage or a missing FILE, PUBLIC.pub or -x signature",
        .json = "{\"file\": PATH, \"public_key\": PATH, \"signature\": PATH, \"verified\": BOOL,\n"
                "\"trusted_comment\": S|null, \"error\": S|null} (also when the verification fails: exit 1)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    const char *file = argv[1];
    if (!pub) return cmd_usage_error("verify", "-p PUBLIC.pub is needed: the key the signature must be made with");
    if ((rc = cmd_input("verify", file, "kiln signs and verifies regular files only")) ||
        (rc = cmd_input("verify", pub, "pass the .pub file kiln keygen wrote")) ||
        (sig && (rc = cmd_input("verify", sig, "a signature is the regular file kiln sign wrote"))))
        return rc;
    if (endswith(file, INTOTO_SUFFIX) && !sig) return verify_dsse(pub, file);
    char *err = NULL, *tc = NULL;
    int r = ms_verify(pub, file, sig, &tc, &err);
    if (r < 0) fprintf(stderr, "kiln verify: %s\n", err);
    if (json) {
        _cleanup_free_ char *defsig = xasprintf("%s.minisig", file);
        json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s?}", "file", file, "public_key", pub, "signature",
                              sig ? sig : defsig, "verified", r == 0, "trusted_comment", r == 0 ? tc : NULL, "error",
                              r < 0 ? err : NULL);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
    } else if (r == 0) {
        printf("kiln verify: %s: signature and trusted comment verified\ntrusted comment: %s\n", file, tc);
    }
    free(err);
    free(tc);
    return r < 0 ? EXIT_FAIL : EXIT_OK;
}
