/* kiln tenant add: a publisher of the service (src/service/store.h), with its API token
 * printed once. */
#include <errno.h>

#include "cmd/common.h"
#include "service/store.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/util.h"

/* Each --trust key's id and text (ids[k], texts[k]): EXIT_OK, or EXIT_USAGE after naming the
 * key that cannot be read. */
static int read_keys(const char **keys, size_t nkeys, char (*ids)[17], char **texts)
{
    char *err = NULL;
    int rc = EXIT_OK;
    for (size_t k = 0; k < nkeys && rc == EXIT_OK; k++) {
        if (ms_key_id(keys[k], ids[k], &err) < 0 || read_file(keys[k], KILN_STORE_KEY_MAX, &texts[k], NULL) < 0) {
            fprintf(stderr, "kiln tenant add: --trust %s: %s\n", keys[k], err ? err : "cannot read the public key file (at most 1 KiB)");
            rc = EXIT_USAGE;
        }
    }
    free(err);
    return rc;
}

/* kiln tenant add NAME: every key file read first (a bad one adds no tenant), the tenant
 * stored, its token printed once on stdout, then each key trusted. The exit code. */
static int tenant_add(const char *name, const char **keys, size_t nkeys, const char *data, const char *db, long max_jobs,
                      bool admin)
{
    /* every key is read before anything is stored: a bad key file adds no tenant */
    char (*ids)[17] = xcalloc(nkeys + 1, sizeof(*ids));
    char **texts = xcalloc(nkeys + 1, sizeof(*texts));
    char *err = NULL;
    int rc = read_keys(keys, nkeys, ids, texts);
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
    strv_free(texts, nkeys);
    free(ids);
    free(err);
    return rc;
}

int cmd_tenant(int argc, char **argv)
{
    const char *data = NULL, *db = NULL;
    struct cmd_strs trust = {0};
    long max_jobs = 2;
    bool admin = false;
    const struct cmd_opt opts[] = {
        {0, "data", "DIR", CMD_STR, &data, .help = "the service's state directory (its kiln.db)"},
        {0, "db", "URL", CMD_STR, &db, .help = "sqlite:PATH or a postgresql:// URI instead of DIR/kiln.db (or $KILN_DB)"},
        {0, "trust", "KEY.pub", CMD_LIST, &trust,
         .help = "a minisign public key whose signatures self-service publishing\naccepts; repeatable"},
        {0, "max-jobs", "N", CMD_LONG, &max_jobs, 1, 100000, .help = "jobs of this tenant running at once (default 2)"},
        {0, "admin", NULL, CMD_FLAG, &admin, .help = "its token manages tenants and sees every tenant's jobs and images"},
        {0},
    };
    const struct cmd_verb add = {
        "tenant add", "NAME (--data DIR | --db URL) [--max-jobs N] [--trust KEY.pub]... [--admin]",
        "Adds a publisher to the validation service and prints its API token once, on stdout (only\n"
        "its hash is kept).",
        opts, 1, -1, "NAME",
        .exits = "0 added, 1 it could not be stored (the name exists, the database failed), 2 usage,\n"
                 "no kiln database there, or a --trust key that cannot be read",
    };
    const struct cmd_verb top = {"tenant", "add NAME (--data DIR | --db URL) [options]",
                                 "Manages the validation service's publishers. `kiln tenant add --help` says more.", NULL, 0, 0,
                                 NULL, .exits = add.exits};
    if (argc >= 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) return cmd_help(&top, stdout), EXIT_OK;
    if (argc >= 2 && argv[1][0] == '-')
        return cmd_usage_error("tenant", "unknown option %s; the options are: add's (kiln tenant add --help)", argv[1]);
    if (argc < 2 || !streq(argv[1], "add"))
        return cmd_usage_error("tenant", "%s%s; usage: kiln tenant add %s", argc < 2 ? "which subcommand? add" : "unknown subcommand ",
                               argc < 2 ? "" : argv[1], add.synopsis);
    int n, rc = cmd_parse(&add, argc - 1, argv + 1, &n);
    if (rc != CMD_GO) return free(trust.v), rc;
    if (n > 1) {
        fprintf(stderr, "kiln tenant add: %s: one tenant at a time (%s is the name already)\n", argv[3], argv[2]);
        return free(trust.v), EXIT_USAGE;
    }
    const char *name = argv[2], **keys = trust.v;
    size_t nkeys = trust.n;
    /* a name the store would refuse is a usage error, said before the database is opened */
    if (!kiln_store_name_ok(name)) {
        free(trust.v);
        return cmd_usage_error("tenant add", "tenant name \"%.64s\": want " KILN_STORE_NAME_RULE, name);
    }
    rc = tenant_add(name, keys, nkeys, data, db, max_jobs, admin);
    free(trust.v);
    return rc;
}
