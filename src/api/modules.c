/* modules: Plane's modules and their work items.
 *
 *   GET/POST          .../projects/{project_id}/modules/      (GET ?external_id&external_source
 *                                                             answers one object)
 *   GET/PATCH/DELETE  .../modules/{pk}/
 *   GET/POST          .../modules/{module_id}/module-issues/  GET: Issue objects, paginated;
 *                                                             POST {"issues":[...]}: plain array
 *   DELETE            .../modules/{module_id}/module-issues/{issue_id}/
 *   POST              .../modules/{pk}/archive/               completed/cancelled only (204)
 *   GET               .../archived-modules/
 *   DELETE            .../archived-modules/{pk}/unarchive/    (204)
 *
 * A work item may belong to several modules. Names are unique per project. Writes to a module
 * record module.created|updated|deleted in the outbox in the same transaction. */
#include "api/grouping.h"

#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define MODULE_MAX_MEMBERS 256

static const char *const module_users[] = {"lead", "members", "created_by", "updated_by", NULL};

static const char *const module_statuses[] = {"backlog",   "planned",   "in-progress",
                                              "paused",    "completed", "cancelled", NULL};

static const char *const module_diff_keys[] = {
    "name",        "description", "description_text", "description_html", "start_date",
    "target_date", "status",      "lead",             "members",          "view_props",
    "sort_order",  "logo_props",  "archived_at",      "external_source",  "external_id", NULL};

static int module_add_counts(pb_api_req *a, cJSON *o, const char *id)
{
    return pb_group_add_counts(a, "module", o, id);
}

/* Only a completed or cancelled module may be archived. */
static const char *module_archive_refusal(const cJSON *module)
{
    const char *st = pb_more_get_str(module, "status");
    if (!st || (strcmp(st, "completed") != 0 && strcmp(st, "cancelled") != 0))
        return "Only completed or cancelled modules can be archived";
    return NULL;
}

static const pb_group_kind module_kind = {
    .type = "module",
    .pk_param = "pk",
    .ref_param = "module_id",
    .users = module_users,
    .diff_keys = module_diff_keys,
    .counts = module_add_counts,
    .created_event = "module.created",
    .updated_event = "module.updated",
    .deleted_event = "module.deleted",
    .view_flag = "module_view",
    .disabled_msg = "Modules are not enabled for this project",
    .ext_conflict_msg = "Module with the same external id and external source already exists",
    .archived_edit_msg = "Archived module cannot be edited",
    .owner_key = NULL, /* the row's created_by */
    .delete_forbidden_msg = "Only admin or creator can delete the module",
    .empty_issues_msg = "Issues are required",
    .archive_refusal = module_archive_refusal,
    .add_refusal = NULL,
    .add_member = NULL,
};

static int module_fields(const cJSON *body, cJSON *o, int create, pb_api_verr *v)
{
    const char *s = NULL;
    int has = pb_api_get_str(body, "name", 0, 0, 255, &s, v);
    if (!has && create) pb_api_verr_add(v, "name", "This field is required.");
    if (has && s) pb_more_set_str(o, "name", s);
    if (pb_api_get_str(body, "description", 0, 1, 1u << 20, &s, v) && s) pb_more_set_str(o, "description", s);
    if (pb_more_opt_str(body, "external_source", 255, &s, v)) pb_more_set_str(o, "external_source", s);
    if (pb_more_opt_str(body, "external_id", 255, &s, v)) pb_more_set_str(o, "external_id", s);
    if (pb_api_get_str(body, "status", 0, 0, 32, &s, v) && s) {
        int ok = 0;
        for (int i = 0; module_statuses[i]; i++)
            if (strcmp(module_statuses[i], s) == 0) ok = 1;
        if (!ok) {
            char msg[96];
            snprintf(msg, sizeof msg, "\"%.40s\" is not a valid choice.", s);
            pb_api_verr_add(v, "status", msg);
        } else {
            pb_more_set_str(o, "status", s);
        }
    }
    char uuid[37];
    if (pb_api_get_uuid(body, "lead", 1, uuid, v)) pb_more_set_id(o, "lead", uuid);
    char(*members)[37] = NULL;
    size_t nm = 0;
    if (pb_api_get_uuid_list(body, "members", MODULE_MAX_MEMBERS, &members, &nm, v)) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < nm; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(members[i]));
        if (arr) cJSON_ReplaceItemInObjectCaseSensitive(o, "members", arr);
    }
    free(members);
    double d;
    if (pb_api_get_double(body, "sort_order", &d, v)) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "sort_order");
        cJSON_AddNumberToObject(o, "sort_order", d);
    }
    static const char *const objs[] = {"view_props", "logo_props", "description_text",
                                       "description_html", NULL};
    for (int i = 0; objs[i]; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, objs[i]);
        if (!j) continue;
        cJSON *dup = cJSON_Duplicate(j, 1);
        if (dup) cJSON_ReplaceItemInObjectCaseSensitive(o, objs[i], dup);
    }
    char sd[11], td[11];
    if (pb_api_get_date(body, "start_date", 1, sd, v)) pb_more_set_str(o, "start_date", sd);
    if (pb_api_get_date(body, "target_date", 1, td, v)) pb_more_set_str(o, "target_date", td);
    return pb_api_verr_any(v);
}

/* The date rule over the merged object ("YYYY-MM-DD" compares as text). */
static int module_dates_ok(const cJSON *o)
{
    const char *s = pb_more_get_str(o, "start_date"), *t = pb_more_get_str(o, "target_date");
    return !(s && t && strcmp(s, t) > 0);
}

static int module_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    pb_error err = {0};
    const char *es = pb_req_query(req, "external_source"), *ei = pb_req_query(req, "external_id");
    if (es && *es && ei && *ei) { /* lookup by external id: one object */
        char id[40];
        pb_more_row row = {0};
        int rc = pb_more_find_external(a.conn, "module", a.project_id, es, ei, id, &err);
        if (!rc) rc = pb_more_get(a.conn, "module", a.project_id, NULL, id, &row, &err);
        if (rc == PB_ENOTFOUND) pb_api_not_found(resp);
        else if (rc) pb_api_fail(resp, rc, &err);
        else pb_group_send(&a, &module_kind, 200, row.raw);
        pb_more_row_clear(&row);
        goto out;
    }
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, "module", a.project_id, NULL, PB_MORE_LIVE, 1, pg.offset, pg.per_page,
                          &rows, &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else pb_group_send_page(&a, &module_kind, &pg, total, rows, n);
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

static int module_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    cJSON *body = NULL, *o = NULL;
    pb_api_verr v = {0};
    pb_error err = {0};
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    char id[37], ws[64];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    o = cJSON_CreateObject();
    pb_more_set_str(o, "id", id);
    pb_more_set_time(o, "created_at", now);
    pb_more_set_time(o, "updated_at", now);
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddNullToObject(o, "name");
    pb_more_set_str(o, "description", "");
    cJSON_AddNullToObject(o, "description_text");
    cJSON_AddNullToObject(o, "description_html");
    cJSON_AddNullToObject(o, "start_date");
    cJSON_AddNullToObject(o, "target_date");
    pb_more_set_str(o, "status", "planned");
    cJSON_AddNullToObject(o, "lead");
    cJSON_AddItemToObject(o, "members", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "view_props", cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "sort_order", 65535);
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddNullToObject(o, "archived_at");
    cJSON_AddItemToObject(o, "logo_props", cJSON_CreateObject());
    pb_more_set_str(o, "created_by", a.user_id);
    pb_more_set_str(o, "updated_by", a.user_id);
    pb_more_set_str(o, "project", a.project_id);
    if (module_fields(body, o, 1, &v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_group_require_view(&a, &module_kind, &v)) goto out;
    if (!module_dates_ok(o)) {
        pb_api_verr_add(&v, "non_field_errors", "Start date cannot exceed target date");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_begin_write(&a)) goto out;
    pb_more_ws_id(&a, ws);
    pb_more_set_id(o, "workspace", ws);
    char dup[40];
    int rc = pb_more_find_name(a.conn, "module", a.project_id, pb_more_get_str(o, "name"), NULL, dup, &err);
    if (rc == 0) {
        pb_conn_rollback(a.conn);
        cJSON *e = cJSON_CreateObject();
        pb_more_set_str(e, "id", dup);
        pb_more_set_str(e, "code", "MODULE_NAME_ALREADY_EXISTS");
        pb_more_set_str(e, "error", "Module with this name already exists");
        pb_more_set_str(e, "message", "Module with this name already exists");
        pb_api_send_json(resp, 400, e);
        cJSON_Delete(e);
        goto out;
    }
    if (rc != PB_ENOTFOUND) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    const char *es = pb_more_get_str(body, "external_source"), *ei = pb_more_get_str(body, "external_id");
    if (es && ei && pb_group_external_free(&a, &module_kind, es, ei, NULL)) goto out;
    pb_group_insert(&a, &module_kind, id, o, now);
out:
    pb_api_verr_free(&v);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int module_get(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_get(req, resp, ctx, &module_kind);
}

static int module_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    cJSON *body = NULL, *before = NULL, *o = NULL;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (pb_group_update_begin(&a, &module_kind, pk, &body, &row, &before, &o)) goto out;
    if (module_fields(body, o, 0, &v)) {
        pb_conn_rollback(a.conn);
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (!module_dates_ok(o)) {
        pb_conn_rollback(a.conn);
        pb_api_verr_add(&v, "non_field_errors", "Start date cannot exceed target date");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_get_str(body, "name")) {
        char dup[40];
        int rc = pb_more_find_name(a.conn, "module", a.project_id, pb_more_get_str(o, "name"), pk, dup, &err);
        if (rc == 0) {
            pb_conn_rollback(a.conn);
            pb_api_error(resp, 400, "Module with this name already exists");
            goto out;
        }
        if (rc != PB_ENOTFOUND) {
            pb_more_fail(&a, rc, &err);
            goto out;
        }
    }
    pb_group_update_finish(&a, &module_kind, pk, &row, body, before, o);
out:
    pb_api_verr_free(&v);
    pb_more_row_clear(&row);
    cJSON_Delete(o);
    cJSON_Delete(before);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int module_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_delete(req, resp, ctx, &module_kind);
}

static int module_archive(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_set_archived(req, resp, ctx, &module_kind, 1);
}

static int module_unarchive(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_set_archived(req, resp, ctx, &module_kind, 0);
}

static int module_archived_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_archived_list(req, resp, ctx, &module_kind);
}

static int module_issues_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issues_list(req, resp, ctx, &module_kind);
}

static int module_issues_add(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issues_add(req, resp, ctx, &module_kind);
}

static int module_issue_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issue_delete(req, resp, ctx, &module_kind);
}

#define PJ "/api/v1/workspaces/{slug}/projects/{project_id}"

void pb_api_register_modules(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {PJ "/modules/"};
    static const char *const one[] = {PJ "/modules/{pk}/"};
    static const char *const arch[] = {PJ "/modules/{pk}/archive/"};
    static const char *const archl[] = {PJ "/archived-modules/"};
    static const char *const unarch[] = {PJ "/archived-modules/{pk}/unarchive/"};
    static const char *const mi[] = {PJ "/modules/{module_id}/module-issues/"};
    static const char *const mione[] = {PJ "/modules/{module_id}/module-issues/{issue_id}/"};
    int rc = pb_more_route(srv, app, "GET", coll, 1, 0, module_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 1, 0, module_create);
    if (!rc) rc = pb_more_route(srv, app, "GET", one, 1, 0, module_get);
    if (!rc) rc = pb_more_route(srv, app, "PATCH", one, 1, 0, module_update);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", one, 1, 0, module_delete);
    if (!rc) rc = pb_more_route(srv, app, "POST", arch, 1, 0, module_archive);
    if (!rc) rc = pb_more_route(srv, app, "GET", archl, 1, 0, module_archived_list);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", unarch, 1, 0, module_unarchive);
    if (!rc) rc = pb_more_route(srv, app, "GET", mi, 1, 0, module_issues_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", mi, 1, 0, module_issues_add);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", mione, 1, 0, module_issue_delete);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering module routes failed", PB_LI("code", rc));
}
