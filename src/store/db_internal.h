/* db_internal: what db.c shares with the two backends (db_sqlite.c, db_pg.c). Private to
 * src/store/ (and the store tests).
 *
 * db.c owns URL dispatch, the connection pool, migrations, transactions bookkeeping and the
 * convenience helpers; a backend fills one pb_db_driver with designated initializers and
 * never touches the pool. A backend's pb_rows embeds `struct pb_rows` as its first member so
 * db.c can dispatch pb_rows_* through r->drv. */
#ifndef PB_STORE_DB_INTERNAL_H
#define PB_STORE_DB_INTERNAL_H

#include "store/db.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Per-connection prepared-statement cache keyed by the SQL text as the caller wrote it
 * (so translation happens once per statement per connection). Open addressing, no removal:
 * application SQL is a fixed set of string constants, so the cache only fills up when
 * callers build SQL dynamically; past PB_STMT_CACHE_MAX entries statements are simply not
 * cached (prepared, used once, discarded). */
#define PB_STMT_CACHE_MAX 1024
#define PB_LIVE_ROWS_MAX 16

typedef struct pb_stmt_entry {
    char *sql;     /* owned copy of the key */
    uint64_t hash;
    void *stmt;    /* sqlite3_stmt* / malloc'd PostgreSQL statement name */
} pb_stmt_entry;

typedef struct pb_stmt_cache {
    pb_stmt_entry *e;
    size_t cap; /* power of two, 0 before first insert */
    size_t n;
} pb_stmt_cache;

void *pb_stmt_cache_get(const pb_stmt_cache *sc, const char *sql);
/* 1 when no further statement can be cached. */
int pb_stmt_cache_full(const pb_stmt_cache *sc);
/* Adds sql -> stmt (the key is copied). PB_ETOOBIG when full, PB_ENOMEM. */
int pb_stmt_cache_put(pb_stmt_cache *sc, const char *sql, void *stmt);
/* Drops every entry, calling fn(ctx, stmt) on each; the cache stays usable. */
void pb_stmt_cache_clear(pb_stmt_cache *sc, void (*fn)(void *ctx, void *stmt), void *ctx);

struct pb_conn {
    pb_db *db;
    void *h;              /* sqlite3* / PGconn*; NULL until first use (lazy open) */
    pb_stmt_cache cache;
    unsigned stmt_seq;    /* PostgreSQL: next prepared statement name */
    int pooled;           /* 1 while sitting in the free list */
    /* SQLite: cached statements currently held by an open pb_rows. Such a statement may
     * not be handed to another query (sqlite3_stmt_busy() is false before the first step
     * and after SQLITE_DONE, so it cannot tell). */
    void *live[PB_LIVE_ROWS_MAX];
    int nlive;
};

struct pb_rows {
    const struct pb_db_driver *drv;
};

typedef struct pb_db_driver {
    const char *name;
    pb_db_kind kind;
    /* A query returning one integer: 1 when ops.schema_migrations exists. */
    const char *sql_has_migrations_table;
    /* DDL creating ops.schema_migrations (and its schema) if missing. */
    const char *sql_create_migrations_table;

    /* Parses the part of the URL the driver needs into db (db->target, db->secret...). */
    int (*db_init)(pb_db *db, const char *url, pb_error *err);
    int (*conn_open)(pb_conn *c, pb_error *err);
    void (*conn_close)(pb_conn *c);
    /* Called on every acquire: repairs a broken connection (PostgreSQL: PQreset). */
    int (*conn_check)(pb_conn *c, pb_error *err);

    int (*begin)(pb_conn *c, int write, pb_error *err);
    int (*commit)(pb_conn *c, pb_error *err);
    int (*rollback)(pb_conn *c);
    int (*in_tx)(pb_conn *c);

    int (*exec)(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *changes,
                pb_error *err);
    int (*query)(pb_conn *c, const char *sql, const pb_val *params, int nparams, pb_rows **out,
                 pb_error *err);
    int (*exec_script)(pb_conn *c, const char *sql, pb_error *err);

    /* Serialises migrations across processes (no-op where BEGIN IMMEDIATE suffices). */
    int (*migrate_lock)(pb_conn *c, pb_error *err);
    void (*migrate_unlock)(pb_conn *c);
    int (*server_version)(pb_conn *c, char *buf, size_t n, pb_error *err);

    int (*rows_next)(pb_rows *r);
    int (*rows_ncols)(pb_rows *r);
    int (*rows_isnull)(pb_rows *r, int col);
    int64_t (*rows_int)(pb_rows *r, int col);
    double (*rows_real)(pb_rows *r, int col);
    const char *(*rows_text)(pb_rows *r, int col);
    const void *(*rows_blob)(pb_rows *r, int col, size_t *len);
    void (*rows_free)(pb_rows *r);
} pb_db_driver;

struct pb_db {
    const pb_db_driver *drv;
    pb_db_options opt;    /* with defaults filled in */
    char *target;         /* SQLite path / PostgreSQL URL (owned) */
    char *secret;         /* PostgreSQL password, for redacting driver messages (owned) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pb_conn *conns;       /* opt.pool_size entries */
    pb_conn **freelist;   /* stack of idle connections */
    int nfree;
};

extern const pb_db_driver pb_driver_sqlite;
extern const pb_db_driver pb_driver_pg;

const char *pb_sqlite_library_version(void);
const char *pb_pg_library_version(void);

/* Rewrites planebridge SQL (PostgreSQL dialect) for SQLite: $N -> ?N, "work_plane." ->
 * "work_plane_", "ops." -> "ops_" where they are identifiers (not inside string literals,
 * quoted identifiers or comments). *out is malloc'd (caller frees). 0 or PB_ENOMEM. */
int pb_sqlite_translate(const char *sql, char **out);

#endif
