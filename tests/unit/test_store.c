/* The service's store: one test body run against SQLite (a file in a temp dir) and against
 * PostgreSQL started here (tests/lib/pg.sh: initdb in a temp dir, unix socket only). Each test
 * gets a fresh database. Lease lapses use a fake clock; the concurrent claims use the real
 * one and real threads, each with its own connection. Without PostgreSQL's server binaries
 * the PostgreSQL half fails, unless KILN_ALLOW_SKIP names test_store. */
#include <errno.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/req.h"
#include "service/store.h"
#include "tap.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/util.h"

#define PG_SH TEST_DATA_DIR "/../lib/pg.sh"

static char sqlite_dir[] = "/tmp/kiln-test-store-XXXXXX";
static char pg_dir[] = "/tmp/kiln-pg-XXXXXX";
static bool pg_started;
static const char *backend; /* "sqlite" or "postgresql" */
static int db_serial;
static char url[512];     /* the current test's database */
static char pg_admin[512]; /* the PostgreSQL server's maintenance database */

static _Atomic int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}
static const struct kiln_store_opts fake_opts = {.now_ms = fake_clock};

static void pg_stop(void)
{
    if (!pg_started) return;
    pg_started = false;
    char *argv[] = {"sh", PG_SH, "stop", pg_dir, NULL};
    proc_run(argv, 60000, NULL);
}

/* pg.sh start, in a session of its own and without kiln's parent-death signal: killing this
 * test never stops it half-way, and its watchdog then removes the server. Exit status or -1. */
static int pg_start(char **out)
{
    _cleanup_free_ char *cmd = xasprintf("setsid sh '%s' start '%s' %d 2>&1", PG_SH, pg_dir, (int)getpid());
    FILE *p = popen(cmd, "r");
    *out = xstrdup("cannot run sh");
    if (!p) return -1;
    free(*out);
    struct sbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) sbuf_append(&b, buf, n);
    sbuf_append(&b, "", 0);
    *out = sbuf_steal(&b);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A new, empty database of the current backend; its URL in url. */
static void fresh_db(void)
{
    db_serial++;
    if (streq(backend, "sqlite")) {
        snprintf(url, sizeof(url), "sqlite:%s/t%d.db", sqlite_dir, db_serial);
        return;
    }
    PGconn *c = PQconnectdb(pg_admin);
    char sql[64];
    snprintf(sql, sizeof(sql), "CREATE DATABASE t%d", db_serial);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) printf("# CREATE DATABASE: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(url, sizeof(url), "postgresql:///t%d?host=%s&user=kiln", db_serial, pg_dir);
}

/* The first cell of sql run directly on the current database (behind the store's back). */
static char *raw(const char *sql)
{
    char *out = NULL;
    if (streq(backend, "sqlite")) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open(url + 7, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) out = xstrdup((const char *)sqlite3_column_text(st, 0));
            else if (rc != SQLITE_ROW && rc != SQLITE_DONE) printf("# raw: %s\n", sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = xstrdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        printf("# raw: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

static long raw_long(const char *sql)
{
    _cleanup_free_ char *s = raw(sql);
    return s ? strtol(s, NULL, 10) : -1;
}

static struct kiln_store *open_db(const struct kiln_store_opts *o)
{
    struct kiln_store *st = NULL;
    _cleanup_free_ char *err = NULL;
    int rc = kiln_store_open(url, o, &st, &err);
    if (rc < 0) printf("# open %s: %s\n", url, err ? err : "?");
    return st;
}

static void label(char *buf, size_t sz, const char *what)
{
    snprintf(buf, sz, "%s: %s", backend, what);
}
#define L(what) (label(lbuf, sizeof(lbuf), (what)), lbuf)
static char lbuf[256];

static int64_t add_tenant(struct kiln_store *st, const char *name, int max_jobs, char token[KILN_TOKEN_LEN + 1])
{
    char tok[KILN_TOKEN_LEN + 1];
    struct kiln_tenant t = {0};
    _cleanup_free_ char *err = NULL;
    if (kiln_store_tenant_add(st, name, max_jobs, false, token ? token : tok, &t, &err) < 0) printf("# tenant add: %s\n", err);
    return t.id;
}

static int64_t add_worker(struct kiln_store *st, const char *name, const char *accel, const char *arch, int cpus, int mem,
                          unsigned features, int slots)
{
    char tok[KILN_TOKEN_LEN + 1];
    struct kiln_worker w = {0};
    _cleanup_free_ char *err = NULL;
    struct kiln_caps c = {.cpus = cpus, .memory_mb = mem, .features = features};
    snprintf(c.accel, sizeof(c.accel), "%s", accel);
    snprintf(c.arch, sizeof(c.arch), "%s", arch);
    if (kiln_store_worker_add(st, name, tok, &w, &err) < 0 || kiln_store_worker_declare(st, w.id, &c, slots, &err) < 0)
        printf("# worker %s: %s\n", name, err);
    return w.id;
}

static const char digest_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char digest_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static int64_t submit(struct kiln_store *st, int64_t tenant, const struct kiln_caps *req)
{
    _cleanup_free_ char *err = NULL;
    struct kiln_image img;
    if (kiln_store_image_record(st, tenant, digest_a, 4096, "/data/images/aa", &img, &err) < 0)
        printf("# image: %s\n", err);
    struct kiln_job_submit s = {.image_digest = digest_a, .spec = "{\"tier\": 0}"};
    if (req) s.req = *req;
    int64_t id = 0;
    if (kiln_store_job_submit(st, tenant, &s, &id, &err) < 0) printf("# submit: %s\n", err);
    return id;
}

static int claim(struct kiln_store *st, int64_t worker, int64_t *id)
{
    struct kiln_job j = {0};
    _cleanup_free_ char *err = NULL;
    int rc = kiln_store_claim(st, worker, 30000, &j, &err);
    if (rc < 0) printf("# claim: %s\n", err);
    *id = j.id;
    kiln_job_clear(&j);
    return rc;
}

static struct kiln_job get(struct kiln_store *st, int64_t id)
{
    struct kiln_job j = {0};
    _cleanup_free_ char *err = NULL;
    if (kiln_store_job_get(st, KILN_SCOPE_ALL, id, &j, &err) < 0) printf("# get %lld: %s\n", (long long)id, err);
    return j;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every table.column of the schema, sorted, comma-separated: the logical schema, whatever
 * the backend calls its types. */
static char *schema_columns(void)
{
    _cleanup_free_ char *list = raw(streq(backend, "sqlite")
                                        ? "SELECT group_concat(m.name || '.' || p.name, ',') FROM sqlite_master m,"
                                          " pragma_table_info(m.name) p WHERE m.type = 'table'"
                                        : "SELECT string_agg(table_name || '.' || column_name, ',') FROM"
                                          " information_schema.columns WHERE table_schema = 'public'");
    if (!list) return NULL;
    char *v[256];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < ARRAY_SIZE(v); t = strtok_r(NULL, ",", &save)) v[n++] = t;
    qsort(v, n, sizeof(*v), cmp_str);
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++) sbuf_printf(&b, "%s%s", i ? "," : "", v[i]);
    sbuf_append(&b, "", 0);
    return sbuf_steal(&b);
}
static char *sqlite_schema; /* what the SQLite run saw, for the PostgreSQL run to compare */

/* --- migrations ------------------------------------------------------------------------------ */

static void *open_and_close(void *arg)
{
    (void)arg;
    struct kiln_store *st = open_db(NULL);
    kiln_store_close(st);
    return st ? arg : NULL;
}

static void test_migrations(void)
{
    fresh_db();
    /* two servers starting together on an empty database: one migrates, the other waits */
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, open_and_close, (void *)1);
    int opened = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        opened += r != NULL;
    }
    is_int(opened, 2, L("two concurrent opens of an empty database both succeed"));
    struct kiln_store *st = open_db(NULL);
    ok(st != NULL, "%s", L("opened again"));
    if (!st) return;
    int v = -1;
    kiln_store_schema_version(st, &v, NULL);
    is_int(v, kiln_store_schema_latest(), L("schema at the newest version"));
    kiln_store_close(st);
    is_int(raw_long("SELECT COUNT(*) FROM schema_version"), kiln_store_schema_latest(),
           L("each migration recorded once after three opens"));
    is_int(raw_long("SELECT COUNT(*) FROM jobs"), 0, L("the jobs table exists"));
    char *cols = schema_columns();
    has(cols, "jobs.lease_expires_ms", L("the schema has the jobs' leases"));
    has(cols, "job_attempts.worker_id", L("and each attempt's worker"));
    if (streq(backend, "sqlite")) sqlite_schema = cols;
    else {
        is_str(cols, sqlite_schema, L("the same tables and columns as on SQLite"));
        free(cols);
    }

    /* a database from a newer kiln is refused, not half-used */
    _cleanup_free_ char *ins = raw("INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
    _cleanup_free_ char *err = NULL;
    struct kiln_store *newer = NULL;
    is_int(kiln_store_open(url, NULL, &newer, &err), -EPROTO, L("schema version 99 refused"));
    has(err, "upgrade kiln", L("the refusal says what to do"));
    ok(newer == NULL, "%s", L("no handle for a refused database"));
}

/* --- tenants, tokens --------------------------------------------------------------------------- */

static bool found_in_files;
static const void *scan_needle;
static size_t scan_len;
static int scan_one(const char *path, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb;
    (void)f;
    if (type != FTW_F) return 0;
    char *data = NULL;
    size_t len = 0;
    if (read_file(path, 256u << 20, &data, &len) == 0 && memmem(data, len, scan_needle, scan_len)) found_in_files = true;
    free(data);
    return 0;
}

/* Whether bytes occur in any file of the database (SQLite: the db, -wal and -shm files;
 * PostgreSQL: the whole data directory, after a checkpoint). */
static bool in_database_files(const void *needle, size_t len)
{
    char dir[600];
    if (streq(backend, "sqlite")) {
        snprintf(dir, sizeof(dir), "%s", sqlite_dir);
    } else {
        free(raw("CHECKPOINT"));
        snprintf(dir, sizeof(dir), "%s/data", pg_dir);
    }
    found_in_files = false;
    scan_needle = needle;
    scan_len = len;
    nftw(dir, scan_one, 16, FTW_PHYS);
    return found_in_files;
}

static void sha256_hex(const char *s, char hex[65])
{
    unsigned char md[32];
    unsigned len = sizeof(md);
    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_tokens(void)
{
    fresh_db();
    struct kiln_store *st = open_db(NULL);
    if (!ok(st != NULL, "%s", L("open"))) return;
    char token[KILN_TOKEN_LEN + 1], wtoken[KILN_TOKEN_LEN + 1];
    struct kiln_tenant t = {0}, got = {0};
    struct kiln_worker w = {0}, wgot = {0};
    _cleanup_free_ char *err = NULL;
    is_int(kiln_store_tenant_add(st, "acme", 4, false, token, &t, &err), 0, L("tenant added"));
    is_int(strlen(token), KILN_TOKEN_LEN, L("token length"));
    ok(startswith(token, "kt_"), "%s", L("tenant token prefix"));
    is_int(kiln_store_worker_add(st, "host7", wtoken, &w, &err), 0, L("worker added"));
    ok(startswith(wtoken, "kw_") && !streq(wtoken + 3, token + 3), "%s", L("worker token prefix, a token of its own"));

    is_int(kiln_store_tenant_auth(st, token, &got, &err), 0, L("tenant token accepted"));
    is_int(got.id, t.id, L("the token's tenant"));
    is_str(got.name, "acme", L("the token's tenant name"));
    is_int(got.max_jobs, 4, L("the tenant's quota"));
    is_int(kiln_store_worker_auth(st, wtoken, &wgot, &err), 0, L("worker token accepted"));
    is_str(wgot.name, "host7", L("the token's worker"));

    char bad[KILN_TOKEN_LEN + 1];
    snprintf(bad, sizeof(bad), "%s", token);
    bad[KILN_TOKEN_LEN - 1] = bad[KILN_TOKEN_LEN - 1] == '0' ? '1' : '0';
    is_int(kiln_store_tenant_auth(st, bad, &got, &err), -EACCES, L("a token one digit off refused"));
    has(err, "not a valid tenant token", L("refusal message"));
    is_int(kiln_store_tenant_auth(st, wtoken, &got, &err), -EACCES, L("a worker token is no tenant token"));
    char wasc[KILN_TOKEN_LEN + 1];
    snprintf(wasc, sizeof(wasc), "kt_%s", wtoken + 3);
    is_int(kiln_store_tenant_auth(st, wasc, &got, &err), -EACCES, L("a worker token relabelled kt_ refused"));
    is_int(kiln_store_tenant_auth(st, "", &got, &err), -EACCES, L("empty token refused"));
    is_int(kiln_store_tenant_auth(st, NULL, &got, &err), -EACCES, L("no token refused"));
    _cleanup_free_ char *longtok = xasprintf("%s%s", token, token);
    is_int(kiln_store_tenant_auth(st, longtok, &got, &err), -EACCES, L("an overlong token refused"));
    is_int(kiln_store_worker_auth(st, token, &wgot, &err), -EACCES, L("a tenant token is no worker token"));

    is_int(kiln_store_tenant_add(st, "acme", 1, false, bad, NULL, &err), -EEXIST, L("a taken tenant name refused"));
    has(err, "acme exists already", L("duplicate name message"));
    is_int(kiln_store_tenant_add(st, "../etc", 1, false, bad, NULL, &err), -EINVAL, L("a name with a slash refused"));
    is_int(kiln_store_tenant_add(st, "x", 0, false, bad, NULL, &err), -EINVAL, L("max_jobs 0 refused"));
    is_int(kiln_store_worker_add(st, "host7", bad, NULL, &err), -EEXIST, L("a taken worker name refused"));

    /* keys for self-service publishing */
    const char *pub = "untrusted comment: minisign public key 0123456789ABCDEF\nRWQBI0VniavN7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    is_int(kiln_store_tenant_trust(st, t.id, "0123456789ABCDEF", pub, &err), 0, L("key trusted"));
    is_int(kiln_store_tenant_trust(st, t.id, "0123456789ABCDEF", pub, &err), 0, L("trusting it again replaces it"));
    is_int(kiln_store_tenant_trust(st, t.id, "0123", pub, &err), -EINVAL, L("a short key id refused"));
    char **keys = NULL;
    size_t nkeys = 0;
    is_int(kiln_store_tenant_keys(st, t.id, &keys, &nkeys, &err), 0, L("keys listed"));
    is_int(nkeys, 1, L("one trusted key"));
    is_str(keys ? keys[0] : NULL, pub, L("its text"));
    kiln_strv_free(keys);
    kiln_store_close(st);

    /* neither token is stored, in any form a reader could use: not its text, not its bytes */
    char hash[65], whash[65];
    sha256_hex(token, hash);
    sha256_hex(wtoken, whash);
    unsigned char rawtok[32];
    for (int i = 0; i < 32; i++) sscanf(token + 3 + 2 * i, "%2hhx", &rawtok[i]);
    ok(in_database_files(hash, 64), "%s", L("the tenant token's SHA-256 is in the database files (the scan sees them)"));
    ok(in_database_files(whash, 64), "%s", L("the worker token's SHA-256 is in the database files"));
    ok(!in_database_files(token, strlen(token)), "%s", L("the tenant token's text is in no database file"));
    ok(!in_database_files(token + 3, 64), "%s", L("the tenant token's hex digits are in no database file"));
    ok(!in_database_files(rawtok, sizeof(rawtok)), "%s", L("the tenant token's raw bytes are in no database file"));
    ok(!in_database_files(wtoken + 3, 64), "%s", L("the worker token is in no database file"));
    _cleanup_free_ char *q = xasprintf("SELECT COUNT(*) FROM tenants WHERE token_hash = '%s'", hash);
    is_int(raw_long(q), 1, L("tenants.token_hash is the token's SHA-256"));
}

/* --- transitions ------------------------------------------------------------------------------- */

static void test_transitions(void)
{
    _cleanup_free_ char *why = NULL;
    is_int(kiln_job_transition_check(JOB_QUEUED, JOB_ASSIGNED, RESULT_NONE, &why), 0, L("queued -> assigned"));
    is_int(kiln_job_transition_check(JOB_QUEUED, JOB_RUNNING, RESULT_NONE, &why), -EINVAL, L("queued -> running refused"));
    is_str(why, "job state cannot go from queued to running (not a step of the job's life)", L("the refusal names both states"));
    is_int(kiln_job_transition_check(JOB_DONE, JOB_QUEUED, RESULT_NONE, &why), -EINVAL, L("done is final"));
    is_int(kiln_job_transition_check(JOB_CANCELLED, JOB_QUEUED, RESULT_NONE, &why), -EINVAL, L("cancelled is final"));
    is_int(kiln_job_transition_check(JOB_RUNNING, JOB_DONE, RESULT_NONE, &why), -EINVAL, L("done needs a result"));
    is_int(kiln_job_transition_check(JOB_ASSIGNED, JOB_DONE, RESULT_PASSED, &why), -EINVAL, L("never ran: cannot pass"));
    is_int(kiln_job_transition_check(JOB_ASSIGNED, JOB_DONE, RESULT_INCOMPLETE, &why), 0, L("never ran: may be incomplete"));
    is_int(kiln_job_transition_check(JOB_UPLOADING, JOB_RUNNING, RESULT_NONE, &why), -EINVAL, L("no way back to running"));

    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t tenant = add_tenant(st, "acme", 10, NULL);
    int64_t w = add_worker(st, "w1", "kvm", "x86_64", 4, 8192, 0, 4);
    _cleanup_free_ char *err = NULL;

    /* the whole life of a passing job */
    int64_t now0 = atomic_load(&fake_now);
    int64_t id = submit(st, tenant, NULL), got = 0;
    struct kiln_job j = get(st, id);
    is_str(kiln_job_state_name(j.state), "queued", L("submitted: queued"));
    is_int(j.queue_position, 1, L("first in the queue"));
    is_int(j.created_ms, now0, L("created at the store's clock"));
    kiln_job_clear(&j);
    is_int(claim(st, w, &got), 1, L("claimed"));
    is_int(got, id, L("the job claimed"));
    j = get(st, id);
    is_str(kiln_job_state_name(j.state), "assigned", L("claimed: assigned"));
    is_int(j.attempt, 1, L("first attempt"));
    is_int(j.lease_expires_ms, now0 + 30000, L("lease until now + 30 s"));
    is_str(j.worker, "w1", L("held by w1"));
    is_int(j.queue_position, 0, L("no queue position once assigned"));
    kiln_job_clear(&j);
    is_int(kiln_store_job_advance(st, w, id, JOB_UPLOADING, &err), -EINVAL, L("assigned -> uploading refused"));
    has(err, "from assigned to uploading", L("it names the states"));
    is_int(kiln_store_job_finish(st, w, id, RESULT_PASSED, NULL, NULL, &err), -EINVAL, L("a job that never ran cannot pass"));
    is_int(kiln_store_job_advance(st, w, id, JOB_DONE, &err), -EINVAL, L("a worker does not set done by advancing"));
    atomic_fetch_add(&fake_now, 1000);
    is_int(kiln_store_job_advance(st, w, id, JOB_RUNNING, &err), 0, L("assigned -> running"));
    is_int(kiln_store_job_advance(st, w, id, JOB_RUNNING, &err), -EINVAL, L("running -> running refused"));
    is_int(kiln_store_job_advance(st, w, id, JOB_UPLOADING, &err), 0, L("running -> uploading"));
    atomic_fetch_add(&fake_now, 1000);
    enum kiln_job_state s = JOB_QUEUED;
    is_int(kiln_store_job_finish(st, w, id, RESULT_PASSED, "all 12 cases passed", &s, &err), 0, L("uploading -> done"));
    is_str(kiln_job_state_name(s), "done", L("finish says done"));
    j = get(st, id);
    is_str(kiln_job_state_name(j.state), "done", L("done"));
    is_str(kiln_job_result_name(j.result), "passed", L("result passed"));
    is_int(j.started_ms, now0 + 1000, L("started when it ran"));
    is_int(j.finished_ms, now0 + 2000, L("finished when it finished"));
    is_int(j.lease_expires_ms, 0, L("no lease once done"));
    kiln_job_clear(&j);
    /* a reason is bounded, and cut where a UTF-8 character starts */
    int64_t lr = submit(st, tenant, NULL);
    claim(st, w, &got);
    kiln_store_job_advance(st, w, lr, JOB_RUNNING, &err);
    struct sbuf longr = {0};
    sbuf_puts(&longr, "x");
    for (int i = 0; i < 5000; i++) sbuf_puts(&longr, "\xc3\xa9");
    is_int(kiln_store_job_finish(st, w, lr, RESULT_FAILED, longr.s, NULL, &err), 0, L("a 10 kB reason accepted"));
    sbuf_free(&longr);
    j = get(st, lr);
    is_int(j.reason ? strlen(j.reason) : 0, 4095, L("kept to 4096 bytes, cut before a split character"));
    kiln_job_clear(&j);
    int64_t bad_utf8 = submit(st, tenant, NULL);
    claim(st, w, &got);
    kiln_store_job_advance(st, w, bad_utf8, JOB_RUNNING, &err);
    is_int(kiln_store_job_finish(st, w, bad_utf8, RESULT_FAILED, "guest said \xff\xfe \x1b[31mred\x1b[0m", NULL, &err), 0,
           L("a reason with bytes that are not UTF-8 and terminal escapes accepted"));
    j = get(st, bad_utf8);
    is_str(j.reason, "guest said \xef\xbf\xbd\xef\xbf\xbd red", L("stored as UTF-8 (U+FFFD), escapes dropped"));
    kiln_job_clear(&j);
    is_int(kiln_store_job_cancel(st, tenant, id, &err), -EINVAL, L("a done job cannot be cancelled"));
    has(err, "from done to cancelled", L("cancel refusal names the states"));
    is_int(kiln_store_job_finish(st, w, id, RESULT_FAILED, NULL, NULL, &err), -ESTALE, L("a done job cannot finish twice"));
    is_int(kiln_store_job_finish(st, w, id, RESULT_NONE, NULL, NULL, &err), -EINVAL, L("finish needs a result"));

    /* cancelled while queued: never claimed */
    int64_t c1 = submit(st, tenant, NULL);
    is_int(kiln_store_job_cancel(st, tenant, c1, &err), 0, L("queued job cancelled"));
    is_int(claim(st, w, &got), 0, L("a cancelled job is not claimed"));
    j = get(st, c1);
    is_str(kiln_job_state_name(j.state), "cancelled", L("state cancelled"));
    /* README, kiln submit's exit 3: a cancelled job is incomplete (stored without a result) */
    is_str(kiln_job_result_name(j.result), "incomplete", L("a cancelled job reads incomplete"));
    is_str(j.reason, "cancelled on request", L("and says it was cancelled"));
    kiln_job_clear(&j);

    /* cancelled while running: the worker hears it at its heartbeat, and cannot go on */
    int64_t c2 = submit(st, tenant, NULL);
    is_int(claim(st, w, &got), 1, L("claimed the next"));
    is_int(got, c2, L("it is the job submitted"));
    kiln_store_job_advance(st, w, c2, JOB_RUNNING, &err);
    int64_t *held = NULL;
    is_int(kiln_store_worker_heartbeat(st, w, 30000, &held, &err), 1, L("heartbeat: one job held"));
    is_int(held ? held[0] : 0, c2, L("the running job"));
    free(held);
    is_int(kiln_store_job_cancel(st, tenant, c2, &err), 0, L("running job cancelled"));
    is_int(kiln_store_worker_heartbeat(st, w, 30000, &held, &err), 0, L("heartbeat: the cancelled job is no longer held"));
    free(held);
    is_int(kiln_store_job_advance(st, w, c2, JOB_UPLOADING, &err), -ECANCELED, L("the worker cannot move a cancelled job"));
    has(err, "cancelled", L("it is told the job was cancelled"));
    enum kiln_job_state after = JOB_QUEUED;
    is_int(kiln_store_job_finish(st, w, c2, RESULT_INCOMPLETE, "the worker was stopped", &after, &err), -ECANCELED,
           L("a cancelled job's late incomplete is refused as cancelled"));
    j = get(st, c2);
    is_str(kiln_job_state_name(j.state), "cancelled", L("and the job stays cancelled, never queued again"));
    kiln_job_clear(&j);
    struct kiln_attempt *a = NULL;
    size_t na = 0;
    is_int(kiln_store_job_attempts(st, tenant, c2, &a, &na, &err), 0, L("attempts listed"));
    is_int(na, 1, L("one attempt"));
    if (na == 1) {
        is_str(a[0].reason, "cancelled on request", L("the attempt ended cancelled"));
        is_str(kiln_job_result_name(a[0].result), "incomplete", L("its attempt reads incomplete too"));
        ok(a[0].ended_ms > 0, "%s", L("and has an end time"));
    }
    kiln_attempts_free(a, na);

    /* bad submissions name the field */
    struct kiln_job_submit bs = {.image_digest = digest_a, .spec = "{\"tier\": "};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("truncated JSON refused"));
    has(err, "selection: not JSON", L("it names the selection"));
    bs.spec = "[1]";
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("a JSON array refused"));
    _cleanup_free_ char *huge = xmalloc(KILN_STORE_SPEC_MAX + 16);
    memset(huge, ' ', KILN_STORE_SPEC_MAX + 15);
    huge[0] = '{';
    huge[KILN_STORE_SPEC_MAX + 13] = '}';
    huge[KILN_STORE_SPEC_MAX + 15] = 0;
    bs.spec = huge;
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("a selection over 256 KiB refused"));
    has(err, "262144", L("it names the bound"));
    bs = (struct kiln_job_submit){.spec = "{}"};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("neither image nor gallery ref refused"));
    bs = (struct kiln_job_submit){.image_digest = digest_a, .gallery_ref = "debian@1.0", .spec = "{}"};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("both image and gallery ref refused"));
    bs = (struct kiln_job_submit){.gallery_ref = "debian-server@1.0.1", .spec = "{}", .publish_channel = "stable"};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), 0, L("a gallery reference is enough"));
    j = get(st, got);
    is_str(j.gallery_ref, "debian-server@1.0.1", L("gallery ref kept"));
    is_str(j.publish_channel, "stable", L("publish channel kept"));
    ok(j.image_digest == NULL, "%s", L("no image digest"));
    kiln_job_clear(&j);
    bs = (struct kiln_job_submit){.gallery_ref = "debian\xff@1", .spec = "{}"};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("a gallery ref that is not UTF-8 refused"));
    has(err, "gallery_ref", L("it names the field"));
    bs = (struct kiln_job_submit){.gallery_ref = "debian-server@1.0.1", .spec = "{}", .publish_channel = "sta ble"};
    is_int(kiln_store_job_submit(st, tenant, &bs, &got, &err), -EINVAL, L("a channel with a space refused"));
    has(err, "publish.channel", L("it names the field"));
    kiln_store_close(st);
}

/* --- isolation ------------------------------------------------------------------------------ */

static void test_isolation(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t a = add_tenant(st, "alpha", 4, NULL), b = add_tenant(st, "beta", 4, NULL);
    int64_t ja = submit(st, a, NULL);
    _cleanup_free_ char *err = NULL, *err_none = NULL;
    struct kiln_job j = {0};
    is_int(kiln_store_job_get(st, a, ja, &j, &err), 0, L("alpha sees its job"));
    is_str(j.tenant, "alpha", L("alpha's job"));
    kiln_job_clear(&j);
    is_int(kiln_store_job_get(st, b, ja, &j, &err), -ENOENT, L("beta: alpha's job is not found"));
    is_int(kiln_store_job_get(st, b, ja + 1000, &j, &err_none), -ENOENT, L("beta: a job that does not exist"));
    _cleanup_free_ char *want = xasprintf("job %lld not found", (long long)ja);
    is_str(err, want, L("another tenant's job reads as not found, never forbidden"));
    is_int(kiln_store_job_cancel(st, b, ja, &err), -ENOENT, L("beta cannot cancel alpha's job"));
    struct kiln_attempt *at = NULL;
    size_t nat = 0;
    is_int(kiln_store_job_attempts(st, b, ja, &at, &nat, &err), -ENOENT, L("beta cannot list its attempts"));
    struct kiln_job *list = NULL;
    size_t n = 0;
    is_int(kiln_store_job_list(st, b, -1, 0, 0, &list, &n, &err), 0, L("beta lists"));
    is_int(n, 0, L("beta sees no job"));
    kiln_jobs_free(list, n);
    is_int(kiln_store_job_list(st, a, -1, 0, 0, &list, &n, &err), 0, L("alpha lists"));
    is_int(n, 1, L("alpha sees its one job"));
    kiln_jobs_free(list, n);
    is_int(kiln_store_job_list(st, KILN_SCOPE_ALL, JOB_QUEUED, 0, 0, &list, &n, &err), 0, L("admin lists queued"));
    is_int(n, 1, L("the admin sees it"));
    kiln_jobs_free(list, n);
    is_int(kiln_store_job_list(st, 0, -1, 0, 0, &list, &n, &err), 0, L("scope 0 lists"));
    is_int(n, 0, L("an unset scope (0) sees nothing"));
    kiln_jobs_free(list, n);
    /* a page at a time: the newest two, then from below the last id, then nothing more */
    int64_t ja2 = submit(st, a, NULL), ja3 = submit(st, a, NULL);
    is_int(kiln_store_job_list(st, a, -1, 0, 2, &list, &n, &err), 0, L("alpha lists a page of 2"));
    is_int(n, 2, L("two jobs on the first page"));
    int64_t last = n == 2 ? list[1].id : 0;
    ok(n == 2 && list[0].id == ja3 && list[1].id == ja2, "%s", L("the newest first"));
    kiln_jobs_free(list, n);
    is_int(kiln_store_job_list(st, a, -1, last, 2, &list, &n, &err), 0, L("alpha lists the next page"));
    is_int(n, 1, L("one job on the next page"));
    is_int(n == 1 ? list[0].id : 0, ja, L("the oldest"));
    kiln_jobs_free(list, n);
    is_int(kiln_store_job_list(st, b, -1, ja3 + 1, 2, &list, &n, &err), 0, L("beta pages"));
    is_int(n, 0, L("paging shows beta nothing of alpha's"));
    kiln_jobs_free(list, n);
    kiln_store_job_cancel(st, a, ja2, &err);
    kiln_store_job_cancel(st, a, ja3, &err);

    /* images: beta cannot use alpha's upload by naming its digest */
    struct kiln_image img;
    is_int(kiln_store_image_get(st, b, digest_a, &img, &err), -ENOENT, L("beta: alpha's image not found"));
    struct kiln_job_submit s = {.image_digest = digest_a, .spec = "{}"};
    int64_t id = 0;
    is_int(kiln_store_job_submit(st, b, &s, &id, &err), -ENOENT, L("beta cannot submit alpha's image"));
    has(err, "upload it first", L("it is told to upload"));
    /* ... until beta uploads the same bytes: stored once */
    is_int(kiln_store_image_record(st, b, digest_a, 4096, "/data/images/tmp-upload", &img, &err), 0, L("beta uploads the same image"));
    ok(img.known, "%s", L("the digest was known"));
    ok(!img.tenant_had, "%s", L("... but not to beta: alpha's upload is not beta's to learn of"));
    is_str(img.path, "/data/images/aa", L("the first copy's path, not a second copy"));
    is_int(kiln_store_image_record(st, b, digest_a, 4096, "/data/images/tmp-upload", &img, &err), 0, L("beta uploads it again"));
    ok(img.tenant_had, "%s", L("now beta had it"));
    is_int(kiln_store_image_record(st, b, digest_a, 4097, "/x", &img, &err), -EINVAL, L("the same digest with another size refused"));
    is_int(kiln_store_image_record(st, b, digest_b, 1, "/data/images/bb", &img, &err), 0, L("a new image recorded"));
    ok(!img.known, "%s", L("a new digest is not known"));
    is_int(kiln_store_image_record(st, b, "AAAA", 1, "/x", &img, &err), -EINVAL, L("a malformed digest refused"));
    is_int(kiln_store_job_submit(st, b, &s, &id, &err), 0, L("now beta can submit it"));
    is_int(raw_long("SELECT COUNT(*) FROM images"), 2, L("two images stored for three uploads"));
    kiln_store_close(st);
}

/* --- quota, capabilities ------------------------------------------------------------------------ */

static void test_quota(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t small = add_tenant(st, "small", 2, NULL), other = add_tenant(st, "other", 5, NULL);
    int64_t w = add_worker(st, "big", "kvm", "x86_64", 64, 65536, 0, 10);
    int64_t ids[5], got = 0, seen[5] = {0};
    for (int i = 0; i < 5; i++) ids[i] = submit(st, small, NULL);
    int64_t o1 = submit(st, other, NULL);
    _cleanup_free_ char *err = NULL;
    is_int(claim(st, w, &seen[0]), 1, L("first of small's jobs"));
    is_int(claim(st, w, &seen[1]), 1, L("second of small's jobs"));
    is_int(seen[0], ids[0], L("oldest first"));
    is_int(claim(st, w, &got), 1, L("third claim"));
    is_int(got, o1, L("small is at its quota of 2: other's job, behind small's three queued, comes next"));
    is_int(claim(st, w, &got), 0, L("nothing more: small is full, other is empty"));
    struct kiln_job j = get(st, ids[2]);
    is_int(j.queue_position, 1, L("small's third job is first in the queue"));
    kiln_job_clear(&j);
    j = get(st, ids[4]);
    is_int(j.queue_position, 3, L("small's fifth job is third"));
    kiln_job_clear(&j);
    kiln_store_job_advance(st, w, seen[0], JOB_RUNNING, &err);
    is_int(kiln_store_job_finish(st, w, seen[0], RESULT_FAILED, "case x failed", NULL, &err), 0, L("one of small's jobs fails"));
    is_int(claim(st, w, &got), 1, L("a slot of small's freed"));
    is_int(got, ids[2], L("its next job"));
    is_int(claim(st, w, &got), 0, L("full again"));
    is_int(kiln_store_tenant_set_max_jobs(st, small, 3, &err), 0, L("quota raised to 3"));
    is_int(claim(st, w, &got), 1, L("one more then"));
    is_int(got, ids[3], L("the next in line"));
    is_int(kiln_store_tenant_set_max_jobs(st, small, 0, &err), -EINVAL, L("quota 0 refused"));

    /* a worker's slots bound what it holds */
    int64_t w1 = add_worker(st, "one-slot", "kvm", "x86_64", 64, 65536, 0, 1);
    int64_t o2 = submit(st, other, NULL);
    submit(st, other, NULL);
    is_int(claim(st, w1, &got), 1, L("a one-slot worker claims one"));
    is_int(got, o2, L("other's next job"));
    is_int(claim(st, w1, &got), 0, L("and no second while it holds it"));
    kiln_store_close(st);
}

static struct kiln_caps caps(const char *accel, const char *arch, int cpus, int mem, unsigned features)
{
    struct kiln_caps c = {.cpus = cpus, .memory_mb = mem, .features = features};
    snprintf(c.accel, sizeof(c.accel), "%s", accel);
    snprintf(c.arch, sizeof(c.arch), "%s", arch);
    return c;
}

static void test_capabilities(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t t = add_tenant(st, "acme", 100, NULL);
    struct kiln_caps wc[3] = {caps("tcg", "x86_64", 2, 2048, 0),
                              caps("kvm", "x86_64", 8, 16384, FEAT_UEFI | FEAT_TPM | FEAT_NVME),
                              caps("kvm", "aarch64", 8, 16384, FEAT_UEFI)};
    int64_t w[3];
    const char *names[3] = {"tcg-small", "kvm-x86", "kvm-arm"};
    for (int i = 0; i < 3; i++) w[i] = add_worker(st, names[i], wc[i].accel, wc[i].arch, wc[i].cpus, wc[i].memory_mb, wc[i].features, 10);
    struct kiln_caps jc[6] = {
        caps("kvm", "", 4, 0, FEAT_UEFI),              /* kvm-x86 or kvm-arm */
        caps("", "aarch64", 0, 0, 0),                  /* kvm-arm */
        caps("", "", 0, 0, 0),                         /* anyone */
        caps("", "x86_64", 0, 8192, FEAT_TPM | FEAT_NVME), /* kvm-x86 */
        caps("", "", 16, 0, 0),                        /* nobody: 16 cpus */
        caps("", "", 0, 0, FEAT_GPU),                  /* nobody: a GPU */
    };
    int64_t j[6];
    for (int i = 0; i < 6; i++) j[i] = submit(st, t, &jc[i]);
    /* claims in worker order; each worker takes all it can */
    int64_t owner[6] = {0};
    for (int k = 0; k < 3; k++) {
        int64_t got;
        while (claim(st, w[k], &got) == 1)
            for (int i = 0; i < 6; i++)
                if (j[i] == got) owner[i] = w[k];
    }
    is_int(owner[2], w[0], L("the small tcg worker takes the job that asks nothing, skipping two it cannot run"));
    is_int(owner[0], w[1], L("kvm + uefi + 4 cpus: the x86 kvm worker"));
    is_int(owner[3], w[1], L("tpm + nvme + 8 GiB on x86_64: the x86 kvm worker"));
    is_int(owner[1], w[2], L("aarch64: the arm worker"));
    is_int(owner[4], 0, L("16 cpus: nobody"));
    is_int(owner[5], 0, L("a GPU: nobody"));
    /* what was claimed agrees with kiln_caps_meet: the owner meets the job, the workers that
     * claimed before it did not, and nobody meets a job left queued */
    int agree = 0;
    for (int i = 0; i < 6; i++) {
        bool fits = true;
        int k = 0;
        for (; k < 3 && w[k] != owner[i]; k++) fits = fits && !kiln_caps_meet(&wc[k], &jc[i]);
        if (k < 3) fits = fits && kiln_caps_meet(&wc[k], &jc[i]);
        agree += fits;
    }
    is_int(agree, 6, L("kiln_caps_meet agrees with every claim"));
    struct kiln_job jj = get(st, j[4]);
    is_int(jj.queue_position, 1, L("an unrunnable job waits, first in the queue"));
    kiln_job_clear(&jj);
    _cleanup_free_ char *err = NULL;
    struct kiln_caps bad = caps("kvm;drop", "", 0, 0, 0);
    is_int(kiln_store_worker_declare(st, w[0], &bad, 1, &err), -EINVAL, L("an accel that is not a name refused"));
    bad = caps("kvm", "", -1, 0, 0);
    is_int(kiln_store_worker_declare(st, w[0], &bad, 1, &err), -EINVAL, L("negative cpus refused"));
    is_int(kiln_store_worker_declare(st, w[0], &wc[0], 0, &err), -EINVAL, L("zero slots refused"));
    struct kiln_worker *ws = NULL;
    size_t nw = 0;
    is_int(kiln_store_worker_list(st, &ws, &nw, &err), 0, L("workers listed"));
    is_int(nw, 3, L("three workers"));
    if (nw == 3) {
        is_str(ws[1].name, "kvm-x86", L("by name"));
        is_int(ws[1].running, 2, L("kvm-x86 holds two jobs"));
        is_int(ws[1].caps.features, FEAT_UEFI | FEAT_TPM | FEAT_NVME, L("its declared features"));
        is_int(ws[1].slots, 10, L("its slots"));
    }
    free(ws);
    kiln_store_close(st);
}

/* --- leases ---------------------------------------------------------------------------------- */

static void test_lapse(void)
{
    fresh_db();
    struct kiln_store_opts o = fake_opts;
    o.avoid_ms = 120000;
    struct kiln_store *st = open_db(&o);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t t = add_tenant(st, "acme", 10, NULL);
    int64_t w1 = add_worker(st, "lost", "kvm", "x86_64", 8, 8192, 0, 4), w2 = add_worker(st, "spare", "kvm", "x86_64", 8, 8192, 0, 4);
    int64_t id = submit(st, t, NULL), got = 0, *held = NULL;
    _cleanup_free_ char *err = NULL;
    is_int(claim(st, w1, &got), 1, L("the first worker claims"));
    kiln_store_job_advance(st, w1, id, JOB_RUNNING, &err);
    atomic_fetch_add(&fake_now, 20000);
    is_int(kiln_store_worker_heartbeat(st, w1, 30000, &held, &err), 1, L("heartbeat renews its lease"));
    free(held);
    struct kiln_job j = get(st, id);
    is_int(j.lease_expires_ms, atomic_load(&fake_now) + 30000, L("lease now + 30 s"));
    kiln_job_clear(&j);
    is_int(kiln_store_sweep(st, &err), 0, L("a live lease is not swept"));
    atomic_fetch_add(&fake_now, 45000); /* the worker went silent: its lease lapsed 15 s ago */
    is_int(kiln_store_worker_heartbeat(st, w1, 30000, &held, &err), 0, L("a lapsed lease is not renewed"));
    free(held);
    is_int(kiln_store_job_advance(st, w1, id, JOB_UPLOADING, &err), -ESTALE, L("the lost worker cannot go on"));
    has(err, "lease lapsed", L("it is told why"));
    is_int(kiln_store_sweep(st, &err), 1, L("the sweep takes the job back"));
    j = get(st, id);
    is_str(kiln_job_state_name(j.state), "queued", L("queued again"));
    is_int(j.result, RESULT_NONE, L("no result yet"));
    is_int(j.attempt, 1, L("one attempt so far"));
    has(j.reason, "worker lost stopped renewing its lease", L("the reason names the lost worker"));
    kiln_job_clear(&j);
    is_int(claim(st, w1, &got), 0, L("the lost worker is not given it back"));
    is_int(claim(st, w2, &got), 1, L("another worker claims it"));
    is_int(got, id, L("the same job"));
    j = get(st, id);
    ok(j.reason == NULL, "%s", L("the new attempt starts without the last one's reason (the attempts keep it)"));
    kiln_job_clear(&j);
    kiln_store_job_advance(st, w2, id, JOB_RUNNING, &err);
    is_int(kiln_store_job_finish(st, w1, id, RESULT_PASSED, NULL, NULL, &err), -ESTALE, L("the lost worker's late result refused"));
    is_int(kiln_store_job_finish(st, w2, id, RESULT_PASSED, "ok", NULL, &err), 0, L("the second worker finishes"));
    j = get(st, id);
    is_str(kiln_job_state_name(j.state), "done", L("done"));
    is_str(kiln_job_result_name(j.result), "passed", L("passed"));
    is_int(j.attempt, 2, L("on the second attempt"));
    is_str(j.worker, "spare", L("by the second worker"));
    kiln_job_clear(&j);
    struct kiln_attempt *a = NULL;
    size_t na = 0;
    is_int(kiln_store_job_attempts(st, t, id, &a, &na, &err), 0, L("attempts listed"));
    is_int(na, 2, L("both tries kept"));
    if (na == 2) {
        is_str(a[0].worker, "lost", L("try 1 on the lost worker"));
        is_str(kiln_job_result_name(a[0].result), "incomplete", L("try 1 incomplete"));
        is_str(a[1].worker, "spare", L("try 2 on another worker"));
        is_str(kiln_job_result_name(a[1].result), "passed", L("try 2 passed"));
    }
    kiln_attempts_free(a, na);

    /* a fleet of one: once avoid_ms passed, the lost worker may take its job again; attempts
     * are bounded: the third lapse ends the job done/incomplete */
    int64_t id2 = submit(st, t, NULL);
    for (int k = 1; k <= 3; k++) {
        atomic_fetch_add(&fake_now, 200000);
        is_int(claim(st, w1, &got), 1, L("the only live worker takes it (again)"));
        atomic_fetch_add(&fake_now, 31000);
        is_int(kiln_store_sweep(st, &err), 1, L("and loses it"));
    }
    j = get(st, id2);
    is_str(kiln_job_state_name(j.state), "done", L("out of attempts: done"));
    is_str(kiln_job_result_name(j.result), "incomplete", L("result incomplete (the infrastructure failed, not the image)"));
    is_int(j.attempt, 3, L("after 3 attempts"));
    kiln_job_clear(&j);

    /* a worker that reports an infrastructure failure itself: retried the same way */
    int64_t id3 = submit(st, t, NULL);
    atomic_fetch_add(&fake_now, 1000);
    is_int(claim(st, w2, &got), 1, L("claimed"));
    enum kiln_job_state s = JOB_DONE;
    is_int(kiln_store_job_finish(st, w2, id3, RESULT_INCOMPLETE, "host out of disk", &s, &err), 0, L("reported incomplete"));
    is_str(kiln_job_state_name(s), "queued", L("queued for another try"));
    is_int(claim(st, w2, &got), 0, L("not by the worker that failed it"));
    is_int(claim(st, w1, &got), 1, L("by another"));
    is_int(got, id3, L("the same job"));
    kiln_store_close(st);
}

/* A server that was down longer than a lease: at its start the held jobs' leases run from now,
 * so the sweep does not take its own downtime for the workers' silence. */
static void test_leases_restart(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t t = add_tenant(st, "acme", 10, NULL);
    int64_t w = add_worker(st, "host7", "kvm", "x86_64", 8, 8192, 0, 4);
    int64_t id = submit(st, t, NULL), queued = submit(st, t, NULL), got = 0, *held = NULL;
    _cleanup_free_ char *err = NULL;
    is_int(claim(st, w, &got), 1, L("claimed"));
    kiln_store_job_advance(st, w, id, JOB_RUNNING, &err);
    atomic_fetch_add(&fake_now, 63000); /* the server was down 63 s; the lease was 30 s */
    is_int(kiln_store_leases_restart(st, 30000, &err), 1, L("at start: the held job's lease runs from now"));
    struct kiln_job j = get(st, id);
    is_int(j.lease_expires_ms, atomic_load(&fake_now) + 30000, L("now + the lease"));
    kiln_job_clear(&j);
    j = get(st, queued);
    is_int(j.lease_expires_ms, 0, L("a queued job gets no lease"));
    kiln_job_clear(&j);
    is_int(kiln_store_sweep(st, &err), 0, L("the first sweep takes nothing back"));
    atomic_fetch_add(&fake_now, 10000);
    is_int(kiln_store_worker_heartbeat(st, w, 30000, &held, &err), 1, L("the worker, heard again, renews it"));
    free(held);
    is_int(kiln_store_job_finish(st, w, id, RESULT_PASSED, NULL, NULL, &err), 0, L("and its result is taken"));
    j = get(st, id);
    is_str(kiln_job_result_name(j.result), "passed", L("passed, on its first attempt"));
    is_int(j.attempt, 1, L("one attempt"));
    kiln_job_clear(&j);
    is_int(kiln_store_leases_restart(st, 0, &err), -EINVAL, L("a lease of 0 ms refused"));
    kiln_store_close(st);
}

/* --- concurrency ------------------------------------------------------------------------------ */

#define NJOBS 300
#define NTHREADS 8

struct claimer {
    int64_t worker;
    bool finish;       /* finish each job (else hold it) */
    int claimed;
    int errors;
    int64_t ids[NJOBS];
};

static void *claimer_run(void *arg)
{
    struct claimer *c = arg;
    struct kiln_store *st = open_db(NULL);
    if (!st) {
        c->errors++;
        return NULL;
    }
    for (;;) {
        struct kiln_job j = {0};
        _cleanup_free_ char *err = NULL;
        int rc = kiln_store_claim(st, c->worker, 60000, &j, &err);
        if (rc < 0) {
            printf("# claim: %s\n", err);
            c->errors++;
            break;
        }
        if (rc == 0) break;
        if (c->claimed < NJOBS) c->ids[c->claimed] = j.id;
        c->claimed++;
        kiln_job_clear(&j);
        if (!c->finish) continue;
        if (kiln_store_job_advance(st, c->worker, c->ids[c->claimed - 1], JOB_RUNNING, &err) < 0 ||
            kiln_store_job_finish(st, c->worker, c->ids[c->claimed - 1], RESULT_PASSED, "ok", NULL, &err) < 0) {
            printf("# finish: %s\n", err);
            c->errors++;
        }
    }
    kiln_store_close(st);
    return NULL;
}

static int run_claimers(struct claimer *c, int n)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, claimer_run, &c[i]);
    int errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        errors += c[i].errors;
    }
    return errors;
}

/* The same with processes: each claims through its own connection and reports back through a
 * pipe (cross-process locking: SQLite's file locks, PostgreSQL's separate backends alike). */
static int run_claimer_processes(struct claimer *c, int n)
{
    int fds[NTHREADS], errors = 0;
    pid_t pids[NTHREADS];
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) < 0) return -1;
        fflush(stdout);
        if ((pids[i] = fork()) == 0) {
            close(p[0]);
            claimer_run(&c[i]);
            for (size_t off = 0; off < sizeof(c[i]);) {
                ssize_t w = write(p[1], (char *)&c[i] + off, sizeof(c[i]) - off);
                if (w <= 0) _exit(1);
                off += (size_t)w;
            }
            _exit(0);
        }
        close(p[1]);
        fds[i] = p[0];
    }
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        ssize_t r;
        while (off < sizeof(c[i]) && (r = read(fds[i], (char *)&c[i] + off, sizeof(c[i]) - off)) > 0) off += (size_t)r;
        close(fds[i]);
        int status = 0;
        waitpid(pids[i], &status, 0);
        errors += off == sizeof(c[i]) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? c[i].errors : 1;
    }
    return errors;
}

static void test_concurrent_claims(bool processes)
{
    fresh_db();
    struct kiln_store *st = open_db(NULL);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t tenants[3] = {add_tenant(st, "t1", 1000, NULL), add_tenant(st, "t2", 1000, NULL), add_tenant(st, "t3", 1000, NULL)};
    static struct claimer c[NTHREADS];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < NTHREADS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d", i);
        c[i].worker = add_worker(st, name, "kvm", "x86_64", 8, 8192, 0, 1000);
        c[i].finish = true;
    }
    int64_t first = 0, last = 0;
    for (int i = 0; i < NJOBS; i++) {
        last = submit(st, tenants[i % 3], NULL);
        if (!first) first = last;
    }
    is_int(last - first + 1, NJOBS, L("300 jobs submitted"));
    is_int(processes ? run_claimer_processes(c, NTHREADS) : run_claimers(c, NTHREADS), 0,
           L(processes ? "8 processes claimed and finished without an error" : "8 threads claimed and finished without an error"));
    static int times[NJOBS];
    memset(times, 0, sizeof(times));
    int total = 0, outside = 0;
    char spread[200] = "";
    for (int i = 0; i < NTHREADS; i++) {
        total += c[i].claimed;
        snprintf(spread + strlen(spread), sizeof(spread) - strlen(spread), " %d", c[i].claimed);
        for (int k = 0; k < c[i].claimed && k < NJOBS; k++) {
            int64_t id = c[i].ids[k];
            if (id < first || id > last) outside++;
            else times[id - first]++;
        }
    }
    printf("# %s: claims per %s:%s\n", backend, processes ? "process" : "thread", spread);
    int once = 0;
    for (int i = 0; i < NJOBS; i++) once += times[i] == 1;
    is_int(total, NJOBS, L("300 claims in all"));
    is_int(outside, 0, L("no claim of a job that was not submitted"));
    is_int(once, NJOBS, L("every job claimed exactly once"));
    is_int(raw_long("SELECT COUNT(*) FROM jobs WHERE state = 'done' AND result = 'passed' AND attempt = 1"), NJOBS,
           L("all 300 done, passed, on the first attempt"));
    is_int(raw_long("SELECT COUNT(*) FROM job_attempts"), NJOBS, L("one attempt row each"));
    kiln_store_close(st);
}

static void test_concurrent_quota(void)
{
    fresh_db();
    struct kiln_store *st = open_db(NULL);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t t = add_tenant(st, "limited", 3, NULL);
    static struct claimer c[NTHREADS];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < NTHREADS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "q%d", i);
        c[i].worker = add_worker(st, name, "kvm", "x86_64", 8, 8192, 0, 100);
    }
    for (int i = 0; i < 40; i++) submit(st, t, NULL);
    is_int(run_claimers(c, NTHREADS), 0, L("8 threads raced for a tenant's 3 slots without an error"));
    int total = 0;
    for (int i = 0; i < NTHREADS; i++) total += c[i].claimed;
    is_int(total, 3, L("exactly 3 claimed: the quota held under the race"));
    is_int(raw_long("SELECT COUNT(*) FROM jobs WHERE state = 'assigned'"), 3, L("3 assigned in the database"));
    kiln_store_close(st);
}

/* --- self-service publishing: each ended job that asked is taken once, its outcome kept ------- */

static void test_publish(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    int64_t tenant = add_tenant(st, "acme", 10, NULL);
    int64_t w = add_worker(st, "w1", "kvm", "x86_64", 4, 8192, 0, 4);
    _cleanup_free_ char *err = NULL;
    struct kiln_image img;
    kiln_store_image_record(st, tenant, digest_a, 4096, "/data/images/aa", &img, &err);
    int64_t plain = submit(st, tenant, NULL), id = 0, got = 0;
    struct kiln_job_submit s = {.image_digest = digest_a, .spec = "{}", .publish_channel = "stable",
                                .publish_files = "{\"os-1.0.manifest.json\": \"aa\"}"};
    is_int(kiln_store_job_submit(st, tenant, &s, &id, &err), 0, L("a job asking to publish submitted"));
    s.publish_files = "[1]";
    int64_t bad = 0;
    is_int(kiln_store_job_submit(st, tenant, &s, &bad, &err), -EINVAL, L("publish files that are not an object refused"));
    struct kiln_job j = get(st, id);
    is_str(j.publish_state, "pending", L("its publish is pending"));
    is_str(j.publish_files, "{\"os-1.0.manifest.json\": \"aa\"}", L("its files kept as submitted"));
    kiln_job_clear(&j);
    j = get(st, plain);
    is_str(j.publish_state, "", L("a job without publish has no publish state"));
    kiln_job_clear(&j);
    struct kiln_job t = {0};
    is_int(kiln_store_publish_take(st, &t, &err), 0, L("nothing to publish while the job is queued"));
    /* run both jobs to done */
    enum kiln_job_state to;
    for (int k = 0; k < 2; k++) {
        claim(st, w, &got);
        kiln_store_job_advance(st, w, got, JOB_RUNNING, &err);
        kiln_store_job_finish(st, w, got, RESULT_PASSED, NULL, &to, &err);
    }
    is_int(kiln_store_publish_take(st, &t, &err), 1, L("the passed job is taken to publish"));
    is_int(t.id, id, L("the job that asked"));
    is_str(t.publish_state, "publishing", L("it is publishing"));
    is_int(t.publish_takes, 1, L("taken once"));
    kiln_job_clear(&t);
    is_int(kiln_store_publish_take(st, &t, &err), 0, L("taken once: nothing more"));
    /* the server publishing it stops: the publish is found stuck, resumed, taken again (a
     * resume), and refused with the reason once taken KILN's bound of times */
    int64_t *stuck = NULL;
    size_t ns = 0;
    is_int(kiln_store_publish_stuck(st, atomic_load(&fake_now), &stuck, &ns, &err), 0, L("stuck publishes listed"));
    is_int((int)ns, 0, L("none taken before now"));
    free(stuck);
    fake_now += 20000;
    is_int(kiln_store_publish_stuck(st, atomic_load(&fake_now) - 10000, &stuck, &ns, &err), 0, L("stuck publishes listed"));
    ok(ns == 1 && stuck[0] == id, "%s", L("the publish taken 20 s ago is listed"));
    free(stuck);
    for (int take = 2; take <= 3; take++) {
        is_int(kiln_store_publish_resume(st, id, 3, &err), 1, L("resumed: pending again"));
        j = get(st, id);
        is_str(j.publish_state, "pending", L("pending"));
        kiln_job_clear(&j);
        is_int(kiln_store_publish_take(st, &t, &err), 1, L("taken again"));
        is_int(t.publish_takes, take, L("counted as a resume"));
        kiln_job_clear(&t);
    }
    is_int(kiln_store_publish_resume(st, id, 3, &err), 2, L("the third stop: refused"));
    j = get(st, id);
    is_str(j.publish_state, "refused", L("refused"));
    has(j.publish_reason, "the server stopped while publishing this job 3 times", L("saying why"));
    kiln_job_clear(&j);
    is_int(kiln_store_publish_resume(st, id, 3, &err), -ESTALE, L("a publish not in progress is not resumed"));
    /* the rest as a publisher that did not stop: put it back to publishing */
    _cleanup_free_ char *back = raw("UPDATE jobs SET publish_state = 'publishing', publish_reason = NULL WHERE publish_state = 'refused'");
    is_int(kiln_store_publish_end(st, id, false, "not published: x.raw is not signed\x1b[31m", &err), 0, L("refused"));
    j = get(st, id);
    is_str(j.publish_state, "refused", L("the refusal kept"));
    is_str(j.publish_reason, "not published: x.raw is not signed", L("with its reason, cleaned of terminal escapes"));
    kiln_job_clear(&j);
    is_int(kiln_store_publish_end(st, id, true, NULL, &err), -ESTALE, L("an outcome is recorded once"));
    is_int(kiln_store_publish_end(st, plain, true, NULL, &err), -ESTALE, L("a job not being published has no outcome"));
    kiln_store_close(st);
}

/* Names that come from machines and from kiln rollout never act as paths, on both backends. */
static void test_update_names(void)
{
    fresh_db();
    struct kiln_store *st = open_db(NULL);
    if (!ok(st != NULL, "%s", L("open"))) return;
    char *err = NULL;
    struct kiln_rollout ro = {.p = {.enabled = true, .permyriad = 10000, .period_ms = 3600000}};
    snprintf(ro.name, sizeof ro.name, "os");
    snprintf(ro.p.target, sizeof ro.p.target, "1.1");
    static const char *const channels[] = {"../x", "..", "a..b", "a/b", ".hidden"};
    for (size_t i = 0; i < ARRAY_SIZE(channels); i++) {
        snprintf(ro.channel, sizeof ro.channel, "%s", channels[i]);
        is_int(kiln_store_rollout_set(st, &ro, &err), -EINVAL, L(channels[i]));
        free(err), err = NULL;
    }
    snprintf(ro.channel, sizeof ro.channel, "stable");
    snprintf(ro.p.target, sizeof ro.p.target, "1..1");
    is_int(kiln_store_rollout_set(st, &ro, &err), -EINVAL, L("a target version with \"..\""));
    free(err), err = NULL;
    snprintf(ro.p.target, sizeof ro.p.target, "1.1");
    is_int(kiln_store_rollout_set(st, &ro, &err), 0, L("rollout os stable 1.1"));
    struct rollout_version v = {.version = "1.1", .support_end_ms = INT64_MAX};
    struct rollout_decision d;
    static const char *const bad[][2] = {{"../..", "1.0"}, {"m1", "../../etc"}, {"m/1", "1.0"}, {"m1", "1/0"}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        is_int(kiln_store_update_check(st, "os", "stable", bad[i][0], bad[i][1], &v, 1, &d, &err), -EINVAL,
               L("a machine id or running version that is a path"));
        free(err), err = NULL;
    }
    is_int(kiln_store_update_check(st, "os", "stable", "m1", "1.0", &v, 1, &d, &err), 0, L("a plain one is checked"));
    is_int(d.verdict, ROLLOUT_OFFER, L("and offered 1.1"));
    free(err);
    kiln_store_close(st);
}

/* The update server's machine rows are bounded: past max_machines a new machine takes the
 * row of a stale one (unseen for a week, no group, no grant) or is refused -EUSERS; and a
 * grant is released when the machine reports an error or comes back running another
 * version than the granted one (a forged payload version), not held in flight for 6 h. */
static void test_update_bounds(void)
{
    fresh_db();
    const struct kiln_store_opts o = {.now_ms = fake_clock, .max_machines = 3};
    struct kiln_store *st = open_db(&o);
    if (!ok(st != NULL, "%s", L("open"))) return;
    char *err = NULL;
    struct kiln_rollout ro = {.p = {.enabled = true, .permyriad = 10000, .period_ms = 3600000}};
    snprintf(ro.name, sizeof ro.name, "os");
    snprintf(ro.channel, sizeof ro.channel, "stable");
    snprintf(ro.p.target, sizeof ro.p.target, "1.1");
    is_int(kiln_store_rollout_set(st, &ro, &err), 0, L("rollout os stable 1.1"));
    struct rollout_version v = {.version = "1.1", .support_end_ms = INT64_MAX};
    struct rollout_decision d;
    char m[16];
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "m%d", i);
        is_int(kiln_store_update_check(st, "os", "stable", m, i ? "1.1" : "1.0", &v, 1, &d, &err), 0, L("a machine within the bound"));
    }
    is_int(kiln_store_update_check(st, "os", "stable", "invented", "1.1", &v, 1, &d, &err), -EUSERS,
           L("a 4th machine past max_machines 3 is refused"));
    has(err, "keeps 3 machines of os", L("saying the bound"));
    is_int(raw_long("SELECT COUNT(*) FROM machines"), 3, L("no row was added"));
    struct omaha_event started = {.type = OMAHA_EVENT_DOWNLOAD_STARTED, .result = OMAHA_RESULT_SUCCESS};
    is_int(kiln_store_update_event(st, "os", "stable", "invented", "1.1", &started, NULL, &err), -EUSERS,
           L("its event is refused too"));
    is_int(raw_long("SELECT COUNT(*) FROM update_events") + raw_long("SELECT COUNT(*) FROM machines"), 3,
           L("and writes neither an event nor a machine"));
    /* what the server checks of every app before it serves any: the field named */
    is_int(kiln_store_update_client_check("os", "bad+track", "m1", "1.0", &err), -EINVAL, L("a track with '+'"));
    has(err, "track: want a channel", L("names track"));
    is_int(kiln_store_update_client_check("os", "stable", "m1", "1.0", &err), 0, L("a good app passes"));
    atomic_fetch_add(&fake_now, 1000);
    is_int(kiln_store_update_check(st, "os", "stable", "m1", "1.1", &v, 1, &d, &err), 0, L("a known machine still checks in"));
    /* a week on, m1 and m2 are stale (m0 holds a grant): the newcomer takes the row of the
     * one seen longest ago, m2 */
    atomic_fetch_add(&fake_now, KILN_STORE_MACHINE_STALE_MS + 1000);
    is_int(kiln_store_update_check(st, "os", "stable", "m9", "1.1", &v, 1, &d, &err), 0, L("with stale machines, a new one is taken"));
    is_int(raw_long("SELECT COUNT(*) FROM machines"), 3, L("in the row of one"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE machine_id = 'm2'"), 0, L("the stale machine seen longest ago (m2)"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE machine_id = 'm0'"), 1, L("not the one holding a grant"));
    is_int(kiln_store_machine_group(st, "os", "m1", "canary", &err), 0, L("m1 put in a group"));
    is_int(kiln_store_update_check(st, "os", "stable", "m8", "1.1", &v, 1, &d, &err), -EUSERS,
           L("no stale machine without a group or grant left: refused"));
    /* m0 was granted 1.1 while running 1.0; it comes back running a forged 6.6 */
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE grant_version IS NOT NULL"), 1, L("one grant in flight (m0)"));
    is_int(kiln_store_update_check(st, "os", "stable", "m0", "6.6", &v, 1, &d, &err), 0, L("m0 checks in running 6.6"));
    _cleanup_free_ char *state = raw("SELECT state FROM machines WHERE machine_id = 'm0'");
    is_str(state, "failed", L("its grant of 1.1 failed"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE grant_version IS NOT NULL AND machine_id = 'm0'"), d.verdict == ROLLOUT_OFFER,
           L("and was released (any grant now is the new offer's)"));
    /* an error event ends a grant at once */
    struct rollout_version v2 = {.version = "1.2", .support_end_ms = INT64_MAX};
    snprintf(ro.p.target, sizeof ro.p.target, "1.2");
    is_int(kiln_store_rollout_set(st, &ro, &err), 0, L("target 1.2"));
    is_int(kiln_store_update_check(st, "os", "stable", "m9", "1.1", &v2, 1, &d, &err), 0, L("m9 checks"));
    is_int(d.verdict, ROLLOUT_OFFER, L("and is offered 1.2"));
    struct omaha_event ev = {.type = OMAHA_EVENT_UPDATE_COMPLETE, .result = OMAHA_RESULT_ERROR, .errorcode = 7, .has_errorcode = true};
    is_int(kiln_store_update_event(st, "os", "stable", "m9", "1.1", &ev, NULL, &err), 0, L("m9 reports an error"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE grant_version IS NOT NULL AND machine_id = 'm9'"), 0, L("its grant released"));
    /* an event from a machine already on another version than granted releases it too */
    is_int(kiln_store_update_check(st, "os", "stable", "m9", "1.1", &v2, 1, &d, &err), 0, L("m9 checks again"));
    struct omaha_event dl = {.type = OMAHA_EVENT_DOWNLOAD_STARTED, .result = OMAHA_RESULT_SUCCESS};
    is_int(kiln_store_update_event(st, "os", "stable", "m9", "7.7", &dl, NULL, &err), 0, L("m9 reports from 7.7"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE grant_version IS NOT NULL AND machine_id = 'm9'"), 0, L("that grant released"));
    _cleanup_free_ char *ev_target = raw("SELECT target FROM update_events WHERE machine_id = 'm9' ORDER BY id DESC LIMIT 1");
    is_str(ev_target, "1.2", L("the event is still recorded against the grant it strayed from"));
    is_int(kiln_store_update_prune(st, &err), 0, L("prune runs"));
    free(err);
    kiln_store_close(st);
}

/* A request's events of one machine are one transaction: the second failing (a trigger here,
 * as a full disk or a lost connection would) leaves nothing of the first, so the client's
 * resend of both counts each once; without the failure both are written. */
static void test_update_events_atomic(void)
{
    fresh_db();
    struct kiln_store *st = open_db(&fake_opts);
    if (!ok(st != NULL, "%s", L("open"))) return;
    char *err = NULL;
    struct kiln_rollout ro = {.p = {.enabled = true, .permyriad = 10000, .period_ms = 3600000, .pause_after_failures = 1}};
    snprintf(ro.name, sizeof ro.name, "os");
    snprintf(ro.channel, sizeof ro.channel, "stable");
    snprintf(ro.p.target, sizeof ro.p.target, "1.1");
    is_int(kiln_store_rollout_set(st, &ro, &err), 0, L("rollout os stable 1.1"));
    struct rollout_version v = {.version = "1.1", .support_end_ms = INT64_MAX};
    struct rollout_decision d;
    is_int(kiln_store_update_check(st, "os", "stable", "m1", "1.0", &v, 1, &d, &err), 0, L("m1 checks in on 1.0"));
    is_int(d.verdict, ROLLOUT_OFFER, L("and is granted 1.1"));
    const struct omaha_event ev[2] = {{.type = OMAHA_EVENT_DOWNLOAD_STARTED, .result = OMAHA_RESULT_SUCCESS},
                                      {.type = OMAHA_EVENT_UPDATE_COMPLETE, .result = OMAHA_RESULT_ERROR}};
    char mk[512];
    if (streq(backend, "sqlite"))
        snprintf(mk, sizeof mk, "CREATE TRIGGER boom BEFORE INSERT ON update_events WHEN NEW.type = %d BEGIN SELECT RAISE(ABORT, 'boom'); END",
                 OMAHA_EVENT_UPDATE_COMPLETE);
    else
        snprintf(mk, sizeof mk, "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.type = %d THEN RAISE EXCEPTION 'boom'; END IF;"
                 " RETURN NEW; END $$ LANGUAGE plpgsql; CREATE TRIGGER boom BEFORE INSERT ON update_events FOR EACH ROW EXECUTE FUNCTION boom()",
                 OMAHA_EVENT_UPDATE_COMPLETE);
    free(raw(mk));
    bool paused = true;
    ok(kiln_store_update_events(st, "os", "stable", "m1", "1.0", ev, 2, &paused, &err) < 0, "%s", L("the second event fails"));
    has(err, "boom", L("with the database's words"));
    is_int(raw_long("SELECT COUNT(*) FROM update_events"), 0, L("and the first is not written either"));
    _cleanup_free_ char *st1 = raw("SELECT COALESCE(state, '') || '/' || COALESCE(grant_version, '') FROM machines WHERE machine_id = 'm1'");
    ok(st1 && !strstr(st1, "downloading") && strstr(st1, "/1.1"), "%s: the machine's state and grant as before: %s", backend, st1 ? st1 : "");
    ok(!paused, "%s", L("nothing paused"));
    is_int(raw_long("SELECT paused FROM rollouts"), 0, L("the rollout not paused"));
    free(raw(streq(backend, "sqlite") ? "DROP TRIGGER boom" : "DROP TRIGGER boom ON update_events"));
    free(err), err = NULL;
    is_int(kiln_store_update_events(st, "os", "stable", "m1", "1.0", ev, 2, &paused, &err), 0, L("sent again, both are taken"));
    is_int(raw_long("SELECT COUNT(*) FROM update_events"), 2, L("each once"));
    _cleanup_free_ char *st2 = raw("SELECT state FROM machines WHERE machine_id = 'm1'");
    is_str(st2, "failed", L("the machine ends failed"));
    is_int(raw_long("SELECT COUNT(*) FROM machines WHERE grant_version IS NOT NULL"), 0, L("its grant released"));
    ok(paused, "%s", L("the failure of the target paused the rollout (pause_after_failures 1)"));
    is_int(raw_long("SELECT paused FROM rollouts"), 1, L("as the table says"));
    free(err);
    kiln_store_close(st);
}

/* Failures that pass with time are told apart from faults (kiln serve answers them 503 with
 * Retry-After, the others 500): SQLite locked past the busy timeout by another writer; a
 * PostgreSQL connection lost under the handle, which then says it is no longer alive (the
 * server's pool closes it instead of handing it out again). */
static void test_transient(void)
{
    fresh_db();
    const struct kiln_store_opts o = {.now_ms = fake_clock, .busy_timeout_ms = 300};
    struct kiln_store *st = open_db(&o);
    if (!ok(st != NULL, "%s", L("open"))) return;
    char *err = NULL;
    char tok[KILN_TOKEN_LEN + 1];
    is_int(kiln_store_tenant_add(st, "acme", 1, false, tok, NULL, &err), 0, L("a write"));
    ok(kiln_store_alive(st), "%s", L("the handle is alive"));
    int rc;
    if (streq(backend, "sqlite")) {
        sqlite3 *db = NULL;
        ok(sqlite3_open(url + 7, &db) == SQLITE_OK && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, "%s",
           L("another connection holds the write lock"));
        rc = kiln_store_tenant_add(st, "beta", 1, false, tok, NULL, &err);
        is_int(rc, -EBUSY, L("a write past the busy timeout is -EBUSY"));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        ok(kiln_store_alive(st), "%s", L("the handle stays alive"));
    } else {
        free(raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"));
        rc = kiln_store_tenant_add(st, "beta", 1, false, tok, NULL, &err);
        is_int(rc, -ECONNRESET, L("a query on a connection the server ended is -ECONNRESET"));
        ok(!kiln_store_alive(st), "%s", L("and the handle says it is no longer alive"));
    }
    ok(kiln_store_transient(rc), "%s", L("a failure that passes with time"));
    ok(!kiln_store_transient(-EIO) && !kiln_store_transient(-ENOSPC) && !kiln_store_transient(-EINVAL), "%s",
       L("-EIO, -ENOSPC and -EINVAL are not"));
    kiln_store_close(st);
    free(err), err = NULL;
    st = open_db(&o);
    ok(st && kiln_store_tenant_add(st, "beta", 1, false, tok, NULL, &err) == 0, "%s", L("a new handle writes again"));
    free(err);
    kiln_store_close(st);
}

/* Every verb but kiln serve opens with opts.existing: nothing is created, migrated or
 * written; a database without kiln's schema, or with an older one, is refused. */
static void test_existing(void)
{
    fresh_db();
    const struct kiln_store_opts ex = {.existing = true, .now_ms = fake_clock};
    struct kiln_store *st = NULL;
    _cleanup_free_ char *err = NULL;
    is_int(kiln_store_open(url, &ex, &st, &err), -ENOENT, L("existing: a database that is not there is refused"));
    ok(st == NULL, "%s", L("no handle for it"));
    if (streq(backend, "sqlite")) ok(access(url + 7, F_OK) < 0, "%s", L("and no file was created"));
    else is_int(raw_long("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"), 0,
                L("and no table was created"));
    /* a database holding another program's tables */
    _cleanup_free_ char *mk = raw("CREATE TABLE notes (t TEXT)");
    free(err);
    err = NULL;
    is_int(kiln_store_open(url, &ex, &st, &err), -ENOENT, L("existing: another program's database is refused"));
    has(err, "holds no kiln schema", L("saying it holds no kiln schema"));
    is_int(raw_long("SELECT COUNT(*) FROM notes"), 0, L("its table left alone"));
    if (streq(backend, "sqlite")) {
        _cleanup_free_ char *jm = raw("PRAGMA journal_mode");
        is_str(jm, "delete", L("and not turned to WAL"));
    }
    /* made by kiln serve, then opened as the other verbs open it */
    st = open_db(&fake_opts);
    ok(st != NULL, "%s", L("kiln serve's open creates the schema"));
    kiln_store_close(st);
    st = open_db(&ex);
    ok(st != NULL, "%s", L("existing: kiln's database opens"));
    char tok[KILN_TOKEN_LEN + 1];
    ok(st && kiln_store_tenant_add(st, "acme", 1, false, tok, NULL, NULL) == 0, "%s", L("and takes writes"));
    kiln_store_close(st);
    /* an older schema is not migrated by a verb that only wanted to read or add a row */
    _cleanup_free_ char *del = raw("DELETE FROM schema_version WHERE version = (SELECT MAX(version) FROM schema_version)");
    long before = raw_long("SELECT COUNT(*) FROM schema_version");
    free(err);
    err = NULL;
    st = NULL;
    is_int(kiln_store_open(url, &ex, &st, &err), -EPROTO, L("existing: an older schema is refused"));
    has(err, "older than this kiln's", L("saying so"));
    has(err, "kiln serve --init", L("and what upgrades it"));
    is_int(raw_long("SELECT COUNT(*) FROM schema_version"), before, L("nothing migrated"));
}

static void run_all(void)
{
    test_existing();
    test_migrations();
    test_tokens();
    test_transitions();
    test_isolation();
    test_quota();
    test_capabilities();
    test_lapse();
    test_leases_restart();
    test_concurrent_claims(false);
    test_concurrent_claims(true);
    test_concurrent_quota();
    test_publish();
    test_update_names();
    test_update_bounds();
    test_update_events_atomic();
    test_transient();
}

static void free_sqlite_schema(void)
{
    free(sqlite_schema);
}

static bool skip_allowed(void)
{
    const char *s = getenv("KILN_ALLOW_SKIP");
    return s && (strstr(s, "test_store") || strstr(s, "store_pg"));
}

int main(void)
{
    _cleanup_free_ char *err = NULL;
    struct kiln_store *st = NULL;
    is_int(kiln_store_open("mysql://x", NULL, &st, &err), -EINVAL, "an unknown backend refused");
    has(err, "sqlite:PATH or a postgresql:// URI", "it says what works");
    is_int(kiln_store_open("postgresx://kiln:hunter2@db/kiln", NULL, &st, &err), -EINVAL, "a misspelt scheme refused");
    ok(err && !strstr(err, "hunter2"), "the refusal does not repeat the URI's password: %s", err ? err : "");
    is_int(kiln_store_open("postgresql://u:hunter2@nowhere.invalid/kiln?connect_timeout=1&host=/nonexistent", NULL, &st, &err),
           -ECONNREFUSED, "an unreachable PostgreSQL refused");
    ok(err && !strstr(err, "hunter2"), "the connection error does not repeat the URI's password: %s", err ? err : "");

    if (!mkdtemp(sqlite_dir)) return ok(false, "mkdtemp"), tap_done();
    backend = "sqlite";
    is_int(kiln_store_open("sqlite:/nonexistent/dir/kiln.db", NULL, &st, &err), -ENOENT, "sqlite: a missing directory refused");
    run_all();
    rm_rf(sqlite_dir);
    atexit(free_sqlite_schema);

    backend = "postgresql";
    if (!mkdtemp(pg_dir)) return ok(false, "mkdtemp"), tap_done();
    atexit(pg_stop);
    _cleanup_free_ char *out = NULL;
    int rc = pg_start(&out);
    strstrip(out);
    if (rc == 0) {
        pg_started = true;
        snprintf(pg_admin, sizeof(pg_admin), "postgresql:///postgres?host=%s&user=kiln", pg_dir);
        run_all();
        pg_stop();
    } else {
        rm_rf(pg_dir);
        if (rc == 2 && skip_allowed()) ok(true, "# SKIP no PostgreSQL server (allowed by KILN_ALLOW_SKIP): %s", out);
        else ok(false, "PostgreSQL test server started (tests/lib/pg.sh exit %d): %s", rc, out);
    }
    return tap_done();
}
