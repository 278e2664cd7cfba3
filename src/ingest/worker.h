/* worker: applies queued webhook jobs to the mirror.
 *
 * Each worker thread loops over batches of ready jobs, then sleeps until woken or the poll
 * interval passes:
 *   - PostgreSQL: claim the batch under a lease (queue_store.h: SKIP LOCKED, so threads and
 *     processes sharing one database never process a job twice at once), group it by object,
 *     apply each group in one write transaction together with the acks (SAVEPOINT per group,
 *     one commit per batch).
 *   - SQLite: no lease. Read and parse the ready jobs outside any write transaction, then in
 *     ONE write transaction per batch take each job (re-checked to be still pending: the write
 *     transaction excludes every other writer, also in other processes), apply it and mark it
 *     done, committed with synchronous=NORMAL (safety argued in worker.c). When the group
 *     committer waits for SQLite's write lock, the transaction commits after the current
 *     group (at least YIELD_MIN_JOBS jobs in) and the batch continues in a new one after the
 *     committer's turn: webhook answers wait for at most one group of applies. One thread on
 *     SQLite (more would only re-read the same jobs). Crash accounting without a lease: the
 *     batch's jobs are marked in ops.event_inflight (a small NORMAL transaction) before the
 *     apply, each mark is cleared with its job; a mark whose process died (pid gone, or an
 *     earlier process with our pid) is charged one attempt by the next worker, so a job that
 *     crashes the process ends in the dead letters after max_attempts crashes, as on the
 *     lease path (every job of the crashed transaction is charged, as a lease charges its
 *     whole claim).
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
    int threads;             /* default 2; always 1 on SQLite */
    int batch;               /* jobs per claim; default 64 */
    int64_t lease_ms;        /* default 30000 */
    int64_t coalesce_ms;     /* minimum job age before a claim; default 100 */
    int max_attempts;        /* default 8 */
    int64_t backoff_base_ms; /* default 1000 */
    int64_t backoff_max_ms;  /* default 300000 */
    int64_t poll_ms;         /* idle sleep when woken by nobody; default 250 */
    pb_ingest_refetch_fn refetch;
    void *refetch_ctx;
    int bg_checkpoint; /* SQLite: another thread checkpoints the WAL (enqueue.h), so the worker's
                          commits never run one inline (wal_autocheckpoint=0 while it writes) */
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

/* This process's identity in SQLite in-flight marks (ops.event_inflight.owner), and its host
 * part ("hostname#pid-namespace"); a mark "HOST:PID:..." with our host part belongs to a
 * process whose liveness kill(PID, 0) can tell. host_out may be NULL. */
void pb_worker_identity(char out[96], char host_out[64]);

/* Refreshes the queue gauges (depth, lag, dead letters) from the store. */
int pb_worker_refresh_gauges(pb_conn *c, pb_error *err);

#endif
