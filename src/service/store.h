/* The service's state: tenants, workers, images, jobs and their attempts, behind one
 * interface with two backends (store_sqlite.c: SQLite in WAL mode, one machine;
 * store_pg.c: PostgreSQL through libpq, shared by servers on many hosts).
 *
 * A backend is a small driver (struct kiln_store_driver, store_impl.h): connect, run a
 * parametrised statement, transactions, and the few words its SQL dialect spells differently.
 * Everything else (schema and migrations, the job state machine, claims, leases, quotas) is
 * written once in store.c, so both backends behave alike by construction and the same tests
 * run against both (tests/unit/test_store.c).
 *
 * Conventions:
 *  - Functions return 0 (or a count / 1 where said) or a negative errno; on error *reterr (when
 *    err is non-NULL) gets a malloc'ed one-line message saying what and what to do. Nothing
 *    here prints.
 *  - Times are milliseconds since the Unix epoch (int64), taken from the store's clock
 *    (kiln_store_opts.now_ms; tests pass a fake one).
 *  - Ids are positive int64; 0 means "none".
 *  - A handle is one database connection and is used by one thread at a time; threads and
 *    processes open their own. Atomicity between them comes from the database (SQLite:
 *    BEGIN IMMEDIATE; PostgreSQL: row locks, SELECT ... FOR UPDATE SKIP LOCKED for claims).
 *  - Every query that reads a tenant's data takes a scope: a tenant id, or KILN_SCOPE_ALL
 *    (the admin). Another tenant's job or image is -ENOENT ("not found"), never -EACCES.
 *
 * Errors common to all calls: -EIO (the database failed; the message has its words),
 * -EBUSY (SQLite stayed locked past the busy timeout), -ECONNRESET (PostgreSQL: the
 * connection was lost; the handle stays unusable, kiln_store_alive), -EAGAIN (PostgreSQL:
 * a serialisation failure or deadlock, after the store's own retries), -ENOSPC (the disk is
 * full), -ENOMEM. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "update/omaha.h"
#include "update/policy.h"

struct kiln_store;

/* Bounds on what the store accepts (all in bytes unless said). */
#define KILN_STORE_NAME_MAX 64          /* tenant, worker, channel, arch and accel names: [A-Za-z0-9._-] */
/* The rule of those names, as a refusal states it. */
#define KILN_STORE_NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-', without \"..\""
/* Whether s is such a name (what tenant, worker and channel names are checked against before
 * the database is touched). */
bool kiln_store_name_ok(const char *s);
#define KILN_STORE_SPEC_MAX (256 * 1024) /* a job's selection/runbook JSON */
#define KILN_STORE_REF_MAX 512          /* a gallery reference, an image path */
#define KILN_STORE_KEY_MAX 1024         /* a trusted public key's text */
#define KILN_STORE_REASON_MAX 4096      /* longer reasons are cut */
#define KILN_STORE_LIST_MAX 1000        /* most rows one list call returns */
#define KILN_STORE_MACHINES_MAX 100000  /* default kiln_store_opts.max_machines */
#define KILN_STORE_MACHINE_STALE_MS (7 * 86400 * 1000LL) /* a machine unseen this long may give up its row */
#define KILN_STORE_EVENTS_MAX 1000000   /* update events kept (the newest); older ones are pruned */
#define KILN_TOKEN_LEN 67               /* "kt_" or "kw_" + 64 hex digits (32 random bytes) */

/* The scope that sees every tenant (the admin token). Tenant ids are positive, so an
 * uninitialised scope (0) sees nothing rather than everything. */
#define KILN_SCOPE_ALL ((int64_t)-1)

struct kiln_store_opts {
    /* Attempts a job gets before an infrastructure failure is final (default 3). */
    int max_attempts;
    /* After a worker lost a job (lease lapsed), other workers get this long to take it
     * before that worker may again (default 60000 ms): the lost worker is not preferred,
     * yet a fleet of one still finishes its queue. */
    int64_t avoid_ms;
    /* SQLite: how long a writer waits for the lock (default 30000 ms). */
    int busy_timeout_ms;
    /* The database must already hold kiln's schema at this kiln's version (every verb but
     * kiln serve): opening creates, migrates and writes nothing; -ENOENT when there is no
     * database or it has no kiln schema, -EPROTO when its schema is older or newer. */
    bool existing;
    /* The update server's machines of one image name it keeps (default
     * KILN_STORE_MACHINES_MAX): a new machine past it takes the row of the one seen longest
     * ago that was unseen for KILN_STORE_MACHINE_STALE_MS, has no group and holds no grant,
     * else its check or event is refused -EUSERS with nothing written (kiln serve answers that
     * app error-instanceRegistrationFailed, and 503 with Retry-After when no app of the request
     * was served): machine ids
     * are the client's to invent, and an invented one must not grow the table without end. */
    int64_t max_machines;
    /* The clock (default: CLOCK_REALTIME). */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

/* Opens url and brings its schema to the newest version (migrations, idempotent):
 *   "sqlite:PATH"                 SQLite database file PATH (created; WAL; e.g. DATA/kiln.db)
 *   "postgresql://..." or "postgres://..."   a libpq connection URI, e.g.
 *                                 postgresql:///kiln?host=/run/postgresql
 * opts may be NULL (defaults). -EINVAL: url names no backend; -EPROTO: the database's schema
 * is newer than this kiln knows (upgrade kiln); -ECONNREFUSED: PostgreSQL unreachable;
 * with opts->existing, -ENOENT: no kiln database there. */
int kiln_store_open(const char *url, const struct kiln_store_opts *opts, struct kiln_store **out, char **reterr);
void kiln_store_close(struct kiln_store *st);
/* Whether the handle still reaches its database: false once a PostgreSQL connection was
 * lost (the server restarted, the network cut it); such a handle is closed, not reused. */
bool kiln_store_alive(const struct kiln_store *st);
/* Whether rc is a failure that passes with time rather than a fault: the database busy or
 * locked (-EBUSY), a transaction that lost a race (-EAGAIN), the database unreachable or its
 * connection lost (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT). kiln serve answers those 503
 * with Retry-After, other failures 500. */
bool kiln_store_transient(int rc);
/* "sqlite" or "postgresql". */
const char *kiln_store_backend(const struct kiln_store *st);
/* The schema version the database is at, and the newest this kiln knows. */
int kiln_store_schema_version(struct kiln_store *st, int *version, char **reterr);
int kiln_store_schema_latest(void);

/* What a worker offers and what a job needs, matched as: accel and arch equal unless the job
 * leaves them empty (any); the worker's cpus and memory_mb at least the job's; the job's
 * feature bits (FEAT_* of core/req.h: uefi, tpm, nvme, multiqueue, gpu, ...) a subset of the
 * worker's. */
struct kiln_caps {
    char accel[KILN_STORE_NAME_MAX + 1]; /* "kvm", "tcg"; "" in a job: any */
    char arch[KILN_STORE_NAME_MAX + 1];  /* "x86_64", "aarch64"; "" in a job: any */
    int cpus;
    int memory_mb;
    unsigned features;
};
/* True when have meets need. */
bool kiln_caps_meet(const struct kiln_caps *have, const struct kiln_caps *need);

/* --- tenants (publishers) ---------------------------------------------------------------- */

struct kiln_tenant {
    int64_t id;
    char name[KILN_STORE_NAME_MAX + 1];
    int max_jobs; /* jobs assigned, running or uploading at once */
    bool admin;   /* its token manages tenants and sees every tenant (KILN_SCOPE_ALL) */
    int64_t created_ms;
};

/* Adds a tenant. token (KILN_TOKEN_LEN + 1 bytes) gets its API token: 32 random bytes, shown
 * this once; only its SHA-256 is stored. -EEXIST: the name is taken; -EINVAL: bad name or
 * max_jobs < 1. */
int kiln_store_tenant_add(struct kiln_store *st, const char *name, int max_jobs, bool admin, char token[KILN_TOKEN_LEN + 1],
                          struct kiln_tenant *out, char **reterr);
/* The tenant a token belongs to (hash looked up, compared in constant time). -EACCES: no
 * tenant has it (malformed, unknown or revoked). */
int kiln_store_tenant_auth(struct kiln_store *st, const char *token, struct kiln_tenant *out, char **reterr);
int kiln_store_tenant_get(struct kiln_store *st, const char *name, struct kiln_tenant *out, char **reterr);
int kiln_store_tenant_set_max_jobs(struct kiln_store *st, int64_t tenant_id, int max_jobs, char **reterr);
/* Trusts a minisign public key (key_id: its 16 hex digits; text: the .pub file) for the
 * tenant's self-service publishing. Trusting the same key id again replaces its text. */
int kiln_store_tenant_trust(struct kiln_store *st, int64_t tenant_id, const char *key_id, const char *pubkey_text,
                            char **reterr);
/* The tenant's trusted keys' texts, oldest first; *keys is NULL-terminated, free with
 * kiln_strv_free. */
int kiln_store_tenant_keys(struct kiln_store *st, int64_t tenant_id, char ***keys, size_t *n, char **reterr);
void kiln_strv_free(char **v);

/* --- workers ------------------------------------------------------------------------------ */

struct kiln_worker {
    int64_t id;
    char name[KILN_STORE_NAME_MAX + 1];
    struct kiln_caps caps; /* as last declared */
    int slots;             /* jobs it runs at once */
    int64_t last_heartbeat_ms; /* 0: never heard from */
    int running;           /* jobs it holds now (worker list only) */
    int64_t created_ms;
};

/* Adds a worker with no capabilities (it declares them when it connects); token as for
 * tenants ("kw_..."). -EEXIST: the name is taken. */
int kiln_store_worker_add(struct kiln_store *st, const char *name, char token[KILN_TOKEN_LEN + 1], struct kiln_worker *out,
                          char **reterr);
/* -EACCES: no worker has this token. */
int kiln_store_worker_auth(struct kiln_store *st, const char *token, struct kiln_worker *out, char **reterr);
/* What the worker offers (on connect); counts as a heartbeat. -EINVAL: bad caps or slots < 1. */
int kiln_store_worker_declare(struct kiln_store *st, int64_t worker_id, const struct kiln_caps *caps, int slots, char **reterr);
/* The worker is alive: records the heartbeat and extends to now + lease_ms the lease of
 * every job it holds whose lease has not lapsed. *held (may be NULL) gets the ids of the jobs
 * it still holds, ascending (free()); a job the worker runs that is not among them was
 * cancelled or lost, and the worker stops it. Returns how many. */
int kiln_store_worker_heartbeat(struct kiln_store *st, int64_t worker_id, int64_t lease_ms, int64_t **held, char **reterr);
/* Every worker, by name (free(*out)). */
int kiln_store_worker_list(struct kiln_store *st, struct kiln_worker **out, size_t *n, char **reterr);

/* --- images ------------------------------------------------------------------------------- */

struct kiln_image {
    char digest[65]; /* sha256, lower-case hex */
    int64_t size;    /* bytes */
    char path[KILN_STORE_REF_MAX + 1];
    bool known;      /* the digest was stored before (this or another tenant): use path, drop the upload */
    bool tenant_had; /* this tenant had it before: what the tenant may be told (another's is not said) */
};

/* Records that tenant uploaded the image with this digest, stored at path. Images are stored
 * once per digest: when the digest is known, out->path is where it already is and out->known
 * is set. -EINVAL: bad digest, or a size that disagrees with the one recorded for it. */
int kiln_store_image_record(struct kiln_store *st, int64_t tenant_id, const char *digest, int64_t size, const char *path,
                            struct kiln_image *out, char **reterr);
/* -ENOENT: scope has not uploaded it. */
int kiln_store_image_get(struct kiln_store *st, int64_t scope, const char *digest, struct kiln_image *out, char **reterr);

/* --- jobs ------------------------------------------------------------------------------- */

/* State (where the job is) and result (what came out) are separate:
 *   queued -> assigned -> running -> uploading -> done      (result passed | failed | incomplete)
 *   any state but done -> cancelled                           (no result)
 *   assigned | running | uploading -> queued                  (the attempt was incomplete: retried)
 *   assigned -> done only with result incomplete (attempts used up before it ran) */
enum kiln_job_state { JOB_QUEUED, JOB_ASSIGNED, JOB_RUNNING, JOB_UPLOADING, JOB_DONE, JOB_CANCELLED, JOB_STATE_COUNT };
enum kiln_job_result { RESULT_NONE, RESULT_PASSED, RESULT_FAILED, RESULT_INCOMPLETE, RESULT_COUNT };
const char *kiln_job_state_name(enum kiln_job_state s);
const char *kiln_job_result_name(enum kiln_job_result r); /* RESULT_NONE: "" */
/* -1 when name is none of them. */
int kiln_job_state_parse(const char *name);
/* 0, or -EINVAL with "job state cannot go from X to Y" in *reterr. */
int kiln_job_transition_check(enum kiln_job_state from, enum kiln_job_state to, enum kiln_job_result result, char **reterr);

struct kiln_job_submit {
    const char *image_digest; /* one of the tenant's images, or NULL */
    const char *gallery_ref;  /* or a gallery reference ("NAME@VERSION"), or NULL: exactly one */
    const char *spec;         /* the selection or runbook, as JSON text (<= KILN_STORE_SPEC_MAX) */
    const char *publish_channel; /* publish on pass, or NULL */
    const char *publish_files;   /* with a channel: the version's files, JSON {"NAME": DIGEST, ...}
                                  * (each one of the tenant's uploads; the server checks) */
    struct kiln_caps req;     /* what a worker must offer */
};

struct kiln_job {
    int64_t id, tenant_id;
    char tenant[KILN_STORE_NAME_MAX + 1];
    char *image_digest, *gallery_ref, *spec, *publish_channel; /* NULL when absent */
    struct kiln_caps req;
    enum kiln_job_state state;
    enum kiln_job_result result;
    char *reason;         /* why the last attempt ended as it did, or NULL */
    int attempt;          /* attempts started (1 on the first claim) */
    int max_attempts;
    int64_t worker_id;    /* the worker of the current or last attempt; 0 while queued */
    char worker[KILN_STORE_NAME_MAX + 1];
    int64_t lease_expires_ms; /* 0 when not held */
    int64_t created_ms, started_ms, finished_ms, updated_ms; /* 0: not yet */
    long queue_position;  /* 1 = next to be claimed among queued jobs (first in, first out;
                           * a worker skips jobs it cannot run); 0 when not queued */
    char *publish_files;  /* as submitted, or NULL */
    char publish_state[16]; /* "" (not publishing), pending, publishing, published, refused */
    char *publish_reason; /* why refused (or what was published), or NULL */
    int publish_takes;    /* how often its publish was taken: more than 1 is a resume */
};
void kiln_job_clear(struct kiln_job *j);
void kiln_jobs_free(struct kiln_job *jobs, size_t n);

struct kiln_attempt {
    int attempt;
    int64_t worker_id;
    char worker[KILN_STORE_NAME_MAX + 1];
    int64_t started_ms, ended_ms; /* ended 0: still going */
    enum kiln_job_result result;  /* RESULT_NONE while going, or when cancelled */
    char *reason;
};
void kiln_attempts_free(struct kiln_attempt *a, size_t n);

/* Queues a job for tenant_id (quotas are not checked here: claims respect them). -ENOENT:
 * the image is not one of the tenant's; -EINVAL: a field out of bounds (named in *reterr), spec
 * not JSON. */
int kiln_store_job_submit(struct kiln_store *st, int64_t tenant_id, const struct kiln_job_submit *s, int64_t *id,
                          char **reterr);
/* -ENOENT ("job N not found") when the job does not exist or is another tenant's. */
int kiln_store_job_get(struct kiln_store *st, int64_t scope, int64_t id, struct kiln_job *out, char **reterr);
/* Newest first; state < 0: any; only jobs whose id is below before (0: from the newest), so
 * a list goes on from its last id a page at a time; at most limit (<= KILN_STORE_LIST_MAX). */
int kiln_store_job_list(struct kiln_store *st, int64_t scope, int state, int64_t before, size_t limit, struct kiln_job **out,
                        size_t *n, char **reterr);
/* Every attempt of a job, first to last (the dashboard shows each try). */
int kiln_store_job_attempts(struct kiln_store *st, int64_t scope, int64_t id, struct kiln_attempt **out, size_t *n,
                            char **reterr);
/* Cancels a job that is not done; its worker learns it at its next heartbeat. -ENOENT as
 * job_get; -EINVAL: already done or cancelled. */
int kiln_store_job_cancel(struct kiln_store *st, int64_t scope, int64_t id, char **reterr);

/* Gives the worker the first queued job it can run: its capabilities meet the job's
 * requirements, it holds fewer jobs than its slots, the job's tenant has fewer than max_jobs
 * jobs assigned/running/uploading, and the worker did not lose this job within avoid_ms.
 * The job becomes assigned with a new attempt and a lease until now + lease_ms.
 * Returns 1 with *out filled, 0 when there is nothing for this worker. Atomic: among any
 * number of concurrent claimers a job goes to exactly one. */
int kiln_store_claim(struct kiln_store *st, int64_t worker_id, int64_t lease_ms, struct kiln_job *out, char **reterr);
/* The holding worker moves its job on: assigned -> running -> uploading. -ECANCELED: its
 * tenant (or the admin) cancelled the job: stop it, it is not run again; -ESTALE: the worker
 * no longer holds the job (lease lapsed: another try has it); -EINVAL: not a legal step. */
int kiln_store_job_advance(struct kiln_store *st, int64_t worker_id, int64_t id, enum kiln_job_state to, char **reterr);
/* The holding worker reports its attempt's result. passed/failed: the job is done with it.
 * incomplete (the infrastructure failed: say why in reason): the job is queued again for
 * another attempt, or done with result incomplete after max_attempts. *state (may be NULL)
 * gets the job's new state. -ECANCELED, -ESTALE, -EINVAL as job_advance. */
int kiln_store_job_finish(struct kiln_store *st, int64_t worker_id, int64_t id, enum kiln_job_result result,
                          const char *reason, enum kiln_job_state *state, char **reterr);
/* Ends every attempt whose lease lapsed as incomplete and queues its job again (or ends it
 * done/incomplete when out of attempts). The server calls it every few seconds; one call
 * handles at most 100 jobs. Returns how many it handled. */
int kiln_store_sweep(struct kiln_store *st, char **reterr);

/* At a server's start: every held job's lease runs at least lease_ms from now, so the time the
 * server was down (its workers could not renew) is not held against them; a worker that is
 * gone for good loses its jobs one lease later. Every held job's, whichever server it came
 * through: with several servers on one database a restart delays noticing a dead worker of
 * another server by at most one lease (the store does not know which server a worker talks to).
 * The number of leases moved on, or -errno. */
int kiln_store_leases_restart(struct kiln_store *st, int64_t lease_ms, char **reterr);

/* --- the update server (update/omaha.h, update/policy.h; docs/updates.md) ----------------- */

/* A rollout: the policy of one image name (the Omaha appid) in one channel (the track). */
struct kiln_rollout {
    char name[ROLLOUT_VERSION_MAX + 1];
    char channel[KILN_STORE_NAME_MAX + 1];
    struct rollout_policy p;
    int64_t set_ms;     /* when the target was set: failures count from then */
    int64_t updated_ms;
};
/* -ENOENT: no rollout for name in channel. */
int kiln_store_rollout_get(struct kiln_store *st, const char *name, const char *channel, struct kiln_rollout *out,
                           char **reterr);
/* Creates or replaces the rollout's knobs (p.paused and p.pause_reason are ignored: a new
 * target starts unpaused with its failure count at 0; the same target keeps its pause).
 * Logged in the rollout's history. -EINVAL: a bad name, version or knob. */
int kiln_store_rollout_set(struct kiln_store *st, const struct kiln_rollout *r, char **reterr);
/* Pauses (reason: why, "by hand" when NULL) or resumes. -ENOENT: no such rollout. */
int kiln_store_rollout_pause(struct kiln_store *st, const char *name, const char *channel, bool pause, const char *reason,
                             char **reterr);
/* Puts a machine of name in group ("" none); pins apply per group. */
int kiln_store_machine_group(struct kiln_store *st, const char *name, const char *machine_id, const char *group,
                             char **reterr);
/* What kiln_store_update_check and kiln_store_update_event refuse -EINVAL before touching the
 * database: an image name, a channel ([A-Za-z0-9._-]), a machine id and a running version
 * (omaha_name_ok). 0 or -EINVAL with *reterr. kiln serve checks every app of a request first, so
 * a bad one refuses the request before anything of it is written. */
int kiln_store_update_client_check(const char *name, const char *channel, const char *machine_id, const char *running,
                                   char **reterr);
/* A machine's update check: records it (version, last seen), decides with the rollout's
 * policy against the channel's published versions, and when it offers a new grant records
 * it, all in one transaction under the rollout's lock (so max per period and max in flight
 * hold with any number of servers). Without a rollout the answer is ROLLOUT_UP_TO_DATE.
 * A machine holding a grant that now runs neither the granted version nor the one it ran
 * when granted (a payload that installed another version) has its grant released, state
 * failed: it no longer counts in flight. -EINVAL: a field out of bounds (the Omaha layer
 * checked them already); -EUSERS: a new machine and no room for it (max_machines). */
int kiln_store_update_check(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                            const char *running, const struct rollout_version *versions, size_t nversions,
                            struct rollout_decision *d, char **reterr);
/* Drops the update events past the newest KILN_STORE_EVENTS_MAX and the grant records older
 * than the longest rollout period (they only count grants within a period): 0 or -errno.
 * kiln serve calls it with its sweep. */
int kiln_store_update_prune(struct kiln_store *st, char **reterr);
/* A machine's Omaha event: recorded with the version it was granted; moves its state
 * (downloading, downloaded, installed, complete, failed: the last two end its grant); a
 * failure of the rollout's target pauses the rollout once pause_after_failures is reached
 * (*paused_now set). */
int kiln_store_update_event(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                            const char *running, const struct omaha_event *e, bool *paused_now, char **reterr);
/* The events of one <app> of a request (nev of them, in order), as kiln_store_update_event
 * records each, in one transaction: a failure at any of them writes none (the client sends
 * them all again), *paused_now set only once they are committed. */
int kiln_store_update_events(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                             const char *running, const struct omaha_event *ev, size_t nev, bool *paused_now, char **reterr);

struct kiln_update_failure {
    char machine_id[OMAHA_TOKEN_MAX + 1], version[OMAHA_TOKEN_MAX + 1], target[OMAHA_TOKEN_MAX + 1];
    int type;
    bool has_errorcode;
    int64_t errorcode, at_ms;
};
/* The state a set, pause or resume left: one step of the ramp over time. */
struct kiln_rollout_step {
    int64_t at_ms;
    char target[ROLLOUT_VERSION_MAX + 1];
    int permyriad;
    bool paused;
};
struct kiln_rollout_status {
    bool has_rollout;
    struct kiln_rollout rollout;
    int machines, inflight;
    struct { char version[OMAHA_TOKEN_MAX + 1]; int machines; } *versions; /* by version */
    size_t nversions;
    struct kiln_update_failure *failures; /* since the target was set, newest first, at most 100 */
    size_t nfailures;
    struct { int64_t at_ms; char *what; } *log; /* the history in words, newest first, at most 50 */
    size_t nlog;
    struct kiln_rollout_step *ramp; /* the ramp over time: oldest first, the newest 500 steps */
    size_t nramp;
    int64_t *granted_ms; /* when machines were granted the target (since it was set), oldest first, at most 10000 */
    size_t ngranted;
};
/* Every rollout (name, channel, policy), by name then channel, at most 1000 (free(*out)). */
int kiln_store_rollout_list(struct kiln_store *st, struct kiln_rollout **out, size_t *n, char **reterr);
int kiln_store_rollout_status(struct kiln_store *st, const char *name, const char *channel, struct kiln_rollout_status *out,
                              char **reterr);
void kiln_rollout_status_free(struct kiln_rollout_status *s);
/* --- self-service publishing ------------------------------------------------------------- */

/* Takes the oldest job that asked to be published and has ended (done or cancelled) and is
 * still pending: it becomes "publishing" (one taker among any number of servers). Returns 1
 * with *out filled, 0 when there is none. A passed job is then published or refused; a job
 * that did not pass is refused. */
int kiln_store_publish_take(struct kiln_store *st, struct kiln_job *out, char **reterr);
/* Jobs "publishing" since before taken_before_ms (their publisher may have stopped), at most
 * 100, ascending (free(*ids)). */
int kiln_store_publish_stuck(struct kiln_store *st, int64_t taken_before_ms, int64_t **ids, size_t *n, char **reterr);
/* A publish whose publisher stopped (the caller knows it: service/publish.c holds a lock per
 * publish): pending again, to be taken and resumed, or refused with the reason once it was
 * taken max_takes times. 1: pending again; 2: refused; -ESTALE: not "publishing". */
int kiln_store_publish_resume(struct kiln_store *st, int64_t id, int max_takes, char **reterr);
/* Records the outcome of a publish taken above: published, or refused with the reason
 * (cleaned as reasons are). -ESTALE: the job is not being published. */
int kiln_store_publish_end(struct kiln_store *st, int64_t id, bool published, const char *reason, char **reterr);
