#include "core/log.h"
#include "core/buf.h"
#include "core/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pb_log_level = PB_LOG_INFO;

static FILE *log_out;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char log_req_id[64];

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

int pb_log_level_parse(const char *s)
{
    for (int i = 0; i <= PB_LOG_OFF; i++)
        if (s && strcmp(s, level_names[i]) == 0) return i;
    if (s && strcmp(s, "warning") == 0) return PB_LOG_WARN;
    return -1;
}

const char *pb_log_level_name(int lvl)
{
    return (lvl >= 0 && lvl <= PB_LOG_OFF) ? level_names[lvl] : "unknown";
}

void pb_log_set_output(FILE *fp)
{
    pthread_mutex_lock(&log_mu);
    log_out = fp;
    pthread_mutex_unlock(&log_mu);
}

void pb_log_set_request_id(const char *id)
{
    pb_strlcpy(log_req_id, id ? id : "", sizeof log_req_id);
}

const char *pb_log_request_id(void)
{
    return log_req_id;
}

/* ---- redaction registry ---- */

#define REDACT_MAX 1024
static pthread_rwlock_t redact_mu = PTHREAD_RWLOCK_INITIALIZER;
static char *redact_list[REDACT_MAX];
static size_t redact_n;

void pb_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < 6) return;
    pthread_rwlock_wrlock(&redact_mu);
    int dup = 0;
    for (size_t i = 0; i < redact_n && !dup; i++) dup = strcmp(redact_list[i], secret) == 0;
    if (!dup) {
        char *copy = strdup(secret);
        if (copy) {
            if (redact_n == REDACT_MAX) { /* oldest goes; keep the most recent secrets */
                free(redact_list[0]);
                memmove(redact_list, redact_list + 1, (REDACT_MAX - 1) * sizeof *redact_list);
                redact_n--;
            }
            redact_list[redact_n++] = copy;
        }
    }
    pthread_rwlock_unlock(&redact_mu);
}

void pb_redact_reset(void)
{
    pthread_rwlock_wrlock(&redact_mu);
    for (size_t i = 0; i < redact_n; i++) free(redact_list[i]);
    redact_n = 0;
    pthread_rwlock_unlock(&redact_mu);
}

static int is_tok(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '+' || c == '/' || c == '=';
}

/* Length of a credential-shaped token starting at s, or 0. */
static size_t shape_len(const char *s, const char *start)
{
    static const char *prefixes[] = {"pb_", "plane_api_", "whsec_", "pln_", "Bearer "};
    if (s > start && is_tok((unsigned char)s[-1])) return 0;
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        size_t pl = strlen(prefixes[p]);
        if (strncmp(s, prefixes[p], pl) != 0) continue;
        size_t n = pl;
        while (s[n] && is_tok((unsigned char)s[n])) n++;
        if (n - pl >= 16) return n; /* short tails are identifiers like "pb_store", not keys */
    }
    return 0;
}

void pb_redact(const char *in, char *out, size_t outlen)
{
    static const char mask[] = "[REDACTED]";
    if (!outlen) return;
    size_t o = 0;
    pthread_rwlock_rdlock(&redact_mu);
    for (const char *p = in ? in : ""; *p && o + 1 < outlen;) {
        size_t hit = shape_len(p, in);
        for (size_t i = 0; !hit && i < redact_n; i++) {
            size_t l = strlen(redact_list[i]);
            if (strncmp(p, redact_list[i], l) == 0) hit = l;
        }
        if (hit) {
            for (size_t m = 0; mask[m] && o + 1 < outlen; m++) out[o++] = mask[m];
            p += hit;
        } else {
            out[o++] = *p++;
        }
    }
    pthread_rwlock_unlock(&redact_mu);
    out[o] = '\0';
}

/* ---- emit ---- */

void pb_log_emit(int lvl, const char *msg, const pb_logf *f, size_t nf)
{
    pb_buf line;
    pb_buf_init(&line, 64 * 1024);
    char ts[40];
    pb_time_iso(pb_now_us(), ts, sizeof ts);
    pb_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, pb_log_level_name(lvl));
    pb_buf_json_str(&line, msg);
    if (log_req_id[0]) {
        pb_buf_puts(&line, ",\"req\":");
        pb_buf_json_str(&line, log_req_id);
    }
    for (size_t i = 0; i < nf; i++) {
        pb_buf_putc(&line, ',');
        pb_buf_json_str(&line, f[i].k);
        pb_buf_putc(&line, ':');
        switch (f[i].type) {
        case 1: pb_buf_json_str(&line, f[i].s); break;
        case 2: pb_buf_printf(&line, "%lld", f[i].i); break;
        case 3: pb_buf_printf(&line, "%.3f", f[i].d); break;
        case 4: pb_buf_puts(&line, f[i].i ? "true" : "false"); break;
        default: pb_buf_puts(&line, f[i].s ? f[i].s : "null"); break;
        }
    }
    pb_buf_puts(&line, "}\n");
    /* Redact the whole line once: covers message, every field and the request id. */
    size_t cap = line.len * 2 + 16; /* the mask may be longer than a short secret */
    char *red = malloc(cap);
    if (red) {
        pb_redact(pb_buf_cstr(&line), red, cap);
        pthread_mutex_lock(&log_mu);
        FILE *fp = log_out ? log_out : stderr;
        fputs(red, fp);
        fflush(fp);
        pthread_mutex_unlock(&log_mu);
        free(red);
    }
    pb_buf_free(&line);
}
