/* gate: the writeback gate. Every write planebridge makes to a Plane workspace (populate's
 * apply and imports, and later GitHub/Slack/MCP automations) passes pb_gate_check() first and
 * reports its outcome with pb_gate_record(). The policy is the workspace's
 * work_plane.installations.writeback_policy:
 *   - "disabled" (the default): every write is refused;
 *   - "explicit": writes started by an operator command (apply, import) pass; automations are
 *     refused;
 *   - "enabled": operator commands and automations pass.
 * An unknown workspace is refused. Every decision leaves one ops.run_events row: a refusal
 * with upstream_status NULL and action "refused: <action>"; a permitted write, once done,
 * with its upstream HTTP status (pb_gate_record).
 * Thread-safe (each call uses its own store connection). */
#ifndef PB_POPULATE_GATE_H
#define PB_POPULATE_GATE_H

#include "core/err.h"
#include "store/db.h"

typedef enum { PB_GATE_OPERATOR = 1, PB_GATE_AUTOMATION = 2 } pb_gate_kind;

typedef struct pb_gate_req {
    const char *workspace; /* slug */
    const char *source;    /* "populate.apply", "populate.import", "github", "slack", ... */
    const char *action;    /* e.g. "POST projects/<id>/work-items/" */
    const char *target;    /* "local" or the upstream URL */
    const char *actor;     /* operator or user, may be NULL */
    pb_gate_kind kind;
} pb_gate_req;

/* 0 when the write may go ahead; PB_EFORBIDDEN (with a message naming the policy) when the
 * policy refuses it, after writing the refusal's audit row; other codes on store errors
 * (then nothing may be written either). */
int pb_gate_check(pb_db *db, const pb_gate_req *r, pb_error *err);
/* Audit row of a permitted write: upstream_status is the HTTP status (a write that got no
 * answer is recorded with status 599 and the transport error in detail). detail may be NULL. */
int pb_gate_record(pb_db *db, const pb_gate_req *r, int upstream_status, const char *detail, pb_error *err);

#endif
