/* server: libmicrohttpd front end + a transport-independent request pipeline.
 *
 * The pipeline (req_begin -> req_body -> req_run -> req_complete) is driven either by MHD
 * callbacks or by pb_server_handle_raw() (tests, fuzzing), so both run the same limits,
 * routing, query parsing, auth and error mapping.
 *
 * MHD specifics that shape this file:
 *   - the URI log callback sees the raw request target (path + query) before MHD splits
 *     and unescapes it; we copy it there and do all decoding ourselves (MHD's own unescaping
 *     is disabled), so a %2F inside a path parameter never splits segments;
 *   - a response may be queued on the first call (headers only) or on the final call, never
 *     while upload data is being processed. Errors found from the headers are answered at
 *     once when the request carries a body (MHD then discards the body and closes), and on
 *     the final call otherwise (keeps keep-alive connections alive for 404/405/301);
 *   - a streamed (chunked) body that grows past max_body is not buffered further: the rest
 *     is read and dropped (bounded: past PB_DISCARD_MAX the connection is closed) and 413 is
 *     answered on the final call;
 *   - deferred answers (pb_resp_defer) suspend the connection (MHD_ALLOW_SUSPEND_RESUME;
 *     MHD_USE_ITC wakes the pool thread on resume); MHD calls the access handler again once
 *     resumed and the stored response is queued there. Resume must never precede suspend and
 *     MHD must not be stopped with suspended connections, which shapes defer_answer() and
 *     pb_server_stop();
 *   - requests larger than MHD's per-connection memory (request line + headers beyond
 *     2*(max_url+max_header_bytes)+32 KiB) are refused by MHD itself with its own body.
 * Request structs (with their fixed scratch area for decoded path/params/query) are
 * recycled through a small free list, so a typical request does no malloc of its own. */
#include "http/server.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGS 32
#define MAX_PARAMS 16
#define MAX_QUERY 128
#define MAX_RESP_HEADERS 32
#define FREELIST_MAX 64
#define BUF_KEEP ((size_t)64 * 1024) /* buffers larger than this are freed on recycle */
#define PB_DISCARD_MAX ((uint64_t)16 << 20)
#define REQ_ID_MAX 64

enum { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OTHER, M_COUNT };
static const char *const method_names[M_COUNT] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OTHER"};

typedef struct seg {
    const char *s;
    size_t len;
} seg;

typedef struct route_meta {
    int method;
    int nseg;
    seg segs[MAX_SEGS];     /* literal text, or the parameter name when param[i] */
    unsigned char param[MAX_SEGS];
} route_meta;

typedef struct resp_hdr {
    size_t name_off, value_off;
} resp_hdr;

struct pb_resp {
    int status;
    int status_set;
    pb_buf body;
    char ctype[128];
    int nhdr;
    resp_hdr hdr[MAX_RESP_HEADERS];
    pb_buf hdrs; /* name\0value\0 ... */
};

/* Deferred-answer state, embedded in its request. Fields under srv->mu. phase: 0 handler
 * not yet returned to the MHD glue, 1 suspending, 2 suspended. Whoever sees finished with
 * phase 2 first (the finisher, or the MHD thread right after suspending) resumes, so resume
 * never precedes suspend. The request outlives every finisher access: the connection stays
 * suspended (or the raw caller waiting) until finish has stopped touching it. */
struct pb_deferred {
    pb_req *r;
    int finished;
    int phase;
};

struct pb_req {
    pb_server *srv;
    pb_req *next_free;
    struct MHD_Connection *conn;      /* NULL in raw mode */
    const char *const *raw_headers;   /* raw mode: name,value pairs, NULL-terminated */
    const char *method;
    int method_id;
    int begun, answered, too_big, deferred, has_body;
    uint64_t discarded;
    int dfr_on;      /* the handler deferred its answer */
    int dfr_counted; /* counted in srv->dopen until released */
    pb_deferred dfr;
    int64_t t0_ns;
    size_t url_len;     /* length of the raw target (may exceed what was copied) */
    const char *url;    /* raw copy in scratch (NULL when too long) */
    size_t raw_path_len;
    const char *query_raw; /* after '?', or NULL */
    const char *path;   /* decoded */
    int nseg;           /* -1: more segments than any route can have */
    seg segs[MAX_SEGS + 1];
    size_t route_idx;
    const pb_route *route;
    int nparams;
    const char *pname[MAX_PARAMS];
    size_t pname_len[MAX_PARAMS];
    const char *pval[MAX_PARAMS];
    int nquery;
    const char *qkey[MAX_QUERY];
    const char *qval[MAX_QUERY];
    void *auth;
    void (*auth_free)(void *);
    char ip[INET6_ADDRSTRLEN];
    char id[REQ_ID_MAX + 1];
    char ua[256];
    pb_buf body;
    pb_resp resp;
    size_t sp, scap; /* scratch use / capacity */
    char scratch[];
};

struct pb_server {
    pb_server_options opt;
    pb_route *routes;
    route_meta *meta;
    size_t nroutes, caproutes;
    unsigned methods_mask; /* methods with at least one route */
    pb_auth_hook_fn auth_fn;
    void *auth_ctx;
    pb_done_hook_fn done_fn;
    void *done_ctx;
    struct MHD_Daemon *d;
    int port;
    _Atomic int inflight;
    _Atomic int stopping;
    pthread_mutex_t mu; /* drain wait, deferred state */
    pthread_cond_t cv;
    int dopen; /* network-path deferred requests not yet released (under mu) */
    pthread_mutex_t fl_mu; /* free list */
    pb_req *free_head;
    int free_n;
    char id_prefix[17];
    _Atomic uint64_t id_ctr;
    size_t scratch_cap;
    char mhd_err[256];
    pb_series *m_req[M_COUNT][5];
    pb_series *m_lat;
    pb_series *m_inflight;
};

/* ------------------------------------------------------------------ helpers */

static int method_id(const char *m)
{
    for (int i = 0; i < M_OTHER; i++)
        if (strcmp(m, method_names[i]) == 0) return i;
    return M_OTHER;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

static char *scratch_take(pb_req *r, size_t n)
{
    if (n > r->scap - r->sp) return NULL;
    char *p = r->scratch + r->sp;
    r->sp += n;
    return p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in[0..n) into out (NUL-terminated). '+' becomes a space when plus.
 * Returns the decoded length, or -1 on a malformed escape or an encoded NUL. */
static long pct_decode(const char *in, size_t n, char *out, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int h = hexval((unsigned char)in[i + 1]), l = hexval((unsigned char)in[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = (char)(h * 16 + l);
            if (c == '\0') return -1;
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

static int req_id_sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= REQ_ID_MAX) return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

/* ------------------------------------------------------------------ response API */

void pb_resp_status(pb_resp *w, int status)
{
    w->status = status;
    w->status_set = 1;
}

int pb_resp_get_status(const pb_resp *w)
{
    return w->status;
}

static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

void pb_resp_content_type(pb_resp *w, const char *ct)
{
    if (!ct || has_crlf(ct)) return;
    pb_strlcpy(w->ctype, ct, sizeof w->ctype);
}

int pb_resp_header(pb_resp *w, const char *name, const char *value)
{
    if (!name || !value || !*name || has_crlf(name) || has_crlf(value) || strchr(name, ':'))
        return PB_EINVAL;
    if (strcasecmp(name, "Content-Type") == 0) {
        pb_resp_content_type(w, value);
        return 0;
    }
    /* The server owns framing and the request id. */
    if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0 ||
        strcasecmp(name, "X-Request-Id") == 0)
        return PB_EINVAL;
    if (w->nhdr == MAX_RESP_HEADERS) return PB_ETOOBIG;
    size_t no = w->hdrs.len;
    int rc = pb_buf_append(&w->hdrs, name, strlen(name) + 1);
    size_t vo = w->hdrs.len;
    if (!rc) rc = pb_buf_append(&w->hdrs, value, strlen(value) + 1);
    if (rc) return rc;
    w->hdr[w->nhdr].name_off = no;
    w->hdr[w->nhdr].value_off = vo;
    w->nhdr++;
    return 0;
}

pb_buf *pb_resp_body(pb_resp *w)
{
    return &w->body;
}

static void resp_error_plain(pb_resp *w, int status, const char *key, const char *msg)
{
    char red[1024];
    pb_redact(msg, red, sizeof red);
    pb_buf_reset(&w->body);
    pb_resp_status(w, status);
    pb_buf_puts(&w->body, "{");
    pb_buf_json_str(&w->body, key ? key : "error");
    pb_buf_puts(&w->body, ":");
    pb_buf_json_str(&w->body, red);
    pb_buf_puts(&w->body, "}");
    pb_strlcpy(w->ctype, "application/json", sizeof w->ctype);
}

void pb_resp_error(pb_resp *w, int status, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    /* Redacted before truncation (a secret cut at the limit would not match any more);
     * resp_error_plain redacting again is harmless. */
    pb_redact_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_error_plain(w, status, key, msg);
}

void pb_resp_json(pb_resp *w, int status, const char *json)
{
    pb_buf_reset(&w->body);
    pb_resp_status(w, status);
    pb_buf_puts(&w->body, json ? json : "null");
    pb_strlcpy(w->ctype, "application/json", sizeof w->ctype);
}

/* ------------------------------------------------------------------ deferred responses */

pb_deferred *pb_resp_defer(pb_resp *w)
{
    if (!w) return NULL;
    pb_req *r = (pb_req *)(void *)((char *)w - offsetof(pb_req, resp));
    if (r->dfr_on) return NULL;
    r->dfr_on = 1;
    r->dfr.r = r;
    return &r->dfr;
}

int pb_deferred_header(pb_deferred *d, const char *name, const char *value)
{
    if (!d || !d->r) return PB_EINVAL;
    pb_server *s = d->r->srv;
    pthread_mutex_lock(&s->mu);
    int rc = d->finished ? PB_ESTATE : pb_resp_header(&d->r->resp, name, value);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void pb_deferred_finish(pb_deferred *d, int status, const char *json_body)
{
    if (!d || !d->r) return;
    pb_req *r = d->r;
    pb_server *s = r->srv;
    pthread_mutex_lock(&s->mu);
    if (d->finished) { /* contract violation; the request may already be gone */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (status < 100 || status > 599) status = 500;
    if (json_body)
        pb_resp_json(&r->resp, status, json_body);
    else if (status >= 400)
        resp_error_plain(&r->resp, status, "error", reason(status));
    else
        pb_resp_json(&r->resp, status, "null");
    d->finished = 1;
    int resume = d->phase == 2;
    struct MHD_Connection *c = r->conn; /* r may be recycled once resumed */
    pthread_cond_broadcast(&s->cv);     /* raw callers and stopping workers wait here */
    pthread_mutex_unlock(&s->mu);
    if (resume) MHD_resume_connection(c);
}

/* Raw path, and the network path once stopping: wait for the finish on this thread. */
static void defer_wait(pb_req *r)
{
    pb_server *s = r->srv;
    pthread_mutex_lock(&s->mu);
    while (!r->dfr.finished)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ request API */

const char *pb_req_method(const pb_req *r)
{
    return r->method ? r->method : "";
}

const char *pb_req_path(const pb_req *r)
{
    return r->path ? r->path : "";
}

const char *pb_req_param(const pb_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nparams; i++)
        if (r->pname_len[i] == n && memcmp(r->pname[i], name, n) == 0) return r->pval[i];
    return NULL;
}

const char *pb_req_query(const pb_req *r, const char *name)
{
    for (int i = 0; i < r->nquery; i++)
        if (strcmp(r->qkey[i], name) == 0) return r->qval[i]; /* first wins */
    return NULL;
}

const char *pb_req_header(const pb_req *r, const char *name)
{
    if (!name) return NULL;
    if (r->conn) return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
    for (const char *const *h = r->raw_headers; h && h[0] && h[1]; h += 2)
        if (strcasecmp(h[0], name) == 0) return h[1];
    return NULL;
}

const char *pb_req_body(const pb_req *r, size_t *len)
{
    if (len) *len = r->body.len;
    return pb_buf_cstr(&r->body);
}

const char *pb_req_client_ip(const pb_req *r)
{
    return r->ip;
}

const char *pb_req_id(const pb_req *r)
{
    return r->id;
}

const pb_route *pb_req_route(const pb_req *r)
{
    return r->route;
}

void pb_req_set_auth(pb_req *r, void *auth, void (*free_fn)(void *))
{
    if (r->auth && r->auth_free && r->auth != auth) r->auth_free(r->auth);
    r->auth = auth;
    r->auth_free = free_fn;
}

void *pb_req_auth(const pb_req *r)
{
    return r->auth;
}

/* ------------------------------------------------------------------ request lifecycle */

static pb_req *req_acquire(pb_server *s)
{
    pb_req *r = NULL;
    pthread_mutex_lock(&s->fl_mu);
    if (s->free_head) {
        r = s->free_head;
        s->free_head = r->next_free;
        s->free_n--;
    }
    pthread_mutex_unlock(&s->fl_mu);
    if (!r) {
        r = malloc(sizeof *r + s->scratch_cap);
        if (!r) return NULL;
        pb_buf_init(&r->body, s->opt.max_body);
        pb_buf_init(&r->resp.body, 0);
        pb_buf_init(&r->resp.hdrs, 64 * 1024);
    }
    /* Reset everything but the buffers (kept for reuse) and the scratch area. */
    pb_buf body = r->body, rbody = r->resp.body, rhdrs = r->resp.hdrs;
    memset(r, 0, offsetof(pb_req, scratch));
    r->body = body;
    r->resp.body = rbody;
    r->resp.hdrs = rhdrs;
    pb_buf_reset(&r->body);
    pb_buf_reset(&r->resp.body);
    pb_buf_reset(&r->resp.hdrs);
    r->body.max = s->opt.max_body;
    r->srv = s;
    r->scap = s->scratch_cap;
    r->t0_ns = pb_mono_ns();
    pb_strlcpy(r->resp.ctype, "application/json", sizeof r->resp.ctype);
    atomic_fetch_add(&s->inflight, 1);
    pb_series_gauge_add(s->m_inflight, 1);
    return r;
}

static void buf_trim(pb_buf *b)
{
    if (b->cap > BUF_KEEP) pb_buf_free(b);
}

static void req_release(pb_req *r)
{
    pb_server *s = r->srv;
    if (r->dfr_counted) {
        pthread_mutex_lock(&s->mu);
        s->dopen--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    if (r->auth && r->auth_free) r->auth_free(r->auth);
    r->auth = NULL;
    buf_trim(&r->body);
    buf_trim(&r->resp.body);
    buf_trim(&r->resp.hdrs);
    pthread_mutex_lock(&s->fl_mu);
    if (s->free_n < FREELIST_MAX) {
        r->next_free = s->free_head;
        s->free_head = r;
        s->free_n++;
        r = NULL;
    }
    pthread_mutex_unlock(&s->fl_mu);
    if (r) {
        pb_buf_free(&r->body);
        pb_buf_free(&r->resp.body);
        pb_buf_free(&r->resp.hdrs);
        free(r);
    }
    pb_series_gauge_add(s->m_inflight, -1);
    if (atomic_fetch_sub(&s->inflight, 1) == 1 && atomic_load(&s->stopping)) {
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Copies the raw target; a target longer than max_url is only measured. */
static void req_set_url(pb_req *r, const char *url)
{
    size_t n = strlen(url);
    r->url_len = n;
    if (n > r->srv->opt.max_url) return;
    char *p = scratch_take(r, n + 1);
    if (!p) return;
    memcpy(p, url, n + 1);
    r->url = p;
}

static void set_error(pb_req *r, int status, const char *msg)
{
    resp_error_plain(&r->resp, status, "error", msg);
}

/* Splits and decodes the target into path, segments and query. 0 or -1 (400 set). */
static int parse_url(pb_req *r)
{
    const char *u = r->url;
    if (u[0] != '/') {
        set_error(r, 400, "malformed request target");
        return -1;
    }
    for (const char *p = u; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f) {
            set_error(r, 400, "malformed request target");
            return -1;
        }
    }
    const char *q = strchr(u, '?');
    size_t plen = q ? (size_t)(q - u) : r->url_len;
    const char *hash = strchr(u, '#'); /* a fragment is never sent by clients; drop it */
    if (hash && hash < u + plen) plen = (size_t)(hash - u);
    r->raw_path_len = plen;
    r->query_raw = q && (!hash || hash > q) ? q + 1 : NULL;

    char *path = scratch_take(r, plen + 1);
    if (!path || pct_decode(u, plen, path, 0) < 0) goto bad;
    r->path = path;

    /* Segments are decoded one by one so an encoded '/' stays inside its segment. */
    r->nseg = 0;
    const char *p = u + 1, *end = u + plen;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *se = slash ? slash : end;
        if (r->nseg == MAX_SEGS) {
            r->nseg = -1;
            break;
        }
        char *d = scratch_take(r, (size_t)(se - p) + 1);
        long dl = d ? pct_decode(p, (size_t)(se - p), d, 0) : -1;
        if (dl < 0) goto bad;
        r->segs[r->nseg].s = d;
        r->segs[r->nseg].len = (size_t)dl;
        r->nseg++;
        if (!slash) break;
        p = slash + 1;
    }

    if (r->query_raw) {
        const char *qe = hash && hash > r->query_raw ? hash : u + r->url_len;
        for (const char *a = r->query_raw; a < qe;) {
            const char *amp = memchr(a, '&', (size_t)(qe - a));
            const char *ae = amp ? amp : qe;
            if (ae > a) {
                if (r->nquery == MAX_QUERY) {
                    set_error(r, 400, "too many query parameters");
                    return -1;
                }
                const char *eq = memchr(a, '=', (size_t)(ae - a));
                const char *ke = eq ? eq : ae;
                char *k = scratch_take(r, (size_t)(ke - a) + 1);
                if (!k || pct_decode(a, (size_t)(ke - a), k, 1) < 0) goto bad;
                const char *vs = eq ? eq + 1 : ae;
                char *v = scratch_take(r, (size_t)(ae - vs) + 1);
                if (!v || pct_decode(vs, (size_t)(ae - vs), v, 1) < 0) goto bad;
                r->qkey[r->nquery] = k;
                r->qval[r->nquery] = v;
                r->nquery++;
            }
            if (!amp) break;
            a = amp + 1;
        }
    }
    return 0;
bad:
    set_error(r, 400, "malformed percent-encoding in request target");
    return -1;
}

static int route_matches(const route_meta *m, const seg *segs, int nseg)
{
    if (m->nseg != nseg) return 0;
    for (int i = 0; i < nseg; i++) {
        if (m->param[i]) {
            if (segs[i].len == 0) return 0;
        } else if (m->segs[i].len != segs[i].len || memcmp(m->segs[i].s, segs[i].s, segs[i].len) != 0) {
            return 0;
        }
    }
    return 1;
}

static int route_method_ok(int route_m, int req_m)
{
    return route_m == req_m || (req_m == M_HEAD && route_m == M_GET);
}

static void allow_header(pb_req *r, unsigned mask)
{
    char allow[96] = "";
    size_t o = 0;
    if (mask & (1u << M_GET)) mask |= 1u << M_HEAD;
    for (int i = 0; i < M_OTHER; i++)
        if (mask & (1u << i))
            o += (size_t)snprintf(allow + o, sizeof allow - o, "%s%s", o ? ", " : "", method_names[i]);
    pb_resp_header(&r->resp, "Allow", allow);
}

/* Sets r->route or fills the response (404/405/301). 0 = routed. */
static int route_request(pb_req *r)
{
    pb_server *s = r->srv;
    unsigned path_methods = 0;
    if (r->nseg >= 0) {
        for (size_t i = 0; i < s->nroutes; i++) {
            const route_meta *m = &s->meta[i];
            if (!route_matches(m, r->segs, r->nseg)) continue;
            if (!route_method_ok(m->method, r->method_id)) {
                path_methods |= 1u << m->method;
                continue;
            }
            r->route = &s->routes[i];
            r->route_idx = i;
            for (int k = 0; k < m->nseg; k++) {
                if (!m->param[k] || r->nparams == MAX_PARAMS) continue;
                r->pname[r->nparams] = m->segs[k].s;
                r->pname_len[r->nparams] = m->segs[k].len;
                r->pval[r->nparams] = r->segs[k].s;
                r->nparams++;
            }
            return 0;
        }
    }
    if (path_methods) {
        set_error(r, 405, "method not allowed");
        allow_header(r, path_methods);
        return -1;
    }
    /* GET without the trailing slash of a registered path: 301 to the slashed path. */
    if ((r->method_id == M_GET || r->method_id == M_HEAD) && r->nseg >= 0 && r->nseg < MAX_SEGS &&
        r->raw_path_len > 0 && r->url[r->raw_path_len - 1] != '/') {
        r->segs[r->nseg].s = "";
        r->segs[r->nseg].len = 0;
        for (size_t i = 0; i < s->nroutes; i++) {
            if (s->meta[i].method != M_GET || !route_matches(&s->meta[i], r->segs, r->nseg + 1)) continue;
            char loc[16 * 1024];
            size_t ql = r->query_raw ? strlen(r->query_raw) : 0;
            if (r->raw_path_len + ql + 3 > sizeof loc) break;
            memcpy(loc, r->url, r->raw_path_len);
            size_t o = r->raw_path_len;
            loc[o++] = '/';
            if (r->query_raw) {
                loc[o++] = '?';
                memcpy(loc + o, r->query_raw, ql);
                o += ql;
            }
            loc[o] = '\0';
            pb_buf_reset(&r->resp.body);
            pb_resp_status(&r->resp, 301);
            pb_resp_header(&r->resp, "Location", loc);
            return -1;
        }
    }
    set_error(r, 404, "not found");
    return -1;
}

/* Header limits: count and total bytes (name + value + ": " + CRLF). */
struct hdr_count {
    int n;
    size_t bytes;
};

static enum MHD_Result count_hdr(void *cls, enum MHD_ValueKind kind, const char *k, size_t kl, const char *v,
                                 size_t vl)
{
    struct hdr_count *hc = cls;
    hc->n++;
    hc->bytes += kl + vl + 4;
    return MHD_YES;
}

static void req_headers_size(pb_req *r, struct hdr_count *hc)
{
    hc->n = 0;
    hc->bytes = 0;
    if (r->conn) {
        MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, count_hdr, hc);
        return;
    }
    for (const char *const *h = r->raw_headers; h && h[0] && h[1]; h += 2) {
        hc->n++;
        hc->bytes += strlen(h[0]) + strlen(h[1]) + 4;
    }
}

static int ctype_is_json(const char *ct)
{
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    static const char j[] = "application/json";
    if (strncasecmp(ct, j, sizeof j - 1) != 0) return 0;
    char c = ct[sizeof j - 1];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* How many bytes of an oversized body are read and dropped before the connection is
 * closed instead: max(4 x max_body, PB_DISCARD_MAX). */
static uint64_t discard_cap(const pb_server *s)
{
    uint64_t cap = (uint64_t)s->opt.max_body * 4;
    return cap < PB_DISCARD_MAX ? PB_DISCARD_MAX : cap;
}

/* Everything decidable from the request line and headers. Returns 0 to read the body, or
 * -1 with the response filled. */
static int req_begin(pb_req *r, size_t raw_body_len)
{
    pb_server *s = r->srv;
    r->begun = 1;
    r->method_id = method_id(r->method);

    const char *hid = pb_req_header(r, "X-Request-Id");
    if (hid && req_id_sane(hid)) {
        pb_strlcpy(r->id, hid, sizeof r->id);
    } else {
        snprintf(r->id, sizeof r->id, "%s-%llx", s->id_prefix,
                 (unsigned long long)atomic_fetch_add_explicit(&s->id_ctr, 1, memory_order_relaxed));
    }
    pb_log_set_request_id(r->id);
    const char *ua = pb_req_header(r, "User-Agent");
    pb_strlcpy(r->ua, ua ? ua : "", sizeof r->ua);

    const char *cl = pb_req_header(r, "Content-Length");
    const char *te = pb_req_header(r, "Transfer-Encoding");
    int64_t clen = 0;
    int cl_bad = cl && pb_parse_i64(cl, 0, INT64_MAX, &clen) != 0;
    r->has_body = clen > 0 || te != NULL || raw_body_len > 0;

    if (!r->url) {
        set_error(r, 414, "request target too long");
        return -1;
    }
    struct hdr_count hc;
    req_headers_size(r, &hc);
    if (hc.n > s->opt.max_headers || hc.bytes > s->opt.max_header_bytes) {
        set_error(r, 431, "request header fields too large");
        return -1;
    }
    if (parse_url(r) < 0) return -1;
    if (cl_bad) {
        set_error(r, 400, "invalid Content-Length");
        return -1;
    }
    if (r->method_id == M_OTHER) {
        set_error(r, 405, "method not supported");
        allow_header(r, s->methods_mask ? s->methods_mask : (1u << M_GET));
        return -1;
    }
    if ((uint64_t)clen > s->opt.max_body) {
        /* Answering while the client is still sending makes most clients see a reset
         * instead of the 413 (they write into a closed socket). Up to the discard cap the
         * body is read and dropped and 413 is answered once it has arrived; beyond it the
         * connection is refused at once. */
        if ((uint64_t)clen <= discard_cap(s)) {
            r->too_big = 1;
            return 0;
        }
        set_error(r, 413, "request body too large");
        return -1;
    }
    if (route_request(r) < 0) return -1;
    if (r->has_body && !(r->route->flags & PB_ROUTE_RAW_BODY) && !ctype_is_json(pb_req_header(r, "Content-Type"))) {
        set_error(r, 415, "content type must be application/json");
        return -1;
    }
    return 0;
}

/* Appends body bytes; past max_body stops buffering. Returns -1 when the connection
 * should be dropped (too much discarded). */
static int req_body(pb_req *r, const char *data, size_t n)
{
    if (!r->too_big && pb_buf_append(&r->body, data, n) != 0) {
        r->too_big = 1;
        pb_buf_free(&r->body);
        pb_buf_init(&r->body, r->srv->opt.max_body);
    }
    if (r->too_big) {
        r->discarded += n;
        if (r->discarded > discard_cap(r->srv)) return -1;
    }
    return 0;
}

/* Body complete: auth, handler, error mapping. Always fills the response. */
static void req_run(pb_req *r)
{
    pb_server *s = r->srv;
    pb_resp *w = &r->resp;
    if (r->deferred) return;
    if (r->too_big) {
        set_error(r, 413, "request body too large");
        return;
    }
    pb_log_set_request_id(r->id);
    const pb_route *rt = r->route;
    if (!rt) { /* cannot happen when req_begin succeeded; never dereference NULL regardless */
        if (!w->status_set) set_error(r, 500, "internal error");
        return;
    }
    if (!(rt->flags & PB_ROUTE_PUBLIC) && s->auth_fn) {
        int arc = s->auth_fn(r, w, rt, s->auth_ctx);
        if (arc) {
            if (!w->status_set) { /* the hook may answer with any status it set itself */
                int st = arc < 0 ? pb_err_http_status(arc) : 401;
                set_error(r, st, arc < 0 ? pb_strerror(arc) : "authentication required");
            }
            goto out;
        }
    }
    int rc = rt->fn(r, w, rt->ctx);
    /* Deferred: another thread owns the response now; do not read it. */
    if (r->dfr_on) return;
    if (rc < 0 && !w->status_set) {
        set_error(r, pb_err_http_status(rc), pb_strerror(rc));
    } else if (!w->status_set) {
        pb_resp_status(w, 200);
    }
out:
    if (w->status >= 400 && w->body.len == 0) set_error(r, w->status, reason(w->status));
}

static void req_complete(pb_req *r)
{
    pb_server *s = r->srv;
    int64_t us = (pb_mono_ns() - r->t0_ns) / 1000;
    int status = r->answered ? r->resp.status : (r->begun ? 499 : 0);
    if (r->id[0]) pb_log_set_request_id(r->id);
    int mi = r->begun ? r->method_id : M_OTHER;
    int cls = status / 100;
    if (cls < 1 || cls > 5) cls = 4;
    pb_series_inc(s->m_req[mi][cls - 1], 1);
    pb_series_observe(s->m_lat, (double)us / 1e6);
    if (r->begun && s->done_fn) s->done_fn(r, status, us, s->done_ctx);
    char path[2048];
    size_t pl = r->url ? r->raw_path_len : 0;
    if (pl >= sizeof path) pl = sizeof path - 1;
    if (pl) memcpy(path, r->url, pl);
    path[pl] = '\0';
    PB_LOG(PB_LOG_INFO, "http", PB_LS("method", pb_req_method(r)), PB_LS("path", path), PB_LI("status", status),
           PB_LI("bytes", r->resp.body.len), PB_LI("duration_us", us), PB_LS("ip", r->ip), PB_LS("ua", r->ua));
    pb_log_set_request_id(NULL);
}

/* ------------------------------------------------------------------ MHD glue */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    pb_server *s = cls;
    pb_req *r = req_acquire(s);
    if (!r) return NULL;
    r->conn = c;
    req_set_url(r, uri ? uri : "");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->ip, sizeof r->ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->ip, sizeof r->ip);
    }
    return r;
}

static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s); /* we decode ourselves, per segment */
}

static enum MHD_Result send_resp(pb_req *r)
{
    pb_resp *w = &r->resp;
    r->answered = 1;
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(w->body.len, w->body.data ? w->body.data : (void *)(uintptr_t) "",
                                        MHD_RESPMEM_PERSISTENT);
    if (!mr) return MHD_NO;
    if (w->body.len || w->status >= 400) MHD_add_response_header(mr, "Content-Type", w->ctype);
    MHD_add_response_header(mr, "X-Request-Id", r->id);
    for (int i = 0; i < w->nhdr; i++)
        MHD_add_response_header(mr, w->hdrs.data + w->hdr[i].name_off, w->hdrs.data + w->hdr[i].value_off);
    if (atomic_load(&r->srv->stopping)) MHD_add_response_header(mr, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)w->status, mr);
    MHD_destroy_response(mr);
    pb_log_set_request_id(NULL);
    return ret;
}

/* A deferred request on the network path: answer when finished, else suspend (called again
 * by MHD once resumed). While stopping, no new suspension (MHD must not stop with suspended
 * connections): the worker waits for the finish like a synchronous handler. */
static enum MHD_Result defer_answer(pb_req *r)
{
    pb_server *s = r->srv;
    pb_deferred *d = &r->dfr;
    pthread_mutex_lock(&s->mu);
    if (!r->dfr_counted) { /* until released: stop waits for the answer to be delivered */
        r->dfr_counted = 1;
        s->dopen++;
    }
    if (d->finished) {
        pthread_mutex_unlock(&s->mu);
        return send_resp(r);
    }
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->mu);
        defer_wait(r);
        return send_resp(r);
    }
    d->phase = 1;
    pthread_mutex_unlock(&s->mu);
    pb_log_set_request_id(NULL);
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&s->mu);
    d->phase = 2;
    int resume = d->finished; /* finished while we were suspending: nobody else resumes */
    pthread_mutex_unlock(&s->mu);
    if (resume) MHD_resume_connection(r->conn);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    pb_req *r = *con_cls;
    if (!r) return MHD_NO; /* allocation failed in on_uri */
    if (!r->begun) {
        r->method = method;
        if (req_begin(r, 0) < 0) {
            if (r->has_body) return send_resp(r); /* MHD drops the body and closes */
            r->deferred = 1;                      /* answer on the final call: keep-alive */
        }
        pb_log_set_request_id(NULL);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->deferred) return MHD_YES;
        return req_body(r, upload_data, n) < 0 ? MHD_NO : MHD_YES;
    }
    if (!r->dfr_on) req_run(r);
    if (r->dfr_on) return defer_answer(r);
    return send_resp(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    pb_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->answered && r->resp.status < 400) r->answered = 0;
    req_complete(r);
    req_release(r);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fm, va_list ap)
{
    pb_server *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fm, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    if (!s->d) pb_strlcpy(s->mhd_err, msg, sizeof s->mhd_err); /* during start: keep for the error */
    PB_LOG(PB_LOG_DEBUG, "mhd", PB_LS("detail", msg));
}
#pragma GCC diagnostic pop

/* ------------------------------------------------------------------ server */

int pb_server_new(const pb_server_options *opt, pb_server **out, pb_error *err)
{
    *out = NULL;
    pb_server *s = calloc(1, sizeof *s);
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    if (opt) s->opt = *opt;
    if (!s->opt.listen || !*s->opt.listen) s->opt.listen = "127.0.0.1:8470";
    if (!s->opt.max_body) s->opt.max_body = (size_t)1 << 20;
    if (!s->opt.max_url) s->opt.max_url = 8 * 1024;
    if (s->opt.max_headers <= 0) s->opt.max_headers = 64;
    if (!s->opt.max_header_bytes) s->opt.max_header_bytes = 32 * 1024;
    if (s->opt.connection_timeout_s <= 0) s->opt.connection_timeout_s = 30;
    if (s->opt.max_url > ((size_t)1 << 20) || s->opt.max_header_bytes > ((size_t)1 << 20)) {
        free(s);
        return pb_error_set(err, PB_EINVAL, "max_url and max_header_bytes must be at most 1 MiB");
    }
    /* Worst case: raw copy + decoded path + decoded segments + decoded query. */
    s->scratch_cap = 4 * s->opt.max_url + 2 * MAX_QUERY + 2 * MAX_SEGS + 64;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->fl_mu, NULL);
    unsigned char rnd[8];
    if (pb_random_bytes(rnd, sizeof rnd) != 0) memset(rnd, 0x5a, sizeof rnd);
    pb_hex_encode(rnd, sizeof rnd, s->id_prefix);

    static const char *const lbl[] = {"method", "class", NULL};
    static const double lat_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    pb_metric *mreq = pb_metric_counter("planebridge_http_requests_total",
                                        "HTTP requests by method and status class.", lbl);
    for (int m = 0; m < M_COUNT; m++)
        for (int c = 0; c < 5; c++) {
            const char *vals[] = {method_names[m], classes[c]};
            s->m_req[m][c] = pb_metric_series(mreq, vals);
        }
    s->m_lat = pb_metric_series(
        pb_metric_histogram("planebridge_http_request_duration_seconds",
                            "Time from request line to response completion.", NULL, lat_buckets,
                            sizeof lat_buckets / sizeof *lat_buckets),
        NULL);
    s->m_inflight = pb_metric_series(
        pb_metric_gauge("planebridge_http_requests_in_flight", "Requests being processed.", NULL), NULL);
    *out = s;
    return 0;
}

static void free_list_drain(pb_server *s)
{
    pthread_mutex_lock(&s->fl_mu);
    pb_req *r = s->free_head;
    s->free_head = NULL;
    s->free_n = 0;
    pthread_mutex_unlock(&s->fl_mu);
    while (r) {
        pb_req *n = r->next_free;
        pb_buf_free(&r->body);
        pb_buf_free(&r->resp.body);
        pb_buf_free(&r->resp.hdrs);
        free(r);
        r = n;
    }
}

void pb_server_free(pb_server *s)
{
    if (!s) return;
    pb_server_stop(s, 0);
    free_list_drain(s);
    free(s->routes);
    free(s->meta);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->fl_mu);
    free(s);
}

int pb_server_route(pb_server *s, const pb_route *r)
{
    if (!s || !r || !r->method || !r->pattern || !r->fn || r->pattern[0] != '/') return PB_EINVAL;
    if (s->d) return PB_ESTATE;
    int m = method_id(r->method);
    if (m == M_OTHER || m == M_HEAD) return PB_EINVAL;
    route_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.method = m;
    const char *p = r->pattern + 1;
    int nparams = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (meta.nseg == MAX_SEGS) return PB_EINVAL;
        int is_param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        if (!is_param && (memchr(p, '{', len) || memchr(p, '}', len))) return PB_EINVAL;
        if (is_param && (len == 2 || ++nparams > MAX_PARAMS)) return PB_EINVAL;
        meta.segs[meta.nseg].s = is_param ? p + 1 : p;
        meta.segs[meta.nseg].len = is_param ? len - 2 : len;
        meta.param[meta.nseg] = (unsigned char)is_param;
        meta.nseg++;
        if (!slash) break;
        p = slash + 1;
    }
    if (s->nroutes == s->caproutes) {
        size_t cap = s->caproutes ? s->caproutes * 2 : 32;
        pb_route *nr = realloc(s->routes, cap * sizeof *nr);
        if (!nr) return PB_ENOMEM;
        s->routes = nr;
        route_meta *nm = realloc(s->meta, cap * sizeof *nm);
        if (!nm) return PB_ENOMEM;
        s->meta = nm;
        s->caproutes = cap;
    }
    s->routes[s->nroutes] = *r;
    s->meta[s->nroutes] = meta;
    s->nroutes++;
    s->methods_mask |= 1u << m;
    return 0;
}

const pb_route *pb_server_routes(pb_server *s, size_t *n)
{
    if (n) *n = s ? s->nroutes : 0;
    return s ? s->routes : NULL;
}

void pb_server_set_auth_hook(pb_server *s, pb_auth_hook_fn fn, void *ctx)
{
    s->auth_fn = fn;
    s->auth_ctx = ctx;
}

void pb_server_set_done_hook(pb_server *s, pb_done_hook_fn fn, void *ctx)
{
    s->done_fn = fn;
    s->done_ctx = ctx;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl, pb_error *err)
{
    char host[256], port[16];
    const char *colon;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb[1] != ':') return pb_error_field(err, PB_ECONFIG, "listen", "bad listen address");
        size_t hl = (size_t)(rb - listen - 1);
        if (hl >= sizeof host) return pb_error_field(err, PB_ECONFIG, "listen", "bad listen address");
        memcpy(host, listen + 1, hl);
        host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof host)
            return pb_error_field(err, PB_ECONFIG, "listen", "listen must be host:port");
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
    }
    int64_t pn;
    if (pb_parse_i64(colon + 1, 0, 65535, &pn) != 0)
        return pb_error_field(err, PB_ECONFIG, "listen", "bad port in listen address");
    snprintf(port, sizeof port, "%d", (int)pn);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gr != 0 || !res)
        return pb_error_field(err, PB_ECONFIG, "listen", "cannot resolve listen host: %s", gai_strerror(gr));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int pb_server_start(pb_server *s, pb_error *err)
{
    if (s->d) return pb_error_set(err, PB_ESTATE, "server already started");
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = parse_listen(s->opt.listen, &ss, &sl, err);
    if (rc) return rc;
    int threads = s->opt.threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > 64) threads = 64;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* Room for the request line and every allowed header, plus MHD's own I/O buffers. */
    size_t mem = 2 * (s->opt.max_url + s->opt.max_header_bytes) + 32 * 1024;
    atomic_store(&s->stopping, 0);
    s->mhd_err[0] = '\0';
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, s},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->opt.connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 4096, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->d)
        return pb_error_field(err, PB_EIO, "listen", "cannot listen on %s%s%s", s->opt.listen,
                              s->mhd_err[0] ? ": " : "", s->mhd_err);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    return 0;
}

int pb_server_port(pb_server *s)
{
    return s ? s->port : 0;
}

void pb_server_stop(pb_server *s, int drain_ms)
{
    if (!s || !s->d) return;
    atomic_store(&s->stopping, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd); /* new connections are refused from here on */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (int64_t)(drain_ms > 0 ? drain_ms : 0) * 1000000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&s->mu);
    while (drain_ms > 0 && atomic_load(&s->inflight) > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0) break;
    /* MHD must not stop with suspended connections: a deferred request is a handler still
     * running, waited for (until its answer is delivered) past the deadline. Requests
     * deferring from here on see stopping (set before this lock) and wait on their worker
     * thread instead of suspending. */
    if (s->dopen > 0)
        PB_LOG(PB_LOG_WARN, "http: waiting for deferred responses", PB_LI("requests", s->dopen));
    while (s->dopen > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    /* Joins the worker threads: a handler still running past the deadline is waited for
     * (handlers are synchronous), idle and unanswered connections are closed. */
    MHD_stop_daemon(s->d);
    s->d = NULL;
}

/* ------------------------------------------------------------------ raw entry (tests, fuzzing) */

int pb_server_handle_raw(pb_server *s, const char *method, const char *url, const char *const *headers,
                         const char *body, size_t body_len, pb_buf *out)
{
    if (!s || !method || !url) return PB_EINVAL;
    pb_req *r = req_acquire(s);
    if (!r) return PB_ENOMEM;
    pb_strlcpy(r->ip, "127.0.0.1", sizeof r->ip);
    r->raw_headers = headers;
    r->method = method;
    req_set_url(r, url);
    if (req_begin(r, body_len) == 0) {
        /* Fed in chunks, like the network path. */
        for (size_t off = 0; off < body_len;) {
            size_t n = body_len - off < 4096 ? body_len - off : 4096;
            if (req_body(r, body + off, n) < 0) break;
            off += n;
        }
        req_run(r);
        if (r->dfr_on) defer_wait(r);
    }
    r->answered = 1;
    pb_resp *w = &r->resp;
    int status = w->status;
    int rc = 0;
    if (out) {
        rc = pb_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, reason(status));
        if (!rc && (w->body.len || status >= 400)) rc = pb_buf_printf(out, "Content-Type: %s\r\n", w->ctype);
        if (!rc) rc = pb_buf_printf(out, "X-Request-Id: %s\r\n", r->id);
        for (int i = 0; i < w->nhdr && !rc; i++)
            rc = pb_buf_printf(out, "%s: %s\r\n", w->hdrs.data + w->hdr[i].name_off, w->hdrs.data + w->hdr[i].value_off);
        if (!rc) rc = pb_buf_printf(out, "Content-Length: %zu\r\n\r\n", w->body.len);
        if (!rc && strcmp(method, "HEAD") != 0) rc = pb_buf_append(out, w->body.data ? w->body.data : "", w->body.len);
    }
    req_complete(r);
    req_release(r);
    return rc ? rc : status;
}
