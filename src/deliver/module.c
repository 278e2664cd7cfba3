/* module: see module.h. */
#include "deliver/module.h"

#include "auth/auth.h"
#include "core/log.h"
#include "core/util.h"
#include "deliver/format.h"
#include "deliver/sign.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE "webhooks:admin"

void pb_deliver_options_from_config(const pb_config *cfg, pb_db *db, struct pb_vault *vault, pb_deliver_options *o)
{
    memset(o, 0, sizeof *o);
    o->db = db;
    o->vault = vault;
    o->public_url = cfg->public_url;
    o->ssrf_allow = cfg->ssrf_allow;
    o->retention_days = cfg->delivery_retention_days;
    o->workers = cfg->deliver_workers;
    o->batch = cfg->deliver_batch;
    o->schedule = cfg->deliver_schedule[0] ? cfg->deliver_schedule : NULL;
    o->lease_s = cfg->deliver_lease_s;
    o->timeout_ms = cfg->deliver_timeout_ms;
    o->poll_ms = cfg->deliver_poll_ms;
    o->disable_after_s = cfg->deliver_disable_after_s;
}

/* ------------------------------------------------------------------ helpers */

static pb_deliver *dl(void *ctx)
{
    return ((pb_app *)ctx)->deliver;
}

static void fail(pb_resp *resp, int rc, const pb_error *err)
{
    int st = pb_err_http_status(rc);
    if (err->field[0]) {
        pb_buf *b = pb_resp_body(resp);
        pb_resp_status(resp, st);
        pb_buf_puts(b, "{");
        pb_buf_json_str(b, err->field);
        pb_buf_puts(b, ":[");
        pb_buf_json_str(b, err->msg[0] ? err->msg : pb_strerror(rc));
        pb_buf_puts(b, "]}");
        return;
    }
    pb_resp_error(resp, st, "detail", "%s", err->msg[0] ? err->msg : pb_strerror(rc));
}

static cJSON *body_json(pb_req *req, pb_resp *resp)
{
    size_t len = 0;
    const char *b = pb_req_body(req, &len);
    if (len == 0) return cJSON_CreateObject();
    cJSON *j = pb_json_parse(b, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        pb_resp_error(resp, 400, "detail", "body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* events may be a JSON array of strings or a comma-separated string. */
static int jevents(const cJSON *o, char *out, size_t n, int *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "events");
    *present = v != NULL;
    out[0] = '\0';
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v)) {
        pb_strlcpy(out, v->valuestring, n);
        return strlen(v->valuestring) < n ? 0 : PB_ETOOBIG;
    }
    if (!cJSON_IsArray(v)) return PB_EINVAL;
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsString(e)) return PB_EINVAL;
        size_t l = strlen(out);
        if (l + strlen(e->valuestring) + 2 >= n) return PB_ETOOBIG;
        snprintf(out + l, n - l, "%s%s", l ? "," : "", e->valuestring);
    }
    return 0;
}

/* Loads the hook named by {id} and checks the caller may administer its workspace. */
static int load_hook(pb_req *req, pb_resp *resp, void *ctx, pb_hook *h)
{
    pb_error err = {0};
    int rc = pb_deliver_hook_get(dl(ctx), pb_req_param(req, "id"), h, &err);
    if (rc) {
        fail(resp, rc, &err);
        return rc;
    }
    return pb_auth_require(ctx, req, resp, h->workspace_slug, NULL, SCOPE);
}

static int copy_field(const cJSON *j, const char *k, char *dst, size_t n, pb_resp *resp)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v) return 0;
    if (cJSON_IsNull(v)) {
        dst[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= n) {
        pb_resp_error(resp, 400, k, "must be a string of at most %zu characters", n - 1);
        return PB_EINVAL;
    }
    pb_strlcpy(dst, v->valuestring, n);
    return 0;
}

/* ------------------------------------------------------------------ handlers */

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    const char *ws = pb_req_query(req, "workspace");
    const pb_principal *p = pb_auth_principal(req);
    if (ws && pb_auth_require(ctx, req, resp, ws, NULL, SCOPE)) return 0;
    if (!ws && p && p->workspace[0]) ws = p->workspace;
    pb_hook *hs = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_deliver_hook_list(dl(ctx), ws, &hs, &n, &err);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    pb_buf_puts(b, "{\"results\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        int role = 0;
        if (!ws && p && pb_auth_member_role(ctx, p, hs[i].workspace_slug, &role)) continue;
        if (!first) pb_buf_putc(b, ',');
        pb_deliver_hook_json(&hs[i], b);
        first = 0;
    }
    pb_buf_puts(b, "]}");
    free(hs);
    return 0;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    cJSON *j = body_json(req, resp);
    if (!j) return 0;
    pb_hook h;
    memset(&h, 0, sizeof h);
    int present = 0;
    if (copy_field(j, "workspace", h.workspace_slug, sizeof h.workspace_slug, resp) ||
        copy_field(j, "url", h.url, sizeof h.url, resp) || copy_field(j, "format", h.format, sizeof h.format, resp) ||
        copy_field(j, "project_id", h.project_id, sizeof h.project_id, resp) ||
        copy_field(j, "description", h.description, sizeof h.description, resp) ||
        copy_field(j, "event_mode", h.event_mode, sizeof h.event_mode, resp))
        goto out;
    if (!h.format[0]) pb_strlcpy(h.format, "standard", sizeof h.format);
    if (jevents(j, h.events, sizeof h.events, &present)) {
        pb_resp_error(resp, 400, "events", "events must be a list of event types");
        goto out;
    }
    if (pb_auth_require(ctx, req, resp, h.workspace_slug, h.project_id, SCOPE)) goto out;
    char secret[PB_SW_SECRET_MAX * 2];
    pb_error err = {0};
    int rc = pb_deliver_hook_create(dl(ctx), &h, secret, sizeof secret, &err);
    if (rc) {
        fail(resp, rc, &err);
        goto out;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 201);
    pb_deliver_hook_json(&h, b);
    b->len--; /* reopen the object */
    pb_buf_puts(b, ",\"secret\":");
    pb_buf_json_str(b, secret);
    pb_buf_putc(b, '}');
    memset(secret, 0, sizeof secret);
out:
    cJSON_Delete(j);
    return 0;
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    pb_deliver_hook_json(&h, b);
    pb_conn *c = NULL;
    int64_t pend = 0, ok = 0, failed = 0;
    pb_app *app = ctx;
    if (!pb_db_acquire(app->db, &c, NULL)) {
        pb_dstore_delivery_counts(c, h.id, &pend, &ok, &failed, NULL);
        pb_db_release(app->db, c);
    }
    b->len--;
    pb_buf_printf(b, ",\"messages\":{\"pending\":%lld,\"succeeded\":%lld,\"failed\":%lld}}", (long long)pend,
                  (long long)ok, (long long)failed);
    return 0;
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    cJSON *j = body_json(req, resp);
    if (!j) return 0;
    int present = 0;
    char events[sizeof h.events];
    if (copy_field(j, "url", h.url, sizeof h.url, resp) || copy_field(j, "format", h.format, sizeof h.format, resp) ||
        copy_field(j, "project_id", h.project_id, sizeof h.project_id, resp) ||
        copy_field(j, "description", h.description, sizeof h.description, resp) ||
        copy_field(j, "event_mode", h.event_mode, sizeof h.event_mode, resp))
        goto out;
    if (jevents(j, events, sizeof events, &present)) {
        pb_resp_error(resp, 400, "events", "events must be a list of event types");
        goto out;
    }
    if (present) {
        pb_strlcpy(h.events, events, sizeof h.events);
        if (!cJSON_GetObjectItemCaseSensitive(j, "event_mode"))
            pb_strlcpy(h.event_mode, events[0] ? "individual" : "all", sizeof h.event_mode);
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "active");
    if (act) {
        if (!cJSON_IsBool(act)) {
            pb_resp_error(resp, 400, "active", "must be true or false");
            goto out;
        }
        h.active = cJSON_IsTrue(act);
        if (!h.active && !h.disabled_reason[0]) pb_strlcpy(h.disabled_reason, "disabled by an operator", sizeof h.disabled_reason);
    }
    if (h.project_id[0] && pb_auth_require(ctx, req, resp, h.workspace_slug, h.project_id, SCOPE)) goto out;
    pb_error err = {0};
    int rc = pb_deliver_hook_save(dl(ctx), &h, &err);
    if (rc) {
        fail(resp, rc, &err);
        goto out;
    }
    pb_resp_status(resp, 200);
    pb_deliver_hook_json(&h, pb_resp_body(resp));
out:
    cJSON_Delete(j);
    return 0;
}

static int h_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    pb_error err = {0};
    int rc = pb_deliver_hook_delete(dl(ctx), h.id, &err);
    if (rc) fail(resp, rc, &err);
    else pb_resp_status(resp, 204);
    return 0;
}

static int h_disable(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    pb_error err = {0};
    int rc = pb_deliver_hook_disable(dl(ctx), h.id, "disabled by an operator", &err);
    if (!rc) rc = pb_deliver_hook_get(dl(ctx), h.id, &h, &err);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_resp_status(resp, 200);
    pb_deliver_hook_json(&h, pb_resp_body(resp));
    return 0;
}

static int h_rotate(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    char secret[PB_SW_SECRET_MAX * 2];
    pb_error err = {0};
    int rc = pb_deliver_hook_rotate(dl(ctx), h.id, secret, sizeof secret, &err);
    if (!rc) rc = pb_deliver_hook_get(dl(ctx), h.id, &h, &err);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 201);
    pb_deliver_hook_json(&h, b);
    b->len--;
    pb_buf_puts(b, ",\"secret\":");
    pb_buf_json_str(b, secret);
    pb_buf_putc(b, '}');
    memset(secret, 0, sizeof secret);
    return 0;
}

static int h_test(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    char msg[80];
    pb_error err = {0};
    int rc = pb_deliver_hook_test(dl(ctx), h.id, msg, sizeof msg, &err);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 202);
    pb_buf_puts(b, "{\"msg_id\":");
    pb_buf_json_str(b, msg);
    pb_buf_putc(b, '}');
    return 0;
}

static int limit_of(pb_req *req, int def)
{
    int64_t v;
    const char *s = pb_req_query(req, "limit");
    if (s && pb_parse_i64(s, 1, 1000, &v) == 0) return (int)v;
    return def;
}

static int h_log(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    pb_app *app = ctx;
    pb_conn *c = NULL;
    pb_attempt *as = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_db_acquire(app->db, &c, &err);
    if (!rc) rc = pb_dstore_attempt_list(c, h.id, pb_req_query(req, "msg_id"), limit_of(req, 100), &as, &n, &err);
    pb_db_release(app->db, c);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    pb_buf_puts(b, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) pb_buf_putc(b, ',');
        pb_deliver_attempt_json(&as[i], b);
    }
    pb_buf_puts(b, "]}");
    pb_attempt_free_array(as, n);
    return 0;
}

static int h_messages(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    pb_app *app = ctx;
    pb_conn *c = NULL;
    pb_delivery *ms = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_db_acquire(app->db, &c, &err);
    if (!rc) rc = pb_dstore_delivery_list(c, h.id, pb_req_query(req, "status"), limit_of(req, 100), &ms, &n, &err);
    pb_db_release(app->db, c);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    pb_buf_puts(b, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) pb_buf_putc(b, ',');
        pb_deliver_delivery_json(&ms[i], b);
    }
    pb_buf_puts(b, "]}");
    pb_delivery_free_array(ms, n);
    return 0;
}

static int h_replay(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_hook h;
    if (load_hook(req, resp, ctx, &h)) return 0;
    cJSON *j = body_json(req, resp);
    if (!j) return 0;
    const char *msg = jstr(j, "msg_id"), *since = jstr(j, "since");
    pb_error err = {0};
    int rc;
    int64_t count = 0;
    if (msg) {
        pb_delivery m;
        pb_app *app = ctx;
        pb_conn *c = NULL;
        rc = pb_db_acquire(app->db, &c, &err);
        memset(&m, 0, sizeof m);
        if (!rc) rc = pb_dstore_delivery_get(c, msg, &m, &err);
        pb_db_release(app->db, c);
        free(m.body);
        if (!rc && strcmp(m.hook_id, h.id) != 0) rc = pb_error_set(&err, PB_ENOTFOUND, "no message %s", msg);
        if (!rc) rc = pb_deliver_replay(dl(ctx), msg, &err);
        count = rc ? 0 : 1;
    } else if (since) {
        int64_t t;
        if (pb_time_parse(since, &t)) {
            pb_resp_error(resp, 400, "since", "must be an ISO-8601 time");
            cJSON_Delete(j);
            return 0;
        }
        rc = pb_deliver_replay_since(dl(ctx), h.id, t, &count, &err);
    } else {
        pb_resp_error(resp, 400, "detail", "give msg_id or since");
        cJSON_Delete(j);
        return 0;
    }
    cJSON_Delete(j);
    if (rc) {
        fail(resp, rc, &err);
        return 0;
    }
    pb_resp_status(resp, 202);
    pb_buf_printf(pb_resp_body(resp), "{\"replayed\":%lld}", (long long)count);
    return 0;
}

/* ------------------------------------------------------------------ module */

static int mod_init(pb_app *app, pb_error *err)
{
    pb_deliver_options o;
    pb_deliver_options_from_config(app->cfg, app->db, app->vault, &o);
    int rc = pb_deliver_new(&o, &app->deliver, err);
    if (rc || !app->srv) return rc;
    const pb_route routes[] = {
        {"GET", "/admin/v1/hooks", SCOPE, 0, h_list, app},
        {"POST", "/admin/v1/hooks", SCOPE, 0, h_create, app},
        {"GET", "/admin/v1/hooks/{id}", SCOPE, 0, h_get, app},
        {"PATCH", "/admin/v1/hooks/{id}", SCOPE, 0, h_patch, app},
        {"DELETE", "/admin/v1/hooks/{id}", SCOPE, PB_ROUTE_RAW_BODY, h_delete, app},
        {"POST", "/admin/v1/hooks/{id}/disable", SCOPE, PB_ROUTE_RAW_BODY, h_disable, app},
        {"POST", "/admin/v1/hooks/{id}/rotate-secret", SCOPE, PB_ROUTE_RAW_BODY, h_rotate, app},
        {"POST", "/admin/v1/hooks/{id}/test", SCOPE, PB_ROUTE_RAW_BODY, h_test, app},
        {"GET", "/admin/v1/hooks/{id}/log", SCOPE, 0, h_log, app},
        {"GET", "/admin/v1/hooks/{id}/messages", SCOPE, 0, h_messages, app},
        {"POST", "/admin/v1/hooks/{id}/replay", SCOPE, 0, h_replay, app},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (pb_server_route(app->srv, &routes[i])) return pb_error_set(err, PB_EINTERNAL, "cannot register %s", routes[i].pattern);
    return 0;
}

static int mod_start(pb_app *app, pb_error *err)
{
    return app->deliver ? pb_deliver_start(app->deliver, err) : 0;
}

static void mod_stop(pb_app *app)
{
    if (app->deliver) pb_deliver_stop(app->deliver);
}

static void mod_free(pb_app *app)
{
    pb_deliver_free(app->deliver);
    app->deliver = NULL;
}

const pb_module pb_module_deliver = {"deliver", mod_init, mod_start, mod_stop, mod_free};
