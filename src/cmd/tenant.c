/* kiln tenant add: a publisher of the service (src/service/store.h), with its API token
 * printed once. */
#include <errno.h>

#include "cmd/common.h"
#include "service/store.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/util.h"

int cmd_tenant(int argc, char **argv)
{
    const char *name = NULL, *data = NULL, *db = NULL;
    const char **keys = NULL;
    size_t nkeys = 0, cap = 0;
    long max_jobs = 2;
    bool admin = false;
    const char *seen_max = NULL;
    if (argc < 2 || !streq(argv[1], "add")) goto usage;
    static const char opts[] = "--data DIR, --db URL, --trust KEY.pub, --max-jobs N, --admin, and one NAME";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        bool valued = streq(a, "--data") || streq(a, "--db") || streq(a, "--trust") || streq(a, "--max-jobs");
        if (valued && !(val = cmd_opt_value("tenant add", argc, argv, &i,
                                            streq(a, "--data")    ? "the directory of the service's state"
                                            : streq(a, "--db")    ? "sqlite:PATH or a postgresql:// URI"
                                            : streq(a, "--trust") ? "a minisign public key file (KEY.pub)"
                                                                  : "a whole number from 1 to 100000"))) {
            free(keys);
            return EXIT_USAGE;
        }
        if ((streq(a, "--data") || streq(a, "--db") || streq(a, "--max-jobs")) &&
            !cmd_opt_once("tenant add", a, streq(a, "--data") ? &data : streq(a, "--db") ? &db : &seen_max, val)) {
            free(keys);
            return EXIT_USAGE;
        }
        if (streq(a, "--data") || streq(a, "--db")) continue; /* kept by cmd_opt_once */
        if (streq(a, "--trust")) *APPEND(keys, nkeys, cap) = val;
        else if (streq(a, "--admin")) admin = true;
        else if (streq(a, "--max-jobs")) {
            if (!cmd_opt_long("tenant add", a, val, 1, 100000, &max_jobs)) {
                free(keys);
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' || name) {
            free(keys);
            if (a[0] == '-') return cmd_opt_unknown("tenant add", a, opts);
            fprintf(stderr, "kiln tenant add: %s: one tenant at a time (%s is the name already)\n", a, name);
            return EXIT_USAGE;
        } else name = a;
    }
    if (!name) goto usage;
    /* every key is read before anything is stored: a bad key file adds no tenant */
    char (*ids)[17] = xcalloc(nkeys + 1, sizeof(*ids));
    char **texts = xcalloc(nkeys + 1, sizeof(*texts));
    char *err = NULL;
    int rc = EXIT_OK;
    for (size_t k = 0; k < nkeys && rc == EXIT_OK; k++) {
        if (ms_key_id(keys[k], ids[k], &err) < 0 || read_file(keys[k], KILN_STORE_KEY_MAX, &texts[k], NULL) < 0) {
            fprintf(stderr, "kiln tenant add: --trust %s: %s\n", keys[k], err ? err : "cannot read the public key file (at most 1 KiB)");
            rc = EXIT_USAGE;
        }
    }
    struct kiln_store *st = NULL;
    int r = rc == EXIT_OK ? cmd_store_open("tenant add", data, db, false, &st) : 0;
    if (r < 0) rc = r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    char token[KILN_TOKEN_LEN + 1];
    struct kiln_tenant t;
    if (rc == EXIT_OK && kiln_store_tenant_add(st, name, (int)max_jobs, admin, token, &t, &err) < 0) {
        fprintf(stderr, "kiln tenant add: %s\n", err);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK) {
        /* the token is printed whatever follows: a tenant whose token was never shown is lost */
        fprintf(stderr, "kiln tenant add: %s%s, at most %ld jobs at once. Its API token (shown this once, only its hash is kept):\n",
                name, admin ? " (admin)" : "", max_jobs);
        printf("%s\n", token);
        fflush(stdout);
    }
    for (size_t k = 0; k < nkeys && rc == EXIT_OK; k++) {
        if (kiln_store_tenant_trust(st, t.id, ids[k], texts[k], &err) < 0) {
            fprintf(stderr, "kiln tenant add: trusting %s failed: %s\n", keys[k], err);
            rc = EXIT_FAIL;
        } else {
            fprintf(stderr, "kiln tenant add: %s trusts key %s (%s)\n", name, ids[k], keys[k]);
        }
    }
    explicit_bzero(token, sizeof(token));
    kiln_store_close(st);
    for (size_t k = 0; k < nkeys; k++) free(texts[k]);
    free(texts);
    free(ids);
    free(keys);
    free(err);
    return rc;
usage:
    free(keys);
    fprintf(stderr, "usage: kiln tenant add NAME [--max-jobs N] [--trust KEY.pub]... [--admin] (--data DIR | --db URL)\n"
                    "  adds a publisher and prints its API token once (default --max-jobs 2: jobs running at once);\n"
                    "  --trust: a minisign public key whose signatures self-service publishing accepts;\n"
                    "  --db (or $KILN_DB): a postgresql:// URI instead of DIR/kiln.db\n");
    return EXIT_USAGE;
}
