/* ingest: see ingest.h. */
#include "ingest/ingest.h"

#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"
#include "ingest/enqueue.h"
#include "ingest/ingest_metrics.h"
#include "ingest/signature.h"
#include "ingest/webhook.h"
#include "store/auth_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pb_ingest {
    pb_db *db;
    pb_ingest_options opt;
    pb_ingest_secrets *secrets;
    pb_enqueuer *enq;
    pb_worker *worker;
};

static void on_commit(void *ctx, int inserted)
{
    (void)inserted;
    pb_worker_wake(((pb_ingest *)ctx)->worker);
}

int pb_ingest_new(pb_db *db, const pb_ingest_options *opt, pb_secret_lookup_fn secrets, void *secrets_ctx,
                  pb_ingest **out, pb_error *err)
{
    pb_ingest *ing = calloc(1, sizeof *ing);
    if (!ing) return pb_error_set(err, PB_ENOMEM, "out of memory");
    ing->db = db;
    if (opt) ing->opt = *opt;
    if (!ing->opt.max_body) ing->opt.max_body = 512 * 1024;
    if (ing->opt.commit_timeout_ms <= 0) ing->opt.commit_timeout_ms = 10000;
    int rc = pb_ingest_secrets_new(secrets, secrets_ctx, 5000, &ing->secrets);
    if (rc) {
        pb_ingest_free(ing);
        return pb_error_set(err, rc, "out of memory");
    }
    pb_enqueuer_options eo = {.max_batch = ing->opt.max_batch,
                              .bg_checkpoint = ing->opt.bg_checkpoint,
                              .committers = ing->opt.committers,
                              .max_pending = ing->opt.max_pending,
                              .on_commit = on_commit,
                              .on_commit_ctx = ing};
    rc = pb_enqueuer_new(db, &eo, &ing->enq, err);
    ing->opt.worker.bg_checkpoint = ing->opt.bg_checkpoint;
    if (!rc && ing->opt.run_worker) rc = pb_worker_new(db, &ing->opt.worker, &ing->worker, err);
    if (rc) {
        pb_ingest_free(ing);
        return rc;
    }
    *out = ing;
    return 0;
}

void pb_ingest_set_refetch(pb_ingest *ing, pb_ingest_refetch_fn fn, void *ctx)
{
    if (!ing) return;
    ing->opt.worker.refetch = fn;
    ing->opt.worker.refetch_ctx = ctx;
    pb_worker_set_refetch(ing->worker, fn, ctx);
}

int pb_ingest_start(pb_ingest *ing, pb_error *err)
{
    int rc = pb_enqueuer_start(ing->enq, err);
    if (!rc && ing->worker) rc = pb_worker_start(ing->worker, err);
    return rc;
}

void pb_ingest_stop(pb_ingest *ing)
{
    if (!ing) return;
    pb_worker_stop(ing->worker);
    pb_enqueuer_stop(ing->enq);
}

void pb_ingest_free(pb_ingest *ing)
{
    if (!ing) return;
    pb_ingest_stop(ing);
    pb_worker_free(ing->worker);
    pb_enqueuer_free(ing->enq);
    pb_ingest_secrets_free(ing->secrets);
    free(ing);
}

pb_ingest_secrets *pb_ingest_secret_cache(pb_ingest *ing)
{
    return ing->secrets;
}

static void reply(pb_ingest_reply *r, int status, const char *json)
{
    r->status = status;
    r->retry_after = 0;
    pb_strlcpy(r->body, json, sizeof r->body);
}

static void reply_err(pb_ingest_reply *r, int status, const char *msg, const char *field)
{
    pb_buf b;
    pb_buf_init(&b, sizeof r->body - 1);
    pb_buf_puts(&b, "{\"error\":");
    pb_buf_json_str(&b, msg);
    if (field && field[0]) {
        pb_buf_puts(&b, ",\"field\":");
        pb_buf_json_str(&b, field);
    }
    pb_buf_putc(&b, '}');
    r->status = status;
    r->retry_after = 0;
    pb_strlcpy(r->body,
               b.len && b.data[b.len - 1] == '}' ? pb_buf_cstr(&b) : "{\"error\":\"invalid request\"}",
               sizeof r->body);
    pb_buf_free(&b);
}

/* A job whose answer is deferred (http/server.h): the committer answers it once the batch
 * commit returned. Holds copies of what the job points to beyond the request's own strings
 * (workspace and body stay valid until the deferred answer is finished). */
typedef struct async_job {
    pb_deferred *d;
    const char *ws;
    char key[sizeof ((pb_hook *)0)->key];
    char event[sizeof ((pb_hook *)0)->event];
    char object_id[sizeof ((pb_hook *)0)->object_id];
} async_job;

static void finish_reply(pb_deferred *d, const pb_ingest_reply *r)
{
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        pb_deferred_header(d, "Retry-After", ra);
    }
    pb_im_inflight(-1);
    pb_deferred_finish(d, r->status, r->body);
}

static void store_outcome(int rc, int dup, const pb_error *err, const char *ws, pb_ingest_reply *out)
{
    if (rc) {
        pb_im_overloaded();
        if (rc != PB_EBUSY && rc != PB_ETIMEOUT)
            PB_LOG(PB_LOG_ERROR, "ingest: could not store webhook", PB_LS("workspace", ws),
                   PB_LS("error", err ? err->msg : ""));
        reply_err(out, 503, rc == PB_EBUSY ? "overloaded, retry later" : "could not store the webhook", NULL);
        out->retry_after = 1;
        return;
    }
    if (dup) {
        pb_im_duplicate();
        reply(out, 200, "{\"ok\":true,\"duplicate\":true}");
    } else {
        pb_im_accepted();
        reply(out, 200, "{\"ok\":true,\"queued\":true}");
    }
}

/* Committer thread, after the commit returned (or the enqueuer stopped). */
static void async_done(void *ctx, int rc, int dup)
{
    async_job *aj = ctx;
    pb_ingest_reply r;
    store_outcome(rc, dup, NULL, aj->ws, &r);
    finish_reply(aj->d, &r);
    free(aj);
}

/* defer: the handler's response when the answer may be deferred (NULL: wait, as before).
 * Returns 1 when the answer was deferred (out untouched), 0 when out holds it. */
static int receive(pb_ingest *ing, const char *ws, const char *ctype, const char *sig, const char *shared,
                   const char *body, size_t len, pb_ingest_reply *out, pb_resp *defer)
{
    if (!pb_hook_slug_ok(ws)) {
        pb_im_rejected(PB_IM_REJ_WORKSPACE);
        reply_err(out, 404, "unknown workspace", NULL);
        return 0;
    }
    if (len > ing->opt.max_body) {
        pb_im_rejected(PB_IM_REJ_TOO_LARGE);
        reply_err(out, 413, "body exceeds the size limit", NULL);
        return 0;
    }
    if (!pb_hook_content_type_ok(ctype)) {
        pb_im_rejected(PB_IM_REJ_CONTENT_TYPE);
        reply_err(out, 415, "Content-Type must be application/json", NULL);
        return 0;
    }
    /* Authenticate the raw bytes before anything looks inside them. */
    out->status = 0;
    pb_sig_secrets sec;
    int src = pb_ingest_secrets_get(ing->secrets, ws, &sec);
    const char *why = "no secret configured";
    int ok = src == 0 && pb_sig_verify(&sec, pb_now_us(), body, len, sig, shared, &why);
    memset(&sec, 0, sizeof sec);
    if (!ok) {
        if (src && src != PB_ENOTFOUND) {
            reply_err(out, 503, "cannot verify the request now", NULL);
            out->retry_after = 5;
            return 0;
        }
        pb_im_rejected(PB_IM_REJ_SIGNATURE);
        PB_LOG(PB_LOG_WARN, "ingest: webhook rejected", PB_LS("workspace", ws), PB_LS("reason", why),
               PB_LI("bytes", (long long)len));
        reply_err(out, 401, "invalid webhook signature", NULL);
        return 0;
    }
    pb_hook h;
    pb_error err = {0};
    int rc = pb_hook_parse(ws, body, len, &h, &err);
    if (rc) {
        pb_im_rejected(PB_IM_REJ_MALFORMED);
        reply_err(out, 400, err.msg[0] ? err.msg : "malformed webhook body", err.field);
        return 0;
    }
    int64_t backlog = pb_im_backlog();
    if (ing->opt.max_backlog > 0 && backlog > ing->opt.max_backlog) {
        /* The workers are far behind: refuse rather than pile up what cannot be applied. */
        pb_hook_free(&h);
        pb_im_overloaded();
        reply_err(out, 503, "overloaded, retry later", NULL);
        out->retry_after = 30;
        return 0;
    }
    if (ing->opt.no_store) {
        pb_hook_free(&h);
        pb_im_accepted();
        reply(out, 200, "{\"ok\":true,\"queued\":false,\"stored\":false}");
        return 0;
    }
    pb_queue_in job = {.key = h.key,
                       .source = "plane",
                       .workspace = ws,
                       .object_type = h.event,
                       .object_id = h.object_id,
                       .received_at = pb_now_us(),
                       .body = body,
                       .body_len = len};
    int dup = 0;
    async_job *aj = defer ? malloc(sizeof *aj) : NULL;
    if (aj) {
        /* Hand the job to the committer and free this thread: the committer answers. */
        aj->ws = ws;
        pb_strlcpy(aj->key, h.key, sizeof aj->key);
        pb_strlcpy(aj->event, h.event, sizeof aj->event);
        pb_strlcpy(aj->object_id, h.object_id, sizeof aj->object_id);
        pb_hook_free(&h);
        job.key = aj->key;
        job.object_type = aj->event;
        job.object_id = aj->object_id;
        aj->d = pb_resp_defer(defer);
        rc = aj->d ? pb_enqueuer_submit_async(ing->enq, &job, async_done, aj, &err) : PB_EINTERNAL;
        if (!rc) return 1;
        /* Not queued (overload, stop): answer now, on this thread. */
        if (aj->d) {
            store_outcome(rc, 0, &err, ws, out);
            finish_reply(aj->d, out);
            free(aj);
            return 1;
        }
        free(aj);
        store_outcome(rc, 0, &err, ws, out);
        return 0;
    }
    rc = pb_enqueuer_submit(ing->enq, &job, ing->opt.commit_timeout_ms, &dup, &err);
    pb_hook_free(&h);
    store_outcome(rc, dup, &err, ws, out);
    return 0;
}

void pb_ingest_receive(pb_ingest *ing, const char *ws, const char *ctype, const char *sig, const char *shared,
                       const char *body, size_t len, pb_ingest_reply *out)
{
    receive(ing, ws, ctype, sig, shared, body, len, out, NULL);
}

static int handle_plane(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_ingest *ing = ctx;
    size_t len = 0;
    const char *body = pb_req_body(req, &len);
    pb_ingest_reply r;
    pb_im_inflight(1);
    /* Deferred: the committer answers after the group commit (and drops the gauge). */
    if (receive(ing, pb_req_param(req, "workspace"), pb_req_header(req, "Content-Type"),
                pb_req_header(req, "X-Plane-Signature"), pb_req_header(req, "X-Plane-Webhook-Secret"), body, len,
                &r, resp))
        return 0;
    pb_im_inflight(-1);
    if (r.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r.retry_after);
        pb_resp_header(resp, "Retry-After", ra);
    }
    pb_resp_json(resp, r.status, r.body);
    return 0;
}

int pb_ingest_register_routes(pb_ingest *ing, pb_server *srv, pb_error *err)
{
    pb_route r = {.method = "POST",
                  .pattern = "/hooks/plane/{workspace}",
                  .scope = NULL,
                  .flags = PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY,
                  .fn = handle_plane,
                  .ctx = ing};
    int rc = pb_server_route(srv, &r);
    if (rc) return pb_error_set(err, rc, "cannot register /hooks/plane route");
    return 0;
}

/* --- vault-backed secrets ------------------------------------------------------------------ */

int pb_ingest_vault_lookup(void *ctx, const char *ws, pb_sig_secrets *out, pb_error *err)
{
    pb_app *app = ctx;
    if (!app || !app->vault) return PB_ENOTFOUND;
    char *name = NULL, *val = NULL;
    size_t vlen = 0;
    int rc = pb_as_token_ref_get(app->db, ws, "", PB_INGEST_SECRET_PURPOSE, &name, err);
    if (!rc) rc = pb_vault_get(app->vault, name, &val, &vlen, err);
    if (!rc && pb_ingest_secret_decode(val, out) != 0)
        rc = pb_error_set(err, PB_ECONFIG, "webhook secret unreadable");
    free(name);
    if (val) pb_vault_secret_free(val);
    return rc;
}

int pb_ingest_secret_store(pb_db *db, pb_vault *vault, const char *ws, pb_sig_scheme scheme,
                           const char *secret, int64_t overlap_s, pb_error *err)
{
    if (!pb_hook_slug_ok(ws)) return pb_error_set(err, PB_EINVAL, "invalid workspace slug");
    if (!secret || strlen(secret) < 8 || strlen(secret) >= PB_SIG_SECRET_MAX)
        return pb_error_set(err, PB_EINVAL, "webhook secret must be 8..%d bytes", PB_SIG_SECRET_MAX - 1);
    char name[96];
    snprintf(name, sizeof name, "%s:%s", PB_INGEST_SECRET_PURPOSE, ws);
    pb_sig_secrets old, fresh;
    memset(&old, 0, sizeof old);
    char *val = NULL, *json = NULL;
    size_t vlen = 0;
    if (pb_vault_get(vault, name, &val, &vlen, NULL) == 0) {
        pb_ingest_secret_decode(val, &old);
        pb_vault_secret_free(val);
    }
    pb_ingest_secret_rotate(&old, scheme, secret, pb_now_us(), overlap_s, &fresh);
    int rc = pb_ingest_secret_encode(&fresh, &json);
    if (rc) rc = pb_error_set(err, rc, "out of memory");
    if (!rc) rc = pb_vault_put(vault, name, json, 0, err);
    if (!rc) rc = pb_as_token_ref_set(db, ws, "", PB_INGEST_SECRET_PURPOSE, name, err);
    if (json) pb_vault_secret_free(json);
    memset(&old, 0, sizeof old);
    memset(&fresh, 0, sizeof fresh);
    return rc;
}

/* --- module -------------------------------------------------------------------------------- */

static pb_ingest *g_ingest;

pb_ingest *pb_ingest_instance(void)
{
    return g_ingest;
}

static int mod_init(pb_app *app, pb_error *err)
{
    if (!app->db || !app->srv) return 0; /* nothing to receive into or from */
    pb_im_init();
    /* The knobs come from the config table (ingest_* keys, PB_INGEST_* environment). */
    pb_config defaults;
    const pb_config *cfg = app->cfg;
    if (!cfg) {
        pb_config_defaults(&defaults);
        cfg = &defaults;
    }
    pb_ingest_options o = {0};
    o.max_body = (size_t)cfg->ingest_max_body;
    o.max_pending = cfg->ingest_max_pending;
    o.no_store = cfg->ingest_nostore;
    o.bg_checkpoint = cfg->ingest_bg_checkpoint;
    o.committers = cfg->ingest_committers;
    o.max_backlog = cfg->ingest_max_backlog;
    o.worker.threads = cfg->ingest_workers;
    o.worker.coalesce_ms = cfg->ingest_coalesce_ms;
    o.worker.lease_ms = cfg->ingest_lease_ms;
    o.run_worker = o.worker.threads > 0;
    if (o.no_store)
        PB_LOG(PB_LOG_WARN, "ingest: PB_INGEST_NOSTORE=1: webhooks are NOT stored (benchmark mode)");
    /* Handlers wait for their group commit on the HTTP thread, so the thread count bounds
     * how many webhooks one commit can batch. */
    if (app->cfg && app->cfg->threads < 16)
        PB_LOG(PB_LOG_INFO,
               "ingest: few HTTP threads for group commit; set threads: 32-64 for webhook throughput",
               PB_LI("threads", app->cfg->threads));
    int rc = pb_ingest_new(app->db, &o, pb_ingest_vault_lookup, app, &g_ingest, err);
    if (!rc) rc = pb_ingest_register_routes(g_ingest, app->srv, err);
    return rc;
}

static int mod_start(pb_app *app, pb_error *err)
{
    (void)app;
    return g_ingest ? pb_ingest_start(g_ingest, err) : 0;
}

static void mod_stop(pb_app *app)
{
    (void)app;
    pb_ingest_stop(g_ingest);
}

static void mod_free(pb_app *app)
{
    (void)app;
    pb_ingest_free(g_ingest);
    g_ingest = NULL;
}

const pb_module pb_module_ingest = {"ingest", mod_init, mod_start, mod_stop, mod_free};
