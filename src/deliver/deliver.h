/* deliver: the outbound delivery engine — subscriptions ("hooks"), fan-out of the
 * outbox, signed sends with retries, the delivery log, replay.
 *
 * Flow. The API writes each domain event into ops.outbox in the same transaction as the
 * change. The dispatcher claims outbox rows that have no fan-out row yet (PostgreSQL:
 * FOR UPDATE SKIP LOCKED) and, in one transaction, records the fan-out row and one message
 * per matching hook (one per changed field for the plane format) in ops.deliveries, with a
 * stable msg_id (the webhook-id). Workers claim due messages with a lease, send them
 * (concurrently, keep-alive, per-endpoint concurrency and rate limits), and record every
 * attempt and the next attempt time. A crash at any point loses nothing: an uncommitted
 * fan-out is redone, an expired lease is claimed again (at-least-once; receivers dedupe on
 * webhook-id), and a second process never takes a leased message.
 *
 * Time. Every decision reads the injectable clock (options.now), so tests advance time
 * without sleeping; the threads' idle waits use the real monotonic clock.
 *
 * Secrets. Signing secrets are generated here, returned once to the caller, and stored in
 * the vault under "hook:<id>:<n>"; the hook row holds only the vault entry name.
 *
 * Thread-safety: all functions may be called from any thread; pb_deliver_start runs the
 * background threads, pb_deliver_stop joins them. */
#ifndef PB_DELIVER_DELIVER_H
#define PB_DELIVER_DELIVER_H

#include "core/buf.h"
#include "core/err.h"
#include "store/db.h"
#include "store/deliver_store.h"

#include <stddef.h>
#include <stdint.h>

struct pb_vault;
typedef struct pb_deliver pb_deliver;
typedef int64_t (*pb_deliver_clock_fn)(void *ctx);

typedef struct pb_deliver_options {
    pb_db *db;                 /* required; not owned */
    struct pb_vault *vault;    /* required for hooks with secrets; not owned */
    const char *public_url;    /* links in Slack/Pumble messages ("" = none); copied */
    const char *ssrf_allow;    /* CIDR allowlist for the SSRF guard; copied */
    int retention_days;        /* delivery log retention; 0 = keep forever */
    int workers;               /* sending threads; 0 = 2 */
    int batch;                 /* messages claimed per worker round; 0 = 64 */
    int lease_s;               /* claim lease; 0 = 60 (must exceed timeout) */
    int timeout_ms;            /* per request; 0 = 15000 */
    int64_t disable_after_s;   /* failing without interruption this long disables; 0 = 5 days */
    const char *schedule;      /* retry delays "0,5,300,..." (NULL = the default ladder) */
    int poll_ms;               /* idle poll interval of the threads; 0 = 50 */
    pb_deliver_clock_fn now;   /* NULL = pb_now_us */
    void *now_ctx;
} pb_deliver_options;

int pb_deliver_new(const pb_deliver_options *opt, pb_deliver **out, pb_error *err);
void pb_deliver_free(pb_deliver *d); /* NULL-safe; stops threads first */
int pb_deliver_start(pb_deliver *d, pb_error *err);
void pb_deliver_stop(pb_deliver *d);
/* Wakes the threads (e.g. right after an outbox write in this process). */
void pb_deliver_kick(pb_deliver *d);
int64_t pb_deliver_now(pb_deliver *d);

/* --- synchronous steps (the threads loop over these; tests call them directly) --- */
/* Fans out one batch of outbox rows. *fanned = outbox rows processed. */
int pb_deliver_dispatch_once(pb_deliver *d, int *fanned, pb_error *err);
/* Claims and sends one batch of due messages as `worker` using a client owned by the
 * calling thread (NULL = one kept by d for synchronous callers). *sent = attempts made. */
struct pb_http_client;
int pb_deliver_work_once(pb_deliver *d, struct pb_http_client *client, const char *worker, int *sent,
                         pb_error *err);
/* Watermark advance and retention. */
int pb_deliver_maintain(pb_deliver *d, pb_error *err);

/* --- management (admin API and CLI) --- */
/* Validates and creates a hook. In: workspace_slug, url, format, and optionally
 * project_id, description, event_mode/events. Out: the full row, and the new secret in
 * secret (>= 128 bytes), which is never retrievable again. */
int pb_deliver_hook_create(pb_deliver *d, pb_hook *h, char *secret, size_t secretlen, pb_error *err);
/* Validates and saves a modified hook (url, format, events, project, description, active). */
int pb_deliver_hook_save(pb_deliver *d, pb_hook *h, pb_error *err);
int pb_deliver_hook_get(pb_deliver *d, const char *id, pb_hook *h, pb_error *err);
int pb_deliver_hook_list(pb_deliver *d, const char *workspace, pb_hook **out, size_t *n, pb_error *err);
int pb_deliver_hook_delete(pb_deliver *d, const char *id, pb_error *err);
int pb_deliver_hook_disable(pb_deliver *d, const char *id, const char *reason, pb_error *err);
/* New secret; the previous one keeps signing (second signature) for 24 h. */
int pb_deliver_hook_rotate(pb_deliver *d, const char *id, char *secret, size_t secretlen, pb_error *err);
/* Queues a "webhook.test" message to the hook; msg_id (>= 80 bytes) receives its id. */
int pb_deliver_hook_test(pb_deliver *d, const char *id, char *msg_id, size_t len, pb_error *err);
int pb_deliver_replay(pb_deliver *d, const char *msg_id, pb_error *err);
int pb_deliver_replay_since(pb_deliver *d, const char *hook_id, int64_t since, int64_t *count, pb_error *err);
/* Inserts a domain event into ops.outbox (for `hooks emit`, operational events, tests).
 * payload: the data object (JSON) or a full {type,timestamp,data,...} envelope. */
int pb_deliver_emit(pb_deliver *d, const char *type, const char *workspace, const char *project_id,
                    const char *object_id, const char *payload, int64_t *outbox_id, pb_error *err);

/* JSON views (never include secrets). */
int pb_deliver_hook_json(const pb_hook *h, pb_buf *out);
int pb_deliver_attempt_json(const pb_attempt *a, pb_buf *out);
int pb_deliver_delivery_json(const pb_delivery *m, pb_buf *out);

#endif
