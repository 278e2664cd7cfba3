/* Webhook ingestion against a real store (both backends): durable enqueue and dedupe, the
 * leased queue (claim, ack, retry, dead letters, replay), apply + diff + events, coalescing,
 * reordering, no-op, echo suppression, and two worker processes on one store. */
#include "test.h"
#include "test_ingest_fixtures.h"

#include "core/buf.h"
#include "core/util.h"
#include "ingest/apply.h"
#include "ingest/enqueue.h"
#include "ingest/webhook.h"
#include "ingest/ingest.h"
#include "ingest/worker.h"
#include "store/db.h"
#include "store/mirror_store.h"
#include "store/queue_store.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET  "plane_wh_store_test_secret"
#define ISSUE_A "7d0c3b52-1f0a-4b7e-9a6d-2e3f4a5b6c7d"
#define ISSUE_B "8e1d4c63-2a1b-4c8f-8b7e-3f4a5b6c7d8e"
#define ALICE   "aaaaaaaa-1111-4222-8333-444444444444"

static pb_db *open_store(void)
{
    pb_db *db = NULL;
    pb_error err = {0};
    if (pb_db_open(pb_test_store_url(), &(pb_db_options){.pool_size = 8}, &db, &err) != 0) {
        fprintf(stderr, "    open: %s\n", err.msg);
        return NULL;
    }
    return db;
}

static int64_t q_int(pb_db *db, const char *sql, const char *arg)
{
    pb_conn *c = NULL;
    int64_t v = -1;
    if (pb_db_acquire(db, &c, NULL) != 0) return -1;
    pb_val p[] = {PB_TEXT(arg)};
    if (pb_conn_query_int(c, sql, p, arg ? 1 : 0, &v, NULL) != 0) v = -1;
    pb_db_release(db, c);
    return v;
}

static char *q_text(pb_db *db, const char *sql, const char *arg)
{
    pb_conn *c = NULL;
    char *v = NULL;
    if (pb_db_acquire(db, &c, NULL) != 0) return NULL;
    pb_val p[] = {PB_TEXT(arg)};
    if (pb_conn_query_text(c, sql, p, arg ? 1 : 0, &v, NULL) != 0) v = NULL;
    pb_db_release(db, c);
    return v;
}

static pb_ingest *receiver(pb_db *db)
{
    pb_ingest *ing = NULL;
    pb_ingest_options o = {.max_batch = 64, .bg_checkpoint = 1};
    if (pb_ingest_new(db, &o, NULL, NULL, &ing, NULL) != 0) return NULL;
    pb_sig_secrets s = {.scheme = PB_SIG_HMAC_HEX};
    pb_strlcpy(s.current, SECRET, sizeof s.current);
    pb_ingest_secrets_set_static(pb_ingest_secret_cache(ing), "acme", &s);
    if (pb_ingest_start(ing, NULL) != 0) {
        pb_ingest_free(ing);
        return NULL;
    }
    return ing;
}

/* Signs and posts one fixture body; returns the HTTP status. */
static int post(pb_ingest *ing, const fx_issue *f, pb_ingest_reply *r)
{
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    fx_issue_body(&b, f);
    char sig[65];
    pb_sig_sign_hex(SECRET, b.data, b.len, sig);
    pb_ingest_reply local;
    if (!r) r = &local;
    pb_ingest_receive(ing, "acme", "application/json", sig, NULL, b.data, b.len, r);
    pb_buf_free(&b);
    return r->status;
}

/* Runs worker cycles until the queue has nothing ready (coalescing window 0). */
static pb_worker_tally drain(pb_db *db)
{
    pb_worker_tally t = {0};
    pb_conn *c = NULL;
    pb_worker_options o = {.coalesce_ms = 0, .batch = 64, .backoff_base_ms = 1};
    if (pb_db_acquire(db, &c, NULL) != 0) return t;
    for (int i = 0; i < 100; i++) {
        int before = t.claimed;
        pb_error err = {0};
        if (pb_worker_run_once(c, &o, "test-worker", &t, &err) != 0) {
            fprintf(stderr, "    worker: %s\n", err.msg);
            break;
        }
        if (t.claimed == before) break;
    }
    pb_db_release(db, c);
    /* Nothing in these scenarios should need a retry: a retry means apply failed. */
    PB_CHECK_EQ_INT(t.retried, 0);
    PB_CHECK_EQ_INT(t.dead, 0);
    return t;
}

static int64_t outbox_count(pb_db *db, const char *type)
{
    return q_int(db, "SELECT COUNT(*) FROM ops.outbox WHERE type = $1", type);
}

PB_STORE_TEST(ingest_store_enqueue_dedupes_and_is_durable)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_ingest *ing = receiver(db);
    PB_REQUIRE(ing);
    fx_issue f = {.id = ISSUE_A, .action = "created", .updated_at = 1763800000000000LL};
    pb_ingest_reply r;
    PB_CHECK_EQ_INT(post(ing, &f, &r), 200);
    PB_CHECK(strstr(r.body, "\"queued\":true") != NULL);
    /* Plane's retry: a new X-Plane-Delivery but the same body -> 200 duplicate, nothing new. */
    PB_CHECK_EQ_INT(post(ing, &f, &r), 200);
    PB_CHECK(strstr(r.body, "\"duplicate\":true") != NULL);
    /* The same change through a second webhook of the workspace: also a duplicate. */
    f.webhook_id = "11111111-2222-4333-8444-555555555555";
    PB_CHECK_EQ_INT(post(ing, &f, &r), 200);
    PB_CHECK(strstr(r.body, "\"duplicate\":true") != NULL);
    pb_ingest_free(ing);
    /* Reopen: what got 200 is on disk. */
    pb_db_free(db);
    db = open_store();
    PB_REQUIRE(db);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue", NULL), 1);
    char *body = q_text(db, "SELECT object_id FROM ops.event_queue", NULL);
    PB_CHECK_STR(body, ISSUE_A);
    free(body);
    pb_db_free(db);
}

typedef struct conc_arg {
    pb_ingest *ing;
    int base, n, ok;
} conc_arg;

static void *conc_main(void *p)
{
    conc_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        char id[40];
        snprintf(id, sizeof id, "7d0c3b52-1f0a-4b7e-9a6d-%012d", (a->base + i) % 50);
        fx_issue f = {.id = id, .action = "created", .updated_at = 1763800000000000LL + (a->base + i) / 50};
        if (post(a->ing, &f, NULL) == 200) a->ok++;
    }
    return NULL;
}

PB_STORE_TEST(ingest_store_group_commit_concurrent)
{
    /* 8 threads x 50 posts, 400 distinct bodies plus every body posted twice by two threads:
     * all 200, exactly 400 rows, and fewer commits than rows (group commit batched them). */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_ingest *ing = receiver(db);
    PB_REQUIRE(ing);
    pthread_t th[8];
    conc_arg args[8];
    for (int t = 0; t < 8; t++) {
        args[t] = (conc_arg){ing, (t % 4) * 100, 100, 0};
        pthread_create(&th[t], NULL, conc_main, &args[t]);
    }
    int ok = 0;
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        ok += args[t].ok;
    }
    PB_CHECK_EQ_INT(ok, 800);
    int64_t commits = 0, rows = 0;
    pb_ingest_stop(ing);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue", NULL), 400);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(DISTINCT idempotency_key) FROM ops.event_queue", NULL), 400);
    (void)commits, (void)rows;
    pb_ingest_free(ing);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_apply_create_update_noop_events)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_ingest *ing = receiver(db);
    PB_REQUIRE(ing);
    int64_t t0 = 1763800000000000LL;
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_A, .action = "created", .updated_at = t0}, NULL), 200);
    pb_worker_tally t = drain(db);
    PB_CHECK_EQ_INT(t.claimed, 1);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.created"), 1);
    char *raw = q_text(db, "SELECT raw FROM work_plane.items WHERE plane_id = $1", ISSUE_A);
    PB_REQUIRE(raw);
    /* normalised to the API v1 shape: state is an id, expand-only fields dropped */
    PB_CHECK(strstr(raw, FX_STATE_TODO) != NULL);
    PB_CHECK(strstr(raw, "description_stripped") == NULL);
    free(raw);
    char *sg = q_text(db, "SELECT state_group FROM work_plane.items WHERE plane_id = $1", ISSUE_A);
    PB_CHECK_STR(sg, "unstarted");
    free(sg);

    /* A PATCH of two fields = two deliveries with the same data: one update event. */
    fx_issue u = {
        .id = ISSUE_A, .name = "Renamed", .priority = "high", .updated_at = t0 + 1000, .field = "name"};
    PB_CHECK_EQ_INT(post(ing, &u, NULL), 200);
    u.field = "priority";
    PB_CHECK_EQ_INT(post(ing, &u, NULL), 200);
    t = drain(db);
    PB_CHECK_EQ_INT(t.claimed, 2);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 1);
    char *payload = q_text(db, "SELECT payload FROM ops.outbox WHERE type = 'issue.updated'", NULL);
    PB_REQUIRE(payload);
    /* jsonb on PostgreSQL re-spaces the text: compare parsed */
    cJSON *pj = cJSON_Parse(payload);
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(pj, "previous_attributes");
    PB_CHECK(cJSON_IsObject(prev));
    PB_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prev, "name")), "Fix the thing");
    PB_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prev, "priority")), "none");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(prev), 2);
    PB_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pj, "type")), "issue.updated");
    PB_CHECK_STR(cJSON_GetStringValue(
                     cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pj, "data"), "name")),
                 "Renamed");
    cJSON_Delete(pj);
    free(payload);

    /* A delivery whose data moved only updated_at (e.g. a field Plane reports but the row did
     * not change for us): mirror updated, no event. */
    u.updated_at = t0 + 2000;
    u.field = "sort_order";
    PB_CHECK_EQ_INT(post(ing, &u, NULL), 200);
    drain(db);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.outbox", NULL), 2);
    PB_CHECK_EQ_INT(q_int(db, "SELECT updated_at FROM work_plane.items WHERE plane_id = $1", ISSUE_A),
                    t0 + 2000);

    /* Assign + complete: updated plus the derived events. */
    fx_issue c = {.id = ISSUE_A,
                  .name = "Renamed",
                  .priority = "high",
                  .assignee = ALICE,
                  .done = 1,
                  .updated_at = t0 + 3000,
                  .field = "state"};
    PB_CHECK_EQ_INT(post(ing, &c, NULL), 200);
    drain(db);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 2);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.assigned"), 1);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.completed"), 1);
    PB_CHECK_EQ_INT(
        q_int(db, "SELECT COUNT(*) FROM work_plane.item_refs WHERE item_id = $1 AND kind = 'assignee'",
              ISSUE_A),
        1);
    pb_ingest_free(ing);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_out_of_order_never_moves_backwards)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_ingest *ing = receiver(db);
    PB_REQUIRE(ing);
    int64_t t0 = 1763800000000000LL;
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_B, .action = "created", .updated_at = t0}, NULL), 200);
    drain(db);
    /* newer arrives first, then the older one */
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_B, .name = "v3", .updated_at = t0 + 3000}, NULL), 200);
    drain(db);
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_B, .name = "v2", .updated_at = t0 + 2000}, NULL), 200);
    pb_worker_tally t = drain(db);
    PB_CHECK_EQ_INT(t.claimed, 1);
    char *name = q_text(db, "SELECT name FROM work_plane.items WHERE plane_id = $1", ISSUE_B);
    PB_CHECK_STR(name, "v3");
    free(name);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 1);
    /* Both in one batch, in reverse order of arrival: coalesced to the newest. */
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_B, .name = "v5", .updated_at = t0 + 5000}, NULL), 200);
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_B, .name = "v4", .updated_at = t0 + 4000}, NULL), 200);
    t = drain(db);
    PB_CHECK_EQ_INT(t.claimed, 2);
    PB_CHECK_EQ_INT(t.coalesced, 1);
    name = q_text(db, "SELECT name FROM work_plane.items WHERE plane_id = $1", ISSUE_B);
    PB_CHECK_STR(name, "v5");
    free(name);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 2);
    /* every job is done, none left behind */
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue WHERE status <> 'done'", NULL), 0);
    pb_ingest_free(ing);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_echo_suppression)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_ingest *ing = receiver(db);
    PB_REQUIRE(ing);
    int64_t t0 = 1763800000000000LL;
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_A, .action = "created", .updated_at = t0}, NULL), 200);
    drain(db);
    /* planebridge itself PATCHed the issue upstream and Plane answered updated_at = t0+10 */
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    PB_CHECK(pb_mirror_self_write_note(c, ISSUE_A, t0 + 10, pb_now_us(), NULL) == 0);
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_A, .name = "ours", .updated_at = t0 + 10}, NULL), 200);
    drain(db);
    char *name = q_text(db, "SELECT name FROM work_plane.items WHERE plane_id = $1", ISSUE_A);
    PB_CHECK_STR(name, "ours"); /* the mirror follows */
    free(name);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 0); /* but no event echoes back */
    /* someone else's later change is an event again */
    PB_CHECK_EQ_INT(post(ing, &(fx_issue){.id = ISSUE_A, .name = "theirs", .updated_at = t0 + 20}, NULL),
                    200);
    drain(db);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.updated"), 1);
    pb_ingest_free(ing);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_retry_dead_letter_replay)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    /* A stored body that does not parse: dead at once. */
    const char *bad = "{\"event\": \"issue\"}";
    /* A project whose identifier clashes with another live project: the upsert fails every
     * time (unique index), so it retries with backoff and ends in dead letters. */
    const char *p1 =
        "{\"event\": \"project\", \"action\": \"created\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", "
        "\"data\": {\"id\": \"11111111-1111-4111-8111-111111111111\", \"name\": \"One\", "
        "\"identifier\": \"ONE\", \"created_at\": \"2025-11-21T10:00:00Z\", \"updated_at\": "
        "\"2025-11-21T10:00:00Z\"}}";
    const char *p2 =
        "{\"event\": \"project\", \"action\": \"created\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", "
        "\"data\": {\"id\": \"22222222-2222-4222-8222-222222222222\", \"name\": \"Two\", "
        "\"identifier\": \"ONE\", \"created_at\": \"2025-11-21T10:00:00Z\", \"updated_at\": "
        "\"2025-11-21T10:00:00Z\"}}";
    pb_queue_in in[3] = {
        {.key = "k-bad",
         .source = "plane",
         .workspace = "acme",
         .received_at = 1,
         .body = bad,
         .body_len = strlen(bad)},
        {.key = "k-p1",
         .source = "plane",
         .workspace = "acme",
         .received_at = 1,
         .body = p1,
         .body_len = strlen(p1)},
        {.key = "k-p2",
         .source = "plane",
         .workspace = "acme",
         .received_at = 2,
         .body = p2,
         .body_len = strlen(p2)},
    };
    unsigned char ins[3];
    PB_REQUIRE(pb_queue_enqueue_batch(c, in, 3, ins, NULL) == 0);
    PB_CHECK(ins[0] && ins[1] && ins[2]);
    /* enqueueing the same keys again inserts nothing */
    PB_REQUIRE(pb_queue_enqueue_batch(c, in, 3, ins, NULL) == 0);
    PB_CHECK(!ins[0] && !ins[1] && !ins[2]);

    pb_worker_options o = {.coalesce_ms = 0, .max_attempts = 3, .backoff_base_ms = 1, .backoff_max_ms = 2};
    pb_worker_tally t = {0};
    for (int i = 0; i < 20; i++) {
        PB_REQUIRE(pb_worker_run_once(c, &o, "w1", &t, NULL) == 0);
        usleep(5000);
    }
    pb_queue_stats st;
    PB_REQUIRE(pb_queue_get_stats(c, &st, NULL) == 0);
    PB_CHECK_EQ_INT(st.done, 1);
    PB_CHECK_EQ_INT(st.dead, 2);
    PB_CHECK_EQ_INT(t.retried, 2); /* p2: attempts 1 and 2 retried, 3rd dead */
    pb_db_release(db, c);
    char *err = q_text(db, "SELECT last_error FROM ops.event_queue WHERE idempotency_key = 'k-p2'", NULL);
    PB_CHECK(err && err[0]);
    free(err);

    /* Fix the cause, replay the dead letters: p2 applies now; the bad body dies again. */
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    PB_CHECK(pb_conn_exec(c, "UPDATE work_plane.projects SET deleted_at = 1", NULL, 0, NULL, NULL) == 0);
    int64_t changed = 0;
    PB_REQUIRE(pb_queue_replay(c, 1, NULL, 0, &changed, NULL) == 0);
    PB_CHECK_EQ_INT(changed, 2);
    for (int i = 0; i < 3; i++)
        PB_REQUIRE(pb_worker_run_once(c, &o, "w1", &t, NULL) == 0);
    PB_REQUIRE(pb_queue_get_stats(c, &st, NULL) == 0);
    PB_CHECK_EQ_INT(st.done, 2);
    PB_CHECK_EQ_INT(st.dead, 1);
    /* replay by id of a done job: it runs again and changes nothing (idempotent) */
    int64_t id = 0;
    PB_REQUIRE(pb_conn_query_int(c, "SELECT id FROM ops.event_queue WHERE idempotency_key = 'k-p1'", NULL, 0,
                                 &id, NULL) == 0);
    int64_t events_before = 0, events_after = 0;
    pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.outbox", NULL, 0, &events_before, NULL);
    PB_REQUIRE(pb_queue_replay(c, 0, &id, 1, &changed, NULL) == 0);
    PB_CHECK_EQ_INT(changed, 1);
    PB_REQUIRE(pb_worker_run_once(c, &o, "w1", &t, NULL) == 0);
    pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.outbox", NULL, 0, &events_after, NULL);
    PB_CHECK_EQ_INT(events_after, events_before);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_expired_lease_is_reclaimed)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    pb_queue_in in = {
        .key = "k1", .source = "plane", .workspace = "acme", .received_at = 1, .body = "{}", .body_len = 2};
    unsigned char ins;
    PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
    pb_queue_job *jobs = NULL;
    size_t n = 0;
    int64_t now = 1000000000;
    PB_REQUIRE(pb_queue_claim(c, "crashed", now, 1000, now, 10, &jobs, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_queue_jobs_free(jobs, n);
    /* still leased: nobody else gets it */
    PB_REQUIRE(pb_queue_claim(c, "other", now + 500, 1000, now, 10, &jobs, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_queue_jobs_free(jobs, n);
    /* lease expired: reclaimed, attempts counts both claims; the stale holder cannot ack */
    PB_REQUIRE(pb_queue_claim(c, "other", now + 2000, 1000, now, 10, &jobs, &n, NULL) == 0);
    PB_REQUIRE(n == 1);
    PB_CHECK_EQ_INT(jobs[0].attempts, 2);
    int64_t ch = -1;
    PB_CHECK(pb_queue_ack(c, jobs[0].id, "crashed", now, &ch, NULL) == 0);
    PB_CHECK_EQ_INT(ch, 0);
    PB_CHECK(pb_queue_ack(c, jobs[0].id, "other", now, &ch, NULL) == 0);
    PB_CHECK_EQ_INT(ch, 1);
    pb_queue_jobs_free(jobs, n);
    pb_db_release(db, c);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_two_worker_processes_no_double_processing)
{
    /* 600 jobs for 300 objects, two forked processes with two worker threads each, on one
     * store: every job processed exactly once (attempts = 1), one created event per object. */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    enum { OBJECTS = 300 };
    pb_queue_in in[64];
    char keys[64][32], ids[64][40];
    pb_buf bodies[64];
    int64_t t0 = 1763800000000000LL;
    for (int base = 0; base < 2 * OBJECTS; base += 60) {
        int n = 0;
        for (int i = base; i < base + 60 && i < 2 * OBJECTS; i++, n++) {
            snprintf(keys[n], sizeof keys[n], "k-%d", i);
            snprintf(ids[n], sizeof ids[n], "7d0c3b52-1f0a-4b7e-9a6d-%012d", i % OBJECTS);
            pb_buf_init(&bodies[n], 1 << 20);
            fx_issue_body(&bodies[n], &(fx_issue){.id = ids[n],
                                                  .action = i < OBJECTS ? "created" : "updated",
                                                  .updated_at = t0 + (i < OBJECTS ? 0 : 10)});
            in[n] = (pb_queue_in){.key = keys[n],
                                  .source = "plane",
                                  .workspace = "acme",
                                  .object_type = "issue",
                                  .object_id = ids[n],
                                  .received_at = 1,
                                  .body = bodies[n].data,
                                  .body_len = bodies[n].len};
        }
        unsigned char ins[64];
        PB_REQUIRE(pb_queue_enqueue_batch(c, in, (size_t)n, ins, NULL) == 0);
        for (int i = 0; i < n; i++)
            pb_buf_free(&bodies[i]);
    }
    pb_db_release(db, c);
    pb_db_free(db);

    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            pb_db *d = open_store();
            pb_worker *w = NULL;
            pb_worker_options o = {.threads = 2, .coalesce_ms = 0, .batch = 16, .poll_ms = 20};
            if (!d || pb_worker_new(d, &o, &w, NULL) || pb_worker_start(w, NULL)) _exit(2);
            for (int i = 0; i < 3000; i++) {
                int64_t left = q_int(d, "SELECT COUNT(*) FROM ops.event_queue WHERE status <> 'done'", NULL);
                if (left == 0) break;
                usleep(10000);
            }
            pb_worker_free(w);
            pb_db_free(d);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        PB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    db = open_store();
    PB_REQUIRE(db);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue WHERE status = 'done'", NULL),
                    2 * OBJECTS);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue WHERE attempts <> 1", NULL), 0);
    /* How the work was shared depends on scheduling (not asserted; the invariants above are). */
    fprintf(stderr, "    %lld distinct worker threads processed the jobs\n",
            (long long)q_int(db, "SELECT COUNT(DISTINCT leased_by) FROM ops.event_queue", NULL));
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM work_plane.items", NULL), OBJECTS);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.created"), OBJECTS);
    PB_CHECK_EQ_INT(
        q_int(db,
              "SELECT COUNT(*) FROM (SELECT object_id FROM ops.outbox WHERE type = 'issue.created' "
              "GROUP BY object_id HAVING COUNT(*) > 1) d",
              NULL),
        0);
    pb_db_free(db);
}

/* A project's created and deleted hooks (Plane CE shape). */
static const char PROJECT_CREATED[] =
    "{\"event\": \"project\", \"action\": \"created\", \"webhook_id\": \"w\", \"workspace_id\": "
    "\"x\", \"data\": {\"id\": \"33333333-3333-4333-8333-333333333333\", \"name\": \"P\", "
    "\"identifier\": \"PRJ\", \"archived_at\": null, \"created_at\": \"2025-11-21T10:00:00Z\", "
    "\"updated_at\": \"2025-11-21T10:00:00Z\"}}";
static const char PROJECT_DELETED[] =
    "{\"event\": \"project\", \"action\": \"deleted\", \"webhook_id\": \"w\", \"workspace_id\": "
    "\"x\", \"data\": {\"id\": \"33333333-3333-4333-8333-333333333333\"}}";

PB_STORE_TEST(ingest_store_project_delete_and_archive)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    const char *archive =
        "{\"event\": \"project\", \"action\": \"updated\", \"webhook_id\": \"w\", \"workspace_id\": "
        "\"x\", \"data\": {\"id\": \"33333333-3333-4333-8333-333333333333\", \"name\": \"P\", "
        "\"identifier\": \"PRJ\", \"archived_at\": \"2025-11-22T10:00:00Z\", \"created_at\": "
        "\"2025-11-21T10:00:00Z\", \"updated_at\": \"2025-11-22T10:00:00Z\"}}";
    const char *bodies[] = {PROJECT_CREATED, archive, PROJECT_DELETED};
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", i);
        pb_queue_in in = {.key = key,
                          .source = "plane",
                          .workspace = "acme",
                          .received_at = 1,
                          .body = bodies[i],
                          .body_len = strlen(bodies[i])};
        unsigned char ins;
        PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
        pb_worker_options o = {.coalesce_ms = 0};
        PB_REQUIRE(pb_worker_run_once(c, &o, "w", NULL, NULL) == 0);
    }
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(outbox_count(db, "project.created"), 1);
    PB_CHECK_EQ_INT(outbox_count(db, "project.updated"), 1);
    PB_CHECK_EQ_INT(outbox_count(db, "project.archived"), 1);
    PB_CHECK_EQ_INT(outbox_count(db, "project.deleted"), 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM work_plane.projects WHERE deleted_at IS NOT NULL", NULL),
                    1);
    pb_db_free(db);
}

/* A worker transaction committed without fsync (SQLite NORMAL) may be lost and applied again
 * later: the delete event must come out with the same id, so consumers deduplicate it. */
PB_STORE_TEST(ingest_store_delete_event_id_survives_reapply)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    pb_hook hc, hd;
    memset(&hc, 0, sizeof hc);
    memset(&hd, 0, sizeof hd);
    PB_REQUIRE(pb_hook_parse("acme", PROJECT_CREATED, strlen(PROJECT_CREATED), &hc, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", PROJECT_DELETED, strlen(PROJECT_DELETED), &hd, NULL) == 0);
    pb_apply_result res;
    PB_REQUIRE(pb_conn_begin_write(c, NULL) == 0);
    PB_REQUIRE(pb_ingest_apply(c, "acme", &hc, pb_now_us(), &res, NULL) == 0);
    PB_REQUIRE(pb_conn_commit(c, NULL) == 0);
    char *ids[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) { /* the first apply is "lost" (rolled back), the second stays */
        PB_REQUIRE(pb_conn_begin_write(c, NULL) == 0);
        PB_REQUIRE(pb_ingest_apply(c, "acme", &hd, pb_now_us() + i * 1000000, &res, NULL) == 0);
        PB_CHECK_EQ_INT(res.events, 1);
        PB_CHECK(pb_conn_query_text(c, "SELECT event_id FROM ops.outbox WHERE type = 'project.deleted'", NULL, 0,
                                    &ids[i], NULL) == 0);
        if (i == 0) pb_conn_rollback(c);
        else PB_REQUIRE(pb_conn_commit(c, NULL) == 0);
    }
    PB_CHECK(ids[0] && ids[1] && strcmp(ids[0], ids[1]) == 0);
    free(ids[0]);
    free(ids[1]);
    pb_hook_free(&hc);
    pb_hook_free(&hd);
    pb_db_release(db, c);
    pb_db_free(db);
}

typedef struct submit_arg {
    pb_enqueuer *q;
    pb_queue_in in;
    int rc, dup;
} submit_arg;

static void *submit_main(void *p)
{
    submit_arg *a = p;
    a->rc = pb_enqueuer_submit(a->q, &a->in, 20000, &a->dup, NULL);
    return NULL;
}

PB_STORE_TEST(ingest_store_overload_503_then_commit)
{
    /* Committer not yet running, bound of one pending job: the first submit waits, the second
     * is refused at once (PB_EBUSY -> 503); once the committer runs the first is stored. */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_enqueuer *q = NULL;
    PB_REQUIRE(pb_enqueuer_new(db, &(pb_enqueuer_options){.max_pending = 1}, &q, NULL) == 0);
    submit_arg a = {
        q,
        {.key = "k-a", .source = "plane", .workspace = "acme", .received_at = 1, .body = "{}", .body_len = 2},
        -1,
        -1};
    pthread_t th;
    pthread_create(&th, NULL, submit_main, &a);
    while (pb_enqueuer_pending(q) < 1)
        usleep(1000);
    pb_queue_in b = {
        .key = "k-b", .source = "plane", .workspace = "acme", .received_at = 1, .body = "{}", .body_len = 2};
    PB_CHECK_EQ_INT(pb_enqueuer_submit(q, &b, 1000, NULL, NULL), PB_EBUSY);
    PB_REQUIRE(pb_enqueuer_start(q, NULL) == 0);
    pthread_join(th, NULL);
    PB_CHECK_EQ_INT(a.rc, 0);
    PB_CHECK_EQ_INT(a.dup, 0);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue", NULL), 1);
    /* after stop, submits are refused instead of waiting forever */
    pb_enqueuer_stop(q);
    PB_CHECK_EQ_INT(pb_enqueuer_submit(q, &b, 1000, NULL, NULL), PB_EBUSY);
    pb_enqueuer_free(q);
    pb_db_free(db);
}

static int refetched;
static void count_refetch(void *ctx, const char *ws, const char *type, const char *id, const char *reason)
{
    (void)ctx, (void)ws, (void)type, (void)id;
    if (!strcmp(reason, "partial")) refetched++;
}

PB_STORE_TEST(ingest_store_partial_hint_calls_refetch_hook)
{
    /* A hint without updated_at cannot be ordered: nothing is written, the refetch hook (the
     * sync module's re-read through the REST client) is called after commit. */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    const char *body =
        "{\"event\": \"issue\", \"action\": \"updated\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", "
        "\"data\": {\"id\": \"" ISSUE_A "\", \"name\": \"no timestamp\"}}";
    pb_queue_in in = {.key = "k-partial",
                      .source = "plane",
                      .workspace = "acme",
                      .received_at = 1,
                      .body = body,
                      .body_len = strlen(body)};
    unsigned char ins;
    PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
    pb_worker_options o = {.coalesce_ms = 0, .refetch = count_refetch};
    PB_REQUIRE(pb_worker_run_once(c, &o, "w", NULL, NULL) == 0);
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(refetched, 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM work_plane.items", NULL), 0);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue WHERE status = 'done'", NULL), 1);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_hostile_field_values)
{
    /* Signed (so trusted as Plane's) but odd values: out-of-range numbers, wrong types, huge
     * strings. Applying must neither crash nor invoke undefined conversions (UBSan build),
     * and the row still lands with what is usable. */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    pb_buf_puts(
        &b, "{\"event\": \"issue\", \"action\": \"created\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", "
            "\"data\": {\"id\": \"" ISSUE_A "\", \"sequence_id\": 1e300, \"sort_order\": -1e308, "
            "\"state\": {\"group\": 5}, \"labels\": [{\"id\": 7}, \"x\", null], \"assignees\": {}, "
            "\"project\": [], \"parent\": {\"id\": null}, \"is_draft\": \"yes\", "
            "\"archived_at\": \"not a date\", \"created_at\": 12, \"updated_at\": \"2025-11-21T10:00:00Z\", "
            "\"name\": \"");
    for (int i = 0; i < 100000; i++)
        pb_buf_putc(&b, 'n');
    pb_buf_puts(&b, "\"}}");
    pb_queue_in in = {.key = "k-hostile",
                      .source = "plane",
                      .workspace = "acme",
                      .received_at = 1,
                      .body = b.data,
                      .body_len = b.len};
    unsigned char ins;
    PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
    pb_worker_options o = {.coalesce_ms = 0};
    pb_worker_tally t = {0};
    PB_REQUIRE(pb_worker_run_once(c, &o, "w", &t, NULL) == 0);
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(t.applied, 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM work_plane.items WHERE sequence_id IS NULL", NULL), 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.outbox WHERE type = 'issue.created'", NULL), 1);
    pb_buf_free(&b);
    pb_db_free(db);
}

PB_STORE_TEST(ingest_store_timezone_rendering_is_not_a_change)
{
    /* The mirror row came from the REST API in the key owner's zone (+05:30); the webhook
     * renders the same instants in UTC. Only the real change (name) is an event field. */
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    const char *raw =
        "{\"id\": \"" ISSUE_A "\", \"name\": \"Old\", \"start_date\": null, "
        "\"created_at\": \"2025-11-21T15:30:00.000000+05:30\", "
        "\"completed_at\": \"2025-11-21T16:00:00+05:30\", \"updated_at\": \"2025-11-21T15:30:00+05:30\"}";
    pb_mirror_item it = {.id = ISSUE_A,
                         .item_type = "issue",
                         .workspace = "acme",
                         .created_at = 1763719200000000LL,
                         .updated_at = 1763719200000000LL,
                         .synced_at = 1,
                         .raw = raw};
    int64_t ch = 0;
    PB_REQUIRE(pb_mirror_upsert_item(c, &it, &ch, NULL) == 0);
    const char *body =
        "{\"event\": \"issue\", \"action\": \"updated\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", "
        "\"data\": {\"id\": \"" ISSUE_A "\", \"name\": \"New\", \"start_date\": null, "
        "\"created_at\": \"2025-11-21T10:00:00Z\", \"completed_at\": \"2025-11-21T10:30:00.000000Z\", "
        "\"updated_at\": \"2025-11-21T11:00:00Z\"}}";
    pb_queue_in in = {.key = "k-tz",
                      .source = "plane",
                      .workspace = "acme",
                      .received_at = 1,
                      .body = body,
                      .body_len = strlen(body)};
    unsigned char ins;
    PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
    pb_worker_options o = {.coalesce_ms = 0};
    PB_REQUIRE(pb_worker_run_once(c, &o, "w", NULL, NULL) == 0);
    pb_db_release(db, c);
    char *payload = q_text(db, "SELECT payload FROM ops.outbox WHERE type = 'issue.updated'", NULL);
    PB_REQUIRE(payload);
    cJSON *pj = cJSON_Parse(payload);
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(pj, "previous_attributes");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(prev), 1);
    PB_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prev, "name")), "Old");
    cJSON_Delete(pj);
    free(payload);
    pb_db_free(db);
}

/* Enqueue batches of every shape the committer produces: one statement up to 64 rows
 * (PostgreSQL: without BEGIN/COMMIT), several above; duplicates inside a batch and keys
 * already stored are reported as duplicates and stored once. */
PB_STORE_TEST(ingest_store_enqueue_batch_sizes)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    static const size_t sizes[] = {1, 2, 3, 63, 64, 65, 130};
    enum { MAXN = 130 };
    static char keys[MAXN][32];
    pb_queue_in in[MAXN];
    unsigned char ins[MAXN];
    int serial = 0;
    int64_t expect_rows = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "bs-%d", serial++);
            in[i] = (pb_queue_in){.key = keys[i], .source = "plane", .workspace = "acme", .received_at = 1,
                                  .body = "{}", .body_len = 2};
        }
        if (n >= 3) {
            in[n - 1].key = keys[0];        /* repeated inside the batch */
            in[n - 2].key = "bs-0";         /* stored by the first batch */
        }
        PB_REQUIRE(pb_queue_enqueue_batch(c, in, n, ins, NULL) == 0);
        size_t fresh = 0;
        for (size_t i = 0; i < n; i++)
            fresh += ins[i];
        size_t want = n >= 3 ? n - 2 : n;
        if (s == 0) want = 1;
        PB_CHECK_EQ_INT(fresh, want);
        PB_CHECK(ins[0]);
        if (n >= 3) PB_CHECK(!ins[n - 1] && !ins[n - 2]);
        expect_rows += (int64_t)want;
    }
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue", NULL), expect_rows);
    pb_db_free(db);
}

/* The lease-free path: peek does not claim; take re-checks inside the write transaction, so
 * a job taken once is not taken again; fail_pending counts attempts, schedules retries and
 * dead letters; the backlog gauge query never counts done jobs. */
PB_STORE_TEST(ingest_store_peek_take_fail_pending)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    pb_queue_in in[3];
    const char *k[3] = {"pt-1", "pt-2", "pt-3"};
    for (int i = 0; i < 3; i++)
        in[i] = (pb_queue_in){.key = k[i], .source = "plane", .workspace = "acme", .received_at = 10 + i,
                              .body = "{}", .body_len = 2};
    unsigned char ins[3];
    PB_REQUIRE(pb_queue_enqueue_batch(c, in, 3, ins, NULL) == 0);
    int64_t now = 1000000;
    pb_queue_job *jobs = NULL;
    size_t n = 0;
    PB_REQUIRE(pb_queue_peek_ready(c, now, 11, 10, &jobs, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 2); /* received_at <= 11 */
    pb_queue_jobs_free(jobs, n);
    PB_REQUIRE(pb_queue_peek_ready(c, now, now, 10, &jobs, &n, NULL) == 0);
    PB_REQUIRE(n == 3);
    PB_CHECK(jobs[0].id < jobs[1].id && jobs[1].id < jobs[2].id);
    PB_CHECK_EQ_INT(jobs[0].attempts, 0);
    PB_CHECK_STR(jobs[0].key, "pt-1");

    PB_REQUIRE(pb_conn_begin_write(c, NULL) == 0);
    int taken = -1, attempts = -1;
    PB_CHECK(pb_queue_take(c, jobs[0].id, "w1", now, &taken, &attempts, NULL) == 0);
    PB_CHECK_EQ_INT(taken, 1);
    PB_CHECK_EQ_INT(attempts, 1);
    PB_CHECK(pb_queue_take(c, jobs[0].id, "w2", now, &taken, &attempts, NULL) == 0);
    PB_CHECK_EQ_INT(taken, 0); /* done already: someone else's */
    int64_t ch = -1;
    PB_CHECK(pb_queue_fail_pending(c, jobs[1].id, "w1", now, now + 5000000, 0, "boom", &ch, NULL) == 0);
    PB_CHECK_EQ_INT(ch, 1);
    PB_CHECK(pb_queue_fail_pending(c, jobs[2].id, "w1", now, 0, 1, "bad body", &ch, NULL) == 0);
    PB_CHECK_EQ_INT(ch, 1);
    PB_CHECK(pb_queue_fail_pending(c, jobs[0].id, "w1", now, 0, 1, "late", &ch, NULL) == 0);
    PB_CHECK_EQ_INT(ch, 0); /* not pending: untouched */
    PB_REQUIRE(pb_conn_commit(c, NULL) == 0);
    pb_queue_jobs_free(jobs, n);

    /* the retried job is not due yet, then it is, with its attempt counted */
    PB_REQUIRE(pb_queue_peek_ready(c, now, now, 10, &jobs, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_queue_jobs_free(jobs, n);
    PB_REQUIRE(pb_queue_peek_ready(c, now + 5000000, now, 10, &jobs, &n, NULL) == 0);
    PB_REQUIRE(n == 1);
    PB_CHECK_STR(jobs[0].key, "pt-2");
    PB_CHECK_EQ_INT(jobs[0].attempts, 1);
    pb_queue_jobs_free(jobs, n);

    pb_queue_stats st;
    PB_REQUIRE(pb_queue_get_backlog(c, &st, NULL) == 0);
    PB_CHECK_EQ_INT(st.pending, 1);
    PB_CHECK_EQ_INT(st.leased, 0);
    PB_CHECK_EQ_INT(st.dead, 1);
    PB_CHECK_EQ_INT(st.done, -1);
    PB_CHECK_EQ_INT(st.oldest_ready_received_at, 11);
    PB_REQUIRE(pb_queue_get_stats(c, &st, NULL) == 0);
    PB_CHECK_EQ_INT(st.done, 1);
    PB_CHECK_EQ_INT(st.oldest_ready_received_at, 11);
    pb_db_release(db, c);
    pb_db_free(db);
}

/* The SQLite worker commits with synchronous=NORMAL and without inline checkpoints; the
 * connection goes back with what it came with. A job stuck under a dead process's lease (the
 * lease path) is reclaimed and applied. */
PB_STORE_TEST(ingest_store_worker_restores_connection_and_reclaims)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    int sqlite = pb_db_backend(db) == PB_DB_SQLITE;
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    fx_issue_body(&b, &(fx_issue){.id = ISSUE_A, .action = "created", .updated_at = 1763800000000000LL});
    pb_queue_in in = {.key = "rc-1",
                      .source = "plane",
                      .workspace = "acme",
                      .object_type = "issue",
                      .object_id = ISSUE_A,
                      .received_at = 1,
                      .body = b.data,
                      .body_len = b.len};
    unsigned char ins;
    PB_REQUIRE(pb_queue_enqueue_batch(c, &in, 1, &ins, NULL) == 0);
    pb_queue_job *jobs = NULL;
    size_t n = 0;
    int64_t now = pb_now_us();
    PB_REQUIRE(pb_queue_claim(c, "dead-process", now - 10000000, 1000, now, 10, &jobs, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 1); /* leased, and the lease ran out long ago */
    pb_queue_jobs_free(jobs, n);

    int64_t before = -1, after = -1, ckpt_before = -1, ckpt_after = -1;
    if (sqlite) {
        PB_REQUIRE(pb_conn_query_int(c, "PRAGMA synchronous", NULL, 0, &before, NULL) == 0);
        PB_REQUIRE(pb_conn_query_int(c, "PRAGMA wal_autocheckpoint", NULL, 0, &ckpt_before, NULL) == 0);
    }
    pb_worker_options o = {.coalesce_ms = 0, .bg_checkpoint = 1};
    pb_worker_tally t = {0};
    PB_REQUIRE(pb_worker_run_once(c, &o, "w", &t, NULL) == 0); /* reclaims (SQLite: inside) */
    if (t.claimed == 0) PB_REQUIRE(pb_worker_run_once(c, &o, "w", &t, NULL) == 0); /* PG: next claim */
    PB_CHECK_EQ_INT(t.claimed, 1);
    PB_CHECK_EQ_INT(t.applied, 1);
    if (sqlite) {
        PB_REQUIRE(pb_conn_query_int(c, "PRAGMA synchronous", NULL, 0, &after, NULL) == 0);
        PB_REQUIRE(pb_conn_query_int(c, "PRAGMA wal_autocheckpoint", NULL, 0, &ckpt_after, NULL) == 0);
        PB_CHECK_EQ_INT(after, before);
        PB_CHECK_EQ_INT(ckpt_after, ckpt_before);
    }
    pb_db_release(db, c);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_queue WHERE status = 'done'", NULL), 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT attempts FROM ops.event_queue", NULL), 2);
    PB_CHECK_EQ_INT(outbox_count(db, "issue.created"), 1);
    pb_buf_free(&b);
    pb_db_free(db);
}

/* SQLite processes jobs without a lease; a job whose worker process died while applying it is
 * still charged an attempt, through the in-flight marks (worker.c recover_inflight): at
 * max_attempts it goes to the dead letters instead of crashing the next process too. A mark
 * of a live process is left alone, and a normal apply leaves no mark behind. */
PB_STORE_TEST(ingest_store_dead_worker_charges_inflight_jobs)
{
    pb_db *db = open_store();
    PB_REQUIRE(db);
    if (pb_db_backend(db) != PB_DB_SQLITE) { /* PostgreSQL: the lease path (claim counts) */
        pb_db_free(db);
        return;
    }
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(db, &c, NULL) == 0);
    pb_buf a, b;
    pb_buf_init(&a, 1 << 20);
    pb_buf_init(&b, 1 << 20);
    fx_issue_body(&a, &(fx_issue){.id = ISSUE_A, .action = "created", .updated_at = 1763800000000000LL});
    fx_issue_body(&b, &(fx_issue){.id = ISSUE_B, .action = "created", .updated_at = 1763800000000000LL});
    pb_queue_in in[2] = {{.key = "if-a",
                          .source = "plane",
                          .workspace = "acme",
                          .object_type = "issue",
                          .object_id = ISSUE_A,
                          .received_at = 1,
                          .body = a.data,
                          .body_len = a.len},
                         {.key = "if-b",
                          .source = "plane",
                          .workspace = "acme",
                          .object_type = "issue",
                          .object_id = ISSUE_B,
                          .received_at = 2,
                          .body = b.data,
                          .body_len = b.len}};
    unsigned char ins[2];
    PB_REQUIRE(pb_queue_enqueue_batch(c, in, 2, ins, NULL) == 0);
    int64_t ida = -1, idb = -1;
    PB_REQUIRE(pb_conn_query_int(c, "SELECT id FROM ops.event_queue WHERE idempotency_key = 'if-a'", NULL, 0, &ida,
                                 NULL) == 0);
    PB_REQUIRE(pb_conn_query_int(c, "SELECT id FROM ops.event_queue WHERE idempotency_key = 'if-b'", NULL, 0, &idb,
                                 NULL) == 0);
    /* job A: its worker (a process that has exited) died applying it, at its 3rd attempt */
    pid_t child = fork();
    PB_REQUIRE(child >= 0);
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char self[96], host[64], owner[160];
    pb_worker_identity(self, host);
    snprintf(owner, sizeof owner, "%s:%d:deadbeef", host, (int)child);
    int64_t now = pb_now_us();
    PB_REQUIRE(pb_queue_inflight_mark(c, &ida, 1, owner, child, now, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c, "UPDATE ops.event_queue SET attempts = 2 WHERE id = $1", (pb_val[]){PB_INT(ida)}, 1,
                            NULL, NULL) == 0);
    /* job B: marked by a live process (our parent) that is applying it right now */
    snprintf(owner, sizeof owner, "%s:%d:cafe", host, (int)getppid());
    PB_REQUIRE(pb_queue_inflight_mark(c, &idb, 1, owner, getppid(), now, NULL) == 0);

    pb_worker_options o = {.coalesce_ms = 0, .max_attempts = 3};
    pb_worker_tally t = {0};
    PB_REQUIRE(pb_worker_run_once(c, &o, "w", &t, NULL) == 0);
    PB_CHECK_EQ_INT(t.dead, 1);
    char status[16];
    pb_queue_job *j = calloc(1, sizeof *j);
    PB_REQUIRE(j && pb_queue_get(c, ida, j, status, NULL) == 0);
    PB_CHECK_STR(status, "dead"); /* charged the 3rd attempt: dead letter, never applied */
    PB_CHECK_EQ_INT(j->attempts, 3);
    pb_queue_jobs_free(j, 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM work_plane.items WHERE plane_id = $1", ISSUE_A), 0);
    char *e = q_text(db, "SELECT last_error FROM ops.event_queue WHERE idempotency_key = 'if-a'", NULL);
    PB_CHECK(e && strstr(e, "died"));
    free(e);
    /* B was not charged by anyone; this worker applied it (its mark is replaced, then cleared) */
    j = calloc(1, sizeof *j);
    PB_REQUIRE(j && pb_queue_get(c, idb, j, status, NULL) == 0);
    PB_CHECK_STR(status, "done");
    PB_CHECK_EQ_INT(j->attempts, 1);
    pb_queue_jobs_free(j, 1);
    PB_CHECK_EQ_INT(q_int(db, "SELECT COUNT(*) FROM ops.event_inflight", NULL), 0);
    pb_db_release(db, c);
    pb_buf_free(&a);
    pb_buf_free(&b);
    pb_db_free(db);
}
