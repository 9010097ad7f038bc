/* kiln keygen / sign / verify: minisign-format keys and signatures (src/trust/minisign.c). */

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "trust/minisign.h"
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
    }
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    return rc;
usage:
    fprintf(stderr, "usage: kiln sign -k SECRET.key [-t TRUSTED-COMMENT] FILE...   (writes FILE.minisig)\n");
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
    fprintf(stderr, "usage: kiln verify -p PUBLIC.pub [-x FILE.minisig] FILE\n");
    return EXIT_USAGE;
}
