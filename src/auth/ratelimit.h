/* ratelimit: per-key token buckets (capacity = limit, refilled at limit per minute), decided
 * in process and shared with other processes through the store.
 *
 * Every process keeps a local bucket per key and decides locally (no I/O on the request
 * path). pb_ratelimit_sync(), called by the auth module's background thread every 100 ms
 * (sooner when a bucket has consumed a tenth of its limit), pushes the tokens this process
 * took since the last sync into ops.rate_buckets with one atomic UPSERT per active key and
 * adopts the shared balance it returns, which includes what every other process took.
 * A key's first use in a process reads the shared balance synchronously, so restarts do
 * not reset limits. Exactness: see docs/ARCHITECTURE.md "Security": other processes can
 * over-admit at most what they admit within one sync interval; the balance may go negative
 * (debt), which then holds every process back until it is repaid, so the long-run rate is
 * exact. With one process the local bucket is exact. Thread-safe. */
#ifndef PB_AUTH_RATELIMIT_H
#define PB_AUTH_RATELIMIT_H

#include "core/err.h"
#include "store/db.h"

#include <stdint.h>

typedef struct pb_ratelimit pb_ratelimit;

typedef struct pb_rl_result {
    int allowed;         /* 1 = go ahead */
    int limit;           /* per minute */
    int remaining;       /* whole tokens left after this request */
    int64_t reset_s;     /* unix seconds when the bucket is full again */
    int retry_after_s;   /* when refused: seconds until one token is available (>= 1) */
} pb_rl_result;

/* db may be NULL (purely local buckets, for tests and benchmarks). max_keys bounds memory. */
int pb_ratelimit_new(pb_db *db, int max_keys, pb_ratelimit **out);
void pb_ratelimit_free(pb_ratelimit *rl);
/* Takes one token for key_id. Never blocks on I/O except at a key's first use. */
void pb_ratelimit_take(pb_ratelimit *rl, const char *key_id, int limit, int64_t now_us, pb_rl_result *out);
/* Pushes local consumption, pulls shared balances. Returns the number of keys synced or <0. */
int pb_ratelimit_sync(pb_ratelimit *rl, int64_t now_us, pb_error *err);
/* 1 when some bucket wants an early sync (consumed >= 10% of its limit since the last). */
int pb_ratelimit_wants_sync(pb_ratelimit *rl);
/* Forgets a key's local bucket (revoked keys). */
void pb_ratelimit_forget(pb_ratelimit *rl, const char *key_id);

#endif
