/* sync_store: the SQL of the upstream mirror (src/sync): connected installations, the
 * per-resource cursors in work_plane.events_cursor, mirror upserts of every row type in the
 * same shape the Plane-compatible API stores standalone rows (plane_store / plane_more_store),
 * id listings for reconciliation and verification, and the governor's shared budget row
 * (ops.sync_budget, 0007).
 *
 * Shapes (identical to src/api's standalone rows, so the same API serves a mirror):
 *   projects -> work_plane.projects; issue/state/label/cycle/module/comment/link/activity/
 *   intake/project_member -> work_plane.items by item_type; assignees/labels -> item_refs
 *   'assignee'/'label'; cycle/module membership -> item_refs (issue, 'cycle'|'module', ref);
 *   relations -> item_refs 'relation_<stored type>' as plane_more_store stores them;
 *   workspace members -> ops.users + ops.workspace_members.
 *
 * Upserts never move a row backwards: a stored row is replaced only when the incoming
 * updated_at is newer, or equal with a different raw (so computed counters refresh).
 *
 * Contract: pb_conn functions run inside the caller's transaction; pb_db functions acquire a
 * connection themselves. Strings are borrowed on input; output strings are malloc'd and owned
 * by the caller (the matching _clear/_free). Errors: negative PB_E* codes, detail in err. */
#ifndef PB_STORE_SYNC_STORE_H
#define PB_STORE_SYNC_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- installations */
typedef struct pb_ss_install {
    char slug[130];
    char upstream_url[1024];
    char space_id[64];
    char writeback_policy[16];
} pb_ss_install;

/* Creates (or re-points) the installation of slug: upstream_url, auth_kind 'api_key', a new
 * space_id (kept when the row exists). *space_id_out (optional, 64 bytes) gets it. */
int pb_ss_connect(pb_db *db, const char *slug, const char *upstream_url, char *space_id_out, pb_error *err);
/* Connected (api_key, upstream_url set) installations; slug non-NULL filters. *out malloc'd. */
int pb_ss_installs(pb_db *db, const char *slug, pb_ss_install **out, size_t *n, pb_error *err);
/* The writeback policy of a workspace ("disabled" when unknown). out >= 16 bytes. */
int pb_ss_writeback_policy(pb_conn *c, const char *slug, char *out, size_t outlen, pb_error *err);

/* 1 when slug is a mirrored workspace (upstream connected) whose writeback policy is
 * 'disabled': the Plane-compatible API must answer writes with 403. 0 otherwise (and on any
 * store error: the caller's own checks still apply). */
int pb_ss_write_blocked(pb_conn *c, const char *slug);
/* 1 when slug is a mirrored workspace (an upstream Plane is connected), whatever its
 * writeback policy; 0 for a standalone workspace or an unknown slug; <0 on a store error. */
int pb_ss_is_mirror(pb_conn *c, const char *slug);

/* ---------------------------------------------------------------- cursors */
typedef struct pb_ss_cursor {
    int exists;
    int64_t watermark;     /* 0 = none */
    char *watermark_ids;   /* malloc'd or NULL */
    int64_t next_page;
    char phase[16];        /* "idle", "backfill", ... */
    int64_t reconciled_at; /* 0 = never */
} pb_ss_cursor;
void pb_ss_cursor_clear(pb_ss_cursor *cur);
int pb_ss_cursor_get(pb_conn *c, const char *ws, const char *resource, const char *scope, pb_ss_cursor *out,
                     pb_error *err);
int pb_ss_cursor_put(pb_conn *c, const char *ws, const char *resource, const char *scope, const pb_ss_cursor *cur,
                     int64_t now, pb_error *err);
/* Forgets every cursor of the workspace (sync --full). */
int pb_ss_cursor_reset(pb_db *db, const char *ws, pb_error *err);

/* ---------------------------------------------------------------- mirror rows */
typedef struct pb_ss_row {
    const char *id, *item_type, *workspace, *project_id, *parent_id, *state_id, *state_group, *priority, *name;
    const char *external_source, *external_id, *created_by, *member_id;
    int has_sequence_id;
    int64_t sequence_id;
    int has_sort_order;
    double sort_order;
    int is_draft, is_default, is_active, role;
    int64_t created_at, updated_at, archived_at; /* archived 0 = NULL */
    int64_t synced_at;
    const char *raw;
} pb_ss_row;

/* Upserts a work_plane.items row; *changed = 1 when written. A soft-deleted row that shows up
 * upstream again is revived (deleted_at cleared). */
int pb_ss_upsert_item(pb_conn *c, const pb_ss_row *r, int *changed, pb_error *err);
/* Upserts a work_plane.projects row (same rules; visible_issues reset to NULL). */
typedef struct pb_ss_project {
    const char *id, *workspace, *identifier, *name, *external_source, *external_id;
    int64_t created_at, updated_at, archived_at, synced_at;
    const char *raw;
} pb_ss_project;
int pb_ss_upsert_project(pb_conn *c, const pb_ss_project *p, int *changed, pb_error *err);

/* Replaces the refs of one kind of an item (assignee, label). */
int pb_ss_refs_replace(pb_conn *c, const char *item_id, const char *kind, const char *const *ids, size_t n,
                       int64_t now, pb_error *err);
/* Removes the refs of two kinds of an item in one statement: the same as pb_ss_refs_replace
 * with no ids for each kind (a mirrored work item without assignees and labels: one statement
 * instead of two). */
int pb_ss_refs_clear2(pb_conn *c, const char *item_id, const char *kind_a, const char *kind_b, pb_error *err);
/* Replaces the members (issues) of a cycle/module: kind "cycle" | "module". */
int pb_ss_membership_replace(pb_conn *c, const char *kind, const char *ref_id, const char *const *issue_ids,
                             size_t n, int64_t now, pb_error *err);
/* Replaces every relation row touching issue_id with the given (stored kind, item, ref) rows. */
typedef struct pb_ss_rel {
    const char *item_id, *kind, *ref_id;
} pb_ss_rel;
int pb_ss_relations_replace(pb_conn *c, const char *issue_id, const pb_ss_rel *rels, size_t n, int64_t now,
                            pb_error *err);

/* ops.users + ops.workspace_members for an upstream workspace member (same id as upstream).
 * An e-mail already used by another local user is skipped (*skipped = 1). */
int pb_ss_upsert_user(pb_conn *c, const char *ws, const char *id, const char *email, const char *first,
                      const char *last, const char *display, int role, int64_t now, int *skipped, pb_error *err);
/* Removes workspace memberships of ws whose user is not in ids. *removed optional. */
int pb_ss_members_prune(pb_conn *c, const char *ws, const char *const *ids, size_t n, int64_t *removed,
                        pb_error *err);

/* ---------------------------------------------------------------- listings */
typedef struct pb_ss_idrow {
    char id[40];
    int64_t updated_at;
    int64_t archived_at;
    char *raw; /* malloc'd when asked for, else NULL */
} pb_ss_idrow;
void pb_ss_idrows_free(pb_ss_idrow *v, size_t n);
/* Live (not deleted) rows: item_type "project" lists work_plane.projects of ws; else items of
 * the type in ws, narrowed by project_id / parent_id when non-NULL. Ordered by id. */
int pb_ss_list_live(pb_conn *c, const char *ws, const char *item_type, const char *project_id,
                    const char *parent_id, int with_raw, pb_ss_idrow **out, size_t *n, pb_error *err);
/* Issue ids of a project in created_at, id order (the children walk), from offset. */
int pb_ss_issue_ids(pb_conn *c, const char *project_id, int64_t offset, int64_t limit, char (**ids)[40],
                    size_t *n, pb_error *err);
/* Members of a cycle/module (issue ids, sorted). */
int pb_ss_membership_ids(pb_conn *c, const char *kind, const char *ref_id, char (**ids)[40], size_t *n,
                         pb_error *err);
/* Relation rows touching an issue: "kind item ref" triples, sorted, as malloc'd strings. */
int pb_ss_relation_rows(pb_conn *c, const char *issue_id, char ***rows, size_t *n, pb_error *err);
void pb_ss_strings_free(char **v, size_t n);
/* Workspace members: "id email role" strings, sorted. */
int pb_ss_member_rows(pb_conn *c, const char *ws, char ***rows, size_t *n, pb_error *err);
/* Soft-deletes a live row (project or item); *changed = 1 when it was live. */
int pb_ss_mark_deleted(pb_conn *c, int is_project, const char *id, int64_t now, int *changed, pb_error *err);
/* Live row counts of a workspace: projects + items. */
int pb_ss_count_live(pb_db *db, const char *ws, int64_t *count, pb_error *err);

/* ---------------------------------------------------------------- governor budget */
typedef struct pb_ss_budget {
    int lim;
    int remaining;       /* -1 unknown */
    int64_t reset_at;    /* us */
    int64_t blocked_until;
    int64_t observed_at;
    int64_t requests, throttled;
    int accept; /* put: the answer of a probe: replaces remaining when the stored window is
                 * spent (remaining 0) and has ended (reset_at passed), or is unknown; otherwise
                 * an answer only lowers remaining, since it does not count the requests other
                 * processes reserved and have in flight */
} pb_ss_budget;
/* PB_ENOTFOUND when there is no row yet. */
int pb_ss_budget_get(pb_db *db, const char *key, pb_ss_budget *out, pb_error *err);
/* Writes the observation unless the stored one is newer (observed_at); adds the deltas to the
 * request/throttle counters either way. */
int pb_ss_budget_put(pb_db *db, const char *key, const pb_ss_budget *b, int64_t add_requests, int64_t add_throttled,
                     pb_error *err);
/* Reserves up to n requests of key's shared budget (processes on one store): *granted gets
 * min(n, remaining) and remaining goes down by it, atomically. *granted = 0 when the budget is
 * spent or unknown (no row, or remaining < 0); *reset_at then gets the stored window end
 * (0 without a row). */
int pb_ss_budget_take(pb_db *db, const char *key, int n, int *granted, int64_t *reset_at, pb_error *err);
/* The right to send the probe that opens key's next window, for processes sharing the store:
 * *granted = 1 for one caller until `until` (or until a probe's answer is put with accept),
 * 0 while another holds it. Creates the row when there is none. */
int pb_ss_budget_probe(pb_db *db, const char *key, int64_t now, int64_t until, int *granted, pb_error *err);

/* Budget writes during a long write transaction (SQLite). SQLite has one writer: while a
 * thread of this process holds the write lock in a long transaction (a batch of backfill
 * pages), pb_ss_budget_take/_put called by another thread (the governor, reserving the
 * requests of the next pages' fetch) would wait for its commit, and the fetch with it.
 * Between pb_ss_budget_hold(c) (right after pb_conn_begin_write) and pb_ss_budget_release(c),
 * those calls on c's store borrow c instead: the holder lends it at its next
 * pb_ss_budget_serve(c) (call it between rows; it waits while a borrower runs its one
 * statement) and at release. The same statements run in the same order, inside the holder's
 * transaction; no other process can write the row meanwhile (the holder has the lock), so the
 * row ends as if they had waited, and other processes see it at the holder's commit. Release
 * with ok=1 right before committing (serves whoever is queued); ok=0 when the transaction will
 * be rolled back: queued callers then take a connection of their own and wait for the lock as
 * before. A reservation made in a transaction that then fails to commit is lost from the
 * shared row (other processes see a larger budget until the next observation; the upstream's
 * 429 stays the backstop). Every hold must be released by the same thread, and the holder
 * must not wait for a thread that may call pb_ss_budget_* while it holds. No-op on PostgreSQL
 * (the budget row is locked by its own statement only). At most 8 stores held at once; past
 * that hold does nothing (callers wait as before). */
void pb_ss_budget_hold(pb_conn *c);
void pb_ss_budget_serve(pb_conn *c);
void pb_ss_budget_release(pb_conn *c, int ok);

#endif
