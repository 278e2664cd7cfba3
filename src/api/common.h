/* api/common: helpers shared by every handler of the Plane-compatible /api/v1 surface.
 *
 * A handler's life, in the shape every file under src/api/ follows:
 *
 *     static int h_list(pb_req *req, pb_resp *resp, void *ctx)
 *     {
 *         pb_api_req a;
 *         if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0; // answered already
 *         ... a.conn, a.user_id, a.slug, a.project_id ...
 *         pb_api_end(&a);
 *         return 0;
 *     }
 *
 * Handlers are registered with ctx = the pb_app*. pb_api_begin validates the {slug} (and
 * {project_id} when asked) path params, checks the caller's workspace/project role the way
 * Plane's permission classes do, and acquires a store connection (a.conn), which
 * pb_api_end releases (rolling back any transaction left open).
 *
 * Error bodies are Plane's (reference/plane-api.md §7):
 *   400 {"field":["msg"]}        serializer validation   (pb_api_verr_*)
 *   404 {"error":"The requested resource does not exist."}  (pb_api_not_found)
 *   409 {"error":"...","id":"<uuid>"}                         (pb_api_conflict)
 *   403 {"detail":"You do not have permission to perform this action."} (pb_api_forbidden)
 *   500 {"error":"Something went wrong please try again later"} (pb_api_internal)
 *
 * Writes: begin a write transaction on a.conn, change rows, call pb_api_outbox() (and
 * pb_api_activity() for work-item history) on the same connection, commit. */
#ifndef PB_API_COMMON_H
#define PB_API_COMMON_H

#include "app/app.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- limits */
#define PB_API_JSON_MAX_DEPTH 32        /* deeper request bodies are refused with 400 */
#define PB_API_JSON_MAX_BYTES (5u << 20) /* Plane's FILE_SIZE_LIMIT; the server's max_body (default 1 MiB) applies first */
#define PB_API_PER_PAGE_DEFAULT 1000     /* Plane's paginator: default and maximum */
#define PB_API_PER_PAGE_MAX 1000
#define PB_API_NAME_MAX 255              /* CharField(max_length=255) */

/* ---------------------------------------------------------------- request context */
#define PB_API_WS 0x01u      /* caller must be a member of {slug} (any role) */
#define PB_API_PROJECT 0x02u /* {project_id} must be a UUID; caller an active project member
                                (Plane's ProjectEntityPermission: 403 otherwise, also when the
                                project does not exist) */
#define PB_API_WRITE 0x04u   /* role must be Member or Admin (workspace, or project with
                                PB_API_PROJECT) */
#define PB_API_ADMIN 0x08u   /* role must be Admin (workspace, or project) */
#define PB_API_NO_CONN 0x10u /* do not acquire a store connection */

typedef struct pb_api_req {
    pb_app *app;
    pb_req *req;
    pb_resp *resp;
    pb_conn *conn;        /* acquired by pb_api_begin unless PB_API_NO_CONN */
    const char *slug;     /* {slug}, or NULL on routes without one */
    char user_id[64];     /* the authenticated user's id */
    int ws_role;          /* 20/15/5, 0 when not a member (or no {slug}) */
    char project_id[40];  /* {project_id} (lower-case UUID) with PB_API_PROJECT, else "" */
    int project_role;     /* 20/15/5 with PB_API_PROJECT, else 0 */
    char project_identifier[16]; /* the project's identifier with PB_API_PROJECT */
    int project_archived; /* 1 when the project is archived */
    char ws_id[64];       /* workspace id, filled on first pb_api_ws_id() */
} pb_api_req;

/* Fills a; returns 0 to proceed, or non-zero after answering the request itself (400/403/
 * 404/500). `flags` is a PB_API_* mask. ctx is the pb_app* the route was registered with. */
int pb_api_begin(pb_api_req *a, pb_req *req, pb_resp *resp, void *ctx, unsigned flags);
/* Project access results (role, identifier, archived) are cached in-process for up to 1 s,
 * positive answers only, like the auth module's role cache. Every write that changes project
 * membership, archive state or existence calls this to drop the cache at once. */
void pb_api_access_invalidate(void);

/* Releases the connection (rolling back an open transaction). Safe to call twice. */
void pb_api_end(pb_api_req *a);

/* The workspace's id (work_plane.installations.id) of a->slug, looked up once ("" if none). */
const char *pb_api_ws_id(pb_api_req *a);

/* The authenticated user's id for this request ("" when unauthenticated). */
const char *pb_api_user_id(pb_req *req);

/* ---------------------------------------------------------------- error bodies */
void pb_api_not_found(pb_resp *resp);                 /* 404 {"error": "The requested ..."} */
void pb_api_forbidden(pb_resp *resp);                 /* 403 {"detail": "You do not have ..."} */
void pb_api_internal(pb_resp *resp);                  /* 500 {"error": "Something went wrong ..."} */
void pb_api_error(pb_resp *resp, int status, const char *msg);  /* {"error": msg} */
void pb_api_detail(pb_resp *resp, int status, const char *msg); /* {"detail": msg} */
/* 409 {"error": msg, "id": id} (id omitted when NULL). */
void pb_api_conflict(pb_resp *resp, const char *msg, const char *id);
/* 400 {"<field>": ["msg"]} */
void pb_api_field_error(pb_resp *resp, const char *field, const char *msg);
/* Maps a store/validation code to Plane's answer: ENOTFOUND 404, ECONFLICT 400 "The payload
 * is not valid" (Plane's IntegrityError answer), EINVAL/EPARSE 400 with err->field when set,
 * everything else 500. Logs 5xx causes (redacted). */
void pb_api_fail(pb_resp *resp, int code, const pb_error *err);

/* Collects serializer errors by field: {"name":["This field is required."], ...}. */
typedef struct pb_api_verr {
    cJSON *obj; /* NULL until the first error */
} pb_api_verr;
void pb_api_verr_add(pb_api_verr *v, const char *field, const char *msg);
int pb_api_verr_any(const pb_api_verr *v);
/* Answers 400 with the collected errors and frees them. */
void pb_api_verr_send(pb_api_verr *v, pb_resp *resp);
void pb_api_verr_free(pb_api_verr *v);

/* ---------------------------------------------------------------- JSON input */
/* Deepest nesting of '{'/'[' in a JSON text (strings skipped), without parsing it. */
int pb_api_json_depth(const char *s, size_t n);
/* Parses the request body as a JSON object. On failure answers (400 {"detail":"JSON parse
 * error - ..."} for malformed/too deep, 400 {"non_field_errors":["Invalid data. Expected a
 * dictionary, but got <type>."]} for a non-object, 413 for oversize) and returns non-zero.
 * An empty body parses as {} when allow_empty. *out is owned by the caller (cJSON_Delete). */
int pb_api_parse_body(pb_req *req, pb_resp *resp, int allow_empty, cJSON **out);
/* Same on a buffer (unit tests, fuzzing); returns 0 or PB_EPARSE/PB_EDEPTH/PB_ETOOBIG/PB_EINVAL
 * and fills err->msg. */
int pb_api_parse_json(const char *s, size_t n, cJSON **out, pb_error *err);

/* Typed readers over a parsed body. Each returns 1 if the key is present (valid or not),
 * 0 if absent; on a wrong type or value adds a field error to v and sets *ok = 0.
 *   str:  JSON string (or null when nullable) with at most maxlen characters; *out borrowed
 *         (NULL for null). blank=0 refuses "" ("This field may not be blank.").
 *   uuid: a UUID string (or null when nullable), lower-cased into out[37].
 *   bool, int (range checked), date ("YYYY-MM-DD" or null). */
int pb_api_get_str(const cJSON *body, const char *key, int nullable, int blank, size_t maxlen,
                   const char **out, pb_api_verr *v);
int pb_api_get_uuid(const cJSON *body, const char *key, int nullable, char out[37],
                    pb_api_verr *v);
int pb_api_get_bool(const cJSON *body, const char *key, int *out, pb_api_verr *v);
int pb_api_get_int(const cJSON *body, const char *key, int64_t min, int64_t max, int64_t *out,
                   pb_api_verr *v);
int pb_api_get_double(const cJSON *body, const char *key, double *out, pb_api_verr *v);
int pb_api_get_date(const cJSON *body, const char *key, int nullable, char out[11],
                    pb_api_verr *v);
/* A list of UUIDs ("assignees", "labels", "issues"); *out malloc'd array of 37-byte strings,
 * deduplicated, at most max entries. */
int pb_api_get_uuid_list(const cJSON *body, const char *key, size_t max, char (**out)[37],
                         size_t *n, pb_api_verr *v);

/* ---------------------------------------------------------------- path params */
/* Django's <uuid:...> converter: lower-case canonical UUID only. 1 if s matches. */
int pb_api_uuid_ok(const char *s);
/* The UUID path param `name`, or NULL after answering 404 (as Django does when the URL
 * pattern does not match). */
const char *pb_api_uuid_param(pb_req *req, pb_resp *resp, const char *name);

/* ---------------------------------------------------------------- pagination */
typedef struct pb_api_page {
    int64_t per_page; /* rows per page (limit) */
    int64_t page;     /* 0-based page number from the cursor */
    int is_prev;
    int64_t offset;   /* page * per_page */
} pb_api_page;

/* Parses Plane's cursor "value:page:is_prev" (value an int or a float; page may be
 * negative, which the caller rejects). Returns 0 or PB_EPARSE. */
int pb_api_cursor_parse(const char *cursor, double *value, int64_t *page, int *is_prev);
/* Reads per_page and cursor from the query. On error answers 400 {"detail":...} exactly as
 * Plane ("Invalid per_page parameter.", "Invalid per_page value. Cannot exceed 1000.",
 * "Invalid cursor parameter.", "Error in parsing") and returns non-zero. */
int pb_api_page_from_query(pb_req *req, pb_resp *resp, pb_api_page *out);

/* One accepted ?order_by= field and the store's order code for it. */
typedef struct pb_api_order_field {
    const char *name;
    int code;
} pb_api_order_field;
/* Parses an ?order_by= value against fields (a leading '-' descends). Absent or empty: *code
 * and *desc keep the caller's defaults. PB_EINVAL for a field not in the list (the callers
 * answer 400, where Plane's ORM would fail with a 500). */
int pb_api_order_parse(const char *s, const pb_api_order_field *fields, size_t n, int *code, int *desc);
/* Pure version for unit tests: per_page/cursor may be NULL; on error returns PB_EINVAL and
 * copies the message Plane sends into msg. */
int pb_api_page_parse(const char *per_page, const char *cursor, pb_api_page *out, char *msg,
                      size_t msglen);
/* Writes the envelope up to and including `"results":[` given the total row count; the
 * caller then appends the page's rows (comma-separated JSON objects) and calls
 * pb_api_envelope_end. Field order follows Plane's paginator. */
int pb_api_envelope_begin(pb_buf *b, const pb_api_page *pg, int64_t total);
int pb_api_envelope_end(pb_buf *b);
/* Number of rows the page will hold for `total` rows. */
int64_t pb_api_page_count(const pb_api_page *pg, int64_t total);

/* ---------------------------------------------------------------- fields / expand */
#define PB_API_FIELDS_MAX 64
typedef struct pb_api_fields {
    int n;                             /* 0 = no list given */
    char *names[PB_API_FIELDS_MAX];    /* point into buf */
    char buf[1024];
} pb_api_fields;
/* Splits a comma list ("a,b,,c"), empty items skipped. NULL/"" gives n = 0. */
void pb_api_fields_parse(const char *csv, pb_api_fields *out);
int pb_api_fields_has(const pb_api_fields *f, const char *name);
/* Keeps only the listed top-level keys of obj (no-op when f->n == 0). */
void pb_api_fields_apply(cJSON *obj, const pb_api_fields *f);
/* Reads ?fields= and ?expand= of the request. */
void pb_api_fields_from_query(pb_req *req, pb_api_fields *fields, pb_api_fields *expand);

/* Replaces obj[key] (a user id string, or an array of them) by UserLite objects
 * {id,first_name,last_name,email,avatar,avatar_url,display_name}; unknown ids become null. */
int pb_api_expand_users(pb_conn *c, cJSON *obj, const char *key, pb_error *err);
/* Writes UserLite JSON of one user into b (null when unknown). */
int pb_api_user_lite(pb_conn *c, const char *user_id, pb_buf *b, pb_error *err);

/* ---------------------------------------------------------------- JSON output */
/* Appends the object as compact JSON to the response body (status set). Does not free obj. */
void pb_api_send_json(pb_resp *resp, int status, const cJSON *obj);
/* Sends a stored raw JSON text, applying fields when given (re-parse only then). */
void pb_api_send_raw(pb_resp *resp, int status, const char *raw, const pb_api_fields *fields);
/* Appends a raw row to a list body: the row as is, or filtered by fields. */
int pb_api_append_raw(pb_buf *b, const char *raw, const pb_api_fields *fields);
/* ISO time string of us as Plane renders it (UTC, microseconds, "Z"), or JSON null for 0. */
cJSON *pb_api_time_json(int64_t us);
/* Current time in microseconds, monotonic per process: two calls never return the same
 * value, so created_at ordering is total. */
int64_t pb_api_now(void);

/* ---------------------------------------------------------------- outbox and activity */
/* Records a domain event (DESIGN.md §4) in ops.outbox on c (inside the caller's write
 * transaction): payload {"type","timestamp","data"[, "previous_attributes"]}. data is
 * copied; prev (may be NULL) holds the previous values of the changed keys only. */
int pb_api_outbox(pb_conn *c, const char *type, const char *slug, const char *project_id,
                  const char *object_id, const cJSON *data, const cJSON *prev, pb_error *err);
/* Fills prev with the keys of `after` whose value differs from `before` (previous values),
 * restricted to `keys` when non-NULL (NULL-terminated). Returns the number of changed keys. */
int pb_api_diff(const cJSON *before, const cJSON *after, const char *const *keys, cJSON *prev);

/* One row of a work item's history (Plane's IssueActivity), stored as an item of type
 * 'activity' whose parent_id is the issue. verb: "created", "updated", "deleted".
 * field may be NULL (created/deleted). Values are rendered as strings as Plane does
 * (old_value/new_value text; old_identifier/new_identifier ids or NULL). */
typedef struct pb_api_activity_row {
    const char *issue_id;
    const char *verb;
    const char *field;
    const char *old_value;
    const char *new_value;
    const char *old_identifier;
    const char *new_identifier;
    const char *comment;      /* Plane's human text, e.g. "updated the priority to high" */
    const char *issue_comment;/* comment id for comment activities (excluded from the API) */
} pb_api_activity_row;
int pb_api_activity(pb_conn *c, const pb_api_req *a, const pb_api_activity_row *row,
                    pb_error *err);

/* Marks an issue changed (updated_at = now in the column and in raw) inside the caller's
 * transaction; comments/links/relations use it as Plane's activity task does. */
int pb_api_touch_issue(pb_conn *c, const char *issue_id, const char *user_id, pb_error *err);

/* ---------------------------------------------------------------- work items for siblings
 * (implemented in workitems.c; for comments, links, relations, cycles, modules, intake) */
/* 0 when issue_id is a non-deleted work item of project_id; PB_ENOTFOUND otherwise.
 * visible_only = 1 also hides archived/draft/triage issues, as Plane's detail GET does. */
int pb_api_issue_check(pb_conn *c, const char *project_id, const char *issue_id, int visible_only,
                       pb_error *err);
/* A new work item object with Plane's defaults (caller frees; NULL when out of memory). */
cJSON *pb_api_issue_new(const char *id, const char *project_id, const char *ws_id, const char *user_id,
                        int64_t now);
/* Appends the work item's JSON (as served by its detail GET, without fields/expand) to b. */
int pb_api_issue_json(pb_conn *c, const char *issue_id, pb_buf *b, pb_error *err);
/* Answers a->req with a paginated list of the project's visible work items that have an
 * item_refs row (item_id = issue, kind, ref_id) — e.g. kind "cycle"/"module" with the cycle or
 * module id; honours per_page/cursor/fields/expand/order_by (default created_at). */
void pb_api_issue_list_by_ref(pb_api_req *a, const char *kind, const char *ref_id);

/* ---------------------------------------------------------------- handler steps */
struct pb_ps_item;
/* Opens the write transaction on a->conn; on failure answers pb_api_fail(rc, err). Returns rc. */
int pb_api_begin_write(pb_api_req *a, pb_error *err);
/* Commits a->conn when rc is 0; answers when rc or the commit fails: PB_ECONFLICT as 409
 * pb_api_conflict(conflict_msg) when conflict_msg is given, anything else pb_api_fail. Returns
 * the final code (0: committed, nothing answered). */
int pb_api_commit(pb_api_req *a, int rc, pb_error *err, const char *conflict_msg);
/* Loads the item_type row of a->project_id whose id is route parameter `param` into *it
 * (caller clears it); answers 400 for a malformed id, else the store error (404 when missing),
 * and returns non-zero when it cannot. */
int pb_api_load_item(pb_api_req *a, const char *item_type, const char *param, struct pb_ps_item *it);
/* Answers 200 with Plane's paginated envelope over raw[0..n) (fields applied), or 500 when
 * the body cannot be written. */
void pb_api_send_raw_page(pb_resp *resp, const pb_api_page *pg, int64_t total, char *const *raw, size_t n,
                          const pb_api_fields *fields);

/* Registration entry points of the sibling resource files (api2). api.c calls each one. */
void pb_api_register_comments(pb_server *s, pb_app *app);
void pb_api_register_links(pb_server *s, pb_app *app);
void pb_api_register_relations(pb_server *s, pb_app *app);
void pb_api_register_cycles(pb_server *s, pb_app *app);
void pb_api_register_modules(pb_server *s, pb_app *app);
void pb_api_register_intake(pb_server *s, pb_app *app);
void pb_api_register_search(pb_server *s, pb_app *app);

#endif
