/* api: the Plane-compatible REST API v1 module (/api/v1/...).
 *
 * pb_module_api (init) registers every route of the surface: users/me, workspace members,
 * projects (+ archive), project members, states, labels, work items under both spellings
 * (`issues/` and `work-items/`), activities, and the sibling resources of api_more.h
 * (comments, links, relations, cycles, modules, intake, search) through their
 * pb_api_register_* functions. Handlers get ctx = the pb_app*.
 *
 * The functions below are shared by the files of this module only. */
#ifndef PB_API_API_H
#define PB_API_API_H

#include "api/common.h"
#include "app/app.h"
#include "http/server.h"
#include "store/plane_store.h"

#include <cjson/cJSON.h>

extern const pb_module pb_module_api;

/* Registers one route (ctx = app). Returns 0 or the server's error. */
int pb_api_route(pb_server *s, pb_app *app, const char *method, const char *pattern, const char *scope,
                 pb_handler_fn fn);

/* Registration of this module's own files. */
void pb_api_register_users(pb_server *s, pb_app *app);
void pb_api_register_members(pb_server *s, pb_app *app);
void pb_api_register_projects(pb_server *s, pb_app *app);
void pb_api_register_states(pb_server *s, pb_app *app);
void pb_api_register_labels(pb_server *s, pb_app *app);
void pb_api_register_workitems(pb_server *s, pb_app *app);
void pb_api_register_activities(pb_server *s, pb_app *app);

/* Seeds the project's 6 default states (Backlog default) inside the caller's transaction. */
int pb_api_seed_states(pb_conn *c, pb_api_req *a, const char *project_id, pb_error *err);
/* Adds/updates an active project member row inside the caller's transaction. */
int pb_api_member_put(pb_conn *c, pb_api_req *a, const char *project_id, const char *user_id, int role,
                      pb_error *err);

/* JSON helpers for serializers. */
void pb_api_set_str(cJSON *o, const char *key, const char *s);   /* string or null (s NULL) */
void pb_api_set_time(cJSON *o, const char *key, int64_t us);      /* ISO or null (0) */
const char *pb_api_str(const cJSON *o, const char *key);          /* string value or NULL */
/* Parses raw; NULL on failure (logs). */
cJSON *pb_api_parse_raw(const char *raw);
/* Prints compact; malloc'd or NULL. */
char *pb_api_print(const cJSON *o);

/* Expansion of a work item / generic object for ?expand= (state, project, workspace, parent,
 * labels, assignees, user keys). */
int pb_api_expand_issue(pb_api_req *a, cJSON *o, const pb_api_fields *expand);
/* Renders a raw row with fields/expand into b (fast path when neither is given). */
int pb_api_render_issue(pb_api_req *a, const char *raw, const pb_api_fields *fields,
                        const pb_api_fields *expand, pb_buf *b);

/* completed_at as Plane maintains it when a work item moves from old_group to new_group:
 * entering "completed" stamps now, leaving it clears (0), otherwise it is kept. */
int64_t pb_api_completed_at(const char *old_group, const char *new_group, int64_t completed_at, int64_t now);

/* Bench/seed helper: inserts n work items into an existing project as user_id (default state,
 * sequential ids), in batches of transactions. */
int pb_api_seed_issues(pb_db *db, const char *slug, const char *project_id, const char *user_id,
                       int64_t n, pb_error *err);

#endif
