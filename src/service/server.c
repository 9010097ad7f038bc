/* kiln serve: see server.h. */
#include "service/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/req.h"
#include "gallery/gallery.h"
#include "image/imagecheck.h"
#include "service/api.h"
#include "service/dashboard.h"
#include "service/publish.h"
#include "service/store.h"
#include "service/submitcheck.h"
#include "util/fs.h"
#include "util/inroot.h"
#include "util/log.h"
#include "util/util.h"

#define POOL_KEEP 8            /* idle store handles kept open */
#define CONSOLE_POST_MAX (1 << 20)
#define ARTIFACT_MAX ((int64_t)1 << 30)
#define CLAIM_WAIT_MAX_S 30
#define CLAIM_POLL_MS 500
#define POLL_MS 250

/* Connections (libmicrohttpd with epoll and a pool of threads: a connection costs a socket and
 * its buffer, not a thread, so idle ones block nobody). A request that waits (a worker's long
 * poll, a console stream) is suspended and resumed every POLL_MS rather than holding a pool
 * thread. Deadlines that a trickle of bytes cannot stretch, enforced by the keeper thread:
 * a request's headers within HEADER_DEADLINE_MS of the connection opening or of its previous
 * answer; its body at BODY_MIN_RATE bytes/s on average after BODY_GRACE_MS. MHD closes a
 * connection silent for IDLE_TIMEOUT_S (a client that stops reading its answer). */
#define POOL_THREADS 8
#define CONN_MAX 1024u
#define CONN_PER_IP 64u /* bench/service: 50 clients at once from one address */
#define IDLE_TIMEOUT_S 30u
#define HEADER_DEADLINE_MS 10000
#define BODY_GRACE_MS 30000
#define BODY_MIN_RATE 16384

struct server {
    const struct kiln_server_opts *o;
    struct kiln_store_opts store_opts;
    char *url, *images, *tmp, *jobs, *openapi;
    volatile sig_atomic_t *stop;
    pthread_mutex_t lock;
    struct kiln_store *idle[POOL_KEEP];
    int nidle;
    /* the update server: the gallery's verified catalog, reloaded every CATALOG_TTL_MS */
    pthread_mutex_t catalog_lock;
    json_t *catalog;
    int64_t catalog_ms;
    char *gallery_state; /* DATA/gallery-seen.json: the newest index serial seen */
    json_t *unlisted_logged; /* {path: true} of the gallery's unlisted entries logged */
    char *catalog_err;       /* the last reason the gallery could not be read, logged once */
    struct kiln_dash *dash;
    /* the open connections (struct conn), their deadlines and the suspended ones */
    pthread_mutex_t conn_lock;
    struct conn *conns;
    bool closing; /* stopping: nothing is suspended any more */
};

enum conn_phase { PH_HEADERS, PH_BODY, PH_ANSWER };
struct conn {
    struct conn *prev, *next;
    struct MHD_Connection *mc;
    int fd;
    enum conn_phase phase;
    int64_t since_ms; /* when the phase began (monotonic) */
    int64_t body;     /* bytes of the body so far */
    bool parked;      /* suspended until the keeper's next round */
    bool cut;         /* shut down for a missed deadline */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_phase(struct server *s, struct MHD_Connection *c, enum conn_phase ph)
{
    struct conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->conn_lock);
    k->phase = ph;
    k->since_ms = mono_ms();
    k->body = 0;
    pthread_mutex_unlock(&s->conn_lock);
}

static void conn_body(struct server *s, struct MHD_Connection *c, size_t n)
{
    struct conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->conn_lock);
    k->body += (int64_t)n;
    pthread_mutex_unlock(&s->conn_lock);
}

static void conn_notify(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn *k = xcalloc(1, sizeof(*k));
        *k = (struct conn){.mc = c, .fd = ci ? ci->connect_fd : -1, .phase = PH_HEADERS, .since_ms = mono_ms()};
        pthread_mutex_lock(&s->conn_lock);
        k->next = s->conns;
        if (s->conns) s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->conn_lock);
        *ctx = k;
        return;
    }
    struct conn *k = *ctx;
    if (!k) return;
    /* MHD closes the socket after this notice: the keeper never shuts down a reused fd */
    pthread_mutex_lock(&s->conn_lock);
    if (k->prev) k->prev->next = k->next;
    else s->conns = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&s->conn_lock);
    free(k);
    *ctx = NULL;
}

/* Suspends the request on c until the keeper's next round (the access handler, or the content
 * reader, is called again then); false, and nothing suspended, once the server is stopping. */
static bool park(struct server *s, struct MHD_Connection *c)
{
    struct conn *k = conn_of(c);
    pthread_mutex_lock(&s->conn_lock);
    bool ok = k && !s->closing;
    if (ok) {
        MHD_suspend_connection(c);
        k->parked = true;
    }
    pthread_mutex_unlock(&s->conn_lock);
    return ok;
}

/* Resumes every suspended request; at the end (stopping) for good. */
static void unpark_all(struct server *s, bool stopping)
{
    pthread_mutex_lock(&s->conn_lock);
    if (stopping) s->closing = true;
    for (struct conn *k = s->conns; k; k = k->next)
        if (k->parked) {
            k->parked = false;
            MHD_resume_connection(k->mc);
        }
    pthread_mutex_unlock(&s->conn_lock);
}

/* Shuts down the connections past a deadline (MHD then sees the end of the stream and closes
 * them); how many. */
static int cut_late(struct server *s)
{
    int n = 0;
    int64_t now = mono_ms();
    pthread_mutex_lock(&s->conn_lock);
    for (struct conn *k = s->conns; k; k = k->next) {
        int64_t age = now - k->since_ms;
        bool late = (k->phase == PH_HEADERS && age > HEADER_DEADLINE_MS) ||
                    (k->phase == PH_BODY && age > BODY_GRACE_MS + k->body * 1000 / BODY_MIN_RATE);
        if (late && !k->parked && !k->cut && k->fd >= 0) {
            shutdown(k->fd, SHUT_RDWR);
            k->cut = true;
            n++;
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    return n;
}

static void *keeper(void *arg)
{
    struct server *s = arg;
    while (!*s->stop) {
        sleep_ms(POLL_MS);
        unpark_all(s, false);
        int n = cut_late(s);
        if (n)
            log_warn("kiln serve: closed %d connection(s) that sent no request headers within %d s, or a body slower than %d "
                     "bytes/s after %d s",
                     n, HEADER_DEADLINE_MS / 1000, BODY_MIN_RATE, BODY_GRACE_MS / 1000);
    }
    return NULL;
}

/* One store handle per thread at a time: taken from the pool, or opened; NULL with *rc (when
 * rc is not NULL) the open's -errno. */
static struct kiln_store *store_get_rc(struct server *s, int *rc)
{
    pthread_mutex_lock(&s->lock);
    struct kiln_store *st = s->nidle ? s->idle[--s->nidle] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (st) return st;
    char *err = NULL;
    int e = kiln_store_open(s->url, &s->store_opts, &st, &err);
    if (e < 0) {
        log_error("kiln serve: cannot open the store: %s", err);
        free(err);
        if (rc) *rc = e;
        return NULL;
    }
    return st;
}

static struct kiln_store *store_get(struct server *s) { return store_get_rc(s, NULL); }

/* Back to the pool, or closed: a handle whose connection was lost (a PostgreSQL restart) is
 * never handed out again, so the next request opens a new one. */
static void store_put(struct server *s, struct kiln_store *st)
{
    if (!st) return;
    if (kiln_store_alive(st)) {
        pthread_mutex_lock(&s->lock);
        if (s->nidle < POOL_KEEP) s->idle[s->nidle++] = st, st = NULL;
        pthread_mutex_unlock(&s->lock);
    }
    if (st) kiln_store_close(st);
}

enum who { WHO_NONE, WHO_TENANT, WHO_WORKER };

struct req {
    struct kiln_route_match m;
    const char *method;
    char *url; /* the path only: a token never travels in it */
    enum who who;
    struct kiln_tenant t;
    struct kiln_worker w;
    int64_t scope;
    /* a dashboard page (dashboard.h) and its state */
    bool dash;
    bool framing_bad; /* answered 400 on its headers (framing_refused) */
    int64_t claim_until_ms, claim_next_ms; /* a worker's long poll: when it ends (0: not begun), when to ask the store again */
    void *dash_state;
    int db_rc; /* why req_store found no store handle (-errno) */
    /* an early error (auth, size) answered once the body is drained */
    int status;
    char *error, *field;
    /* JSON bodies */
    struct sbuf body;
    /* streamed uploads: images, artifacts, console */
    int fd;
    char *tmp, *dest;
    EVP_MD_CTX *md;
    int64_t size, cap;
};

static void req_free(struct req *r)
{
    if (!r) return;
    kiln_route_clear(&r->m);
    free(r->url);
    free(r->error);
    free(r->field);
    sbuf_free(&r->body);
    if (r->fd >= 0) close(r->fd);
    if (r->tmp) unlink(r->tmp);
    free(r->tmp);
    free(r->dest);
    EVP_MD_CTX_free(r->md);
    kiln_dash_state_free(r->dash_state);
    free(r);
}

static void fail(struct req *r, int status, const char *field, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(struct req *r, int status, const char *field, const char *fmt, ...)
{
    if (r->status) return; /* the first error stands */
    va_list ap;
    va_start(ap, fmt);
    r->status = status;
    r->error = xvasprintf(fmt, ap);
    r->field = field ? xstrdup(field) : NULL;
    va_end(ap);
}

static enum MHD_Result send_json(struct MHD_Connection *c, struct req *r, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (!text) return MHD_NO;
    size_t n = strlen(text);
    text = xrealloc(text, n + 2);
    text[n++] = '\n';
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (r->framing_bad) MHD_add_response_header(resp, "Connection", "close");
    if (status == 429 || status == 503) MHD_add_response_header(resp, "Retry-After", "30");
    enum MHD_Result res = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    /* a dashboard path may hold a sign-in link's nonce (framing_refused answers those here) */
    log_info("%s %s -> %d%s%s", r->method, r->dash ? "(dashboard)" : r->url, status,
             r->who == WHO_TENANT ? " tenant " : r->who == WHO_WORKER ? " worker " : "",
             r->who == WHO_TENANT ? r->t.name : r->who == WHO_WORKER ? r->w.name : "");
    return res;
}

/* An Omaha response document (malloc'ed, freed here) with an HTTP status: update clients
 * read XML, whatever the status (a Retry-After on 503 as for the API). */
static enum MHD_Result send_xml(struct MHD_Connection *c, struct req *r, int status, char *doc, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "text/xml; charset=utf-8");
    if (status == 503) MHD_add_response_header(resp, "Retry-After", "30");
    if (r->framing_bad) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result res = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    log_info("%s %s -> %d", r->method, r->url, status);
    return res;
}

/* why as a kiln_error: printable ASCII (anything else a '?'), at most OMAHA_ERROR_MAX bytes. */
static void omaha_reason(char dst[OMAHA_ERROR_MAX + 1], const char *why)
{
    size_t n = 0;
    for (const char *p = why && *why ? why : "error"; *p && n < OMAHA_ERROR_MAX; p++)
        dst[n++] = *p >= ' ' && *p < 0x7f ? *p : '?';
    dst[n] = 0;
}

/* A request the update server could not take at all, answered in its protocol: a <response>
 * with no <app> whose kiln_error says why (omaha.h). */
static enum MHD_Result send_omaha_refusal(struct MHD_Connection *c, struct req *r, int status, const char *why)
{
    struct omaha_response *out = xcalloc(1, sizeof(*out));
    snprintf(out->server, sizeof(out->server), "kiln");
    out->daystart_elapsed_seconds = (int64_t)(time(NULL) % 86400);
    omaha_reason(out->error, why);
    char *doc = NULL;
    _cleanup_free_ char *w = NULL;
    size_t len = 0;
    int rc = omaha_response_write(out, &doc, &len, &w);
    free(out);
    if (rc < 0) { /* a sanitized sentence always writes: this is out of memory */
        log_error("kiln serve: writing an Omaha refusal: %s", w);
        return MHD_NO;
    }
    return send_xml(c, r, status, doc, len);
}

/* An error where the route's client reads no JSON: a payload download gets the reason as
 * plain text. */
static enum MHD_Result send_text(struct MHD_Connection *c, struct req *r, int status, const char *why)
{
    char *text = xasprintf("%s\n", why ? why : "error");
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (r->framing_bad) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result res = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    log_info("%s %s -> %d", r->method, r->url, status);
    return res;
}

/* The request's error, in the language of its route's clients: Omaha XML for update checks,
 * plain text for payload downloads, the API's JSON {error, field} everywhere else. */
static enum MHD_Result send_error(struct MHD_Connection *c, struct req *r)
{
    if (r->m.route == R_OMAHA) return send_omaha_refusal(c, r, r->status, r->error);
    if (r->m.route == R_UPDATE_PAYLOAD) return send_text(c, r, r->status, r->error);
    json_t *j = json_pack("{s:s}", "error", r->error ? r->error : "error");
    json_object_set_new(j, "field", r->field ? json_string(r->field) : json_null());
    return send_json(c, r, r->status, j);
}

static enum MHD_Result err_now(struct MHD_Connection *c, struct req *r, int status, const char *field, const char *msg)
{
    fail(r, status, field, "%s", msg);
    return send_error(c, r);
}

/* What a kiln_api parser refused (a body, or the query's arguments): 400 naming its field,
 * with why; frees both. */
static enum MHD_Result bad_request(struct MHD_Connection *c, struct req *r, char *field, char *why)
{
    fail(r, 400, field, "%s", why);
    free(field);
    free(why);
    return send_error(c, r);
}

/* A database failure as an HTTP status: 503 (with Retry-After) when it passes with time (busy,
 * locked, unreachable, a lost connection: kiln_store_transient), 507 a full disk, else 500. */
static int db_status(int e)
{
    return kiln_store_transient(e) ? 503 : e == -ENOSPC ? 507 : 500;
}

static const char *db_words(int status)
{
    return status == 503   ? "the server's database is busy or unreachable; try again later"
           : status == 507 ? "the server's disk is full; try again later"
                           : "the server's database failed; try again later";
}

/* A failed write of the server's files (uploads, console, artifacts) as an HTTP status: 507
 * when the disk is full (or the quota spent), else 500. e: a positive or negative errno. */
static int io_status(int e)
{
    e = e < 0 ? -e : e;
    return e == ENOSPC || e == EDQUOT ? 507 : 500;
}

/* A store error as an HTTP status: not found, conflict, bad input or the database's. */
static int store_status(int e)
{
    switch (e) {
    case -ENOENT: return 404;
    case -EINVAL: return 400;
    case -ESTALE:
    case -ECANCELED:
    case -EEXIST: return 409;
    default: return db_status(e);
    }
}

/* A store handle for the request, or NULL with r->db_rc saying why (db_down answers it). */
static struct kiln_store *req_store(struct server *s, struct req *r)
{
    r->db_rc = -EIO;
    return store_get_rc(s, &r->db_rc);
}

static enum MHD_Result db_down(struct MHD_Connection *c, struct req *r)
{
    int status = db_status(r->db_rc);
    fail(r, status, NULL, "%s", db_words(status));
    return send_error(c, r);
}

static enum MHD_Result store_error(struct MHD_Connection *c, struct req *r, int e, char *err)
{
    int status = store_status(e);
    bool db = status >= 500;
    /* a database failure's words are for the server's log, not the client */
    if (db) log_error("kiln serve: store: %s", err ? err : strerror(-e));
    fail(r, status, NULL, "%s", db ? db_words(status) : err ? err : strerror(-e));
    free(err);
    if (e != -ECANCELED) return send_error(c, r);
    /* its worker records a cancelled job as cancelled, not as an attempt to try again */
    return send_json(c, r, status, json_pack("{s:s, s:n, s:s}", "error", r->error, "field", "state", "cancelled"));
}

/* ---- authentication ---- */

static void authenticate(struct server *s, struct MHD_Connection *c, struct req *r)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    /* the dashboard's pages link to the console and artifacts: its session cookie stands for
     * the tenant's token on reads, never on a request that changes anything */
    if (!h && streq(r->method, "GET") && kiln_dash_session(s->dash, c, &r->t) == 0) {
        r->who = WHO_TENANT;
        r->scope = r->t.admin ? KILN_SCOPE_ALL : r->t.id;
        return;
    }
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return;
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    /* wrong tokens count against the address as wrong sign-ins do (dashboard.h) */
    char addr[64];
    int retry_s = 0;
    kiln_dash_client_addr(c, addr);
    if (!kiln_dash_auth_allowed(s->dash, addr, &retry_s))
        return fail(r, 429, NULL, "this address sent %d unknown tokens within %lld s; try again in %d s", KILN_DASH_AUTH_FAILS,
                    KILN_DASH_AUTH_WINDOW_MS / 1000, retry_s);
    /* a database that cannot say whether the token is good fails the request, not the token */
    struct kiln_store *st = req_store(s, r);
    if (!st) return fail(r, db_status(r->db_rc), NULL, "%s", db_words(db_status(r->db_rc)));
    char *err = NULL;
    int rc = -EACCES;
    if (startswith(tok, "kt_") && (rc = kiln_store_tenant_auth(st, tok, &r->t, &err)) == 0) {
        r->who = WHO_TENANT;
        r->scope = r->t.admin ? KILN_SCOPE_ALL : r->t.id;
    } else if (startswith(tok, "kw_") && (rc = kiln_store_worker_auth(st, tok, &r->w, &err)) == 0) {
        r->who = WHO_WORKER;
    }
    if (rc == -EACCES) kiln_dash_auth_failed(s->dash, addr);
    else if (rc < 0) {
        log_error("kiln serve: checking a token: %s", err ? err : strerror(-rc));
        fail(r, db_status(rc), NULL, "%s", db_words(db_status(rc)));
    }
    free(err);
    store_put(s, st);
}

/* ---- streamed uploads ---- */

static int upload_begin(struct server *s, struct req *r, const char *dir, const char *dest, int64_t cap)
{
    r->tmp = path_join(dir, ".upload-XXXXXX");
    r->fd = mkstemp(r->tmp);
    if (r->fd < 0) {
        int e = errno;
        log_error("kiln serve: cannot create a temp file in %s: %s", dir, strerror(e));
        free(r->tmp);
        r->tmp = NULL;
        return -e;
    }
    r->md = EVP_MD_CTX_new();
    if (!r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) return -ENOMEM;
    r->dest = dest ? xstrdup(dest) : NULL;
    r->cap = cap;
    (void)s;
    return 0;
}

static void upload_data(struct req *r, const char *data, size_t n)
{
    if (r->status || r->fd < 0) return; /* drained: the answer is already decided */
    if (r->size + (int64_t)n > r->cap) {
        fail(r, 413, NULL, "the upload is over the %lld-byte limit", (long long)r->cap);
        return;
    }
    EVP_DigestUpdate(r->md, data, n);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(r->fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            log_error("kiln serve: writing an upload: %s", strerror(errno));
            fail(r, io_status(errno), NULL, "the server could not store the upload");
            return;
        }
        off += (size_t)w;
    }
    r->size += (int64_t)n;
}

/* Renames the upload to dest (or, when dest is NULL, to DIR/DIGEST with digest set). */
static int upload_end(struct req *r, const char *dir, char digest[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(r->md, md, &len);
    for (unsigned i = 0; i < 32; i++) sprintf(digest + 2 * i, "%02x", md[i]);
    if (fsync(r->fd) < 0 || close(r->fd) < 0) {
        r->fd = -1;
        return -errno;
    }
    r->fd = -1;
    _cleanup_free_ char *to = r->dest ? xstrdup(r->dest) : path_join(dir, digest);
    /* an image stored before stays as it is (workers may be reading it): same digest, same bytes */
    if (!r->dest && file_exists(to)) return 0;
    if (fchmodat(AT_FDCWD, r->tmp, 0644, 0) < 0 || rename(r->tmp, to) < 0) return -errno;
    free(r->tmp);
    r->tmp = NULL;
    return 0;
}

/* ---- handlers ---- */

static char *job_dir(struct server *s, int64_t id)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)id);
    return path_join(s->jobs, n);
}

static json_t *caps_json(const struct kiln_caps *c)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:b, s:b, s:b}", "accel", c->accel, "arch", c->arch, "cpus", c->cpus, "memory_mb",
                     c->memory_mb, "uefi", (c->features & FEAT_UEFI) != 0, "tpm", (c->features & FEAT_TPM) != 0, "secure_boot",
                     (c->features & FEAT_SECURE_BOOT) != 0);
}

static json_t *ms_json(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

/* What of a job's spec its JSON carries: none (lists), the tenant's and admin's view (a
 * runbook only by its sha256), or all of it (the worker that runs it). */
enum spec_view { SPEC_NONE, SPEC_REDACTED, SPEC_FULL };
static json_t *job_json(const struct kiln_job *j, enum spec_view view)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:I, s:i, s:i}", "id", (json_int_t)j->id, "tenant", j->tenant, "state",
                          kiln_job_state_name(j->state), "result",
                          j->result ? json_string(kiln_job_result_name(j->result)) : json_null(), "queue_position",
                          (json_int_t)j->queue_position, "attempt", j->attempt, "max_attempts", j->max_attempts);
    json_object_set_new(o, "image", j->image_digest ? json_string(j->image_digest) : json_null());
    json_object_set_new(o, "reason", j->reason ? json_string(j->reason) : json_null());
    json_object_set_new(o, "worker", *j->worker ? json_string(j->worker) : json_null());
    json_object_set_new(o, "created_ms", ms_json(j->created_ms));
    json_object_set_new(o, "started_ms", ms_json(j->started_ms));
    json_object_set_new(o, "finished_ms", ms_json(j->finished_ms));
    /* what became of the publish: pending until the job ends, then published or refused (why) */
    json_object_set_new(o, "publish", j->publish_channel ? json_pack("{s:s, s:s, s:o}", "channel", j->publish_channel, "state",
                                                                     j->publish_state, "reason",
                                                                     j->publish_reason ? json_string(j->publish_reason) : json_null())
                                                         : json_null());
    json_object_set_new(o, "requirements", caps_json(&j->req));
    if (view != SPEC_NONE && j->spec) {
        json_t *sp = json_loads(j->spec, 0, NULL);
        /* a runbook may hold secrets (is_secret variables): the API says which runbook by its
         * sha256 and never gives its text back, to its tenant or an admin */
        const char *rb = json_string_value(json_object_get(sp, "runbook"));
        if (rb && view == SPEC_REDACTED) {
            unsigned char md[32];
            char hex[65];
            SHA256((const unsigned char *)rb, strlen(rb), md);
            for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
            json_object_del(sp, "runbook");
            json_object_set_new(sp, "runbook_sha256", json_string(hex));
        }
        json_object_set_new(o, "spec", sp ? sp : json_null());
    }
    return o;
}

static enum MHD_Result h_image_upload(struct server *s, struct MHD_Connection *c, struct req *r)
{
    char digest[65];
    int e = upload_end(r, s->images, digest);
    if (e < 0) {
        log_error("kiln serve: storing an image: %s", strerror(-e));
        return err_now(c, r, io_status(e), NULL, "the server could not store the image");
    }
    _cleanup_free_ char *path = path_join(s->images, digest);
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_image im;
    char *err = NULL;
    int rc = kiln_store_image_record(st, r->t.id, digest, r->size, path, &im, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    /* whether another tenant uploaded these bytes is theirs to know, not this tenant's */
    return send_json(c, r, im.tenant_had ? 200 : 201,
                     json_pack("{s:s, s:I, s:b}", "digest", digest, "size", (json_int_t)r->size, "known", im.tenant_had));
}

static enum MHD_Result h_image_get(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_image im;
    char *err = NULL;
    int rc = kiln_store_image_get(st, r->scope, r->m.rest, &im, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    return send_json(c, r, 200, json_pack("{s:s, s:I}", "digest", im.digest, "size", (json_int_t)im.size));
}

/* The job's uploads are this tenant's (its image, kernel and publish files) and its publish
 * possible: 0, an HTTP status with r's error set, or a store -errno with *err. */
static int submit_uploads(struct server *s, struct req *r, struct kiln_store *st, const struct kiln_api_job *aj,
                          struct kiln_image *img, char **reterr)
{
    struct kiln_image im;
    int rc = kiln_store_image_get(st, r->t.id, aj->image, img, reterr);
    const char *missing = rc == -ENOENT ? "image" : NULL;
    if (rc == 0 && *aj->kernel && (rc = kiln_store_image_get(st, r->t.id, aj->kernel, &im, reterr)) == -ENOENT) missing = "kernel";
    if (missing) {
        fail(r, 404, missing, "no image with this digest was uploaded by this tenant; POST it to /api/v1/images first");
        return 404;
    }
    if (rc < 0 || !*aj->channel) return rc;
    /* every file of the version to publish is one of this tenant's uploads */
    json_t *files = json_loads(aj->publish_files, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(files, k, v) {
        if ((rc = kiln_store_image_get(st, r->t.id, json_string_value(v), &im, reterr)) == -ENOENT) {
            _cleanup_free_ char *f = xasprintf("publish.files.%s", k);
            fail(r, 404, f, "no upload with this digest was made by this tenant; POST it to /api/v1/images first");
            rc = 404;
        }
        if (rc) break;
    }
    json_decref(files);
    if (rc == 0 && !s->o->gallery_key) {
        fail(r, 400, "publish", "this server publishes nothing: it was started without --gallery-key");
        rc = 400;
    }
    return rc;
}

/* What the job will boot and run, checked before it is queued: its runbook as `kiln check`
 * checks one, and a disk image (not an initrd for --kernel) as a disk image with a partition
 * table; one that boots only through UEFI makes the job require uefi, said in *note. 0, or an
 * HTTP status with r's error set. */
static int submit_content(struct server *s, struct req *r, struct kiln_api_job *aj, const struct kiln_image *img, char **note)
{
    _cleanup_free_ char *why = NULL;
    json_t *spec = json_loads(aj->spec, 0, NULL);
    const char *rb = json_string_value(json_object_get(spec, "runbook"));
    int rc = rb ? kiln_runbook_check(rb, strlen(rb), s->tmp, &why) : 0;
    json_decref(spec);
    if (rc == -EINVAL) return fail(r, 400, "runbook", "%s", why), 400;
    if (rc < 0) {
        log_error("kiln serve: checking a runbook: %s", why);
        return fail(r, 500, NULL, "the server could not check the runbook; try again later"), 500;
    }
    if (*aj->kernel) return 0;
    struct kiln_image_facts f;
    rc = kiln_image_check(img->path, &f, &why);
    if (rc == -EINVAL)
        return fail(r, 400, "image", "image sha256:%.12s: %s%s", aj->image, why,
                    f.no_table ? "; send the disk image itself (raw, qcow2 or VHD with a partition table, as kiln build writes), "
                                 "or an initrd with --kernel"
                               : ""),
               400;
    if (rc < 0) {
        log_error("kiln serve: checking image %s: %s", aj->image, why);
        return fail(r, 500, NULL, "the server could not read the image; try again later"), 500;
    }
    if (f.uefi_only && !(aj->req.features & FEAT_UEFI)) {
        aj->req.features |= FEAT_UEFI;
        *note = xstrdup("the image boots only through UEFI (an EFI system partition, no BIOS boot partition): the job requires uefi");
    }
    return 0;
}

static enum MHD_Result h_job_submit(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_api_job aj;
    char *field = NULL, *why = NULL;
    if (kiln_api_parse_job(r->body.s ? r->body.s : "", r->body.len, &aj, &field, &why) < 0)
        return bad_request(c, r, field, why);
    struct kiln_store *st = req_store(s, r);
    if (!st) return kiln_api_job_clear(&aj), db_down(c, r);
    char *err = NULL;
    _cleanup_free_ char *note = NULL;
    struct kiln_image img;
    int rc = submit_uploads(s, r, st, &aj, &img, &err);
    if (rc == 0) rc = submit_content(s, r, &aj, &img, &note);
    struct kiln_job *queued = NULL;
    size_t nq = 0;
    if (rc == 0) rc = kiln_store_job_list(st, r->t.id, JOB_QUEUED, 0, KILN_STORE_LIST_MAX, &queued, &nq, &err);
    kiln_jobs_free(queued, nq);
    if (rc == 0 && (long)nq >= s->o->max_queued) {
        fail(r, 429, NULL, "this tenant has %zu jobs queued (at most %ld); submit more when some have run", nq, s->o->max_queued);
        rc = 429;
    }
    int64_t id = 0;
    struct kiln_job_submit sub = {.image_digest = aj.image, .spec = aj.spec, .publish_channel = *aj.channel ? aj.channel : NULL,
                                  .publish_files = *aj.channel ? aj.publish_files : NULL, .req = aj.req};
    if (rc == 0) rc = kiln_store_job_submit(st, r->t.id, &sub, &id, &err);
    struct kiln_job j = {0};
    if (rc == 0) rc = kiln_store_job_get(st, r->scope, id, &j, &err);
    store_put(s, st);
    kiln_api_job_clear(&aj);
    if (rc > 0) return free(err), send_error(c, r);
    if (rc < 0) return store_error(c, r, rc, err);
    log_info("kiln serve: job %lld queued for tenant %s%s%s", (long long)id, r->t.name, note ? ": " : "", note ? note : "");
    json_t *o = job_json(&j, SPEC_REDACTED);
    kiln_job_clear(&j);
    json_object_set_new(o, "notes", json_pack("[s*]", note));
    return send_json(c, r, 201, o);
}

/* The tenant's jobs (the admin's: all), newest first, a page at a time: a full page's reply
 * says in "next" where the following one starts. */
static enum MHD_Result h_job_list(struct server *s, struct MHD_Connection *c, struct req *r)
{
    const char *sq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    int state = sq && *sq ? kiln_job_state_parse(sq) : -1;
    if (sq && *sq && state < 0) return err_now(c, r, 400, "state", "must be queued, assigned, running, uploading, done or cancelled");
    struct kiln_api_list q;
    char *field = NULL, *why = NULL;
    if (kiln_api_parse_list(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "before"), &q, &field, &why) < 0)
        return bad_request(c, r, field, why);
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_job *v = NULL;
    size_t n = 0;
    char *err = NULL;
    int rc = kiln_store_job_list(st, r->scope, state, q.before, q.limit, &v, &n, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, job_json(&v[i], SPEC_NONE));
    json_t *next = n == q.limit && n ? json_sprintf("/api/v1/jobs?before=%lld&limit=%zu%s%s", (long long)v[n - 1].id, q.limit,
                                                    state >= 0 ? "&state=" : "", state >= 0 ? kiln_job_state_name(state) : "")
                                     : json_null();
    kiln_jobs_free(v, n);
    return send_json(c, r, 200, json_pack("{s:o, s:o}", "jobs", a, "next", next));
}

/* The cases of the job's results.json (uploaded by its worker), as name, status, reason. */
static json_t *job_cases(struct server *s, int64_t id)
{
    _cleanup_free_ char *dir = job_dir(s, id), *rj = path_join(dir, "results.json");
    int fd = open(rj, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    json_t *res = fd >= 0 ? json_loadfd(fd, 0, NULL) : NULL;
    if (fd >= 0) close(fd);
    json_t *out = json_array(), *cs = json_object_get(res, "cases");
    size_t i;
    json_t *x;
    json_array_foreach(cs, i, x) {
        json_t *o = json_object();
        const char *keys[] = {"name", "status", "reason", "duration_s", "environment"};
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
            if (json_object_get(x, keys[k])) json_object_set(o, keys[k], json_object_get(x, keys[k]));
        json_array_append_new(out, o);
    }
    json_decref(res);
    return out;
}

static json_t *job_artifacts(struct server *s, int64_t id)
{
    _cleanup_free_ char *dir = job_dir(s, id);
    json_t *a = json_array();
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && e->d_type == DT_REG) json_array_append_new(a, json_string(e->d_name));
    if (d) closedir(d);
    return a;
}

static enum MHD_Result h_job_get(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_job j = {0};
    struct kiln_attempt *at = NULL;
    size_t na = 0;
    char *err = NULL;
    int rc = kiln_store_job_get(st, r->scope, r->m.id, &j, &err);
    if (rc == 0) rc = kiln_store_job_attempts(st, r->scope, r->m.id, &at, &na, &err);
    store_put(s, st);
    if (rc < 0) return kiln_job_clear(&j), store_error(c, r, rc, err);
    json_t *o = job_json(&j, SPEC_REDACTED);
    json_t *a = json_array();
    for (size_t i = 0; i < na; i++)
        json_array_append_new(a, json_pack("{s:i, s:s, s:o, s:o, s:o, s:o}", "attempt", at[i].attempt, "worker", at[i].worker,
                                           "started_ms", ms_json(at[i].started_ms), "ended_ms", ms_json(at[i].ended_ms),
                                           "result", at[i].result ? json_string(kiln_job_result_name(at[i].result)) : json_null(),
                                           "reason", at[i].reason ? json_string(at[i].reason) : json_null()));
    json_object_set_new(o, "attempts", a);
    json_object_set_new(o, "cases", job_cases(s, j.id));
    json_object_set_new(o, "artifacts", job_artifacts(s, j.id));
    kiln_attempts_free(at, na);
    kiln_job_clear(&j);
    return send_json(c, r, 200, o);
}

static enum MHD_Result h_job_cancel(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    char *err = NULL;
    struct kiln_job j = {0};
    int rc = kiln_store_job_get(st, r->scope, r->m.id, &j, &err);
    if (rc == 0 && (j.state == JOB_DONE || j.state == JOB_CANCELLED)) {
        store_put(s, st);
        char *msg = xasprintf("job %lld is already %s", (long long)j.id, kiln_job_state_name(j.state));
        kiln_job_clear(&j);
        fail(r, 409, NULL, "%s", msg);
        free(msg);
        return send_error(c, r);
    }
    kiln_job_clear(&j);
    if (rc == 0) rc = kiln_store_job_cancel(st, r->scope, r->m.id, &err);
    if (rc == 0) rc = kiln_store_job_get(st, r->scope, r->m.id, &j, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err == NULL ? NULL : err);
    json_t *o = job_json(&j, SPEC_NONE);
    kiln_job_clear(&j);
    return send_json(c, r, 200, o);
}

static const char *content_type(const char *name)
{
    if (endswith(name, ".json")) return "application/json";
    if (endswith(name, ".xml")) return "application/xml";
    if (endswith(name, ".html")) return "text/html; charset=utf-8";
    if (endswith(name, ".log") || endswith(name, ".txt") || endswith(name, ".minisig")) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* A file by fd, after checking it is a regular file. */
static enum MHD_Result send_file(struct MHD_Connection *c, struct req *r, int fd, const char *name)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return err_now(c, r, 404, NULL, "no such file");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    MHD_add_response_header(resp, "Content-Type", content_type(name));
    /* an artifact is the guest's or tenant's content: never rendered as this site's page */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", "sandbox");
    enum MHD_Result res = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    log_info("%s %s -> 200", r->method, r->url);
    return res;
}

/* Whether path resolves (links followed) to rdir or below it. */
static bool under(const char *rdir, const char *path)
{
    _cleanup_free_ char *rp = rdir ? realpath(path, NULL) : NULL;
    size_t dl = rdir ? strlen(rdir) : 0;
    return rp && !strncmp(rp, rdir, dl) && (!rp[dl] || rp[dl] == '/');
}

/* The job r names, seen with the caller's scope: 0 when it may see it, else -1 with the
 * answer sent in *sent (404 for another tenant's job, 503 or 500 when the database failed). */
static int job_visible(struct server *s, struct MHD_Connection *c, struct req *r, enum MHD_Result *sent)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return *sent = db_down(c, r), -1;
    struct kiln_job j = {0};
    char *err = NULL;
    int rc = kiln_store_job_get(st, r->scope, r->m.id, &j, &err);
    store_put(s, st);
    kiln_job_clear(&j);
    if (rc < 0) return *sent = store_error(c, r, rc, err), -1;
    return 0;
}

static enum MHD_Result h_job_artifact(struct server *s, struct MHD_Connection *c, struct req *r)
{
    enum MHD_Result sent;
    if (job_visible(s, c, r, &sent) < 0) return sent;
    _cleanup_free_ char *dir = job_dir(s, r->m.id);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return err_now(c, r, 404, NULL, "this job has no artifacts yet");
    /* resolution stays beneath the job's directory whatever symlinks it holds */
    int fd = inroot_open_beneath(dfd, r->m.rest, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    close(dfd);
    return send_file(c, r, fd < 0 ? -1 : fd, r->m.rest);
}

/* The live console: what the worker sent so far, then more as it comes, until the job ends. */
struct console_stream {
    struct server *s;
    struct MHD_Connection *c;
    int64_t id, scope;
    char *path;
    int fd;
    int64_t last_check_ms;
    bool ended;
};

static ssize_t console_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct console_stream *cs = cls;
    for (;;) {
        if (*cs->s->stop) return MHD_CONTENT_READER_END_OF_STREAM;
        if (cs->fd < 0) cs->fd = open(cs->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (cs->fd >= 0) {
            ssize_t n = pread(cs->fd, buf, max, (off_t)pos);
            if (n > 0) return n;
        }
        if (cs->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        if (mono_ms() - cs->last_check_ms >= 1000) {
            cs->last_check_ms = mono_ms();
            struct kiln_store *st = store_get(cs->s);
            struct kiln_job j = {0};
            char *err = NULL;
            int rc = st ? kiln_store_job_get(st, cs->scope, cs->id, &j, &err) : -EIO;
            store_put(cs->s, st);
            free(err);
            /* one more read after the end is seen: the worker's last bytes came before it finished */
            if (rc < 0 || j.state == JOB_DONE || j.state == JOB_CANCELLED) cs->ended = true;
            kiln_job_clear(&j);
            if (cs->ended) continue;
        }
        /* nothing new: read again on the keeper's next round (0 with the connection suspended) */
        return park(cs->s, cs->c) ? 0 : MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void console_free(void *cls)
{
    struct console_stream *cs = cls;
    if (cs->fd >= 0) close(cs->fd);
    free(cs->path);
    free(cs);
}

static enum MHD_Result h_job_console(struct server *s, struct MHD_Connection *c, struct req *r)
{
    enum MHD_Result sent;
    if (job_visible(s, c, r, &sent) < 0) return sent;
    struct console_stream *cs = xcalloc(1, sizeof(*cs));
    _cleanup_free_ char *dir = job_dir(s, r->m.id);
    *cs = (struct console_stream){.s = s, .c = c, .id = r->m.id, .scope = r->scope, .path = path_join(dir, "console.log"), .fd = -1};
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, console_read, cs, console_free);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result res = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    log_info("%s %s -> 200 tenant %s", r->method, r->url, r->t.name);
    return res;
}

static enum MHD_Result h_workers(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_worker *v = NULL;
    size_t n = 0;
    char *err = NULL;
    int rc = kiln_store_worker_list(st, &v, &n, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:o, s:o}", "name", v[i].name, "slots", v[i].slots, "running",
                                           v[i].running, "last_heartbeat_ms", ms_json(v[i].last_heartbeat_ms), "caps",
                                           caps_json(&v[i].caps)));
    free(v);
    return send_json(c, r, 200, json_pack("{s:o}", "workers", a));
}

/* A one-time sign-in link to the dashboard for the caller's tenant (dashboard.h): the token
 * stays with the API client, the browser gets a nonce valid once for a minute. */
static enum MHD_Result h_login_link(struct server *s, struct MHD_Connection *c, struct req *r)
{
    char *path = NULL;
    int64_t expires = 0;
    int rc = kiln_dash_link_mint(s->dash, &r->t, &path, &expires);
    if (rc == -EUSERS) {
        fail(r, 429, NULL, "tenant %s holds %d unused sign-in links (at most %d); each lapses a minute after it was made",
             r->t.name, KILN_DASH_TENANT_LINKS, KILN_DASH_TENANT_LINKS);
        return send_error(c, r);
    }
    if (rc < 0) return err_now(c, r, 503, NULL, "the server holds too many sessions; try again later");
    json_t *o = json_pack("{s:s, s:I}", "path", path, "expires_ms", (json_int_t)expires);
    free(path);
    return send_json(c, r, 201, o);
}

/* ---- the worker protocol ---- */

static enum MHD_Result h_w_declare(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_caps caps;
    int slots;
    char *field = NULL, *why = NULL, *err = NULL;
    if (kiln_api_parse_declare(r->body.s ? r->body.s : "", r->body.len, &caps, &slots, &field, &why) < 0)
        return bad_request(c, r, field, why);
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    int rc = kiln_store_worker_declare(st, r->w.id, &caps, slots, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    log_info("kiln serve: worker %s offers %s/%s, %d cpus, %d MiB, %d slot(s)", r->w.name, caps.accel, caps.arch, caps.cpus,
             caps.memory_mb, slots);
    return send_json(c, r, 200, json_pack("{s:I}", "lease_ms", (json_int_t)s->o->lease_ms));
}

static void clear_attempt_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (streq(e->d_name, ".") || streq(e->d_name, "..") || streq(e->d_name, "console.log")) continue;
        _cleanup_free_ char *p = path_join(dir, e->d_name);
        if (rm_rf(p) < 0) log_warn("kiln serve: cannot remove %s of an earlier attempt", p);
    }
    closedir(d);
}

static enum MHD_Result h_w_claim(struct server *s, struct MHD_Connection *c, struct req *r)
{
    if (!r->claim_until_ms) {
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
        long wait = 0;
        if (q && (!parse_long(q, &wait) || wait < 0 || wait > CLAIM_WAIT_MAX_S))
            return err_now(c, r, 400, "wait", "must be a number of seconds from 0 to 30");
        r->claim_until_ms = mono_ms() + wait * 1000;
    }
    /* the store is asked every CLAIM_POLL_MS, though the request is resumed more often */
    if (mono_ms() < r->claim_next_ms && !*s->stop && park(s, c)) return MHD_YES;
    r->claim_next_ms = mono_ms() + CLAIM_POLL_MS;
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_job j = {0};
    char *err = NULL;
    int rc = kiln_store_claim(st, r->w.id, s->o->lease_ms, &j, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    if (rc == 1) {
        log_info("kiln serve: job %lld (attempt %d) assigned to worker %s", (long long)j.id, j.attempt, r->w.name);
        _cleanup_free_ char *dir = job_dir(s, j.id);
        mkdir(dir, 0700);
        /* a new attempt starts without the last one's artifacts (its results would show as
         * this attempt's); the console keeps every attempt's lines */
        if (j.attempt > 1) clear_attempt_files(dir);
        json_t *o = job_json(&j, SPEC_FULL);
        json_object_set_new(o, "lease_ms", json_integer(s->o->lease_ms));
        kiln_job_clear(&j);
        return send_json(c, r, 200, o);
    }
    /* nothing yet: asked again on the keeper's next round, without holding a thread */
    if (mono_ms() < r->claim_until_ms && !*s->stop && park(s, c)) return MHD_YES;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result res = MHD_queue_response(c, 204, resp);
    MHD_destroy_response(resp);
    return res;
}

static enum MHD_Result h_w_heartbeat(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    int64_t *held = NULL;
    char *err = NULL;
    int n = kiln_store_worker_heartbeat(st, r->w.id, s->o->lease_ms, &held, &err);
    store_put(s, st);
    if (n < 0) return store_error(c, r, n, err);
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(held[i]));
    free(held);
    return send_json(c, r, 200, json_pack("{s:o}", "held", a));
}

static enum MHD_Result h_w_image(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    struct kiln_image im;
    char *err = NULL;
    int rc = kiln_store_image_get(st, KILN_SCOPE_ALL, r->m.rest, &im, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    return send_file(c, r, open(im.path, O_RDONLY | O_CLOEXEC), im.path);
}

/* The worker holds job id (it is assigned to it and not over): else 409 queued. */
static int worker_holds(struct server *s, struct req *r, int64_t id)
{
    struct kiln_store *st = req_store(s, r);
    if (!st) return r->db_rc;
    struct kiln_job j = {0};
    char *err = NULL;
    int rc = kiln_store_job_get(st, KILN_SCOPE_ALL, id, &j, &err);
    store_put(s, st);
    free(err);
    if (rc == 0 && (j.worker_id != r->w.id || j.state == JOB_QUEUED || j.state == JOB_DONE || j.state == JOB_CANCELLED)) rc = -ESTALE;
    kiln_job_clear(&j);
    return rc;
}

static enum MHD_Result h_w_advance(struct server *s, struct MHD_Connection *c, struct req *r)
{
    enum kiln_job_state to;
    char *field = NULL, *why = NULL, *err = NULL;
    if (kiln_api_parse_advance(r->body.s ? r->body.s : "", r->body.len, &to, &field, &why) < 0)
        return bad_request(c, r, field, why);
    struct kiln_store *st = req_store(s, r);
    if (!st) return db_down(c, r);
    int rc = kiln_store_job_advance(st, r->w.id, r->m.id, to, &err);
    store_put(s, st);
    if (rc < 0) return store_error(c, r, rc, err);
    return send_json(c, r, 200, json_pack("{s:s}", "state", kiln_job_state_name(to)));
}

static enum MHD_Result h_w_finish(struct server *s, struct MHD_Connection *c, struct req *r)
{
    enum kiln_job_result res;
    enum kiln_job_state state;
    char *field = NULL, *why = NULL, *err = NULL, *reason = NULL;
    if (kiln_api_parse_finish(r->body.s ? r->body.s : "", r->body.len, &res, &reason, &field, &why) < 0)
        return bad_request(c, r, field, why);
    struct kiln_store *st = req_store(s, r);
    if (!st) return free(reason), db_down(c, r);
    int rc = kiln_store_job_finish(st, r->w.id, r->m.id, res, reason, &state, &err);
    store_put(s, st);
    free(reason);
    if (rc < 0) return store_error(c, r, rc, err);
    log_info("kiln serve: job %lld attempt ended %s by worker %s: now %s", (long long)r->m.id, kiln_job_result_name(res), r->w.name,
             kiln_job_state_name(state));
    return send_json(c, r, 200, json_pack("{s:s}", "state", kiln_job_state_name(state)));
}

/* ---- the update server (docs/updates.md) ---- */

#define CATALOG_TTL_MS 2000
#define UPDATE_MANIFEST_MAX (1 << 20) /* bytes of an update.json: what kiln-updater accepts */

/* The gallery's verified catalog (a reference the caller drops), reloaded when older than
 * CATALOG_TTL_MS; NULL when it never loaded. What images/ holds beyond the index's versions
 * is left out (gallery.h, skip_unlisted) and logged once per path; the serial seen is kept in
 * DATA/gallery-seen.json, so a rolled-back index is refused all the same. A gallery that
 * cannot be read is logged once per distinct reason, not on every request. */
static json_t *catalog_get(struct server *s)
{
    pthread_mutex_lock(&s->catalog_lock);
    if (!s->catalog || mono_ms() - s->catalog_ms > CATALOG_TTL_MS) {
        struct gallery *g = NULL;
        struct diags d = {0};
        char *err = NULL;
        json_t *cat = NULL;
        if (gallery_open(s->o->gallery, &g, &d, &err) == 0) {
            g->state = s->gallery_state;
            g->skip_unlisted = true;
        }
        if (g && gallery_load(g, &cat, &err) == 0) {
            size_t i;
            json_t *u;
            json_array_foreach(json_object_get(cat, "unlisted"), i, u) {
                const char *p = json_string_value(u);
                if (!json_object_get(s->unlisted_logged, p)) {
                    log_warn("kiln serve: %s is not a version the gallery's newest index lists (a publish cut off, or "
                             "something put there by hand): updates leave it out; remove it",
                             p);
                    json_object_set_new(s->unlisted_logged, p, json_true());
                }
            }
            json_decref(s->catalog);
            s->catalog = cat;
            s->catalog_ms = mono_ms();
            free(s->catalog_err);
            s->catalog_err = NULL;
        } else {
            const char *why = err ? err : "see its gallery.yml";
            if (!s->catalog_err || !streq(s->catalog_err, why))
                log_error("kiln serve: the gallery %s cannot be read: %s", s->o->gallery, why);
            free(s->catalog_err);
            s->catalog_err = xstrdup(why);
        }
        diags_free(&d);
        gallery_free(g);
        free(err);
    }
    json_t *c = json_incref(s->catalog);
    pthread_mutex_unlock(&s->catalog_lock);
    return c;
}

static bool in_channel(json_t *e, const char *ch)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(e, "channels"), i, v) if (streq(json_string_value(v), ch)) return true;
    return false;
}

static int64_t utc_ms(const char *t)
{
    struct tm tm = {0};
    const char *end = t ? strptime(t, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    return end && !*end ? (int64_t)timegm(&tm) * 1000 : 0;
}

/* The published versions of name in channel (pointing into cat); *known: name is in the
 * gallery at all. */
static struct rollout_version *channel_versions(json_t *cat, const char *name, const char *channel, size_t *n, bool *known)
{
    struct rollout_version *v = NULL;
    size_t cap = 0, i;
    json_t *e;
    *n = 0;
    *known = false;
    json_array_foreach(json_object_get(cat, "images"), i, e) {
        if (!streq(json_string_value(json_object_get(e, "name")), name)) continue;
        *known = true;
        /* only a version with an update payload can be offered: the store records a grant (in
         * flight, counted against max_inflight) for whatever it offers */
        bool payload = false;
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(e, "files"), k, f) {
            const char *file = json_string_value(json_object_get(f, "file"));
            payload |= file && endswith(file, ".update.json");
        }
        if (in_channel(e, channel) && payload)
            *APPEND(v, *n, cap) = (struct rollout_version){.version = json_string_value(json_object_get(e, "version")),
                                                           .support_end_ms = utc_ms(json_string_value(json_object_get(e, "support_end")))};
    }
    return v;
}

static json_t *find_entry(json_t *cat, const char *name, const char *version)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(cat, "images"), i, e) if (streq(json_string_value(json_object_get(e, "name")), name) &&
                                                                 streq(json_string_value(json_object_get(e, "version")), version)) return e;
    return NULL;
}

/* The signed sha256 of a file of the version (entry.json's files), or NULL. */
static const char *listed_sha256(json_t *entry, const char *file)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(entry, "files"), i, f) if (streq(json_string_value(json_object_get(f, "file")), file))
        return json_string_value(json_object_get(f, "sha256"));
    return NULL;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[32];
    SHA256(p, n, md);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A gallery file of the version, read whole (at most max bytes) and checked against the sha256
 * its signed entry lists, so what the server parses is what the gallery signed. */
static int read_signed(struct server *s, json_t *entry, const char *file, size_t max, char **text, size_t *len, char **reterr)
{
    _cleanup_free_ char *p = xasprintf("%s/%s/%s", s->o->gallery, json_string_value(json_object_get(entry, "path")), file);
    const char *want = listed_sha256(entry, file);
    char hex[65];
    if (!want) return err_setf(reterr, -EINVAL, "%s is not a signed file of the version", file);
    if (read_file(p, max, text, len) < 0) return err_setf(reterr, -ENOENT, "cannot read %s (at most %zu bytes)", p, max);
    sha256_hex(*text, *len, hex);
    if (!streq(hex, want)) return free(*text), *text = NULL, err_setf(reterr, -EINVAL, "%s is not the file the gallery signed", p);
    return 0;
}

/* The version's update payload, offered as the client expects it (docs/updates.md): the
 * package is NAME-VERSION.update.json (the manifest artifact of kind "update"), the signed
 * update manifest that names and hashes every other file; kiln_signature is its .minisig and
 * kiln_roothash its verity root hash. Offered only when the manifest is the one the gallery
 * signed, describes this name and version, and every file it names is a signed file of the
 * version with the same sha256 (so the payload route serves each of them). */
static int payload_of(struct server *s, json_t *entry, struct omaha_app_response *o, char **reterr)
{
    const char *name = json_string_value(json_object_get(entry, "name")), *version = json_string_value(json_object_get(entry, "version"));
    _cleanup_free_ char *mname = xasprintf("%s-%s.manifest.json", name, version);
    _cleanup_free_ char *mp = xasprintf("%s/%s/%s", s->o->gallery, json_string_value(json_object_get(entry, "path")), mname);
    _cleanup_free_ char *text = NULL, *utext = NULL;
    size_t len, ulen;
    char hex[65];
    if (read_file(mp, 1 << 20, &text, &len) < 0) return err_setf(reterr, -ENOENT, "cannot read %s", mp);
    sha256_hex(text, len, hex);
    if (!streq(hex, json_string_value(json_object_get(entry, "manifest_sha256"))))
        return err_setf(reterr, -EINVAL, "%s is not the manifest the gallery signed", mp);
    json_t *m = json_loadb(text, len, 0, NULL), *u = NULL;
    json_t *a, *art = NULL;
    size_t i;
    json_array_foreach(json_object_get(m, "artifacts"), i, a) if (streq(json_string_value(json_object_get(a, "kind")), "update")) art = a;
    const char *file = json_string_value(json_object_get(art, "file"));
    int rc = 0;
    if (!art || !file || !omaha_token_ok(file) || strchr(file, '/'))
        rc = err_setf(reterr, -ENOENT, "%s %s has no update payload (no artifact of kind \"update\")", name, version);
    else if ((rc = read_signed(s, entry, file, UPDATE_MANIFEST_MAX, &utext, &ulen, reterr)) == 0 &&
             !(u = json_loadb(utext, ulen, JSON_REJECT_DUPLICATES, NULL)))
        rc = err_setf(reterr, -EINVAL, "%s is not JSON", file);
    const char *root = json_string_value(json_object_get(json_object_get(u, "verity"), "root_hash"));
    if (rc == 0 && (!streq(json_string_value(json_object_get(u, "format")), "kiln-update/1") ||
                    !streq(json_string_value(json_object_get(u, "name")), name) ||
                    !streq(json_string_value(json_object_get(u, "version")), version) || !root || strlen(root) != 64 ||
                    strspn(root, "0123456789abcdef") != 64))
        rc = err_setf(reterr, -EINVAL, "%s is not a kiln-update/1 manifest of %s %s with a root hash", file, name, version);
    static const char *const kinds[] = {"usr", "verity", "kernel", "initrd"};
    for (size_t k = 0; rc == 0 && k < ARRAY_SIZE(kinds); k++) {
        json_t *f = json_object_get(u, kinds[k]);
        const char *fn = json_string_value(json_object_get(f, "file"));
        const char *listed = fn ? listed_sha256(entry, fn) : NULL;
        if (!listed || !streq(listed, json_string_value(json_object_get(f, "sha256"))))
            rc = err_setf(reterr, -EINVAL, "%s names %s %s, which is not a signed file of the version with that sha256", file,
                                   kinds[k], fn ? fn : "(none)");
    }
    if (rc == 0) {
        o->npackages = 1;
        snprintf(o->packages[0].name, sizeof(o->packages[0].name), "%s", file);
        o->packages[0].size = (int64_t)ulen;
        o->packages[0].required = true;
        sha256_hex(utext, ulen, o->packages[0].hash_sha256);
        o->has_postinstall = true;
        if (omaha_sha256_hex_to_b64(o->packages[0].hash_sha256, o->sha256_b64) < 0) rc = err_setf(reterr, -EINVAL, "%s: bad sha256", file);
        snprintf(o->kiln_roothash, sizeof(o->kiln_roothash), "%s", root);
        _cleanup_free_ char *sig = xasprintf("%s.minisig", file);
        if (strlen(sig) <= OMAHA_TOKEN_MAX) snprintf(o->kiln_signature, sizeof(o->kiln_signature), "%s", sig);
    }
    json_decref(u);
    json_decref(m);
    return rc;
}

/* The host part of the payload URLs: the request's Host header when it is a plain host[:port],
 * else the listen address. */
static const char *public_host(struct server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    size_t n = h ? strlen(h) : 0;
    if (n && n <= 255 && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n) return h;
    return s->o->listen;
}

/* A store error of an Omaha app as the HTTP status to answer, with why: 400 a bad field, 503
 * no room for another machine (the client tries again later), 500 the database. Frees err. */
static int update_refused(int rc, char *err, const char *what, char **reterr)
{
    bool told = (rc == -EINVAL || rc == -EUSERS) && err;
    err_setf(reterr, 0, "%s", told ? err : "the server's database failed; try again later");
    if (rc == -EUSERS) log_warn("kiln serve: %s refused: %s", what, err ? err : strerror(-rc));
    else if (rc != -EINVAL) log_error("kiln serve: %s: %s", what, err ? err : strerror(-rc));
    free(err);
    return rc == -EINVAL ? 400 : rc == -EUSERS ? 503 : 500;
}

/* Whether an app of the gallery's can be served at all: 0, or 400 with why. Every app is
 * checked before any is served, so a request with a bad one has nothing of it written. */
static int omaha_app_check(json_t *cat, const struct omaha_app_request *a, char **reterr)
{
    size_t nv;
    bool known;
    free(channel_versions(cat, a->appid, a->track[0] ? a->track : "stable", &nv, &known));
    if (!known) return 0;
    if (!a->machineid[0]) return err_setf(reterr, 400, "<app> needs a machineid: the rollout places each machine by it");
    char *err = NULL;
    int rc = kiln_store_update_client_check(a->appid, a->track[0] ? a->track : "stable", a->machineid, a->version, &err);
    if (rc < 0) err_setf(reterr, 0, "<app appid=\"%s\">: %s", a->appid, err ? err : strerror(-rc));
    free(err);
    return rc < 0 ? 400 : 0;
}

/* One app of an Omaha request: its events recorded, its update check decided. 0, or an HTTP
 * status with why: 503 a new machine past the bound (nothing of it written), 500 the
 * database. */
static int omaha_app(struct server *s, struct MHD_Connection *c, struct kiln_store *st, json_t *cat,
                     const struct omaha_app_request *a, struct omaha_app_response *o, char **reterr)
{
    snprintf(o->appid, sizeof(o->appid), "%s", a->appid);
    const char *channel = a->track[0] ? a->track : "stable";
    size_t nv;
    bool known;
    _cleanup_free_ struct rollout_version *v = channel_versions(cat, a->appid, channel, &nv, &known);
    if (!known) {
        snprintf(o->status, sizeof(o->status), "error-unknownApplication");
        return 0;
    }
    snprintf(o->status, sizeof(o->status), "ok");
    o->ping = a->ping;
    char *err = NULL;
    /* the app's events in one transaction: none written when one fails, so the client's
     * resend of them all counts each once */
    bool paused = false;
    int erc = a->nevents ? kiln_store_update_events(st, a->appid, channel, a->machineid, a->version, a->events, a->nevents,
                                                    &paused, &err)
                         : 0;
    if (erc < 0) return update_refused(erc, err, "update event", reterr);
    for (size_t k = 0; k < a->nevents; k++) {
        char tb[16], rb[16];
        log_info("kiln serve: %s %s machine %s (%s): %s %s", a->appid, channel, a->machineid, a->version,
                 omaha_event_type_name(a->events[k].type, tb), omaha_event_result_name(a->events[k].result, rb));
        o->events++;
    }
    if (paused) log_warn("kiln serve: rollout %s %s paused after failures", a->appid, channel);
    if (!a->updatecheck) return 0;
    o->has_updatecheck = true;
    struct rollout_decision d;
    int rc = kiln_store_update_check(st, a->appid, channel, a->machineid, a->version, v, nv, &d, &err);
    if (rc < 0) return update_refused(rc, err, "update check", reterr);
    snprintf(o->update_status, sizeof(o->update_status), "noupdate");
    if (d.verdict == ROLLOUT_OFFER) {
        _cleanup_free_ char *pw = NULL;
        json_t *e = find_entry(cat, a->appid, d.version);
        if (e && payload_of(s, e, o, &pw) == 0) {
            snprintf(o->update_status, sizeof(o->update_status), "ok");
            snprintf(o->version, sizeof(o->version), "%s", d.version);
            o->nurls = 1;
            snprintf(o->urls[0], sizeof(o->urls[0]), "http://%s/v1/update/payload/%s/%s/", public_host(s, c), a->appid, d.version);
        } else {
            o->npackages = 0;
            o->has_postinstall = false;
            log_error("kiln serve: %s %s would be offered %s, but %s", a->appid, channel, d.version, e ? pw : "it is not in the gallery");
        }
    }
    log_info("kiln serve: %s %s machine %s (%s): %s", a->appid, channel, a->machineid, a->version, d.why);
    return 0;
}

static enum MHD_Result h_omaha(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct omaha_request *q = xcalloc(1, sizeof(*q));
    struct omaha_response *out = xcalloc(1, sizeof(*out));
    _cleanup_free_ char *why = NULL;
    int status = 0;
    int rc = omaha_request_parse(r->body.s ? r->body.s : "", r->body.len, q, &why);
    json_t *cat = NULL;
    struct kiln_store *st = NULL;
    /* only the document's size is 413 (its bytes); too many apps or events is a bad request */
    if (rc < 0) status = rc == -EMSGSIZE ? 413 : 400;
    else if (!(cat = catalog_get(s))) status = err_setf(&why, 500, "the server's gallery cannot be read; try again later");
    else if (!(st = req_store(s, r))) status = err_setf(&why, db_status(r->db_rc), "%s", db_words(db_status(r->db_rc)));
    for (size_t i = 0; !status && i < q->napps; i++) status = omaha_app_check(cat, &q->apps[i], &why);
    snprintf(out->server, sizeof(out->server), "kiln");
    out->daystart_elapsed_seconds = (int64_t)(time(NULL) % 86400);
    /* each app is answered on its own (as Nebraska does): one machine refused leaves the
     * others served, and what was recorded for them acknowledged, so none is sent again */
    int refused = 0;
    size_t served = 0;
    for (size_t i = 0; !status && i < q->napps; i++) {
        struct omaha_app_response *o = &out->apps[out->napps++];
        int st_i = omaha_app(s, c, st, cat, &q->apps[i], o, &why);
        if (!st_i) {
            served++;
            continue;
        }
        memset(o, 0, sizeof(*o));
        snprintf(o->appid, sizeof(o->appid), "%s", q->apps[i].appid);
        snprintf(o->status, sizeof(o->status), "%s", st_i == 503 ? "error-instanceRegistrationFailed" : "error-internal");
        omaha_reason(o->error, why ? why : "");
        if (st_i > refused) refused = st_i;
    }
    /* no app served: the HTTP status says why too (503: try again later) */
    int http = served || !refused ? 200 : refused;
    store_put(s, st);
    json_decref(cat);
    char *doc = NULL;
    size_t len = 0;
    if (!status && omaha_response_write(out, &doc, &len, &why) < 0) {
        log_error("kiln serve: writing an Omaha response: %s", why);
        status = err_setf(&why, 500, "the server could not write its answer");
    }
    free(q);
    free(out);
    if (status) return err_now(c, r, status, NULL, why);
    return send_xml(c, r, http, doc, len);
}

/* GET /v1/update/payload/NAME/VERSION/FILE: a file the version's signed entry lists, or its
 * signature. */
static enum MHD_Result h_update_payload(struct server *s, struct MHD_Connection *c, struct req *r)
{
    if (!s->o->gallery) return err_now(c, r, 404, NULL, "this server serves no gallery");
    _cleanup_free_ char *rest = xstrdup(r->m.rest);
    char *version = strchr(rest, '/');
    *version++ = 0;
    char *file = strchr(version, '/');
    *file++ = 0;
    json_t *cat = catalog_get(s);
    json_t *e = cat ? find_entry(cat, rest, version) : NULL;
    _cleanup_free_ char *base = endswith(file, ".minisig") ? xstrndup(file, strlen(file) - 8) : xstrdup(file);
    int fd = -1;
    if (e && listed_sha256(e, base)) {
        _cleanup_free_ char *p = xasprintf("%s/%s/%s", s->o->gallery, json_string_value(json_object_get(e, "path")), file);
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    json_decref(cat);
    if (fd < 0) return err_now(c, r, 404, NULL, "no such file of a published version");
    return send_file(c, r, fd, file);
}

/* ---- dispatch ---- */

struct route_rule {
    enum kiln_route route;
    const char *method;
    enum who who;
    enum { BODY_NONE, BODY_JSON, BODY_IMAGE, BODY_ARTIFACT, BODY_CONSOLE, BODY_OMAHA } body;
    const char *const *params; /* the query parameters it reads (NULL: none) */
};
static const char *const list_params[] = {"state", "limit", "before", NULL};
static const char *const claim_params[] = {"wait", NULL};
static const char *const no_params[] = {NULL};
static const struct route_rule rules[] = {
    {R_IMAGES, "POST", WHO_TENANT, BODY_IMAGE},     {R_IMAGE, "GET", WHO_TENANT, BODY_NONE},     {R_JOBS, "POST", WHO_TENANT, BODY_JSON},
    {R_JOBS, "GET", WHO_TENANT, BODY_NONE, list_params}, {R_JOB, "GET", WHO_TENANT, BODY_NONE},
    {R_JOB_CONSOLE, "GET", WHO_TENANT, BODY_NONE},  {R_JOB_CANCEL, "POST", WHO_TENANT, BODY_NONE},
    {R_JOB_ARTIFACT, "GET", WHO_TENANT, BODY_NONE}, {R_WORKERS, "GET", WHO_TENANT, BODY_NONE},
    {R_OPENAPI, "GET", WHO_NONE, BODY_NONE},        {R_LIMITS, "GET", WHO_TENANT, BODY_NONE},        {R_LOGIN_LINKS, "POST", WHO_TENANT, BODY_NONE},        {R_W_DECLARE, "POST", WHO_WORKER, BODY_JSON},
    {R_W_CLAIM, "POST", WHO_WORKER, BODY_NONE, claim_params},     {R_W_HEARTBEAT, "POST", WHO_WORKER, BODY_NONE},
    {R_W_IMAGE, "GET", WHO_WORKER, BODY_NONE},      {R_W_ADVANCE, "POST", WHO_WORKER, BODY_JSON},
    {R_W_CONSOLE, "POST", WHO_WORKER, BODY_CONSOLE}, {R_W_ARTIFACT, "PUT", WHO_WORKER, BODY_ARTIFACT},
    {R_W_FINISH, "POST", WHO_WORKER, BODY_JSON},
    {R_OMAHA, "POST", WHO_NONE, BODY_OMAHA},        {R_UPDATE_PAYLOAD, "GET", WHO_NONE, BODY_NONE},
};

static const struct route_rule *find_rule(const struct req *r, bool *method_ok)
{
    *method_ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        if (rules[i].route == r->m.route) {
            if (streq(rules[i].method, r->method)) return *method_ok = true, &rules[i];
        }
    return NULL;
}

/* First call of a request: route, authenticate, and set up where its body goes. */
static void begin(struct server *s, struct MHD_Connection *c, struct req *r)
{
    bool method_ok;
    const struct route_rule *rule = find_rule(r, &method_ok);
    if (r->m.route == R_NONE) return fail(r, 404, NULL, "no such resource");
    if (!rule) return fail(r, 405, NULL, "method not allowed here");
    if (rule->who != WHO_NONE) authenticate(s, c, r);
    if (r->status) return;
    if (rule->who != WHO_NONE && r->who != rule->who)
        return fail(r, 401, NULL, rule->who == WHO_TENANT ? "this needs a tenant's API token: Authorization: Bearer kt_..."
                                                          : "this needs a worker's token: Authorization: Bearer kw_...");
    /* the API's query parameters: each once, and only those the endpoint reads (the update
     * protocol's routes read none and take what Omaha clients add) */
    char *field = NULL, *why = NULL;
    if (r->m.route != R_OMAHA && r->m.route != R_UPDATE_PAYLOAD &&
        kiln_dash_query_check(c, rule->params ? rule->params : no_params, &field, &why) < 0) {
        fail(r, 400, field, "%s", why);
        free(field);
        free(why);
        return;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    long long len = cl ? strtoll(cl, NULL, 10) : -1;
    if (rule->body == BODY_NONE && len > 0) return fail(r, 413, NULL, "this request takes no body");
    if (rule->body == BODY_JSON && len > KILN_API_BODY_MAX)
        return fail(r, 413, NULL, "the body is %lld bytes; at most %d are accepted", len, KILN_API_BODY_MAX);
    if (rule->body == BODY_OMAHA) {
        if (len > OMAHA_DOC_MAX) return fail(r, 413, NULL, "an Omaha request is at most %d bytes", OMAHA_DOC_MAX);
        /* update_engine sends text/xml; a form or JSON body is no Omaha request */
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (ct && !kiln_api_media_type_is(ct, "text/xml") && !kiln_api_media_type_is(ct, "application/xml"))
            return fail(r, 415, NULL, "an Omaha request is XML: send it as Content-Type: text/xml");
        if (!s->o->gallery) return fail(r, 404, NULL, "this server answers no update checks (start kiln serve with --gallery DIR)");
    }
    if (rule->body == BODY_IMAGE && len > s->o->max_image)
        return fail(r, 413, NULL, "the image is %lld bytes; this server takes at most %lld", len, (long long)s->o->max_image);
    int ue;
    if (rule->body == BODY_IMAGE && (ue = upload_begin(s, r, s->tmp, NULL, s->o->max_image)) < 0)
        return fail(r, io_status(ue), NULL, "the server could not store the upload");
    if (rule->body == BODY_ARTIFACT || rule->body == BODY_CONSOLE) {
        int h = worker_holds(s, r, r->m.id);
        if (h == -ESTALE || h == -ENOENT) return fail(r, 409, NULL, "this worker does not hold the job (cancelled or lease lapsed)");
        if (h < 0) return fail(r, db_status(h), NULL, "%s", db_words(db_status(h)));
        _cleanup_free_ char *dir = job_dir(s, r->m.id);
        mkdir(dir, 0700);
        if (rule->body == BODY_ARTIFACT) {
            /* the path has no "..", hidden or empty component (api.c) and only the server
             * writes under the job's directory: its parents are plain directories */
            _cleanup_free_ char *dest = path_join(dir, r->m.rest), *parent = path_dirname(dest);
            /* a link planted in the job's directory never takes a write, or a directory made
             * for one, outside it: the deepest existing parent is checked before mkdir -p,
             * the whole parent after */
            _cleanup_free_ char *rdir = realpath(dir, NULL), *have = xstrdup(parent);
            struct stat hst;
            while (lstat(have, &hst) < 0 && strchr(have + 1, '/')) *strrchr(have, '/') = 0;
            if (!under(rdir, have) || mkdir_p(parent, 0700) < 0 || !under(rdir, parent))
                return fail(r, 404, NULL, "no such artifact path in this job");
            _cleanup_free_ char *rparent = realpath(parent, NULL);
            if (!rparent) return fail(r, 404, NULL, "no such artifact path in this job");
            const char *base = strrchr(dest, '/');
            _cleanup_free_ char *rdest = path_join(rparent, base ? base + 1 : dest);
            if ((ue = upload_begin(s, r, rparent, rdest, ARTIFACT_MAX)) < 0)
                return fail(r, io_status(ue), NULL, "the server could not store the upload");
        } else {
            if (len > CONSOLE_POST_MAX) return fail(r, 413, NULL, "send the console in pieces of at most 1 MiB");
            _cleanup_free_ char *p = path_join(dir, "console.log");
            r->fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
            r->cap = CONSOLE_POST_MAX;
            if (r->fd < 0) return fail(r, io_status(errno), NULL, "the server could not store the console");
        }
    }
}

struct framing {
    const char *cl[4];
    size_t ncl;
    bool te;
};

static enum MHD_Result framing_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (!strcasecmp(key, "Content-Length")) {
        if (f->ncl < ARRAY_SIZE(f->cl)) f->cl[f->ncl] = value ? value : "";
        f->ncl++;
    } else if (!strcasecmp(key, "Transfer-Encoding")) f->te = true;
    return MHD_YES;
}

/* A request whose body's length is ambiguous is answered 400 at once and the connection
 * closed: where its body ends, and so where a next request would start, is unknown. */
static enum MHD_Result framing_refused(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct framing f = {0};
    _cleanup_free_ char *why = NULL;
    MHD_get_connection_values(c, MHD_HEADER_KIND, framing_field, &f);
    if (kiln_api_framing_check(f.cl, f.ncl < ARRAY_SIZE(f.cl) ? f.ncl : ARRAY_SIZE(f.cl) + 1, f.te, &why) == 0)
        return MHD_NO;
    r->framing_bad = true;
    fail(r, 400, NULL, "%s", why);
    /* in the language of the path's clients: a page for the dashboard's, JSON for the API's */
    if (r->dash) kiln_dash_refuse(s->dash, c, r->method, r->url, 400, why);
    else send_error(c, r);
    return MHD_YES;
}

/* A piece of the request's body, to where its route takes it, within its bound; after an
 * error the rest of the body is read and dropped, then the error is sent. */
static void body_piece(struct req *r, const char *data, size_t n)
{
    bool method_ok;
    const struct route_rule *rule = find_rule(r, &method_ok);
    if (r->status || !rule) return;
    if (rule->body == BODY_OMAHA) {
        if (r->body.len + n > OMAHA_DOC_MAX) fail(r, 413, NULL, "an Omaha request is at most %d bytes", OMAHA_DOC_MAX);
        else sbuf_append(&r->body, data, n);
    } else if (rule->body == BODY_JSON) {
        if (r->body.len + n > KILN_API_BODY_MAX) fail(r, 413, NULL, "the body is over %d bytes", KILN_API_BODY_MAX);
        else sbuf_append(&r->body, data, n);
    } else if (rule->body == BODY_CONSOLE) {
        ssize_t w = r->size + (int64_t)n > r->cap ? 0 : write(r->fd, data, n);
        /* a short write is a full disk */
        if (r->size + (int64_t)n > r->cap) fail(r, 413, NULL, "send the console in pieces of at most 1 MiB");
        else if (w != (ssize_t)n) fail(r, io_status(w < 0 ? errno : ENOSPC), NULL, "the server could not store the console");
        else r->size += (int64_t)n;
    } else if (rule->body == BODY_IMAGE || rule->body == BODY_ARTIFACT) {
        upload_data(r, data, n);
    }
}

static enum MHD_Result answer(struct server *s, struct MHD_Connection *c, struct req *r, const char *method);

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    (void)version;
    struct req *r = *con_cls;
    if (!r) conn_phase(s, c, PH_BODY); /* the headers are in */
    else if (*upload_size) conn_body(s, c, *upload_size);
    else conn_phase(s, c, PH_ANSWER);
    if (!r) {
        r = xcalloc(1, sizeof(*r));
        r->fd = -1;
        r->method = method;
        r->url = xstrndup(url, 512);
        kiln_route_parse(url, &r->m);
        *con_cls = r;
        r->dash = r->m.route == R_NONE && kiln_dash_owns(url);
        if (framing_refused(s, c, r) == MHD_YES) return MHD_YES;
        if (!r->dash) {
            begin(s, c, r);
            return MHD_YES;
        }
    }
    if (r->framing_bad) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->dash) return kiln_dash_handle(s->dash, c, url, method, upload, upload_size, &r->dash_state);
    if (*upload_size) {
        body_piece(r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status) return send_error(c, r);
    return answer(s, c, r, method);
}

/* The request, its body in, answered by its route's handler. */
static enum MHD_Result answer(struct server *s, struct MHD_Connection *c, struct req *r, const char *method)
{
    switch (r->m.route) {
    case R_IMAGES: return h_image_upload(s, c, r);
    case R_IMAGE: return h_image_get(s, c, r);
    case R_JOBS: return streq(method, "POST") ? h_job_submit(s, c, r) : h_job_list(s, c, r);
    case R_JOB: return h_job_get(s, c, r);
    case R_JOB_CONSOLE: return h_job_console(s, c, r);
    case R_JOB_CANCEL: return h_job_cancel(s, c, r);
    case R_JOB_ARTIFACT: return h_job_artifact(s, c, r);
    case R_WORKERS: return h_workers(s, c, r);
    case R_OPENAPI: {
        int fd = open(s->openapi, O_RDONLY | O_CLOEXEC);
        return send_file(c, r, fd, "openapi.json");
    }
    case R_LOGIN_LINKS: return h_login_link(s, c, r);
    case R_LIMITS: /* kiln submit checks an image's size against it before hashing it */
        return send_json(c, r, 200, json_pack("{s:I}", "max_image_bytes", (json_int_t)s->o->max_image));
    case R_W_DECLARE: return h_w_declare(s, c, r);
    case R_W_CLAIM: return h_w_claim(s, c, r);
    case R_W_HEARTBEAT: return h_w_heartbeat(s, c, r);
    case R_W_IMAGE: return h_w_image(s, c, r);
    case R_W_ADVANCE: return h_w_advance(s, c, r);
    case R_W_CONSOLE: return send_json(c, r, 200, json_pack("{s:I}", "appended", (json_int_t)r->size));
    case R_W_ARTIFACT: {
        char digest[65];
        int e = upload_end(r, NULL, digest);
        if (e < 0) return err_now(c, r, io_status(e), NULL, "the server could not store the artifact");
        return send_json(c, r, 201, json_pack("{s:s, s:s, s:I}", "name", r->m.rest, "sha256", digest, "size", (json_int_t)r->size));
    }
    case R_W_FINISH: return h_w_finish(s, c, r);
    case R_OMAHA: return h_omaha(s, c, r);
    case R_UPDATE_PAYLOAD: return h_update_payload(s, c, r);
    case R_NONE: break;
    }
    return err_now(c, r, 404, NULL, "no such resource");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
    conn_phase(cls, c, PH_HEADERS); /* a kept-alive connection's next request */
}

static struct kiln_store *dash_store_get(void *ctx, int *rc) { return store_get_rc(ctx, rc); }
static void dash_store_put(void *ctx, struct kiln_store *st) { store_put(ctx, st); }

static void *sweeper(void *arg)
{
    struct server *s = arg;
    int64_t next = 0;
    while (!*s->stop) {
        if (mono_ms() >= next) {
            next = mono_ms() + s->o->sweep_ms;
            struct kiln_store *st = store_get(s);
            char *err = NULL;
            int n = st ? kiln_store_sweep(st, &err) : 0;
            if (n > 0) log_warn("kiln serve: %d job(s) whose worker went silent were queued again or ended incomplete", n);
            if (n < 0) log_error("kiln serve: sweeping lapsed leases: %s", err);
            free(err);
            err = NULL;
            /* the update server's history is bounded: old events and grants past any period */
            if (s->o->gallery && st && kiln_store_update_prune(st, &err) < 0) log_error("kiln serve: pruning update history: %s", err);
            free(err);
            store_put(s, st);
        }
        sleep_ms(200);
    }
    return NULL;
}

/* Publishes the jobs that asked for it once they end, one at a time (a publish copies and
 * hashes whole images: never in a request's thread). */
static void *publisher(void *arg)
{
    struct server *s = arg;
    struct kiln_publisher p = {.data = s->o->data, .key = s->o->gallery_key, .key_pub = s->o->gallery_pub,
                               .require_priority = s->o->publish_priority};
    while (!*s->stop) {
        struct kiln_store *st = store_get(s);
        char *err = NULL;
        /* a publish left "publishing" by a server that stopped (this one before a restart, or
         * another sharing DATA) is resumed; the grace covers a take not yet locked */
        int n = st ? kiln_publish_recover(&p, st, (int64_t)time(NULL) * 1000 - 10000, &err) : 0;
        if (n < 0) log_error("kiln serve: resuming interrupted publishes: %s", err);
        free(err);
        err = NULL;
        n = st ? kiln_publish_next(&p, st, &err) : 0;
        if (n < 0) log_error("kiln serve: publishing: %s", err);
        store_put(s, st);
        free(err);
        if (n != 1) sleep_ms(500);
    }
    return NULL;
}

static int parse_listen(const char *l, struct sockaddr_in *sa, char **reterr)
{
    const char *colon = strrchr(l, ':');
    long port;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    _cleanup_free_ char *host = colon ? xstrndup(l, (size_t)(colon - l)) : NULL;
    if (!colon || !parse_long(colon + 1, &port) || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        *reterr = xasprintf("--listen %s: want IPV4:PORT, e.g. 127.0.0.1:8470", l);
        return -EINVAL;
    }
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

/* The listening socket, bound here rather than by MHD so that a refusal says which of the
 * causes it is; each is one the user fixes in --listen: -EINVAL with *err. */
static int listen_socket(const struct sockaddr_in *sa, const char *listen_on, int *out, char **reterr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        *reterr = xasprintf("cannot make a socket for --listen %s: %s", listen_on, strerror(errno));
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        unsigned port = ntohs(sa->sin_port);
        if (e == EADDRINUSE)
            *reterr = xasprintf("--listen %s: port %u is taken by another program (`ss -ltnp 'sport = :%u'` names it): stop it "
                             "or pick another port", listen_on, port, port);
        else if (e == EADDRNOTAVAIL)
            *reterr = xasprintf("--listen %s: the address is not one of this host's (`ip -4 addr` lists them; 127.0.0.1 is "
                             "loopback, 0.0.0.0 every address)", listen_on);
        else if (e == EACCES)
            *reterr = xasprintf("--listen %s: port %u is below 1024, which takes root or CAP_NET_BIND_SERVICE: pick a port "
                             "above 1023", listen_on, port);
        else *reterr = xasprintf("--listen %s: cannot listen there: %s", listen_on, strerror(e));
        return -EINVAL;
    }
    *out = fd;
    return 0;
}

/* The server's paths and locks from o; its directories made and its first store handle
 * opened (0, or -errno with *err: -EINVAL for a --data it cannot create). */
static int server_init(struct server *s, const struct kiln_server_opts *o, volatile sig_atomic_t *stop, char **reterr)
{
    *s = (struct server){.o = o, .stop = stop};
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->catalog_lock, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    s->url = o->db_url ? xstrdup(o->db_url) : xasprintf("sqlite:%s/kiln.db", o->data);
    s->images = path_join(o->data, "images");
    s->tmp = path_join(s->images, ".tmp");
    s->jobs = path_join(o->data, "jobs");
    s->openapi = kiln_data_path("service/openapi.json");
    s->gallery_state = path_join(o->data, "gallery-seen.json");
    s->unlisted_logged = json_object();
    s->store_opts = (struct kiln_store_opts){.max_machines = o->max_machines};
    struct kiln_dash_env denv = {.jobs_dir = s->jobs, .store_get = dash_store_get, .store_put = dash_store_put, .ctx = s,
                                 .gallery = o->gallery, .data = o->data};
    s->dash = kiln_dash_new(&denv);
    const char *dirs[] = {o->data, s->images, s->tmp, s->jobs};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (mkdir_p(dirs[i], 0700) < 0) {
            /* a --data the server cannot write is the user's to change, like --listen */
            *reterr = xasprintf("--data %s: cannot create %s: %s", o->data, dirs[i], strerror(errno));
            return -EINVAL;
        }
    struct kiln_store *st = NULL;
    int r = kiln_store_open(s->url, &s->store_opts, &st, reterr);
    if (r == 0) store_put(s, st);
    /* the schema is migrated: later connections only read its version, so one opened while
     * another process holds the write lock (kiln tenant add, a long write) serves reads at once
     * instead of waiting on the lock to migrate nothing */
    s->store_opts.existing = true;
    return r;
}

static void server_free(struct server *s)
{
    for (int i = 0; i < s->nidle; i++) kiln_store_close(s->idle[i]);
    kiln_dash_free(s->dash);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->catalog_lock);
    pthread_mutex_destroy(&s->conn_lock);
    json_decref(s->catalog);
    json_decref(s->unlisted_logged);
    free(s->gallery_state);
    free(s->catalog_err);
    free(s->url);
    free(s->images);
    free(s->tmp);
    free(s->jobs);
    free(s->openapi);
}

/* MHD on the listening socket lfd (epoll, a pool of threads, bounded connections). */
static struct MHD_Daemon *http_start(struct server *s, int lfd)
{
    /* connections are file descriptors: a few are left for the store, uploads and logs */
    struct rlimit rl;
    unsigned limit = CONN_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < CONN_MAX + 128)
        limit = rl.rlim_cur > 256 ? (unsigned)rl.rlim_cur - 128 : 128;
    return MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handler, s,
                            MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
                            MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, CONN_PER_IP,
                            MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s, MHD_OPTION_END);
}

/* Serves with d on lfd until the stop: the sweeper, the keeper and (with a gallery key) the
 * publisher run beside MHD's threads; at the stop they end and MHD stops. */
static void serve_until_stopped(struct server *s, struct MHD_Daemon *d, int lfd, const struct sockaddr_in *sa)
{
    pthread_t sw, pu, ke;
    bool sweeping = pthread_create(&sw, NULL, sweeper, s) == 0, keeping = pthread_create(&ke, NULL, keeper, s) == 0;
    bool publishing = s->o->gallery_key && pthread_create(&pu, NULL, publisher, s) == 0;
    /* with port 0 the kernel picked one: the line names it, for whoever started the server */
    struct sockaddr_in bound = *sa;
    socklen_t bl = sizeof bound;
    getsockname(lfd, (struct sockaddr *)&bound, &bl);
    char addr[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
    log_info("kiln serve: listening on http://%s:%u/ (dashboard; API under /api/v1/; store: %s, data: %s)", addr,
             (unsigned)ntohs(bound.sin_port), kiln_store_backend(s->idle[0] ? s->idle[0] : NULL), s->o->data);
    while (!*s->stop) sleep_ms(200);
    log_info("kiln serve: stopping");
    if (keeping) pthread_join(ke, NULL);
    /* suspended requests are resumed (they see the stop and end) before MHD stops */
    unpark_all(s, true);
    sleep_ms(2 * POLL_MS);
    MHD_stop_daemon(d);
    if (sweeping) pthread_join(sw, NULL);
    if (publishing) pthread_join(pu, NULL);
}

int kiln_server_run(const struct kiln_server_opts *o, volatile sig_atomic_t *stop, char **reterr)
{
    struct sockaddr_in sa;
    int r = parse_listen(o->listen, &sa, reterr), lfd = -1;
    if (r < 0) return r;
    struct server s;
    r = server_init(&s, o, stop, reterr);
    if (r == 0) r = listen_socket(&sa, o->listen, &lfd, reterr);
    struct MHD_Daemon *d = r == 0 ? http_start(&s, lfd) : NULL;
    if (r == 0 && !d) {
        close(lfd);
        r = -ENOMEM;
        *reterr = xasprintf("cannot start the HTTP server on %s (out of memory or threads)", o->listen);
    }
    if (d) serve_until_stopped(&s, d, lfd, &sa);
    server_free(&s);
    return r;
}
