/* Store contract tests: every PB_STORE_TEST runs identically on SQLite and PostgreSQL.
 * Plain PB_TESTs cover the SQLite SQL translation and URL handling. */
#include "test.h"
#include "store/db.h"
#include "store/db_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static pb_db *open_store(int pool, int busy_ms)
{
    pb_db *db = NULL;
    pb_error err = {0};
    pb_db_options opt = {.pool_size = pool, .busy_timeout_ms = busy_ms};
    int rc = pb_db_open(pb_test_store_url(), &opt, &db, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "open: %s", err.msg);
    return db;
}

static int64_t count_of(pb_conn *c, const char *sql)
{
    int64_t n = -1;
    pb_error err = {0};
    if (pb_conn_query_int(c, sql, NULL, 0, &n, &err)) pb_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.msg);
    return n;
}

static int put_item(pb_conn *c, const char *id, pb_error *err)
{
    return pb_conn_exec(c,
                        "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, created_at, "
                        "updated_at, raw) VALUES ($1, 'issue', 'ws', 1, 2, '{}')",
                        (pb_val[]){PB_TEXT(id)}, 1, NULL, err);
}

/* ---- SQL translation (SQLite) ------------------------------------------------------------ */

static void check_tr(const char *in, const char *want)
{
    char *out = NULL;
    PB_CHECK_EQ_INT(pb_sqlite_translate(in, &out), 0);
    PB_CHECK_STR(out, want);
    free(out);
}

PB_TEST(db_translate_params_and_schemas)
{
    check_tr("SELECT name FROM work_plane.items WHERE plane_id = $1 AND project_id=$2",
             "SELECT name FROM work_plane_items WHERE plane_id = ?1 AND project_id=?2");
    check_tr("INSERT INTO ops.outbox (a) VALUES ($10)", "INSERT INTO ops_outbox (a) VALUES (?10)");
    check_tr("UPDATE ops.event_queue SET x=$1,y=$2", "UPDATE ops_event_queue SET x=?1,y=?2");
    check_tr("SELECT 1", "SELECT 1");
    check_tr("", "");
}

PB_TEST(db_translate_leaves_literals_alone)
{
    check_tr("SELECT 'work_plane.items $1 ops.x' FROM ops.outbox",
             "SELECT 'work_plane.items $1 ops.x' FROM ops_outbox");
    check_tr("SELECT 'it''s ops.x $2', $1 FROM work_plane.pages",
             "SELECT 'it''s ops.x $2', ?1 FROM work_plane_pages");
    check_tr("SELECT \"ops.x\" FROM ops.run_events", "SELECT \"ops.x\" FROM ops_run_events");
    check_tr("-- it's ops.x and $1\nSELECT ops.a", "-- it's ops.x and $1\nSELECT ops_a");
    check_tr("/* 'ops.x' */ SELECT $3", "/* 'ops.x' */ SELECT ?3");
    /* unterminated literal: copied verbatim, no crash */
    check_tr("SELECT 'ops.x", "SELECT 'ops.x");
}

PB_TEST(db_translate_identifiers_only)
{
    check_tr("SELECT myops.x, t.ops.y, work_plane_items.z FROM ops.t",
             "SELECT myops.x, t.ops.y, work_plane_items.z FROM ops_t");
    check_tr("SELECT a$1 FROM xwork_plane.items", "SELECT a$1 FROM xwork_plane.items");
    check_tr("SELECT (ops.a)+(work_plane.b)", "SELECT (ops_a)+(work_plane_b)");
}

/* ---- URL handling ----------------------------------------------------------------------- */

PB_TEST(db_open_rejects_unknown_url)
{
    pb_db *db = NULL;
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_db_open("mysql://x", NULL, &db, &err), PB_EINVAL);
    PB_CHECK(db == NULL);
    PB_CHECK_EQ_INT(pb_db_open("sqlite:", NULL, &db, &err), PB_EINVAL);
    PB_CHECK(db == NULL);
}

PB_TEST(db_sqlite_memory)
{
    pb_db *db = NULL;
    pb_conn *c = NULL;
    pb_error err = {0};
    int v = 0;
    PB_REQUIRE(pb_db_open("sqlite::memory:", NULL, &db, &err) == 0);
    PB_CHECK_EQ_INT(pb_db_migrate(db, &err), 0);
    PB_CHECK_EQ_INT(pb_db_schema_version(db, &v, &err), 0);
    PB_CHECK(v >= 1);
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(put_item(c, "m1", &err), 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 1);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_TEST(db_pg_error_hides_password)
{
    /* Port 1 on loopback refuses at once: the connect error must not echo the password. */
    pb_db *db = NULL;
    pb_error err = {0};
    int rc = pb_db_open("postgres://bob:Sup3rSecretPw@127.0.0.1:1/x?connect_timeout=2", NULL, &db, &err);
    PB_CHECK(rc != 0);
    PB_CHECK(db == NULL);
    PB_CHECK(err.msg[0] != '\0');
    PB_CHECK(strstr(err.msg, "Sup3rSecretPw") == NULL);
    rc = pb_db_open("postgresql://bob:pw@127.0.0.1:1/x", NULL, &db, &err); /* short password too */
    PB_CHECK(rc != 0);
    PB_CHECK(strstr(err.msg, ":pw@") == NULL);
}

PB_TEST(db_library_versions)
{
    PB_CHECK(strlen(pb_db_library_version(PB_DB_SQLITE)) >= 5);
    PB_CHECK(strchr(pb_db_library_version(PB_DB_POSTGRES), '.') != NULL);
}

/* ---- contract tests (both backends) ---------------------------------------------------- */

PB_STORE_TEST(db_migrate_idempotent)
{
    pb_db *db = open_store(2, 0);
    PB_REQUIRE(db);
    pb_error err = {0};
    int v1 = 0, v2 = 0;
    PB_CHECK_EQ_INT(pb_db_schema_version(db, &v1, &err), 0);
    PB_CHECK(v1 >= 1);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    int64_t n1 = count_of(c, "SELECT COUNT(*) FROM ops.schema_migrations");
    char *name = NULL;
    PB_CHECK_EQ_INT(pb_conn_query_text(c, "SELECT name FROM ops.schema_migrations WHERE version = 1", NULL, 0,
                                       &name, &err),
                    0);
    PB_CHECK_STR(name, "0001_core");
    free(name);
    pb_db_release(db, c);

    PB_CHECK_EQ_INT(pb_db_migrate(db, &err), 0);
    PB_CHECK_EQ_INT(pb_db_migrate(db, &err), 0);
    PB_CHECK_EQ_INT(pb_db_schema_version(db, &v2, &err), 0);
    PB_CHECK_EQ_INT(v2, v1);
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM ops.schema_migrations"), n1);
    PB_CHECK_EQ_INT(count_of(c, "SELECT MAX(version) FROM ops.schema_migrations"), v1);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_core_tables_exist)
{
    static const char *tables[] = {
        "work_plane.installations", "work_plane.tokens_ref", "work_plane.projects", "work_plane.items",
        "work_plane.item_refs",     "work_plane.pages",      "work_plane.events_cursor",
        "ops.event_queue",          "ops.run_events",        "ops.outbox",
        "ops.schema_migrations",
    };
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tables[i]);
        int64_t n = -1;
        int rc = pb_conn_query_int(c, sql, NULL, 0, &n, &err);
        if (rc) pb_test_fail(__FILE__, __LINE__, "%s: %s", tables[i], err.msg);
        PB_CHECK(tables[i] && n >= 0);
    }
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_value_round_trips)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    const char *nasty = "Ünïcödé ✓ 😀 'single' \"double\" ; DROP TABLE x; -- $1 ? ?1 %s %n \\ work_plane.items ops.x";
    int rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, "
                          "sequence_id, name, sort_order, priority, created_at, updated_at, raw) "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                          (pb_val[]){PB_TEXT("id-1"), PB_TEXT("issue"), PB_TEXT("ws"), PB_NULL,
                                     PB_INT(INT64_MAX), PB_TEXT(nasty), PB_REAL(65535.25),
                                     PB_TEXTN("highXXXX", 4), PB_INT(INT64_MIN), PB_INT(-1),
                                     PB_TEXT("{\"a\":1}")},
                          11, NULL, &err);
    PB_REQUIRE(rc == 0);
    pb_rows *r = NULL;
    PB_REQUIRE(pb_conn_query(c,
                             "SELECT plane_id, project_id, sequence_id, name, sort_order, priority, "
                             "created_at, updated_at FROM work_plane.items WHERE plane_id = $1",
                             (pb_val[]){PB_TEXT("id-1")}, 1, &r, &err) == 0);
    PB_REQUIRE(pb_rows_next(r) == 1);
    PB_CHECK_EQ_INT(pb_rows_ncols(r), 8);
    PB_CHECK_STR(pb_rows_text(r, 0), "id-1");
    PB_CHECK_EQ_INT(pb_rows_isnull(r, 0), 0);
    PB_CHECK_EQ_INT(pb_rows_isnull(r, 1), 1);
    PB_CHECK_STR(pb_rows_text(r, 1), "");
    PB_CHECK(pb_rows_int(r, 2) == INT64_MAX);
    PB_CHECK_STR(pb_rows_text(r, 3), nasty);
    PB_CHECK(pb_rows_real(r, 4) == 65535.25);
    PB_CHECK_STR(pb_rows_text(r, 5), "high");
    PB_CHECK(pb_rows_int(r, 6) == INT64_MIN);
    PB_CHECK_EQ_INT(pb_rows_int(r, 7), -1);
    PB_CHECK_EQ_INT(pb_rows_next(r), 0);
    pb_rows_free(r);

    /* A parameter equal to the stored nasty string finds the row: no injection, no mangling. */
    int64_t n = 0;
    PB_CHECK_EQ_INT(pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.items WHERE name = $1",
                                      (pb_val[]){PB_TEXT(nasty)}, 1, &n, &err),
                    0);
    PB_CHECK_EQ_INT(n, 1);
    /* A real with no exact binary form survives too. */
    PB_CHECK_EQ_INT(pb_conn_exec(c, "UPDATE work_plane.items SET sort_order = $1 WHERE plane_id = $2",
                                 (pb_val[]){PB_REAL(0.1), PB_TEXT("id-1")}, 2, &n, &err),
                    0);
    PB_CHECK_EQ_INT(n, 1);
    PB_REQUIRE(pb_conn_query(c, "SELECT sort_order FROM work_plane.items", NULL, 0, &r, &err) == 0);
    PB_REQUIRE(pb_rows_next(r) == 1);
    PB_CHECK(pb_rows_real(r, 0) == 0.1);
    pb_rows_free(r);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_blob_with_nul_bytes)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    unsigned char body[300];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (unsigned char)(i * 7);
    body[0] = 0;
    body[1] = '\'';
    body[2] = 0;
    static const char *sql = "INSERT INTO ops.event_queue (idempotency_key, source, workspace_slug, "
                             "received_at, body) VALUES ($1, 'test', 'ws', 1, $2)";
    PB_REQUIRE(pb_conn_exec(c, sql, (pb_val[]){PB_TEXT("k1"), PB_BLOB(body, sizeof body)}, 2, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_exec(c, sql, (pb_val[]){PB_TEXT("k2"), PB_BLOB("", 0)}, 2, NULL, &err) == 0);
    pb_rows *r = NULL;
    PB_REQUIRE(pb_conn_query(c, "SELECT body, idempotency_key FROM ops.event_queue ORDER BY id", NULL, 0, &r,
                             &err) == 0);
    PB_REQUIRE(pb_rows_next(r) == 1);
    size_t len = 0;
    const void *b = pb_rows_blob(r, 0, &len);
    PB_CHECK_EQ_INT(len, sizeof body);
    PB_CHECK(b && memcmp(b, body, sizeof body) == 0);
    PB_CHECK_STR(pb_rows_text(r, 1), "k1");
    PB_REQUIRE(pb_rows_next(r) == 1);
    len = 99;
    pb_rows_blob(r, 0, &len);
    PB_CHECK_EQ_INT(len, 0);
    PB_CHECK_EQ_INT(pb_rows_isnull(r, 0), 0);
    PB_CHECK_EQ_INT(pb_rows_next(r), 0);
    pb_rows_free(r);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_unique_conflict)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(put_item(c, "dup", &err), 0);
    PB_CHECK_EQ_INT(put_item(c, "dup", &err), PB_ECONFLICT); /* primary key */
    PB_CHECK_EQ_INT(err.code, PB_ECONFLICT);
    static const char *sql = "INSERT INTO ops.event_queue (idempotency_key, source, workspace_slug, "
                             "received_at, body) VALUES ($1, 'test', 'ws', 1, $2)";
    PB_CHECK_EQ_INT(pb_conn_exec(c, sql, (pb_val[]){PB_TEXT("idem"), PB_BLOB("x", 1)}, 2, NULL, &err), 0);
    PB_CHECK_EQ_INT(pb_conn_exec(c, sql, (pb_val[]){PB_TEXT("idem"), PB_BLOB("y", 1)}, 2, NULL, &err),
                    PB_ECONFLICT); /* UNIQUE column */
    /* A NOT NULL violation is a storage error, not a conflict. */
    int rc = pb_conn_exec(c, sql, (pb_val[]){PB_NULL, PB_BLOB("y", 1)}, 2, NULL, &err);
    PB_CHECK(rc != 0 && rc != PB_ECONFLICT);
    /* The connection is still usable. */
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM ops.event_queue"), 1);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_transaction_visibility)
{
    pb_db *db = open_store(2, 0);
    PB_REQUIRE(db);
    pb_conn *a = NULL, *b = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &a, &err) == 0);
    PB_REQUIRE(pb_db_acquire(db, &b, &err) == 0);
    PB_CHECK(a != b);
    PB_CHECK(pb_conn_db(a) == db);

    PB_CHECK_EQ_INT(pb_conn_begin_write(a, &err), 0);
    PB_CHECK_EQ_INT(put_item(a, "t1", &err), 0);
    PB_CHECK_EQ_INT(count_of(a, "SELECT COUNT(*) FROM work_plane.items"), 1);
    PB_CHECK_EQ_INT(count_of(b, "SELECT COUNT(*) FROM work_plane.items"), 0);
    PB_CHECK_EQ_INT(pb_conn_commit(a, &err), 0);
    PB_CHECK_EQ_INT(count_of(b, "SELECT COUNT(*) FROM work_plane.items"), 1);

    PB_CHECK_EQ_INT(pb_conn_begin(a, &err), 0);
    PB_CHECK_EQ_INT(put_item(a, "t2", &err), 0);
    PB_CHECK_EQ_INT(count_of(a, "SELECT COUNT(*) FROM work_plane.items"), 2);
    PB_CHECK_EQ_INT(pb_conn_rollback(a), 0);
    PB_CHECK_EQ_INT(count_of(a, "SELECT COUNT(*) FROM work_plane.items"), 1);
    PB_CHECK_EQ_INT(count_of(b, "SELECT COUNT(*) FROM work_plane.items"), 1);
    PB_CHECK_EQ_INT(pb_conn_rollback(a), 0); /* outside a transaction: harmless */
    pb_db_release(db, a);
    pb_db_release(db, b);
    pb_db_free(db);
}

PB_STORE_TEST(db_release_rolls_back)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(pb_conn_begin_write(c, &err), 0);
    PB_CHECK_EQ_INT(put_item(c, "r1", &err), 0);
    pb_db_release(db, c);
    c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0); /* the same (only) connection */
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 0);
    PB_CHECK_EQ_INT(pb_conn_begin_write(c, &err), 0); /* not still inside the old transaction */
    PB_CHECK_EQ_INT(put_item(c, "r2", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_commit(c, &err), 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 1);
    pb_db_release(db, c);
    pb_db_release(db, NULL);
    pb_db_free(db);
}

PB_STORE_TEST(db_pool_exhaustion_busy)
{
    pb_db *db = open_store(2, 150);
    PB_REQUIRE(db);
    pb_conn *a = NULL, *b = NULL, *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &a, &err) == 0);
    PB_REQUIRE(pb_db_acquire(db, &b, &err) == 0);
    PB_CHECK_EQ_INT(pb_db_acquire(db, &c, &err), PB_EBUSY);
    PB_CHECK(c == NULL);
    PB_CHECK_EQ_INT(err.code, PB_EBUSY);
    pb_db_release(db, b);
    PB_CHECK_EQ_INT(pb_db_acquire(db, &c, &err), 0);
    PB_CHECK(c == b);
    pb_db_release(db, a);
    pb_db_release(db, c);
    pb_db_free(db);
}

typedef struct {
    pb_db *db;
    int id;
    int n;
    int failures;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *w = p;
    for (int i = 0; i < w->n; i++) {
        char id[64];
        snprintf(id, sizeof id, "w%d-%d", w->id, i);
        int rc;
        for (int attempt = 0; attempt < 50; attempt++) {
            pb_conn *c = NULL;
            pb_error err = {0};
            rc = pb_db_acquire(w->db, &c, &err);
            if (!rc) rc = pb_conn_begin_write(c, &err);
            if (!rc) rc = put_item(c, id, &err);
            if (!rc)
                rc = pb_conn_exec(c,
                                  "INSERT INTO ops.run_events (at, source, action, target) VALUES ($1, 'test', "
                                  "'write', $2)",
                                  (pb_val[]){PB_INT(i), PB_TEXT(id)}, 2, NULL, &err);
            if (!rc) rc = pb_conn_commit(c, &err);
            pb_db_release(w->db, c);
            if (rc != PB_EBUSY) break;
        }
        if (rc) w->failures++;
    }
    return NULL;
}

PB_STORE_TEST(db_concurrent_writers)
{
    enum { THREADS = 4, PER = 40 };
    pb_db *db = open_store(THREADS, 0);
    PB_REQUIRE(db);
    pthread_t th[THREADS];
    writer_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (writer_arg){db, i, PER, 0};
        PB_REQUIRE(pthread_create(&th[i], NULL, writer, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        PB_CHECK_EQ_INT(args[i].failures, 0);
    }
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), THREADS * PER);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM ops.run_events"), THREADS * PER);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(DISTINCT target) FROM ops.run_events"), THREADS * PER);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_schemas_share_one_transaction)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(pb_conn_begin_write(c, &err), 0);
    PB_CHECK_EQ_INT(put_item(c, "s1", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_exec(c,
                                 "INSERT INTO ops.outbox (event_id, type, workspace_slug, occurred_at, payload) "
                                 "VALUES ($1, 'issue.created', 'ws', 1, '{}')",
                                 (pb_val[]){PB_TEXT("e1")}, 1, NULL, &err),
                    0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 1);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM ops.outbox"), 1);
    PB_CHECK_EQ_INT(pb_conn_rollback(c), 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM ops.outbox"), 0);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_helpers_and_errors)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_db_ping(db, &err), 0);
    char ver[64];
    PB_CHECK_EQ_INT(pb_db_server_version(db, ver, sizeof ver, &err), 0);
    PB_CHECK(strchr(ver, '.') != NULL);
    PB_CHECK(strcmp(pb_db_backend_name(db), "sqlite") == 0 || strcmp(pb_db_backend_name(db), "postgres") == 0);
    PB_CHECK(pb_db_backend(db) == PB_DB_SQLITE || pb_db_backend(db) == PB_DB_POSTGRES);

    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    int64_t n = 0;
    char *s = NULL;
    PB_CHECK_EQ_INT(pb_conn_query_int(c, "SELECT sequence_id FROM work_plane.items WHERE plane_id = $1",
                                      (pb_val[]){PB_TEXT("nope")}, 1, &n, &err),
                    PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_conn_query_text(c, "SELECT name FROM work_plane.items", NULL, 0, &s, &err), PB_ENOTFOUND);
    PB_CHECK(s == NULL);
    PB_CHECK_EQ_INT(put_item(c, "h1", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_query_text(c, "SELECT item_type FROM work_plane.items WHERE plane_id = $1",
                                       (pb_val[]){PB_TEXT("h1")}, 1, &s, &err),
                    0);
    PB_CHECK_STR(s, "issue");
    free(s);
    /* changes count */
    PB_CHECK_EQ_INT(put_item(c, "h2", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_exec(c, "UPDATE work_plane.items SET name = $1", (pb_val[]){PB_TEXT("n")}, 1, &n,
                                 &err),
                    0);
    PB_CHECK_EQ_INT(n, 2);
    /* wrong parameter count and bad SQL fail cleanly */
    PB_CHECK(pb_conn_exec(c, "UPDATE work_plane.items SET name = $1 WHERE plane_id = $2",
                          (pb_val[]){PB_TEXT("n")}, 1, NULL, &err) < 0);
    PB_CHECK(pb_conn_exec(c, "UPDATE no_such_table SET x = 1", NULL, 0, NULL, &err) < 0);
    PB_CHECK(pb_conn_exec(c, "THIS IS NOT SQL", NULL, 0, NULL, &err) < 0);
    /* the same statement nested inside its own open result (cached statement busy) */
    pb_rows *outer = NULL, *inner = NULL;
    static const char *q = "SELECT plane_id FROM work_plane.items ORDER BY plane_id";
    PB_REQUIRE(pb_conn_query(c, q, NULL, 0, &outer, &err) == 0);
    int rows = 0;
    while (pb_rows_next(outer) == 1) {
        PB_REQUIRE(pb_conn_query(c, q, NULL, 0, &inner, &err) == 0);
        PB_CHECK_EQ_INT(pb_rows_next(inner), 1);
        PB_CHECK_STR(pb_rows_text(inner, 0), "h1");
        pb_rows_free(inner);
        rows++;
    }
    PB_CHECK_EQ_INT(rows, 2);
    pb_rows_free(outer);
    pb_rows_free(NULL);
    /* multi-statement script */
    PB_CHECK_EQ_INT(pb_conn_exec_script(c,
                                        "DELETE FROM work_plane.items WHERE plane_id = 'h1';\n"
                                        "UPDATE work_plane.items SET name = 'it''s; done' WHERE plane_id = 'h2';",
                                        &err),
                    0);
    PB_CHECK_EQ_INT(pb_conn_query_text(c, "SELECT name FROM work_plane.items", NULL, 0, &s, &err), 0);
    PB_CHECK_STR(s, "it's; done");
    free(s);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_broken_connection_recovers)
{
    /* PostgreSQL: kill the session behind a pooled connection; the next acquire reconnects
     * (and re-prepares cached statements). SQLite has no session to kill: the same sequence
     * must simply keep working. */
    pb_db *db = open_store(2, 0);
    PB_REQUIRE(db);
    pb_conn *a = NULL, *b = NULL;
    pb_error err = {0};
    static const char *q = "SELECT COUNT(*) FROM work_plane.items WHERE item_type = $1";
    int64_t n = -1;
    PB_REQUIRE(pb_db_acquire(db, &a, &err) == 0);
    PB_CHECK_EQ_INT(pb_conn_query_int(a, q, (pb_val[]){PB_TEXT("issue")}, 1, &n, &err), 0);
    if (pb_db_backend(db) == PB_DB_POSTGRES) {
        int64_t pid = 0, killed = 0;
        PB_CHECK_EQ_INT(pb_conn_query_int(a, "SELECT pg_backend_pid()", NULL, 0, &pid, &err), 0);
        PB_REQUIRE(pb_db_acquire(db, &b, &err) == 0);
        PB_CHECK_EQ_INT(pb_conn_query_int(b, "SELECT CASE WHEN pg_terminate_backend($1) THEN 1 ELSE 0 END",
                                          (pb_val[]){PB_INT(pid)}, 1, &killed, &err),
                        0);
        PB_CHECK_EQ_INT(killed, 1);
        pb_db_release(db, b);
        /* The dead session is noticed on first use... */
        PB_CHECK(pb_conn_query_int(a, q, (pb_val[]){PB_TEXT("issue")}, 1, &n, &err) < 0);
    }
    pb_db_release(db, a);
    /* ...and repaired on the next acquire: both pooled connections work again. */
    PB_REQUIRE(pb_db_acquire(db, &a, &err) == 0);
    PB_REQUIRE(pb_db_acquire(db, &b, &err) == 0);
    PB_CHECK_EQ_INT(put_item(a, "after", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_query_int(a, q, (pb_val[]){PB_TEXT("issue")}, 1, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    PB_CHECK_EQ_INT(pb_conn_query_int(b, q, (pb_val[]){PB_TEXT("issue")}, 1, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_db_release(db, a);
    pb_db_release(db, b);
    PB_CHECK_EQ_INT(pb_db_ping(db, &err), 0);
    pb_db_free(db);
}

PB_STORE_TEST(db_failed_statement_in_transaction)
{
    /* After an error inside a transaction the caller rolls back and carries on; a commit of
     * such a transaction must not silently report success on either backend. */
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(put_item(c, "x1", &err), 0);
    PB_CHECK_EQ_INT(pb_conn_begin_write(c, &err), 0);
    PB_CHECK_EQ_INT(put_item(c, "x2", &err), 0);
    PB_CHECK_EQ_INT(put_item(c, "x1", &err), PB_ECONFLICT);
    PB_CHECK_EQ_INT(pb_conn_rollback(c), 0);
    PB_CHECK_EQ_INT(count_of(c, "SELECT COUNT(*) FROM work_plane.items"), 1);
    pb_db_release(db, c);
    pb_db_free(db);
}

typedef struct {
    const char *url;
    int rc;
    int version;
    char msg[PB_ERROR_MSG_MAX];
} migrator_arg;

static void *migrator(void *p)
{
    migrator_arg *m = p;
    pb_db *db = NULL;
    pb_error err = {0};
    m->rc = pb_db_open(m->url, &(pb_db_options){.pool_size = 1, .busy_timeout_ms = 20000}, &db, &err);
    if (!m->rc) m->rc = pb_db_migrate(db, &err);
    if (!m->rc) m->rc = pb_db_schema_version(db, &m->version, &err);
    snprintf(m->msg, sizeof m->msg, "%s", err.msg);
    pb_db_free(db);
    return NULL;
}

PB_STORE_TEST(db_concurrent_migrations_on_empty_store)
{
    /* Several "processes" (independent pools) start on the same empty store at once. */
    enum { N = 4 };
    char url[1200], name[200] = "";
    pb_db *admin = NULL;
    pb_conn *c = NULL;
    pb_error err = {0};
    const char *base = pb_test_store_url();
    if (strncmp(base, "sqlite:", 7) == 0) {
        snprintf(url, sizeof url, "sqlite:%s/concurrent.db", pb_test_tmpdir());
    } else { /* a second, empty database next to the test database */
        const char *slash = strrchr(base, '/');
        PB_REQUIRE(slash);
        const char *q = strchr(slash, '?');
        size_t nlen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
        snprintf(name, sizeof name, "%.*s_m", (int)nlen, slash + 1);
        snprintf(url, sizeof url, "%.*s%s%s", (int)(slash - base + 1), base, name, q ? q : "");
        PB_REQUIRE(pb_db_open(base, &(pb_db_options){.pool_size = 1}, &admin, &err) == 0);
        PB_REQUIRE(pb_db_acquire(admin, &c, &err) == 0);
        char sql[300];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        PB_REQUIRE(pb_conn_exec(c, sql, NULL, 0, NULL, &err) == 0);
    }
    pthread_t th[N];
    migrator_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (migrator_arg){.url = url};
        PB_REQUIRE(pthread_create(&th[i], NULL, migrator, &args[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (args[i].rc) pb_test_fail(__FILE__, __LINE__, "migrator %d: %d %s", i, args[i].rc, args[i].msg);
        PB_CHECK(args[i].version >= 1);
        PB_CHECK_EQ_INT(args[i].version, args[0].version);
    }
    pb_db *db = NULL;
    pb_conn *d = NULL;
    PB_REQUIRE(pb_db_open(url, NULL, &db, &err) == 0);
    PB_REQUIRE(pb_db_acquire(db, &d, &err) == 0);
    PB_CHECK_EQ_INT(count_of(d, "SELECT COUNT(*) FROM ops.schema_migrations"),
                    count_of(d, "SELECT COUNT(DISTINCT version) FROM ops.schema_migrations"));
    PB_CHECK_EQ_INT(count_of(d, "SELECT MAX(version) FROM ops.schema_migrations"), args[0].version);
    pb_db_release(db, d);
    pb_db_free(db);
    if (admin) {
        char sql[300];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", name);
        PB_CHECK_EQ_INT(pb_conn_exec(c, sql, NULL, 0, NULL, &err), 0);
        pb_db_release(admin, c);
        pb_db_free(admin);
    }
}

PB_STORE_TEST(db_cached_statements_survive_schema_change)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    pb_rows *r = NULL;
    static const char *q = "SELECT * FROM ops.tmp_t";
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_REQUIRE(pb_conn_exec(c, "CREATE TABLE ops.tmp_t (a INTEGER)", NULL, 0, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_exec(c, "INSERT INTO ops.tmp_t (a) VALUES (7)", NULL, 0, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_query(c, q, NULL, 0, &r, &err) == 0);
    PB_CHECK_EQ_INT(pb_rows_next(r), 1);
    PB_CHECK_EQ_INT(pb_rows_ncols(r), 1);
    pb_rows_free(r);
    PB_REQUIRE(pb_conn_exec(c, "ALTER TABLE ops.tmp_t ADD COLUMN b INTEGER", NULL, 0, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_query(c, q, NULL, 0, &r, &err) == 0);
    PB_CHECK_EQ_INT(pb_rows_next(r), 1);
    PB_CHECK_EQ_INT(pb_rows_ncols(r), 2);
    PB_CHECK_EQ_INT(pb_rows_int(r, 0), 7);
    PB_CHECK_EQ_INT(pb_rows_isnull(r, 1), 1);
    pb_rows_free(r);
    if (pb_db_backend(db) == PB_DB_POSTGRES) { /* a pooler-style DISCARD drops prepared statements */
        PB_REQUIRE(pb_conn_exec(c, "DEALLOCATE ALL", NULL, 0, NULL, &err) == 0);
        int64_t a = 0;
        PB_CHECK_EQ_INT(pb_conn_query_int(c, q, NULL, 0, &a, &err), 0);
        PB_CHECK_EQ_INT(a, 7);
    }
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(db_statements_prepared_once_per_connection)
{
    pb_db *db = open_store(1, 0);
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    static const char *q = "SELECT COUNT(*) FROM work_plane.items WHERE workspace_slug = $1";
    for (int i = 0; i < 50; i++) {
        int64_t n = -1;
        char ws[32];
        snprintf(ws, sizeof ws, "ws%d", i);
        PB_CHECK_EQ_INT(pb_conn_query_int(c, q, (pb_val[]){PB_TEXT(ws)}, 1, &n, &err), 0);
        PB_CHECK_EQ_INT(n, 0);
    }
    if (pb_db_backend(db) == PB_DB_POSTGRES) {
        int64_t prepared = -1;
        PB_CHECK_EQ_INT(pb_conn_query_int(c, "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = $1",
                                          (pb_val[]){PB_TEXT(q)}, 1, &prepared, &err),
                        0);
        PB_CHECK_EQ_INT(prepared, 1);
    }
    pb_db_release(db, c);
    pb_db_free(db);
}
