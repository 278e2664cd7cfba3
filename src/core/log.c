#include "core/log.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pb_log_level = PB_LOG_INFO;

static FILE *log_out;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char log_req_id[80];

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
/* First bytes that can start a secret or a credential shape: most bytes of a line are
 * rejected with one table lookup, which keeps redaction cheap on the access-log path. */
static unsigned char redact_first[256] = {['p'] = 1, ['w'] = 1, ['B'] = 1};

/* Caller holds redact_mu for writing. (pb_redact used to rebuild the table lazily under the
 * read lock, a data race between concurrent loggers; the static initializer makes that
 * unnecessary.) */
static void redact_first_rebuild(void)
{
    memset(redact_first, 0, sizeof redact_first);
    redact_first['p'] = redact_first['w'] = redact_first['B'] = 1;
    for (size_t i = 0; i < redact_n; i++) redact_first[(unsigned char)redact_list[i][0]] = 1;
}

/* Caller holds redact_mu for writing. */
static void redact_add_locked(const char *secret)
{
    int dup = 0;
    for (size_t i = 0; i < redact_n && !dup; i++) dup = strcmp(redact_list[i], secret) == 0;
    if (dup) return;
    char *copy = strdup(secret);
    if (!copy) return;
    if (redact_n == REDACT_MAX) { /* oldest goes; keep the most recent secrets */
        free(redact_list[0]);
        memmove(redact_list, redact_list + 1, (REDACT_MAX - 1) * sizeof *redact_list);
        redact_n--;
    }
    redact_list[redact_n++] = copy;
    redact_first_rebuild();
}

void pb_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < 6) return;
    /* Log lines are JSON-escaped before they are redacted: a secret holding a quote,
     * backslash or control character appears there in its escaped form, so that form is
     * registered too. */
    pb_buf esc;
    pb_buf_init(&esc, 64 * 1024);
    int have_esc = pb_buf_json_str(&esc, secret) == 0 && esc.len >= 2;
    pthread_rwlock_wrlock(&redact_mu);
    redact_add_locked(secret);
    if (have_esc) {
        esc.data[esc.len - 1] = '\0'; /* drop the quotes */
        if (strcmp(esc.data + 1, secret) != 0) redact_add_locked(esc.data + 1);
    }
    pthread_rwlock_unlock(&redact_mu);
    if (esc.data) memset(esc.data, 0, esc.cap);
    pb_buf_free(&esc);
}

void pb_redact_reset(void)
{
    pthread_rwlock_wrlock(&redact_mu);
    for (size_t i = 0; i < redact_n; i++) free(redact_list[i]);
    redact_n = 0;
    redact_first_rebuild();
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
        if (!redact_first[(unsigned char)*p]) {
            out[o++] = *p++;
            continue;
        }
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

void pb_redact_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
{
    char stack[1024];
    char *raw = stack;
    va_list ap2;
    if (!out || !outlen) return;
    va_copy(ap2, ap);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    if (n < 0) {
        stack[0] = '\0';
    } else if ((size_t)n >= sizeof stack) {
        size_t want = (size_t)n + 1 > 64 * 1024 ? 64 * 1024 : (size_t)n + 1;
        char *p = malloc(want);
        if (p) {
            vsnprintf(p, want, fmt, ap2);
            raw = p;
        }
    }
    va_end(ap2);
    pb_redact(raw, out, outlen);
    if (raw != stack) {
        memset(raw, 0, strlen(raw));
        free(raw);
    }
    memset(stack, 0, sizeof stack);
}

/* ---- emit ---- */

/* Per-thread line buffers, reused across lines (no malloc per line in the steady state) and
 * freed by the key destructor when the thread exits. */
typedef struct log_tls {
    pb_buf line;
    char *red;
    size_t red_cap;
} log_tls;

static pthread_key_t log_key;
static pthread_once_t log_key_once = PTHREAD_ONCE_INIT;

static void log_tls_free(void *p)
{
    log_tls *t = p;
    pb_buf_free(&t->line);
    free(t->red);
    free(t);
}

static void log_key_init(void)
{
    pthread_key_create(&log_key, log_tls_free);
}

static log_tls *log_tls_get(void)
{
    pthread_once(&log_key_once, log_key_init);
    log_tls *t = pthread_getspecific(log_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return NULL;
        pb_buf_init(&t->line, 64 * 1024);
        pthread_setspecific(log_key, t);
    }
    return t;
}

void pb_log_emit(int lvl, const char *msg, const pb_logf *f, size_t nf)
{
    log_tls *t = log_tls_get();
    if (!t) return;
    pb_buf line = t->line; /* work on a copy, stored back below */
    char *red = t->red;
    size_t red_cap = t->red_cap;
    pb_buf_reset(&line);
    /* Fields are built under a lower ceiling and each one is appended whole or not at all,
     * so an oversized field never leaves a line without its closing "}\n" (which would glue
     * two JSON lines together) nor half a field. */
    size_t full_max = line.max;
    line.max = full_max - 64;
    char ts[40];
    pb_time_iso(pb_now_us(), ts, sizeof ts);
    pb_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, pb_log_level_name(lvl));
    size_t mark = line.len;
    int rc = pb_buf_json_str(&line, msg);
    if (rc) { /* an oversized message becomes "" (the line says truncated) */
        line.len = mark;
        if (line.data) line.data[mark] = '\0';
        rc = pb_buf_puts(&line, "\"\"");
        if (!rc) rc = PB_ETOOBIG;
        mark = line.len;
    }
    if (!rc && log_req_id[0]) {
        rc = pb_buf_puts(&line, ",\"req\":");
        if (!rc) rc = pb_buf_json_str(&line, log_req_id);
    }
    for (size_t i = 0; i < nf && !rc; i++) {
        mark = line.len;
        rc = pb_buf_putc(&line, ',');
        if (!rc) rc = pb_buf_json_str(&line, f[i].k);
        if (!rc) rc = pb_buf_putc(&line, ':');
        if (!rc) {
            switch (f[i].type) {
            case 1: rc = pb_buf_json_str(&line, f[i].s); break;
            case 2: rc = pb_buf_printf(&line, "%lld", f[i].i); break;
            case 3: rc = pb_buf_printf(&line, "%.3f", f[i].d); break;
            case 4: rc = pb_buf_puts(&line, f[i].i ? "true" : "false"); break;
            default: rc = pb_buf_puts(&line, f[i].s ? f[i].s : "null"); break;
            }
        }
    }
    line.max = full_max;
    if (rc) { /* drop the field that did not fit and say so */
        line.len = mark;
        if (line.data) line.data[mark] = '\0';
        pb_buf_puts(&line, ",\"truncated\":true");
    }
    pb_buf_puts(&line, "}\n");
    /* Redact the whole line once: covers message, every field and the request id. */
    size_t cap = line.len * 2 + 16; /* the mask may be longer than a short secret */
    if (cap > red_cap) {
        char *p = realloc(red, cap);
        if (p) red = p, red_cap = cap;
    }
    if (red && cap <= red_cap) {
        pb_redact(pb_buf_cstr(&line), red, cap);
        pthread_mutex_lock(&log_mu);
        FILE *fp = log_out ? log_out : stderr;
        fputs(red, fp);
        fflush(fp);
        pthread_mutex_unlock(&log_mu);
    }
    /* Keep the buffers for the next line unless one huge line made them large. */
    if (line.cap > 16 * 1024) pb_buf_free(&line);
    if (red_cap > 32 * 1024) {
        free(red);
        red = NULL;
        red_cap = 0;
    }
    t->line = line;
    t->red = red;
    t->red_cap = red_cap;
}
