/* fuzz_http: the HTTP request pipeline without sockets (pb_server_handle_raw).
 *
 * Input format (so seeds stay readable): line 1 = method, line 2 = request target, then
 * "Name: value" header lines up to an empty line, then the body (rest of the input).
 * Limits are small so the fuzzer reaches 413/414/431 quickly. */
#include "core/log.h"
#include "http/ops_routes.h"
#include "http/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_H 80

static int h_echo(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_buf *b = pb_resp_body(resp);
    const char *names[] = {"slug", "id", "per_page", "cursor", "q"};
    pb_buf_puts(b, "{\"p\":");
    pb_buf_json_str(b, pb_req_path(req));
    for (size_t i = 0; i < 2; i++) {
        const char *v = pb_req_param(req, names[i]);
        if (v) pb_buf_json_str(b, v);
    }
    for (size_t i = 2; i < 5; i++) {
        const char *v = pb_req_query(req, names[i]);
        if (v) pb_buf_json_str(b, v);
    }
    size_t n = 0;
    const char *body = pb_req_body(req, &n);
    if (n && body[n] != '\0') abort(); /* body must be NUL-terminated */
    pb_buf_puts(b, "}");
    if (pb_req_header(req, "X-Fail")) return PB_ECONFLICT;
    return 0;
}

static int auth(pb_req *req, pb_resp *resp, const pb_route *route, void *ctx)
{
    const char *k = pb_req_header(req, "X-Api-Key");
    if (!k || strcmp(k, "ok") != 0) return PB_EAUTH;
    pb_req_set_auth(req, strdup("x"), free);
    return 0;
}

static pb_server *srv;

static void setup(void)
{
    pb_log_level = PB_LOG_OFF;
    pb_server_options o = {.listen = "127.0.0.1:0", .max_body = 4096, .max_url = 512, .max_headers = 16,
                           .max_header_bytes = 2048};
    if (pb_server_new(&o, &srv, NULL)) abort();
    const pb_route routes[] = {
        {"GET", "/api/v1/workspaces/{slug}/projects/{id}/", "projects:read", 0, h_echo, NULL},
        {"PATCH", "/api/v1/workspaces/{slug}/projects/{id}/", "projects:write", 0, h_echo, NULL},
        {"POST", "/api/v1/workspaces/{slug}/issues/", NULL, PB_ROUTE_PUBLIC, h_echo, NULL},
        {"POST", "/hooks/plane", NULL, PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY, h_echo, NULL},
        {"DELETE", "/a/{x}/b/{y}/c/{z}", NULL, PB_ROUTE_PUBLIC, h_echo, NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (pb_server_route(srv, &routes[i])) abort();
    if (pb_ops_routes_register(srv, NULL, NULL)) abort();
    pb_server_set_auth_hook(srv, auth, NULL);
}

/* Next line of data[*off..size) into a malloc'd string; NULL at the end. */
static char *next_line(const uint8_t *data, size_t size, size_t *off)
{
    if (*off >= size) return NULL;
    const uint8_t *s = data + *off;
    const uint8_t *nl = memchr(s, '\n', size - *off);
    size_t n = nl ? (size_t)(nl - s) : size - *off;
    *off += n + (nl ? 1 : 0);
    char *l = malloc(n + 1);
    if (!l) abort();
    memcpy(l, s, n);
    l[n] = '\0';
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) setup();
    size_t off = 0;
    char *method = next_line(data, size, &off);
    char *url = next_line(data, size, &off);
    char *lines[MAX_H];
    const char *hdrs[2 * MAX_H + 1];
    int nl = 0, nh = 0;
    for (;;) {
        char *l = next_line(data, size, &off);
        if (!l) break;
        if (!*l || nl == MAX_H) {
            free(l);
            break;
        }
        lines[nl++] = l;
        char *colon = strchr(l, ':');
        if (!colon) continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ') v++;
        hdrs[2 * nh] = l;
        hdrs[2 * nh + 1] = v;
        nh++;
    }
    hdrs[2 * nh] = NULL;
    pb_buf out;
    pb_buf_init(&out, 0);
    int st = pb_server_handle_raw(srv, method ? method : "GET", url ? url : "/", hdrs,
                                  (const char *)data + (off < size ? off : size), off < size ? size - off : 0, &out);
    /* Invariants: a real status, a status line, and a request id on every answer. */
    if (st < 100 || st > 599) abort();
    if (strncmp(pb_buf_cstr(&out), "HTTP/1.1 ", 9) != 0 || !strstr(pb_buf_cstr(&out), "\r\nX-Request-Id: ")) abort();
    pb_buf_free(&out);
    for (int i = 0; i < nl; i++) free(lines[i]);
    free(method);
    free(url);
    return 0;
}
