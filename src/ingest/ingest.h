/* ingest: the Plane webhook receiver (POST /hooks/plane/{workspace}) and the "ingest" module.
 *
 * Request path, in this order (nothing else happens on the request thread):
 *   1. workspace slug check (404), size limit (413), content type (415);
 *   2. signature on the raw bytes (signature.h, secrets from secrets.h): 401 without parsing
 *      and without logging the body — the log line names only workspace, reason and client;
 *   3. JSON depth limit, parse and validate (400 with a JSON error naming the field);
 *   4. idempotency key (webhook.h); durable group-commit enqueue (enqueue.h);
 *   5. 200 {"ok":true,"queued":true} once committed, or {"ok":true,"duplicate":true} when the
 *      key was already stored; 503 + Retry-After when the commit queue is full (max_pending),
 *      the durable backlog is past max_backlog (workers far behind; measured by the worker's
 *      gauge refresh each second) or the store fails — never a 200 for what is not on disk.
 * The route is PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY: the signature is its authentication.
 *
 * Module (pb_module_ingest): init builds the receiver over app->db with secrets from the
 * vault (app->vault, via tokens_ref) and registers the route; start runs the committer and
 * the worker threads; stop drains both (after the HTTP server has drained).
 * Knobs (read at init from app->cfg: the config table's ingest_* keys, environment
 * PB_INGEST_*, see `planebridge config --help`): ingest_workers (worker threads, 0 = none,
 * default 2), ingest_coalesce_ms (100), ingest_lease_ms (30000), ingest_max_pending (4096),
 * ingest_bg_checkpoint (SQLite; 1), ingest_committers (0 = default), ingest_max_body (512 KiB),
 * ingest_max_backlog (1000000), ingest_nostore=1 (benchmark ceiling only: verify + parse + key,
 * answer 200 WITHOUT storing — never for production). */
#ifndef PB_INGEST_INGEST_H
#define PB_INGEST_INGEST_H

#include "app/app.h"
#include "core/err.h"
#include "ingest/secrets.h"
#include "ingest/worker.h"
#include "store/db.h"

#include <stddef.h>

typedef struct pb_ingest pb_ingest;

typedef struct pb_ingest_options {
    size_t max_body;       /* default 512 KiB */
    int commit_timeout_ms; /* how long a job may wait for the committer; default 10000 */
    int max_pending;       /* enqueuer bound (503 past it); default 4096 */
    int max_batch;         /* jobs per group commit; default 256 */
    int committers;        /* group-commit threads; 0 = enqueue.h default (PostgreSQL 4, SQLite 1) */
    int no_store;          /* benchmark ceiling: answer 200 without storing */
    int bg_checkpoint;     /* SQLite: WAL checkpoints off the commit path (enqueue.h) */
    int64_t max_backlog;   /* 503 while more jobs than this wait in the store; 0 = no bound */
    int run_worker;        /* 1: pb_ingest_start also starts the worker */
    pb_worker_options worker;
} pb_ingest_options;

/* secrets: a lookup function for workspace secrets (may be NULL: only static entries set
 * through pb_ingest_secret_cache() verify). */
int pb_ingest_new(pb_db *db, const pb_ingest_options *opt, pb_secret_lookup_fn secrets, void *secrets_ctx,
                  pb_ingest **out, pb_error *err);
int pb_ingest_start(pb_ingest *ing, pb_error *err);
void pb_ingest_stop(pb_ingest *ing);
void pb_ingest_free(pb_ingest *ing); /* NULL-safe; stops first */
pb_ingest_secrets *pb_ingest_secret_cache(pb_ingest *ing);
/* Hook for partial/stale hints (worker.h); set before pb_ingest_start. */
void pb_ingest_set_refetch(pb_ingest *ing, pb_ingest_refetch_fn fn, void *ctx);
/* The module's receiver (NULL before init): lets the sync module register its refetch hook. */
pb_ingest *pb_ingest_instance(void);

typedef struct pb_ingest_reply {
    int status;
    int retry_after; /* seconds, 0 = no header */
    char body[192];  /* JSON */
} pb_ingest_reply;

/* The whole receiver minus HTTP plumbing (used by the route handler, tests and the fuzzer).
 * Header values may be NULL when absent. */
void pb_ingest_receive(pb_ingest *ing, const char *workspace, const char *content_type, const char *signature,
                       const char *shared_secret, const char *body, size_t len, pb_ingest_reply *out);

/* Registers POST /hooks/plane/{workspace} on srv with ing as the handler context. */
int pb_ingest_register_routes(pb_ingest *ing, pb_server *srv, pb_error *err);

/* Vault-backed secrets provider (ctx = pb_app*). */
int pb_ingest_vault_lookup(void *app, const char *workspace, pb_sig_secrets *out, pb_error *err);
/* Stores (or rotates to) a webhook secret for workspace in the vault and tokens_ref; the
 * previous secret keeps verifying for overlap_s seconds. */
int pb_ingest_secret_store(pb_db *db, struct pb_vault *vault, const char *workspace, pb_sig_scheme scheme,
                           const char *secret, int64_t overlap_s, pb_error *err);

extern const pb_module pb_module_ingest;

#endif
