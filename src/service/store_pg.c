/* The PostgreSQL backend, through libpq: parameters travel apart from the SQL text (typed
 * int8/text), results come back as text. Transactions run at READ COMMITTED; claims and
 * other read-then-write steps take row locks (the {LOCK:...} text store.c writes). */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>

#include "service/store.h"
#include "service/store_driver.h"
#include "util/util.h"

/* pg_type OIDs (src/include/catalog/pg_type.dat): the types the parameters are sent as. */
#define INT8OID 20
#define TEXTOID 25

/* libpq's default prints NOTICEs (e.g. "relation already exists, skipping") on stderr;
 * library code never prints. */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* libpq's messages end with a newline and may span lines: the first line is the point. */
static char *first_line(const char *msg)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    return xstrndup(msg ? msg : "", n);
}

static int pg_connect(const char *target, const struct kiln_store_opts *o, void **conn, char **reterr)
{
    (void)o;
    PGconn *c = PQconnectdb(target);
    if (!c) return store_fail(reterr, -ENOMEM, "PostgreSQL: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        /* the URI may hold a password: the message names the failure, never the URI */
        _cleanup_free_ char *m = first_line(PQerrorMessage(c));
        PQfinish(c);
        return store_fail(reterr, -ECONNREFUSED, "cannot connect to PostgreSQL: %s (check the --db URI and that the server runs)", m);
    }
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    *conn = c;
    return 0;
}

static void pg_disconnect(void *conn)
{
    PQfinish(conn);
}

static bool pg_alive(void *conn)
{
    return PQstatus(conn) == CONNECTION_OK;
}

static int pg_result_fail(PGconn *c, PGresult *res, char **reterr)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int rc = -EIO;
    if (PQstatus(c) != CONNECTION_OK) rc = -ECONNRESET;
    else if (state && streq(state, "23505")) rc = -EEXIST;               /* unique_violation */
    else if (state && (streq(state, "40001") || streq(state, "40P01"))) rc = -EAGAIN; /* serialisation, deadlock */
    else if (state && startswith(state, "23")) rc = -EINVAL;             /* other integrity constraints */
    _cleanup_free_ char *m = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    return store_fail(reterr, rc, "PostgreSQL: %s", m);
}

static int pg_exec(void *conn, const char *sql, char **reterr)
{
    PGresult *res = PQexec(conn, sql);
    int r = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        r = pg_result_fail(conn, res, reterr);
    PQclear(res);
    return r;
}

static int pg_query(void *conn, const char *sql, const struct sql_param *p, size_t np, struct sql_rows *rows,
                    char **reterr)
{
    Oid *types = xcalloc(np + 1, sizeof(*types));
    const char **values = xcalloc(np + 1, sizeof(*values));
    char (*ints)[24] = xcalloc(np + 1, sizeof(*ints));
    for (size_t i = 0; i < np; i++) {
        switch (p[i].type) {
        case SQL_NULL: types[i] = 0; values[i] = NULL; break; /* the type comes from context */
        case SQL_TEXT: types[i] = TEXTOID; values[i] = p[i].s; break;
        case SQL_INT:
            types[i] = INT8OID;
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)p[i].i);
            values[i] = ints[i];
            break;
        }
    }
    PGresult *res = PQexecParams(conn, sql, (int)np, types, values, NULL, NULL, 0);
    free(types);
    free(values);
    free(ints);
    ExecStatusType st = PQresultStatus(res);
    int r = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) r = pg_result_fail(conn, res, reterr);
    else if (rows) {
        int nr = PQntuples(res), nc = PQnfields(res);
        *rows = (struct sql_rows){.ncols = (size_t)nc};
        const char **cells = xcalloc((size_t)nc + 1, sizeof(*cells));
        for (int i = 0; i < nr; i++) {
            for (int c = 0; c < nc; c++) cells[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
            sql_rows_add(rows, cells);
        }
        free(cells);
    }
    PQclear(res);
    return r;
}

const struct kiln_store_driver kiln_store_pg = {
    .name = "postgresql",
    .id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    .row_locks = true,
    .begin_sql = "BEGIN",
    /* Servers starting together migrate one after the other (any constant key: "kiln"). */
    .migrate_lock = "SELECT pg_advisory_xact_lock(1802071150)",
    .table_count_sql = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
    .connect = pg_connect,
    .alive = pg_alive,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .query = pg_query,
};
