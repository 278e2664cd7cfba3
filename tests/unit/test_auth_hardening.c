/* Security review fixes (issue 3, second pass):
 *   1. OAuth: an authorization is bound to the admin who started it; the callback refuses
 *      forged, replayed, expired or foreign states -- and states whose user is not (or no
 *      longer) an admin -- before touching the token endpoint or the vault;
 *   2. floods: unknown keys go to a bounded negative cache (no store query on repeat, never
 *      evicting validated keys, 60 s TTL, dropped when this process creates a key); failed
 *      authentications are limited per client address (IPv4 / IPv6 /64);
 *   3. the SQLite store (and -wal/-shm) and the log file are created 0600;
 *   4. secrets are wiped whole; a key file owned by another user is refused. */
#include "test.h"

#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "auth/oauth.h"
#include "auth/vault.h"
#include "core/config.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct hfix {
    pb_db *db;
    pb_config cfg;
    pb_auth *auth;
    pb_vault *vault;
    pb_user_row admin, member;
    char admin_key[PB_KEY_LEN + 1];
} hfix;

static int hfix_open(hfix *f, int with_vault)
{
    pb_error err = {0};
    memset(f, 0, sizeof *f);
    pb_config_defaults(&f->cfg);
    f->cfg.rate_limit_per_min = 100000;
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, &err)) return -1;
    int rc = pb_as_workspace_create(f->db, "acme", "Acme", NULL, &err);
    if (!rc) rc = pb_as_user_create(f->db, "admin@example.com", NULL, NULL, NULL, &f->admin, &err);
    if (!rc) rc = pb_as_user_create(f->db, "member@example.com", NULL, NULL, NULL, &f->member, &err);
    if (!rc) rc = pb_as_member_set(f->db, "acme", f->admin.id, PB_ROLE_ADMIN, &err);
    if (!rc) rc = pb_as_member_set(f->db, "acme", f->member.id, PB_ROLE_MEMBER, &err);
    pb_key_spec sa = {.user_email = "admin@example.com", .scopes = "*"};
    if (!rc) rc = pb_apikey_create(f->db, &sa, f->admin_key, sizeof f->admin_key, NULL, &err);
    if (!rc) rc = pb_auth_new(f->db, &f->cfg, &f->auth, &err);
    if (!rc && with_vault) {
        char kf[600];
        snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
        rc = pb_vault_create_key_file(kf, &err);
        if (!rc) rc = pb_vault_open(f->db, kf, &f->vault, &err);
    }
    if (rc) fprintf(stderr, "    fixture: %s\n", err.msg);
    return rc;
}

static void hfix_close(hfix *f)
{
    pb_vault_free(f->vault);
    pb_auth_free(f->auth);
    pb_db_free(f->db);
}

static int decide_ip(pb_auth *a, const char *key, const char *ip, pb_auth_decision *d)
{
    int st = pb_auth_decide_ip(a, key, NULL, ip, "issues:read", "acme", NULL, d);
    free(d->principal);
    d->principal = NULL;
    return st;
}

/* ------------------------------------------------------------------ 1. OAuth state binding */

/* The sealed row of a vault name ("" when absent): a re-write always changes it (fresh nonce). */
static void sealed_of(pb_db *db, const char *name, char *out, size_t n)
{
    pb_vault_row r;
    out[0] = '\0';
    if (pb_as_vault_get(db, name, &r, NULL) == 0) {
        pb_strlcpy(out, r.blob, n);
        free(r.blob);
    }
}

static void state_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "&state=");
    out[0] = '\0';
    if (!p) return;
    p += 7;
    size_t l = strcspn(p, "&");
    if (l >= n) l = n - 1;
    memcpy(out, p, l);
    out[l] = '\0';
}

PB_STORE_TEST(auth_review_oauth_callback_refuses_bad_states_without_touching_token)
{
    hfix f;
    pb_error err = {0};
    PB_REQUIRE(hfix_open(&f, 1) == 0);
    pb_oauth_app a;
    memset(&a, 0, sizeof a);
    pb_strlcpy(a.name, "plane", sizeof a.name);
    pb_strlcpy(a.client_id, "cid", sizeof a.client_id);
    pb_strlcpy(a.client_secret, "client-secret-value-123", sizeof a.client_secret);
    pb_strlcpy(a.authorize_url, "http://127.0.0.1:1/auth", sizeof a.authorize_url);
    /* nothing listens there: reaching the token endpoint would be PB_ENET, not the codes below */
    pb_strlcpy(a.token_url, "http://127.0.0.1:1/token", sizeof a.token_url);
    pb_strlcpy(a.redirect_uri, "http://127.0.0.1:2/oauth/plane/callback", sizeof a.redirect_uri);
    PB_REQUIRE(pb_oauth_app_save(f.vault, &a, &err) == 0);
    pb_oauth_app other = a;
    pb_strlcpy(other.name, "other", sizeof other.name);
    PB_REQUIRE(pb_oauth_app_save(f.vault, &other, &err) == 0);

    /* the workspace's current user token */
    char vn[256], before[4096], after[4096];
    pb_oauth_user_name("plane", "acme", vn, sizeof vn);
    PB_REQUIRE(pb_vault_put(f.vault, vn, "{\"access_token\":\"legit-token-abc\",\"refresh_token\":\"r\"}", 0, &err) == 0);
    sealed_of(f.db, vn, before, sizeof before);
    PB_REQUIRE(before[0] != '\0');

    char *url = NULL, st[128], ws[PB_SLUG_MAX];
    /* forged */
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", "A0kIv-6NLMDAXRB-yqH6aJeNrPsWQ42fhpnlvpukXBA", "code",
                                      NULL, ws, &err),
                    PB_ENOTFOUND);
    /* started by a member (not an admin): refused at the callback, before any exchange */
    PB_REQUIRE(pb_oauth_begin(f.db, &a, "acme", f.member.id, &url, NULL, &err) == 0);
    state_of(url, st, sizeof st);
    free(url);
    PB_REQUIRE(st[0] != '\0');
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_EAUTH);
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_ENOTFOUND); /* used */
    /* started by an admin who is demoted before the callback */
    PB_REQUIRE(pb_oauth_begin(f.db, &a, "acme", f.admin.id, &url, NULL, &err) == 0);
    state_of(url, st, sizeof st);
    free(url);
    PB_REQUIRE(pb_as_member_set(f.db, "acme", f.admin.id, PB_ROLE_MEMBER, &err) == 0);
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_EAUTH);
    PB_REQUIRE(pb_as_member_set(f.db, "acme", f.admin.id, PB_ROLE_ADMIN, &err) == 0);
    /* a state issued for another app */
    PB_REQUIRE(pb_oauth_begin(f.db, &other, "acme", f.admin.id, &url, NULL, &err) == 0);
    state_of(url, st, sizeof st);
    free(url);
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_ENOTFOUND);
    /* expired */
    {
        pb_oauth_state_row s;
        unsigned char md[SHA256_DIGEST_LENGTH];
        memset(&s, 0, sizeof s);
        static const char raw[] = "expired-state-value-0123456789";
        SHA256((const unsigned char *)raw, strlen(raw), md);
        pb_hex_encode(md, sizeof md, s.state_hash);
        pb_strlcpy(s.app, "plane", sizeof s.app);
        pb_strlcpy(s.workspace_slug, "acme", sizeof s.workspace_slug);
        pb_strlcpy(s.user_id, f.admin.id, sizeof s.user_id);
        pb_strlcpy(s.verifier, "v", sizeof s.verifier);
        pb_strlcpy(s.redirect_uri, a.redirect_uri, sizeof s.redirect_uri);
        s.expires_at = pb_now_us() + 1; /* as if its 10 minutes had passed */
        PB_REQUIRE(pb_as_oauth_state_put(f.db, &s, &err) == 0);
        usleep(2000);
        PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", raw, "code", NULL, ws, &err), PB_EEXPIRED);
        PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", raw, "code", NULL, ws, &err), PB_ENOTFOUND);
    }
    /* a good state gets as far as the token endpoint (unreachable here) and is then used up */
    PB_REQUIRE(pb_oauth_begin(f.db, &a, "acme", f.admin.id, &url, NULL, &err) == 0);
    state_of(url, st, sizeof st);
    free(url);
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_ENET);
    PB_CHECK_EQ_INT(pb_oauth_callback(f.db, f.vault, "plane", st, "code", NULL, ws, &err), PB_ENOTFOUND); /* replay */

    sealed_of(f.db, vn, after, sizeof after);
    PB_CHECK_STR(after, before); /* the stored token was never rewritten */
    hfix_close(&f);
}

/* ------------------------------------------------------------------ 2. negative cache */

/* A random well-formed key whose digest starts with `first` (same positive-cache set). */
static void key_in_set(unsigned char first, char out[PB_KEY_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    do {
        pb_apikey_generate(out, PB_KEY_LEN + 1);
        SHA256((const unsigned char *)out, PB_KEY_LEN, md);
    } while (md[0] != first);
}

PB_STORE_TEST(auth_review_unknown_keys_never_evict_validated_keys)
{
    hfix f;
    pb_auth_decision d;
    pb_auth_stats s0, s1;
    unsigned char md[SHA256_DIGEST_LENGTH];
    PB_REQUIRE(hfix_open(&f, 0) == 0);
    PB_CHECK_EQ_INT(decide_ip(f.auth, f.admin_key, NULL, &d), 0);
    SHA256((const unsigned char *)f.admin_key, PB_KEY_LEN, md);
    /* Eight unknown keys landing in the admin key's cache set (4 ways): before the review
     * they were cached there as negative entries and pushed the valid key out. */
    for (int i = 0; i < 8; i++) {
        char k[PB_KEY_LEN + 1];
        key_in_set(md[0], k);
        PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 403);
    }
    pb_auth_get_stats(f.auth, &s0);
    PB_CHECK_EQ_INT(decide_ip(f.auth, f.admin_key, NULL, &d), 0);
    pb_auth_get_stats(f.auth, &s1);
    PB_CHECK_EQ_INT(s1.cache_misses, s0.cache_misses); /* still cached: no store query */
    PB_CHECK_EQ_INT(s1.cache_hits, s0.cache_hits + 1);
    hfix_close(&f);
}

/* Inserts a key row for `key` directly in the store, as another process (the CLI) would. */
static int insert_key_elsewhere(pb_db *db, const char *user_id, const char *key)
{
    pb_key_row k;
    memset(&k, 0, sizeof k);
    pb_uuid4(k.id);
    pb_strlcpy(k.user_id, user_id, sizeof k.user_id);
    pb_strlcpy(k.name, "from another process", sizeof k.name);
    memcpy(k.prefix, key, PB_KEY_PREFIX_LEN);
    k.prefix[PB_KEY_PREFIX_LEN] = '\0';
    pb_apikey_hash(key, strlen(key), k.key_hash);
    pb_strlcpy(k.scopes, "*", sizeof k.scopes);
    k.created_at = pb_now_us();
    return pb_as_key_insert(db, &k, NULL);
}

PB_STORE_TEST(auth_review_negative_cache_ttl_and_invalidation)
{
    hfix f;
    pb_auth_decision d;
    pb_auth_stats s0, s1;
    char k[PB_KEY_LEN + 1], k2[PB_KEY_LEN + 1];
    PB_REQUIRE(hfix_open(&f, 0) == 0);
    pb_apikey_generate(k, sizeof k);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 403);
    pb_auth_get_stats(f.auth, &s0);
    for (int i = 0; i < 5; i++) PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 403);
    pb_auth_get_stats(f.auth, &s1);
    PB_CHECK_EQ_INT(s1.cache_misses, s0.cache_misses); /* repeats cost no store query */
    PB_CHECK_EQ_INT(s1.negative_hits, s0.negative_hits + 5);

    /* The key now exists (created by another process): refused from the negative cache until
     * its TTL (60 s) runs out, never longer. */
    PB_REQUIRE(insert_key_elsewhere(f.db, f.admin.id, k) == 0);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 403);
    pb_auth_test_advance(f.auth, 59000);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 403);
    pb_auth_test_advance(f.auth, 1001);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k, NULL, &d), 0);

    /* Created or rotated in this process: the negative cache is dropped at once. */
    pb_apikey_generate(k2, sizeof k2);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k2, NULL, &d), 403);
    PB_REQUIRE(insert_key_elsewhere(f.db, f.admin.id, k2) == 0);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k2, NULL, &d), 403);
    pb_auth_keys_changed(f.auth);
    PB_CHECK_EQ_INT(decide_ip(f.auth, k2, NULL, &d), 0);
    hfix_close(&f);
}

/* ------------------------------------------------------------------ 2. failures per address */

PB_STORE_TEST(auth_review_failed_authentications_limited_per_address)
{
    hfix f;
    pb_auth_decision d;
    pb_auth_stats s0, s1;
    char bad[PB_KEY_LEN + 1], fresh[PB_KEY_LEN + 1];
    pb_error err = {0};
    PB_REQUIRE(hfix_open(&f, 0) == 0);
    static const char ip[] = "203.0.113.7";
    /* the admin's key is validated (cached) from that address first */
    PB_CHECK_EQ_INT(decide_ip(f.auth, f.admin_key, ip, &d), 0);
    /* a legit key nobody used yet in this process */
    pb_key_spec sp = {.user_email = "admin@example.com", .scopes = "issues:read"};
    PB_REQUIRE(pb_apikey_create(f.db, &sp, fresh, sizeof fresh, NULL, &err) == 0);
    for (int i = 0; i < 30; i++) {
        pb_apikey_generate(bad, sizeof bad);
        int st = decide_ip(f.auth, i % 3 ? bad : "pb_malformed", ip, &d);
        if (st != 403) pb_test_fail(__FILE__, __LINE__, "failure %d answered %d", i, st);
    }
    pb_auth_get_stats(f.auth, &s0);
    pb_apikey_generate(bad, sizeof bad);
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, ip, &d), 429);
    PB_CHECK_STR(d.body, "{\"error_code\":5900,\"error_message\":\"RATE_LIMIT_EXCEEDED\"}");
    PB_CHECK(d.ip_retry_after_s >= 1 && d.ip_retry_after_s <= 2);
    pb_auth_get_stats(f.auth, &s1);
    PB_CHECK_EQ_INT(s1.cache_misses, s0.cache_misses); /* refused before any store query */
    PB_CHECK_EQ_INT(s1.ip_throttled, s0.ip_throttled + 1);
    /* a key already validated here keeps working from that address, even once its cache
     * entry is stale (it is fetched again) */
    PB_CHECK_EQ_INT(decide_ip(f.auth, f.admin_key, ip, &d), 0);
    pb_auth_test_advance(f.auth, 1500);
    pb_auth_get_stats(f.auth, &s0);
    PB_CHECK_EQ_INT(decide_ip(f.auth, f.admin_key, ip, &d), 0);
    pb_auth_get_stats(f.auth, &s1);
    PB_CHECK_EQ_INT(s1.cache_misses, s0.cache_misses + 1);
    /* an uncached key from the blocked address waits too (documented) */
    PB_CHECK_EQ_INT(decide_ip(f.auth, fresh, ip, &d), 429);
    /* other addresses are not affected; an IPv6 /64 counts as one address */
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, "203.0.113.8", &d), 403);
    for (int i = 0; i < 30; i++) decide_ip(f.auth, bad, i % 2 ? "2001:db8:0:1::1" : "2001:db8:0:1:ffff::2", &d);
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, "2001:db8:0:1::99", &d), 429);
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, "2001:db8:0:2::1", &d), 403);
    /* no address (in-process callers): no limit */
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, NULL, &d), 403);
    /* the bucket refills at 30/min: one failure every 2 s */
    pb_auth_test_advance(f.auth, 2000);
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, ip, &d), 403);
    PB_CHECK_EQ_INT(decide_ip(f.auth, bad, ip, &d), 429);
    pb_auth_test_advance(f.auth, 60000);
    PB_CHECK_EQ_INT(decide_ip(f.auth, fresh, ip, &d), 0);
    hfix_close(&f);
}

/* ------------------------------------------------------------------ 3. file modes */

PB_TEST(auth_review_sqlite_store_and_log_file_are_private)
{
    char path[600], side[620], logp[600];
    struct stat st;
    pb_error err = {0};
    pb_db *db = NULL;
    mode_t old = umask(022);
    snprintf(path, sizeof path, "%s/private.db", pb_test_tmpdir());
    char url[620];
    snprintf(url, sizeof url, "sqlite:%s", path);
    PB_REQUIRE(pb_db_open(url, NULL, &db, &err) == 0);
    PB_CHECK_EQ_INT(pb_db_migrate(db, &err), 0);
    PB_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(side, sizeof side, "%s-wal", path);
    PB_CHECK(stat(side, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(side, sizeof side, "%s-shm", path);
    PB_CHECK(stat(side, &st) == 0 && (st.st_mode & 0777) == 0600);
    pb_db_free(db);
    /* a store file left world-readable by an earlier version is tightened */
    PB_REQUIRE(chmod(path, 0644) == 0);
    PB_REQUIRE(pb_db_open(url, NULL, &db, &err) == 0);
    PB_CHECK_EQ_INT(pb_db_migrate(db, &err), 0);
    PB_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    pb_db_free(db);

    snprintf(logp, sizeof logp, "%s/daemon-private.log", pb_test_tmpdir());
    FILE *fp = pb_config_open_log_file(logp);
    PB_REQUIRE(fp != NULL);
    fputs("line\n", fp);
    fclose(fp);
    PB_CHECK(stat(logp, &st) == 0 && (st.st_mode & 0777) == 0600);
    PB_REQUIRE(chmod(logp, 0644) == 0);
    fp = pb_config_open_log_file(logp);
    PB_REQUIRE(fp != NULL);
    fclose(fp);
    PB_CHECK(stat(logp, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 5); /* appended, kept */
    umask(old);
}

/* ------------------------------------------------------------------ 4. secrets */

PB_STORE_TEST(auth_review_secret_wiped_whole_and_key_owner)
{
    /* bytes after an embedded NUL are wiped too */
    char *s = malloc(16);
    PB_REQUIRE(s != NULL);
    memcpy(s, "abc\0SECRETSECRE", 16);
    pb_vault_secret_wipe(s, 16);
    int nonzero = 0;
    for (int i = 0; i < 16; i++) nonzero |= s[i];
    PB_CHECK_EQ_INT(nonzero, 0);
    free(s);

    /* a secret holding a NUL round-trips by length and is freed by length */
    hfix f;
    pb_error err = {0};
    PB_REQUIRE(hfix_open(&f, 1) == 0);
    static const char bin[] = "head\0tail-secret";
    PB_REQUIRE(pb_vault_put(f.vault, "bin/secret", bin, sizeof bin - 1, &err) == 0);
    char *back = NULL;
    size_t len = 0;
    PB_REQUIRE(pb_vault_get(f.vault, "bin/secret", &back, &len, &err) == 0);
    PB_CHECK_EQ_INT(len, sizeof bin - 1);
    PB_CHECK(memcmp(back, bin, len) == 0);
    pb_vault_secret_free_len(back, len);
    PB_REQUIRE(pb_vault_get(f.vault, "bin/secret", &back, &len, &err) == 0);
    pb_vault_secret_free(back); /* wipes the whole block, past the NUL */
    hfix_close(&f);

    /* key file ownership: only the process's own files, except for root */
    PB_CHECK(pb_vault_key_owner_ok(1000, 1000));
    PB_CHECK(!pb_vault_key_owner_ok(1001, 1000));
    PB_CHECK(pb_vault_key_owner_ok(1001, 0));
    if (geteuid() == 0) {
        /* root may use a key file owned by someone else (it is still 0600) */
        char kf[600];
        pb_vault *v = NULL;
        pb_db *db = NULL;
        snprintf(kf, sizeof kf, "%s/owned.key", pb_test_tmpdir());
        PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
        PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0);
        PB_REQUIRE(chown(kf, 12345, 12345) == 0);
        PB_CHECK_EQ_INT(pb_vault_open(db, kf, &v, &err), 0);
        pb_vault_free(v);
        pb_db_free(db);
    }
}
