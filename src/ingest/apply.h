/* apply: one Plane webhook hint applied to the mirror, and the domain events it causes.
 *
 * pb_ingest_apply() runs inside the caller's write transaction (the worker acks the job in
 * that same transaction, so a crash either keeps both or neither):
 *   1. locks the object (PostgreSQL advisory lock; several processes apply safely);
 *   2. reads the stored row;
 *   3. drops a hint that is not newer than the stored row (updated_at comparison): an
 *      out-of-order delivery never moves a row backwards;
 *   4. normalises webhook data to the API v1 shape the mirror keeps (state/labels/assignees
 *      as ids; IssueExpandSerializer-only fields dropped) and upserts it;
 *   5. diffs old and new top-level fields (ignoring updated_at/updated_by and fields absent
 *      on either side) and writes only real changes to ops.outbox as DESIGN.md §4 events
 *      {type, timestamp, workspace, data, previous_attributes}: <t>.created, <t>.updated and
 *      the derived issue.assigned, issue.completed, project.archived, <t>.deleted;
 *   6. suppresses the events (still applying the row) when ops.self_writes says planebridge
 *      itself wrote this object version upstream (echo suppression).
 * Event ids are derived from (type, object id, updated_at), so re-applying is idempotent.
 *
 * Partial or stale hints (no updated_at, missing required fields, or older than the mirror)
 * set res->partial / res->stale; the worker then calls the refetch hook (ingest.h) after
 * commit, which is where the sync module re-reads the object through the REST client. */
#ifndef PB_INGEST_APPLY_H
#define PB_INGEST_APPLY_H

#include "core/err.h"
#include "ingest/webhook.h"
#include "store/db.h"

#include <stdint.h>

typedef struct pb_apply_result {
    int ignored; /* event type not mirrored */
    int changed; /* mirror row written */
    int stale;   /* older than the mirror: nothing written */
    int noop;    /* same version, or nothing but volatile fields changed */
    int echo;    /* our own write: events suppressed */
    int partial; /* hint lacked what the mirror needs: nothing written */
    int events;  /* outbox rows written */
} pb_apply_result;

int pb_ingest_apply(pb_conn *c, const char *workspace, const pb_hook *h, int64_t now, pb_apply_result *res,
                    pb_error *err);

/* Mirror item_type for a webhook event ("issue_comment" -> "comment"), NULL for projects
 * and unknown events. */
const char *pb_ingest_item_type(const char *event);

#endif
