/* auth_internal: pieces of the auth module shared by its own files, its tests, the fuzz
 * target and the benchmark harness. Not for other modules (use auth.h). */
#ifndef PB_AUTH_AUTH_INTERNAL_H
#define PB_AUTH_AUTH_INTERNAL_H

#include "auth/auth.h"
#include "auth/ratelimit.h"

/* The outcome of authenticating one request, independent of the HTTP server. */
typedef struct pb_auth_decision {
    int status;              /* 0 = allowed, else 401/403/429/503 */
    const char *body;        /* JSON body of a refusal (static or body_buf) */
    char body_buf[320];
    pb_principal *principal; /* malloc'd once the key is valid (also on 403 scope / 429); caller frees */
    int has_rl;              /* rl filled (every authenticated answer) */
    pb_rl_result rl;
    int ip_retry_after_s;    /* > 0: refused because the client address failed too often */
} pb_auth_decision;

/* Authenticates a request given its two auth headers (either may be NULL), the route's
 * scope and the route's {slug}/{project_id} parameters (NULL when absent). Returns d->status. */
int pb_auth_decide(pb_auth *a, const char *x_api_key, const char *authorization, const char *scope,
                   const char *slug, const char *project_id, pb_auth_decision *d);
/* The same with the client's address (NULL = no per-address failure limit), as the hook calls it. */
int pb_auth_decide_ip(pb_auth *a, const char *x_api_key, const char *authorization, const char *client_ip,
                      const char *scope, const char *slug, const char *project_id, pb_auth_decision *d);
/* Tests: moves the authenticator's clock (cache TTLs, failure buckets) forward by ms. */
void pb_auth_test_advance(pb_auth *a, int64_t ms);
/* Queues one usage row for the principal's key. */
void pb_auth_usage_record(pb_auth *a, const pb_principal *p, const char *method, const char *route, int status,
                          int64_t latency_us, const char *ua, const char *ip);
pb_db *pb_auth_db(pb_auth *a);
const pb_config *pb_auth_config(pb_auth *a);
/* Registers /admin/v1/keys... on app->srv (auth_admin.c). */
int pb_auth_admin_register(pb_app *app, pb_error *err);

#endif
