/* config: the declarative key table and everything served from it (YAML file, PB_*
 * environment, flags, --help, `planebridge config`). See config.h for the contract.
 *
 * Loading is all-or-nothing: a file or the environment is applied to a copy, which replaces
 * the caller's configuration only when every key parsed, so a failed load never leaves a
 * half-applied configuration behind. */
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define PB_CONFIG_MAX_FILE (1024 * 1024) /* a config file is small; refuse anything bigger */
#define KIB                1024LL
#define MIB                (1024LL * 1024)
#define GIB                (1024LL * 1024 * 1024)

#define KEY(n, e, t, field, d, lo, hi, sec, h)                                                               \
    {                                                                                                        \
        (n), (e), (t), offsetof(pb_config, field), sizeof(((pb_config *)0)->field), (d), (lo), (hi), (sec),  \
            (h)                                                                                              \
    }

/* The one list of configuration keys. Order = order in --help and `planebridge config`. */
const pb_config_key pb_config_keys[] = {
    KEY("listen", "PB_LISTEN", PB_CFGT_STRING, listen, "127.0.0.1:8470", 0, 0, 0,
        "HTTP listen address, host:port ([::1]:port for IPv6; port 0 = any free port)"),
    KEY("store", "PB_STORE", PB_CFGT_STRING, store, "sqlite:./planebridge.db", 0, 0, 0,
        "store URL: sqlite:PATH or postgres://user:pass@host:port/db (password masked)"),
    KEY("log_level", "PB_LOG_LEVEL", PB_CFGT_LOGLEVEL, log_level, "info", 0, 0, 0,
        "debug, info, warn, error or off"),
    KEY("log_file", "PB_LOG_FILE", PB_CFGT_STRING, log_file, "", 0, 0, 0,
        "file to append JSON log lines to; empty = stderr"),
    KEY("threads", "PB_THREADS", PB_CFGT_INT, threads, "0", 0, 64, 0,
        "HTTP worker threads; 0 = number of CPUs"),
    KEY("max_body", "PB_MAX_BODY", PB_CFGT_SIZE, max_body, "1MiB", 1024, GIB, 0,
        "largest request body accepted (413 above); bytes or KiB/MiB/GiB"),
    KEY("max_url", "PB_MAX_URL", PB_CFGT_SIZE, max_url, "8KiB", 256, MIB, 0,
        "longest request URL accepted (414 above); bytes or KiB/MiB"),
    KEY("max_headers", "PB_MAX_HEADERS", PB_CFGT_INT, max_headers, "64", 8, 1024, 0,
        "most request headers accepted (431 above)"),
    KEY("db_pool", "PB_DB_POOL", PB_CFGT_INT, db_pool, "8", 1, 256, 0, "store connections in the pool"),
    KEY("master_key_file", "PB_MASTER_KEY_FILE", PB_CFGT_STRING, master_key_file, "./planebridge.key", 0, 0,
        0, "file holding the vault master key (a path, not the key)"),
    KEY("rate_limit_per_min", "PB_RATE_LIMIT_PER_MIN", PB_CFGT_INT, rate_limit_per_min, "60", 1, 1000000, 0,
        "default requests per minute per API key"),
    KEY("usage_retention_days", "PB_USAGE_RETENTION_DAYS", PB_CFGT_INT, usage_retention_days, "30", 1, 3650,
        0, "days API-key usage rows are kept"),
    KEY("key_rotation_grace", "PB_KEY_ROTATION_GRACE", PB_CFGT_DURATION, key_rotation_grace_s, "24h", 0,
        30LL * 86400, 0, "how long a rotated API key keeps working; 90, 90s, 15m, 24h, 7d"),
    KEY("sync_interval", "PB_SYNC_INTERVAL", PB_CFGT_DURATION, sync_interval_s, "300s", 1, 7LL * 86400, 0,
        "time between scheduled syncs; 300, 300s, 5m, 1h"),
    KEY("delivery_retention_days", "PB_DELIVERY_RETENTION_DAYS", PB_CFGT_INT, delivery_retention_days, "30",
        1, 3650, 0, "days delivery attempts are kept"),
    KEY("deliver_workers", "PB_DELIVER_WORKERS", PB_CFGT_INT, deliver_workers, "2", 1, 32, 0,
        "delivery sending threads (each keeps its own keep-alive connections)"),
    KEY("deliver_batch", "PB_DELIVER_BATCH", PB_CFGT_INT, deliver_batch, "64", 1, 1024, 0,
        "messages a delivery worker claims and sends concurrently per round"),
    KEY("deliver_schedule", "PB_DELIVER_SCHEDULE", PB_CFGT_STRING, deliver_schedule, "0,5s,5m,30m,2h,5h,10h,10h",
        0, 0, 0, "delivery retry delays, one per attempt (each +-20% jitter, at most 30d, at most 32)"),
    KEY("deliver_lease_s", "PB_DELIVER_LEASE_S", PB_CFGT_DURATION, deliver_lease_s, "60s", 1, 86400, 0,
        "how long a claimed message is leased to a worker (raised above deliver_timeout_ms)"),
    KEY("deliver_timeout_ms", "PB_DELIVER_TIMEOUT_MS", PB_CFGT_INT, deliver_timeout_ms, "15000", 100, 600000, 0,
        "milliseconds one outbound delivery request may take"),
    KEY("deliver_poll_ms", "PB_DELIVER_POLL_MS", PB_CFGT_INT, deliver_poll_ms, "50", 1, 10000, 0,
        "milliseconds idle delivery threads wait before looking for work again"),
    KEY("deliver_disable_after", "PB_DELIVER_DISABLE_AFTER", PB_CFGT_DURATION, deliver_disable_after_s, "5d", 1,
        365LL * 86400, 0, "an endpoint failing without interruption this long is disabled"),
    KEY("drain_timeout", "PB_DRAIN_TIMEOUT", PB_CFGT_INT, drain_ms, "10000", 0, 600000, 0,
        "milliseconds in-flight requests get to finish on SIGTERM"),
    KEY("public_url", "PB_PUBLIC_URL", PB_CFGT_STRING, public_url, "", 0, 0, 0,
        "external base URL (http:// or https://) for links back to planebridge"),
    KEY("ssrf_allow", "PB_SSRF_ALLOW", PB_CFGT_STRING, ssrf_allow, "", 0, 0, 0,
        "comma list of CIDRs deliveries may reach despite being private"),
    KEY("ingest_workers", "PB_INGEST_WORKERS", PB_CFGT_INT, ingest_workers, "2", 0, 32, 0,
        "webhook worker threads applying queued jobs to the mirror (SQLite: 1 whatever the value); 0 = none (jobs wait)"),
    KEY("ingest_coalesce_ms", "PB_INGEST_COALESCE_MS", PB_CFGT_INT, ingest_coalesce_ms, "100", 0, 60000, 0,
        "milliseconds a webhook job waits before a claim, so one PATCH's deliveries coalesce"),
    KEY("ingest_lease_ms", "PB_INGEST_LEASE_MS", PB_CFGT_INT, ingest_lease_ms, "30000", 100, 3600000, 0,
        "milliseconds a claimed webhook job stays leased to its worker"),
    KEY("ingest_max_pending", "PB_INGEST_MAX_PENDING", PB_CFGT_INT, ingest_max_pending, "4096", 1, 1048576, 0,
        "webhooks waiting for a group commit; past it the receiver answers 503"),
    KEY("ingest_bg_checkpoint", "PB_INGEST_BG_CHECKPOINT", PB_CFGT_INT, ingest_bg_checkpoint, "1", 0, 1, 0,
        "SQLite: 1 = WAL checkpoints in the background, off the webhook commit path"),
    KEY("ingest_committers", "PB_INGEST_COMMITTERS", PB_CFGT_INT, ingest_committers, "0", 0, 16, 0,
        "webhook group-commit threads; 0 = 4 on PostgreSQL, 1 on SQLite"),
    KEY("ingest_max_body", "PB_INGEST_MAX_BODY", PB_CFGT_SIZE, ingest_max_body, "512KiB", 1024, 64 * MIB, 0,
        "largest webhook body accepted (413 above); bytes or KiB/MiB"),
    KEY("ingest_max_backlog", "PB_INGEST_MAX_BACKLOG", PB_CFGT_INT, ingest_max_backlog, "1000000", 0, INT64_MAX,
        0, "stored webhook jobs waiting for workers; past it the receiver answers 503; 0 = no bound"),
    KEY("ingest_nostore", "PB_INGEST_NOSTORE", PB_CFGT_INT, ingest_nostore, "0", 0, 1, 0,
        "benchmark ceiling only: 1 = answer webhooks 200 WITHOUT storing them; never in production"),
    {NULL, NULL, PB_CFGT_STRING, 0, 0, NULL, 0, 0, 0, NULL},
};

/* ---- small helpers ---- */

static const pb_config_key *key_find(const char *name)
{
    for (const pb_config_key *k = pb_config_keys; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

/* Sets err with the key and the "where" prefix ("config.yaml:7" or "PB_MAX_BODY"). */
static int key_error(pb_error *err, const char *where, int line, const char *key, const char *detail)
{
    if (!err) return PB_ECONFIG;
    if (line > 0)
        pb_error_field(err, PB_ECONFIG, key, "%s:%d: %s: %s", where, line, key, detail);
    else if (!where)
        pb_error_field(err, PB_ECONFIG, key, "%s: %s", key, detail);
    else
        pb_error_field(err, PB_ECONFIG, key, "%s: %s: %s", where, key, detail);
    err->line = line;
    return PB_ECONFIG;
}

/* Splits "<digits><suffix>" for sizes: bytes, KiB, MiB, GiB. */
static int parse_size(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {{"", 1}, {"B", 1}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}};
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n > 18) return PB_EINVAL;
    char num[20];
    memcpy(num, s, n);
    num[n] = '\0';
    int64_t v;
    if (pb_parse_i64(num, 0, INT64_MAX / GIB, &v)) return PB_EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + n, units[i].suffix) == 0) {
            *out = v * units[i].mult;
            return 0;
        }
    }
    return PB_EINVAL;
}

/* "a:b" with a numeric port; "[v6]:port" for IPv6. */
static int valid_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) return 0;
    if (v[0] == '[' && colon[-1] != ']') return 0;
    int64_t port;
    return pb_parse_i64(colon + 1, 0, 65535, &port) == 0;
}

static int valid_cidr(const char *s, size_t len)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    int64_t bits = -1;
    if (slash) {
        *slash = '\0';
        if (pb_parse_i64(slash + 1, 0, 128, &bits)) return 0;
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, buf, addr) == 1) return bits <= 32;
    if (inet_pton(AF_INET6, buf, addr) == 1) return 1;
    return 0;
}

/* A retry schedule: comma-separated durations, each 0..30 days, 1..32 of them (the same
 * rules as the delivery engine's parser, so a value accepted here always starts). */
static int valid_schedule(const char *s)
{
    int steps = 0;
    for (const char *p = s; *p;) {
        char item[32];
        size_t n = strcspn(p, ",");
        int64_t v;
        if (n == 0 || n >= sizeof item || ++steps > 32) return 0;
        memcpy(item, p, n);
        item[n] = '\0';
        if (pb_parse_duration_s(item, &v) || v < 0 || v > 30LL * 86400) return 0;
        p += n;
        if (*p == ',') p++;
    }
    return steps > 0;
}

/* Per-key checks for string values beyond "fits the buffer". Returns a detail or NULL. */
static const char *check_string(const pb_config_key *k, const char *v)
{
    if (strcmp(k->name, "listen") == 0 && !valid_listen(v)) return "must be host:port";
    if (strcmp(k->name, "store") == 0 && strncmp(v, "sqlite:", 7) != 0 &&
        strncmp(v, "postgres://", 11) != 0 && strncmp(v, "postgresql://", 13) != 0)
        return "must start with sqlite:, postgres:// or postgresql://";
    if (strcmp(k->name, "store") == 0 && strcmp(v, "sqlite:") == 0) return "sqlite: needs a path";
    if (strcmp(k->name, "public_url") == 0 && *v && strncmp(v, "http://", 7) != 0 &&
        strncmp(v, "https://", 8) != 0)
        return "must be empty or start with http:// or https://";
    if (strcmp(k->name, "deliver_schedule") == 0 && *v && !valid_schedule(v))
        return "must be a comma list of at most 32 delays like 0,5s,5m,2h (each at most 30d)";
    if (strcmp(k->name, "ssrf_allow") == 0 && *v) {
        const char *p = v;
        for (;;) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, ",");
            size_t t = n;
            while (t > 0 && p[t - 1] == ' ')
                t--;
            if (!valid_cidr(p, t)) return "must be a comma list of CIDRs like 10.0.0.0/8,fd00::/8";
            if (!p[n]) break;
            p += n + 1;
        }
    }
    return NULL;
}

/* Locates the password inside "scheme://user:PASS@host" (or "password=PASS" in a query or
 * a conninfo string). Returns 1 and the span, or 0. */
static int url_password(const char *url, size_t from, size_t *start, size_t *len)
{
    if (from == 0) {
        const char *sep = strstr(url, "://");
        if (sep) {
            const char *auth = sep + 3;
            size_t alen = strcspn(auth, "/?#");
            const char *at = NULL;
            for (size_t i = 0; i < alen; i++)
                if (auth[i] == '@') at = auth + i;
            if (at) {
                const char *colon = memchr(auth, ':', (size_t)(at - auth));
                if (colon) {
                    *start = (size_t)(colon + 1 - url);
                    *len = (size_t)(at - colon - 1);
                    return 1;
                }
            }
        }
    }
    const char *p = url + from;
    while ((p = strstr(p, "password=")) != NULL) {
        if (p == url || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ') {
            p += 9;
            *start = (size_t)(p - url);
            *len = strcspn(p, "& ");
            return 1;
        }
        p += 9;
    }
    return 0;
}

void pb_config_mask_url(const char *url, char *out, size_t outlen)
{
    if (!out || outlen == 0) return;
    out[0] = '\0';
    if (!url) return;
    size_t o = 0, i = 0, start, len;
    /* Copy piecewise, replacing each password span with "****". */
    while (url_password(url, i, &start, &len)) {
        for (; i < start && o + 1 < outlen; i++)
            out[o++] = url[i];
        for (const char *m = "****"; *m && o + 1 < outlen; m++)
            out[o++] = *m;
        i = start + len;
    }
    for (; url[i] && o + 1 < outlen; i++)
        out[o++] = url[i];
    out[o] = '\0';
}

/* Registers what must never be printed: secret values and passwords inside URLs. */
static void register_secret(const pb_config_key *k, const char *v)
{
    if (k->secret) pb_redact_register(v);
    size_t i = 0, start, len;
    char pw[PB_CFG_URL];
    while (url_password(v, i, &start, &len)) {
        if (len > 0 && len < sizeof pw) {
            memcpy(pw, v + start, len);
            pw[len] = '\0';
            pb_redact_register(pw);
        }
        i = start + len;
    }
}

/* Parses text for one key into c. Returns NULL or a static detail for the error message. */
static const char *set_value(pb_config *c, const pb_config_key *k, const char *v)
{
    char *field = (char *)c + k->offset;
    int64_t n = 0;
    switch (k->type) {
    case PB_CFGT_STRING: {
        if (strlen(v) >= k->size) return "value too long";
        if (memchr(v, '\n', strlen(v)) || memchr(v, '\r', strlen(v))) return "must be one line";
        const char *bad = check_string(k, v);
        if (bad) return bad;
        pb_strlcpy(field, v, k->size);
        register_secret(k, v);
        return NULL;
    }
    case PB_CFGT_LOGLEVEL: {
        int lvl = pb_log_level_parse(v);
        if (lvl < 0) return "must be one of debug, info, warn, error, off";
        *(int *)(void *)field = lvl;
        return NULL;
    }
    case PB_CFGT_INT:
        if (pb_parse_i64(v, INT64_MIN, INT64_MAX, &n)) return "must be an integer";
        break;
    case PB_CFGT_SIZE:
        if (parse_size(v, &n)) return "must be a size like 1048576, 512KiB or 1MiB";
        break;
    case PB_CFGT_DURATION:
        if (pb_parse_duration_s(v, &n)) return "must be a duration like 300, 300s, 5m or 24h";
        break;
    }
    if (n < k->min || n > k->max) return "out of range";
    if (k->size == sizeof(int64_t))
        *(int64_t *)(void *)field = n;
    else
        *(int *)(void *)field = (int)n;
    return NULL;
}

/* set_value plus the error message, bounds spelled out for numbers. */
static int apply(pb_config *c, const pb_config_key *k, const char *v, const char *where, int line,
                 pb_error *err)
{
    const char *bad = set_value(c, k, v);
    if (!bad) return 0;
    char detail[160];
    if (strcmp(bad, "out of range") == 0)
        snprintf(detail, sizeof detail, "must be between %" PRId64 " and %" PRId64, k->min, k->max);
    else
        snprintf(detail, sizeof detail, "%s", bad);
    return key_error(err, where, line, k->name, detail);
}

void pb_config_defaults(pb_config *c)
{
    memset(c, 0, sizeof *c);
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        /* The defaults are part of the table and checked by the unit tests. */
        const char *bad = set_value(c, k, k->def);
        (void)bad;
    }
}

int pb_config_set(pb_config *c, const char *key, const char *value, pb_error *err)
{
    const pb_config_key *k = key ? key_find(key) : NULL;
    if (!k) return key_error(err, NULL, 0, key ? key : "(null)", "unknown configuration key");
    pb_config tmp = *c;
    int rc = apply(&tmp, k, value ? value : "", NULL, 0, err);
    if (!rc) *c = tmp;
    return rc;
}

int pb_config_apply_env(pb_config *c, pb_error *err)
{
    pb_config tmp = *c;
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        const char *v = getenv(k->env);
        if (!v) continue;
        int rc = apply(&tmp, k, v, k->env, 0, err);
        if (rc) return rc;
    }
    *c = tmp;
    return 0;
}

/* ---- YAML ---- */

static int yaml_load_named(pb_config *c, const char *yaml, size_t len, const char *name, pb_error *err)
{
    int rc = 0;
    yaml_parser_t parser;
    yaml_event_t ev;
    int have_ev = 0;
    pb_config tmp = *c;
    char key[64] = "";
    int state = 0; /* 0 before document, 1 expect mapping, 2 expect key, 3 expect value, 4 done */
    unsigned char seen[sizeof pb_config_keys / sizeof pb_config_keys[0]] = {0};

    if (len > PB_CONFIG_MAX_FILE) {
        pb_error_set(err, PB_ETOOBIG, "%s: larger than %d bytes", name, PB_CONFIG_MAX_FILE);
        return PB_ETOOBIG;
    }
    if (!yaml_parser_initialize(&parser)) return pb_error_set(err, PB_ENOMEM, "yaml parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);

    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            int line = (int)parser.problem_mark.line + 1;
            pb_error_set(err, PB_ECONFIG, "%s:%d: invalid YAML: %s", name, line,
                         parser.problem ? parser.problem : "syntax error");
            if (err) err->line = line;
            rc = PB_ECONFIG;
            goto out;
        }
        have_ev = 1;
        int line = (int)ev.start_mark.line + 1;
        if (ev.type == YAML_STREAM_END_EVENT) break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (state != 0) {
                pb_error_set(err, PB_ECONFIG, "%s:%d: only one YAML document is allowed", name, line);
                if (err) err->line = line;
                rc = PB_ECONFIG;
                goto out;
            }
            state = 1;
            break;
        case YAML_DOCUMENT_END_EVENT:
            state = 4;
            break;
        case YAML_ALIAS_EVENT:
            rc = key_error(err, name, line, state == 3 ? key : "(alias)", "aliases are not allowed");
            goto out;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (state == 1 && ev.type == YAML_MAPPING_START_EVENT) {
                if (ev.data.mapping_start.anchor) {
                    rc = key_error(err, name, line, "(document)", "anchors are not allowed");
                    goto out;
                }
                state = 2;
                break;
            }
            if (state == 3) {
                rc = key_error(err, name, line, key, "must be a plain value, not a nested mapping or list");
                goto out;
            }
            if (state == 2) {
                rc = key_error(err, name, line, "(key)", "keys must be plain names");
                goto out;
            }
            pb_error_set(err, PB_ECONFIG, "%s:%d: the configuration must be a mapping of keys", name, line);
            if (err) err->line = line;
            rc = PB_ECONFIG;
            goto out;
        case YAML_MAPPING_END_EVENT:
            state = 4;
            break;
        case YAML_SEQUENCE_END_EVENT:
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            size_t vlen = ev.data.scalar.length;
            if (state == 1) {
                /* An empty document ("---" alone) is an empty configuration. */
                if (vlen == 0 && ev.data.scalar.plain_implicit) {
                    state = 4;
                    break;
                }
                pb_error_set(err, PB_ECONFIG, "%s:%d: the configuration must be a mapping of keys", name,
                             line);
                if (err) err->line = line;
                rc = PB_ECONFIG;
                goto out;
            }
            if (ev.data.scalar.anchor) {
                rc = key_error(err, name, line, state == 3 ? key : "(anchor)", "anchors are not allowed");
                goto out;
            }
            if (state == 2) {
                if (vlen == 0 || vlen >= sizeof key || memchr(v, '\0', vlen)) {
                    rc = key_error(err, name, line, "(key)", "unknown configuration key");
                    goto out;
                }
                memcpy(key, v, vlen + 1);
                const pb_config_key *k = key_find(key);
                if (!k) {
                    rc = key_error(err, name, line, key, "unknown configuration key");
                    goto out;
                }
                size_t idx = (size_t)(k - pb_config_keys);
                if (seen[idx]) {
                    rc = key_error(err, name, line, key, "duplicate key");
                    goto out;
                }
                seen[idx] = 1;
                state = 3;
            } else if (state == 3) {
                const pb_config_key *k = key_find(key);
                if (memchr(v, '\0', vlen)) {
                    rc = key_error(err, name, line, key, "must not contain NUL bytes");
                    goto out;
                }
                /* A plain null (`key:`, `key: ~`, `key: null`) is the empty value. */
                if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
                     strcmp(v, "NULL") == 0))
                    v = "";
                rc = apply(&tmp, k, v, name, line, err);
                if (rc) goto out;
                state = 2;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_ev = 0;
    }
    *c = tmp;
out:
    if (have_ev) yaml_event_delete(&ev);
    yaml_parser_delete(&parser);
    return rc;
}

int pb_config_load_yaml(pb_config *c, const char *yaml, size_t len, pb_error *err)
{
    return yaml_load_named(c, yaml, len, "config", err);
}

int pb_config_load_file(pb_config *c, const char *path, pb_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = pb_read_file(path, PB_CONFIG_MAX_FILE, &data, &len);
    if (rc == PB_ETOOBIG) return pb_error_set(err, rc, "%s: larger than %d bytes", path, PB_CONFIG_MAX_FILE);
    if (rc) return pb_error_set(err, PB_ECONFIG, "%s: cannot read: %s", path, strerror(errno));
    rc = yaml_load_named(c, data, len, path, err);
    free(data);
    return rc;
}

int pb_config_load(pb_config *c, const char *path, pb_error *err)
{
    pb_config tmp;
    pb_config_defaults(&tmp);
    int rc = 0;
    if (path) rc = pb_config_load_file(&tmp, path, err);
    if (!rc) rc = pb_config_apply_env(&tmp, err);
    if (!rc) *c = tmp;
    return rc;
}

/* ---- printing ---- */

/* Formats the effective value of k in c as text (masked when secret). */
static void value_text(const pb_config *c, const pb_config_key *k, char *out, size_t outlen)
{
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case PB_CFGT_STRING:
        if (k->secret && field[0])
            snprintf(out, outlen, "****");
        else
            pb_config_mask_url(field, out, outlen);
        break;
    case PB_CFGT_LOGLEVEL:
        snprintf(out, outlen, "%s", pb_log_level_name(*(const int *)(const void *)field));
        break;
    case PB_CFGT_SIZE:
    case PB_CFGT_INT: {
        int64_t v = k->size == sizeof(int64_t) ? *(const int64_t *)(const void *)field
                                               : *(const int *)(const void *)field;
        snprintf(out, outlen, "%" PRId64, v);
        break;
    }
    case PB_CFGT_DURATION:
        snprintf(out, outlen, "%ds", *(const int *)(const void *)field);
        break;
    }
}

/* Writes s as a YAML double-quoted scalar. */
static void yaml_quote(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\x%02x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

void pb_config_print(const pb_config *c, FILE *fp)
{
    char v[PB_CFG_URL + 64];
    fprintf(fp, "# planebridge effective configuration (defaults < file < environment < flags; "
                "secrets masked)\n");
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        value_text(c, k, v, sizeof v);
        fprintf(fp, "%s: ", k->name);
        if (k->type == PB_CFGT_STRING)
            yaml_quote(fp, v);
        else
            fputs(v, fp);
        fputc('\n', fp);
    }
}

void pb_config_help(FILE *fp)
{
    fprintf(fp, "%-24s %-28s %-24s %s\n", "KEY", "ENVIRONMENT", "DEFAULT", "DESCRIPTION");
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        const char *def = k->def[0] ? k->def : "\"\"";
        fprintf(fp, "%-24s %-28s %-24s %s", k->name, k->env, def, k->help);
        if (k->type == PB_CFGT_INT || k->type == PB_CFGT_SIZE || k->type == PB_CFGT_DURATION)
            fprintf(fp, " [%" PRId64 "..%" PRId64 "]", k->min, k->max);
        fputc('\n', fp);
    }
}

FILE *pb_config_open_log_file(const char *path)
{
    struct stat st;
    if (!path || !*path) {
        errno = EINVAL;
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) && st.st_uid == geteuid())
        (void)fchmod(fd, st.st_mode & 0700);
    FILE *fp = fdopen(fd, "a");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    setvbuf(fp, NULL, _IOLBF, 0);
    return fp;
}
