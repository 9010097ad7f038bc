/* kiln serve: the validation service's HTTP API (libmicrohttpd, one thread per connection)
 * over the job store (store.h). Routes and request bodies: api.h; the API as OpenAPI 3:
 * data/service/openapi.json (served at /api/v1/openapi.json).
 *
 * DATA holds what the database does not: images/DIGEST (uploads, stored once per digest,
 * written to images/.tmp and renamed) and jobs/ID/ (the console and the files the worker
 * uploaded: results.json, junit.xml, report.html, kiln.log, archive.tar.zst[.minisig]).
 * Logs one line per request (method, path, status, who) through util/log: never a token. */
#pragma once
#include <signal.h>
#include <stdint.h>

#include "trust/minisign.h"

struct kiln_server_opts {
    const char *listen;    /* "HOST:PORT"; HOST an IPv4 address (default 127.0.0.1:8470); port 0: the
                            * kernel picks a free one, which the "listening on" log line names */
    const char *data;      /* the data directory (created 0700) */
    const char *db_url;    /* store URL (store.h); NULL: sqlite:DATA/kiln.db */
    int64_t max_image;     /* upload cap in bytes (default 16 GiB) */
    int64_t lease_ms;      /* a claim's lease, renewed by heartbeats (default 60000) */
    int64_t sweep_ms;      /* how often lapsed leases are swept (default 5000) */
    long max_queued;       /* a tenant's queued jobs before submissions get 429 (default 1000) */
    const char *gallery;   /* a gallery directory: also answer Omaha at POST /v1/update/ and serve
                            * its versions' files at GET /v1/update/payload/ (docs/updates.md) */
    /* self-service publishing (publish.h): the key that signs the tenants' galleries under
     * DATA/galleries/ and its public key file; NULL: jobs asking to publish are refused (400) */
    const struct ms_seckey *gallery_key;
    const char *gallery_pub;
    long publish_priority; /* a new tenant gallery requires built-in cases at or below (default 0) */
    int64_t max_machines;  /* the update server's machines kept per image name (store.h; 0: the default) */
};

/* Serves until *stop is set (a signal handler sets it), then stops taking connections, lets
 * the open ones end (a console stream or long poll ends within a second) and returns 0.
 * -errno with *reterr on a setup failure (bad address, port taken, data dir not writable). */
int kiln_server_run(const struct kiln_server_opts *o, volatile sig_atomic_t *stop, char **reterr);
