#include "core/metrics.h"
#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX 256

struct pb_series {
    const struct pb_metric *metric; /* owner: histogram bounds */
    char *values[PB_METRIC_MAX_LABELS];
    _Atomic uint64_t count;  /* counter value, histogram count */
    _Atomic int64_t gauge;
    _Atomic uint64_t sum_bits; /* histogram sum, a double stored as bits */
    _Atomic uint64_t *buckets; /* histogram: nbuckets non-cumulative counts */
};

struct pb_metric {
    char *name;
    char *help;
    pb_metric_kind kind;
    size_t nlabels;
    char *labels[PB_METRIC_MAX_LABELS];
    size_t nbuckets;
    double bounds[PB_METRIC_MAX_BUCKETS];
    pthread_mutex_t mu; /* serialises series creation only */
    _Atomic size_t nseries;
    pb_series *series[PB_METRIC_MAX_SERIES];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pb_metric *reg[METRICS_MAX];
static size_t reg_n;

static int name_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

static size_t count_labels(const char *const *l)
{
    size_t n = 0;
    while (l && l[n]) n++;
    return n;
}

static void metric_free(pb_metric *m)
{
    if (!m) return;
    size_t ns = atomic_load(&m->nseries);
    for (size_t i = 0; i < ns; i++) {
        pb_series *s = m->series[i];
        for (size_t l = 0; l < m->nlabels; l++) free(s->values[l]);
        free((void *)(uintptr_t)s->buckets);
        free(s);
    }
    for (size_t l = 0; l < m->nlabels; l++) free(m->labels[l]);
    pthread_mutex_destroy(&m->mu);
    free(m->name);
    free(m->help);
    free(m);
}

static pb_metric *metric_register(pb_metric_kind kind, const char *name, const char *help,
                                  const char *const *labels, const double *buckets, size_t nb)
{
    size_t nl = count_labels(labels);
    if (!name_ok(name) || nl > PB_METRIC_MAX_LABELS || nb > PB_METRIC_MAX_BUCKETS) return NULL;
    for (size_t i = 0; i < nl; i++)
        if (!name_ok(labels[i]) || strcmp(labels[i], "le") == 0) return NULL;
    for (size_t i = 1; i < nb; i++)
        if (!(buckets[i] > buckets[i - 1])) return NULL;

    pb_metric *out = NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < reg_n; i++) {
        pb_metric *m = reg[i];
        if (strcmp(m->name, name) != 0) continue;
        int same = m->kind == kind && m->nlabels == nl;
        for (size_t l = 0; same && l < nl; l++) same = strcmp(m->labels[l], labels[l]) == 0;
        out = same ? m : NULL;
        goto out;
    }
    if (reg_n == METRICS_MAX) goto out;
    pb_metric *m = calloc(1, sizeof *m);
    if (!m) goto out;
    pthread_mutex_init(&m->mu, NULL);
    m->kind = kind;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    int ok = m->name && m->help;
    for (size_t l = 0; l < nl; l++) {
        m->labels[l] = strdup(labels[l]);
        ok = ok && m->labels[l];
        m->nlabels = l + 1;
    }
    if (nb) memcpy(m->bounds, buckets, nb * sizeof *buckets);
    m->nbuckets = nb;
    if (!ok) {
        metric_free(m);
        goto out;
    }
    reg[reg_n++] = m;
    out = m;
out:
    pthread_mutex_unlock(&reg_mu);
    return out;
}

pb_metric *pb_metric_counter(const char *name, const char *help, const char *const *label_names)
{
    return metric_register(PB_METRIC_COUNTER, name, help, label_names, NULL, 0);
}

pb_metric *pb_metric_gauge(const char *name, const char *help, const char *const *label_names)
{
    return metric_register(PB_METRIC_GAUGE, name, help, label_names, NULL, 0);
}

pb_metric *pb_metric_histogram(const char *name, const char *help, const char *const *label_names,
                               const double *buckets, size_t nbuckets)
{
    return metric_register(PB_METRIC_HISTOGRAM, name, help, label_names, buckets, nbuckets);
}

static pb_series *series_find(pb_metric *m, size_t n, const char *const *vals)
{
    for (size_t i = 0; i < n; i++) {
        pb_series *s = m->series[i];
        int same = 1;
        for (size_t l = 0; same && l < m->nlabels; l++) same = strcmp(s->values[l], vals[l]) == 0;
        if (same) return s;
    }
    return NULL;
}

pb_series *pb_metric_series(pb_metric *m, const char *const *vals)
{
    if (!m) return NULL;
    for (size_t l = 0; l < m->nlabels; l++)
        if (!vals || !vals[l]) return NULL;
    pb_series *s = series_find(m, atomic_load_explicit(&m->nseries, memory_order_acquire), vals);
    if (s) return s;
    pthread_mutex_lock(&m->mu);
    size_t n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    s = series_find(m, n, vals);
    if (s || n == PB_METRIC_MAX_SERIES) goto out;
    s = calloc(1, sizeof *s);
    if (!s) goto out;
    int ok = 1;
    for (size_t l = 0; l < m->nlabels; l++) ok = ok && (s->values[l] = strdup(vals[l])) != NULL;
    if (ok && m->kind == PB_METRIC_HISTOGRAM)
        ok = (s->buckets = calloc(m->nbuckets + 1, sizeof *s->buckets)) != NULL;
    if (!ok) {
        for (size_t l = 0; l < m->nlabels; l++) free(s->values[l]);
        free(s);
        s = NULL;
        goto out;
    }
    s->metric = m;
    m->series[n] = s;
    atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&m->mu);
    return s;
}

void pb_series_inc(pb_series *s, uint64_t n)
{
    if (s) atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
}

void pb_series_gauge_add(pb_series *s, int64_t d)
{
    if (s) atomic_fetch_add_explicit(&s->gauge, d, memory_order_relaxed);
}

void pb_series_gauge_set(pb_series *s, int64_t v)
{
    if (s) atomic_store_explicit(&s->gauge, v, memory_order_relaxed);
}

uint64_t pb_series_count(const pb_series *s)
{
    return s ? atomic_load_explicit(&((pb_series *)(uintptr_t)s)->count, memory_order_relaxed) : 0;
}

int64_t pb_series_gauge_value(const pb_series *s)
{
    return s ? atomic_load_explicit(&((pb_series *)(uintptr_t)s)->gauge, memory_order_relaxed) : 0;
}

static double bits_to_d(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t d_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

void pb_series_observe(pb_series *s, double v)
{
    if (!s || !s->buckets || isnan(v)) return;
    const pb_metric *m = s->metric;
    size_t i = 0;
    while (i < m->nbuckets && v > m->bounds[i]) i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, d_to_bits(bits_to_d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

static int put_value(pb_buf *b, const char *v)
{
    int rc = 0;
    for (; *v && !rc; v++) {
        if (*v == '\\') rc = pb_buf_puts(b, "\\\\");
        else if (*v == '"') rc = pb_buf_puts(b, "\\\"");
        else if (*v == '\n') rc = pb_buf_puts(b, "\\n");
        else rc = pb_buf_putc(b, *v);
    }
    return rc;
}

static int put_help(pb_buf *b, const char *v)
{
    int rc = 0;
    for (; *v && !rc; v++) {
        if (*v == '\\') rc = pb_buf_puts(b, "\\\\");
        else if (*v == '\n') rc = pb_buf_puts(b, "\\n");
        else rc = pb_buf_putc(b, *v);
    }
    return rc;
}

/* name{labels[,extra]} */
static int put_series(pb_buf *b, const pb_metric *m, const pb_series *s, const char *suffix,
                      const char *extra_k, const char *extra_v)
{
    int rc = pb_buf_puts(b, m->name);
    if (!rc && suffix) rc = pb_buf_puts(b, suffix);
    if (rc || (!m->nlabels && !extra_k)) return rc;
    rc = pb_buf_putc(b, '{');
    for (size_t l = 0; l < m->nlabels && !rc; l++) {
        rc = pb_buf_printf(b, "%s%s=\"", l ? "," : "", m->labels[l]);
        if (!rc) rc = put_value(b, s->values[l]);
        if (!rc) rc = pb_buf_putc(b, '"');
    }
    if (!rc && extra_k) rc = pb_buf_printf(b, "%s%s=\"%s\"", m->nlabels ? "," : "", extra_k, extra_v);
    if (!rc) rc = pb_buf_putc(b, '}');
    return rc;
}

static int render_metric(pb_buf *b, pb_metric *m)
{
    static const char *kinds[] = {"", "counter", "gauge", "histogram"};
    int rc = pb_buf_printf(b, "# HELP %s ", m->name);
    if (!rc) rc = put_help(b, m->help);
    if (!rc) rc = pb_buf_printf(b, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
    size_t ns = atomic_load_explicit(&m->nseries, memory_order_acquire);
    for (size_t i = 0; i < ns && !rc; i++) {
        pb_series *s = m->series[i];
        if (m->kind == PB_METRIC_COUNTER) {
            rc = put_series(b, m, s, NULL, NULL, NULL);
            if (!rc) rc = pb_buf_printf(b, " %llu\n", (unsigned long long)atomic_load(&s->count));
        } else if (m->kind == PB_METRIC_GAUGE) {
            rc = put_series(b, m, s, NULL, NULL, NULL);
            if (!rc) rc = pb_buf_printf(b, " %lld\n", (long long)atomic_load(&s->gauge));
        } else {
            /* Read buckets first and derive count from them so the exposition is consistent
             * (count == +Inf bucket) even while observations race with rendering. */
            uint64_t cum = 0;
            for (size_t k = 0; k <= m->nbuckets && !rc; k++) {
                cum += atomic_load(&s->buckets[k]);
                char le[64];
                if (k < m->nbuckets) snprintf(le, sizeof le, "%.17g", m->bounds[k]);
                else snprintf(le, sizeof le, "+Inf");
                rc = put_series(b, m, s, "_bucket", "le", le);
                if (!rc) rc = pb_buf_printf(b, " %llu\n", (unsigned long long)cum);
            }
            if (!rc) rc = put_series(b, m, s, "_sum", NULL, NULL);
            if (!rc) rc = pb_buf_printf(b, " %.17g\n", bits_to_d(atomic_load(&s->sum_bits)));
            if (!rc) rc = put_series(b, m, s, "_count", NULL, NULL);
            if (!rc) rc = pb_buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
    }
    return rc;
}

int pb_metrics_render(pb_buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < reg_n && !rc; i++) rc = render_metric(out, reg[i]);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

void pb_metrics_reset(void)
{
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < reg_n; i++) metric_free(reg[i]);
    reg_n = 0;
    pthread_mutex_unlock(&reg_mu);
}
