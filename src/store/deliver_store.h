/* deliver_store: the SQL of outbound deliveries (tables of migration 0004_deliver, plus
 * the reads of ops.outbox and of the mirror that rendering needs).
 *
 * Every function works on a connection the caller acquired; none begins or commits a
 * transaction itself except where stated, so callers compose them atomically (fan-out of a
 * batch, recording a batch of attempts). Claims that must not be taken twice use
 * FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite the caller's pb_conn_begin_write()
 * serialises writers.
 *
 * Ownership: arrays returned through `**out` are malloc'd; free them with the matching
 * *_free_array function (NULL-safe). Fixed-size text fields are truncated to fit. */
#ifndef PB_STORE_DELIVER_STORE_H
#define PB_STORE_DELIVER_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_hook {
    char id[40];
    char workspace_slug[64];
    char project_id[64];      /* "" = every project of the workspace */
    char url[1024];
    char description[256];
    char format[16];          /* standard | slack | pumble | plane */
    char event_mode[16];      /* all | individual */
    char events[1024];        /* comma-separated types; "issue.*" matches a family */
    int active;
    char disabled_reason[256];
    char secret_name[128];    /* vault entry of the current secret */
    char old_secret_name[128];/* vault entry of the previous secret during a rotation, or "" */
    int64_t old_secret_until; /* us; 0 when no rotation is in progress */
    int64_t failing_since;    /* us; 0 when the endpoint is healthy */
    int max_inflight;         /* concurrent requests per endpoint (per process) */
    int min_interval_ms;      /* minimum gap between requests (Slack/Pumble ~1/s) */
    int64_t created_at, updated_at;
} pb_hook;

typedef struct pb_outbox_row {
    int64_t id;
    char event_id[80];
    char type[96];
    char workspace_slug[64];
    char project_id[64];
    char object_id[64];
    int64_t occurred_at;
    char *payload; /* malloc'd JSON text */
} pb_outbox_row;

typedef struct pb_delivery {
    int64_t id;
    char msg_id[80];
    char hook_id[40];
    int64_t outbox_id; /* 0 when not from the outbox (test messages) */
    char event_type[96];
    char workspace_slug[64];
    char object_id[64];
    char *body;        /* malloc'd */
    char status[16];   /* pending | sending | succeeded | failed | skipped */
    int attempts;
    int manual;        /* 1 after a replay: the next attempt is logged as manual */
    int64_t next_attempt_at;
    int last_status;
    char last_error[256];
    int64_t created_at, updated_at;
} pb_delivery;

typedef struct pb_attempt {
    int64_t id;
    int64_t delivery_id;
    char msg_id[80];
    char hook_id[40];
    int attempt;
    char trigger[16];  /* scheduled | manual */
    int64_t started_at;
    int duration_ms;
    int http_status;   /* 0 = no HTTP answer */
    char outcome[16];  /* succeeded | retry | failed | disabled */
    char error[256];
    char *response;    /* malloc'd, first 20 kB of the response body */
    int64_t next_attempt_at; /* 0 when none */
} pb_attempt;

/* --- hooks --- */
int pb_dstore_hook_insert(pb_conn *c, const pb_hook *h, pb_error *err);
int pb_dstore_hook_get(pb_conn *c, const char *id, pb_hook *out, pb_error *err); /* PB_ENOTFOUND */
/* workspace NULL = all; active_only filters inactive ones. */
int pb_dstore_hook_list(pb_conn *c, const char *workspace, int active_only, pb_hook **out, size_t *n, pb_error *err);
int pb_dstore_hook_update(pb_conn *c, const pb_hook *h, pb_error *err); /* every mutable column */
int pb_dstore_hook_delete(pb_conn *c, const char *id, pb_error *err);     /* and its pending deliveries */
/* Records a failure: failing_since is set to now if unset; the effective value is returned. */
int pb_dstore_hook_failing(pb_conn *c, const char *id, int64_t now, int64_t *failing_since, pb_error *err);
/* Records a success: clears failing_since (no write when already clear). */
int pb_dstore_hook_healthy(pb_conn *c, const char *id, int64_t now, pb_error *err);
/* Deactivates a hook and fails every not-yet-sent delivery of it with the reason. */
int pb_dstore_hook_disable(pb_conn *c, const char *id, const char *reason, int64_t now, pb_error *err);

/* --- outbox fan-out --- */
int pb_dstore_watermark(pb_conn *c, int64_t *wm, pb_error *err);
/* Moves the watermark up to the highest fanned-out outbox id older than horizon_us: rows
 * below it are never looked at again. */
int pb_dstore_watermark_advance(pb_conn *c, int64_t older_than, pb_error *err);
/* *any = 1 if an outbox row after `after` has no fan-out row yet (read-only pre-check). */
int pb_dstore_outbox_pending(pb_conn *c, int64_t after, int *any, pb_error *err);
/* Outbox rows after `after` with no fan-out row yet, oldest first, locked (PostgreSQL:
 * FOR UPDATE SKIP LOCKED, so concurrent dispatchers take disjoint rows). Call inside a
 * write transaction. */
int pb_dstore_outbox_claim(pb_conn *c, int64_t after, int limit, pb_outbox_row **out, size_t *n, pb_error *err);
void pb_outbox_free_array(pb_outbox_row *rows, size_t n);
/* Marks an outbox row fanned out. *inserted = 0 when another dispatcher already did
 * (then the caller must not insert its deliveries). */
int pb_dstore_fanout_mark(pb_conn *c, int64_t outbox_id, int64_t now, int ndeliveries, int *inserted, pb_error *err);
/* Inserts an event into ops.outbox (operational events such as endpoint.disabled, and
 * `hooks emit`). *id_out optional. */
int pb_dstore_outbox_insert(pb_conn *c, const char *event_id, const char *type, const char *workspace,
                            const char *project_id, const char *object_id, int64_t occurred_at, const char *payload,
                            int64_t *id_out, pb_error *err);
int pb_dstore_outbox_get(pb_conn *c, int64_t id, pb_outbox_row *out, pb_error *err);

/* --- deliveries --- */
/* Inserts a message; *inserted = 0 when its msg_id already exists (idempotent fan-out). */
int pb_dstore_delivery_insert(pb_conn *c, const pb_delivery *d, int *inserted, pb_error *err);
/* *any = 1 if some message is due or has an expired lease (a cheap read before claiming,
 * so idle workers do not take the write lock). */
int pb_dstore_delivery_due(pb_conn *c, int64_t now, int *any, pb_error *err);
/* Claims up to limit due messages (pending and due, or sending with an expired lease):
 * status becomes sending, leased by `worker` until lease_until. Call inside a write txn. */
int pb_dstore_delivery_claim(pb_conn *c, int64_t now, int64_t lease_until, const char *worker, int limit,
                             pb_delivery **out, size_t *n, pb_error *err);
void pb_delivery_free_array(pb_delivery *d, size_t n);
/* Records the end of an attempt, only if `worker` still holds the lease (*changed = 0 if
 * not: the lease expired and someone else took the message). status: pending (retry at
 * next_at), succeeded, failed, skipped. */
int pb_dstore_delivery_finish(pb_conn *c, int64_t id, const char *worker, const char *status, int attempts,
                              int64_t next_at, int last_status, const char *last_error, int64_t now, int *changed,
                              pb_error *err);
/* Marks several claimed messages succeeded at once (attempts + 1, last_status), only those
 * `worker` still holds. */
int pb_dstore_delivery_succeed_many(pb_conn *c, const char *worker, int http_status, const int64_t *ids, size_t n,
                                    int64_t now, pb_error *err);
/* Puts a claimed message back without counting an attempt (throttled). */
int pb_dstore_delivery_defer(pb_conn *c, int64_t id, const char *worker, int64_t next_at, int64_t now, pb_error *err);
int pb_dstore_delivery_get(pb_conn *c, const char *msg_id, pb_delivery *out, pb_error *err); /* body malloc'd */
/* Messages of a hook, newest first; status NULL = any. */
int pb_dstore_delivery_list(pb_conn *c, const char *hook_id, const char *status, int limit, pb_delivery **out,
                            size_t *n, pb_error *err);
/* Counts by status for a hook (pending includes sending). */
int pb_dstore_delivery_counts(pb_conn *c, const char *hook_id, int64_t *pending, int64_t *succeeded,
                              int64_t *failed, pb_error *err);
/* Replays one message (any final state): pending now, fresh schedule, next attempt manual.
 * PB_ENOTFOUND if unknown, PB_ESTATE if it is still pending/sending. */
int pb_dstore_replay_msg(pb_conn *c, const char *msg_id, int64_t now, pb_error *err);
/* Replays every failed message of a hook created at or after `since`. */
int pb_dstore_replay_since(pb_conn *c, const char *hook_id, int64_t since, int64_t now, int64_t *count, pb_error *err);

/* --- attempts (delivery log) --- */
int pb_dstore_attempt_insert(pb_conn *c, const pb_attempt *a, pb_error *err);
/* Same for n attempts, with multi-row statements. */
int pb_dstore_attempt_insert_many(pb_conn *c, const pb_attempt *a, size_t n, pb_error *err);
/* Newest first, for a hook (msg_id NULL) or one message. */
int pb_dstore_attempt_list(pb_conn *c, const char *hook_id, const char *msg_id, int limit, pb_attempt **out,
                           size_t *n, pb_error *err);
void pb_attempt_free_array(pb_attempt *a, size_t n);

/* Deletes attempts, finished messages and fan-out rows (below the watermark) older than cutoff. */
int pb_dstore_retention(pb_conn *c, int64_t cutoff, int64_t *deleted, pb_error *err);

/* --- reads of the mirror for rendering --- */
/* installations.id of a workspace ("" when unknown). */
int pb_dstore_workspace_id(pb_conn *c, const char *slug, char *out, size_t outlen, pb_error *err);
/* The mirror's raw JSON of an object: projects for kind "project", items otherwise.
 * *raw malloc'd (NULL when absent); *deleted = 1 when the row is soft-deleted. */
int pb_dstore_mirror_raw(pb_conn *c, const char *kind, const char *id, char **raw, int *deleted, pb_error *err);
/* Project identifier ("PROJ") or "" when unknown. */
int pb_dstore_project_ident(pb_conn *c, const char *project_id, char *out, size_t outlen, pb_error *err);
/* Plane's UserLite JSON for a user id ({"id","first_name","last_name","email","avatar",
 * "avatar_url","display_name"}), malloc'd into *json; NULL when the user is unknown. */
int pb_dstore_user_lite(pb_conn *c, const char *id, char **json, pb_error *err);
/* The name column of a mirror item (state, label, member...) or "" when unknown. */
int pb_dstore_item_name(pb_conn *c, const char *id, char *out, size_t outlen, pb_error *err);

#endif
