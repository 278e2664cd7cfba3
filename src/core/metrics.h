/* metrics: a small process-wide Prometheus registry (counters, gauges, histograms).
 *
 * Contract:
 *   - metrics are registered once (usually in a module's init) and live until
 *     pb_metrics_reset() or process exit; registering an existing name with the same kind
 *     returns the existing metric (a different kind or label set returns NULL);
 *   - label names are fixed at registration (at most PB_METRIC_MAX_LABELS); a metric holds
 *     at most PB_METRIC_MAX_SERIES label-value tuples: cardinality is bounded by design, so
 *     callers must only use values from a small fixed set (method, status class...). Past
 *     the bound, pb_metric_series() returns NULL and updates through NULL are ignored;
 *   - updates are lock-free (atomics): resolve a series handle once with pb_metric_series()
 *     and keep it; adding a new series takes a mutex once;
 *   - label values and names are copied; names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
 * pb_metrics_render() writes the Prometheus text exposition format (version 0.0.4). */
#ifndef PB_CORE_METRICS_H
#define PB_CORE_METRICS_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define PB_METRIC_MAX_LABELS 4
#define PB_METRIC_MAX_SERIES 128
#define PB_METRIC_MAX_BUCKETS 24

typedef enum { PB_METRIC_COUNTER = 1, PB_METRIC_GAUGE = 2, PB_METRIC_HISTOGRAM = 3 } pb_metric_kind;

typedef struct pb_metric pb_metric;
typedef struct pb_series pb_series;

/* label_names: NULL-terminated list (NULL for no labels). */
pb_metric *pb_metric_counter(const char *name, const char *help, const char *const *label_names);
pb_metric *pb_metric_gauge(const char *name, const char *help, const char *const *label_names);
/* buckets: strictly increasing upper bounds (the +Inf bucket is implicit). */
pb_metric *pb_metric_histogram(const char *name, const char *help, const char *const *label_names,
                               const double *buckets, size_t nbuckets);

/* The series for one tuple of label values (same count as the label names; NULL when the
 * metric has no labels). Returns NULL when m is NULL or the series bound is reached. */
pb_series *pb_metric_series(pb_metric *m, const char *const *label_values);

/* Updates; all NULL-safe. */
void pb_series_inc(pb_series *s, uint64_t n);        /* counter */
void pb_series_gauge_add(pb_series *s, int64_t d);   /* gauge */
void pb_series_gauge_set(pb_series *s, int64_t v);   /* gauge */
void pb_series_observe(pb_series *s, double v);      /* histogram */
uint64_t pb_series_count(const pb_series *s);        /* counter value / histogram count */
int64_t pb_series_gauge_value(const pb_series *s);

/* Appends every registered metric in text exposition format. Returns 0 or PB_ETOOBIG/ENOMEM. */
int pb_metrics_render(pb_buf *out);
/* Forgets every metric (tests only; no concurrent use allowed). */
void pb_metrics_reset(void);

#endif
