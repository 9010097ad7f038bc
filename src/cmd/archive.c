/* kiln archive RUN [-k KEY] [-o FILE] / kiln archive --verify FILE [-p PUB]: the telemetry
 * archive of a run (src/report/archive.c), signed in minisign's format. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "report/archive.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/util.h"

/* The verdict on stdout: a line, or with json the object cmd_archive's help describes. */
static int verdict(const char *path, const char *sig, bool json, unsigned n, const char *tc, const char *err)
{
    if (err) fprintf(stderr, "kiln archive: %s\n", err);
    if (json) {
        json_t *j = json_pack("{s:s, s:b, s:I, s:s, s:s?, s:s?}", "archive", path, "verified", !err, "files",
                              (json_int_t)n, "signature", sig, "trusted_comment",
                              tc, "error", err);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
    } else if (!err) {
        printf("kiln archive: %s: %u files match the manifest%s%s\n", path, n, tc ? "; signature good, trusted comment: " : "",
               tc ? tc : "");
    }
    if (!err && !tc)
        fprintf(stderr, "kiln archive: warning: the signature was not checked: anyone could have made this archive "
                        "and its manifest; give -p KEY.pub to check who made it\n");
    return err ? EXIT_FAIL : EXIT_OK;
}

static int verify(const char *path, const char *pub, bool json)
{
    int rc;
    if ((rc = cmd_input("archive", path, "pass the .tar.zst file kiln archive wrote")) ||
        (pub && (rc = cmd_input("archive", pub, "pass the .pub file kiln keygen wrote"))))
        return rc;
    _cleanup_free_ char *err = NULL, *tc = NULL;
    if (pub) {
        _cleanup_free_ char *sig = xasprintf("%s.minisig", path);
        if (!file_exists(sig)) {
            _cleanup_free_ char *m = xasprintf("%s has no signature (%s) and -p asks for one", path, sig);
            return verdict(path, "missing", json, 0, NULL, m);
        }
        if (ms_verify(pub, path, NULL, &tc, &err) < 0) return verdict(path, "bad", json, 0, NULL, err);
    }
    const char *sig = pub ? "good" : "not checked";
    unsigned n = 0;
    if (archive_verify(path, &n, &err) < 0) return verdict(path, sig, json, n, tc, err);
    if (n == 0) {
        _cleanup_free_ char *m = xasprintf("%s: its manifest lists no file: not a run's archive (kiln archive writes "
                                           "every file of the run into it)", path);
        return verdict(path, sig, json, 0, tc, m);
    }
    return verdict(path, sig, json, n, tc, NULL);
}

static int pack(const char *run, const char *key, const char *out)
{
    char abs[PATH_MAX];
    if (!realpath(run, abs)) {
        fprintf(stderr, "kiln archive: cannot open the run directory %s: %s\n", run, strerror(errno));
        return EXIT_USAGE;
    }
    _cleanup_free_ char *def = xasprintf("%s.tar.zst", abs);
    const char *dst = out ? out : def;
    int rc;
    if (key && (rc = cmd_input("archive", key, "pass the key file kiln keygen wrote"))) return rc;
    char *pass = NULL;
    if (key && ms_key_encrypted(key) && !(pass = passphrase_read("Passphrase: ", false))) {
        fprintf(stderr, "kiln archive: %s is encrypted and there is no passphrase (no terminal, KILN_PASSPHRASE unset)\n", key);
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    char *err = NULL;
    rc = EXIT_OK;
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
    const char *key = NULL, *out = NULL, *pub = NULL, *check = NULL;
    bool json = false;
    const struct cmd_opt opts[] = {
        {'k', "key", "SECRET.key", CMD_STR, &key, .not_with = "verify", .help = "sign the archive (FILE.minisig beside it)"},
        {'o', "out", "FILE", CMD_STR, &out, .not_with = "verify", .help = "the archive (default: RUN-DIR.tar.zst)"},
        {0, "verify", "FILE", CMD_STR, &check, .help = "check FILE against its manifest (and with -p its signature)"},
        {'p', "pubkey", "PUBLIC.pub", CMD_STR, &pub, .needs = "verify", .help = "with --verify: the key FILE.minisig must be made with"},
        {0, "json", NULL, CMD_FLAG, &json, .needs = "verify", .help = "with --verify: the verdict as JSON on stdout"},
        {0},
    };
    const struct cmd_verb v = {
        "archive", "RUN-DIR [-k SECRET.key] [-o FILE]\n--verify FILE [-p PUBLIC.pub] [--json]",
        "Packs a run directory into one .tar.zst with a sha256 manifest of every file, signed with -k;\n"
        "--verify checks an archive's files against its manifest and, with -p, its signature.",
        opts, 0, 1, "RUN-DIR",
        .exits = "0 written / verified, 1 the archive could not be written or signed, or does not verify\n"
                 "(a file, the manifest or the signature does not match), 2 usage or a missing RUN-DIR,\n"
                 "FILE or key",
        .json = "{\"archive\": PATH, \"verified\": BOOL, \"files\": N, \"signature\": \"good\"|\"bad\"|\"missing\"|\"not checked\",\n"
                "\"trusted_comment\": S|null, \"error\": S|null} (also when it does not verify: exit 1)",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    if (check) {
        if (n) return cmd_usage_error("archive", "--verify takes no RUN-DIR (%s): it checks FILE", argv[1]);
        return verify(check, pub, json);
    }
    if (!n) return cmd_usage_error("archive", "no RUN-DIR given");
    return pack(argv[1], key, out);
}
