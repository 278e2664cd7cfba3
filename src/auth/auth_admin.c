/* auth_admin: planebridge's admin API for keys (all routes need keys:admin).
 *
 *   GET  /admin/v1/keys               keys the caller may manage
 *   POST /admin/v1/keys               {"user","scopes","workspace","project_id","expires","rate_limit","name"}
 *                                     -> 201 the key row plus "key" (shown once)
 *   GET  /admin/v1/keys/{id}
 *   POST /admin/v1/keys/{id}/revoke
 *   POST /admin/v1/keys/{id}/rotate   -> 201 the new row plus "key"; the old key works for the grace period
 *   GET  /admin/v1/keys/{id}/usage    last used, calls 1 h / 24 h, error rate, mean and p95 latency
 *
 * A caller manages its own user's keys and those of members of workspaces where it is an
 * admin (restricted to its key's workspace when the key is). A key never mints a key with
 * more than it holds itself: scopes are a subset of its own, and its workspace and project
 * restrictions carry over. */
#include "auth/apikey.h"
#include "auth/auth_internal.h"
#include "auth/oauth.h"
#include "core/log.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 8

static const char BODY_DENIED[] = "{\"detail\":\"You do not have permission to perform this action.\"}";

static int json_depth_ok(const char *s, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

static pb_auth *auth_of(void *ctx)
{
    return ((pb_app *)ctx)->auth;
}

static int can_manage(pb_auth *a, const pb_principal *p, const char *user_id)
{
    int yes = 0;
    if (strcmp(p->user_id, user_id) == 0) return 1;
    if (pb_as_user_admin_over(pb_auth_db(a), p->user_id, user_id, p->workspace, &yes, NULL)) return 0;
    return yes;
}

/* Loads {id} and checks the caller may see it; answers 404 itself otherwise (no existence
 * leak for keys the caller may not manage). */
static int load_managed(pb_req *req, pb_resp *resp, pb_auth *a, pb_key_row *k)
{
    const pb_principal *p = pb_auth_principal(req);
    const char *id = pb_req_param(req, "id");
    pb_error err = {0};
    if (!p) {
        pb_resp_json(resp, 401, "{\"detail\":\"Authentication credentials were not provided.\"}");
        return -1;
    }
    int rc = id && pb_uuid_valid(id) ? pb_as_key_get(pb_auth_db(a), id, k, &err) : PB_ENOTFOUND;
    if (rc == 0 && !can_manage(a, p, k->user_id)) rc = PB_ENOTFOUND;
    if (rc == PB_ENOTFOUND) {
        pb_resp_error(resp, 404, "detail", "Not found.");
        return -1;
    }
    if (rc) {
        pb_resp_error(resp, 500, "detail", "%s", pb_strerror(rc));
        return -1;
    }
    return 0;
}

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_auth *a = auth_of(ctx);
    const pb_principal *p = pb_auth_principal(req);
    pb_key_row *rows = NULL;
    size_t n = 0;
    pb_error err = {0};
    if (!p) return PB_EAUTH;
    int rc = pb_as_key_list(pb_auth_db(a), NULL, p->user_id, &rows, &n, &err);
    if (rc) return rc;
    pb_buf *b = pb_resp_body(resp);
    int64_t now = pb_now_us();
    pb_buf_puts(b, "{\"results\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (p->workspace[0] && !can_manage(a, p, rows[i].user_id)) continue;
        if (!first) pb_buf_putc(b, ',');
        pb_apikey_row_json(b, &rows[i], now);
        first = 0;
    }
    pb_buf_puts(b, "]}");
    free(rows);
    pb_resp_status(resp, 200);
    return 0;
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_key_row k;
    if (load_managed(req, resp, auth_of(ctx), &k)) return 0;
    pb_apikey_row_json(pb_resp_body(resp), &k, pb_now_us());
    pb_resp_status(resp, 200);
    return 0;
}

static void answer_new_key(pb_resp *resp, const pb_key_row *k, const char *secret)
{
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"key\":");
    pb_buf_json_str(b, secret);
    pb_buf_puts(b, ",\"api_key\":");
    pb_apikey_row_json(b, k, pb_now_us());
    pb_buf_putc(b, '}');
    pb_resp_status(resp, 201);
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_auth *a = auth_of(ctx);
    const pb_principal *p = pb_auth_principal(req);
    size_t blen = 0;
    const char *body = pb_req_body(req, &blen);
    pb_error err = {0};
    char scopes[PB_SCOPES_TEXT_MAX] = "";
    char key[PB_KEY_LEN + 1];
    pb_key_row row;
    cJSON *j = NULL;
    int rc = 0;
    if (!p) return PB_EAUTH;
    if (!json_depth_ok(body, blen, JSON_MAX_DEPTH) || !(j = cJSON_ParseWithLength(body, blen)) || !cJSON_IsObject(j)) {
        pb_resp_error(resp, 400, "error", "the body must be a JSON object");
        goto out;
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scopes");
    if (cJSON_IsString(sc)) {
        pb_strlcpy(scopes, sc->valuestring, sizeof scopes);
    } else if (cJSON_IsArray(sc)) {
        const cJSON *it;
        size_t used = 0;
        cJSON_ArrayForEach(it, sc)
        {
            if (!cJSON_IsString(it) || used + strlen(it->valuestring) + 2 >= sizeof scopes) {
                pb_resp_error(resp, 400, "error", "scopes must be a list of scope names");
                goto out;
            }
            if (used) scopes[used++] = ',';
            used += pb_strlcpy(scopes + used, it->valuestring, sizeof scopes - used);
        }
    }
    pb_scopes want = 0;
    const char *bad = NULL;
    if (pb_scope_parse(scopes, &want, &bad)) {
        pb_resp_error(resp, 400, "error", "unknown or missing scope '%s'", bad ? bad : "");
        goto out;
    }
    if (want & ~p->scopes) {
        char missing[PB_SCOPES_TEXT_MAX];
        pb_scope_format(want & ~p->scopes, missing, sizeof missing);
        pb_resp_error(resp, 403, "detail", "a key cannot grant scopes it does not hold: %s", missing);
        goto out;
    }
    const char *user = jstr(j, "user");
    const char *ws = jstr(j, "workspace");
    const char *project = jstr(j, "project_id");
    const char *expires = jstr(j, "expires");
    const char *name = jstr(j, "name");
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(j, "rate_limit");
    if (!user) user = p->user_email;
    if (p->workspace[0]) {
        if (ws && strcmp(ws, p->workspace) != 0) {
            pb_resp_json(resp, 403, BODY_DENIED);
            goto out;
        }
        ws = p->workspace;
    }
    if (p->project_id[0]) {
        if (project && strcmp(project, p->project_id) != 0) {
            pb_resp_json(resp, 403, BODY_DENIED);
            goto out;
        }
        project = p->project_id;
    }
    pb_user_row target;
    if (pb_as_user_get_by_email(pb_auth_db(a), user, &target, &err) || !can_manage(a, p, target.id)) {
        pb_resp_json(resp, 403, BODY_DENIED);
        goto out;
    }
    pb_key_spec spec = {.user_email = user, .scopes = scopes, .workspace = ws, .project_id = project, .name = name};
    if (expires && pb_apikey_parse_expiry(expires, pb_now_us(), &spec.expires_at)) {
        pb_resp_error(resp, 400, "error", "expires must be an ISO-8601 time or a duration like 30d");
        goto out;
    }
    if (rl && !cJSON_IsNull(rl)) {
        if (!cJSON_IsNumber(rl) || rl->valuedouble < 1 || rl->valuedouble > 1000000) {
            pb_resp_error(resp, 400, "error", "rate_limit must be between 1 and 1000000");
            goto out;
        }
        spec.rate_limit = (int)rl->valuedouble;
    }
    rc = pb_apikey_create(pb_auth_db(a), &spec, key, sizeof key, &row, &err);
    if (rc) {
        int st = rc == PB_EFORBIDDEN ? 403 : rc == PB_EINVAL || rc == PB_ENOTFOUND ? 400 : pb_err_http_status(rc);
        pb_resp_error(resp, st, "error", "%s", err.msg);
        rc = 0;
        goto out;
    }
    pb_auth_keys_changed(a);
    PB_LOG(PB_LOG_INFO, "api key created", PB_LS("key_id", row.id), PB_LS("prefix", row.prefix),
           PB_LS("user", row.user_email), PB_LS("by_key", p->key_id));
    answer_new_key(resp, &row, key);
out:
    memset(key, 0, sizeof key);
    cJSON_Delete(j);
    return rc;
}

static int h_revoke(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_auth *a = auth_of(ctx);
    pb_key_row k;
    pb_error err = {0};
    if (load_managed(req, resp, a, &k)) return 0;
    int rc = pb_as_key_revoke(pb_auth_db(a), k.id, pb_now_us(), &err);
    if (rc == PB_ESTATE) {
        pb_resp_error(resp, 409, "error", "%s", err.msg);
        return 0;
    }
    if (rc) return rc;
    pb_auth_invalidate(a, k.id);
    PB_LOG(PB_LOG_INFO, "api key revoked", PB_LS("key_id", k.id), PB_LS("by_key", pb_auth_principal(req)->key_id));
    pb_as_key_get(pb_auth_db(a), k.id, &k, NULL);
    pb_apikey_row_json(pb_resp_body(resp), &k, pb_now_us());
    pb_resp_status(resp, 200);
    return 0;
}

static int h_rotate(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_auth *a = auth_of(ctx);
    pb_key_row k, fresh;
    pb_error err = {0};
    char key[PB_KEY_LEN + 1];
    if (load_managed(req, resp, a, &k)) return 0;
    const pb_config *cfg = pb_auth_config(a);
    int64_t grace = cfg ? cfg->key_rotation_grace_s : 86400;
    int rc = pb_apikey_rotate(pb_auth_db(a), k.id, grace, key, sizeof key, &fresh, &err);
    if (rc == PB_ESTATE) {
        pb_resp_error(resp, 409, "error", "%s", err.msg);
        return 0;
    }
    if (rc) return rc;
    pb_auth_invalidate(a, k.id);
    pb_auth_keys_changed(a);
    PB_LOG(PB_LOG_INFO, "api key rotated", PB_LS("key_id", k.id), PB_LS("new_key_id", fresh.id),
           PB_LI("grace_s", grace));
    answer_new_key(resp, &fresh, key);
    memset(key, 0, sizeof key);
    return 0;
}

static int h_usage(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_auth *a = auth_of(ctx);
    pb_key_row k;
    pb_key_stats st;
    pb_error err = {0};
    char t[40] = "";
    if (load_managed(req, resp, a, &k)) return 0;
    pb_auth_flush(a); /* include this process's queued rows */
    int rc = pb_as_usage_stats(pb_auth_db(a), k.id, pb_now_us(), &st, &err);
    if (rc) return rc;
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"key_id\":");
    pb_buf_json_str(b, k.id);
    pb_buf_puts(b, ",\"last_used_at\":");
    if (st.last_used_at) {
        pb_time_iso(st.last_used_at, t, sizeof t);
        pb_buf_json_str(b, t);
    } else {
        pb_buf_puts(b, "null");
    }
    pb_buf_printf(b,
                  ",\"calls_1h\":%lld,\"calls_24h\":%lld,\"errors_24h\":%lld,\"error_rate_24h\":%.4f,"
                  "\"mean_latency_us_24h\":%.1f,\"p95_latency_us_24h\":%lld}",
                  (long long)st.calls_1h, (long long)st.calls_24h, (long long)st.errors_24h, st.error_rate_24h,
                  st.mean_latency_us_24h, (long long)st.p95_latency_us_24h);
    pb_resp_status(resp, 200);
    return 0;
}

/* ------------------------------------------------------------------ OAuth2 client routes
 *   POST /admin/v1/oauth/apps/{app}/workspaces/{slug}/authorize
 *   POST /admin/v1/oauth/{app}/authorize  {"workspace":SLUG} (or ?workspace=SLUG)
 *                                 keys:admin AND an admin of that workspace: 200
 *                                 {"authorize_url":...,"workspace":...,"expires_at":...}; the
 *                                 caller sends the user's browser there. Never public: the
 *                                 callback stores whatever account authorizes as the
 *                                 workspace's user token, so only the workspace's admins may
 *                                 start one (security review, issue 3).
 *   GET  /oauth/{app}/callback?code&state[&app_installation_id]   (public) exchanges the code;
 *                                 only a known, unexpired, unused state bound to a user who is
 *                                 still an admin of its workspace gets that far
 *   POST /admin/v1/oauth/apps                    register an app (secret goes to the vault)
 *   POST /admin/v1/oauth/apps/{app}/installations/{installation_id}/token   ensure a bot token
 *   POST /admin/v1/oauth/apps/{app}/workspaces/{slug}/token                 ensure a user token
 * Answers never contain a token or a client secret. */

/* Starts an authorization of `name` for workspace `slug` on behalf of the request's key. */
static int oauth_authorize(pb_app *app, pb_req *req, pb_resp *resp, const char *name, const char *slug)
{
    const pb_principal *p = pb_auth_principal(req);
    pb_oauth_app oa;
    pb_error err = {0};
    char *url = NULL, t[40];
    int64_t exp = 0;
    int role = 0;
    if (!p) {
        pb_resp_json(resp, 401, "{\"detail\":\"Authentication credentials were not provided.\"}");
        return 0;
    }
    if (!slug || !*slug) {
        pb_resp_error(resp, 400, "error", "workspace is required");
        return 0;
    }
    /* keys:admin (held, allowed in the workspace, within the role's ceiling), and the user must
     * be an admin of exactly this workspace -- checked here again, not only by the hook. */
    if (pb_auth_require(app, req, resp, slug, NULL, "keys:admin")) return 0;
    if (pb_auth_member_role(app, p, slug, &role) || role != PB_ROLE_ADMIN) {
        pb_resp_json(resp, 403, BODY_DENIED);
        return 0;
    }
    if (pb_oauth_app_load(app->vault, name, &oa, &err)) {
        pb_resp_error(resp, 404, "error", "unknown OAuth app");
        return 0;
    }
    int rc = pb_oauth_begin(app->db, &oa, slug, p->user_id, &url, &exp, &err);
    memset(&oa, 0, sizeof oa);
    if (rc) {
        pb_resp_error(resp, rc == PB_EINVAL ? 400 : 500, "error", "%s", err.msg);
        return 0;
    }
    PB_LOG(PB_LOG_INFO, "oauth authorization started", PB_LS("app", name), PB_LS("workspace", slug),
           PB_LS("by_key", p->key_id));
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"authorize_url\":");
    pb_buf_json_str(b, url);
    pb_buf_puts(b, ",\"workspace\":");
    pb_buf_json_str(b, slug);
    pb_time_iso(exp, t, sizeof t);
    pb_buf_puts(b, ",\"expires_at\":");
    pb_buf_json_str(b, t);
    pb_buf_putc(b, '}');
    pb_resp_header(resp, "Cache-Control", "no-store");
    pb_resp_status(resp, 200);
    free(url);
    return 0;
}

static int h_oauth_authorize_ws(pb_req *req, pb_resp *resp, void *ctx)
{
    return oauth_authorize(ctx, req, resp, pb_req_param(req, "app"), pb_req_param(req, "slug"));
}

static int h_oauth_authorize(pb_req *req, pb_resp *resp, void *ctx)
{
    size_t blen = 0;
    const char *body = pb_req_body(req, &blen);
    const char *slug = pb_req_query(req, "workspace");
    char ws[PB_SLUG_MAX] = "";
    if (!slug && body && blen) {
        cJSON *j = NULL;
        if (!json_depth_ok(body, blen, JSON_MAX_DEPTH) || !(j = cJSON_ParseWithLength(body, blen)) ||
            !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            pb_resp_error(resp, 400, "error", "the body must be a JSON object");
            return 0;
        }
        const char *v = jstr(j, "workspace");
        if (v && strlen(v) < sizeof ws) pb_strlcpy(ws, v, sizeof ws);
        cJSON_Delete(j);
        slug = ws;
    }
    return oauth_authorize(ctx, req, resp, pb_req_param(req, "app"), slug);
}

static int h_oauth_callback(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_app *app = ctx;
    pb_error err = {0};
    char ws[PB_SLUG_MAX] = "";
    const char *oerr = pb_req_query(req, "error");
    if (oerr) {
        pb_resp_error(resp, 400, "error", "authorization refused: %.64s", oerr);
        return 0;
    }
    int rc = pb_oauth_callback(app->db, app->vault, pb_req_param(req, "app"), pb_req_query(req, "state"),
                               pb_req_query(req, "code"), pb_req_query(req, "app_installation_id"), ws, &err);
    if (rc == PB_ENOTFOUND || rc == PB_EEXPIRED) {
        pb_resp_error(resp, 400, "error", "invalid or expired state");
        return 0;
    }
    if (rc == PB_EAUTH) {
        pb_resp_json(resp, 403, BODY_DENIED);
        return 0;
    }
    if (rc) {
        PB_LOG(PB_LOG_WARN, "oauth callback failed", PB_LS("error", err.msg));
        pb_resp_error(resp, rc == PB_EINVAL ? 400 : 502, "error", "%s", err.msg);
        return 0;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"installed\":true,\"workspace\":");
    pb_buf_json_str(b, ws);
    pb_buf_putc(b, '}');
    pb_resp_status(resp, 200);
    return 0;
}

static int h_oauth_app_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_app *app = ctx;
    size_t blen = 0;
    const char *body = pb_req_body(req, &blen);
    pb_oauth_app oa;
    pb_error err = {0};
    cJSON *j = NULL;
    memset(&oa, 0, sizeof oa);
    if (!json_depth_ok(body, blen, JSON_MAX_DEPTH) || !(j = cJSON_ParseWithLength(body, blen)) || !cJSON_IsObject(j)) {
        pb_resp_error(resp, 400, "error", "the body must be a JSON object");
        goto out;
    }
    static const struct {
        const char *k;
        size_t off, n;
    } f[] = {
        {"name", offsetof(pb_oauth_app, name), sizeof oa.name},
        {"client_id", offsetof(pb_oauth_app, client_id), sizeof oa.client_id},
        {"client_secret", offsetof(pb_oauth_app, client_secret), sizeof oa.client_secret},
        {"authorize_url", offsetof(pb_oauth_app, authorize_url), sizeof oa.authorize_url},
        {"token_url", offsetof(pb_oauth_app, token_url), sizeof oa.token_url},
        {"redirect_uri", offsetof(pb_oauth_app, redirect_uri), sizeof oa.redirect_uri},
        {"scope", offsetof(pb_oauth_app, scope), sizeof oa.scope},
        {"auth_method", offsetof(pb_oauth_app, auth_method), sizeof oa.auth_method},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *v = jstr(j, f[i].k);
        if (v && strlen(v) >= f[i].n) {
            pb_resp_error(resp, 400, "error", "%s is too long", f[i].k);
            goto out;
        }
        if (v) pb_strlcpy((char *)&oa + f[i].off, v, f[i].n);
    }
    if (oa.client_secret[0]) pb_redact_register(oa.client_secret);
    {
        /* Apps are shared by every workspace, and keys:admin is held by the admin of any one
         * workspace: overwriting an app (its token_url in particular) would send the refresh
         * tokens of the other workspaces to a host of the caller's choosing. Existing apps
         * are therefore immutable here. */
        pb_oauth_app existing;
        int exists = pb_oauth_app_load(app->vault, oa.name, &existing, NULL) == 0;
        memset(&existing, 0, sizeof existing);
        if (exists) {
            pb_resp_error(resp, 409, "error", "an OAuth app named '%s' already exists", oa.name);
            goto out;
        }
    }
    if (pb_oauth_app_save(app->vault, &oa, &err)) {
        pb_resp_error(resp, err.code == PB_EINVAL ? 400 : 500, "error", "%s", err.msg);
        goto out;
    }
    PB_LOG(PB_LOG_INFO, "oauth app registered", PB_LS("app", oa.name), PB_LS("by_key", pb_auth_principal(req)->key_id));
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"name\":");
    pb_buf_json_str(b, oa.name);
    pb_buf_puts(b, ",\"client_id\":");
    pb_buf_json_str(b, oa.client_id);
    pb_buf_puts(b, ",\"redirect_uri\":");
    pb_buf_json_str(b, oa.redirect_uri);
    pb_buf_putc(b, '}');
    pb_resp_status(resp, 201);
out:
    memset(&oa, 0, sizeof oa);
    if (j) {
        cJSON *it;
        cJSON_ArrayForEach(it, j) if (cJSON_IsString(it)) memset(it->valuestring, 0, strlen(it->valuestring));
    }
    cJSON_Delete(j);
    return 0;
}

static void answer_token_info(pb_resp *resp, const char *vault_name, int64_t expires_at)
{
    char t[40];
    pb_buf *b = pb_resp_body(resp);
    pb_buf_puts(b, "{\"vault_name\":");
    pb_buf_json_str(b, vault_name);
    pb_buf_puts(b, ",\"expires_at\":");
    if (expires_at) {
        pb_time_iso(expires_at, t, sizeof t);
        pb_buf_json_str(b, t);
    } else {
        pb_buf_puts(b, "null");
    }
    pb_buf_putc(b, '}');
    pb_resp_status(resp, 200);
}

static int token_error(pb_resp *resp, int rc, const pb_error *err)
{
    int st = rc == PB_ENOTFOUND ? 404 : rc == PB_EINVAL ? 400 : rc == PB_EEXPIRED ? 409 : 502;
    pb_resp_error(resp, st, "error", "%s", err->msg);
    return 0;
}

static int h_oauth_bot_token(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_app *app = ctx;
    pb_error err = {0};
    char *tok = NULL, vn[256];
    int64_t exp = 0;
    const char *name = pb_req_param(req, "app"), *inst = pb_req_param(req, "installation_id");
    int rc = pb_oauth_bot_token(app->db, app->vault, name, inst, pb_req_query(req, "workspace"), &tok, &exp, &err);
    pb_vault_secret_free(tok);
    if (rc) return token_error(resp, rc, &err);
    pb_oauth_bot_name(name, inst, vn, sizeof vn);
    answer_token_info(resp, vn, exp);
    return 0;
}

static int h_oauth_user_token(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_app *app = ctx;
    pb_error err = {0};
    char *tok = NULL, vn[256];
    int64_t exp = 0;
    const char *name = pb_req_param(req, "app"), *slug = pb_req_param(req, "slug");
    int rc = pb_oauth_user_token(app->db, app->vault, name, slug, &tok, &exp, &err);
    pb_vault_secret_free(tok);
    if (rc) return token_error(resp, rc, &err);
    pb_oauth_user_name(name, slug, vn, sizeof vn);
    answer_token_info(resp, vn, exp);
    return 0;
}

/* GET /bench/auth (only with PB_BENCH_ROUTES=1): the cheapest authenticated route, for
 * measuring what authentication + rate limiting + usage logging add (bench/auth). */
static int h_bench(pb_req *req, pb_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    pb_resp_json(resp, 200, "{\"ok\":true}");
    return 0;
}

int pb_auth_admin_register(pb_app *app, pb_error *err)
{
    const char *bench = getenv("PB_BENCH_ROUTES");
    if (bench && strcmp(bench, "1") == 0) {
        pb_route r = {"GET", "/bench/auth", "search:read", 0, h_bench, app};
        int rc = pb_server_route(app->srv, &r);
        if (rc) return pb_error_set(err, rc, "cannot register /bench/auth");
    }
    const pb_route routes[] = {
        {"GET", "/admin/v1/keys", "keys:admin", 0, h_list, app},
        {"POST", "/admin/v1/keys", "keys:admin", 0, h_create, app},
        {"GET", "/admin/v1/keys/{id}", "keys:admin", 0, h_get, app},
        {"POST", "/admin/v1/keys/{id}/revoke", "keys:admin", PB_ROUTE_RAW_BODY, h_revoke, app},
        {"POST", "/admin/v1/keys/{id}/rotate", "keys:admin", PB_ROUTE_RAW_BODY, h_rotate, app},
        {"GET", "/admin/v1/keys/{id}/usage", "keys:admin", 0, h_usage, app},
        {"POST", "/admin/v1/oauth/apps/{app}/workspaces/{slug}/authorize", "keys:admin", PB_ROUTE_RAW_BODY,
         h_oauth_authorize_ws, app},
        {"POST", "/admin/v1/oauth/{app}/authorize", "keys:admin", 0, h_oauth_authorize, app},
        {"GET", "/oauth/{app}/callback", NULL, PB_ROUTE_PUBLIC, h_oauth_callback, app},
        {"POST", "/admin/v1/oauth/apps", "keys:admin", 0, h_oauth_app_create, app},
        {"POST", "/admin/v1/oauth/apps/{app}/installations/{installation_id}/token", "keys:admin",
         PB_ROUTE_RAW_BODY, h_oauth_bot_token, app},
        {"POST", "/admin/v1/oauth/apps/{app}/workspaces/{slug}/token", "keys:admin", PB_ROUTE_RAW_BODY,
         h_oauth_user_token, app},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = pb_server_route(app->srv, &routes[i]);
        if (rc) return pb_error_set(err, rc, "cannot register %s %s", routes[i].method, routes[i].pattern);
    }
    return 0;
}
