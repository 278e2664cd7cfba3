/* signature: see signature.h. */
#include "ingest/signature.h"

#include "core/err.h"
#include "core/util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <pthread.h>
#include <string.h>

/* One EVP_MAC_CTX per thread: fetching the algorithm costs far more than the MAC of a
 * 3 KB body, so it is done once per thread and freed by the key destructor. */
static pthread_key_t mac_key;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *mac_alg;

static void mac_ctx_free(void *p)
{
    EVP_MAC_CTX_free(p);
}

static void mac_init_once(void)
{
    pthread_key_create(&mac_key, mac_ctx_free);
    mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static EVP_MAC_CTX *thread_ctx(void)
{
    pthread_once(&mac_once, mac_init_once);
    if (!mac_alg) return NULL;
    EVP_MAC_CTX *ctx = pthread_getspecific(mac_key);
    if (!ctx) {
        ctx = EVP_MAC_CTX_new(mac_alg);
        if (!ctx) return NULL;
        if (pthread_setspecific(mac_key, ctx) != 0) {
            EVP_MAC_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

int pb_sig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len, unsigned char out[32])
{
    EVP_MAC_CTX *ctx = thread_ctx();
    if (!ctx) return PB_ECRYPTO;
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
    static const unsigned char empty = 0;
    size_t outl = 0;
    if (!EVP_MAC_init(ctx, keylen ? key : &empty, keylen, params)) return PB_ECRYPTO;
    if (!EVP_MAC_update(ctx, msg, len)) return PB_ECRYPTO;
    if (!EVP_MAC_final(ctx, out, &outl, 32) || outl != 32) return PB_ECRYPTO;
    return 0;
}

int pb_sig_sign_hex(const char *secret, const void *body, size_t len, char out[65])
{
    unsigned char mac[32];
    int rc = pb_sig_hmac_sha256(secret, strlen(secret), body, len, mac);
    if (rc) return rc;
    pb_hex_encode(mac, sizeof mac, out);
    return 0;
}

int pb_sig_verify_hmac_hex(const char *secret, const void *body, size_t len, const char *hex_sig)
{
    unsigned char want[32], got[32];
    if (!secret || !secret[0] || !hex_sig) return 0;
    size_t hl = strlen(hex_sig);
    /* Tolerate surrounding whitespace a proxy may add, nothing else. */
    while (hl && (hex_sig[hl - 1] == ' ' || hex_sig[hl - 1] == '\t'))
        hl--;
    while (hl && (*hex_sig == ' ' || *hex_sig == '\t'))
        hex_sig++, hl--;
    if (hl != 64 || pb_hex_decode(hex_sig, hl, got, sizeof got) != 0) return 0;
    if (pb_sig_hmac_sha256(secret, strlen(secret), body, len, want) != 0) return 0;
    return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

int pb_sig_verify_shared(const char *secret, const char *presented)
{
    if (!secret || !secret[0] || !presented) return 0;
    /* Hash both sides first so the comparison is constant-time in the length, too. */
    unsigned char a[32], b[32];
    static const char k[] = "planebridge-shared-secret-compare";
    if (pb_sig_hmac_sha256(k, sizeof k - 1, secret, strlen(secret), a) != 0) return 0;
    if (pb_sig_hmac_sha256(k, sizeof k - 1, presented, strlen(presented), b) != 0) return 0;
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

int pb_sig_verify(const pb_sig_secrets *s, int64_t now_us, const void *body, size_t len,
                  const char *sig_header, const char *secret_header, const char **which)
{
    const char *why = "mismatch";
    int ok = 0;
    if (!s || !s->current[0]) {
        why = "no secret configured";
        goto out;
    }
    int prev_ok = s->previous[0] && now_us < s->previous_until_us;
    if (s->scheme == PB_SIG_SHARED) {
        if (!secret_header) {
            why = "missing";
            goto out;
        }
        ok = pb_sig_verify_shared(s->current, secret_header);
        if (!ok && prev_ok) ok = pb_sig_verify_shared(s->previous, secret_header);
    } else {
        if (!sig_header) {
            why = "missing";
            goto out;
        }
        ok = pb_sig_verify_hmac_hex(s->current, body, len, sig_header);
        if (!ok && prev_ok) ok = pb_sig_verify_hmac_hex(s->previous, body, len, sig_header);
    }
out:
    if (which) *which = ok ? "ok" : why;
    return ok;
}
