/* governor: see governor.h. */
#include "sync/governor.h"

#include "core/log.h"
#include "core/util.h"
#include "store/sync_store.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pb_gov {
    char key[65]; /* hex SHA-256 of the caller's key string */
    pb_db *db;
    int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining; /* -1 unknown */
    int limit;
    int in_flight;
    int max_parallel;
    int64_t reset_at_us;
    int64_t blocked_until_us;
    int64_t observed_at_us;
    int64_t requests, throttled, waited_us;
    int64_t last_pull_us, last_push_us;
    int64_t unpushed_requests, unpushed_throttled;
    int push_accept; /* the next push carries a probe's answer (a new window) */
    int tokens;      /* reserved in the shared ledger, not yet spent by this process */
    int64_t probe_lease_until; /* this process holds the shared probe right until then */
    struct pb_gov *next;
};

/* How long the shared right to probe lasts when its probe gets no answer that opens a window. */
#define PROBE_LEASE_US 10000000LL

static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pb_gov *g_reg;

pb_gov *pb_gov_new(const char *key, pb_db *db)
{
    pb_gov *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), h);
    pb_hex_encode(h, sizeof h, g->key);
    g->db = db;
    g->refs = 1;
    g->remaining = -1;
    g->limit = -1;
    g->max_parallel = 8;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    return g;
}

void pb_gov_free(pb_gov *g)
{
    if (!g) return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

pb_gov *pb_gov_get(const char *key, pb_db *db)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    char hex[65];
    SHA256((const unsigned char *)key, strlen(key), h);
    pb_hex_encode(h, sizeof h, hex);
    pthread_mutex_lock(&g_reg_mu);
    pb_gov *g = g_reg;
    while (g && strcmp(g->key, hex) != 0) g = g->next;
    if (g) {
        g->refs++;
        if (!g->db) g->db = db;
    } else {
        g = pb_gov_new(key, db);
        if (g) {
            g->next = g_reg;
            g_reg = g;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
    return g;
}

void pb_gov_release(pb_gov *g)
{
    if (!g) return;
    pthread_mutex_lock(&g_reg_mu);
    int last = --g->refs == 0;
    if (last) {
        pb_gov **pp = &g_reg;
        while (*pp && *pp != g) pp = &(*pp)->next;
        if (*pp) *pp = g->next;
    }
    pthread_mutex_unlock(&g_reg_mu);
    if (last) pb_gov_free(g);
}

void pb_gov_set_parallel(pb_gov *g, int max_parallel)
{
    pthread_mutex_lock(&g->mu);
    g->max_parallel = max_parallel < 1 ? 1 : max_parallel;
    pthread_mutex_unlock(&g->mu);
}

int pb_gov_decide(int remaining, int in_flight, int max_parallel, int want, int64_t now_us, int64_t reset_at_us,
                  int64_t blocked_until_us, int64_t *wait_us)
{
    *wait_us = 0;
    if (now_us < blocked_until_us) {
        *wait_us = blocked_until_us - now_us;
        return 0;
    }
    int room = max_parallel - in_flight;
    if (room <= 0) return 0;
    if (remaining < 0) return in_flight == 0 ? 1 : 0; /* probe first */
    int avail = remaining - in_flight;
    if (avail > 0) {
        int k = want < avail ? want : avail;
        return k < room ? k : room;
    }
    if (in_flight > 0) return 0; /* an answer will tell */
    if (reset_at_us > now_us) {
        *wait_us = reset_at_us - now_us;
        return 0;
    }
    return 1; /* window passed: probe */
}

static void pull_shared(pb_gov *g, int64_t now)
{
    /* caller holds no lock; reads the shared row at most twice a second */
    pb_ss_budget b;
    pb_error err = {0};
    if (!g->db) return;
    pthread_mutex_lock(&g->mu);
    int due = now - g->last_pull_us >= 500000;
    if (due) g->last_pull_us = now;
    pthread_mutex_unlock(&g->mu);
    if (!due || pb_ss_budget_get(g->db, g->key, &b, &err)) return;
    pthread_mutex_lock(&g->mu);
    if (b.blocked_until > g->blocked_until_us) g->blocked_until_us = b.blocked_until;
    if (b.observed_at > g->observed_at_us && b.remaining >= 0) {
        g->remaining = b.remaining;
        g->reset_at_us = b.reset_at;
        g->observed_at_us = b.observed_at;
        if (b.lim > 0) g->limit = b.lim;
    }
    pthread_mutex_unlock(&g->mu);
}

static void push_shared(pb_gov *g, int force)
{
    if (!g->db) return;
    int64_t now = pb_now_us();
    pb_ss_budget b;
    int64_t addr, addt;
    pthread_mutex_lock(&g->mu);
    if (!force && now - g->last_push_us < 250000) {
        pthread_mutex_unlock(&g->mu);
        return;
    }
    g->last_push_us = now;
    memset(&b, 0, sizeof b);
    b.lim = g->limit;
    b.remaining = g->remaining;
    b.reset_at = g->reset_at_us;
    b.blocked_until = g->blocked_until_us;
    b.observed_at = g->observed_at_us;
    b.accept = g->push_accept;
    g->push_accept = 0;
    addr = g->unpushed_requests;
    addt = g->unpushed_throttled;
    g->unpushed_requests = g->unpushed_throttled = 0;
    pthread_mutex_unlock(&g->mu);
    pb_error err = {0};
    if (pb_ss_budget_put(g->db, g->key, &b, addr, addt, &err))
        PB_LOG(PB_LOG_DEBUG, "sync budget row not written", PB_LS("error", err.msg));
}

static void timed_wait(pb_gov *g, int64_t wait_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (wait_us <= 0 || wait_us > 200000) wait_us = 200000; /* re-check stop and shared row */
    int64_t ns = ts.tv_nsec + wait_us * 1000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
}

/* The shared right to probe the next window (called with g->mu held; drops it while asking
 * the store). 1 when this process may probe; 0 when another one does: its answer reaches us
 * through the shared row. k requests are counted in flight meanwhile. */
static int probe_right(pb_gov *g, int k, int64_t now)
{
    if (g->probe_lease_until > now) return 1; /* ours already (a retried probe) */
    int ok = 0;
    g->in_flight += k;
    pthread_mutex_unlock(&g->mu);
    pb_error err = {0};
    int rc = pb_ss_budget_probe(g->db, g->key, now, now + PROBE_LEASE_US, &ok, &err);
    pthread_mutex_lock(&g->mu);
    g->in_flight -= k;
    if (rc || !ok) {
        g->last_pull_us = 0; /* read the row at once next time */
        return 0;
    }
    g->probe_lease_until = now + PROBE_LEASE_US;
    return 1;
}

/* How many of the k requests counted in flight the shared ledger grants (called with g->mu
 * held; drops it while asking the store): this process's reserved tokens first, then a
 * reservation of what is missing plus a small block (a twentieth of the limit, at most 64),
 * so a walk writes the ledger a few times per window, not once per request. Returns the grant
 * (the rest is taken out of in_flight), 0 when other processes spent the window (remaining
 * and reset_at then say so), -1 when the store could not be asked. */
static int ledger_grant(pb_gov *g, int k)
{
    int have = g->tokens < k ? g->tokens : k;
    g->tokens -= have;
    int block = g->limit > 0 ? g->limit / 20 : 0;
    if (block > 64) block = 64;
    int got = 0, rc = 0;
    int64_t reset_at = 0;
    pb_error err = {0};
    if (have < k) {
        pthread_mutex_unlock(&g->mu);
        rc = pb_ss_budget_take(g->db, g->key, k - have + block, &got, &reset_at, &err);
        pthread_mutex_lock(&g->mu);
    }
    if (rc) {
        PB_LOG(PB_LOG_DEBUG, "sync budget reservation failed", PB_LS("error", err.msg));
        g->tokens += have;
        g->in_flight -= k;
        return -1;
    }
    int total = have + got, grant = total < k ? total : k;
    g->tokens += total - grant;
    g->in_flight -= k - grant;
    if (grant == 0) {
        g->remaining = 0;
        if (reset_at > g->reset_at_us) g->reset_at_us = reset_at;
    }
    return grant;
}

int pb_gov_acquire(pb_gov *g, int want, volatile int *stop)
{
    if (want < 1) want = 1;
    int64_t t0 = pb_mono_ms();
    for (;;) {
        if (stop && *stop) return 0;
        int64_t now = pb_now_us();
        pull_shared(g, now);
        pthread_mutex_lock(&g->mu);
        int64_t wait_us = 0;
        int k = pb_gov_decide(g->remaining, g->in_flight, g->max_parallel, want, now, g->reset_at_us,
                              g->blocked_until_us, &wait_us);
        if (k > 0) {
            int probe = g->remaining == -1 || (g->remaining <= 0 && g->in_flight == 0);
            /* One process probes for everyone sharing the store; the others adopt its answer
             * from the shared row (pull_shared) instead of probing too. */
            if (probe && g->db && !probe_right(g, k, now)) {
                timed_wait(g, 200000);
                pthread_mutex_unlock(&g->mu);
                continue;
            }
            if (probe) {
                g->remaining = -1;
                g->tokens = 0; /* reserved in a window that has ended */
            }
            g->in_flight += k;
            /* Across processes the store's ledger decides (a probe needs no grant: it opens a
             * new window). Not for an upstream that announces no limit. */
            if (g->db && !probe && g->remaining < (1 << 30)) {
                int grant = ledger_grant(g, k);
                if (grant <= 0) {
                    /* refused (wait for the window the others saw, then probe) or the store
                     * could not be asked (no reservation, no request: ask again shortly) */
                    pthread_cond_broadcast(&g->cv);
                    timed_wait(g, grant < 0 ? 200000 : g->reset_at_us - now);
                    pthread_mutex_unlock(&g->mu);
                    continue;
                }
                k = grant;
            }
            g->waited_us += (pb_mono_ms() - t0) * 1000;
            pthread_mutex_unlock(&g->mu);
            return k;
        }
        timed_wait(g, wait_us);
        pthread_mutex_unlock(&g->mu);
    }
}

void pb_gov_done(pb_gov *g, int status, int remaining, int limit, int64_t reset_s, int retry_after_s)
{
    int64_t now = pb_now_us();
    int force = 0;
    pthread_mutex_lock(&g->mu);
    if (g->in_flight > 0) g->in_flight--;
    g->requests++;
    g->unpushed_requests++;
    if (status == 429) {
        g->throttled++;
        g->unpushed_throttled++;
        int64_t until = now + (int64_t)(retry_after_s > 0 ? retry_after_s : 60) * 1000000;
        if (until > g->blocked_until_us) g->blocked_until_us = until;
        g->remaining = 0;
        g->tokens = 0;
        g->reset_at_us = g->blocked_until_us;
        g->observed_at_us = now;
        force = 1;
    } else if (remaining >= 0) {
        /* Answers of concurrent requests are settled in any order, so a higher remaining than
         * the one held may be stale (counted before requests already answered): within a window
         * the budget only goes down. It goes up again only through the probe after the reset
         * (remaining -1), which accepts whatever the upstream says. Refills of a token bucket
         * are left unused until then: safe, and a long walk still uses every whole window. */
        if (g->remaining < 0) {
            g->push_accept = 1; /* a probe's answer: the shared row takes it as the new window */
            g->probe_lease_until = 0; /* and the put releases the shared probe right */
            force = 1;
        }
        if (g->remaining < 0 || g->remaining >= (1 << 30) || remaining < g->remaining) g->remaining = remaining;
        /* Reserved tokens never exceed what the upstream still allows after the requests in
         * flight: when its window runs out, tokens held from it are void (they would be spent
         * in the next window on top of what others reserve there). */
        int cap = remaining - g->in_flight;
        if (g->tokens > (cap > 0 ? cap : 0)) g->tokens = cap > 0 ? cap : 0;
        g->observed_at_us = now;
        if (reset_s > 0 && reset_s * 1000000 > g->reset_at_us) g->reset_at_us = reset_s * 1000000;
        if (limit > 0)
            g->limit = limit;
        else if (remaining + 1 > g->limit)
            g->limit = remaining + 1;
        if (remaining <= 1) force = 1;
    } else if (status > 0 && g->remaining == -1) {
        /* an answer without rate headers: no limit announced; allow the full parallelism */
        g->remaining = 1 << 30;
        g->reset_at_us = now + 60000000;
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    push_shared(g, force);
}

void pb_gov_stats_get(pb_gov *g, pb_gov_stats *out)
{
    pthread_mutex_lock(&g->mu);
    out->requests = g->requests;
    out->throttled = g->throttled;
    out->remaining = g->remaining >= (1 << 30) ? -1 : g->remaining;
    out->limit = g->limit;
    out->waited_us = g->waited_us;
    out->blocked_until_us = g->blocked_until_us;
    pthread_mutex_unlock(&g->mu);
}

void pb_gov_sync_shared(pb_gov *g)
{
    pthread_mutex_lock(&g->mu);
    g->last_pull_us = 0;
    pthread_mutex_unlock(&g->mu);
    pull_shared(g, pb_now_us());
}
