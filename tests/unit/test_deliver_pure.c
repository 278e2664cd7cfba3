/* Deliveries: signing, retry schedule, SSRF guard and formats (no store). */
#include "test.h"

#include "core/config.h"
#include "core/util.h"
#include "deliver/format.h"
#include "deliver/module.h"
#include "deliver/retry.h"
#include "deliver/sign.h"
#include "deliver/ssrf.h"

#include <stdlib.h>
#include <string.h>

#define S 1000000LL

PB_TEST(deliver_sign_standard_webhooks_vector)
{
    /* The shared known-answer vector of the Standard Webhooks reference libraries. */
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"test\": 2432232314}";
    char sig[PB_SW_SIG_MAX];
    PB_REQUIRE(pb_sw_sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig, sizeof sig) ==
               0);
    PB_CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    PB_CHECK(pb_sw_verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                          "v1,bogus= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    PB_CHECK(!pb_sw_verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig));
    PB_CHECK(!pb_sw_verify(secret, "msg_other", 1614265330, body, strlen(body), sig));
    PB_CHECK(pb_sw_sign("whsec_%%%", "m", 1, "x", 1, sig, sizeof sig) != 0);
}

PB_TEST(deliver_sign_secrets_and_plane)
{
    char s[PB_SW_SECRET_MAX], s2[PB_SW_SECRET_MAX];
    PB_REQUIRE(pb_sw_secret_new(s, sizeof s) == 0);
    PB_REQUIRE(pb_sw_secret_new(s2, sizeof s2) == 0);
    PB_CHECK(strncmp(s, "whsec_", 6) == 0);
    PB_CHECK(strcmp(s, s2) != 0);
    unsigned char key[64];
    PB_CHECK_EQ_INT(pb_base64_decode(s + 6, strlen(s + 6), key, sizeof key), 32);
    char p[64];
    PB_REQUIRE(pb_plane_secret_new(p, sizeof p) == 0);
    PB_CHECK(strncmp(p, "plane_wh_", 9) == 0);
    PB_CHECK_EQ_INT(strlen(p), 9 + 32);
    /* Plane signs hex HMAC-SHA256 of the raw body with the secret's bytes (GitHub's
     * documented vector has the same construction). */
    char hex[65];
    pb_plane_sign("It's a Secret to Everybody", "Hello, World!", 13, hex);
    PB_CHECK_STR(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

PB_TEST(deliver_retry_schedule_and_jitter)
{
    pb_retry_schedule s;
    pb_retry_default(&s);
    PB_CHECK_EQ_INT(s.n, 8);
    static const int64_t want[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    for (int i = 0; i < 8; i++) PB_CHECK_EQ_INT(s.delay_s[i], want[i]);
    /* After attempt k (1..7) the next delay is want[k] +-20 %; after attempt 8 nothing. */
    for (int k = 1; k <= 7; k++) {
        int64_t lo = INT64_MAX, hi = 0;
        for (int t = 0; t < 2000; t++) {
            int64_t dly = pb_retry_next_delay(&s, k, 500, 0, -1, pb_random_u64());
            if (dly < lo) lo = dly;
            if (dly > hi) hi = dly;
        }
        PB_CHECK(lo >= want[k] * S * 8 / 10);
        PB_CHECK(hi <= want[k] * S * 12 / 10);
        PB_CHECK(hi > lo); /* jitter is applied */
    }
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 8, 500, 0, -1, 1), -1);
    PB_CHECK_EQ_INT(pb_retry_jitter(100 * S, 0), 80 * S);
    PB_CHECK_EQ_INT(pb_retry_jitter(100 * S, 65536), 120 * S);
    PB_CHECK(pb_retry_classify(200) == PB_OUTCOME_SUCCESS);
    PB_CHECK(pb_retry_classify(204) == PB_OUTCOME_SUCCESS);
    PB_CHECK(pb_retry_classify(301) == PB_OUTCOME_RETRY);
    PB_CHECK(pb_retry_classify(410) == PB_OUTCOME_GONE);
    PB_CHECK(pb_retry_classify(0) == PB_OUTCOME_RETRY);
    PB_CHECK(pb_retry_parse("0,1,2m", &s) == 0 && s.n == 3 && s.delay_s[2] == 120);
    PB_CHECK(pb_retry_parse("0,,1", &s) != 0);
}

PB_TEST(deliver_retry_after_and_overload)
{
    pb_retry_schedule s;
    pb_retry_default(&s);
    /* r = 32768 gives exactly the scheduled delay (factor 1.0). */
    const uint64_t mid = 32768;
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 2, 500, 0, -1, mid), 300 * S);
    /* Retry-After only counts on 429/502/503/504, clamped to [scheduled, 2 x scheduled]. */
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 2, 503, 0, 3600 * S, mid), 600 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 2, 503, 0, 1 * S, mid), 300 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 2, 502, 0, 450 * S, mid), 450 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 2, 500, 0, 3600 * S, mid), 300 * S);
    /* Timeout and 429 wait at least 60 s. */
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 1, 0, 1, -1, mid), 60 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 1, 429, 0, -1, mid), 60 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 1, 429, 0, 100 * S, mid), 100 * S);
    PB_CHECK_EQ_INT(pb_retry_next_delay(&s, 1, 500, 0, -1, mid), 5 * S);
    int64_t now = 784111777LL * S; /* Sun, 06 Nov 1994 08:49:37 GMT */
    PB_CHECK_EQ_INT(pb_retry_after_parse("120", now), 120 * S);
    PB_CHECK_EQ_INT(pb_retry_after_parse("Sun, 06 Nov 1994 08:51:37 GMT", now), 120 * S);
    PB_CHECK_EQ_INT(pb_retry_after_parse("Sun, 06 Nov 1994 08:40:00 GMT", now), 0);
    PB_CHECK_EQ_INT(pb_retry_after_parse("soon", now), -1);
    PB_CHECK_EQ_INT(pb_retry_after_parse("-5", now), -1);
}

PB_TEST(deliver_ssrf_guard)
{
    pb_ssrf *s = NULL;
    PB_REQUIRE(pb_ssrf_new("", &s, NULL) == 0);
    const char *blocked[] = {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                             "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fd00:ec2::254", "fe80::1",
                             "::ffff:127.0.0.1", "::ffff:8.8.8.8", "64:ff9b::a00:1", "2001:db8::1", "ff02::1",
                             "198.18.0.1", "not-an-ip"};
    for (size_t i = 0; i < sizeof blocked / sizeof *blocked; i++) {
        if (pb_ssrf_addr_allowed(s, blocked[i])) pb_test_fail(__FILE__, __LINE__, "%s allowed", blocked[i]);
    }
    PB_CHECK(pb_ssrf_addr_allowed(s, "8.8.8.8"));
    PB_CHECK(pb_ssrf_addr_allowed(s, "2606:4700:4700::1111"));
    char pin[320];
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://127.0.0.1:9/x", pin, sizeof pin, &err), PB_EFORBIDDEN);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://169.254.169.254/latest/meta-data/", pin, sizeof pin, &err),
                    PB_EFORBIDDEN);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://[fd00:ec2::254]/", pin, sizeof pin, &err), PB_EFORBIDDEN);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://localhost:8080/", pin, sizeof pin, &err), PB_EFORBIDDEN);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "ftp://8.8.8.8/", pin, sizeof pin, &err), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://8.8.8.8/", pin, sizeof pin, &err), 0);
    PB_CHECK_STR(pin, "8.8.8.8:80:8.8.8.8");
    pb_ssrf_free(s);
    PB_REQUIRE(pb_ssrf_new("127.0.0.1/32, ::1", &s, NULL) == 0);
    PB_CHECK_EQ_INT(pb_ssrf_check_url(s, "http://127.0.0.1:9/x", pin, sizeof pin, &err), 0);
    PB_CHECK_STR(pin, "127.0.0.1:9:127.0.0.1");
    PB_CHECK(!pb_ssrf_addr_allowed(s, "127.0.0.2"));
    PB_CHECK(pb_ssrf_addr_allowed(s, "::1"));
    pb_ssrf_free(s);
    PB_CHECK(pb_ssrf_new("10.0.0.0/40", &s, NULL) != 0);
}

PB_TEST(deliver_pyjson_matches_python)
{
    /* json.dumps({"a": "é", "b": [1, 2.5, None, True], "c": "\n\"😀/", "d": {}}) */
    const char *in = "{\"a\":\"\xC3\xA9\",\"b\":[1,2.5,null,true],\"c\":\"\\n\\\"\xF0\x9F\x98\x80/\",\"d\":{}}";
    cJSON *j = pb_json_parse(in, strlen(in));
    PB_REQUIRE(j);
    pb_buf b;
    pb_buf_init(&b, 0);
    PB_REQUIRE(pb_pyjson_dump(j, &b) == 0);
    PB_CHECK_STR(pb_buf_cstr(&b),
                 "{\"a\": \"\\u00e9\", \"b\": [1, 2.5, null, true], \"c\": \"\\n\\\"\\ud83d\\ude00/\", \"d\": {}}");
    cJSON_Delete(j);
    pb_buf_free(&b);
    /* depth limit */
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    PB_CHECK(pb_json_parse(deep, 400) == NULL);
}

PB_TEST(deliver_event_selection_and_plane_events)
{
    PB_CHECK(pb_event_selected("all", "", "issue.created"));
    PB_CHECK(pb_event_selected("individual", "issue.*,project.created", "issue.updated"));
    PB_CHECK(pb_event_selected("individual", "issue.*,project.created", "project.created"));
    PB_CHECK(!pb_event_selected("individual", "issue.*,project.created", "project.deleted"));
    PB_CHECK(!pb_event_selected("individual", "issue.*", "issue_comment.created"));
    PB_CHECK(pb_event_selected("individual", "*", "cycle.started"));
    char ev[32], ac[16];
    PB_CHECK(pb_plane_event("issue.updated", ev, sizeof ev, ac, sizeof ac) && strcmp(ev, "issue") == 0 &&
             strcmp(ac, "updated") == 0);
    PB_CHECK(pb_plane_event("project.deleted", ev, sizeof ev, ac, sizeof ac));
    PB_CHECK(!pb_plane_event("issue.deleted", ev, sizeof ev, ac, sizeof ac));
    PB_CHECK(!pb_plane_event("issue_comment.deleted", ev, sizeof ev, ac, sizeof ac));
    PB_CHECK(!pb_plane_event("issue.assigned", ev, sizeof ev, ac, sizeof ac));
    PB_CHECK(!pb_plane_event("page.created", ev, sizeof ev, ac, sizeof ac));
    PB_CHECK(pb_plane_event("issue_comment.created", ev, sizeof ev, ac, sizeof ac) &&
             strcmp(ev, "issue_comment") == 0);
}

PB_TEST(deliver_plane_envelope_shape)
{
    const char *payload = "{\"type\":\"issue.updated\",\"timestamp\":\"2026-11-21T10:00:00.000000Z\",\"data\":{\"id\":"
                          "\"i1\",\"name\":\"New\",\"priority\":\"high\"},\"previous_attributes\":{\"name\":\"Old\"},"
                          "\"actor\":{\"id\":\"u1\",\"display_name\":\"alice\"}}";
    cJSON *p = pb_json_parse(payload, strlen(payload));
    PB_REQUIRE(p);
    pb_buf spec, env;
    pb_buf_init(&spec, 0);
    pb_buf_init(&env, 0);
    PB_REQUIRE(pb_plane_spec("issue", "updated", "i1", "name", p, &spec) == 0);
    char ev[32];
    PB_REQUIRE(pb_plane_envelope(pb_buf_cstr(&spec), "hook1", "ws1", NULL, &env, ev, sizeof ev) == 0);
    PB_CHECK_STR(ev, "issue");
    PB_CHECK_STR(pb_buf_cstr(&env),
                 "{\"event\": \"issue\", \"action\": \"updated\", \"webhook_id\": \"hook1\", \"workspace_id\": \"ws1\", "
                 "\"data\": {\"id\": \"i1\", \"name\": \"New\", \"priority\": \"high\"}, \"activity\": {\"field\": "
                 "\"name\", \"new_value\": \"New\", \"old_value\": \"Old\", \"actor\": {\"id\": \"u1\", "
                 "\"display_name\": \"alice\"}, \"old_identifier\": null, \"new_identifier\": null}}");
    /* data is the row at send time when the mirror has it */
    pb_buf_reset(&env);
    PB_REQUIRE(pb_plane_envelope(pb_buf_cstr(&spec), "hook1", "ws1", "{\"id\":\"i1\",\"name\":\"Newer\"}", &env, ev,
                                 sizeof ev) == 0);
    PB_CHECK(strstr(pb_buf_cstr(&env), "\"data\": {\"id\": \"i1\", \"name\": \"Newer\"}") != NULL);
    /* project delete: data is {"id": ...} */
    pb_buf_reset(&spec);
    pb_buf_reset(&env);
    PB_REQUIRE(pb_plane_spec("project", "deleted", "p9", NULL, p, &spec) == 0);
    PB_REQUIRE(pb_plane_envelope(pb_buf_cstr(&spec), "h", "w", NULL, &env, ev, sizeof ev) == 0);
    PB_CHECK(strstr(pb_buf_cstr(&env), "\"action\": \"deleted\"") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&env), "\"data\": {\"id\": \"p9\"}") != NULL);
    PB_CHECK(strstr(pb_buf_cstr(&env), "\"field\": null") != NULL);
    cJSON_Delete(p);
    pb_buf_free(&spec);
    pb_buf_free(&env);
}

PB_TEST(deliver_chat_messages)
{
    const char *payload = "{\"type\":\"issue.updated\",\"data\":{\"id\":\"i1\",\"name\":\"Fix <login> & co\","
                          "\"sequence_id\":12,\"priority\":\"high\"},\"previous_attributes\":{\"state\":\"s0\"}}";
    cJSON *p = pb_json_parse(payload, strlen(payload));
    PB_REQUIRE(p);
    pb_chat_ctx cx = {"https://plane.example.com/", "PROJ", "In Progress", "Bob, Carol", "alice"};
    pb_buf b;
    pb_buf_init(&b, 0);
    PB_REQUIRE(pb_chat_body(0, "issue.updated", "acme", "p1", p, &cx, &b) == 0);
    cJSON *j = pb_json_parse(pb_buf_cstr(&b), b.len);
    PB_REQUIRE(j);
    const char *t = cJSON_GetObjectItem(j, "text")->valuestring;
    PB_CHECK(strstr(t, "<https://plane.example.com/acme/projects/p1/issues/i1|PROJ-12 Fix &lt;login&gt; &amp; co>") !=
             NULL);
    PB_CHECK(strstr(t, "issue updated by alice") != NULL);
    PB_CHECK(strstr(t, "State: In Progress") != NULL);
    PB_CHECK(strstr(t, "Assignee: Bob, Carol") != NULL);
    PB_CHECK(strstr(t, "*state*: s0 \xE2\x86\x92 (none)") != NULL);
    cJSON_Delete(j);
    /* Pumble: markdown, no Slack escaping, 10 000 character cap. */
    cJSON *data = cJSON_GetObjectItem(p, "data");
    char *big = malloc(30001);
    for (int i = 0; i < 15000; i++) memcpy(big + 2 * i, "\xC3\xA9", 2); /* 15 000 two-byte characters */
    big[30000] = '\0';
    cJSON_ReplaceItemInObject(data, "name", cJSON_CreateString(big));
    cJSON *prev = cJSON_GetObjectItem(p, "previous_attributes");
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "f%d", i);
        cJSON_AddStringToObject(prev, k, big);
    }
    pb_buf_reset(&b);
    PB_REQUIRE(pb_chat_body(1, "issue.updated", "acme", "p1", p, &cx, &b) == 0);
    j = pb_json_parse(pb_buf_cstr(&b), b.len);
    PB_REQUIRE(j);
    t = cJSON_GetObjectItem(j, "text")->valuestring;
    size_t chars = 0;
    for (const char *q = t; *q; q++)
        if (((unsigned char)*q & 0xC0) != 0x80) chars++;
    PB_CHECK(chars <= 10000);
    PB_CHECK(chars > 9000);
    PB_CHECK(strncmp(t, "**PROJ-12 ", 10) == 0);
    cJSON_Delete(j);
    free(big);
    cJSON_Delete(p);
    pb_buf_free(&b);
    PB_CHECK(pb_chat_url_valid("slack", "https://hooks.slack.com/services/T0/B0/xyz") == 0);
    PB_CHECK(pb_chat_url_valid("slack", "http://hooks.slack.com/services/T0/B0/xyz") != 0);
    PB_CHECK(pb_chat_url_valid("slack", "https://evil.example.com/services/T0") != 0);
    PB_CHECK(pb_chat_url_valid("pumble", "https://api.pumble.com/workspaces/w1/incomingWebhooks/postMessage/abc") ==
             0);
    PB_CHECK(pb_chat_url_valid("pumble", "https://api.pumble.com/other") != 0);
}

PB_TEST(deliver_standard_body_always_json)
{
    pb_buf b;
    pb_buf_init(&b, 0);
    const char *shaped = "{\"type\":\"issue.created\",\"timestamp\":\"t\",\"data\":{\"id\":\"1\"}}";
    PB_REQUIRE(pb_standard_body("issue.created", 0, shaped, &b) == 0);
    PB_CHECK_STR(pb_buf_cstr(&b), shaped); /* as written into the outbox */
    pb_buf_reset(&b);
    PB_REQUIRE(pb_standard_body("issue.created", 0, "{\"id\":\"1\"}", &b) == 0);
    PB_CHECK_STR(pb_buf_cstr(&b),
                 "{\"type\":\"issue.created\",\"timestamp\":\"1970-01-01T00:00:00.000000Z\",\"data\":{\"id\":\"1\"}}");
    PB_CHECK(pb_json_parse("0,720*", 6) == NULL);
    PB_CHECK(pb_json_parse("{} x", 4) == NULL);
    cJSON *ok = pb_json_parse("{} \n", 4);
    PB_CHECK(ok != NULL);
    cJSON_Delete(ok);
    const char *odd[] = {"0,720*", "not json", "{\"a\":", "", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        pb_buf_reset(&b);
        PB_REQUIRE(pb_standard_body("x.y", 0, odd[i], &b) == 0);
        cJSON *j = cJSON_Parse(pb_buf_cstr(&b));
        if (!j) pb_test_fail(__FILE__, __LINE__, "not JSON for input %zu: %s", i, pb_buf_cstr(&b));
        cJSON_Delete(j);
    }
    pb_buf_free(&b);
}

/* The deliveries' settings live in the configuration table: defaults, PB_DELIVER_* environment
 * names, bounds, and a schedule check that agrees with the engine's parser. */
PB_TEST(deliver_settings_come_from_the_config_table)
{
    pb_config c;
    pb_config_defaults(&c);
    pb_deliver_options o;
    pb_deliver_options_from_config(&c, NULL, NULL, &o);
    PB_CHECK_EQ_INT(o.workers, 2);
    PB_CHECK_EQ_INT(o.batch, 64);
    PB_CHECK_EQ_INT(o.lease_s, 60);
    PB_CHECK_EQ_INT(o.timeout_ms, 15000);
    PB_CHECK_EQ_INT(o.poll_ms, 50);
    PB_CHECK_EQ_INT(o.disable_after_s, 5LL * 86400);
    PB_CHECK_EQ_INT(o.retention_days, 30);
    PB_REQUIRE(o.schedule != NULL);
    pb_retry_schedule got, def;
    pb_retry_default(&def);
    PB_REQUIRE(pb_retry_parse(o.schedule, &got) == 0);
    PB_CHECK_EQ_INT(got.n, def.n);
    PB_CHECK(memcmp(got.delay_s, def.delay_s, sizeof def.delay_s) == 0);

    /* The environment names the tests and operators have always used. */
    setenv("PB_DELIVER_SCHEDULE", "0,1,1", 1);
    setenv("PB_DELIVER_LEASE_S", "3", 1);
    setenv("PB_DELIVER_WORKERS", "4", 1);
    setenv("PB_DELIVER_DISABLE_AFTER", "2h", 1);
    pb_error err = {0};
    int rc = pb_config_apply_env(&c, &err);
    unsetenv("PB_DELIVER_SCHEDULE");
    unsetenv("PB_DELIVER_LEASE_S");
    unsetenv("PB_DELIVER_WORKERS");
    unsetenv("PB_DELIVER_DISABLE_AFTER");
    PB_REQUIRE(rc == 0);
    pb_deliver_options_from_config(&c, NULL, NULL, &o);
    PB_CHECK_STR(o.schedule, "0,1,1");
    PB_CHECK_EQ_INT(o.lease_s, 3);
    PB_CHECK_EQ_INT(o.workers, 4);
    PB_CHECK_EQ_INT(o.disable_after_s, 7200);

    /* Bounds and the schedule's shape, with the key named in the error. */
    /* The last one has 33 steps, one more than the engine takes. */
    const char *bad_schedules[] = {"0,5x", "0,,5", "0,31d", "-1",
                                   ("0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                                    "1,1,1,1,1,1,1")};
    for (size_t i = 0; i < sizeof bad_schedules / sizeof *bad_schedules; i++) {
        pb_error e = {0};
        PB_CHECK(pb_config_set(&c, "deliver_schedule", bad_schedules[i], &e) == PB_ECONFIG);
        PB_CHECK_STR(e.field, "deliver_schedule");
        PB_CHECK(pb_retry_parse(bad_schedules[i], &got) != 0); /* the engine agrees */
    }
    PB_CHECK(pb_config_set(&c, "deliver_schedule", "0,5s,5m,30d", &err) == 0);
    PB_CHECK(pb_retry_parse(c.deliver_schedule, &got) == 0 && got.n == 4 && got.delay_s[3] == 30LL * 86400);
    PB_CHECK(pb_config_set(&c, "deliver_schedule", "", &err) == 0);
    pb_deliver_options_from_config(&c, NULL, NULL, &o);
    PB_CHECK(o.schedule == NULL); /* empty: the default ladder */
    PB_CHECK(pb_config_set(&c, "deliver_workers", "0", &err) == PB_ECONFIG);
    PB_CHECK(pb_config_set(&c, "deliver_workers", "33", &err) == PB_ECONFIG);
    PB_CHECK(pb_config_set(&c, "deliver_timeout_ms", "99", &err) == PB_ECONFIG);
    PB_CHECK(pb_config_set(&c, "deliver_lease_s", "5m", &err) == 0 && c.deliver_lease_s == 300);
    PB_CHECK(pb_config_set(&c, "deliver_batch", "1025", &err) == PB_ECONFIG);
    PB_CHECK(pb_config_set(&c, "deliver_poll_ms", "0", &err) == PB_ECONFIG);
}
