/* api_more: the second half of the Plane-compatible /api/v1 surface — work-item comments,
 * links and relations, cycles (with cycle-issues and transfer), modules (with module-issues),
 * intake issues and work-item search. Each resource lives in its own file under src/api/ and
 * registers its routes (both the `issues/` and `work-items/` spellings) through one function.
 * Handlers are registered with ctx = the pb_app*.
 *
 * The helpers below are shared by those files only (defined in comments.c). */
#ifndef PB_API_API_MORE_H
#define PB_API_API_MORE_H

#include "api/common.h"
#include "app/app.h"
#include "http/server.h"
#include "store/plane_more_store.h"

#include <cjson/cJSON.h>

/* The registration entry points (pb_api_register_comments ... pb_api_register_search) are
 * declared in api/common.h; api.c calls each one. */

/* ---- shared helpers (comments.c) ---- */

/* Registers the same handler for several path patterns. Returns 0 or the first error. */
int pb_more_route(pb_server *srv, pb_app *app, const char *method, const char *const *patterns,
                  size_t n, unsigned flags, pb_handler_fn fn);

/* The workspace id of a.slug into out (JSON null written by callers when ""). */
void pb_more_ws_id(pb_api_req *a, char out[64]);

/* Parses a stored raw row; NULL on failure (answers 500 when resp is non-NULL). */
cJSON *pb_more_parse_raw(const char *raw, pb_resp *resp);

/* Sets obj[key] to a string, or JSON null when s is NULL. */
void pb_more_set_str(cJSON *obj, const char *key, const char *s);
/* Same for ids: JSON null when s is NULL or "". */
void pb_more_set_id(cJSON *obj, const char *key, const char *s);
/* Sets obj[key] to the ISO time of us (null for 0). */
void pb_more_set_time(cJSON *obj, const char *key, int64_t us);
/* obj[key] as a string, or NULL. */
const char *pb_more_get_str(const cJSON *obj, const char *key);

/* Adds computed counts to an event's copy of an object (cycle and module issue counts). */
typedef int (*pb_more_counts_fn)(pb_api_req *a, cJSON *data, const char *id);
/* Saves an edited object inside the caller's write transaction: stamps updated_at/by, writes
 * raw and the indexed columns, and records `event` in the outbox with previous_attributes
 * for the changed diff_keys (counts, when given, are added to the event's data only). On
 * success *raw_out is the saved JSON (malloc'd, caller frees). */
int pb_more_save(pb_api_req *a, const char *id, const cJSON *before, cJSON *o, int64_t now, const char *event,
                 const char *const *diff_keys, pb_more_counts_fn counts, char **raw_out, pb_error *err);

/* Renders one object for output: expands the user keys in `users` (NULL-terminated) named in
 * expand, applies fields, writes compact JSON into b. */
int pb_more_render(pb_api_req *a, cJSON *obj, const char *const *users, const pb_api_fields *fields,
                   const pb_api_fields *expand, pb_buf *b);
/* Sends one stored row (raw JSON) with fields/expand applied, status given. */
void pb_more_send_row(pb_api_req *a, int status, const char *raw, const char *const *users);
/* Sends rows as Plane's paginated envelope; fields/expand from the query. */
void pb_more_send_page(pb_api_req *a, const pb_api_page *pg, int64_t total,
                       const pb_more_row *rows, size_t n, const char *const *users);

/* Renders one stored row (raw JSON) into b honouring fields/expand; arg is the caller's. */
typedef int (*pb_more_render_fn)(pb_api_req *a, const void *arg, const char *raw, const pb_api_fields *fields,
                                 const pb_api_fields *expand, pb_buf *b);
/* Sends one row rendered by fn (fields/expand from the query) with status; 500 when fn fails. */
void pb_more_send_rendered(pb_api_req *a, int status, const char *raw, pb_more_render_fn fn, const void *arg);
/* Sends rows rendered by fn as Plane's paginated envelope (200); 500 when fn fails. */
void pb_more_send_rendered_page(pb_api_req *a, const pb_api_page *pg, int64_t total, const pb_more_row *rows,
                                size_t n, pb_more_render_fn fn, const void *arg);

/* The answer to a lookup's result code: 0 when rc is 0; else rolls back, answers 404 for
 * PB_ENOTFOUND or pb_api_fail(rc, err) otherwise, and returns 1. */
int pb_more_lookup_result(pb_api_req *a, int rc, const pb_error *err);

/* 0 when no live `type` object of the project has (es, ei); else rolls back, answers 409 with
 * msg naming answer_id (the existing object's id when NULL) or the store error, and returns
 * non-zero. Inside the write transaction. */
int pb_more_external_free(pb_api_req *a, const char *type, const char *es, const char *ei, const char *msg,
                          const char *answer_id);

/* Ends the write transaction: rc != 0 rolls back and answers the failure (err); else commits
 * (500 when that fails). Returns non-zero when it answered, 0 when committed. */
int pb_more_end_write(pb_api_req *a, int rc, const pb_error *err);
/* pb_more_end_write, then on commit answers status with raw rendered for users, or with no
 * body when raw is NULL. */
void pb_more_finish(pb_api_req *a, int rc, const pb_error *err, int status, const char *raw,
                    const char *const *users);

/* ---- objects that belong to a work item ({issue_id} in the route, pk the object): comments,
 * links. Handlers with ctx = the pb_app*. */

/* GET list: the paginated `type` rows of the work item (an unknown work item lists nothing,
 * as Plane filters by the id). */
int pb_more_child_list(pb_req *req, pb_resp *resp, void *ctx, const char *type, const char *const *users);
/* GET one. */
int pb_more_child_get(pb_req *req, pb_resp *resp, void *ctx, const char *type, const char *const *users);
/* Loads child pk of issue_id inside the write transaction; rolls back, answers 404 (or the store
 * error) and returns non-zero when it cannot. */
int pb_more_child_load(pb_api_req *a, const char *type, const char *issue_id, const char *pk,
                       pb_more_row *row);
/* DELETE: soft-deletes the child, records deleted_event ({"id","issue"}) unless NULL, touches
 * the work item; 204. flags: the pb_api_begin flags of the route. */
int pb_more_child_delete(pb_req *req, pb_resp *resp, void *ctx, unsigned flags, const char *type,
                         const char *deleted_event);

/* Reads an optional string field into *out (borrowed; NULL when null/absent). Returns 1 when
 * present. */
int pb_more_opt_str(const cJSON *body, const char *key, size_t maxlen, const char **out,
                    pb_api_verr *v);

/* Begins the write transaction on a.conn, answering 500 on failure (returns non-zero). */
int pb_more_begin_write(pb_api_req *a);
/* Commits; on failure answers 500 and returns non-zero. */
int pb_more_commit(pb_api_req *a);
/* Rolls back and answers with pb_api_fail(code, err). */
void pb_more_fail(pb_api_req *a, int code, const pb_error *err);

/* 404s unless issue_id is a live work item of a.project_id. Returns non-zero after answering. */
int pb_more_require_issue(pb_api_req *a, const char *issue_id);

/* The project's raw JSON flag (cycle_view, module_view, intake_view...), 0 when absent. */
int pb_more_project_flag(pb_api_req *a, const char *flag, int *value);

/* ---- links (links.c) ---- */

/* NULL when u is a link URL Plane accepts (Django's URLValidator, then http/https only),
 * else Plane's message: "Invalid URL format." or "Invalid URL scheme.". */
const char *pb_more_url_problem(const char *u);

/* ---- membership helpers shared by cycles and modules (grouping.c) ---- */

/* A stable id for a (cycle|module, issue) membership row, which item_refs does not store. */
void pb_more_membership_id(const char *ref_id, const char *issue_id, char out[37]);
/* CycleIssue / ModuleIssue JSON of a membership (kind "cycle" | "module"). */
cJSON *pb_more_membership_json(pb_api_req *a, const char *kind, const pb_more_member *m,
                               const char *ws);
/* Every id must be a work item of a->project_id; else rolls back, answers 400 "The payload
 * is not valid" (Plane's foreign-key failure) and returns non-zero. */
int pb_more_check_issues(pb_api_req *a, char (*ids)[37], size_t n);
/* Answers with the plain array of membership rows of ref_id. */
void pb_more_send_memberships(pb_api_req *a, const char *kind, const char *ref_id, int status);
/* The membership of issue_id in ref_id into *out, or rolls back, answers 404 and returns
 * non-zero. */
int pb_more_find_membership(pb_api_req *a, const char *kind, const char *ref_id,
                            const char *issue_id, pb_more_member *out);

#endif
