/* mirror_store: the SQL webhook ingestion uses to apply Plane objects to the mirror
 * (work_plane.projects, work_plane.items, work_plane.item_refs), to write domain events to
 * ops.outbox, and to remember planebridge's own upstream writes (ops.self_writes, 0006).
 *
 * Ordering guarantee: the upserts never move a row backwards. A row is only replaced when
 * the incoming updated_at is strictly newer than the stored one (`ON CONFLICT ... DO UPDATE
 * ... WHERE stored.updated_at < excluded.updated_at`), so a late, out-of-order delivery
 * changes nothing; *changed tells the caller whether the row was written.
 *
 * Item types follow plane_store / plane_more_store: 'issue', 'comment', 'cycle', 'module'.
 * `raw` is the object as the API v1 serializer shows it (ingest normalises webhook data).
 *
 * Every function works on a connection the caller holds, inside the caller's transaction.
 * Ownership: strings in pb_mirror_old are malloc'd (pb_mirror_old_clear). */
#ifndef PB_STORE_MIRROR_STORE_H
#define PB_STORE_MIRROR_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

/* Serialises concurrent appliers of one object (PostgreSQL: transaction-scoped advisory
 * lock on a hash of the id; SQLite: no-op, the write lock already serialises). Call first in
 * the transaction, in a consistent (sorted) order when locking several objects. */
int pb_mirror_lock_object(pb_conn *c, const char *object_id, pb_error *err);

typedef struct pb_mirror_old {
    int exists;
    char *raw;         /* malloc'd JSON text */
    char *state_group; /* items only; malloc'd, "" when NULL */
    int64_t updated_at;
    int64_t deleted_at;  /* 0 = live */
    int64_t archived_at; /* 0 = not archived */
} pb_mirror_old;
void pb_mirror_old_clear(pb_mirror_old *o);

/* Reads the stored row (is_project: work_plane.projects, else work_plane.items of any
 * type). o->exists = 0 when absent (not an error). */
int pb_mirror_get(pb_conn *c, int is_project, const char *object_id, pb_mirror_old *o, pb_error *err);

typedef struct pb_mirror_project {
    const char *id, *workspace, *identifier, *name, *external_source, *external_id;
    int64_t created_at, updated_at, archived_at, deleted_at, synced_at; /* 0 = NULL for the optional ones */
    const char *raw;
} pb_mirror_project;
int pb_mirror_upsert_project(pb_conn *c, const pb_mirror_project *p, int64_t *changed, pb_error *err);

typedef struct pb_mirror_item {
    const char *id, *item_type, *workspace, *project_id, *parent_id, *state_id, *state_group, *priority,
        *name;
    const char *external_source, *external_id, *created_by;
    int has_sequence_id;
    int64_t sequence_id;
    int has_sort_order;
    double sort_order;
    int is_draft;
    int64_t created_at, updated_at, archived_at, deleted_at, synced_at; /* 0 = NULL for the optional ones */
    const char *raw;
} pb_mirror_item;
int pb_mirror_upsert_item(pb_conn *c, const pb_mirror_item *it, int64_t *changed, pb_error *err);

/* Soft delete (deleted_at = now) of a live row; *changed = 0 when absent or already deleted. */
int pb_mirror_mark_deleted(pb_conn *c, int is_project, const char *object_id, int64_t now, int64_t *changed,
                           pb_error *err);

/* Replaces the set of refs of one kind ('assignee', 'label') of an item. */
int pb_mirror_set_refs(pb_conn *c, const char *item_id, const char *kind, const char *const *ref_ids,
                       size_t n, int64_t now, pb_error *err);

/* plane_store caches per-project list counts: any other writer of issues resets it. */
int pb_mirror_invalidate_project_counts(pb_conn *c, const char *project_id, pb_error *err);

/* The group ('backlog', 'started'...) of a mirrored state row, or PB_ENOTFOUND. *out malloc'd. */
int pb_mirror_state_group(pb_conn *c, const char *state_id, char **out, pb_error *err);

/* Appends a domain event; *inserted = 0 when event_id exists already (idempotent re-apply). */
int pb_mirror_outbox_put(pb_conn *c, const char *event_id, const char *type, const char *workspace,
                         const char *project_id, const char *object_id, int64_t occurred_at,
                         const char *payload, int *inserted, pb_error *err);
/* Number of outbox rows for an object (tests, diagnostics). */
int pb_mirror_outbox_count(pb_conn *c, const char *object_id, int64_t *n, pb_error *err);

/* Echo suppression: records that planebridge wrote object_id upstream and Plane answered
 * with updated_at; pb_mirror_self_write_seen() sets *seen when such a record exists. */
int pb_mirror_self_write_note(pb_conn *c, const char *object_id, int64_t updated_at, int64_t now,
                              pb_error *err);
int pb_mirror_self_write_seen(pb_conn *c, const char *object_id, int64_t updated_at, int *seen,
                              pb_error *err);
int pb_mirror_self_write_purge(pb_conn *c, int64_t before_us, pb_error *err);

#endif
