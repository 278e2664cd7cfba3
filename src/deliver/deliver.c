/* deliver: see deliver.h. */
#include "deliver/deliver.h"

#include "auth/vault.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "deliver/format.h"
#include "deliver/retry.h"
#include "deliver/sign.h"
#include "deliver/ssrf.h"
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_US 1000000LL
#define RESPONSE_KEEP 20000
#define ROTATION_GRACE_US (24LL * 3600 * S_US)
#define WATERMARK_HORIZON_US (600LL * S_US)
#define MAX_WORKERS 32
#define LIMITER_SLOTS 1024
#define SECRET_CACHE 256
#define FANOUT_BATCH 256
#define INFLIGHT_RETRY_US (200LL * 1000)
#define FULL_SCAN_MS 5000

typedef struct limiter_entry {
    char hook_id[40];
    int inflight;
    int64_t next_free;
} limiter_entry;

typedef struct secret_entry {
    char name[128];
    char *value;
} secret_entry;

struct pb_deliver {
    pb_db *db;
    struct pb_vault *vault;
    char public_url[1024];
    pb_ssrf *ssrf;
    pb_retry_schedule schedule;
    int retention_days, workers, batch, lease_s, timeout_ms, poll_ms;
    int64_t disable_after_us;
    pb_deliver_clock_fn now;
    void *now_ctx;

    pthread_mutex_t mu; /* guards limiter, secrets, wake */
    pthread_cond_t wake;
    unsigned wake_seq;
    limiter_entry limiter[LIMITER_SLOTS];
    secret_entry secrets[SECRET_CACHE];
    int secret_next;

    pthread_mutex_t sync_mu; /* guards the synchronous client */
    pb_http_client *sync_client;

    atomic_int stop;
    int running;
    pthread_t dispatcher;
    pthread_t worker_th[MAX_WORKERS];
    int nthreads;
    char worker_prefix[96];

    pthread_mutex_t fan_mu;   /* guards the fan-out hint */
    int64_t fan_hint;         /* highest outbox id fanned out by this process */
    int64_t fan_full_ms;      /* last scan from the watermark (clock ms) */
    atomic_llong claim_seq;   /* makes every claim's lease owner unique */

    pb_series *m_ok, *m_retry, *m_failed, *m_fanned;
    pb_metric *m_latency_metric;
    pb_series *m_latency;
};

static int64_t real_now(void *ctx)
{
    (void)ctx;
    return pb_now_us();
}

int64_t pb_deliver_now(pb_deliver *d)
{
    return d->now(d->now_ctx);
}

static void metrics_init(pb_deliver *d)
{
    static const char *const labels[] = {"outcome", NULL};
    pb_metric *m = pb_metric_counter("pb_delivery_attempts_total", "Outbound delivery attempts by outcome.", labels);
    const char *ok[] = {"succeeded"}, *re[] = {"retry"}, *fa[] = {"failed"};
    d->m_ok = pb_metric_series(m, ok);
    d->m_retry = pb_metric_series(m, re);
    d->m_failed = pb_metric_series(m, fa);
    pb_metric *f = pb_metric_counter("pb_delivery_fanout_total", "Outbox events fanned out to subscriptions.", NULL);
    d->m_fanned = pb_metric_series(f, NULL);
    static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15};
    d->m_latency_metric = pb_metric_histogram("pb_delivery_request_seconds", "Outbound delivery request duration.",
                                              NULL, buckets, sizeof buckets / sizeof *buckets);
    d->m_latency = pb_metric_series(d->m_latency_metric, NULL);
}

int pb_deliver_new(const pb_deliver_options *opt, pb_deliver **out, pb_error *err)
{
    *out = NULL;
    if (!opt || !opt->db) return pb_error_set(err, PB_EINVAL, "deliveries need a store");
    pb_deliver *d = calloc(1, sizeof *d);
    if (!d) return pb_error_set(err, PB_ENOMEM, "out of memory");
    d->db = opt->db;
    d->vault = opt->vault;
    pb_strlcpy(d->public_url, opt->public_url ? opt->public_url : "", sizeof d->public_url);
    d->retention_days = opt->retention_days;
    d->workers = opt->workers > 0 ? (opt->workers > MAX_WORKERS ? MAX_WORKERS : opt->workers) : 2;
    d->batch = opt->batch > 0 ? opt->batch : 64;
    d->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 15000;
    d->lease_s = opt->lease_s > 0 ? opt->lease_s : 60;
    if ((int64_t)d->lease_s * 1000 <= d->timeout_ms) d->lease_s = d->timeout_ms / 1000 + 5;
    d->poll_ms = opt->poll_ms > 0 ? opt->poll_ms : 50;
    d->disable_after_us = (opt->disable_after_s > 0 ? opt->disable_after_s : 5LL * 86400) * S_US;
    d->now = opt->now ? opt->now : real_now;
    d->now_ctx = opt->now_ctx;
    pb_retry_default(&d->schedule);
    if (opt->schedule && *opt->schedule && pb_retry_parse(opt->schedule, &d->schedule)) {
        free(d);
        return pb_error_set(err, PB_ECONFIG, "bad retry schedule \"%s\"", opt->schedule);
    }
    int rc = pb_ssrf_new(opt->ssrf_allow, &d->ssrf, err);
    if (rc) {
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->sync_mu, NULL);
    pthread_mutex_init(&d->fan_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &ca);
    pthread_condattr_destroy(&ca);
    char host[64] = "host";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    unsigned char rnd[4];
    char rhex[9];
    pb_random_bytes(rnd, sizeof rnd);
    pb_hex_encode(rnd, sizeof rnd, rhex);
    snprintf(d->worker_prefix, sizeof d->worker_prefix, "%.40s-%d-%s", host, (int)getpid(), rhex);
    metrics_init(d);
    *out = d;
    return 0;
}

void pb_deliver_free(pb_deliver *d)
{
    if (!d) return;
    pb_deliver_stop(d);
    pb_http_client_free(d->sync_client);
    for (int i = 0; i < SECRET_CACHE; i++) {
        if (d->secrets[i].value) {
            memset(d->secrets[i].value, 0, strlen(d->secrets[i].value));
            free(d->secrets[i].value);
        }
    }
    pb_ssrf_free(d->ssrf);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->sync_mu);
    pthread_mutex_destroy(&d->fan_mu);
    pthread_cond_destroy(&d->wake);
    free(d);
}

void pb_deliver_kick(pb_deliver *d)
{
    pthread_mutex_lock(&d->mu);
    d->wake_seq++;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->mu);
}

/* Waits up to ms for a kick (or stop). */
static void idle_wait(pb_deliver *d, int ms, unsigned seen)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop) && d->wake_seq == seen) {
        if (pthread_cond_timedwait(&d->wake, &d->mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&d->mu);
}

static unsigned wake_seq(pb_deliver *d)
{
    pthread_mutex_lock(&d->mu);
    unsigned s = d->wake_seq;
    pthread_mutex_unlock(&d->mu);
    return s;
}

/* ------------------------------------------------------------------ secrets */

/* Returns a malloc'd copy of the named secret (cached), or NULL. */
static char *secret_get(pb_deliver *d, const char *name, pb_error *err)
{
    if (!name || !*name) return NULL;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < SECRET_CACHE; i++) {
        if (d->secrets[i].value && strcmp(d->secrets[i].name, name) == 0) {
            char *c = strdup(d->secrets[i].value);
            pthread_mutex_unlock(&d->mu);
            return c;
        }
    }
    pthread_mutex_unlock(&d->mu);
    if (!d->vault) {
        pb_error_set(err, PB_ECONFIG, "no vault configured for webhook secrets");
        return NULL;
    }
    char *v = NULL;
    size_t len = 0;
    if (pb_vault_get(d->vault, name, &v, &len, err)) return NULL;
    char *copy = strdup(v);
    char *cached = strdup(v);
    pb_vault_secret_free(v);
    pthread_mutex_lock(&d->mu);
    secret_entry *e = &d->secrets[d->secret_next];
    d->secret_next = (d->secret_next + 1) % SECRET_CACHE;
    if (e->value) {
        memset(e->value, 0, strlen(e->value));
        free(e->value);
    }
    pb_strlcpy(e->name, name, sizeof e->name);
    e->value = cached;
    pthread_mutex_unlock(&d->mu);
    return copy;
}

static void secret_wipe(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

static int secret_new_for(pb_deliver *d, const pb_hook *h, char *secret, size_t len, char *name, size_t namelen,
                          pb_error *err)
{
    int rc = strcmp(h->format, "plane") == 0 ? pb_plane_secret_new(secret, len) : pb_sw_secret_new(secret, len);
    if (rc) return pb_error_set(err, rc, "cannot generate a secret");
    if (!d->vault) return pb_error_set(err, PB_ECONFIG, "no vault configured for webhook secrets");
    unsigned char r[4];
    char hx[9];
    pb_random_bytes(r, sizeof r);
    pb_hex_encode(r, sizeof r, hx);
    snprintf(name, namelen, "hook:%s:%s", h->id, hx);
    pb_redact_register(secret);
    return pb_vault_put(d->vault, name, secret, 0, err);
}

/* ------------------------------------------------------------------ limiter */

/* The limiter entry of a hook (caller holds d->mu). */
static limiter_entry *limiter_entry_for(pb_deliver *d, const char *hook_id, int64_t now)
{
    limiter_entry *e = NULL, *empty = NULL;
    unsigned hash = 5381;
    for (const char *p = hook_id; *p; p++) hash = hash * 33 + (unsigned char)*p;
    for (int i = 0; i < LIMITER_SLOTS; i++) {
        limiter_entry *c = &d->limiter[(hash + (unsigned)i) % LIMITER_SLOTS];
        if (strcmp(c->hook_id, hook_id) == 0) return c;
        if (!c->hook_id[0]) {
            empty = c;
            break;
        }
        if (!empty && c->inflight == 0 && c->next_free <= now) empty = c; /* reusable */
    }
    e = empty ? empty : &d->limiter[hash % LIMITER_SLOTS];
    pb_strlcpy(e->hook_id, hook_id, sizeof e->hook_id);
    e->inflight = 0;
    e->next_free = 0;
    return e;
}

/* Rate-limited hooks (min_interval_ms > 0, Slack/Pumble): reserves the next send time.
 * Returns 0 when the message may go now (a concurrency slot is then held), or the time
 * (us) to defer it to. Other hooks: always 0 without taking a slot (see limiter_try). */
static int64_t limiter_reserve(pb_deliver *d, const pb_hook *h, int64_t now, int *slot)
{
    *slot = 0;
    if (h->min_interval_ms <= 0) return 0;
    pthread_mutex_lock(&d->mu);
    limiter_entry *e = limiter_entry_for(d, h->id, now);
    int64_t interval = (int64_t)h->min_interval_ms * 1000, at = 0;
    int maxin = h->max_inflight > 0 ? h->max_inflight : 1;
    if (e->next_free > now) {
        at = e->next_free; /* not before the next free time; reserves nothing */
    } else if (e->inflight >= maxin) {
        at = now + interval; /* the previous request is still running */
    } else {
        e->inflight++;
        *slot = 1;
        e->next_free = now + interval;
    }
    pthread_mutex_unlock(&d->mu);
    return at;
}

/* Takes a concurrency slot for the hook if one is free (per-endpoint max_inflight). */
static int limiter_try(pb_deliver *d, const pb_hook *h, int64_t now)
{
    pthread_mutex_lock(&d->mu);
    limiter_entry *e = limiter_entry_for(d, h->id, now);
    int maxin = h->max_inflight > 0 ? h->max_inflight : 16;
    int ok = e->inflight < maxin;
    if (ok) e->inflight++;
    pthread_mutex_unlock(&d->mu);
    return ok;
}

static void limiter_release(pb_deliver *d, const char *hook_id)
{
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < LIMITER_SLOTS; i++) {
        if (strcmp(d->limiter[i].hook_id, hook_id) == 0) {
            if (d->limiter[i].inflight > 0) d->limiter[i].inflight--;
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
}

/* ------------------------------------------------------------------ transactions */

/* A write transaction (SQLite: BEGIN IMMEDIATE, so read-then-write cannot deadlock). */
static int txn_begin(pb_deliver *d, pb_conn *c, pb_error *err)
{
    (void)d;
    return pb_conn_begin_write(c, err);
}

/* Commits (rc == 0) or rolls back; call only after a successful txn_begin. */
static int txn_end(pb_deliver *d, pb_conn *c, int rc, pb_error *err)
{
    (void)d;
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc) pb_conn_rollback(c);
    return rc;
}

/* ------------------------------------------------------------------ fan-out */

/* The webhook-id of a message: "msg_" + 16 hex digits of seq (the outbox row id, or the
 * creation time for messages that have none) + 16 hex digits of SHA-256(hook, event, field).
 * Deterministic, so a fan-out redone after a crash finds the same ids; the ordered prefix
 * keeps inserts into the msg_id indexes (deliveries, delivery log) at their right edge
 * instead of on a random page each, which is most of what a commit writes otherwise. */
static void msg_id_for(const char *hook_id, const char *event_id, const char *field, int64_t seq, char *out,
                       size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    memset(md, 0, sizeof md);
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_DigestUpdate(c, hook_id, strlen(hook_id) + 1);
        EVP_DigestUpdate(c, event_id, strlen(event_id) + 1);
        if (field) EVP_DigestUpdate(c, field, strlen(field));
        EVP_DigestFinal_ex(c, md, &mdlen);
    }
    EVP_MD_CTX_free(c);
    char hex[65];
    pb_hex_encode(md, 8, hex);
    snprintf(out, len, "msg_%016llx%.16s", (unsigned long long)seq, hex);
}

/* Display name of a person/state reference: an object with display_name/name, or an id
 * looked up in the mirror. */
static void ref_name(pb_conn *c, const cJSON *v, char *out, size_t n)
{
    out[0] = '\0';
    if (cJSON_IsObject(v)) {
        const char *keys[] = {"display_name", "name", "first_name", "email", "id"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
            if (cJSON_IsString(s) && s->valuestring[0]) {
                pb_strlcpy(out, s->valuestring, n);
                return;
            }
        }
    } else if (cJSON_IsString(v) && v->valuestring[0]) {
        pb_dstore_item_name(c, v->valuestring, out, n, NULL);
        if (!out[0]) {
            char *u = NULL;
            pb_dstore_user_lite(c, v->valuestring, &u, NULL);
            cJSON *uj = u ? pb_json_parse(u, strlen(u)) : NULL;
            free(u);
            if (uj) ref_name(c, uj, out, n);
            cJSON_Delete(uj);
        }
        if (!out[0]) pb_strlcpy(out, v->valuestring, n);
    }
}

/* Gives the payload an "actor" object (Plane's UserLite) when it only names one by id
 * (payload.actor as a string, or data.updated_by / created_by), from ops.users. */
static void actor_enrich(pb_conn *c, cJSON *payload)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(payload, "actor");
    if (cJSON_IsObject(a)) return;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(payload, "data");
    const char *id = cJSON_IsString(a) ? a->valuestring : NULL;
    if (!id) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(data, "updated_by");
        if (!cJSON_IsString(u)) u = cJSON_GetObjectItemCaseSensitive(data, "created_by");
        if (cJSON_IsString(u)) id = u->valuestring;
    }
    char *lite = NULL;
    if (!id || pb_dstore_user_lite(c, id, &lite, NULL) || !lite) return;
    cJSON *uj = pb_json_parse(lite, strlen(lite));
    free(lite);
    if (!uj) return;
    if (a) cJSON_ReplaceItemInObjectCaseSensitive(payload, "actor", uj);
    else cJSON_AddItemToObject(payload, "actor", uj);
}

static int chat_render(pb_deliver *d, pb_conn *c, const pb_hook *h, const pb_outbox_row *o, const cJSON *payload,
                       pb_buf *out)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(payload, "data");
    char ident[64] = "", state[128] = "", assignees[512] = "", actor[128] = "";
    pb_dstore_project_ident(c, o->project_id, ident, sizeof ident, NULL);
    ref_name(c, cJSON_GetObjectItemCaseSensitive(data, "state"), state, sizeof state);
    const cJSON *as = cJSON_GetObjectItemCaseSensitive(data, "assignees");
    for (const cJSON *a = cJSON_IsArray(as) ? as->child : NULL; a; a = a->next) {
        char nm[128];
        ref_name(c, a, nm, sizeof nm);
        if (!nm[0]) continue;
        size_t l = strlen(assignees);
        snprintf(assignees + l, sizeof assignees - l, "%s%s", l ? ", " : "", nm);
    }
    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(payload, "actor");
    if (!ac) ac = cJSON_GetObjectItemCaseSensitive(data, "updated_by");
    ref_name(c, ac, actor, sizeof actor);
    pb_chat_ctx cx = {d->public_url, ident, state, assignees, actor};
    return pb_chat_body(strcmp(h->format, "pumble") == 0, o->type, o->workspace_slug, o->project_id, payload, &cx,
                        out);
}

/* Inserts one message. render_rc != 0 (the body could not be built: too big, out of
 * memory) records the message as failed with the reason instead of blocking the outbox:
 * a poison event must never stop the fan-out of the ones behind it. */
static int insert_msg(pb_conn *c, const pb_hook *h, const pb_outbox_row *o, const char *field, int render_rc,
                      const char *body, int64_t now, int *count, pb_error *err)
{
    pb_delivery m;
    memset(&m, 0, sizeof m);
    if (render_rc) {
        body = "";
        pb_strlcpy(m.status, "failed", sizeof m.status);
        snprintf(m.last_error, sizeof m.last_error, "cannot render the message: %s", pb_strerror(render_rc));
        PB_LOG(PB_LOG_WARN, "delivery not rendered", PB_LS("hook", h->id), PB_LS("event", o->event_id),
               PB_LS("error", pb_strerror(render_rc)));
    }
    msg_id_for(h->id, o->event_id, field, o->id, m.msg_id, sizeof m.msg_id);
    pb_strlcpy(m.hook_id, h->id, sizeof m.hook_id);
    m.outbox_id = o->id;
    pb_strlcpy(m.event_type, o->type, sizeof m.event_type);
    pb_strlcpy(m.workspace_slug, o->workspace_slug, sizeof m.workspace_slug);
    pb_strlcpy(m.object_id, o->object_id, sizeof m.object_id);
    m.body = (char *)(uintptr_t)body;
    m.next_attempt_at = now;
    m.created_at = now;
    int ins = 0;
    int rc = pb_dstore_delivery_insert(c, &m, &ins, err);
    if (!rc && ins) (*count)++;
    return rc;
}

static int fan_one(pb_deliver *d, pb_conn *c, const pb_hook *hooks, size_t nh, const pb_outbox_row *o, int64_t now,
                   int *count, pb_error *err)
{
    cJSON *payload = pb_json_parse(o->payload, strlen(o->payload));
    pb_buf body;
    pb_buf_init(&body, 4u << 20);
    int rc = 0, actor_done = 0;
    for (size_t i = 0; i < nh && !rc; i++) {
        const pb_hook *h = &hooks[i];
        if (strcmp(h->workspace_slug, o->workspace_slug) != 0) continue;
        if (h->project_id[0] && strcmp(h->project_id, o->project_id) != 0) continue;
        if (!pb_event_selected(h->event_mode, h->events, o->type)) continue;
        if (strcmp(o->type, "endpoint.disabled") == 0 && strcmp(o->object_id, h->id) == 0) continue;
        pb_buf_reset(&body);
        if (strcmp(h->format, "standard") == 0) {
            int rr = pb_standard_body_parsed(o->type, o->occurred_at, o->payload, payload, &body);
            rc = insert_msg(c, h, o, NULL, rr, pb_buf_cstr(&body), now, count, err);
        } else if (strcmp(h->format, "plane") == 0) {
            char ev[32], act[16];
            if (!payload || !pb_plane_event(o->type, ev, sizeof ev, act, sizeof act)) continue;
            if (!actor_done) {
                actor_enrich(c, payload);
                actor_done = 1;
            }
            if (strcmp(act, "updated") == 0) {
                const cJSON *prev = cJSON_GetObjectItemCaseSensitive(payload, "previous_attributes");
                for (const cJSON *f = cJSON_IsObject(prev) ? prev->child : NULL; f && !rc; f = f->next) {
                    pb_buf_reset(&body);
                    int rr = pb_plane_spec(ev, act, o->object_id, f->string, payload, &body);
                    rc = insert_msg(c, h, o, f->string, rr, pb_buf_cstr(&body), now, count, err);
                }
            } else {
                int rr = pb_plane_spec(ev, act, o->object_id, NULL, payload, &body);
                rc = insert_msg(c, h, o, NULL, rr, pb_buf_cstr(&body), now, count, err);
            }
        } else {
            if (!payload) continue;
            int rr = chat_render(d, c, h, o, payload, &body);
            rc = insert_msg(c, h, o, NULL, rr, pb_buf_cstr(&body), now, count, err);
        }
    }
    pb_buf_free(&body);
    cJSON_Delete(payload);
    return rc;
}

int pb_deliver_dispatch_once(pb_deliver *d, int *fanned, pb_error *err)
{
    pb_conn *c = NULL;
    pb_outbox_row *rows = NULL;
    pb_hook *hooks = NULL;
    size_t n = 0, nh = 0;
    int count = 0;
    *fanned = 0;
    int rc = pb_db_acquire(d->db, &c, err);
    if (rc) return rc;
    int64_t now = pb_deliver_now(d), wm = 0;
    /* Scanning from the watermark costs O(rows of the last minutes); between such full
     * scans (every FULL_SCAN_MS) continue after the highest id this process fanned out.
     * The full scan picks up any lower id that committed late (PostgreSQL sequences do
     * not commit in order). */
    pthread_mutex_lock(&d->fan_mu);
    int64_t hint = d->fan_hint, tms = now / 1000;
    int full = d->fan_full_ms == 0 || tms - d->fan_full_ms >= FULL_SCAN_MS || tms < d->fan_full_ms;
    if (full) d->fan_full_ms = tms;
    pthread_mutex_unlock(&d->fan_mu);
    /* Read-only look first: an idle dispatcher never takes the write lock. */
    int any = 0;
    rc = pb_dstore_watermark(c, &wm, err);
    int64_t after = !full && hint > wm ? hint : wm;
    if (!rc) rc = pb_dstore_outbox_pending(c, after, &any, err);
    if (!rc && any) {
        rc = txn_begin(d, c, err);
        if (rc) goto done;
        rc = pb_dstore_outbox_claim(c, after, FANOUT_BATCH, &rows, &n, err);
        if (!rc && n) rc = pb_dstore_hook_list(c, NULL, 1, &hooks, &nh, err);
        for (size_t i = 0; i < n && !rc; i++) {
            int ins = 0;
            rc = pb_dstore_fanout_mark(c, rows[i].id, now, 0, &ins, err);
            if (!rc && ins) rc = fan_one(d, c, hooks, nh, &rows[i], now, &count, err);
        }
        rc = txn_end(d, c, rc, err);
    }
done:
    pb_db_release(d->db, c);
    int64_t maxid = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].id > maxid) maxid = rows[i].id;
    pb_outbox_free_array(rows, n);
    free(hooks);
    if (!rc) {
        *fanned = (int)n;
        pthread_mutex_lock(&d->fan_mu);
        if (maxid > d->fan_hint) d->fan_hint = maxid;
        pthread_mutex_unlock(&d->fan_mu);
        pb_series_inc(d->m_fanned, n);
        if (count) pb_deliver_kick(d);
    }
    return rc;
}

/* ------------------------------------------------------------------ sending */

typedef enum { JOB_SEND, JOB_DEFER, JOB_DROP, JOB_PREFAIL, JOB_SKIP } job_kind;

/* One hook as seen by one worker round: read once, its URL checked by the SSRF guard (and
 * the address pinned) once, shared by every message of the round, so a result that
 * disables the hook is seen by the messages recorded after it. */
typedef struct hook_slot {
    pb_hook hook;
    int ssrf_done, ssrf_rc;
    char pin[320];
    char ssrf_why[200];
} hook_slot;

typedef struct job {
    pb_delivery *m;
    pb_hook *hook;             /* the round's hook_slot, or NULL when the hook is unknown */
    hook_slot *hs;
    job_kind kind;
    int64_t defer_to;
    char reason[256];
    pb_buf body;
    pb_http_header hdr[8];
    int nhdr;
    int slot;                  /* holds a concurrency slot of its hook */
    pb_http_response *resp;    /* set once sent */
    char h_ts[24], h_sig[2 * PB_SW_SIG_MAX + 2], h_delivery[40], h_event[32], h_psig[65];
} job;

/* The round's slot for a hook (read from the store on first sight; a deleted hook gets a
 * slot with active = -1). NULL only when out of memory. */
static hook_slot *hook_cached(pb_conn *c, hook_slot **cache, size_t *nc, size_t cap, const char *id)
{
    for (size_t i = 0; i < *nc; i++)
        if (strcmp(cache[i]->hook.id, id) == 0) return cache[i];
    if (*nc >= cap) return NULL;
    hook_slot *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    cache[(*nc)++] = s;
    if (pb_dstore_hook_get(c, id, &s->hook, NULL)) {
        memset(&s->hook, 0, sizeof s->hook);
        pb_strlcpy(s->hook.id, id, sizeof s->hook.id);
        s->hook.active = -1; /* deleted */
    }
    return s;
}

static int prepare_job(pb_deliver *d, pb_conn *c, job *j, int64_t now)
{
    pb_error e = {0};
    pb_delivery *m = j->m;
    const pb_hook *h = j->hook;
    if (!h || h->active < 0) {
        j->kind = JOB_DROP;
        pb_strlcpy(j->reason, "hook deleted", sizeof j->reason);
        return 0;
    }
    if (!h->active) {
        j->kind = JOB_DROP;
        snprintf(j->reason, sizeof j->reason, "endpoint disabled: %.200s", h->disabled_reason);
        return 0;
    }
    if (!j->hs->ssrf_done) { /* resolved and checked at send time, once per hook and round */
        j->hs->ssrf_rc = pb_ssrf_check_url(d->ssrf, h->url, j->hs->pin, sizeof j->hs->pin, &e);
        pb_strlcpy(j->hs->ssrf_why, e.msg, sizeof j->hs->ssrf_why);
        j->hs->ssrf_done = 1;
    }
    if (j->hs->ssrf_rc) {
        j->kind = JOB_PREFAIL;
        snprintf(j->reason, sizeof j->reason, "refused before sending: %.200s", j->hs->ssrf_why);
        return 0;
    }
    j->hdr[j->nhdr++] = (pb_http_header){"Content-Type", "application/json"};
    if (strcmp(h->format, "standard") == 0) {
        char *cur = secret_get(d, h->secret_name, &e);
        if (!cur) {
            j->kind = JOB_PREFAIL;
            snprintf(j->reason, sizeof j->reason, "signing secret unavailable: %.200s", e.msg);
            return 0;
        }
        int64_t ts = now / S_US;
        snprintf(j->h_ts, sizeof j->h_ts, "%lld", (long long)ts);
        pb_buf_puts(&j->body, m->body);
        int rc = pb_sw_sign(cur, m->msg_id, ts, j->body.data ? j->body.data : "", j->body.len, j->h_sig, PB_SW_SIG_MAX);
        secret_wipe(cur);
        if (!rc && h->old_secret_name[0] && now < h->old_secret_until) {
            char *old = secret_get(d, h->old_secret_name, NULL);
            if (old) {
                size_t l = strlen(j->h_sig);
                j->h_sig[l] = ' ';
                rc = pb_sw_sign(old, m->msg_id, ts, j->body.data ? j->body.data : "", j->body.len, j->h_sig + l + 1,
                                PB_SW_SIG_MAX);
                secret_wipe(old);
            }
        }
        if (rc) {
            j->kind = JOB_PREFAIL;
            pb_strlcpy(j->reason, "cannot sign the message", sizeof j->reason);
            return 0;
        }
        j->hdr[j->nhdr++] = (pb_http_header){"webhook-id", m->msg_id};
        j->hdr[j->nhdr++] = (pb_http_header){"webhook-timestamp", j->h_ts};
        j->hdr[j->nhdr++] = (pb_http_header){"webhook-signature", j->h_sig};
    } else if (strcmp(h->format, "plane") == 0) {
        /* data is the row at send time, as CE reloads it when its task runs. */
        char wsid[64] = "", kind[32] = "issue";
        char *raw = NULL;
        int deleted = 0;
        cJSON *spec = pb_json_parse(m->body, strlen(m->body));
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(spec, "event");
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(spec, "action");
        if (cJSON_IsString(ev)) pb_strlcpy(kind, ev->valuestring, sizeof kind);
        int is_delete = cJSON_IsString(ac) && strcmp(ac->valuestring, "deleted") == 0;
        cJSON_Delete(spec);
        pb_dstore_workspace_id(c, m->workspace_slug, wsid, sizeof wsid, NULL);
        if (!is_delete && strcmp(kind, "webhook") != 0)
            pb_dstore_mirror_raw(c, strcmp(kind, "project") == 0 ? "project" : "item", m->object_id, &raw, &deleted,
                                 NULL);
        if (deleted) {
            /* CE drops an event whose row is gone by send time. */
            free(raw);
            j->kind = JOB_SKIP;
            pb_strlcpy(j->reason, "object deleted before sending (Plane sends nothing)", sizeof j->reason);
            return 0;
        }
        int rc = pb_plane_envelope(m->body, h->id, wsid, raw, &j->body, j->h_event, sizeof j->h_event);
        free(raw);
        if (rc) {
            j->kind = JOB_PREFAIL;
            pb_strlcpy(j->reason, "cannot build the Plane envelope", sizeof j->reason);
            return 0;
        }
        pb_uuid4(j->h_delivery);
        j->hdr[j->nhdr++] = (pb_http_header){"User-Agent", "Autopilot"};
        j->hdr[j->nhdr++] = (pb_http_header){"X-Plane-Delivery", j->h_delivery};
        j->hdr[j->nhdr++] = (pb_http_header){"X-Plane-Event", j->h_event};
        /* Like CE, no signature header only when the hook has no secret at all; a secret
         * that cannot be read fails the attempt rather than going out unsigned. */
        if (h->secret_name[0]) {
            char *sec = secret_get(d, h->secret_name, &e);
            if (!sec) {
                j->kind = JOB_PREFAIL;
                snprintf(j->reason, sizeof j->reason, "signing secret unavailable: %.200s", e.msg);
                return 0;
            }
            pb_plane_sign(sec, j->body.data ? j->body.data : "", j->body.len, j->h_psig);
            j->hdr[j->nhdr++] = (pb_http_header){"X-Plane-Signature", j->h_psig};
            secret_wipe(sec);
        }
    } else {
        pb_buf_puts(&j->body, m->body);
    }
    int64_t at = limiter_reserve(d, h, now, &j->slot);
    if (at) {
        j->kind = JOB_DEFER;
        j->defer_to = at;
        return 0;
    }
    j->kind = JOB_SEND;
    return 0;
}

static int emit_disabled(pb_conn *c, const pb_hook *h, const char *reason, int64_t now, pb_error *err)
{
    char evid[37], ts[40], fs[40];
    pb_uuid4(evid);
    pb_time_iso(now, ts, sizeof ts);
    pb_time_iso(h->failing_since ? h->failing_since : now, fs, sizeof fs);
    pb_buf p;
    pb_buf_init(&p, 16384);
    pb_buf_puts(&p, "{\"type\":\"endpoint.disabled\",\"timestamp\":");
    pb_buf_json_str(&p, ts);
    pb_buf_puts(&p, ",\"data\":{\"id\":");
    pb_buf_json_str(&p, h->id);
    pb_buf_puts(&p, ",\"format\":");
    pb_buf_json_str(&p, h->format);
    pb_buf_puts(&p, ",\"description\":");
    pb_buf_json_str(&p, h->description);
    pb_buf_puts(&p, ",\"reason\":");
    pb_buf_json_str(&p, reason);
    pb_buf_puts(&p, ",\"failing_since\":");
    pb_buf_json_str(&p, fs);
    int rc = pb_buf_puts(&p, "}}");
    if (!rc)
        rc = pb_dstore_outbox_insert(c, evid, "endpoint.disabled", h->workspace_slug, NULL, h->id, now,
                                     pb_buf_cstr(&p), NULL, err);
    pb_buf_free(&p);
    PB_LOG(PB_LOG_WARN, "webhook endpoint disabled", PB_LS("hook", h->id), PB_LS("workspace", h->workspace_slug),
           PB_LS("reason", reason));
    return rc;
}

/* Results gathered for multi-row statements within one recording transaction. */
typedef struct rec_batch {
    int64_t *ok_ids;
    int *ok_status;
    size_t nok;
    pb_attempt *atts;
    size_t natt;
} rec_batch;

static int flush_ok(pb_conn *c, const char *worker, rec_batch *b, int64_t now, pb_error *err)
{
    /* One UPDATE per distinct status code (almost always a single 200 group): partition
     * the group to the front, write it, drop it. */
    while (b->nok) {
        int st = b->ok_status[0];
        size_t k = 0;
        for (size_t i = 0; i < b->nok; i++) {
            if (b->ok_status[i] != st) continue;
            int64_t ti = b->ok_ids[i];
            b->ok_ids[i] = b->ok_ids[k];
            b->ok_ids[k] = ti;
            b->ok_status[i] = b->ok_status[k];
            b->ok_status[k] = st;
            k++;
        }
        int rc = pb_dstore_delivery_succeed_many(c, worker, st, b->ok_ids, k, now, err);
        if (rc) return rc;
        memmove(b->ok_ids, b->ok_ids + k, (b->nok - k) * sizeof *b->ok_ids);
        memmove(b->ok_status, b->ok_status + k, (b->nok - k) * sizeof *b->ok_status);
        b->nok -= k;
    }
    return 0;
}

/* Records one job's result inside the caller's transaction. */
static int record(pb_deliver *d, pb_conn *c, const char *worker, job *j, const pb_http_response *r, int64_t started,
                  int64_t now, int *disabled_now, rec_batch *batch, pb_error *err)
{
    pb_delivery *m = j->m;
    pb_hook *h = j->hook;
    int rc = 0;
    switch (j->kind) {
    case JOB_DEFER:
        return pb_dstore_delivery_defer(c, m->id, worker, j->defer_to, now, err);
    case JOB_DROP:
        return pb_dstore_delivery_finish(c, m->id, worker, "failed", m->attempts, m->next_attempt_at, m->last_status,
                                         j->reason, now, NULL, err);
    case JOB_SKIP:
        return pb_dstore_delivery_finish(c, m->id, worker, "skipped", m->attempts, m->next_attempt_at, 0, j->reason,
                                         now, NULL, err);
    default:
        break;
    }
    pb_attempt a;
    memset(&a, 0, sizeof a);
    a.delivery_id = m->id;
    pb_strlcpy(a.msg_id, m->msg_id, sizeof a.msg_id);
    pb_strlcpy(a.hook_id, m->hook_id, sizeof a.hook_id);
    a.attempt = m->attempts + 1;
    pb_strlcpy(a.trigger, m->manual ? "manual" : "scheduled", sizeof a.trigger);
    a.started_at = started;
    int status = 0, timed_out = 0;
    int64_t retry_after = -1;
    char errtxt[256] = "";
    if (j->kind == JOB_SEND) {
        status = r->rc == 0 ? r->status : 0;
        timed_out = r->rc == PB_ETIMEOUT;
        a.duration_ms = (int)(r->duration_us / 1000);
        a.response = r->body.data ? r->body.data : (char *)(uintptr_t) "";
        char ra[128];
        if (pb_http_response_header(r, "Retry-After", ra, sizeof ra)) retry_after = pb_retry_after_parse(ra, now);
        if (r->rc) snprintf(errtxt, sizeof errtxt, "%s", r->error);
        else if (status < 200 || status >= 300) snprintf(errtxt, sizeof errtxt, "HTTP %d", status);
        pb_series_observe(d->m_latency, (double)r->duration_us / 1e6);
    } else { /* JOB_PREFAIL */
        a.response = (char *)(uintptr_t) "";
        pb_strlcpy(errtxt, j->reason, sizeof errtxt);
    }
    a.http_status = status;
    pb_strlcpy(a.error, errtxt, sizeof a.error);
    pb_outcome oc = j->kind == JOB_SEND ? pb_retry_classify(status) : PB_OUTCOME_RETRY;
    int attempts = m->attempts + 1;
    if (oc == PB_OUTCOME_SUCCESS) {
        pb_strlcpy(a.outcome, "succeeded", sizeof a.outcome);
        batch->ok_ids[batch->nok] = m->id;
        batch->ok_status[batch->nok++] = status;
        if (h->failing_since) rc = pb_dstore_hook_healthy(c, h->id, now, err);
        h->failing_since = 0;
        pb_series_inc(d->m_ok, 1);
    } else if (oc == PB_OUTCOME_GONE) {
        pb_strlcpy(a.outcome, "disabled", sizeof a.outcome);
        rc = pb_dstore_delivery_finish(c, m->id, worker, "failed", attempts, now, status, "410 Gone: endpoint disabled",
                                       now, NULL, err);
        if (!rc && h->active) {
            rc = flush_ok(c, worker, batch, now, err); /* before failing the hook's in-flight rows */
            if (!rc) rc = pb_dstore_hook_disable(c, h->id, "410 Gone", now, err);
            if (!rc) rc = emit_disabled(c, h, "410 Gone", now, err);
            h->active = 0;
            *disabled_now = 1;
        }
        pb_series_inc(d->m_failed, 1);
    } else {
        int64_t delay = pb_retry_next_delay(&d->schedule, attempts, status, timed_out, retry_after, pb_random_u64());
        if (delay < 0) {
            pb_strlcpy(a.outcome, "failed", sizeof a.outcome);
            char why[300];
            snprintf(why, sizeof why, "gave up after %d attempts: %s", attempts, errtxt);
            rc = pb_dstore_delivery_finish(c, m->id, worker, "failed", attempts, now, status, why, now, NULL, err);
            pb_series_inc(d->m_failed, 1);
        } else {
            pb_strlcpy(a.outcome, "retry", sizeof a.outcome);
            a.next_attempt_at = now + delay;
            rc = pb_dstore_delivery_finish(c, m->id, worker, "pending", attempts, now + delay, status, errtxt, now,
                                           NULL, err);
            pb_series_inc(d->m_retry, 1);
        }
        if (!rc && h->active > 0) {
            int64_t since = 0;
            rc = pb_dstore_hook_failing(c, h->id, now, &since, err);
            h->failing_since = since;
            if (!rc && now - since >= d->disable_after_us) {
                char reason[128];
                snprintf(reason, sizeof reason, "failing without interruption since %lld s",
                         (long long)((now - since) / S_US));
                rc = flush_ok(c, worker, batch, now, err);
                if (!rc) rc = pb_dstore_hook_disable(c, h->id, reason, now, err);
                if (!rc) rc = emit_disabled(c, h, reason, now, err);
                h->active = 0;
                *disabled_now = 1;
            }
        }
    }
    if (!rc) batch->atts[batch->natt++] = a; /* response points into r, alive until the flush */
    return rc;
}

/* Messages a worker thread claimed inside the transaction that recorded its previous round
 * (a full round suggests more work: one commit instead of two per round). Owned by the
 * thread; released back to pending when it stops. */
typedef struct carry {
    pb_delivery *ms;
    size_t n;
    char owner[160];
} carry;

/* A unique lease owner per claim: finish/defer only touch rows this very claim holds. */
static void claim_owner(pb_deliver *d, const char *worker, char *out, size_t len)
{
    snprintf(out, len, "%s/%s#%lld", d->worker_prefix, worker ? worker : "sync",
             (long long)atomic_fetch_add(&d->claim_seq, 1));
}

static int work_round(pb_deliver *d, pb_http_client *client, const char *worker, carry *cy, int *sent,
                      pb_error *err)
{
    *sent = 0;
    pb_conn *c = NULL;
    pb_delivery *ms = NULL;
    size_t n = 0;
    int rc = 0, locked_sync = 0;
    job *jobs = NULL;
    pb_http_request *reqs = NULL;
    pb_http_response *resps = NULL;
    hook_slot **cache = NULL;
    size_t ncache = 0;
    int64_t *ok_ids = NULL;
    int *ok_status = NULL;
    pb_attempt *atts = NULL;
    char wname[160];

    if (!client) {
        pthread_mutex_lock(&d->sync_mu);
        locked_sync = 1;
        if (!d->sync_client) {
            rc = pb_http_client_new(&(pb_http_options){.max_parallel = 64}, &d->sync_client, err);
            if (rc) goto out;
        }
        client = d->sync_client;
    }

    int64_t now = pb_deliver_now(d);
    rc = pb_db_acquire(d->db, &c, err);
    if (rc) goto out;
    if (cy && cy->n) { /* claimed by the previous round's recording transaction */
        ms = cy->ms;
        n = cy->n;
        pb_strlcpy(wname, cy->owner, sizeof wname);
        cy->ms = NULL;
        cy->n = 0;
    } else {
        claim_owner(d, worker, wname, sizeof wname);
        int any = 0;
        rc = pb_dstore_delivery_due(c, now, &any, err);
        if (rc || !any) goto out;
        rc = txn_begin(d, c, err);
        if (rc) goto out;
        rc = pb_dstore_delivery_claim(c, now, now + (int64_t)d->lease_s * S_US, wname, d->batch, &ms, &n, err);
        rc = txn_end(d, c, rc, err);
        if (rc) goto out;
        if (n == 0) goto out;
    }

    jobs = calloc(n, sizeof *jobs);
    reqs = calloc(n, sizeof *reqs);
    resps = calloc(n, sizeof *resps);
    cache = calloc(n, sizeof *cache);
    ok_ids = calloc(n, sizeof *ok_ids);
    ok_status = calloc(n, sizeof *ok_status);
    atts = calloc(n, sizeof *atts);
    if (!jobs || !reqs || !resps || !cache || !ok_ids || !ok_status || !atts) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out; /* leases expire; messages are claimed again */
    }
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        j->m = &ms[i];
        pb_buf_init(&j->body, 8u << 20);
        j->hs = hook_cached(c, cache, &ncache, n, ms[i].hook_id);
        j->hook = j->hs ? &j->hs->hook : NULL;
        prepare_job(d, c, j, now);
    }
    /* No connection is held while waiting on the network. */
    pb_db_release(d->db, c);
    c = NULL;
    int64_t started = pb_deliver_now(d);
    /* Send in waves: each wave takes what the endpoints' concurrency limits allow; a
     * message that cannot get a slot before a third of the lease has passed goes back to
     * the queue for a moment. */
    size_t nsent = 0, left = 0;
    for (size_t i = 0; i < n; i++) left += jobs[i].kind == JOB_SEND;
    int64_t give_up = pb_mono_ms() + (int64_t)d->lease_s * 1000 / 3;
    while (left) {
        size_t base = nsent;
        for (size_t i = 0; i < n; i++) {
            job *j = &jobs[i];
            if (j->kind != JOB_SEND || j->resp) continue;
            if (!j->slot && !limiter_try(d, j->hook, now)) continue;
            j->slot = 1;
            pb_http_request *q = &reqs[nsent];
            q->method = "POST";
            q->url = j->hook->url;
            q->headers = j->hdr;
            q->nheaders = (size_t)j->nhdr;
            q->body = j->body.data ? j->body.data : "";
            q->body_len = j->body.len;
            q->timeout_ms = d->timeout_ms;
            q->max_response = RESPONSE_KEEP;
            q->truncate_response = 1;
            q->resolve = j->hs->pin;
            pb_http_response_init(&resps[nsent]);
            j->resp = &resps[nsent++];
        }
        size_t w = nsent - base;
        if (w == 0) {
            if (pb_mono_ms() > give_up) {
                for (size_t i = 0; i < n; i++) {
                    if (jobs[i].kind == JOB_SEND && !jobs[i].resp) {
                        jobs[i].kind = JOB_DEFER;
                        jobs[i].defer_to = pb_deliver_now(d) + INFLIGHT_RETRY_US;
                    }
                }
                break;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            continue;
        }
        pb_http_do_many(client, reqs + base, resps + base, w);
        for (size_t i = 0; i < n; i++) {
            if (jobs[i].slot && jobs[i].resp >= resps + base && jobs[i].resp < resps + nsent) {
                limiter_release(d, jobs[i].hook->id);
                jobs[i].slot = 0;
            }
        }
        left -= w;
    }
    for (size_t i = 0; i < n; i++) /* slots reserved for messages that were not sent */
        if (jobs[i].slot) limiter_release(d, jobs[i].hook->id);
    int64_t done = pb_deliver_now(d);

    rec_batch batch = {ok_ids, ok_status, 0, atts, 0};
    rc = pb_db_acquire(d->db, &c, err);
    int began = 0;
    if (!rc) {
        rc = txn_begin(d, c, err);
        began = !rc;
    }
    int disabled = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const pb_http_response *r = jobs[i].resp;
        /* A hook disabled by an earlier result of this batch is seen as such by the rest:
         * they share its slot. */
        rc = record(d, c, wname, &jobs[i], r, started, done, &disabled, &batch, err);
        if (jobs[i].kind == JOB_SEND || jobs[i].kind == JOB_PREFAIL) (*sent)++;
    }
    if (!rc) rc = flush_ok(c, wname, &batch, done, err);
    if (!rc) rc = pb_dstore_attempt_insert_many(c, batch.atts, batch.natt, err);
    if (!rc && began && cy && n == (size_t)d->batch && !atomic_load(&d->stop)) {
        /* A full round: claim the next batch in the same commit. */
        int64_t cnow = pb_deliver_now(d);
        claim_owner(d, worker, cy->owner, sizeof cy->owner);
        rc = pb_dstore_delivery_claim(c, cnow, cnow + (int64_t)d->lease_s * S_US, cy->owner, d->batch, &cy->ms,
                                      &cy->n, err);
    }
    if (began) rc = txn_end(d, c, rc, err);
    if (rc && cy) { /* rolled back: nothing was claimed */
        pb_delivery_free_array(cy->ms, cy->n);
        cy->ms = NULL;
        cy->n = 0;
    }
    for (size_t q = 0; q < nsent; q++) pb_http_response_free(&resps[q]);
    if (disabled) pb_deliver_kick(d);
out:
    if (jobs)
        for (size_t i = 0; i < n; i++) pb_buf_free(&jobs[i].body);
    free(jobs);
    free(reqs);
    free(resps);
    for (size_t i = 0; i < ncache; i++) free(cache[i]);
    free(cache);
    free(ok_ids);
    free(ok_status);
    free(atts);
    pb_delivery_free_array(ms, n);
    if (c) pb_db_release(d->db, c);
    if (locked_sync) pthread_mutex_unlock(&d->sync_mu);
    return rc;
}

int pb_deliver_work_once(pb_deliver *d, pb_http_client *client, const char *worker, int *sent, pb_error *err)
{
    return work_round(d, client, worker, NULL, sent, err);
}

/* Puts a stopping worker's carried claim back to pending (else it would wait for its lease). */
static void carry_release(pb_deliver *d, carry *cy)
{
    if (!cy->n) return;
    pb_conn *c = NULL;
    pb_error err = {0};
    int64_t now = pb_deliver_now(d);
    int rc = pb_db_acquire(d->db, &c, &err);
    if (!rc) rc = txn_begin(d, c, &err);
    if (!rc) {
        for (size_t i = 0; i < cy->n && !rc; i++)
            rc = pb_dstore_delivery_defer(c, cy->ms[i].id, cy->owner, cy->ms[i].next_attempt_at, now, &err);
        rc = txn_end(d, c, rc, &err);
    }
    if (c) pb_db_release(d->db, c);
    if (rc) PB_LOG(PB_LOG_WARN, "cannot release claimed deliveries (their lease will expire)", PB_LS("error", err.msg));
    pb_delivery_free_array(cy->ms, cy->n);
    cy->ms = NULL;
    cy->n = 0;
}

static int maintain(pb_deliver *d, int retention, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(d->db, &c, err);
    if (rc) return rc;
    int64_t now = pb_deliver_now(d);
    rc = txn_begin(d, c, err);
    if (!rc) {
        rc = pb_dstore_watermark_advance(c, now - WATERMARK_HORIZON_US, err);
        if (!rc && retention && d->retention_days > 0) {
            int64_t deleted = 0;
            rc = pb_dstore_retention(c, now - (int64_t)d->retention_days * 86400 * S_US, &deleted, err);
        }
        rc = txn_end(d, c, rc, err);
    }
    pb_db_release(d->db, c);
    return rc;
}

int pb_deliver_maintain(pb_deliver *d, pb_error *err)
{
    return maintain(d, 1, err);
}

/* ------------------------------------------------------------------ threads */

static void *dispatcher_main(void *arg)
{
    pb_deliver *d = arg;
    int64_t last_maint = 0, last_retention = 0;
    while (!atomic_load(&d->stop)) {
        unsigned seen = wake_seq(d);
        pb_error err = {0};
        int fanned = 0;
        if (pb_deliver_dispatch_once(d, &fanned, &err))
            PB_LOG(PB_LOG_WARN, "delivery fan-out failed", PB_LS("error", err.msg));
        /* The watermark every minute (it bounds the outbox scans); retention hourly. */
        int64_t m = pb_mono_ms();
        if (m - last_maint > 60000) {
            int retention = m - last_retention > 3600000 || last_retention == 0;
            last_maint = m;
            if (retention) last_retention = m;
            pb_error e2 = {0};
            if (maintain(d, retention, &e2)) PB_LOG(PB_LOG_WARN, "delivery maintenance failed", PB_LS("error", e2.msg));
        }
        if (fanned == 0) idle_wait(d, d->poll_ms, seen);
    }
    return NULL;
}

typedef struct worker_arg {
    pb_deliver *d;
    int idx;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    pb_deliver *d = wa.d;
    char name[16];
    snprintf(name, sizeof name, "w%d", wa.idx);
    pb_http_client *client = NULL;
    pb_error err = {0};
    if (pb_http_client_new(&(pb_http_options){.max_parallel = d->batch}, &client, &err)) {
        PB_LOG(PB_LOG_ERROR, "delivery worker cannot start", PB_LS("error", err.msg));
        return NULL;
    }
    carry cy;
    memset(&cy, 0, sizeof cy);
    while (!atomic_load(&d->stop)) {
        unsigned seen = wake_seq(d);
        int sent = 0;
        pb_error_clear(&err);
        if (work_round(d, client, name, &cy, &sent, &err))
            PB_LOG(PB_LOG_WARN, "delivery round failed", PB_LS("error", err.msg));
        if (sent == 0 && cy.n == 0) idle_wait(d, d->poll_ms, seen);
    }
    carry_release(d, &cy);
    pb_http_client_free(client);
    return NULL;
}

int pb_deliver_start(pb_deliver *d, pb_error *err)
{
    if (d->running) return 0;
    atomic_store(&d->stop, 0);
    if (pthread_create(&d->dispatcher, NULL, dispatcher_main, d))
        return pb_error_set(err, PB_EINTERNAL, "cannot start the delivery dispatcher");
    d->running = 1;
    for (int i = 0; i < d->workers; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) break;
        wa->d = d;
        wa->idx = i;
        if (pthread_create(&d->worker_th[d->nthreads], NULL, worker_main, wa)) {
            free(wa);
            break;
        }
        d->nthreads++;
    }
    if (d->nthreads == 0) {
        pb_deliver_stop(d);
        return pb_error_set(err, PB_EINTERNAL, "cannot start delivery workers");
    }
    return 0;
}

void pb_deliver_stop(pb_deliver *d)
{
    if (!d || !d->running) return;
    atomic_store(&d->stop, 1);
    pb_deliver_kick(d);
    pthread_join(d->dispatcher, NULL);
    for (int i = 0; i < d->nthreads; i++) pthread_join(d->worker_th[i], NULL);
    d->nthreads = 0;
    d->running = 0;
}

/* ------------------------------------------------------------------ management */

static int valid_events(const char *s)
{
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.' || ch == '*' || ch == ',' || ch == ' '))
            return 0;
    }
    return 1;
}

static int validate_hook(pb_deliver *d, pb_hook *h, pb_error *err)
{
    if (!h->workspace_slug[0]) return pb_error_field(err, PB_EINVAL, "workspace", "workspace is required");
    if (strcmp(h->format, "standard") != 0 && strcmp(h->format, "slack") != 0 && strcmp(h->format, "pumble") != 0 &&
        strcmp(h->format, "plane") != 0)
        return pb_error_field(err, PB_EINVAL, "format", "format must be standard, slack, pumble or plane");
    if (!h->event_mode[0]) pb_strlcpy(h->event_mode, h->events[0] ? "individual" : "all", sizeof h->event_mode);
    if (strcmp(h->event_mode, "all") != 0 && strcmp(h->event_mode, "individual") != 0)
        return pb_error_field(err, PB_EINVAL, "event_mode", "event_mode must be all or individual");
    if (!valid_events(h->events)) return pb_error_field(err, PB_EINVAL, "events", "events: letters, digits, _ . * only");
    if (strcmp(h->event_mode, "individual") == 0 && !h->events[0])
        return pb_error_field(err, PB_EINVAL, "events", "individual mode needs at least one event");
    char host[256];
    int port = 0, https = 0;
    if (pb_url_host_port(h->url, host, sizeof host, &port, &https))
        return pb_error_field(err, PB_EINVAL, "url", "url must be an http(s) URL");
    if (strcmp(h->format, "slack") == 0 || strcmp(h->format, "pumble") == 0) {
        /* The host check is waived only for a literal address the operator allowlisted
         * (a local relay or a test receiver). */
        int lit_allowed = pb_ssrf_addr_allowed(d->ssrf, host) &&
                          (strchr(host, ':') || strspn(host, "0123456789.") == strlen(host));
        if (!lit_allowed && pb_chat_url_valid(h->format, h->url))
            return pb_error_field(err, PB_EINVAL, "url",
                                  strcmp(h->format, "slack") == 0
                                      ? "a Slack incoming webhook URL is https://hooks.slack.com/services/..."
                                      : "a Pumble incoming webhook URL is "
                                        "https://api.pumble.com/workspaces/.../incomingWebhooks/postMessage/...");
        h->max_inflight = 1;
        h->min_interval_ms = 1000;
    } else {
        if (h->max_inflight <= 0) h->max_inflight = 32;
        if (h->min_interval_ms < 0) h->min_interval_ms = 0;
    }
    char pin[320];
    pb_error e = {0};
    int rc = pb_ssrf_check_url(d->ssrf, h->url, pin, sizeof pin, &e);
    if (rc) return pb_error_field(err, rc == PB_EFORBIDDEN ? PB_EFORBIDDEN : PB_EINVAL, "url", "%s", e.msg);
    return 0;
}

static int with_conn(pb_deliver *d, pb_conn **c, pb_error *err)
{
    return pb_db_acquire(d->db, c, err);
}

int pb_deliver_hook_create(pb_deliver *d, pb_hook *h, char *secret, size_t secretlen, pb_error *err)
{
    pb_conn *c = NULL;
    if (secretlen < PB_SW_SECRET_MAX) return pb_error_set(err, PB_EINVAL, "secret buffer too small");
    int rc = validate_hook(d, h, err);
    if (rc) return rc;
    pb_uuid4(h->id);
    h->active = 1;
    h->disabled_reason[0] = '\0';
    h->old_secret_name[0] = '\0';
    h->old_secret_until = 0;
    h->failing_since = 0;
    h->created_at = h->updated_at = pb_deliver_now(d);
    rc = secret_new_for(d, h, secret, secretlen, h->secret_name, sizeof h->secret_name, err);
    if (rc) return rc;
    rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_hook_insert(c, h, err);
    pb_db_release(d->db, c);
    if (rc && d->vault) pb_vault_delete(d->vault, h->secret_name, NULL);
    return rc;
}

int pb_deliver_hook_get(pb_deliver *d, const char *id, pb_hook *h, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_hook_get(c, id, h, err);
    pb_db_release(d->db, c);
    return rc;
}

int pb_deliver_hook_list(pb_deliver *d, const char *workspace, pb_hook **out, size_t *n, pb_error *err)
{
    pb_conn *c = NULL;
    *out = NULL;
    *n = 0;
    int rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_hook_list(c, workspace, 0, out, n, err);
    pb_db_release(d->db, c);
    return rc;
}

int pb_deliver_hook_save(pb_deliver *d, pb_hook *h, pb_error *err)
{
    pb_conn *c = NULL;
    pb_hook cur;
    int rc = pb_deliver_hook_get(d, h->id, &cur, err);
    if (rc) return rc;
    if (strcmp(cur.format, h->format) != 0 && (strcmp(cur.format, "plane") == 0 || strcmp(h->format, "plane") == 0))
        return pb_error_field(err, PB_EINVAL, "format", "the plane format and the others use different secrets; "
                                                        "create a new hook instead");
    /* Protected columns stay as stored. */
    pb_strlcpy(h->workspace_slug, cur.workspace_slug, sizeof h->workspace_slug);
    pb_strlcpy(h->secret_name, cur.secret_name, sizeof h->secret_name);
    pb_strlcpy(h->old_secret_name, cur.old_secret_name, sizeof h->old_secret_name);
    h->old_secret_until = cur.old_secret_until;
    h->created_at = cur.created_at;
    if (h->active && !cur.active) {
        h->disabled_reason[0] = '\0';
        h->failing_since = 0; /* re-enabling starts a fresh failure window */
    }
    if (strcmp(cur.format, h->format) != 0) h->max_inflight = h->min_interval_ms = 0;
    rc = validate_hook(d, h, err);
    if (rc) return rc;
    h->updated_at = pb_deliver_now(d);
    rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_hook_update(c, h, err);
    pb_db_release(d->db, c);
    return rc;
}

int pb_deliver_hook_delete(pb_deliver *d, const char *id, pb_error *err)
{
    pb_conn *c = NULL;
    pb_hook h;
    int rc = pb_deliver_hook_get(d, id, &h, err);
    if (rc) return rc;
    rc = with_conn(d, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = pb_dstore_hook_delete(c, id, err);
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc) pb_conn_rollback(c);
    pb_db_release(d->db, c);
    if (!rc && d->vault) {
        pb_vault_delete(d->vault, h.secret_name, NULL);
        if (h.old_secret_name[0]) pb_vault_delete(d->vault, h.old_secret_name, NULL);
    }
    return rc;
}

int pb_deliver_hook_disable(pb_deliver *d, const char *id, const char *reason, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = with_conn(d, &c, err);
    pb_hook h;
    if (!rc) rc = pb_dstore_hook_get(c, id, &h, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = pb_dstore_hook_disable(c, id, reason ? reason : "disabled by an operator", pb_deliver_now(d), err);
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc) pb_conn_rollback(c);
    pb_db_release(d->db, c);
    return rc;
}

int pb_deliver_hook_rotate(pb_deliver *d, const char *id, char *secret, size_t secretlen, pb_error *err)
{
    pb_conn *c = NULL;
    pb_hook h;
    if (secretlen < PB_SW_SECRET_MAX) return pb_error_set(err, PB_EINVAL, "secret buffer too small");
    int rc = pb_deliver_hook_get(d, id, &h, err);
    if (rc) return rc;
    char newname[128], dropped[128];
    rc = secret_new_for(d, &h, secret, secretlen, newname, sizeof newname, err);
    if (rc) return rc;
    pb_strlcpy(dropped, h.old_secret_name, sizeof dropped);
    int64_t now = pb_deliver_now(d);
    if (strcmp(h.format, "standard") == 0) {
        /* Standard Webhooks receivers accept any listed signature: keep the old key
         * signing for 24 h. Plane's single signature cannot carry two. */
        pb_strlcpy(h.old_secret_name, h.secret_name, sizeof h.old_secret_name);
        h.old_secret_until = now + ROTATION_GRACE_US;
    } else {
        pb_strlcpy(dropped, h.secret_name, sizeof dropped);
        h.old_secret_name[0] = '\0';
        h.old_secret_until = 0;
    }
    pb_strlcpy(h.secret_name, newname, sizeof h.secret_name);
    h.updated_at = now;
    rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_hook_update(c, &h, err);
    pb_db_release(d->db, c);
    if (rc) {
        if (d->vault) pb_vault_delete(d->vault, newname, NULL);
        return rc;
    }
    if (dropped[0] && d->vault) pb_vault_delete(d->vault, dropped, NULL);
    return 0;
}

int pb_deliver_hook_test(pb_deliver *d, const char *id, char *msg_id, size_t len, pb_error *err)
{
    pb_conn *c = NULL;
    pb_hook h;
    int rc = pb_deliver_hook_get(d, id, &h, err);
    if (rc) return rc;
    int64_t now = pb_deliver_now(d);
    char ts[40], evid[37];
    pb_time_iso(now, ts, sizeof ts);
    pb_uuid4(evid);
    pb_buf b;
    pb_buf_init(&b, 65536);
    if (strcmp(h.format, "standard") == 0) {
        pb_buf_puts(&b, "{\"type\":\"webhook.test\",\"timestamp\":");
        pb_buf_json_str(&b, ts);
        pb_buf_puts(&b, ",\"data\":{\"hook_id\":");
        pb_buf_json_str(&b, h.id);
        pb_buf_puts(&b, ",\"message\":\"planebridge test delivery\"}}");
    } else if (strcmp(h.format, "plane") == 0) {
        cJSON *p = cJSON_CreateObject();
        cJSON *data = cJSON_AddObjectToObject(p, "data");
        cJSON_AddStringToObject(data, "id", h.id);
        cJSON_AddStringToObject(data, "message", "planebridge test delivery");
        pb_plane_spec("webhook", "test", h.id, NULL, p, &b);
        cJSON_Delete(p);
    } else {
        pb_buf_puts(&b, "{\"text\":");
        char t[400];
        snprintf(t, sizeof t, "planebridge test message for webhook %s%s%s", h.id, h.description[0] ? ": " : "",
                 h.description);
        pb_buf_json_str(&b, t);
        pb_buf_putc(&b, '}');
    }
    pb_delivery m;
    memset(&m, 0, sizeof m);
    msg_id_for(h.id, evid, "test", now, m.msg_id, sizeof m.msg_id);
    pb_strlcpy(m.hook_id, h.id, sizeof m.hook_id);
    pb_strlcpy(m.event_type, "webhook.test", sizeof m.event_type);
    pb_strlcpy(m.workspace_slug, h.workspace_slug, sizeof m.workspace_slug);
    pb_strlcpy(m.object_id, h.id, sizeof m.object_id);
    m.body = (char *)(uintptr_t)pb_buf_cstr(&b);
    m.next_attempt_at = now;
    m.created_at = now;
    rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_delivery_insert(c, &m, NULL, err);
    pb_db_release(d->db, c);
    pb_buf_free(&b);
    if (!rc) {
        if (msg_id) pb_strlcpy(msg_id, m.msg_id, len);
        pb_deliver_kick(d);
    }
    return rc;
}

int pb_deliver_replay(pb_deliver *d, const char *msg_id, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_replay_msg(c, msg_id, pb_deliver_now(d), err);
    pb_db_release(d->db, c);
    if (!rc) pb_deliver_kick(d);
    return rc;
}

int pb_deliver_replay_since(pb_deliver *d, const char *hook_id, int64_t since, int64_t *count, pb_error *err)
{
    pb_conn *c = NULL;
    pb_hook h;
    int rc = pb_deliver_hook_get(d, hook_id, &h, err);
    if (!rc) rc = with_conn(d, &c, err);
    if (!rc) rc = pb_dstore_replay_since(c, hook_id, since, pb_deliver_now(d), count, err);
    pb_db_release(d->db, c);
    if (!rc) pb_deliver_kick(d);
    return rc;
}

int pb_deliver_emit(pb_deliver *d, const char *type, const char *workspace, const char *project_id,
                    const char *object_id, const char *payload, int64_t *outbox_id, pb_error *err)
{
    if (!type || !*type || !valid_events(type) || strchr(type, '*') || strchr(type, ','))
        return pb_error_field(err, PB_EINVAL, "type", "event type must be like issue.created");
    if (!workspace || !*workspace) return pb_error_field(err, PB_EINVAL, "workspace", "workspace is required");
    const char *p = payload && *payload ? payload : "{}";
    cJSON *j = pb_json_parse(p, strlen(p));
    if (!j) return pb_error_field(err, PB_EPARSE, "data", "data must be JSON");
    int64_t now = pb_deliver_now(d);
    pb_buf b;
    pb_buf_init(&b, 16u << 20);
    int shaped = cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "type") &&
                 cJSON_GetObjectItemCaseSensitive(j, "data");
    cJSON_Delete(j);
    int rc = 0;
    if (shaped) {
        rc = pb_buf_puts(&b, p);
    } else {
        char ts[40];
        pb_time_iso(now, ts, sizeof ts);
        rc = pb_buf_puts(&b, "{\"type\":");
        if (!rc) rc = pb_buf_json_str(&b, type);
        if (!rc) rc = pb_buf_puts(&b, ",\"timestamp\":");
        if (!rc) rc = pb_buf_json_str(&b, ts);
        if (!rc) rc = pb_buf_puts(&b, ",\"data\":");
        if (!rc) rc = pb_buf_puts(&b, p);
        if (!rc) rc = pb_buf_putc(&b, '}');
    }
    char evid[37];
    pb_uuid4(evid);
    pb_conn *c = NULL;
    if (!rc) rc = with_conn(d, &c, err);
    if (!rc)
        rc = pb_dstore_outbox_insert(c, evid, type, workspace, project_id, object_id, now, pb_buf_cstr(&b), outbox_id,
                                     err);
    pb_db_release(d->db, c);
    pb_buf_free(&b);
    if (!rc) pb_deliver_kick(d);
    return rc;
}

/* ------------------------------------------------------------------ JSON views */

static void json_kv_str(pb_buf *b, const char *k, const char *v, int comma)
{
    if (comma) pb_buf_putc(b, ',');
    pb_buf_json_str(b, k);
    pb_buf_putc(b, ':');
    if (v) pb_buf_json_str(b, v);
    else pb_buf_puts(b, "null");
}

static void json_kv_time(pb_buf *b, const char *k, int64_t us)
{
    char t[40];
    if (us) pb_time_iso(us, t, sizeof t);
    json_kv_str(b, k, us ? t : NULL, 1);
}

int pb_deliver_hook_json(const pb_hook *h, pb_buf *out)
{
    pb_buf_putc(out, '{');
    json_kv_str(out, "id", h->id, 0);
    json_kv_str(out, "workspace", h->workspace_slug, 1);
    json_kv_str(out, "project_id", h->project_id[0] ? h->project_id : NULL, 1);
    json_kv_str(out, "url", h->url, 1);
    json_kv_str(out, "description", h->description, 1);
    json_kv_str(out, "format", h->format, 1);
    json_kv_str(out, "event_mode", h->event_mode, 1);
    pb_buf_puts(out, ",\"events\":[");
    const char *p = h->events;
    int first = 1;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (!n) break;
        if (!first) pb_buf_putc(out, ',');
        pb_buf_json_strn(out, p, n);
        first = 0;
        p += n;
    }
    pb_buf_puts(out, "]");
    pb_buf_printf(out, ",\"active\":%s", h->active ? "true" : "false");
    json_kv_str(out, "disabled_reason", h->disabled_reason[0] ? h->disabled_reason : NULL, 1);
    json_kv_time(out, "failing_since", h->failing_since);
    json_kv_time(out, "rotation_ends_at", h->old_secret_name[0] ? h->old_secret_until : 0);
    pb_buf_printf(out, ",\"max_inflight\":%d,\"min_interval_ms\":%d", h->max_inflight, h->min_interval_ms);
    json_kv_time(out, "created_at", h->created_at);
    json_kv_time(out, "updated_at", h->updated_at);
    return pb_buf_putc(out, '}');
}

int pb_deliver_attempt_json(const pb_attempt *a, pb_buf *out)
{
    pb_buf_printf(out, "{\"id\":%lld", (long long)a->id);
    json_kv_str(out, "msg_id", a->msg_id, 1);
    json_kv_str(out, "hook_id", a->hook_id, 1);
    pb_buf_printf(out, ",\"attempt\":%d", a->attempt);
    json_kv_str(out, "trigger", a->trigger, 1);
    json_kv_time(out, "started_at", a->started_at);
    pb_buf_printf(out, ",\"duration_ms\":%d,\"status\":%d", a->duration_ms, a->http_status);
    json_kv_str(out, "outcome", a->outcome, 1);
    json_kv_str(out, "error", a->error[0] ? a->error : NULL, 1);
    json_kv_str(out, "response", a->response ? a->response : "", 1);
    json_kv_time(out, "next_attempt_at", a->next_attempt_at);
    return pb_buf_putc(out, '}');
}

int pb_deliver_delivery_json(const pb_delivery *m, pb_buf *out)
{
    pb_buf_printf(out, "{\"id\":%lld", (long long)m->id);
    json_kv_str(out, "msg_id", m->msg_id, 1);
    json_kv_str(out, "hook_id", m->hook_id, 1);
    json_kv_str(out, "event_type", m->event_type, 1);
    json_kv_str(out, "status", m->status, 1);
    pb_buf_printf(out, ",\"attempts\":%d,\"last_status\":%d", m->attempts, m->last_status);
    json_kv_str(out, "last_error", m->last_error[0] ? m->last_error : NULL, 1);
    json_kv_time(out, "next_attempt_at", strcmp(m->status, "pending") == 0 ? m->next_attempt_at : 0);
    json_kv_time(out, "created_at", m->created_at);
    return pb_buf_putc(out, '}');
}
