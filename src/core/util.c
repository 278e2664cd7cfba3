#include "core/util.h"
#include "core/err.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t pb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pb_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t pb_mono_ms(void)
{
    return pb_mono_ns() / 1000000;
}

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch. */
#define PB_TIME_MIN_S (-62135596800LL)
#define PB_TIME_MAX_S (253402300799LL)

void pb_time_iso(int64_t us, char *out, size_t outlen)
{
    /* Clamp to the four-digit-year range so the output always parses back. */
    if (us < PB_TIME_MIN_S * 1000000) us = PB_TIME_MIN_S * 1000000;
    if (us > PB_TIME_MAX_S * 1000000 + 999999) us = PB_TIME_MAX_S * 1000000 + 999999;
    /* Floor division without the overflow (us - 999999) would have at INT64_MIN. */
    int64_t secs = us / 1000000;
    int64_t rem = us % 1000000;
    if (rem < 0) {
        secs--;
        rem += 1000000;
    }
    long frac = (long)rem;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) { /* outside what struct tm can hold */
        if (outlen) snprintf(out, outlen, "%s", us < 0 ? "0000-01-01T00:00:00.000000Z" : "9999-12-31T23:59:59.999999Z");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_date(const char *s, int *y, int *m, int *d)
{
    if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) || s[7] != '-' || digits(s + 8, 2, d))
        return PB_EPARSE;
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m)) return PB_EPARSE;
    return 0;
}

int pb_date_valid(const char *s)
{
    int y, m, d;
    if (!s || strlen(s) != 10) return PB_EPARSE;
    return parse_date(s, &y, &m, &d);
}

int pb_time_parse(const char *s, int64_t *us_out)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    long frac = 0;
    if (!s || strlen(s) < 10 || parse_date(s, &y, &mo, &d)) return PB_EPARSE;
    const char *p = s + 10;
    int64_t off_s = 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi)) return PB_EPARSE;
        p += 5;
        if (*p == ':') {
            if (digits(p + 1, 2, &se)) return PB_EPARSE;
            p += 3;
        }
        if (h > 23 || mi > 59 || se > 60) return PB_EPARSE;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (*p >= '0' && *p <= '9') {
                if (nd < 6) frac = frac * 10 + (*p - '0');
                nd++;
                p++;
            }
            if (nd == 0) return PB_EPARSE;
            for (; nd < 6; nd++) frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            if (digits(p + 1, 2, &oh)) return PB_EPARSE;
            p += 3;
            if (*p == ':') p++;
            if (*p && digits(p, 2, &om)) return PB_EPARSE;
            if (*p) p += 2;
            if (oh > 23 || om > 59) return PB_EPARSE;
            off_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p) return PB_EPARSE;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_s;
    /* An offset can push 0001-01-01 or 9999-12-31 out of the range pb_time_iso can write
     * back; refuse those so every accepted timestamp round-trips. */
    if (secs < PB_TIME_MIN_S || secs > PB_TIME_MAX_S) return PB_EPARSE;
    *us_out = secs * 1000000 + frac;
    return 0;
}

int pb_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return PB_EIO;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

uint64_t pb_random_u64(void)
{
    uint64_t v = 0;
    if (pb_random_bytes(&v, sizeof v)) v = (uint64_t)pb_mono_ns() * 0x9E3779B97F4A7C15ull;
    return v;
}

int pb_uuid4(char out[37])
{
    unsigned char b[16];
    int rc = pb_random_bytes(b, sizeof b);
    if (rc) return rc;
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return 0;
}

int pb_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

void pb_hex_encode(const void *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int pb_hex_decode(const char *in, size_t inlen, void *out, size_t n)
{
    if (inlen != 2 * n) return PB_EPARSE;
    unsigned char *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return PB_EPARSE;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pb_base64_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

long pb_base64_decode(const char *in, size_t inlen, void *out, size_t outcap)
{
    unsigned char *o = out;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < inlen; i++) {
        char c = in[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad) return PB_EPARSE;
        const char *q = c ? strchr(b64, c) : NULL;
        if (!q) return PB_EPARSE;
        acc = acc << 6 | (uint32_t)(q - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= outcap) return PB_ETOOBIG;
            o[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2 || (inlen % 4 && pad)) return PB_EPARSE;
    return (long)n;
}

int pb_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        /* Still touch the data so timing does not reveal the early exit on content. */
        (void)CRYPTO_memcmp(a, a, alen);
        return 0;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}

size_t pb_strlcpy(char *dst, const char *src, size_t dstlen)
{
    size_t n = strlen(src);
    if (dstlen) {
        size_t c = n < dstlen - 1 ? n : dstlen - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int pb_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s) return PB_EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max) return PB_EINVAL;
    *out = v;
    return 0;
}

int pb_parse_duration_s(const char *s, int64_t *seconds)
{
    if (!s || !*s) return PB_EINVAL;
    char num[32];
    size_t n = strlen(s);
    if (n >= sizeof num) return PB_EINVAL;
    memcpy(num, s, n + 1);
    int64_t mult = 1;
    char last = num[n - 1];
    if (last == 's' || last == 'm' || last == 'h' || last == 'd' || last == 'w') {
        mult = last == 's' ? 1 : last == 'm' ? 60 : last == 'h' ? 3600 : last == 'd' ? 86400 : 604800;
        num[n - 1] = '\0';
    }
    int64_t v;
    if (pb_parse_i64(num, 0, INT64_MAX / 604800, &v)) return PB_EINVAL;
    *seconds = v * mult;
    return 0;
}

int pb_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int rc = 0;
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    if (!fp) return PB_EIO;
    size_t cap = 4096, n = 0;
    data = malloc(cap);
    if (!data) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) {
                rc = PB_ETOOBIG;
                goto out;
            }
            char *p = realloc(data, cap * 2);
            if (!p) {
                rc = PB_ENOMEM;
                goto out;
            }
            data = p;
            cap *= 2;
        }
        size_t r = fread(data + n, 1, cap - n - 1, fp);
        if (r == 0) break;
        n += r;
        if (n > max) {
            rc = PB_ETOOBIG;
            goto out;
        }
    }
    if (ferror(fp)) {
        rc = PB_EIO;
        goto out;
    }
    data[n] = '\0';
    *out = data;
    if (len) *len = n;
    data = NULL;
out:
    free(data);
    fclose(fp);
    return rc;
}
