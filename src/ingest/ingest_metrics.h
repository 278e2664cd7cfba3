/* ingest_metrics: the webhook-ingestion series on /metrics (core/metrics.h registry).
 *
 *   planebridge_ingest_accepted_total                 new jobs stored (200)
 *   planebridge_ingest_duplicate_total                duplicates answered 200, nothing stored
 *   planebridge_ingest_rejected_total{reason}         401/400/413/415 by reason
 *   planebridge_ingest_overloaded_total               503 + Retry-After answers
 *   planebridge_ingest_applied_total{result}          worker outcomes per job
 *   planebridge_ingest_events_total                   outbox events written
 *   planebridge_ingest_dead_lettered_total            jobs moved to the dead-letter state
 *   planebridge_ingest_queue_depth{state}             pending / leased / dead jobs (gauge)
 *   planebridge_ingest_lag_ms                         age of the oldest unfinished job (gauge)
 *   planebridge_ingest_commit_batch                   jobs per group commit (histogram)
 *   planebridge_ingest_inflight                       requests inside the receiver now (gauge)
 * Registered on first use; every function is thread-safe and cheap (atomics). */
#ifndef PB_INGEST_METRICS_H
#define PB_INGEST_METRICS_H

#include <stdint.h>

typedef enum {
    PB_IM_REJ_SIGNATURE = 0,
    PB_IM_REJ_CONTENT_TYPE,
    PB_IM_REJ_TOO_LARGE,
    PB_IM_REJ_MALFORMED,
    PB_IM_REJ_WORKSPACE,
    PB_IM_REJ_COUNT
} pb_im_reject;

typedef enum {
    PB_IM_APP_CHANGED = 0,
    PB_IM_APP_NOOP,
    PB_IM_APP_STALE,
    PB_IM_APP_ECHO,
    PB_IM_APP_PARTIAL,
    PB_IM_APP_IGNORED,
    PB_IM_APP_COALESCED,
    PB_IM_APP_RETRY,
    PB_IM_APP_COUNT
} pb_im_applied_kind;

/* Registers every series now (so /metrics lists them before the first webhook). */
void pb_im_init(void);
void pb_im_accepted(void);
void pb_im_duplicate(void);
void pb_im_rejected(pb_im_reject why);
void pb_im_overloaded(void);
void pb_im_applied(pb_im_applied_kind what, uint64_t n);
void pb_im_events(uint64_t n);
void pb_im_dead(uint64_t n);
void pb_im_batch(int n);
void pb_im_inflight(int delta);
void pb_im_queue(int64_t pending, int64_t leased, int64_t dead, int64_t lag_ms);
/* pending + leased jobs at the last pb_im_queue() (0 before the first). */
int64_t pb_im_backlog(void);

#endif
