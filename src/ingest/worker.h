/* worker: applies queued webhook jobs to the mirror.
 *
 * Each worker thread loops: claim a batch of ready jobs under a lease (queue_store.h:
 * SKIP LOCKED on PostgreSQL, so threads and processes sharing one database never process a
 * job twice at once), group the batch by object, apply each group in one write transaction
 * together with the acks (SAVEPOINT per group, one commit per batch), then sleep until woken
 * or the poll interval passes.
 *
 * Coalescing: jobs are only claimed once they are coalesce_ms old, so the N per-field
 * deliveries of one PATCH usually land in one batch; a group applies only its newest hint
 * (by data.updated_at) and acks the rest as coalesced. Hints of one PATCH that land in
 * different batches carry the same row version and are no-ops by the updated_at guard, so
 * either way one PATCH yields one event.
 *
 * Failures: a body that no longer parses goes straight to dead letters; any other failure
 * rolls back that group and retries it with exponential backoff and ±20% jitter
 * (backoff_base_ms * 2^(attempts-1), capped) until max_attempts, then dead letters.
 * `planebridge replay` makes dead jobs pending again.
 *
 * Refetch hook: when a hint is partial (no updated_at, missing required fields) or stale
 * (older than the mirror), the hook is called after commit, outside any transaction. The
 * sync module is meant to re-read the object through the REST client there (within the rate
 * budget); until it registers one, such hints are only counted. */
#ifndef PB_INGEST_WORKER_H
#define PB_INGEST_WORKER_H

#include "core/err.h"
#include "store/db.h"

#include <stdint.h>

typedef void (*pb_ingest_refetch_fn)(void *ctx, const char *workspace, const char *object_type,
                                     const char *object_id, const char *reason);

typedef struct pb_worker_options {
    int threads;             /* default 2 */
    int batch;               /* jobs per claim; default 16 on SQLite (short write locks), 64 on PostgreSQL */
    int64_t lease_ms;        /* default 30000 */
    int64_t coalesce_ms;     /* minimum job age before a claim; default 100 */
    int max_attempts;        /* default 8 */
    int64_t backoff_base_ms; /* default 1000 */
    int64_t backoff_max_ms;  /* default 300000 */
    int64_t poll_ms;         /* idle sleep when woken by nobody; default 250 */
    pb_ingest_refetch_fn refetch;
    void *refetch_ctx;
} pb_worker_options;

typedef struct pb_worker pb_worker;

int pb_worker_new(pb_db *db, const pb_worker_options *opt, pb_worker **out, pb_error *err);
int pb_worker_start(pb_worker *w, pb_error *err);
void pb_worker_stop(pb_worker *w); /* finishes the batch in hand, then joins the threads */
void pb_worker_free(pb_worker *w); /* NULL-safe; stops first */
/* Sets (or replaces) the refetch hook; safe while the threads run. */
void pb_worker_set_refetch(pb_worker *w, pb_ingest_refetch_fn fn, void *ctx);
/* Wakes idle worker threads (called after a group commit stored new jobs). */
void pb_worker_wake(pb_worker *w);

typedef struct pb_worker_tally {
    int claimed, applied, coalesced, retried, dead, events;
} pb_worker_tally;

/* One claim + apply cycle on connection c as worker_id (tests, replay --now). Adds what it
 * did to *t (optional). Returns 0 or a store error. */
int pb_worker_run_once(pb_conn *c, const pb_worker_options *opt, const char *worker_id, pb_worker_tally *t,
                       pb_error *err);

/* Refreshes the queue gauges (depth, lag, dead letters) from the store. */
int pb_worker_refresh_gauges(pb_conn *c, pb_error *err);

#endif
