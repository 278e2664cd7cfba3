/* auth: the authenticator (key cache, checks, hooks), its background writer thread and the
 * auth module. See auth.h for the behaviour seen from outside. */
#include "auth/auth.h"
#include "auth/apikey.h"
#include "auth/auth_internal.h"
#include "auth/ratelimit.h"
#include "auth/usage.h"
#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Validated keys are trusted for this long before the store is asked again, which bounds
 * how long a key revoked by another process keeps working here. */
#define KEY_TTL_MS 1000
#define ROLE_TTL_MS 1000
#define CACHE_SETS 256
#define CACHE_WAYS 4
#define ROLE_SETS 256
#define ROLE_WAYS 4
#define STRIPES 64
#define USAGE_QUEUE 32768 /* ~1.6 s at 20k req/s; the writer drains it every 100 ms */
/* Negative cache: digests of well-formed keys the store does not know. Bounded (64k
 * entries, set-associative, LRU within a set) so a flood of random keys costs one store
 * query per distinct key per TTL at most, and cannot evict the positive cache. Entries die
 * after NEG_TTL_MS, or at once when this process creates or rotates a key (generation
 * bump); a key created by another process (the CLI) can only be in here if somebody
 * presented it before it existed, and is then refused for at most NEG_TTL_MS. */
#define NEG_SETS 16384
#define NEG_WAYS 4
#define NEG_TTL_MS 60000
/* Failed authentications per client address (IPv4 address, IPv6 /64): a token bucket of
 * IPF_BURST failures refilled at IPF_PER_MIN per minute; an empty bucket answers 429 to
 * every credential not already in the positive cache, before any store query. */
#define IPF_SETS 1024
#define IPF_WAYS 4
#define IPF_BURST 30
#define IPF_PER_MIN 30
#define PRUNE_EVERY_MS (10 * 60 * 1000)

static const char BODY_MISSING[] = "{\"detail\":\"Authentication credentials were not provided.\"}";
static const char BODY_INVALID[] = "{\"detail\":\"Given API token is not valid\"}";
static const char BODY_DENIED[] = "{\"detail\":\"You do not have permission to perform this action.\"}";
static const char BODY_THROTTLED[] = "{\"error_code\":5900,\"error_message\":\"RATE_LIMIT_EXCEEDED\"}";

typedef struct centry {
    int used;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int64_t fetched_ms, touched_ms;
    int64_t revoked_at;
    pb_principal p;
} centry;

typedef struct nentry {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int64_t at_ms;
    unsigned gen; /* valid while == pb_auth.neg_gen */
    int used;
} nentry;

typedef struct ipentry {
    unsigned char addr[16]; /* IPv4-mapped, or an IPv6 /64 (host bits zero) */
    int64_t at_ms;          /* last refill */
    int64_t mtokens;        /* failures still allowed, in thousandths */
    int used;
} ipentry;

typedef struct rentry {
    int used;
    char user_id[PB_ID_MAX];
    char slug[PB_SLUG_MAX]; /* "" = the user's highest role anywhere */
    int role;               /* 0 = not a member */
    int64_t fetched_ms;
} rentry;

struct pb_auth {
    pb_db *db;
    const pb_config *cfg;
    int default_limit;
    centry keys[CACHE_SETS * CACHE_WAYS];
    rentry roles[ROLE_SETS * ROLE_WAYS];
    pthread_mutex_t kmu[STRIPES], rmu[STRIPES], nmu[STRIPES], imu[STRIPES];
    nentry *neg; /* NEG_SETS * NEG_WAYS, calloc'd (untouched pages cost nothing) */
    atomic_uint neg_gen;
    int64_t neg_ttl_ms;
    ipentry ipf[IPF_SETS * IPF_WAYS];
    atomic_llong clock_skew_ms; /* tests: pb_auth_test_advance */
    pb_ratelimit *rl;
    pb_usage *usage;
    /* background thread */
    pthread_t thr;
    atomic_int running; /* read by request threads (pb_auth_decide) while start/stop write it */
    pthread_mutex_t tmu;
    /* Serialises background passes: the writer thread and pb_auth_flush (GET .../usage runs it
     * on a request thread) would otherwise both send the same pending rate tokens to the
     * store and subtract them twice, and race on last_prune_ms. */
    pthread_mutex_t pass_mu;
    pthread_cond_t tcv;
    int stop;
    int64_t last_prune_ms;
    atomic_ullong hits, misses, limited, neg_hits, ip_throttled;
};

int pb_auth_new(pb_db *db, const pb_config *cfg, pb_auth **out, pb_error *err)
{
    pb_auth *a = calloc(1, sizeof *a);
    if (!a) return pb_error_set(err, PB_ENOMEM, "out of memory");
    a->db = db;
    a->cfg = cfg;
    a->default_limit = cfg && cfg->rate_limit_per_min > 0 ? cfg->rate_limit_per_min : 60;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&a->kmu[i], NULL);
        pthread_mutex_init(&a->rmu[i], NULL);
        pthread_mutex_init(&a->nmu[i], NULL);
        pthread_mutex_init(&a->imu[i], NULL);
    }
    a->neg_ttl_ms = NEG_TTL_MS;
    a->neg = calloc((size_t)NEG_SETS * NEG_WAYS, sizeof *a->neg);
    pthread_mutex_init(&a->tmu, NULL);
    pthread_mutex_init(&a->pass_mu, NULL);
    pthread_cond_init(&a->tcv, NULL);
    if (!a->neg || pb_ratelimit_new(db, 8192, &a->rl) || pb_usage_new(db, USAGE_QUEUE, &a->usage)) {
        pb_auth_free(a);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    *out = a;
    return 0;
}

void pb_auth_free(pb_auth *a)
{
    if (!a) return;
    pb_auth_stop(a);
    pb_ratelimit_free(a->rl);
    pb_usage_free(a->usage);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&a->kmu[i]);
        pthread_mutex_destroy(&a->rmu[i]);
        pthread_mutex_destroy(&a->nmu[i]);
        pthread_mutex_destroy(&a->imu[i]);
    }
    free(a->neg);
    pthread_mutex_destroy(&a->tmu);
    pthread_mutex_destroy(&a->pass_mu);
    pthread_cond_destroy(&a->tcv);
    memset(a->keys, 0, sizeof a->keys);
    free(a);
}

pb_db *pb_auth_db(pb_auth *a)
{
    return a->db;
}

const pb_config *pb_auth_config(pb_auth *a)
{
    return a->cfg;
}

/* ------------------------------------------------------------------ key cache */

static unsigned set_of(const unsigned char *d, unsigned nsets)
{
    return ((unsigned)d[0] | (unsigned)d[1] << 8 | (unsigned)d[2] << 16) % nsets;
}

/* Looks the digest up; copies a fresh entry into *p. Returns 1 hit, 2 a stale entry (a key
 * this process validated before: it is not held back by its address's failure budget, but
 * is fetched again), 0 miss. */
static int cache_get(pb_auth *a, const unsigned char *digest, int64_t now_ms, pb_principal *p, int64_t *revoked)
{
    unsigned s = set_of(digest, CACHE_SETS);
    pthread_mutex_t *mu = &a->kmu[s % STRIPES];
    int hit = 0;
    pthread_mutex_lock(mu);
    for (int i = 0; i < CACHE_WAYS; i++) {
        centry *e = &a->keys[s * CACHE_WAYS + i];
        /* Constant-time digest comparison: timing reveals nothing about how much matched. */
        if (e->used && pb_ct_equal(e->digest, sizeof e->digest, digest, SHA256_DIGEST_LENGTH)) {
            if (now_ms - e->fetched_ms < KEY_TTL_MS) {
                *p = e->p;
                *revoked = e->revoked_at;
                e->touched_ms = now_ms;
                hit = 1;
            } else {
                hit = 2;
            }
            break;
        }
    }
    pthread_mutex_unlock(mu);
    return hit;
}

static void cache_put(pb_auth *a, const unsigned char *digest, int64_t now_ms, const pb_principal *p, int64_t revoked)
{
    unsigned s = set_of(digest, CACHE_SETS);
    pthread_mutex_t *mu = &a->kmu[s % STRIPES];
    pthread_mutex_lock(mu);
    centry *victim = NULL;
    for (int i = 0; i < CACHE_WAYS; i++) {
        centry *e = &a->keys[s * CACHE_WAYS + i];
        if (e->used && pb_ct_equal(e->digest, sizeof e->digest, digest, SHA256_DIGEST_LENGTH)) {
            victim = e;
            break;
        }
        if (!victim || (victim->used && (!e->used || e->touched_ms < victim->touched_ms))) victim = e;
    }
    victim->used = 1;
    memcpy(victim->digest, digest, sizeof victim->digest);
    victim->fetched_ms = victim->touched_ms = now_ms;
    victim->revoked_at = revoked;
    victim->p = *p;
    pthread_mutex_unlock(mu);
}

/* ------------------------------------------------------------------ negative cache */

static int64_t now_ms_of(pb_auth *a)
{
    return pb_mono_ms() + atomic_load(&a->clock_skew_ms);
}

/* 1 when the digest is a fresh negative entry (a key the store did not know). */
static int neg_get(pb_auth *a, const unsigned char *digest, int64_t now_ms)
{
    unsigned s = set_of(digest, NEG_SETS);
    unsigned gen = atomic_load(&a->neg_gen);
    pthread_mutex_t *mu = &a->nmu[s % STRIPES];
    int hit = 0;
    pthread_mutex_lock(mu);
    for (int i = 0; i < NEG_WAYS; i++) {
        nentry *e = &a->neg[s * NEG_WAYS + i];
        if (e->used && e->gen == gen && now_ms - e->at_ms < a->neg_ttl_ms &&
            pb_ct_equal(e->digest, sizeof e->digest, digest, SHA256_DIGEST_LENGTH)) {
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(mu);
    return hit;
}

static void neg_put(pb_auth *a, const unsigned char *digest, int64_t now_ms, unsigned gen)
{
    unsigned s = set_of(digest, NEG_SETS);
    pthread_mutex_t *mu = &a->nmu[s % STRIPES];
    pthread_mutex_lock(mu);
    nentry *victim = NULL;
    for (int i = 0; i < NEG_WAYS; i++) {
        nentry *e = &a->neg[s * NEG_WAYS + i];
        int live = e->used && e->gen == atomic_load(&a->neg_gen) && now_ms - e->at_ms < a->neg_ttl_ms;
        if (!live) {
            victim = e;
            break;
        }
        if (!victim || e->at_ms < victim->at_ms) victim = e;
    }
    memcpy(victim->digest, digest, sizeof victim->digest);
    victim->at_ms = now_ms;
    victim->gen = gen;
    victim->used = 1;
    pthread_mutex_unlock(mu);
}

void pb_auth_keys_changed(pb_auth *a)
{
    if (a) atomic_fetch_add(&a->neg_gen, 1);
}

void pb_auth_test_advance(pb_auth *a, int64_t ms)
{
    if (a) atomic_fetch_add(&a->clock_skew_ms, ms);
}

/* ------------------------------------------------------------------ failures per client address */

/* The bucket key of a client address: IPv4 (as IPv4-mapped IPv6) or the IPv6 /64 (one
 * host gets a whole /64, so per-address buckets would be free to multiply); anything
 * unparsable is hashed. */
static void ip_key(const char *ip, unsigned char out[16])
{
    struct in6_addr a6;
    struct in_addr a4;
    memset(out, 0, 16);
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
    } else if (inet_pton(AF_INET6, ip, &a6) == 1) {
        memcpy(out, &a6, 16);
        if (!IN6_IS_ADDR_V4MAPPED(&a6)) memset(out + 8, 0, 8);
    } else {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)ip, strlen(ip), md);
        memcpy(out, md, 16);
    }
}

static unsigned ip_set(const unsigned char k[16])
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++) h = (h ^ k[i]) * 1099511628211ULL;
    return (unsigned)(h % IPF_SETS);
}

static void ip_refill(ipentry *e, int64_t now_ms)
{
    int64_t dt = now_ms - e->at_ms;
    if (dt > 0) {
        e->mtokens += dt * IPF_PER_MIN * 1000 / 60000;
        if (e->mtokens > IPF_BURST * 1000LL) e->mtokens = IPF_BURST * 1000LL;
        e->at_ms = now_ms;
    }
}

/* 0 when the address may still fail; else the seconds until it may (>= 1). */
static int ip_blocked(pb_auth *a, const unsigned char k[16], int64_t now_ms)
{
    unsigned s = ip_set(k);
    pthread_mutex_t *mu = &a->imu[s % STRIPES];
    int wait_s = 0;
    pthread_mutex_lock(mu);
    for (int i = 0; i < IPF_WAYS; i++) {
        ipentry *e = &a->ipf[s * IPF_WAYS + i];
        if (e->used && memcmp(e->addr, k, 16) == 0) {
            ip_refill(e, now_ms);
            if (e->mtokens < 1000) {
                int64_t need_ms = (1000 - e->mtokens) * 60000 / (IPF_PER_MIN * 1000LL);
                wait_s = (int)((need_ms + 999) / 1000);
                if (wait_s < 1) wait_s = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(mu);
    return wait_s;
}

static void ip_failed(pb_auth *a, const unsigned char k[16], int64_t now_ms)
{
    unsigned s = ip_set(k);
    pthread_mutex_t *mu = &a->imu[s % STRIPES];
    pthread_mutex_lock(mu);
    ipentry *e = NULL, *victim = NULL;
    for (int i = 0; i < IPF_WAYS; i++) {
        ipentry *c = &a->ipf[s * IPF_WAYS + i];
        if (c->used && memcmp(c->addr, k, 16) == 0) {
            e = c;
            break;
        }
        if (!victim || !c->used || (victim->used && c->at_ms < victim->at_ms)) victim = c;
    }
    if (!e) {
        e = victim;
        memcpy(e->addr, k, 16);
        e->used = 1;
        e->at_ms = now_ms;
        e->mtokens = IPF_BURST * 1000LL;
    }
    ip_refill(e, now_ms);
    e->mtokens -= 1000;
    if (e->mtokens < 0) e->mtokens = 0;
    pthread_mutex_unlock(mu);
}

void pb_auth_invalidate(pb_auth *a, const char *key_id)
{
    if (!a) return;
    if (!key_id) pb_auth_keys_changed(a);
    for (unsigned s = 0; s < CACHE_SETS; s++) {
        pthread_mutex_t *mu = &a->kmu[s % STRIPES];
        pthread_mutex_lock(mu);
        for (int i = 0; i < CACHE_WAYS; i++) {
            centry *e = &a->keys[s * CACHE_WAYS + i];
            if (e->used && (!key_id || strcmp(e->p.key_id, key_id) == 0)) e->used = 0;
        }
        pthread_mutex_unlock(mu);
    }
    if (!key_id) {
        for (unsigned s = 0; s < ROLE_SETS; s++) {
            pthread_mutex_lock(&a->rmu[s % STRIPES]);
            for (int i = 0; i < ROLE_WAYS; i++) a->roles[s * ROLE_WAYS + i].used = 0;
            pthread_mutex_unlock(&a->rmu[s % STRIPES]);
        }
    } else {
        pb_ratelimit_forget(a->rl, key_id);
    }
}

/* ------------------------------------------------------------------ roles */

static uint64_t fnv2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    while (*a) h = (h ^ (unsigned char)*a++) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    while (*b) h = (h ^ (unsigned char)*b++) * 1099511628211ULL;
    return h;
}

/* The user's role in slug ("" = highest anywhere); 0 = not a member; <0 store error. */
static int role_of(pb_auth *a, const char *user_id, const char *slug, int64_t now_ms)
{
    unsigned s = (unsigned)(fnv2(user_id, slug) % ROLE_SETS);
    pthread_mutex_t *mu = &a->rmu[s % STRIPES];
    rentry *ways = &a->roles[s * ROLE_WAYS];
    pthread_mutex_lock(mu);
    for (int i = 0; i < ROLE_WAYS; i++) {
        if (ways[i].used && now_ms - ways[i].fetched_ms < ROLE_TTL_MS && strcmp(ways[i].user_id, user_id) == 0 &&
            strcmp(ways[i].slug, slug) == 0) {
            int r = ways[i].role;
            pthread_mutex_unlock(mu);
            return r;
        }
    }
    pthread_mutex_unlock(mu);
    int role = 0;
    pb_error err = {0};
    int rc = *slug ? pb_as_member_role(a->db, slug, user_id, &role, &err)
                   : pb_as_member_max_role(a->db, user_id, &role, &err);
    if (rc == PB_ENOTFOUND) {
        role = 0;
    } else if (rc) {
        PB_LOG(PB_LOG_WARN, "member role lookup failed", PB_LS("error", err.msg));
        return rc;
    }
    pthread_mutex_lock(mu);
    rentry *v = &ways[0];
    for (int i = 0; i < ROLE_WAYS; i++) {
        if (ways[i].used && strcmp(ways[i].user_id, user_id) == 0 && strcmp(ways[i].slug, slug) == 0) {
            v = &ways[i];
            break;
        }
        if (!ways[i].used || ways[i].fetched_ms < v->fetched_ms) v = &ways[i];
    }
    v->used = 1;
    pb_strlcpy(v->user_id, user_id, sizeof v->user_id);
    pb_strlcpy(v->slug, slug, sizeof v->slug);
    v->role = role;
    v->fetched_ms = now_ms;
    pthread_mutex_unlock(mu);
    return role;
}

/* ------------------------------------------------------------------ decisions */

static void set_missing_scope(pb_auth_decision *d, const char *scope)
{
    char esc[64];
    size_t j = 0;
    /* Scope names come from route tables (literals); keep the body valid JSON regardless. */
    for (size_t i = 0; scope[i] && j + 1 < sizeof esc; i++)
        if (scope[i] != '"' && scope[i] != '\\' && (unsigned char)scope[i] >= 0x20) esc[j++] = scope[i];
    esc[j] = '\0';
    snprintf(d->body_buf, sizeof d->body_buf,
             "{\"detail\":\"This API key lacks the required scope '%s'.\",\"missing_scope\":\"%s\"}", esc, esc);
    d->status = 403;
    d->body = d->body_buf;
}

/* Workspace, role and project checks shared by the hook and pb_auth_require. 0 = allowed. */
static int check_access(pb_auth *a, const pb_principal *p, const char *scope, const char *slug,
                        const char *project_id, int64_t now_ms, pb_auth_decision *d)
{
    pb_scopes bit = 0;
    if (scope && *scope) {
        bit = pb_scope_bit(scope);
        if (!bit || !(p->scopes & bit)) {
            set_missing_scope(d, scope);
            return 1;
        }
    }
    if (slug && *slug && p->workspace[0] && strcmp(slug, p->workspace) != 0) goto denied;
    if ((slug && *slug) || bit) {
        /* Routes without a workspace are judged by the key's workspace, else the user's
         * highest role anywhere (an admin somewhere may use keys:admin). */
        const char *ws = slug && *slug ? slug : p->workspace;
        int role = role_of(a, p->user_id, ws, now_ms);
        if (role < 0) {
            d->status = 503;
            d->body = "{\"detail\":\"Service temporarily unavailable.\"}";
            return 1;
        }
        if (role == 0) goto denied;
        if (bit && !(pb_scope_ceiling(role) & bit)) goto denied;
    }
    if (project_id && *project_id && p->project_id[0] && strcmp(project_id, p->project_id) != 0) goto denied;
    return 0;
denied:
    d->status = 403;
    d->body = BODY_DENIED;
    return 1;
}

static int load_key(pb_auth *a, const char *tok, size_t toklen, const unsigned char *digest, int64_t now_ms,
                    pb_principal *p, int64_t *revoked)
{
    char hex[65];
    pb_key_row k;
    /* The generation before the query: a key created while the query runs bumps it, so the
     * negative entry written below is already stale. */
    unsigned gen = atomic_load(&a->neg_gen);
    pb_hex_encode(digest, SHA256_DIGEST_LENGTH, hex);
    pb_error err = {0};
    int rc = pb_as_key_get_by_hash(a->db, hex, &k, &err);
    if (rc && rc != PB_ENOTFOUND) PB_LOG(PB_LOG_WARN, "api key lookup failed", PB_LS("error", err.msg));
    /* The index found the row; the comparison that decides is constant-time. */
    if (rc == 0 && !pb_ct_equal(k.key_hash, strlen(k.key_hash), hex, 64)) rc = PB_ENOTFOUND;
    if (rc == PB_ENOTFOUND) neg_put(a, digest, now_ms, gen);
    if (rc) return rc;
    (void)tok;
    (void)toklen;
    memset(p, 0, sizeof *p);
    pb_strlcpy(p->key_id, k.id, sizeof p->key_id);
    pb_strlcpy(p->key_prefix, k.prefix, sizeof p->key_prefix);
    pb_strlcpy(p->user_id, k.user_id, sizeof p->user_id);
    pb_strlcpy(p->user_email, k.user_email, sizeof p->user_email);
    pb_strlcpy(p->workspace, k.workspace_slug, sizeof p->workspace);
    pb_strlcpy(p->project_id, k.project_id, sizeof p->project_id);
    if (pb_scope_parse(k.scopes, &p->scopes, NULL)) p->scopes = 0;
    p->rate_limit = k.rate_limit > 0 ? k.rate_limit : a->default_limit;
    p->expires_at = k.expires_at;
    p->auth = a;
    *revoked = k.revoked_at;
    cache_put(a, digest, now_ms, p, k.revoked_at);
    return 0;
}

int pb_auth_decide_ip(pb_auth *a, const char *x_api_key, const char *authorization, const char *client_ip,
                      const char *scope, const char *slug, const char *project_id, pb_auth_decision *d)
{
    const char *tok;
    size_t toklen;
    unsigned char digest[SHA256_DIGEST_LENGTH], ipk[16];
    pb_principal p;
    int64_t revoked = 0;
    int have_ip = client_ip && *client_ip;
    memset(d, 0, sizeof *d);
    if (!pb_apikey_from_headers(x_api_key, authorization, &tok, &toklen)) {
        d->status = 401;
        d->body = BODY_MISSING;
        return d->status;
    }
    int64_t now_ms = now_ms_of(a);
    int wf = pb_apikey_well_formed(tok, toklen);
    int cached = 0;
    if (wf) {
        SHA256((const unsigned char *)tok, toklen, digest);
        cached = cache_get(a, digest, now_ms, &p, &revoked);
    }
    if (cached != 1) {
        /* A key this process has not validated: refuse it before any store query when its
         * client address has spent its failures (keys validated here before are exempt). */
        if (have_ip && cached != 2) {
            ip_key(client_ip, ipk);
            int wait_s = ip_blocked(a, ipk, now_ms);
            if (wait_s) {
                atomic_fetch_add(&a->ip_throttled, 1);
                d->status = 429;
                d->body = BODY_THROTTLED;
                d->ip_retry_after_s = wait_s;
                return d->status;
            }
        }
        if (!wf) goto invalid;
        if (neg_get(a, digest, now_ms)) {
            atomic_fetch_add(&a->hits, 1);
            atomic_fetch_add(&a->neg_hits, 1);
            goto invalid;
        }
        atomic_fetch_add(&a->misses, 1);
        int rc = load_key(a, tok, toklen, digest, now_ms, &p, &revoked);
        if (rc == PB_ENOTFOUND) goto invalid;
        if (rc) {
            d->status = 503;
            d->body = "{\"detail\":\"Service temporarily unavailable.\"}";
            return d->status;
        }
    } else {
        atomic_fetch_add(&a->hits, 1);
    }
    int64_t now_us = pb_now_us();
    if (revoked || (p.expires_at && p.expires_at <= now_us)) goto invalid;
    d->principal = malloc(sizeof *d->principal);
    if (!d->principal) {
        d->status = 503;
        d->body = "{\"detail\":\"Service temporarily unavailable.\"}";
        return d->status;
    }
    *d->principal = p;
    d->has_rl = 1;
    pb_ratelimit_take(a->rl, p.key_id, p.rate_limit, now_us, &d->rl);
    /* A bucket spent a tenth of its limit since the last sync: sync now, not in 100 ms. */
    if (a->running && pb_ratelimit_wants_sync(a->rl)) pthread_cond_signal(&a->tcv);
    if (!d->rl.allowed) {
        atomic_fetch_add(&a->limited, 1);
        d->status = 429;
        d->body = BODY_THROTTLED;
        return d->status;
    }
    if (check_access(a, &p, scope, slug, project_id, now_ms, d)) return d->status;
    return 0;
invalid:
    if (have_ip) {
        ip_key(client_ip, ipk);
        ip_failed(a, ipk, now_ms);
    }
    d->status = 403;
    d->body = BODY_INVALID;
    return d->status;
}

int pb_auth_decide(pb_auth *a, const char *x_api_key, const char *authorization, const char *scope, const char *slug,
                   const char *project_id, pb_auth_decision *d)
{
    return pb_auth_decide_ip(a, x_api_key, authorization, NULL, scope, slug, project_id, d);
}

/* ------------------------------------------------------------------ hooks */

static const char *route_slug(const pb_req *req)
{
    const char *s = pb_req_param(req, "slug");
    return s ? s : pb_req_param(req, "workspace_slug");
}

static void put_rl_headers(pb_resp *resp, const pb_rl_result *rl)
{
    char v[32];
    snprintf(v, sizeof v, "%d", rl->limit);
    pb_resp_header(resp, "X-RateLimit-Limit", v);
    snprintf(v, sizeof v, "%d", rl->remaining);
    pb_resp_header(resp, "X-RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%lld", (long long)rl->reset_s);
    pb_resp_header(resp, "X-RateLimit-Reset", v);
    if (!rl->allowed) {
        snprintf(v, sizeof v, "%d", rl->retry_after_s);
        pb_resp_header(resp, "Retry-After", v);
    }
}

int pb_auth_hook(pb_req *req, pb_resp *resp, const pb_route *route, void *ctx)
{
    pb_auth *a = ctx;
    pb_auth_decision d;
    pb_auth_decide_ip(a, pb_req_header(req, "X-Api-Key"), pb_req_header(req, "Authorization"),
                      pb_req_client_ip(req), route->scope, route_slug(req), pb_req_param(req, "project_id"), &d);
    if (d.principal) pb_req_set_auth(req, d.principal, free);
    if (d.has_rl) put_rl_headers(resp, &d.rl);
    if (d.ip_retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%d", d.ip_retry_after_s);
        pb_resp_header(resp, "Retry-After", v);
    }
    if (!d.status) return 0;
    pb_resp_json(resp, d.status, d.body);
    return 1;
}

void pb_auth_usage_record(pb_auth *a, const pb_principal *p, const char *method, const char *route, int status,
                          int64_t latency_us, const char *ua, const char *ip)
{
    pb_usage_row u;
    pb_strlcpy(u.key_id, p->key_id, sizeof u.key_id);
    u.at = pb_now_us();
    pb_strlcpy(u.method, method ? method : "", sizeof u.method);
    pb_strlcpy(u.route, route ? route : "", sizeof u.route);
    u.status = status;
    u.latency_us = latency_us;
    pb_strlcpy(u.user_agent, ua ? ua : "", sizeof u.user_agent);
    pb_strlcpy(u.client_ip, ip ? ip : "", sizeof u.client_ip);
    pb_usage_push(a->usage, &u);
}

void pb_auth_done_hook(pb_req *req, int status, int64_t latency_us, void *ctx)
{
    pb_auth *a = ctx;
    const pb_principal *p = pb_req_auth(req);
    if (!p || p->auth != a) return;
    const pb_route *rt = pb_req_route(req);
    pb_auth_usage_record(a, p, pb_req_method(req), rt ? rt->pattern : pb_req_path(req), status, latency_us,
                         pb_req_header(req, "User-Agent"), pb_req_client_ip(req));
}

void pb_auth_install(pb_auth *a, pb_server *srv)
{
    pb_server_set_auth_hook(srv, pb_auth_hook, a);
    pb_server_set_done_hook(srv, pb_auth_done_hook, a);
}

/* ------------------------------------------------------------------ helpers for handlers */

const pb_principal *pb_auth_principal(const pb_req *req)
{
    return pb_req_auth(req);
}

int pb_auth_check_scope(const pb_principal *p, const char *scope)
{
    if (!scope || !*scope) return 1;
    if (!p) return 0;
    pb_scopes b = pb_scope_bit(scope);
    return b && (p->scopes & b) == b;
}

int pb_auth_member_role(pb_app *app, const pb_principal *p, const char *workspace_slug, int *role)
{
    pb_auth *a = p && p->auth ? p->auth : app ? app->auth : NULL;
    if (!a || !p || !workspace_slug) return PB_EINVAL;
    if (p->workspace[0] && strcmp(p->workspace, workspace_slug) != 0) return PB_EFORBIDDEN;
    int r = role_of(a, p->user_id, workspace_slug, now_ms_of(a));
    if (r < 0) return r;
    if (r == 0) return PB_ENOTFOUND;
    *role = r;
    return 0;
}

int pb_auth_require(pb_app *app, pb_req *req, pb_resp *resp, const char *workspace_slug, const char *project_id,
                    const char *scope)
{
    const pb_principal *p = pb_req_auth(req);
    pb_auth *a = p && p->auth ? p->auth : app ? app->auth : NULL;
    pb_auth_decision d;
    memset(&d, 0, sizeof d);
    if (!p || !a) {
        pb_resp_json(resp, 401, BODY_MISSING);
        return PB_EFORBIDDEN;
    }
    if (!workspace_slug || !*workspace_slug) workspace_slug = NULL;
    if (check_access(a, p, scope, workspace_slug ? workspace_slug : p->workspace, project_id, now_ms_of(a), &d)) {
        pb_resp_json(resp, d.status, d.body);
        return PB_EFORBIDDEN;
    }
    return 0;
}

void pb_auth_get_stats(pb_auth *a, pb_auth_stats *out)
{
    memset(out, 0, sizeof *out);
    out->cache_hits = atomic_load(&a->hits);
    out->cache_misses = atomic_load(&a->misses);
    out->rate_limited = atomic_load(&a->limited);
    out->negative_hits = atomic_load(&a->neg_hits);
    out->ip_throttled = atomic_load(&a->ip_throttled);
    uint64_t q, w, dr;
    pb_usage_counters(a->usage, &q, &w, &dr);
    out->usage_queued = q;
    out->usage_written = w;
    out->usage_dropped = dr;
}

/* ------------------------------------------------------------------ background thread */

static void background_pass_locked(pb_auth *a, int force_prune);

static void background_pass(pb_auth *a, int force_prune)
{
    pthread_mutex_lock(&a->pass_mu);
    background_pass_locked(a, force_prune);
    pthread_mutex_unlock(&a->pass_mu);
}

static void background_pass_locked(pb_auth *a, int force_prune)
{
    pb_error err = {0};
    long n = pb_usage_flush(a->usage, 0, &err);
    if (n < 0) PB_LOG(PB_LOG_WARN, "usage log write failed", PB_LS("error", err.msg));
    if (pb_ratelimit_sync(a->rl, pb_now_us(), &err) < 0)
        PB_LOG(PB_LOG_WARN, "rate bucket sync failed", PB_LS("error", err.msg));
    int64_t now_ms = pb_mono_ms();
    if (force_prune || now_ms - a->last_prune_ms >= PRUNE_EVERY_MS) {
        int days = a->cfg && a->cfg->usage_retention_days > 0 ? a->cfg->usage_retention_days : 30;
        int64_t deleted = 0;
        a->last_prune_ms = now_ms;
        if (pb_as_usage_prune(a->db, pb_now_us() - (int64_t)days * 86400 * 1000000, &deleted, &err))
            PB_LOG(PB_LOG_WARN, "usage log pruning failed", PB_LS("error", err.msg));
        else if (deleted)
            PB_LOG(PB_LOG_INFO, "usage log pruned", PB_LI("rows", deleted), PB_LI("retention_days", days));
    }
}

void pb_auth_flush(pb_auth *a)
{
    if (a) background_pass(a, 0);
}

static void *background(void *arg)
{
    pb_auth *a = arg;
    pthread_mutex_lock(&a->pass_mu);
    a->last_prune_ms = pb_mono_ms() - PRUNE_EVERY_MS; /* prune once at start */
    pthread_mutex_unlock(&a->pass_mu);
    pthread_mutex_lock(&a->tmu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->tmu);
        background_pass(a, 0);
        pthread_mutex_lock(&a->tmu);
        if (a->stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->tcv, &a->tmu, &ts);
    }
    pthread_mutex_unlock(&a->tmu);
    background_pass(a, 0); /* last flush on the way out */
    return NULL;
}

int pb_auth_start(pb_auth *a, pb_error *err)
{
    if (a->running) return 0;
    a->stop = 0;
    if (pthread_create(&a->thr, NULL, background, a) != 0)
        return pb_error_set(err, PB_EINTERNAL, "cannot start the usage writer thread");
    a->running = 1;
    return 0;
}

void pb_auth_stop(pb_auth *a)
{
    if (!a || !a->running) return;
    pthread_mutex_lock(&a->tmu);
    a->stop = 1;
    pthread_cond_signal(&a->tcv);
    pthread_mutex_unlock(&a->tmu);
    pthread_join(a->thr, NULL);
    a->running = 0;
}

/* ------------------------------------------------------------------ module */

static int mod_init(pb_app *app, pb_error *err)
{
    const char *kf = app->cfg->master_key_file;
    int rc = pb_vault_open(app->db, kf, &app->vault, err);
    if (rc == PB_ENOTFOUND) {
        /* No key yet (no `planebridge init`): create one rather than refuse to start. */
        rc = pb_vault_create_key_file(kf, err);
        if (!rc) {
            PB_LOG(PB_LOG_WARN, "created a new vault master key file", PB_LS("path", kf));
            rc = pb_vault_open(app->db, kf, &app->vault, err);
        }
    }
    if (rc) return rc;
    rc = pb_auth_new(app->db, app->cfg, &app->auth, err);
    if (rc) return rc;
    if (app->srv) {
        pb_auth_install(app->auth, app->srv);
        rc = pb_auth_admin_register(app, err);
    }
    return rc;
}

static int mod_start(pb_app *app, pb_error *err)
{
    return app->auth ? pb_auth_start(app->auth, err) : 0;
}

static void mod_stop(pb_app *app)
{
    if (app->auth) pb_auth_stop(app->auth);
}

static void mod_free(pb_app *app)
{
    pb_auth_free(app->auth);
    app->auth = NULL;
    pb_vault_free(app->vault);
    app->vault = NULL;
}

const pb_module pb_module_auth = {"auth", mod_init, mod_start, mod_stop, mod_free};
