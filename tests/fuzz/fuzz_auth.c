/* libFuzzer target: the auth header and key parsers and the whole decision path.
 *
 * Input layout: "<X-Api-Key>\n<Authorization>\n<scope list>\n<expiry>" (missing parts are
 * NULL). Each piece goes, as an exact-size heap copy (so ASan catches any over-read), to
 * pb_apikey_from_headers, pb_apikey_well_formed, pb_scope_parse/format, pb_apikey_parse_expiry
 * and pb_auth_decide over an in-memory store holding one real key. Invariants checked:
 * a decision is one of 0/401/403/429, a refusal has a JSON body that never echoes the
 * presented token, and only the real key is ever admitted. */
#include "auth/apikey.h"
#include "auth/auth_internal.h"
#include "auth/scope.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pb_db *db;
static pb_auth *auth;
static pb_config cfg;
static char real_key[PB_KEY_LEN + 1];

static int setup(void)
{
    pb_error err = {0};
    pb_log_level = PB_LOG_OFF;
    pb_config_defaults(&cfg);
    cfg.rate_limit_per_min = 1000000;
    pb_db_options o = {.pool_size = 1}; /* one connection: one in-memory database */
    if (pb_db_open("sqlite::memory:", &o, &db, &err) || pb_db_migrate(db, &err)) return -1;
    pb_user_row u;
    if (pb_as_workspace_create(db, "acme", "Acme", NULL, &err) ||
        pb_as_user_create(db, "fuzz@example.com", NULL, NULL, NULL, &u, &err) ||
        pb_as_member_set(db, "acme", u.id, PB_ROLE_MEMBER, &err))
        return -1;
    pb_key_spec s = {.user_email = "fuzz@example.com", .scopes = "issues:*"};
    if (pb_apikey_create(db, &s, real_key, sizeof real_key, NULL, &err)) return -1;
    return pb_auth_new(db, &cfg, &auth, &err);
}

/* Next '\n'-separated piece as a malloc'd exact-size NUL-terminated copy, or NULL at the end. */
static char *piece(const uint8_t **p, const uint8_t *end)
{
    if (*p > end) return NULL;
    const uint8_t *s = *p;
    const uint8_t *e = memchr(s, '\n', (size_t)(end - s));
    if (!e) e = end;
    size_t n = (size_t)(e - s);
    char *out = malloc(n + 1);
    if (!out) abort();
    memcpy(out, s, n);
    out[n] = '\0';
    *p = e + 1;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (setup()) abort();
        ready = 1;
    }
    const uint8_t *p = data, *end = data + size;
    char *xkey = piece(&p, end), *authz = piece(&p, end), *scopes = piece(&p, end), *exp = piece(&p, end);

    const char *tok;
    size_t tl;
    if (pb_apikey_from_headers(xkey, authz, &tok, &tl)) {
        if (tl == 0) abort();
        (void)pb_apikey_well_formed(tok, tl);
        char h[65];
        pb_apikey_hash(tok, tl, h);
    }
    if (xkey) (void)pb_apikey_well_formed(xkey, strlen(xkey));

    pb_scopes sc = 0;
    const char *bad = NULL;
    if (scopes && pb_scope_parse(scopes, &sc, &bad) == 0) {
        char txt[PB_SCOPES_TEXT_MAX];
        pb_scopes again = 0;
        pb_scope_format(sc, txt, sizeof txt);
        if (pb_scope_parse(txt, &again, NULL) || again != sc) abort(); /* format/parse round trip */
    }
    int64_t when = 0;
    if (exp) (void)pb_apikey_parse_expiry(exp, 1700000000LL * 1000000, &when);

    /* The decision path; the route's scope is the first entry of the fuzzed list if valid. */
    const char *route_scope = sc ? pb_scope_name(sc & (~sc + 1)) : NULL;
    pb_auth_decision d;
    int st = pb_auth_decide(auth, xkey, authz, route_scope, scopes && strlen(scopes) < 64 ? scopes : "acme", exp, &d);
    if (st != 0 && st != 401 && st != 403 && st != 429) abort();
    if (st != 0 && (!d.body || d.body[0] != '{')) abort();
    if (st != 0 && tok && tl >= 6 && d.body) {
        char *t = strndup(tok, tl);
        if (t && strstr(d.body, t)) abort(); /* a refusal never echoes the token */
        free(t);
    }
    if (d.principal) {
        /* admitted (or refused past authentication): only for the real key */
        if (!pb_apikey_from_headers(xkey, authz, &tok, &tl) || tl != strlen(real_key) ||
            memcmp(tok, real_key, tl) != 0)
            abort();
        free(d.principal);
    }
    free(xkey);
    free(authz);
    free(scopes);
    free(exp);
    return 0;
}
