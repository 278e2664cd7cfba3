/* Contract tests of pb_ss_budget_hold / _serve / _release (src/store/sync_store.h): budget
 * writes of another thread while this process holds the SQLite write lock. */
#include "test.h"

#include "core/util.h"
#include "store/db.h"
#include "store/sync_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static pb_db *open_store(void)
{
    pb_db *db = NULL;
    pb_error err = {0};
    if (pb_db_open(pb_test_store_url(), NULL, &db, &err) || pb_db_migrate(db, &err)) {
        pb_test_fail(__FILE__, __LINE__, "store: %s", err.msg);
        return NULL;
    }
    return db;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct borrower {
    pb_db *db;
    atomic_int started, done;
    int rc_take, rc_put, granted;
    int64_t reset;
} borrower;

/* What the governor does from the fetch thread: reserve 4 requests, then push an answer. */
static void *borrower_main(void *arg)
{
    borrower *b = arg;
    pb_error err = {0};
    atomic_store(&b->started, 1);
    b->rc_take = pb_ss_budget_take(b->db, "k", 4, &b->granted, &b->reset, &err);
    pb_ss_budget obs = {.lim = 60, .remaining = 9, .reset_at = 1, .observed_at = 40};
    b->rc_put = pb_ss_budget_put(b->db, "k", &obs, 2, 0, &err); /* older: only the counters count */
    atomic_store(&b->done, 1);
    return NULL;
}

static const pb_ss_row item = {.id = "11111111-1111-4111-8111-111111111111",
                               .item_type = "issue",
                               .workspace = "acme",
                               .project_id = "p1",
                               .name = "row",
                               .created_at = 10,
                               .updated_at = 20,
                               .synced_at = 1,
                               .is_active = 1,
                               .raw = "{}"};

static int seed_budget(pb_db *db, pb_error *err)
{
    pb_ss_budget b = {.lim = 60, .remaining = 10, .reset_at = 100, .observed_at = 50};
    return pb_ss_budget_put(db, "k", &b, 0, 0, err);
}

PB_STORE_TEST(sync_store_budget_hold_lends_the_writer)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    PB_REQUIRE(seed_budget(db, &err) == 0);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_REQUIRE(pb_conn_begin_write(c, &err) == 0);
    int changed = 0;
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &item, &changed, &err), 0);
    pb_ss_budget_hold(c);

    /* the holder's own thread uses its connection directly (no wait on itself) */
    int granted = -1;
    int64_t reset = -1;
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "k", 1, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 1);

    /* another thread: served between the holder's rows, before its commit (on SQLite it would
     * otherwise wait for the write lock, and fail after the busy timeout) */
    borrower b = {.db = db};
    pthread_t th;
    PB_REQUIRE(pthread_create(&th, NULL, borrower_main, &b) == 0);
    for (int i = 0; i < 20000 && !atomic_load(&b.done); i++) {
        pb_ss_budget_serve(c);
        nap_ms(1);
    }
    int done_before_commit = atomic_load(&b.done);
    PB_CHECK(done_before_commit);
    PB_CHECK_EQ_INT(b.rc_take, 0);
    PB_CHECK_EQ_INT(b.rc_put, 0);
    PB_CHECK_EQ_INT(b.granted, 4);
    PB_CHECK(b.reset == 100);
    pb_ss_budget_release(c, 1);
    PB_CHECK_EQ_INT(pb_conn_commit(c, &err), 0);
    pthread_join(th, NULL);
    pb_db_release(db, c);

    pb_ss_budget got;
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 5); /* 10 - 1 - 4: both reservations, in order */
    PB_CHECK_EQ_INT(got.requests, 2);
    PB_CHECK_EQ_INT(got.observed_at, 50); /* the older observation did not win */

    /* released: a budget call takes a connection of its own again */
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "k", 2, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 2);
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 3);
    pb_db_free(db);
}

PB_STORE_TEST(sync_store_budget_hold_rollback_hands_back)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    PB_REQUIRE(seed_budget(db, &err) == 0);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_REQUIRE(pb_conn_begin_write(c, &err) == 0);
    int changed = 0;
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &item, &changed, &err), 0);
    pb_ss_budget_hold(c);
    borrower b = {.db = db};
    pthread_t th;
    PB_REQUIRE(pthread_create(&th, NULL, borrower_main, &b) == 0);
    while (!atomic_load(&b.started)) nap_ms(1);
    nap_ms(50); /* let it queue (either way the outcome below is the same) */
    /* the transaction fails: nothing is served in it; the borrower waits for the lock itself */
    pb_ss_budget_release(c, 0);
    pb_conn_rollback(c);
    pb_db_release(db, c);
    pthread_join(th, NULL);
    PB_CHECK_EQ_INT(b.rc_take, 0);
    PB_CHECK_EQ_INT(b.rc_put, 0);
    PB_CHECK_EQ_INT(b.granted, 4);
    pb_ss_budget got;
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 6); /* its reservation survived the holder's rollback */
    PB_CHECK_EQ_INT(got.requests, 2);

    pb_conn *q = NULL;
    int64_t rows = -1;
    PB_REQUIRE(pb_db_acquire(db, &q, &err) == 0);
    PB_CHECK_EQ_INT(pb_conn_query_int(q, "SELECT COUNT(*) FROM work_plane.items", NULL, 0, &rows, &err), 0);
    PB_CHECK_EQ_INT(rows, 0); /* the holder's row was rolled back */
    pb_db_release(db, q);
    pb_db_free(db);
}

static int64_t count_refs(pb_conn *c, const char *item_id, const char *kind)
{
    int64_t n = -1;
    pb_val p[] = {PB_TEXT(item_id), PB_TEXT(kind)};
    pb_error err = {0};
    if (pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.item_refs WHERE item_id = $1 AND kind = $2", p, 2,
                          &n, &err))
        return -1;
    return n;
}

PB_STORE_TEST(sync_store_refs_clear2_is_two_empty_replaces)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    const char *i1 = "11111111-1111-4111-8111-111111111111", *i2 = "22222222-2222-4222-8222-222222222222";
    const char *two[] = {"u1", "u2"}, *one[] = {"l1"};
    PB_CHECK_EQ_INT(pb_ss_refs_replace(c, i1, "assignee", two, 2, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_refs_replace(c, i1, "label", one, 1, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_refs_replace(c, i1, "cycle", one, 1, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_refs_replace(c, i2, "assignee", two, 2, 1, &err), 0);
    PB_CHECK_EQ_INT(count_refs(c, i1, "assignee"), 2);
    PB_CHECK_EQ_INT(pb_ss_refs_clear2(c, i1, "assignee", "label", &err), 0);
    PB_CHECK_EQ_INT(count_refs(c, i1, "assignee"), 0);
    PB_CHECK_EQ_INT(count_refs(c, i1, "label"), 0);
    PB_CHECK_EQ_INT(count_refs(c, i1, "cycle"), 1);    /* other kinds stay */
    PB_CHECK_EQ_INT(count_refs(c, i2, "assignee"), 2); /* other items stay */
    PB_CHECK_EQ_INT(pb_ss_refs_clear2(c, i1, "assignee", "label", &err), 0); /* nothing left: fine */
    pb_db_release(db, c);
    pb_db_free(db);
}
