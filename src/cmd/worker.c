/* kiln worker add: a host allowed to pull jobs from the service, with its token printed once. */
#include <errno.h>

#include "cmd/common.h"
#include "service/store.h"
#include "util/util.h"

int cmd_worker(int argc, char **argv)
{
    const char *name = NULL, *data = NULL, *db = NULL;
    if (argc >= 2 && !streq(argv[1], "add")) return cmd_worker_run(argc, argv);
    if (argc < 2) goto usage;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (streq(a, "--data") || streq(a, "--db")) {
            const char *val = cmd_opt_value("worker add", argc, argv, &i,
                                            streq(a, "--data") ? "the directory of the service's state"
                                                               : "sqlite:PATH or a postgresql:// URI");
            if (!val || !cmd_opt_once("worker add", a, streq(a, "--data") ? &data : &db, val)) return EXIT_USAGE;
        } else if (a[0] == '-') {
            return cmd_opt_unknown("worker add", a, "--data DIR, --db URL, and one NAME");
        } else if (name) {
            fprintf(stderr, "kiln worker add: %s: one worker at a time (%s is the name already)\n", a, name);
            return EXIT_USAGE;
        } else name = a;
    }
    if (!name) goto usage;
    struct kiln_store *st = NULL;
    int r = cmd_store_open("worker add", data, db, false, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    char token[KILN_TOKEN_LEN + 1], *err = NULL;
    int rc = EXIT_OK;
    if (kiln_store_worker_add(st, name, token, NULL, &err) < 0) {
        fprintf(stderr, "kiln worker add: %s\n", err);
        rc = EXIT_FAIL;
    } else {
        fprintf(stderr, "kiln worker add: %s. Its token (shown this once, only its hash is kept):\n", name);
        printf("%s\n", token);
    }
    explicit_bzero(token, sizeof(token));
    kiln_store_close(st);
    free(err);
    return rc;
usage:
    fprintf(stderr, "usage: kiln worker add NAME (--data DIR | --db URL)\n"
                    "       kiln worker --server URL [--token WTOKEN] [--slots N] [--work DIR] [--key SECRET.key]\n"
                    "  adds a worker host and prints its token once; --db (or $KILN_DB): a postgresql:// URI\n");
    return EXIT_USAGE;
}
