/* sign: the signatures and secrets of outbound deliveries.
 *
 *   Standard Webhooks (format `standard`): secret "whsec_" + base64(32 random bytes);
 *   the key is the base64-decoded part after the prefix; the signed content is
 *   "{webhook-id}.{webhook-timestamp}.{body}"; the header value is "v1," + base64(HMAC-SHA256).
 *   During a rotation both the new and the old secret sign, space-separated.
 *
 *   Plane CE (format `plane`): secret "plane_wh_" + 32 hex chars used as raw UTF-8 key bytes
 *   (prefix included); X-Plane-Signature = lower-case hex HMAC-SHA256 of the raw body.
 *
 * All functions are thread-safe and allocate nothing. */
#ifndef PB_DELIVER_SIGN_H
#define PB_DELIVER_SIGN_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define PB_SW_SECRET_MAX 128 /* room for "whsec_" + base64 of up to 64 bytes */
#define PB_SW_SIG_MAX 64     /* "v1," + 44 base64 chars + NUL */

/* HMAC-SHA256 over the concatenation of up to three parts (p2/p3 may be NULL). */
int pb_hmac_sha256(const void *key, size_t klen, const void *p1, size_t n1, const void *p2, size_t n2,
                   const void *p3, size_t n3, unsigned char out[32]);

/* A new "whsec_..." secret (32 random bytes). out >= PB_SW_SECRET_MAX. */
int pb_sw_secret_new(char *out, size_t outlen);
/* A new Plane-style "plane_wh_" + 32 hex secret. out >= 48. */
int pb_plane_secret_new(char *out, size_t outlen);

/* "v1,<base64>" for one secret. secret may carry the whsec_ prefix (base64 key) or not
 * (then it is base64 too, as in the reference libraries). PB_EINVAL for a bad secret. */
int pb_sw_sign(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len, char *out,
               size_t outlen);
/* Verifies a webhook-signature header value (space-separated list) against one secret:
 * 1 match, 0 no match. No timestamp tolerance check (callers do that). */
int pb_sw_verify(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
                 const char *header);

/* Lower-case hex HMAC-SHA256 of body keyed with the secret's bytes. out >= 65. */
void pb_plane_sign(const char *secret, const char *body, size_t len, char out[65]);

#endif
