/* governor: the rate governor for one upstream key (Plane: 60 requests/minute per key by
 * default, X-RateLimit-Remaining / X-RateLimit-Reset on allowed answers, 429 + Retry-After past
 * the limit).
 *
 * Every request planebridge sends with a key passes through the key's governor: one object per
 * key per process (pb_gov_get() returns the shared one, reference counted), so the sync walk,
 * verify and any other caller in the process draw from one budget. The policy:
 *   - before the first answer (remaining unknown) only one probe request is in flight;
 *   - afterwards a request may start while remaining - in_flight > 0 (the last answer's
 *     X-RateLimit-Remaining minus the requests not yet answered), at most max_parallel at once;
 *   - at remaining 0 it waits for X-RateLimit-Reset, then probes again: a long walk uses the
 *     whole window (about limit per limit+1 seconds) and never provokes a 429 by itself;
 *   - a 429 blocks every caller until Retry-After (default 60 s).
 * With a store (db non-NULL) several processes on it share one budget: observations and any
 * 429 block are written to ops.sync_budget and adopted from it when another process observed
 * later, and every request of a metered upstream (one that announces X-RateLimit-Remaining) is
 * first reserved there (pb_ss_budget_take), so processes never spend the same remaining
 * requests twice. A refused reservation waits for the row's reset like remaining 0; a failed
 * one (store unreachable) retries every 200 ms, sending nothing meanwhile. Thread-safe. */
#ifndef PB_SYNC_GOVERNOR_H
#define PB_SYNC_GOVERNOR_H

#include "store/db.h"

#include <stdint.h>

typedef struct pb_gov pb_gov;

typedef struct pb_gov_stats {
    int64_t requests;   /* answers (any status) and transport failures */
    int64_t throttled;  /* 429 answers */
    int remaining;      /* last known remaining, -1 unknown */
    int limit;          /* X-RateLimit-Limit when sent, else the highest remaining + 1 seen */
    int64_t waited_us;  /* time callers spent blocked by the budget */
    int64_t blocked_until_us; /* a 429's Retry-After (ours or another process's), 0 if none */
} pb_gov_stats;

/* The process-wide governor of key (any string identifying upstream + credential; only a hash
 * of it is kept). db may be NULL. Never NULL except on out-of-memory. */
pb_gov *pb_gov_get(const char *key, pb_db *db);
void pb_gov_release(pb_gov *g); /* NULL-safe */
/* A private governor (tests). */
pb_gov *pb_gov_new(const char *key, pb_db *db);
void pb_gov_free(pb_gov *g);

void pb_gov_set_parallel(pb_gov *g, int max_parallel);
/* Blocks until between 1 and want requests may start; returns how many. Returns 0 when *stop
 * becomes non-zero while waiting (stop may be NULL). */
int pb_gov_acquire(pb_gov *g, int want, volatile int *stop);
/* Reports one finished request (call once per granted slot). status 0 = no answer.
 * remaining/limit -1 and reset_s/retry_after_s 0 when the header was absent. */
void pb_gov_done(pb_gov *g, int status, int remaining, int limit, int64_t reset_s, int retry_after_s);
void pb_gov_stats_get(pb_gov *g, pb_gov_stats *out);
/* Adopts the shared row now (acquire does it at most twice a second on its own). */
void pb_gov_sync_shared(pb_gov *g);

/* Pure decision (unit tests): how many of want may start now given the state; *wait_us gets
 * how long to wait when 0. */
int pb_gov_decide(int remaining, int in_flight, int max_parallel, int want, int64_t now_us, int64_t reset_at_us,
                  int64_t blocked_until_us, int64_t *wait_us);

#endif
