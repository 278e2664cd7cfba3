/* oauth: see oauth.h. */
#include "auth/oauth.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_TTL_US (10LL * 60 * 1000000)
#define RESP_MAX (64 * 1024)
#define JSON_DEPTH 8

/* ------------------------------------------------------------------ small helpers */

static void b64url(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    char tmp[128];
    if (4 * ((n + 2) / 3) + 1 > sizeof tmp) {
        out[0] = '\0';
        return;
    }
    size_t l = pb_base64_encode(in, n, tmp);
    size_t j = 0;
    for (size_t i = 0; i < l && j + 1 < outlen; i++) {
        char c = tmp[i];
        if (c == '=') break;
        out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[j] = '\0';
    OPENSSL_cleanse(tmp, sizeof tmp);
}

static int random_b64url(char *out, size_t outlen)
{
    unsigned char r[32];
    if (pb_random_bytes(r, sizeof r)) return PB_EIO;
    b64url(r, sizeof r, out, outlen);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

void pb_oauth_pkce_challenge(const char *verifier, char out[44])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)verifier, strlen(verifier), md);
    b64url(md, sizeof md, out, 44);
}

static void sha_hex(const char *s, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), md);
    pb_hex_encode(md, sizeof md, out);
}

/* RFC 3986 percent-encoding (application/x-www-form-urlencoded with %20). */
static int put_enc(pb_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            rc = pb_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = pb_buf_append(b, e, 3);
        }
        if (rc) return rc;
    }
    return 0;
}

static int put_param(pb_buf *b, int *first, const char *k, const char *v)
{
    if (!v || !*v) return 0;
    if (!*first) pb_buf_putc(b, '&');
    *first = 0;
    put_enc(b, k);
    pb_buf_putc(b, '=');
    return put_enc(b, v);
}

static int name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n >= max) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
    }
    return 1;
}

static int url_ok(const char *u)
{
    return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) && !strpbrk(u, " \r\n\t\"<>");
}

static int json_depth_ok(const char *s, size_t n)
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
            if (++depth > JSON_DEPTH) return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

static void jcopy(const cJSON *o, const char *k, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    pb_strlcpy(out, cJSON_IsString(v) ? v->valuestring : "", n);
}

/* ------------------------------------------------------------------ apps in the vault */

static void app_vault_name(const char *name, char *out, size_t n)
{
    snprintf(out, n, "oauth/app/%s", name);
}

int pb_oauth_app_save(pb_vault *v, const pb_oauth_app *app, pb_error *err)
{
    char vn[128];
    if (!name_ok(app->name, sizeof app->name)) return pb_error_field(err, PB_EINVAL, "name", "app name must be [A-Za-z0-9._-]");
    if (!app->client_id[0]) return pb_error_field(err, PB_EINVAL, "client_id", "client_id is required");
    if (!app->client_secret[0]) return pb_error_field(err, PB_EINVAL, "client_secret", "client_secret is required");
    if (!url_ok(app->authorize_url)) return pb_error_field(err, PB_EINVAL, "authorize_url", "authorize_url must be an http(s) URL");
    if (!url_ok(app->token_url)) return pb_error_field(err, PB_EINVAL, "token_url", "token_url must be an http(s) URL");
    if (!url_ok(app->redirect_uri)) return pb_error_field(err, PB_EINVAL, "redirect_uri", "redirect_uri must be an http(s) URL");
    if (app->auth_method[0] && strcmp(app->auth_method, "plane") && strcmp(app->auth_method, "basic") &&
        strcmp(app->auth_method, "post"))
        return pb_error_field(err, PB_EINVAL, "auth_method", "auth_method is plane, basic or post");
    cJSON *j = cJSON_CreateObject();
    if (!j) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "name", app->name);
    cJSON_AddStringToObject(j, "client_id", app->client_id);
    cJSON_AddStringToObject(j, "client_secret", app->client_secret);
    cJSON_AddStringToObject(j, "authorize_url", app->authorize_url);
    cJSON_AddStringToObject(j, "token_url", app->token_url);
    cJSON_AddStringToObject(j, "redirect_uri", app->redirect_uri);
    cJSON_AddStringToObject(j, "scope", app->scope);
    cJSON_AddStringToObject(j, "auth_method", app->auth_method[0] ? app->auth_method : "plane");
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_redact_register(app->client_secret);
    app_vault_name(app->name, vn, sizeof vn);
    int rc = pb_vault_put(v, vn, txt, 0, err);
    OPENSSL_cleanse(txt, strlen(txt));
    free(txt);
    return rc;
}

int pb_oauth_app_load(pb_vault *v, const char *name, pb_oauth_app *out, pb_error *err)
{
    char vn[128], *txt = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (!name_ok(name, sizeof out->name)) return pb_error_set(err, PB_ENOTFOUND, "no such OAuth app");
    app_vault_name(name, vn, sizeof vn);
    int rc = pb_vault_get(v, vn, &txt, &len, err);
    if (rc == PB_ENOTFOUND) return pb_error_set(err, rc, "no OAuth app named '%s'", name);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength(txt, len);
    pb_vault_secret_free_len(txt, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return pb_error_set(err, PB_EPARSE, "stored OAuth app '%s' is not JSON", name);
    }
    jcopy(j, "name", out->name, sizeof out->name);
    jcopy(j, "client_id", out->client_id, sizeof out->client_id);
    jcopy(j, "client_secret", out->client_secret, sizeof out->client_secret);
    jcopy(j, "authorize_url", out->authorize_url, sizeof out->authorize_url);
    jcopy(j, "token_url", out->token_url, sizeof out->token_url);
    jcopy(j, "redirect_uri", out->redirect_uri, sizeof out->redirect_uri);
    jcopy(j, "scope", out->scope, sizeof out->scope);
    jcopy(j, "auth_method", out->auth_method, sizeof out->auth_method);
    cJSON_Delete(j);
    pb_redact_register(out->client_secret);
    return 0;
}

/* ------------------------------------------------------------------ tokens in the vault */

void pb_oauth_bot_name(const char *app, const char *installation_id, char *out, size_t n)
{
    snprintf(out, n, "oauth/%s/bot/%s", app, installation_id);
}

void pb_oauth_user_name(const char *app, const char *workspace_slug, char *out, size_t n)
{
    snprintf(out, n, "oauth/%s/user/%s", app, workspace_slug);
}

static int token_store(pb_vault *v, const char *vn, const pb_oauth_token *t, pb_error *err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "access_token", t->access_token);
    cJSON_AddStringToObject(j, "refresh_token", t->refresh_token);
    cJSON_AddStringToObject(j, "scope", t->scope);
    cJSON_AddNumberToObject(j, "expires_at", (double)t->expires_at);
    cJSON_AddNumberToObject(j, "issued_at", (double)t->issued_at);
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int rc = pb_vault_put(v, vn, txt, 0, err);
    OPENSSL_cleanse(txt, strlen(txt));
    free(txt);
    return rc;
}

static int token_load(pb_vault *v, const char *vn, pb_oauth_token *t, pb_error *err)
{
    char *txt = NULL;
    size_t len = 0;
    memset(t, 0, sizeof *t);
    int rc = pb_vault_get(v, vn, &txt, &len, err);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength(txt, len);
    pb_vault_secret_free_len(txt, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return pb_error_set(err, PB_EPARSE, "stored token is not JSON");
    }
    jcopy(j, "access_token", t->access_token, sizeof t->access_token);
    jcopy(j, "refresh_token", t->refresh_token, sizeof t->refresh_token);
    jcopy(j, "scope", t->scope, sizeof t->scope);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "expires_at");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "issued_at");
    t->expires_at = cJSON_IsNumber(e) ? (int64_t)e->valuedouble : 0;
    t->issued_at = cJSON_IsNumber(i) ? (int64_t)i->valuedouble : 0;
    {
        /* the parsed tree holds the tokens: wipe its strings before freeing (as token_request does) */
        cJSON *it;
        cJSON_ArrayForEach(it, j) if (cJSON_IsString(it)) OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
    }
    cJSON_Delete(j);
    if (t->access_token[0]) pb_redact_register(t->access_token);
    if (t->refresh_token[0]) pb_redact_register(t->refresh_token);
    return 0;
}

static void token_wipe(pb_oauth_token *t)
{
    OPENSSL_cleanse(t, sizeof *t);
}

/* Refresh ahead of expiry: within max(60 s, a tenth of the token's lifetime). */
static int needs_refresh(const pb_oauth_token *t, int64_t now)
{
    if (!t->access_token[0]) return 1;
    if (!t->expires_at) return 0;
    int64_t margin = (t->expires_at - t->issued_at) / 10;
    if (margin < 60LL * 1000000) margin = 60LL * 1000000;
    return t->expires_at - now <= margin;
}

/* ------------------------------------------------------------------ the token endpoint */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    pb_buf *b = ud;
    return pb_buf_append(b, p, sz * n) == 0 ? sz * n : 0; /* past RESP_MAX: abort the transfer */
}

/* POSTs the grant; fills tok on success. Client authentication per app->auth_method. */
static int token_request(const pb_oauth_app *app, const char *grant, pb_buf *form, pb_oauth_token *tok, pb_error *err)
{
    int basic = strcmp(app->auth_method, "basic") == 0 ||
                ((!app->auth_method[0] || strcmp(app->auth_method, "plane") == 0) &&
                 strcmp(grant, "client_credentials") == 0);
    int first = form->len == 0;
    char authz[800] = "";
    pb_buf body;
    long status = 0;
    int rc = 0;
    cJSON *j = NULL;
    struct curl_slist *h = NULL;
    pb_buf_init(&body, RESP_MAX);
    if (basic) {
        char raw[520];
        char b64[720];
        int n = snprintf(raw, sizeof raw, "%s:%s", app->client_id, app->client_secret);
        if (n < 0 || (size_t)n >= sizeof raw) return pb_error_set(err, PB_EINVAL, "client credentials too long");
        pb_base64_encode(raw, (size_t)n, b64);
        snprintf(authz, sizeof authz, "Authorization: Basic %s", b64);
        OPENSSL_cleanse(raw, sizeof raw);
        OPENSSL_cleanse(b64, sizeof b64);
    } else {
        put_param(form, &first, "client_id", app->client_id);
        put_param(form, &first, "client_secret", app->client_secret);
    }
    CURL *c = curl_easy_init();
    if (!c) {
        rc = pb_error_set(err, PB_ENOMEM, "cannot create an HTTP handle");
        goto out;
    }
    h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
    h = curl_slist_append(h, "Accept: application/json");
    if (authz[0]) h = curl_slist_append(h, authz);
    curl_easy_setopt(c, CURLOPT_URL, app->token_url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, pb_buf_cstr(form));
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "planebridge/" PB_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = pb_error_set(err, PB_ENET, "token endpoint unreachable: %s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (!json_depth_ok(pb_buf_cstr(&body), body.len) || !(j = cJSON_ParseWithLength(pb_buf_cstr(&body), body.len)) ||
        !cJSON_IsObject(j)) {
        rc = pb_error_set(err, PB_EUPSTREAM, "token endpoint answered %ld without a JSON object", status);
        goto out;
    }
    if (status != 200) {
        char e[64], d[160];
        jcopy(j, "error", e, sizeof e);
        jcopy(j, "error_description", d, sizeof d);
        rc = pb_error_set(err, status == 400 || status == 401 ? PB_EFORBIDDEN : PB_EUPSTREAM,
                          "token endpoint refused the %s grant (%ld %s%s%s)", grant, status, e, d[0] ? ": " : "", d);
        goto out;
    }
    memset(tok, 0, sizeof *tok);
    jcopy(j, "access_token", tok->access_token, sizeof tok->access_token);
    jcopy(j, "refresh_token", tok->refresh_token, sizeof tok->refresh_token);
    jcopy(j, "scope", tok->scope, sizeof tok->scope);
    if (!tok->access_token[0]) {
        rc = pb_error_set(err, PB_EUPSTREAM, "token endpoint answered without an access_token");
        goto out;
    }
    pb_redact_register(tok->access_token);
    if (tok->refresh_token[0]) pb_redact_register(tok->refresh_token);
    tok->issued_at = pb_now_us();
    const cJSON *ei = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    if (cJSON_IsNumber(ei) && ei->valuedouble > 0 && ei->valuedouble < 1e9)
        tok->expires_at = tok->issued_at + (int64_t)ei->valuedouble * 1000000;
out:
    if (j) {
        /* the parsed tree holds the token: wipe its strings before freeing */
        cJSON *it;
        cJSON_ArrayForEach(it, j) if (cJSON_IsString(it)) OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
        cJSON_Delete(j);
    }
    if (body.data) OPENSSL_cleanse(body.data, body.len);
    pb_buf_free(&body);
    if (form->data) OPENSSL_cleanse(form->data, form->len);
    OPENSSL_cleanse(authz, sizeof authz);
    curl_slist_free_all(h);
    if (c) curl_easy_cleanup(c);
    return rc;
}

/* ------------------------------------------------------------------ flows */

int pb_oauth_begin(pb_db *db, const pb_oauth_app *app, const char *workspace_slug, const char *user_id, char **url,
                   int64_t *expires_at, pb_error *err)
{
    pb_oauth_state_row s;
    char state[64], challenge[44];
    pb_buf b;
    int first = 1;
    *url = NULL;
    memset(&s, 0, sizeof s);
    if (!workspace_slug || !*workspace_slug || strlen(workspace_slug) >= sizeof s.workspace_slug)
        return pb_error_field(err, PB_EINVAL, "workspace", "a workspace slug is required");
    if (!user_id || !*user_id || strlen(user_id) >= sizeof s.user_id)
        return pb_error_field(err, PB_EINVAL, "user", "the initiating user is required");
    if (random_b64url(state, sizeof state) || random_b64url(s.verifier, sizeof s.verifier))
        return pb_error_set(err, PB_EIO, "no randomness");
    sha_hex(state, s.state_hash);
    pb_strlcpy(s.app, app->name, sizeof s.app);
    pb_strlcpy(s.workspace_slug, workspace_slug, sizeof s.workspace_slug);
    pb_strlcpy(s.user_id, user_id, sizeof s.user_id);
    pb_strlcpy(s.redirect_uri, app->redirect_uri, sizeof s.redirect_uri);
    s.expires_at = pb_now_us() + STATE_TTL_US;
    if (expires_at) *expires_at = s.expires_at;
    pb_oauth_pkce_challenge(s.verifier, challenge);
    int rc = pb_as_oauth_state_put(db, &s, err);
    OPENSSL_cleanse(s.verifier, sizeof s.verifier);
    if (rc) return rc;
    pb_buf_init(&b, 8192);
    pb_buf_puts(&b, app->authorize_url);
    pb_buf_putc(&b, strchr(app->authorize_url, '?') ? '&' : '?');
    put_param(&b, &first, "response_type", "code");
    put_param(&b, &first, "client_id", app->client_id);
    put_param(&b, &first, "redirect_uri", app->redirect_uri);
    put_param(&b, &first, "scope", app->scope);
    put_param(&b, &first, "state", state);
    put_param(&b, &first, "code_challenge", challenge);
    if (put_param(&b, &first, "code_challenge_method", "S256")) {
        pb_buf_free(&b);
        return pb_error_set(err, PB_ETOOBIG, "authorization URL too long");
    }
    *url = pb_buf_steal(&b);
    return *url ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
}

static int ref_set(pb_db *db, const char *slug, const char *purpose_prefix, const char *app, const char *vn)
{
    char purpose[128];
    if (!slug || !*slug) return 0;
    snprintf(purpose, sizeof purpose, "%s:%s", purpose_prefix, app);
    return pb_as_token_ref_set(db, slug, "", purpose, vn, NULL);
}

int pb_oauth_callback(pb_db *db, pb_vault *v, const char *app_name, const char *state, const char *code,
                      const char *installation_id, char *workspace_out, pb_error *err)
{
    pb_oauth_app app;
    pb_oauth_state_row s;
    pb_oauth_token tok;
    char hash[65], vn[256];
    pb_buf form;
    int first = 1;
    if (!state || !*state || strlen(state) > 256) return pb_error_set(err, PB_ENOTFOUND, "missing or unknown state");
    if (!code || !*code || strlen(code) > 2048) return pb_error_field(err, PB_EINVAL, "code", "missing code");
    sha_hex(state, hash);
    int rc = pb_as_oauth_state_take(db, hash, pb_now_us(), &s, err);
    if (rc) return rc;
    if (!app_name || strcmp(s.app, app_name) != 0) {
        OPENSSL_cleanse(&s, sizeof s);
        return pb_error_set(err, PB_ENOTFOUND, "state was issued for another app");
    }
    {
        /* The state names who asked: that user must still be an admin of the workspace
         * (a state without one -- none can exist after migration 0010 -- is refused). */
        int role = 0;
        int mrc = s.user_id[0] && s.workspace_slug[0] ? pb_as_member_role(db, s.workspace_slug, s.user_id, &role, NULL)
                                                      : PB_ENOTFOUND;
        if (mrc && mrc != PB_ENOTFOUND) {
            OPENSSL_cleanse(&s, sizeof s);
            return pb_error_set(err, mrc, "cannot check the initiating user's role");
        }
        if (mrc || role != PB_ROLE_ADMIN) {
            OPENSSL_cleanse(&s, sizeof s);
            return pb_error_set(err, PB_EAUTH, "the user who started this authorization is not an admin of the workspace");
        }
    }
    if ((rc = pb_oauth_app_load(v, app_name, &app, err))) goto out;
    pb_buf_init(&form, 16384);
    put_param(&form, &first, "grant_type", "authorization_code");
    put_param(&form, &first, "code", code);
    put_param(&form, &first, "redirect_uri", s.redirect_uri);
    put_param(&form, &first, "code_verifier", s.verifier);
    rc = token_request(&app, "authorization_code", &form, &tok, err);
    pb_buf_free(&form);
    if (rc) goto out;
    pb_oauth_user_name(app.name, s.workspace_slug, vn, sizeof vn);
    rc = token_store(v, vn, &tok, err);
    token_wipe(&tok);
    if (!rc) ref_set(db, s.workspace_slug, "oauth_user", app.name, vn);
    if (!rc && installation_id && *installation_id) {
        char *bot = NULL;
        rc = pb_oauth_bot_token(db, v, app.name, installation_id, s.workspace_slug, &bot, NULL, err);
        pb_vault_secret_free(bot);
    }
    if (!rc && workspace_out) pb_strlcpy(workspace_out, s.workspace_slug, PB_SLUG_MAX);
    if (!rc)
        PB_LOG(PB_LOG_INFO, "oauth app authorized", PB_LS("app", app.name), PB_LS("workspace", s.workspace_slug),
               PB_LS("by_user", s.user_id), PB_LB("bot", installation_id && *installation_id));
out:
    OPENSSL_cleanse(&s, sizeof s);
    OPENSSL_cleanse(&app, sizeof app);
    return rc;
}

int pb_oauth_bot_token(pb_db *db, pb_vault *v, const char *app_name, const char *installation_id,
                       const char *workspace_slug, char **token, int64_t *expires_at, pb_error *err)
{
    pb_oauth_app app;
    pb_oauth_token tok;
    char vn[256];
    int rc;
    *token = NULL;
    if (!name_ok(installation_id, 128)) return pb_error_field(err, PB_EINVAL, "installation_id", "invalid installation id");
    pb_oauth_bot_name(app_name, installation_id, vn, sizeof vn);
    rc = token_load(v, vn, &tok, err);
    if (rc == 0 && !needs_refresh(&tok, pb_now_us())) goto done;
    if (rc && rc != PB_ENOTFOUND) return rc;
    /* Bot tokens have no refresh token: repeat client_credentials with the installation id. */
    if ((rc = pb_oauth_app_load(v, app_name, &app, err))) return rc;
    pb_buf form;
    int first = 1;
    pb_buf_init(&form, 8192);
    put_param(&form, &first, "grant_type", "client_credentials");
    put_param(&form, &first, "app_installation_id", installation_id);
    rc = token_request(&app, "client_credentials", &form, &tok, err);
    pb_buf_free(&form);
    OPENSSL_cleanse(&app, sizeof app);
    if (!rc) rc = token_store(v, vn, &tok, err);
    if (!rc) ref_set(db, workspace_slug, "oauth_bot", app_name, vn);
    if (!rc) PB_LOG(PB_LOG_INFO, "oauth bot token issued", PB_LS("app", app_name), PB_LS("installation", installation_id));
    if (rc) {
        token_wipe(&tok);
        return rc;
    }
done:
    *token = strdup(tok.access_token);
    if (expires_at) *expires_at = tok.expires_at;
    token_wipe(&tok);
    return *token ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
}

int pb_oauth_user_token(pb_db *db, pb_vault *v, const char *app_name, const char *workspace_slug, char **token,
                        int64_t *expires_at, pb_error *err)
{
    pb_oauth_app app;
    pb_oauth_token tok, fresh;
    char vn[256];
    *token = NULL;
    (void)db;
    pb_oauth_user_name(app_name, workspace_slug && *workspace_slug ? workspace_slug : "-", vn, sizeof vn);
    int rc = token_load(v, vn, &tok, err);
    if (rc == PB_ENOTFOUND) return pb_error_set(err, rc, "app '%s' is not authorized for this workspace", app_name);
    if (rc) return rc;
    if (needs_refresh(&tok, pb_now_us())) {
        if (!tok.refresh_token[0]) {
            token_wipe(&tok);
            return pb_error_set(err, PB_EEXPIRED, "the user token expired and there is no refresh token");
        }
        if ((rc = pb_oauth_app_load(v, app_name, &app, err))) {
            token_wipe(&tok);
            return rc;
        }
        pb_buf form;
        int first = 1;
        pb_buf_init(&form, 8192);
        put_param(&form, &first, "grant_type", "refresh_token");
        put_param(&form, &first, "refresh_token", tok.refresh_token);
        rc = token_request(&app, "refresh_token", &form, &fresh, err);
        pb_buf_free(&form);
        OPENSSL_cleanse(&app, sizeof app);
        if (!rc) {
            /* servers may rotate the refresh token or keep the old one */
            if (!fresh.refresh_token[0]) pb_strlcpy(fresh.refresh_token, tok.refresh_token, sizeof fresh.refresh_token);
            rc = token_store(v, vn, &fresh, err);
            tok = fresh;
            token_wipe(&fresh);
            if (!rc) PB_LOG(PB_LOG_INFO, "oauth user token refreshed", PB_LS("app", app_name));
        }
        if (rc) {
            token_wipe(&tok);
            return rc;
        }
    }
    *token = strdup(tok.access_token);
    if (expires_at) *expires_at = tok.expires_at;
    token_wipe(&tok);
    return *token ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
}
