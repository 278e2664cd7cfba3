/* HTTP server: routing, limits, request ids, hooks, metrics (through pb_server_handle_raw)
 * and the real network path (libcurl against a server on 127.0.0.1 port 0), including
 * draining an in-flight request on stop; deferred responses (pb_resp_defer), alone and
 * answered by the ingest enqueuer's committer (pb_enqueuer_submit_async). */
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/ops_routes.h"
#include "http/server.h"
#include "ingest/enqueue.h"
#include "store/db.h"
#include "test.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

typedef struct raw_resp {
    int status;
    pb_buf out;
} raw_resp;

static int raw(pb_server *s, const char *method, const char *url, const char *const *hdrs, const char *body,
               raw_resp *rr)
{
    pb_buf_init(&rr->out, 0);
    rr->status = pb_server_handle_raw(s, method, url, hdrs, body, body ? strlen(body) : 0, &rr->out);
    return rr->status;
}

/* Value of a response header in serialized raw output (copied into out). */
static const char *resp_hdr(const raw_resp *rr, const char *name, char *out, size_t outlen)
{
    const char *p = pb_buf_cstr(&rr->out);
    const char *end = strstr(p, "\r\n\r\n");
    size_t nl = strlen(name);
    for (const char *l = strstr(p, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 2;
            const char *e = strstr(v, "\r\n");
            size_t n = (size_t)(e - v);
            if (n >= outlen) n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static const char *resp_body(const raw_resp *rr)
{
    const char *p = strstr(pb_buf_cstr(&rr->out), "\r\n\r\n");
    return p ? p + 4 : "";
}

static int h_echo(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_buf *b = pb_resp_body(resp);
    const char *names[] = {"slug", "project_id", "x", "y", "empty"};
    pb_buf_printf(b, "{\"route\":\"%s\",\"path\":", (const char *)ctx);
    pb_buf_json_str(b, pb_req_path(req));
    for (size_t i = 0; i < 2; i++) {
        const char *v = pb_req_param(req, names[i]);
        pb_buf_printf(b, ",\"%s\":", names[i]);
        if (v) pb_buf_json_str(b, v);
        else pb_buf_puts(b, "null");
    }
    for (size_t i = 2; i < 5; i++) {
        const char *v = pb_req_query(req, names[i]);
        pb_buf_printf(b, ",\"q_%s\":", names[i]);
        if (v) pb_buf_json_str(b, v);
        else pb_buf_puts(b, "null");
    }
    size_t n;
    pb_req_body(req, &n);
    pb_buf_printf(b, ",\"body\":%zu,\"id\":", n);
    pb_buf_json_str(b, pb_req_id(req));
    pb_buf_puts(b, "}");
    pb_resp_status(resp, 200);
    return 0;
}

static int h_fail_notfound(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_buf_puts(pb_resp_body(resp), "partial");
    return PB_ENOTFOUND;
}

static int h_auth_echo(pb_req *req, pb_resp *resp, void *ctx)
{
    const char *who = pb_req_auth(req);
    pb_resp_error(resp, 200, "who", "%s", who ? who : "nobody");
    return 0;
}

typedef struct hook_state {
    int auth_calls, done_calls, last_status;
    int64_t last_latency;
    char last_path[128];
} hook_state;

static int auth_hook(pb_req *req, pb_resp *resp, const pb_route *route, void *ctx)
{
    hook_state *hs = ctx;
    hs->auth_calls++;
    const char *key = pb_req_header(req, "X-Api-Key");
    if (!key || strcmp(key, "good-key") != 0) {
        pb_resp_error(resp, 401, "detail", "invalid api key");
        return 1;
    }
    pb_req_set_auth(req, strdup("alice"), free);
    return 0;
}

static void done_hook(pb_req *req, int status, int64_t latency_us, void *ctx)
{
    hook_state *hs = ctx;
    hs->done_calls++;
    hs->last_status = status;
    hs->last_latency = latency_us;
    pb_strlcpy(hs->last_path, pb_req_path(req), sizeof hs->last_path);
}

static char n_first[] = "first", n_second[] = "second", n_shadowed[] = "shadowed", n_post[] = "post",
            n_patch[] = "patch", n_raw[] = "raw";

static pb_server *mk_server(const pb_server_options *o)
{
    pb_server *s = NULL;
    pb_error err = {0};
    pb_server_options def = {.listen = "127.0.0.1:0", .threads = 2};
    if (pb_server_new(o ? o : &def, &s, &err) != 0) return NULL;
    const pb_route routes[] = {
        {"GET", "/api/v1/workspaces/{slug}/projects/{project_id}/", NULL, PB_ROUTE_PUBLIC, h_echo, n_first},
        {"GET", "/api/v1/workspaces/{slug}/projects/{project_id}/", NULL, PB_ROUTE_PUBLIC, h_echo, n_second},
        {"GET", "/api/v1/workspaces/{slug}/projects/special/", NULL, PB_ROUTE_PUBLIC, h_echo, n_shadowed},
        {"POST", "/api/v1/workspaces/{slug}/items/", NULL, PB_ROUTE_PUBLIC, h_echo, n_post},
        {"PATCH", "/api/v1/workspaces/{slug}/items/", NULL, PB_ROUTE_PUBLIC, h_echo, n_patch},
        {"POST", "/hooks/raw", NULL, PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY, h_echo, n_raw},
        {"GET", "/fail", NULL, PB_ROUTE_PUBLIC, h_fail_notfound, NULL},
        {"GET", "/private/", "items:read", 0, h_auth_echo, NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (pb_server_route(s, &routes[i]) != 0) return NULL;
    if (pb_ops_routes_register(s, NULL, &err) != 0) return NULL;
    return s;
}

/* ---------------------------------------------------------------- routing */

PB_TEST(http_route_params_and_query)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/my%20ws/projects/a%2Fb/?x=1&x=2&y=a+b%21&empty", NULL, NULL, &rr),
                    200);
    const char *b = resp_body(&rr);
    PB_CHECK(strstr(b, "\"route\":\"first\"") != NULL); /* registration order */
    PB_CHECK(strstr(b, "\"slug\":\"my ws\"") != NULL);
    PB_CHECK(strstr(b, "\"project_id\":\"a/b\"") != NULL); /* %2F stays inside the segment */
    PB_CHECK(strstr(b, "\"path\":\"/api/v1/workspaces/my ws/projects/a/b/\"") != NULL);
    PB_CHECK(strstr(b, "\"q_x\":\"1\"") != NULL); /* first wins */
    PB_CHECK(strstr(b, "\"q_y\":\"a b!\"") != NULL);
    PB_CHECK(strstr(b, "\"q_empty\":\"\"") != NULL);
    pb_buf_free(&rr.out);

    /* Literal segment later in the table is shadowed by the earlier parameter route. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/w/projects/special/", NULL, NULL, &rr), 200);
    PB_CHECK(strstr(resp_body(&rr), "\"route\":\"first\"") != NULL);
    pb_buf_free(&rr.out);

    /* Empty parameter segment does not match. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces//projects/p/", NULL, NULL, &rr), 404);
    pb_buf_free(&rr.out);
    /* Malformed escapes and encoded NUL never reach a handler. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/%zz/projects/p/", NULL, NULL, &rr), 400);
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/a%00/projects/p/", NULL, NULL, &rr), 400);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz?x=%4", NULL, NULL, &rr), 400);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "healthz", NULL, NULL, &rr), 400);
    pb_buf_free(&rr.out);

    /* HEAD is served by GET routes. */
    PB_CHECK_EQ_INT(raw(s, "HEAD", "/healthz", NULL, NULL, &rr), 200);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

PB_TEST(http_route_registration_rejects_bad_patterns)
{
    pb_server *s = NULL;
    PB_REQUIRE(pb_server_new(NULL, &s, NULL) == 0);
    pb_route r = {"GET", "no-slash", NULL, 0, h_echo, NULL};
    PB_CHECK_EQ_INT(pb_server_route(s, &r), PB_EINVAL);
    r.pattern = "/a/{}/";
    PB_CHECK_EQ_INT(pb_server_route(s, &r), PB_EINVAL);
    r.pattern = "/a/x{y}/";
    PB_CHECK_EQ_INT(pb_server_route(s, &r), PB_EINVAL);
    r.pattern = "/ok/{id}";
    r.method = "TRACE";
    PB_CHECK_EQ_INT(pb_server_route(s, &r), PB_EINVAL);
    r.method = "DELETE";
    PB_CHECK_EQ_INT(pb_server_route(s, &r), 0);
    size_t n = 0;
    const pb_route *all = pb_server_routes(s, &n);
    PB_CHECK_EQ_INT(n, 1);
    PB_CHECK_STR(all[0].pattern, "/ok/{id}");
    pb_server_free(s);
}

PB_TEST(http_trailing_slash_301_keeps_query)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    char loc[256];
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/w%20x/projects/p?per_page=10&cursor=10:1:0", NULL, NULL, &rr),
                    301);
    PB_CHECK_STR(resp_hdr(&rr, "Location", loc, sizeof loc), "/api/v1/workspaces/w%20x/projects/p/?per_page=10&cursor=10:1:0");
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/w/projects/p", NULL, NULL, &rr), 301);
    PB_CHECK_STR(resp_hdr(&rr, "Location", loc, sizeof loc), "/api/v1/workspaces/w/projects/p/");
    pb_buf_free(&rr.out);
    /* Only GET redirects; a POST without the slash is simply not found. */
    const char *h[] = {"Content-Type", "application/json", NULL};
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items", h, "{}", &rr), 404);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

PB_TEST(http_404_405)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    char allow[128];
    PB_CHECK_EQ_INT(raw(s, "GET", "/nope", NULL, NULL, &rr), 404);
    PB_CHECK_STR(resp_body(&rr), "{\"error\":\"not found\"}");
    char ct[64];
    PB_CHECK_STR(resp_hdr(&rr, "Content-Type", ct, sizeof ct), "application/json");
    pb_buf_free(&rr.out);

    PB_CHECK_EQ_INT(raw(s, "DELETE", "/api/v1/workspaces/w/items/", NULL, NULL, &rr), 405);
    PB_CHECK_STR(resp_hdr(&rr, "Allow", allow, sizeof allow), "POST, PATCH");
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);

    PB_CHECK_EQ_INT(raw(s, "POST", "/healthz", NULL, NULL, &rr), 405);
    PB_CHECK_STR(resp_hdr(&rr, "Allow", allow, sizeof allow), "GET, HEAD");
    pb_buf_free(&rr.out);

    /* Unsupported method anywhere: 405 with the server's methods. */
    PB_CHECK_EQ_INT(raw(s, "TRACE", "/healthz", NULL, NULL, &rr), 405);
    PB_CHECK(resp_hdr(&rr, "Allow", allow, sizeof allow) != NULL);
    PB_CHECK(strstr(allow, "GET") != NULL && strstr(allow, "PATCH") != NULL);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

/* ---------------------------------------------------------------- limits */

PB_TEST(http_limits_413_414_431_415)
{
    pb_log_level = PB_LOG_OFF;
    pb_server_options o = {.listen = "127.0.0.1:0", .max_body = 1024, .max_url = 256, .max_headers = 8,
                           .max_header_bytes = 512};
    pb_server *s = mk_server(&o);
    PB_REQUIRE(s);
    raw_resp rr;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    /* 413 from Content-Length, and from a streamed body without one. */
    const char *cl[] = {"Content-Type", "application/json", "Content-Length", "2999", NULL};
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", cl, big, &rr), 413);
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);
    const char *chunked[] = {"Content-Type", "application/json", "Transfer-Encoding", "chunked", NULL};
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", chunked, big, &rr), 413);
    pb_buf_free(&rr.out);
    big[1024] = '\0'; /* exactly max_body is allowed */
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", chunked, big, &rr), 200);
    PB_CHECK(strstr(resp_body(&rr), "\"body\":1024") != NULL);
    pb_buf_free(&rr.out);

    /* 414 */
    char url[400] = "/healthz?q=";
    memset(url + 11, 'x', 250);
    url[261] = '\0';
    PB_CHECK_EQ_INT(raw(s, "GET", url, NULL, NULL, &rr), 414);
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);
    url[200] = '\0';
    PB_CHECK_EQ_INT(raw(s, "GET", url, NULL, NULL, &rr), 200);
    pb_buf_free(&rr.out);

    /* 431: too many headers, then too many header bytes. */
    const char *many[] = {"a", "1", "b", "1", "c", "1", "d", "1", "e", "1", "f", "1", "g", "1", "h", "1", "i", "1", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", many, NULL, &rr), 431);
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);
    char longv[600];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *fat[] = {"X-Fat", longv, NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", fat, NULL, &rr), 431);
    pb_buf_free(&rr.out);

    /* 415 on JSON routes; raw-body routes take anything. */
    const char *txt[] = {"Content-Type", "text/plain", NULL};
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", txt, "hello", &rr), 415);
    PB_CHECK(strstr(resp_body(&rr), "\"error\"") != NULL);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", NULL, "{}", &rr), 415);
    pb_buf_free(&rr.out);
    const char *jsonp[] = {"Content-Type", "Application/JSON; charset=utf-8", NULL};
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", jsonp, "{}", &rr), 200);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "POST", "/hooks/raw", txt, "hello", &rr), 200);
    pb_buf_free(&rr.out);
    /* No body, no content type needed. */
    PB_CHECK_EQ_INT(raw(s, "POST", "/api/v1/workspaces/w/items/", NULL, NULL, &rr), 200);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

/* ---------------------------------------------------------------- request ids, hooks, errors */

PB_TEST(http_request_id_echo_and_generation)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    char id[128], id2[128];
    const char *good[] = {"X-Request-Id", "client-req_1.2", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", good, NULL, &rr), 200);
    PB_CHECK_STR(resp_hdr(&rr, "X-Request-Id", id, sizeof id), "client-req_1.2");
    pb_buf_free(&rr.out);

    const char *bad[] = {"X-Request-Id", "bad id\"<script>", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", bad, NULL, &rr), 200);
    PB_REQUIRE(resp_hdr(&rr, "X-Request-Id", id, sizeof id));
    PB_CHECK(strcmp(id, "bad id\"<script>") != 0 && strlen(id) > 8);
    pb_buf_free(&rr.out);

    char longid[80];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    const char *toolong[] = {"X-Request-Id", longid, NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", toolong, NULL, &rr), 200);
    PB_REQUIRE(resp_hdr(&rr, "X-Request-Id", id2, sizeof id2));
    PB_CHECK(strcmp(id2, longid) != 0);
    PB_CHECK(strcmp(id2, id) != 0); /* generated ids differ */
    pb_buf_free(&rr.out);
    longid[64] = '\0'; /* 64 is still accepted */
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", toolong, NULL, &rr), 200);
    PB_CHECK_STR(resp_hdr(&rr, "X-Request-Id", id2, sizeof id2), longid);
    pb_buf_free(&rr.out);

    /* The handler sees the same id. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/api/v1/workspaces/w/projects/p/", good, NULL, &rr), 200);
    PB_CHECK(strstr(resp_body(&rr), "\"id\":\"client-req_1.2\"") != NULL);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

PB_TEST(http_auth_hook_and_done_hook)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    hook_state hs;
    memset(&hs, 0, sizeof hs);
    raw_resp rr;
    /* Without an auth hook, non-public routes run. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/private/", NULL, NULL, &rr), 200);
    pb_buf_free(&rr.out);

    pb_server_set_auth_hook(s, auth_hook, &hs);
    pb_server_set_done_hook(s, done_hook, &hs);
    PB_CHECK_EQ_INT(raw(s, "GET", "/private/", NULL, NULL, &rr), 401);
    PB_CHECK_STR(resp_body(&rr), "{\"detail\":\"invalid api key\"}");
    PB_CHECK_EQ_INT(hs.auth_calls, 1);
    PB_CHECK_EQ_INT(hs.done_calls, 1);
    PB_CHECK_EQ_INT(hs.last_status, 401);
    pb_buf_free(&rr.out);

    const char *key[] = {"x-api-key", "good-key", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/private/", key, NULL, &rr), 200);
    PB_CHECK_STR(resp_body(&rr), "{\"who\":\"alice\"}");
    PB_CHECK_EQ_INT(hs.auth_calls, 2);
    pb_buf_free(&rr.out);

    /* Public routes skip the hook; the done hook still sees every request, errors included. */
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", NULL, NULL, &rr), 200);
    PB_CHECK_EQ_INT(hs.auth_calls, 2);
    PB_CHECK_EQ_INT(hs.done_calls, 3);
    PB_CHECK_STR(hs.last_path, "/healthz");
    PB_CHECK(hs.last_latency >= 0);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/missing", NULL, NULL, &rr), 404);
    PB_CHECK_EQ_INT(hs.done_calls, 4);
    PB_CHECK_EQ_INT(hs.last_status, 404);
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

PB_TEST(http_handler_error_code_maps_to_status)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    PB_CHECK_EQ_INT(raw(s, "GET", "/fail", NULL, NULL, &rr), 404);
    PB_CHECK_STR(resp_body(&rr), "{\"error\":\"not found\"}");
    pb_buf_free(&rr.out);
    pb_server_free(s);
}

PB_TEST(http_access_log_has_no_query)
{
    char path[512];
    snprintf(path, sizeof path, "%s/log", pb_test_tmpdir());
    FILE *fp = fopen(path, "w+");
    PB_REQUIRE(fp);
    pb_log_set_output(fp);
    pb_log_level = PB_LOG_INFO;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    raw_resp rr;
    const char *h[] = {"User-Agent", "unit/1", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz?token=sekrit-value", h, NULL, &rr), 200);
    pb_buf_free(&rr.out);
    pb_server_free(s);
    pb_log_set_output(NULL);
    fflush(fp);
    rewind(fp);
    char line[4096] = "";
    size_t n = fread(line, 1, sizeof line - 1, fp);
    line[n] = '\0';
    fclose(fp);
    PB_CHECK(strstr(line, "\"msg\":\"http\"") != NULL);
    PB_CHECK(strstr(line, "\"path\":\"/healthz\"") != NULL);
    PB_CHECK(strstr(line, "\"status\":200") != NULL);
    PB_CHECK(strstr(line, "\"ua\":\"unit/1\"") != NULL);
    PB_CHECK(strstr(line, "\"duration_us\":") != NULL);
    PB_CHECK(strstr(line, "sekrit") == NULL);
}

/* ---------------------------------------------------------------- metrics */

static int is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

/* A strict-enough parser for the text exposition format: returns the number of samples,
 * or -(line number) of the first bad line. */
static int prom_parse(const char *text, int *n_families)
{
    int line_no = 0, samples = 0;
    *n_families = 0;
    const char *p = text;
    while (*p) {
        line_no++;
        const char *e = strchr(p, '\n');
        if (!e) return -line_no; /* every line ends with \n */
        char line[2048];
        size_t n = (size_t)(e - p);
        if (n >= sizeof line) return -line_no;
        memcpy(line, p, n);
        line[n] = '\0';
        p = e + 1;
        if (line[0] == '#') {
            char kw[8], name[256], rest[1024];
            if (sscanf(line, "# %7s %255s %1023[^\n]", kw, name, rest) < 2) return -line_no;
            if (strcmp(kw, "TYPE") == 0) {
                (*n_families)++;
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") &&
                    strcmp(rest, "summary") && strcmp(rest, "untyped"))
                    return -line_no;
            } else if (strcmp(kw, "HELP") != 0) {
                return -line_no;
            }
            continue;
        }
        const char *c = line;
        if (!is_name_char(*c, 1)) return -line_no;
        while (is_name_char(*c, 0)) c++;
        if (*c == '{') {
            c++;
            while (*c != '}') {
                if (!is_name_char(*c, 1)) return -line_no;
                while (is_name_char(*c, 0)) c++;
                if (*c++ != '=' || *c++ != '"') return -line_no;
                while (*c && *c != '"') c += (*c == '\\' && c[1]) ? 2 : 1;
                if (*c++ != '"') return -line_no;
                if (*c == ',') c++;
                else if (*c != '}') return -line_no;
            }
            c++;
        }
        if (*c++ != ' ') return -line_no;
        char *end;
        strtod(c, &end);
        if (end == c || (*end && *end != ' ')) return -line_no;
        samples++;
    }
    return samples;
}

PB_TEST(http_metrics_exposition_parses)
{
    pb_log_level = PB_LOG_OFF;
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    static const char *const lbl[] = {"kind", NULL};
    pb_metric *m = pb_metric_counter("planebridge_test_things_total", "Things with \"quotes\" \\ and\nlines.", lbl);
    PB_REQUIRE(m);
    const char *v[] = {"we\"ird\\va\nlue"};
    pb_series_inc(pb_metric_series(m, v), 3);
    /* Same name, different kind: refused. */
    PB_CHECK(pb_metric_gauge("planebridge_test_things_total", "x", lbl) == NULL);
    PB_CHECK(pb_metric_counter("bad name", "x", NULL) == NULL);

    raw_resp rr;
    PB_CHECK_EQ_INT(raw(s, "GET", "/healthz", NULL, NULL, &rr), 200);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/nope", NULL, NULL, &rr), 404);
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/metrics", NULL, NULL, &rr), 200);
    char ct[128];
    PB_CHECK_STR(resp_hdr(&rr, "Content-Type", ct, sizeof ct), "text/plain; version=0.0.4; charset=utf-8");
    const char *body = resp_body(&rr);
    int fam = 0;
    int samples = prom_parse(body, &fam);
    if (samples <= 0) fprintf(stderr, "bad exposition at line %d:\n%s\n", -samples, body);
    PB_CHECK(samples > 10);
    PB_CHECK(fam >= 4);
    PB_CHECK(strstr(body, "planebridge_http_requests_total{method=\"GET\",class=\"2xx\"} ") != NULL);
    PB_CHECK(strstr(body, "planebridge_http_requests_total{method=\"GET\",class=\"4xx\"} ") != NULL);
    PB_CHECK(strstr(body, "# TYPE planebridge_http_request_duration_seconds histogram") != NULL);
    PB_CHECK(strstr(body, "planebridge_http_request_duration_seconds_bucket{le=\"+Inf\"} ") != NULL);
    /* The /metrics request itself is in flight while rendering. */
    PB_CHECK(strstr(body, "planebridge_http_requests_in_flight 1\n") != NULL);
    PB_CHECK(strstr(body, "planebridge_test_things_total{kind=\"we\\\"ird\\\\va\\nlue\"} 3\n") != NULL);
    pb_buf_free(&rr.out);

    /* Histogram buckets are cumulative and _count equals the +Inf bucket. */
    static const double bk[] = {1, 2, 5};
    pb_series *h = pb_metric_series(pb_metric_histogram("planebridge_test_hist", "h", NULL, bk, 3), NULL);
    PB_REQUIRE(h);
    pb_series_observe(h, 0.5);
    pb_series_observe(h, 2);
    pb_series_observe(h, 100);
    pb_buf out;
    pb_buf_init(&out, 0);
    PB_CHECK_EQ_INT(pb_metrics_render(&out), 0);
    const char *t = pb_buf_cstr(&out);
    PB_CHECK(strstr(t, "planebridge_test_hist_bucket{le=\"1\"} 1\n") != NULL);
    PB_CHECK(strstr(t, "planebridge_test_hist_bucket{le=\"2\"} 2\n") != NULL);
    PB_CHECK(strstr(t, "planebridge_test_hist_bucket{le=\"5\"} 2\n") != NULL);
    PB_CHECK(strstr(t, "planebridge_test_hist_bucket{le=\"+Inf\"} 3\n") != NULL);
    PB_CHECK(strstr(t, "planebridge_test_hist_sum 102.5\n") != NULL);
    PB_CHECK(strstr(t, "planebridge_test_hist_count 3\n") != NULL);
    pb_buf_free(&out);
    pb_server_free(s);
}

/* ---------------------------------------------------------------- network path */

typedef struct cbuf {
    char data[8192];
    size_t len;
} cbuf;

static size_t cb_write(char *p, size_t sz, size_t n, void *ud)
{
    cbuf *b = ud;
    size_t t = sz * n;
    size_t room = sizeof b->data - 1 - b->len;
    size_t c = t < room ? t : room;
    memcpy(b->data + b->len, p, c);
    b->len += c;
    b->data[b->len] = '\0';
    return t;
}

typedef struct http_res {
    long status;
    cbuf body, hdrs;
} http_res;

static int fetch(const char *url, const char *method, struct curl_slist *hdrs, const char *body, size_t body_len,
                 http_res *res)
{
    memset(res, 0, sizeof *res);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cb_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &res->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, cb_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &res->hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (method) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static int hdr_has(const http_res *r, const char *needle)
{
    return strcasestr(r->hdrs.data, needle) != NULL;
}

PB_TEST(http_network_basics)
{
    pb_log_level = PB_LOG_OFF;
    curl_global_init(CURL_GLOBAL_ALL);
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    pb_error err = {0};
    PB_REQUIRE(pb_server_start(s, &err) == 0);
    int port = pb_server_port(s);
    PB_REQUIRE(port > 0);
    char url[20000];
    http_res r;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK_STR(r.body.data, "{\"status\":\"ok\"}");
    PB_CHECK(hdr_has(&r, "\r\nX-Request-Id: "));
    PB_CHECK(hdr_has(&r, "\r\nContent-Type: application/json"));

    struct curl_slist *h = curl_slist_append(NULL, "X-Request-Id: from-client-42");
    PB_REQUIRE(fetch(url, NULL, h, NULL, 0, &r) == 0);
    PB_CHECK(hdr_has(&r, "\r\nX-Request-Id: from-client-42\r\n"));
    curl_slist_free_all(h);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/workspaces/a%%2Fb/projects/p/?x=%%C3%%A9&x=2", port);
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(r.body.data, "\"slug\":\"a/b\"") != NULL);
    PB_CHECK(strstr(r.body.data, "\"q_x\":\"\xc3\xa9\"") != NULL);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/workspaces/w/projects/p?a=1", port);
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 301);
    PB_CHECK(hdr_has(&r, "\r\nLocation: /api/v1/workspaces/w/projects/p/?a=1\r\n"));

    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/workspaces/w/items/", port);
    PB_REQUIRE(fetch(url, "PUT", NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 405);
    PB_CHECK(hdr_has(&r, "\r\nAllow: POST, PATCH\r\n"));

    /* JSON POST, then 415, then 413 by Content-Length (2 MiB > default 1 MiB). */
    struct curl_slist *js = curl_slist_append(NULL, "Content-Type: application/json");
    PB_REQUIRE(fetch(url, "POST", js, "{\"a\":1}", 7, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    PB_CHECK(strstr(r.body.data, "\"body\":7") != NULL);
    struct curl_slist *tx = curl_slist_append(NULL, "Content-Type: text/plain");
    PB_REQUIRE(fetch(url, "POST", tx, "hello", 5, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 415);
    PB_CHECK(strstr(r.body.data, "\"error\"") != NULL);
    curl_slist_free_all(tx);
    size_t bigl = (size_t)2 << 20;
    char *big = malloc(bigl);
    PB_REQUIRE(big);
    memset(big, ' ', bigl);
    PB_REQUIRE(fetch(url, "POST", js, big, bigl, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 413);
    PB_CHECK(strstr(r.body.data, "\"error\"") != NULL);
    /* Chunked upload past the limit: not buffered, answered 413 at the end. */
    struct curl_slist *chunk = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"),
                                                 "Transfer-Encoding: chunked");
    PB_REQUIRE(fetch(url, "POST", chunk, big, bigl, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 413);
    curl_slist_free_all(chunk);
    free(big);
    curl_slist_free_all(js);

    /* 414 (over max_url, within MHD's buffer) and large-but-allowed headers. */
    int o = snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz?q=", port);
    memset(url + o, 'x', 9000);
    url[o + 9000] = '\0';
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 414);
    PB_CHECK(strstr(r.body.data, "\"error\"") != NULL);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    static char hv[40000];
    memcpy(hv, "X-Big: ", 7);
    memset(hv + 7, 'b', 20000);
    hv[20007] = '\0';
    struct curl_slist *bigh = curl_slist_append(NULL, hv);
    PB_REQUIRE(fetch(url, NULL, bigh, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200); /* 20 KB of headers is within the 32 KiB default */
    curl_slist_free_all(bigh);
    memset(hv + 7, 'b', 36000);
    hv[36007] = '\0';
    bigh = curl_slist_append(NULL, hv);
    PB_REQUIRE(fetch(url, NULL, bigh, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 431);
    PB_CHECK(strstr(r.body.data, "\"error\"") != NULL);
    curl_slist_free_all(bigh);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    int fam;
    PB_CHECK(prom_parse(r.body.data, &fam) > 0 || r.body.len == sizeof r.body.data - 1);

    pb_server_stop(s, 1000);
    pb_server_free(s);
}

PB_TEST(http_network_ipv6)
{
    pb_log_level = PB_LOG_OFF;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return; /* no IPv6 on this host: nothing to test */
    close(fd);
    pb_server_options o = {.listen = "[::1]:0", .threads = 1};
    pb_server *s = mk_server(&o);
    PB_REQUIRE(s);
    pb_error err = {0};
    if (pb_server_start(s, &err) != 0) {
        pb_server_free(s); /* ::1 not configured (container without IPv6) */
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "http://[::1]:%d/healthz", pb_server_port(s));
    http_res r;
    PB_REQUIRE(fetch(url, NULL, NULL, NULL, 0, &r) == 0);
    PB_CHECK_EQ_INT(r.status, 200);
    pb_server_free(s);
}

PB_TEST(http_listen_errors)
{
    pb_server *s = NULL;
    pb_server_options o = {.listen = "127.0.0.1:notaport"};
    PB_REQUIRE(pb_server_new(&o, &s, NULL) == 0);
    pb_error err = {0};
    PB_CHECK(pb_server_start(s, &err) != 0);
    PB_CHECK_STR(err.field, "listen");
    pb_server_free(s);

    /* Binding a port that is taken fails with a clear error. */
    pb_server_options a = {.listen = "127.0.0.1:0", .threads = 1};
    pb_server *s1 = NULL, *s2 = NULL;
    PB_REQUIRE(pb_server_new(&a, &s1, NULL) == 0);
    PB_REQUIRE(pb_server_start(s1, &err) == 0);
    char l[64];
    snprintf(l, sizeof l, "127.0.0.1:%d", pb_server_port(s1));
    pb_server_options b = {.listen = l, .threads = 1};
    PB_REQUIRE(pb_server_new(&b, &s2, NULL) == 0);
    memset(&err, 0, sizeof err);
    PB_CHECK(pb_server_start(s2, &err) != 0);
    PB_CHECK(err.code == PB_EIO);
    pb_server_free(s2);
    pb_server_free(s1);
}

/* Drain: a slow request in flight when stop begins completes with its full answer. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
} gate;

static int h_slow(pb_req *req, pb_resp *resp, void *ctx)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->released) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    pb_resp_json(resp, 200, "{\"slow\":\"done\"}");
    return 0;
}

typedef struct client_arg {
    char url[128];
    http_res res;
    int rc;
} client_arg;

static void *client_thread(void *p)
{
    client_arg *a = p;
    a->rc = fetch(a->url, NULL, NULL, NULL, 0, &a->res);
    return NULL;
}

typedef struct stop_arg {
    pb_server *s;
    _Atomic int done;
} stop_arg;

static void *stop_thread(void *p)
{
    stop_arg *a = p;
    pb_server_stop(a->s, 30000);
    a->done = 1;
    return NULL;
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

PB_TEST(http_stop_drains_in_flight_request)
{
    pb_log_level = PB_LOG_OFF;
    curl_global_init(CURL_GLOBAL_ALL);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    pb_route slow = {"GET", "/slow", NULL, PB_ROUTE_PUBLIC, h_slow, &g};
    PB_REQUIRE(pb_server_route(s, &slow) == 0);
    pb_error err = {0};
    PB_REQUIRE(pb_server_start(s, &err) == 0);
    int port = pb_server_port(s);

    client_arg ca;
    memset(&ca, 0, sizeof ca);
    snprintf(ca.url, sizeof ca.url, "http://127.0.0.1:%d/slow", port);
    pthread_t ct, st;
    PB_REQUIRE(pthread_create(&ct, NULL, client_thread, &ca) == 0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu); /* handler is running */
    pthread_mutex_unlock(&g.mu);

    stop_arg sa = {s, 0};
    PB_REQUIRE(pthread_create(&st, NULL, stop_thread, &sa) == 0);
    /* Stop quiesces first: wait (bounded) until new connections are refused. */
    int refused = 0;
    for (int i = 0; i < 5000 && !refused; i++) {
        if (!can_connect(port)) refused = 1;
        else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    PB_CHECK(refused);
    PB_CHECK(!sa.done); /* still draining: the handler has not been released */

    pthread_mutex_lock(&g.mu);
    g.released = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(ct, NULL);
    pthread_join(st, NULL);
    PB_CHECK_EQ_INT(ca.rc, 0);
    PB_CHECK_EQ_INT(ca.res.status, 200);
    PB_CHECK_STR(ca.res.body.data, "{\"slow\":\"done\"}");
    PB_CHECK(sa.done);
    pb_server_free(s);
}

/* ---------------------------------------------------------------- deferred responses */

#define DQ_MAX 128

/* Deferred requests handed from handlers to a finisher (the test thread or another one). */
typedef struct dq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pb_deferred *d[DQ_MAX];
    const char *n[DQ_MAX]; /* the request's query ?n=, read after the handler returned */
    int hold[DQ_MAX];      /* handler waits for its own finish before returning */
    int queued, taken;
    int finished[DQ_MAX];
    int go;                /* releases handlers blocked in "gate" mode */
    int bad_second_defer;
    _Atomic int done_calls, done_200;
} dq;

static void dq_init(dq *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
}

/* Modes by path: /defer (plain), /defer/hold (finish happens before the handler returns),
 * /defer/gate (handler returns only after q->go). */
static int h_defer(pb_req *req, pb_resp *resp, void *ctx)
{
    dq *q = ctx;
    const char *path = pb_req_path(req);
    int hold = strcmp(path, "/defer/hold") == 0, gatem = strcmp(path, "/defer/gate") == 0;
    pb_deferred *d = pb_resp_defer(resp);
    if (!d) return PB_EINTERNAL;
    pthread_mutex_lock(&q->mu);
    if (pb_resp_defer(resp) != NULL) q->bad_second_defer++;
    int i = q->queued++;
    q->d[i] = d;
    q->n[i] = pb_req_query(req, "n");
    q->hold[i] = hold;
    pthread_cond_broadcast(&q->cv);
    while (hold && !q->finished[i]) pthread_cond_wait(&q->cv, &q->mu);
    while (gatem && !q->go) pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
    return 0; /* no status: the finisher answers */
}

/* Waits until at least n requests have deferred. */
static void dq_wait(dq *q, int n)
{
    pthread_mutex_lock(&q->mu);
    while (q->queued < n) pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

/* Finishes deferred request i with 200 {"n":...} (or 503 + Retry-After when n is "busy"). */
static void dq_finish(dq *q, int i)
{
    pthread_mutex_lock(&q->mu);
    pb_deferred *d = q->d[i];
    char body[128];
    const char *n = q->n[i] ? q->n[i] : "";
    int busy = strcmp(n, "busy") == 0;
    snprintf(body, sizeof body, "{\"n\":\"%s\"}", n);
    pthread_mutex_unlock(&q->mu);
    if (busy) pb_deferred_header(d, "Retry-After", "1");
    pb_deferred_finish(d, busy ? 503 : 200, body);
    pthread_mutex_lock(&q->mu);
    q->finished[i] = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

typedef struct finisher_arg {
    dq *q;
    int count;   /* finish this many, as they arrive */
    int reverse; /* wait for all, then finish in reverse order */
} finisher_arg;

static void *finisher_thread(void *p)
{
    finisher_arg *a = p;
    if (a->reverse) {
        dq_wait(a->q, a->count);
        for (int i = a->count - 1; i >= 0; i--) dq_finish(a->q, i);
        return NULL;
    }
    for (int i = 0; i < a->count; i++) {
        dq_wait(a->q, i + 1);
        dq_finish(a->q, i);
    }
    return NULL;
}

static void defer_done_hook(pb_req *req, int status, int64_t latency_us, void *ctx)
{
    dq *q = ctx;
    q->done_calls++;
    if (status == 200) q->done_200++;
}

static pb_server *mk_defer_server(dq *q)
{
    pb_server *s = mk_server(NULL);
    if (!s) return NULL;
    const pb_route rs[] = {
        {"GET", "/defer", NULL, PB_ROUTE_PUBLIC, h_defer, q},
        {"GET", "/defer/hold", NULL, PB_ROUTE_PUBLIC, h_defer, q},
        {"GET", "/defer/gate", NULL, PB_ROUTE_PUBLIC, h_defer, q},
    };
    for (size_t i = 0; i < sizeof rs / sizeof *rs; i++)
        if (pb_server_route(s, &rs[i]) != 0) return NULL;
    pb_server_set_done_hook(s, defer_done_hook, q);
    return s;
}

PB_TEST(http_defer_raw_waits_for_finish)
{
    pb_log_level = PB_LOG_OFF;
    dq q;
    dq_init(&q);
    pb_server *s = mk_defer_server(&q);
    PB_REQUIRE(s);
    finisher_arg fa = {&q, 3, 0};
    pthread_t ft;
    PB_REQUIRE(pthread_create(&ft, NULL, finisher_thread, &fa) == 0);
    raw_resp rr;
    char v[64];
    const char *hid[] = {"X-Request-Id", "defer-raw-1", NULL};
    PB_CHECK_EQ_INT(raw(s, "GET", "/defer?n=one", hid, NULL, &rr), 200);
    PB_CHECK_STR(resp_body(&rr), "{\"n\":\"one\"}");
    PB_CHECK(resp_hdr(&rr, "X-Request-Id", v, sizeof v) && strcmp(v, "defer-raw-1") == 0);
    PB_CHECK(resp_hdr(&rr, "Content-Type", v, sizeof v) && strcmp(v, "application/json") == 0);
    pb_buf_free(&rr.out);
    /* finished by the other thread before the handler returns */
    PB_CHECK_EQ_INT(raw(s, "GET", "/defer/hold?n=two", NULL, NULL, &rr), 200);
    PB_CHECK_STR(resp_body(&rr), "{\"n\":\"two\"}");
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "GET", "/defer?n=busy", NULL, NULL, &rr), 503);
    PB_CHECK(resp_hdr(&rr, "Retry-After", v, sizeof v) && strcmp(v, "1") == 0);
    PB_CHECK(resp_hdr(&rr, "X-Request-Id", v, sizeof v) != NULL);
    pb_buf_free(&rr.out);
    pthread_join(ft, NULL);
    PB_CHECK_EQ_INT(q.bad_second_defer, 0);
    PB_CHECK_EQ_INT(q.done_calls, 3);
    PB_CHECK_EQ_INT(q.done_200, 2);
    pb_server_free(s);
}

typedef struct nclient {
    char url[160];
    http_res res;
    int rc;
} nclient;

static void *nclient_thread(void *p)
{
    nclient *a = p;
    a->rc = fetch(a->url, NULL, NULL, NULL, 0, &a->res);
    return NULL;
}

/* 64 requests on 2 worker threads are all deferred at once (the finisher starts only when
 * every one has deferred, so none can hold a worker thread), then answered in reverse. */
PB_TEST(http_defer_network_many_concurrent)
{
    pb_log_level = PB_LOG_OFF;
    curl_global_init(CURL_GLOBAL_ALL);
    enum { N = 64 };
    dq q;
    dq_init(&q);
    pb_server *s = mk_defer_server(&q);
    PB_REQUIRE(s);
    pb_error err = {0};
    PB_REQUIRE(pb_server_start(s, &err) == 0);
    int port = pb_server_port(s);
    static nclient cl[N];
    pthread_t ct[N], ft;
    for (int i = 0; i < N; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        snprintf(cl[i].url, sizeof cl[i].url, "http://127.0.0.1:%d/defer?n=c%d", port, i);
        PB_REQUIRE(pthread_create(&ct[i], NULL, nclient_thread, &cl[i]) == 0);
    }
    finisher_arg fa = {&q, N, 1};
    PB_REQUIRE(pthread_create(&ft, NULL, finisher_thread, &fa) == 0);
    for (int i = 0; i < N; i++) pthread_join(ct[i], NULL);
    pthread_join(ft, NULL);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"n\":\"c%d\"}", i);
        ok += cl[i].rc == 0 && cl[i].res.status == 200 && strcmp(cl[i].res.body.data, want) == 0 &&
              hdr_has(&cl[i].res, "\r\nX-Request-Id: ");
    }
    PB_CHECK_EQ_INT(ok, N);

    /* finish before the handler returns, and a 503 with a header, over the network */
    int base = q.queued;
    snprintf(cl[0].url, sizeof cl[0].url, "http://127.0.0.1:%d/defer/hold?n=h", port);
    snprintf(cl[1].url, sizeof cl[1].url, "http://127.0.0.1:%d/defer?n=busy", port);
    PB_REQUIRE(pthread_create(&ct[0], NULL, nclient_thread, &cl[0]) == 0);
    dq_wait(&q, base + 1);
    dq_finish(&q, base);
    pthread_join(ct[0], NULL);
    PB_CHECK_EQ_INT(cl[0].res.status, 200);
    PB_CHECK_STR(cl[0].res.body.data, "{\"n\":\"h\"}");
    PB_REQUIRE(pthread_create(&ct[1], NULL, nclient_thread, &cl[1]) == 0);
    dq_wait(&q, base + 2);
    dq_finish(&q, base + 1);
    pthread_join(ct[1], NULL);
    PB_CHECK_EQ_INT(cl[1].res.status, 503);
    PB_CHECK(hdr_has(&cl[1].res, "\r\nRetry-After: 1"));
    pb_server_stop(s, 5000);
    PB_CHECK_EQ_INT(q.done_calls, N + 2);
    PB_CHECK_EQ_INT(q.done_200, N + 1);
    PB_CHECK_EQ_INT(q.bad_second_defer, 0);
    pb_server_free(s);
}

typedef struct stop_arg2 {
    pb_server *s;
    int drain_ms;
    _Atomic int done;
} stop_arg2;

static void *stop_thread2(void *p)
{
    stop_arg2 *a = p;
    pb_server_stop(a->s, a->drain_ms);
    a->done = 1;
    return NULL;
}

/* Stop waits for deferred requests: one suspended before stop (finished during the drain,
 * past its 1 ms deadline), one whose handler is still running when stop begins (it defers
 * while stopping and is answered too). */
PB_TEST(http_defer_finish_during_stop)
{
    pb_log_level = PB_LOG_OFF;
    curl_global_init(CURL_GLOBAL_ALL);
    dq q;
    dq_init(&q);
    pb_server *s = mk_defer_server(&q);
    PB_REQUIRE(s);
    pb_error err = {0};
    PB_REQUIRE(pb_server_start(s, &err) == 0);
    int port = pb_server_port(s);
    nclient a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    snprintf(a.url, sizeof a.url, "http://127.0.0.1:%d/defer?n=a", port);
    snprintf(b.url, sizeof b.url, "http://127.0.0.1:%d/defer/gate?n=b", port);
    pthread_t ta, tb, st;
    PB_REQUIRE(pthread_create(&ta, NULL, nclient_thread, &a) == 0);
    dq_wait(&q, 1);
    PB_REQUIRE(pthread_create(&tb, NULL, nclient_thread, &b) == 0);
    dq_wait(&q, 2); /* b's handler has deferred and blocks on the gate */

    stop_arg2 sa = {s, 1, 0};
    PB_REQUIRE(pthread_create(&st, NULL, stop_thread2, &sa) == 0);
    int refused = 0;
    for (int i = 0; i < 5000 && !refused; i++) {
        if (!can_connect(port)) refused = 1;
        else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    PB_CHECK(refused);
    pthread_mutex_lock(&q.mu);
    q.go = 1; /* b's handler returns while the server is stopping */
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    PB_CHECK(!sa.done); /* a and b are unfinished: stop must still be waiting */
    dq_finish(&q, 0);
    PB_CHECK(!sa.done); /* b still unfinished */
    dq_finish(&q, 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_join(st, NULL);
    PB_CHECK(sa.done);
    PB_CHECK_EQ_INT(a.rc, 0);
    PB_CHECK_EQ_INT(a.res.status, 200);
    PB_CHECK_STR(a.res.body.data, "{\"n\":\"a\"}");
    PB_CHECK_EQ_INT(b.rc, 0);
    PB_CHECK_EQ_INT(b.res.status, 200);
    PB_CHECK_STR(b.res.body.data, "{\"n\":\"b\"}");
    PB_CHECK_EQ_INT(q.done_calls, 2);
    pb_server_free(s);
}

/* The webhook receiver's pattern: defer, submit to the group committer, answer from the
 * committer once the batch commit returned (200 / duplicate), 503 + Retry-After when the
 * queue is full or the enqueuer stops. */
typedef struct store_ctx {
    pb_enqueuer *q;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int submitted; /* handlers past their submit */
} store_ctx;

static void store_wait(store_ctx *sc, int n)
{
    pthread_mutex_lock(&sc->mu);
    while (sc->submitted < n) pthread_cond_wait(&sc->cv, &sc->mu);
    pthread_mutex_unlock(&sc->mu);
}

static void store_done(void *ctx, int rc, int duplicate)
{
    pb_deferred *d = ctx;
    if (rc) {
        pb_deferred_header(d, "Retry-After", "1");
        pb_deferred_finish(d, 503, "{\"error\":\"overloaded, retry later\"}");
        return;
    }
    pb_deferred_finish(d, 200, duplicate ? "{\"ok\":true,\"duplicate\":true}" : "{\"ok\":true,\"queued\":true}");
}

static int h_store(pb_req *req, pb_resp *resp, void *ctx)
{
    store_ctx *sc = ctx;
    size_t len = 0;
    const char *body = pb_req_body(req, &len);
    pb_queue_in job = {.key = pb_req_param(req, "key"), .source = "plane", .workspace = "acme",
                       .received_at = 1, .body = body, .body_len = len};
    pb_deferred *d = pb_resp_defer(resp);
    if (!d) return PB_EINTERNAL;
    if (pb_enqueuer_submit_async(sc->q, &job, store_done, d, NULL) != 0) store_done(d, PB_EBUSY, 0);
    pthread_mutex_lock(&sc->mu);
    sc->submitted++;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

typedef struct post_client {
    char url[160];
    http_res res;
    int rc;
} post_client;

static void *post_thread(void *p)
{
    post_client *a = p;
    a->rc = fetch(a->url, "POST", NULL, "{\"x\":1}", 7, &a->res);
    return NULL;
}

PB_STORE_TEST(http_defer_answered_by_group_commit)
{
    pb_log_level = PB_LOG_OFF;
    curl_global_init(CURL_GLOBAL_ALL);
    pb_db *db = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_db_open(pb_test_store_url(), &(pb_db_options){.pool_size = 8}, &db, &err) == 0);
    store_ctx sc = {NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    PB_REQUIRE(pb_enqueuer_new(db, &(pb_enqueuer_options){.max_pending = 1}, &sc.q, &err) == 0);
    pb_server *s = mk_server(NULL);
    PB_REQUIRE(s);
    pb_route rt = {"POST", "/store/{key}", NULL, PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY, h_store, &sc};
    PB_REQUIRE(pb_server_route(s, &rt) == 0);
    PB_REQUIRE(pb_server_start(s, &err) == 0);
    int port = pb_server_port(s);

    /* committer not running, one pending allowed: the first waits, the second gets 503 */
    post_client a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    snprintf(a.url, sizeof a.url, "http://127.0.0.1:%d/store/k-first", port);
    pthread_t ta;
    PB_REQUIRE(pthread_create(&ta, NULL, post_thread, &a) == 0);
    store_wait(&sc, 1);
    PB_CHECK_EQ_INT(pb_enqueuer_pending(sc.q), 1);
    snprintf(b.url, sizeof b.url, "http://127.0.0.1:%d/store/k-second", port);
    post_thread(&b);
    PB_CHECK_EQ_INT(b.res.status, 503);
    PB_CHECK(hdr_has(&b.res, "\r\nRetry-After: 1"));
    PB_REQUIRE(pb_enqueuer_start(sc.q, &err) == 0);
    pthread_join(ta, NULL);
    PB_CHECK_EQ_INT(a.res.status, 200);
    PB_CHECK_STR(a.res.body.data, "{\"ok\":true,\"queued\":true}");
    pb_enqueuer_stop(sc.q);
    pb_enqueuer_free(sc.q);

    /* a job still queued when the enqueuer stops is answered 503 */
    PB_REQUIRE(pb_enqueuer_new(db, NULL, &sc.q, &err) == 0);
    snprintf(a.url, sizeof a.url, "http://127.0.0.1:%d/store/k-stopped", port);
    PB_REQUIRE(pthread_create(&ta, NULL, post_thread, &a) == 0);
    store_wait(&sc, 3);
    pb_enqueuer_stop(sc.q);
    pthread_join(ta, NULL);
    PB_CHECK_EQ_INT(a.res.status, 503);
    PB_CHECK(hdr_has(&a.res, "\r\nRetry-After: 1"));
    pb_enqueuer_free(sc.q);

    /* many at once (each a distinct key, and every key twice): one answer per request */
    PB_REQUIRE(pb_enqueuer_new(db, &(pb_enqueuer_options){.max_batch = 16}, &sc.q, &err) == 0);
    PB_REQUIRE(pb_enqueuer_start(sc.q, &err) == 0);
    enum { N = 48 };
    static post_client cl[N];
    pthread_t ct[N];
    for (int i = 0; i < N; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        snprintf(cl[i].url, sizeof cl[i].url, "http://127.0.0.1:%d/store/k-%d", port, i % (N / 2));
        PB_REQUIRE(pthread_create(&ct[i], NULL, post_thread, &cl[i]) == 0);
    }
    int ok = 0, dup = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(ct[i], NULL);
        ok += cl[i].res.status == 200;
        dup += strstr(cl[i].res.body.data, "\"duplicate\":true") != NULL;
    }
    PB_CHECK_EQ_INT(ok, N);
    PB_CHECK_EQ_INT(dup, N / 2);
    int64_t commits = 0, rows = 0;
    pb_enqueuer_counts(sc.q, &commits, &rows);
    PB_CHECK_EQ_INT(rows, N / 2);

    /* the raw path waits for the committer's answer too */
    raw_resp rr;
    PB_CHECK_EQ_INT(raw(s, "POST", "/store/k-raw", NULL, "{}", &rr), 200);
    PB_CHECK_STR(resp_body(&rr), "{\"ok\":true,\"queued\":true}");
    pb_buf_free(&rr.out);
    PB_CHECK_EQ_INT(raw(s, "POST", "/store/k-raw", NULL, "{}", &rr), 200);
    PB_CHECK_STR(resp_body(&rr), "{\"ok\":true,\"duplicate\":true}");
    pb_buf_free(&rr.out);

    pb_server_stop(s, 5000);
    pb_enqueuer_stop(sc.q);
    pb_enqueuer_free(sc.q);
    pb_server_free(s);
    pb_db_free(db);
}
