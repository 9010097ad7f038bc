/* The vtable a store backend fills (store_sqlite.c, store_pg.c); only store.c calls it.
 *
 * SQL reaching a driver is already in its dialect: store.c writes every statement once with
 * $1..$N parameters and two markers it expands per driver:
 *   {ID}          the auto-numbered primary key column type (id_column)
 *   {LOCK:text}   text where the database has row locks (PostgreSQL: "FOR UPDATE ..."),
 *                 nothing where a write transaction already excludes every other writer
 *                 (SQLite's BEGIN IMMEDIATE) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_store_opts;

enum sql_type { SQL_NULL, SQL_TEXT, SQL_INT };
struct sql_param {
    enum sql_type type;
    const char *s;
    int64_t i;
};

/* A result: nrows x ncols cells as text (integers in decimal), NULL for SQL NULL. */
struct sql_rows {
    size_t nrows, ncols;
    char **cells;
    size_t cap; /* cells allocated */
};

struct kiln_store_driver {
    const char *name;
    const char *id_column;
    bool row_locks;
    const char *begin_sql;    /* opens a write transaction */
    const char *migrate_lock; /* first statement of the migration transaction, or NULL */
    /* one row, one cell: how many tables named $1 the database has (read only) */
    const char *table_count_sql;
    /* target: what followed the scheme ("sqlite:PATH" -> PATH; a PostgreSQL URI whole).
     * With o->existing nothing is created or written: -ENOENT when there is no database. */
    int (*connect)(const char *target, const struct kiln_store_opts *o, void **conn, char **reterr);
    void (*disconnect)(void *conn);
    /* Whether the connection still reaches the database (NULL: always, as a file does). A
     * PostgreSQL connection lost to a restart or a network cut stays lost: libpq does not
     * reconnect on its own. */
    bool (*alive)(void *conn);
    /* Several statements, no parameters, no result. */
    int (*exec)(void *conn, const char *sql, char **reterr);
    /* One statement; rows (may be NULL) gets its result. Errors: -EEXIST (a unique key),
     * -EAGAIN (serialisation failure or deadlock: retry the transaction), -EBUSY, -EIO. */
    int (*query)(void *conn, const char *sql, const struct sql_param *p, size_t np, struct sql_rows *rows, char **reterr);
};

extern const struct kiln_store_driver kiln_store_sqlite;
extern const struct kiln_store_driver kiln_store_pg;

void sql_rows_free(struct sql_rows *r);
/* Appends one row of ncols cells (copied; NULL stays NULL). */
void sql_rows_add(struct sql_rows *r, const char *const *cells);
/* Sets *reterr to the formatted message (replacing one there) and returns rc. */
int store_fail(char **reterr, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
