/* ratelimit: see ratelimit.h. Micro-tokens (1 token = 1e6) keep refill arithmetic integral. */
#include "auth/ratelimit.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define UT 1000000LL
#define STRIPES 64

typedef struct bucket {
    char key_id[PB_ID_MAX];
    int used;
    int limit;
    int64_t tokens;   /* micro-tokens, may be negative (debt from other processes) */
    int64_t updated;  /* us of the last refill */
    int64_t pending;  /* whole tokens taken since the last sync */
    int64_t synced;   /* us of the last sync, 0 = never */
    int64_t touched;  /* us of the last take (eviction) */
} bucket;

struct pb_ratelimit {
    pb_db *db;
    int cap;          /* slots (power of two) */
    bucket *slots;
    pthread_mutex_t mu[STRIPES];
    /* One sync at a time: two concurrent syncs would both send a bucket's pending tokens to
     * the store and then both subtract them (double-charged, then negative pending). */
    pthread_mutex_t sync_mu;
    atomic_int want_sync;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

int pb_ratelimit_new(pb_db *db, int max_keys, pb_ratelimit **out)
{
    pb_ratelimit *rl = calloc(1, sizeof *rl);
    int cap = 256;
    while (cap < max_keys && cap < (1 << 22)) cap <<= 1;
    if (!rl || !(rl->slots = calloc((size_t)cap, sizeof *rl->slots))) {
        free(rl);
        return PB_ENOMEM;
    }
    rl->db = db;
    rl->cap = cap;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&rl->mu[i], NULL);
    pthread_mutex_init(&rl->sync_mu, NULL);
    *out = rl;
    return 0;
}

void pb_ratelimit_free(pb_ratelimit *rl)
{
    if (!rl) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&rl->mu[i]);
    pthread_mutex_destroy(&rl->sync_mu);
    free(rl->slots);
    free(rl);
}

/* Slots are grouped in sets of 8 that share a stripe lock; a key lives in its set. */
#define WAYS 8

static void refill(bucket *b, int64_t now)
{
    int64_t el = now - b->updated;
    if (el <= 0) return;
    if (el > 60 * UT) el = 60 * UT;
    int64_t cap = (int64_t)b->limit * UT;
    int64_t t = b->tokens + el * b->limit / 60;
    b->tokens = t > cap ? cap : t;
    b->updated = now;
}

static void fill_result(const bucket *b, int allowed, pb_rl_result *out)
{
    int64_t cap = (int64_t)b->limit * UT;
    int64_t per_us_num = b->limit; /* tokens per 60e6 us */
    out->allowed = allowed;
    out->limit = b->limit;
    out->remaining = b->tokens > 0 ? (int)(b->tokens / UT) : 0;
    int64_t missing = cap - b->tokens; /* micro-tokens until full */
    int64_t full_us = missing > 0 ? (missing * 60 + per_us_num - 1) / per_us_num : 0;
    out->reset_s = (b->updated + full_us + UT - 1) / UT;
    if (allowed) {
        out->retry_after_s = 0;
    } else {
        int64_t need = UT - b->tokens; /* to reach one whole token */
        int64_t wait_us = (need * 60 + per_us_num - 1) / per_us_num;
        int64_t s = (wait_us + UT - 1) / UT;
        out->retry_after_s = s < 1 ? 1 : (int)s;
    }
}

void pb_ratelimit_take(pb_ratelimit *rl, const char *key_id, int limit, int64_t now_us, pb_rl_result *out)
{
    if (limit < 1) limit = 1;
    uint64_t h = fnv(key_id);
    int nsets = rl->cap / WAYS;
    int set = (int)(h % (uint64_t)nsets);
    pthread_mutex_t *mu = &rl->mu[set % STRIPES];
    bucket *ways = &rl->slots[set * WAYS];
    pthread_mutex_lock(mu);
    bucket *b = NULL, *victim = NULL;
    for (int i = 0; i < WAYS; i++) {
        if (ways[i].used && strcmp(ways[i].key_id, key_id) == 0) {
            b = &ways[i];
            break;
        }
        if (!ways[i].used) {
            if (!victim || victim->used) victim = &ways[i];
        } else if (!victim || (victim->used && ways[i].touched < victim->touched)) {
            victim = &ways[i];
        }
    }
    if (!b) {
        /* New to this process: start from the shared balance (evicting the least recently used
         * bucket of the set; its pending tokens are lost, which only errs towards admitting). */
        b = victim;
        memset(b, 0, sizeof *b);
        b->used = 1;
        pb_strlcpy(b->key_id, key_id, sizeof b->key_id);
        b->limit = limit;
        b->tokens = (int64_t)limit * UT;
        b->updated = now_us;
        if (rl->db) {
            int64_t rem = 0;
            if (pb_as_rate_take(rl->db, key_id, limit, 0, now_us, &rem, NULL) == 0) {
                b->tokens = rem;
                b->synced = now_us;
            }
        }
    }
    if (b->limit != limit) { /* the key's limit changed: keep the fill ratio */
        b->tokens = b->tokens / b->limit * limit;
        b->limit = limit;
    }
    refill(b, now_us);
    b->touched = now_us;
    int allowed = b->tokens >= UT;
    if (allowed) {
        b->tokens -= UT;
        b->pending++;
        if (rl->db && b->pending * 10 >= limit) atomic_store(&rl->want_sync, 1);
    }
    fill_result(b, allowed, out);
    pthread_mutex_unlock(mu);
}

int pb_ratelimit_wants_sync(pb_ratelimit *rl)
{
    return atomic_load(&rl->want_sync);
}

void pb_ratelimit_forget(pb_ratelimit *rl, const char *key_id)
{
    uint64_t h = fnv(key_id);
    int set = (int)(h % (uint64_t)(rl->cap / WAYS));
    pthread_mutex_t *mu = &rl->mu[set % STRIPES];
    pthread_mutex_lock(mu);
    for (int i = 0; i < WAYS; i++) {
        bucket *b = &rl->slots[set * WAYS + i];
        if (b->used && strcmp(b->key_id, key_id) == 0) b->used = 0;
    }
    pthread_mutex_unlock(mu);
}

static int ratelimit_sync_locked(pb_ratelimit *rl, int64_t now_us, pb_error *err);

int pb_ratelimit_sync(pb_ratelimit *rl, int64_t now_us, pb_error *err)
{
    if (!rl->db) return 0;
    pthread_mutex_lock(&rl->sync_mu);
    int rc = ratelimit_sync_locked(rl, now_us, err);
    pthread_mutex_unlock(&rl->sync_mu);
    return rc;
}

static int ratelimit_sync_locked(pb_ratelimit *rl, int64_t now_us, pb_error *err)
{
    int synced = 0, rc = 0;
    atomic_store(&rl->want_sync, 0);
    for (int s = 0; s < rl->cap / WAYS; s++) {
        pthread_mutex_t *mu = &rl->mu[s % STRIPES];
        for (int i = 0; i < WAYS; i++) {
            bucket *b = &rl->slots[s * WAYS + i];
            char id[PB_ID_MAX];
            int64_t take, limit;
            pthread_mutex_lock(mu);
            /* Active buckets, and idle ones not yet full for a while (other processes may
             * still be spending them); a full idle bucket needs nothing. */
            int due = b->used && (b->pending > 0 || (now_us - b->synced > UT && b->tokens < (int64_t)b->limit * UT &&
                                                     now_us - b->touched < 120 * UT));
            if (due) {
                pb_strlcpy(id, b->key_id, sizeof id);
                take = b->pending;
                limit = b->limit;
            }
            pthread_mutex_unlock(mu);
            if (!due) continue;
            int64_t rem = 0;
            rc = pb_as_rate_take(rl->db, id, (int)limit, take, now_us, &rem, err);
            if (rc) return rc;
            pthread_mutex_lock(mu);
            if (b->used && strcmp(b->key_id, id) == 0) {
                /* Tokens taken while we were talking to the store stay pending. */
                b->pending -= take;
                b->tokens = rem - b->pending * UT;
                b->updated = now_us;
                b->synced = now_us;
            }
            pthread_mutex_unlock(mu);
            synced++;
        }
    }
    return synced;
}
