/* queue_store: the SQL of the inbound job queue ops.event_queue (0001_core).
 *
 * States: pending -> leased -> done | pending (retry, with next_attempt_at) | dead.
 * A lease that expires (lease_until < now) makes the job claimable again; `attempts` counts
 * claims, so a job that crashes its worker again and again reaches the dead-letter state.
 *
 * Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several threads and processes on
 * one database never claim the same job at once; on SQLite the caller holds the single
 * write lock (pb_conn_begin_write) around the claim.
 *
 * Every function works on a connection the caller holds. pb_queue_enqueue_batch() and
 * pb_queue_claim() run their own transaction (the connection must be outside one); ack,
 * retry and dead run inside the caller's transaction when there is one, so a job can be
 * acked atomically with the mirror change it caused. Errors: negative PB_E* codes. */
#ifndef PB_STORE_QUEUE_STORE_H
#define PB_STORE_QUEUE_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_queue_in {
    const char *key;    /* idempotency key (UNIQUE) */
    const char *source; /* "plane" */
    const char *workspace;
    const char *object_type; /* may be NULL */
    const char *object_id;   /* may be NULL */
    int64_t received_at;     /* µs */
    const void *body;
    size_t body_len;
} pb_queue_in;

/* Inserts n jobs in one transaction (multi-row inserts, ON CONFLICT DO NOTHING) and commits.
 * inserted[i] = 1 for a new job, 0 for a duplicate key (already stored, or repeated earlier
 * in the same batch). On error nothing is stored. */
int pb_queue_enqueue_batch(pb_conn *c, const pb_queue_in *jobs, size_t n, unsigned char *inserted,
                           pb_error *err);

typedef struct pb_queue_job {
    int64_t id;
    char *key, *source, *workspace, *object_type, *object_id; /* malloc'd, "" for NULL */
    int64_t received_at;
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
    int attempts; /* including this claim */
} pb_queue_job;

/* Claims up to max ready jobs (pending with next_attempt_at <= now, or leased with an
 * expired lease) received at or before max_received_at, for worker_id until now+lease_us.
 * Runs and commits its own transaction. *out is malloc'd, sorted by id (pb_queue_jobs_free). */
int pb_queue_claim(pb_conn *c, const char *worker_id, int64_t now, int64_t lease_us, int64_t max_received_at,
                   int max, pb_queue_job **out, size_t *n, pb_error *err);
void pb_queue_jobs_free(pb_queue_job *jobs, size_t n);

/* Marks a job done (only while worker_id still holds it: a worker whose lease was taken over
 * changes nothing). *changed (optional) = rows affected. */
int pb_queue_ack(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int64_t *changed, pb_error *err);
/* Back to pending at next_attempt_at, recording the error. */
int pb_queue_retry(pb_conn *c, int64_t id, const char *worker_id, int64_t next_attempt_at, const char *error,
                   pb_error *err);
/* To the dead-letter state, recording the error. */
int pb_queue_dead(pb_conn *c, int64_t id, const char *worker_id, int64_t now, const char *error,
                  pb_error *err);

/* Replay: makes jobs pending again with attempts reset. With all_dead, every dead job; plus
 * each id in ids (any state but leased). *changed = jobs made pending. */
int pb_queue_replay(pb_conn *c, int all_dead, const int64_t *ids, size_t nids, int64_t *changed,
                    pb_error *err);

typedef struct pb_queue_stats {
    int64_t pending, leased, done, dead;
    int64_t oldest_ready_received_at; /* 0 when nothing is pending */
} pb_queue_stats;
int pb_queue_get_stats(pb_conn *c, pb_queue_stats *st, pb_error *err);

/* Gauge counts: pending, leased and dead jobs and the age of the oldest unfinished one,
 * without counting done jobs (st->done = -1): reads only index entries of unfinished jobs, so
 * its cost does not grow with the finished jobs kept for deduplication. */
int pb_queue_get_backlog(pb_conn *c, pb_queue_stats *st, pb_error *err);

/* --- single-transaction processing (the SQLite worker path, ingest/worker.c) ---------------
 * On SQLite one write transaction excludes every other writer (threads and processes), so a
 * worker can process a job without a lease: read the ready jobs first, outside any write
 * transaction (pb_queue_peek_ready), then inside ONE write transaction take each one
 * (pb_queue_take re-checks it is still pending and marks it done), apply it, and commit both
 * together. A job someone else processed between the read and the take is skipped. */

/* Ready jobs (pending, next_attempt_at <= now, received_at <= max_received_at), oldest first
 * (by id), at most max, WITHOUT claiming them. *out malloc'd (pb_queue_jobs_free); attempts
 * is the stored count (not incremented). */
int pb_queue_peek_ready(pb_conn *c, int64_t now, int64_t max_received_at, int max, pb_queue_job **out,
                        size_t *n, pb_error *err);
/* Inside the caller's write transaction: marks job id done (done_at = now, leased_by =
 * worker_id, attempts + 1) if it is still pending and due. *taken = 1 when it was, 0 when it
 * is not pending any more (nothing changed); *attempts (optional) = the new count. */
int pb_queue_take(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int *taken, int *attempts,
                  pb_error *err);
/* Inside the caller's write transaction, for a pending job whose apply failed (the take was
 * rolled back to a savepoint): counts the attempt and records error, then either schedules a
 * retry at next_attempt_at or (dead = 1) moves it to the dead-letter state (done_at = now).
 * *changed (optional) = rows changed (0 when the job was not pending). */
int pb_queue_fail_pending(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int64_t next_attempt_at,
                          int dead, const char *error, int64_t *changed, pb_error *err);
/* Makes jobs whose lease ran out (leased by a process that died) pending again; runs inside
 * the caller's transaction if there is one. pb_queue_claim does this itself.
 * pb_queue_lease_expired: *any = 1 when at least one such job exists (a read: lets a caller
 * skip the write transaction when there is nothing to reclaim). */
int pb_queue_reclaim_expired(pb_conn *c, int64_t now, pb_error *err);
int pb_queue_lease_expired(pb_conn *c, int64_t now, int *any, pb_error *err);
/* SQLite: this connection's PRAGMA synchronous (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). Stores the
 * current level in *previous (optional), then sets level unless level < 0. A connection must
 * go back to the pool with the level it came with. No-op on PostgreSQL (*previous untouched). */
int pb_queue_sync_level(pb_conn *c, int level, int *previous, pb_error *err);

/* Crash accounting without a lease (SQLite worker; table ops.event_inflight). The worker
 * marks the jobs it is about to apply in a transaction of its own (pb_queue_inflight_mark:
 * owner = its process identity, pid), and clears each mark in the transaction that applies
 * the job (pb_queue_inflight_clear). Marks still there when another worker looks
 * (pb_queue_inflight_list, at most max rows, oldest first) belong to a process that died while
 * applying, or are being applied right now: the caller tells which (its own owner, pid
 * liveness) and charges the dead ones with pb_queue_inflight_charge, inside its write
 * transaction: attempts + 1 and error recorded, dead letter at max_attempts (*dead = 1), mark
 * deleted. pb_queue_inflight_clear deletes a mark without charging (also the caller's own stale
 * mark, left by a transaction of its own that rolled back). */
typedef struct pb_queue_inflight {
    int64_t job_id, pid, started_at;
    char owner[96];
} pb_queue_inflight;
int pb_queue_inflight_mark(pb_conn *c, const int64_t *ids, size_t n, const char *owner, int64_t pid, int64_t now,
                           pb_error *err);
int pb_queue_inflight_clear(pb_conn *c, int64_t id, pb_error *err);
int pb_queue_inflight_list(pb_conn *c, int max, pb_queue_inflight **out, size_t *n, pb_error *err);
int pb_queue_inflight_charge(pb_conn *c, int64_t id, int max_attempts, int64_t now, const char *error, int *dead,
                             pb_error *err);

/* One job by id (any state), for replay tooling and tests. PB_ENOTFOUND when absent.
 * status is copied into status (16 bytes). */
int pb_queue_get(pb_conn *c, int64_t id, pb_queue_job *out, char status[16], pb_error *err);

typedef struct pb_queue_row {
    int64_t id, received_at, done_at;
    int attempts;
    char status[16], workspace[64], object_type[48], object_id[64];
    char last_error[256];
} pb_queue_row;
/* Jobs in one state (e.g. "dead"), oldest first, at most limit. *out malloc'd (free). */
int pb_queue_list(pb_conn *c, const char *status, int limit, pb_queue_row **out, size_t *n, pb_error *err);

/* Makes this connection's commits durable whatever the server default says (PostgreSQL:
 * SET synchronous_commit = on; SQLite: the driver already opens with synchronous=FULL unless
 * configured otherwise). The group committer calls it on every connection it takes. */
int pb_queue_require_durable(pb_conn *c, pb_error *err);

/* SQLite write-ahead-log tuning for the group committer (no-ops on PostgreSQL):
 * pb_queue_wal_autocheckpoint(c, 0) stops this connection from running checkpoints inside
 * its commits (a checkpoint copies the WAL into the database file and fsyncs it: a multi-ms
 * stall that would land on the answers of a whole batch); pass -1 to restore SQLite's
 * default (1000 pages) before the connection goes back to the pool. pb_queue_checkpoint()
 * runs a PASSIVE checkpoint (never blocks writers) from another connection; *log_frames and
 * *done_frames (optional) receive the WAL size and the frames copied. */
int pb_queue_wal_autocheckpoint(pb_conn *c, int pages, pb_error *err);
int pb_queue_checkpoint(pb_conn *c, int64_t *log_frames, int64_t *done_frames, pb_error *err);

/* Deletes done jobs finished before before_us (their keys stop deduplicating). */
int pb_queue_purge_done(pb_conn *c, int64_t before_us, int64_t *deleted, pb_error *err);

#endif
