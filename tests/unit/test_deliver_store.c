/* Deliveries against a real store (both backends) and a controllable local receiver, with
 * an injectable clock: fan-out, signing, retries, Retry-After, 410, auto-disable, replay,
 * leases, plane format, rotation, chat throttling. No sleeps. */
#include "test.h"
#include "test_deliver_recv.h"

#include "auth/vault.h"
#include "core/util.h"
#include "deliver/deliver.h"
#include "deliver/format.h"
#include "deliver/sign.h"
#include "store/deliver_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S 1000000LL

typedef struct fx {
    pb_db *db;
    struct pb_vault *vault;
    pb_deliver *d;
    trecv *rx;
    int64_t now;
} fx;

static int64_t fx_clock(void *ctx)
{
    return ((fx *)ctx)->now;
}

static int fx_open_opts(fx *f, const char *allow, const char *schedule)
{
    pb_error err = {0};
    memset(f, 0, sizeof *f);
    f->now = pb_now_us();
    char kf[600];
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, &err) || pb_vault_create_key_file(kf, &err) ||
        pb_vault_open(f->db, kf, &f->vault, &err)) {
        fprintf(stderr, "    setup: %s\n", err.msg);
        return -1;
    }
    pb_deliver_options o = {.db = f->db,
                            .vault = f->vault,
                            .public_url = "https://plane.example.com",
                            .ssrf_allow = allow,
                            .schedule = schedule,
                            .timeout_ms = 5000,
                            .now = fx_clock,
                            .now_ctx = f};
    if (pb_deliver_new(&o, &f->d, &err)) {
        fprintf(stderr, "    setup: %s\n", err.msg);
        return -1;
    }
    f->rx = trecv_start();
    return f->rx ? 0 : -1;
}

static int fx_open(fx *f)
{
    return fx_open_opts(f, "127.0.0.1/32", NULL);
}

static void fx_close(fx *f)
{
    pb_deliver_free(f->d);
    pb_vault_free(f->vault);
    pb_db_free(f->db);
    trecv_stop(f->rx);
}

static int add_hook(fx *f, const char *format, const char *events, const char *path, pb_hook *h, char *secret)
{
    pb_error err = {0};
    memset(h, 0, sizeof *h);
    pb_strlcpy(h->workspace_slug, "acme", sizeof h->workspace_slug);
    pb_strlcpy(h->url, trecv_url(f->rx, path), sizeof h->url);
    pb_strlcpy(h->format, format, sizeof h->format);
    pb_strlcpy(h->events, events ? events : "", sizeof h->events);
    int rc = pb_deliver_hook_create(f->d, h, secret, PB_SW_SECRET_MAX, &err);
    if (rc) fprintf(stderr, "    add_hook: %s\n", err.msg);
    return rc;
}

static int emit(fx *f, const char *type, const char *project, const char *object, const char *payload)
{
    pb_error err = {0};
    int rc = pb_deliver_emit(f->d, type, "acme", project, object, payload, NULL, &err);
    if (rc) fprintf(stderr, "    emit: %s\n", err.msg);
    return rc;
}

/* One dispatcher round and one worker round; returns attempts made (or -1). */
static int pump(fx *f)
{
    pb_error err = {0};
    int fanned = 0, sent = 0;
    if (pb_deliver_dispatch_once(f->d, &fanned, &err) || pb_deliver_work_once(f->d, NULL, "t", &sent, &err)) {
        fprintf(stderr, "    pump: %s\n", err.msg);
        return -1;
    }
    return sent;
}

static int get_msg(fx *f, const char *hook_id, pb_delivery *out)
{
    pb_conn *c = NULL;
    pb_delivery *ms = NULL;
    size_t n = 0;
    int rc = pb_db_acquire(f->db, &c, NULL);
    if (!rc) rc = pb_dstore_delivery_list(c, hook_id, NULL, 10, &ms, &n, NULL);
    pb_db_release(f->db, c);
    if (rc || n == 0) {
        pb_delivery_free_array(ms, n);
        return -1;
    }
    *out = ms[n - 1]; /* oldest */
    ms[n - 1].body = NULL;
    pb_delivery_free_array(ms, n);
    return 0;
}

static int64_t count_sql(fx *f, const char *sql, const char *arg)
{
    pb_conn *c = NULL;
    int64_t v = -1;
    pb_val p[] = {PB_TEXT(arg)};
    if (pb_db_acquire(f->db, &c, NULL) == 0) {
        if (pb_conn_query_int(c, sql, p, arg ? 1 : 0, &v, NULL)) v = -1;
        pb_db_release(f->db, c);
    }
    return v;
}

PB_STORE_TEST(deliver_standard_fanout_sign_and_dedupe)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h, other;
    char secret[PB_SW_SECRET_MAX], s2[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/a", &h, secret) == 0);
    PB_CHECK(strncmp(secret, "whsec_", 6) == 0);
    PB_REQUIRE(add_hook(&f, "standard", "cycle.*", "/b", &other, s2) == 0); /* not selected */
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\",\"name\":\"One\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(pump(&f), 0); /* nothing fanned or sent twice */
    PB_REQUIRE(trecv_count(f.rx) == 1);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 0, &q) == 0);
    PB_CHECK_STR(q.path, "/a");
    char id[128], ts[64], sig[256], ct[64];
    PB_REQUIRE(trecv_header(&q, "webhook-id", id, sizeof id));
    PB_REQUIRE(trecv_header(&q, "webhook-timestamp", ts, sizeof ts));
    PB_REQUIRE(trecv_header(&q, "webhook-signature", sig, sizeof sig));
    PB_CHECK_STR(trecv_header(&q, "content-type", ct, sizeof ct), "application/json");
    int64_t t;
    PB_REQUIRE(pb_parse_i64(ts, 0, INT64_MAX, &t) == 0);
    PB_CHECK_EQ_INT(t, f.now / S);
    PB_CHECK(pb_sw_verify(secret, id, t, q.body, q.len, sig));
    PB_CHECK(!pb_sw_verify(s2, id, t, q.body, q.len, sig));
    cJSON *j = pb_json_parse(q.body, q.len);
    PB_REQUIRE(j);
    PB_CHECK_STR(cJSON_GetObjectItem(j, "type")->valuestring, "issue.created");
    PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "name")->valuestring, "One");
    PB_CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "timestamp")));
    cJSON_Delete(j);
    pb_delivery m;
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    PB_CHECK_STR(m.status, "succeeded");
    PB_CHECK_STR(m.msg_id, id);
    free(m.body);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1", other.id), 0);
    trecv_req_free(&q);
    fx_close(&f);
}

PB_STORE_TEST(deliver_retry_schedule_until_dead_letter)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/r", &h, secret) == 0);
    trecv_respond(f.rx, 500, "", "boom");
    PB_REQUIRE(emit(&f, "issue.updated", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    static const int64_t ladder[] = {5, 300, 1800, 7200, 18000, 36000, 36000};
    char first_id[128] = "";
    for (int k = 0; k < 8; k++) {
        PB_CHECK_EQ_INT(pump(&f), 1);
        PB_CHECK_EQ_INT(trecv_count(f.rx), k + 1);
        trecv_req q;
        PB_REQUIRE(trecv_get(f.rx, k, &q) == 0);
        char id[128];
        trecv_header(&q, "webhook-id", id, sizeof id);
        if (k == 0) pb_strlcpy(first_id, id, sizeof first_id);
        PB_CHECK_STR(id, first_id); /* stable across retries */
        trecv_req_free(&q);
        pb_delivery m;
        PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
        free(m.body);
        PB_CHECK_EQ_INT(m.attempts, k + 1);
        PB_CHECK_EQ_INT(m.last_status, 500);
        if (k < 7) {
            PB_CHECK_STR(m.status, "pending");
            int64_t dly = m.next_attempt_at - f.now;
            PB_CHECK(dly >= ladder[k] * S * 8 / 10);
            PB_CHECK(dly <= ladder[k] * S * 12 / 10);
            /* Not due yet: nothing is sent a moment before. */
            f.now = m.next_attempt_at - 1;
            PB_CHECK_EQ_INT(pump(&f), 0);
            f.now = m.next_attempt_at;
        } else {
            PB_CHECK_STR(m.status, "failed");
            PB_CHECK(strstr(m.last_error, "gave up after 8 attempts") != NULL);
        }
    }
    f.now += 40000 * S;
    PB_CHECK_EQ_INT(pump(&f), 0);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.delivery_attempts WHERE hook_id = $1", h.id), 8);
    pb_attempt *as = NULL;
    size_t n = 0;
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_attempt_list(c, h.id, NULL, 100, &as, &n, NULL) == 0);
    pb_db_release(f.db, c);
    PB_REQUIRE(n == 8);
    PB_CHECK_STR(as[0].outcome, "failed");
    PB_CHECK_STR(as[1].outcome, "retry");
    PB_CHECK_EQ_INT(as[0].http_status, 500);
    PB_CHECK_STR(as[0].response, "boom");
    PB_CHECK(as[1].next_attempt_at > 0);
    pb_attempt_free_array(as, n);
    fx_close(&f);
}

PB_STORE_TEST(deliver_retry_after_within_bounds)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/ra", &h, secret) == 0);
    trecv_respond(f.rx, 503, "Retry-After: 86400\r\n", "");
    PB_REQUIRE(emit(&f, "issue.updated", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    pb_delivery m;
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    /* scheduled 5 s +-20 %, Retry-After clamped to at most twice that */
    int64_t dly = m.next_attempt_at - f.now;
    PB_CHECK(dly >= 8 * S && dly <= 12 * S);
    f.now = m.next_attempt_at;
    trecv_respond(f.rx, 429, "Retry-After: 1\r\n", "");
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    /* 429: at least the 60 s overload penalty; Retry-After 1 cannot shorten it */
    dly = m.next_attempt_at - f.now;
    PB_CHECK(dly >= 60 * S && dly <= 360 * S);
    f.now = m.next_attempt_at;
    trecv_respond(f.rx, 302, "Location: http://127.0.0.1:1/\r\n", "");
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 3); /* redirect not followed */
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    PB_CHECK_STR(m.status, "pending");
    PB_CHECK_EQ_INT(m.last_status, 302);
    f.now = m.next_attempt_at;
    trecv_respond(f.rx, 204, "", "");
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    PB_CHECK_STR(m.status, "succeeded");
    fx_close(&f);
}

PB_STORE_TEST(deliver_410_disables_and_emits_endpoint_disabled)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook gone, watcher;
    char s1[PB_SW_SECRET_MAX], s2[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", "issue.*", "/gone", &gone, s1) == 0);
    PB_REQUIRE(add_hook(&f, "standard", "endpoint.disabled", "/ops", &watcher, s2) == 0);
    trecv_respond(f.rx, 410, "", "");
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    pb_hook now;
    PB_REQUIRE(pb_deliver_hook_get(f.d, gone.id, &now, NULL) == 0);
    PB_CHECK_EQ_INT(now.active, 0);
    PB_CHECK(strstr(now.disabled_reason, "410") != NULL);
    /* later events are not fanned out to it; the operational event reaches the watcher */
    trecv_respond(f.rx, 200, "", "");
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i2", "{\"id\":\"i2\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_REQUIRE(trecv_count(f.rx) == 2);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 1, &q) == 0);
    PB_CHECK_STR(q.path, "/ops");
    PB_CHECK(strstr(q.body, "\"endpoint.disabled\"") != NULL);
    PB_CHECK(strstr(q.body, gone.id) != NULL);
    trecv_req_free(&q);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1", gone.id), 1);
    fx_close(&f);
}

PB_STORE_TEST(deliver_auto_disable_after_five_days)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/flaky", &h, secret) == 0);
    trecv_respond(f.rx, 500, "", "");
    int64_t t0 = f.now;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    pb_hook cur;
    PB_REQUIRE(pb_deliver_hook_get(f.d, h.id, &cur, NULL) == 0);
    PB_CHECK_EQ_INT(cur.failing_since, t0);
    /* A success resets the failure window. */
    f.now += 3 * 86400 * S;
    trecv_respond(f.rx, 200, "", "");
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i2", "{\"id\":\"i2\"}") == 0);
    PB_CHECK(pump(&f) >= 1);
    PB_REQUIRE(pb_deliver_hook_get(f.d, h.id, &cur, NULL) == 0);
    PB_CHECK_EQ_INT(cur.failing_since, 0);
    /* Failing from t1 on: still active after 4 days, disabled once 5 days have passed. */
    trecv_respond(f.rx, 500, "", "");
    int64_t t1 = f.now;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i3", "{\"id\":\"i3\"}") == 0);
    PB_CHECK(pump(&f) >= 1);
    f.now = t1 + 4 * 86400 * S;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i4", "{\"id\":\"i4\"}") == 0);
    PB_CHECK(pump(&f) >= 1);
    PB_REQUIRE(pb_deliver_hook_get(f.d, h.id, &cur, NULL) == 0);
    PB_CHECK_EQ_INT(cur.active, 1);
    PB_CHECK_EQ_INT(cur.failing_since, t1);
    f.now = t1 + 5 * 86400 * S + 1;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i5", "{\"id\":\"i5\"}") == 0);
    PB_CHECK(pump(&f) >= 1);
    PB_REQUIRE(pb_deliver_hook_get(f.d, h.id, &cur, NULL) == 0);
    PB_CHECK_EQ_INT(cur.active, 0);
    PB_CHECK(strstr(cur.disabled_reason, "failing without interruption") != NULL);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.outbox WHERE type = 'endpoint.disabled' AND object_id = $1",
                              h.id),
                    1);
    /* Nothing is left pending for a disabled endpoint. */
    PB_CHECK_EQ_INT(count_sql(&f,
                              "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status IN ('pending', "
                              "'sending')",
                              h.id),
                    0);
    fx_close(&f);
}

PB_STORE_TEST(deliver_replay_one_and_since)
{
    fx f;
    PB_REQUIRE(fx_open_opts(&f, "127.0.0.1/32", "0") == 0); /* one attempt, then dead letter */
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/rp", &h, secret) == 0);
    trecv_respond(f.rx, 500, "", "");
    int64_t t0 = f.now;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i2", "{\"id\":\"i2\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 2);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'failed'", h.id),
                    2);
    pb_delivery m;
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    trecv_respond(f.rx, 200, "", "");
    f.now += 10 * S;
    pb_error err = {0};
    PB_REQUIRE(pb_deliver_replay(f.d, m.msg_id, &err) == 0);
    PB_CHECK_EQ_INT(pb_deliver_replay(f.d, m.msg_id, &err), PB_ESTATE); /* already queued */
    PB_CHECK_EQ_INT(pb_deliver_replay(f.d, "msg_nope", &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pump(&f), 1);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 2, &q) == 0);
    char id[128];
    PB_CHECK_STR(trecv_header(&q, "webhook-id", id, sizeof id), m.msg_id);
    trecv_req_free(&q);
    pb_attempt *as = NULL;
    size_t n = 0;
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_attempt_list(c, NULL, m.msg_id, 10, &as, &n, NULL) == 0);
    pb_db_release(f.db, c);
    PB_REQUIRE(n == 2);
    PB_CHECK_STR(as[0].trigger, "manual");
    PB_CHECK_STR(as[0].outcome, "succeeded");
    PB_CHECK_STR(as[1].trigger, "scheduled");
    pb_attempt_free_array(as, n);
    /* bulk: every failure since t0 */
    int64_t cnt = 0;
    PB_REQUIRE(pb_deliver_replay_since(f.d, h.id, t0, &cnt, &err) == 0);
    PB_CHECK_EQ_INT(cnt, 1);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'succeeded'",
                              h.id),
                    2);
    PB_REQUIRE(pb_deliver_replay_since(f.d, h.id, t0, &cnt, &err) == 0);
    PB_CHECK_EQ_INT(cnt, 0);
    fx_close(&f);
}

PB_STORE_TEST(deliver_lease_prevents_double_send_and_recovers)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/l", &h, secret) == 0);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    int fanned = 0;
    PB_REQUIRE(pb_deliver_dispatch_once(f.d, &fanned, NULL) == 0);
    PB_CHECK_EQ_INT(fanned, 1);
    /* Worker A claims the message and "dies" before recording anything. */
    pb_conn *c = NULL;
    pb_delivery *ms = NULL;
    size_t n = 0;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_conn_begin_write(c, NULL) == 0);
    PB_REQUIRE(pb_dstore_delivery_claim(c, f.now, f.now + 60 * S, "dead-worker", 10, &ms, &n, NULL) == 0);
    PB_REQUIRE(pb_conn_commit(c, NULL) == 0);
    pb_db_release(f.db, c);
    PB_CHECK_EQ_INT(n, 1);
    pb_delivery_free_array(ms, n);
    /* While the lease holds, nobody else sends it. */
    f.now += 59 * S;
    PB_CHECK_EQ_INT(pump(&f), 0);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 0);
    /* After it expires, it is claimed again and delivered once. */
    f.now += 2 * S;
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(pump(&f), 0);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 1);
    /* A late result from the dead worker cannot overwrite the new state. */
    pb_delivery m;
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    int changed = 1;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_delivery_finish(c, m.id, "dead-worker", "failed", 9, 0, 500, "late", f.now, &changed, NULL) ==
               0);
    pb_db_release(f.db, c);
    PB_CHECK_EQ_INT(changed, 0);
    PB_REQUIRE(get_msg(&f, h.id, &m) == 0);
    free(m.body);
    PB_CHECK_STR(m.status, "succeeded");
    fx_close(&f);
}

PB_STORE_TEST(deliver_plane_format_end_to_end)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "plane", NULL, "/plane", &h, secret) == 0);
    PB_CHECK(strncmp(secret, "plane_wh_", 9) == 0);
    /* the mirror row at send time is what Plane sends as data */
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    pb_val p[] = {PB_INT(f.now)};
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO work_plane.installations (id, workspace_slug, space_id, created_at, "
                            "updated_at) VALUES ('9f1c7f3e-0000-4000-8000-000000000001', 'acme', 's1', $1, $1)",
                            p, 1, NULL, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, name, "
                            "created_at, updated_at, raw) VALUES ('i1', 'issue', 'acme', 'p1', 'Latest', $1, $1, "
                            "'{\"id\":\"i1\",\"name\":\"Latest\",\"priority\":\"low\"}')",
                            p, 1, NULL, NULL) == 0);
    pb_db_release(f.db, c);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\",\"name\":\"First\"}") == 0);
    PB_REQUIRE(emit(&f, "issue.updated", "p1", "i1",
                    "{\"type\":\"issue.updated\",\"timestamp\":\"2026-11-21T10:00:00.000000Z\",\"data\":{\"id\":\"i1\","
                    "\"name\":\"Latest\",\"priority\":\"low\"},\"previous_attributes\":{\"name\":\"First\","
                    "\"priority\":\"none\"},\"actor\":{\"id\":\"u1\",\"display_name\":\"alice\"}}") == 0);
    PB_REQUIRE(emit(&f, "issue.deleted", "p1", "i1", "{\"id\":\"i1\"}") == 0); /* Plane sends nothing */
    PB_REQUIRE(emit(&f, "issue.assigned", "p1", "i1", "{\"id\":\"i1\"}") == 0);    /* derived: nothing */
    PB_REQUIRE(emit(&f, "project.deleted", "p1", "p1", "{\"id\":\"p1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 4); /* created + 2 field updates + project delete */
    PB_REQUIRE(trecv_count(f.rx) == 4);
    int seen_name = 0, seen_prio = 0, seen_created = 0, seen_pdel = 0;
    for (int i = 0; i < 4; i++) {
        trecv_req q;
        PB_REQUIRE(trecv_get(f.rx, i, &q) == 0);
        char sig[128], ev[64], ua[64], dlv[64], want[65];
        PB_REQUIRE(trecv_header(&q, "X-Plane-Signature", sig, sizeof sig));
        pb_plane_sign(secret, q.body, q.len, want);
        PB_CHECK_STR(sig, want);
        PB_CHECK_STR(trecv_header(&q, "User-Agent", ua, sizeof ua), "Autopilot");
        PB_CHECK(trecv_header(&q, "X-Plane-Delivery", dlv, sizeof dlv) && pb_uuid_valid(dlv));
        PB_REQUIRE(trecv_header(&q, "X-Plane-Event", ev, sizeof ev));
        PB_CHECK(strncmp(q.body, "{\"event\": \"", 11) == 0);
        PB_CHECK(strstr(q.body, "\"workspace_id\": \"9f1c7f3e-0000-4000-8000-000000000001\"") != NULL);
        cJSON *j = pb_json_parse(q.body, q.len);
        PB_REQUIRE(j);
        PB_CHECK_STR(cJSON_GetObjectItem(j, "webhook_id")->valuestring, h.id);
        const char *action = cJSON_GetObjectItem(j, "action")->valuestring;
        cJSON *act = cJSON_GetObjectItem(j, "activity");
        cJSON *fld = cJSON_GetObjectItem(act, "field");
        if (strcmp(ev, "project") == 0) {
            seen_pdel++;
            PB_CHECK_STR(action, "deleted");
            PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "id")->valuestring, "p1");
        } else if (strcmp(action, "created") == 0) {
            seen_created++;
            PB_CHECK(cJSON_IsNull(fld));
            /* data = the row at send time, not at event time */
            PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "name")->valuestring, "Latest");
        } else if (cJSON_IsString(fld) && strcmp(fld->valuestring, "name") == 0) {
            seen_name++;
            PB_CHECK_STR(cJSON_GetObjectItem(act, "old_value")->valuestring, "First");
            PB_CHECK_STR(cJSON_GetObjectItem(act, "new_value")->valuestring, "Latest");
            PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(act, "actor"), "display_name")->valuestring, "alice");
        } else if (cJSON_IsString(fld) && strcmp(fld->valuestring, "priority") == 0) {
            seen_prio++;
        }
        cJSON_Delete(j);
        trecv_req_free(&q);
    }
    PB_CHECK(seen_name == 1 && seen_prio == 1 && seen_created == 1 && seen_pdel == 1);
    /* An item deleted in the mirror before sending is dropped, as CE does. */
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c, "UPDATE work_plane.items SET deleted_at = $1 WHERE plane_id = 'i1'", p, 1, NULL, NULL) ==
               0);
    pb_db_release(f.db, c);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 0);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 4);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'skipped'", h.id),
                    1);
    fx_close(&f);
}

PB_STORE_TEST(deliver_rotation_signs_with_both_for_24h)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char old[PB_SW_SECRET_MAX], neu[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/rot", &h, old) == 0);
    pb_error err = {0};
    PB_REQUIRE(pb_deliver_hook_rotate(f.d, h.id, neu, sizeof neu, &err) == 0);
    PB_CHECK(strcmp(old, neu) != 0);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    f.now += 24 * 3600 * S + 1;
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i2", "{\"id\":\"i2\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_REQUIRE(trecv_count(f.rx) == 2);
    for (int i = 0; i < 2; i++) {
        trecv_req q;
        PB_REQUIRE(trecv_get(f.rx, i, &q) == 0);
        char id[128], ts[64], sig[512];
        trecv_header(&q, "webhook-id", id, sizeof id);
        trecv_header(&q, "webhook-timestamp", ts, sizeof ts);
        trecv_header(&q, "webhook-signature", sig, sizeof sig);
        int64_t t = 0;
        pb_parse_i64(ts, 0, INT64_MAX, &t);
        PB_CHECK(pb_sw_verify(neu, id, t, q.body, q.len, sig));
        if (i == 0) {
            PB_CHECK(strchr(sig, ' ') != NULL); /* "v1,new v1,old" */
            PB_CHECK(pb_sw_verify(old, id, t, q.body, q.len, sig));
        } else {
            PB_CHECK(strchr(sig, ' ') == NULL);
            PB_CHECK(!pb_sw_verify(old, id, t, q.body, q.len, sig));
        }
        trecv_req_free(&q);
    }
    fx_close(&f);
}

PB_STORE_TEST(deliver_slack_throttle_and_readable_text)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "slack", NULL, "/services/T/B/x", &h, secret) == 0);
    PB_CHECK_EQ_INT(h.min_interval_ms, 1000);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    pb_val p[] = {PB_INT(f.now)};
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO work_plane.projects (plane_id, workspace_slug, identifier, name, created_at, "
                            "updated_at, raw) VALUES ('p1', 'acme', 'WEB', 'Web', $1, $1, '{}')",
                            p, 1, NULL, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, name, "
                            "created_at, updated_at, raw) VALUES ('s1', 'state', 'acme', 'p1', 'In Review', $1, $1, "
                            "'{}')",
                            p, 1, NULL, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO ops.users (id, email, first_name, last_name, display_name, created_at, "
                            "updated_at) VALUES ('u9', 'dana@example.com', 'Dana', 'D', 'dana', $1, $1)",
                            p, 1, NULL, NULL) == 0);
    pb_db_release(f.db, c);
    for (int i = 0; i < 3; i++)
        PB_REQUIRE(emit(&f, "issue.updated", "p1", "i1",
                        "{\"type\":\"issue.updated\",\"data\":{\"id\":\"i1\",\"name\":\"Checkout\",\"sequence_id\":7,"
                        "\"state\":\"s1\",\"assignees\":[\"u9\"],\"updated_by\":\"u9\"},\"previous_attributes\":{"
                        "\"name\":\"Cart\"}}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1); /* about one message per second per URL */
    PB_CHECK_EQ_INT(trecv_count(f.rx), 1);
    PB_CHECK_EQ_INT(pump(&f), 0);
    f.now += 1 * S;
    PB_CHECK_EQ_INT(pump(&f), 1);
    f.now += 1 * S;
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 3);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 0, &q) == 0);
    cJSON *j = pb_json_parse(q.body, q.len);
    PB_REQUIRE(j);
    const char *t = cJSON_GetObjectItem(j, "text")->valuestring;
    PB_CHECK(strstr(t, "WEB-7 Checkout") != NULL);
    PB_CHECK(strstr(t, "State: In Review") != NULL);
    PB_CHECK(strstr(t, "*name*: Cart") != NULL);
    PB_CHECK(strstr(t, "issue updated by dana") != NULL);
    PB_CHECK(strstr(t, "Assignee: dana") != NULL);
    PB_CHECK(strstr(t, "https://plane.example.com/acme/projects/p1/issues/i1") != NULL);
    cJSON_Delete(j);
    trecv_req_free(&q);
    /* host validation: a Slack hook must point at hooks.slack.com (unless allowlisted literal) */
    pb_hook bad;
    memset(&bad, 0, sizeof bad);
    pb_strlcpy(bad.workspace_slug, "acme", sizeof bad.workspace_slug);
    pb_strlcpy(bad.url, "https://example.com/services/x", sizeof bad.url);
    pb_strlcpy(bad.format, "slack", sizeof bad.format);
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_deliver_hook_create(f.d, &bad, secret, sizeof secret, &err), PB_EINVAL);
    fx_close(&f);
}

PB_STORE_TEST(deliver_ssrf_refused_at_save_and_at_send)
{
    fx f;
    PB_REQUIRE(fx_open_opts(&f, "", NULL) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    memset(&h, 0, sizeof h);
    pb_strlcpy(h.workspace_slug, "acme", sizeof h.workspace_slug);
    pb_strlcpy(h.url, trecv_url(f.rx, "/x"), sizeof h.url);
    pb_strlcpy(h.format, "standard", sizeof h.format);
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_deliver_hook_create(f.d, &h, secret, sizeof secret, &err), PB_EFORBIDDEN);
    pb_strlcpy(h.url, "http://169.254.169.254/latest/", sizeof h.url);
    PB_CHECK_EQ_INT(pb_deliver_hook_create(f.d, &h, secret, sizeof secret, &err), PB_EFORBIDDEN);
    /* A hook saved while allowed is re-checked at send time. */
    pb_deliver_free(f.d);
    pb_deliver_options o = {.db = f.db, .vault = f.vault, .ssrf_allow = "127.0.0.1", .now = fx_clock, .now_ctx = &f};
    PB_REQUIRE(pb_deliver_new(&o, &f.d, NULL) == 0);
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/x", &h, secret) == 0);
    pb_deliver_free(f.d);
    o.ssrf_allow = "";
    PB_REQUIRE(pb_deliver_new(&o, &f.d, NULL) == 0);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 0);
    pb_attempt *as = NULL;
    size_t n = 0;
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_attempt_list(c, h.id, NULL, 10, &as, &n, NULL) == 0);
    pb_db_release(f.db, c);
    PB_REQUIRE(n == 1);
    PB_CHECK(strstr(as[0].error, "non-public") != NULL);
    PB_CHECK_STR(as[0].outcome, "retry");
    pb_attempt_free_array(as, n);
    fx_close(&f);
}

PB_STORE_TEST(deliver_hook_management_and_retention)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", "issue.created, issue.updated", "/m", &h, secret) == 0);
    PB_CHECK_STR(h.event_mode, "individual");
    pb_hook *list = NULL;
    size_t n = 0;
    PB_REQUIRE(pb_deliver_hook_list(f.d, "acme", &list, &n, NULL) == 0);
    PB_CHECK_EQ_INT(n, 1);
    free(list);
    pb_buf b;
    pb_buf_init(&b, 0);
    pb_deliver_hook_json(&h, &b);
    PB_CHECK(strstr(pb_buf_cstr(&b), "\"events\":[\"issue.created\",\"issue.updated\"]") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&b), "whsec_") == NULL); /* never the secret */
    pb_buf_free(&b);
    char msg[80];
    pb_error err = {0};
    PB_REQUIRE(pb_deliver_hook_test(f.d, h.id, msg, sizeof msg, &err) == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 0, &q) == 0);
    PB_CHECK(strstr(q.body, "webhook.test") != NULL);
    trecv_req_free(&q);
    /* update: narrow the events, then disable */
    pb_strlcpy(h.events, "cycle.*", sizeof h.events);
    PB_REQUIRE(pb_deliver_hook_save(f.d, &h, &err) == 0);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "i1", "{\"id\":\"i1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 0);
    PB_REQUIRE(pb_deliver_hook_disable(f.d, h.id, NULL, &err) == 0);
    PB_REQUIRE(emit(&f, "cycle.created", "p1", "c1", "{\"id\":\"c1\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 0);
    h.active = 1;
    PB_REQUIRE(pb_deliver_hook_save(f.d, &h, &err) == 0);
    PB_REQUIRE(emit(&f, "cycle.created", "p1", "c2", "{\"id\":\"c2\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    /* retention removes finished messages and attempts older than the cutoff */
    pb_conn *c = NULL;
    int64_t del = 0;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_retention(c, f.now + 1, &del, NULL) == 0);
    pb_db_release(f.db, c);
    PB_CHECK(del >= 4);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.delivery_attempts WHERE hook_id = $1", h.id), 0);
    PB_REQUIRE(pb_deliver_hook_delete(f.d, h.id, &err) == 0);
    PB_CHECK_EQ_INT(pb_deliver_hook_get(f.d, h.id, &h, &err), PB_ENOTFOUND);
    fx_close(&f);
}

PB_STORE_TEST(deliver_fanout_finds_late_committed_lower_ids)
{
    /* PostgreSQL sequences do not commit in order: an outbox row with a lower id can become
     * visible after higher ones were fanned out. It must still be delivered. */
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/late", &h, secret) == 0);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    static const int64_t ids[] = {100, 102, 101};
    for (int i = 0; i < 3; i++) {
        char evid[32], payload[128];
        snprintf(evid, sizeof evid, "late-%lld", (long long)ids[i]);
        snprintf(payload, sizeof payload, "{\"type\":\"issue.created\",\"timestamp\":\"x\",\"data\":{\"id\":\"%lld\"}}",
                 (long long)ids[i]);
        pb_val p[] = {PB_INT(ids[i]), PB_TEXT(evid), PB_INT(f.now), PB_TEXT(payload)};
        PB_REQUIRE(pb_conn_exec(c,
                                "INSERT INTO ops.outbox (id, event_id, type, workspace_slug, occurred_at, payload) "
                                "VALUES ($1, $2, 'issue.created', 'acme', $3, $4)",
                                p, 4, NULL, NULL) == 0);
        if (i == 1) {
            pb_db_release(f.db, c);
            c = NULL;
            PB_CHECK_EQ_INT(pump(&f), 2); /* 100 and 102 */
            f.now += 1000;                /* 1 ms later: scans continue after 102 */
            PB_CHECK_EQ_INT(pump(&f), 0);
            PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
        }
    }
    pb_db_release(f.db, c);
    f.now += 1000;
    PB_CHECK_EQ_INT(pump(&f), 0); /* 101 is not seen by the quick scan... */
    f.now += 6 * S;
    PB_CHECK_EQ_INT(pump(&f), 1); /* ...but by the next full scan from the watermark */
    PB_CHECK_EQ_INT(trecv_count(f.rx), 3);
    /* and the watermark only moves past rows old enough that nothing can still commit below */
    pb_error err = {0};
    PB_REQUIRE(pb_deliver_maintain(f.d, &err) == 0);
    int64_t wm = -1;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_watermark(c, &wm, NULL) == 0);
    pb_db_release(f.db, c);
    PB_CHECK_EQ_INT(wm, 0);
    f.now += 11 * 60 * S;
    PB_REQUIRE(pb_deliver_maintain(f.d, &err) == 0);
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_dstore_watermark(c, &wm, NULL) == 0);
    pb_db_release(f.db, c);
    PB_CHECK_EQ_INT(wm, 102);
    fx_close(&f);
}

PB_STORE_TEST(deliver_plane_actor_is_userlite_from_users)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "plane", NULL, "/actor", &h, secret) == 0);
    pb_conn *c = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    pb_val p[] = {PB_INT(f.now)};
    PB_REQUIRE(pb_conn_exec(c,
                            "INSERT INTO ops.users (id, email, first_name, last_name, display_name, created_at, "
                            "updated_at) VALUES ('u1', 'ada@example.com', 'Ada', 'L', 'ada', $1, $1)",
                            p, 1, NULL, NULL) == 0);
    pb_db_release(f.db, c);
    PB_REQUIRE(emit(&f, "issue.updated", "p1", "i1",
                    "{\"type\":\"issue.updated\",\"timestamp\":\"t\",\"data\":{\"id\":\"i1\",\"name\":\"B\","
                    "\"updated_by\":\"u1\"},\"previous_attributes\":{\"name\":\"A\"}}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    trecv_req q;
    PB_REQUIRE(trecv_get(f.rx, 0, &q) == 0);
    PB_CHECK(strstr(q.body, "\"actor\": {\"id\": \"u1\", \"first_name\": \"Ada\", \"last_name\": \"L\", \"email\": "
                            "\"ada@example.com\", \"avatar\": \"\", \"avatar_url\": null, \"display_name\": \"ada\"}") !=
             NULL);
    trecv_req_free(&q);
    fx_close(&f);
}

PB_STORE_TEST(deliver_batch_recording_mixed_statuses)
{
    /* One worker round with more messages than one multi-row statement holds, to two
     * endpoints answering different 2xx codes: every row is recorded once, correctly. */
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    trecv *rx2 = trecv_start();
    PB_REQUIRE(rx2);
    pb_hook a, b, e;
    char s1[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/a", &a, s1) == 0);
    trecv *keep = f.rx;
    f.rx = rx2;
    PB_REQUIRE(add_hook(&f, "standard", "issue.*", "/b", &b, s1) == 0);
    PB_REQUIRE(add_hook(&f, "standard", "issue.created", "/e", &e, s1) == 0);
    f.rx = keep;
    trecv_respond(f.rx, 200, "", "");
    trecv_respond(rx2, 204, "", "");
    for (int i = 0; i < 21; i++) {
        char obj[16];
        snprintf(obj, sizeof obj, "i%d", i);
        PB_REQUIRE(emit(&f, i % 2 ? "issue.updated" : "issue.created", "p1", obj, "{\"id\":\"x\"}") == 0);
    }
    /* 21 to a, 21 to b, 11 to e: 53 messages, one round (batch 64) */
    PB_CHECK_EQ_INT(pump(&f), 53);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'succeeded' "
                                  "AND last_status = 200 AND attempts = 1",
                              a.id),
                    21);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'succeeded' "
                                  "AND last_status = 204 AND attempts = 1",
                              b.id),
                    21);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.delivery_attempts WHERE outcome = $1", "succeeded"), 53);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE status <> $1", "succeeded"), 0);
    PB_CHECK_EQ_INT(pump(&f), 0);
    trecv_stop(rx2);
    fx_close(&f);
}

PB_STORE_TEST(deliver_poison_event_does_not_block_fanout)
{
    /* An event whose body cannot be built (over the 4 MiB body ceiling) is recorded as a
     * failed message with the reason; the events behind it still go out. */
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/p", &h, secret) == 0);
    size_t big = (5u << 20);
    char *blob = malloc(big + 32);
    PB_REQUIRE(blob);
    memcpy(blob, "{\"blob\":\"", 9);
    memset(blob + 9, 'x', big);
    memcpy(blob + 9 + big, "\"}", 3);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "big", blob) == 0);
    free(blob);
    PB_REQUIRE(emit(&f, "issue.created", "p1", "small", "{\"id\":\"small\"}") == 0);
    PB_CHECK_EQ_INT(pump(&f), 1);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 1);
    PB_CHECK_EQ_INT(count_sql(&f,
                              "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'failed' AND "
                              "last_error LIKE 'cannot render%'",
                              h.id),
                    1);
    fx_close(&f);
}

/* Two hooks, three events: one message per hook and event, each webhook-id "msg_" + 32 hex
 * whose first 16 are the outbox row id (so the ids of later events sort after earlier ones:
 * the msg_id indexes grow at their right edge), the same id again when the fan-out of the
 * same outbox row is redone, and a retention + bulk replay that run on the 0011 indexes. */
PB_STORE_TEST(deliver_msg_ids_follow_the_outbox_order)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h1, h2;
    char s1[PB_SW_SECRET_MAX], s2[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/a", &h1, s1) == 0);
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/b", &h2, s2) == 0);
    for (int i = 0; i < 3; i++) {
        char obj[16], data[64];
        snprintf(obj, sizeof obj, "i%d", i);
        snprintf(data, sizeof data, "{\"id\":\"%s\"}", obj);
        PB_REQUIRE(emit(&f, "issue.created", "p1", obj, data) == 0);
    }
    PB_CHECK_EQ_INT(pump(&f), 6);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 6);
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    PB_REQUIRE(pb_db_acquire(f.db, &c, NULL) == 0);
    PB_REQUIRE(pb_conn_query(c, "SELECT msg_id, outbox_id FROM ops.deliveries ORDER BY outbox_id, hook_id", NULL, 0, &r,
                             NULL) == 0);
    char prev[80] = "";
    int rows = 0;
    while (pb_rows_next(r) == 1) {
        const char *id = pb_rows_text(r, 0);
        char want[20];
        snprintf(want, sizeof want, "%016llx", (unsigned long long)pb_rows_int(r, 1));
        PB_CHECK_EQ_INT((int64_t)strlen(id), 36);
        PB_CHECK(strncmp(id, "msg_", 4) == 0 && strncmp(id + 4, want, 16) == 0);
        PB_CHECK(strspn(id + 4, "0123456789abcdef") == 32);
        PB_CHECK(strcmp(prev, id) != 0);
        if (rows % 2 == 0) PB_CHECK(strcmp(prev, id) < 0); /* a later event sorts after */
        pb_strlcpy(prev, id, sizeof prev);
        rows++;
    }
    pb_rows_free(r);
    PB_CHECK_EQ_INT(rows, 6);
    /* Redoing the fan-out of every outbox row inserts nothing new: the ids are deterministic. */
    PB_REQUIRE(pb_conn_exec(c, "DELETE FROM ops.outbox_fanout", NULL, 0, NULL, NULL) == 0);
    PB_REQUIRE(pb_conn_exec(c, "DELETE FROM ops.deliver_state", NULL, 0, NULL, NULL) == 0);
    pb_db_release(f.db, c);
    int fanned = 0;
    pb_error err = {0};
    f.now += 10 * S; /* past the dispatcher's next full scan from the watermark */
    PB_REQUIRE(pb_deliver_dispatch_once(f.d, &fanned, &err) == 0);
    PB_CHECK_EQ_INT(fanned, 3);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries", NULL), 6);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE status = 'succeeded'", NULL), 6);
    fx_close(&f);
}

/* The worker threads with full rounds (batch 1): each round's recording transaction claims the
 * next message; stopping the threads puts a carried claim back to pending (nothing is left
 * leased), and what was not sent yet goes out once afterwards. */
PB_STORE_TEST(deliver_threads_carry_claims_and_release_them_on_stop)
{
    fx f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_hook h;
    char secret[PB_SW_SECRET_MAX];
    PB_REQUIRE(add_hook(&f, "standard", NULL, "/a", &h, secret) == 0);
    for (int i = 0; i < 6; i++) PB_REQUIRE(emit(&f, "issue.created", "p1", "i", "{\"id\":\"i\"}") == 0);
    pb_deliver_options o = {.db = f.db,
                            .vault = f.vault,
                            .ssrf_allow = "127.0.0.1/32",
                            .workers = 1,
                            .batch = 1,
                            .poll_ms = 5,
                            .timeout_ms = 5000,
                            .now = fx_clock,
                            .now_ctx = &f};
    pb_deliver *d2 = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_deliver_new(&o, &d2, &err) == 0);
    PB_REQUIRE(pb_deliver_start(d2, &err) == 0);
    for (int i = 0; i < 2000 && trecv_count(f.rx) < 2; i++) { /* bounded wait for progress */
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    pb_deliver_stop(d2);
    pb_deliver_free(d2);
    PB_CHECK(trecv_count(f.rx) >= 2);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE status = 'sending'", NULL), 0);
    for (int i = 0; i < 10 && count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE status = 'pending'", NULL) > 0;
         i++)
        pump(&f);
    PB_CHECK_EQ_INT(count_sql(&f, "SELECT COUNT(*) FROM ops.deliveries WHERE status = 'succeeded'", NULL), 6);
    PB_CHECK_EQ_INT(trecv_count(f.rx), 6); /* each exactly once */
    fx_close(&f);
}
