/* kiln serve: the validation service's API (src/service/server.c) until SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "cmd/common.h"
#include "cmd/passphrase.h"
#include "service/server.h"
#include "service/store.h"
#include "trust/minisign.h"
#include "util/fs.h"
#include "util/secret.h"
#include "util/log.h"
#include "util/util.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

int cmd_serve(int argc, char **argv)
{
    struct kiln_server_opts o = {.listen = "127.0.0.1:8470", .max_image = (int64_t)16 << 30, .lease_ms = 60000,
                                 .sweep_ms = 5000, .max_queued = 1000};
    static const char opts[] = "--init, --data DIR, --listen IPV4:PORT, --db URL, --gallery DIR, --max-image-mb N, --max-queued N, --lease-s N, "
                               "--gallery-key SECRET.key, --gallery-require-priority N";
    const char *gkey = NULL;
    _cleanup_free_ char *pub = NULL; /* before any goto usage */
    long v;
    bool init = false;
    static const char *const valued[] = {"--listen", "--data", "--db", "--gallery", "--max-image-mb", "--max-queued", "--lease-s",
                                         "--gallery-key", "--gallery-require-priority"};
    const char *seen[ARRAY_SIZE(valued)] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (streq(a, "--help")) goto usage;
        if (streq(a, "--init")) {
            init = true;
            continue;
        }
        if (streq(a, "--listen")) val = cmd_opt_value("serve", argc, argv, &i, "IPV4:PORT, e.g. 127.0.0.1:8470");
        else if (streq(a, "--data")) val = cmd_opt_value("serve", argc, argv, &i, "the directory of the service's state");
        else if (streq(a, "--db")) val = cmd_opt_value("serve", argc, argv, &i, "sqlite:PATH or a postgresql:// URI");
        else if (streq(a, "--gallery")) val = cmd_opt_value("serve", argc, argv, &i, "the gallery the update server offers");
        else if (streq(a, "--max-image-mb")) val = cmd_opt_value("serve", argc, argv, &i, "the upload cap in MiB");
        else if (streq(a, "--max-queued")) val = cmd_opt_value("serve", argc, argv, &i, "a tenant's queued jobs before 429");
        else if (streq(a, "--lease-s")) val = cmd_opt_value("serve", argc, argv, &i, "a claim's lease in seconds");
        else if (streq(a, "--gallery-key"))
            val = cmd_opt_value("serve", argc, argv, &i, "the minisign secret key (KEY.key, KEY.pub beside it) that signs tenants' galleries");
        else if (streq(a, "--gallery-require-priority"))
            val = cmd_opt_value("serve", argc, argv, &i, "the highest priority of built-in cases a published run must pass (0-5, -1: none)");
        else return cmd_opt_unknown("serve", a, opts);
        if (!val) return EXIT_USAGE;
        for (size_t k = 0; k < ARRAY_SIZE(valued); k++)
            if (streq(a, valued[k]) && !cmd_opt_once("serve", a, &seen[k], val)) return EXIT_USAGE;
        if (streq(a, "--listen")) o.listen = val;
        else if (streq(a, "--data")) o.data = val;
        else if (streq(a, "--db")) o.db_url = val;
        else if (streq(a, "--gallery")) o.gallery = val;
        else if (streq(a, "--gallery-key")) gkey = val;
        else if (streq(a, "--gallery-require-priority")) {
            if (!cmd_opt_long("serve", a, val, -1, 5, &v)) return EXIT_USAGE;
            o.publish_priority = v;
        } else if (streq(a, "--max-image-mb")) {
            if (!cmd_opt_long("serve", a, val, 1, (1L << 30) - 1, &v)) return EXIT_USAGE;
            o.max_image = (int64_t)v << 20;
        } else if (streq(a, "--max-queued")) {
            if (!cmd_opt_long("serve", a, val, 1, 1000000, &v)) return EXIT_USAGE;
            o.max_queued = v;
        } else {
            if (!cmd_opt_long("serve", a, val, 5, 3600, &v)) return EXIT_USAGE;
            o.lease_ms = v * 1000;
        }
    }
    if (init) {
        /* the one verb besides kiln serve itself that makes a database: every other verb
         * refuses a --data or --db without one (a typo must not start a second service) */
        struct kiln_store *st = NULL;
        int r = cmd_store_open("serve --init", o.data, o.db_url, true, &st);
        if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
        int version = 0;
        char *err = NULL;
        kiln_store_schema_version(st, &version, &err);
        const char *in = o.db_url || (getenv("KILN_DB") && *getenv("KILN_DB")) ? NULL : o.data;
        fprintf(stderr, "kiln serve --init: the %s database%s%s is ready (schema version %d)\n", kiln_store_backend(st),
                in ? " in " : "", in ? in : "", version);
        free(err);
        kiln_store_close(st);
        return EXIT_OK;
    }
    if (!o.data) {
        fprintf(stderr, "kiln serve: --data DIR is needed: the directory of images, job files and (without --db) kiln.db\n");
        return EXIT_USAGE;
    }
    if (!o.db_url) o.db_url = getenv("KILN_DB") && *getenv("KILN_DB") ? getenv("KILN_DB") : NULL;
    /* the gallery key: its passphrase from $KILN_PASSPHRASE (or the terminal), scrypt once, the
     * secret kept in memory only (wiped at exit); logs name its public key id, nothing more */
    struct ms_seckey *key = NULL;
    if (gkey) {
        char *pass = NULL, *err = NULL, kid[17], pid[17];
        pub = endswith(gkey, ".key") ? xasprintf("%.*s.pub", (int)(strlen(gkey) - 4), gkey) : NULL;
        if (!pub || !file_exists(pub)) {
            fprintf(stderr, "kiln serve: --gallery-key %s: want KEY.key with its KEY.pub beside it (kiln keygen --out KEY)\n", gkey);
            return EXIT_USAGE;
        }
        if (ms_key_encrypted(gkey) && !(pass = passphrase_read("Gallery key passphrase: ", false))) {
            fprintf(stderr, "kiln serve: --gallery-key %s is encrypted and there is no passphrase (set KILN_PASSPHRASE)\n", gkey);
            return EXIT_USAGE;
        }
        if (pass) secret_add(pass);
        int kr = ms_seckey_load(gkey, pass, &key, &err);
        if (pass) explicit_bzero(pass, strlen(pass));
        free(pass);
        if (kr == 0) {
            ms_seckey_id(key, kid);
            if (ms_key_id(pub, pid, &err) == 0 && !streq(kid, pid)) {
                err = xasprintf("%s is key %s, but %s is key %s: not a pair", gkey, kid, pub, pid);
                kr = -EINVAL;
            }
        }
        if (kr < 0) {
            fprintf(stderr, "kiln serve: --gallery-key: %s\n", err);
            free(err);
            ms_seckey_free(key);
            return EXIT_USAGE;
        }
        log_info("kiln serve: tenants' galleries are signed with key %s (%s)", kid, pub);
        o.gallery_key = key;
        o.gallery_pub = pub;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char *err = NULL;
    int r = kiln_server_run(&o, &stop, &err);
    ms_seckey_free(key);
    if (r < 0) {
        fprintf(stderr, "kiln serve: %s\n", err ? err : strerror(-r));
        free(err);
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
usage:
    fprintf(stderr, "usage: kiln serve --init (--data DIR | --db URL)\n"
                    "       kiln serve --data DIR [--listen IPV4:PORT] [--db URL] [--max-image-mb N] [--max-queued N] [--lease-s N]\n"
                    "                  [--gallery DIR] [--gallery-key SECRET.key [--gallery-require-priority N]]\n"
                    "  serves the validation API on http://IPV4:PORT/api/v1/ (default 127.0.0.1:8470); images and job files\n"
                    "  under DIR; the database DIR/kiln.db unless --db (or $KILN_DB) names a postgresql:// URI.\n"
                    "  --max-image-mb: the upload cap (default 16384); --max-queued: a tenant's queued jobs before\n"
                    "  submissions get 429 (default 1000); --lease-s: a claim's lease (default 60).\n"
                    "  --gallery: also the update server: Omaha v3 at POST /v1/update/, the versions' payloads\n"
                    "  under GET /v1/update/payload/, rollouts set with `kiln rollout` (docs/updates.md).\n"
                    "  --gallery-key: jobs submitted with --publish that pass are published into DIR/galleries/TENANT,\n"
                    "  signed with this key (its passphrase from $KILN_PASSPHRASE); a new gallery requires the built-in\n"
                    "  cases up to --gallery-require-priority (default 0) to pass.\n"
                    "  --init: create (or upgrade) the database and exit; only kiln serve makes one, the other verbs\n"
                    "  refuse a --data or --db without it. Add tenants and workers with `kiln tenant add` and\n"
                    "  `kiln worker add`. SIGTERM stops it.\n");
    return EXIT_USAGE;
}
