/* enqueue: durable group commit of inbound jobs into ops.event_queue.
 *
 * Request threads call pb_enqueuer_submit(), which links the job (owned by the caller, on its
 * stack) into a pending list and blocks on the job's own condition variable. A committer
 * thread takes everything pending (up to max_batch), inserts it in one transaction and
 * commits — SQLite WAL with synchronous=FULL fsyncs, PostgreSQL synchronous_commit — and only
 * then wakes each submitter with its outcome. So a 200 is only ever sent for a job that is on
 * disk, and one fsync covers a whole batch. SQLite runs one committer (one writer); PostgreSQL
 * several, each on its own connection, so batches pipeline and the server flushes the WAL of
 * concurrent commits together.
 *
 * Overload: when max_pending jobs already wait for the committer, submit fails at once with
 * PB_EBUSY (the receiver answers 503 + Retry-After) instead of queueing without bound. A job
 * still waiting for the committer after timeout_ms is withdrawn (PB_ETIMEOUT, nothing
 * stored); once the committer has taken it, submit waits for the commit's outcome, because
 * the job's memory is in use until then.
 *
 * SQLite checkpoints: with bg_checkpoint the committer's connection never checkpoints inside
 * its commits (wal_autocheckpoint=0); a checkpointer thread runs PASSIVE checkpoints every
 * 100 ms after new commits, so the WAL is copied back without stalling a batch's answers.
 * Under sustained writes a passive checkpoint never completes (writers keep appending while it
 * copies), so SQLite never restarts the WAL and it grows without bound; once the WAL holds
 * 65536 frames (256 MB) the checkpointer runs a last PASSIVE pass while holding this process's
 * writers off (writelock.h), which completes it and lets the next write restart the WAL.
 *
 * Batches go in as one multi-row INSERT of up to 64 rows (PostgreSQL: without BEGIN/COMMIT
 * when the batch fits, a single statement being atomic).
 *
 * Thread-safe. pb_enqueuer_stop() commits what is pending, then stops the threads; later
 * submits fail with PB_EBUSY. */
#ifndef PB_INGEST_ENQUEUE_H
#define PB_INGEST_ENQUEUE_H

#include "core/err.h"
#include "store/db.h"
#include "store/queue_store.h"

#include <stdint.h>

typedef struct pb_enqueuer pb_enqueuer;

#define PB_ENQUEUER_MAX_COMMITTERS 16

typedef struct pb_enqueuer_options {
    int committers;    /* committer threads; default 4 on PostgreSQL, 1 on SQLite */
    int max_batch;     /* jobs per transaction; default 256 */
    int max_pending;   /* jobs waiting for the committer before PB_EBUSY; default 4096 */
    int bg_checkpoint; /* SQLite: checkpoint from a background thread, never inside a commit */
    void (*on_commit)(void *ctx, int inserted); /* called after each commit that stored rows */
    void *on_commit_ctx;
} pb_enqueuer_options;

int pb_enqueuer_new(pb_db *db, const pb_enqueuer_options *opt, pb_enqueuer **out, pb_error *err);
int pb_enqueuer_start(pb_enqueuer *q, pb_error *err);
void pb_enqueuer_stop(pb_enqueuer *q);
void pb_enqueuer_free(pb_enqueuer *q); /* NULL-safe; stops first */

/* Stores job durably. *duplicate = 1 when its key was already stored (nothing new written).
 * Returns 0, PB_EBUSY (overloaded or stopped), PB_ETIMEOUT, or a store error. */
int pb_enqueuer_submit(pb_enqueuer *q, const pb_queue_in *job, int timeout_ms, int *duplicate, pb_error *err);

/* Asynchronous submit (for deferred HTTP answers, http/server.h): the job is queued exactly
 * like pb_enqueuer_submit's, and done(ctx, rc, duplicate) is called exactly once — on a
 * committer thread after the job's batch commit returned (rc 0: durable; or the store error),
 * or from pb_enqueuer_stop with PB_EBUSY for a job no committer took. done runs outside the
 * enqueuer's lock and must not block. The job's strings (key, body, ...) must stay valid
 * until done is called; the pb_queue_in struct itself is copied. No timeout: a job leaves
 * only through a commit or stop. Returns 0 (queued), PB_EBUSY at once when max_pending jobs
 * already wait or the enqueuer is stopping (done is then not called), PB_ENOMEM. */
typedef void (*pb_enqueue_done_fn)(void *ctx, int rc, int duplicate);
int pb_enqueuer_submit_async(pb_enqueuer *q, const pb_queue_in *job, pb_enqueue_done_fn done, void *ctx,
                             pb_error *err);

/* Jobs currently waiting for the committer (for metrics). */
int pb_enqueuer_pending(pb_enqueuer *q);
/* Commits and rows since start (for tests and the benchmark). */
void pb_enqueuer_counts(pb_enqueuer *q, int64_t *commits, int64_t *rows);

#endif
