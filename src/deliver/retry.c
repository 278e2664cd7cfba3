/* retry: see retry.h. */
#include "deliver/retry.h"

#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_US 1000000LL
#define OVERLOAD_PENALTY_US (60 * S_US)
#define MAX_STEP_S (30LL * 86400)      /* a schedule step is at most 30 days */
#define MAX_DELAY_US (400LL * 86400 * S_US) /* arithmetic bound: no overflow below 2^63 */

void pb_retry_default(pb_retry_schedule *s)
{
    static const int64_t d[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    memset(s, 0, sizeof *s);
    s->n = (int)(sizeof d / sizeof *d);
    for (int i = 0; i < s->n; i++) s->delay_s[i] = d[i];
}

int pb_retry_parse(const char *text, pb_retry_schedule *s)
{
    pb_retry_schedule t;
    memset(&t, 0, sizeof t);
    const char *p = text;
    while (*p) {
        char item[32];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof item || t.n >= PB_RETRY_MAX_STEPS) return PB_EINVAL;
        memcpy(item, p, n);
        item[n] = '\0';
        int64_t v;
        if (pb_parse_duration_s(item, &v) || v < 0 || v > MAX_STEP_S) return PB_EINVAL;
        t.delay_s[t.n++] = v;
        p += n;
        if (*p == ',') p++;
    }
    if (t.n == 0) return PB_EINVAL;
    *s = t;
    return 0;
}

pb_outcome pb_retry_classify(int status)
{
    if (status >= 200 && status < 300) return PB_OUTCOME_SUCCESS;
    if (status == 410) return PB_OUTCOME_GONE;
    return PB_OUTCOME_RETRY;
}

int64_t pb_retry_jitter(int64_t delay_us, uint64_t r)
{
    if (delay_us <= 0) return 0;
    if (delay_us > MAX_DELAY_US) delay_us = MAX_DELAY_US;
    /* factor in [0.8, 1.2] with 1/65536 resolution */
    int64_t f = (int64_t)(r % 65537); /* 0..65536 */
    return delay_us * 4 / 5 + (delay_us * 2 / 5) * f / 65536;
}

static int month_index(const char *m)
{
    static const char *names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strncmp(m, names[i], 3) == 0) return i;
    return -1;
}

int64_t pb_retry_after_parse(const char *value, int64_t now_us)
{
    if (!value) return -1;
    while (*value == ' ') value++;
    if (!*value) return -1;
    int64_t secs;
    if (pb_parse_i64(value, 0, 10LL * 365 * 86400, &secs) == 0) return secs * S_US;
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    char wd[4], mon[4], tz[4];
    int d, y, hh, mm, ss;
    if (sscanf(value, "%3s, %d %3s %d %d:%d:%d %3s", wd, &d, mon, &y, &hh, &mm, &ss, tz) != 8) return -1;
    int mi = month_index(mon);
    if (mi < 0 || strcmp(tz, "GMT") != 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
    char iso[64];
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mi + 1, d, hh, mm, ss > 59 ? 59 : ss);
    int64_t at;
    if (pb_time_parse(iso, &at)) return -1;
    return at > now_us ? at - now_us : 0;
}

int64_t pb_retry_next_delay(const pb_retry_schedule *s, int attempts_done, int status, int timed_out,
                            int64_t retry_after_us, uint64_t r)
{
    if (attempts_done < 0 || attempts_done >= s->n) return -1;
    int64_t step = s->delay_s[attempts_done];
    if (step > MAX_DELAY_US / S_US) step = MAX_DELAY_US / S_US;
    int64_t base = pb_retry_jitter(step * S_US, r);
    if (timed_out || status == 429) {
        /* Overload penalty, never longer than the schedule's longest step (so a shortened
         * test schedule stays short). */
        int64_t pen = OVERLOAD_PENALTY_US, longest = 0;
        for (int i = 0; i < s->n; i++) {
            int64_t st = s->delay_s[i] > MAX_DELAY_US / S_US ? MAX_DELAY_US : s->delay_s[i] * S_US;
            if (st > longest) longest = st;
        }
        if (pen > longest) pen = longest;
        if (base < pen) base = pen;
    }
    if (retry_after_us >= 0 && (status == 429 || status == 502 || status == 503 || status == 504)) {
        int64_t d = retry_after_us > MAX_DELAY_US ? MAX_DELAY_US : retry_after_us;
        if (d < base) d = base;
        if (d > 2 * base) d = 2 * base;
        base = d;
    }
    return base;
}
