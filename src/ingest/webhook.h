/* webhook: parsing and validation of Plane webhook bodies (CE "v1" and the v2 format), and
 * their idempotency key. Pure functions: no I/O, no logging, no globals.
 *
 * Call order on the request path: the signature is verified on the raw bytes first
 * (signature.h); only then pb_hook_depth_ok() and pb_hook_parse().
 *
 * CE body (plane-api.md §6.2): {event, action, webhook_id, workspace_id, data, activity}.
 * v2 body (§6.6): {version:"v2", delivery_id, event_id, entity_id, entity_type, event:"a.b",
 * webhook_id, workspace_id, data, previous_attributes}. Both normalise to pb_hook with
 * `event` one of project|issue|cycle|module|issue_comment (or the raw name for types
 * planebridge does not mirror) and `action` created|updated|deleted|archived.
 *
 * Idempotency key (PB_HOOK_KEY_MAX bytes):
 *   - v2 with event_id: "plane:ev:" + hex SHA-256(workspace slug NUL event_id);
 *   - otherwise "plane:c:" + hex SHA-256(workspace slug NUL event NUL action NUL object id
 *     NUL body), where body is the raw bytes with the volatile top-level members
 *     `"webhook_id": ...` and `"delivery_id": ...` cut out (found by a scan of the validated
 *     text, so the body is not re-serialised). X-Plane-Delivery (new on every retry) is never
 *     part of it, so a retried delivery maps to the same key, and the same change delivered
 *     by two webhooks of one workspace is stored once. */
#ifndef PB_INGEST_WEBHOOK_H
#define PB_INGEST_WEBHOOK_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define PB_HOOK_MAX_DEPTH 32
#define PB_HOOK_KEY_MAX   80

typedef struct pb_hook {
    char event[48];        /* normalised event name */
    char action[16];       /* created | updated | deleted | archived | ... */
    char object_id[64];    /* data.id (or v2 entity_id) */
    char workspace_id[64]; /* Plane's workspace UUID, "" if absent */
    char actor_id[64];     /* activity.actor.id (CE) or "" */
    char field[64];        /* activity.field (CE) or "" */
    int v2;                /* 1 for the v2 format */
    int64_t updated_at;    /* data.updated_at in µs, 0 when absent/unparsable */
    struct cJSON *root;    /* owned; the whole parsed body */
    struct cJSON *data;    /* borrowed from root: the "data" object */
    char key[PB_HOOK_KEY_MAX];
} pb_hook;

/* 1 for "application/json" with optional parameters (case-insensitive), else 0. */
int pb_hook_content_type_ok(const char *ct);
/* 1 when the raw JSON text nests arrays/objects at most max_depth deep. Linear scan that
 * honours strings and escapes; does not validate the JSON otherwise. */
int pb_hook_depth_ok(const char *body, size_t len, int max_depth);

/* Parses and validates body (must be NUL-terminated at body[len] or not: length is used).
 * On success fills *h (release with pb_hook_free) and computes h->key for workspace.
 * Errors: PB_EDEPTH (too deep), PB_EPARSE (not JSON), PB_EINVAL (missing/ill-typed field;
 * err->field names it). */
int pb_hook_parse(const char *workspace, const char *body, size_t len, pb_hook *h, pb_error *err);
/* The same; with want_key = 0 h->key is left empty (the worker re-parses stored jobs, whose
 * key is already in the queue row, and skips hashing the body). */
int pb_hook_parse_opts(const char *workspace, const char *body, size_t len, int want_key, pb_hook *h,
                       pb_error *err);
void pb_hook_free(pb_hook *h); /* NULL-safe, idempotent */

/* 1 for event names the mirror applies (project, issue, cycle, module, issue_comment). */
int pb_hook_event_known(const char *event);

/* Workspace slug check for the URL: 1..48 chars of [a-z0-9_-]. */
int pb_hook_slug_ok(const char *slug);

#endif
