/* db: URL dispatch, the connection pool, migrations and the helpers shared by both
 * backends. See db.h for the contract and db_internal.h for the driver vtable. */
#include "store/db.h"
#include "store/db_internal.h"
#include "store/migrations.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PB_DB_DEFAULT_POOL 8
#define PB_DB_MAX_POOL 256
#define PB_DB_DEFAULT_BUSY_MS 5000

/* ---- statement cache ------------------------------------------------------------------ */

static uint64_t sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void *pb_stmt_cache_get(const pb_stmt_cache *sc, const char *sql)
{
    if (!sc->cap) return NULL;
    uint64_t h = sql_hash(sql);
    for (size_t i = (size_t)h & (sc->cap - 1);; i = (i + 1) & (sc->cap - 1)) {
        const pb_stmt_entry *e = &sc->e[i];
        if (!e->sql) return NULL;
        if (e->hash == h && strcmp(e->sql, sql) == 0) return e->stmt;
    }
}

int pb_stmt_cache_full(const pb_stmt_cache *sc)
{
    return sc->n >= PB_STMT_CACHE_MAX;
}

static void cache_insert(pb_stmt_entry *tab, size_t cap, pb_stmt_entry ent)
{
    size_t i = (size_t)ent.hash & (cap - 1);
    while (tab[i].sql) i = (i + 1) & (cap - 1);
    tab[i] = ent;
}

int pb_stmt_cache_put(pb_stmt_cache *sc, const char *sql, void *stmt)
{
    if (pb_stmt_cache_full(sc)) return PB_ETOOBIG;
    if ((sc->n + 1) * 2 > sc->cap) { /* keep the load factor <= 1/2 */
        size_t ncap = sc->cap ? sc->cap * 2 : 32;
        pb_stmt_entry *tab = calloc(ncap, sizeof *tab);
        if (!tab) return PB_ENOMEM;
        for (size_t i = 0; i < sc->cap; i++)
            if (sc->e[i].sql) cache_insert(tab, ncap, sc->e[i]);
        free(sc->e);
        sc->e = tab;
        sc->cap = ncap;
    }
    char *key = strdup(sql);
    if (!key) return PB_ENOMEM;
    cache_insert(sc->e, sc->cap, (pb_stmt_entry){key, sql_hash(sql), stmt});
    sc->n++;
    return 0;
}

void pb_stmt_cache_clear(pb_stmt_cache *sc, void (*fn)(void *ctx, void *stmt), void *ctx)
{
    for (size_t i = 0; i < sc->cap; i++) {
        if (!sc->e[i].sql) continue;
        if (fn) fn(ctx, sc->e[i].stmt);
        free(sc->e[i].sql);
    }
    free(sc->e);
    sc->e = NULL;
    sc->cap = sc->n = 0;
}

/* ---- open / free ---------------------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (!s) return;
    volatile char *p = s;
    while (*p) *p++ = 0;
    free(s);
}

int pb_db_open(const char *url, const pb_db_options *opt, pb_db **out, pb_error *err)
{
    *out = NULL;
    if (!url) return pb_error_set(err, PB_EINVAL, "store URL missing");
    const pb_db_driver *drv = NULL;
    if (strncmp(url, "sqlite:", 7) == 0) drv = &pb_driver_sqlite;
    else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        drv = &pb_driver_pg;
    else
        return pb_error_set(err, PB_EINVAL, "unsupported store URL (want sqlite:PATH or postgres://...)");

    pb_db *db = calloc(1, sizeof *db);
    if (!db) return pb_error_set(err, PB_ENOMEM, "out of memory");
    db->drv = drv;
    if (opt) db->opt = *opt;
    if (db->opt.pool_size <= 0) db->opt.pool_size = PB_DB_DEFAULT_POOL;
    if (db->opt.pool_size > PB_DB_MAX_POOL) db->opt.pool_size = PB_DB_MAX_POOL;
    if (db->opt.busy_timeout_ms <= 0) db->opt.busy_timeout_ms = PB_DB_DEFAULT_BUSY_MS;
    if (db->opt.sqlite_synchronous != 1) db->opt.sqlite_synchronous = 2;

    int rc = drv->db_init(db, url, err); /* may lower pool_size (sqlite::memory:) */
    if (rc) {
        wipe_free(db->target);
        wipe_free(db->secret);
        free(db);
        return rc;
    }
    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &ca);
    pthread_condattr_destroy(&ca);
    db->conns = calloc((size_t)db->opt.pool_size, sizeof *db->conns);
    db->freelist = calloc((size_t)db->opt.pool_size, sizeof *db->freelist);
    if (!db->conns || !db->freelist) {
        pb_db_free(db);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    for (int i = db->opt.pool_size - 1; i >= 0; i--) {
        db->conns[i].db = db;
        db->conns[i].pooled = 1;
        db->freelist[db->nfree++] = &db->conns[i];
    }
    /* Open one connection now so a bad URL, path or password fails at start-up; the others
     * open lazily on first acquire. */
    rc = drv->conn_open(&db->conns[0], err);
    if (rc) {
        pb_db_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

void pb_db_free(pb_db *db)
{
    if (!db) return;
    if (db->conns) {
        for (int i = 0; i < db->opt.pool_size; i++)
            if (db->conns[i].h) db->drv->conn_close(&db->conns[i]);
        pthread_mutex_destroy(&db->mu);
        pthread_cond_destroy(&db->cv);
    }
    free(db->conns);
    free(db->freelist);
    wipe_free(db->target); /* a PostgreSQL URL may carry the password */
    wipe_free(db->secret);
    free(db);
}

pb_db_kind pb_db_backend(const pb_db *db)
{
    return db->drv->kind;
}

const char *pb_db_backend_name(const pb_db *db)
{
    return db ? db->drv->name : "none";
}

const char *pb_db_library_version(pb_db_kind kind)
{
    return kind == PB_DB_POSTGRES ? pb_pg_library_version() : pb_sqlite_library_version();
}

/* ---- pool ------------------------------------------------------------------------------ */

int pb_db_acquire(pb_db *db, pb_conn **out, pb_error *err)
{
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += db->opt.busy_timeout_ms / 1000;
    deadline.tv_nsec += (long)(db->opt.busy_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&db->mu);
    while (db->nfree == 0) {
        int w = pthread_cond_timedwait(&db->cv, &db->mu, &deadline);
        if (w == ETIMEDOUT && db->nfree == 0) {
            pthread_mutex_unlock(&db->mu);
            return pb_error_set(err, PB_EBUSY, "no free store connection within %d ms",
                                db->opt.busy_timeout_ms);
        }
    }
    pb_conn *c = db->freelist[--db->nfree];
    c->pooled = 0;
    pthread_mutex_unlock(&db->mu);

    int rc = c->h ? db->drv->conn_check(c, err) : db->drv->conn_open(c, err);
    if (rc) {
        pthread_mutex_lock(&db->mu);
        c->pooled = 1;
        db->freelist[db->nfree++] = c;
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    *out = c;
    return 0;
}

void pb_db_release(pb_db *db, pb_conn *c)
{
    if (!c) return;
    if (!db) db = c->db;
    if (c->h && db->drv->in_tx(c)) db->drv->rollback(c);
    pthread_mutex_lock(&db->mu);
    if (!c->pooled) {
        c->pooled = 1;
        db->freelist[db->nfree++] = c;
        pthread_cond_signal(&db->cv);
    }
    pthread_mutex_unlock(&db->mu);
}

pb_db *pb_conn_db(pb_conn *c)
{
    return c->db;
}

/* ---- statements ------------------------------------------------------------------------- */

int pb_conn_begin(pb_conn *c, pb_error *err)
{
    return c->db->drv->begin(c, 0, err);
}

int pb_conn_begin_write(pb_conn *c, pb_error *err)
{
    return c->db->drv->begin(c, 1, err);
}

int pb_conn_commit(pb_conn *c, pb_error *err)
{
    return c->db->drv->commit(c, err);
}

int pb_conn_rollback(pb_conn *c)
{
    if (!c || !c->h) return 0;
    return c->db->drv->rollback(c);
}

static int check_params(const char *sql, const pb_val *params, int nparams, pb_error *err)
{
    if (!sql) return pb_error_set(err, PB_EINVAL, "SQL missing");
    if (nparams < 0 || (nparams > 0 && !params))
        return pb_error_set(err, PB_EINVAL, "bad parameter list");
    if (nparams > 999) return pb_error_set(err, PB_ETOOBIG, "too many parameters");
    return 0;
}

int pb_conn_exec(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *changes,
                 pb_error *err)
{
    if (changes) *changes = 0;
    int rc = check_params(sql, params, nparams, err);
    return rc ? rc : c->db->drv->exec(c, sql, params, nparams, changes, err);
}

int pb_conn_query(pb_conn *c, const char *sql, const pb_val *params, int nparams, pb_rows **out,
                  pb_error *err)
{
    *out = NULL;
    int rc = check_params(sql, params, nparams, err);
    return rc ? rc : c->db->drv->query(c, sql, params, nparams, out, err);
}

int pb_conn_query_int(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *out,
                      pb_error *err)
{
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, params, nparams, &r, err);
    if (rc) return rc;
    rc = pb_rows_next(r);
    if (rc == 1) {
        *out = pb_rows_int(r, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "no row");
    } else {
        pb_error_set(err, rc, "query failed: %s", pb_strerror(rc));
    }
    pb_rows_free(r);
    return rc;
}

int pb_conn_query_text(pb_conn *c, const char *sql, const pb_val *params, int nparams, char **out,
                       pb_error *err)
{
    *out = NULL;
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, params, nparams, &r, err);
    if (rc) return rc;
    rc = pb_rows_next(r);
    if (rc == 1) {
        *out = strdup(pb_rows_text(r, 0));
        rc = *out ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "no row");
    } else {
        pb_error_set(err, rc, "query failed: %s", pb_strerror(rc));
    }
    pb_rows_free(r);
    return rc;
}

int pb_conn_exec_script(pb_conn *c, const char *sql, pb_error *err)
{
    if (!sql) return pb_error_set(err, PB_EINVAL, "SQL missing");
    return c->db->drv->exec_script(c, sql, err);
}

int pb_rows_next(pb_rows *r)
{
    return r ? r->drv->rows_next(r) : PB_EINVAL;
}
int pb_rows_ncols(pb_rows *r)
{
    return r->drv->rows_ncols(r);
}
int pb_rows_isnull(pb_rows *r, int col)
{
    return r->drv->rows_isnull(r, col);
}
int64_t pb_rows_int(pb_rows *r, int col)
{
    return r->drv->rows_int(r, col);
}
double pb_rows_real(pb_rows *r, int col)
{
    return r->drv->rows_real(r, col);
}
const char *pb_rows_text(pb_rows *r, int col)
{
    const char *s = r->drv->rows_text(r, col);
    return s ? s : "";
}
const void *pb_rows_blob(pb_rows *r, int col, size_t *len)
{
    return r->drv->rows_blob(r, col, len);
}
void pb_rows_free(pb_rows *r)
{
    if (r) r->drv->rows_free(r);
}

/* ---- migrations, version, ping --------------------------------------------------------- */

static int schema_version_on(pb_conn *c, int *version, pb_error *err)
{
    int64_t has = 0, v = 0;
    *version = 0;
    int rc = pb_conn_query_int(c, c->db->drv->sql_has_migrations_table, NULL, 0, &has, err);
    if (rc) return rc;
    if (!has) return 0;
    rc = pb_conn_query_int(c, "SELECT COALESCE(MAX(version), 0) FROM ops.schema_migrations", NULL, 0, &v,
                           err);
    if (rc) return rc;
    *version = (int)v;
    return 0;
}

int pb_db_schema_version(pb_db *db, int *version, pb_error *err)
{
    pb_conn *c = NULL;
    *version = 0;
    int rc = pb_db_acquire(db, &c, err);
    if (rc) return rc;
    rc = schema_version_on(c, version, err);
    pb_db_release(db, c);
    return rc;
}

/* The embedded migration for this backend with the smallest version > after, or NULL. */
static const pb_migration *next_migration(const char *backend, int after)
{
    const pb_migration *best = NULL;
    for (const pb_migration *m = pb_migrations; m->backend; m++)
        if (strcmp(m->backend, backend) == 0 && m->version > after && (!best || m->version < best->version))
            best = m;
    return best;
}

static int apply_one(pb_conn *c, const pb_migration *m, pb_error *err)
{
    int64_t done = 0;
    int rc = pb_conn_begin_write(c, err);
    if (rc) return rc;
    /* Re-checked inside the write transaction: another process may have applied it. */
    rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.schema_migrations WHERE version = $1",
                           (pb_val[]){PB_INT(m->version)}, 1, &done, err);
    if (!rc && !done) {
        rc = pb_conn_exec_script(c, m->sql, err);
        if (!rc)
            rc = pb_conn_exec(c, "INSERT INTO ops.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                              (pb_val[]){PB_INT(m->version), PB_TEXT(m->name), PB_INT(pb_now_us())}, 3, NULL,
                              err);
    }
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc) {
        pb_conn_rollback(c);
        char msg[PB_ERROR_MSG_MAX];
        pb_strlcpy(msg, err ? err->msg : "", sizeof msg);
        pb_error_set(err, rc, "migration %04d_%s: %s", m->version, m->name, msg);
    }
    return rc;
}

int pb_db_migrate(pb_db *db, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (rc) return rc;
    rc = db->drv->migrate_lock(c, err);
    if (rc) {
        pb_db_release(db, c);
        return rc;
    }
    rc = pb_conn_exec_script(c, db->drv->sql_create_migrations_table, err);
    int version = 0;
    if (!rc) rc = schema_version_on(c, &version, err);
    for (const pb_migration *m = next_migration(db->drv->name, version); !rc && m;
         m = next_migration(db->drv->name, m->version))
        rc = apply_one(c, m, err);
    db->drv->migrate_unlock(c);
    pb_db_release(db, c);
    return rc;
}

int pb_db_ping(pb_db *db, pb_error *err)
{
    pb_conn *c = NULL;
    int64_t one = 0;
    int rc = pb_db_acquire(db, &c, err);
    if (rc) return rc;
    rc = pb_conn_query_int(c, "SELECT 1", NULL, 0, &one, err);
    if (!rc && one != 1) rc = pb_error_set(err, PB_ESTORE, "ping returned %lld", (long long)one);
    pb_db_release(db, c);
    return rc;
}

int pb_db_server_version(pb_db *db, char *buf, size_t n, pb_error *err)
{
    if (!buf || n == 0) return pb_error_set(err, PB_EINVAL, "no buffer");
    buf[0] = '\0';
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (rc) return rc;
    rc = db->drv->server_version(c, buf, n, err);
    pb_db_release(db, c);
    return rc;
}
