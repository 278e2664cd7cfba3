/* deliver_store: see deliver_store.h. */
#include "store/deliver_store.h"
#include "store/rows.h"

#include "core/buf.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_COLS                                                                                          \
    "id, workspace_slug, project_id, url, description, format, event_mode, events, active, disabled_reason, " \
    "secret_name, old_secret_name, old_secret_until, failing_since, max_inflight, min_interval_ms, created_at, " \
    "updated_at"

#define DELIVERY_COLS                                                                                      \
    "id, msg_id, hook_id, outbox_id, event_type, workspace_slug, object_id, body, status, attempts, manual, " \
    "next_attempt_at, last_status, last_error, created_at, updated_at"

#define ATTEMPT_COLS                                                                                       \
    "id, delivery_id, msg_id, hook_id, attempt, trigger_kind, started_at, duration_ms, http_status, outcome, " \
    "error, response, next_attempt_at"

#define OUTBOX_COLS "id, event_id, type, workspace_slug, project_id, object_id, occurred_at, payload"

static void cp(char *dst, size_t n, const char *src)
{
    pb_strlcpy(dst, src ? src : "", n);
}

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

static int is_pg(pb_conn *c)
{
    return pb_db_backend(pb_conn_db(c)) == PB_DB_POSTGRES;
}

/* Grows a malloc'd array by one element (doubling). */
/* Reads every row of r into *out / *n through fill (rows.h), msg naming what on failure. */
static int read_all(pb_rows *r, size_t elem, pb_store_fill_fn fill, pb_store_drop_fn drop, void **out,
                    size_t *n, const char *msg, pb_error *err)
{
    return pb_store_read_all(r, elem, 16, fill, NULL, drop, out, n, msg, msg, err);
}

/* ------------------------------------------------------------------ hooks */

/* Reads a hook row (a pb_store_fill_fn). */
static int hook_row(pb_rows *r, void *rec, void *ctx)
{
    pb_hook *h = rec;
    (void)ctx;
    memset(h, 0, sizeof *h);
    cp(h->id, sizeof h->id, pb_rows_text(r, 0));
    cp(h->workspace_slug, sizeof h->workspace_slug, pb_rows_text(r, 1));
    cp(h->project_id, sizeof h->project_id, pb_rows_text(r, 2));
    cp(h->url, sizeof h->url, pb_rows_text(r, 3));
    cp(h->description, sizeof h->description, pb_rows_text(r, 4));
    cp(h->format, sizeof h->format, pb_rows_text(r, 5));
    cp(h->event_mode, sizeof h->event_mode, pb_rows_text(r, 6));
    cp(h->events, sizeof h->events, pb_rows_text(r, 7));
    h->active = (int)pb_rows_int(r, 8);
    cp(h->disabled_reason, sizeof h->disabled_reason, pb_rows_text(r, 9));
    cp(h->secret_name, sizeof h->secret_name, pb_rows_text(r, 10));
    cp(h->old_secret_name, sizeof h->old_secret_name, pb_rows_text(r, 11));
    h->old_secret_until = pb_rows_int(r, 12);
    h->failing_since = pb_rows_int(r, 13);
    h->max_inflight = (int)pb_rows_int(r, 14);
    h->min_interval_ms = (int)pb_rows_int(r, 15);
    h->created_at = pb_rows_int(r, 16);
    h->updated_at = pb_rows_int(r, 17);
    return 0;
}

/* The editable hook columns, project_id .. min_interval_ms in HOOK_COLS order, as insert and
 * update bind them. */
#define HOOK_NEDIT 14
static void hook_bind_edit(const pb_hook *h, pb_val out[HOOK_NEDIT])
{
    const pb_val v[HOOK_NEDIT] = {PB_TEXT(nz(h->project_id)),
                                  PB_TEXT(h->url),
                                  PB_TEXT(h->description),
                                  PB_TEXT(h->format),
                                  PB_TEXT(h->event_mode),
                                  PB_TEXT(h->events),
                                  PB_INT(h->active),
                                  PB_TEXT(nz(h->disabled_reason)),
                                  PB_TEXT(h->secret_name),
                                  PB_TEXT(nz(h->old_secret_name)),
                                  h->old_secret_until ? PB_INT(h->old_secret_until) : PB_NULL,
                                  h->failing_since ? PB_INT(h->failing_since) : PB_NULL,
                                  PB_INT(h->max_inflight),
                                  PB_INT(h->min_interval_ms)};
    memcpy(out, v, sizeof v);
}

int pb_dstore_hook_insert(pb_conn *c, const pb_hook *h, pb_error *err)
{
    pb_val p[HOOK_NEDIT + 4];
    p[0] = PB_TEXT(h->id);
    p[1] = PB_TEXT(h->workspace_slug);
    hook_bind_edit(h, p + 2);
    p[HOOK_NEDIT + 2] = PB_INT(h->created_at);
    p[HOOK_NEDIT + 3] = PB_INT(h->updated_at);
    return pb_conn_exec(c,
                        "INSERT INTO ops.hooks (" HOOK_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                        "$12, $13, $14, $15, $16, $17, $18)",
                        p, 18, NULL, err);
}

int pb_dstore_hook_get(pb_conn *c, const char *id, pb_hook *out, pb_error *err)
{
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(id)};
    int rc = pb_conn_query(c, "SELECT " HOOK_COLS " FROM ops.hooks WHERE id = $1", p, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) hook_row(r, out, NULL);
    pb_rows_free(r);
    if (s < 0) return pb_error_set(err, PB_ESTORE, "cannot read hook");
    if (s == 0) return pb_error_set(err, PB_ENOTFOUND, "no hook %s", id);
    return 0;
}

int pb_dstore_hook_list(pb_conn *c, const char *workspace, int active_only, pb_hook **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(workspace), PB_INT(active_only ? 1 : 0)};
    int rc = pb_conn_query(c,
                           "SELECT " HOOK_COLS " FROM ops.hooks WHERE (CAST($1 AS TEXT) IS NULL OR workspace_slug = $1) "
                           "AND ($2 = 0 OR active = 1) ORDER BY created_at, id",
                           p, 2, &r, err);
    if (rc) return rc;
    void *arr = NULL;
    rc = read_all(r, sizeof **out, hook_row, NULL, &arr, n, "cannot list hooks", err);
    *out = arr;
    return rc;
}

int pb_dstore_hook_update(pb_conn *c, const pb_hook *h, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[HOOK_NEDIT + 2];
    p[0] = PB_TEXT(h->id);
    hook_bind_edit(h, p + 1);
    p[HOOK_NEDIT + 1] = PB_INT(h->updated_at);
    int rc = pb_conn_exec(c,
                          "UPDATE ops.hooks SET project_id = $2, url = $3, description = $4, format = $5, "
                          "event_mode = $6, events = $7, active = $8, disabled_reason = $9, secret_name = $10, "
                          "old_secret_name = $11, old_secret_until = $12, failing_since = $13, max_inflight = $14, "
                          "min_interval_ms = $15, updated_at = $16 WHERE id = $1",
                          p, 16, &ch, err);
    if (rc) return rc;
    return ch ? 0 : pb_error_set(err, PB_ENOTFOUND, "no hook %s", h->id);
}

int pb_dstore_hook_delete(pb_conn *c, const char *id, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(id)};
    int rc = pb_conn_exec(c, "DELETE FROM ops.hooks WHERE id = $1", p, 1, &ch, err);
    if (rc) return rc;
    if (!ch) return pb_error_set(err, PB_ENOTFOUND, "no hook %s", id);
    return pb_conn_exec(c, "DELETE FROM ops.deliveries WHERE hook_id = $1 AND status IN ('pending', 'sending')", p, 1,
                        NULL, err);
}

int pb_dstore_hook_failing(pb_conn *c, const char *id, int64_t now, int64_t *failing_since, pb_error *err)
{
    pb_val p[] = {PB_TEXT(id), PB_INT(now)};
    int rc = pb_conn_exec(c, "UPDATE ops.hooks SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL", p, 2,
                          NULL, err);
    if (rc) return rc;
    rc = pb_conn_query_int(c, "SELECT failing_since FROM ops.hooks WHERE id = $1", p, 1, failing_since, err);
    if (rc == PB_ENOTFOUND) *failing_since = now;
    return rc == PB_ENOTFOUND ? 0 : rc;
}

int pb_dstore_hook_healthy(pb_conn *c, const char *id, int64_t now, pb_error *err)
{
    (void)now;
    pb_val p[] = {PB_TEXT(id)};
    return pb_conn_exec(c, "UPDATE ops.hooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", p,
                        1, NULL, err);
}

int pb_dstore_hook_disable(pb_conn *c, const char *id, const char *reason, int64_t now, pb_error *err)
{
    pb_val p[] = {PB_TEXT(id), PB_TEXT(reason), PB_INT(now)};
    int rc = pb_conn_exec(c, "UPDATE ops.hooks SET active = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1",
                          p, 3, NULL, err);
    if (rc) return rc;
    char msg[300];
    snprintf(msg, sizeof msg, "endpoint disabled: %s", reason ? reason : "");
    pb_val q[] = {PB_TEXT(id), PB_TEXT(msg), PB_INT(now)};
    return pb_conn_exec(c,
                        "UPDATE ops.deliveries SET status = 'failed', last_error = $2, lease_until = NULL, "
                        "leased_by = NULL, updated_at = $3 WHERE hook_id = $1 AND status IN ('pending', 'sending')",
                        q, 3, NULL, err);
}

/* ------------------------------------------------------------------ outbox */

int pb_dstore_watermark(pb_conn *c, int64_t *wm, pb_error *err)
{
    int rc = pb_conn_query_int(c, "SELECT value FROM ops.deliver_state WHERE name = 'fanout_watermark'", NULL, 0, wm,
                               err);
    if (rc == PB_ENOTFOUND) {
        *wm = 0;
        pb_error_clear(err);
        return 0;
    }
    return rc;
}

int pb_dstore_watermark_advance(pb_conn *c, int64_t older_than, pb_error *err)
{
    int64_t wm = 0, cand = 0;
    int rc = pb_dstore_watermark(c, &wm, err);
    if (rc) return rc;
    pb_val p[] = {PB_INT(older_than), PB_INT(wm)};
    /* Highest fanned id old enough that no transaction can still be committing a lower id. */
    rc = pb_conn_query_int(c,
                           "SELECT COALESCE(MAX(outbox_id), 0) FROM ops.outbox_fanout WHERE fanned_at < $1 AND "
                           "outbox_id > $2",
                           p, 2, &cand, err);
    if (rc) return rc;
    if (cand <= wm) return 0;
    pb_val q[] = {PB_INT(cand)};
    return pb_conn_exec(c,
                        "INSERT INTO ops.deliver_state (name, value) VALUES ('fanout_watermark', $1) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        q, 1, NULL, err);
}

/* Reads an outbox row (a pb_store_fill_fn): PB_ENOMEM when the payload cannot be copied. */
static int outbox_row(pb_rows *r, void *rec, void *ctx)
{
    pb_outbox_row *o = rec;
    (void)ctx;
    memset(o, 0, sizeof *o);
    o->id = pb_rows_int(r, 0);
    cp(o->event_id, sizeof o->event_id, pb_rows_text(r, 1));
    cp(o->type, sizeof o->type, pb_rows_text(r, 2));
    cp(o->workspace_slug, sizeof o->workspace_slug, pb_rows_text(r, 3));
    cp(o->project_id, sizeof o->project_id, pb_rows_text(r, 4));
    cp(o->object_id, sizeof o->object_id, pb_rows_text(r, 5));
    o->occurred_at = pb_rows_int(r, 6);
    o->payload = strdup(pb_rows_text(r, 7));
    return o->payload ? 0 : PB_ENOMEM;
}

static void outbox_drop(void *arr, size_t n)
{
    pb_outbox_free_array(arr, n);
}

void pb_outbox_free_array(pb_outbox_row *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].payload);
    free(rows);
}

int pb_dstore_outbox_pending(pb_conn *c, int64_t after, int *any, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_INT(after)};
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM (SELECT o.id FROM ops.outbox o WHERE o.id > $1 AND NOT EXISTS "
                               "(SELECT 1 FROM ops.outbox_fanout f WHERE f.outbox_id = o.id) LIMIT 1) a",
                               p, 1, &v, err);
    *any = !rc && v > 0;
    return rc;
}

int pb_dstore_outbox_claim(pb_conn *c, int64_t after, int limit, pb_outbox_row **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_INT(after), PB_INT(limit)};
    const char *sql_pg = "SELECT " OUTBOX_COLS " FROM ops.outbox o WHERE o.id > $1 AND NOT EXISTS (SELECT 1 FROM "
                         "ops.outbox_fanout f WHERE f.outbox_id = o.id) ORDER BY o.id LIMIT $2 FOR UPDATE SKIP LOCKED";
    const char *sql_lite = "SELECT " OUTBOX_COLS " FROM ops.outbox o WHERE o.id > $1 AND NOT EXISTS (SELECT 1 FROM "
                           "ops.outbox_fanout f WHERE f.outbox_id = o.id) ORDER BY o.id LIMIT $2";
    int rc = pb_conn_query(c, is_pg(c) ? sql_pg : sql_lite, p, 2, &r, err);
    if (rc) return rc;
    void *arr = NULL;
    rc = read_all(r, sizeof **out, outbox_row, outbox_drop, &arr, n, "cannot read the outbox", err);
    *out = arr;
    return rc;
}

int pb_dstore_fanout_mark(pb_conn *c, int64_t outbox_id, int64_t now, int ndeliveries, int *inserted, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_INT(outbox_id), PB_INT(now), PB_INT(ndeliveries)};
    int rc = pb_conn_exec(c,
                          "INSERT INTO ops.outbox_fanout (outbox_id, fanned_at, deliveries) VALUES ($1, $2, $3) "
                          "ON CONFLICT (outbox_id) DO NOTHING",
                          p, 3, &ch, err);
    if (rc) return rc;
    *inserted = ch > 0;
    return 0;
}

int pb_dstore_outbox_insert(pb_conn *c, const char *event_id, const char *type, const char *workspace,
                            const char *project_id, const char *object_id, int64_t occurred_at, const char *payload,
                            int64_t *id_out, pb_error *err)
{
    pb_val p[] = {PB_TEXT(event_id),        PB_TEXT(type),       PB_TEXT(workspace), PB_TEXT(nz(project_id)),
                  PB_TEXT(nz(object_id)), PB_INT(occurred_at), PB_TEXT(payload)};
    int rc = pb_conn_exec(c,
                          "INSERT INTO ops.outbox (event_id, type, workspace_slug, project_id, object_id, occurred_at, "
                          "payload) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          p, 7, NULL, err);
    if (rc || !id_out) return rc;
    pb_val q[] = {PB_TEXT(event_id)};
    return pb_conn_query_int(c, "SELECT id FROM ops.outbox WHERE event_id = $1", q, 1, id_out, err);
}

int pb_dstore_outbox_get(pb_conn *c, int64_t id, pb_outbox_row *out, pb_error *err)
{
    pb_rows *r = NULL;
    pb_val p[] = {PB_INT(id)};
    int rc = pb_conn_query(c, "SELECT " OUTBOX_COLS " FROM ops.outbox WHERE id = $1", p, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) outbox_row(r, out, NULL);
    pb_rows_free(r);
    if (s < 0) return pb_error_set(err, PB_ESTORE, "cannot read the outbox");
    if (s == 0) return pb_error_set(err, PB_ENOTFOUND, "no outbox row %lld", (long long)id);
    return out->payload ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ deliveries */

/* Reads a delivery row (a pb_store_fill_fn): PB_ENOMEM when the body cannot be copied. */
static int delivery_row(pb_rows *r, void *rec, void *ctx)
{
    pb_delivery *d = rec;
    (void)ctx;
    memset(d, 0, sizeof *d);
    d->id = pb_rows_int(r, 0);
    cp(d->msg_id, sizeof d->msg_id, pb_rows_text(r, 1));
    cp(d->hook_id, sizeof d->hook_id, pb_rows_text(r, 2));
    d->outbox_id = pb_rows_int(r, 3);
    cp(d->event_type, sizeof d->event_type, pb_rows_text(r, 4));
    cp(d->workspace_slug, sizeof d->workspace_slug, pb_rows_text(r, 5));
    cp(d->object_id, sizeof d->object_id, pb_rows_text(r, 6));
    d->body = strdup(pb_rows_text(r, 7));
    cp(d->status, sizeof d->status, pb_rows_text(r, 8));
    d->attempts = (int)pb_rows_int(r, 9);
    d->manual = (int)pb_rows_int(r, 10);
    d->next_attempt_at = pb_rows_int(r, 11);
    d->last_status = (int)pb_rows_int(r, 12);
    cp(d->last_error, sizeof d->last_error, pb_rows_text(r, 13));
    d->created_at = pb_rows_int(r, 14);
    d->updated_at = pb_rows_int(r, 15);
    return d->body ? 0 : PB_ENOMEM;
}

static void delivery_drop(void *arr, size_t n)
{
    pb_delivery_free_array(arr, n);
}

void pb_delivery_free_array(pb_delivery *d, size_t n)
{
    if (!d) return;
    for (size_t i = 0; i < n; i++) free(d[i].body);
    free(d);
}

int pb_dstore_delivery_insert(pb_conn *c, const pb_delivery *d, int *inserted, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(d->msg_id),
                  PB_TEXT(d->hook_id),
                  d->outbox_id ? PB_INT(d->outbox_id) : PB_NULL,
                  PB_TEXT(d->event_type),
                  PB_TEXT(d->workspace_slug),
                  PB_TEXT(nz(d->object_id)),
                  PB_TEXT(d->body ? d->body : ""),
                  PB_TEXT(d->status[0] ? d->status : "pending"),
                  PB_INT(d->next_attempt_at),
                  PB_INT(d->created_at),
                  PB_TEXT(nz(d->last_error))};
    int rc = pb_conn_exec(c,
                          "INSERT INTO ops.deliveries (msg_id, hook_id, outbox_id, event_type, workspace_slug, "
                          "object_id, body, status, attempts, manual, next_attempt_at, last_error, created_at, "
                          "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $11, $10, $10) "
                          "ON CONFLICT (msg_id) DO NOTHING",
                          p, 11, &ch, err);
    if (rc) return rc;
    if (inserted) *inserted = ch > 0;
    return 0;
}

static int delivery_query(pb_conn *c, const char *sql, const pb_val *p, int np, pb_delivery **out, size_t *n,
                          pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    void *arr = NULL;
    rc = read_all(r, sizeof **out, delivery_row, delivery_drop, &arr, n, "cannot read deliveries", err);
    *out = arr;
    return rc;
}

int pb_dstore_delivery_due(pb_conn *c, int64_t now, int *any, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_INT(now)};
    *any = 0;
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM (SELECT id FROM ops.deliveries WHERE status = 'pending' AND "
                               "next_attempt_at <= $1 LIMIT 1) a",
                               p, 1, &v, err);
    if (!rc && !v)
        rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM (SELECT id FROM ops.deliveries WHERE status = 'sending' AND "
                               "lease_until < $1 LIMIT 1) b",
                               p, 1, &v, err);
    if (!rc) *any = v > 0;
    return rc;
}

int pb_dstore_delivery_claim(pb_conn *c, int64_t now, int64_t lease_until, const char *worker, int limit,
                             pb_delivery **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    int pg = is_pg(c);
    int64_t got = 0, more = 0;
    /* Expired leases first (a crashed or stalled worker's messages), then due messages;
     * each claimed with one UPDATE over an indexed sub-select, then read back by the
     * (unique) lease. */
    pb_val p[] = {PB_INT(now), PB_INT(limit), PB_INT(lease_until), PB_TEXT(worker)};
    int rc = pb_conn_exec(c,
                          pg ? "UPDATE ops.deliveries SET status = 'sending', lease_until = $3, leased_by = $4, "
                               "updated_at = $1 WHERE id IN (SELECT id FROM ops.deliveries WHERE status = 'sending' "
                               "AND lease_until < $1 ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)"
                             : "UPDATE ops.deliveries SET status = 'sending', lease_until = $3, leased_by = $4, "
                               "updated_at = $1 WHERE id IN (SELECT id FROM ops.deliveries WHERE status = 'sending' "
                               "AND lease_until < $1 ORDER BY lease_until LIMIT $2)",
                          p, 4, &got, err);
    if (!rc && got < limit) {
        pb_val q[] = {PB_INT(now), PB_INT(limit - got), PB_INT(lease_until), PB_TEXT(worker)};
        rc = pb_conn_exec(c,
                          pg ? "UPDATE ops.deliveries SET status = 'sending', lease_until = $3, leased_by = $4, "
                               "updated_at = $1 WHERE id IN (SELECT id FROM ops.deliveries WHERE status = 'pending' "
                               "AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
                             : "UPDATE ops.deliveries SET status = 'sending', lease_until = $3, leased_by = $4, "
                               "updated_at = $1 WHERE id IN (SELECT id FROM ops.deliveries WHERE status = 'pending' "
                               "AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2)",
                          q, 4, &more, err);
    }
    if (rc) return rc;
    if (got + more == 0) return 0;
    pb_val r[] = {PB_INT(lease_until), PB_TEXT(worker)};
    return delivery_query(c,
                          "SELECT " DELIVERY_COLS " FROM ops.deliveries WHERE status = 'sending' AND lease_until = $1 "
                          "AND leased_by = $2 ORDER BY id",
                          r, 2, out, n, err);
}

int pb_dstore_delivery_finish(pb_conn *c, int64_t id, const char *worker, const char *status, int attempts,
                              int64_t next_at, int last_status, const char *last_error, int64_t now, int *changed,
                              pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_INT(id),          PB_TEXT(worker), PB_TEXT(status),          PB_INT(attempts),
                  PB_INT(next_at),     PB_INT(last_status), PB_TEXT(nz(last_error)), PB_INT(now)};
    int rc = pb_conn_exec(c,
                          "UPDATE ops.deliveries SET status = $3, attempts = $4, next_attempt_at = $5, "
                          "last_status = $6, last_error = $7, lease_until = NULL, leased_by = NULL, manual = 0, "
                          "updated_at = $8 WHERE id = $1 AND status = 'sending' AND leased_by = $2",
                          p, 8, &ch, err);
    if (changed) *changed = ch > 0;
    return rc;
}

#define SUCCEED_CHUNK 32

int pb_dstore_delivery_succeed_many(pb_conn *c, const char *worker, int http_status, const int64_t *ids, size_t n,
                                    int64_t now, pb_error *err)
{
    pb_val p[3 + SUCCEED_CHUNK];
    for (size_t off = 0; off < n; off += SUCCEED_CHUNK) {
        size_t k = n - off < SUCCEED_CHUNK ? n - off : SUCCEED_CHUNK;
        char sql[1024];
        int len = snprintf(sql, sizeof sql,
                           "UPDATE ops.deliveries SET status = 'succeeded', attempts = attempts + 1, "
                           "next_attempt_at = $3, last_status = $2, last_error = NULL, lease_until = NULL, "
                           "leased_by = NULL, manual = 0, updated_at = $3 WHERE status = 'sending' AND leased_by = $1 "
                           "AND id IN (");
        p[0] = PB_TEXT(worker);
        p[1] = PB_INT(http_status);
        p[2] = PB_INT(now);
        for (size_t i = 0; i < k; i++) {
            len += snprintf(sql + len, sizeof sql - (size_t)len, "%s$%zu", i ? ", " : "", i + 4);
            p[3 + i] = PB_INT(ids[off + i]);
        }
        snprintf(sql + len, sizeof sql - (size_t)len, ")");
        int rc = pb_conn_exec(c, sql, p, (int)(3 + k), NULL, err);
        if (rc) return rc;
    }
    return 0;
}

int pb_dstore_delivery_defer(pb_conn *c, int64_t id, const char *worker, int64_t next_at, int64_t now, pb_error *err)
{
    pb_val p[] = {PB_INT(id), PB_TEXT(worker), PB_INT(next_at), PB_INT(now)};
    return pb_conn_exec(c,
                        "UPDATE ops.deliveries SET status = 'pending', next_attempt_at = $3, lease_until = NULL, "
                        "leased_by = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending' AND leased_by = $2",
                        p, 4, NULL, err);
}

int pb_dstore_delivery_get(pb_conn *c, const char *msg_id, pb_delivery *out, pb_error *err)
{
    pb_delivery *arr = NULL;
    size_t n = 0;
    pb_val p[] = {PB_TEXT(msg_id)};
    int rc = delivery_query(c, "SELECT " DELIVERY_COLS " FROM ops.deliveries WHERE msg_id = $1", p, 1, &arr, &n, err);
    if (rc) return rc;
    if (n == 0) {
        free(arr);
        return pb_error_set(err, PB_ENOTFOUND, "no message %s", msg_id);
    }
    *out = arr[0];
    arr[0].body = NULL;
    pb_delivery_free_array(arr, n);
    return 0;
}

int pb_dstore_delivery_list(pb_conn *c, const char *hook_id, const char *status, int limit, pb_delivery **out,
                            size_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(hook_id), PB_TEXT(status), PB_INT(limit)};
    return delivery_query(c,
                          "SELECT " DELIVERY_COLS " FROM ops.deliveries WHERE hook_id = $1 AND (CAST($2 AS TEXT) IS NULL OR "
                          "status = $2) ORDER BY id DESC LIMIT $3",
                          p, 3, out, n, err);
}

int pb_dstore_delivery_counts(pb_conn *c, const char *hook_id, int64_t *pending, int64_t *succeeded,
                              int64_t *failed, pb_error *err)
{
    pb_val p[] = {PB_TEXT(hook_id)};
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status IN ('pending', "
                               "'sending')",
                               p, 1, pending, err);
    if (!rc)
        rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'succeeded'",
                               p, 1, succeeded, err);
    if (!rc)
        rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.deliveries WHERE hook_id = $1 AND status = 'failed'", p,
                               1, failed, err);
    return rc;
}

int pb_dstore_replay_msg(pb_conn *c, const char *msg_id, int64_t now, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(msg_id), PB_INT(now)};
    int rc = pb_conn_exec(c,
                          "UPDATE ops.deliveries SET status = 'pending', attempts = 0, manual = 1, "
                          "next_attempt_at = $2, last_error = NULL, updated_at = $2 WHERE msg_id = $1 AND status IN "
                          "('succeeded', 'failed', 'skipped')",
                          p, 2, &ch, err);
    if (rc) return rc;
    if (ch) return 0;
    int64_t cnt = 0;
    pb_val q[] = {PB_TEXT(msg_id)};
    rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.deliveries WHERE msg_id = $1", q, 1, &cnt, err);
    if (rc) return rc;
    return cnt ? pb_error_set(err, PB_ESTATE, "message %s is still being delivered", msg_id)
               : pb_error_set(err, PB_ENOTFOUND, "no message %s", msg_id);
}

int pb_dstore_replay_since(pb_conn *c, const char *hook_id, int64_t since, int64_t now, int64_t *count, pb_error *err)
{
    pb_val p[] = {PB_TEXT(hook_id), PB_INT(since), PB_INT(now)};
    return pb_conn_exec(c,
                        "UPDATE ops.deliveries SET status = 'pending', attempts = 0, manual = 1, next_attempt_at = $3, "
                        "last_error = NULL, updated_at = $3 WHERE hook_id = $1 AND status = 'failed' AND "
                        "created_at >= $2",
                        p, 3, count, err);
}

/* ------------------------------------------------------------------ attempts */

int pb_dstore_attempt_insert(pb_conn *c, const pb_attempt *a, pb_error *err)
{
    pb_val p[] = {PB_INT(a->delivery_id),
                  PB_TEXT(a->msg_id),
                  PB_TEXT(a->hook_id),
                  PB_INT(a->attempt),
                  PB_TEXT(a->trigger),
                  PB_INT(a->started_at),
                  PB_INT(a->duration_ms),
                  PB_INT(a->http_status),
                  PB_TEXT(a->outcome),
                  PB_TEXT(nz(a->error)),
                  PB_TEXT(a->response),
                  a->next_attempt_at ? PB_INT(a->next_attempt_at) : PB_NULL};
    return pb_conn_exec(c,
                        "INSERT INTO ops.delivery_attempts (delivery_id, msg_id, hook_id, attempt, trigger_kind, "
                        "started_at, duration_ms, http_status, outcome, error, response, next_attempt_at) VALUES "
                        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        p, 12, NULL, err);
}

#define ATTEMPT_CHUNK 16
#define ATTEMPT_NCOLS 12

int pb_dstore_attempt_insert_many(pb_conn *c, const pb_attempt *a, size_t n, pb_error *err)
{
    pb_val p[ATTEMPT_CHUNK * ATTEMPT_NCOLS];
    for (size_t off = 0; off < n; off += ATTEMPT_CHUNK) {
        size_t k = n - off < ATTEMPT_CHUNK ? n - off : ATTEMPT_CHUNK;
        pb_buf sql;
        pb_buf_init(&sql, 16384);
        pb_buf_puts(&sql, "INSERT INTO ops.delivery_attempts (delivery_id, msg_id, hook_id, attempt, trigger_kind, "
                          "started_at, duration_ms, http_status, outcome, error, response, next_attempt_at) VALUES ");
        for (size_t i = 0; i < k; i++) {
            const pb_attempt *x = &a[off + i];
            size_t b = i * ATTEMPT_NCOLS;
            pb_buf_printf(&sql, "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu)",
                          i ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11,
                          b + 12);
            p[b + 0] = PB_INT(x->delivery_id);
            p[b + 1] = PB_TEXT(x->msg_id);
            p[b + 2] = PB_TEXT(x->hook_id);
            p[b + 3] = PB_INT(x->attempt);
            p[b + 4] = PB_TEXT(x->trigger);
            p[b + 5] = PB_INT(x->started_at);
            p[b + 6] = PB_INT(x->duration_ms);
            p[b + 7] = PB_INT(x->http_status);
            p[b + 8] = PB_TEXT(x->outcome);
            p[b + 9] = PB_TEXT(nz(x->error));
            p[b + 10] = PB_TEXT(x->response);
            p[b + 11] = x->next_attempt_at ? PB_INT(x->next_attempt_at) : PB_NULL;
        }
        int rc = pb_conn_exec(c, pb_buf_cstr(&sql), p, (int)(k * ATTEMPT_NCOLS), NULL, err);
        pb_buf_free(&sql);
        if (rc) return rc;
    }
    return 0;
}

void pb_attempt_free_array(pb_attempt *a, size_t n)
{
    if (!a) return;
    for (size_t i = 0; i < n; i++) free(a[i].response);
    free(a);
}

static int attempt_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_attempt *a = rec;
    (void)ctx;
    a->id = pb_rows_int(r, 0);
    a->delivery_id = pb_rows_int(r, 1);
    cp(a->msg_id, sizeof a->msg_id, pb_rows_text(r, 2));
    cp(a->hook_id, sizeof a->hook_id, pb_rows_text(r, 3));
    a->attempt = (int)pb_rows_int(r, 4);
    cp(a->trigger, sizeof a->trigger, pb_rows_text(r, 5));
    a->started_at = pb_rows_int(r, 6);
    a->duration_ms = (int)pb_rows_int(r, 7);
    a->http_status = (int)pb_rows_int(r, 8);
    cp(a->outcome, sizeof a->outcome, pb_rows_text(r, 9));
    cp(a->error, sizeof a->error, pb_rows_text(r, 10));
    a->response = strdup(pb_rows_text(r, 11));
    a->next_attempt_at = pb_rows_int(r, 12);
    return a->response ? 0 : PB_ENOMEM;
}

static void attempt_drop(void *arr, size_t n)
{
    pb_attempt_free_array(arr, n);
}

int pb_dstore_attempt_list(pb_conn *c, const char *hook_id, const char *msg_id, int limit, pb_attempt **out,
                           size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(hook_id), PB_TEXT(msg_id), PB_INT(limit)};
    int rc = pb_conn_query(c,
                           "SELECT " ATTEMPT_COLS " FROM ops.delivery_attempts WHERE (CAST($1 AS TEXT) IS NULL OR hook_id = $1) "
                           "AND (CAST($2 AS TEXT) IS NULL OR msg_id = $2) ORDER BY id DESC LIMIT $3",
                           p, 3, &r, err);
    if (rc) return rc;
    void *arr = NULL;
    rc = read_all(r, sizeof **out, attempt_fill, attempt_drop, &arr, n, "cannot read the delivery log", err);
    *out = arr;
    return rc;
}

int pb_dstore_retention(pb_conn *c, int64_t cutoff, int64_t *deleted, pb_error *err)
{
    int64_t a = 0, b = 0, f = 0, wm = 0;
    pb_val p[] = {PB_INT(cutoff)};
    int rc = pb_conn_exec(c, "DELETE FROM ops.delivery_attempts WHERE started_at < $1", p, 1, &a, err);
    if (!rc)
        rc = pb_conn_exec(c,
                          "DELETE FROM ops.deliveries WHERE status IN ('succeeded', 'failed', 'skipped') AND "
                          "updated_at < $1",
                          p, 1, &b, err);
    if (!rc) rc = pb_dstore_watermark(c, &wm, err);
    if (!rc) {
        pb_val q[] = {PB_INT(cutoff), PB_INT(wm)};
        rc = pb_conn_exec(c, "DELETE FROM ops.outbox_fanout WHERE fanned_at < $1 AND outbox_id <= $2", q, 2, &f, err);
    }
    if (deleted) *deleted = a + b + f;
    return rc;
}

/* ------------------------------------------------------------------ mirror reads */

static int text_or_empty(pb_conn *c, const char *sql, const char *id, char *out, size_t outlen, pb_error *err)
{
    out[0] = '\0';
    if (!id || !*id) return 0;
    char *s = NULL;
    pb_val p[] = {PB_TEXT(id)};
    int rc = pb_conn_query_text(c, sql, p, 1, &s, err);
    if (rc == PB_ENOTFOUND) {
        pb_error_clear(err);
        return 0;
    }
    if (rc) return rc;
    cp(out, outlen, s);
    free(s);
    return 0;
}

int pb_dstore_workspace_id(pb_conn *c, const char *slug, char *out, size_t outlen, pb_error *err)
{
    return text_or_empty(c, "SELECT id FROM work_plane.installations WHERE workspace_slug = $1", slug, out, outlen,
                         err);
}

int pb_dstore_project_ident(pb_conn *c, const char *project_id, char *out, size_t outlen, pb_error *err)
{
    return text_or_empty(c, "SELECT identifier FROM work_plane.projects WHERE plane_id = $1", project_id, out, outlen,
                         err);
}

int pb_dstore_item_name(pb_conn *c, const char *id, char *out, size_t outlen, pb_error *err)
{
    return text_or_empty(c, "SELECT COALESCE(name, '') FROM work_plane.items WHERE plane_id = $1", id, out, outlen,
                         err);
}

int pb_dstore_mirror_raw(pb_conn *c, const char *kind, const char *id, char **raw, int *deleted, pb_error *err)
{
    *raw = NULL;
    *deleted = 0;
    if (!id || !*id) return 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(id)};
    const char *sql = strcmp(kind, "project") == 0
                          ? "SELECT raw, deleted_at FROM work_plane.projects WHERE plane_id = $1"
                          : "SELECT raw, deleted_at FROM work_plane.items WHERE plane_id = $1";
    int rc = pb_conn_query(c, sql, p, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        *deleted = !pb_rows_isnull(r, 1);
        *raw = strdup(pb_rows_text(r, 0));
        if (!*raw) s = PB_ENOMEM;
    }
    pb_rows_free(r);
    if (s < 0) return pb_error_set(err, s == PB_ENOMEM ? PB_ENOMEM : PB_ESTORE, "cannot read the mirror");
    return 0;
}

int pb_dstore_user_lite(pb_conn *c, const char *id, char **json, pb_error *err)
{
    *json = NULL;
    if (!id || !*id) return 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(id)};
    int rc = pb_conn_query(c, "SELECT id, first_name, last_name, email, display_name FROM ops.users WHERE id = $1", p,
                           1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        pb_buf b;
        pb_buf_init(&b, 8192);
        pb_buf_puts(&b, "{\"id\":");
        pb_buf_json_str(&b, pb_rows_text(r, 0));
        pb_buf_puts(&b, ",\"first_name\":");
        pb_buf_json_str(&b, pb_rows_text(r, 1));
        pb_buf_puts(&b, ",\"last_name\":");
        pb_buf_json_str(&b, pb_rows_text(r, 2));
        pb_buf_puts(&b, ",\"email\":");
        pb_buf_json_str(&b, pb_rows_text(r, 3));
        pb_buf_puts(&b, ",\"avatar\":\"\",\"avatar_url\":null,\"display_name\":");
        pb_buf_json_str(&b, pb_rows_text(r, 4));
        if (pb_buf_putc(&b, '}') == 0) *json = pb_buf_steal(&b);
        pb_buf_free(&b);
        if (!*json) s = PB_ENOMEM;
    }
    pb_rows_free(r);
    if (s < 0) return pb_error_set(err, s == PB_ENOMEM ? PB_ENOMEM : PB_ESTORE, "cannot read users");
    return 0;
}
