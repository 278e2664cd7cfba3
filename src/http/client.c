/* client: see client.h. */
#include "http/client.h"

#include "core/util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_TIMEOUT_MS 15000
#define HTTP_DEFAULT_CONNECT_MS 5000
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define HTTP_MAX_HEADER_BYTES ((size_t)64 << 10)
#define HTTP_DEFAULT_PARALLEL 16
#define HTTP_MAX_PARALLEL 256

struct pb_http_client {
    CURLM *multi;
    CURL **easy;
    int neasy;
    char ua[128];
};

/* Per-transfer state handed to curl callbacks. */
typedef struct xfer {
    pb_http_response *resp;
    size_t max;
    int truncate;
    int too_big;
    struct curl_slist *hdrs;
    struct curl_slist *resolve;
    int64_t t0;
} xfer;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc;

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : PB_EINTERNAL;
}

int pb_http_global_init(void)
{
    pthread_once(&g_once, global_init_once);
    return g_init_rc;
}

void pb_http_response_init(pb_http_response *r)
{
    memset(r, 0, sizeof *r);
    pb_buf_init(&r->body, 0);
    pb_buf_init(&r->headers, HTTP_MAX_HEADER_BYTES);
}

void pb_http_response_free(pb_http_response *r)
{
    if (!r) return;
    pb_buf_free(&r->body);
    pb_buf_free(&r->headers);
    pb_http_response_init(r);
}

const char *pb_http_response_header(const pb_http_response *r, const char *name, char *out, size_t outlen)
{
    const char *p = pb_buf_cstr(&r->headers);
    size_t nl = strlen(name);
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
        if (linelen > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            const char *end = p + linelen;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
            size_t vl = (size_t)(end - v);
            if (outlen == 0) return NULL;
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        if (!eol) break;
        p = eol + 2;
    }
    return NULL;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    size_t room = x->max > x->resp->body.len ? x->max - x->resp->body.len : 0;
    if (n > room) {
        if (!x->truncate) {
            x->too_big = 1;
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (room && pb_buf_append(&x->resp->body, ptr, room)) return 0;
        x->resp->truncated = 1;
        return n; /* keep reading, discard */
    }
    if (pb_buf_append(&x->resp->body, ptr, n)) return 0;
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    /* A new status line starts a new response (1xx, or a 3xx when following redirects):
     * keep only the headers of the final one. */
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        pb_buf_reset(&x->resp->headers);
        return n;
    }
    if (n == 2 && ptr[0] == '\r') return n;
    (void)pb_buf_append(&x->resp->headers, ptr, n); /* over the cap: headers are dropped, not fatal */
    return n;
}

int pb_http_client_new(const pb_http_options *opt, pb_http_client **out, pb_error *err)
{
    *out = NULL;
    if (pb_http_global_init()) return pb_error_set(err, PB_EINTERNAL, "libcurl initialisation failed");
    pb_http_client *c = calloc(1, sizeof *c);
    if (!c) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int n = opt && opt->max_parallel > 0 ? opt->max_parallel : HTTP_DEFAULT_PARALLEL;
    if (n > HTTP_MAX_PARALLEL) n = HTTP_MAX_PARALLEL;
    c->easy = calloc((size_t)n, sizeof *c->easy);
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        pb_http_client_free(c);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    c->neasy = n;
    if (opt && opt->user_agent)
        pb_strlcpy(c->ua, opt->user_agent, sizeof c->ua);
    else
        snprintf(c->ua, sizeof c->ua, "planebridge/%s", PB_VERSION);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)(n * 4));
    *out = c;
    return 0;
}

void pb_http_client_free(pb_http_client *c)
{
    if (!c) return;
    for (int i = 0; i < c->neasy; i++)
        if (c->easy && c->easy[i]) curl_easy_cleanup(c->easy[i]);
    free(c->easy);
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c);
}

static CURL *easy_at(pb_http_client *c, int i)
{
    if (!c->easy[i]) c->easy[i] = curl_easy_init();
    else curl_easy_reset(c->easy[i]);
    return c->easy[i];
}

static void set_fail(pb_http_response *r, int rc, const char *msg)
{
    r->rc = rc;
    pb_strlcpy(r->error, msg, sizeof r->error);
}

/* Configures one easy handle; returns 0 or a PB_E* code (response already marked). */
static int setup(pb_http_client *c, CURL *h, const pb_http_request *q, xfer *x)
{
    pb_http_response *r = x->resp;
    if (!h) {
        set_fail(r, PB_ENOMEM, "out of memory");
        return PB_ENOMEM;
    }
    if (!q->url || !*q->url) {
        set_fail(r, PB_EINVAL, "no URL");
        return PB_EINVAL;
    }
    x->max = q->max_response ? q->max_response : HTTP_DEFAULT_MAX_RESPONSE;
    x->truncate = q->truncate_response;
    x->hdrs = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; i < q->nheaders && x->hdrs; i++) {
        char line[4096];
        const char *v = q->headers[i].value ? q->headers[i].value : "";
        if (strpbrk(q->headers[i].name, "\r\n:") || strpbrk(v, "\r\n")) {
            set_fail(r, PB_EINVAL, "header contains CR/LF");
            return PB_EINVAL;
        }
        int n = snprintf(line, sizeof line, "%s: %s", q->headers[i].name, v);
        if (n < 0 || (size_t)n >= sizeof line) {
            set_fail(r, PB_ETOOBIG, "header too long");
            return PB_ETOOBIG;
        }
        struct curl_slist *nh = curl_slist_append(x->hdrs, line);
        if (!nh) break;
        x->hdrs = nh;
    }
    if (!x->hdrs) {
        set_fail(r, PB_ENOMEM, "out of memory");
        return PB_ENOMEM;
    }
    if (q->resolve) {
        x->resolve = curl_slist_append(NULL, q->resolve);
        if (!x->resolve) {
            set_fail(r, PB_ENOMEM, "out of memory");
            return PB_ENOMEM;
        }
    }
    const char *method = q->method ? q->method : (q->body ? "POST" : "GET");
    int bad = 0;
    bad |= curl_easy_setopt(h, CURLOPT_URL, q->url) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, q->follow_redirects ? 1L : 0L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(q->timeout_ms > 0 ? q->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS)) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                            (long)(q->connect_timeout_ms > 0 ? q->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS)) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PRIVATE, x) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL) != CURLE_OK;
    if (x->resolve) bad |= curl_easy_setopt(h, CURLOPT_RESOLVE, x->resolve) != CURLE_OK;
    if (strcmp(method, "GET") == 0) {
        bad |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    } else {
        if (strcmp(method, "POST") != 0) bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
        if (q->body || strcmp(method, "POST") == 0) {
            bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
            bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0)) != CURLE_OK;
            bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "") != CURLE_OK;
        }
    }
    if (bad) {
        set_fail(r, PB_EINVAL, "cannot configure request");
        return PB_EINVAL;
    }
    x->t0 = pb_mono_ns();
    return 0;
}

static void finish(CURL *h, xfer *x, CURLcode cc)
{
    pb_http_response *r = x->resp;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    r->duration_us = (pb_mono_ns() - x->t0) / 1000;
    if (cc == CURLE_OK) {
        r->rc = 0;
    } else if (x->too_big) {
        set_fail(r, PB_ETOOBIG, "response body exceeds the limit");
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        set_fail(r, PB_ETIMEOUT, curl_easy_strerror(cc));
    } else {
        set_fail(r, PB_ENET, curl_easy_strerror(cc));
    }
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->resolve);
    x->hdrs = x->resolve = NULL;
}

int pb_http_do(pb_http_client *c, const pb_http_request *req, pb_http_response *resp)
{
    pb_http_do_many(c, req, resp, 1);
    return resp->rc;
}

int pb_http_do_many(pb_http_client *c, const pb_http_request *reqs, pb_http_response *resps, size_t n)
{
    size_t done = 0;
    xfer *xs = calloc((size_t)c->neasy, sizeof *xs);
    if (!xs) {
        for (size_t i = 0; i < n; i++) set_fail(&resps[i], PB_ENOMEM, "out of memory");
        return PB_ENOMEM;
    }
    while (done < n) {
        size_t chunk = n - done < (size_t)c->neasy ? n - done : (size_t)c->neasy;
        int added = 0;
        for (size_t k = 0; k < chunk; k++) {
            pb_http_response *r = &resps[done + k];
            pb_buf_reset(&r->body);
            pb_buf_reset(&r->headers);
            r->rc = 0;
            r->status = 0;
            r->truncated = 0;
            r->error[0] = '\0';
            memset(&xs[k], 0, sizeof xs[k]);
            xs[k].resp = r;
            CURL *h = easy_at(c, (int)k);
            if (setup(c, h, &reqs[done + k], &xs[k])) {
                curl_slist_free_all(xs[k].hdrs);
                curl_slist_free_all(xs[k].resolve);
                xs[k].hdrs = xs[k].resolve = NULL;
                xs[k].resp = NULL; /* not added */
                continue;
            }
            if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
                set_fail(r, PB_EINTERNAL, "cannot start transfer");
                curl_slist_free_all(xs[k].hdrs);
                curl_slist_free_all(xs[k].resolve);
                xs[k].hdrs = xs[k].resolve = NULL;
                xs[k].resp = NULL;
                continue;
            }
            added++;
        }
        int running = added;
        while (running > 0) {
            if (curl_multi_perform(c->multi, &running) != CURLM_OK) break;
            int msgs;
            CURLMsg *m;
            while ((m = curl_multi_info_read(c->multi, &msgs))) {
                if (m->msg != CURLMSG_DONE) continue;
                xfer *x = NULL;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
                CURLcode cc = m->data.result;
                CURL *h = m->easy_handle;
                curl_multi_remove_handle(c->multi, h);
                if (x) {
                    finish(h, x, cc);
                    x->resp = NULL;
                }
            }
            if (running > 0) curl_multi_poll(c->multi, NULL, 0, 100, NULL);
        }
        /* Anything still attached (multi error) is failed and detached. */
        for (size_t k = 0; k < chunk; k++) {
            if (!xs[k].resp) continue;
            curl_multi_remove_handle(c->multi, c->easy[k]);
            finish(c->easy[k], &xs[k], CURLE_RECV_ERROR);
            xs[k].resp = NULL;
        }
        done += chunk;
    }
    free(xs);
    return 0;
}
