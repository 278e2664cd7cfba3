/* db_sqlite: the SQLite backend of db.h. One sqlite3 handle per pooled connection, opened
 * with SQLITE_OPEN_NOMUTEX (the pool guarantees one thread per connection at a time), WAL,
 * synchronous FULL (or NORMAL), foreign keys on, busy timeout. SQL is written in the
 * PostgreSQL dialect subset and translated once per statement per connection. */
#include "store/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sq_rows {
    pb_rows base;
    pb_conn *c;
    sqlite3_stmt *st;
    int owned; /* not in the cache: finalize on free */
    int done;
} sq_rows;

/* ---- translation ------------------------------------------------------------------------ */

static int is_ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '$' || (unsigned char)ch >= 0x80;
}

int pb_sqlite_translate(const char *sql, char **out)
{
    size_t n = strlen(sql);
    /* Every rewrite keeps or shortens the text ("$" -> "?", "." -> "_"). */
    char *o = malloc(n + 1);
    if (!o) return PB_ENOMEM;
    size_t j = 0;
    const char *p = sql;
    while (*p) {
        char ch = *p;
        if (ch == '\'' || ch == '"' || ch == '`') { /* literal or quoted identifier: verbatim */
            o[j++] = *p++;
            while (*p) {
                if (*p == ch) {
                    o[j++] = *p++;
                    if (*p == ch) { /* doubled quote = escaped quote */
                        o[j++] = *p++;
                        continue;
                    }
                    break;
                }
                o[j++] = *p++;
            }
            continue;
        }
        if (ch == '-' && p[1] == '-') { /* line comment */
            while (*p && *p != '\n') o[j++] = *p++;
            continue;
        }
        if (ch == '/' && p[1] == '*') { /* block comment */
            o[j++] = *p++;
            o[j++] = *p++;
            while (*p && !(p[0] == '*' && p[1] == '/')) o[j++] = *p++;
            if (*p) {
                o[j++] = *p++;
                o[j++] = *p++;
            }
            continue;
        }
        int boundary = p == sql || (!is_ident_char(p[-1]) && p[-1] != '.');
        if (ch == '$' && p[1] >= '0' && p[1] <= '9' && (p == sql || !is_ident_char(p[-1]))) {
            o[j++] = '?';
            p++;
            continue;
        }
        if (boundary && strncmp(p, "work_plane.", 11) == 0) {
            memcpy(o + j, "work_plane_", 11);
            j += 11;
            p += 11;
            continue;
        }
        if (boundary && strncmp(p, "ops.", 4) == 0) {
            memcpy(o + j, "ops_", 4);
            j += 4;
            p += 4;
            continue;
        }
        if (is_ident_char(ch)) { /* copy the whole word so "xops." never matches mid-word */
            while (*p && is_ident_char(*p)) o[j++] = *p++;
            continue;
        }
        o[j++] = *p++;
    }
    o[j] = '\0';
    *out = o;
    return 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

static int sq_code(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return PB_ECONFLICT;
    case SQLITE_NOMEM:
        return PB_ENOMEM;
    case SQLITE_TOOBIG:
        return PB_ETOOBIG;
    default:
        break;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return PB_EBUSY;
    return PB_ESTORE;
}

static int sq_err(pb_conn *c, int rc, pb_error *err, const char *what)
{
    sqlite3 *h = c->h;
    return pb_error_set(err, sq_code(rc), "sqlite %s: %s (%d)", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc),
                        rc);
}

/* ---- connections ------------------------------------------------------------------------- */

static int sq_prepare_files(const char *target, pb_error *err);

static int sq_db_init(pb_db *db, const char *url, pb_error *err)
{
    const char *path = url + 7; /* after "sqlite:" */
    if (strncmp(path, "///", 3) == 0) path += 2; /* sqlite:///abs/path */
    if (!*path) return pb_error_set(err, PB_EINVAL, "sqlite URL has no path");
    if (strcmp(path, ":memory:") == 0) db->opt.pool_size = 1; /* each handle would be its own DB */
    db->target = strdup(path);
    if (!db->target) return pb_error_set(err, PB_ENOMEM, "out of memory");
    return sq_prepare_files(db->target, err);
}

static void finalize_cb(void *ctx, void *stmt)
{
    (void)ctx;
    sqlite3_finalize(stmt);
}

static void sq_conn_close(pb_conn *c)
{
    c->nlive = 0;
    pb_stmt_cache_clear(&c->cache, finalize_cb, NULL);
    sqlite3_close_v2(c->h);
    c->h = NULL;
}

/* The store holds key hashes, sealed secrets and PKCE verifiers: the database file is
 * created 0600 here, before SQLite would create it with 0644 & ~umask. SQLite gives the
 * -wal and -shm files it creates the database file's mode (and fchmods them to it), so they
 * are 0600 too. An existing database file or -wal/-shm owned by this user that group or
 * others may access is tightened to 0600 (files left by earlier versions).
 * Existing files are only stat'ed and chmod'ed by path, never opened: closing any
 * descriptor of a file drops every POSIX lock this process holds on it, which would break
 * the locks of SQLite connections already open on the same database. */
static int sq_private_file(const char *path, int create, pb_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT || !create) return 0;
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
        if (fd >= 0) close(fd); /* new and empty: nobody holds a lock on it yet */
        return 0;               /* otherwise let SQLite report what is wrong with the path */
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) && st.st_uid == geteuid() && chmod(path, st.st_mode & 0700) != 0)
        return pb_error_set(err, PB_ESTORE, "cannot restrict the permissions of %s: %s", path, strerror(errno));
    return 0;
}

static int sq_prepare_files(const char *target, pb_error *err)
{
    char side[4200];
    if (!*target || strcmp(target, ":memory:") == 0 || strncmp(target, "file:", 5) == 0) return 0;
    int rc = sq_private_file(target, 1, err);
    for (int i = 0; !rc && i < 2; i++) {
        int n = snprintf(side, sizeof side, "%s%s", target, i ? "-shm" : "-wal");
        if (n > 0 && (size_t)n < sizeof side) rc = sq_private_file(side, 0, err);
    }
    return rc;
}

static int sq_conn_open(pb_conn *c, pb_error *err)
{
    pb_db *db = c->db;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(db->target, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        pb_error_set(err, PB_ESTORE, "cannot open sqlite database %s: %s", db->target,
                     h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close_v2(h);
        return PB_ESTORE;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, db->opt.busy_timeout_ms);
    /* Reads: 16 MiB of page cache per connection; deep list pages over 100k items were
     * spending a fifth of the daemon's CPU in page reads. No mmap: with memory-mapped I/O
     * the daemon died with SIGBUS under webhook load in the crash test (ingest.sh), and an
     * I/O error on a mapped page cannot be reported as an error, only as a signal. */
    char pragmas[320];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
             " PRAGMA cache_size=-16384;",
             db->opt.sqlite_synchronous == 1 ? "NORMAL" : "FULL");
    char *msg = NULL;
    rc = sqlite3_exec(h, pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        pb_error_set(err, sq_code(rc), "sqlite %s: %s", db->target, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close_v2(h);
        return sq_code(rc);
    }
    c->h = h;
    return 0;
}

static int sq_conn_check(pb_conn *c, pb_error *err)
{
    (void)c, (void)err;
    return 0;
}

/* ---- statements ------------------------------------------------------------------------- */

static int live_has(const pb_conn *c, const void *st)
{
    for (int i = 0; i < c->nlive; i++)
        if (c->live[i] == st) return 1;
    return 0;
}

static void live_del(pb_conn *c, const void *st)
{
    for (int i = 0; i < c->nlive; i++)
        if (c->live[i] == st) {
            c->live[i] = c->live[--c->nlive];
            return;
        }
}

/* A ready statement for sql: the cached one when idle, else a fresh one (owned=1). With
 * for_rows, the cached one is only used when it can be marked live (held by a pb_rows). */
static int sq_prepare(pb_conn *c, const char *sql, sqlite3_stmt **out, int *owned, int for_rows, pb_error *err)
{
    sqlite3_stmt *cached = pb_stmt_cache_get(&c->cache, sql);
    if (cached && !sqlite3_stmt_busy(cached) && !live_has(c, cached) &&
        (!for_rows || c->nlive < PB_LIVE_ROWS_MAX)) {
        *out = cached;
        *owned = 0;
        return 0;
    }
    char *tsql = NULL;
    if (pb_sqlite_translate(sql, &tsql)) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int cacheable = !cached && !pb_stmt_cache_full(&c->cache);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->h, tsql, -1, cacheable ? SQLITE_PREPARE_PERSISTENT : 0, &st, &tail);
    if (rc != SQLITE_OK) {
        rc = sq_err(c, rc, err, "prepare");
        free(tsql);
        return rc;
    }
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';')) tail++;
    if (!st || (tail && *tail)) {
        sqlite3_finalize(st);
        free(tsql);
        return pb_error_set(err, PB_EINVAL, "expected exactly one SQL statement");
    }
    free(tsql);
    if (for_rows && c->nlive >= PB_LIVE_ROWS_MAX) cacheable = 0;
    if (cacheable && pb_stmt_cache_put(&c->cache, sql, st) == 0) {
        *owned = 0;
    } else {
        *owned = 1;
    }
    *out = st;
    return 0;
}

static void sq_done(sqlite3_stmt *st, int owned)
{
    if (owned) {
        sqlite3_finalize(st);
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int sq_bind(pb_conn *c, sqlite3_stmt *st, const pb_val *p, int n, pb_error *err)
{
    if (sqlite3_bind_parameter_count(st) != n)
        return pb_error_set(err, PB_EINVAL, "statement wants %d parameters, got %d",
                            sqlite3_bind_parameter_count(st), n);
    for (int i = 0; i < n; i++) {
        int rc;
        switch (p[i].type) {
        case PB_V_NULL:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        case PB_V_INT:
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
            break;
        case PB_V_REAL:
            rc = sqlite3_bind_double(st, i + 1, p[i].d);
            break;
        case PB_V_TEXT:
            rc = p[i].s ? sqlite3_bind_text64(st, i + 1, p[i].s, p[i].len ? p[i].len : strlen(p[i].s),
                                              SQLITE_TRANSIENT, SQLITE_UTF8)
                        : sqlite3_bind_null(st, i + 1);
            break;
        case PB_V_BLOB:
            rc = p[i].len ? sqlite3_bind_blob64(st, i + 1, p[i].s, p[i].len, SQLITE_TRANSIENT)
                          : sqlite3_bind_zeroblob(st, i + 1, 0);
            break;
        default:
            return pb_error_set(err, PB_EINVAL, "bad value type for parameter %d", i + 1);
        }
        if (rc != SQLITE_OK) return sq_err(c, rc, err, "bind");
    }
    return 0;
}

static int sq_exec(pb_conn *c, const char *sql, const pb_val *params, int nparams, int64_t *changes,
                   pb_error *err)
{
    sqlite3_stmt *st = NULL;
    int owned = 0;
    int rc = sq_prepare(c, sql, &st, &owned, 0, err);
    if (rc) return rc;
    rc = sq_bind(c, st, params, nparams, err);
    if (!rc) {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        }
        if (s != SQLITE_DONE) rc = sq_err(c, s, err, "exec");
        else if (changes) *changes = sqlite3_changes64(c->h);
    }
    sq_done(st, owned);
    return rc;
}

static int sq_query(pb_conn *c, const char *sql, const pb_val *params, int nparams, pb_rows **out,
                    pb_error *err)
{
    sqlite3_stmt *st = NULL;
    int owned = 0;
    int rc = sq_prepare(c, sql, &st, &owned, 1, err);
    if (rc) return rc;
    rc = sq_bind(c, st, params, nparams, err);
    if (rc) {
        sq_done(st, owned);
        return rc;
    }
    sq_rows *r = calloc(1, sizeof *r);
    if (!r) {
        sq_done(st, owned);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    r->base.drv = &pb_driver_sqlite;
    r->c = c;
    r->st = st;
    r->owned = owned;
    if (!owned) c->live[c->nlive++] = st; /* room guaranteed by sq_prepare(for_rows) */
    *out = &r->base;
    return 0;
}

static int sq_exec_script(pb_conn *c, const char *sql, pb_error *err)
{
    char *tsql = NULL;
    if (pb_sqlite_translate(sql, &tsql)) return pb_error_set(err, PB_ENOMEM, "out of memory");
    char *msg = NULL;
    int rc = sqlite3_exec(c->h, tsql, NULL, NULL, &msg);
    free(tsql);
    if (rc != SQLITE_OK) {
        pb_error_set(err, sq_code(rc), "sqlite script: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return sq_code(rc);
    }
    return 0;
}

static int sq_begin(pb_conn *c, int write, pb_error *err)
{
    return sq_exec(c, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, err);
}

static int sq_commit(pb_conn *c, pb_error *err)
{
    return sq_exec(c, "COMMIT", NULL, 0, NULL, err);
}

static int sq_in_tx(pb_conn *c)
{
    return !sqlite3_get_autocommit(c->h);
}

static int sq_rollback(pb_conn *c)
{
    if (!sq_in_tx(c)) return 0;
    return sq_exec(c, "ROLLBACK", NULL, 0, NULL, NULL);
}

static int sq_migrate_lock(pb_conn *c, pb_error *err)
{
    (void)c, (void)err; /* BEGIN IMMEDIATE per migration serialises writers */
    return 0;
}

static void sq_migrate_unlock(pb_conn *c)
{
    (void)c;
}

static int sq_server_version(pb_conn *c, char *buf, size_t n, pb_error *err)
{
    (void)c, (void)err;
    snprintf(buf, n, "%s", sqlite3_libversion());
    return 0;
}

const char *pb_sqlite_library_version(void)
{
    return sqlite3_libversion();
}

/* ---- rows ------------------------------------------------------------------------------- */

static int sq_rows_next(pb_rows *rb)
{
    sq_rows *r = (sq_rows *)rb;
    if (r->done) return 0;
    int s = sqlite3_step(r->st);
    if (s == SQLITE_ROW) return 1;
    r->done = 1;
    return s == SQLITE_DONE ? 0 : sq_code(s);
}

static int sq_rows_ncols(pb_rows *rb)
{
    return sqlite3_column_count(((sq_rows *)rb)->st);
}

static int sq_rows_isnull(pb_rows *rb, int col)
{
    return sqlite3_column_type(((sq_rows *)rb)->st, col) == SQLITE_NULL;
}

static int64_t sq_rows_int(pb_rows *rb, int col)
{
    return sqlite3_column_int64(((sq_rows *)rb)->st, col);
}

static double sq_rows_real(pb_rows *rb, int col)
{
    return sqlite3_column_double(((sq_rows *)rb)->st, col);
}

static const char *sq_rows_text(pb_rows *rb, int col)
{
    const unsigned char *s = sqlite3_column_text(((sq_rows *)rb)->st, col);
    return s ? (const char *)s : "";
}

static const void *sq_rows_blob(pb_rows *rb, int col, size_t *len)
{
    sqlite3_stmt *st = ((sq_rows *)rb)->st;
    const void *b = sqlite3_column_blob(st, col);
    if (len) *len = (size_t)sqlite3_column_bytes(st, col);
    return b;
}

static void sq_rows_free(pb_rows *rb)
{
    sq_rows *r = (sq_rows *)rb;
    if (!r->owned) live_del(r->c, r->st);
    sq_done(r->st, r->owned);
    free(r);
}

const pb_db_driver pb_driver_sqlite = {
    .name = "sqlite",
    .kind = PB_DB_SQLITE,
    .sql_has_migrations_table =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ops_schema_migrations'",
    .sql_create_migrations_table = "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                                   " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                   " applied_at BIGINT NOT NULL)",
    .db_init = sq_db_init,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .conn_check = sq_conn_check,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_tx = sq_in_tx,
    .exec = sq_exec,
    .query = sq_query,
    .exec_script = sq_exec_script,
    .migrate_lock = sq_migrate_lock,
    .migrate_unlock = sq_migrate_unlock,
    .server_version = sq_server_version,
    .rows_next = sq_rows_next,
    .rows_ncols = sq_rows_ncols,
    .rows_isnull = sq_rows_isnull,
    .rows_int = sq_rows_int,
    .rows_real = sq_rows_real,
    .rows_text = sq_rows_text,
    .rows_blob = sq_rows_blob,
    .rows_free = sq_rows_free,
};
