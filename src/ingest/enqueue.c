/* enqueue: see enqueue.h. */
#include "ingest/enqueue.h"

#include "core/log.h"
#include "core/util.h"
#include "ingest/ingest_metrics.h"
#include "ingest/writelock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { J_QUEUED = 0, J_INFLIGHT = 1, J_DONE = 2 };

typedef struct qjob {
    struct qjob *next, *prev;
    const pb_queue_in *in;
    pthread_cond_t cond;
    int state;
    int rc;
    int duplicate;
    pb_enqueue_done_fn done; /* async job (heap): called instead of signalling cond */
    void *done_ctx;
    pb_queue_in in_copy;
} qjob;

struct pb_enqueuer {
    pb_db *db;
    pb_enqueuer_options opt;
    pthread_mutex_t mu;
    pthread_cond_t work; /* committer waits here */
    qjob *head, *tail;
    int npending;
    int running, stopping;
    int nthreads;
    pthread_t threads[PB_ENQUEUER_MAX_COMMITTERS];
    int64_t commits, rows;
    pthread_t ckpt_thread;
    int ckpt_running;
    pthread_cond_t ckpt_cond;
};

int pb_enqueuer_new(pb_db *db, const pb_enqueuer_options *opt, pb_enqueuer **out, pb_error *err)
{
    pb_enqueuer *q = calloc(1, sizeof *q);
    if (!q) return pb_error_set(err, PB_ENOMEM, "out of memory");
    q->db = db;
    if (opt) q->opt = *opt;
    if (q->opt.max_batch <= 0) q->opt.max_batch = 256;
    if (q->opt.max_pending <= 0) q->opt.max_pending = 4096;
    /* PostgreSQL flushes the WAL of concurrent commits together, so several committers (each
     * with its own connection) pipeline batches; SQLite has one writer: one committer. */
    if (q->opt.committers <= 0) q->opt.committers = db && pb_db_backend(db) == PB_DB_POSTGRES ? 4 : 1;
    if (q->opt.committers > PB_ENQUEUER_MAX_COMMITTERS) q->opt.committers = PB_ENQUEUER_MAX_COMMITTERS;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->ckpt_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = q;
    return 0;
}

static void unlink_job(pb_enqueuer *q, qjob *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        q->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        q->tail = j->prev;
    j->next = j->prev = NULL;
    q->npending--;
}

static void *committer(void *arg)
{
    pb_enqueuer *q = arg;
    int max = q->opt.max_batch;
    qjob **batch = calloc((size_t)max, sizeof *batch);
    pb_queue_in *ins = calloc((size_t)max, sizeof *ins);
    unsigned char *inserted = calloc((size_t)max, 1);
    if (!batch || !ins || !inserted) {
        PB_LOG(PB_LOG_ERROR, "ingest committer: out of memory");
        free(batch);
        free(ins);
        free(inserted);
        return NULL;
    }
    pb_conn *c = NULL;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        if (!q->head && c) {
            /* Idle: give the connection back to the pool (it is small and shared). */
            pthread_mutex_unlock(&q->mu);
            if (q->opt.bg_checkpoint) pb_queue_wal_autocheckpoint(c, -1, NULL);
            pb_db_release(q->db, c);
            c = NULL;
            pthread_mutex_lock(&q->mu);
        }
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->mu);
        if (!q->head && q->stopping) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        int n = 0;
        while (q->head && n < max) {
            qjob *j = q->head;
            unlink_job(q, j);
            j->state = J_INFLIGHT;
            batch[n] = j;
            ins[n] = *j->in;
            n++;
        }
        pthread_mutex_unlock(&q->mu);

        pb_error err = {0};
        int rc = 0;
        if (!c) {
            rc = pb_db_acquire(q->db, &c, &err);
            if (!rc) rc = pb_queue_require_durable(c, &err);
            if (!rc && q->opt.bg_checkpoint) rc = pb_queue_wal_autocheckpoint(c, 0, &err);
        }
        if (!rc) {
            int wl = pb_ingest_write_lock(q->db, 1);
            rc = pb_queue_enqueue_batch(c, ins, (size_t)n, inserted, &err);
            pb_ingest_write_unlock(wl);
        }
        if (rc) {
            PB_LOG(PB_LOG_ERROR, "ingest: enqueue commit failed", PB_LS("error", err.msg), PB_LI("jobs", n));
            /* A failed connection may be broken: hand it back and take a fresh one next time. */
            if (c && q->opt.bg_checkpoint) pb_queue_wal_autocheckpoint(c, -1, NULL);
            pb_db_release(q->db, c);
            c = NULL;
        }
        int stored = 0;
        pthread_mutex_lock(&q->mu);
        for (int i = 0; i < n; i++) {
            qjob *j = batch[i];
            j->rc = rc;
            j->duplicate = rc ? 0 : !inserted[i];
            stored += !rc && inserted[i];
            j->state = J_DONE;
            if (j->done) continue; /* answered below, outside the lock */
            pthread_cond_signal(&j->cond);
            batch[i] = NULL; /* a synchronous submitter's job may be gone from here on */
        }
        if (!rc) {
            pb_im_batch(n);
            q->commits++;
            q->rows += stored;
        }
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < n; i++) {
            qjob *j = batch[i];
            if (!j) continue;
            j->done(j->done_ctx, j->rc, j->duplicate);
            free(j);
        }
        if (stored && q->opt.on_commit) q->opt.on_commit(q->opt.on_commit_ctx, stored);
    }
    if (c && q->opt.bg_checkpoint) pb_queue_wal_autocheckpoint(c, -1, NULL);
    pb_db_release(q->db, c);
    free(batch);
    free(ins);
    free(inserted);
    return NULL;
}

/* The WAL size (frames) past which the checkpointer holds writers off to finish a checkpoint
 * (see checkpointer()). That locked pass costs the committer a wait of two fsyncs plus the
 * copy of what was appended meanwhile -- measured 13-60 ms on the benchmark machine, whose
 * disk is busy with the checkpoint's own writes -- which lands on the p99 of every webhook in
 * flight. So it is a safety valve for sustained load, not routine: at 10k webhooks/s it runs
 * every few seconds and keeps the WAL near 256 MB (without it: 740 MB after 12 s, and
 * growing); with any pause of 100 ms the ordinary passive checkpoint completes by itself. */
#define WAL_RESTART_FRAMES 65536

static void *checkpointer(void *arg)
{
    pb_enqueuer *q = arg;
    int64_t seen = 0;
    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += 100 * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&q->ckpt_cond, &q->mu, &dl);
        if (q->stopping || q->commits == seen) continue;
        seen = q->commits;
        pthread_mutex_unlock(&q->mu);
        pb_conn *c = NULL;
        pb_error err = {0};
        int rc = pb_db_acquire(q->db, &c, &err);
        int64_t log_frames = 0, done_frames = 0;
        if (!rc) rc = pb_queue_checkpoint(c, &log_frames, &done_frames, &err);
        /* Before holding writers off, catch up without blocking anyone: each pass copies what
         * was appended during the previous one, so the locked pass below has little left. */
        for (int pass = 0; !rc && log_frames >= WAL_RESTART_FRAMES && log_frames - done_frames > 256 && pass < 3;
             pass++)
            rc = pb_queue_checkpoint(c, &log_frames, &done_frames, &err);
        if (!rc && log_frames >= WAL_RESTART_FRAMES) {
            /* Under sustained writes a PASSIVE checkpoint never catches up: while it copies,
             * the committer and the workers append more frames, so the WAL is never fully
             * checkpointed, SQLite never starts it over, and it grows without bound (measured:
             * 350-740 MB in 12 s) -- every commit then appends to a growing file (block
             * allocation, zeroing) and the checkpoint lags further. The passes above did the
             * bulk without blocking anyone; this last one runs while this process's
             * writers are held off (the in-process write lock), so it only copies what was
             * appended meanwhile, and completes: the next write transaction restarts the WAL
             * from its beginning and overwrites blocks that already exist. */
            int wl = pb_ingest_write_lock(q->db, 0);
            rc = pb_queue_checkpoint(c, NULL, NULL, &err);
            pb_ingest_write_unlock(wl);
        }
        if (rc) PB_LOG(PB_LOG_WARN, "ingest: WAL checkpoint failed", PB_LS("error", err.msg));
        pb_db_release(q->db, c);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int pb_enqueuer_start(pb_enqueuer *q, pb_error *err)
{
    pthread_mutex_lock(&q->mu);
    if (q->running) {
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    q->stopping = 0;
    int e = 0;
    q->nthreads = 0;
    for (int i = 0; i < q->opt.committers && !e; i++) {
        e = pthread_create(&q->threads[i], NULL, committer, q);
        if (!e) q->nthreads++;
    }
    if (q->nthreads) q->running = 1;
    if (!e && q->opt.bg_checkpoint && pb_db_backend(q->db) == PB_DB_SQLITE) {
        e = pthread_create(&q->ckpt_thread, NULL, checkpointer, q);
        if (!e) q->ckpt_running = 1;
    }
    pthread_mutex_unlock(&q->mu);
    return e ? pb_error_set(err, PB_EINTERNAL, "cannot start committer thread") : 0;
}

void pb_enqueuer_stop(pb_enqueuer *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    int was = q->running;
    q->stopping = 1;
    pthread_cond_broadcast(&q->work);
    pthread_cond_broadcast(&q->ckpt_cond);
    int ck = q->ckpt_running;
    q->ckpt_running = 0;
    pthread_mutex_unlock(&q->mu);
    if (was)
        for (int i = 0; i < q->nthreads; i++)
            pthread_join(q->threads[i], NULL);
    if (ck) pthread_join(q->ckpt_thread, NULL);
    pthread_mutex_lock(&q->mu);
    q->running = 0;
    /* Nobody commits any more: fail whatever is still queued (submit after stop). */
    qjob *async = NULL;
    while (q->head) {
        qjob *j = q->head;
        unlink_job(q, j);
        j->rc = PB_EBUSY;
        j->state = J_DONE;
        if (j->done) {
            j->next = async;
            async = j;
            continue;
        }
        pthread_cond_signal(&j->cond);
    }
    pthread_mutex_unlock(&q->mu);
    while (async) {
        qjob *j = async;
        async = j->next;
        j->done(j->done_ctx, PB_EBUSY, 0);
        free(j);
    }
}

void pb_enqueuer_free(pb_enqueuer *q)
{
    if (!q) return;
    pb_enqueuer_stop(q);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->ckpt_cond);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

int pb_enqueuer_submit(pb_enqueuer *q, const pb_queue_in *in, int timeout_ms, int *duplicate, pb_error *err)
{
    qjob j;
    memset(&j, 0, sizeof j);
    j.in = in;
    if (duplicate) *duplicate = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j.cond, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&q->mu);
    if (q->stopping || q->npending >= q->opt.max_pending) {
        pthread_mutex_unlock(&q->mu);
        pthread_cond_destroy(&j.cond);
        return pb_error_set(err, PB_EBUSY, "ingest queue is full");
    }
    j.prev = q->tail;
    if (q->tail)
        q->tail->next = &j;
    else
        q->head = &j;
    q->tail = &j;
    q->npending++;
    pthread_cond_signal(&q->work);

    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms : 30000) * 1000000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    while (j.state != J_DONE) {
        if (j.state == J_QUEUED) {
            int e = pthread_cond_timedwait(&j.cond, &q->mu, &dl);
            if (e == ETIMEDOUT && j.state == J_QUEUED) {
                unlink_job(q, &j);
                pthread_mutex_unlock(&q->mu);
                pthread_cond_destroy(&j.cond);
                return pb_error_set(err, PB_ETIMEOUT, "ingest commit queue timed out");
            }
        } else {
            pthread_cond_wait(&j.cond, &q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&j.cond);
    if (j.rc) return pb_error_set(err, j.rc, "could not store the job");
    if (duplicate) *duplicate = j.duplicate;
    return 0;
}

int pb_enqueuer_submit_async(pb_enqueuer *q, const pb_queue_in *in, pb_enqueue_done_fn done, void *ctx,
                             pb_error *err)
{
    if (!q || !in || !done) return pb_error_set(err, PB_EINVAL, "invalid arguments");
    qjob *j = calloc(1, sizeof *j);
    if (!j) return pb_error_set(err, PB_ENOMEM, "out of memory");
    j->in_copy = *in;
    j->in = &j->in_copy;
    j->done = done;
    j->done_ctx = ctx;
    pthread_mutex_lock(&q->mu);
    if (q->stopping || q->npending >= q->opt.max_pending) {
        pthread_mutex_unlock(&q->mu);
        free(j);
        return pb_error_set(err, PB_EBUSY, "ingest queue is full");
    }
    j->prev = q->tail;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->npending++;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int pb_enqueuer_pending(pb_enqueuer *q)
{
    pthread_mutex_lock(&q->mu);
    int n = q->npending;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void pb_enqueuer_counts(pb_enqueuer *q, int64_t *commits, int64_t *rows)
{
    pthread_mutex_lock(&q->mu);
    if (commits) *commits = q->commits;
    if (rows) *rows = q->rows;
    pthread_mutex_unlock(&q->mu);
}
