/* upstream: see upstream.h. */
#include "sync/upstream.h"

#include "core/log.h"
#include "core/util.h"
#include "http/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UP_MAX_BODY ((size_t)32 << 20)
#define UP_MAX_DEPTH 64
#define UP_MAX_ATTEMPTS 12
#define UP_MAX_URL 4096

struct pb_up {
    char base[UP_MAX_URL]; /* ".../api/v1/workspaces/{slug}/" */
    char key_header[512];
    pb_http_client *http;
    pb_gov *gov;
    volatile int *stop;
    int parallel;
    pb_up_stats st;
};

void pb_up_result_clear(pb_up_result *r)
{
    if (!r) return;
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

int pb_up_new(const char *base_url, const char *slug, const char *api_key, pb_db *db, pb_up **out, pb_error *err)
{
    *out = NULL;
    if (!base_url || strncmp(base_url, "http", 4) != 0)
        return pb_error_set(err, PB_EINVAL, "upstream URL must be http(s)://host[:port]");
    if (!api_key || !*api_key || strlen(api_key) > 400 || strpbrk(api_key, "\r\n"))
        return pb_error_set(err, PB_EINVAL, "invalid upstream API key");
    pb_up *u = calloc(1, sizeof *u);
    if (!u) return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/') bl--;
    int n = snprintf(u->base, sizeof u->base, "%.*s/api/v1/workspaces/%s/", (int)bl, base_url, slug);
    if (n < 0 || (size_t)n >= sizeof u->base) {
        free(u);
        return pb_error_set(err, PB_EINVAL, "upstream URL too long");
    }
    pb_redact_register(api_key);
    snprintf(u->key_header, sizeof u->key_header, "%s", api_key);
    char govkey[UP_MAX_URL + 512];
    snprintf(govkey, sizeof govkey, "%.*s|%s", (int)bl, base_url, api_key);
    u->gov = pb_gov_get(govkey, db);
    memset(govkey, 0, sizeof govkey);
    pb_http_options ho = {.max_parallel = 16};
    int rc = u->gov ? pb_http_client_new(&ho, &u->http, err) : pb_error_set(err, PB_ENOMEM, "out of memory");
    if (rc) {
        pb_gov_release(u->gov);
        free(u);
        return rc;
    }
    u->parallel = 8;
    *out = u;
    return 0;
}

void pb_up_free(pb_up *u)
{
    if (!u) return;
    pb_http_client_free(u->http);
    pb_gov_release(u->gov);
    memset(u->key_header, 0, sizeof u->key_header);
    free(u);
}

void pb_up_set_stop(pb_up *u, volatile int *stop)
{
    u->stop = stop;
}

void pb_up_set_parallel(pb_up *u, int n)
{
    u->parallel = n < 1 ? 1 : n > 16 ? 16 : n;
    pb_gov_set_parallel(u->gov, u->parallel);
}

pb_gov *pb_up_governor(pb_up *u)
{
    return u->gov;
}

void pb_up_stats_get(pb_up *u, pb_up_stats *out)
{
    *out = u->st;
}

static int json_depth_ok(const char *s, size_t n)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > UP_MAX_DEPTH) return 0;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 1;
}

static int hdr_int(const pb_http_response *r, const char *name, int64_t *out)
{
    char v[64];
    if (!pb_http_response_header(r, name, v, sizeof v)) return 0;
    return pb_parse_i64(v, 0, INT64_C(1) << 40, out) == 0;
}

static void sleep_us(int64_t us, volatile int *stop)
{
    while (us > 0 && !(stop && *stop)) {
        int64_t step = us > 100000 ? 100000 : us;
        struct timespec ts = {(time_t)(step / 1000000), (long)(step % 1000000) * 1000};
        nanosleep(&ts, NULL);
        us -= step;
    }
}

static int64_t backoff_us(int attempt)
{
    int64_t cap = 100000LL << (attempt < 7 ? attempt : 7); /* 100 ms .. 12.8 s */
    if (cap > 8000000) cap = 8000000;
    return (int64_t)(pb_random_u64() % (uint64_t)cap) + 20000;
}

typedef struct slot {
    size_t idx;
    int attempts;
    int64_t not_before; /* mono ms */
    int done;
} slot;

/* Classifies one exchange: 1 done (res filled), 0 retry. */
static int settle(pb_up *u, pb_http_response *hr, pb_up_result *res)
{
    int64_t rem = -1, lim = -1, reset = 0, ra = 0;
    if (hr->rc == 0) {
        if (!hdr_int(hr, "X-RateLimit-Remaining", &rem)) rem = -1;
        if (!hdr_int(hr, "X-RateLimit-Limit", &lim)) lim = -1;
        if (!hdr_int(hr, "X-RateLimit-Reset", &reset)) reset = 0;
        if (!hdr_int(hr, "Retry-After", &ra)) ra = 0;
    }
    pb_gov_done(u->gov, hr->rc == 0 ? hr->status : 0, (int)rem, (int)lim, reset, (int)ra);
    u->st.requests++;
    u->st.bytes += (int64_t)hr->body.len;
    res->status = hr->rc == 0 ? hr->status : 0;
    if (hr->rc != 0) {
        pb_strlcpy(res->error, hr->error[0] ? hr->error : pb_strerror(hr->rc), sizeof res->error);
        return 0;
    }
    if (hr->status == 429) {
        u->st.throttled++;
        snprintf(res->error, sizeof res->error, "429 rate limited");
        return 0;
    }
    if (hr->status >= 500) {
        snprintf(res->error, sizeof res->error, "upstream answered %d", hr->status);
        return 0;
    }
    if (hr->status >= 200 && hr->status < 300) {
        const char *b = pb_buf_cstr(&hr->body);
        if (hr->truncated || !json_depth_ok(b, hr->body.len)) {
            snprintf(res->error, sizeof res->error, "body too large or too deep");
            return 1; /* not retryable: the same answer would come again */
        }
        cJSON *j = cJSON_ParseWithLength(b, hr->body.len);
        if (!j) {
            snprintf(res->error, sizeof res->error, "incomplete or malformed JSON body");
            return 0; /* a truncated body: fetch again */
        }
        cJSON_Delete(res->json);
        res->json = j;
        res->error[0] = '\0';
        return 1;
    }
    snprintf(res->error, sizeof res->error, "upstream answered %d", hr->status);
    return 1; /* other 4xx: final */
}

int pb_up_get_many(pb_up *u, const char *const *paths, size_t n, pb_up_result *res, pb_error *err)
{
    if (n == 0) return 0;
    slot *sl = calloc(n, sizeof *sl);
    pb_http_request *reqs = calloc(16, sizeof *reqs);
    pb_http_response *resps = calloc(16, sizeof *resps);
    char(*urls)[UP_MAX_URL] = calloc(16, UP_MAX_URL);
    size_t *which = calloc(16, sizeof *which);
    int rc = 0;
    if (!sl || !reqs || !resps || !urls || !which) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        sl[i].idx = i;
    }
    for (int i = 0; i < 16; i++) pb_http_response_init(&resps[i]);
    pb_http_header hdrs[] = {{"X-Api-Key", u->key_header}, {"Accept", "application/json"}};
    size_t left = n;
    while (left > 0) {
        if (u->stop && *u->stop) {
            rc = pb_error_set(err, PB_ESTATE, "sync stopped");
            goto out;
        }
        /* ready slots */
        int64_t now = pb_mono_ms(), soonest = INT64_MAX;
        size_t ready = 0;
        for (size_t i = 0; i < n; i++) {
            if (sl[i].done) continue;
            if (sl[i].not_before <= now)
                ready++;
            else if (sl[i].not_before < soonest)
                soonest = sl[i].not_before;
        }
        if (ready == 0) {
            sleep_us((soonest - now) * 1000, u->stop);
            continue;
        }
        int want = (int)(ready < (size_t)u->parallel ? ready : (size_t)u->parallel);
        int k = pb_gov_acquire(u->gov, want, u->stop);
        if (k <= 0) {
            rc = pb_error_set(err, PB_ESTATE, "sync stopped");
            goto out;
        }
        int m = 0;
        for (size_t i = 0; i < n && m < k; i++) {
            if (sl[i].done || sl[i].not_before > now) continue;
            int len = snprintf(urls[m], UP_MAX_URL, "%s%s", u->base, paths[sl[i].idx]);
            if (len < 0 || len >= UP_MAX_URL) {
                snprintf(res[i].error, sizeof res[i].error, "URL too long");
                sl[i].done = 1;
                left--;
                pb_gov_done(u->gov, 0, -1, -1, 0, 0);
                k--;
                continue;
            }
            memset(&reqs[m], 0, sizeof reqs[m]);
            reqs[m].method = "GET";
            reqs[m].url = urls[m];
            reqs[m].headers = hdrs;
            reqs[m].nheaders = 2;
            reqs[m].timeout_ms = 30000;
            reqs[m].max_response = UP_MAX_BODY;
            reqs[m].truncate_response = 1;
            which[m] = i;
            m++;
        }
        /* slots granted but not used (a URL too long) were released above */
        if (m == 0) continue;
        pb_http_do_many(u->http, reqs, resps, (size_t)m);
        for (int j = 0; j < m; j++) {
            size_t i = which[j];
            if (settle(u, &resps[j], &res[i])) {
                sl[i].done = 1;
                left--;
            } else {
                sl[i].attempts++;
                u->st.retries++;
                if (sl[i].attempts >= UP_MAX_ATTEMPTS && res[i].status != 429) {
                    PB_LOG(PB_LOG_WARN, "upstream request failed", PB_LS("path", paths[i]),
                           PB_LS("error", res[i].error), PB_LI("attempts", sl[i].attempts));
                    sl[i].done = 1;
                    left--;
                    if (!rc) rc = pb_error_set(err, PB_EUPSTREAM, "upstream %s: %s", paths[i], res[i].error);
                } else {
                    PB_LOG(PB_LOG_DEBUG, "upstream retry", PB_LS("path", paths[i]), PB_LS("error", res[i].error),
                           PB_LI("attempt", sl[i].attempts));
                    sl[i].not_before = pb_mono_ms() + (res[i].status == 429 ? 0 : backoff_us(sl[i].attempts) / 1000);
                }
            }
            pb_http_response_free(&resps[j]);
        }
    }
out:
    if (resps)
        for (int i = 0; i < 16; i++) pb_http_response_free(&resps[i]);
    free(sl);
    free(reqs);
    free(resps);
    free(urls);
    free(which);
    return rc;
}

int pb_up_get(pb_up *u, const char *path, pb_up_result *res, pb_error *err)
{
    const char *p[1] = {path};
    return pb_up_get_many(u, p, 1, res, err);
}
