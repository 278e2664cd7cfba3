/* db_pg: the PostgreSQL backend of db.h (libpq). One PGconn per pooled connection.
 *
 * Parameters go as text (BLOBs as binary), results come back as text (bytea columns are
 * hex-decoded by pb_rows_blob). DML and queries are prepared once per connection under a
 * generated name (hot read paths run tens of thousands of times a second); utility
 * statements (DDL, SET, CREATE DATABASE...) cannot be prepared and run unnamed.
 *
 * Secrets: the URL may carry a password. It is registered with the redactor, never copied
 * into an error message, and additionally scrubbed from libpq's own messages. */
#include "store/db_internal.h"
#include "core/log.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PG_BYTEA_OID 17
#define PG_BOOL_OID 16
#define PG_MIGRATE_LOCK_KEY 7250314001LL /* advisory lock id for migrations */
#define PG_INLINE_PARAMS 16

typedef struct pg_rows {
    pb_rows base;
    PGresult *res;
    int row;
    int nrows;
    unsigned char *blob; /* decoded bytea of the last pb_rows_blob call */
} pg_rows;

/* ---- errors -------------------------------------------------------------------------- */

/* Copies msg into out with every occurrence of the password masked and the trailing
 * newline libpq adds removed. */
static void scrub(const pb_db *db, const char *msg, char *out, size_t n)
{
    size_t j = 0;
    const char *pw = db->secret;
    size_t pwlen = pw ? strlen(pw) : 0;
    for (const char *p = msg ? msg : ""; *p && j + 1 < n;) {
        if (pwlen && strncmp(p, pw, pwlen) == 0) {
            static const char mask[] = "[REDACTED]";
            for (size_t k = 0; mask[k] && j + 1 < n; k++) out[j++] = mask[k];
            p += pwlen;
            continue;
        }
        out[j++] = *p++;
    }
    while (j > 0 && (out[j - 1] == '\n' || out[j - 1] == ' ')) j--;
    out[j] = '\0';
}

static int sqlstate_code(const char *st)
{
    if (!st) return PB_ESTORE;
    if (strcmp(st, "23505") == 0) return PB_ECONFLICT;          /* unique_violation */
    if (strcmp(st, "55P03") == 0 || strcmp(st, "40001") == 0 ||  /* lock_not_available, serialization */
        strcmp(st, "40P01") == 0 || strcmp(st, "57014") == 0 ||  /* deadlock, query_canceled */
        strcmp(st, "53300") == 0)                                /* too_many_connections */
        return PB_EBUSY;
    if (strcmp(st, "54000") == 0) return PB_ETOOBIG;
    return PB_ESTORE;
}

static int res_err(pb_conn *c, PGresult *res, pb_error *err, const char *what)
{
    PGconn *pg = c->h;
    char msg[PB_ERROR_MSG_MAX];
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    scrub(c->db, primary ? primary : PQerrorMessage(pg), msg, sizeof msg);
    int code = sqlstate_code(st);
    if (!st && PQstatus(pg) != CONNECTION_OK) code = PB_ESTORE;
    return pb_error_set(err, code, "postgres %s: %s%s%s%s", what, msg, st ? " (" : "", st ? st : "", st ? ")" : "");
}

static int res_ok(PGresult *res)
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* ---- connections ---------------------------------------------------------------------- */

static int pg_db_init(pb_db *db, const char *url, pb_error *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        /* perr may quote the URL: do not pass it on. */
        PQfreemem(perr);
        return pb_error_set(err, PB_EINVAL, "malformed postgres URL");
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
            pb_redact_register(o->val);
            db->secret = strdup(o->val);
        }
    }
    PQconninfoFree(opts);
    db->target = strdup(url);
    return db->target ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg, (void)message; /* NOTICEs ("relation already exists, skipping") are noise */
}

static void free_name_cb(void *ctx, void *stmt)
{
    (void)ctx;
    free(stmt);
}

/* Per-session settings, re-applied after a reset. */
static int pg_session_setup(pb_conn *c, pb_error *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", c->db->opt.busy_timeout_ms);
    PGresult *res = PQexec(c->h, sql);
    int rc = res_ok(res) ? 0 : res_err(c, res, err, "session setup");
    PQclear(res);
    return rc;
}

static void pg_conn_close(pb_conn *c)
{
    pb_stmt_cache_clear(&c->cache, free_name_cb, NULL);
    PQfinish(c->h);
    c->h = NULL;
}

static int pg_conn_open(pb_conn *c, pb_error *err)
{
    /* Defaults first: with expand_dbname, settings in the URL override earlier entries. */
    const char *const kw[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
    const char *const val[] = {"10", "planebridge", "UTF8", c->db->target, NULL};
    PGconn *pg = PQconnectdbParams(kw, val, 1);
    if (!pg) return pb_error_set(err, PB_ENOMEM, "out of memory");
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[PB_ERROR_MSG_MAX];
        scrub(c->db, PQerrorMessage(pg), msg, sizeof msg);
        PQfinish(pg);
        return pb_error_set(err, PB_ESTORE, "cannot connect to postgres: %s", msg);
    }
    PQsetNoticeProcessor(pg, quiet_notices, NULL);
    c->h = pg;
    int rc = pg_session_setup(c, err);
    if (rc) pg_conn_close(c);
    return rc;
}

static int pg_conn_check(pb_conn *c, pb_error *err)
{
    if (PQstatus(c->h) == CONNECTION_OK) return 0;
    /* The server restarted or the socket died: prepared statements are gone with it. */
    pb_stmt_cache_clear(&c->cache, free_name_cb, NULL);
    PQreset(c->h);
    if (PQstatus(c->h) != CONNECTION_OK) {
        char msg[PB_ERROR_MSG_MAX];
        scrub(c->db, PQerrorMessage(c->h), msg, sizeof msg);
        return pb_error_set(err, PB_ESTORE, "cannot reconnect to postgres: %s", msg);
    }
    PQsetNoticeProcessor(c->h, quiet_notices, NULL);
    return pg_session_setup(c, err);
}

/* ---- statements ----------------------------------------------------------------------- */

/* Only these can go through PQprepare; everything else (DDL, SET, LOCK...) runs unnamed. */
static int preparable(const char *sql)
{
    static const char *const kws[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"};
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '\r' || *sql == '(') sql++;
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++) {
        size_t n = strlen(kws[i]);
        if (strncasecmp(sql, kws[i], n) == 0 && !((sql[n] >= 'a' && sql[n] <= 'z') || (sql[n] >= 'A' && sql[n] <= 'Z') ||
                                                   sql[n] == '_'))
            return 1;
    }
    return 0;
}

typedef struct pg_params {
    const char *values[PG_INLINE_PARAMS];
    int lengths[PG_INLINE_PARAMS];
    int formats[PG_INLINE_PARAMS];
    char num[PG_INLINE_PARAMS][32];
    const char **v;
    int *l;
    int *f;
    char (*nb)[32];
    char **copies; /* TEXT values with an explicit length, NUL-terminated copies */
    void *heap;
    int n;
} pg_params;

static void params_free(pg_params *pp)
{
    if (pp->copies)
        for (int i = 0; i < pp->n; i++) free(pp->copies[i]);
    free(pp->copies);
    free(pp->heap);
}

static int params_build(pg_params *pp, const pb_val *p, int n, pb_error *err)
{
    pp->n = n;
    pp->copies = NULL;
    pp->heap = NULL;
    if (n <= PG_INLINE_PARAMS) {
        pp->v = pp->values;
        pp->l = pp->lengths;
        pp->f = pp->formats;
        pp->nb = pp->num;
    } else {
        size_t each = sizeof(char *) + 2 * sizeof(int) + 32;
        char *h = calloc((size_t)n, each);
        if (!h) return pb_error_set(err, PB_ENOMEM, "out of memory");
        pp->heap = h;
        pp->nb = (char(*)[32])h;
        pp->v = (const char **)(void *)(h + (size_t)n * 32);
        pp->l = (int *)(void *)(h + (size_t)n * (32 + sizeof(char *)));
        pp->f = pp->l + n;
    }
    for (int i = 0; i < n; i++) {
        pp->v[i] = NULL;
        pp->l[i] = 0;
        pp->f[i] = 0;
        switch (p[i].type) {
        case PB_V_NULL:
            break;
        case PB_V_INT:
            snprintf(pp->nb[i], 32, "%lld", (long long)p[i].i);
            pp->v[i] = pp->nb[i];
            break;
        case PB_V_REAL:
            snprintf(pp->nb[i], 32, "%.17g", p[i].d);
            pp->v[i] = pp->nb[i];
            break;
        case PB_V_TEXT:
            if (p[i].s && p[i].len) {
                if (!pp->copies && !(pp->copies = calloc((size_t)n, sizeof *pp->copies)))
                    return pb_error_set(err, PB_ENOMEM, "out of memory");
                if (!(pp->copies[i] = strndup(p[i].s, p[i].len)))
                    return pb_error_set(err, PB_ENOMEM, "out of memory");
                pp->v[i] = pp->copies[i];
            } else {
                pp->v[i] = p[i].s;
            }
            break;
        case PB_V_BLOB:
            if (p[i].len > 0x7fffffff) return pb_error_set(err, PB_ETOOBIG, "BLOB parameter too large");
            pp->v[i] = p[i].len ? p[i].s : "";
            pp->l[i] = (int)p[i].len;
            pp->f[i] = 1;
            break;
        default:
            return pb_error_set(err, PB_EINVAL, "bad value type for parameter %d", i + 1);
        }
    }
    return 0;
}

/* Runs sql with params; on success *out is a PGresult with COMMAND_OK or TUPLES_OK. */
static int pg_run(pb_conn *c, const char *sql, const pb_val *params, int nparams, PGresult **out, pb_error *err)
{
    PGconn *pg = c->h;
    pg_params pp;
    *out = NULL;
    int rc = params_build(&pp, params, nparams, err);
    if (rc) {
        params_free(&pp);
        return rc;
    }
    PGresult *res = NULL;
    int use_prepared = preparable(sql);
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *name = use_prepared ? pb_stmt_cache_get(&c->cache, sql) : NULL;
        if (!name && use_prepared && !pb_stmt_cache_full(&c->cache)) {
            char gen[32];
            snprintf(gen, sizeof gen, "pb_%u", c->stmt_seq++);
            PGresult *pr = PQprepare(pg, gen, sql, nparams, NULL);
            if (!res_ok(pr)) {
                rc = res_err(c, pr, err, "prepare");
                PQclear(pr);
                params_free(&pp);
                return rc;
            }
            PQclear(pr);
            char *owned = strdup(gen);
            if (owned && pb_stmt_cache_put(&c->cache, sql, owned) == 0) {
                name = owned;
            } else { /* could not cache it: drop it server-side, run unnamed */
                free(owned);
                char dsql[64];
                snprintf(dsql, sizeof dsql, "DEALLOCATE %s", gen);
                PQclear(PQexec(pg, dsql));
            }
        }
        if (name)
            res = PQexecPrepared(pg, name, nparams, pp.v, pp.l, pp.f, 0);
        else
            res = PQexecParams(pg, sql, nparams, NULL, pp.v, pp.l, pp.f, 0);
        if (res_ok(res)) break;
        const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        /* Our prepared statements vanished (26000: DISCARD ALL by a pooler...) or went stale
         * (0A000 "cached plan must not change result type" after DDL): re-prepare once.
         * Only outside a transaction: inside one the error has already aborted it. */
        if (name && attempt == 0 && st && (strcmp(st, "26000") == 0 || strcmp(st, "0A000") == 0) &&
            PQtransactionStatus(pg) == PQTRANS_IDLE) {
            PQclear(res);
            res = NULL;
            pb_stmt_cache_clear(&c->cache, free_name_cb, NULL);
            PQclear(PQexec(pg, "DEALLOCATE ALL"));
            continue;
        }
        break;
    }
    params_free(&pp);
    if (!res_ok(res)) {
        rc = res_err(c, res, err, "exec");
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

static int pg_exec(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *changes,
                   pb_error *err)
{
    PGresult *res = NULL;
    int rc = pg_run(c, sql, params, nparams, &res, err);
    if (rc) return rc;
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = (t && *t) ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return 0;
}

static int pg_query(pb_conn *c, const char *sql, const pb_val *params, int nparams, pb_rows **out,
                    pb_error *err)
{
    PGresult *res = NULL;
    int rc = pg_run(c, sql, params, nparams, &res, err);
    if (rc) return rc;
    pg_rows *r = calloc(1, sizeof *r);
    if (!r) {
        PQclear(res);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    r->base.drv = &pb_driver_pg;
    r->res = res;
    r->row = -1;
    r->nrows = PQntuples(res);
    *out = &r->base;
    return 0;
}

static int pg_simple(pb_conn *c, const char *sql, pb_error *err, const char *what)
{
    PGresult *res = PQexec(c->h, sql);
    int rc = res_ok(res) ? 0 : res_err(c, res, err, what);
    PQclear(res);
    return rc;
}

static int pg_exec_script(pb_conn *c, const char *sql, pb_error *err)
{
    return pg_simple(c, sql, err, "script");
}

static int pg_begin(pb_conn *c, int write, pb_error *err)
{
    (void)write; /* row locks are taken by the statements themselves */
    return pg_simple(c, "BEGIN", err, "begin");
}

static int pg_in_tx(pb_conn *c)
{
    PGTransactionStatusType s = PQtransactionStatus(c->h);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

static int pg_rollback(pb_conn *c)
{
    if (!pg_in_tx(c)) return 0;
    PGresult *res = PQexec(c->h, "ROLLBACK");
    int rc = res_ok(res) ? 0 : PB_ESTORE;
    PQclear(res);
    return rc;
}

static int pg_commit(pb_conn *c, pb_error *err)
{
    if (PQtransactionStatus(c->h) == PQTRANS_INERROR) {
        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: report it. */
        pg_rollback(c);
        return pb_error_set(err, PB_ESTORE, "postgres commit: transaction was aborted by an earlier error");
    }
    PGresult *res = PQexec(c->h, "COMMIT");
    int rc = 0;
    if (!res_ok(res)) rc = res_err(c, res, err, "commit");
    else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = pb_error_set(err, PB_ESTORE, "postgres commit: transaction was rolled back");
    PQclear(res);
    return rc;
}

static int pg_migrate_lock(pb_conn *c, pb_error *err)
{
    char sql[96];
    /* Wait as long as another process needs to finish migrating (lock_timeout would cut it). */
    int rc = pg_simple(c, "SET lock_timeout = 0", err, "migrate");
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", PG_MIGRATE_LOCK_KEY);
    if (!rc) rc = pg_simple(c, sql, err, "migration lock");
    if (rc) pg_session_setup(c, NULL);
    return rc;
}

static void pg_migrate_unlock(pb_conn *c)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", PG_MIGRATE_LOCK_KEY);
    pg_simple(c, sql, NULL, "migration unlock");
    pg_session_setup(c, NULL);
}

static int pg_server_version(pb_conn *c, char *buf, size_t n, pb_error *err)
{
    int v = PQserverVersion(c->h);
    if (v <= 0) return pb_error_set(err, PB_ESTORE, "postgres server version unknown");
    if (v >= 100000) snprintf(buf, n, "%d.%d", v / 10000, v % 10000);
    else snprintf(buf, n, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    return 0;
}

static char lib_version[32];
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_version_init(void)
{
    int v = PQlibVersion();
    snprintf(lib_version, sizeof lib_version, "%d.%d", v / 10000, v % 10000);
}

const char *pb_pg_library_version(void)
{
    pthread_once(&lib_once, lib_version_init);
    return lib_version;
}

/* ---- rows --------------------------------------------------------------------------- */

static int pg_rows_next(pb_rows *rb)
{
    pg_rows *r = (pg_rows *)rb;
    if (r->row + 1 >= r->nrows) {
        r->row = r->nrows;
        return 0;
    }
    r->row++;
    return 1;
}

static int valid(const pg_rows *r, int col)
{
    return r->row >= 0 && r->row < r->nrows && col >= 0 && col < PQnfields(r->res);
}

static int pg_rows_ncols(pb_rows *rb)
{
    return PQnfields(((pg_rows *)rb)->res);
}

static int pg_rows_isnull(pb_rows *rb, int col)
{
    pg_rows *r = (pg_rows *)rb;
    return valid(r, col) ? PQgetisnull(r->res, r->row, col) : 1;
}

static int64_t pg_rows_int(pb_rows *rb, int col)
{
    pg_rows *r = (pg_rows *)rb;
    if (!valid(r, col) || PQgetisnull(r->res, r->row, col)) return 0;
    const char *s = PQgetvalue(r->res, r->row, col);
    if (PQftype(r->res, col) == PG_BOOL_OID) return s[0] == 't';
    return strtoll(s, NULL, 10);
}

static double pg_rows_real(pb_rows *rb, int col)
{
    pg_rows *r = (pg_rows *)rb;
    if (!valid(r, col) || PQgetisnull(r->res, r->row, col)) return 0;
    return strtod(PQgetvalue(r->res, r->row, col), NULL);
}

static const char *pg_rows_text(pb_rows *rb, int col)
{
    pg_rows *r = (pg_rows *)rb;
    return valid(r, col) ? PQgetvalue(r->res, r->row, col) : "";
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static const void *pg_rows_blob(pb_rows *rb, int col, size_t *len)
{
    pg_rows *r = (pg_rows *)rb;
    if (len) *len = 0;
    if (!valid(r, col) || PQgetisnull(r->res, r->row, col)) return NULL;
    const char *s = PQgetvalue(r->res, r->row, col);
    size_t n = (size_t)PQgetlength(r->res, r->row, col);
    if (PQftype(r->res, col) != PG_BYTEA_OID || n < 2 || s[0] != '\\' || s[1] != 'x') {
        if (len) *len = n; /* text and other columns: the bytes as they are */
        return s;
    }
    size_t out = (n - 2) / 2;
    unsigned char *b = realloc(r->blob, out ? out : 1);
    if (!b) return NULL;
    r->blob = b;
    for (size_t i = 0; i < out; i++) {
        int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
        if (hi < 0 || lo < 0) return NULL;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    if (len) *len = out;
    return b;
}

static void pg_rows_free(pb_rows *rb)
{
    pg_rows *r = (pg_rows *)rb;
    PQclear(r->res);
    free(r->blob);
    free(r);
}

const pb_db_driver pb_driver_pg = {
    .name = "postgres",
    .kind = PB_DB_POSTGRES,
    .sql_has_migrations_table = "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = 'ops' "
                                "AND tablename = 'schema_migrations'",
    .sql_create_migrations_table = "CREATE SCHEMA IF NOT EXISTS ops;"
                                   "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                                   " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                   " applied_at BIGINT NOT NULL)",
    .db_init = pg_db_init,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .conn_check = pg_conn_check,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_tx = pg_in_tx,
    .exec = pg_exec,
    .query = pg_query,
    .exec_script = pg_exec_script,
    .migrate_lock = pg_migrate_lock,
    .migrate_unlock = pg_migrate_unlock,
    .server_version = pg_server_version,
    .rows_next = pg_rows_next,
    .rows_ncols = pg_rows_ncols,
    .rows_isnull = pg_rows_isnull,
    .rows_int = pg_rows_int,
    .rows_real = pg_rows_real,
    .rows_text = pg_rows_text,
    .rows_blob = pg_rows_blob,
    .rows_free = pg_rows_free,
};
