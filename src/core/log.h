/* log: JSON-lines logging through one level-guarded macro, and the secret redactor.
 *
 * Only the daemon and CLI front-ends log; library modules return errors instead.
 * Every line is one JSON object: {"ts":..., "level":..., "msg":..., "req":..., fields...}.
 * Arguments of a suppressed level are not evaluated (the macro checks the level first).
 *
 * Redaction: a secret registered once with pb_redact_register() is replaced by
 * "[REDACTED]" in every log line and every pb_error message from then on. Known credential
 * shapes (planebridge API keys "pb_...", Plane keys "plane_api_...", "whsec_...", Bearer
 * tokens) are masked even when not registered. The registry is process-wide and thread-safe. */
#ifndef PB_CORE_LOG_H
#define PB_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pb_log_level { PB_LOG_DEBUG = 0, PB_LOG_INFO = 1, PB_LOG_WARN = 2, PB_LOG_ERROR = 3, PB_LOG_OFF = 4 };

extern int pb_log_level; /* lines below this level are dropped before formatting */

typedef struct pb_logf {
    const char *k;
    int type; /* 1 string, 2 integer, 3 double, 4 bool, 5 raw JSON */
    const char *s;
    long long i;
    double d;
} pb_logf;

#define PB_LS(key, v) ((pb_logf){(key), 1, (v), 0, 0})
#define PB_LI(key, v) ((pb_logf){(key), 2, NULL, (long long)(v), 0})
#define PB_LD(key, v) ((pb_logf){(key), 3, NULL, 0, (double)(v)})
#define PB_LB(key, v) ((pb_logf){(key), 4, NULL, (v) ? 1 : 0, 0})
#define PB_LJ(key, v) ((pb_logf){(key), 5, (v), 0, 0})

/* PB_LOG(level, "message", PB_LS("key", value), PB_LI("n", 3)...) */
#define PB_LOG(lvl, msg, ...)                                                                        \
    do {                                                                                             \
        if ((lvl) >= pb_log_level) {                                                                 \
            const pb_logf pb_lf_[] = {{NULL, 0, NULL, 0, 0}, ##__VA_ARGS__};                         \
            pb_log_emit((lvl), (msg), pb_lf_ + 1, sizeof pb_lf_ / sizeof pb_lf_[0] - 1);             \
        }                                                                                            \
    } while (0)

void pb_log_emit(int lvl, const char *msg, const pb_logf *f, size_t nf);
/* Parses "debug|info|warn|error|off"; returns the level or -1. */
int pb_log_level_parse(const char *s);
const char *pb_log_level_name(int lvl);
/* Sends log lines to fp (default stderr). Not owned. */
void pb_log_set_output(FILE *fp);
/* Per-thread request id attached to every line as "req" (NULL clears). Copied. */
void pb_log_set_request_id(const char *id);
const char *pb_log_request_id(void);

/* Registers a secret (copied; ignored if shorter than 6 bytes). Thread-safe. */
void pb_redact_register(const char *secret);
/* Copies in to out (always NUL-terminated, truncated to outlen) with secrets masked. */
void pb_redact(const char *in, char *out, size_t outlen);
/* Drops every registered secret (tests). */
void pb_redact_reset(void);
/* Formats fmt/ap and writes it to out (always NUL-terminated, truncated to outlen) with
 * secrets masked. The whole formatted text (up to 64 KiB) is redacted BEFORE it is cut to
 * outlen, so a secret straddling the limit cannot leave its first bytes behind. */
void pb_redact_vformat(char *out, size_t outlen, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
