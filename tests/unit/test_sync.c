/* Unit/contract tests of the upstream mirror: governor decisions, timestamp normalisation and
 * canonical JSON, and sync_store on both backends. The end-to-end behaviour (two daemons and a
 * fault-injecting proxy) is tests/integration/sync.sh. */
#include "core/util.h"
#include "store/db.h"
#include "store/sync_store.h"
#include "sync/governor.h"
#include "sync/sync.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- governor */

PB_TEST(sync_governor_probe_then_budget)
{
    int64_t w = 0;
    /* unknown budget: one probe at a time */
    PB_CHECK_EQ_INT(pb_gov_decide(-1, 0, 8, 5, 1000, 0, 0, &w), 1);
    PB_CHECK_EQ_INT(pb_gov_decide(-1, 1, 8, 5, 1000, 0, 0, &w), 0);
    /* known budget: remaining minus in flight, capped by parallelism and want */
    PB_CHECK_EQ_INT(pb_gov_decide(10, 0, 8, 5, 1000, 0, 0, &w), 5);
    PB_CHECK_EQ_INT(pb_gov_decide(10, 0, 4, 9, 1000, 0, 0, &w), 4);
    PB_CHECK_EQ_INT(pb_gov_decide(3, 1, 8, 9, 1000, 0, 0, &w), 2);
    PB_CHECK_EQ_INT(pb_gov_decide(3, 3, 8, 9, 1000, 0, 0, &w), 0);
    PB_CHECK_EQ_INT(w, 0); /* wait for an answer, not a time */
}

PB_TEST(sync_governor_exhausted_waits_for_reset)
{
    int64_t w = 0;
    PB_CHECK_EQ_INT(pb_gov_decide(0, 0, 8, 1, 1000000, 61000000, 0, &w), 0);
    PB_CHECK_EQ_INT(w, 60000000);
    /* window passed: probe again */
    PB_CHECK_EQ_INT(pb_gov_decide(0, 0, 8, 1, 62000000, 61000000, 0, &w), 1);
}

PB_TEST(sync_governor_429_blocks_everyone)
{
    int64_t w = 0;
    PB_CHECK_EQ_INT(pb_gov_decide(50, 0, 8, 1, 1000000, 0, 3000000, &w), 0);
    PB_CHECK_EQ_INT(w, 2000000);
    pb_gov *g = pb_gov_new("http://x|k", NULL);
    PB_REQUIRE(g);
    PB_CHECK_EQ_INT(pb_gov_acquire(g, 4, NULL), 1); /* probe */
    pb_gov_done(g, 200, 3, 60, 0, 0);
    PB_CHECK_EQ_INT(pb_gov_acquire(g, 8, NULL), 3); /* the announced remaining */
    pb_gov_done(g, 429, -1, -1, 0, 30);
    pb_gov_done(g, 200, 1, 60, 0, 0);
    pb_gov_done(g, 200, 0, 60, 0, 0);
    volatile int stop = 1; /* blocked for 30 s: a stopped caller gets 0 at once */
    PB_CHECK_EQ_INT(pb_gov_acquire(g, 1, &stop), 0);
    pb_gov_stats st;
    pb_gov_stats_get(g, &st);
    PB_CHECK_EQ_INT(st.requests, 4);
    PB_CHECK_EQ_INT(st.throttled, 1);
    PB_CHECK_EQ_INT(st.limit, 60);
    pb_gov_free(g);
}

PB_TEST(sync_governor_shared_per_key)
{
    pb_gov *a = pb_gov_get("http://up|key1", NULL), *b = pb_gov_get("http://up|key1", NULL);
    pb_gov *c = pb_gov_get("http://up|key2", NULL);
    PB_CHECK(a && a == b);
    PB_CHECK(c && c != a);
    pb_gov_release(a);
    pb_gov_release(b);
    pb_gov_release(c);
}

/* ---------------------------------------------------------------- normalisation */

PB_TEST(sync_normalize_offsets_to_utc)
{
    cJSON *o = cJSON_Parse("{\"created_at\":\"2026-11-21T15:50:30.123456+05:30\",\"d\":\"2026-11-21\","
                           "\"n\":{\"x\":[\"2026-11-21T10:20:30.123456Z\",\"2026-11-21T05:20:30-05:00\"]},"
                           "\"name\":\"2026-11-21T10:20 is not a time\"}");
    PB_REQUIRE(o);
    pb_sync_normalize(o);
    PB_CHECK_STR(cJSON_GetObjectItem(o, "created_at")->valuestring, "2026-11-21T10:20:30.123456Z");
    PB_CHECK_STR(cJSON_GetObjectItem(o, "d")->valuestring, "2026-11-21");
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "n"), "x");
    PB_CHECK_STR(cJSON_GetArrayItem(x, 0)->valuestring, "2026-11-21T10:20:30.123456Z");
    PB_CHECK_STR(cJSON_GetArrayItem(x, 1)->valuestring, "2026-11-21T10:20:30.000000Z");
    PB_CHECK_STR(cJSON_GetObjectItem(o, "name")->valuestring, "2026-11-21T10:20 is not a time");
    cJSON_Delete(o);
}

PB_TEST(sync_canonical_ignores_key_order_and_spacing)
{
    cJSON *a = cJSON_Parse("{\"b\":1,\"a\":{\"y\":[1,2.5,\"s\"],\"x\":null},\"c\":true}");
    cJSON *b = cJSON_Parse("{ \"c\": true, \"a\": {\"x\": null, \"y\": [1, 2.5, \"s\"]}, \"b\": 1.0 }");
    cJSON *c = cJSON_Parse("{\"c\":true,\"a\":{\"x\":null,\"y\":[2.5,1,\"s\"]},\"b\":1}");
    PB_REQUIRE(a && b && c);
    char *sa = pb_sync_canonical(a), *sb = pb_sync_canonical(b), *sc = pb_sync_canonical(c);
    PB_REQUIRE(sa && sb && sc);
    PB_CHECK_STR(sa, "{\"a\":{\"x\":null,\"y\":[1,2.5,\"s\"]},\"b\":1,\"c\":true}");
    PB_CHECK_STR(sa, sb);
    PB_CHECK(strcmp(sa, sc) != 0); /* array order matters */
    free(sa);
    free(sb);
    free(sc);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* ---------------------------------------------------------------- sync_store */

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

PB_STORE_TEST(sync_store_connect_and_cursor)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    char space[64] = "", space2[64] = "";
    PB_CHECK_EQ_INT(pb_ss_connect(db, "acme", "http://up.example", space, &err), 0);
    PB_CHECK(pb_uuid_valid(space));
    PB_CHECK_EQ_INT(pb_ss_connect(db, "acme", "http://other.example", space2, &err), 0);
    PB_CHECK_STR(space, space2); /* re-pointing keeps the tenant */
    PB_CHECK_EQ_INT(pb_ss_connect(db, "beta", "http://up.example", NULL, &err), 0);
    pb_ss_install *in = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_ss_installs(db, NULL, &in, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 2);
    if (n == 2) {
        PB_CHECK_STR(in[0].slug, "acme");
        PB_CHECK_STR(in[0].upstream_url, "http://other.example");
        PB_CHECK_STR(in[0].writeback_policy, "disabled");
    }
    free(in);

    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(pb_ss_write_blocked(c, "acme"), 1);
    PB_CHECK_EQ_INT(pb_ss_write_blocked(c, "nope"), 0);
    pb_ss_cursor cur;
    PB_CHECK_EQ_INT(pb_ss_cursor_get(c, "acme", "issues", "p1", &cur, &err), 0);
    PB_CHECK_EQ_INT(cur.exists, 0);
    PB_CHECK_STR(cur.phase, "new");
    pb_ss_cursor_clear(&cur);
    pb_ss_cursor w = {.watermark = 42, .next_page = 7};
    pb_strlcpy(w.phase, "backfill", sizeof w.phase);
    PB_CHECK_EQ_INT(pb_ss_cursor_put(c, "acme", "issues", "p1", &w, 1, &err), 0);
    w.next_page = 8;
    PB_CHECK_EQ_INT(pb_ss_cursor_put(c, "acme", "issues", "p1", &w, 2, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_cursor_get(c, "acme", "issues", "p1", &cur, &err), 0);
    PB_CHECK_EQ_INT(cur.exists, 1);
    PB_CHECK_EQ_INT(cur.next_page, 8);
    PB_CHECK_EQ_INT(cur.watermark, 42);
    PB_CHECK_STR(cur.phase, "backfill");
    pb_ss_cursor_clear(&cur);
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(pb_ss_cursor_reset(db, "acme", &err), 0);
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    PB_CHECK_EQ_INT(pb_ss_cursor_get(c, "acme", "issues", "p1", &cur, &err), 0);
    PB_CHECK_EQ_INT(cur.exists, 0);
    pb_ss_cursor_clear(&cur);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(sync_store_upsert_never_backwards)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    const char *id = "11111111-1111-4111-8111-111111111111";
    pb_ss_row r = {.id = id, .item_type = "issue", .workspace = "acme", .project_id = "p1", .name = "v2",
                   .created_at = 10, .updated_at = 200, .synced_at = 1, .is_active = 1, .raw = "{\"v\":2}"};
    int changed = 0;
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &r, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 1);
    /* an older version changes nothing */
    pb_ss_row old = r;
    old.updated_at = 100;
    old.raw = "{\"v\":1}";
    old.name = "v1";
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &old, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 0);
    /* the same version again changes nothing (dedup) */
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &r, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 0);
    /* same updated_at, different content (a computed counter): refreshed */
    pb_ss_row same = r;
    same.raw = "{\"v\":2,\"count\":3}";
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &same, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 1);
    char *name = NULL;
    pb_val p[] = {PB_TEXT(id)};
    PB_CHECK_EQ_INT(pb_conn_query_text(c, "SELECT name FROM work_plane.items WHERE plane_id = $1", p, 1, &name, &err), 0);
    PB_CHECK_STR(name, "v2");
    free(name);
    /* deletion, then the row shows up upstream again: revived */
    PB_CHECK_EQ_INT(pb_ss_mark_deleted(c, 0, id, 300, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 1);
    PB_CHECK_EQ_INT(pb_ss_mark_deleted(c, 0, id, 301, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 0);
    pb_ss_idrow *live = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_ss_list_live(c, "acme", "issue", "p1", NULL, 0, &live, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 0);
    pb_ss_idrows_free(live, n);
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &same, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 1);
    PB_CHECK_EQ_INT(pb_ss_list_live(c, "acme", "issue", "p1", NULL, 1, &live, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 1);
    if (n == 1) PB_CHECK(strstr(live[0].raw, "count") != NULL);
    pb_ss_idrows_free(live, n);

    pb_ss_project pr = {.id = "22222222-2222-4222-8222-222222222222", .workspace = "acme", .identifier = "AC",
                        .name = "Acme", .created_at = 1, .updated_at = 5, .synced_at = 1, .raw = "{}"};
    PB_CHECK_EQ_INT(pb_ss_upsert_project(c, &pr, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 1);
    pr.updated_at = 4;
    pr.name = "Older";
    PB_CHECK_EQ_INT(pb_ss_upsert_project(c, &pr, &changed, &err), 0);
    PB_CHECK_EQ_INT(changed, 0);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(sync_store_refs_members_and_budget)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    const char *i1 = "11111111-1111-4111-8111-111111111111", *i2 = "33333333-3333-4333-8333-333333333333";
    pb_ss_row r = {.item_type = "issue", .workspace = "acme", .project_id = "p1", .created_at = 1, .updated_at = 1,
                   .synced_at = 1, .is_active = 1, .raw = "{}"};
    r.id = i1;
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &r, NULL, &err), 0);
    r.id = i2;
    PB_CHECK_EQ_INT(pb_ss_upsert_item(c, &r, NULL, &err), 0);
    const char *both[] = {i1, i2};
    PB_CHECK_EQ_INT(pb_ss_membership_replace(c, "cycle", "cy1", both, 2, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_membership_replace(c, "cycle", "cy1", both + 1, 1, 1, &err), 0);
    char(*ids)[40] = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_ss_membership_ids(c, "cycle", "cy1", &ids, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 1);
    if (n == 1) PB_CHECK_STR(ids[0], i2);
    free(ids);
    pb_ss_rel rel = {.item_id = i2, .kind = "relation_blocked_by", .ref_id = i1};
    PB_CHECK_EQ_INT(pb_ss_relations_replace(c, i1, &rel, 1, 1, &err), 0);
    char **rows = NULL;
    PB_CHECK_EQ_INT(pb_ss_relation_rows(c, i1, &rows, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 1);
    pb_ss_strings_free(rows, n);
    /* a relation to a deleted issue is not listed */
    PB_CHECK_EQ_INT(pb_ss_mark_deleted(c, 0, i2, 5, NULL, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_relation_rows(c, i1, &rows, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 0);
    pb_ss_strings_free(rows, n);

    int skipped = 0;
    PB_CHECK_EQ_INT(pb_ss_upsert_user(c, "acme", "u1", "Ada@Example.com", "Ada", "L", "ada", 20, 1, &skipped, &err), 0);
    PB_CHECK_EQ_INT(skipped, 0);
    PB_CHECK_EQ_INT(pb_ss_upsert_user(c, "acme", "u2", "ada@example.com", "", "", "", 15, 1, &skipped, &err), 0);
    PB_CHECK_EQ_INT(skipped, 1); /* the e-mail belongs to another user */
    PB_CHECK_EQ_INT(pb_ss_upsert_user(c, "acme", "u3", "bob@example.com", "", "", "", 15, 1, &skipped, &err), 0);
    const char *keep[] = {"u1"};
    int64_t removed = 0;
    PB_CHECK_EQ_INT(pb_ss_members_prune(c, "acme", keep, 1, &removed, &err), 0);
    PB_CHECK_EQ_INT(removed, 1);
    PB_CHECK_EQ_INT(pb_ss_member_rows(c, "acme", &rows, &n, &err), 0);
    PB_CHECK_EQ_INT((int)n, 1);
    if (n == 1) PB_CHECK_STR(rows[0], "u1 ada@example.com 20");
    pb_ss_strings_free(rows, n);
    pb_db_release(db, c);

    pb_ss_budget b = {.lim = 60, .remaining = 10, .reset_at = 100, .observed_at = 50};
    pb_ss_budget got;
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &b, 3, 0, &err), 0);
    pb_ss_budget older = {.lim = 60, .remaining = 59, .reset_at = 90, .observed_at = 40, .blocked_until = 500};
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &older, 2, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 10);    /* an older observation does not win */
    PB_CHECK_EQ_INT(got.blocked_until, 500); /* but a 429 block always does */
    PB_CHECK_EQ_INT(got.requests, 5);
    PB_CHECK_EQ_INT(got.throttled, 1);

    /* reservations: take lowers remaining atomically; a later answer only lowers it further;
     * a probe's answer (accept) opens a new window */
    int granted = -1;
    int64_t reset = -1;
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "none", 3, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 0); /* no row: nothing known, nothing granted */
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "k", 4, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 4);
    PB_CHECK(reset == 100);
    pb_ss_budget later = {.lim = 60, .remaining = 8, .reset_at = 160, .observed_at = 60};
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &later, 1, 0, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 6); /* 10 - 4 taken; the answer (8) did not count those */
    later.remaining = 3;
    later.observed_at = 70;
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &later, 1, 0, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "k", 5, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 3); /* partial grant */
    PB_CHECK_EQ_INT(pb_ss_budget_take(db, "k", 1, &granted, &reset, &err), 0);
    PB_CHECK_EQ_INT(granted, 0);
    PB_CHECK(reset == 160);
    pb_ss_budget probe = {.lim = 60, .remaining = 59, .reset_at = 300, .observed_at = 200, .accept = 1};
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &probe, 1, 0, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 59);
    /* within a live window a probe's answer is just an answer: it cannot hand back what other
     * processes reserved */
    pb_ss_budget live = {.lim = 60, .remaining = 10, .reset_at = pb_now_us() + 60000000, .observed_at = 300};
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &live, 1, 0, &err), 0);
    pb_ss_budget probe2 = {.lim = 60, .remaining = 50, .reset_at = live.reset_at, .observed_at = 400, .accept = 1};
    PB_CHECK_EQ_INT(pb_ss_budget_put(db, "k", &probe2, 1, 0, &err), 0);
    PB_CHECK_EQ_INT(pb_ss_budget_get(db, "k", &got, &err), 0);
    PB_CHECK_EQ_INT(got.remaining, 10);
    pb_db_free(db);
}

PB_STORE_TEST(sync_governor_budget_shared_through_store)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    /* process 1 learns the budget from an answer; process 2 (another governor on the same
     * store and key) starts from it instead of probing */
    pb_gov *g1 = pb_gov_new("http://up|shared", db);
    PB_REQUIRE(g1);
    PB_CHECK_EQ_INT(pb_gov_acquire(g1, 1, NULL), 1);
    pb_gov_done(g1, 200, 5, 60, 0, 0);
    pb_gov *g2 = pb_gov_new("http://up|shared", db);
    PB_REQUIRE(g2);
    PB_CHECK_EQ_INT(pb_gov_acquire(g2, 8, NULL), 5);
    for (int i = 0; i < 5; i++) pb_gov_done(g2, 200, 4 - i, 60, 0, 0);
    /* a 429 seen by one process blocks the others */
    PB_CHECK_EQ_INT(pb_gov_acquire(g1, 1, NULL), 1);
    pb_gov_done(g1, 429, -1, -1, 0, 30);
    pb_gov *g3 = pb_gov_new("http://up|shared", db);
    PB_REQUIRE(g3);
    pb_gov_sync_shared(g3);
    pb_gov_stats st;
    pb_gov_stats_get(g3, &st);
    PB_CHECK(st.blocked_until_us > pb_now_us() + 20 * 1000000LL);
    PB_CHECK_EQ_INT(st.remaining, 0);
    volatile int stop = 1;
    PB_CHECK_EQ_INT(pb_gov_acquire(g3, 1, &stop), 0);
    pb_gov_free(g1);
    pb_gov_free(g2);
    pb_gov_free(g3);
    pb_db_free(db);
}

typedef struct stop_flag {
    volatile int stop;
} stop_flag;

static void *stop_later(void *arg)
{
    stop_flag *f = arg;
    struct timespec d = {0, 300 * 1000000L};
    nanosleep(&d, NULL);
    f->stop = 1;
    return NULL;
}

/* Two governors on one store (two processes) draw from one budget: what one reserved the
 * other cannot spend, so together they never send more than the upstream announced. */
PB_STORE_TEST(sync_governor_reservations_across_processes)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_gov *g1 = pb_gov_new("http://up|ledger", db);
    pb_gov *g2 = pb_gov_new("http://up|ledger", db);
    PB_REQUIRE(g1 && g2);
    int64_t reset_s = pb_now_us() / 1000000 + 60;
    PB_CHECK_EQ_INT(pb_gov_acquire(g1, 1, NULL), 1); /* the probe */
    pb_gov_done(g1, 200, 5, 19, reset_s, 0);       /* 5 left; limit 19: no reservation block */
    pb_gov_sync_shared(g2);                          /* g2 learns "5 left" too */
    PB_CHECK_EQ_INT(pb_gov_acquire(g1, 3, NULL), 3);
    PB_CHECK_EQ_INT(pb_gov_acquire(g2, 8, NULL), 2); /* not 5: g1 holds 3 of them */
    pb_gov_stats st;
    pb_gov_stats_get(g2, &st);
    PB_CHECK_EQ_INT(st.remaining, 5); /* g2's own view is still 5: only the ledger stopped it */
    /* a third process finds the row spent and waits for the window (until stopped here)
     * instead of sending */
    pb_gov *g3 = pb_gov_new("http://up|ledger", db);
    PB_REQUIRE(g3);
    pb_gov_sync_shared(g3);
    pb_gov_stats_get(g3, &st);
    PB_CHECK_EQ_INT(st.remaining, 0);
    stop_flag f = {0};
    pthread_t th;
    PB_REQUIRE(pthread_create(&th, NULL, stop_later, &f) == 0);
    PB_CHECK_EQ_INT(pb_gov_acquire(g3, 1, &f.stop), 0);
    pthread_join(th, NULL);
    pb_gov_free(g1);
    pb_gov_free(g2);
    pb_gov_free(g3);

    /* reservation blocks: with limit 100 a take reserves 5 more than asked, and the next
     * requests are spent from them without writing the ledger */
    pb_gov *h1 = pb_gov_new("http://up|blocks", db), *h2 = pb_gov_new("http://up|blocks", db);
    PB_REQUIRE(h1 && h2);
    PB_CHECK_EQ_INT(pb_gov_acquire(h1, 1, NULL), 1);
    pb_gov_done(h1, 200, 20, 100, reset_s, 0);
    PB_CHECK_EQ_INT(pb_gov_acquire(h1, 2, NULL), 2); /* ledger 20 -> 13 (2 + a block of 5) */
    PB_CHECK_EQ_INT(pb_gov_acquire(h1, 4, NULL), 4); /* from the block: ledger untouched */
    pb_gov_sync_shared(h2);
    pb_gov_stats_get(h2, &st);
    PB_CHECK_EQ_INT(st.remaining, 13);
    pb_gov_free(h1);
    pb_gov_free(h2);

    /* one probe for everyone: while p1 probes the next window, p2 waits and then adopts p1's
     * answer instead of probing too */
    pb_gov *p1 = pb_gov_new("http://up|probe", db), *p2 = pb_gov_new("http://up|probe", db);
    PB_REQUIRE(p1 && p2);
    PB_CHECK_EQ_INT(pb_gov_acquire(p1, 1, NULL), 1); /* p1 holds the probe right */
    stop_flag f2 = {0};
    pthread_t th2;
    PB_REQUIRE(pthread_create(&th2, NULL, stop_later, &f2) == 0);
    PB_CHECK_EQ_INT(pb_gov_acquire(p2, 1, &f2.stop), 0); /* no second probe */
    pthread_join(th2, NULL);
    pb_gov_done(p1, 200, 30, 60, reset_s, 0);
    PB_CHECK_EQ_INT(pb_gov_acquire(p2, 4, NULL), 4); /* adopted p1's window, from the ledger */
    pb_gov_stats_get(p2, &st);
    PB_CHECK_EQ_INT(st.remaining, 30);
    pb_gov_free(p1);
    pb_gov_free(p2);
    pb_db_free(db);
}

/* The ingest worker's refetch hook: an object the mirror does not know yet (so neither its
 * project nor, for a comment, its issue) is left to the next sync run without touching the
 * network; object types outside the mirror and ids that are not UUIDs are refused. (The GET
 * through the governor and the upsert are exercised end to end in tests/integration/sync.sh.) */
PB_STORE_TEST(sync_refetch_skips_unknown_and_refuses_bad_input)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_ss_connect(db, "acme", "http://127.0.0.1:9", NULL, &err), 0);
    pb_sync_refetch_result res;
    memset(&res, 0xff, sizeof res);
    PB_CHECK_EQ_INT(pb_sync_refetch(db, NULL, "acme", "issue", "11111111-1111-4111-8111-111111111111", NULL, &res,
                                    &err),
                    0);
    PB_CHECK_EQ_INT(res.unknown, 1);
    PB_CHECK_EQ_INT(res.fetched, 0);
    PB_CHECK_EQ_INT(res.written, 0);
    PB_CHECK_EQ_INT(pb_sync_refetch(db, NULL, "acme", "issue_comment", "22222222-2222-4222-8222-222222222222", NULL,
                                    &res, &err),
                    0);
    PB_CHECK_EQ_INT(res.unknown, 1);
    PB_CHECK(pb_sync_refetch(db, NULL, "acme", "issue", "../../etc", NULL, &res, &err) == PB_EINVAL);
    PB_CHECK(pb_sync_refetch(db, NULL, "acme", "page", "11111111-1111-4111-8111-111111111111", NULL, &res, &err) ==
             PB_EINVAL);
    pb_db_free(db);
}
