/* Webhook ingestion: signatures, body validation, idempotency keys, secrets (no store). */
#include "test.h"
#include "test_ingest_fixtures.h"

#include "core/buf.h"
#include "core/log.h"
#include "http/server.h"
#include "core/util.h"
#include "ingest/ingest.h"
#include "ingest/secrets.h"
#include "ingest/signature.h"
#include "ingest/webhook.h"

#include <stdlib.h>
#include <string.h>

#define ISSUE_ID "7d0c3b52-1f0a-4b7e-9a6d-2e3f4a5b6c7d"

static char *issue_body(const fx_issue *f)
{
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    fx_issue_body(&b, f);
    return pb_buf_steal(&b);
}

PB_TEST(ingest_hmac_known_answer_github_vector)
{
    /* GitHub's documented vector (webhook-anchors.md §5.2): same HMAC-SHA256 hex as Plane. */
    char hex[65];
    PB_REQUIRE(pb_sig_sign_hex("It's a Secret to Everybody", "Hello, World!", 13, hex) == 0);
    PB_CHECK_STR(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    PB_CHECK(pb_sig_verify_hmac_hex("It's a Secret to Everybody", "Hello, World!", 13,
                                    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
    /* Upper-case hex of the same MAC is the same MAC. */
    PB_CHECK(pb_sig_verify_hmac_hex("It's a Secret to Everybody", "Hello, World!", 13,
                                    "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"));
}

PB_TEST(ingest_hmac_rejects_tampering)
{
    const char *secret = "plane_wh_0123456789abcdef0123456789abcdef";
    char *body = issue_body(&(fx_issue){.id = ISSUE_ID, .updated_at = 1763800000000000LL});
    size_t len = strlen(body);
    char sig[65];
    PB_REQUIRE(pb_sig_sign_hex(secret, body, len, sig) == 0);
    PB_CHECK(pb_sig_verify_hmac_hex(secret, body, len, sig));
    /* one flipped body byte */
    body[len / 2] ^= 1;
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, sig));
    body[len / 2] ^= 1;
    /* truncated body, wrong secret, truncated / prefixed / non-hex signatures */
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len - 1, sig));
    PB_CHECK(!pb_sig_verify_hmac_hex("plane_wh_wrong", body, len, sig));
    char bad[80];
    snprintf(bad, sizeof bad, "%.63s", sig);
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, bad));
    snprintf(bad, sizeof bad, "sha256=%s", sig);
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, bad));
    snprintf(bad, sizeof bad, "%s", sig);
    bad[10] = 'g';
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, bad));
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, NULL));
    PB_CHECK(!pb_sig_verify_hmac_hex(secret, body, len, ""));
    free(body);
}

PB_TEST(ingest_shared_secret_and_rotation_window)
{
    pb_sig_secrets s = {.scheme = PB_SIG_SHARED};
    pb_strlcpy(s.current, "new-shared-secret", sizeof s.current);
    pb_strlcpy(s.previous, "old-shared-secret", sizeof s.previous);
    s.previous_until_us = 2000;
    const char *why = NULL;
    PB_CHECK(pb_sig_verify(&s, 1000, "x", 1, NULL, "new-shared-secret", &why));
    PB_CHECK(pb_sig_verify(&s, 1000, "x", 1, NULL, "old-shared-secret", &why));
    /* after the overlap window only the new one */
    PB_CHECK(!pb_sig_verify(&s, 2000, "x", 1, NULL, "old-shared-secret", &why));
    PB_CHECK_STR(why, "mismatch");
    PB_CHECK(!pb_sig_verify(&s, 1000, "x", 1, NULL, "new-shared-secreT", &why));
    PB_CHECK(!pb_sig_verify(&s, 1000, "x", 1, NULL, "new-shared-secret-and-more", &why));
    /* the shared scheme ignores X-Plane-Signature */
    PB_CHECK(!pb_sig_verify(&s, 1000, "x", 1, "00", NULL, &why));
    PB_CHECK_STR(why, "missing");

    /* HMAC scheme with rotation */
    pb_sig_secrets old = {.scheme = PB_SIG_HMAC_HEX}, rot;
    pb_strlcpy(old.current, "first-secret-value", sizeof old.current);
    pb_ingest_secret_rotate(&old, PB_SIG_HMAC_HEX, "second-secret-value", 1000000, 60, &rot);
    PB_CHECK_STR(rot.current, "second-secret-value");
    PB_CHECK_STR(rot.previous, "first-secret-value");
    PB_CHECK_EQ_INT(rot.previous_until_us, 61000000);
    char sig_old[65], sig_new[65];
    pb_sig_sign_hex("first-secret-value", "{}", 2, sig_old);
    pb_sig_sign_hex("second-secret-value", "{}", 2, sig_new);
    PB_CHECK(pb_sig_verify(&rot, 2000000, "{}", 2, sig_new, NULL, NULL));
    PB_CHECK(pb_sig_verify(&rot, 2000000, "{}", 2, sig_old, NULL, NULL));
    PB_CHECK(!pb_sig_verify(&rot, 61000000, "{}", 2, sig_old, NULL, NULL));
    PB_CHECK(pb_sig_verify(&rot, 61000000, "{}", 2, sig_new, NULL, NULL));
    /* rotating without overlap drops the old secret at once */
    pb_ingest_secret_rotate(&old, PB_SIG_HMAC_HEX, "second-secret-value", 1000000, 0, &rot);
    PB_CHECK(!pb_sig_verify(&rot, 1000001, "{}", 2, sig_old, NULL, NULL));
}

PB_TEST(ingest_secret_encode_decode)
{
    pb_sig_secrets s = {.scheme = PB_SIG_SHARED, .previous_until_us = 1234567890123LL}, d;
    pb_strlcpy(s.current, "cur\"rent", sizeof s.current);
    pb_strlcpy(s.previous, "prev", sizeof s.previous);
    char *json = NULL;
    PB_REQUIRE(pb_ingest_secret_encode(&s, &json) == 0);
    PB_REQUIRE(pb_ingest_secret_decode(json, &d) == 0);
    PB_CHECK_EQ_INT(d.scheme, PB_SIG_SHARED);
    PB_CHECK_STR(d.current, "cur\"rent");
    PB_CHECK_STR(d.previous, "prev");
    PB_CHECK_EQ_INT(d.previous_until_us, 1234567890123LL);
    free(json);
    /* a bare secret (as in a secret file, trailing newline) is an HMAC secret */
    PB_REQUIRE(pb_ingest_secret_decode("plane_wh_abc123\n", &d) == 0);
    PB_CHECK_EQ_INT(d.scheme, PB_SIG_HMAC_HEX);
    PB_CHECK_STR(d.current, "plane_wh_abc123");
    PB_CHECK(pb_ingest_secret_decode("", &d) != 0);
    PB_CHECK(pb_ingest_secret_decode("{\"scheme\":\"rot13\",\"current\":\"x\"}", &d) != 0);
    PB_CHECK(pb_ingest_secret_decode("{\"current\":\"\"}", &d) != 0);
}

PB_TEST(ingest_content_type_slug_depth)
{
    PB_CHECK(pb_hook_content_type_ok("application/json"));
    PB_CHECK(pb_hook_content_type_ok("Application/JSON; charset=utf-8"));
    PB_CHECK(!pb_hook_content_type_ok("application/jsonx"));
    PB_CHECK(!pb_hook_content_type_ok("text/plain"));
    PB_CHECK(!pb_hook_content_type_ok(NULL));
    PB_CHECK(pb_hook_slug_ok("acme-1_x"));
    PB_CHECK(!pb_hook_slug_ok(""));
    PB_CHECK(!pb_hook_slug_ok("Acme"));
    PB_CHECK(!pb_hook_slug_ok("a/b"));
    PB_CHECK(!pb_hook_slug_ok("0123456789012345678901234567890123456789012345678"));
    PB_CHECK(pb_hook_depth_ok("{\"a\":[[[1]]]}", 13, 4));
    PB_CHECK(!pb_hook_depth_ok("{\"a\":[[[1]]]}", 13, 3));
    /* brackets inside strings (and escaped quotes) do not count */
    const char *s = "{\"a\":\"[[[[\\\"[[[[\"}";
    PB_CHECK(pb_hook_depth_ok(s, strlen(s), 1));
}

PB_TEST(ingest_parse_plane_ce_body)
{
    char *body =
        issue_body(&(fx_issue){.id = ISSUE_ID, .updated_at = 1763800000123456LL, .field = "priority"});
    pb_hook h;
    pb_error err = {0};
    PB_REQUIRE(pb_hook_parse("acme", body, strlen(body), &h, &err) == 0);
    PB_CHECK_STR(h.event, "issue");
    PB_CHECK_STR(h.action, "updated");
    PB_CHECK_STR(h.object_id, ISSUE_ID);
    PB_CHECK_STR(h.workspace_id, FX_WS_ID);
    PB_CHECK_STR(h.actor_id, FX_USER);
    PB_CHECK_STR(h.field, "priority");
    PB_CHECK_EQ_INT(h.updated_at, 1763800000123456LL);
    PB_CHECK(!h.v2);
    PB_CHECK(strncmp(h.key, "plane:c:", 8) == 0 && strlen(h.key) == 8 + 64);
    pb_hook_free(&h);
    pb_hook_free(&h); /* idempotent */
    free(body);
}

PB_TEST(ingest_key_ignores_delivery_and_webhook_ids)
{
    /* A retry (new X-Plane-Delivery, not in the body) and the same change sent by a second
     * webhook of the workspace (other webhook_id) map to one key; any real difference does not. */
    fx_issue f = {.id = ISSUE_ID, .updated_at = 1763800000000000LL, .field = "name"};
    char *a = issue_body(&f);
    f.webhook_id = "11111111-2222-4333-8444-555555555555";
    char *b = issue_body(&f);
    f.updated_at++;
    char *c = issue_body(&f);
    f.updated_at--;
    f.field = "priority";
    char *d = issue_body(&f);
    pb_hook ha, hb, hc, hd, he;
    PB_REQUIRE(pb_hook_parse("acme", a, strlen(a), &ha, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", b, strlen(b), &hb, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", c, strlen(c), &hc, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", d, strlen(d), &hd, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("other", a, strlen(a), &he, NULL) == 0);
    PB_CHECK_STR(ha.key, hb.key);
    PB_CHECK(strcmp(ha.key, hc.key) != 0);
    PB_CHECK(strcmp(ha.key, hd.key) != 0);
    PB_CHECK(strcmp(ha.key, he.key) != 0); /* other workspace */
    pb_hook_free(&ha), pb_hook_free(&hb), pb_hook_free(&hc), pb_hook_free(&hd), pb_hook_free(&he);
    free(a), free(b), free(c), free(d);
}

PB_TEST(ingest_parse_v2_event_id)
{
    const char *v2a =
        "{\"version\": \"v2\", \"delivery_id\": \"d1\", \"event_id\": \"ev-42\", \"event\": "
        "\"workitem.comment.updated\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", \"data\": "
        "{\"id\": \"" ISSUE_ID "\", \"updated_at\": \"2025-11-21T10:00:00Z\"}}";
    const char *v2b =
        "{\"version\": \"v2\", \"delivery_id\": \"d2\", \"event_id\": \"ev-42\", \"event\": "
        "\"workitem.comment.updated\", \"webhook_id\": \"w\", \"workspace_id\": \"x\", \"data\": "
        "{\"id\": \"" ISSUE_ID "\", \"updated_at\": \"2025-11-21T10:00:00Z\", \"extra\": 1}}";
    const char *v2del = "{\"version\": \"v2\", \"event_id\": \"ev-43\", \"event\": \"workitem.deleted\", "
                        "\"entity_id\": \"" ISSUE_ID "\", \"data\": {}}";
    pb_hook a, b, d;
    PB_REQUIRE(pb_hook_parse("acme", v2a, strlen(v2a), &a, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", v2b, strlen(v2b), &b, NULL) == 0);
    PB_CHECK(a.v2);
    PB_CHECK_STR(a.event, "issue_comment");
    PB_CHECK_STR(a.action, "updated");
    PB_CHECK_STR(a.key, b.key); /* the stable event_id decides */
    PB_CHECK(strncmp(a.key, "plane:ev:", 9) == 0);
    PB_REQUIRE(pb_hook_parse("acme", v2del, strlen(v2del), &d, NULL) == 0);
    PB_CHECK_STR(d.event, "issue");
    PB_CHECK_STR(d.action, "deleted");
    PB_CHECK_STR(d.object_id, ISSUE_ID);
    pb_hook_free(&a), pb_hook_free(&b), pb_hook_free(&d);
}

PB_TEST(ingest_parse_rejects_malformed)
{
    static const struct {
        const char *body;
        int rc;
        const char *field;
    } cases[] = {
        {"", PB_EPARSE, ""},
        {"{", PB_EPARSE, ""},
        {"[1,2]", PB_EINVAL, ""},
        {"{\"event\": \"issue\"}", PB_EINVAL, "action"},
        {"{\"action\": \"updated\", \"data\": {}}", PB_EINVAL, "event"},
        {"{\"event\": 5, \"action\": \"updated\"}", PB_EINVAL, "event"},
        {"{\"event\": \"issue\", \"action\": \"updated\", \"data\": []}", PB_EINVAL, "data"},
        {"{\"event\": \"issue\", \"action\": \"updated\", \"data\": {\"name\": \"x\"}}", PB_EINVAL,
         "data.id"},
        {"{\"event\": \"issue\", \"action\": \"updated\", \"data\": {\"id\": \"../../etc\"}}", PB_EINVAL,
         "data.id"},
        {"{\"event\": \"issue\", \"action\": \"updated\", \"data\": {\"id\": \"" ISSUE_ID "\"}} trailing",
         PB_EPARSE, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb_hook h;
        pb_error err = {0};
        int rc = pb_hook_parse("acme", cases[i].body, strlen(cases[i].body), &h, &err);
        if (rc != cases[i].rc)
            pb_test_fail(__FILE__, __LINE__, "case %zu: rc %d, want %d", i, rc, cases[i].rc);
        PB_CHECK_STR(err.field, cases[i].field);
    }
    /* nesting bomb */
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    pb_buf_puts(&b, "{\"event\": \"issue\", \"action\": \"updated\", \"data\": {\"id\": \"" ISSUE_ID
                    "\", \"x\": ");
    for (int i = 0; i < 10000; i++)
        pb_buf_putc(&b, '[');
    pb_hook h;
    PB_CHECK_EQ_INT(pb_hook_parse("acme", b.data, b.len, &h, NULL), PB_EDEPTH);
    pb_buf_free(&b);
}

/* --- the receiver without a store (no_store mode) and its rejections -------------------- */

static pb_ingest *new_receiver(int no_store)
{
    pb_ingest *ing = NULL;
    pb_ingest_options o = {.no_store = no_store, .max_body = 64 * 1024};
    if (pb_ingest_new(NULL, &o, NULL, NULL, &ing, NULL) != 0) return NULL;
    pb_sig_secrets s = {.scheme = PB_SIG_HMAC_HEX};
    pb_strlcpy(s.current, "plane_wh_receiver_secret", sizeof s.current);
    pb_ingest_secrets_set_static(pb_ingest_secret_cache(ing), "acme", &s);
    pb_sig_secrets sh = {.scheme = PB_SIG_SHARED};
    pb_strlcpy(sh.current, "shared-secret-123", sizeof sh.current);
    pb_ingest_secrets_set_static(pb_ingest_secret_cache(ing), "shared", &sh);
    return ing;
}

PB_TEST(ingest_receiver_rejections)
{
    pb_ingest *ing = new_receiver(1);
    PB_REQUIRE(ing);
    char *body = issue_body(&(fx_issue){.id = ISSUE_ID, .updated_at = 1763800000000000LL});
    size_t len = strlen(body);
    char sig[65];
    pb_sig_sign_hex("plane_wh_receiver_secret", body, len, sig);
    pb_ingest_reply r;
    const char *ct = "application/json";

    pb_ingest_receive(ing, "acme", ct, sig, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 200);
    /* tampered body, wrong secret, missing signature, unknown workspace: 401 */
    body[5] ^= 1;
    pb_ingest_receive(ing, "acme", ct, sig, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 401);
    body[5] ^= 1;
    char wrong[65];
    pb_sig_sign_hex("plane_wh_other_secret", body, len, wrong);
    pb_ingest_receive(ing, "acme", ct, wrong, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 401);
    pb_ingest_receive(ing, "acme", ct, NULL, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 401);
    pb_ingest_receive(ing, "nobody", ct, sig, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 401);
    PB_CHECK(strstr(r.body, "signature") != NULL);
    /* the shared-secret workspace: header must match, the HMAC header is not enough */
    pb_ingest_receive(ing, "shared", ct, NULL, "shared-secret-123", body, len, &r);
    PB_CHECK_EQ_INT(r.status, 200);
    pb_ingest_receive(ing, "shared", ct, sig, "shared-secret-12", body, len, &r);
    PB_CHECK_EQ_INT(r.status, 401);
    /* content type, slug, size */
    pb_ingest_receive(ing, "acme", "text/plain", sig, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 415);
    pb_ingest_receive(ing, "ACME", ct, sig, NULL, body, len, &r);
    PB_CHECK_EQ_INT(r.status, 404);
    char *big = calloc(1, 64 * 1024 + 2);
    memset(big, ' ', 64 * 1024 + 1);
    pb_ingest_receive(ing, "acme", ct, sig, NULL, big, 64 * 1024 + 1, &r);
    PB_CHECK_EQ_INT(r.status, 413);
    free(big);
    /* malformed but correctly signed: 400 naming the field */
    const char *bad = "{\"event\": \"issue\", \"action\": \"updated\", \"data\": {\"name\": 1}}";
    pb_sig_sign_hex("plane_wh_receiver_secret", bad, strlen(bad), sig);
    pb_ingest_receive(ing, "acme", ct, sig, NULL, bad, strlen(bad), &r);
    PB_CHECK_EQ_INT(r.status, 400);
    PB_CHECK(strstr(r.body, "data.id") != NULL);
    const char *notjson = "not json at all";
    pb_sig_sign_hex("plane_wh_receiver_secret", notjson, strlen(notjson), sig);
    pb_ingest_receive(ing, "acme", ct, sig, NULL, notjson, strlen(notjson), &r);
    PB_CHECK_EQ_INT(r.status, 400);
    free(body);
    pb_ingest_free(ing);
}

PB_TEST(ingest_receiver_503_when_committer_not_running)
{
    /* A receiver whose committer is stopped must not answer 200: nothing would be stored. */
    pb_ingest *ing = new_receiver(0);
    PB_REQUIRE(ing);
    pb_ingest_stop(ing);
    char *body = issue_body(&(fx_issue){.id = ISSUE_ID, .updated_at = 1763800000000000LL});
    char sig[65];
    pb_sig_sign_hex("plane_wh_receiver_secret", body, strlen(body), sig);
    pb_ingest_reply r;
    pb_ingest_receive(ing, "acme", "application/json", sig, NULL, body, strlen(body), &r);
    PB_CHECK_EQ_INT(r.status, 503);
    PB_CHECK(r.retry_after > 0);
    free(body);
    pb_ingest_free(ing);
}

PB_TEST(ingest_route_through_http_server_and_log_hygiene)
{
    /* The real route (PB_ROUTE_PUBLIC | PB_ROUTE_RAW_BODY) through the server's pipeline: no
     * API key needed, Content-Type enforced by the receiver, and a rejected body never
     * reaches the log (only workspace, reason and size do). */
    pb_server *srv = NULL;
    pb_server_options so = {.listen = "127.0.0.1:0", .threads = 1};
    PB_REQUIRE(pb_server_new(&so, &srv, NULL) == 0);
    pb_ingest *ing = new_receiver(1);
    PB_REQUIRE(ing);
    PB_REQUIRE(pb_ingest_register_routes(ing, srv, NULL) == 0);
    FILE *logf = tmpfile();
    PB_REQUIRE(logf);
    pb_log_set_output(logf);
    pb_log_level = PB_LOG_DEBUG;

    char *body = issue_body(
        &(fx_issue){.id = ISSUE_ID, .name = "SECRET-CONTENT-42", .updated_at = 1763800000000000LL});
    char sig[65];
    pb_sig_sign_hex("plane_wh_receiver_secret", body, strlen(body), sig);
    const char *hdr_ok[] = {"Content-Type", "application/json", "X-Plane-Signature", sig, NULL};
    pb_buf out;
    pb_buf_init(&out, 1 << 20);
    PB_CHECK_EQ_INT(pb_server_handle_raw(srv, "POST", "/hooks/plane/acme", hdr_ok, body, strlen(body), &out),
                    200);
    pb_buf_reset(&out);
    const char *hdr_bad[] = {"Content-Type", "application/json", "X-Plane-Signature",
                             "0000000000000000000000000000000000000000000000000000000000000000", NULL};
    PB_CHECK_EQ_INT(pb_server_handle_raw(srv, "POST", "/hooks/plane/acme", hdr_bad, body, strlen(body), &out),
                    401);
    PB_CHECK(strstr(pb_buf_cstr(&out), "invalid webhook signature") != NULL);
    pb_buf_reset(&out);
    PB_CHECK_EQ_INT(pb_server_handle_raw(srv, "GET", "/hooks/plane/acme", NULL, NULL, 0, &out) >= 400, 1);

    pb_log_set_output(NULL);
    pb_log_level = PB_LOG_OFF;
    fflush(logf);
    rewind(logf);
    char line[4096];
    int saw_reject = 0, leaked = 0;
    while (fgets(line, sizeof line, logf)) {
        if (strstr(line, "webhook rejected")) saw_reject = 1;
        if (strstr(line, "SECRET-CONTENT-42") || strstr(line, "plane_wh_receiver_secret")) leaked = 1;
    }
    fclose(logf);
    PB_CHECK(saw_reject);
    PB_CHECK(!leaked);
    pb_buf_free(&out);
    free(body);
    pb_server_free(srv);
    pb_ingest_free(ing);
}

PB_TEST(ingest_key_cuts_only_top_level_volatile_members)
{
    /* delivery_id (v2 without event_id) and webhook_id of any JSON type are cut; the same
     * names nested inside data are content and do count. */
    const char *a =
        "{\"event\": \"issue\", \"action\": \"updated\", \"delivery_id\": \"d-1\", \"webhook_id\": 17, "
        "\"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"x\"}}";
    const char *b = "{\"event\": \"issue\", \"action\": \"updated\", \"delivery_id\": \"d-2\", "
                    "\"webhook_id\": [1, {\"a\": 2}], "
                    "\"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"x\"}}";
    const char *c =
        "{\"event\": \"issue\", \"action\": \"updated\", \"delivery_id\": \"d-3\", \"webhook_id\": null, "
        "\"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"y\"}}";
    const char *d = "{\"event\": \"issue\", \"action\": \"updated\", \"delivery_id\": \"d-\\\"4\\\"\", "
                    "\"webhook_id\": \"w\", "
                    "\"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"x\"}}";
    pb_hook ha, hb, hc, hd;
    PB_REQUIRE(pb_hook_parse("acme", a, strlen(a), &ha, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", b, strlen(b), &hb, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", c, strlen(c), &hc, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", d, strlen(d), &hd, NULL) == 0);
    PB_CHECK_STR(ha.key, hb.key);
    PB_CHECK_STR(ha.key, hd.key);
    PB_CHECK(strcmp(ha.key, hc.key) != 0); /* data.webhook_id differs: real content */
    pb_hook_free(&ha), pb_hook_free(&hb), pb_hook_free(&hc), pb_hook_free(&hd);
}

/* The byte-at-a-time scan pb_hook_depth_ok used before its strings were skipped with memchr:
 * both must agree on every input, escapes and unterminated strings included. */
static int depth_ok_reference(const char *body, size_t len, int max_depth)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) return 0;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

PB_TEST(ingest_depth_scan_matches_reference)
{
    static const char alphabet[] = "\"\\{}[]a:,\"\\\\\"";
    char buf[64];
    unsigned differ = 0;
    uint64_t x = pb_random_u64() | 1; /* xorshift64: cheap enough for 200k inputs */
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(NEXT() % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[NEXT() % (sizeof alphabet - 1)];
        int depth = (int)(NEXT() % 4);
        if (pb_hook_depth_ok(buf, len, depth) != depth_ok_reference(buf, len, depth)) differ++;
    }
#undef NEXT
    PB_CHECK_EQ_INT(differ, 0);
}

PB_TEST(ingest_key_skips_escaped_quotes_before_webhook_id)
{
    /* Escaped quotes and backslash runs in strings before and inside the volatile members:
     * the key still ignores webhook_id / delivery_id and nothing else. */
    const char *a = "{\"event\": \"issue\", \"action\": \"updated\", \"note\": \"a \\\"webhook_id\\\": \\\\\", "
                    "\"webhook_id\": \"w-\\\"1\\\\\", \"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"k\"}}";
    const char *b = "{\"event\": \"issue\", \"action\": \"updated\", \"note\": \"a \\\"webhook_id\\\": \\\\\", "
                    "\"webhook_id\": \"other\", \"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"k\"}}";
    const char *c = "{\"event\": \"issue\", \"action\": \"updated\", \"note\": \"a \\\"webhook_id\\\": \\\\\", "
                    "\"webhook_id\": \"other\", \"data\": {\"id\": \"" ISSUE_ID "\", \"webhook_id\": \"K\"}}";
    pb_hook ha, hb, hc, hn;
    PB_REQUIRE(pb_hook_parse("acme", a, strlen(a), &ha, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", b, strlen(b), &hb, NULL) == 0);
    PB_REQUIRE(pb_hook_parse("acme", c, strlen(c), &hc, NULL) == 0);
    PB_CHECK_STR(ha.key, hb.key);
    PB_CHECK(strcmp(hb.key, hc.key) != 0); /* a nested webhook_id is data, not volatile */
    /* the worker's parse skips the key, and parses the same otherwise */
    PB_REQUIRE(pb_hook_parse_opts("acme", a, strlen(a), 0, &hn, NULL) == 0);
    PB_CHECK_STR(hn.key, "");
    PB_CHECK_STR(hn.object_id, ha.object_id);
    PB_CHECK_STR(hn.action, ha.action);
    pb_hook_free(&ha), pb_hook_free(&hb), pb_hook_free(&hc), pb_hook_free(&hn);
}
