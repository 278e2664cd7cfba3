/* plane_more_store: the SQL behind the Plane API's comments, links, relations, cycles,
 * modules (and their issue memberships), intake issues and work-item search.
 *
 * Storage (0001_core, no extra tables):
 *   - comments, links, cycles, modules and intake issues are rows of work_plane.items with
 *     item_type 'comment' | 'link' | 'cycle' | 'module' | 'intake'. `raw` holds the object as
 *     the API serializes it (minus computed counters); parent_id is the work item for
 *     comments, links and intake rows; a link's url is kept in `name` for the duplicate check.
 *   - relations are rows of work_plane.item_refs (item_id = issue, kind = 'relation_<stored
 *     type>', ref_id = related issue), stored the way Plane stores them (blocking is kept as
 *     the inverse blocked_by row, start_after as start_before, finish_after as finish_before).
 *   - cycle and module membership are item_refs rows (item_id = issue, kind 'cycle'|'module',
 *     ref_id = cycle/module id). An issue is in at most one cycle.
 * Work items themselves belong to plane_store (item_type 'issue'); this module only reads
 * their id, name, sequence_id, state_group and visibility columns.
 *
 * Every function works on a connection the caller holds (inside its transaction when it
 * writes). Soft delete sets deleted_at; soft-deleted rows are invisible to every read here.
 * Ownership: pb_more_row.raw and list arrays are malloc'd and owned by the caller
 * (pb_more_rows_free / free). Errors: negative PB_E* codes, detail in err. */
#ifndef PB_STORE_PLANE_MORE_STORE_H
#define PB_STORE_PLANE_MORE_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

#define PB_MORE_ISSUE_TYPE "issue"

typedef struct pb_more_row {
    char id[40];
    char project_id[40];
    char parent_id[40];
    char created_by[64];
    char ext_source[256];
    char ext_id[256];
    int64_t created_at;
    int64_t updated_at;
    int64_t archived_at; /* 0 = not archived */
    char *raw;           /* malloc'd JSON object text */
} pb_more_row;

void pb_more_row_clear(pb_more_row *r);
void pb_more_rows_free(pb_more_row *rows, size_t n);

/* A new row of work_plane.items. name/parent_id/ext_* may be NULL. */
typedef struct pb_more_new {
    const char *id;
    const char *item_type;
    const char *slug;
    const char *project_id;
    const char *parent_id;
    const char *name;
    const char *ext_source;
    const char *ext_id;
    const char *created_by;
    double sort_order;
    int64_t created_at;
    const char *raw;
} pb_more_new;

int pb_more_insert(pb_conn *c, const pb_more_new *n, pb_error *err);
/* Rewrites the mutable columns of a row (archived_at 0 = NULL). PB_ENOTFOUND when gone. */
int pb_more_update(pb_conn *c, const char *id, const char *name, const char *ext_source,
                   const char *ext_id, int64_t updated_at, int64_t archived_at, const char *raw,
                   pb_error *err);
int pb_more_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err);

/* One live row of item_type in project_id (and under parent_id when non-NULL). */
int pb_more_get(pb_conn *c, const char *item_type, const char *project_id, const char *parent_id,
                const char *id, pb_more_row *out, pb_error *err);
/* The live row of item_type in project_id whose parent_id is parent (intake: by issue). */
int pb_more_get_by_parent(pb_conn *c, const char *item_type, const char *project_id,
                          const char *parent, pb_more_row *out, pb_error *err);

enum { PB_MORE_LIVE = 0, PB_MORE_ARCHIVED = 1, PB_MORE_ANY = 2 };

/* Lists live rows of item_type in project_id (under parent_id when non-NULL), filtered by
 * archive state, ordered by created_at (desc when desc != 0), limit < 0 = all. *total gets
 * the full count (optional). */
int pb_more_list(pb_conn *c, const char *item_type, const char *project_id, const char *parent_id,
                 int archived, int desc, int64_t offset, int64_t limit, pb_more_row **rows,
                 size_t *n, int64_t *total, pb_error *err);

/* Id of a live row with this (external_source, external_id) in the project; PB_ENOTFOUND. */
int pb_more_find_external(pb_conn *c, const char *item_type, const char *project_id,
                          const char *ext_source, const char *ext_id, char out_id[40],
                          pb_error *err);
/* Id of a live row of item_type in the project named `name` other than exclude_id (may be
 * NULL); PB_ENOTFOUND when none. */
int pb_more_find_name(pb_conn *c, const char *item_type, const char *project_id, const char *name,
                      const char *exclude_id, char out_id[40], pb_error *err);
/* 1 in *taken when a live link of issue_id other than exclude_id has this url. */
int pb_more_link_url_taken(pb_conn *c, const char *issue_id, const char *url,
                           const char *exclude_id, int *taken, pb_error *err);

/* ---------------------------------------------------------------- work items (read only) */
typedef struct pb_more_issue {
    char id[40];
    char project_id[40];
    char state_group[32];
    char *name; /* malloc'd */
    int64_t sequence_id;
    int visible; /* not archived, not triage */
} pb_more_issue;
void pb_more_issues_free(pb_more_issue *v, size_t n);
/* A live (not deleted) work item of the project; PB_ENOTFOUND. name may be NULL-ed by caller. */
int pb_more_issue_get(pb_conn *c, const char *project_id, const char *issue_id, pb_more_issue *out,
                      pb_error *err);

/* ---------------------------------------------------------------- relations */
#define PB_MORE_REL_TYPES 8
/* The 8 relation types in Plane's response order. */
extern const char *const pb_more_rel_types[PB_MORE_REL_TYPES];
/* Index of a relation type name, -1 when unknown. */
int pb_more_rel_index(const char *type);
/* The stored form of a relation type: which type is written and whether the issue becomes
 * the row's ref_id (inverse types) rather than its item_id. */
void pb_more_rel_stored(const char *type, const char **stored, int *inverse);

/* Adds issue -(type)-> related, stored as Plane stores it; an existing relation is kept. */
int pb_more_relation_add(pb_conn *c, const char *issue_id, const char *type, const char *related_id,
                         int64_t now, pb_error *err);
/* Removes every relation between the two issues (both directions). *removed optional. */
int pb_more_relation_remove(pb_conn *c, const char *issue_id, const char *related_id,
                            int64_t *removed, pb_error *err);

typedef struct pb_more_rel {
    int type;            /* index into pb_more_rel_types, as seen from the asked issue */
    char issue_id[40];   /* the other issue */
    char project_id[40]; /* its project */
} pb_more_rel;
/* Every relation of issue_id with a live other issue, typed from issue_id's side. */
int pb_more_relation_list(pb_conn *c, const char *issue_id, pb_more_rel **out, size_t *n,
                          pb_error *err);

/* ---------------------------------------------------------------- memberships */
/* kind is "cycle" or "module". */
typedef struct pb_more_member {
    char issue_id[40];
    char ref_id[40];
    int64_t created_at;
} pb_more_member;

/* The refs of `kind` the issue is in (cycles: at most one). */
int pb_more_member_refs(pb_conn *c, const char *kind, const char *issue_id, pb_more_member **out,
                        size_t *n, pb_error *err);
/* Adds the issue to ref_id (no-op when already in). */
int pb_more_member_add(pb_conn *c, const char *kind, const char *issue_id, const char *ref_id,
                       int64_t now, pb_error *err);
/* Moves the membership of issue from old_ref to new_ref, keeping its created_at. */
int pb_more_member_move(pb_conn *c, const char *kind, const char *issue_id, const char *old_ref,
                        const char *new_ref, pb_error *err);
/* Removes one membership; *removed gets the count (0 when it did not exist). */
int pb_more_member_remove(pb_conn *c, const char *kind, const char *issue_id, const char *ref_id,
                          int64_t *removed, pb_error *err);
/* Removes every membership of ref_id (cycle/module deleted). */
int pb_more_member_clear(pb_conn *c, const char *kind, const char *ref_id, pb_error *err);
/* Memberships of ref_id whose issue is live and visible, ordered by membership created_at. */
int pb_more_member_list(pb_conn *c, const char *kind, const char *ref_id, pb_more_member **out,
                        size_t *n, pb_error *err);
/* Ids of the visible, live issues of ref_id in project_id, one page ordered by the issue's
 * created_at (desc when desc), with the total. ids is a malloc'd array of 40-byte strings. */
int pb_more_member_issue_ids(pb_conn *c, const char *kind, const char *ref_id,
                             const char *project_id, int desc, int64_t offset, int64_t limit,
                             char (**ids)[40], size_t *n, int64_t *total, pb_error *err);
/* Counts of ref_id's visible, live issues: [0] total, then backlog, unstarted, started,
 * completed, cancelled. */
int pb_more_member_counts(pb_conn *c, const char *kind, const char *ref_id, int64_t counts[6],
                          pb_error *err);
/* Moves the memberships of from_ref whose issue is in backlog/unstarted/started to to_ref;
 * *moved gets how many. */
int pb_more_member_transfer(pb_conn *c, const char *kind, const char *from_ref,
                            const char *to_ref, int64_t *moved, pb_error *err);

/* ---------------------------------------------------------------- search */
typedef struct pb_more_hit {
    char id[40];
    char project_id[40];
    char identifier[16];
    int64_t sequence_id;
    char *name; /* malloc'd */
} pb_more_hit;
void pb_more_hits_free(pb_more_hit *v, size_t n);
/* Work items of the workspace visible to user_id (active member of a non-archived project)
 * whose name or project identifier contains q (case-insensitive) or whose sequence_id equals a
 * whole number in q; restricted to project_id when non-NULL. At most limit hits, newest first. */
int pb_more_search(pb_conn *c, const char *slug, const char *user_id, const char *q,
                   const char *project_id, int64_t limit, pb_more_hit **out, size_t *n,
                   pb_error *err);

#endif
