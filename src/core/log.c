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
static unsigned char redact_first[256];

static void redact_first_rebuild(void)
{
    memset(redact_first, 0, sizeof redact_first);
    redact_first['p'] = redact_first['w'] = redact_first['B'] = 1;
    for (size_t i = 0; i < redact_n; i++) redact_first[(unsigned char)redact_list[i][0]] = 1;
}

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
        redact_first_rebuild();
    }
    pthread_rwlock_unlock(&redact_mu);
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
    if (!redact_first['p']) redact_first_rebuild();
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
