/* kiln worker add: a host allowed to pull jobs from the service, with its token printed once. */
#include <errno.h>

#include "cmd/common.h"
#include "service/store.h"
#include "util/util.h"

int cmd_worker(int argc, char **argv)
{
    if (argc < 2 || !streq(argv[1], "add")) return cmd_worker_run(argc, argv);
    const char *data = NULL, *db = NULL;
    const struct cmd_opt opts[] = {
        {0, "data", "DIR", CMD_STR, &data, .help = "the service's state directory (its kiln.db)"},
        {0, "db", "URL", CMD_STR, &db, .help = "sqlite:PATH or a postgresql:// URI instead of DIR/kiln.db (or $KILN_DB)"},
        {0},
    };
    const struct cmd_verb v = {
        "worker add", "NAME (--data DIR | --db URL)",
        "Registers a host allowed to pull the validation service's jobs and prints its token once, on\n"
        "stdout (only its hash is kept); `kiln worker --token` or $KILN_WORKER_TOKEN takes it.",
        opts, 1, -1, "NAME",
        .exits = "0 added, 1 it could not be stored (the name exists, the database failed), 2 usage or\n"
                 "no kiln database there",
    };
    int n, rc = cmd_parse(&v, argc - 1, argv + 1, &n);
    if (rc != CMD_GO) return rc;
    if (n > 1) {
        fprintf(stderr, "kiln worker add: %s: one worker at a time (%s is the name already)\n", argv[3], argv[2]);
        return EXIT_USAGE;
    }
    const char *name = argv[2];
    if (!kiln_store_name_ok(name))
        return cmd_usage_error("worker add", "worker name \"%.64s\": want " KILN_STORE_NAME_RULE, name);
    struct kiln_store *st = NULL;
    int r = cmd_store_open("worker add", data, db, false, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    char token[KILN_TOKEN_LEN + 1], *err = NULL;
    rc = EXIT_OK;
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
}
