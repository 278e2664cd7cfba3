/* Security core over real HTTP: the scope x route matrix over every route every module
 * registers, the auth failure bodies, rate-limit headers and 429, and the admin key API. */
#include "test.h"

#include "app/app.h"
#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "auth/oauth.h"
#include "auth/vault.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct hres {
    long status;
    pb_buf body, hdrs;
} hres;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    pb_buf_append(ud, p, sz * n);
    return sz * n;
}

static void hres_free(hres *r)
{
    pb_buf_free(&r->body);
    pb_buf_free(&r->hdrs);
}

/* Performs one request; extra_hdr may be NULL. */
static int req(int port, const char *method, const char *path, const char *key, const char *extra_hdr,
               const char *body, hres *r)
{
    char url[2048], kh[256];
    struct curl_slist *h = NULL;
    memset(r, 0, sizeof *r);
    pb_buf_init(&r->body, 1 << 20);
    pb_buf_init(&r->hdrs, 1 << 20);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    if (key) {
        snprintf(kh, sizeof kh, "X-Api-Key: %s", key);
        h = curl_slist_append(h, kh);
    }
    if (extra_hdr) h = curl_slist_append(h, extra_hdr);
    h = curl_slist_append(h, "User-Agent: pb-test/1.0");
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return cc == CURLE_OK ? 0 : -1;
}

/* Value of a response header (case-insensitive name), or NULL. */
static const char *hdr(const hres *r, const char *name, char *out, size_t n)
{
    const char *p = pb_buf_cstr(&r->hdrs);
    size_t nl = strlen(name);
    while (*p) {
        const char *e = strstr(p, "\r\n");
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(p + ll - v);
            if (vl >= n) vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p += ll + (e ? 2 : 0);
    }
    return NULL;
}

/* ------------------------------------------------------------------ a daemon in-process */

typedef struct daemon_t {
    pb_config cfg;
    pb_db *db;
    pb_server *srv;
    pb_app app;
    size_t inited;
    int port;
    /* the test's view of the auth hook's verdicts */
    int last_auth_rc;
    int auth_calls;
} daemon_t;

static daemon_t *the_daemon;

static int spy_hook(pb_req *rq, pb_resp *resp, const pb_route *route, void *ctx)
{
    int rc = pb_auth_hook(rq, resp, route, ctx);
    the_daemon->last_auth_rc = rc;
    the_daemon->auth_calls++;
    return rc;
}

static int daemon_up(daemon_t *d, int rate_limit)
{
    pb_error err = {0};
    memset(d, 0, sizeof *d);
    the_daemon = d;
    pb_config_defaults(&d->cfg);
    snprintf(d->cfg.master_key_file, sizeof d->cfg.master_key_file, "%s/master.key", pb_test_tmpdir());
    snprintf(d->cfg.store, sizeof d->cfg.store, "%s", pb_test_store_url());
    d->cfg.rate_limit_per_min = rate_limit;
    if (pb_db_open(pb_test_store_url(), NULL, &d->db, &err)) return -1;
    pb_server_options so = {.listen = "127.0.0.1:0", .threads = 2};
    if (pb_server_new(&so, &d->srv, &err)) return -1;
    d->app.cfg = &d->cfg;
    d->app.db = d->db;
    d->app.srv = d->srv;
    int rc = 0;
    for (; pb_modules[d->inited]; d->inited++) {
        const pb_module *m = pb_modules[d->inited];
        if (m->init && (rc = m->init(&d->app, &err))) {
            fprintf(stderr, "    module %s init failed: %s\n", m->name, err.msg);
            return rc;
        }
    }
    if (!d->app.auth) {
        fprintf(stderr, "    the auth module is not in pb_modules\n");
        return -1;
    }
    pb_server_set_auth_hook(d->srv, spy_hook, d->app.auth);
    if (pb_server_start(d->srv, &err)) return -1;
    d->port = pb_server_port(d->srv);
    return 0;
}

static void daemon_down(daemon_t *d)
{
    if (d->srv) pb_server_stop(d->srv, 1000);
    while (d->inited > 0) {
        const pb_module *m = pb_modules[--d->inited];
        if (m->free) m->free(&d->app);
    }
    pb_server_free(d->srv);
    pb_db_free(d->db);
}

static int seed_admin(pb_db *db, pb_user_row *u)
{
    pb_error err = {0};
    int rc = pb_as_workspace_create(db, "acme", "Acme", NULL, &err);
    if (!rc) rc = pb_as_user_create(db, "admin@example.com", NULL, NULL, NULL, u, &err);
    if (!rc) rc = pb_as_member_set(db, "acme", u->id, PB_ROLE_ADMIN, &err);
    if (rc) fprintf(stderr, "    seed: %s\n", err.msg);
    return rc;
}

static int mk_key(pb_db *db, const char *email, const char *scopes, int rl, char *out)
{
    pb_error err = {0};
    pb_key_spec s = {.user_email = email, .scopes = scopes, .rate_limit = rl};
    int rc = pb_apikey_create(db, &s, out, PB_KEY_LEN + 1, NULL, &err);
    if (rc) fprintf(stderr, "    key %s: %s\n", scopes, err.msg);
    return rc;
}

/* Route pattern -> a concrete path: {slug}/{workspace_slug} -> "acme", every other
 * parameter -> a fixed UUID (handlers then answer 404/400, which is fine: only the auth
 * verdict matters here). */
static void instantiate(const char *pattern, char *out, size_t n)
{
    size_t j = 0;
    for (const char *p = pattern; *p && j + 40 < n;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (!e) break;
            size_t nl = (size_t)(e - p - 1);
            const char *val = (nl == 4 && strncmp(p + 1, "slug", 4) == 0) ||
                                      (nl == 14 && strncmp(p + 1, "workspace_slug", 14) == 0)
                                  ? "acme"
                                  : "3f2b8c1e-9d4a-4e5b-8c6d-7e8f9a0b1c2d";
            j += pb_strlcpy(out + j, val, n - j);
            p = e + 1;
        } else {
            out[j++] = *p++;
        }
    }
    out[j] = '\0';
}

PB_STORE_TEST(auth_http_scope_route_matrix)
{
    daemon_t d;
    pb_user_row admin;
    PB_REQUIRE(daemon_up(&d, 1000000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);

    /* One key per scope holding only that scope, and one per scope holding every other. */
    enum { NS = 12 };
    static char single[NS][PB_KEY_LEN + 1], allbut[NS][PB_KEY_LEN + 1];
    for (int b = 0; b < NS; b++) {
        char scopes[PB_SCOPES_TEXT_MAX];
        PB_REQUIRE(pb_scope_name(1u << b) != NULL);
        PB_REQUIRE(mk_key(d.db, "admin@example.com", pb_scope_name(1u << b), 1000000, single[b]) == 0);
        pb_scope_format(PB_SCOPE_ALL & ~(1u << b), scopes, sizeof scopes);
        PB_REQUIRE(mk_key(d.db, "admin@example.com", scopes, 1000000, allbut[b]) == 0);
    }

    size_t n = 0;
    const pb_route *routes = pb_server_routes(d.srv, &n);
    int checked = 0, admin_routes = 0, requests = 0;
    for (size_t i = 0; i < n; i++) {
        const pb_route *rt = &routes[i];
        if (!rt->scope || (rt->flags & PB_ROUTE_PUBLIC)) continue;
        pb_scopes bit = pb_scope_bit(rt->scope);
        if (!bit) {
            pb_test_fail(__FILE__, __LINE__, "%s %s requires unknown scope '%s'", rt->method, rt->pattern, rt->scope);
            continue;
        }
        char path[1024], want[128];
        instantiate(rt->pattern, path, sizeof path);
        snprintf(want, sizeof want, "\"missing_scope\":\"%s\"", rt->scope);
        const char *body = strcmp(rt->method, "GET") && strcmp(rt->method, "DELETE") ? "{}" : NULL;
        hres r;

        /* no key: 401 with Plane's body */
        PB_CHECK(req(d.port, rt->method, path, NULL, NULL, body, &r) == 0);
        if (r.status != 401 || !strstr(pb_buf_cstr(&r.body), "Authentication credentials were not provided."))
            pb_test_fail(__FILE__, __LINE__, "%s %s without a key: %ld %s", rt->method, rt->pattern, r.status,
                         pb_buf_cstr(&r.body));
        hres_free(&r);

        /* every key lacking the scope -- each single other scope, and all the others
         * together -- is refused with 403 naming it; the key with exactly it gets through */
        for (int b = 0; b < 2 * NS; b++) {
            const char *key = b < NS ? single[b] : allbut[b - NS];
            pb_scopes held = b < NS ? (1u << b) : (PB_SCOPE_ALL & ~(1u << (b - NS)));
            int should_pass = (held & bit) != 0;
            if (b >= NS && should_pass) continue; /* all-but-another: covered by the single key */
            d.last_auth_rc = -1;
            PB_CHECK(req(d.port, rt->method, path, key, NULL, body, &r) == 0);
            requests++;
            if (should_pass && d.last_auth_rc != 0)
                pb_test_fail(__FILE__, __LINE__, "%s %s refused the minimal key (%s): %ld %s", rt->method,
                             rt->pattern, rt->scope, r.status, pb_buf_cstr(&r.body));
            if (!should_pass && (r.status != 403 || !strstr(pb_buf_cstr(&r.body), want) || d.last_auth_rc == 0))
                pb_test_fail(__FILE__, __LINE__, "%s %s with a key lacking %s: %ld %s", rt->method, rt->pattern,
                             rt->scope, r.status, pb_buf_cstr(&r.body));
            hres_free(&r);
        }
        checked++;
        if (strncmp(rt->pattern, "/admin/v1/keys", 14) == 0) admin_routes++;
    }
    fprintf(stderr, "    scope x route matrix: %d routes with a scope (of %zu registered), %d keyed requests\n",
            checked, n, requests);
    PB_CHECK(checked >= 6);
    PB_CHECK_EQ_INT(admin_routes, 6);
    daemon_down(&d);
}

PB_STORE_TEST(auth_http_bodies_headers_and_429)
{
    daemon_t d;
    pb_user_row admin;
    char key[PB_KEY_LEN + 1], v[64];
    hres r;
    PB_REQUIRE(daemon_up(&d, 60) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    PB_REQUIRE(mk_key(d.db, "admin@example.com", "keys:admin", 3, key) == 0);

    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", NULL, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 401);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "{\"detail\":\"Authentication credentials were not provided.\"}");
    PB_CHECK(hdr(&r, "X-RateLimit-Limit", v, sizeof v) == NULL);
    hres_free(&r);

    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", "pb_notakey", NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "{\"detail\":\"Given API token is not valid\"}");
    hres_free(&r);

    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(hdr(&r, "X-RateLimit-Limit", v, sizeof v) && strcmp(v, "3") == 0);
    PB_CHECK(hdr(&r, "X-RateLimit-Remaining", v, sizeof v) && strcmp(v, "2") == 0);
    PB_CHECK(hdr(&r, "X-RateLimit-Reset", v, sizeof v) != NULL);
    int64_t reset = 0;
    PB_CHECK(pb_parse_i64(v, 0, INT64_MAX, &reset) == 0);
    PB_CHECK(reset >= pb_now_us() / 1000000 && reset <= pb_now_us() / 1000000 + 61);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"results\":[") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), key) == NULL);
    hres_free(&r);

    char bearer[80];
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", key);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", NULL, bearer, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(hdr(&r, "X-RateLimit-Remaining", v, sizeof v) && strcmp(v, "1") == 0);
    hres_free(&r);

    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 429);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "{\"error_code\":5900,\"error_message\":\"RATE_LIMIT_EXCEEDED\"}");
    PB_CHECK(hdr(&r, "Retry-After", v, sizeof v) && atoi(v) >= 1 && atoi(v) <= 20);
    PB_CHECK(hdr(&r, "X-RateLimit-Remaining", v, sizeof v) && strcmp(v, "0") == 0);
    hres_free(&r);

    /* every authenticated call is in the usage log */
    pb_auth_flush(d.app.auth);
    pb_key_row k;
    pb_key_stats st;
    char hash[65];
    pb_apikey_hash(key, strlen(key), hash);
    PB_REQUIRE(pb_as_key_get_by_hash(d.db, hash, &k, NULL) == 0);
    PB_REQUIRE(pb_as_usage_stats(d.db, k.id, pb_now_us(), &st, NULL) == 0);
    PB_CHECK_EQ_INT(st.calls_1h, 4);
    PB_CHECK_EQ_INT(st.errors_24h, 1);
    daemon_down(&d);
}

static const char *json_field(const char *json, const char *name, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= n) return NULL;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return out;
}

PB_STORE_TEST(auth_http_admin_key_api)
{
    daemon_t d;
    pb_user_row admin, member;
    char key[PB_KEY_LEN + 1], newkey[64], id[64], rotated[64], rid[64], path[256];
    pb_error err = {0};
    hres r;
    PB_REQUIRE(daemon_up(&d, 100000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    PB_REQUIRE(pb_as_user_create(d.db, "member@example.com", NULL, NULL, NULL, &member, &err) == 0);
    PB_REQUIRE(pb_as_member_set(d.db, "acme", member.id, PB_ROLE_MEMBER, &err) == 0);
    PB_REQUIRE(mk_key(d.db, "admin@example.com", "keys:admin,issues:*", 0, key) == 0);

    /* create a key for a member of the admin's workspace */
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL,
                   "{\"user\":\"member@example.com\",\"scopes\":[\"issues:read\",\"issues:write\"],"
                   "\"name\":\"ci\",\"expires\":\"30d\",\"rate_limit\":100}",
                   &r) == 0);
    PB_CHECK_EQ_INT(r.status, 201);
    PB_REQUIRE(json_field(pb_buf_cstr(&r.body), "key", newkey, sizeof newkey) != NULL);
    PB_CHECK(pb_apikey_well_formed(newkey, strlen(newkey)));
    PB_REQUIRE(json_field(pb_buf_cstr(&r.body), "id", id, sizeof id) != NULL);
    hres_free(&r);
    /* a key cannot grant more than it holds */
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL, "{\"scopes\":\"projects:write\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "projects:write") != NULL);
    hres_free(&r);
    /* bad input */
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL, "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 400);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL, "{\"scopes\":\"nope:read\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 400);
    hres_free(&r);

    snprintf(path, sizeof path, "/admin/v1/keys/%s", id);
    PB_REQUIRE(req(d.port, "GET", path, key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"user_email\":\"member@example.com\"") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), newkey) == NULL);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys/3f2b8c1e-9d4a-4e5b-8c6d-7e8f9a0b1c2d", key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 404);
    hres_free(&r);

    /* the member's new key works; its use shows in usage */
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", newkey, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403); /* lacks keys:admin */
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "keys:admin") != NULL);
    hres_free(&r);
    snprintf(path, sizeof path, "/admin/v1/keys/%s/usage", id);
    PB_REQUIRE(req(d.port, "GET", path, key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"calls_1h\":1") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"error_rate_24h\":1.0000") != NULL);
    hres_free(&r);

    /* rotate: both work during the grace period */
    snprintf(path, sizeof path, "/admin/v1/keys/%s/rotate", id);
    PB_REQUIRE(req(d.port, "POST", path, key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 201);
    PB_REQUIRE(json_field(pb_buf_cstr(&r.body), "key", rotated, sizeof rotated) != NULL);
    PB_REQUIRE(json_field(pb_buf_cstr(&r.body), "id", rid, sizeof rid) != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), id) != NULL); /* rotated_from */
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", path, key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 409);
    hres_free(&r);

    /* revoke the new one: refused at once in this process */
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", rotated, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "missing_scope") != NULL); /* valid key, lacks the scope */
    hres_free(&r);
    snprintf(path, sizeof path, "/admin/v1/keys/%s/revoke", rid);
    PB_REQUIRE(req(d.port, "POST", path, key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"state\":\"revoked\"") != NULL);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", rotated, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "{\"detail\":\"Given API token is not valid\"}");
    hres_free(&r);

    /* the member (not an admin) cannot manage the admin's keys even with keys:admin... it
     * cannot get keys:admin at all: its role caps it */
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL,
                   "{\"user\":\"member@example.com\",\"scopes\":\"keys:admin\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    hres_free(&r);
    daemon_down(&d);
}

PB_STORE_TEST(auth_http_secret_never_in_body_or_log)
{
    static const char planted[] = "pb_PLANTEDsecretPLANTEDsecret12345";
    daemon_t d;
    pb_user_row admin;
    char logp[600];
    hres r;
    snprintf(logp, sizeof logp, "%s/daemon.log", pb_test_tmpdir());
    FILE *lf = fopen(logp, "w");
    PB_REQUIRE(lf != NULL);
    pb_log_set_output(lf);
    pb_log_level = PB_LOG_DEBUG;
    PB_REQUIRE(daemon_up(&d, 100000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    pb_error err = {0};
    /* a vault secret loaded by the daemon is registered with the redactor */
    static const char vsecret[] = "VAULT-upstream-token-77aa88bb99";
    PB_REQUIRE(pb_vault_put(d.app.vault, "plane/acme/api_key", vsecret, 0, &err) == 0);
    char *back = NULL;
    PB_REQUIRE(pb_vault_get(d.app.vault, "plane/acme/api_key", &back, NULL, &err) == 0);
    PB_LOG(PB_LOG_ERROR, "upstream said no", PB_LS("token", back), PB_LS("header", planted));
    pb_vault_secret_free(back);
    {
        char h[200];
        snprintf(h, sizeof h, "X-Api-Key: %s", vsecret);
        PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", NULL, h, NULL, &r) == 0);
        PB_CHECK(strstr(pb_buf_cstr(&r.body), vsecret) == NULL);
        hres_free(&r);
    }
    const char *variants[] = {"X-Api-Key", "Authorization"};
    for (int i = 0; i < 2; i++) {
        char h[200];
        snprintf(h, sizeof h, "%s: %s%s", variants[i], i ? "Bearer " : "", planted);
        PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", NULL, h, NULL, &r) == 0);
        PB_CHECK_EQ_INT(r.status, 403);
        PB_CHECK(strstr(pb_buf_cstr(&r.body), planted) == NULL);
        PB_CHECK(strstr(pb_buf_cstr(&r.hdrs), planted) == NULL);
        hres_free(&r);
        /* also in a URL query and a body */
        char path[200];
        snprintf(path, sizeof path, "/admin/v1/keys?api_key=%s", planted);
        PB_REQUIRE(req(d.port, "POST", path, NULL, h, "{\"name\":\"pb_PLANTEDsecretPLANTEDsecret12345\"}", &r) == 0);
        PB_CHECK(strstr(pb_buf_cstr(&r.body), planted) == NULL);
        hres_free(&r);
    }
    daemon_down(&d);
    fflush(lf);
    fclose(lf);
    pb_log_set_output(NULL);
    char *log = NULL;
    size_t len = 0;
    PB_REQUIRE(pb_read_file(logp, 64u << 20, &log, &len) == 0);
    PB_CHECK(len > 0); /* the daemon did log these requests */
    PB_CHECK(strstr(log, planted) == NULL);
    PB_CHECK(strstr(log, vsecret) == NULL);
    free(log);
}

/* Review: an admin of one workspace must not be able to re-point an existing OAuth app
 * (token_url) at a host it controls: refresh tokens of every workspace using the app would
 * be sent there. Re-registering an existing name answers 409. Huge "expires" durations are
 * a 400, not an overflow. */
PB_STORE_TEST(auth_http_review_oauth_app_no_overwrite_and_expiry_bounds)
{
    daemon_t d;
    pb_user_row admin;
    char key[PB_KEY_LEN + 1];
    hres r;
    static const char app1[] = "{\"name\":\"shared\",\"client_id\":\"cid\",\"client_secret\":\"first-secret-123456\","
                               "\"authorize_url\":\"https://plane.example/auth/o/authorize-app/\","
                               "\"token_url\":\"https://plane.example/auth/o/token/\","
                               "\"redirect_uri\":\"https://hub.example/oauth/shared/callback\"}";
    static const char app2[] = "{\"name\":\"shared\",\"client_id\":\"cid\",\"client_secret\":\"evil-secret-123456\","
                               "\"authorize_url\":\"https://evil.example/auth/\","
                               "\"token_url\":\"https://evil.example/token/\","
                               "\"redirect_uri\":\"https://hub.example/oauth/shared/callback\"}";
    PB_REQUIRE(daemon_up(&d, 100000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    PB_REQUIRE(mk_key(d.db, "admin@example.com", "keys:admin,issues:*", 0, key) == 0);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/apps", key, NULL, app1, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 201);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/apps", key, NULL, app2, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 409);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "evil-secret") == NULL);
    hres_free(&r);
    pb_oauth_app oa;
    pb_error err = {0};
    PB_REQUIRE(pb_oauth_app_load(d.app.vault, "shared", &oa, &err) == 0);
    PB_CHECK_STR(oa.token_url, "https://plane.example/auth/o/token/");
    memset(&oa, 0, sizeof oa);

    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL,
                   "{\"scopes\":[\"issues:read\"],\"expires\":\"100000000000w\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 400);
    hres_free(&r);
    daemon_down(&d);
}

/* Review (HIGH): starting an OAuth authorization was public (GET /oauth/{app}/authorize
 * ?workspace=ANY): anyone could make the callback store THEIR Plane account's token as any
 * workspace's user token. It now needs keys:admin and an admin of the named workspace, and
 * answers the URL as JSON; the callback refuses a forged state without touching the token. */
PB_STORE_TEST(auth_http_review_oauth_authorize_needs_workspace_admin)
{
    daemon_t d;
    pb_user_row admin, member, outsider;
    pb_error err = {0};
    char akey[PB_KEY_LEN + 1], okey[PB_KEY_LEN + 1], mkey[PB_KEY_LEN + 1], path[256];
    hres r;
    PB_REQUIRE(daemon_up(&d, 100000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    PB_REQUIRE(pb_as_workspace_create(d.db, "other", NULL, NULL, &err) == 0);
    PB_REQUIRE(pb_as_user_create(d.db, "member@example.com", NULL, NULL, NULL, &member, &err) == 0);
    PB_REQUIRE(pb_as_member_set(d.db, "acme", member.id, PB_ROLE_MEMBER, &err) == 0);
    /* an admin of another workspace: holds keys:admin, but is not an admin of acme */
    PB_REQUIRE(pb_as_user_create(d.db, "outsider@example.com", NULL, NULL, NULL, &outsider, &err) == 0);
    PB_REQUIRE(pb_as_member_set(d.db, "other", outsider.id, PB_ROLE_ADMIN, &err) == 0);
    PB_REQUIRE(pb_as_member_set(d.db, "acme", outsider.id, PB_ROLE_MEMBER, &err) == 0);
    PB_REQUIRE(mk_key(d.db, "admin@example.com", "keys:admin", 0, akey) == 0);
    PB_REQUIRE(mk_key(d.db, "outsider@example.com", "keys:admin", 0, okey) == 0);
    PB_REQUIRE(mk_key(d.db, "member@example.com", "*", 0, mkey) == 0);
    pb_oauth_app oa;
    memset(&oa, 0, sizeof oa);
    pb_strlcpy(oa.name, "plane", sizeof oa.name);
    pb_strlcpy(oa.client_id, "cid", sizeof oa.client_id);
    pb_strlcpy(oa.client_secret, "client-secret-value-123", sizeof oa.client_secret);
    pb_strlcpy(oa.authorize_url, "https://plane.example/auth/o/authorize-app/", sizeof oa.authorize_url);
    pb_strlcpy(oa.token_url, "http://127.0.0.1:1/token", sizeof oa.token_url);
    pb_strlcpy(oa.redirect_uri, "https://hub.example/oauth/plane/callback", sizeof oa.redirect_uri);
    PB_REQUIRE(pb_oauth_app_save(d.app.vault, &oa, &err) == 0);

    /* the old public initiation is gone */
    PB_REQUIRE(req(d.port, "GET", "/oauth/plane/authorize?workspace=acme", NULL, NULL, NULL, &r) == 0);
    PB_CHECK(r.status == 404 || r.status == 405);
    PB_CHECK(hdr(&r, "Location", path, sizeof path) == NULL);
    hres_free(&r);

    const char *ws_path = "/admin/v1/oauth/apps/plane/workspaces/acme/authorize";
    PB_REQUIRE(req(d.port, "POST", ws_path, NULL, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 401);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", ws_path, mkey, NULL, NULL, &r) == 0); /* member: keys:admin capped */
    PB_CHECK_EQ_INT(r.status, 403);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", ws_path, okey, NULL, NULL, &r) == 0); /* admin elsewhere only */
    PB_CHECK_EQ_INT(r.status, 403);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "authorize_url") == NULL);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/plane/authorize", okey, NULL, "{\"workspace\":\"acme\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/plane/authorize", akey, NULL, "{}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 400);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/nope/authorize", akey, NULL, "{\"workspace\":\"acme\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 404);
    hres_free(&r);

    PB_REQUIRE(req(d.port, "POST", ws_path, akey, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"authorize_url\":\"https://plane.example/auth/o/authorize-app/?") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "code_challenge_method=S256") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "&state=") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "\"workspace\":\"acme\"") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&r.body), "client-secret") == NULL);
    PB_CHECK(hdr(&r, "Cache-Control", path, sizeof path) && strcmp(path, "no-store") == 0);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/oauth/plane/authorize?workspace=acme", akey, NULL, "{}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    hres_free(&r);

    /* a forged state at the public callback: 400, nothing stored */
    PB_REQUIRE(req(d.port, "GET", "/oauth/plane/callback?code=x&state=A0kIv-6NLMDAXRB-yqH6aJeNrPsWQ42fhpnlvpukXBA",
                   NULL, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 400);
    hres_free(&r);
    char *tok = NULL;
    char vn[256];
    pb_oauth_user_name("plane", "acme", vn, sizeof vn);
    PB_CHECK_EQ_INT(pb_vault_get(d.app.vault, vn, &tok, NULL, &err), PB_ENOTFOUND);
    pb_vault_secret_free(tok);
    daemon_down(&d);
}

/* Review (MEDIUM): failed authentications are limited per client address (429 with
 * Retry-After and Plane's body), and a key created through the admin API is accepted at
 * once even if it had been presented (and cached as unknown) before. */
PB_STORE_TEST(auth_http_review_failed_auth_limit_and_negative_cache)
{
    daemon_t d;
    pb_user_row admin;
    char key[PB_KEY_LEN + 1], bad[PB_KEY_LEN + 1], v[64];
    hres r;
    PB_REQUIRE(daemon_up(&d, 100000) == 0);
    PB_REQUIRE(seed_admin(d.db, &admin) == 0);
    PB_REQUIRE(mk_key(d.db, "admin@example.com", "keys:admin,search:read", 0, key) == 0);

    /* presented before it exists: cached as unknown */
    char later[PB_KEY_LEN + 1];
    pb_apikey_generate(later, sizeof later);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", later, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403);
    hres_free(&r);
    {
        pb_key_row k, mine;
        char h[65];
        pb_apikey_hash(key, strlen(key), h);
        PB_REQUIRE(pb_as_key_get_by_hash(d.db, h, &mine, NULL) == 0);
        memset(&k, 0, sizeof k);
        pb_uuid4(k.id);
        pb_strlcpy(k.user_id, mine.user_id, sizeof k.user_id);
        memcpy(k.prefix, later, PB_KEY_PREFIX_LEN);
        pb_apikey_hash(later, strlen(later), k.key_hash);
        pb_strlcpy(k.scopes, "keys:admin", sizeof k.scopes);
        k.created_at = pb_now_us();
        PB_REQUIRE(pb_as_key_insert(d.db, &k, NULL) == 0); /* as another process would */
    }
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", later, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 403); /* still the cached verdict (at most 60 s) */
    hres_free(&r);
    /* creating a key through this daemon drops the negative cache */
    PB_REQUIRE(req(d.port, "POST", "/admin/v1/keys", key, NULL, "{\"scopes\":\"search:read\"}", &r) == 0);
    PB_CHECK_EQ_INT(r.status, 201);
    hres_free(&r);
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", later, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    hres_free(&r);

    /* 30 failures from 127.0.0.1 (two were spent above on `later`), then 429 */
    int refused = 0, throttled_at = -1;
    for (int i = 0; i < 40 && throttled_at < 0; i++) {
        pb_apikey_generate(bad, sizeof bad);
        PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", bad, NULL, NULL, &r) == 0);
        if (r.status == 403) refused++;
        if (r.status == 429) {
            throttled_at = i;
            PB_CHECK_STR(pb_buf_cstr(&r.body), "{\"error_code\":5900,\"error_message\":\"RATE_LIMIT_EXCEEDED\"}");
            PB_CHECK(hdr(&r, "Retry-After", v, sizeof v) && atoi(v) >= 1 && atoi(v) <= 2);
        }
        hres_free(&r);
    }
    PB_CHECK_EQ_INT(refused, 28);
    PB_CHECK_EQ_INT(throttled_at, 28);
    /* the validated key still works from the same address */
    PB_REQUIRE(req(d.port, "GET", "/admin/v1/keys", key, NULL, NULL, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    hres_free(&r);
    daemon_down(&d);
}
