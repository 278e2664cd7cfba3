/* ingest_metrics: see ingest_metrics.h. */
#include "ingest/ingest_metrics.h"

#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pb_series *s_accepted, *s_duplicate, *s_overloaded, *s_events, *s_dead_total, *s_batch;
static pb_series *s_rejected[PB_IM_REJ_COUNT];
static pb_series *s_applied[PB_IM_APP_COUNT];
static pb_series *s_depth_pending, *s_depth_leased, *s_depth_dead, *s_lag, *s_inflight;

static _Atomic int64_t backlog;

static const char *const reject_names[PB_IM_REJ_COUNT] = {"signature", "content_type", "too_large",
                                                          "malformed", "workspace"};
static const char *const applied_names[PB_IM_APP_COUNT] = {"changed", "noop",    "stale",     "echo",
                                                           "partial", "ignored", "coalesced", "retry"};

static pb_series *one(pb_metric *m)
{
    return pb_metric_series(m, NULL);
}

static void init(void)
{
    static const char *const reason[] = {"reason", NULL};
    static const char *const result[] = {"result", NULL};
    static const char *const state[] = {"state", NULL};
    static const double buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    s_accepted =
        one(pb_metric_counter("planebridge_ingest_accepted_total", "Webhook jobs stored durably", NULL));
    s_duplicate =
        one(pb_metric_counter("planebridge_ingest_duplicate_total",
                              "Webhook deliveries already stored (answered 200, nothing enqueued)", NULL));
    s_overloaded = one(pb_metric_counter("planebridge_ingest_overloaded_total",
                                         "Webhook deliveries refused with 503 under overload", NULL));
    s_events = one(
        pb_metric_counter("planebridge_ingest_events_total", "Domain events written to the outbox", NULL));
    s_dead_total =
        one(pb_metric_counter("planebridge_ingest_dead_lettered_total", "Jobs moved to dead letters", NULL));
    s_batch = one(pb_metric_histogram("planebridge_ingest_commit_batch", "Jobs per group commit", NULL,
                                      buckets, sizeof buckets / sizeof buckets[0]));
    pb_metric *rej =
        pb_metric_counter("planebridge_ingest_rejected_total", "Webhook deliveries rejected", reason);
    for (int i = 0; i < PB_IM_REJ_COUNT; i++)
        s_rejected[i] = pb_metric_series(rej, (const char *const[]){reject_names[i]});
    pb_metric *app = pb_metric_counter("planebridge_ingest_applied_total", "Worker outcomes per job", result);
    for (int i = 0; i < PB_IM_APP_COUNT; i++)
        s_applied[i] = pb_metric_series(app, (const char *const[]){applied_names[i]});
    pb_metric *depth = pb_metric_gauge("planebridge_ingest_queue_depth", "Inbound jobs by state", state);
    s_depth_pending = pb_metric_series(depth, (const char *const[]){"pending"});
    s_depth_leased = pb_metric_series(depth, (const char *const[]){"leased"});
    s_depth_dead = pb_metric_series(depth, (const char *const[]){"dead"});
    s_inflight =
        one(pb_metric_gauge("planebridge_ingest_inflight", "Webhook requests inside the receiver now", NULL));
    s_lag =
        one(pb_metric_gauge("planebridge_ingest_lag_ms", "Age of the oldest unfinished inbound job", NULL));
}

#define ONCE() pthread_once(&once, init)

void pb_im_init(void)
{
    ONCE();
}

void pb_im_accepted(void)
{
    ONCE();
    pb_series_inc(s_accepted, 1);
}
void pb_im_duplicate(void)
{
    ONCE();
    pb_series_inc(s_duplicate, 1);
}
void pb_im_rejected(pb_im_reject why)
{
    ONCE();
    if (why >= 0 && why < PB_IM_REJ_COUNT) pb_series_inc(s_rejected[why], 1);
}
void pb_im_overloaded(void)
{
    ONCE();
    pb_series_inc(s_overloaded, 1);
}
void pb_im_applied(pb_im_applied_kind what, uint64_t n)
{
    ONCE();
    if (what >= 0 && what < PB_IM_APP_COUNT) pb_series_inc(s_applied[what], n);
}
void pb_im_events(uint64_t n)
{
    ONCE();
    pb_series_inc(s_events, n);
}
void pb_im_dead(uint64_t n)
{
    ONCE();
    pb_series_inc(s_dead_total, n);
}
void pb_im_batch(int n)
{
    ONCE();
    pb_series_observe(s_batch, n);
}
void pb_im_inflight(int delta)
{
    ONCE();
    pb_series_gauge_add(s_inflight, delta);
}

void pb_im_queue(int64_t pending, int64_t leased, int64_t dead, int64_t lag_ms)
{
    ONCE();
    pb_series_gauge_set(s_depth_pending, pending);
    pb_series_gauge_set(s_depth_leased, leased);
    pb_series_gauge_set(s_depth_dead, dead);
    pb_series_gauge_set(s_lag, lag_ms);
    atomic_store(&backlog, pending + leased);
}

int64_t pb_im_backlog(void)
{
    return atomic_load(&backlog);
}
