/* server: planebridge's HTTP server (libmicrohttpd underneath), routing table, limits.
 *
 * Contract for handlers:
 *   - a handler runs on one of the server's worker threads, synchronously, and must fill
 *     the response (status, headers, body) before returning — or defer it (pb_resp_defer,
 *     below) and answer later from any thread;
 *   - every string it gets from pb_req_* is owned by the request and valid until the
 *     handler returns; copy what must outlive it;
 *   - the server enforces limits before a handler runs: URL length, header count and size,
 *     body size (413), method/route match (404/405); malformed input never reaches handlers;
 *   - routes may require a scope; the auth hook (set by the auth module) runs before such a
 *     handler and may answer itself (401/403/429), in which case the handler is not called;
 *   - a GET to a registered path lacking its trailing slash answers 301 to the slashed path.
 * Every response carries X-Request-Id; every request produces one JSON access-log line. */
#ifndef PB_HTTP_SERVER_H
#define PB_HTTP_SERVER_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_server pb_server;
typedef struct pb_req pb_req;
typedef struct pb_resp pb_resp;

typedef int (*pb_handler_fn)(pb_req *req, pb_resp *resp, void *ctx);

/* Route flags. */
#define PB_ROUTE_PUBLIC 0x1u /* no authentication (healthz, hooks with their own signatures) */
#define PB_ROUTE_RAW_BODY 0x2u /* do not require a JSON content type for bodies */

typedef struct pb_route {
    const char *method;  /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *pattern; /* "/api/v1/workspaces/{slug}/projects/{project_id}/" */
    const char *scope;   /* required API-key scope ("issues:read"), NULL for none */
    unsigned flags;
    pb_handler_fn fn;
    void *ctx;
} pb_route;

/* Auth hook: returns 0 to let the handler run, or non-zero after filling resp itself. */
typedef int (*pb_auth_hook_fn)(pb_req *req, pb_resp *resp, const pb_route *route, void *ctx);
/* Completion hook: called after every response (usage logging, metrics). */
typedef void (*pb_done_hook_fn)(pb_req *req, int status, int64_t latency_us, void *ctx);

typedef struct pb_server_options {
    const char *listen;     /* "127.0.0.1:8470" ("[::1]:8470" for IPv6); port 0 = any free port */
    int threads;            /* worker threads; 0 = number of CPUs */
    size_t max_body;        /* bytes; default 1 MiB */
    size_t max_url;         /* bytes; default 8 KiB */
    int max_headers;        /* count; default 64 */
    size_t max_header_bytes;/* total header bytes; default 32 KiB */
    int connection_timeout_s; /* idle connection timeout; default 30 */
} pb_server_options;

int pb_server_new(const pb_server_options *opt, pb_server **out, pb_error *err);
void pb_server_free(pb_server *s); /* NULL-safe; stops first if running */
/* Routes are matched in registration order; register before pb_server_start. The route
 * struct is copied; pattern/scope strings must outlive the server (use literals). */
int pb_server_route(pb_server *s, const pb_route *r);
const pb_route *pb_server_routes(pb_server *s, size_t *n);
void pb_server_set_auth_hook(pb_server *s, pb_auth_hook_fn fn, void *ctx);
void pb_server_set_done_hook(pb_server *s, pb_done_hook_fn fn, void *ctx);
/* Starts listening; returns once the socket is bound. */
int pb_server_start(pb_server *s, pb_error *err);
/* The bound port (useful with port 0). */
int pb_server_port(pb_server *s);
/* Stops accepting, lets in-flight requests finish (up to drain_ms), then stops. */
void pb_server_stop(pb_server *s, int drain_ms);

/* --- request --- */
const char *pb_req_method(const pb_req *r);
const char *pb_req_path(const pb_req *r);           /* decoded path, no query */
const char *pb_req_param(const pb_req *r, const char *name); /* {name} from the pattern, or NULL */
const char *pb_req_query(const pb_req *r, const char *name); /* decoded, or NULL */
const char *pb_req_header(const pb_req *r, const char *name); /* case-insensitive, or NULL */
const char *pb_req_body(const pb_req *r, size_t *len); /* raw bytes, NUL-terminated; "" if none */
const char *pb_req_client_ip(const pb_req *r);
const char *pb_req_id(const pb_req *r);
const pb_route *pb_req_route(const pb_req *r);
/* Per-request slot for the auth context (set by the auth hook, read by handlers). */
void pb_req_set_auth(pb_req *r, void *auth, void (*free_fn)(void *));
void *pb_req_auth(const pb_req *r);

/* --- response --- */
void pb_resp_status(pb_resp *w, int status);
int pb_resp_get_status(const pb_resp *w);
/* Adds a header (copied). Returns PB_EINVAL on CR/LF in name or value. */
int pb_resp_header(pb_resp *w, const char *name, const char *value);
/* The body buffer to write into (content type defaults to application/json). */
pb_buf *pb_resp_body(pb_resp *w);
void pb_resp_content_type(pb_resp *w, const char *ct); /* copied */
/* Sets status and a JSON body {"<key>": "<message>"} (message JSON-escaped and redacted).
 * Plane uses both "error" and "detail" as the key, so callers choose. */
void pb_resp_error(pb_resp *w, int status, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets status and a raw JSON body. */
void pb_resp_json(pb_resp *w, int status, const char *json);

/* --- deferred responses ---
 * A handler that will answer later (after a group commit, say) calls pb_resp_defer() and
 * returns 0 without setting a status; some thread later calls pb_deferred_finish() exactly
 * once. Until then the request stays in flight (pb_server_stop's drain waits for it, past its
 * deadline too: a deferred request is a handler still running), and the request's strings
 * (pb_req_* results, including the body) stay valid; the handler must not touch its pb_resp
 * or pb_req again after deferring. On the network path the connection is suspended
 * (libmicrohttpd suspend/resume) so the worker thread serves other connections meanwhile; in
 * pb_server_handle_raw the call waits for the finish. Access log, done hook, metrics and
 * X-Request-Id are exactly as for synchronous answers; latency includes the wait. */
typedef struct pb_deferred pb_deferred;
/* Returns the handle, or NULL when the response was already deferred. */
pb_deferred *pb_resp_defer(pb_resp *w);
/* Adds a response header (copied; rules of pb_resp_header). Only before pb_deferred_finish,
 * from the thread that will finish. */
int pb_deferred_header(pb_deferred *d, const char *name, const char *value);
/* Sets status and raw JSON body (NULL: an error body for status >= 400, "null" otherwise)
 * and releases the request to be answered. Any thread, exactly once; d is invalid after. */
void pb_deferred_finish(pb_deferred *d, int status, const char *json_body);

/* --- in-process entry (tests, fuzzing) ---
 * Runs one request through exactly the pipeline the network path uses (limits, routing,
 * query parsing, auth hook, handler, error mapping, done hook, access log, metrics) without
 * sockets. headers: name,value pairs, NULL-terminated (may be NULL). The server need not be
 * started. When out is non-NULL the response is appended to it as HTTP/1.1 text (status
 * line, headers, Content-Length, blank line, body). Returns the HTTP status, or a negative
 * PB_E* code (PB_EINVAL for NULL arguments, PB_ENOMEM). Thread-safe like the network path. */
int pb_server_handle_raw(pb_server *s, const char *method, const char *url, const char *const *headers,
                         const char *body, size_t body_len, pb_buf *out);

#endif
