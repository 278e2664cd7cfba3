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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 32

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

/* Applies group [from, to) (same object): newest non-delete hint, then a delete if any. */
static int apply_group(pb_conn *c, jstate *js, int from, int to, int64_t now, pb_worker_tally *t,
                       refetch_note *note, pb_error *err)
{
    int winner = -1, del = -1, rc = 0;
    for (int i = from; i < to; i++) {
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
    t->coalesced += (to - from) - used;
    if ((to - from) > used) pb_im_applied(PB_IM_APP_COALESCED, (uint64_t)((to - from) - used));
    return 0;
}

int pb_worker_run_once(pb_conn *c, const pb_worker_options *opt_in, const char *worker_id, pb_worker_tally *t,
                       pb_error *err)
{
    pb_worker_options opt = opt_in ? *opt_in : (pb_worker_options){0};
    fill_defaults(&opt);
    pb_worker_tally local = {0};
    if (!t) t = &local;
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
    for (size_t i = 0; i < n; i++) {
        pb_error perr = {0};
        js[i].job = &jobs[i];
        js[i].parse_rc = pb_hook_parse(jobs[i].workspace, jobs[i].body, jobs[i].body_len, &js[i].hook, &perr);
        js[i].parsed = js[i].parse_rc == 0;
        if (!js[i].parsed) pb_strlcpy(js[i].perr, perr.msg, sizeof js[i].perr);
    }
    /* Parsed jobs first, grouped by object in a fixed order (lock order across processes). */
    qsort(js, n, sizeof *js, cmp_jstate);

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
    if (js)
        for (size_t k = 0; k < n; k++)
            pb_hook_free(&js[k].hook);
    free(js);
    free(notes);
    pb_queue_jobs_free(jobs, n);
    return rc;
}

int pb_worker_refresh_gauges(pb_conn *c, pb_error *err)
{
    pb_queue_stats st;
    int rc = pb_queue_get_stats(c, &st, err);
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
    /* SQLite has one writer: a worker's transaction holds the lock the group committer
     * needs, so keep it short there; PostgreSQL workers batch more per commit. */
    if (w->opt.batch <= 0) w->opt.batch = db && pb_db_backend(db) == PB_DB_SQLITE ? 16 : 64;
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
