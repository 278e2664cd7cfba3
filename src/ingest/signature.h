/* signature: verification of inbound webhook signatures on the raw body, before parsing.
 *
 * Schemes (per workspace, see secrets.h):
 *   - PB_SIG_HMAC_HEX: Plane CE/v2. `X-Plane-Signature` = lowercase hex HMAC-SHA256 of the
 *     raw body keyed with the secret's UTF-8 bytes (no prefix, no timestamp). Upper-case hex
 *     is accepted too (hex decoding is case-insensitive), anything else fails.
 *   - PB_SIG_SHARED: a shared secret sent verbatim in `X-Plane-Webhook-Secret` (for
 *     senders that cannot sign); compared in constant time.
 *
 * Rotation: a secret set holds the current secret and optionally the previous one with an
 * expiry; during the overlap window a request verifying with either is accepted.
 *
 * HMAC uses OpenSSL EVP_MAC with one context per thread (reused across calls). Comparison is
 * constant-time on the decoded 32-byte MAC. Nothing here logs or keeps the body. */
#ifndef PB_INGEST_SIGNATURE_H
#define PB_INGEST_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PB_SIG_HMAC_HEX = 1, PB_SIG_SHARED = 2 } pb_sig_scheme;

#define PB_SIG_SECRET_MAX 256

typedef struct pb_sig_secrets {
    pb_sig_scheme scheme;
    char current[PB_SIG_SECRET_MAX];
    char previous[PB_SIG_SECRET_MAX]; /* "" when none */
    int64_t previous_until_us;        /* previous is accepted while now < this */
} pb_sig_secrets;

/* Computes HMAC-SHA256(key, msg) into out[32]. Returns 0 or PB_ECRYPTO. */
int pb_sig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len, unsigned char out[32]);

/* 1 when hex_sig (a header value, may be NULL) is the hex HMAC-SHA256 of body under secret. */
int pb_sig_verify_hmac_hex(const char *secret, const void *body, size_t len, const char *hex_sig);
/* 1 when presented (may be NULL) equals secret, in constant time. */
int pb_sig_verify_shared(const char *secret, const char *presented);

/* Verifies one request against a secret set at time now_us: picks the header for the
 * scheme, tries the current and (within its window) the previous secret. Returns 1 when
 * valid; otherwise 0, with *which = "missing" (no header) or "mismatch" (static strings). */
int pb_sig_verify(const pb_sig_secrets *s, int64_t now_us, const void *body, size_t len,
                  const char *sig_header, const char *secret_header, const char **which);

/* Signs body as Plane does: lowercase hex into out (65 bytes). Returns 0 or PB_ECRYPTO. */
int pb_sig_sign_hex(const char *secret, const void *body, size_t len, char out[65]);

#endif
