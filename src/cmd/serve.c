/* kiln serve: the validation service's API (src/service/server.c) until SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "cmd/common.h"
#include "service/server.h"
#include "util/log.h"
#include "util/util.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

int cmd_serve(int argc, char **argv)
{
    struct kiln_server_opts o = {.listen = "127.0.0.1:8470", .max_image = (int64_t)16 << 30, .lease_ms = 60000,
                                 .sweep_ms = 5000, .max_queued = 1000};
    long v;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--listen") && i + 1 < argc) o.listen = argv[++i];
        else if (streq(argv[i], "--data") && i + 1 < argc) o.data = argv[++i];
        else if (streq(argv[i], "--db") && i + 1 < argc) o.db_url = argv[++i];
        else if (streq(argv[i], "--gallery") && i + 1 < argc) o.gallery = argv[++i];
        else if (streq(argv[i], "--max-image-mb") && i + 1 < argc && parse_long(argv[i + 1], &v) && v > 0 && v < (1L << 30))
            o.max_image = (int64_t)v << 20, i++;
        else if (streq(argv[i], "--max-queued") && i + 1 < argc && parse_long(argv[i + 1], &v) && v >= 1 && v <= 1000000)
            o.max_queued = v, i++;
        else if (streq(argv[i], "--lease-s") && i + 1 < argc && parse_long(argv[i + 1], &v) && v >= 5 && v <= 3600)
            o.lease_ms = v * 1000, i++;
        else goto usage;
    }
    if (!o.data) goto usage;
    if (!o.db_url) o.db_url = getenv("KILN_DB") && *getenv("KILN_DB") ? getenv("KILN_DB") : NULL;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char *err = NULL;
    int r = kiln_server_run(&o, &stop, &err);
    if (r < 0) {
        fprintf(stderr, "kiln serve: %s\n", err ? err : strerror(-r));
        free(err);
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
usage:
    fprintf(stderr, "usage: kiln serve --data DIR [--listen IPV4:PORT] [--db URL] [--max-image-mb N] [--max-queued N] [--lease-s N] [--gallery DIR]\n"
                    "  serves the validation API on http://IPV4:PORT/api/v1/ (default 127.0.0.1:8470); images and job files\n"
                    "  under DIR; the database DIR/kiln.db unless --db (or $KILN_DB) names a postgresql:// URI.\n"
                    "  --max-image-mb: the upload cap (default 16384); --max-queued: a tenant's queued jobs before\n"
                    "  submissions get 429 (default 1000); --lease-s: a claim's lease (default 60).\n"
                    "  --gallery: also the update server: Omaha v3 at POST /v1/update/, the versions' payloads\n"
                    "  under GET /v1/update/payload/, rollouts set with `kiln rollout` (docs/updates.md).\n"
                    "  Add tenants and workers with `kiln tenant add` and `kiln worker add`. SIGTERM stops it.\n");
    return EXIT_USAGE;
}
