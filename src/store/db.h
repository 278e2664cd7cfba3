/* db: the storage driver contract. One interface, two backends (SQLite, PostgreSQL).
 *
 * All SQL in planebridge lives under src/store/. It is written once, in the PostgreSQL
 * dialect subset both engines share, with these conventions the SQLite driver translates:
 *   - parameters are $1..$N (SQLite: ?1..?N);
 *   - tables are schema-qualified `work_plane.x` / `ops.x` (SQLite: `work_plane_x` / `ops_x`,
 *     one file so that one transaction covers both "schemas" — ATTACHed databases in WAL
 *     mode are not atomic across files);
 *   - booleans are INTEGER 0/1, timestamps are BIGINT microseconds since the epoch (UTC),
 *     ids are TEXT UUIDs, JSON is TEXT (jsonb on PostgreSQL, passed and read as text).
 * Backend-specific SQL (upsert quirks, SKIP LOCKED, advisory locks) goes through
 * pb_db_backend() checks inside store modules only.
 *
 * Threading: a pb_db is a thread-safe pool. A pb_conn is used by one thread at a time,
 * between pb_db_acquire() and pb_db_release(). Statements are prepared once per connection
 * and cached by SQL text.
 *
 * Ownership: pb_rows belongs to the caller until pb_rows_free(); column pointers returned by
 * pb_rows_text()/pb_rows_blob() are valid until the next pb_rows_next() or pb_rows_free(). */
#ifndef PB_STORE_DB_H
#define PB_STORE_DB_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_db pb_db;
typedef struct pb_conn pb_conn;
typedef struct pb_rows pb_rows;

typedef enum { PB_DB_SQLITE = 1, PB_DB_POSTGRES = 2 } pb_db_kind;

typedef enum { PB_V_NULL = 0, PB_V_INT, PB_V_REAL, PB_V_TEXT, PB_V_BLOB } pb_val_type;

typedef struct pb_val {
    pb_val_type type;
    int64_t i;
    double d;
    const char *s; /* TEXT (NUL-terminated unless len set) or BLOB bytes; borrowed */
    size_t len;    /* BLOB length; TEXT length or 0 for strlen */
} pb_val;

#define PB_NULL ((pb_val){PB_V_NULL, 0, 0, NULL, 0})
#define PB_INT(x) ((pb_val){PB_V_INT, (int64_t)(x), 0, NULL, 0})
#define PB_REAL(x) ((pb_val){PB_V_REAL, 0, (double)(x), NULL, 0})
/* A function, not `(x) ? ...`, so PB_TEXT(char_array) does not trip -Waddress. */
static inline pb_val_type pb_val_text_type(const char *s)
{
    return s ? PB_V_TEXT : PB_V_NULL;
}
#define PB_TEXT(x) ((pb_val){pb_val_text_type(x), 0, 0, (x), 0})
#define PB_TEXTN(x, n) ((pb_val){PB_V_TEXT, 0, 0, (x), (n)})
#define PB_BLOB(x, n) ((pb_val){PB_V_BLOB, 0, 0, (const char *)(x), (n)})

typedef struct pb_db_options {
    int pool_size;          /* connections in the pool; 0 = default (8) */
    int busy_timeout_ms;    /* SQLite busy timeout / PostgreSQL lock wait; 0 = 5000 */
    int sqlite_synchronous; /* 2 = FULL (default, durable), 1 = NORMAL */
} pb_db_options;

/* Opens a store from a URL: "sqlite:PATH" (also "sqlite::memory:") or "postgres://..." /
 * "postgresql://...". Does not migrate. *out is owned by the caller (pb_db_free). */
int pb_db_open(const char *url, const pb_db_options *opt, pb_db **out, pb_error *err);
void pb_db_free(pb_db *db); /* NULL-safe; waits for nothing: release every conn first */
pb_db_kind pb_db_backend(const pb_db *db);
const char *pb_db_backend_name(const pb_db *db); /* "sqlite" | "postgres" */
/* Version string of the linked client library (sqlite3_libversion / PQlibVersion). */
const char *pb_db_library_version(pb_db_kind kind);
/* Server version ("3.40.1" / "15.18"), into buf. */
int pb_db_server_version(pb_db *db, char *buf, size_t n, pb_error *err);

/* Applies every embedded migration newer than the store's version, each in its own
 * transaction, recording it in ops.schema_migrations. Safe to call concurrently from
 * several processes (PostgreSQL: advisory lock; SQLite: write lock). */
int pb_db_migrate(pb_db *db, pb_error *err);
/* Highest applied migration version (0 for an empty store). */
int pb_db_schema_version(pb_db *db, int *version, pb_error *err);
/* Cheap liveness check (SELECT 1), for /readyz and doctor. */
int pb_db_ping(pb_db *db, pb_error *err);

/* Takes a connection from the pool, waiting up to the busy timeout (PB_EBUSY after). */
int pb_db_acquire(pb_db *db, pb_conn **out, pb_error *err);
/* Returns it. A connection left inside a transaction is rolled back first. NULL-safe. */
void pb_db_release(pb_db *db, pb_conn *c);
pb_db *pb_conn_db(pb_conn *c);

/* Transactions. pb_conn_begin_write() takes the write lock up front on SQLite
 * (BEGIN IMMEDIATE) so read-then-write sequences cannot deadlock; on PostgreSQL it is BEGIN. */
int pb_conn_begin(pb_conn *c, pb_error *err);
int pb_conn_begin_write(pb_conn *c, pb_error *err);
int pb_conn_commit(pb_conn *c, pb_error *err);
int pb_conn_rollback(pb_conn *c); /* never fails loudly; safe outside a transaction */

/* Executes a statement. *changes (optional) receives the affected row count.
 * Unique-constraint violations return PB_ECONFLICT; everything else PB_ESTORE. */
int pb_conn_exec(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *changes,
                 pb_error *err);
/* Runs a query; iterate with pb_rows_next(). */
int pb_conn_query(pb_conn *c, const char *sql, const pb_val *params, int nparams, pb_rows **out,
                  pb_error *err);
/* Convenience: first column of the first row as integer / text copy (malloc'd, caller frees).
 * PB_ENOTFOUND when there is no row. */
int pb_conn_query_int(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *out,
                      pb_error *err);
int pb_conn_query_text(pb_conn *c, const char *sql, const pb_val *params, int nparams, char **out,
                       pb_error *err);
/* Runs a script of several ';'-separated statements without parameters (migrations). */
int pb_conn_exec_script(pb_conn *c, const char *sql, pb_error *err);

/* 1 = a row is available, 0 = done, <0 = error. */
int pb_rows_next(pb_rows *r);
int pb_rows_ncols(pb_rows *r);
int pb_rows_isnull(pb_rows *r, int col);
int64_t pb_rows_int(pb_rows *r, int col);
double pb_rows_real(pb_rows *r, int col);
const char *pb_rows_text(pb_rows *r, int col); /* never NULL: "" for NULL */
const void *pb_rows_blob(pb_rows *r, int col, size_t *len);
void pb_rows_free(pb_rows *r); /* NULL-safe */

#endif
