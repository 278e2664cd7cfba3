/* apikey: planebridge API keys: generation, parsing of the auth headers, hashing, and the
 * key lifecycle (create, revoke, rotate) on top of auth_store.
 *
 * A key is "pb_" + 32 base62 characters (~190 bits), shown once. The store keeps only the
 * hex SHA-256 of the whole key and a display prefix ("pb_" + 6 chars). Lookup is by hash,
 * then the stored hash is compared with pb_ct_equal (constant time). */
#ifndef PB_AUTH_APIKEY_H
#define PB_AUTH_APIKEY_H

#include "auth/scope.h"
#include "core/config.h"
#include "core/err.h"
#include "store/auth_store.h"

#include <stddef.h>
#include <stdint.h>

#define PB_KEY_BODY_LEN 32
#define PB_KEY_LEN (3 + PB_KEY_BODY_LEN) /* "pb_" + body */
#define PB_KEY_PREFIX_LEN 9              /* "pb_" + 6 */

/* A fresh random key into out (>= PB_KEY_LEN + 1). */
int pb_apikey_generate(char *out, size_t outlen);
/* 1 if s (len bytes) is exactly the key format, else 0. */
int pb_apikey_well_formed(const char *s, size_t len);
/* Extracts the credential from X-Api-Key or Authorization ("Bearer TOKEN", case-insensitive
 * scheme, surrounding spaces ignored). Either header may be NULL. X-Api-Key wins when both
 * are present. Returns 1 and points *tok and *toklen into the header value, or 0 when neither
 * carries a credential (missing, empty, other scheme). Never allocates. */
int pb_apikey_from_headers(const char *x_api_key, const char *authorization, const char **tok,
                           size_t *toklen);
/* Hex SHA-256 of the token (out >= 65). */
void pb_apikey_hash(const char *tok, size_t len, char out[65]);

typedef struct pb_key_spec {
    const char *user_email;  /* required */
    const char *scopes;      /* required: scope list */
    const char *workspace;   /* optional slug */
    const char *project_id;  /* optional */
    int64_t expires_at;      /* 0 = never */
    int rate_limit;          /* 0 = configured default */
    const char *name;        /* optional */
} pb_key_spec;

/* Creates a key. Checks: user exists; with a workspace, the user is a member of it and the
 * workspace exists; explicitly named scopes may not exceed the user's role (in the
 * workspace, else the user's highest role) -> PB_EFORBIDDEN naming the scope; wildcards are
 * allowed and capped by the role at request time. key_out receives the secret (>= PB_KEY_LEN+1),
 * row (optional) the stored row. */
int pb_apikey_create(pb_db *db, const pb_key_spec *spec, char *key_out, size_t key_outlen,
                     pb_key_row *row, pb_error *err);
/* Rotates: a new key with the same settings; the old one keeps working for grace_s seconds. */
int pb_apikey_rotate(pb_db *db, const char *old_id, int64_t grace_s, char *key_out, size_t key_outlen,
                     pb_key_row *row, pb_error *err);
/* Parses --expires: an ISO-8601 time/date, or a duration from now ("30d", "12h"). */
int pb_apikey_parse_expiry(const char *s, int64_t now_us, int64_t *out_us);
/* Writes the key row as a JSON object (never the hash). */
struct pb_buf;
int pb_apikey_row_json(struct pb_buf *b, const pb_key_row *k, int64_t now);
/* "active" | "expired" | "revoked" | "rotated" (still in grace) */
const char *pb_apikey_state(const pb_key_row *k, int64_t now);

#endif
