/* target: local (in-process) and upstream (HTTP + governor) Plane API targets. See target.h. */
#include "populate/target.h"

#include "app/app.h"
#include "auth/apikey.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "http/client.h"
#include "http/server.h"
#include "store/auth_store.h"
#include "store/mirror_store.h"
#include "sync/governor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POP_MAX_MODULES 16
#define POP_RETRIES 5

struct pb_pop_target {
    int local;
    pb_db *db;
    char slug[PB_SLUG_MAX];
    char gate_slug[PB_SLUG_MAX];
    char name[512];
    char source[64];
    char actor[PB_EMAIL_MAX];
    pb_gate_kind kind;
    pb_pop_target_stats st;
    /* local */
    pb_app app;
    pb_server *srv;
    const pb_module *inited[POP_MAX_MODULES];
    int ninited;
    char key[PB_KEY_LEN + 1];
    char key_id[PB_ID_MAX];
    /* remote */
    pb_http_client *http;
    pb_gov *gov;
    char base[512];
    char *api_key;
};

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void init_common(pb_pop_target *t, pb_db *db, const char *slug)
{
    t->db = db;
    pb_strlcpy(t->slug, slug, sizeof t->slug);
    pb_strlcpy(t->gate_slug, slug, sizeof t->gate_slug);
    pb_strlcpy(t->source, "populate", sizeof t->source);
    t->kind = PB_GATE_OPERATOR;
}

int pb_pop_target_local(pb_db *db, const pb_config *cfg, const char *slug, const char *actor_email,
                        pb_pop_target **out, pb_error *err)
{
    *out = NULL;
    pb_pop_target *t = calloc(1, sizeof *t);
    if (!t) return pb_error_set(err, PB_ENOMEM, "out of memory");
    init_common(t, db, slug);
    t->local = 1;
    pb_strlcpy(t->name, "local", sizeof t->name);
    int rc = 0;
    pb_workspace_row ws;
    rc = pb_as_workspace_get(db, slug, &ws, err);
    if (rc) {
        if (rc == PB_ENOTFOUND) pb_error_set(err, rc, "unknown workspace '%s'", slug);
        goto fail;
    }
    /* the acting admin */
    char email[PB_EMAIL_MAX] = "";
    if (actor_email && *actor_email) {
        pb_strlcpy(email, actor_email, sizeof email);
    } else {
        pb_member_row *m = NULL;
        size_t n = 0;
        rc = pb_as_member_list(db, slug, &m, &n, err);
        if (rc) goto fail;
        for (size_t i = 0; i < n && !email[0]; i++)
            if (m[i].role == PB_ROLE_ADMIN) pb_strlcpy(email, m[i].user.email, sizeof email);
        free(m);
        if (!email[0]) {
            rc = pb_error_set(err, PB_ESTATE,
                              "workspace '%s' has no admin member to act as (create one with `planebridge user`)",
                              slug);
            goto fail;
        }
    }
    pb_strlcpy(t->actor, email, sizeof t->actor);

    pb_server_options so = {.listen = "127.0.0.1:0", .threads = 1, .max_body = (size_t)4 << 20};
    if (cfg && cfg->max_body > (int64_t)so.max_body) so.max_body = (size_t)cfg->max_body;
    rc = pb_server_new(&so, &t->srv, err);
    if (rc) goto fail;
    t->app.cfg = cfg;
    t->app.db = db;
    t->app.srv = t->srv;
    /* Only what serves the API: auth (hooks, keys) and the Plane API routes. */
    for (int i = 0; pb_modules[i] && t->ninited < POP_MAX_MODULES; i++) {
        const pb_module *m = pb_modules[i];
        if (strcmp(m->name, "auth") != 0 && strcmp(m->name, "api") != 0) continue;
        if (m->init) {
            rc = m->init(&t->app, err);
            if (rc) goto fail;
        }
        t->inited[t->ninited++] = m;
    }
    pb_key_spec spec = {.user_email = email,
                        .scopes = "*",
                        .workspace = slug,
                        .expires_at = pb_now_us() + (int64_t)6 * 3600 * 1000000,
                        .rate_limit = 1000000,
                        .name = "populate (temporary, in-process)"};
    pb_key_row row;
    rc = pb_apikey_create(db, &spec, t->key, sizeof t->key, &row, err);
    if (rc) goto fail;
    pb_redact_register(t->key);
    pb_strlcpy(t->key_id, row.id, sizeof t->key_id);
    *out = t;
    return 0;
fail:
    pb_pop_target_free(t);
    return rc;
}

int pb_pop_target_remote(pb_db *db, const char *base_url, const char *slug, const char *gate_slug,
                         const char *api_key, pb_pop_target **out, pb_error *err)
{
    *out = NULL;
    if (!base_url || !api_key || !*api_key) return pb_error_set(err, PB_EINVAL, "upstream URL and API key required");
    pb_pop_target *t = calloc(1, sizeof *t);
    if (!t) return pb_error_set(err, PB_ENOMEM, "out of memory");
    init_common(t, db, slug);
    if (gate_slug) pb_strlcpy(t->gate_slug, gate_slug, sizeof t->gate_slug);
    pb_strlcpy(t->base, base_url, sizeof t->base);
    size_t bl = strlen(t->base);
    while (bl && t->base[bl - 1] == '/') t->base[--bl] = 0;
    pb_strlcpy(t->name, t->base, sizeof t->name);
    t->api_key = strdup(api_key);
    int rc = 0;
    if (!t->api_key) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto fail;
    }
    pb_redact_register(api_key);
    rc = pb_http_client_new(NULL, &t->http, err);
    if (rc) goto fail;
    /* the governor key identifies upstream + credential; the governor keeps only a hash */
    pb_buf gk;
    pb_buf_init(&gk, 4096);
    pb_buf_printf(&gk, "%s|%s", t->base, api_key);
    t->gov = pb_gov_get(pb_buf_cstr(&gk), db);
    if (gk.data) memset(gk.data, 0, gk.cap);
    pb_buf_free(&gk);
    if (!t->gov) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto fail;
    }
    *out = t;
    return 0;
fail:
    pb_pop_target_free(t);
    return rc;
}

void pb_pop_target_free(pb_pop_target *t)
{
    if (!t) return;
    if (t->key_id[0]) pb_as_key_revoke(t->db, t->key_id, pb_now_us(), NULL);
    for (int i = t->ninited - 1; i >= 0; i--)
        if (t->inited[i]->free) t->inited[i]->free(&t->app);
    pb_server_free(t->srv);
    pb_http_client_free(t->http);
    pb_gov_release(t->gov);
    if (t->api_key) {
        memset(t->api_key, 0, strlen(t->api_key)); /* credentials do not outlive the target */
        free(t->api_key);
    }
    memset(t->key, 0, sizeof t->key);
    free(t);
}

void pb_pop_target_set_gate(pb_pop_target *t, const char *source, pb_gate_kind kind, const char *actor)
{
    if (source) pb_strlcpy(t->source, source, sizeof t->source);
    t->kind = kind;
    if (actor) pb_strlcpy(t->actor, actor, sizeof t->actor);
}

const char *pb_pop_target_name(const pb_pop_target *t)
{
    return t->name;
}

const char *pb_pop_target_slug(const pb_pop_target *t)
{
    return t->slug;
}

void pb_pop_target_stats_get(const pb_pop_target *t, pb_pop_target_stats *out)
{
    *out = t->st;
}

static cJSON *parse_body(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    if (!n) return NULL;
    return cJSON_ParseWithLength(s, n);
}

static int call_local(pb_pop_target *t, const char *method, const char *url, const char *body, size_t blen,
                      int *status, cJSON **json, pb_error *err)
{
    const char *hdrs[] = {"X-Api-Key", t->key, "Content-Type", "application/json", "User-Agent",
                          "planebridge-populate", NULL};
    pb_buf out;
    pb_buf_init(&out, (size_t)64 << 20);
    int st = pb_server_handle_raw(t->srv, method, url, hdrs, body, blen, &out);
    if (st < 0) {
        pb_buf_free(&out);
        return pb_error_set(err, st, "in-process request failed: %s", pb_strerror(st));
    }
    *status = st;
    const char *txt = pb_buf_cstr(&out);
    const char *sep = strstr(txt, "\r\n\r\n");
    if (json && sep) *json = parse_body(sep + 4, out.len - (size_t)(sep + 4 - txt));
    pb_buf_free(&out);
    return 0;
}

static int hdr_int(const pb_http_response *r, const char *name, int dflt)
{
    char v[32];
    int64_t x = 0;
    if (!pb_http_response_header(r, name, v, sizeof v)) return dflt;
    if (pb_parse_i64(v, -1, 1000000000000LL, &x)) return dflt;
    return x > 2000000000LL ? 2000000000 : (int)x;
}

static int call_remote(pb_pop_target *t, const char *method, const char *url, const char *body, size_t blen,
                       int *status, cJSON **json, pb_error *err)
{
    pb_http_header h[] = {{"X-Api-Key", t->api_key}, {"Content-Type", "application/json"},
                          {"Accept", "application/json"}};
    pb_buf full;
    pb_buf_init(&full, 16384);
    pb_buf_printf(&full, "%s%s", t->base, url);
    int rc = 0;
    int64_t backoff = 200;
    for (int attempt = 0;; attempt++) {
        if (pb_gov_acquire(t->gov, 1, NULL) < 1) {
            rc = pb_error_set(err, PB_ESTATE, "stopped");
            break;
        }
        pb_http_request rq = {.method = method,
                              .url = pb_buf_cstr(&full),
                              .headers = h,
                              .nheaders = 3,
                              .body = body,
                              .body_len = blen,
                              .timeout_ms = 30000,
                              .max_response = (size_t)32 << 20};
        pb_http_response rs;
        pb_http_response_init(&rs);
        pb_http_do(t->http, &rq, &rs);
        int is_write = strcmp(method, "GET") != 0;
        if (is_write) t->st.writes++;
        else t->st.reads++;
        if (attempt) t->st.retries++;
        int ra = hdr_int(&rs, "Retry-After", 0);
        pb_gov_done(t->gov, rs.rc ? 0 : rs.status, hdr_int(&rs, "X-RateLimit-Remaining", -1),
                    hdr_int(&rs, "X-RateLimit-Limit", -1), hdr_int(&rs, "X-RateLimit-Reset", 0), ra);
        if (rs.status == 429) t->st.throttled++;
        int retry = rs.rc != 0 || rs.status == 429 || rs.status >= 500;
        if (retry && attempt < POP_RETRIES) {
            pb_http_response_free(&rs);
            if (rs.status != 429) {
                sleep_ms(backoff);
                backoff *= 2;
            }
            continue;
        }
        if (rs.rc) {
            rc = pb_error_set(err, rs.rc, "%s %s: %s", method, url, rs.error[0] ? rs.error : pb_strerror(rs.rc));
        } else {
            *status = rs.status;
            if (json) *json = parse_body(pb_buf_cstr(&rs.body), rs.body.len);
        }
        pb_http_response_free(&rs);
        break;
    }
    pb_buf_free(&full);
    return rc;
}

int pb_pop_target_gate(pb_pop_target *t, const char *action, pb_error *err)
{
    pb_gate_req g = {t->gate_slug, t->source, action, t->name, t->actor[0] ? t->actor : NULL, t->kind};
    int rc = pb_gate_check(t->db, &g, err);
    if (rc == PB_EFORBIDDEN) t->st.refused++;
    return rc;
}

/* Echo suppression: remembers that planebridge itself wrote this object version upstream, so
 * the upstream's webhook echo of the write updates the mirror without emitting an event
 * (ingest/apply.h step 6). ans: the upstream's answer (the object with id and updated_at).
 * Best effort: a failure only costs a duplicate event later, never the write. */
static void note_self_write(pb_pop_target *t, const cJSON *ans)
{
    if (!cJSON_IsObject(ans)) return;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ans, "id");
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(ans, "updated_at");
    int64_t updated_at = 0;
    if (!cJSON_IsString(id) || !pb_uuid_valid(id->valuestring) || !cJSON_IsString(up) ||
        pb_time_parse(up->valuestring, &updated_at) != 0)
        return;
    pb_conn *c = NULL;
    pb_error e = {0};
    int rc = pb_db_acquire(t->db, &c, &e);
    if (!rc) rc = pb_mirror_self_write_note(c, id->valuestring, updated_at, pb_now_us(), &e);
    if (c) pb_db_release(t->db, c);
    if (rc)
        PB_LOG(PB_LOG_WARN, "populate: cannot record own upstream write", PB_LS("object_id", id->valuestring),
               PB_LS("error", e.msg));
}

int pb_pop_call(pb_pop_target *t, const char *method, const char *path, const cJSON *body, int *status, cJSON **json,
                pb_error *err)
{
    if (json) *json = NULL;
    *status = 0;
    int is_write = strcmp(method, "GET") != 0;
    char action[600];
    snprintf(action, sizeof action, "%s %s", method, path);
    pb_gate_req g = {t->gate_slug, t->source, action, t->name, t->actor[0] ? t->actor : NULL, t->kind};
    if (is_write) {
        int rc = pb_gate_check(t->db, &g, err);
        if (rc) {
            if (rc == PB_EFORBIDDEN) t->st.refused++;
            return rc;
        }
    }
    char *b = body ? cJSON_PrintUnformatted(body) : NULL;
    if (body && !b) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_buf url;
    pb_buf_init(&url, 16384);
    pb_buf_printf(&url, "/api/v1/workspaces/%s/%s", t->slug, path);
    int rc;
    if (t->local) {
        rc = call_local(t, method, pb_buf_cstr(&url), b, b ? strlen(b) : 0, status, json, err);
        if (is_write) t->st.writes++;
        else t->st.reads++;
    } else {
        /* a write's answer is always parsed: it carries the id and updated_at to remember */
        cJSON *ans = NULL;
        rc = call_remote(t, method, pb_buf_cstr(&url), b, b ? strlen(b) : 0, status,
                         json || is_write ? &ans : NULL, err);
        if (!rc && is_write && *status >= 200 && *status < 300) note_self_write(t, ans);
        if (json)
            *json = ans;
        else
            cJSON_Delete(ans);
    }
    if (is_write) {
        char detail[400] = "";
        if (rc) snprintf(detail, sizeof detail, "{\"error\":\"%s\"}", pb_strerror(rc));
        pb_gate_record(t->db, &g, rc ? 0 : *status, detail[0] ? detail : NULL, NULL);
    }
    pb_buf_free(&url);
    free(b);
    return rc;
}
