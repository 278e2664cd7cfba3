/* format: what each subscription format puts on the wire. Pure functions over JSON; the
 * store lookups they need (names, identifiers, mirror rows) are done by the caller.
 *
 *   standard  the outbox payload {type, timestamp, data, previous_attributes?} as is.
 *   plane     exactly Plane CE's v1 webhook: body keys event, action, webhook_id,
 *             workspace_id, data, activity{field,new_value,old_value,actor,old_identifier,
 *             new_identifier}, serialised like Python's json.dumps defaults (", " and ": "
 *             separators, ensure_ascii) so the bytes match what CE would sign; one message
 *             per changed field; only the events CE emits (project created/updated/deleted;
 *             issue, cycle, module, issue_comment created/updated; never their deletes).
 *             `data` is the mirror's row at send time (its raw API v1 JSON), so references
 *             such as state/labels/assignees stay ids rather than CE's expanded objects;
 *             `activity.actor` is Plane's UserLite when the user is known locally.
 *   slack     {"text": mrkdwn} a person wants to read: identifier, title, state, assignees,
 *             who changed what, a link back to the item.
 *   pumble    {"text": markdown} with the same content, capped at 10 000 characters.
 *
 * Ownership: output goes into the caller's pb_buf; cJSON trees stay the caller's. */
#ifndef PB_DELIVER_FORMAT_H
#define PB_DELIVER_FORMAT_H

#include "core/buf.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define PB_JSON_MAX_DEPTH 64
#define PB_PUMBLE_MAX_CHARS 10000
#define PB_SLACK_MAX_CHARS 3500

/* 1 if the tree nests no deeper than max_depth. */
int pb_json_depth_ok(const cJSON *v, int max_depth);
/* Parses text with a depth check; NULL on malformed or too deep input. */
cJSON *pb_json_parse(const char *text, size_t len);

/* Python json.dumps(obj) (default separators, ensure_ascii=True) of a tree. */
int pb_pyjson_dump(const cJSON *v, pb_buf *out);

/* 1 if a subscription with this mode ("all"|"individual") and comma list of types
 * ("issue.created", "issue.*", "*") wants an event type. */
int pb_event_selected(const char *mode, const char *events, const char *type);

/* The Plane CE event and action for one of our event types ("issue.updated" ->
 * "issue","updated"). Returns 1 when CE would emit it, 0 when it would not (deletes of
 * work items/comments/cycles/modules, derived events, pages, operational events). */
int pb_plane_event(const char *type, char *event, size_t elen, char *action, size_t alen);

/* The standard body: the payload when it already has the {type, ..., data} shape, else
 * {"type", "timestamp", "data": payload}. */
int pb_standard_body(const char *type, int64_t occurred_at, const char *payload, pb_buf *out);
/* Same when the caller already parsed payload (parsed = pb_json_parse(payload) or NULL when
 * it is not JSON); the fan-out parses each outbox row once for every hook. */
int pb_standard_body_parsed(const char *type, int64_t occurred_at, const char *payload, const cJSON *parsed,
                            pb_buf *out);

/* A stored plane message spec for one changed field (field NULL for created/deleted):
 * {"event","action","object_id","field","old_value","new_value","actor","data"}. */
int pb_plane_spec(const char *event, const char *action, const char *object_id, const char *field,
                  const cJSON *payload, pb_buf *out);
/* Builds the wire body from a spec at send time. data_json: the object's current row from
 * the mirror (NULL: use the spec's event-time data; ignored for deletes, which send
 * {"id": ...}). *event_out receives the X-Plane-Event value. */
int pb_plane_envelope(const char *spec_json, const char *webhook_id, const char *workspace_id, const char *data_json,
                      pb_buf *out, char *event_out, size_t elen);

typedef struct pb_chat_ctx {
    const char *public_url;   /* base for links ("" = no link) */
    const char *project_ident;/* "PROJ" or "" */
    const char *state_name;   /* "" when unknown */
    const char *assignees;    /* display names, comma-separated, "" when none */
    const char *actor;        /* who made the change, "" when unknown */
} pb_chat_ctx;

/* Slack (pumble = 0) or Pumble (pumble = 1) JSON body for an event. */
int pb_chat_body(int pumble, const char *type, const char *workspace, const char *project_id, const cJSON *payload,
                 const pb_chat_ctx *ctx, pb_buf *out);

/* Validates a chat URL: Slack incoming webhooks are https://hooks.slack.com/..., Pumble's
 * https://api.pumble.com/workspaces/.../incomingWebhooks/postMessage/... Returns 0 or
 * PB_EINVAL. */
int pb_chat_url_valid(const char *format, const char *url);

#endif
