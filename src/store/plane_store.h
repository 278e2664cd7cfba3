/* plane_store: every SQL statement of the Plane-compatible API's own resources (projects,
 * project members, states, labels, work items, activities) over the 0001 mirror tables plus
 * 0003_plane. Rows keep Plane's serialized JSON in `raw` so reads are served without
 * re-serialising.
 *
 * Contract: every function takes a pb_conn and runs inside whatever transaction the caller
 * holds (writers: pb_conn_begin_write first). Input strings are borrowed. Output structs own
 * their malloc'd members (free with the matching *_clear). Missing rows: PB_ENOTFOUND;
 * unique violations: PB_ECONFLICT. Ids are lower-case UUID text. */
#ifndef PB_STORE_PLANE_STORE_H
#define PB_STORE_PLANE_STORE_H

#include "core/buf.h"
#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- projects */
typedef struct pb_ps_project {
    char id[40];
    char slug[130];
    char identifier[16];
    char *name;            /* malloc'd on output */
    char *external_source; /* malloc'd or NULL */
    char *external_id;
    int64_t seq_counter;
    int64_t created_at, updated_at, archived_at, deleted_at; /* 0 = NULL */
    char *raw;             /* malloc'd on output */
} pb_ps_project;
void pb_ps_project_clear(pb_ps_project *p);

/* Inserts; borrowed strings in p (name/raw/external_* used as given). */
int pb_ps_project_insert(pb_conn *c, const pb_ps_project *p, pb_error *err);
/* Updates name, identifier, external ids, updated_at, archived_at and raw by id. */
int pb_ps_project_update(pb_conn *c, const pb_ps_project *p, pb_error *err);
/* A non-deleted project of the workspace. */
int pb_ps_project_get(pb_conn *c, const char *slug, const char *id, pb_ps_project *out,
                      pb_error *err);
/* Id of a non-deleted project with this name / identifier (case-sensitive as stored), other
 * than except_id (may be NULL). PB_ENOTFOUND when free. */
int pb_ps_project_find_name(pb_conn *c, const char *slug, const char *name, const char *except_id,
                            char out_id[40], pb_error *err);
int pb_ps_project_find_identifier(pb_conn *c, const char *slug, const char *identifier,
                                  const char *except_id, char out_id[40], pb_error *err);
/* Id of a non-deleted project by identifier (readable-id lookups). */
int pb_ps_project_by_identifier(pb_conn *c, const char *slug, const char *identifier,
                                pb_ps_project *out, pb_error *err);
int pb_ps_project_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err);
/* Allocates the next sequence_id (projects.seq_counter + 1; never reused). */
int pb_ps_project_next_seq(pb_conn *c, const char *id, int64_t *seq, pb_error *err);
/* The listable work-item count (cached in visible_issues, recounted when NULL). */
int pb_ps_project_issue_count(pb_conn *c, const char *id, int64_t *count, pb_error *err);
/* Adds delta to the cached count (no-op when NULL). */
int pb_ps_project_issue_count_add(pb_conn *c, const char *id, int64_t delta, pb_error *err);
int pb_ps_project_issue_count_reset(pb_conn *c, const char *id, pb_error *err);

/* Access check in one query: the project (non-deleted, in slug) and the user's active
 * project-member role. *exists = 0 when there is no such project; *role = 0 when the user is
 * not an active member. identifier/archived filled when it exists. */
int pb_ps_project_access(pb_conn *c, const char *slug, const char *project_id, const char *user_id,
                         int *exists, int *role, char identifier[16], int *archived,
                         pb_error *err);

/* Projects of a workspace visible to user_id (member of, or network=2 public), ordered by
 * created_at DESC. Rows appended to *out (array of raws, caller frees each + array). */
typedef struct pb_ps_rawlist {
    char **raw;   /* malloc'd strings */
    char **id;    /* malloc'd ids */
    size_t n;
} pb_ps_rawlist;
void pb_ps_rawlist_clear(pb_ps_rawlist *l);
int pb_ps_project_list(pb_conn *c, const char *slug, const char *user_id, int64_t limit,
                       int64_t offset, int64_t *total, pb_ps_rawlist *out, pb_error *err);

/* pb_ps_project_list in another order (Plane's ?order_by= on the project list). desc gives the
 * exact reverse of the ascending order. PB_PS_PORDER_SORT_ORDER is the user's own membership
 * sort_order (Plane's default), public projects the user has not joined last. NULLs sort as
 * PostgreSQL sorts them (last ascending, first descending) on both backends. */
typedef enum {
    PB_PS_PORDER_SORT_ORDER = 0,
    PB_PS_PORDER_CREATED,
    PB_PS_PORDER_UPDATED,
    PB_PS_PORDER_NAME,
    PB_PS_PORDER_IDENTIFIER,
    PB_PS_PORDER_ID,
    PB_PS_PORDER_ARCHIVED
} pb_ps_project_order;
int pb_ps_project_list_ordered(pb_conn *c, const char *slug, const char *user_id, pb_ps_project_order order,
                               int desc, int64_t limit, int64_t offset, int64_t *total, pb_ps_rawlist *out,
                               pb_error *err);

/* The counts of Plane's projects/{id}/summary/ for one project: active members, states and
 * work items outside the triage group, labels, cycles and modules (archived included), intake
 * issues and pages; soft-deleted rows never count. */
typedef struct pb_ps_project_summary {
    int64_t members, states, labels, cycles, modules, issues, intakes, pages;
} pb_ps_project_summary;
int pb_ps_project_summary_counts(pb_conn *c, const char *project_id, pb_ps_project_summary *out,
                                 pb_error *err);

/* Annotations Plane adds to a project: active members, cycles, modules, and the user's role
 * (0 when not an active member). */
int pb_ps_project_counts(pb_conn *c, const char *project_id, const char *user_id, int64_t *members,
                         int64_t *cycles, int64_t *modules, int *my_role, pb_error *err);
/* WorkspaceLite {id,name,slug} as JSON into b (PB_ENOTFOUND). */
int pb_ps_workspace_lite(pb_conn *c, const char *slug, pb_buf *b, pb_error *err);

/* Workspace id (installations.id) of a slug. */
int pb_ps_workspace_id(pb_conn *c, const char *slug, char out[64], pb_error *err);

/* ---------------------------------------------------------------- generic items */
typedef struct pb_ps_item {
    char id[40];
    const char *item_type; /* static string on output */
    char slug[130];
    char project_id[40];
    char parent_id[40];    /* "" = NULL */
    int64_t sequence_id;   /* 0 = NULL */
    char state_id[40];     /* "" = NULL */
    char state_group[16];  /* "" = NULL */
    char priority[16];     /* "" = NULL */
    char *name;            /* malloc'd on output; borrowed on input (NULL ok) */
    double sort_order;
    char *external_source; /* malloc'd/borrowed, NULL ok */
    char *external_id;
    char created_by[64];
    int64_t created_at, updated_at, archived_at, deleted_at; /* 0 = NULL */
    int is_draft, is_default, is_active;
    char member_id[64];    /* "" = NULL */
    int role;              /* 0 = NULL */
    char *raw;             /* malloc'd/borrowed */
} pb_ps_item;
void pb_ps_item_clear(pb_ps_item *it);

int pb_ps_item_insert(pb_conn *c, const pb_ps_item *it, pb_error *err);
/* Updates every mutable column by id (not item_type/workspace/project/created_*). */
int pb_ps_item_update(pb_conn *c, const pb_ps_item *it, pb_error *err);
/* A non-deleted item of type in project (project_id NULL = any project). */
int pb_ps_item_get(pb_conn *c, const char *type, const char *project_id, const char *id,
                   pb_ps_item *out, pb_error *err);
int pb_ps_item_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err);
/* Just the raw JSON of a non-deleted item (fast path for detail GETs); *raw malloc'd. With
 * visible_issue = 1 the row must also be a listable issue (not archived/draft/triage). */
int pb_ps_item_raw(pb_conn *c, const char *type, const char *project_id, const char *id,
                   int visible_issue, char **raw, pb_error *err);
/* Appends the raw JSON of the item directly into b (no copy); PB_ENOTFOUND. */
int pb_ps_item_raw_into(pb_conn *c, const char *type, const char *project_id, const char *id,
                        int visible_issue, pb_buf *b, pb_error *err);
/* Id of a non-deleted item of type in project with this exact name (except_id may be NULL). */
int pb_ps_item_find_name(pb_conn *c, const char *type, const char *project_id, const char *name,
                         const char *except_id, char out_id[40], pb_error *err);
/* Id of a non-deleted item of type in project with this (external_source, external_id). */
int pb_ps_item_find_external(pb_conn *c, const char *type, const char *project_id,
                             const char *source, const char *ext_id, const char *except_id,
                             char out_id[40], pb_error *err);
/* Lists non-deleted items of a type in a project, ordered by created_at (desc when desc),
 * limit/offset (limit < 0 = all), with the total. */
int pb_ps_item_list(pb_conn *c, const char *type, const char *project_id, int desc, int64_t limit,
                    int64_t offset, int64_t *total, pb_ps_rawlist *out, pb_error *err);
/* Items of a type whose parent_id is parent (activities of an issue), created_at order. */
int pb_ps_item_list_parent(pb_conn *c, const char *type, const char *parent_id, int desc,
                           int64_t limit, int64_t offset, int64_t *total, pb_ps_rawlist *out,
                           pb_error *err);

/* ---------------------------------------------------------------- states */
/* Count of non-deleted issues in a state. */
int pb_ps_state_issue_count(pb_conn *c, const char *state_id, int64_t *n, pb_error *err);
/* The default state's id and group (PB_ENOTFOUND if none). */
int pb_ps_state_default(pb_conn *c, const char *project_id, char id[40], char group[16],
                        pb_error *err);
/* Propagates a state's (new) group to its issues' state_group column. */
int pb_ps_state_set_issue_group(pb_conn *c, const char *state_id, const char *group,
                                pb_error *err);

/* ---------------------------------------------------------------- refs */
/* Replaces the item's refs of one kind by ids (n may be 0). */
int pb_ps_refs_set(pb_conn *c, const char *item_id, const char *kind, const char (*ids)[37],
                   size_t n, int64_t now, pb_error *err);
/* Items that have a ref (kind, ref_id): their ids (for label deletion fix-ups). */
int pb_ps_refs_items(pb_conn *c, const char *kind, const char *ref_id, pb_ps_rawlist *out,
                     pb_error *err);
int pb_ps_refs_delete_ref(pb_conn *c, const char *kind, const char *ref_id, pb_error *err);

/* ---------------------------------------------------------------- work items */
typedef enum {
    PB_PS_ORDER_CREATED = 0,
    PB_PS_ORDER_UPDATED,
    PB_PS_ORDER_SEQUENCE,
    PB_PS_ORDER_PRIORITY,
    PB_PS_ORDER_STATE_GROUP,
    PB_PS_ORDER_NAME,
    PB_PS_ORDER_SORT_ORDER,
    PB_PS_ORDER_TARGET_DATE_UNUSED
} pb_ps_order;

/* One page of listable work items (raw JSON appended to b comma-separated). When ref_kind is
 * non-NULL only items with a ref (ref_kind, ref_id) are listed. *rows = rows appended.
 * Totals: pb_ps_project_issue_count for plain lists; *total filled here when ref_kind. */
int pb_ps_issue_page(pb_conn *c, const char *project_id, pb_ps_order order, int desc,
                     const char *ref_kind, const char *ref_id, int64_t limit, int64_t offset,
                     pb_ps_rawlist *out, int64_t *total, pb_error *err);
/* One page of the project's archived (non-deleted) work items, newest archive first. */
int pb_ps_issue_archived_page(pb_conn *c, const char *project_id, int64_t limit, int64_t offset,
                              pb_ps_rawlist *out, int64_t *total, pb_error *err);
/* Listable issue by project + sequence. */
int pb_ps_issue_by_seq(pb_conn *c, const char *project_id, int64_t seq, char **raw,
                       pb_error *err);
/* The one non-deleted issue with this external pair (archived/draft included). PB_ECONFLICT
 * when several exist. */
int pb_ps_issue_by_external(pb_conn *c, const char *project_id, const char *source,
                            const char *ext_id, char **raw, pb_error *err);
/* Is item_id a non-deleted issue of project (visible_only also checks listability)? */
int pb_ps_issue_exists(pb_conn *c, const char *project_id, const char *issue_id, int visible_only,
                       pb_error *err);
/* Project members (active, role >= 15) among ids: keeps only those, in order. */
int pb_ps_filter_members(pb_conn *c, const char *project_id, char (*ids)[37], size_t *n,
                         pb_error *err);
/* Labels of the project among ids (keeps only those). */
int pb_ps_filter_labels(pb_conn *c, const char *project_id, char (*ids)[37], size_t *n,
                        pb_error *err);

/* ---------------------------------------------------------------- project members */
/* The project_member row of user in project (active or not). */
int pb_ps_member_get(pb_conn *c, const char *project_id, const char *user_id, pb_ps_item *out,
                     pb_error *err);

/* ---------------------------------------------------------------- users (ops.users) */
typedef struct pb_ps_user {
    char id[64];
    char email[256];
    char first_name[256];
    char last_name[256];
    char display_name[256];
} pb_ps_user;
int pb_ps_user_get(pb_conn *c, const char *id, pb_ps_user *out, pb_error *err);
/* Workspace role of a user (PB_ENOTFOUND when not a member). */
int pb_ps_ws_role(pb_conn *c, const char *slug, const char *user_id, int *role, pb_error *err);
/* Users of a project's member rows (all, active or not) in created order: UserLite JSON array
 * written into b. */
int pb_ps_project_member_users(pb_conn *c, const char *project_id, pb_buf *b, pb_error *err);

/* Activity rows of an issue (comment activities excluded), created_at order. */
int pb_ps_activity_list(pb_conn *c, const char *issue_id, int desc, int64_t limit, int64_t offset,
                        int64_t *total, pb_ps_rawlist *out, pb_error *err);

/* ---------------------------------------------------------------- outbox */
int pb_ps_outbox_insert(pb_conn *c, const char *event_id, const char *type, const char *slug,
                        const char *project_id, const char *object_id, int64_t at,
                        const char *payload, pb_error *err);
/* Number of outbox rows of a type for an object (tests). */
int pb_ps_outbox_count(pb_conn *c, const char *type, const char *object_id, int64_t *n,
                       pb_error *err);

#endif
