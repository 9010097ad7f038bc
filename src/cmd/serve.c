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

/* --gallery-key KEY.key with KEY.pub beside it: its passphrase from $KILN_PASSPHRASE (or the
 * terminal), scrypt once, the secret kept in memory only (wiped at exit); logs name its public
 * key id, nothing more. EXIT_OK with *key and *pub, else the exit code after saying why. */
static int gallery_key(const char *gkey, struct ms_seckey **key, char **pub)
{
    char *pass = NULL, *err = NULL, kid[17], pid[17];
    *pub = endswith(gkey, ".key") ? xasprintf("%.*s.pub", (int)(strlen(gkey) - 4), gkey) : NULL;
    if (!*pub || !file_exists(*pub))
        return cmd_usage_error("serve", "--gallery-key %s: want KEY.key with its KEY.pub beside it (kiln keygen --out KEY)", gkey);
    if (ms_key_encrypted(gkey) && !(pass = passphrase_read("Gallery key passphrase: ", false))) {
        fprintf(stderr, "kiln serve: --gallery-key %s is encrypted and there is no passphrase (set KILN_PASSPHRASE)\n", gkey);
        return EXIT_USAGE;
    }
    if (pass) secret_add(pass);
    /* an encrypted key's scrypt takes seconds (10-12 s on a busy 2-core host): said first */
    if (pass) fprintf(stderr, "kiln serve: reading the gallery key %s (scrypt: this takes some seconds)...\n", gkey);
    int kr = ms_seckey_load(gkey, pass, key, &err);
    if (pass) explicit_bzero(pass, strlen(pass));
    free(pass);
    if (kr == 0) {
        ms_seckey_id(*key, kid);
        if (ms_key_id(*pub, pid, &err) == 0 && !streq(kid, pid)) {
            err = xasprintf("%s is key %s, but %s is key %s: not a pair", gkey, kid, *pub, pid);
            kr = -EINVAL;
        }
    }
    if (kr < 0) {
        fprintf(stderr, "kiln serve: --gallery-key: %s\n", err);
        free(err);
        ms_seckey_free(*key);
        *key = NULL;
        return EXIT_USAGE;
    }
    log_info("kiln serve: tenants' galleries are signed with key %s (%s)", kid, *pub);
    return EXIT_OK;
}

/* kiln serve --init: creates or upgrades the database and says which; the exit code. */
static int serve_init(const struct kiln_server_opts *o)
{
    /* the one verb besides kiln serve itself that makes a database: every other verb refuses
     * a --data or --db without one (a typo must not start a second service) */
    struct kiln_store *st = NULL;
    int r = cmd_store_open("serve --init", o->data, o->db_url, true, &st);
    if (r < 0) return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    int version = 0;
    char *err = NULL;
    kiln_store_schema_version(st, &version, &err);
    const char *in = o->db_url || (getenv("KILN_DB") && *getenv("KILN_DB")) ? NULL : o->data;
    fprintf(stderr, "kiln serve --init: the %s database%s%s is ready (schema version %d)\n", kiln_store_backend(st), in ? " in " : "",
            in ? in : "", version);
    free(err);
    kiln_store_close(st);
    return EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    struct kiln_server_opts o = {.listen = "127.0.0.1:8470", .sweep_ms = 5000};
    const char *gkey = NULL;
    _cleanup_free_ char *pub = NULL;
    long max_image_mb = 16384, lease_s = 60, max_queued = 1000, prio = 0, max_machines = KILN_STORE_MACHINES_MAX;
    bool init = false;
    const struct cmd_opt opts[] = {
        {0, "init", NULL, CMD_FLAG, &init,
         .help = "create (or upgrade) the database and exit: only kiln serve makes one,\nthe other verbs refuse a --data or --db without it"},
        {0, "data", "DIR", CMD_STR, &o.data, .help = "the service's state: images, job files, kiln.db (without --db)"},
        {0, "listen", "IPV4:PORT", CMD_STR, &o.listen, .not_with = "init", .help = "where the API listens (default 127.0.0.1:8470)"},
        {0, "db", "URL", CMD_STR, &o.db_url, .help = "sqlite:PATH or a postgresql:// URI (default: $KILN_DB, else\nDIR/kiln.db)"},
        {0, "gallery", "DIR", CMD_STR, &o.gallery, .not_with = "init",
         .help = "also the update server: Omaha v3 at POST /v1/update/, payloads under\nGET /v1/update/payload/, rollouts "
                 "set with kiln rollout (docs/updates.md)"},
        {0, "max-machines", "N", CMD_LONG, &max_machines, 1, 1000000000, .needs = "gallery",
         .help = "the update server's machines kept per image name (default 100000):\na new one past it takes the row of one "
                 "unseen for 7 days, else\nis refused, error-instanceRegistrationFailed (docs/updates.md);\nwith --gallery"},
        {0, "max-image-mb", "N", CMD_LONG, &max_image_mb, 1, (1L << 30) - 1, .not_with = "init", .help = "the upload cap in MiB (default 16384)"},
        {0, "max-queued", "N", CMD_LONG, &max_queued, 1, 1000000, .not_with = "init",
         .help = "a tenant's queued jobs before submissions get 429 (default 1000)"},
        {0, "lease-s", "N", CMD_LONG, &lease_s, 5, 3600, .not_with = "init", .help = "a claim's lease in seconds (default 60)"},
        {0, "gallery-key", "SECRET.key", CMD_STR, &gkey, .not_with = "init",
         .help = "jobs submitted with --publish that pass are published into\nDIR/galleries/TENANT, signed with this key "
                 "(KEY.pub beside it; its\npassphrase from $KILN_PASSPHRASE)"},
        {0, "gallery-require-priority", "N", CMD_LONG, &prio, -1, 5, .needs = "gallery-key",
         .help = "a new tenant gallery requires the built-in cases up to priority N\nto pass (default 0; -1: none)"},
        {0},
    };
    const struct cmd_verb v = {
        "serve", "--data DIR [--listen IPV4:PORT] [--db URL] [--max-image-mb N] [--max-queued N] [--lease-s N]\n"
                 "--data DIR [--gallery DIR] [--gallery-key SECRET.key [--gallery-require-priority N]]\n"
                 "--init (--data DIR | --db URL)",
        "Serves the validation service's API on http://IPV4:PORT/api/v1/ and its dashboard at /.\n"
        "Add tenants and workers with kiln tenant add and kiln worker add. SIGINT or SIGTERM stops it.",
        opts, 0, 0, NULL,
        .exits = "0 stopped by SIGINT/SIGTERM, 1 the database cannot be opened or upgraded (unreachable,\n"
                 "corrupt, locked, from a newer kiln) or the server cannot start (out of memory), 2 usage or\n"
                 "configuration: no --data or one that cannot be created, a --listen that is malformed, taken,\n"
                 "not this host's or below 1024 without the right, a --db of an unknown kind, a --gallery-key\n"
                 "that is not a key pair or lacks its passphrase; with --init: 0 the database is ready, 1 it\n"
                 "cannot be made or upgraded, 2 usage",
    };
    int n, rc = cmd_parse(&v, argc, argv, &n);
    if (rc != CMD_GO) return rc;
    o.max_image = (int64_t)max_image_mb << 20;
    o.lease_ms = lease_s * 1000;
    o.max_queued = max_queued;
    o.publish_priority = prio;
    o.max_machines = max_machines;
    if (init) return serve_init(&o);
    if (!o.data) {
        return cmd_usage_error("serve", "--data DIR is needed: the directory of images, job files and (without --db) kiln.db");
    }
    if (!o.db_url) o.db_url = getenv("KILN_DB") && *getenv("KILN_DB") ? getenv("KILN_DB") : NULL;
    struct ms_seckey *key = NULL;
    if (gkey && (rc = gallery_key(gkey, &key, &pub)) != EXIT_OK) return rc;
    o.gallery_key = key;
    o.gallery_pub = pub;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char *err = NULL;
    int r = kiln_server_run(&o, &stop, &err);
    ms_seckey_free(key);
    if (r < 0) {
        if (r == -EINVAL) cmd_usage_error("serve", "%s", err ? err : strerror(-r));
        else fprintf(stderr, "kiln serve: %s\n", err ? err : strerror(-r));
        free(err);
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}
