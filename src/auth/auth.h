/* auth: planebridge's security core as seen by the rest of the daemon.
 *
 * pb_module_auth (init) opens the vault (app->vault), creates the authenticator
 * (app->auth), installs the HTTP server's auth hook and done hook, registers the admin API
 * (/admin/v1/keys...) and starts the usage writer and rate-bucket sync thread (start).
 *
 * The auth hook runs before every route that is not PB_ROUTE_PUBLIC:
 *   - no X-Api-Key / Authorization: Bearer   -> 401 {"detail":"Authentication credentials were not provided."}
 *   - unknown, expired or revoked key         -> 403 {"detail":"Given API token is not valid"}
 *   - route's scope missing from the key      -> 403 {"detail":"...","missing_scope":"issues:write"}
 *   - route has {slug}: the key must be allowed in that workspace, the user must be a member,
 *     and the user's role there must allow the scope (a guest never writes)
 *                                             -> 403 {"detail":"You do not have permission to perform this action."}
 *   - route has {project_id}: a project-scoped key only matches its project (same 403)
 *   - past the key's rate limit               -> 429 {"error_code":5900,"error_message":"RATE_LIMIT_EXCEEDED"}
 *                                                with Retry-After (and X-RateLimit-*)
 *   - a client address (IPv4, IPv6 /64) past 30 failed authentications (invalid, unknown,
 *     expired or revoked keys; refilled at 30/min), presenting a key not already validated
 *     in this process                         -> 429 (same body) with Retry-After, before any store query
 * Unknown well-formed keys are remembered (negative cache, 64k digests, 60 s) so repeating
 * one costs no store query.
 * Every authenticated answer carries X-RateLimit-Limit, -Remaining and -Reset.
 * Handlers read the principal with pb_auth_principal(req) (== pb_req_auth(req)). */
#ifndef PB_AUTH_AUTH_H
#define PB_AUTH_AUTH_H

#include "app/app.h"
#include "auth/scope.h"
#include "http/server.h"
#include "store/auth_store.h"

#include <stdint.h>

typedef struct pb_auth pb_auth;

/* The authenticated caller of a request. Owned by the request (freed with it). */
typedef struct pb_principal {
    char key_id[PB_ID_MAX];
    char key_prefix[16];
    char user_id[PB_ID_MAX];
    char user_email[PB_EMAIL_MAX];
    char workspace[PB_SLUG_MAX];  /* key restricted to this workspace; "" = the user's workspaces */
    char project_id[PB_ID_MAX];   /* key restricted to this project; "" = any */
    pb_scopes scopes;             /* the key's scopes (wildcards expanded), before role caps */
    int rate_limit;               /* effective per-minute limit */
    int64_t expires_at;           /* 0 = never */
    pb_auth *auth;                /* the authenticator that admitted it */
} pb_principal;

extern const pb_module pb_module_auth;

/* The request's principal, or NULL (public route, or no auth module). */
const pb_principal *pb_auth_principal(const pb_req *req);

/* 1 if the principal's key holds `scope` (a scope name; NULL/"" is always held). */
int pb_auth_check_scope(const pb_principal *p, const char *scope);

/* The user's role in a workspace (cached ~1 s). PB_EFORBIDDEN when the key is restricted to
 * another workspace; PB_ENOTFOUND when the user is not a member. */
int pb_auth_member_role(pb_app *app, const pb_principal *p, const char *workspace_slug, int *role);

/* For handlers that learn the workspace/project only from the body: 0 if the principal may
 * act in workspace_slug (and project_id, may be NULL) with `scope` (may be NULL); otherwise
 * fills resp with Plane's 403 body (or 401 without a principal) and returns PB_EFORBIDDEN. */
int pb_auth_require(pb_app *app, pb_req *req, pb_resp *resp, const char *workspace_slug,
                    const char *project_id, const char *scope);

/* Drops cached state for a key (revoke/rotate in this process). Other processes notice
 * within the cache TTL (1 s). NULL = everything. */
void pb_auth_invalidate(pb_auth *a, const char *key_id);
/* A key was created or rotated in this process: forget every "unknown key" verdict (the
 * negative cache). Keys created by other processes are seen within the negative TTL (60 s)
 * at worst -- and only if that exact key had been presented before it existed. */
void pb_auth_keys_changed(pb_auth *a);

/* Counters for /metrics and tests. */
typedef struct pb_auth_stats {
    uint64_t cache_hits, cache_misses;
    uint64_t usage_queued, usage_written, usage_dropped;
    uint64_t rate_limited;
    uint64_t negative_hits; /* unknown keys answered from the negative cache (also in cache_hits) */
    uint64_t ip_throttled;  /* 429s for client addresses past their failed-authentication budget */
} pb_auth_stats;
void pb_auth_get_stats(pb_auth *a, pb_auth_stats *out);

/* Flushes queued usage rows and rate-bucket deltas now (tests, shutdown). */
void pb_auth_flush(pb_auth *a);

/* Lower-level constructors (tests, bench): an authenticator over a store and config without
 * the module machinery. pb_auth_install() sets the server hooks. */
int pb_auth_new(pb_db *db, const pb_config *cfg, pb_auth **out, pb_error *err);
void pb_auth_free(pb_auth *a);
void pb_auth_install(pb_auth *a, pb_server *srv);
int pb_auth_start(pb_auth *a, pb_error *err); /* background writer thread */
void pb_auth_stop(pb_auth *a);
/* The hooks themselves (the bench calls them in-process). */
int pb_auth_hook(pb_req *req, pb_resp *resp, const pb_route *route, void *ctx);
void pb_auth_done_hook(pb_req *req, int status, int64_t latency_us, void *ctx);

#endif
