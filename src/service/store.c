/* The store's logic, written once for both backends: schema and migrations, tokens, the job
 * state machine, claims, leases and quotas. See store.h for the contract, store_driver.h for
 * what a backend provides. */
#include "service/store.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <time.h>

#include "gallery/catalog.h"
#include "service/store_driver.h"
#include "update/omaha.h"
#include "util/strv.h"
#include "util/utf8.h"
#include "util/util.h"

struct kiln_store {
    const struct kiln_store_driver *drv;
    void *conn;
    struct kiln_store_opts o;
};

/* --- small helpers ------------------------------------------------------------------------ */

int store_fail(char **reterr, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(reterr, rc, fmt, ap);
    va_end(ap);
    return rc;
}

void sql_rows_free(struct sql_rows *r)
{
    strv_free(r->cells, r->nrows * r->ncols);
    *r = (struct sql_rows){0};
}

void sql_rows_add(struct sql_rows *r, const char *const *cells)
{
    size_t at = r->nrows * r->ncols;
    r->cells = grow_array(r->cells, sizeof(*r->cells), at + r->ncols + 1, &r->cap);
    for (size_t c = 0; c < r->ncols; c++) r->cells[at + c] = cells[c] ? xstrdup(cells[c]) : NULL;
    r->nrows++;
}

static const char *cell(const struct sql_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->ncols + col];
}

static int64_t cell_int(const struct sql_rows *r, size_t row, size_t col)
{
    const char *s = cell(r, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

static char *cell_dup(const struct sql_rows *r, size_t row, size_t col)
{
    const char *s = cell(r, row, col);
    return s ? xstrdup(s) : NULL;
}

static void cell_copy(char *dst, size_t sz, const struct sql_rows *r, size_t row, size_t col)
{
    const char *s = cell(r, row, col);
    snprintf(dst, sz, "%s", s ? s : "");
}

static struct sql_param pt(const char *s)
{
    return (struct sql_param){.type = s ? SQL_TEXT : SQL_NULL, .s = s};
}
#define PI(v) ((struct sql_param){.type = SQL_INT, .i = (v)})
#define PT(v) pt(v)
#define PARAMS(...) (const struct sql_param[]){__VA_ARGS__}, ARRAY_SIZE(((const struct sql_param[]){__VA_ARGS__}))

/* The statement in the driver's dialect: {ID} and {LOCK:...} expanded (store_driver.h). */
static char *dialect(const struct kiln_store_driver *drv, const char *tmpl)
{
    struct sbuf b = {0};
    for (const char *s = tmpl; *s;) {
        if (startswith(s, "{ID}")) {
            sbuf_puts(&b, drv->id_column);
            s += 4;
        } else if (startswith(s, "{LOCK:")) {
            const char *end = strchr(s, '}');
            if (!end) break; /* store.c's own templates: never */
            if (drv->row_locks) sbuf_append(&b, s + 6, (size_t)(end - s - 6));
            s = end + 1;
        } else {
            sbuf_append(&b, s, 1);
            s++;
        }
    }
    sbuf_append(&b, "", 0);
    return sbuf_steal(&b);
}

static int q(struct kiln_store *st, const char *tmpl, const struct sql_param *p, size_t np, struct sql_rows *rows,
             char **reterr)
{
    _cleanup_free_ char *sql = dialect(st->drv, tmpl);
    return st->drv->query(st->conn, sql, p, np, rows, reterr);
}

static int begin(struct kiln_store *st, char **reterr)
{
    return st->drv->exec(st->conn, st->drv->begin_sql, reterr);
}

static int commit(struct kiln_store *st, char **reterr)
{
    return st->drv->exec(st->conn, "COMMIT", reterr);
}

static void rollback(struct kiln_store *st)
{
    st->drv->exec(st->conn, "ROLLBACK", NULL);
}

static int64_t now_ms(struct kiln_store *st)
{
    if (st->o.now_ms) return st->o.now_ms(st->o.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool valid_name(const char *s, bool empty_ok)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return empty_ok;
    if (n > KILN_STORE_NAME_MAX || s[0] == '-' || s[0] == '.' || strstr(s, "..")) return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool kiln_store_name_ok(const char *s)
{
    return valid_name(s, false);
}

static bool is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* Well-formed UTF-8 (PostgreSQL refuses anything else), no control characters but tab and
 * line feed, at most max bytes. */
static bool valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) return false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k || (cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f) return false;
        i += k;
    }
    return true;
}

/* --- schema -------------------------------------------------------------------------------- */

/* One entry per schema version, applied in order, never edited once released: a change is a
 * new entry. Integers are BIGINT on both backends (SQLite gives BIGINT integer affinity);
 * times are ms since the epoch; hashes are lower-case hex. */
static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE tenants ("
    " id {ID},"
    " name TEXT NOT NULL UNIQUE,"
    " token_hash TEXT NOT NULL UNIQUE," /* SHA-256 of the token */
    " token_lookup TEXT NOT NULL,"      /* its first 16 hex digits: the index a lookup uses */
    " max_jobs BIGINT NOT NULL CHECK (max_jobs >= 1),"
    " admin BIGINT NOT NULL DEFAULT 0,"
    " created_ms BIGINT NOT NULL);"
    "CREATE INDEX tenants_token_lookup ON tenants (token_lookup);"
    "CREATE TABLE tenant_keys ("
    " tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    " key_id TEXT NOT NULL,"
    " pubkey TEXT NOT NULL,"
    " added_ms BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, key_id));"
    "CREATE TABLE workers ("
    " id {ID},"
    " name TEXT NOT NULL UNIQUE,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " token_lookup TEXT NOT NULL,"
    " accel TEXT NOT NULL DEFAULT '',"
    " arch TEXT NOT NULL DEFAULT '',"
    " cpus BIGINT NOT NULL DEFAULT 0,"
    " memory_mb BIGINT NOT NULL DEFAULT 0,"
    " features BIGINT NOT NULL DEFAULT 0,"
    " slots BIGINT NOT NULL DEFAULT 1,"
    " last_heartbeat_ms BIGINT NOT NULL DEFAULT 0,"
    " created_ms BIGINT NOT NULL);"
    "CREATE INDEX workers_token_lookup ON workers (token_lookup);"
    "CREATE TABLE images ("
    " digest TEXT PRIMARY KEY,"
    " size BIGINT NOT NULL,"
    " path TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL);"
    "CREATE TABLE tenant_images ("
    " tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL REFERENCES images (digest),"
    " created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, digest));"
    "CREATE TABLE jobs ("
    " id {ID},"
    " tenant_id BIGINT NOT NULL REFERENCES tenants (id),"
    " image_digest TEXT REFERENCES images (digest),"
    " gallery_ref TEXT,"
    " spec TEXT NOT NULL,"
    " publish_channel TEXT,"
    " req_accel TEXT NOT NULL,"
    " req_arch TEXT NOT NULL,"
    " req_cpus BIGINT NOT NULL,"
    " req_memory_mb BIGINT NOT NULL,"
    " req_features BIGINT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'assigned', 'running', 'uploading', 'done', 'cancelled')),"
    " result TEXT CHECK (result IN ('passed', 'failed', 'incomplete')),"
    " reason TEXT,"
    " attempt BIGINT NOT NULL DEFAULT 0,"
    " max_attempts BIGINT NOT NULL,"
    " worker_id BIGINT REFERENCES workers (id),"
    " lease_expires_ms BIGINT,"
    " avoid_worker_id BIGINT REFERENCES workers (id)," /* lost the last attempt: not preferred */
    " avoid_until_ms BIGINT,"
    " created_ms BIGINT NOT NULL,"
    " started_ms BIGINT,"
    " finished_ms BIGINT,"
    " updated_ms BIGINT NOT NULL,"
    " CHECK ((image_digest IS NULL) <> (gallery_ref IS NULL)),"
    " CHECK ((state = 'done') = (result IS NOT NULL)));"
    "CREATE INDEX jobs_state ON jobs (state, id);"
    "CREATE INDEX jobs_tenant ON jobs (tenant_id, state);"
    "CREATE INDEX jobs_worker ON jobs (worker_id, state);"
    "CREATE TABLE job_attempts ("
    " job_id BIGINT NOT NULL REFERENCES jobs (id),"
    " attempt BIGINT NOT NULL,"
    " worker_id BIGINT NOT NULL REFERENCES workers (id),"
    " started_ms BIGINT NOT NULL,"
    " ended_ms BIGINT,"
    " result TEXT CHECK (result IN ('passed', 'failed', 'incomplete')),"
    " reason TEXT,"
    " PRIMARY KEY (job_id, attempt));",
    /* 2: the update server (update/omaha.h, update/policy.h): a rollout per image name and
     * channel, the machines that check in, the grants made and the events they report */
    "CREATE TABLE rollouts ("
    " name TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " enabled BIGINT NOT NULL DEFAULT 1,"
    " target TEXT NOT NULL DEFAULT '',"
    " permyriad BIGINT NOT NULL DEFAULT 0 CHECK (permyriad BETWEEN 0 AND 10000),"
    " max_per_period BIGINT NOT NULL DEFAULT 0,"
    " period_ms BIGINT NOT NULL DEFAULT 3600000 CHECK (period_ms > 0),"
    " max_inflight BIGINT NOT NULL DEFAULT 0,"
    " pause_after_failures BIGINT NOT NULL DEFAULT 0,"
    " floors TEXT NOT NULL DEFAULT '[]',"   /* JSON list of versions */
    " pins TEXT NOT NULL DEFAULT '{}',"     /* JSON object group -> version */
    " paused BIGINT NOT NULL DEFAULT 0,"
    " pause_reason TEXT NOT NULL DEFAULT '',"
    " set_ms BIGINT NOT NULL,"              /* the target was set: failures count from here */
    " updated_ms BIGINT NOT NULL,"
    " PRIMARY KEY (name, channel));"
    "CREATE TABLE rollout_log ("
    " id {ID},"
    " name TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL,"
    " what TEXT NOT NULL);"
    "CREATE INDEX rollout_log_by ON rollout_log (name, channel, at_ms);"
    "CREATE TABLE machines ("
    " name TEXT NOT NULL,"                  /* the image (Omaha appid) */
    " machine_id TEXT NOT NULL,"
    " channel TEXT NOT NULL DEFAULT '',"
    " grp TEXT NOT NULL DEFAULT '',"
    " version TEXT NOT NULL DEFAULT '',"
    " last_seen_ms BIGINT NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'idle',"  /* idle granted downloading downloaded installed complete failed */
    " grant_version TEXT,"                  /* offered and not yet completed or failed */
    " grant_ms BIGINT,"
    " PRIMARY KEY (name, machine_id));"
    "CREATE INDEX machines_grant ON machines (name, channel, grant_ms);"
    "CREATE TABLE update_grants ("
    " name TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " machine_id TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL);"
    "CREATE INDEX update_grants_by ON update_grants (name, channel, at_ms);"
    "CREATE TABLE update_events ("
    " id {ID},"
    " name TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " machine_id TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL,"
    " type BIGINT NOT NULL,"
    " result BIGINT NOT NULL,"
    " errorcode BIGINT,"
    " version TEXT NOT NULL,"               /* what the machine ran when it reported */
    " previous_version TEXT NOT NULL DEFAULT '',"
    " target TEXT NOT NULL DEFAULT '');"    /* the version it was granted, '' none */
    "CREATE INDEX update_events_by ON update_events (name, channel, result, at_ms);",
    /* 3: self-service publishing: the version's files (JSON {name: digest}) and what became
     * of the publish (pending, publishing, published, refused) with its reason */
    "ALTER TABLE jobs ADD COLUMN publish_files TEXT;"
    "ALTER TABLE jobs ADD COLUMN publish_state TEXT"
    " CHECK (publish_state IN ('pending', 'publishing', 'published', 'refused'));"
    "ALTER TABLE jobs ADD COLUMN publish_reason TEXT;",
    /* 4: the ramp over time (the dashboard's rollout page): each rollout_log row also keeps
     * the state it left (target, percentage, paused); NULL in the rows written before */
    "ALTER TABLE rollout_log ADD COLUMN target TEXT;"
    "ALTER TABLE rollout_log ADD COLUMN permyriad BIGINT;"
    "ALTER TABLE rollout_log ADD COLUMN paused BIGINT;"
    /* and how often a job's publish was taken: a server stopped mid-publish leaves it
     * "publishing", which is resumed (the count says it is a resume) or, past a bound, refused */
    "ALTER TABLE jobs ADD COLUMN publish_takes BIGINT NOT NULL DEFAULT 0;",
};

int kiln_store_schema_latest(void)
{
    return (int)ARRAY_SIZE(migrations);
}

static const char schema_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)";

static int read_version(struct kiln_store *st, int *version, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0, &r, reterr);
    if (rc < 0) return rc;
    *version = (int)cell_int(&r, 0, 0);
    sql_rows_free(&r);
    return 0;
}

/* Brings the schema to the newest version in one transaction: all pending migrations or none. */
static int migrate(struct kiln_store *st, char **reterr)
{
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    int version = 0;
    if ((st->drv->migrate_lock && (rc = q(st, st->drv->migrate_lock, NULL, 0, NULL, reterr)) < 0) ||
        (rc = q(st, schema_version_table, NULL, 0, NULL, reterr)) < 0 || (rc = read_version(st, &version, reterr)) < 0)
        goto fail;
    if (version > kiln_store_schema_latest()) {
        rc = store_fail(reterr, -EPROTO,
                        "the database's schema is version %d, newer than this kiln knows (%d): upgrade kiln", version,
                        kiln_store_schema_latest());
        goto fail;
    }
    for (int v = version; v < kiln_store_schema_latest(); v++) {
        _cleanup_free_ char *sql = dialect(st->drv, migrations[v]);
        if ((rc = st->drv->exec(st->conn, sql, reterr)) < 0 ||
            (rc = q(st, "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                    PARAMS(PI(v + 1), PI(now_ms(st))), NULL, reterr)) < 0) {
            if (reterr && *reterr) {
                char *why = *reterr;
                *reterr = NULL;
                store_fail(reterr, rc, "schema migration %d failed: %s", v + 1, why);
                free(why);
            }
            goto fail;
        }
    }
    return commit(st, reterr);
fail:
    rollback(st);
    return rc;
}

/* For a store opened with opts.existing: the schema must be there at this kiln's version;
 * only read. */
static int schema_present(struct kiln_store *st, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, st->drv->table_count_sql, PARAMS(PT("schema_version")), &r, reterr);
    if (rc < 0) return rc;
    bool there = r.nrows && cell_int(&r, 0, 0) > 0;
    sql_rows_free(&r);
    if (!there) return store_fail(reterr, -ENOENT, "the database holds no kiln schema");
    int version = 0;
    if ((rc = read_version(st, &version, reterr)) < 0) return rc;
    if (version == 0) return store_fail(reterr, -ENOENT, "the database holds no kiln schema");
    if (version > kiln_store_schema_latest())
        return store_fail(reterr, -EPROTO, "the database's schema is version %d, newer than this kiln knows (%d): upgrade kiln",
                          version, kiln_store_schema_latest());
    if (version < kiln_store_schema_latest())
        return store_fail(reterr, -EPROTO,
                          "the database's schema is version %d, older than this kiln's (%d): run this kiln's `kiln serve --init` "
                          "(or start its kiln serve) once to upgrade it",
                          version, kiln_store_schema_latest());
    return 0;
}

int kiln_store_schema_version(struct kiln_store *st, int *version, char **reterr)
{
    return read_version(st, version, reterr);
}

int kiln_store_open(const char *url, const struct kiln_store_opts *opts, struct kiln_store **out, char **reterr)
{
    const struct kiln_store_driver *drv;
    const char *target;
    if (startswith(url, "sqlite:") && url[7]) {
        drv = &kiln_store_sqlite;
        target = url + 7;
    } else if (startswith(url, "postgresql://") || startswith(url, "postgres://")) {
        drv = &kiln_store_pg;
        target = url;
    } else {
        /* only the scheme: the rest may hold a password */
        return store_fail(reterr, -EINVAL, "unknown database kind \"%.*s\": use sqlite:PATH or a postgresql:// URI",
                          (int)MIN(strcspn(url, ":"), (size_t)20), url);
    }
    struct kiln_store *st = xcalloc(1, sizeof(*st));
    st->drv = drv;
    if (opts) st->o = *opts;
    if (st->o.max_attempts <= 0) st->o.max_attempts = 3;
    if (st->o.avoid_ms <= 0) st->o.avoid_ms = 60000;
    if (st->o.busy_timeout_ms <= 0) st->o.busy_timeout_ms = 30000;
    if (st->o.max_machines <= 0) st->o.max_machines = KILN_STORE_MACHINES_MAX;
    int rc = drv->connect(target, &st->o, &st->conn, reterr);
    if (rc < 0) {
        free(st);
        return rc;
    }
    if ((rc = st->o.existing ? schema_present(st, reterr) : migrate(st, reterr)) < 0) {
        kiln_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void kiln_store_close(struct kiln_store *st)
{
    if (!st) return;
    st->drv->disconnect(st->conn);
    free(st);
}

bool kiln_store_alive(const struct kiln_store *st)
{
    return st && (!st->drv->alive || st->drv->alive(st->conn));
}

bool kiln_store_transient(int rc)
{
    return rc == -EBUSY || rc == -EAGAIN || rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -ETIMEDOUT;
}

const char *kiln_store_backend(const struct kiln_store *st)
{
    return st->drv->name;
}

/* --- capabilities ------------------------------------------------------------------------- */

bool kiln_caps_meet(const struct kiln_caps *have, const struct kiln_caps *need)
{
    return (!need->accel[0] || streq(need->accel, have->accel)) && (!need->arch[0] || streq(need->arch, have->arch)) &&
           have->cpus >= need->cpus && have->memory_mb >= need->memory_mb && (need->features & ~have->features) == 0;
}

static int check_caps(const struct kiln_caps *c, const char *what, char **reterr)
{
    if (!valid_name(c->accel, true)) return store_fail(reterr, -EINVAL, "%s accel: not a name", what);
    if (!valid_name(c->arch, true)) return store_fail(reterr, -EINVAL, "%s arch: not a name", what);
    if (c->cpus < 0 || c->memory_mb < 0) return store_fail(reterr, -EINVAL, "%s cpus and memory_mb cannot be negative", what);
    return 0;
}

/* --- tokens ------------------------------------------------------------------------------- */

/* SHA-256 of the token's text, lower-case hex. The token has 256 random bits, so an unsalted
 * fast hash is enough: nothing short of the token itself finds it. */
static void token_hash(const char *token, char hex[65])
{
    unsigned char md[32];
    unsigned int len = sizeof(md);
    EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(md); i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int token_new(const char *prefix, char token[KILN_TOKEN_LEN + 1], char hash[65], char **reterr)
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return store_fail(reterr, -EIO, "cannot draw random bytes for a token (OpenSSL RAND_bytes)");
    int n = snprintf(token, KILN_TOKEN_LEN + 1, "%s", prefix);
    for (size_t i = 0; i < sizeof(raw); i++) n += snprintf(token + n, (size_t)(KILN_TOKEN_LEN + 1 - n), "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
    token_hash(token, hash);
    return 0;
}

/* The row of table whose token_hash is token's hash: looked up by the hash's first 16 hex
 * digits, then compared whole in constant time. Returns the row index or -1. */
static int token_match(const struct sql_rows *r, size_t hash_col, const char hash[65])
{
    int found = -1;
    for (size_t i = 0; i < r->nrows; i++) {
        const char *h = cell(r, i, hash_col);
        if (h && strlen(h) == 64 && CRYPTO_memcmp(h, hash, 64) == 0) found = (int)i;
    }
    return found;
}

static bool token_well_formed(const char *token, const char *prefix)
{
    return token && strlen(token) == KILN_TOKEN_LEN && startswith(token, prefix) && is_hex(token + 3, 64);
}

/* --- tenants ------------------------------------------------------------------------------ */

#define TENANT_COLS "id, name, max_jobs, admin, created_ms"

static void tenant_from(const struct sql_rows *r, size_t i, struct kiln_tenant *t)
{
    *t = (struct kiln_tenant){.id = cell_int(r, i, 0), .max_jobs = (int)cell_int(r, i, 2), .admin = cell_int(r, i, 3) != 0,
                              .created_ms = cell_int(r, i, 4)};
    cell_copy(t->name, sizeof(t->name), r, i, 1);
}

int kiln_store_tenant_add(struct kiln_store *st, const char *name, int max_jobs, bool admin, char token[KILN_TOKEN_LEN + 1],
                          struct kiln_tenant *out, char **reterr)
{
    if (!valid_name(name, false))
        return store_fail(reterr, -EINVAL, "tenant name \"%.64s\": want " KILN_STORE_NAME_RULE, name ? name : "");
    if (max_jobs < 1) return store_fail(reterr, -EINVAL, "tenant %s: max_jobs must be at least 1", name);
    char hash[65];
    int rc = token_new("kt_", token, hash, reterr);
    if (rc < 0) return rc;
    char lookup[17];
    snprintf(lookup, sizeof(lookup), "%.16s", hash);
    struct sql_rows r;
    rc = q(st,
           "INSERT INTO tenants (name, token_hash, token_lookup, max_jobs, admin, created_ms) VALUES ($1, $2, $3, $4, $5, $6)"
           " RETURNING " TENANT_COLS,
           PARAMS(PT(name), PT(hash), PT(lookup), PI(max_jobs), PI(admin), PI(now_ms(st))), &r, reterr);
    if (rc == -EEXIST) rc = store_fail(reterr, rc, "tenant %s exists already", name);
    if (rc < 0) {
        OPENSSL_cleanse(token, KILN_TOKEN_LEN);
        return rc;
    }
    if (out) tenant_from(&r, 0, out);
    sql_rows_free(&r);
    return 0;
}

int kiln_store_tenant_auth(struct kiln_store *st, const char *token, struct kiln_tenant *out, char **reterr)
{
    if (!token_well_formed(token, "kt_")) return store_fail(reterr, -EACCES, "not a valid tenant token");
    char hash[65];
    token_hash(token, hash);
    char lookup[17];
    snprintf(lookup, sizeof(lookup), "%.16s", hash);
    struct sql_rows r;
    int rc = q(st, "SELECT " TENANT_COLS ", token_hash FROM tenants WHERE token_lookup = $1", PARAMS(PT(lookup)), &r, reterr);
    if (rc < 0) return rc;
    int i = token_match(&r, 5, hash);
    if (i >= 0) tenant_from(&r, (size_t)i, out);
    sql_rows_free(&r);
    return i >= 0 ? 0 : store_fail(reterr, -EACCES, "not a valid tenant token");
}

int kiln_store_tenant_get(struct kiln_store *st, const char *name, struct kiln_tenant *out, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, "SELECT " TENANT_COLS " FROM tenants WHERE name = $1", PARAMS(PT(name)), &r, reterr);
    if (rc < 0) return rc;
    if (r.nrows) tenant_from(&r, 0, out);
    else rc = store_fail(reterr, -ENOENT, "tenant %.64s not found", name);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_tenant_set_max_jobs(struct kiln_store *st, int64_t tenant_id, int max_jobs, char **reterr)
{
    if (max_jobs < 1) return store_fail(reterr, -EINVAL, "max_jobs must be at least 1");
    struct sql_rows r;
    int rc = q(st, "UPDATE tenants SET max_jobs = $2 WHERE id = $1 RETURNING id", PARAMS(PI(tenant_id), PI(max_jobs)), &r,
               reterr);
    if (rc < 0) return rc;
    if (!r.nrows) rc = store_fail(reterr, -ENOENT, "tenant %" PRId64 " not found", tenant_id);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_tenant_trust(struct kiln_store *st, int64_t tenant_id, const char *key_id, const char *pubkey_text,
                            char **reterr)
{
    if (!key_id || strlen(key_id) != 16 || strspn(key_id, "0123456789ABCDEFabcdef") != 16)
        return store_fail(reterr, -EINVAL, "key id \"%.20s\": want the 16 hex digits minisign prints", key_id ? key_id : "");
    if (!pubkey_text || !*pubkey_text || !valid_text(pubkey_text, KILN_STORE_KEY_MAX))
        return store_fail(reterr, -EINVAL, "public key %s: want a minisign .pub file's text (at most %d bytes)", key_id,
                          KILN_STORE_KEY_MAX);
    int rc = q(st,
               "INSERT INTO tenant_keys (tenant_id, key_id, pubkey, added_ms) VALUES ($1, $2, $3, $4)"
               " ON CONFLICT (tenant_id, key_id) DO UPDATE SET pubkey = excluded.pubkey",
               PARAMS(PI(tenant_id), PT(key_id), PT(pubkey_text), PI(now_ms(st))), NULL, reterr);
    return rc;
}

int kiln_store_tenant_keys(struct kiln_store *st, int64_t tenant_id, char ***keys, size_t *n, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, "SELECT pubkey FROM tenant_keys WHERE tenant_id = $1 ORDER BY added_ms, key_id", PARAMS(PI(tenant_id)),
               &r, reterr);
    if (rc < 0) return rc;
    char **v = xcalloc(r.nrows + 1, sizeof(*v));
    for (size_t i = 0; i < r.nrows; i++) v[i] = cell_dup(&r, i, 0);
    *keys = v;
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

void kiln_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

/* --- workers ------------------------------------------------------------------------------ */

#define ACTIVE_STATES "('assigned', 'running', 'uploading')"
#define WORKER_COLS                                                                                               \
    "w.id, w.name, w.accel, w.arch, w.cpus, w.memory_mb, w.features, w.slots, w.last_heartbeat_ms, w.created_ms," \
    " (SELECT COUNT(*) FROM jobs j WHERE j.worker_id = w.id AND j.state IN " ACTIVE_STATES ")"

static void worker_from(const struct sql_rows *r, size_t i, struct kiln_worker *w)
{
    *w = (struct kiln_worker){.id = cell_int(r, i, 0),
                              .caps = {.cpus = (int)cell_int(r, i, 4), .memory_mb = (int)cell_int(r, i, 5),
                                       .features = (unsigned)cell_int(r, i, 6)},
                              .slots = (int)cell_int(r, i, 7),
                              .last_heartbeat_ms = cell_int(r, i, 8),
                              .created_ms = cell_int(r, i, 9),
                              .running = (int)cell_int(r, i, 10)};
    cell_copy(w->name, sizeof(w->name), r, i, 1);
    cell_copy(w->caps.accel, sizeof(w->caps.accel), r, i, 2);
    cell_copy(w->caps.arch, sizeof(w->caps.arch), r, i, 3);
}

int kiln_store_worker_add(struct kiln_store *st, const char *name, char token[KILN_TOKEN_LEN + 1], struct kiln_worker *out,
                          char **reterr)
{
    if (!valid_name(name, false))
        return store_fail(reterr, -EINVAL, "worker name \"%.64s\": want " KILN_STORE_NAME_RULE, name ? name : "");
    char hash[65];
    int rc = token_new("kw_", token, hash, reterr);
    if (rc < 0) return rc;
    char lookup[17];
    snprintf(lookup, sizeof(lookup), "%.16s", hash);
    struct sql_rows r = {0}, w = {0};
    rc = q(st, "INSERT INTO workers (name, token_hash, token_lookup, created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
           PARAMS(PT(name), PT(hash), PT(lookup), PI(now_ms(st))), &r, reterr);
    if (rc == -EEXIST) rc = store_fail(reterr, rc, "worker %s exists already", name);
    if (rc >= 0 && out &&
        (rc = q(st, "SELECT " WORKER_COLS " FROM workers w WHERE w.id = $1", PARAMS(PI(cell_int(&r, 0, 0))), &w, reterr)) >= 0)
        worker_from(&w, 0, out);
    sql_rows_free(&r);
    sql_rows_free(&w);
    if (rc < 0) OPENSSL_cleanse(token, KILN_TOKEN_LEN);
    return rc < 0 ? rc : 0;
}

int kiln_store_worker_auth(struct kiln_store *st, const char *token, struct kiln_worker *out, char **reterr)
{
    if (!token_well_formed(token, "kw_")) return store_fail(reterr, -EACCES, "not a valid worker token");
    char hash[65];
    token_hash(token, hash);
    char lookup[17];
    snprintf(lookup, sizeof(lookup), "%.16s", hash);
    struct sql_rows r;
    int rc = q(st, "SELECT " WORKER_COLS ", w.token_hash FROM workers w WHERE w.token_lookup = $1", PARAMS(PT(lookup)), &r,
               reterr);
    if (rc < 0) return rc;
    int i = token_match(&r, 11, hash);
    if (i >= 0) worker_from(&r, (size_t)i, out);
    sql_rows_free(&r);
    return i >= 0 ? 0 : store_fail(reterr, -EACCES, "not a valid worker token");
}

int kiln_store_worker_declare(struct kiln_store *st, int64_t worker_id, const struct kiln_caps *caps, int slots, char **reterr)
{
    int rc = check_caps(caps, "worker", reterr);
    if (rc < 0) return rc;
    if (slots < 1) return store_fail(reterr, -EINVAL, "worker slots must be at least 1");
    struct sql_rows r;
    rc = q(st,
           "UPDATE workers SET accel = $2, arch = $3, cpus = $4, memory_mb = $5, features = $6, slots = $7,"
           " last_heartbeat_ms = $8 WHERE id = $1 RETURNING id",
           PARAMS(PI(worker_id), PT(caps->accel), PT(caps->arch), PI(caps->cpus), PI(caps->memory_mb), PI(caps->features),
                  PI(slots), PI(now_ms(st))),
           &r, reterr);
    if (rc < 0) return rc;
    if (!r.nrows) rc = store_fail(reterr, -ENOENT, "worker %" PRId64 " not found", worker_id);
    sql_rows_free(&r);
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int kiln_store_worker_heartbeat(struct kiln_store *st, int64_t worker_id, int64_t lease_ms, int64_t **held, char **reterr)
{
    if (lease_ms <= 0) return store_fail(reterr, -EINVAL, "a lease must last more than 0 ms");
    int64_t now = now_ms(st);
    struct sql_rows w = {0}, r = {0};
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    if ((rc = q(st, "UPDATE workers SET last_heartbeat_ms = $2 WHERE id = $1 RETURNING id", PARAMS(PI(worker_id), PI(now)),
                &w, reterr)) < 0)
        goto fail;
    if (!w.nrows) {
        rc = store_fail(reterr, -ENOENT, "worker %" PRId64 " not found", worker_id);
        goto fail;
    }
    /* A lease that lapsed stays lapsed: the sweep hands its job to another worker. */
    if ((rc = q(st,
                "UPDATE jobs SET lease_expires_ms = $2, updated_ms = $3"
                " WHERE worker_id = $1 AND state IN " ACTIVE_STATES " AND lease_expires_ms > $3 RETURNING id",
                PARAMS(PI(worker_id), PI(now + lease_ms), PI(now)), &r, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    int64_t *ids = xcalloc(r.nrows + 1, sizeof(*ids));
    for (size_t i = 0; i < r.nrows; i++) ids[i] = cell_int(&r, i, 0);
    qsort(ids, r.nrows, sizeof(*ids), cmp_id);
    rc = (int)r.nrows;
    if (held) *held = ids;
    else free(ids);
    sql_rows_free(&w);
    sql_rows_free(&r);
    return rc;
fail:
    rollback(st);
    sql_rows_free(&w);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_worker_list(struct kiln_store *st, struct kiln_worker **out, size_t *n, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, "SELECT " WORKER_COLS " FROM workers w ORDER BY w.name", NULL, 0, &r, reterr);
    if (rc < 0) return rc;
    *out = xcalloc(r.nrows + 1, sizeof(**out));
    for (size_t i = 0; i < r.nrows; i++) worker_from(&r, i, &(*out)[i]);
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

/* --- images ------------------------------------------------------------------------------- */

int kiln_store_image_record(struct kiln_store *st, int64_t tenant_id, const char *digest, int64_t size, const char *path,
                            struct kiln_image *out, char **reterr)
{
    if (!is_hex(digest, 64)) return store_fail(reterr, -EINVAL, "image digest: want 64 lower-case hex digits (sha256)");
    if (size < 0) return store_fail(reterr, -EINVAL, "image sha256:%s: size cannot be negative", digest);
    if (!path || !*path || !valid_text(path, KILN_STORE_REF_MAX) || strchr(path, '\n'))
        return store_fail(reterr, -EINVAL, "image sha256:%s: path must be 1-%d bytes on one line", digest, KILN_STORE_REF_MAX);
    int64_t now = now_ms(st);
    struct sql_rows ins = {0}, r = {0};
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    /* On PostgreSQL a concurrent insert of the same digest makes this wait for it, then do
     * nothing: the SELECT after it sees that row. */
    if ((rc = q(st,
                "INSERT INTO images (digest, size, path, created_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (digest) DO NOTHING RETURNING digest",
                PARAMS(PT(digest), PI(size), PT(path), PI(now)), &ins, reterr)) < 0 ||
        (rc = q(st, "SELECT size, path FROM images WHERE digest = $1", PARAMS(PT(digest)), &r, reterr)) < 0)
        goto fail;
    if (r.nrows != 1) {
        rc = store_fail(reterr, -EIO, "image sha256:%s vanished while being recorded", digest);
        goto fail;
    }
    if (cell_int(&r, 0, 0) != size) {
        rc = store_fail(reterr, -EINVAL, "image sha256:%s is recorded with %" PRId64 " bytes, not %" PRId64 ": the upload is damaged",
                        digest, cell_int(&r, 0, 0), size);
        goto fail;
    }
    struct sql_rows mine = {0};
    if ((rc = q(st,
                "INSERT INTO tenant_images (tenant_id, digest, created_ms) VALUES ($1, $2, $3)"
                " ON CONFLICT (tenant_id, digest) DO NOTHING RETURNING digest",
                PARAMS(PI(tenant_id), PT(digest), PI(now)), &mine, reterr)) < 0)
        goto fail;
    bool tenant_had = mine.nrows == 0;
    sql_rows_free(&mine);
    if ((rc = commit(st, reterr)) < 0) goto fail;
    if (out) {
        *out = (struct kiln_image){.size = size, .known = ins.nrows == 0, .tenant_had = tenant_had};
        snprintf(out->digest, sizeof(out->digest), "%s", digest);
        cell_copy(out->path, sizeof(out->path), &r, 0, 1);
    }
    sql_rows_free(&ins);
    sql_rows_free(&r);
    return 0;
fail:
    rollback(st);
    sql_rows_free(&ins);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_image_get(struct kiln_store *st, int64_t scope, const char *digest, struct kiln_image *out, char **reterr)
{
    struct sql_rows r;
    int rc = q(st,
               "SELECT i.digest, i.size, i.path FROM images i WHERE i.digest = $2 AND EXISTS"
               " (SELECT 1 FROM tenant_images t WHERE t.digest = i.digest AND ($1 = -1 OR t.tenant_id = $1))",
               PARAMS(PI(scope), PT(digest)), &r, reterr);
    if (rc < 0) return rc;
    if (r.nrows) {
        *out = (struct kiln_image){.size = cell_int(&r, 0, 1), .known = true};
        cell_copy(out->digest, sizeof(out->digest), &r, 0, 0);
        cell_copy(out->path, sizeof(out->path), &r, 0, 2);
    } else {
        rc = store_fail(reterr, -ENOENT, "image sha256:%.64s not found", digest ? digest : "");
    }
    sql_rows_free(&r);
    return rc;
}

/* --- job states ----------------------------------------------------------------------------- */

static const char *const state_names[JOB_STATE_COUNT] = {"queued", "assigned", "running", "uploading", "done", "cancelled"};
static const char *const result_names[RESULT_COUNT] = {"", "passed", "failed", "incomplete"};

const char *kiln_job_state_name(enum kiln_job_state s)
{
    return (unsigned)s < JOB_STATE_COUNT ? state_names[s] : "?";
}

const char *kiln_job_result_name(enum kiln_job_result r)
{
    return (unsigned)r < RESULT_COUNT ? result_names[r] : "?";
}

int kiln_job_state_parse(const char *name)
{
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        if (name && streq(name, state_names[i])) return i;
    return -1;
}

static enum kiln_job_result result_parse(const char *name)
{
    for (int i = 1; i < RESULT_COUNT; i++)
        if (name && streq(name, result_names[i])) return (enum kiln_job_result)i;
    return RESULT_NONE;
}

#define B(s) (1u << (s))
static const unsigned legal_next[JOB_STATE_COUNT] = {
    [JOB_QUEUED] = B(JOB_ASSIGNED) | B(JOB_CANCELLED),
    [JOB_ASSIGNED] = B(JOB_RUNNING) | B(JOB_QUEUED) | B(JOB_DONE) | B(JOB_CANCELLED),
    [JOB_RUNNING] = B(JOB_UPLOADING) | B(JOB_QUEUED) | B(JOB_DONE) | B(JOB_CANCELLED),
    [JOB_UPLOADING] = B(JOB_QUEUED) | B(JOB_DONE) | B(JOB_CANCELLED),
};

int kiln_job_transition_check(enum kiln_job_state from, enum kiln_job_state to, enum kiln_job_result result, char **reterr)
{
    const char *bad = NULL;
    if ((unsigned)from >= JOB_STATE_COUNT || (unsigned)to >= JOB_STATE_COUNT || (unsigned)result >= RESULT_COUNT)
        bad = "not a job state";
    else if (!(legal_next[from] & B(to)))
        bad = from == JOB_DONE || from == JOB_CANCELLED ? "the job has ended" : "not a step of the job's life";
    else if (to == JOB_DONE && result == RESULT_NONE)
        bad = "done needs a result";
    else if (to != JOB_DONE && result != RESULT_NONE)
        bad = "only done has a result";
    else if (to == JOB_DONE && from == JOB_ASSIGNED && result != RESULT_INCOMPLETE)
        bad = "a job that never ran can neither pass nor fail";
    if (!bad) return 0;
    return err_setf(reterr, -EINVAL, "job state cannot go from %s to %s%s%s (%s)", kiln_job_state_name(from),
                    kiln_job_state_name(to), result != RESULT_NONE ? " " : "",
                    result != RESULT_NONE ? kiln_job_result_name(result) : "", bad);
}

/* --- jobs ------------------------------------------------------------------------------------ */

#define JOB_COLS                                                                                                       \
    "j.id, j.tenant_id, t.name, j.image_digest, j.gallery_ref, j.spec, j.publish_channel,"                              \
    " j.req_accel, j.req_arch, j.req_cpus, j.req_memory_mb, j.req_features,"                                            \
    " j.state, j.result, j.reason, j.attempt, j.max_attempts, j.worker_id, w.name, j.lease_expires_ms,"                \
    " j.created_ms, j.started_ms, j.finished_ms, j.updated_ms,"                                                         \
    " CASE WHEN j.state = 'queued' THEN (SELECT COUNT(*) FROM jobs p WHERE p.state = 'queued' AND p.id <= j.id) ELSE 0 END," \
    " j.publish_files, j.publish_state, j.publish_reason, j.publish_takes"
#define JOB_FROM " FROM jobs j JOIN tenants t ON t.id = j.tenant_id LEFT JOIN workers w ON w.id = j.worker_id"

static void job_from(const struct sql_rows *r, size_t i, struct kiln_job *j)
{
    *j = (struct kiln_job){
        .id = cell_int(r, i, 0),
        .tenant_id = cell_int(r, i, 1),
        .image_digest = cell_dup(r, i, 3),
        .gallery_ref = cell_dup(r, i, 4),
        .spec = cell_dup(r, i, 5),
        .publish_channel = cell_dup(r, i, 6),
        .req = {.cpus = (int)cell_int(r, i, 9), .memory_mb = (int)cell_int(r, i, 10), .features = (unsigned)cell_int(r, i, 11)},
        .state = (enum kiln_job_state)kiln_job_state_parse(cell(r, i, 12)),
        .result = result_parse(cell(r, i, 13)),
        .reason = cell_dup(r, i, 14),
        .attempt = (int)cell_int(r, i, 15),
        .max_attempts = (int)cell_int(r, i, 16),
        .worker_id = cell_int(r, i, 17),
        .lease_expires_ms = cell_int(r, i, 19),
        .created_ms = cell_int(r, i, 20),
        .started_ms = cell_int(r, i, 21),
        .finished_ms = cell_int(r, i, 22),
        .updated_ms = cell_int(r, i, 23),
        .queue_position = (long)cell_int(r, i, 24),
        .publish_files = cell_dup(r, i, 25),
        .publish_reason = cell_dup(r, i, 27),
    };
    cell_copy(j->publish_state, sizeof(j->publish_state), r, i, 26);
    j->publish_takes = (int)cell_int(r, i, 28);
    cell_copy(j->tenant, sizeof(j->tenant), r, i, 2);
    cell_copy(j->req.accel, sizeof(j->req.accel), r, i, 7);
    cell_copy(j->req.arch, sizeof(j->req.arch), r, i, 8);
    cell_copy(j->worker, sizeof(j->worker), r, i, 18);
}

void kiln_job_clear(struct kiln_job *j)
{
    if (!j) return;
    free(j->image_digest);
    free(j->gallery_ref);
    free(j->spec);
    free(j->publish_channel);
    free(j->publish_files);
    free(j->publish_reason);
    free(j->reason);
    *j = (struct kiln_job){0};
}

void kiln_jobs_free(struct kiln_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) kiln_job_clear(&jobs[i]);
    free(jobs);
}

void kiln_attempts_free(struct kiln_attempt *a, size_t n)
{
    for (size_t i = 0; i < n; i++) free(a[i].reason);
    free(a);
}

int kiln_store_job_submit(struct kiln_store *st, int64_t tenant_id, const struct kiln_job_submit *s, int64_t *id,
                          char **reterr)
{
    if (!s->image_digest == !s->gallery_ref)
        return store_fail(reterr, -EINVAL, "image: give either an image digest or a gallery reference");
    if (s->image_digest && !is_hex(s->image_digest, 64))
        return store_fail(reterr, -EINVAL, "image: want the sha256 digest as 64 lower-case hex digits");
    if (s->gallery_ref && (!*s->gallery_ref || !valid_text(s->gallery_ref, KILN_STORE_REF_MAX) ||
                           strpbrk(s->gallery_ref, "\n\t")))
        return store_fail(reterr, -EINVAL, "gallery_ref: want 1-%d bytes on one line", KILN_STORE_REF_MAX);
    if (s->publish_channel && !valid_name(s->publish_channel, false))
        return store_fail(reterr, -EINVAL, "publish.channel: use 1-%d letters, digits, '.', '_' or '-'", KILN_STORE_NAME_MAX);
    if (s->publish_files) {
        size_t pl = strlen(s->publish_files);
        json_t *pf = pl <= KILN_STORE_SPEC_MAX ? json_loadb(s->publish_files, pl, 0, NULL) : NULL;
        bool object = json_is_object(pf);
        json_decref(pf);
        if (!object) return store_fail(reterr, -EINVAL, "publish.files: want a JSON object of at most %d bytes", KILN_STORE_SPEC_MAX);
    }
    int rc = check_caps(&s->req, "requirements", reterr);
    if (rc < 0) return rc;
    size_t len = s->spec ? strlen(s->spec) : 0;
    if (len == 0 || len > KILN_STORE_SPEC_MAX)
        return store_fail(reterr, -EINVAL, "selection: want JSON of 1-%d bytes, got %zu", KILN_STORE_SPEC_MAX, len);
    json_error_t jerr;
    json_t *j = json_loadb(s->spec, len, 0, &jerr);
    if (!j) return store_fail(reterr, -EINVAL, "selection: not JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    bool object = json_is_object(j);
    json_decref(j);
    if (!object) return store_fail(reterr, -EINVAL, "selection: want a JSON object");

    int64_t now = now_ms(st);
    struct sql_rows img = {0}, r = {0};
    if ((rc = begin(st, reterr)) < 0) return rc;
    if (s->image_digest) {
        if ((rc = q(st, "SELECT 1 FROM tenant_images WHERE tenant_id = $1 AND digest = $2",
                    PARAMS(PI(tenant_id), PT(s->image_digest)), &img, reterr)) < 0)
            goto fail;
        if (!img.nrows) {
            rc = store_fail(reterr, -ENOENT, "image sha256:%s not found: upload it first", s->image_digest);
            goto fail;
        }
    }
    if ((rc = q(st,
                "INSERT INTO jobs (tenant_id, image_digest, gallery_ref, spec, publish_channel, req_accel, req_arch,"
                " req_cpus, req_memory_mb, req_features, state, max_attempts, created_ms, updated_ms,"
                " publish_files, publish_state)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $12, $13, $14) RETURNING id",
                PARAMS(PI(tenant_id), PT(s->image_digest), PT(s->gallery_ref), PT(s->spec), PT(s->publish_channel),
                       PT(s->req.accel), PT(s->req.arch), PI(s->req.cpus), PI(s->req.memory_mb), PI(s->req.features),
                       PI(st->o.max_attempts), PI(now), PT(s->publish_files),
                       PT(s->publish_channel ? "pending" : NULL)),
                &r, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    if (id) *id = cell_int(&r, 0, 0);
    sql_rows_free(&img);
    sql_rows_free(&r);
    return 0;
fail:
    rollback(st);
    sql_rows_free(&img);
    sql_rows_free(&r);
    return rc;
}

static int job_not_found(char **reterr, int64_t id)
{
    return store_fail(reterr, -ENOENT, "job %" PRId64 " not found", id);
}

int kiln_store_job_get(struct kiln_store *st, int64_t scope, int64_t id, struct kiln_job *out, char **reterr)
{
    struct sql_rows r;
    int rc = q(st, "SELECT " JOB_COLS JOB_FROM " WHERE j.id = $2 AND ($1 = -1 OR j.tenant_id = $1)", PARAMS(PI(scope), PI(id)),
               &r, reterr);
    if (rc < 0) return rc;
    if (r.nrows) job_from(&r, 0, out);
    else rc = job_not_found(reterr, id);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_job_list(struct kiln_store *st, int64_t scope, int state, int64_t before, size_t limit, struct kiln_job **out,
                        size_t *n, char **reterr)
{
    if (state >= JOB_STATE_COUNT) return store_fail(reterr, -EINVAL, "state: not a job state");
    if (limit == 0 || limit > KILN_STORE_LIST_MAX) limit = KILN_STORE_LIST_MAX;
    struct sql_rows r;
    int rc = q(st,
               "SELECT " JOB_COLS JOB_FROM " WHERE ($1 = -1 OR j.tenant_id = $1) AND ($2 = '' OR j.state = $2)"
               " AND ($4 <= 0 OR j.id < $4) ORDER BY j.id DESC LIMIT $3",
               PARAMS(PI(scope), PT(state < 0 ? "" : state_names[state]), PI((int64_t)limit), PI(before)), &r, reterr);
    if (rc < 0) return rc;
    *out = xcalloc(r.nrows + 1, sizeof(**out));
    for (size_t i = 0; i < r.nrows; i++) job_from(&r, i, &(*out)[i]);
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

int kiln_store_job_attempts(struct kiln_store *st, int64_t scope, int64_t id, struct kiln_attempt **out, size_t *n,
                            char **reterr)
{
    struct sql_rows r;
    int rc = q(st,
               "SELECT a.attempt, a.worker_id, w.name, a.started_ms, a.ended_ms, a.result, a.reason"
               " FROM jobs j JOIN job_attempts a ON a.job_id = j.id JOIN workers w ON w.id = a.worker_id"
               " WHERE j.id = $2 AND ($1 = -1 OR j.tenant_id = $1) ORDER BY a.attempt",
               PARAMS(PI(scope), PI(id)), &r, reterr);
    if (rc < 0) return rc;
    if (!r.nrows) {
        /* a queued job has no attempts yet; an unknown or foreign one is not found */
        sql_rows_free(&r);
        struct kiln_job j;
        if ((rc = kiln_store_job_get(st, scope, id, &j, reterr)) < 0) return rc;
        kiln_job_clear(&j);
    }
    *out = xcalloc(r.nrows + 1, sizeof(**out));
    for (size_t i = 0; i < r.nrows; i++) {
        struct kiln_attempt *a = &(*out)[i];
        *a = (struct kiln_attempt){.attempt = (int)cell_int(&r, i, 0), .worker_id = cell_int(&r, i, 1),
                                   .started_ms = cell_int(&r, i, 3), .ended_ms = cell_int(&r, i, 4),
                                   .result = result_parse(cell(&r, i, 5)), .reason = cell_dup(&r, i, 6)};
        cell_copy(a->worker, sizeof(a->worker), &r, i, 2);
    }
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

/* A reason as stored: well-formed UTF-8 without terminal escapes (it may quote a guest), at
 * most KILN_STORE_REASON_MAX bytes, cut between characters. */
static char *reason_clean(const char *reason)
{
    char *s = utf8_sanitize(reason, strlen(reason), UTF8_STRIP_ANSI);
    s[utf8_cut(s, KILN_STORE_REASON_MAX)] = 0;
    return s;
}

/* Ends the job's current attempt with result. An incomplete attempt queues the job again
 * (the worker not preferred for avoid_ms) unless it was the last; anything else ends it.
 * Inside a write transaction, the job row locked. */
static int end_attempt(struct kiln_store *st, int64_t id, int attempt, int max_attempts, int64_t worker_id,
                       enum kiln_job_result result, const char *reason, enum kiln_job_state *state, char **reterr)
{
    int64_t now = now_ms(st);
    _cleanup_free_ char *why = reason_clean(reason ? reason : "");
    const char *res = result == RESULT_NONE ? NULL : result_names[result];
    int rc = q(st, "UPDATE job_attempts SET ended_ms = $3, result = $4, reason = $5 WHERE job_id = $1 AND attempt = $2",
               PARAMS(PI(id), PI(attempt), PI(now), PT(res), PT(why)), NULL, reterr);
    if (rc < 0) return rc;
    if (result == RESULT_INCOMPLETE && attempt < max_attempts) {
        *state = JOB_QUEUED;
        return q(st,
                 "UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires_ms = NULL, reason = $2,"
                 " avoid_worker_id = $3, avoid_until_ms = $4, updated_ms = $5 WHERE id = $1",
                 PARAMS(PI(id), PT(why), PI(worker_id), PI(now + st->o.avoid_ms), PI(now)), NULL, reterr);
    }
    *state = result == RESULT_NONE ? JOB_CANCELLED : JOB_DONE;
    return q(st,
             "UPDATE jobs SET state = $2, result = $3, reason = $4, lease_expires_ms = NULL, finished_ms = $5,"
             " updated_ms = $5 WHERE id = $1",
             PARAMS(PI(id), PT(state_names[*state]), PT(res), PT(why), PI(now)), NULL, reterr);
}

int kiln_store_job_cancel(struct kiln_store *st, int64_t scope, int64_t id, char **reterr)
{
    struct sql_rows r = {0};
    _cleanup_free_ char *why = NULL;
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    if ((rc = q(st,
                "SELECT state, attempt, max_attempts, worker_id FROM jobs WHERE id = $2 AND ($1 = -1 OR tenant_id = $1)"
                " {LOCK:FOR UPDATE}",
                PARAMS(PI(scope), PI(id)), &r, reterr)) < 0)
        goto fail;
    if (!r.nrows) {
        rc = job_not_found(reterr, id);
        goto fail;
    }
    enum kiln_job_state from = (enum kiln_job_state)kiln_job_state_parse(cell(&r, 0, 0)), to;
    if (kiln_job_transition_check(from, JOB_CANCELLED, RESULT_NONE, &why) < 0) {
        rc = store_fail(reterr, -EINVAL, "job %" PRId64 ": %s", id, why);
        goto fail;
    }
    if (from == JOB_QUEUED) {
        rc = q(st,
               "UPDATE jobs SET state = 'cancelled', reason = 'cancelled', finished_ms = $2, updated_ms = $2 WHERE id = $1",
               PARAMS(PI(id), PI(now_ms(st))), NULL, reterr);
    } else {
        rc = end_attempt(st, id, (int)cell_int(&r, 0, 1), (int)cell_int(&r, 0, 2), cell_int(&r, 0, 3), RESULT_NONE,
                         "cancelled", &to, reterr);
    }
    if (rc < 0 || (rc = commit(st, reterr)) < 0) goto fail;
    sql_rows_free(&r);
    return 0;
fail:
    rollback(st);
    sql_rows_free(&r);
    return rc;
}

/* The job as its worker sees it, row locked: -ECANCELED when it was cancelled, -ESTALE
 * when worker_id no longer holds it otherwise. */
static int held_job(struct kiln_store *st, int64_t worker_id, int64_t id, struct sql_rows *r, enum kiln_job_state *state,
                    char **reterr)
{
    int rc = q(st,
               "SELECT j.state, j.attempt, j.max_attempts, j.worker_id, j.lease_expires_ms, w.name"
               " FROM jobs j LEFT JOIN workers w ON w.id = $2 WHERE j.id = $1 {LOCK:FOR UPDATE OF j}",
               PARAMS(PI(id), PI(worker_id)), r, reterr);
    if (rc < 0) return rc;
    if (!r->nrows) return job_not_found(reterr, id);
    *state = (enum kiln_job_state)kiln_job_state_parse(cell(r, 0, 0));
    const char *wname = cell(r, 0, 5) ? cell(r, 0, 5) : "?";
    if (*state == JOB_CANCELLED) return store_fail(reterr, -ECANCELED, "job %" PRId64 " was cancelled: stop it", id);
    if (cell_int(r, 0, 3) != worker_id || (*state != JOB_ASSIGNED && *state != JOB_RUNNING && *state != JOB_UPLOADING))
        return store_fail(reterr, -ESTALE, "job %" PRId64 " is not held by worker %s (its lease lapsed and it went to another try)",
                          id, wname);
    if (cell_int(r, 0, 4) <= now_ms(st))
        return store_fail(reterr, -ESTALE, "job %" PRId64 ": worker %s's lease lapsed: stop it", id, wname);
    return 0;
}

int kiln_store_job_advance(struct kiln_store *st, int64_t worker_id, int64_t id, enum kiln_job_state to, char **reterr)
{
    struct sql_rows r = {0};
    enum kiln_job_state from;
    _cleanup_free_ char *why = NULL;
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    if ((rc = held_job(st, worker_id, id, &r, &from, reterr)) < 0) goto fail;
    if ((to != JOB_RUNNING && to != JOB_UPLOADING) || kiln_job_transition_check(from, to, RESULT_NONE, &why) < 0) {
        if (to != JOB_RUNNING && to != JOB_UPLOADING)
            err_setf(&why, 0, "a worker moves a job only to running or uploading, not %s", kiln_job_state_name(to));
        rc = store_fail(reterr, -EINVAL, "job %" PRId64 ": %s", id, why);
        goto fail;
    }
    int64_t now = now_ms(st);
    if ((rc = q(st,
                "UPDATE jobs SET state = $2, updated_ms = $3, started_ms = CASE WHEN $2 = 'running' THEN $3 ELSE started_ms END"
                " WHERE id = $1",
                PARAMS(PI(id), PT(state_names[to]), PI(now)), NULL, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    sql_rows_free(&r);
    return 0;
fail:
    rollback(st);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_job_finish(struct kiln_store *st, int64_t worker_id, int64_t id, enum kiln_job_result result,
                          const char *reason, enum kiln_job_state *state, char **reterr)
{
    if (result != RESULT_PASSED && result != RESULT_FAILED && result != RESULT_INCOMPLETE)
        return store_fail(reterr, -EINVAL, "job %" PRId64 ": a result is passed, failed or incomplete", id);
    struct sql_rows r = {0};
    enum kiln_job_state from, to = JOB_DONE;
    _cleanup_free_ char *why = NULL;
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    if ((rc = held_job(st, worker_id, id, &r, &from, reterr)) < 0) goto fail;
    int attempt = (int)cell_int(&r, 0, 1), max_attempts = (int)cell_int(&r, 0, 2);
    bool retry = result == RESULT_INCOMPLETE && attempt < max_attempts;
    if (kiln_job_transition_check(from, retry ? JOB_QUEUED : JOB_DONE, retry ? RESULT_NONE : result, &why) < 0) {
        rc = store_fail(reterr, -EINVAL, "job %" PRId64 ": %s", id, why);
        goto fail;
    }
    if ((rc = end_attempt(st, id, attempt, max_attempts, worker_id, result, reason, &to, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    if (state) *state = to;
    sql_rows_free(&r);
    return 0;
fail:
    rollback(st);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_sweep(struct kiln_store *st, char **reterr)
{
    int64_t now = now_ms(st);
    struct sql_rows r = {0};
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    /* SKIP LOCKED: a job a worker is finishing right now is left to that worker. */
    if ((rc = q(st,
                "SELECT j.id, j.attempt, j.max_attempts, j.worker_id, w.name, w.last_heartbeat_ms FROM jobs j"
                " JOIN workers w ON w.id = j.worker_id WHERE j.state IN " ACTIVE_STATES " AND j.lease_expires_ms <= $1"
                " ORDER BY j.id LIMIT 100 {LOCK:FOR UPDATE OF j SKIP LOCKED}",
                PARAMS(PI(now)), &r, reterr)) < 0)
        goto fail;
    for (size_t i = 0; i < r.nrows; i++) {
        int64_t heard = cell_int(&r, i, 5);
        _cleanup_free_ char *why =
            heard ? xasprintf("incomplete: worker %s stopped renewing its lease (last heard from %" PRId64 " s before)",
                              cell(&r, i, 4), (now - heard) / 1000)
                  : xasprintf("incomplete: worker %s never renewed its lease", cell(&r, i, 4));
        enum kiln_job_state to;
        if ((rc = end_attempt(st, cell_int(&r, i, 0), (int)cell_int(&r, i, 1), (int)cell_int(&r, i, 2), cell_int(&r, i, 3),
                              RESULT_INCOMPLETE, why, &to, reterr)) < 0)
            goto fail;
    }
    if ((rc = commit(st, reterr)) < 0) goto fail;
    rc = (int)r.nrows;
    sql_rows_free(&r);
    return rc;
fail:
    rollback(st);
    sql_rows_free(&r);
    return rc;
}

/* One claim transaction: 1 claimed (*id set), 0 nothing, -EAGAIN lost a race for the tenant's
 * last slot (try again), -errno. */
static int claim_once(struct kiln_store *st, int64_t worker_id, int64_t lease_ms, int64_t *id, char **reterr)
{
    int64_t now = now_ms(st);
    struct sql_rows w = {0}, c = {0}, t = {0}, n = {0};
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    /* Locking the worker first serialises one worker's concurrent claims (its slots). */
    if ((rc = q(st,
                "SELECT accel, arch, cpus, memory_mb, features, slots,"
                " (SELECT COUNT(*) FROM jobs j WHERE j.worker_id = w.id AND j.state IN " ACTIVE_STATES ")"
                " FROM workers w WHERE w.id = $1 {LOCK:FOR UPDATE}",
                PARAMS(PI(worker_id)), &w, reterr)) < 0)
        goto fail;
    if (!w.nrows) {
        rc = store_fail(reterr, -ENOENT, "worker %" PRId64 " not found", worker_id);
        goto fail;
    }
    if (cell_int(&w, 0, 6) >= cell_int(&w, 0, 5)) goto none;
    if ((rc = q(st,
                "SELECT j.id, j.tenant_id, j.attempt FROM jobs j JOIN tenants t ON t.id = j.tenant_id"
                " WHERE j.state = 'queued'"
                " AND (j.req_accel = '' OR j.req_accel = $2) AND (j.req_arch = '' OR j.req_arch = $3)"
                " AND j.req_cpus <= $4 AND j.req_memory_mb <= $5 AND (j.req_features & ~$6) = 0"
                " AND (j.avoid_worker_id IS NULL OR j.avoid_worker_id <> $1 OR j.avoid_until_ms <= $7)"
                " AND (SELECT COUNT(*) FROM jobs a WHERE a.tenant_id = j.tenant_id AND a.state IN " ACTIVE_STATES ")"
                " < t.max_jobs"
                " ORDER BY j.id LIMIT 1 {LOCK:FOR UPDATE OF j SKIP LOCKED}",
                PARAMS(PI(worker_id), PT(cell(&w, 0, 0)), PT(cell(&w, 0, 1)), PI(cell_int(&w, 0, 2)), PI(cell_int(&w, 0, 3)),
                       PI(cell_int(&w, 0, 4)), PI(now)),
                &c, reterr)) < 0)
        goto fail;
    if (!c.nrows) goto none;
    /* The quota, again under the tenant's row lock: the count above may predate a concurrent
     * claim for the same tenant (PostgreSQL); this statement's snapshot follows the lock. */
    if ((rc = q(st, "SELECT max_jobs FROM tenants WHERE id = $1 {LOCK:FOR UPDATE}", PARAMS(PI(cell_int(&c, 0, 1))), &t,
                reterr)) < 0 ||
        (rc = q(st, "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state IN " ACTIVE_STATES,
                PARAMS(PI(cell_int(&c, 0, 1))), &n, reterr)) < 0)
        goto fail;
    if (cell_int(&n, 0, 0) >= cell_int(&t, 0, 0)) {
        rc = -EAGAIN;
        goto fail;
    }
    *id = cell_int(&c, 0, 0);
    int64_t attempt = cell_int(&c, 0, 2) + 1;
    if ((rc = q(st,
                "UPDATE jobs SET state = 'assigned', worker_id = $2, attempt = $3, lease_expires_ms = $4, updated_ms = $5"
                " WHERE id = $1",
                PARAMS(PI(*id), PI(worker_id), PI(attempt), PI(now + lease_ms), PI(now)), NULL, reterr)) < 0 ||
        (rc = q(st, "INSERT INTO job_attempts (job_id, attempt, worker_id, started_ms) VALUES ($1, $2, $3, $4)",
                PARAMS(PI(*id), PI(attempt), PI(worker_id), PI(now)), NULL, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    rc = 1;
    goto out;
none:
    rollback(st);
    rc = 0;
    goto out;
fail:
    rollback(st);
out:
    sql_rows_free(&w);
    sql_rows_free(&c);
    sql_rows_free(&t);
    sql_rows_free(&n);
    return rc;
}

int kiln_store_claim(struct kiln_store *st, int64_t worker_id, int64_t lease_ms, struct kiln_job *out, char **reterr)
{
    if (lease_ms <= 0) return store_fail(reterr, -EINVAL, "a lease must last more than 0 ms");
    /* A lost race for a tenant's last slot or a deadlock is retried: the next candidate query
     * sees the committed claims and skips that tenant. */
    for (int tries = 0; tries < 32; tries++) {
        int64_t id = 0;
        int rc = claim_once(st, worker_id, lease_ms, &id, reterr);
        if (rc == -EAGAIN) continue;
        if (rc <= 0) return rc;
        if (out && (rc = kiln_store_job_get(st, KILN_SCOPE_ALL, id, out, reterr)) < 0) return rc;
        return 1;
    }
    return 0;
}

/* --- the update server -------------------------------------------------------------------- */

static bool valid_version(const char *s)
{
    return s && *s && catalog_safe_name(s);
}

/* A line of the rollout's history, with the state it left (target, ramp, paused). */
static void rollout_log(struct kiln_store *st, const char *name, const char *channel, int64_t at, const char *what,
                        const char *target, int permyriad, bool paused)
{
    q(st, "INSERT INTO rollout_log (name, channel, at_ms, what, target, permyriad, paused) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      PARAMS(PT(name), PT(channel), PI(at), PT(what), PT(target), PI(permyriad), PI(paused)), NULL, NULL);
}

static char *floors_json(const struct rollout_policy *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->nfloors; i++) json_array_append_new(a, json_string(p->floors[i]));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static char *pins_json(const struct rollout_policy *p)
{
    json_t *o = json_object();
    for (size_t i = 0; i < p->npins; i++) json_object_set_new(o, p->pins[i].group, json_string(p->pins[i].version));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

#define ROLLOUT_COLS                                                                                                   \
    "enabled, target, permyriad, max_per_period, period_ms, max_inflight, pause_after_failures, floors, pins, paused, " \
    "pause_reason, set_ms, updated_ms"

static void rollout_from_row(const struct sql_rows *r, size_t row, struct kiln_rollout *out)
{
    struct rollout_policy *p = &out->p;
    p->enabled = cell_int(r, row, 0) != 0;
    cell_copy(p->target, sizeof(p->target), r, row, 1);
    p->permyriad = (int)cell_int(r, row, 2);
    p->max_per_period = (int)cell_int(r, row, 3);
    p->period_ms = cell_int(r, row, 4);
    p->max_inflight = (int)cell_int(r, row, 5);
    p->pause_after_failures = (int)cell_int(r, row, 6);
    json_t *f = json_loads(cell(r, row, 7) ? cell(r, row, 7) : "[]", 0, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(f, i, v) {
        if (p->nfloors < ROLLOUT_FLOORS_MAX)
            snprintf(p->floors[p->nfloors++], sizeof(p->floors[0]), "%s", json_string_value(v) ? json_string_value(v) : "");
    }
    json_decref(f);
    json_t *pins = json_loads(cell(r, row, 8) ? cell(r, row, 8) : "{}", 0, NULL);
    const char *k;
    json_object_foreach(pins, k, v) {
        if (p->npins < ROLLOUT_PINS_MAX) {
            snprintf(p->pins[p->npins].group, sizeof(p->pins[0].group), "%s", k);
            snprintf(p->pins[p->npins].version, sizeof(p->pins[0].version), "%s", json_string_value(v) ? json_string_value(v) : "");
            p->npins++;
        }
    }
    json_decref(pins);
    p->paused = cell_int(r, row, 9) != 0;
    cell_copy(p->pause_reason, sizeof(p->pause_reason), r, row, 10);
    out->set_ms = cell_int(r, row, 11);
    out->updated_ms = cell_int(r, row, 12);
}

static int rollout_read(struct kiln_store *st, const char *name, const char *channel, bool lock, struct kiln_rollout *out,
                        char **reterr)
{
    struct sql_rows r = {0};
    int rc = q(st, lock ? "SELECT " ROLLOUT_COLS " FROM rollouts WHERE name = $1 AND channel = $2 {LOCK:FOR UPDATE}"
                        : "SELECT " ROLLOUT_COLS " FROM rollouts WHERE name = $1 AND channel = $2",
               PARAMS(PT(name), PT(channel)), &r, reterr);
    if (rc < 0) return rc;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->channel, sizeof(out->channel), "%s", channel);
    if (r.nrows) rollout_from_row(&r, 0, out);
    rc = r.nrows ? 0 : store_fail(reterr, -ENOENT, "no rollout is set for %s in channel %s", name, channel);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_rollout_get(struct kiln_store *st, const char *name, const char *channel, struct kiln_rollout *out,
                           char **reterr)
{
    if (!valid_version(name) || !valid_name(channel, false))
        return store_fail(reterr, -EINVAL, "an image name and a channel name are needed");
    return rollout_read(st, name, channel, false, out, reterr);
}

int kiln_store_rollout_list(struct kiln_store *st, struct kiln_rollout **out, size_t *n, char **reterr)
{
    struct sql_rows r = {0};
    *out = NULL;
    *n = 0;
    int rc = q(st, "SELECT " ROLLOUT_COLS ", name, channel FROM rollouts ORDER BY name, channel LIMIT 1000", NULL, 0, &r, reterr);
    if (rc < 0) return rc;
    *out = xcalloc(r.nrows + 1, sizeof(**out));
    for (size_t i = 0; i < r.nrows; i++) {
        rollout_from_row(&r, i, &(*out)[i]);
        cell_copy((*out)[i].name, sizeof((*out)[i].name), &r, i, 13);
        cell_copy((*out)[i].channel, sizeof((*out)[i].channel), &r, i, 14);
    }
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

int kiln_store_rollout_set(struct kiln_store *st, const struct kiln_rollout *ro, char **reterr)
{
    const struct rollout_policy *p = &ro->p;
    if (!valid_version(ro->name) || !valid_name(ro->channel, false))
        return store_fail(reterr, -EINVAL, "an image name and a channel name are needed");
    _cleanup_free_ char *why = NULL;
    if (rollout_policy_check(p, &why) < 0) return store_fail(reterr, -EINVAL, "%s", why);
    _cleanup_free_ char *floors = floors_json(p), *pins = pins_json(p);
    int64_t now = now_ms(st);
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    struct kiln_rollout old;
    char *e2 = NULL;
    int have = rollout_read(st, ro->name, ro->channel, true, &old, &e2);
    free(e2);
    if (have < 0 && have != -ENOENT) {
        rollback(st);
        return store_fail(reterr, have, "cannot read the rollout");
    }
    /* a new target is a new rollout: failures count from now, an old pause is lifted */
    bool fresh = have == -ENOENT || !streq(old.p.target, p->target);
    bool paused = fresh ? false : old.p.paused;
    const char *reason = fresh ? "" : old.p.pause_reason;
    if (have == -ENOENT)
        rc = q(st,
               "INSERT INTO rollouts (name, channel, enabled, target, permyriad, max_per_period, period_ms, max_inflight,"
               " pause_after_failures, floors, pins, paused, pause_reason, set_ms, updated_ms)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, '', $12, $12)",
               PARAMS(PT(ro->name), PT(ro->channel), PI(p->enabled), PT(p->target), PI(p->permyriad), PI(p->max_per_period),
                      PI(p->period_ms), PI(p->max_inflight), PI(p->pause_after_failures), PT(floors), PT(pins), PI(now)),
               NULL, reterr);
    else
        rc = q(st,
               "UPDATE rollouts SET enabled = $3, target = $4, permyriad = $5, max_per_period = $6, period_ms = $7,"
               " max_inflight = $8, pause_after_failures = $9, floors = $10, pins = $11, paused = $12, pause_reason = $13,"
               " set_ms = $14, updated_ms = $15 WHERE name = $1 AND channel = $2",
               PARAMS(PT(ro->name), PT(ro->channel), PI(p->enabled), PT(p->target), PI(p->permyriad), PI(p->max_per_period),
                      PI(p->period_ms), PI(p->max_inflight), PI(p->pause_after_failures), PT(floors), PT(pins), PI(paused),
                      PT(reason), PI(fresh ? now : old.set_ms), PI(now)),
               NULL, reterr);
    if (rc < 0) {
        rollback(st);
        return rc;
    }
    _cleanup_free_ char *what = xasprintf("set %s %d.%02d%%%s%s", p->target, p->permyriad / 100, p->permyriad % 100,
                                          p->enabled ? "" : " (disabled)", fresh ? ", a new target" : "");
    rollout_log(st, ro->name, ro->channel, now, what, p->target, p->permyriad, paused);
    return commit(st, reterr);
}

int kiln_store_rollout_pause(struct kiln_store *st, const char *name, const char *channel, bool pause, const char *reason,
                             char **reterr)
{
    if (!valid_version(name) || !valid_name(channel, false))
        return store_fail(reterr, -EINVAL, "an image name and a channel name are needed");
    const char *why = reason && *reason ? reason : "by hand";
    if (!valid_text(why, ROLLOUT_REASON_MAX)) return store_fail(reterr, -EINVAL, "the reason is too long or has control characters");
    int64_t now = now_ms(st);
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    struct kiln_rollout old;
    if ((rc = rollout_read(st, name, channel, true, &old, reterr)) < 0 ||
        (rc = q(st, "UPDATE rollouts SET paused = $3, pause_reason = $4, updated_ms = $5 WHERE name = $1 AND channel = $2",
                PARAMS(PT(name), PT(channel), PI(pause), PT(pause ? why : ""), PI(now)), NULL, reterr)) < 0) {
        rollback(st);
        return rc;
    }
    _cleanup_free_ char *what = pause ? xasprintf("paused: %s", why) : xstrdup("resumed");
    rollout_log(st, name, channel, now, what, old.p.target, old.p.permyriad, pause);
    return commit(st, reterr);
}

int kiln_store_machine_group(struct kiln_store *st, const char *name, const char *machine_id, const char *group,
                             char **reterr)
{
    if (!valid_version(name) || !omaha_name_ok(machine_id) || (*group && !rollout_group_ok(group)))
        return store_fail(reterr, -EINVAL, "an image name, a machine id and a group name ([A-Za-z0-9._-]) are needed");
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    struct sql_rows r = {0};
    if ((rc = q(st, "SELECT grp FROM machines WHERE name = $1 AND machine_id = $2 {LOCK:FOR UPDATE}",
                PARAMS(PT(name), PT(machine_id)), &r, reterr)) < 0 ||
        (rc = q(st, r.nrows ? "UPDATE machines SET grp = $3 WHERE name = $1 AND machine_id = $2"
                            : "INSERT INTO machines (name, machine_id, grp) VALUES ($1, $2, $3)",
                PARAMS(PT(name), PT(machine_id), PT(group)), NULL, reterr)) < 0) {
        sql_rows_free(&r);
        rollback(st);
        return rc;
    }
    sql_rows_free(&r);
    return commit(st, reterr);
}

/* Room for one more machine of name: 0 when under max_machines or a stale machine's row
 * was given up for it, -EUSERS otherwise. */
static int machine_room(struct kiln_store *st, const char *name, int64_t now, char **reterr)
{
    struct sql_rows r = {0};
    int rc = q(st, "SELECT COUNT(*) FROM machines WHERE name = $1", PARAMS(PT(name)), &r, reterr);
    int64_t n = rc < 0 ? 0 : cell_int(&r, 0, 0);
    sql_rows_free(&r);
    if (rc < 0 || n < st->o.max_machines) return rc;
    /* the one seen longest ago, if it is stale and gives nothing up: no group, no grant */
    if ((rc = q(st,
                "DELETE FROM machines WHERE name = $1 AND machine_id IN (SELECT machine_id FROM machines WHERE name = $1"
                " AND last_seen_ms < $2 AND grp = '' AND grant_version IS NULL ORDER BY last_seen_ms LIMIT 1) RETURNING machine_id",
                PARAMS(PT(name), PI(now - KILN_STORE_MACHINE_STALE_MS)), &r, reterr)) < 0)
        return rc;
    rc = r.nrows ? 0
                 : store_fail(reterr, -EUSERS,
                              "the update server keeps %" PRId64 " machines of %s, none unseen for %lld days: a new machine "
                              "is refused until one is (kiln serve --max-machines raises the bound)",
                              st->o.max_machines, name, KILN_STORE_MACHINE_STALE_MS / 86400000);
    sql_rows_free(&r);
    return rc;
}

/* The machine's row (created when new, room permitting) with its check-in recorded; grp,
 * grant and the version it ran before copied out. */
static int machine_touch(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                         const char *running, int64_t now, char grp[ROLLOUT_GROUP_MAX + 1],
                         char grant[ROLLOUT_VERSION_MAX + 1], int64_t *grant_ms, char before[ROLLOUT_VERSION_MAX + 1],
                         char **reterr)
{
    struct sql_rows r = {0};
    int rc = q(st, "SELECT grp, grant_version, grant_ms, version FROM machines WHERE name = $1 AND machine_id = $2 {LOCK:FOR UPDATE}",
               PARAMS(PT(name), PT(machine_id)), &r, reterr);
    if (rc < 0) return rc;
    grp[0] = grant[0] = before[0] = 0;
    *grant_ms = 0;
    if (r.nrows) {
        cell_copy(grp, ROLLOUT_GROUP_MAX + 1, &r, 0, 0);
        cell_copy(grant, ROLLOUT_VERSION_MAX + 1, &r, 0, 1);
        *grant_ms = cell_int(&r, 0, 2);
        cell_copy(before, ROLLOUT_VERSION_MAX + 1, &r, 0, 3);
    } else if ((rc = machine_room(st, name, now, reterr)) < 0) {
        sql_rows_free(&r);
        return rc;
    }
    rc = q(st, r.nrows ? "UPDATE machines SET channel = $3, version = $4, last_seen_ms = $5 WHERE name = $1 AND machine_id = $2"
                       : "INSERT INTO machines (name, machine_id, channel, version, last_seen_ms) VALUES ($1, $2, $3, $4, $5)",
           PARAMS(PT(name), PT(machine_id), PT(channel), PT(running), PI(now)), NULL, reterr);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_update_client_check(const char *name, const char *channel, const char *machine_id, const char *running,
                                   char **reterr)
{
    /* the field is named, its value never repeated */
    if (!valid_version(name)) return store_fail(reterr, -EINVAL, "appid: want an image name of the gallery");
    if (!valid_name(channel, false))
        return store_fail(reterr, -EINVAL, "track: want a channel, 1 to %d of A-Z a-z 0-9 . _ -", KILN_STORE_NAME_MAX);
    if (!omaha_name_ok(machine_id) || !omaha_name_ok(running))
        return store_fail(reterr, -EINVAL, "a machine needs a machineid and the version it runs");
    return 0;
}

/* A machine's grant once it runs the granted version: done (complete). Once it runs another
 * than the granted one and the one it ran before (a payload that installed something else, a
 * forged version): failed, and no longer a place in flight until the TTL. Either way grant[]
 * is emptied. */
static int grant_settle(struct kiln_store *st, const char *name, const char *machine_id, const char *running,
                        const char *before, char grant[ROLLOUT_VERSION_MAX + 1], char **reterr)
{
    bool landed = *grant && streq(grant, running), strayed = *grant && !landed && *before && !streq(before, running);
    if (!landed && !strayed) return 0;
    grant[0] = 0;
    return q(st, "UPDATE machines SET state = $3, grant_version = NULL, grant_ms = NULL WHERE name = $1 AND machine_id = $2",
             PARAMS(PT(name), PT(machine_id), PT(landed ? "complete" : "failed")), NULL, reterr);
}

/* What an update check and an event both start with: the machine's fields checked, a
 * transaction begun, the rollout read under its row lock (which orders every check and event
 * of this rollout: the limits are counted and the grant recorded before the next one counts
 * them; *have is 0 or -ENOENT for no rollout), and the machine recorded as seen running
 * `running`, with its group and current grant read back. On an error the transaction is
 * rolled back. */
static int update_begin(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                        const char *running, int64_t *now, struct kiln_rollout *ro, int *have,
                        char grp[ROLLOUT_GROUP_MAX + 1], char grant[ROLLOUT_VERSION_MAX + 1], int64_t *grant_ms,
                        char before[ROLLOUT_VERSION_MAX + 1], char **reterr)
{
    int rc = kiln_store_update_client_check(name, channel, machine_id, running, reterr);
    if (rc < 0) return rc;
    *now = now_ms(st);
    if ((rc = begin(st, reterr)) < 0) return rc;
    char *e2 = NULL;
    *have = rollout_read(st, name, channel, true, ro, &e2);
    free(e2);
    if (*have < 0 && *have != -ENOENT) rc = store_fail(reterr, *have, "cannot read the rollout");
    else rc = machine_touch(st, name, channel, machine_id, running, *now, grp, grant, grant_ms, before, reterr);
    if (rc < 0) rollback(st);
    return rc;
}

int kiln_store_update_check(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                            const char *running, const struct rollout_version *versions, size_t nversions,
                            struct rollout_decision *d, char **reterr)
{
    int64_t now;
    struct kiln_rollout ro;
    int have;
    char grp[ROLLOUT_GROUP_MAX + 1], grant[ROLLOUT_VERSION_MAX + 1], before[ROLLOUT_VERSION_MAX + 1];
    int64_t grant_ms;
    int rc = update_begin(st, name, channel, machine_id, running, &now, &ro, &have, grp, grant, &grant_ms, before, reterr);
    if (rc < 0) return rc;
    struct sql_rows a = {0}, b = {0};
    if ((rc = grant_settle(st, name, machine_id, running, before, grant, reterr)) < 0) goto fail;
    if (have == -ENOENT) {
        memset(d, 0, sizeof(*d));
        d->verdict = ROLLOUT_UP_TO_DATE;
        d->bucket = -1;
        snprintf(d->why, sizeof(d->why), "no rollout is set for %s in channel %s", name, channel);
        return commit(st, reterr);
    }
    if ((rc = q(st, "SELECT COUNT(*) FROM update_grants WHERE name = $1 AND channel = $2 AND at_ms > $3",
                PARAMS(PT(name), PT(channel), PI(now - ro.p.period_ms)), &a, reterr)) < 0 ||
        (rc = q(st, "SELECT COUNT(*) FROM machines WHERE name = $1 AND channel = $2 AND grant_version IS NOT NULL AND grant_ms > $3",
                PARAMS(PT(name), PT(channel), PI(now - ROLLOUT_INFLIGHT_TTL_MS)), &b, reterr)) < 0)
        goto fail;
    struct rollout_counts c = {.granted_in_period = (int)cell_int(&a, 0, 0), .inflight = (int)cell_int(&b, 0, 0),
                               .held = *grant && grant_ms > now - ROLLOUT_INFLIGHT_TTL_MS ? grant : NULL};
    if ((rc = rollout_decide(&ro.p, versions, nversions, machine_id, grp, running, &c, now, d)) < 0) {
        rc = store_fail(reterr, rc, "the rollout could not decide");
        goto fail;
    }
    if (d->verdict == ROLLOUT_OFFER && d->new_grant &&
        ((rc = q(st, "UPDATE machines SET state = 'granted', grant_version = $3, grant_ms = $4 WHERE name = $1 AND machine_id = $2",
                 PARAMS(PT(name), PT(machine_id), PT(d->version), PI(now)), NULL, reterr)) < 0 ||
         (rc = q(st, "INSERT INTO update_grants (name, channel, machine_id, version, at_ms) VALUES ($1, $2, $3, $4, $5)",
                 PARAMS(PT(name), PT(channel), PT(machine_id), PT(d->version), PI(now)), NULL, reterr)) < 0))
        goto fail;
    sql_rows_free(&a);
    sql_rows_free(&b);
    return commit(st, reterr);
fail:
    sql_rows_free(&a);
    sql_rows_free(&b);
    rollback(st);
    return rc;
}

static const char *event_state(const struct omaha_event *e)
{
    if (e->result == OMAHA_RESULT_ERROR) return "failed";
    switch (e->type) {
    case OMAHA_EVENT_DOWNLOAD_STARTED: return "downloading";
    case OMAHA_EVENT_DOWNLOAD_FINISHED: return "downloaded";
    case OMAHA_EVENT_UPDATE_INSTALLED: return "installed";
    case OMAHA_EVENT_UPDATE_COMPLETE: return "complete";
    }
    return NULL;
}

/* One event of a machine inside update_begin's transaction: recorded against *grant, the
 * machine's state moved, the grant settled (grant[] emptied when it ended) and the rollout
 * paused when this failure is one too many (ro->p.paused and *paused_now set). */
static int event_apply(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                       const char *running, const struct omaha_event *e, int64_t now, struct kiln_rollout *ro, int have,
                       char grant[ROLLOUT_VERSION_MAX + 1], const char *before, bool *paused_now, char **reterr)
{
    int rc = q(st,
               "INSERT INTO update_events (name, channel, machine_id, at_ms, type, result, errorcode, version, previous_version, target)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
               PARAMS(PT(name), PT(channel), PT(machine_id), PI(now), PI(e->type), PI(e->result),
                      e->has_errorcode ? PI(e->errorcode) : PT(NULL), PT(running), PT(e->previousversion), PT(grant)),
               NULL, reterr);
    if (rc < 0) return rc;
    const char *state = event_state(e);
    bool done = state && (streq(state, "failed") || streq(state, "complete"));
    if (state &&
        (rc = q(st, done ? "UPDATE machines SET state = $3, grant_version = NULL, grant_ms = NULL WHERE name = $1 AND machine_id = $2"
                         : "UPDATE machines SET state = $3 WHERE name = $1 AND machine_id = $2",
                PARAMS(PT(name), PT(machine_id), PT(state)), NULL, reterr)) < 0)
        return rc;
    /* an event from a machine that strayed from its grant ends the grant too (after the
     * event was recorded against it, so a failure still counts for the rollout's target) */
    char held[ROLLOUT_VERSION_MAX + 1];
    snprintf(held, sizeof held, "%s", grant);
    if (done) grant[0] = 0;
    else if ((rc = grant_settle(st, name, machine_id, running, before, grant, reterr)) < 0) return rc;
    /* a failure of the rollout's target may pause it */
    if (have != 0 || e->result != OMAHA_RESULT_ERROR || !*held || !streq(held, ro->p.target) || ro->p.paused) return 0;
    struct sql_rows n = {0};
    if ((rc = q(st, "SELECT COUNT(*) FROM update_events WHERE name = $1 AND channel = $2 AND result = 0 AND target = $3 AND at_ms >= $4",
                PARAMS(PT(name), PT(channel), PT(ro->p.target), PI(ro->set_ms)), &n, reterr)) < 0)
        return rc;
    char reason[ROLLOUT_REASON_MAX + 1];
    bool pause = rollout_should_pause(&ro->p, (int)cell_int(&n, 0, 0), machine_id, e->has_errorcode ? e->errorcode : 0, reason);
    sql_rows_free(&n);
    if (!pause) return 0;
    if ((rc = q(st, "UPDATE rollouts SET paused = 1, pause_reason = $3, updated_ms = $4 WHERE name = $1 AND channel = $2",
                PARAMS(PT(name), PT(channel), PT(reason), PI(now)), NULL, reterr)) < 0)
        return rc;
    _cleanup_free_ char *what = xasprintf("paused: %s", reason);
    rollout_log(st, name, channel, now, what, ro->p.target, ro->p.permyriad, true);
    ro->p.paused = true;
    if (paused_now) *paused_now = true;
    return 0;
}

int kiln_store_update_events(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                             const char *running, const struct omaha_event *ev, size_t nev, bool *paused_now, char **reterr)
{
    if (paused_now) *paused_now = false;
    int64_t now;
    struct kiln_rollout ro;
    int have;
    char grp[ROLLOUT_GROUP_MAX + 1], grant[ROLLOUT_VERSION_MAX + 1], before[ROLLOUT_VERSION_MAX + 1];
    int64_t grant_ms;
    int rc = update_begin(st, name, channel, machine_id, running, &now, &ro, &have, grp, grant, &grant_ms, before, reterr);
    if (rc < 0) return rc;
    bool paused = false;
    for (size_t k = 0; k < nev; k++)
        if ((rc = event_apply(st, name, channel, machine_id, running, &ev[k], now, &ro, have, grant, before, &paused, reterr)) < 0) {
            rollback(st);
            return rc;
        }
    if ((rc = commit(st, reterr)) < 0) {
        rollback(st); /* SQLite keeps a transaction whose COMMIT failed (busy) open */
        return rc;
    }
    if (paused_now) *paused_now = paused;
    return 0;
}

int kiln_store_update_event(struct kiln_store *st, const char *name, const char *channel, const char *machine_id,
                            const char *running, const struct omaha_event *e, bool *paused_now, char **reterr)
{
    return kiln_store_update_events(st, name, channel, machine_id, running, e, 1, paused_now, reterr);
}

void kiln_rollout_status_free(struct kiln_rollout_status *s)
{
    free(s->ramp);
    free(s->granted_ms);
    free(s->versions);
    free(s->failures);
    for (size_t i = 0; i < s->nlog; i++) free(s->log[i].what);
    free(s->log);
    memset(s, 0, sizeof(*s));
}

/* The rows kiln_store_rollout_status read, into out: versions (v), failures (f), the log (l),
 * machine counts (c), the ramp (rp) and the grants of the target (g). */
static void rollout_status_fill(struct kiln_rollout_status *out, const struct sql_rows *v, const struct sql_rows *f,
                                const struct sql_rows *l, const struct sql_rows *c, const struct sql_rows *rp,
                                const struct sql_rows *g)
{
    /* oldest first, as a plot reads them */
    out->ramp = xcalloc(rp->nrows + 1, sizeof(*out->ramp));
    for (size_t i = 0; i < rp->nrows; i++) {
        struct kiln_rollout_step *x = &out->ramp[rp->nrows - 1 - i];
        x->at_ms = cell_int(rp, i, 0);
        cell_copy(x->target, sizeof(x->target), rp, i, 1);
        x->permyriad = (int)cell_int(rp, i, 2);
        x->paused = cell_int(rp, i, 3) != 0;
    }
    out->nramp = rp->nrows;
    out->granted_ms = xcalloc(g->nrows + 1, sizeof(*out->granted_ms));
    for (size_t i = 0; i < g->nrows; i++) out->granted_ms[i] = cell_int(g, i, 0);
    out->ngranted = g->nrows;
    out->machines = (int)cell_int(c, 0, 0);
    out->inflight = (int)cell_int(c, 0, 1);
    out->versions = xcalloc(v->nrows + 1, sizeof(*out->versions));
    for (size_t i = 0; i < v->nrows; i++) {
        cell_copy(out->versions[i].version, sizeof(out->versions[i].version), v, i, 0);
        out->versions[i].machines = (int)cell_int(v, i, 1);
    }
    out->nversions = v->nrows;
    out->failures = xcalloc(f->nrows + 1, sizeof(*out->failures));
    for (size_t i = 0; i < f->nrows; i++) {
        struct kiln_update_failure *x = &out->failures[i];
        cell_copy(x->machine_id, sizeof(x->machine_id), f, i, 0);
        cell_copy(x->version, sizeof(x->version), f, i, 1);
        cell_copy(x->target, sizeof(x->target), f, i, 2);
        x->type = (int)cell_int(f, i, 3);
        x->has_errorcode = cell(f, i, 4) != NULL;
        x->errorcode = cell_int(f, i, 4);
        x->at_ms = cell_int(f, i, 5);
    }
    out->nfailures = f->nrows;
    out->log = xcalloc(l->nrows + 1, sizeof(*out->log));
    for (size_t i = 0; i < l->nrows; i++) {
        out->log[i].at_ms = cell_int(l, i, 0);
        out->log[i].what = cell_dup(l, i, 1);
    }
    out->nlog = l->nrows;
}

int kiln_store_rollout_status(struct kiln_store *st, const char *name, const char *channel, struct kiln_rollout_status *out,
                              char **reterr)
{
    memset(out, 0, sizeof(*out));
    int rc = kiln_store_rollout_get(st, name, channel, &out->rollout, reterr);
    if (rc == -ENOENT) {
        free(*reterr);
        *reterr = NULL;
    } else if (rc < 0) return rc;
    out->has_rollout = rc == 0;
    int64_t now = now_ms(st), since = out->has_rollout ? out->rollout.set_ms : 0;
    struct sql_rows v = {0}, f = {0}, l = {0}, c = {0}, rp = {0}, g = {0};
    if ((rc = q(st, "SELECT version, COUNT(*) FROM machines WHERE name = $1 AND channel = $2 GROUP BY version ORDER BY version",
                PARAMS(PT(name), PT(channel)), &v, reterr)) < 0 ||
        (rc = q(st,
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN grant_version IS NOT NULL AND grant_ms > $3 THEN 1 ELSE 0 END), 0)"
                " FROM machines WHERE name = $1 AND channel = $2",
                PARAMS(PT(name), PT(channel), PI(now - ROLLOUT_INFLIGHT_TTL_MS)), &c, reterr)) < 0 ||
        (rc = q(st,
                "SELECT machine_id, version, target, type, errorcode, at_ms FROM update_events"
                " WHERE name = $1 AND channel = $2 AND result = 0 AND at_ms >= $3 ORDER BY at_ms DESC, id DESC LIMIT 100",
                PARAMS(PT(name), PT(channel), PI(since)), &f, reterr)) < 0 ||
        (rc = q(st, "SELECT at_ms, what FROM rollout_log WHERE name = $1 AND channel = $2 ORDER BY id DESC LIMIT 50",
                PARAMS(PT(name), PT(channel)), &l, reterr)) < 0 ||
        (rc = q(st,
                "SELECT at_ms, target, permyriad, paused FROM rollout_log WHERE name = $1 AND channel = $2 AND permyriad IS NOT NULL"
                " ORDER BY id DESC LIMIT 500",
                PARAMS(PT(name), PT(channel)), &rp, reterr)) < 0 ||
        (out->has_rollout &&
         (rc = q(st,
                 "SELECT at_ms FROM update_grants WHERE name = $1 AND channel = $2 AND version = $3 AND at_ms >= $4"
                 " ORDER BY at_ms LIMIT 10000",
                 PARAMS(PT(name), PT(channel), PT(out->rollout.p.target), PI(since)), &g, reterr)) < 0))
        goto out;
    rollout_status_fill(out, &v, &f, &l, &c, &rp, &g);
out:
    sql_rows_free(&v);
    sql_rows_free(&f);
    sql_rows_free(&l);
    sql_rows_free(&c);
    sql_rows_free(&rp);
    sql_rows_free(&g);
    if (rc < 0) kiln_rollout_status_free(out);
    return rc;
}

int kiln_store_publish_take(struct kiln_store *st, struct kiln_job *out, char **reterr)
{
    struct sql_rows r = {0};
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    /* SKIP LOCKED: servers sharing a database each take a different job */
    if ((rc = q(st,
                "SELECT id FROM jobs WHERE publish_state = 'pending' AND state IN ('done', 'cancelled')"
                " ORDER BY id LIMIT 1 {LOCK:FOR UPDATE SKIP LOCKED}",
                NULL, 0, &r, reterr)) < 0)
        goto fail;
    if (!r.nrows) {
        rollback(st);
        sql_rows_free(&r);
        return 0;
    }
    int64_t id = cell_int(&r, 0, 0);
    if ((rc = q(st, "UPDATE jobs SET publish_state = 'publishing', publish_takes = publish_takes + 1, updated_ms = $2 WHERE id = $1",
                PARAMS(PI(id), PI(now_ms(st))),
                NULL, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        goto fail;
    sql_rows_free(&r);
    if ((rc = kiln_store_job_get(st, KILN_SCOPE_ALL, id, out, reterr)) < 0) return rc;
    return 1;
fail:
    rollback(st);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_publish_end(struct kiln_store *st, int64_t id, bool published, const char *reason, char **reterr)
{
    _cleanup_free_ char *why = reason ? reason_clean(reason) : NULL;
    struct sql_rows r = {0};
    int rc = q(st,
               "UPDATE jobs SET publish_state = $2, publish_reason = $3, updated_ms = $4"
               " WHERE id = $1 AND publish_state = 'publishing' RETURNING id",
               PARAMS(PI(id), PT(published ? "published" : "refused"), PT(why), PI(now_ms(st))), &r, reterr);
    if (rc < 0) return rc;
    if (!r.nrows) rc = store_fail(reterr, -ESTALE, "job %" PRId64 " is not being published", id);
    sql_rows_free(&r);
    return rc;
}

int kiln_store_publish_stuck(struct kiln_store *st, int64_t taken_before_ms, int64_t **ids, size_t *n, char **reterr)
{
    struct sql_rows r = {0};
    *ids = NULL;
    *n = 0;
    int rc = q(st, "SELECT id FROM jobs WHERE publish_state = 'publishing' AND updated_ms < $1 ORDER BY id LIMIT 100",
               PARAMS(PI(taken_before_ms)), &r, reterr);
    if (rc < 0) return rc;
    *ids = xcalloc(r.nrows + 1, sizeof(**ids));
    for (size_t i = 0; i < r.nrows; i++) (*ids)[i] = cell_int(&r, i, 0);
    *n = r.nrows;
    sql_rows_free(&r);
    return 0;
}

int kiln_store_publish_resume(struct kiln_store *st, int64_t id, int max_takes, char **reterr)
{
    struct sql_rows r = {0};
    _cleanup_free_ char *why = xasprintf("not published: the server stopped while publishing this job %d times; it is not "
                                         "tried again (see the server's log, then submit it again)",
                                         max_takes);
    int rc = q(st,
               "UPDATE jobs SET publish_state = CASE WHEN publish_takes >= $2 THEN 'refused' ELSE 'pending' END,"
               " publish_reason = CASE WHEN publish_takes >= $2 THEN $3 ELSE publish_reason END, updated_ms = $4"
               " WHERE id = $1 AND publish_state = 'publishing' RETURNING publish_state",
               PARAMS(PI(id), PI(max_takes), PT(why), PI(now_ms(st))), &r, reterr);
    if (rc < 0) return rc;
    rc = !r.nrows ? store_fail(reterr, -ESTALE, "job %" PRId64 " is not being published", id) : streq(cell(&r, 0, 0), "pending") ? 1 : 2;
    sql_rows_free(&r);
    return rc;
}

int kiln_store_update_prune(struct kiln_store *st, char **reterr)
{
    int rc = begin(st, reterr);
    if (rc < 0) return rc;
    if ((rc = q(st, "DELETE FROM update_events WHERE id <= (SELECT id FROM update_events ORDER BY id DESC LIMIT 1 OFFSET $1)",
                PARAMS(PI(KILN_STORE_EVENTS_MAX)), NULL, reterr)) < 0 ||
        (rc = q(st, "DELETE FROM update_grants WHERE at_ms < $1 - (SELECT COALESCE(MAX(period_ms), 0) FROM rollouts)",
                PARAMS(PI(now_ms(st))), NULL, reterr)) < 0 ||
        (rc = commit(st, reterr)) < 0)
        rollback(st);
    return rc < 0 ? rc : 0;
}
