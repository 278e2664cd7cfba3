/* grouping: what cycles and modules share. Both are project-scoped groups of work items: a
 * work_plane.items row (item_type = the kind) whose issue counts are computed on read from the
 * membership rows in item_refs, with archive/unarchive and the membership routes. A
 * pb_group_kind describes one of them (store type, route parameters, outbox events, Plane's
 * messages and the rules that differ); cycles.c and modules.c keep what is theirs alone and
 * hand their kind to the functions here. Handlers take ctx = the pb_app*, like every route. */
#ifndef PB_API_GROUPING_H
#define PB_API_GROUPING_H

#include "api/api_more.h"

typedef struct pb_group_kind {
    const char *type;             /* item_type and membership kind: "cycle" | "module" */
    const char *pk_param;         /* route parameter of the archive/unarchive routes */
    const char *ref_param;        /* route parameter of the membership routes */
    const char *const *users;     /* user keys ?expand= resolves (NULL-terminated) */
    const char *const *diff_keys; /* keys compared for previous_attributes (NULL-terminated) */
    pb_more_counts_fn counts;     /* adds the issue counts: pb_group_add_counts for this type */
    const char *created_event;    /* outbox events: "cycle.created" ... */
    const char *updated_event;
    const char *deleted_event;
    const char *view_flag;            /* project flag that allows creating: "cycle_view" ... */
    const char *disabled_msg;         /* 400 non_field_errors when that flag is off */
    const char *ext_conflict_msg;     /* 409 when external_source/external_id is taken */
    const char *archived_edit_msg;    /* 400 for a PATCH of an archived group */
    const char *owner_key;            /* delete: key of the owner in the object (checked after
                                       * parsing it); NULL: the row's created_by (checked first) */
    const char *delete_forbidden_msg; /* 403 for a delete by neither the owner nor an admin */
    const char *empty_issues_msg;     /* 400 {"error"} for an empty "issues" list; NULL: Plane's
                                       * coded body for cycles */
    /* NULL when the stored group may be archived, else Plane's 400 message. */
    const char *(*archive_refusal)(const cJSON *group);
    /* NULL when work items may be added to the stored group, else the 400 JSON body. A NULL
     * hook means no check (the row is then not parsed). */
    const char *(*add_refusal)(const cJSON *group);
    /* Adds one work item inside the write transaction; NULL: pb_more_member_add. */
    int (*add_member)(pb_api_req *a, const char *issue_id, const char *ref_id, int64_t now, pb_error *err);
} pb_group_kind;

/* Replaces the six issue counters of o (total_issues ... cancelled_issues) with the counts of
 * group id's members. */
int pb_group_add_counts(pb_api_req *a, const char *type, cJSON *o, const char *id);

/* pb_more_render_fn for a stored group (arg = its pb_group_kind): counts, expand, fields. */
int pb_group_render(pb_api_req *a, const void *kind, const char *raw, const pb_api_fields *fields,
                    const pb_api_fields *expand, pb_buf *b);
/* Sends one stored group (with counts) with status. */
void pb_group_send(pb_api_req *a, const pb_group_kind *kind, int status, const char *raw);
/* Sends groups as Plane's paginated envelope. */
void pb_group_send_page(pb_api_req *a, const pb_group_kind *kind, const pb_api_page *pg, int64_t total,
                        const pb_more_row *rows, size_t n);

/* Loads a group of the project (archived too) into *row; rolls back, answers 404 (or 500) and
 * returns non-zero when it cannot. */
int pb_group_load(pb_api_req *a, const pb_group_kind *kind, const char *id, pb_more_row *row);

/* pb_more_save with the kind's updated event, diff keys and counts. */
int pb_group_save(pb_api_req *a, const pb_group_kind *kind, const char *id, const cJSON *before, cJSON *o,
                  int64_t now, char **raw_out, pb_error *err);

/* 0 when the project allows creating this kind (its view flag); else answers (400 through v,
 * or 500) and returns non-zero. No transaction is open yet. */
int pb_group_require_view(pb_api_req *a, const pb_group_kind *kind, pb_api_verr *v);

/* 0 when no group of the project has (es, ei); else rolls back, answers 409 naming answer_id
 * (the existing group's id when NULL) or 500, and returns non-zero. */
int pb_group_external_free(pb_api_req *a, const pb_group_kind *kind, const char *es, const char *ei,
                           const char *answer_id);

/* Finishes a create inside the open write transaction: inserts o as group id, records the
 * created event (with counts), commits and answers 201. Answers the failure otherwise. */
void pb_group_insert(pb_api_req *a, const pb_group_kind *kind, const char *id, cJSON *o, int64_t now);

/* Starts a PATCH of group pk: parses the body, opens the write transaction, loads the row
 * (400 when archived) and parses its object into *before and a copy to edit into *o. Returns
 * non-zero after answering; the caller frees *body, *row, *before and *o either way. */
int pb_group_update_begin(pb_api_req *a, const pb_group_kind *kind, const char *pk, cJSON **body,
                          pb_more_row *row, cJSON **before, cJSON **o);

/* Finishes a PATCH of row pk inside the open write transaction: refuses an external_id in body
 * that another group has (409 naming pk), saves o (edited from before), commits and answers
 * 200 with it. Answers the failure otherwise. */
void pb_group_update_finish(pb_api_req *a, const pb_group_kind *kind, const char *pk, const pb_more_row *row,
                            const cJSON *body, const cJSON *before, cJSON *o);

/* Handlers shared by both kinds (route parameters named in the kind). */
int pb_group_get(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);
int pb_group_delete(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);
int pb_group_set_archived(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind, int archive);
int pb_group_archived_list(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);
int pb_group_issues_list(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);
int pb_group_issues_add(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);
int pb_group_issue_delete(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind);

#endif
