/* kiln archive RUN [-k KEY] [-o FILE] / kiln archive --verify FILE [-p PUB]: the telemetry
 * archive of a run (src/report/archive.c), signed in minisign's format. */
#include <errno.h>
#include <limits.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "report/archive.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/util.h"

static int verify(const char *path, const char *pub)
{
    char *err = NULL, *tc = NULL;
    if (pub) {
        _cleanup_free_ char *sig = xasprintf("%s.minisig", path);
        if (!file_exists(sig)) {
            fprintf(stderr, "kiln archive: %s has no signature (%s) and -p asks for one\n", path, sig);
            return EXIT_FAIL;
        }
        if (ms_verify(pub, path, NULL, &tc, &err) < 0) {
            fprintf(stderr, "kiln archive: %s\n", err);
            free(err);
            return EXIT_FAIL;
        }
    }
    unsigned n;
    if (archive_verify(path, &n, &err) < 0) {
        fprintf(stderr, "kiln archive: %s\n", err);
        free(err);
        free(tc);
        return EXIT_FAIL;
    }
    if (n == 0) {
        fprintf(stderr, "kiln archive: %s: its manifest lists no file: not a run's archive (kiln archive writes "
                        "every file of the run into it)\n", path);
        free(tc);
        return EXIT_FAIL;
    }
    printf("kiln archive: %s: %u files match the manifest%s%s\n", path, n, pub ? "; signature good, trusted comment: " : "",
           pub ? tc : "");
    if (!pub)
        fprintf(stderr, "kiln archive: warning: the signature was not checked: anyone could have made this archive "
                        "and its manifest; give -p KEY.pub to check who made it\n");
    free(tc);
    return EXIT_OK;
}

static int pack(const char *run, const char *key, const char *out)
{
    char abs[PATH_MAX];
    if (!realpath(run, abs)) {
        fprintf(stderr, "kiln archive: cannot open the run directory %s: %s\n", run, strerror(errno));
        return EXIT_FAIL;
    }
    _cleanup_free_ char *def = xasprintf("%s.tar.zst", abs);
    const char *dst = out ? out : def;
    char *pass = NULL;
    if (key && ms_key_encrypted(key) && !(pass = passphrase_read("Passphrase: ", false))) {
        fprintf(stderr, "kiln archive: %s is encrypted and there is no passphrase (no terminal, KILN_PASSPHRASE unset)\n", key);
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    char *err = NULL;
    int rc = EXIT_OK;
    if (archive_create(abs, dst, &err) < 0) {
        fprintf(stderr, "kiln archive: %s\n", err);
        rc = EXIT_FAIL;
    } else if (key) {
        _cleanup_free_ char *tc = xasprintf("kiln run archive %s", strrchr(abs, '/') + 1);
        if (ms_sign(key, pass, dst, tc, &err) < 0) {
            fprintf(stderr, "kiln archive: %s\n", err);
            unlink(dst); /* an archive that was asked to be signed and is not must not stay */
            rc = EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK) printf("kiln archive: %s%s\n", dst, key ? " (+ .minisig)" : "");
    free(err);
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    return rc;
}

int cmd_archive(int argc, char **argv)
{
    const char *run = NULL, *key = NULL, *out = NULL, *pub = NULL, *check = NULL;
    for (int i = 1; i < argc; i++) {
        if ((streq(argv[i], "-k") || streq(argv[i], "--key")) && i + 1 < argc) key = argv[++i];
        else if ((streq(argv[i], "-p") || streq(argv[i], "--pubkey")) && i + 1 < argc) pub = argv[++i];
        else if ((streq(argv[i], "-o") || streq(argv[i], "--out")) && i + 1 < argc) out = argv[++i];
        else if (streq(argv[i], "--verify") && i + 1 < argc) check = argv[++i];
        else if (argv[i][0] == '-' || run) goto usage;
        else run = argv[i];
    }
    if (check) return run || key || out ? (fprintf(stderr, "kiln archive: --verify takes only -p\n"), EXIT_USAGE) : verify(check, pub);
    if (!run || pub) goto usage;
    return pack(run, key, out);
usage:
    fprintf(stderr, "usage: kiln archive RUN-DIR [-k SECRET.key] [-o FILE]   (default: RUN-DIR.tar.zst)\n"
                    "       kiln archive --verify FILE [-p PUBLIC.pub]\n");
    return EXIT_USAGE;
}
