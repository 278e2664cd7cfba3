/* client: planebridge's outbound HTTP client (libcurl underneath).
 *
 * One pb_http_client belongs to one thread at a time: it owns a curl multi handle (whose
 * connection cache gives keep-alive across requests) and a small pool of easy handles.
 * Give every worker thread its own client; never share one between threads.
 *
 * Safe defaults for talking to hosts we do not trust:
 *   - redirects are NOT followed (a 3xx is returned as is) unless follow_redirects is set;
 *   - only http and https are allowed, environment proxies are ignored;
 *   - a total timeout (default 15 s) and a connect timeout (default 5 s);
 *   - the response body is capped (default 1 MiB): either the request fails with
 *     PB_ETOOBIG, or (truncate_response) the first max_response bytes are kept, the rest is
 *     read and discarded, and `truncated` is set;
 *   - `resolve` pins host:port to an address (CURLOPT_RESOLVE) so a name checked by the
 *     caller (the SSRF guard) cannot be re-resolved to another address by curl.
 *
 * Ownership: a pb_http_response owns its buffers. Initialise it with pb_http_response_init()
 * before the first call; it may be reused across calls (its buffers are reset) and is
 * released with pb_http_response_free(). Request strings are borrowed for the call. */
#ifndef PB_HTTP_CLIENT_H
#define PB_HTTP_CLIENT_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_http_client pb_http_client;

typedef struct pb_http_header {
    const char *name;
    const char *value;
} pb_http_header;

typedef struct pb_http_request {
    const char *method;            /* NULL: POST when body is set, else GET */
    const char *url;
    const pb_http_header *headers; /* extra request headers */
    size_t nheaders;
    const char *body;              /* NULL for none */
    size_t body_len;
    int timeout_ms;                /* total; 0 = 15000 */
    int connect_timeout_ms;        /* 0 = 5000 */
    size_t max_response;           /* 0 = 1 MiB */
    int truncate_response;         /* 1: keep the first max_response bytes, do not fail */
    int follow_redirects;          /* 0 (default): a 3xx is the answer */
    const char *resolve;           /* "host:port:address" pin, or NULL */
} pb_http_request;

typedef struct pb_http_response {
    int rc;              /* 0, or PB_ENET / PB_ETIMEOUT / PB_ETOOBIG / PB_EINVAL / PB_ENOMEM */
    int status;          /* HTTP status of the final response, 0 when none was received */
    pb_buf body;         /* NUL-terminated */
    int truncated;       /* body was cut at max_response */
    pb_buf headers;      /* raw header lines of the final response ("Name: value\r\n"...) */
    int64_t duration_us; /* wall time of the exchange */
    char error[256];     /* transport error text when rc != 0 */
} pb_http_response;

typedef struct pb_http_options {
    int max_parallel;       /* easy handles kept for pb_http_do_many; 0 = 16 */
    const char *user_agent; /* default "planebridge/<version>"; copied */
} pb_http_options;

/* Initialises libcurl once per process (thread-safe; called by pb_http_client_new). */
int pb_http_global_init(void);

int pb_http_client_new(const pb_http_options *opt, pb_http_client **out, pb_error *err);
void pb_http_client_free(pb_http_client *c); /* NULL-safe */

/* Performs one request. Returns resp->rc (0 when an HTTP answer of any status came back). */
int pb_http_do(pb_http_client *c, const pb_http_request *req, pb_http_response *resp);
/* Performs n requests concurrently (up to max_parallel at a time) over the client's
 * connection cache. Each resps[i] gets its own outcome; returns 0 unless the client itself
 * failed (PB_ENOMEM). */
int pb_http_do_many(pb_http_client *c, const pb_http_request *reqs, pb_http_response *resps, size_t n);

void pb_http_response_init(pb_http_response *r);
void pb_http_response_free(pb_http_response *r); /* NULL-safe; leaves an initialised response */
/* Copies the value of the first header `name` (case-insensitive) into out; NULL if absent. */
const char *pb_http_response_header(const pb_http_response *r, const char *name, char *out, size_t outlen);

#endif
