/* api/common: shared helpers of the Plane-compatible API. See common.h. */
#include "api/common.h"
#include "store/sync_store.h"

#include "auth/auth.h"
#include "core/log.h"
#include "core/util.h"
#include "store/plane_store.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- error bodies */
void pb_api_not_found(pb_resp *resp)
{
    pb_resp_json(resp, 404, "{\"error\":\"The requested resource does not exist.\"}");
}

void pb_api_forbidden(pb_resp *resp)
{
    pb_resp_json(resp, 403, "{\"detail\":\"You do not have permission to perform this action.\"}");
}

void pb_api_internal(pb_resp *resp)
{
    pb_resp_json(resp, 500, "{\"error\":\"Something went wrong please try again later\"}");
}

void pb_api_error(pb_resp *resp, int status, const char *msg)
{
    pb_resp_error(resp, status, "error", "%s", msg);
}

void pb_api_detail(pb_resp *resp, int status, const char *msg)
{
    pb_resp_error(resp, status, "detail", "%s", msg);
}

static void send_owned(pb_resp *resp, int status, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        pb_api_internal(resp);
        return;
    }
    pb_resp_json(resp, status, s);
    free(s);
}

void pb_api_conflict(pb_resp *resp, const char *msg, const char *id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    if (id) cJSON_AddStringToObject(o, "id", id);
    send_owned(resp, 409, o);
}

void pb_api_field_error(pb_resp *resp, const char *field, const char *msg)
{
    pb_api_verr v = {0};
    pb_api_verr_add(&v, field, msg);
    pb_api_verr_send(&v, resp);
}

void pb_api_fail(pb_resp *resp, int code, const pb_error *err)
{
    switch (code) {
    case PB_ENOTFOUND: pb_api_not_found(resp); return;
    case PB_ECONFLICT: pb_api_error(resp, 400, "The payload is not valid"); return;
    case PB_EINVAL:
    case PB_EPARSE:
        if (err && err->field[0]) pb_api_field_error(resp, err->field, err->msg[0] ? err->msg : "Invalid value.");
        else pb_api_error(resp, 400, "Please provide valid detail");
        return;
    case PB_ETOOBIG:
        pb_resp_json(resp, 413, "{\"error\":\"REQUEST_BODY_TOO_LARGE\",\"detail\":\"Request body is too large\"}");
        return;
    case PB_EFORBIDDEN: pb_api_forbidden(resp); return;
    default: break;
    }
    PB_LOG(PB_LOG_ERROR, "api request failed", PB_LS("code", pb_err_name(code)),
           PB_LS("error", err && err->msg[0] ? err->msg : pb_strerror(code)));
    pb_api_internal(resp);
}

void pb_api_verr_add(pb_api_verr *v, const char *field, const char *msg)
{
    if (!v) return;
    if (!v->obj) v->obj = cJSON_CreateObject();
    if (!v->obj) return;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(v->obj, field);
    if (!arr) {
        arr = cJSON_CreateArray();
        cJSON_AddItemToObject(v->obj, field, arr);
    }
    if (arr) cJSON_AddItemToArray(arr, cJSON_CreateString(msg));
}

int pb_api_verr_any(const pb_api_verr *v)
{
    return v && v->obj && v->obj->child;
}

void pb_api_verr_send(pb_api_verr *v, pb_resp *resp)
{
    cJSON *o = v->obj;
    v->obj = NULL;
    if (!o) o = cJSON_CreateObject();
    send_owned(resp, 400, o);
}

void pb_api_verr_free(pb_api_verr *v)
{
    if (!v) return;
    cJSON_Delete(v->obj);
    v->obj = NULL;
}

/* ---------------------------------------------------------------- request context */
const char *pb_api_user_id(pb_req *req)
{
    const pb_principal *p = pb_auth_principal(req);
    return p ? p->user_id : "";
}

/* ---------------------------------------------------------------- project access cache */
#define ACCESS_SLOTS 1024
#define ACCESS_TTL_MS 1000

typedef struct access_slot {
    uint64_t hash;
    uint64_t gen;
    int64_t expires_ms;
    char user[64];
    char project[40];
    char slug[130];
    char identifier[16];
    int role;
    int archived;
} access_slot;

static access_slot access_cache[ACCESS_SLOTS];
static pthread_mutex_t access_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t access_gen = 1;

void pb_api_access_invalidate(void)
{
    __atomic_add_fetch(&access_gen, 1, __ATOMIC_RELAXED);
}

static uint64_t access_hash(const char *slug, const char *project, const char *user)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    const char *parts[3] = {slug, project, user};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int access_get(const char *slug, const char *project, const char *user, int *role, char identifier[16],
                      int *archived)
{
    uint64_t h = access_hash(slug, project, user);
    access_slot *s = &access_cache[h % ACCESS_SLOTS];
    int hit = 0;
    uint64_t gen = __atomic_load_n(&access_gen, __ATOMIC_RELAXED);
    pthread_mutex_lock(&access_mu);
    if (s->hash == h && s->gen == gen && s->expires_ms > pb_mono_ms() && strcmp(s->user, user) == 0 &&
        strcmp(s->project, project) == 0 && strcmp(s->slug, slug) == 0) {
        *role = s->role;
        *archived = s->archived;
        memcpy(identifier, s->identifier, 16);
        hit = 1;
    }
    pthread_mutex_unlock(&access_mu);
    return hit;
}

static void access_put(const char *slug, const char *project, const char *user, int role, const char identifier[16],
                       int archived, uint64_t gen)
{
    uint64_t h = access_hash(slug, project, user);
    access_slot *s = &access_cache[h % ACCESS_SLOTS];
    pthread_mutex_lock(&access_mu);
    s->hash = h;
    s->gen = gen;
    s->expires_ms = pb_mono_ms() + ACCESS_TTL_MS;
    pb_strlcpy(s->user, user, sizeof s->user);
    pb_strlcpy(s->project, project, sizeof s->project);
    pb_strlcpy(s->slug, slug, sizeof s->slug);
    memcpy(s->identifier, identifier, 16);
    s->role = role;
    s->archived = archived;
    pthread_mutex_unlock(&access_mu);
}

int pb_api_begin(pb_api_req *a, pb_req *req, pb_resp *resp, void *ctx, unsigned flags)
{
    memset(a, 0, sizeof *a);
    a->app = ctx;
    a->req = req;
    a->resp = resp;
    const pb_principal *p = pb_auth_principal(req);
    if (!p || !p->user_id[0]) {
        pb_api_detail(resp, 401, "Authentication credentials were not provided.");
        return 1;
    }
    pb_strlcpy(a->user_id, p->user_id, sizeof a->user_id);
    a->slug = pb_req_param(req, "slug");
    if (a->slug && (flags & (PB_API_WS | PB_API_PROJECT))) {
        int role = 0;
        int rc = pb_auth_member_role(a->app, p, a->slug, &role);
        if (rc) {
            if (rc == PB_EFORBIDDEN || rc == PB_ENOTFOUND) pb_api_forbidden(resp);
            else pb_api_fail(resp, rc, NULL);
            return 1;
        }
        a->ws_role = role;
        if (!(flags & PB_API_PROJECT)) {
            if ((flags & PB_API_ADMIN) && role < PB_ROLE_ADMIN) {
                pb_api_forbidden(resp);
                return 1;
            }
            if ((flags & PB_API_WRITE) && role < PB_ROLE_MEMBER) {
                pb_api_forbidden(resp);
                return 1;
            }
        }
    }
    const char *pid = NULL;
    if (flags & PB_API_PROJECT) {
        pid = pb_api_uuid_param(req, resp, "project_id");
        if (!pid) return 1;
        pb_strlcpy(a->project_id, pid, sizeof a->project_id);
    }
    if (!(flags & PB_API_NO_CONN)) {
        pb_error err = {0};
        int rc = pb_db_acquire(a->app->db, &a->conn, &err);
        if (rc) {
            a->conn = NULL;
            pb_api_fail(resp, rc, &err);
            return 1;
        }
        /* A mirrored workspace is read-only here: its rows belong to the upstream Plane, and a
         * local write would diverge from it (and be overwritten by the next sync). Writing
         * through to the upstream (policy explicit/enabled, via the writeback gate) is not
         * served by this API yet, so every write answers Plane's 403. Fails closed. */
        const char *m = pb_req_method(req);
        if (a->slug && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && pb_ss_is_mirror(a->conn, a->slug) != 0) {
            pb_api_forbidden(resp);
            pb_api_end(a);
            return 1;
        }
    }
    if (flags & PB_API_PROJECT) {
        pb_error err = {0};
        int exists = 0, role = 0, archived = 0;
        if (!a->conn) {
            pb_api_internal(resp);
            return 1;
        }
        const char *slug = a->slug ? a->slug : "";
        if (access_get(slug, pid, a->user_id, &role, a->project_identifier, &archived)) {
            exists = 1;
        } else {
            uint64_t gen = __atomic_load_n(&access_gen, __ATOMIC_RELAXED);
            int rc = pb_ps_project_access(a->conn, slug, pid, a->user_id, &exists, &role, a->project_identifier,
                                          &archived, &err);
            if (rc) {
                pb_api_fail(resp, rc, &err);
                pb_api_end(a);
                return 1;
            }
            if (exists && role > 0) access_put(slug, pid, a->user_id, role, a->project_identifier, archived, gen);
        }
        a->project_role = role;
        a->project_archived = archived;
        int need = (flags & PB_API_ADMIN) ? PB_ROLE_ADMIN : (flags & PB_API_WRITE) ? PB_ROLE_MEMBER : PB_ROLE_GUEST;
        if (!exists || role < need) {
            pb_api_forbidden(resp);
            pb_api_end(a);
            return 1;
        }
    }
    return 0;
}

void pb_api_end(pb_api_req *a)
{
    if (a && a->conn) {
        pb_db_release(a->app->db, a->conn);
        a->conn = NULL;
    }
}

const char *pb_api_ws_id(pb_api_req *a)
{
    if (!a->ws_id[0] && a->conn && a->slug) {
        if (pb_ps_workspace_id(a->conn, a->slug, a->ws_id, NULL)) a->ws_id[0] = '\0';
    }
    return a->ws_id;
}

/* ---------------------------------------------------------------- JSON input */
int pb_api_json_depth(const char *s, size_t n)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\') i++;
            else if (ch == '"') in_str = 0;
            continue;
        }
        if (ch == '"') in_str = 1;
        else if (ch == '{' || ch == '[') {
            if (++depth > max) max = depth;
        } else if (ch == '}' || ch == ']') {
            if (depth > 0) depth--;
        }
    }
    return max;
}

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
        else return 0;
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* RFC 8259 lexical rules cJSON does not enforce: no control characters inside strings, and
 * only space/tab/CR/LF between tokens (cJSON skips every byte <= 0x20, NUL included). */
static int json_lex_ok(const char *s, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (in_str) {
            if (ch < 0x20) return 0;
            if (ch == '\\') i++;
            else if (ch == '"') in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch < 0x20 && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
            return 0;
        }
    }
    return 1;
}

int pb_api_parse_json(const char *s, size_t n, cJSON **out, pb_error *err)
{
    *out = NULL;
    if (n > PB_API_JSON_MAX_BYTES) return pb_error_set(err, PB_ETOOBIG, "request body too large");
    if (pb_api_json_depth(s, n) > PB_API_JSON_MAX_DEPTH)
        return pb_error_set(err, PB_EDEPTH, "JSON parse error - nesting deeper than %d levels", PB_API_JSON_MAX_DEPTH);
    if (!utf8_ok((const unsigned char *)s, n)) return pb_error_set(err, PB_EPARSE, "JSON parse error - invalid UTF-8");
    if (!json_lex_ok(s, n)) return pb_error_set(err, PB_EPARSE, "JSON parse error - Invalid control character");
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!j) {
        size_t at = end && end >= s ? (size_t)(end - s) : 0;
        return pb_error_set(err, PB_EPARSE, "JSON parse error - Expecting value: (char %zu)", at);
    }
    /* Only whitespace may follow the value. */
    size_t at = end ? (size_t)(end - s) : n;
    for (size_t i = at; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\0') {
            cJSON_Delete(j);
            return pb_error_set(err, PB_EPARSE, "JSON parse error - Extra data: (char %zu)", i);
        }
    }
    *out = j;
    return 0;
}

static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsArray(j)) return "list";
    if (cJSON_IsString(j)) return "str";
    if (cJSON_IsNumber(j)) return (j->valuedouble == (double)(int64_t)j->valuedouble) ? "int" : "float";
    if (cJSON_IsBool(j)) return "bool";
    if (cJSON_IsNull(j)) return "NoneType";
    return "object";
}

int pb_api_parse_body(pb_req *req, pb_resp *resp, int allow_empty, cJSON **out)
{
    size_t len = 0;
    const char *body = pb_req_body(req, &len);
    *out = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (i == len) {
        if (allow_empty) {
            *out = cJSON_CreateObject();
            if (!*out) pb_api_internal(resp);
            return *out ? 0 : 1;
        }
        pb_api_field_error(resp, "non_field_errors", "No data provided");
        return 1;
    }
    pb_error err = {0};
    int rc = pb_api_parse_json(body, len, out, &err);
    if (rc == PB_ETOOBIG) {
        pb_resp_json(resp, 413, "{\"error\":\"REQUEST_BODY_TOO_LARGE\",\"detail\":\"Request body is too large\"}");
        return 1;
    }
    if (rc) {
        pb_api_detail(resp, 400, err.msg);
        return 1;
    }
    if (!cJSON_IsObject(*out)) {
        char msg[128];
        snprintf(msg, sizeof msg, "Invalid data. Expected a dictionary, but got %s.", json_type_name(*out));
        cJSON_Delete(*out);
        *out = NULL;
        pb_api_field_error(resp, "non_field_errors", msg);
        return 1;
    }
    return 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

int pb_api_get_str(const cJSON *body, const char *key, int nullable, int blank, size_t maxlen, const char **out,
                   pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    if (out) *out = NULL;
    if (!j) return 0;
    if (cJSON_IsNull(j)) {
        if (!nullable) pb_api_verr_add(v, key, "This field may not be null.");
        return 1;
    }
    if (!cJSON_IsString(j) || !j->valuestring) {
        pb_api_verr_add(v, key, "Not a valid string.");
        return 1;
    }
    if (!blank && j->valuestring[0] == '\0') {
        pb_api_verr_add(v, key, "This field may not be blank.");
        return 1;
    }
    if (maxlen && utf8_chars(j->valuestring) > maxlen) {
        char msg[96];
        snprintf(msg, sizeof msg, "Ensure this field has no more than %zu characters.", maxlen);
        pb_api_verr_add(v, key, msg);
        return 1;
    }
    if (out) *out = j->valuestring;
    return 1;
}

int pb_api_uuid_ok(const char *s)
{
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-') return 0;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int uuid_any_case(const char *s, char out[37])
{
    if (!s || !pb_uuid_valid(s) || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        out[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[36] = '\0';
    return 1;
}

int pb_api_get_uuid(const cJSON *body, const char *key, int nullable, char out[37], pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    out[0] = '\0';
    if (!j) return 0;
    if (cJSON_IsNull(j)) {
        if (!nullable) pb_api_verr_add(v, key, "This field may not be null.");
        return 1;
    }
    if (!cJSON_IsString(j)) {
        char msg[128];
        snprintf(msg, sizeof msg, "Incorrect type. Expected pk value, received %s.", json_type_name(j));
        pb_api_verr_add(v, key, msg);
        return 1;
    }
    if (!uuid_any_case(j->valuestring, out)) {
        pb_api_verr_add(v, key, "Must be a valid UUID.");
        out[0] = '\0';
    }
    return 1;
}

int pb_api_get_bool(const cJSON *body, const char *key, int *out, pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!j) return 0;
    if (cJSON_IsBool(j)) {
        *out = cJSON_IsTrue(j);
        return 1;
    }
    if (cJSON_IsNumber(j) && (j->valuedouble == 0 || j->valuedouble == 1)) {
        *out = j->valuedouble == 1;
        return 1;
    }
    if (cJSON_IsString(j)) {
        static const char *const t[] = {"true", "True", "TRUE", "1", "yes", "Yes", "on", "On", "y", "Y", NULL};
        static const char *const f[] = {"false", "False", "FALSE", "0", "no", "No", "off", "Off", "n", "N", NULL};
        for (int i = 0; t[i]; i++)
            if (strcmp(j->valuestring, t[i]) == 0) return (*out = 1), 1;
        for (int i = 0; f[i]; i++)
            if (strcmp(j->valuestring, f[i]) == 0) return (*out = 0), 1;
    }
    pb_api_verr_add(v, key, "Must be a valid boolean.");
    return 1;
}

int pb_api_get_int(const cJSON *body, const char *key, int64_t min, int64_t max, int64_t *out, pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!j) return 0;
    double d;
    if (cJSON_IsNumber(j)) {
        d = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        int64_t x;
        if (pb_parse_i64(j->valuestring, INT64_MIN, INT64_MAX, &x)) {
            pb_api_verr_add(v, key, "A valid integer is required.");
            return 1;
        }
        d = (double)x;
    } else {
        pb_api_verr_add(v, key, "A valid integer is required.");
        return 1;
    }
    if (!isfinite(d) || d != floor(d) || d > 9.0e15 || d < -9.0e15) {
        pb_api_verr_add(v, key, "A valid integer is required.");
        return 1;
    }
    int64_t x = (int64_t)d;
    char msg[96];
    if (x < min) {
        snprintf(msg, sizeof msg, "Ensure this value is greater than or equal to %lld.", (long long)min);
        pb_api_verr_add(v, key, msg);
        return 1;
    }
    if (x > max) {
        snprintf(msg, sizeof msg, "Ensure this value is less than or equal to %lld.", (long long)max);
        pb_api_verr_add(v, key, msg);
        return 1;
    }
    *out = x;
    return 1;
}

int pb_api_get_double(const cJSON *body, const char *key, double *out, pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!j) return 0;
    if (cJSON_IsNumber(j) && isfinite(j->valuedouble) && fabs(j->valuedouble) < 1e15) {
        *out = j->valuedouble;
        return 1;
    }
    if (cJSON_IsString(j)) {
        char *end = NULL;
        double d = strtod(j->valuestring, &end);
        if (end && end != j->valuestring && *end == '\0' && isfinite(d) && fabs(d) < 1e15) {
            *out = d;
            return 1;
        }
    }
    pb_api_verr_add(v, key, "A valid number is required.");
    return 1;
}

int pb_api_get_date(const cJSON *body, const char *key, int nullable, char out[11], pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    out[0] = '\0';
    if (!j) return 0;
    if (cJSON_IsNull(j)) {
        if (!nullable) pb_api_verr_add(v, key, "This field may not be null.");
        return 1;
    }
    if (cJSON_IsString(j) && strlen(j->valuestring) == 10 && pb_date_valid(j->valuestring) == 0) {
        memcpy(out, j->valuestring, 11);
        return 1;
    }
    /* DRF's DateField also accepts a datetime string and keeps its date part. */
    int64_t us;
    if (cJSON_IsString(j) && strlen(j->valuestring) > 10 && j->valuestring[10] == 'T' &&
        pb_time_parse(j->valuestring, &us) == 0) {
        memcpy(out, j->valuestring, 10);
        out[10] = '\0';
        if (pb_date_valid(out) == 0) return 1;
        out[0] = '\0';
    }
    pb_api_verr_add(v, key, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.");
    return 1;
}

int pb_api_get_uuid_list(const cJSON *body, const char *key, size_t max, char (**out)[37], size_t *n,
                         pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    *out = NULL;
    *n = 0;
    if (!j) return 0;
    if (!cJSON_IsArray(j)) {
        char msg[96];
        snprintf(msg, sizeof msg, "Expected a list of items but got type \"%s\".", json_type_name(j));
        pb_api_verr_add(v, key, msg);
        return 1;
    }
    int cnt = cJSON_GetArraySize(j);
    if ((size_t)cnt > max) {
        pb_api_verr_add(v, key, "Too many items.");
        return 1;
    }
    char(*ids)[37] = calloc(cnt > 0 ? (size_t)cnt : 1, sizeof *ids);
    if (!ids) {
        pb_api_verr_add(v, key, "Out of memory.");
        return 1;
    }
    size_t k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        char u[37];
        if (!cJSON_IsString(e)) {
            char msg[128];
            snprintf(msg, sizeof msg, "Incorrect type. Expected pk value, received %s.", json_type_name(e));
            pb_api_verr_add(v, key, msg);
            free(ids);
            return 1;
        }
        if (!uuid_any_case(e->valuestring, u)) {
            char msg[160];
            snprintf(msg, sizeof msg, "Invalid pk \"%.60s\" - object does not exist.", e->valuestring);
            pb_api_verr_add(v, key, msg);
            free(ids);
            return 1;
        }
        int dup = 0;
        for (size_t i = 0; i < k; i++)
            if (strcmp(ids[i], u) == 0) dup = 1;
        if (!dup) memcpy(ids[k++], u, 37);
    }
    *out = ids;
    *n = k;
    return 1;
}

/* ---------------------------------------------------------------- path params */
const char *pb_api_uuid_param(pb_req *req, pb_resp *resp, const char *name)
{
    const char *s = pb_req_param(req, name);
    if (!pb_api_uuid_ok(s)) {
        pb_api_detail(resp, 404, "Not found.");
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- pagination */
/* Python's int(): optional surrounding whitespace, optional sign, digits (underscores between
 * digits allowed). */
static int py_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= n) return PB_EPARSE;
    int64_t v = 0;
    int prev_digit = 0;
    for (; i < n; i++) {
        if (s[i] == '_' && prev_digit && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
            prev_digit = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') return PB_EPARSE;
        if (v > (INT64_MAX - 9) / 10) return PB_EPARSE;
        v = v * 10 + (s[i] - '0');
        prev_digit = 1;
    }
    *out = neg ? -v : v;
    return 0;
}

int pb_api_cursor_parse(const char *cursor, double *value, int64_t *page, int *is_prev)
{
    if (!cursor) return PB_EPARSE;
    const char *c1 = strchr(cursor, ':');
    if (!c1) return PB_EPARSE;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || strchr(c2 + 1, ':')) return PB_EPARSE;
    size_t n0 = (size_t)(c1 - cursor);
    char vbuf[64];
    if (n0 == 0 || n0 >= sizeof vbuf) return PB_EPARSE;
    memcpy(vbuf, cursor, n0);
    vbuf[n0] = '\0';
    if (memchr(vbuf, '.', n0)) {
        char *end = NULL;
        double d = strtod(vbuf, &end);
        while (end && (*end == ' ' || *end == '\t')) end++;
        if (!end || *end || !isfinite(d)) return PB_EPARSE;
        if (value) *value = d;
    } else {
        int64_t x;
        if (py_int(vbuf, n0, &x)) return PB_EPARSE;
        if (value) *value = (double)x;
    }
    int64_t pg, prev;
    if (py_int(c1 + 1, (size_t)(c2 - c1 - 1), &pg)) return PB_EPARSE;
    if (py_int(c2 + 1, strlen(c2 + 1), &prev)) return PB_EPARSE;
    if (page) *page = pg;
    if (is_prev) *is_prev = prev != 0;
    return 0;
}

int pb_api_page_parse(const char *per_page, const char *cursor, pb_api_page *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    int64_t pp = PB_API_PER_PAGE_DEFAULT;
    if (per_page) {
        if (py_int(per_page, strlen(per_page), &pp)) {
            snprintf(msg, msglen, "Invalid per_page parameter.");
            return PB_EINVAL;
        }
    }
    if (pp > PB_API_PER_PAGE_MAX) {
        snprintf(msg, msglen, "Invalid per_page value. Cannot exceed %d.", PB_API_PER_PAGE_MAX);
        return PB_EINVAL;
    }
    if (pp <= 0) { /* Plane divides by it (500); refuse clearly instead */
        snprintf(msg, msglen, "Invalid per_page parameter.");
        return PB_EINVAL;
    }
    int64_t page = 0;
    int is_prev = 0;
    if (cursor) {
        if (pb_api_cursor_parse(cursor, NULL, &page, &is_prev)) {
            snprintf(msg, msglen, "Invalid cursor parameter.");
            return PB_EINVAL;
        }
        if (page < 0) {
            snprintf(msg, msglen, "Error in parsing");
            return PB_EINVAL;
        }
        if (page > INT64_MAX / pp) {
            snprintf(msg, msglen, "Error in parsing");
            return PB_EINVAL;
        }
    }
    out->per_page = pp;
    out->page = page;
    out->is_prev = is_prev;
    out->offset = page * pp;
    return 0;
}

int pb_api_order_parse(const char *s, const pb_api_order_field *fields, size_t n, int *code, int *desc)
{
    if (!s || !*s) return 0;
    int d = s[0] == '-';
    if (d) s++;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].name, s) == 0) {
            *code = fields[i].code;
            *desc = d;
            return 0;
        }
    }
    return PB_EINVAL;
}

int pb_api_page_from_query(pb_req *req, pb_resp *resp, pb_api_page *out)
{
    char msg[128];
    if (pb_api_page_parse(pb_req_query(req, "per_page"), pb_req_query(req, "cursor"), out, msg, sizeof msg)) {
        pb_api_detail(resp, 400, msg);
        return 1;
    }
    return 0;
}

int64_t pb_api_page_count(const pb_api_page *pg, int64_t total)
{
    int64_t left = total - pg->offset;
    if (left <= 0) return 0;
    return left < pg->per_page ? left : pg->per_page;
}

int pb_api_envelope_begin(pb_buf *b, const pb_api_page *pg, int64_t total)
{
    int64_t count = pb_api_page_count(pg, total);
    int64_t pages = (total + pg->per_page - 1) / pg->per_page;
    int next = pg->offset + pg->per_page < total;
    int prev = pg->page > 0;
    return pb_buf_printf(b,
                         "{\"grouped_by\":null,\"sub_grouped_by\":null,\"total_count\":%lld,"
                         "\"next_cursor\":\"%lld:%lld:0\",\"prev_cursor\":\"%lld:%lld:1\","
                         "\"next_page_results\":%s,\"prev_page_results\":%s,\"count\":%lld,"
                         "\"total_pages\":%lld,\"total_results\":%lld,\"extra_stats\":null,\"results\":[",
                         (long long)total, (long long)pg->per_page, (long long)(pg->page + 1),
                         (long long)pg->per_page, (long long)(pg->page - 1), next ? "true" : "false",
                         prev ? "true" : "false", (long long)count, (long long)pages, (long long)total);
}

int pb_api_envelope_end(pb_buf *b)
{
    return pb_buf_puts(b, "]}");
}

/* ---------------------------------------------------------------- fields / expand */
void pb_api_fields_parse(const char *csv, pb_api_fields *out)
{
    out->n = 0;
    out->buf[0] = '\0';
    if (!csv || !*csv) return;
    pb_strlcpy(out->buf, csv, sizeof out->buf);
    char *p = out->buf;
    while (*p && out->n < PB_API_FIELDS_MAX) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        /* trim spaces (a '+' in a query decodes to a space) */
        while (*p == ' ') p++;
        size_t l = strlen(p);
        while (l > 0 && p[l - 1] == ' ') p[--l] = '\0';
        if (*p) out->names[out->n++] = p;
        if (!comma) break;
        p = comma + 1;
    }
}

int pb_api_fields_has(const pb_api_fields *f, const char *name)
{
    if (!f) return 0;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) return 1;
    return 0;
}

void pb_api_fields_apply(cJSON *obj, const pb_api_fields *f)
{
    if (!f || f->n == 0 || !cJSON_IsObject(obj)) return;
    cJSON *it = obj->child;
    while (it) {
        cJSON *next = it->next;
        if (!pb_api_fields_has(f, it->string)) cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
        it = next;
    }
}

void pb_api_fields_from_query(pb_req *req, pb_api_fields *fields, pb_api_fields *expand)
{
    if (fields) pb_api_fields_parse(pb_req_query(req, "fields"), fields);
    if (expand) pb_api_fields_parse(pb_req_query(req, "expand"), expand);
}

static cJSON *user_lite_json(pb_conn *c, const char *id)
{
    pb_ps_user u;
    if (!id || !*id || pb_ps_user_get(c, id, &u, NULL)) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", u.id);
    cJSON_AddStringToObject(o, "first_name", u.first_name);
    cJSON_AddStringToObject(o, "last_name", u.last_name);
    cJSON_AddStringToObject(o, "email", u.email);
    cJSON_AddStringToObject(o, "avatar", "");
    cJSON_AddNullToObject(o, "avatar_url");
    cJSON_AddStringToObject(o, "display_name", u.display_name);
    return o;
}

int pb_api_user_lite(pb_conn *c, const char *user_id, pb_buf *b, pb_error *err)
{
    cJSON *o = user_lite_json(c, user_id);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int rc = pb_buf_puts(b, s);
    free(s);
    return rc ? pb_error_set(err, rc, "response too large") : 0;
}

int pb_api_expand_users(pb_conn *c, cJSON *obj, const char *key, pb_error *err)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 0;
    if (cJSON_IsString(v)) {
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, user_lite_json(c, v->valuestring));
    } else if (cJSON_IsArray(v)) {
        cJSON *arr = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (cJSON_IsString(e)) cJSON_AddItemToArray(arr, user_lite_json(c, e->valuestring));
        }
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, arr);
    }
    (void)err;
    return 0;
}

/* ---------------------------------------------------------------- JSON output */
void pb_api_send_json(pb_resp *resp, int status, const cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    if (!s) {
        pb_api_internal(resp);
        return;
    }
    pb_resp_json(resp, status, s);
    free(s);
}

int pb_api_append_raw(pb_buf *b, const char *raw, const pb_api_fields *fields)
{
    if (!fields || fields->n == 0) return pb_buf_puts(b, raw);
    cJSON *o = cJSON_Parse(raw);
    if (!o) return PB_EPARSE;
    pb_api_fields_apply(o, fields);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return PB_ENOMEM;
    int rc = pb_buf_puts(b, s);
    free(s);
    return rc;
}

void pb_api_send_raw_page(pb_resp *resp, const pb_api_page *pg, int64_t total, char *const *raw, size_t n,
                          const pb_api_fields *fields)
{
    pb_buf *b = pb_resp_body(resp);
    pb_buf_reset(b);
    int rc = pb_api_envelope_begin(b, pg, total);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = pb_api_append_raw(b, raw[i], fields);
    }
    if (!rc) rc = pb_api_envelope_end(b);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    } else {
        pb_resp_status(resp, 200);
    }
}

int pb_api_begin_write(pb_api_req *a, pb_error *err)
{
    int rc = pb_conn_begin_write(a->conn, err);
    if (rc) pb_api_fail(a->resp, rc, err);
    return rc;
}

int pb_api_commit(pb_api_req *a, int rc, pb_error *err, const char *conflict_msg)
{
    if (!rc) rc = pb_conn_commit(a->conn, err);
    if (rc == PB_ECONFLICT && conflict_msg) pb_api_conflict(a->resp, conflict_msg, NULL);
    else if (rc) pb_api_fail(a->resp, rc, err);
    return rc;
}

int pb_api_load_item(pb_api_req *a, const char *item_type, const char *param, pb_ps_item *it)
{
    const char *id = pb_api_uuid_param(a->req, a->resp, param);
    if (!id) return 1;
    pb_error err = {0};
    int rc = pb_ps_item_get(a->conn, item_type, a->project_id, id, it, &err);
    if (rc) {
        pb_api_fail(a->resp, rc, &err);
        return 1;
    }
    return 0;
}

void pb_api_send_raw(pb_resp *resp, int status, const char *raw, const pb_api_fields *fields)
{
    pb_buf *b = pb_resp_body(resp);
    pb_buf_reset(b);
    if (pb_api_append_raw(b, raw, fields)) {
        pb_buf_reset(b);
        pb_api_internal(resp);
        return;
    }
    pb_resp_status(resp, status);
}

cJSON *pb_api_time_json(int64_t us)
{
    if (!us) return cJSON_CreateNull();
    char t[40];
    pb_time_iso(us, t, sizeof t);
    return cJSON_CreateString(t);
}

int64_t pb_api_now(void)
{
    static int64_t last;
    int64_t now = pb_now_us();
    int64_t prev = __atomic_load_n(&last, __ATOMIC_RELAXED);
    for (;;) {
        int64_t want = now > prev ? now : prev + 1;
        if (__atomic_compare_exchange_n(&last, &prev, want, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return want;
    }
}

/* ---------------------------------------------------------------- outbox and activity */
int pb_api_outbox(pb_conn *c, const char *type, const char *slug, const char *project_id, const char *object_id,
                  const cJSON *data, const cJSON *prev, pb_error *err)
{
    char eid[37];
    if (pb_uuid4(eid)) return pb_error_set(err, PB_EIO, "no randomness");
    int64_t now = pb_api_now();
    cJSON *o = cJSON_CreateObject();
    if (!o) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddItemToObject(o, "timestamp", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "data", data ? cJSON_Duplicate(data, 1) : cJSON_CreateObject());
    if (prev) cJSON_AddItemToObject(o, "previous_attributes", cJSON_Duplicate(prev, 1));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int rc = pb_ps_outbox_insert(c, eid, type, slug ? slug : "", project_id, object_id, now, s, err);
    free(s);
    return rc;
}

int pb_api_diff(const cJSON *before, const cJSON *after, const char *const *keys, cJSON *prev)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, after)
    {
        if (!it->string) continue;
        if (keys) {
            int found = 0;
            for (int i = 0; keys[i]; i++)
                if (strcmp(keys[i], it->string) == 0) found = 1;
            if (!found) continue;
        }
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(before, it->string);
        if (old && cJSON_Compare(old, it, 1)) continue;
        n++;
        if (prev) cJSON_AddItemToObject(prev, it->string, old ? cJSON_Duplicate(old, 1) : cJSON_CreateNull());
    }
    return n;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v) cJSON_AddStringToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

int pb_api_activity(pb_conn *c, const pb_api_req *a, const pb_api_activity_row *row, pb_error *err)
{
    char id[37];
    if (pb_uuid4(id)) return pb_error_set(err, PB_EIO, "no randomness");
    int64_t now = pb_api_now();
    const char *ws = a->ws_id[0] ? a->ws_id : NULL;
    char wsbuf[64] = "";
    if (!ws && a->slug && pb_ps_workspace_id(c, a->slug, wsbuf, NULL) == 0) ws = wsbuf;
    cJSON *o = cJSON_CreateObject();
    if (!o) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddItemToObject(o, "created_at", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "updated_at", pb_api_time_json(now));
    cJSON_AddNullToObject(o, "deleted_at");
    add_str_or_null(o, "verb", row->verb ? row->verb : "updated");
    add_str_or_null(o, "field", row->field);
    add_str_or_null(o, "old_value", row->old_value);
    add_str_or_null(o, "new_value", row->new_value);
    add_str_or_null(o, "comment", row->comment);
    cJSON_AddItemToObject(o, "attachments", cJSON_CreateArray());
    add_str_or_null(o, "old_identifier", row->old_identifier);
    add_str_or_null(o, "new_identifier", row->new_identifier);
    cJSON_AddNumberToObject(o, "epoch", (double)(now / 1000000));
    add_str_or_null(o, "created_by", a->user_id);
    add_str_or_null(o, "updated_by", a->user_id);
    add_str_or_null(o, "project", a->project_id[0] ? a->project_id : NULL);
    add_str_or_null(o, "workspace", ws);
    add_str_or_null(o, "issue", row->issue_id);
    add_str_or_null(o, "issue_comment", row->issue_comment);
    add_str_or_null(o, "actor", a->user_id);
    char *raw = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, id, sizeof it.id);
    it.item_type = "activity";
    pb_strlcpy(it.slug, a->slug ? a->slug : "", sizeof it.slug);
    pb_strlcpy(it.project_id, a->project_id, sizeof it.project_id);
    pb_strlcpy(it.parent_id, row->issue_id, sizeof it.parent_id);
    /* name holds the field (or comment id marker) so listing can exclude comment rows */
    static char comment_marker[] = "comment";
    it.name = row->issue_comment ? comment_marker : NULL;
    pb_strlcpy(it.created_by, a->user_id, sizeof it.created_by);
    it.created_at = it.updated_at = now;
    it.is_active = 1;
    it.raw = raw;
    int rc = pb_ps_item_insert(c, &it, err);
    free(raw);
    return rc;
}

int pb_api_touch_issue(pb_conn *c, const char *issue_id, const char *user_id, pb_error *err)
{
    pb_ps_item it;
    int rc = pb_ps_item_get(c, "issue", NULL, issue_id, &it, err);
    if (rc) return rc;
    cJSON *o = cJSON_Parse(it.raw);
    if (!o) {
        pb_ps_item_clear(&it);
        return pb_error_set(err, PB_EPARSE, "stored work item is not JSON");
    }
    it.updated_at = pb_api_now();
    cJSON_ReplaceItemInObjectCaseSensitive(o, "updated_at", pb_api_time_json(it.updated_at));
    if (user_id && *user_id) cJSON_ReplaceItemInObjectCaseSensitive(o, "updated_by", cJSON_CreateString(user_id));
    char *raw = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!raw) {
        pb_ps_item_clear(&it);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    free(it.raw);
    it.raw = raw;
    rc = pb_ps_item_update(c, &it, err);
    pb_ps_item_clear(&it);
    return rc;
}
