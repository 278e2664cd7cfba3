/* config: planebridge's configuration, from one declarative table.
 *
 * The table (config.c) lists every key once: YAML name, environment variable, type,
 * default, bounds, help text and whether it is secret. The same table serves the YAML file
 * (--config), environment overrides (PB_*), `--help` and `planebridge config` (which masks
 * secrets and passwords inside URLs). Precedence: defaults < file < environment < flags.
 * Errors name the key and, for files, the line. */
#ifndef PB_CORE_CONFIG_H
#define PB_CORE_CONFIG_H

#include "core/err.h"

#include <stdint.h>
#include <stdio.h>

#define PB_CFG_STR 256
#define PB_CFG_URL 1024

typedef struct pb_config {
    char listen[PB_CFG_STR];          /* listen: host:port */
    char store[PB_CFG_URL];           /* store: sqlite:PATH | postgres://... */
    int log_level;                    /* log_level: debug|info|warn|error */
    char log_file[PB_CFG_STR];        /* log_file: "" = stderr */
    int threads;                      /* threads: HTTP worker threads, 0 = CPUs */
    int64_t max_body;                 /* max_body: bytes */
    int64_t max_url;                  /* max_url: bytes */
    int max_headers;                  /* max_headers: count */
    int db_pool;                      /* db_pool: connections */
    char master_key_file[PB_CFG_STR]; /* master_key_file: vault master key path */
    int rate_limit_per_min;           /* rate_limit_per_min: default per-key limit */
    int usage_retention_days;         /* usage_retention_days */
    int key_rotation_grace_s;         /* key_rotation_grace: seconds old keys keep working */
    int sync_interval_s;              /* sync_interval: seconds between scheduled syncs */
    int delivery_retention_days;      /* delivery_retention_days */
    int drain_ms;                     /* drain_timeout: ms to finish requests on SIGTERM */
    char public_url[PB_CFG_STR];      /* public_url: base URL for links back to items */
    char ssrf_allow[PB_CFG_STR];      /* ssrf_allow: comma list of CIDRs deliveries may reach */
    int deliver_workers;              /* deliver_workers: delivery sending threads */
    int deliver_batch;                /* deliver_batch: messages claimed per worker round */
    char deliver_schedule[PB_CFG_STR];/* deliver_schedule: retry delays "0,5s,5m,..." ("" = default) */
    int deliver_lease_s;              /* deliver_lease_s: seconds a claimed message stays leased */
    int deliver_timeout_ms;           /* deliver_timeout_ms: ms per outbound request */
    int deliver_poll_ms;              /* deliver_poll_ms: ms idle delivery threads wait between polls */
    int deliver_disable_after_s;      /* deliver_disable_after: seconds failing before auto-disable */
    int ingest_workers;               /* ingest_workers: webhook worker threads (0 = none) */
    int ingest_coalesce_ms;           /* ingest_coalesce_ms: minimum job age before a claim */
    int ingest_lease_ms;              /* ingest_lease_ms: worker lease on claimed jobs */
    int ingest_max_pending;           /* ingest_max_pending: jobs waiting for a group commit (503 past it) */
    int ingest_bg_checkpoint;         /* ingest_bg_checkpoint: SQLite WAL checkpoints off the commit path */
    int ingest_committers;            /* ingest_committers: group-commit threads (0 = per backend) */
    int64_t ingest_max_body;          /* ingest_max_body: bytes of one webhook body */
    int64_t ingest_max_backlog;       /* ingest_max_backlog: stored jobs waiting (503 past it; 0 = no bound) */
    int ingest_nostore;               /* ingest_nostore: benchmark ceiling, answer without storing */
} pb_config;

typedef enum { PB_CFGT_STRING, PB_CFGT_INT, PB_CFGT_SIZE, PB_CFGT_DURATION, PB_CFGT_LOGLEVEL } pb_cfg_type;

typedef struct pb_config_key {
    const char *name;    /* YAML key */
    const char *env;     /* environment variable */
    pb_cfg_type type;
    size_t offset;       /* into pb_config */
    size_t size;         /* for strings: buffer size */
    const char *def;     /* default, as text */
    int64_t min, max;    /* bounds for numbers */
    int secret;          /* 1: masked when printed */
    const char *help;
} pb_config_key;

/* The table itself (NULL-name terminated), for --help and tests. */
extern const pb_config_key pb_config_keys[];

void pb_config_defaults(pb_config *c);
/* Reads a YAML mapping of keys from the table. Unknown keys, wrong types and out-of-range
 * values fail with err->field = key and err->line = line. */
int pb_config_load_file(pb_config *c, const char *path, pb_error *err);
/* Same from a buffer (fuzzing, tests). */
int pb_config_load_yaml(pb_config *c, const char *yaml, size_t len, pb_error *err);
/* Applies PB_* environment overrides. */
int pb_config_apply_env(pb_config *c, pb_error *err);
/* Sets one key by YAML name from text (flags). */
int pb_config_set(pb_config *c, const char *key, const char *value, pb_error *err);
/* defaults + file (if path non-NULL) + environment. */
int pb_config_load(pb_config *c, const char *path, pb_error *err);
/* Prints the effective configuration as YAML with secrets masked. */
void pb_config_print(const pb_config *c, FILE *fp);
/* Prints every key with its env var, default and help. */
void pb_config_help(FILE *fp);
/* Copies url with any password (user:PASS@) replaced by "****". */
void pb_config_mask_url(const char *url, char *out, size_t outlen);
/* Opens the daemon's log_file for appending, line-buffered; a new file is created 0600 (the
 * log names keys, users and workspaces), an existing one owned by this user and readable by
 * group/others is tightened to 0600. NULL with errno set on failure. */
FILE *pb_config_open_log_file(const char *path);

#endif
