/* libFuzzer target: the outbound-delivery side's parsers and formatters (src/deliver):
 * Retry-After values, retry schedules, URL splitting and chat-URL validation, the SSRF
 * address guard and allowlist parser, event selection, and the body builders (Python-style
 * JSON dump, standard body, Plane spec + envelope, Slack/Pumble bodies) over a fuzzed payload.
 * No I/O: nothing resolves names or sends anything.
 *
 * Input layout, '\n'-separated: Retry-After / schedule / URL / address / event type /
 * events list / payload JSON (rest). Invariants: Retry-After is -1 or >= 0; a parsed schedule
 * has 1..32 non-negative steps and next delays are -1 or >= 0; an accepted host is
 * lower-case with a port in 1..65535; the guard (no allowlist) never admits a loopback,
 * private, link-local, CGNAT, multicast, unspecified or v4-mapped address; every body is
 * valid JSON, the Python dump is pure ASCII, a Pumble text has at most 10000 characters. */
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "deliver/format.h"
#include "deliver/retry.h"
#include "deliver/ssrf.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undefined behaviour is a finding too: stop at the first report (the fuzz build's UBSan
 * checks are recoverable, so without this a report scrolls by and the run "passes"). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

#define NOW 1795000000000000LL /* a fixed clock: 2026-11-18 */

static char *line(const char **p, const char *end)
{
    if (!*p || *p > end) return NULL;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl ? nl : end;
    size_t n = (size_t)(e - *p);
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : NULL;
    return s;
}

static void must_json(const pb_buf *b, const char *what)
{
    if (!b->len) return;
    cJSON *j = cJSON_ParseWithOpts(pb_buf_cstr(b), NULL, 1); /* the whole body, nothing after it */
    if (!j) {
        fprintf(stderr, "%s is not JSON: %s\n", what, pb_buf_cstr(b));
        abort();
    }
    cJSON_Delete(j);
}

/* 1 when an address must never be admitted without an allowlist. */
static int forbidden(const char *a)
{
    unsigned char v4[4], v6[16];
    if (inet_pton(AF_INET, a, v4) == 1) {
        uint32_t x = (uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 | (uint32_t)v4[2] << 8 | v4[3];
        return v4[0] == 0 || v4[0] == 10 || v4[0] == 127 || (x & 0xffc00000u) == 0x64400000u ||
               (x & 0xffff0000u) == 0xa9fe0000u || (x & 0xfff00000u) == 0xac100000u ||
               (x & 0xffff0000u) == 0xc0a80000u || v4[0] >= 224;
    }
    if (inet_pton(AF_INET6, a, v6) == 1) {
        static const unsigned char zero[16];
        if (memcmp(v6, zero, 15) == 0 && v6[15] <= 1) return 1;             /* :: and ::1 */
        if ((v6[0] & 0xfe) == 0xfc) return 1;                                /* fc00::/7 */
        if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) return 1;               /* fe80::/10 */
        if (v6[0] == 0xff) return 1;                                         /* multicast */
        if (memcmp(v6, zero, 10) == 0 && v6[10] == 0xff && v6[11] == 0xff) return 1; /* v4-mapped */
        return 0;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_log_level = PB_LOG_OFF;
    if (size > 64 * 1024) return 0;
    const char *p = (const char *)data, *end = p + size;
    char *ra = line(&p, end), *sched = line(&p, end), *url = line(&p, end), *addr = line(&p, end);
    char *type = line(&p, end), *events = line(&p, end);
    size_t plen = p ? (size_t)(end - p) : 0;
    char *payload = malloc(plen + 1);
    if (!payload) abort();
    if (plen) memcpy(payload, p, plen);
    payload[plen] = '\0';

    if (ra) {
        int64_t d = pb_retry_after_parse(ra, NOW);
        if (d < -1) abort();
    }
    pb_retry_schedule s;
    if (sched && pb_retry_parse(sched, &s) == 0) {
        if (s.n < 1 || s.n > PB_RETRY_MAX_STEPS) abort();
        for (int i = 0; i < s.n; i++)
            if (s.delay_s[i] < 0) abort();
        static const int statuses[] = {0, 200, 302, 410, 429, 500, 503};
        for (int i = 1; i <= s.n + 1; i++) {
            int st = statuses[(size_t)i % (sizeof statuses / sizeof *statuses)];
            int64_t d = pb_retry_next_delay(&s, i, st, i & 1, (i & 2) ? 120000000 : -1, (uint64_t)i * 0x9e3779b97f4a7c15ULL);
            if (d < -1) abort();
        }
    }
    if (url) {
        char host[256];
        int port = 0, https = 0;
        if (pb_url_host_port(url, host, sizeof host, &port, &https) == 0) {
            if (port < 1 || port > 65535) abort();
            for (const char *c = host; *c; c++)
                if (*c >= 'A' && *c <= 'Z') abort();
        }
        (void)pb_chat_url_valid("slack", url);
        (void)pb_chat_url_valid("pumble", url);
    }
    if (addr) {
        static pb_ssrf *guard;
        if (!guard && pb_ssrf_new(NULL, &guard, NULL) != 0) abort();
        if (pb_ssrf_addr_allowed(guard, addr) && forbidden(addr)) {
            fprintf(stderr, "SSRF guard admitted '%s'\n", addr);
            abort();
        }
        pb_ssrf *allow = NULL;
        if (pb_ssrf_new(addr, &allow, NULL) == 0) (void)pb_ssrf_addr_allowed(allow, "10.1.2.3");
        pb_ssrf_free(allow);
    }
    if (type) {
        char ev[64], act[64];
        (void)pb_event_selected("individual", events ? events : "*", type);
        (void)pb_event_selected("all", events ? events : "", type);
        (void)pb_plane_event(type, ev, sizeof ev, act, sizeof act);
    }

    const char *ty = type && *type ? type : "issue.updated";
    pb_buf b;
    char evh[64];
    /* Any payload text (JSON or not) gives a body that is exactly one JSON value. */
    pb_buf_init(&b, 4u << 20);
    if (pb_standard_body(ty, NOW, payload, &b) == 0) must_json(&b, "standard body");
    pb_buf_free(&b);
    pb_buf_init(&b, 4u << 20);
    if (pb_plane_envelope(payload, "wh-1", "ws-1", NULL, &b, evh, sizeof evh) == 0) must_json(&b, "envelope");
    pb_buf_free(&b);

    cJSON *j = pb_json_parse(payload, plen);
    if (j) {
        pb_buf_init(&b, 4u << 20);
        if (pb_pyjson_dump(j, &b) == 0) {
            must_json(&b, "python dump");
            for (size_t i = 0; i < b.len; i++)
                if ((unsigned char)b.data[i] >= 0x80) abort(); /* ensure_ascii */
        }
        pb_buf_free(&b);

        char ev[64], act[64];
        pb_buf spec;
        pb_buf_init(&spec, 4u << 20);
        if (pb_plane_event(ty, ev, sizeof ev, act, sizeof act) == 1 &&
            pb_plane_spec(ev, act, "00000000-0000-4000-8000-000000000001", events && *events ? events : NULL, j,
                          &spec) == 0) {
            must_json(&spec, "plane spec");
            pb_buf_init(&b, 4u << 20);
            if (pb_plane_envelope(pb_buf_cstr(&spec), "wh-1", "ws-1", (plen & 1) ? payload : NULL, &b, evh,
                                  sizeof evh) == 0)
                must_json(&b, "plane envelope");
            pb_buf_free(&b);
        }
        pb_buf_free(&spec);

        pb_chat_ctx cx = {.public_url = (plen & 2) ? "https://plane.example.com" : "",
                          .project_ident = "FUZ",
                          .state_name = events ? events : "",
                          .assignees = addr ? addr : "",
                          .actor = url ? url : ""};
        for (int pumble = 0; pumble < 2; pumble++) {
            pb_buf_init(&b, 4u << 20);
            if (pb_chat_body(pumble, ty, "acme", "00000000-0000-4000-8000-000000000002", j, &cx, &b) == 0) {
                must_json(&b, "chat body");
                cJSON *cj = cJSON_ParseWithLength(b.data, b.len);
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(cj, "text");
                if (pumble && cJSON_IsString(t)) {
                    size_t chars = 0;
                    for (const unsigned char *c = (const unsigned char *)t->valuestring; *c; c++)
                        chars += (*c & 0xc0) != 0x80;
                    if (chars > PB_PUMBLE_MAX_CHARS) abort();
                }
                cJSON_Delete(cj);
            }
            pb_buf_free(&b);
        }
        cJSON_Delete(j);
    }
    free(ra);
    free(sched);
    free(url);
    free(addr);
    free(type);
    free(events);
    free(payload);
    return 0;
}
