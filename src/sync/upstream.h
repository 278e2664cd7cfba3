/* upstream: a read client for one upstream Plane workspace's REST API v1, on top of
 * pb_http_client, with every request passing the key's rate governor.
 *
 * Paths are relative to {upstream}/api/v1/workspaces/{slug}/ (e.g. "projects/?per_page=100").
 * Requests are retried, with exponential backoff and full jitter (100 ms doubling, at most 8 s
 * apart), on transport errors and timeouts, 5xx answers, 429 (after the governor's Retry-After
 * block), and 2xx answers whose body is not complete JSON (a truncated body); other 4xx are
 * final and returned. pb_up_get_many runs up to the governor's parallelism concurrently.
 *
 * One pb_up is used by one thread at a time (it owns a pb_http_client); the governor behind
 * it is shared by every pb_up of the same upstream key in the process. The API key is
 * registered with the log redactor and never logged. */
#ifndef PB_SYNC_UPSTREAM_H
#define PB_SYNC_UPSTREAM_H

#include "core/err.h"
#include "store/db.h"
#include "sync/governor.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pb_up pb_up;

typedef struct pb_up_result {
    int status;      /* final HTTP status, 0 when none after every retry */
    cJSON *json;     /* parsed body of a 2xx answer (caller frees: pb_up_result_clear) */
    char error[160]; /* why it failed, when json is NULL */
} pb_up_result;
void pb_up_result_clear(pb_up_result *r);

typedef struct pb_up_stats {
    int64_t requests; /* HTTP exchanges attempted (retries included) */
    int64_t retries;
    int64_t throttled; /* 429 answers */
    int64_t bytes;
} pb_up_stats;

/* base_url: "http://host:port" of the upstream (no trailing /api/...). db (optional) shares the
 * budget across processes. */
int pb_up_new(const char *base_url, const char *slug, const char *api_key, pb_db *db, pb_up **out, pb_error *err);
void pb_up_free(pb_up *u); /* NULL-safe */
/* Stop flag checked while waiting (budget, backoff): the caller sets *stop to abort. */
void pb_up_set_stop(pb_up *u, volatile int *stop);
void pb_up_set_parallel(pb_up *u, int n);
pb_gov *pb_up_governor(pb_up *u);
void pb_up_stats_get(pb_up *u, pb_up_stats *out);

/* GETs one path; 0 when an answer came (check res->status: 2xx with res->json, or a final 4xx),
 * PB_ENET/PB_ETIMEOUT when every retry failed, PB_ECANCELED-like PB_ESTATE when stopped. */
int pb_up_get(pb_up *u, const char *path, pb_up_result *res, pb_error *err);
/* GETs n paths concurrently; res[i] for each. Returns 0, or the first hard failure (every
 * retry exhausted, or stopped) after filling what it could. */
int pb_up_get_many(pb_up *u, const char *const *paths, size_t n, pb_up_result *res, pb_error *err);

#endif
