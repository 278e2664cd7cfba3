/* secrets: see secrets.h. */
#include "ingest/secrets.h"

#include "core/log.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 128

typedef struct centry {
    char ws[64];
    int used, is_static, found;
    int64_t fetched_ms;
    pb_sig_secrets v;
} centry;

struct pb_ingest_secrets {
    pb_secret_lookup_fn fn;
    void *ctx;
    int64_t ttl_ms;
    pthread_mutex_t mu;
    centry e[CACHE_SLOTS];
    unsigned next_victim;
};

int pb_ingest_secrets_new(pb_secret_lookup_fn fn, void *ctx, int64_t ttl_ms, pb_ingest_secrets **out)
{
    pb_ingest_secrets *s = calloc(1, sizeof *s);
    if (!s) return PB_ENOMEM;
    s->fn = fn;
    s->ctx = ctx;
    s->ttl_ms = ttl_ms > 0 ? ttl_ms : 5000;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void pb_ingest_secrets_free(pb_ingest_secrets *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

static centry *find(pb_ingest_secrets *s, const char *ws)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (s->e[i].used && !strcmp(s->e[i].ws, ws)) return &s->e[i];
    return NULL;
}

static centry *slot_for(pb_ingest_secrets *s, const char *ws)
{
    centry *e = find(s, ws);
    if (e) return e;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (!s->e[i].used) return &s->e[i];
    /* Full: evict a non-static entry round-robin. */
    for (int n = 0; n < CACHE_SLOTS; n++) {
        centry *v = &s->e[s->next_victim++ % CACHE_SLOTS];
        if (!v->is_static) return v;
    }
    return NULL;
}

int pb_ingest_secrets_set_static(pb_ingest_secrets *s, const char *ws, const pb_sig_secrets *v)
{
    if (strlen(ws) >= sizeof s->e[0].ws) return PB_EINVAL;
    pthread_mutex_lock(&s->mu);
    centry *e = slot_for(s, ws);
    if (e) {
        memset(e, 0, sizeof *e);
        pb_strlcpy(e->ws, ws, sizeof e->ws);
        e->used = e->is_static = e->found = 1;
        e->v = *v;
    }
    pthread_mutex_unlock(&s->mu);
    return e ? 0 : PB_ETOOBIG;
}

void pb_ingest_secrets_invalidate(pb_ingest_secrets *s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (!s->e[i].is_static) OPENSSL_cleanse(&s->e[i], sizeof s->e[i]);
    pthread_mutex_unlock(&s->mu);
}

int pb_ingest_secrets_get(pb_ingest_secrets *s, const char *ws, pb_sig_secrets *out)
{
    if (!ws || strlen(ws) >= sizeof s->e[0].ws) return PB_ENOTFOUND;
    int64_t now = pb_mono_ms();
    pthread_mutex_lock(&s->mu);
    centry *e = find(s, ws);
    if (e && (e->is_static || now - e->fetched_ms < s->ttl_ms)) {
        int found = e->found;
        if (found) *out = e->v;
        pthread_mutex_unlock(&s->mu);
        return found ? 0 : PB_ENOTFOUND;
    }
    pthread_mutex_unlock(&s->mu);

    /* Look up outside the lock; two threads may both fetch, which is harmless. */
    pb_sig_secrets v;
    memset(&v, 0, sizeof v);
    pb_error err = {0};
    int rc = s->fn ? s->fn(s->ctx, ws, &v, &err) : PB_ENOTFOUND;
    if (rc && rc != PB_ENOTFOUND) {
        PB_LOG(PB_LOG_ERROR, "ingest: webhook secret lookup failed", PB_LS("workspace", ws),
               PB_LS("error", err.msg));
        OPENSSL_cleanse(&v, sizeof v);
        return rc; /* not cached: a transient store error should not stick for the TTL */
    }
    pthread_mutex_lock(&s->mu);
    e = slot_for(s, ws);
    if (e && !e->is_static) {
        memset(e, 0, sizeof *e);
        pb_strlcpy(e->ws, ws, sizeof e->ws);
        e->used = 1;
        e->found = rc == 0;
        e->fetched_ms = now;
        if (!rc) e->v = v;
    }
    pthread_mutex_unlock(&s->mu);
    if (!rc) *out = v;
    OPENSSL_cleanse(&v, sizeof v);
    return rc;
}

int pb_ingest_secret_decode(const char *value, pb_sig_secrets *out)
{
    memset(out, 0, sizeof *out);
    out->scheme = PB_SIG_HMAC_HEX;
    if (!value || !value[0]) return PB_EINVAL;
    if (value[0] != '{') {
        size_t n = strlen(value);
        while (n && (value[n - 1] == '\n' || value[n - 1] == '\r'))
            n--; /* a secret file's newline */
        if (!n || n >= sizeof out->current) return PB_EINVAL;
        memcpy(out->current, value, n);
        out->current[n] = '\0';
        return 0;
    }
    cJSON *j = cJSON_Parse(value);
    int rc = PB_EINVAL;
    if (!cJSON_IsObject(j)) goto out;
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(j, "scheme");
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(j, "current");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(j, "previous");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(j, "previous_until");
    if (cJSON_IsString(sch) && !strcmp(sch->valuestring, "shared"))
        out->scheme = PB_SIG_SHARED;
    else if (cJSON_IsString(sch) && strcmp(sch->valuestring, "hmac") != 0)
        goto out;
    if (!cJSON_IsString(cur) || !cur->valuestring[0] || strlen(cur->valuestring) >= sizeof out->current)
        goto out;
    pb_strlcpy(out->current, cur->valuestring, sizeof out->current);
    if (cJSON_IsString(prev) && strlen(prev->valuestring) < sizeof out->previous) {
        pb_strlcpy(out->previous, prev->valuestring, sizeof out->previous);
        double d = cJSON_IsNumber(until) ? until->valuedouble : 0;
        out->previous_until_us = d > 0 && d < 9.0e18 ? (int64_t)d : 0; /* never convert out of range */
    }
    rc = 0;
out:
    if (j) {
        /* Wipe secret copies held by the parse tree before freeing it. */
        cJSON *it;
        cJSON_ArrayForEach(it, j) if (cJSON_IsString(it))
            OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
    }
    cJSON_Delete(j);
    return rc;
}

int pb_ingest_secret_encode(const pb_sig_secrets *v, char **json)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return PB_ENOMEM;
    int ok = cJSON_AddStringToObject(j, "scheme", v->scheme == PB_SIG_SHARED ? "shared" : "hmac") &&
             cJSON_AddStringToObject(j, "current", v->current);
    if (ok && v->previous[0])
        ok = cJSON_AddStringToObject(j, "previous", v->previous) &&
             cJSON_AddNumberToObject(j, "previous_until", (double)v->previous_until_us);
    *json = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON *it;
    cJSON_ArrayForEach(it, j) if (cJSON_IsString(it))
        OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(j);
    return *json ? 0 : PB_ENOMEM;
}

void pb_ingest_secret_rotate(const pb_sig_secrets *old, pb_sig_scheme scheme, const char *fresh,
                             int64_t now_us, int64_t overlap_s, pb_sig_secrets *out)
{
    memset(out, 0, sizeof *out);
    out->scheme = scheme;
    pb_strlcpy(out->current, fresh, sizeof out->current);
    if (old && old->current[0] && strcmp(old->current, fresh) != 0 && overlap_s > 0) {
        pb_strlcpy(out->previous, old->current, sizeof out->previous);
        out->previous_until_us = now_us + overlap_s * 1000000;
    }
}
