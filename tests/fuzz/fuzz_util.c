/* libFuzzer target: the core decoders of untrusted text (core/util): pb_time_parse,
 * pb_date_valid, pb_hex_decode, pb_base64_decode, pb_parse_i64, pb_parse_duration_s,
 * pb_uuid_valid.
 *
 * The input is one string (exact-size heap copies, NUL-terminated where the API takes a C
 * string). Invariants: a parsed time formats (pb_time_iso) to text that parses back to the
 * same instant; a valid date parses as a time at midnight UTC; hex and base64 decoding
 * round-trip through their encoders and never write past the output capacity; parsed
 * integers respect their bounds. */
#include "core/err.h"
#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undefined behaviour is a finding too: stop at the first report (the fuzz build's UBSan
 * checks are recoverable, so without this a report scrolls by and the run "passes"). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    char *raw = malloc(size ? size : 1); /* no terminator: for the (ptr, len) decoders */
    if (!raw) abort();
    if (size) memcpy(raw, data, size);

    int64_t us = 0;
    if (pb_time_parse(s, &us) == 0) {
        char iso[64];
        pb_time_iso(us, iso, sizeof iso);
        int64_t back = 0;
        if (pb_time_parse(iso, &back) != 0 || back != us) {
            fprintf(stderr, "time round trip: '%s' -> %lld -> '%s' -> %lld\n", s, (long long)us, iso,
                    (long long)back);
            abort();
        }
    }
    if (pb_date_valid(s) == 0) {
        if (pb_time_parse(s, &us) != 0 || us % (86400LL * 1000000) != 0) abort();
    }
    (void)pb_uuid_valid(s);

    /* hex: decode to exactly n bytes; the buffer is n bytes so any overflow is caught */
    size_t n = size / 2;
    unsigned char *h = malloc(n ? n : 1);
    if (!h) abort();
    if (pb_hex_decode(raw, size, h, n) == 0) {
        char *enc = malloc(2 * n + 1);
        if (!enc) abort();
        pb_hex_encode(h, n, enc);
        if (strncasecmp(enc, raw, 2 * n) != 0) abort();
        free(enc);
    }
    free(h);

    /* base64: with an exact-size output buffer and with a too-small one */
    size_t cap = size / 4 * 3 + 3;
    unsigned char *b = malloc(cap);
    if (!b) abort();
    long bl = pb_base64_decode(raw, size, b, cap);
    if (bl > (long)cap) abort();
    if (bl >= 0) {
        char *enc = malloc(4 * (((size_t)bl + 2) / 3) + 1);
        if (!enc) abort();
        pb_base64_encode(b, (size_t)bl, enc);
        unsigned char *b2 = malloc(cap);
        if (!b2) abort();
        long bl2 = pb_base64_decode(enc, strlen(enc), b2, cap);
        if (bl2 != bl || memcmp(b, b2, (size_t)bl) != 0) abort();
        free(b2);
        free(enc);
        if (bl > 1) {
            unsigned char *small = malloc((size_t)bl - 1);
            if (!small) abort();
            long r = pb_base64_decode(raw, size, small, (size_t)bl - 1);
            if (r >= 0 && r > bl - 1) abort();
            free(small);
        }
    }
    free(b);

    int64_t v = 0;
    if (pb_parse_i64(s, -1000, 1000, &v) == 0 && (v < -1000 || v > 1000)) abort();
    if (pb_parse_i64(s, INT64_MIN, INT64_MAX, &v) == 0) {
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)v);
        int64_t w = 0;
        if (pb_parse_i64(t, INT64_MIN, INT64_MAX, &w) != 0 || w != v) abort();
    }
    if (pb_parse_duration_s(s, &v) == 0 && v < 0) abort();

    free(raw);
    free(s);
    return 0;
}
