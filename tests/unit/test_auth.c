/* Security core: scopes, key format and headers, store model, key lifecycle, decisions
 * (expiry, revoke, rotation grace, project scope, role ceiling, rate limits), vault. */
#include "test.h"

#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "auth/ratelimit.h"
#include "auth/scope.h"
#include "auth/usage.h"
#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ pure */

PB_TEST(auth_scope_parse_format_wildcards)
{
    pb_scopes s = 0;
    const char *bad = NULL;
    PB_CHECK_EQ_INT(pb_scope_parse("issues:read, projects:write", &s, NULL), 0);
    PB_CHECK(s == (PB_SCOPE_ISSUES_READ | PB_SCOPE_PROJECTS_WRITE));
    PB_CHECK_EQ_INT(pb_scope_parse("issues:*", &s, NULL), 0);
    PB_CHECK(s == (PB_SCOPE_ISSUES_READ | PB_SCOPE_ISSUES_WRITE | PB_SCOPE_ISSUES_DELETE));
    PB_CHECK_EQ_INT(pb_scope_parse("*", &s, NULL), 0);
    PB_CHECK(s == PB_SCOPE_ALL);
    PB_CHECK_EQ_INT(pb_scope_parse("issues:read,bogus:x", &s, &bad), PB_EINVAL);
    PB_CHECK_STR(bad, "bogus:x");
    PB_CHECK_EQ_INT(pb_scope_parse("", &s, NULL), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_scope_parse(" , ", &s, NULL), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_scope_parse("nothing:*", &s, NULL), PB_EINVAL);
    char buf[PB_SCOPES_TEXT_MAX];
    pb_scope_format(PB_SCOPE_ALL, buf, sizeof buf);
    PB_CHECK_STR(buf, "*");
    pb_scope_format(PB_SCOPE_SEARCH_READ | PB_SCOPE_ISSUES_READ, buf, sizeof buf);
    PB_CHECK_STR(buf, "issues:read,search:read");
    /* every single scope round-trips through its name */
    for (pb_scopes b = 1; b & PB_SCOPE_ALL; b <<= 1) {
        PB_CHECK(pb_scope_name(b) != NULL);
        PB_CHECK(pb_scope_bit(pb_scope_name(b)) == b);
    }
}

PB_TEST(auth_scope_role_ceiling)
{
    pb_scopes g = pb_scope_ceiling(PB_ROLE_GUEST), m = pb_scope_ceiling(PB_ROLE_MEMBER),
              a = pb_scope_ceiling(PB_ROLE_ADMIN);
    PB_CHECK(g == PB_SCOPE_READS);
    PB_CHECK(!(g & (PB_SCOPE_ISSUES_WRITE | PB_SCOPE_ISSUES_DELETE | PB_SCOPE_COMMENTS_WRITE)));
    PB_CHECK(m & PB_SCOPE_ISSUES_WRITE);
    PB_CHECK(!(m & (PB_SCOPE_KEYS_ADMIN | PB_SCOPE_WEBHOOKS_ADMIN)));
    PB_CHECK(a == PB_SCOPE_ALL);
    PB_CHECK_EQ_INT(pb_scope_ceiling(7), 0);
    PB_CHECK_EQ_INT(pb_scope_min_role(PB_SCOPE_ISSUES_READ), 5);
    PB_CHECK_EQ_INT(pb_scope_min_role(PB_SCOPE_ISSUES_WRITE), 15);
    PB_CHECK_EQ_INT(pb_scope_min_role(PB_SCOPE_KEYS_ADMIN), 20);
}

PB_TEST(auth_key_format_and_headers)
{
    char k1[PB_KEY_LEN + 1], k2[PB_KEY_LEN + 1];
    PB_REQUIRE(pb_apikey_generate(k1, sizeof k1) == 0);
    PB_REQUIRE(pb_apikey_generate(k2, sizeof k2) == 0);
    PB_CHECK_EQ_INT(strlen(k1), 35);
    PB_CHECK(strncmp(k1, "pb_", 3) == 0);
    PB_CHECK(strcmp(k1, k2) != 0);
    PB_CHECK(pb_apikey_well_formed(k1, strlen(k1)));
    PB_CHECK(!pb_apikey_well_formed(k1, strlen(k1) - 1));
    PB_CHECK(!pb_apikey_well_formed("plane_api_0123456789abcdef0123456789abcdef", 42));
    char bad[PB_KEY_LEN + 1];
    memcpy(bad, k1, sizeof bad);
    bad[10] = '-';
    PB_CHECK(!pb_apikey_well_formed(bad, strlen(bad)));

    const char *t;
    size_t n;
    PB_CHECK(pb_apikey_from_headers("  abc ", NULL, &t, &n) && n == 3 && memcmp(t, "abc", 3) == 0);
    PB_CHECK(pb_apikey_from_headers(NULL, "Bearer xyz", &t, &n) && n == 3 && memcmp(t, "xyz", 3) == 0);
    PB_CHECK(pb_apikey_from_headers(NULL, "bearer   xyz  ", &t, &n) && n == 3);
    PB_CHECK(pb_apikey_from_headers("k", "Bearer other", &t, &n) && n == 1 && t[0] == 'k');
    PB_CHECK(!pb_apikey_from_headers(NULL, "Basic dXNlcjpwYXNz", &t, &n));
    PB_CHECK(!pb_apikey_from_headers(NULL, "Bearer", &t, &n));
    PB_CHECK(!pb_apikey_from_headers(NULL, "Bearer    ", &t, &n));
    PB_CHECK(!pb_apikey_from_headers("", NULL, &t, &n));
    PB_CHECK(!pb_apikey_from_headers(NULL, NULL, &t, &n));
    PB_CHECK(!pb_apikey_from_headers(NULL, "Bearerxyz", &t, &n));

    char h[65];
    pb_apikey_hash("abc", 3, h);
    PB_CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

PB_TEST(auth_constant_time_compare_semantics)
{
    /* The comparison the authenticator uses for hashes: equal only when equal, any length. */
    PB_CHECK(pb_ct_equal("abcdef", 6, "abcdef", 6));
    PB_CHECK(!pb_ct_equal("abcdef", 6, "abcdeg", 6));
    PB_CHECK(!pb_ct_equal("xbcdef", 6, "abcdef", 6));
    PB_CHECK(!pb_ct_equal("abc", 3, "abcdef", 6));
    PB_CHECK(pb_ct_equal("", 0, "", 0));
}

PB_TEST(auth_expiry_parse)
{
    int64_t now = 1700000000LL * 1000000, out = 0;
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("30d", now, &out), 0);
    PB_CHECK(out == now + 30LL * 86400 * 1000000);
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("2030-01-02", now, &out), 0);
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("2030-01-02T03:04:05Z", now, &out), 0);
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("never", now, &out), 0);
    PB_CHECK_EQ_INT(out, 0);
    PB_CHECK(pb_apikey_parse_expiry("soon", now, &out) != 0);
    PB_CHECK(pb_apikey_parse_expiry("", now, &out) != 0);
}

PB_TEST(auth_ratelimit_local_bucket)
{
    pb_ratelimit *rl = NULL;
    pb_rl_result r;
    int64_t t = 1000LL * 1000000;
    PB_REQUIRE(pb_ratelimit_new(NULL, 16, &rl) == 0);
    for (int i = 0; i < 3; i++) {
        pb_ratelimit_take(rl, "k1", 3, t, &r);
        PB_CHECK_EQ_INT(r.allowed, 1);
        PB_CHECK_EQ_INT(r.limit, 3);
        PB_CHECK_EQ_INT(r.remaining, 2 - i);
    }
    pb_ratelimit_take(rl, "k1", 3, t, &r);
    PB_CHECK_EQ_INT(r.allowed, 0);
    PB_CHECK_EQ_INT(r.remaining, 0);
    PB_CHECK_EQ_INT(r.retry_after_s, 20); /* 3/min: one token every 20 s */
    PB_CHECK(r.reset_s == t / 1000000 + 60);
    /* another key is independent */
    pb_ratelimit_take(rl, "k2", 3, t, &r);
    PB_CHECK_EQ_INT(r.allowed, 1);
    /* 20 s later exactly one token is back */
    pb_ratelimit_take(rl, "k1", 3, t + 20LL * 1000000, &r);
    PB_CHECK_EQ_INT(r.allowed, 1);
    pb_ratelimit_take(rl, "k1", 3, t + 20LL * 1000000, &r);
    PB_CHECK_EQ_INT(r.allowed, 0);
    /* never more than the capacity after a long idle time */
    pb_ratelimit_take(rl, "k1", 3, t + 3600LL * 1000000, &r);
    PB_CHECK_EQ_INT(r.remaining, 2);
    pb_ratelimit_free(rl);
}

/* ------------------------------------------------------------------ store fixtures */

typedef struct fixture {
    pb_db *db;
    pb_config cfg;
    pb_auth *auth;
    char admin_key[PB_KEY_LEN + 1];
    char member_key[PB_KEY_LEN + 1];
    char guest_key[PB_KEY_LEN + 1];
    pb_user_row admin, member, guest;
} fixture;

static int fx_open(fixture *f)
{
    memset(f, 0, sizeof *f);
    pb_config_defaults(&f->cfg);
    f->cfg.rate_limit_per_min = 100000;
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, NULL)) return -1;
    pb_error err = {0};
    int rc = pb_as_workspace_create(f->db, "acme", "Acme", NULL, &err);
    if (!rc) rc = pb_as_workspace_create(f->db, "other", NULL, NULL, &err);
    if (!rc) rc = pb_as_user_create(f->db, "Admin@Example.com", "Ada", "Admin", NULL, &f->admin, &err);
    if (!rc) rc = pb_as_user_create(f->db, "member@example.com", NULL, NULL, NULL, &f->member, &err);
    if (!rc) rc = pb_as_user_create(f->db, "guest@example.com", NULL, NULL, NULL, &f->guest, &err);
    if (!rc) rc = pb_as_member_set(f->db, "acme", f->admin.id, PB_ROLE_ADMIN, &err);
    if (!rc) rc = pb_as_member_set(f->db, "acme", f->member.id, PB_ROLE_MEMBER, &err);
    if (!rc) rc = pb_as_member_set(f->db, "acme", f->guest.id, PB_ROLE_GUEST, &err);
    pb_key_spec sa = {.user_email = "admin@example.com", .scopes = "*"};
    pb_key_spec sm = {.user_email = "member@example.com", .scopes = "*"};
    pb_key_spec sg = {.user_email = "guest@example.com", .scopes = "*"};
    if (!rc) rc = pb_apikey_create(f->db, &sa, f->admin_key, sizeof f->admin_key, NULL, &err);
    if (!rc) rc = pb_apikey_create(f->db, &sm, f->member_key, sizeof f->member_key, NULL, &err);
    if (!rc) rc = pb_apikey_create(f->db, &sg, f->guest_key, sizeof f->guest_key, NULL, &err);
    if (!rc) rc = pb_auth_new(f->db, &f->cfg, &f->auth, &err);
    if (rc) fprintf(stderr, "    fixture: %s\n", err.msg);
    return rc;
}

static void fx_close(fixture *f)
{
    pb_auth_free(f->auth);
    pb_db_free(f->db);
}

static int decide(pb_auth *a, const char *key, const char *scope, const char *slug, const char *project)
{
    pb_auth_decision d;
    int st = pb_auth_decide(a, key, NULL, scope, slug, project, &d);
    free(d.principal);
    return st;
}

PB_STORE_TEST(auth_store_workspaces_users_members)
{
    pb_db *db = NULL;
    pb_error err = {0};
    pb_workspace_row w;
    pb_user_row u, u2;
    int role = 0;
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_CHECK_EQ_INT(pb_as_workspace_create(db, "acme", "Acme Inc", &w, &err), 0);
    PB_CHECK_EQ_INT(pb_as_workspace_create(db, "acme", "again", NULL, &err), PB_ECONFLICT);
    PB_CHECK_EQ_INT(pb_as_workspace_create(db, "bad slug", NULL, NULL, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_as_workspace_get(db, "acme", &w, &err), 0);
    PB_CHECK_STR(w.name, "Acme Inc");
    PB_CHECK_STR(w.auth_kind, "none");
    PB_CHECK_EQ_INT(pb_as_workspace_get(db, "nope", &w, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_as_user_create(db, "Ada@Example.COM", "Ada", "L", NULL, &u, &err), 0);
    PB_CHECK_STR(u.email, "ada@example.com");
    PB_CHECK_STR(u.display_name, "ada");
    PB_CHECK(pb_uuid_valid(u.id));
    PB_CHECK_EQ_INT(pb_as_user_create(db, "ada@example.com", NULL, NULL, NULL, NULL, &err), PB_ECONFLICT);
    PB_CHECK_EQ_INT(pb_as_user_create(db, "not-an-email", NULL, NULL, NULL, NULL, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_as_user_get_by_email(db, "ADA@example.com", &u2, &err), 0);
    PB_CHECK_STR(u2.id, u.id);
    PB_CHECK_EQ_INT(pb_as_user_get(db, u.id, &u2, &err), 0);
    PB_CHECK_STR(u2.first_name, "Ada");
    PB_CHECK_EQ_INT(pb_as_member_role(db, "acme", u.id, &role, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_as_member_set(db, "acme", u.id, 15, &err), 0);
    PB_CHECK_EQ_INT(pb_as_member_set(db, "acme", u.id, 7, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_as_member_role(db, "acme", u.id, &role, &err), 0);
    PB_CHECK_EQ_INT(role, 15);
    PB_CHECK_EQ_INT(pb_as_member_set(db, "acme", u.id, 20, &err), 0);
    PB_CHECK_EQ_INT(pb_as_member_role(db, "acme", u.id, &role, &err), 0);
    PB_CHECK_EQ_INT(role, 20);
    pb_member_row *m = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_as_member_list(db, "acme", &m, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        PB_CHECK_STR(m[0].user.email, "ada@example.com");
        PB_CHECK_EQ_INT(m[0].role, 20);
    }
    free(m);
    PB_CHECK_EQ_INT(pb_as_member_max_role(db, u.id, &role, &err), 0);
    PB_CHECK_EQ_INT(role, 20);
    PB_CHECK_EQ_INT(pb_as_member_remove(db, "acme", u.id, &err), 0);
    PB_CHECK_EQ_INT(pb_as_member_max_role(db, u.id, &role, &err), PB_ENOTFOUND);
    pb_db_free(db);
}

PB_STORE_TEST(auth_key_create_checks_role_and_membership)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_error err = {0};
    char key[PB_KEY_LEN + 1];
    pb_key_row row;
    /* a guest may not be given a write scope by name */
    pb_key_spec s = {.user_email = "guest@example.com", .scopes = "issues:write"};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s, key, sizeof key, NULL, &err), PB_EFORBIDDEN);
    PB_CHECK(strstr(err.msg, "issues:write") != NULL);
    /* a member may not hold keys:admin */
    pb_key_spec s2 = {.user_email = "member@example.com", .scopes = "issues:read,keys:admin"};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s2, key, sizeof key, NULL, &err), PB_EFORBIDDEN);
    /* not a member of that workspace */
    pb_key_spec s3 = {.user_email = "member@example.com", .scopes = "issues:read", .workspace = "other"};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s3, key, sizeof key, NULL, &err), PB_EFORBIDDEN);
    pb_key_spec s4 = {.user_email = "nobody@example.com", .scopes = "issues:read"};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s4, key, sizeof key, NULL, &err), PB_ENOTFOUND);
    pb_key_spec s5 = {.user_email = "member@example.com", .scopes = "issues:read,bogus"};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s5, key, sizeof key, NULL, &err), PB_EINVAL);
    pb_key_spec s6 = {.user_email = "member@example.com", .scopes = "issues:read", .expires_at = pb_now_us() - 1};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &s6, key, sizeof key, NULL, &err), PB_EINVAL);
    /* ok: stored hashed, prefix shown, never the key */
    pb_key_spec ok = {.user_email = "member@example.com", .scopes = "issues:read issues:write", .workspace = "acme",
                      .name = "ci", .rate_limit = 5};
    PB_CHECK_EQ_INT(pb_apikey_create(f.db, &ok, key, sizeof key, &row, &err), 0);
    PB_CHECK(pb_apikey_well_formed(key, strlen(key)));
    PB_CHECK(strncmp(row.prefix, key, 9) == 0 && strlen(row.prefix) == 9);
    char h[65];
    pb_apikey_hash(key, strlen(key), h);
    PB_CHECK_STR(row.key_hash, h);
    PB_CHECK_STR(row.scopes, "issues:read,issues:write");
    pb_key_row got;
    PB_CHECK_EQ_INT(pb_as_key_get_by_hash(f.db, h, &got, &err), 0);
    PB_CHECK_STR(got.id, row.id);
    PB_CHECK_STR(got.user_email, "member@example.com");
    PB_CHECK_EQ_INT(got.rate_limit, 5);
    pb_buf b;
    pb_buf_init(&b, 1 << 16);
    pb_apikey_row_json(&b, &got, pb_now_us());
    PB_CHECK(strstr(pb_buf_cstr(&b), key) == NULL);
    PB_CHECK(strstr(pb_buf_cstr(&b), h) == NULL);
    PB_CHECK(strstr(pb_buf_cstr(&b), "\"state\":\"active\"") != NULL);
    pb_buf_free(&b);
    fx_close(&f);
}

PB_STORE_TEST(auth_decide_missing_invalid_and_bodies)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_auth_decision d;
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, NULL, NULL, "issues:read", "acme", NULL, &d), 401);
    PB_CHECK_STR(d.body, "{\"detail\":\"Authentication credentials were not provided.\"}");
    PB_CHECK(d.principal == NULL && !d.has_rl);
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, NULL, "Basic abc", "issues:read", "acme", NULL, &d), 401);
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, "pb_nope", NULL, "issues:read", "acme", NULL, &d), 403);
    PB_CHECK_STR(d.body, "{\"detail\":\"Given API token is not valid\"}");
    /* well-formed but unknown */
    char unknown[PB_KEY_LEN + 1];
    pb_apikey_generate(unknown, sizeof unknown);
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, unknown, NULL, "issues:read", "acme", NULL, &d), 403);
    PB_CHECK(d.principal == NULL);
    /* retrying the same wrong key is answered from the cache (no store query) */
    pb_auth_stats s0, s1;
    pb_auth_get_stats(f.auth, &s0);
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, unknown, NULL, "issues:read", "acme", NULL, &d), 403);
    PB_CHECK_STR(d.body, "{\"detail\":\"Given API token is not valid\"}");
    pb_auth_get_stats(f.auth, &s1);
    PB_CHECK_EQ_INT(s1.cache_hits, s0.cache_hits + 1);
    PB_CHECK_EQ_INT(s1.cache_misses, s0.cache_misses);
    /* a key differing in one character is not accepted */
    char near[PB_KEY_LEN + 1];
    memcpy(near, f.admin_key, sizeof near);
    near[20] = near[20] == 'a' ? 'b' : 'a';
    PB_CHECK_EQ_INT(decide(f.auth, near, "issues:read", "acme", NULL), 403);
    /* good key, X-Api-Key and Bearer */
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, f.admin_key, NULL, "issues:read", "acme", NULL, &d), 0);
    PB_REQUIRE(d.principal != NULL);
    PB_CHECK_STR(d.principal->user_email, "admin@example.com");
    PB_CHECK(d.has_rl && d.rl.allowed && d.rl.limit == 100000);
    free(d.principal);
    char bearer[64];
    snprintf(bearer, sizeof bearer, "Bearer %s", f.admin_key);
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, NULL, bearer, "issues:read", "acme", NULL, &d), 0);
    free(d.principal);
    /* second use comes from the cache */
    pb_auth_stats st;
    pb_auth_get_stats(f.auth, &st);
    PB_CHECK(st.cache_hits >= 1);
    fx_close(&f);
}

PB_STORE_TEST(auth_decide_scope_workspace_role_project)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_error err = {0};
    char ro[PB_KEY_LEN + 1], proj[PB_KEY_LEN + 1], wsk[PB_KEY_LEN + 1];
    pb_key_spec s1 = {.user_email = "member@example.com", .scopes = "issues:read"};
    pb_key_spec s2 = {.user_email = "member@example.com", .scopes = "issues:*", .project_id = "p-1"};
    pb_key_spec s3 = {.user_email = "admin@example.com", .scopes = "*", .workspace = "acme"};
    PB_REQUIRE(pb_apikey_create(f.db, &s1, ro, sizeof ro, NULL, &err) == 0);
    PB_REQUIRE(pb_apikey_create(f.db, &s2, proj, sizeof proj, NULL, &err) == 0);
    PB_REQUIRE(pb_as_member_set(f.db, "other", f.admin.id, PB_ROLE_ADMIN, &err) == 0);
    PB_REQUIRE(pb_apikey_create(f.db, &s3, wsk, sizeof wsk, NULL, &err) == 0);

    /* scope missing: 403 naming it */
    pb_auth_decision d;
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, ro, NULL, "issues:write", "acme", NULL, &d), 403);
    PB_CHECK(strstr(d.body, "\"missing_scope\":\"issues:write\"") != NULL);
    PB_CHECK(d.has_rl); /* authenticated answers carry rate-limit headers */
    free(d.principal);
    PB_CHECK_EQ_INT(decide(f.auth, ro, "issues:read", "acme", NULL), 0);
    /* not a member of "other" */
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, ro, NULL, "issues:read", "other", NULL, &d), 403);
    PB_CHECK_STR(d.body, "{\"detail\":\"You do not have permission to perform this action.\"}");
    free(d.principal);
    /* role ceiling: the guest's '*' key reads but never writes */
    PB_CHECK_EQ_INT(decide(f.auth, f.guest_key, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(f.auth, f.guest_key, "issues:write", "acme", NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, f.guest_key, "comments:write", "acme", NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, f.guest_key, "issues:delete", "acme", NULL), 403);
    /* member writes, but is no admin */
    PB_CHECK_EQ_INT(decide(f.auth, f.member_key, "issues:write", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(f.auth, f.member_key, "webhooks:admin", "acme", NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, f.member_key, "keys:admin", NULL, NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, f.admin_key, "keys:admin", NULL, NULL), 0);
    /* the role is re-read: demoting the member stops writes within the cache TTL */
    PB_REQUIRE(pb_as_member_set(f.db, "acme", f.member.id, PB_ROLE_GUEST, &err) == 0);
    int st = 0;
    for (int i = 0; i < 300 && st != 403; i++) {
        st = decide(f.auth, f.member_key, "issues:write", "acme", NULL);
        if (st != 403) usleep(10000);
    }
    PB_CHECK_EQ_INT(st, 403);
    /* project scope */
    PB_CHECK_EQ_INT(decide(f.auth, proj, "issues:write", "acme", "p-1"), 403); /* a guest now: no writes */
    PB_CHECK_EQ_INT(decide(f.auth, proj, "issues:read", "acme", "p-1"), 0);
    PB_REQUIRE(pb_as_member_set(f.db, "acme", f.member.id, PB_ROLE_MEMBER, &err) == 0);
    pb_auth_invalidate(f.auth, NULL);
    PB_CHECK_EQ_INT(decide(f.auth, proj, "issues:write", "acme", "p-1"), 0);
    PB_CHECK_EQ_INT(decide(f.auth, proj, "issues:write", "acme", "p-2"), 403);
    PB_CHECK_EQ_INT(decide(f.auth, proj, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(f.auth, proj, "projects:read", "acme", "p-1"), 403); /* scope */
    /* workspace-restricted key */
    PB_CHECK_EQ_INT(decide(f.auth, wsk, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(f.auth, wsk, "issues:read", "other", NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, f.admin_key, "issues:read", "other", NULL), 0);
    fx_close(&f);
}

PB_STORE_TEST(auth_decide_expiry_revoke_rotation_grace)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_error err = {0};
    char exp[PB_KEY_LEN + 1], k[PB_KEY_LEN + 1], nk[PB_KEY_LEN + 1], g0[PB_KEY_LEN + 1], g0n[PB_KEY_LEN + 1];
    pb_key_row row, nrow;
    /* expiry: a key that expires 1.5 s from now works, then stops */
    pb_key_spec se = {.user_email = "member@example.com", .scopes = "issues:read", .expires_at = pb_now_us() + 1500000};
    PB_REQUIRE(pb_apikey_create(f.db, &se, exp, sizeof exp, &row, &err) == 0);
    PB_CHECK_EQ_INT(decide(f.auth, exp, "issues:read", "acme", NULL), 0);
    int st = 0;
    for (int i = 0; i < 500 && st != 403; i++) {
        st = decide(f.auth, exp, "issues:read", "acme", NULL);
        if (st != 403) usleep(10000);
    }
    PB_CHECK_EQ_INT(st, 403);
    PB_CHECK(pb_now_us() >= row.expires_at);

    /* revoke through another authenticator (another process): refused within the TTL */
    pb_key_spec s = {.user_email = "member@example.com", .scopes = "issues:read"};
    PB_REQUIRE(pb_apikey_create(f.db, &s, k, sizeof k, &row, &err) == 0);
    PB_CHECK_EQ_INT(decide(f.auth, k, "issues:read", "acme", NULL), 0);
    PB_REQUIRE(pb_as_key_revoke(f.db, row.id, pb_now_us(), &err) == 0);
    PB_CHECK_EQ_INT(pb_as_key_revoke(f.db, row.id, pb_now_us(), &err), PB_ESTATE);
    int64_t t0 = pb_mono_ms();
    st = 0;
    while (st != 403 && pb_mono_ms() - t0 < 5000) {
        st = decide(f.auth, k, "issues:read", "acme", NULL);
        if (st != 403) usleep(10000);
    }
    PB_CHECK_EQ_INT(st, 403); /* the cache TTL (1 s) bounds how long it lingers */

    /* rotation with grace: both work, linked */
    PB_REQUIRE(pb_apikey_create(f.db, &s, k, sizeof k, &row, &err) == 0);
    PB_CHECK_EQ_INT(decide(f.auth, k, "issues:read", "acme", NULL), 0);
    PB_REQUIRE(pb_apikey_rotate(f.db, row.id, 3600, nk, sizeof nk, &nrow, &err) == 0);
    pb_auth_invalidate(f.auth, row.id);
    PB_CHECK(strcmp(k, nk) != 0);
    PB_CHECK_EQ_INT(decide(f.auth, k, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(f.auth, nk, "issues:read", "acme", NULL), 0);
    pb_key_row old;
    PB_REQUIRE(pb_as_key_get(f.db, row.id, &old, &err) == 0);
    PB_CHECK_STR(old.rotated_to, nrow.id);
    PB_CHECK_STR(nrow.rotated_from, row.id);
    PB_CHECK(old.expires_at > pb_now_us() + 3500LL * 1000000 && old.expires_at <= pb_now_us() + 3600LL * 1000000);
    PB_CHECK_STR(pb_apikey_state(&old, pb_now_us()), "rotated");
    PB_CHECK_STR(nrow.scopes, row.scopes);
    /* rotating twice is refused */
    PB_CHECK_EQ_INT(pb_apikey_rotate(f.db, row.id, 3600, g0, sizeof g0, NULL, &err), PB_ESTATE);
    /* zero grace: the old key stops at once */
    PB_REQUIRE(pb_apikey_create(f.db, &s, g0, sizeof g0, &row, &err) == 0);
    PB_REQUIRE(pb_apikey_rotate(f.db, row.id, 0, g0n, sizeof g0n, NULL, &err) == 0);
    pb_auth_invalidate(f.auth, row.id);
    PB_CHECK_EQ_INT(decide(f.auth, g0, "issues:read", "acme", NULL), 403);
    PB_CHECK_EQ_INT(decide(f.auth, g0n, "issues:read", "acme", NULL), 0);
    fx_close(&f);
}

PB_STORE_TEST(auth_decide_rate_limit_429)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_error err = {0};
    char k[PB_KEY_LEN + 1];
    pb_key_spec s = {.user_email = "member@example.com", .scopes = "issues:read", .rate_limit = 3};
    PB_REQUIRE(pb_apikey_create(f.db, &s, k, sizeof k, NULL, &err) == 0);
    pb_auth_decision d;
    for (int i = 0; i < 3; i++) {
        PB_CHECK_EQ_INT(pb_auth_decide(f.auth, k, NULL, "issues:read", "acme", NULL, &d), 0);
        PB_CHECK_EQ_INT(d.rl.limit, 3);
        PB_CHECK_EQ_INT(d.rl.remaining, 2 - i);
        free(d.principal);
    }
    PB_CHECK_EQ_INT(pb_auth_decide(f.auth, k, NULL, "issues:read", "acme", NULL, &d), 429);
    PB_CHECK_STR(d.body, "{\"error_code\":5900,\"error_message\":\"RATE_LIMIT_EXCEEDED\"}");
    PB_CHECK(d.rl.retry_after_s >= 1 && d.rl.retry_after_s <= 20);
    PB_CHECK(d.principal != NULL); /* still logged as the key's call */
    free(d.principal);
    /* default limit from the configuration applies to keys without their own */
    pb_config c2 = f.cfg;
    c2.rate_limit_per_min = 2;
    pb_auth *a2 = NULL;
    PB_REQUIRE(pb_auth_new(f.db, &c2, &a2, &err) == 0);
    pb_key_spec s2 = {.user_email = "member@example.com", .scopes = "issues:read"};
    PB_REQUIRE(pb_apikey_create(f.db, &s2, k, sizeof k, NULL, &err) == 0);
    PB_CHECK_EQ_INT(decide(a2, k, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(a2, k, "issues:read", "acme", NULL), 0);
    PB_CHECK_EQ_INT(decide(a2, k, "issues:read", "acme", NULL), 429);
    pb_auth_free(a2);
    fx_close(&f);
}

PB_STORE_TEST(auth_rate_limit_shared_through_store)
{
    /* Two limiters over one store (two processes): the second sees what the first spent. */
    pb_db *db = NULL;
    pb_ratelimit *r1 = NULL, *r2 = NULL;
    pb_rl_result r;
    pb_error err = {0};
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_REQUIRE(pb_ratelimit_new(db, 64, &r1) == 0 && pb_ratelimit_new(db, 64, &r2) == 0);
    int64_t t = pb_now_us();
    int ok1 = 0, ok2 = 0;
    for (int i = 0; i < 6; i++) {
        pb_ratelimit_take(r1, "shared", 10, t, &r);
        ok1 += r.allowed;
    }
    PB_CHECK(pb_ratelimit_sync(r1, t, &err) >= 1);
    for (int i = 0; i < 10; i++) {
        pb_ratelimit_take(r2, "shared", 10, t, &r);
        ok2 += r.allowed;
    }
    PB_CHECK_EQ_INT(ok1, 6);
    PB_CHECK_EQ_INT(ok2, 4); /* 10 per minute in total */
    /* over-admission before a sync becomes debt that holds both back */
    PB_CHECK(pb_ratelimit_sync(r2, t, &err) >= 1);
    int64_t t2 = t + 1100000; /* idle, not-full buckets re-sync after a second */
    PB_CHECK(pb_ratelimit_sync(r1, t2, &err) >= 1);
    pb_ratelimit_take(r1, "shared", 10, t2, &r);
    PB_CHECK_EQ_INT(r.allowed, 0);
    int64_t rem = 0;
    PB_CHECK_EQ_INT(pb_as_rate_take(db, "shared", 10, 0, t2, &rem, &err), 0);
    PB_CHECK(rem < 1000000);
    pb_ratelimit_free(r1);
    pb_ratelimit_free(r2);
    pb_db_free(db);
}

PB_STORE_TEST(auth_usage_log_and_stats)
{
    fixture f;
    PB_REQUIRE(fx_open(&f) == 0);
    pb_auth_decision d;
    PB_REQUIRE(pb_auth_decide(f.auth, f.member_key, NULL, "issues:read", "acme", NULL, &d) == 0);
    for (int i = 1; i <= 20; i++)
        pb_auth_usage_record(f.auth, d.principal, "GET", "/api/v1/workspaces/{slug}/projects/", i % 5 == 0 ? 404 : 200,
                             i * 100, "test-agent/1.0", "127.0.0.1");
    pb_auth_flush(f.auth);
    pb_auth_stats st;
    pb_auth_get_stats(f.auth, &st);
    PB_CHECK_EQ_INT(st.usage_written, 20);
    PB_CHECK_EQ_INT(st.usage_dropped, 0);
    pb_key_stats ks;
    pb_error err = {0};
    PB_REQUIRE(pb_as_usage_stats(f.db, d.principal->key_id, pb_now_us(), &ks, &err) == 0);
    PB_CHECK_EQ_INT(ks.calls_1h, 20);
    PB_CHECK_EQ_INT(ks.calls_24h, 20);
    PB_CHECK_EQ_INT(ks.errors_24h, 4);
    PB_CHECK(ks.error_rate_24h > 0.19 && ks.error_rate_24h < 0.21);
    PB_CHECK(ks.mean_latency_us_24h > 1049 && ks.mean_latency_us_24h < 1051);
    PB_CHECK_EQ_INT(ks.p95_latency_us_24h, 1900);
    PB_CHECK(ks.last_used_at > 0);
    pb_key_row k;
    PB_REQUIRE(pb_as_key_get(f.db, d.principal->key_id, &k, &err) == 0);
    PB_CHECK(k.last_used_at > 0);
    /* retention: rows older than the cut-off go */
    int64_t del = 0;
    PB_CHECK_EQ_INT(pb_as_usage_prune(f.db, pb_now_us() + 1, &del, &err), 0);
    PB_CHECK_EQ_INT(del, 20);
    free(d.principal);
    fx_close(&f);
}

PB_TEST(auth_usage_queue_drops_when_full)
{
    pb_usage *u = NULL;
    pb_usage_row r;
    memset(&r, 0, sizeof r);
    PB_REQUIRE(pb_usage_new(NULL, 16, &u) == 0);
    int dropped = 0;
    for (int i = 0; i < 20; i++) dropped += pb_usage_push(u, &r) == PB_EBUSY;
    PB_CHECK_EQ_INT(dropped, 4);
    uint64_t q, w, dr;
    pb_usage_counters(u, &q, &w, &dr);
    PB_CHECK_EQ_INT(q, 16);
    PB_CHECK_EQ_INT(dr, 4);
    PB_CHECK_EQ_INT(pb_usage_queued(u), 16);
    pb_usage_free(u);
}

/* ------------------------------------------------------------------ vault */

static int file_contains(const char *path, const char *needle)
{
    char *data = NULL;
    size_t len = 0;
    int found = 0;
    if (pb_read_file(path, 256u << 20, &data, &len)) return -1;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len && !found; i++) found = memcmp(data + i, needle, nl) == 0;
    free(data);
    return found;
}

PB_STORE_TEST(auth_vault_roundtrip_aad_and_permissions)
{
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    char kf[600], *out = NULL;
    size_t len = 0;
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_open(db, kf, &v, &err), PB_ENOTFOUND);
    PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_create_key_file(kf, &err), PB_ECONFLICT);
    struct stat st;
    PB_REQUIRE(stat(kf, &st) == 0);
    PB_CHECK_EQ_INT(st.st_mode & 0777, 0600);
    /* a key file others can read is refused */
    chmod(kf, 0640);
    PB_CHECK_EQ_INT(pb_vault_open(db, kf, &v, &err), PB_ECONFIG);
    PB_CHECK(strstr(err.msg, "chmod 600") != NULL);
    chmod(kf, 0600);
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_put(v, "plane/acme/api_key", "s3cret-value-0001", 0, &err), 0);
    PB_CHECK_EQ_INT(pb_vault_put(v, "webhook/7", "whsec_abcdef123456", 0, &err), 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "plane/acme/api_key", &out, &len, &err), 0);
    PB_CHECK_STR(out, "s3cret-value-0001");
    PB_CHECK_EQ_INT(len, 17);
    pb_vault_secret_free(out);
    PB_CHECK_EQ_INT(pb_vault_get(v, "missing", &out, &len, &err), PB_ENOTFOUND);
    /* overwrite */
    PB_CHECK_EQ_INT(pb_vault_put(v, "webhook/7", "whsec_changed_99", 0, &err), 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "webhook/7", &out, &len, &err), 0);
    PB_CHECK_STR(out, "whsec_changed_99");
    pb_vault_secret_free(out);
    /* the name is authenticated: a sealed value copied under another name does not open */
    pb_vault_row row;
    PB_REQUIRE(pb_as_vault_get(db, "webhook/7", &row, &err) == 0);
    PB_REQUIRE(pb_as_vault_put(db, "webhook/8", row.blob, row.key_fp, pb_now_us(), &err) == 0);
    free(row.blob);
    PB_CHECK_EQ_INT(pb_vault_get(v, "webhook/8", &out, &len, &err), PB_ECRYPTO);
    char **names = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_vault_list(v, &names, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 3);
    pb_vault_names_free(names, n);
    PB_CHECK_EQ_INT(pb_vault_delete(v, "webhook/8", &err), 0);
    PB_CHECK_EQ_INT(pb_vault_delete(v, "webhook/8", &err), PB_ENOTFOUND);
    /* a second vault with another key cannot read the first one's secrets */
    char kf2[600];
    pb_vault *v2 = NULL;
    snprintf(kf2, sizeof kf2, "%s/other.key", pb_test_tmpdir());
    PB_REQUIRE(pb_vault_create_key_file(kf2, &err) == 0);
    PB_REQUIRE(pb_vault_open(db, kf2, &v2, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_get(v2, "webhook/7", &out, &len, &err), PB_ECRYPTO);
    PB_CHECK(strstr(err.msg, "whsec_changed_99") == NULL);
    pb_vault_free(v2);
    pb_vault_free(v);
    pb_db_free(db);
}

PB_STORE_TEST(auth_vault_rotate_master)
{
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    char kf[600], fp1[17], fp2[17], *out = NULL, *before = NULL, *after = NULL;
    size_t len = 0, n = 0;
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0);
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    for (int i = 0; i < 5; i++) {
        char name[32], val[32];
        snprintf(name, sizeof name, "s/%d", i);
        snprintf(val, sizeof val, "value-number-%d", i);
        PB_REQUIRE(pb_vault_put(v, name, val, 0, &err) == 0);
    }
    pb_vault_fingerprint(v, fp1);
    PB_REQUIRE(pb_read_file(kf, 1024, &before, &len) == 0);
    PB_CHECK_EQ_INT(pb_vault_rotate_master(v, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 5);
    pb_vault_fingerprint(v, fp2);
    PB_CHECK(strcmp(fp1, fp2) != 0);
    PB_REQUIRE(pb_read_file(kf, 1024, &after, &len) == 0);
    PB_CHECK(strcmp(before, after) != 0);
    struct stat st;
    PB_REQUIRE(stat(kf, &st) == 0);
    PB_CHECK_EQ_INT(st.st_mode & 0777, 0600);
    char np[700];
    snprintf(np, sizeof np, "%s.new", kf);
    PB_CHECK(access(np, F_OK) != 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "s/3", &out, &len, &err), 0);
    PB_CHECK_STR(out, "value-number-3");
    pb_vault_secret_free(out);
    pb_vault_free(v);
    /* a fresh open with the new file reads everything */
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "s/0", &out, &len, &err), 0);
    PB_CHECK_STR(out, "value-number-0");
    pb_vault_secret_free(out);
    int used = 0;
    PB_CHECK_EQ_INT(pb_as_vault_has_fp(db, fp1, &used, &err), 0);
    PB_CHECK_EQ_INT(used, 0);
    pb_vault_free(v);

    /* crash after the commit but before the rename: the next open completes it */
    FILE *fp = fopen(np, "w");
    PB_REQUIRE(fp != NULL);
    fputs(after, fp);
    fclose(fp);
    chmod(np, 0600);
    fp = fopen(kf, "w");
    PB_REQUIRE(fp != NULL);
    fputs(before, fp); /* old key back in place, store already on the new one */
    fclose(fp);
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    PB_CHECK(access(np, F_OK) != 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "s/4", &out, &len, &err), 0);
    PB_CHECK_STR(out, "value-number-4");
    pb_vault_secret_free(out);
    pb_vault_free(v);
    free(before);
    free(after);
    pb_db_free(db);
}

PB_STORE_TEST(auth_planted_secret_never_in_log_db_or_error)
{
    static const char planted[] = "PLANTED-s3cr3t-9f8e7d6c5b4a";
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    char kf[600], logp[600];
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    snprintf(logp, sizeof logp, "%s/log.jsonl", pb_test_tmpdir());
    FILE *lf = fopen(logp, "w");
    PB_REQUIRE(lf != NULL);
    pb_log_set_output(lf);
    pb_log_level = PB_LOG_DEBUG;
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0);
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    PB_REQUIRE(pb_vault_put(v, "upstream/acme", planted, 0, &err) == 0);
    /* things that might leak it */
    PB_LOG(PB_LOG_ERROR, "careless", PB_LS("value", planted));
    pb_error_set(&err, PB_EINVAL, "bad token %s", planted);
    PB_CHECK(strstr(err.msg, planted) == NULL);
    /* an API key presented in a header never shows up in an answer body */
    fixture f;
    fclose(lf);
    pb_log_set_output(NULL);
    PB_CHECK_EQ_INT(file_contains(logp, planted), 0);
    pb_vault_free(v);
    pb_db_free(db);
    /* the SQLite file (and its WAL) never holds it in plaintext */
    const char *url = pb_test_store_url();
    if (strncmp(url, "sqlite:", 7) == 0) {
        char wal[1100];
        PB_CHECK_EQ_INT(file_contains(url + 7, planted), 0);
        snprintf(wal, sizeof wal, "%s-wal", url + 7);
        if (access(wal, F_OK) == 0) PB_CHECK_EQ_INT(file_contains(wal, planted), 0);
    }
    /* keys: only the hash is stored */
    PB_REQUIRE(fx_open(&f) == 0);
    pb_auth_decision d;
    pb_auth_decide(f.auth, planted, NULL, "issues:read", "acme", NULL, &d);
    PB_CHECK(strstr(d.body, planted) == NULL);
    free(d.principal);
    fx_close(&f);
    if (strncmp(url, "sqlite:", 7) == 0) {
        char wal[1100];
        PB_CHECK_EQ_INT(file_contains(url + 7, f.admin_key), 0);
        snprintf(wal, sizeof wal, "%s-wal", url + 7);
        if (access(wal, F_OK) == 0) PB_CHECK_EQ_INT(file_contains(wal, f.admin_key), 0);
    }
}

/* ------------------------------------------------------------------ OAuth pieces */

#include "auth/oauth.h"

PB_TEST(auth_oauth_pkce_s256)
{
    /* expected: printf %s VERIFIER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d = */
    char c[44];
    pb_oauth_pkce_challenge("dBjftJeZ4CVP-mJ92K9qeFPOLkwxjKfjoi-rQGWGvRc", c);
    PB_CHECK_STR(c, "A0kIv-6NLMDAXRB-yqH6aJeNrPsWQ42fhpnlvpukXBA");
    pb_oauth_pkce_challenge("a", c);
    PB_CHECK_STR(c, "ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs");
    PB_CHECK_EQ_INT(strlen(c), 43);
}

PB_STORE_TEST(auth_oauth_state_single_use_and_expiry)
{
    pb_db *db = NULL;
    pb_error err = {0};
    pb_oauth_state_row s, got;
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    memset(&s, 0, sizeof s);
    pb_strlcpy(s.state_hash, "aa11", sizeof s.state_hash);
    pb_strlcpy(s.app, "app", sizeof s.app);
    pb_strlcpy(s.workspace_slug, "acme", sizeof s.workspace_slug);
    pb_strlcpy(s.verifier, "verifier-1", sizeof s.verifier);
    pb_strlcpy(s.redirect_uri, "http://127.0.0.1/cb", sizeof s.redirect_uri);
    int64_t now = pb_now_us();
    s.expires_at = now + 600LL * 1000000;
    PB_REQUIRE(pb_as_oauth_state_put(db, &s, &err) == 0);
    PB_CHECK_EQ_INT(pb_as_oauth_state_take(db, "aa11", now, &got, &err), 0);
    PB_CHECK_STR(got.verifier, "verifier-1");
    PB_CHECK_STR(got.workspace_slug, "acme");
    PB_CHECK_EQ_INT(pb_as_oauth_state_take(db, "aa11", now, &got, &err), PB_ENOTFOUND); /* used */
    pb_strlcpy(s.state_hash, "bb22", sizeof s.state_hash);
    PB_REQUIRE(pb_as_oauth_state_put(db, &s, &err) == 0);
    PB_CHECK_EQ_INT(pb_as_oauth_state_take(db, "bb22", s.expires_at + 1, &got, &err), PB_EEXPIRED);
    PB_CHECK_EQ_INT(pb_as_oauth_state_take(db, "bb22", now, &got, &err), PB_ENOTFOUND); /* consumed anyway */
    /* tokens_ref */
    char *vn = NULL;
    PB_CHECK_EQ_INT(pb_as_token_ref_get(db, "acme", "", "oauth_bot:app", &vn, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_as_token_ref_set(db, "acme", "", "oauth_bot:app", "oauth/app/bot/1", &err), 0);
    PB_CHECK_EQ_INT(pb_as_token_ref_set(db, "acme", "", "oauth_bot:app", "oauth/app/bot/2", &err), 0);
    PB_CHECK_EQ_INT(pb_as_token_ref_get(db, "acme", "", "oauth_bot:app", &vn, &err), 0);
    PB_CHECK_STR(vn, "oauth/app/bot/2");
    free(vn);
    pb_db_free(db);
}

PB_STORE_TEST(auth_oauth_app_in_vault_and_begin_url)
{
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    char kf[600], *url = NULL;
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0 && pb_vault_open(db, kf, &v, &err) == 0);
    pb_oauth_app a, b;
    memset(&a, 0, sizeof a);
    pb_strlcpy(a.name, "plane", sizeof a.name);
    pb_strlcpy(a.client_id, "cid", sizeof a.client_id);
    pb_strlcpy(a.client_secret, "client-secret-value-123", sizeof a.client_secret);
    pb_strlcpy(a.authorize_url, "https://plane.example/auth/o/authorize-app/", sizeof a.authorize_url);
    pb_strlcpy(a.token_url, "https://plane.example/auth/o/token/", sizeof a.token_url);
    pb_strlcpy(a.redirect_uri, "https://hub.example/oauth/plane/callback", sizeof a.redirect_uri);
    pb_strlcpy(a.scope, "projects.work_items:read projects.work_items:write", sizeof a.scope);
    PB_CHECK_EQ_INT(pb_oauth_app_save(v, &a, &err), 0);
    PB_CHECK_EQ_INT(pb_oauth_app_load(v, "plane", &b, &err), 0);
    PB_CHECK_STR(b.client_secret, "client-secret-value-123");
    PB_CHECK_STR(b.auth_method, "plane");
    pb_oauth_app bad = a;
    pb_strlcpy(bad.token_url, "ftp://x", sizeof bad.token_url);
    PB_CHECK_EQ_INT(pb_oauth_app_save(v, &bad, &err), PB_EINVAL);
    pb_strlcpy(bad.name, "../x", sizeof bad.name);
    PB_CHECK_EQ_INT(pb_oauth_app_save(v, &bad, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_oauth_begin(db, &b, "acme", NULL, &url, NULL, &err), PB_EINVAL); /* who asks is required */
    PB_CHECK_EQ_INT(pb_oauth_begin(db, &b, "", "3f2b8c1e-9d4a-4e5b-8c6d-7e8f9a0b1c2d", &url, NULL, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_oauth_begin(db, &b, "acme", "3f2b8c1e-9d4a-4e5b-8c6d-7e8f9a0b1c2d", &url, NULL, &err), 0);
    PB_REQUIRE(url != NULL);
    PB_CHECK(strncmp(url, "https://plane.example/auth/o/authorize-app/?response_type=code&client_id=cid&", 77) == 0);
    PB_CHECK(strstr(url, "redirect_uri=https%3A%2F%2Fhub.example%2Foauth%2Fplane%2Fcallback") != NULL);
    PB_CHECK(strstr(url, "scope=projects.work_items%3Aread%20projects.work_items%3Awrite") != NULL);
    PB_CHECK(strstr(url, "code_challenge_method=S256") != NULL);
    PB_CHECK(strstr(url, "client-secret") == NULL);
    /* the callback refuses an unknown state without contacting anyone */
    PB_CHECK_EQ_INT(pb_oauth_callback(db, v, "plane", "forged-state", "code", NULL, NULL, &err), PB_ENOTFOUND);
    free(url);
    pb_vault_free(v);
    pb_db_free(db);
}
