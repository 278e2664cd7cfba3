/* The outbound HTTP client (src/http/client.c) against the local receiver: keep-alive,
 * response cap (fail or truncate), redirects not followed, address pinning, headers,
 * concurrent requests, transport errors. */
#include "test.h"
#include "test_deliver_recv.h"

#include "core/util.h"
#include "http/client.h"

#include <stdio.h>
#include <string.h>

PB_TEST(deliver_http_client_basics)
{
    trecv *rx = trecv_start();
    PB_REQUIRE(rx);
    pb_http_client *c = NULL;
    PB_REQUIRE(pb_http_client_new(NULL, &c, NULL) == 0);
    pb_http_response r;
    pb_http_response_init(&r);
    pb_http_header h[] = {{"X-Test", "1"}, {"Content-Type", "application/json"}};
    pb_http_request q = {.url = trecv_url(rx, "/p"), .headers = h, .nheaders = 2, .body = "{\"a\":1}", .body_len = 7};
    trecv_respond(rx, 201, "Retry-After: 7\r\n", "hello");
    PB_CHECK_EQ_INT(pb_http_do(c, &q, &r), 0);
    PB_CHECK_EQ_INT(r.status, 201);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "hello");
    char v[32];
    PB_CHECK_STR(pb_http_response_header(&r, "retry-after", v, sizeof v), "7");
    PB_CHECK(pb_http_response_header(&r, "x-none", v, sizeof v) == NULL);
    trecv_req got;
    PB_REQUIRE(trecv_get(rx, 0, &got) == 0);
    PB_CHECK_STR(got.method, "POST");
    PB_CHECK_STR(got.body, "{\"a\":1}");
    PB_CHECK(trecv_header(&got, "X-Test", v, sizeof v) && strcmp(v, "1") == 0);
    trecv_req_free(&got);

    /* Response cap: fail, or keep the first bytes. */
    trecv_respond(rx, 200, "", "0123456789abcdef");
    q.max_response = 4;
    PB_CHECK_EQ_INT(pb_http_do(c, &q, &r), PB_ETOOBIG);
    q.truncate_response = 1;
    PB_CHECK_EQ_INT(pb_http_do(c, &q, &r), 0);
    PB_CHECK_STR(pb_buf_cstr(&r.body), "0123");
    PB_CHECK_EQ_INT(r.truncated, 1);
    q.max_response = 0;
    q.truncate_response = 0;

    /* A redirect is the answer, not followed. */
    int before = trecv_count(rx);
    trecv_respond(rx, 302, "Location: /elsewhere\r\n", "");
    PB_CHECK_EQ_INT(pb_http_do(c, &q, &r), 0);
    PB_CHECK_EQ_INT(r.status, 302);
    PB_CHECK_EQ_INT(trecv_count(rx), before + 1);

    /* Pinning: a name that does not resolve reaches the pinned address. */
    char url[128], pin[128];
    snprintf(url, sizeof url, "http://pinned.invalid:%d/pin", trecv_port(rx));
    snprintf(pin, sizeof pin, "pinned.invalid:%d:127.0.0.1", trecv_port(rx));
    pb_http_request pq = {.url = url, .resolve = pin, .method = "GET"};
    trecv_respond(rx, 204, "", "");
    PB_CHECK_EQ_INT(pb_http_do(c, &pq, &r), 0);
    PB_CHECK_EQ_INT(r.status, 204);

    /* Many at once over the same client. */
    pb_http_request qs[40];
    pb_http_response rs[40];
    for (int i = 0; i < 40; i++) {
        qs[i] = q;
        pb_http_response_init(&rs[i]);
    }
    trecv_respond(rx, 200, "", "ok");
    PB_CHECK_EQ_INT(pb_http_do_many(c, qs, rs, 40), 0);
    int okc = 0;
    for (int i = 0; i < 40; i++) {
        okc += rs[i].rc == 0 && rs[i].status == 200;
        pb_http_response_free(&rs[i]);
    }
    PB_CHECK_EQ_INT(okc, 40);

    /* Transport error and bad input. */
    pb_http_request bad = {.url = "http://127.0.0.1:1/", .connect_timeout_ms = 1000, .timeout_ms = 2000};
    PB_CHECK_EQ_INT(pb_http_do(c, &bad, &r), PB_ENET);
    PB_CHECK_EQ_INT(r.status, 0);
    PB_CHECK(r.error[0] != '\0');
    pb_http_header evil[] = {{"X-Evil", "a\r\nInjected: 1"}};
    pb_http_request inj = {.url = trecv_url(rx, "/"), .headers = evil, .nheaders = 1};
    PB_CHECK_EQ_INT(pb_http_do(c, &inj, &r), PB_EINVAL);
    pb_http_request ftp = {.url = "ftp://127.0.0.1/"};
    PB_CHECK(pb_http_do(c, &ftp, &r) != 0);

    pb_http_response_free(&r);
    pb_http_client_free(c);
    trecv_stop(rx);
}
