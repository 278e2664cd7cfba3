/* worker: see worker.h. */
#include "ingest/worker.h"

#include "core/log.h"
#include "core/util.h"
#include "ingest/apply.h"
#include "ingest/ingest_metrics.h"
#include "ingest/webhook.h"
#include "ingest/writelock.h"
#include "store/mirror_store.h"
#include "store/queue_store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 32
/* SQLite: a worker transaction gives the write lock up to a waiting group committer only
 * after this many jobs, so it always makes progress. */
#define YIELD_MIN_JOBS 16

struct pb_worker {
    pb_db *db;
    pb_worker_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stopping, running, nthreads;
    unsigned wake_seq;
    pthread_t threads[MAX_THREADS];
    struct wthread {
        pb_worker *w;
        int idx;
        char id[96];
    } targs[MAX_THREADS];
};

static void fill_defaults(pb_worker_options *o)
{
    if (o->threads <= 0) o->threads = 2;
    if (o->threads > MAX_THREADS) o->threads = MAX_THREADS;
    if (o->batch <= 0) o->batch = 64;
    if (o->lease_ms <= 0) o->lease_ms = 30000;
    if (o->coalesce_ms < 0) o->coalesce_ms = 0;
    if (o->max_attempts <= 0) o->max_attempts = 8;
    if (o->backoff_base_ms <= 0) o->backoff_base_ms = 1000;
    if (o->backoff_max_ms <= 0) o->backoff_max_ms = 300000;
    if (o->poll_ms <= 0) o->poll_ms = 250;
}

/* --- one batch ------------------------------------------------------------------------- */

typedef struct jstate {
    pb_queue_job *job;
    pb_hook hook;
    int parsed; /* 1 when hook is valid */
    int taken;  /* 1 when this worker holds the job (lease path: all; SQLite: pb_queue_take said so) */
    int parse_rc;
    char perr[PB_ERROR_MSG_MAX];
} jstate;

static int cmp_jstate(const void *a, const void *b)
{
    const jstate *x = a, *y = b;
    if (x->parsed != y->parsed) return x->parsed ? -1 : 1;
    if (!x->parsed) return x->job->id < y->job->id ? -1 : x->job->id > y->job->id;
    int c = strcmp(x->job->workspace, y->job->workspace);
    if (!c) c = strcmp(x->hook.object_id, y->hook.object_id);
    if (!c) c = strcmp(x->hook.event, y->hook.event);
    if (!c) c = x->hook.updated_at < y->hook.updated_at ? -1 : x->hook.updated_at > y->hook.updated_at;
    if (!c) c = x->job->id < y->job->id ? -1 : x->job->id > y->job->id;
    return c;
}

static int same_group(const jstate *a, const jstate *b)
{
    return a->parsed && b->parsed && !strcmp(a->job->workspace, b->job->workspace) &&
           !strcmp(a->hook.object_id, b->hook.object_id) && !strcmp(a->hook.event, b->hook.event);
}

static int64_t backoff_us(const pb_worker_options *o, int attempts)
{
    int64_t ms = o->backoff_base_ms;
    for (int i = 1; i < attempts && ms < o->backoff_max_ms; i++)
        ms *= 2;
    if (ms > o->backoff_max_ms) ms = o->backoff_max_ms;
    /* ±20% jitter so a burst of failures does not retry in lockstep. */
    double f = 0.8 + 0.4 * (double)(pb_random_u64() % 10001) / 10000.0;
    return (int64_t)((double)ms * f) * 1000;
}

typedef struct refetch_note {
    char workspace[64], type[48], id[64];
    const char *reason;
} refetch_note;

static int savepoint(pb_conn *c, const char *sql, pb_error *err)
{
    return pb_conn_exec(c, sql, NULL, 0, NULL, err);
}

/* Applies group [from, to) (same object): newest non-delete hint, then a delete if any. Only
 * jobs this worker holds (taken) count; the others are someone else's. */
static int apply_group(pb_conn *c, jstate *js, int from, int to, int64_t now, pb_worker_tally *t,
                       refetch_note *note, pb_error *err)
{
    int winner = -1, del = -1, rc = 0, held = 0;
    for (int i = from; i < to; i++) {
        if (!js[i].taken) continue;
        held++;
        if (!strcmp(js[i].hook.action, "deleted"))
            del = i;
        else
            winner = i; /* sorted by updated_at, id: the last one is the newest */
    }
    pb_apply_result res;
    if (winner >= 0) {
        rc = pb_ingest_apply(c, js[winner].job->workspace, &js[winner].hook, now, &res, err);
        if (rc) return rc;
        t->events += res.events;
        pb_im_applied(res.ignored   ? PB_IM_APP_IGNORED
                      : res.partial ? PB_IM_APP_PARTIAL
                      : res.stale   ? PB_IM_APP_STALE
                      : res.echo    ? PB_IM_APP_ECHO
                      : res.changed ? PB_IM_APP_CHANGED
                                    : PB_IM_APP_NOOP,
                      1);
        if (res.partial || res.stale) {
            pb_strlcpy(note->workspace, js[winner].job->workspace, sizeof note->workspace);
            pb_strlcpy(note->type, js[winner].hook.event, sizeof note->type);
            pb_strlcpy(note->id, js[winner].hook.object_id, sizeof note->id);
            note->reason = res.partial ? "partial" : "stale";
        }
    }
    if (del >= 0) {
        rc = pb_ingest_apply(c, js[del].job->workspace, &js[del].hook, now, &res, err);
        if (rc) return rc;
        t->events += res.events;
        pb_im_applied(res.changed ? PB_IM_APP_CHANGED : PB_IM_APP_NOOP, 1);
    }
    int used = (winner >= 0) + (del >= 0);
    t->coalesced += held - used;
    if (held > used) pb_im_applied(PB_IM_APP_COALESCED, (uint64_t)(held - used));
    return 0;
}

/* Parses every job and sorts: parsed jobs first, grouped by object in a fixed order (the
 * lock order across processes). js must have n zeroed entries. */
static void parse_jobs(pb_queue_job *jobs, size_t n, jstate *js)
{
    for (size_t i = 0; i < n; i++) {
        pb_error perr = {0};
        js[i].job = &jobs[i];
        js[i].parse_rc =
            pb_hook_parse_opts(jobs[i].workspace, jobs[i].body, jobs[i].body_len, 0, &js[i].hook, &perr);
        js[i].parsed = js[i].parse_rc == 0;
        if (!js[i].parsed) pb_strlcpy(js[i].perr, perr.msg, sizeof js[i].perr);
    }
    qsort(js, n, sizeof *js, cmp_jstate);
}

static void free_jstates(jstate *js, size_t n)
{
    if (js)
        for (size_t k = 0; k < n; k++)
            pb_hook_free(&js[k].hook);
    free(js);
}

/* --- crash accounting without a lease (SQLite; 0012_ingest_inflight.sql) ------------------ */

#define INFLIGHT_SCAN 64
/* A mark this old is an orphan whatever its pid says (the pid may have been reused). */
#define INFLIGHT_ORPHAN_US (10LL * 60 * 1000000)

/* This process's identity in in-flight marks: host#pidns:pid:random, made anew after a fork.
 * The pid namespace is part of the "host": two containers sharing a hostname and one SQLite
 * file have unrelated pids, so each judges the other's marks by age only. */
void pb_worker_identity(char out[96], char host_out[64])
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static char id[96], host[64];
    static pid_t pid;
    pthread_mutex_lock(&mu);
    if (pid != getpid()) {
        char name[40] = "host", ns[64] = "";
        gethostname(name, sizeof name - 1);
        name[sizeof name - 1] = '\0';
        ssize_t nl = readlink("/proc/self/ns/pid", ns, sizeof ns - 1); /* "pid:[4026531836]" */
        ns[nl > 0 ? nl : 0] = '\0';
        const char *ino = strchr(ns, '[');
        snprintf(host, sizeof host, "%s#%.20s", name, ino ? ino + 1 : "");
        char *end = strchr(host, ']');
        if (end) *end = '\0';
        pid = getpid();
        snprintf(id, sizeof id, "%s:%d:%08x", host, (int)pid, (unsigned)pb_random_u64());
    }
    pb_strlcpy(out, id, 96);
    if (host_out) pb_strlcpy(host_out, host, 64);
    pthread_mutex_unlock(&mu);
}

/* What to do with another worker's mark: 0 leave it (being applied), 1 drop it (our own,
 * left by a transaction of ours that rolled back), 2 charge the job (its applier died). */
static int inflight_verdict(const pb_queue_inflight *m, const char *self, const char *host, int64_t now,
                            int64_t lease_us)
{
    if (strcmp(m->owner, self) == 0) return m->started_at < now - lease_us ? 1 : 0;
    if (m->started_at < now - INFLIGHT_ORPHAN_US) return 2;
    size_t hl = strlen(host);
    if (strncmp(m->owner, host, hl) != 0 || m->owner[hl] != ':') return 0; /* another host: age only */
    if (m->pid == (int64_t)getpid()) return 2; /* an earlier process with our pid (a restart) */
    if (m->pid > 0 && kill((pid_t)m->pid, 0) != 0 && errno == ESRCH) return 2;
    return 0;
}

/* Charges one attempt to each job a dead worker was applying, so a job that crashes the
 * process reaches the dead letters after max_attempts crashes instead of crashing it forever
 * (the lease path gets this from its claim). One read of a table that is empty unless a
 * batch is in progress; a write transaction only when there is something to do. */
static int recover_inflight(pb_conn *c, const pb_worker_options *opt, int64_t now, pb_worker_tally *t,
                            pb_error *err)
{
    char self[96], host[64];
    pb_worker_identity(self, host);
    pb_queue_inflight *m = NULL;
    size_t n = 0;
    int act[INFLIGHT_SCAN];
    int any = 0, wl = 0, in_tx = 0;
    int rc = pb_queue_inflight_list(c, INFLIGHT_SCAN, &m, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        act[i] = inflight_verdict(&m[i], self, host, now, opt->lease_ms * 1000);
        any |= act[i];
    }
    if (rc || !any) goto out;
    wl = pb_ingest_write_lock(pb_conn_db(c), 0);
    rc = pb_conn_begin_write(c, err);
    in_tx = !rc;
    for (size_t i = 0; !rc && i < n; i++) {
        if (act[i] == 1) rc = pb_queue_inflight_clear(c, m[i].job_id, err);
        if (act[i] != 2) continue;
        int dead = 0;
        rc = pb_queue_inflight_charge(c, m[i].job_id, opt->max_attempts, now,
                                      "the worker process died while applying this job", &dead, err);
        if (rc) break;
        t->retried += !dead;
        t->dead += dead;
        if (dead) pb_im_dead(1);
        PB_LOG(PB_LOG_WARN, "ingest: a worker died applying a job; attempt charged", PB_LI("job", m[i].job_id),
               PB_LS("owner", m[i].owner), PB_LI("dead_letter", dead));
    }
    if (!rc) {
        rc = pb_conn_commit(c, err);
        in_tx = 0;
    }
out:
    if (in_tx) pb_conn_rollback(c);
    pb_ingest_write_unlock(wl);
    free(m);
    return rc;
}

/* SQLite: one write transaction per batch, no lease (worker.h). The jobs are read and parsed
 * before the write lock is taken, so the lock is held only for the writes.
 *
 * Why no lease is needed: SQLite's write transaction (BEGIN IMMEDIATE) excludes every other
 * writer, in this process and in any other, until it ends. Inside it pb_queue_take re-checks
 * that each job is still pending and marks it done; a job another thread or process finished
 * since the read is skipped. The take, the apply and the ack commit together or not at all,
 * so no job is applied twice and none is lost. What the lease path gave beyond that -- a job
 * that crashes the process is still counted as an attempt -- comes from in-flight marks: the
 * batch's jobs are marked in a small transaction of their own before the apply, each mark is
 * cleared with its job's apply, and a mark that outlives its process is charged by the next
 * worker (recover_inflight).
 *
 * Why synchronous=NORMAL for this transaction is safe (SQLite WAL): NORMAL commits write the
 * transaction's frames to the WAL but do not fsync it.
 *   - Process crash (kill -9): the frames are in the OS page cache; nothing is lost.
 *   - OS crash / power loss: only transactions after the last fsync of the WAL can be lost,
 *     and recovery drops a suffix of the WAL (frames are checksummed in a chain), never a hole.
 *     The group committer commits with synchronous=FULL, and its fsync of the WAL file also
 *     makes every earlier frame durable, so a webhook answered 200 is never lost whatever
 *     precedes it; what can be lost are worker transactions newer than the last FULL commit
 *     (or checkpoint: a checkpoint fsyncs the WAL first).
 *   - A lost worker transaction loses the take, the mirror change and the outbox events
 *     together (one transaction): the job is pending again and is applied again, producing the
 *     same mirror row (a delete: the same row with a later deleted_at) and the same events
 *     with the same ids (event ids derive from type, object id and the row version, apply.c),
 *     so consumers deduplicating by event id see no difference.
 *   - Nothing is acknowledged on the strength of a worker commit alone: before an outbox
 *     event leaves the process, the deliveries module commits its fan-out rows with
 *     synchronous=FULL, and that fsync of the WAL makes this transaction durable first.
 * So NORMAL drops one fsync per batch from the single writer's critical path (the committer
 * waits for the write lock) without weakening what a 200 or an event id promises. */
static int run_once_sqlite(pb_conn *c, const pb_worker_options *opt, const char *worker_id, pb_worker_tally *t,
                           pb_error *err)
{
    int64_t now = pb_now_us();
    pb_queue_job *jobs = NULL;
    size_t n = 0;
    jstate *js = NULL;
    refetch_note *notes = NULL;
    pb_db *db = pb_conn_db(c);
    int wl = 0, prev_sync = -1, in_tx = 0, no_ckpt = 0;
    int expired = 0;
    int rc = pb_queue_lease_expired(c, now, &expired, err);
    if (!rc && expired) {
        /* Jobs leased through pb_queue_claim (the lease path) by a process that died. */
        wl = pb_ingest_write_lock(db, 0);
        rc = pb_conn_begin_write(c, err);
        if (!rc) rc = pb_queue_reclaim_expired(c, now, err);
        if (!rc) rc = pb_conn_commit(c, err);
        if (rc) pb_conn_rollback(c);
        pb_ingest_write_unlock(wl);
        wl = 0;
    }
    if (!rc) rc = recover_inflight(c, opt, now, t, err);
    if (!rc) rc = pb_queue_peek_ready(c, now, now - opt->coalesce_ms * 1000, opt->batch, &jobs, &n, err);
    if (rc || n == 0) {
        pb_queue_jobs_free(jobs, n);
        return rc;
    }
    js = calloc(n, sizeof *js);
    notes = calloc(n, sizeof *notes);
    if (!js || !notes) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    parse_jobs(jobs, n, js);

    rc = pb_queue_sync_level(c, 1, &prev_sync, err);
    if (rc) goto out;
    if (opt->bg_checkpoint) {
        /* Past wal_autocheckpoint frames every commit would run a checkpoint inline (copying
         * the WAL into the database and fsyncing it) while holding the single write lock. */
        rc = pb_queue_wal_autocheckpoint(c, 0, err);
        if (rc) goto out;
        no_ckpt = 1;
    }
    {
        /* the marks survive a crash of the apply below (NORMAL: in the WAL, not yet fsynced --
         * enough for a process crash, and a power loss loses the apply with them) */
        char self[96];
        int64_t *ids = malloc(n * sizeof *ids);
        if (!ids) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < n; k++) ids[k] = jobs[k].id;
        pb_worker_identity(self, NULL);
        wl = pb_ingest_write_lock(db, 0);
        rc = pb_conn_begin_write(c, err);
        if (!rc) {
            in_tx = 1;
            rc = pb_queue_inflight_mark(c, ids, n, self, (int64_t)getpid(), now, err);
        }
        if (!rc) rc = pb_conn_commit(c, err);
        if (!rc) in_tx = 0;
        free(ids);
        if (rc) goto out;
        pb_ingest_write_unlock(wl);
        wl = 0;
    }
    size_t i = 0, nnotes = 0;
    while (i < n) {
        wl = pb_ingest_write_lock(db, 0);
        rc = pb_conn_begin_write(c, err);
        if (rc) goto out;
        in_tx = 1;
        now = pb_now_us();
        size_t in_this_tx = 0;
        while (i < n) {
            /* Webhook answers wait on the group committer, which needs this lock: once it
             * asks, commit what is done (NORMAL: no fsync) and continue in a new transaction
             * after its turn, so its wait is bounded by one group, not by the whole batch. */
            if (in_this_tx >= YIELD_MIN_JOBS && pb_ingest_write_contended()) break;
            size_t j = i + 1;
            while (j < n && same_group(&js[i], &js[j]))
                j++;
            in_this_tx += j - i;
            if (!js[i].parsed) {
                /* A stored body that does not parse never will: dead letter at once. */
                int64_t ch = 0;
                rc = pb_queue_fail_pending(c, js[i].job->id, worker_id, now, 0, 1, js[i].perr, &ch, err);
                if (rc) goto out;
                if (ch) {
                    t->claimed++;
                    t->dead++;
                    pb_im_dead(1);
                }
                for (size_t k = i; !rc && k < j; k++) rc = pb_queue_inflight_clear(c, js[k].job->id, err);
                if (rc) goto out;
                i = j;
                continue;
            }
            rc = savepoint(c, "SAVEPOINT pb_ingest_group", err);
            if (rc) goto out;
            int held = 0;
            for (size_t k = i; k < j; k++) {
                rc = pb_queue_take(c, js[k].job->id, worker_id, now, &js[k].taken, &js[k].job->attempts, err);
                if (rc) goto out;
                held += js[k].taken;
            }
            t->claimed += held;
            pb_error aerr = {0};
            refetch_note note = {0};
            int arc = held ? apply_group(c, js, (int)i, (int)j, now, t, &note, &aerr) : 0;
            if (arc) {
                rc = savepoint(c, "ROLLBACK TO SAVEPOINT pb_ingest_group", err);
                if (rc) goto out;
                for (size_t k = i; k < j; k++) {
                    if (!js[k].taken) continue;
                    pb_queue_job *jb = js[k].job; /* attempts: the count including this try */
                    int dead = jb->attempts >= opt->max_attempts;
                    rc = pb_queue_fail_pending(c, jb->id, worker_id, now,
                                               dead ? 0 : now + backoff_us(opt, jb->attempts), dead, aerr.msg, NULL,
                                               err);
                    if (rc) goto out;
                    if (dead) {
                        t->dead++;
                        pb_im_dead(1);
                    } else {
                        t->retried++;
                        pb_im_applied(PB_IM_APP_RETRY, 1);
                    }
                }
                PB_LOG(PB_LOG_WARN, "ingest: apply failed", PB_LS("object_id", js[i].hook.object_id),
                       PB_LS("error", aerr.msg), PB_LI("attempts", js[i].job->attempts));
            } else {
                t->applied += held;
                if (note.reason) notes[nnotes++] = note;
            }
            rc = savepoint(c, "RELEASE SAVEPOINT pb_ingest_group", err);
            for (size_t k = i; !rc && k < j; k++) rc = pb_queue_inflight_clear(c, js[k].job->id, err);
            if (rc) goto out;
            i = j;
        }
        rc = pb_conn_commit(c, err);
        if (rc) goto out; /* still in_tx: rolled back below, before the pragmas are restored */
        in_tx = 0;
        pb_ingest_write_unlock(wl); /* also before the refetch hook, which may use the network */
        wl = 0;
        /* hints of groups committed so far: a later transaction of this batch may fail */
        if (opt->refetch)
            for (size_t k = 0; k < nnotes; k++)
                opt->refetch(opt->refetch_ctx, notes[k].workspace, notes[k].type, notes[k].id, notes[k].reason);
        nnotes = 0;
    }
    pb_im_events((uint64_t)t->events);
out:
    if (in_tx) pb_conn_rollback(c);
    pb_ingest_write_unlock(wl);
    /* The connection goes back to the pool with the durability it came with. */
    if (prev_sync >= 0) {
        pb_error serr = {0};
        if (pb_queue_sync_level(c, prev_sync, NULL, &serr) && !rc) rc = pb_error_set(err, PB_ESTORE, "%s", serr.msg);
    }
    if (no_ckpt) {
        pb_error serr = {0};
        if (pb_queue_wal_autocheckpoint(c, -1, &serr) && !rc) rc = pb_error_set(err, PB_ESTORE, "%s", serr.msg);
    }
    free_jstates(js, n);
    free(notes);
    pb_queue_jobs_free(jobs, n);
    return rc;
}

int pb_worker_run_once(pb_conn *c, const pb_worker_options *opt_in, const char *worker_id, pb_worker_tally *t,
                       pb_error *err)
{
    pb_worker_options opt = opt_in ? *opt_in : (pb_worker_options){0};
    fill_defaults(&opt);
    pb_worker_tally local = {0};
    if (!t) t = &local;
    if (pb_db_backend(pb_conn_db(c)) == PB_DB_SQLITE) return run_once_sqlite(c, &opt, worker_id, t, err);
    /* PostgreSQL: writers do not exclude each other, so jobs are claimed under a lease (SKIP
     * LOCKED), applied and acked in a second transaction. */
    int64_t now = pb_now_us();
    pb_queue_job *jobs = NULL;
    size_t n = 0;
    jstate *js = NULL;
    refetch_note *notes = NULL;
    pb_db *db = pb_conn_db(c);
    int wl = pb_ingest_write_lock(db, 0);
    int rc = pb_queue_claim(c, worker_id, now, opt.lease_ms * 1000, now - opt.coalesce_ms * 1000, opt.batch,
                            &jobs, &n, err);
    pb_ingest_write_unlock(wl);
    wl = 0;
    if (rc || n == 0) {
        pb_queue_jobs_free(jobs, n);
        return rc;
    }
    t->claimed += (int)n;
    js = calloc(n, sizeof *js);
    notes = calloc(n, sizeof *notes);
    if (!js || !notes) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    parse_jobs(jobs, n, js);
    for (size_t i = 0; i < n; i++)
        js[i].taken = 1; /* claimed under our lease */

    now = pb_now_us();
    wl = pb_ingest_write_lock(db, 0);
    rc = pb_conn_begin_write(c, err);
    if (rc) goto out;
    size_t i = 0;
    size_t nnotes = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && same_group(&js[i], &js[j]))
            j++;
        if (!js[i].parsed) {
            /* A stored body that does not parse never will: dead letter at once. */
            rc = pb_queue_dead(c, js[i].job->id, worker_id, now, js[i].perr, err);
            if (rc) goto fail;
            t->dead++;
            pb_im_dead(1);
            i = j;
            continue;
        }
        pb_error aerr = {0};
        rc = savepoint(c, "SAVEPOINT pb_ingest_group", err);
        if (rc) goto fail;
        refetch_note note = {0};
        int arc = apply_group(c, js, (int)i, (int)j, now, t, &note, &aerr);
        for (size_t k = i; !arc && k < j; k++)
            arc = pb_queue_ack(c, js[k].job->id, worker_id, now, NULL, &aerr);
        if (arc) {
            rc = savepoint(c, "ROLLBACK TO SAVEPOINT pb_ingest_group", err);
            if (rc) goto fail;
            for (size_t k = i; k < j; k++) {
                pb_queue_job *jb = js[k].job;
                if (jb->attempts >= opt.max_attempts) {
                    rc = pb_queue_dead(c, jb->id, worker_id, now, aerr.msg, err);
                    t->dead++;
                    pb_im_dead(1);
                } else {
                    rc = pb_queue_retry(c, jb->id, worker_id, now + backoff_us(&opt, jb->attempts), aerr.msg,
                                        err);
                    t->retried++;
                    pb_im_applied(PB_IM_APP_RETRY, 1);
                }
                if (rc) goto fail;
            }
            PB_LOG(PB_LOG_WARN, "ingest: apply failed", PB_LS("object_id", js[i].hook.object_id),
                   PB_LS("error", aerr.msg), PB_LI("attempts", js[i].job->attempts));
        } else {
            t->applied += (int)(j - i);
            if (note.reason) notes[nnotes++] = note;
        }
        rc = savepoint(c, "RELEASE SAVEPOINT pb_ingest_group", err);
        if (rc) goto fail;
        i = j;
    }
    rc = pb_conn_commit(c, err);
    if (rc) goto fail;
    pb_ingest_write_unlock(wl); /* before the refetch hook, which may talk to the network */
    wl = 0;
    pb_im_events((uint64_t)t->events);
    if (opt.refetch)
        for (size_t k = 0; k < nnotes; k++)
            opt.refetch(opt.refetch_ctx, notes[k].workspace, notes[k].type, notes[k].id, notes[k].reason);
    goto out;
fail:
    pb_conn_rollback(c);
out:
    pb_ingest_write_unlock(wl);
    free_jstates(js, n);
    free(notes);
    pb_queue_jobs_free(jobs, n);
    return rc;
}

int pb_worker_refresh_gauges(pb_conn *c, pb_error *err)
{
    pb_queue_stats st;
    int rc = pb_queue_get_backlog(c, &st, err);
    if (rc) return rc;
    int64_t lag = st.oldest_ready_received_at ? (pb_now_us() - st.oldest_ready_received_at) / 1000 : 0;
    pb_im_queue(st.pending, st.leased, st.dead, lag < 0 ? 0 : lag);
    return 0;
}

/* --- threads ----------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct wthread *wt = arg;
    pb_worker *w = wt->w;
    pb_conn *c = NULL;
    int64_t next_gauges = 0, next_purge = 0;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int stop = w->stopping;
        seen = w->wake_seq;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
        pb_error err = {0};
        int rc = c ? 0 : pb_db_acquire(w->db, &c, &err);
        pb_worker_tally t = {0};
        pb_worker_options o = w->opt;
        pthread_mutex_lock(&w->mu);
        o.refetch = w->opt.refetch; /* the hook may be replaced while running */
        o.refetch_ctx = w->opt.refetch_ctx;
        pthread_mutex_unlock(&w->mu);
        if (!rc) rc = pb_worker_run_once(c, &o, wt->id, &t, &err);
        if (!rc && wt->idx == 0) {
            int64_t now_ms = pb_mono_ms();
            if (now_ms >= next_gauges) {
                rc = pb_worker_refresh_gauges(c, &err);
                next_gauges = now_ms + 1000;
            }
            if (!rc && now_ms >= next_purge) {
                /* Finished jobs keep deduplicating for a week; echo records live a day. */
                int64_t now = pb_now_us();
                rc = pb_queue_purge_done(c, now - (int64_t)7 * 86400 * 1000000, NULL, &err);
                if (!rc) rc = pb_mirror_self_write_purge(c, now - (int64_t)86400 * 1000000, &err);
                next_purge = now_ms + 3600 * 1000;
            }
        }
        if (rc) {
            PB_LOG(PB_LOG_ERROR, "ingest worker: store error", PB_LS("worker", wt->id),
                   PB_LS("error", err.msg));
            pb_db_release(w->db, c);
            c = NULL;
        }
        if (!rc && t.claimed >= w->opt.batch) continue; /* more may be ready: no sleep */
        /* Going idle: hand the connection back to the (small, shared) pool meanwhile. */
        pb_db_release(w->db, c);
        c = NULL;
        /* Sleep until woken, but never longer than the coalescing window or poll interval. */
        int64_t ms = rc ? 1000 : w->opt.poll_ms;
        if (!rc && t.claimed == 0 && w->opt.coalesce_ms > 0 && w->opt.coalesce_ms < ms)
            ms = w->opt.coalesce_ms;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        int64_t ns = (int64_t)dl.tv_nsec + ms * 1000000;
        dl.tv_sec += (time_t)(ns / 1000000000);
        dl.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&w->mu);
        while (!w->stopping && w->wake_seq == seen) {
            if (pthread_cond_timedwait(&w->cond, &w->mu, &dl) == ETIMEDOUT) break;
        }
        pthread_mutex_unlock(&w->mu);
        /* Woken by a commit: let the coalescing window pass before claiming. */
        if (w->opt.coalesce_ms > 0 && t.claimed == 0) {
            struct timespec d = {0, (long)(w->opt.coalesce_ms % 1000) * 1000000};
            d.tv_sec = (time_t)(w->opt.coalesce_ms / 1000);
            nanosleep(&d, NULL);
        }
    }
    pb_db_release(w->db, c);
    return NULL;
}

int pb_worker_new(pb_db *db, const pb_worker_options *opt, pb_worker **out, pb_error *err)
{
    pb_worker *w = calloc(1, sizeof *w);
    if (!w) return pb_error_set(err, PB_ENOMEM, "out of memory");
    w->db = db;
    if (opt) w->opt = *opt;
    /* SQLite: one transaction per batch (run_once_sqlite) that gives the write lock up to a
     * waiting committer every YIELD_MIN_JOBS jobs, so a large batch no longer delays webhook
     * answers; it amortises the per-batch cost (measured: 190 us of write-lock time per job at
     * 64, 320 us at 16). And one thread: SQLite serialises the writes anyway, and a second
     * thread would read and parse the same ready jobs only to find them taken. */
    if (w->opt.batch <= 0) w->opt.batch = 64;
    if (db && pb_db_backend(db) == PB_DB_SQLITE && w->opt.threads > 1) {
        PB_LOG(PB_LOG_INFO, "ingest: SQLite store: one worker thread (writes are serialised)",
               PB_LI("configured", w->opt.threads));
        w->opt.threads = 1;
    }
    fill_defaults(&w->opt);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    return 0;
}

int pb_worker_start(pb_worker *w, pb_error *err)
{
    if (w->running) return 0;
    char host[48] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    unsigned tag = (unsigned)(pb_random_u64() & 0xffff);
    w->stopping = 0;
    for (int i = 0; i < w->opt.threads; i++) {
        w->targs[i].w = w;
        w->targs[i].idx = i;
        snprintf(w->targs[i].id, sizeof w->targs[i].id, "%s:%d:%04x:%d", host, (int)getpid(), tag, i);
        if (pthread_create(&w->threads[i], NULL, worker_main, &w->targs[i]) != 0) {
            pb_worker_stop(w);
            return pb_error_set(err, PB_EINTERNAL, "cannot start worker thread");
        }
        w->nthreads = i + 1;
        w->running = 1;
    }
    return 0;
}

void pb_worker_set_refetch(pb_worker *w, pb_ingest_refetch_fn fn, void *ctx)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->opt.refetch = fn;
    w->opt.refetch_ctx = ctx;
    pthread_mutex_unlock(&w->mu);
}

void pb_worker_wake(pb_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->wake_seq++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void pb_worker_stop(pb_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    w->nthreads = 0;
    w->running = 0;
}

void pb_worker_free(pb_worker *w)
{
    if (!w) return;
    pb_worker_stop(w);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
