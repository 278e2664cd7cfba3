/* usage: see usage.h. A ring buffer under one mutex; the critical section is a memcpy. */
#include "auth/usage.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 512

struct pb_usage {
    pb_db *db;
    pthread_mutex_t mu;
    pthread_mutex_t flush_mu; /* one writer at a time, rows stay in order */
    pb_usage_row *ring;
    pb_usage_row *batch; /* BATCH rows, used under flush_mu */
    size_t cap, head, n;
    uint64_t queued, written, dropped;
};

int pb_usage_new(pb_db *db, size_t capacity, pb_usage **out)
{
    pb_usage *u = calloc(1, sizeof *u);
    if (capacity < 16) capacity = 16;
    if (!u || !(u->ring = calloc(capacity, sizeof *u->ring)) || !(u->batch = calloc(BATCH, sizeof *u->batch))) {
        if (u) free(u->ring);
        free(u);
        return PB_ENOMEM;
    }
    u->db = db;
    u->cap = capacity;
    pthread_mutex_init(&u->mu, NULL);
    pthread_mutex_init(&u->flush_mu, NULL);
    *out = u;
    return 0;
}

void pb_usage_free(pb_usage *u)
{
    if (!u) return;
    pthread_mutex_destroy(&u->mu);
    pthread_mutex_destroy(&u->flush_mu);
    free(u->ring);
    free(u->batch);
    free(u);
}

int pb_usage_push(pb_usage *u, const pb_usage_row *row)
{
    int rc = 0;
    pthread_mutex_lock(&u->mu);
    if (u->n == u->cap) {
        u->dropped++;
        rc = PB_EBUSY;
    } else {
        u->ring[(u->head + u->n) % u->cap] = *row;
        u->n++;
        u->queued++;
    }
    pthread_mutex_unlock(&u->mu);
    return rc;
}

size_t pb_usage_queued(pb_usage *u)
{
    pthread_mutex_lock(&u->mu);
    size_t n = u->n;
    pthread_mutex_unlock(&u->mu);
    return n;
}

void pb_usage_counters(pb_usage *u, uint64_t *queued, uint64_t *written, uint64_t *dropped)
{
    pthread_mutex_lock(&u->mu);
    if (queued) *queued = u->queued;
    if (written) *written = u->written;
    if (dropped) *dropped = u->dropped;
    pthread_mutex_unlock(&u->mu);
}

long pb_usage_flush(pb_usage *u, size_t max_rows, pb_error *err)
{
    long total = 0;
    pthread_mutex_lock(&u->flush_mu);
    pb_usage_row *batch = u->batch;
    for (;;) {
        size_t take = 0;
        pthread_mutex_lock(&u->mu);
        while (take < BATCH && u->n > 0 && (!max_rows || (size_t)total + take < max_rows)) {
            batch[take++] = u->ring[u->head];
            u->head = (u->head + 1) % u->cap;
            u->n--;
        }
        pthread_mutex_unlock(&u->mu);
        if (take == 0) break;
        int rc = pb_as_usage_insert(u->db, batch, take, err);
        pthread_mutex_lock(&u->mu);
        if (rc)
            u->dropped += take; /* the store refused the batch: count, do not retry forever */
        else
            u->written += take;
        pthread_mutex_unlock(&u->mu);
        if (rc) {
            pthread_mutex_unlock(&u->flush_mu);
            return rc;
        }
        total += (long)take;
    }
    pthread_mutex_unlock(&u->flush_mu);
    return total;
}
