/* secrets: per-workspace webhook secrets for the receiver, behind a small cache.
 *
 * Storage: the vault (auth/vault.h) holds one entry per workspace, found through
 * work_plane.tokens_ref (workspace_slug, user_ref '', purpose "plane_webhook") -> vault name
 * (by convention "plane_webhook:<slug>"). The vault value is either a bare secret (HMAC
 * scheme, no rotation) or JSON written by pb_ingest_secret_store():
 *   {"scheme":"hmac"|"shared","current":"...","previous":"...","previous_until":<µs>}
 * Rotation keeps the old secret as "previous" for an overlap window in which both verify.
 *
 * The cache (pb_ingest_secrets) maps workspace -> pb_sig_secrets for ttl_ms (default 5 s),
 * including negative answers, so a flood of unsigned requests cannot hammer the store and a
 * rotation done by another process is picked up within the TTL. Thread-safe. */
#ifndef PB_INGEST_SECRETS_H
#define PB_INGEST_SECRETS_H

#include "core/err.h"
#include "ingest/signature.h"
#include "store/db.h"

#include <stdint.h>

#define PB_INGEST_SECRET_PURPOSE "plane_webhook"

/* A provider: fills *out for workspace; PB_ENOTFOUND when none is configured. */
typedef int (*pb_secret_lookup_fn)(void *ctx, const char *workspace, pb_sig_secrets *out, pb_error *err);

typedef struct pb_ingest_secrets pb_ingest_secrets;

int pb_ingest_secrets_new(pb_secret_lookup_fn fn, void *ctx, int64_t ttl_ms, pb_ingest_secrets **out);
void pb_ingest_secrets_free(pb_ingest_secrets *s); /* NULL-safe; wipes cached secrets */
/* 0 and *out filled, PB_ENOTFOUND, or the provider's error. */
int pb_ingest_secrets_get(pb_ingest_secrets *s, const char *workspace, pb_sig_secrets *out);
/* A fixed entry that wins over the provider (tests; PB_INGEST_SECRET_<...> in the bench). */
int pb_ingest_secrets_set_static(pb_ingest_secrets *s, const char *workspace, const pb_sig_secrets *v);
void pb_ingest_secrets_invalidate(pb_ingest_secrets *s);

/* Vault value <-> pb_sig_secrets. decode accepts a bare secret or the JSON form. */
int pb_ingest_secret_decode(const char *value, pb_sig_secrets *out);
/* *json malloc'd. */
int pb_ingest_secret_encode(const pb_sig_secrets *v, char **json);

/* Computes the rotated set: `fresh` becomes current; the old current (if any, and if it
 * differs) stays valid as previous until now + overlap_s. Pure function (tests). */
void pb_ingest_secret_rotate(const pb_sig_secrets *old, pb_sig_scheme scheme, const char *fresh,
                             int64_t now_us, int64_t overlap_s, pb_sig_secrets *out);

#endif
