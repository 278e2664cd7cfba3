/* retry: what an attempt's outcome means and when the next attempt happens.
 *
 * Schedule (Standard Webhooks / Svix): attempt 1 immediately, then after 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 27.6 h), each delay with +-20 %
 * jitter. Only 2xx succeeds. 3xx is a failure (redirects are never followed). 410 Gone
 * disables the endpoint at once. A timeout or 429 waits at least 60 s (overload
 * penalty, capped at the longest step). On 429/502/503/504 a Retry-After (seconds or HTTP date) is honoured but clamped
 * to [scheduled delay, 2 x scheduled delay]: a receiver can slow us down, never speed up,
 * and never stretch one step beyond double. Pure functions; no I/O. */
#ifndef PB_DELIVER_RETRY_H
#define PB_DELIVER_RETRY_H

#include <stdint.h>

#define PB_RETRY_MAX_STEPS 32

typedef struct pb_retry_schedule {
    int64_t delay_s[PB_RETRY_MAX_STEPS]; /* delay_s[0] = before attempt 1 (normally 0) */
    int n;                               /* number of attempts */
} pb_retry_schedule;

/* The default 8-attempt schedule. */
void pb_retry_default(pb_retry_schedule *s);
/* Parses "0,5,300,..." (seconds, or durations like 5m, 2h; each step at most 30 days).
 * 0 or PB_EINVAL. */
int pb_retry_parse(const char *text, pb_retry_schedule *s);

typedef enum {
    PB_OUTCOME_SUCCESS = 0, /* 2xx */
    PB_OUTCOME_RETRY,       /* failed, try again per schedule */
    PB_OUTCOME_GONE,        /* 410: disable the endpoint */
} pb_outcome;

/* Classifies an attempt: status 0 means no HTTP answer (transport error or timeout). */
pb_outcome pb_retry_classify(int status);

/* Applies +-20 % jitter to delay_us using r (uniform 64-bit random). */
int64_t pb_retry_jitter(int64_t delay_us, uint64_t r);

/* Parses a Retry-After value relative to now_us: "120" or an IMF-fixdate. Returns the
 * delay in microseconds (>= 0), or -1 if absent/unparseable. */
int64_t pb_retry_after_parse(const char *value, int64_t now_us);

/* Delay in microseconds before the attempt after `attempts_done` attempts (1-based count
 * of attempts already made), or -1 when the schedule is exhausted.
 * status: HTTP status of the failed attempt (0 = none); timed_out: the attempt timed out;
 * retry_after_us: parsed Retry-After or -1; r: random for the jitter. */
int64_t pb_retry_next_delay(const pb_retry_schedule *s, int attempts_done, int status, int timed_out,
                            int64_t retry_after_us, uint64_t r);

#endif
