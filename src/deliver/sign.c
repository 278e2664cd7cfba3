/* sign: see sign.h. */
#include "deliver/sign.h"

#include "core/util.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static EVP_MAC *g_mac;

static pthread_key_t g_ctx_key;

static void ctx_free(void *p)
{
    EVP_MAC_CTX_free(p);
}

static void mac_init(void)
{
    g_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (pthread_key_create(&g_ctx_key, ctx_free)) g_mac = NULL;
}

int pb_hmac_sha256(const void *key, size_t klen, const void *p1, size_t n1, const void *p2, size_t n2,
                   const void *p3, size_t n3, unsigned char out[32])
{
    pthread_once(&g_once, mac_init);
    if (!g_mac) return PB_ECRYPTO;
    /* One context per thread, reused: EVP_MAC_init with a key resets it. */
    EVP_MAC_CTX *ctx = pthread_getspecific(g_ctx_key);
    if (!ctx) {
        ctx = EVP_MAC_CTX_new(g_mac);
        if (!ctx) return PB_ECRYPTO;
        pthread_setspecific(g_ctx_key, ctx);
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    static const unsigned char empty = 0;
    size_t outl = 0;
    if (!EVP_MAC_init(ctx, klen ? key : &empty, klen, params)) return PB_ECRYPTO;
    if (n1 && !EVP_MAC_update(ctx, p1, n1)) return PB_ECRYPTO;
    if (p2 && n2 && !EVP_MAC_update(ctx, p2, n2)) return PB_ECRYPTO;
    if (p3 && n3 && !EVP_MAC_update(ctx, p3, n3)) return PB_ECRYPTO;
    if (!EVP_MAC_final(ctx, out, &outl, 32) || outl != 32) return PB_ECRYPTO;
    return 0;
}

int pb_sw_secret_new(char *out, size_t outlen)
{
    unsigned char raw[32];
    char b64[64];
    if (outlen < PB_SW_SECRET_MAX) return PB_EINVAL;
    if (pb_random_bytes(raw, sizeof raw)) return PB_EIO;
    pb_base64_encode(raw, sizeof raw, b64);
    snprintf(out, outlen, "whsec_%s", b64);
    memset(raw, 0, sizeof raw);
    return 0;
}

int pb_plane_secret_new(char *out, size_t outlen)
{
    unsigned char raw[16];
    char hex[33];
    if (outlen < 48) return PB_EINVAL;
    if (pb_random_bytes(raw, sizeof raw)) return PB_EIO;
    pb_hex_encode(raw, sizeof raw, hex);
    snprintf(out, outlen, "plane_wh_%s", hex);
    return 0;
}

static long sw_key(const char *secret, unsigned char *key, size_t cap)
{
    const char *b = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    long n = pb_base64_decode(b, strlen(b), key, cap);
    return n > 0 ? n : PB_EINVAL;
}

static int sw_mac(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
                  unsigned char mac[32])
{
    unsigned char key[96];
    long kl = sw_key(secret, key, sizeof key);
    if (kl < 0) return PB_EINVAL;
    char prefix[160];
    int pn = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, (long long)ts);
    if (pn < 0 || (size_t)pn >= sizeof prefix) return PB_EINVAL;
    int rc = pb_hmac_sha256(key, (size_t)kl, prefix, (size_t)pn, body, len, NULL, 0, mac);
    memset(key, 0, sizeof key);
    return rc;
}

int pb_sw_sign(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len, char *out,
               size_t outlen)
{
    unsigned char mac[32];
    char b64[48];
    if (outlen < PB_SW_SIG_MAX) return PB_EINVAL;
    int rc = sw_mac(secret, msg_id, ts, body, len, mac);
    if (rc) return rc;
    pb_base64_encode(mac, sizeof mac, b64);
    snprintf(out, outlen, "v1,%s", b64);
    return 0;
}

int pb_sw_verify(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
                 const char *header)
{
    unsigned char mac[32];
    char want[48];
    if (sw_mac(secret, msg_id, ts, body, len, mac)) return 0;
    size_t wl = pb_base64_encode(mac, sizeof mac, want);
    int ok = 0;
    const char *p = header;
    while (*p) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n > 3 && strncmp(p, "v1,", 3) == 0 && pb_ct_equal(p + 3, n - 3, want, wl)) ok = 1;
        p += n;
    }
    return ok;
}

void pb_plane_sign(const char *secret, const char *body, size_t len, char out[65])
{
    unsigned char mac[32];
    if (pb_hmac_sha256(secret, strlen(secret), body, len, NULL, 0, NULL, 0, mac)) {
        out[0] = '\0';
        return;
    }
    pb_hex_encode(mac, sizeof mac, out);
}
