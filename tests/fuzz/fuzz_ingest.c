/* libFuzzer target: webhook header and body parsing of the Plane receiver.
 *
 * Input layout: byte 0 selects options, then up to three '\n'-terminated lines (content
 * type, X-Plane-Signature, X-Plane-Webhook-Secret), then the raw body. Every input goes
 * through the signature check as sent (almost always a 401); when bit 0 is set the body is
 * also signed correctly so it reaches the depth check, the JSON parser, validation and the
 * idempotency key (receiver in benchmark no-store mode: no database). The parser, the depth
 * scanner and the vault-value decoder are also called directly. Invariants checked: the
 * receiver answers one of its documented statuses with a JSON body; parse success implies
 * a UUID object id and a key with the documented prefix; parsing is deterministic. */
#include "core/log.h"
#include "core/util.h"
#include "ingest/ingest.h"
#include "ingest/secrets.h"
#include "ingest/signature.h"
#include "ingest/webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "plane_wh_fuzz_secret_0123456789"

static const char *take_line(const char **p, const char *end, char *out, size_t n)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return NULL;
    size_t l = (size_t)(nl - *p);
    if (l >= n) l = n - 1;
    memcpy(out, *p, l);
    out[l] = '\0';
    *p = nl + 1;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pb_ingest *ing;
    if (!ing) {
        pb_log_level = PB_LOG_OFF;
        pb_ingest_options o = {.no_store = 1, .max_body = 256 * 1024};
        if (pb_ingest_new(NULL, &o, NULL, NULL, &ing, NULL) != 0) abort();
        pb_sig_secrets s = {.scheme = PB_SIG_HMAC_HEX};
        pb_strlcpy(s.current, SECRET, sizeof s.current);
        pb_ingest_secrets_set_static(pb_ingest_secret_cache(ing), "acme", &s);
        pb_sig_secrets sh = {.scheme = PB_SIG_SHARED};
        pb_strlcpy(sh.current, SECRET, sizeof sh.current);
        pb_ingest_secrets_set_static(pb_ingest_secret_cache(ing), "shared", &sh);
    }
    if (size < 1) return 0;
    unsigned opt = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    char ct[128], sig[160], shared[160];
    const char *ctp = take_line(&p, end, ct, sizeof ct);
    const char *sigp = ctp ? take_line(&p, end, sig, sizeof sig) : NULL;
    const char *shp = sigp ? take_line(&p, end, shared, sizeof shared) : NULL;
    /* Exact-size copy of the body so any over-read is caught by ASan. */
    size_t blen = (size_t)(end - p);
    char *body = malloc(blen + 1);
    if (!body) return 0;
    memcpy(body, p, blen);
    body[blen] = '\0';

    char good[65];
    if ((opt & 1) && pb_sig_sign_hex(SECRET, body, blen, good) == 0) sigp = good;
    pb_ingest_reply r;
    pb_ingest_receive(ing, (opt & 2) ? "shared" : "acme", (opt & 4) ? "application/json" : ctp, sigp,
                      (opt & 8) ? SECRET : shp, body, blen, &r);
    static const int allowed[] = {200, 400, 401, 404, 413, 415, 503};
    int found = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        found |= r.status == allowed[i];
    if (!found || r.body[0] != '{') abort();

    pb_hook h1, h2;
    int rc1 = pb_hook_parse("acme", body, blen, &h1, NULL);
    int rc2 = pb_hook_parse("acme", body, blen, &h2, NULL);
    if (rc1 != rc2) abort();
    if (rc1 == 0) {
        if (!pb_uuid_valid(h1.object_id)) abort();
        if (strncmp(h1.key, "plane:", 6) != 0 || strcmp(h1.key, h2.key) != 0) abort();
        pb_hook_free(&h1);
        pb_hook_free(&h2);
    }
    (void)pb_hook_depth_ok(body, blen, PB_HOOK_MAX_DEPTH);
    pb_sig_secrets d;
    (void)pb_ingest_secret_decode(body, &d);
    free(body);
    return 0;
}
