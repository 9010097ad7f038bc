/* The service's dashboard: HTML pages served by kiln serve beside the API, for a browser.
 *
 *   GET  /                 jobs: state, result, tenant, image, queue position, worker, duration
 *   GET  /jobs/{id}        a job: attempts, cases (status, reason, duration, log), artifacts,
 *                          the console (live while the job runs), SVG plots of case durations,
 *                          the VM's CPU and RSS over time (perf.json, see core/perf.h) and each
 *                          metric's trend over the tenant's earlier jobs of the same image name
 *   GET  /workers          workers: capabilities, slots, current jobs, last heartbeat
 *   GET  /rollouts         the update server's rollouts: target, ramp, paused and why, machines
 *   GET  /rollouts/{name}/{channel}   one rollout: machines per version, in flight, failures
 *                          with their error codes, the ramp over time (SVG), its history
 *   GET  /login            the sign-in form; POST /login with the tenant's API token
 *   GET  /login/{nonce}    a one-time sign-in link (minted by POST /api/v1/login-links)
 *   POST /logout
 *
 * Pages are built server-side with html.h (every value escaped), need no JavaScript (a small
 * inline script follows the live console; without it the page links to the console stream),
 * load nothing from elsewhere and carry a Content-Security-Policy that allows only their own
 * inline style and script (by hash), same-origin fetches and images.
 *
 * Sign-in: the browser never holds the API token. POST /login checks it and answers with a
 * session cookie (kiln_session: 32 random bytes; HttpOnly, SameSite=Strict, 8 hours) naming a
 * session kept in the server's memory (a restart signs everyone out). A sign-in link carries a
 * nonce valid once for 60 s, never a token. Sessions see what their tenant's token sees: a
 * tenant its own jobs (another's job page is 404), the admin every job. Nothing here logs a
 * token, nonce or session id. */
#pragma once
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "service/dash_parse.h"
#include "service/store.h"

#define KILN_DASH_SESSION_MS (8LL * 3600 * 1000)
#define KILN_DASH_LINK_MS (60LL * 1000)
#define KILN_DASH_SESSIONS_MAX 4096 /* sessions and unused links held at once, all tenants */
/* Per tenant, so one tenant (or one leaked token) cannot fill the table for the others. A
 * sign-in past KILN_DASH_TENANT_SESSIONS ends that tenant's oldest session (whoever holds the
 * token may sign in; a browser that was thrown away never signs out). A link past
 * KILN_DASH_TENANT_LINKS is refused (-EUSERS, 429): links are minted by scripts, an unused one
 * lapses within a minute, and ending one a script already handed to a browser would break it
 * silently. */
#define KILN_DASH_TENANT_SESSIONS 32
#define KILN_DASH_TENANT_LINKS 16
/* The last slots of the table are the admin's: tenants together fill at most this many. */
#define KILN_DASH_ADMIN_RESERVE 64
/* Failed sign-ins (a wrong token on POST /login, an unknown link, a bad Bearer token on the
 * API) per client address: after KILN_DASH_AUTH_FAILS within KILN_DASH_AUTH_WINDOW_MS the
 * address gets 429 until the window that began with its first failure is over. Addresses are
 * remembered in a table of KILN_DASH_AUTH_ADDRS (the stalest window makes room). */
#define KILN_DASH_AUTH_FAILS 20
#define KILN_DASH_AUTH_WINDOW_MS (60LL * 1000)
#define KILN_DASH_AUTH_ADDRS 1024

struct kiln_dash_env {
    const char *jobs_dir; /* DATA/jobs: one directory per job (server.h) */
    /* a store handle for this thread, given back after use (NULL: the database failed, *rc
     * its -errno: kiln_store_transient tells 503 from 500) */
    struct kiln_store *(*store_get)(void *ctx, int *rc);
    void (*store_put)(void *ctx, struct kiln_store *st);
    void *ctx;
    /* the update server's gallery (kiln serve --gallery; NULL: none) and the service's data
     * directory: whom the rollout pages show rollouts to (dashboard.c, rollouts_visible) */
    const char *gallery, *data;
    /* the wall clock in ms (NULL: CLOCK_REALTIME); sessions and links expire by it */
    int64_t (*now_ms)(void);
};

struct kiln_dash;
struct kiln_dash *kiln_dash_new(const struct kiln_dash_env *env);
void kiln_dash_free(struct kiln_dash *d);

/* Whether url (a path) is the dashboard's: anything outside /api/. */
bool kiln_dash_owns(const char *url);
/* One call of libmicrohttpd's access handler for a dashboard URL; *state is this request's
 * (NULL on the first call), freed by kiln_dash_state_free when the request ends. */
enum MHD_Result kiln_dash_handle(struct kiln_dash *d, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *upload, size_t *upload_size, void **state);
void kiln_dash_state_free(void *state);
/* Answers a dashboard request the server refused before reading it (its framing: two
 * Content-Length fields, or Content-Length with Transfer-Encoding) with the dashboard's HTML
 * page saying why, and closes the connection after it (where the body ends is unknown). */
enum MHD_Result kiln_dash_refuse(struct kiln_dash *d, struct MHD_Connection *c, const char *method, const char *url,
                                 unsigned status, const char *why);

/* The tenant whose session the request's cookie names: 0 and *t filled, or -EACCES. The
 * server lets it stand for a Bearer token on the API's GET routes (console, artifacts), so
 * the pages can link to them. */
int kiln_dash_session(struct kiln_dash *d, struct MHD_Connection *c, struct kiln_tenant *t);

/* Mints a one-time sign-in link for tenant t: *path gets "/login/NONCE" (malloc'ed), valid
 * once until *expires_ms. -EUSERS when t holds KILN_DASH_TENANT_LINKS unused links; -ENOSPC
 * when the table is full (KILN_DASH_SESSIONS_MAX, less the admin's reserve for a tenant). */
int kiln_dash_link_mint(struct kiln_dash *d, const struct kiln_tenant *t, char **path, int64_t *expires_ms);

/* Opens a session for t (a sign-in): idhex gets its id (64 hex digits and a NUL), the cookie's
 * value. At KILN_DASH_TENANT_SESSIONS, t's oldest session ends; -ENOSPC when the table is full
 * as for links. */
int kiln_dash_session_open(struct kiln_dash *d, const struct kiln_tenant *t, char idhex[65]);
/* The tenant of the live session idhex names: 0 and *t filled, or -EACCES. */
int kiln_dash_session_check(struct kiln_dash *d, const char *idhex, struct kiln_tenant *t);

/* Sign-in failures of a client address (its text, as inet_ntop writes it): whether it may
 * try now (false: *retry_s gets the seconds until it may), and recording one failure. */
bool kiln_dash_auth_allowed(struct kiln_dash *d, const char *addr, int *retry_s);
void kiln_dash_auth_failed(struct kiln_dash *d, const char *addr);
/* The text of c's client address for the two above ("?" when MHD does not say). */
void kiln_dash_client_addr(struct MHD_Connection *c, char out[64]);

/* kiln_api_query_check of c's query parameters: 0, or -EINVAL with *field and *reterr. */
int kiln_dash_query_check(struct MHD_Connection *c, const char *const *known, char **field, char **reterr);

/* Exposed for the unit tests. */
/* The image name a job is shown and grouped by: the name it was submitted with, else the
 * gallery reference's name, else "sha256:" and 12 digits of its digest. Caller frees. */
char *kiln_dash_image_name(const struct kiln_job *j);
/* The rollouts page and one rollout's page (machines per version, in flight, failures with
 * their error codes, the ramp over time as SVG, paused and why), as viewer sees them: the
 * admin every rollout, a tenant those of the update server's gallery only when it is the
 * tenant's own (DATA/galleries/TENANT); -ENOENT for a rollout that is not there or not
 * theirs. */
int kiln_dash_rollouts_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, char **html, size_t *len,
                            char **reterr);
int kiln_dash_rollout_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, const char *name,
                           const char *channel, char **html, size_t *len, char **reterr);
/* The page of job id (HTML, malloc'ed, *len bytes) as viewer sees it (a tenant its own jobs,
 * the admin every job), from the store and the files of DATA/jobs/ID; 0, or -ENOENT as
 * kiln_store_job_get. */
int kiln_dash_job_page(struct kiln_dash *d, struct kiln_store *st, const struct kiln_tenant *viewer, int64_t id, char **html,
                       size_t *len, char **reterr);
