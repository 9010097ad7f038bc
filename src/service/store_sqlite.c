/* The SQLite backend: one database file, WAL (readers never wait for the writer), every
 * write transaction BEGIN IMMEDIATE so writers queue on the busy timeout instead of failing
 * when a read turns into a write. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

#include "service/store.h"
#include "service/store_driver.h"
#include "util/util.h"

static int sqlite_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_CONSTRAINT: return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ? -EEXIST : -EINVAL;
    case SQLITE_CANTOPEN: return -ENOENT;
    case SQLITE_READONLY: return -EROFS;
    case SQLITE_FULL: return -ENOSPC;
    default: return -EIO;
    }
}

static int sqlite_fail(sqlite3 *db, int rc, char **reterr, const char *what)
{
    return store_fail(reterr, sqlite_rc(rc), "SQLite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int sqlite_exec(void *conn, const char *sql, char **reterr)
{
    sqlite3 *db = conn;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_fail(db, rc, reterr, "statement failed");
}

static int sqlite_connect(const char *path, const struct kiln_store_opts *o, void **conn, char **reterr)
{
    /* The database holds tenants' jobs: create it private before SQLite opens it (its -wal
     * and -shm files take the same mode). Only when it is missing: closing any descriptor of
     * the file drops every POSIX lock this process holds on it, the locks of this process's
     * other connections included, and another process (kiln tenant add beside kiln serve)
     * would then checkpoint and delete the WAL under them. */
    static pthread_mutex_t creating = PTHREAD_MUTEX_INITIALIZER;
    /* held from the check to the close, so no thread of this process opens the file and
     * takes locks in between */
    struct stat st;
    if (o->existing && stat(path, &st) < 0)
        return store_fail(reterr, errno == ENOENT ? -ENOENT : -errno, "no database file %s: %s", path, strerror(errno));
    pthread_mutex_lock(&creating);
    int fd = -1, e = 0;
    if (!o->existing && stat(path, &st) < 0) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        e = fd < 0 && errno != EEXIST ? errno : 0;
        if (fd >= 0) close(fd);
    }
    pthread_mutex_unlock(&creating);
    if (e) return store_fail(reterr, -e, "cannot create the database %s: %s", path, strerror(e));
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int r = store_fail(reterr, sqlite_rc(rc), "cannot open the database %s: %s", path,
                           db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return r;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, o->busy_timeout_ms);
    /* synchronous=NORMAL is durable across crashes of kiln in WAL mode and loses at most the
     * last commits on power loss, which the lease sweep repairs. */
    /* Turning a new database to WAL needs it alone; SQLite answers "locked" at once, without
     * its busy handler, while another connection (a second server starting) does the same:
     * try again within the busy timeout. */
    int r = 0;
    /* kiln's databases are WAL already (the setting is kept in the file); another file is
     * refused by the schema check without being turned into one */
    for (int waited = 0; !o->existing; waited += 20) {
        int wrc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (wrc == SQLITE_OK) break;
        if ((wrc & 0xff) != SQLITE_BUSY && (wrc & 0xff) != SQLITE_LOCKED) {
            r = sqlite_fail(db, wrc, reterr, "cannot turn on WAL");
            break;
        }
        if (waited >= o->busy_timeout_ms) {
            r = sqlite_fail(db, wrc, reterr, "cannot turn on WAL");
            break;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (r == 0) r = sqlite_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", reterr);
    if (r < 0) {
        sqlite3_close(db);
        return r;
    }
    *conn = db;
    return 0;
}

static void sqlite_disconnect(void *conn)
{
    sqlite3_close(conn);
}

static int sqlite_query(void *conn, const char *sql, const struct sql_param *p, size_t np, struct sql_rows *rows,
                        char **reterr)
{
    sqlite3 *db = conn;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) return sqlite_fail(db, rc, reterr, "cannot prepare a statement");
    for (size_t i = 0; i < np && rc == SQLITE_OK; i++) {
        char name[24];
        snprintf(name, sizeof(name), "$%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(stmt, name);
        if (!idx) continue; /* a statement need not use every parameter */
        switch (p[i].type) {
        case SQL_NULL: rc = sqlite3_bind_null(stmt, idx); break;
        case SQL_INT: rc = sqlite3_bind_int64(stmt, idx, p[i].i); break;
        case SQL_TEXT: rc = sqlite3_bind_text(stmt, idx, p[i].s, -1, SQLITE_STATIC); break;
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return sqlite_fail(db, rc, reterr, "cannot bind a parameter");
    }
    int ncols = sqlite3_column_count(stmt);
    if (rows) *rows = (struct sql_rows){.ncols = (size_t)ncols};
    const char **cells = xcalloc((size_t)ncols + 1, sizeof(*cells));
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!rows) continue;
        for (int c = 0; c < ncols; c++) cells[c] = (const char *)sqlite3_column_text(stmt, c);
        sql_rows_add(rows, cells);
    }
    free(cells);
    int r = rc == SQLITE_DONE ? 0 : sqlite_fail(db, rc, reterr, "statement failed");
    sqlite3_finalize(stmt);
    if (r < 0 && rows) sql_rows_free(rows);
    return r;
}

const struct kiln_store_driver kiln_store_sqlite = {
    .name = "sqlite",
    .id_column = "INTEGER PRIMARY KEY",
    .row_locks = false,
    .begin_sql = "BEGIN IMMEDIATE",
    .migrate_lock = NULL,
    .table_count_sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .exec = sqlite_exec,
    .query = sqlite_query,
};
