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
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define MODULE_MAX_ISSUES 1000
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
    static const char *const keys[6] = {"total_issues",   "backlog_issues",   "unstarted_issues",
                                        "started_issues", "completed_issues", "cancelled_issues"};
    int64_t counts[6];
    pb_error err = {0};
    int rc = pb_more_member_counts(a->conn, "module", id, counts, &err);
    if (rc) return rc;
    for (int i = 0; i < 6; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
        cJSON_AddNumberToObject(o, keys[i], (double)counts[i]);
    }
    return 0;
}

static int module_render(pb_api_req *a, const char *raw, const pb_api_fields *fields,
                         const pb_api_fields *expand, pb_buf *b)
{
    cJSON *o = pb_more_parse_raw(raw, NULL);
    if (!o) return PB_EPARSE;
    const char *id = pb_more_get_str(o, "id");
    int rc = module_add_counts(a, o, id ? id : "");
    if (!rc) rc = pb_more_render(a, o, module_users, fields, expand, b);
    cJSON_Delete(o);
    return rc;
}

static void module_send(pb_api_req *a, int status, const char *raw)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_resp_status(a->resp, status);
    if (module_render(a, raw, &fields, &expand, b)) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
    }
}

static void module_send_page(pb_api_req *a, const pb_api_page *pg, int64_t total,
                             const pb_more_row *rows, size_t n)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_resp_status(a->resp, 200);
    int rc = pb_api_envelope_begin(b, pg, total);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = module_render(a, rows[i].raw, &fields, &expand, b);
    }
    if (!rc) rc = pb_api_envelope_end(b);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
    }
}

static int module_load(pb_api_req *a, const char *id, pb_more_row *row)
{
    pb_error err = {0};
    int rc = pb_more_get(a->conn, "module", a->project_id, NULL, id, row, &err);
    if (rc == 0) return 0;
    pb_conn_rollback(a->conn);
    if (rc == PB_ENOTFOUND) pb_api_not_found(a->resp);
    else pb_api_fail(a->resp, rc, &err);
    return 1;
}

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
        else module_send(&a, 200, row.raw);
        pb_more_row_clear(&row);
        goto out;
    }
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, "module", a.project_id, NULL, PB_MORE_LIVE, 1, pg.offset, pg.per_page,
                          &rows, &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else module_send_page(&a, &pg, total, rows, n);
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
    char *raw = NULL;
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
    int module_view = 0;
    int rc = pb_more_project_flag(&a, "module_view", &module_view);
    if (rc) {
        pb_api_fail(resp, rc, NULL);
        goto out;
    }
    if (!module_view) {
        pb_api_verr_add(&v, "non_field_errors", "Modules are not enabled for this project");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (!module_dates_ok(o)) {
        pb_api_verr_add(&v, "non_field_errors", "Start date cannot exceed target date");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_begin_write(&a)) goto out;
    pb_more_ws_id(&a, ws);
    pb_more_set_id(o, "workspace", ws);
    char dup[40];
    rc = pb_more_find_name(a.conn, "module", a.project_id, pb_more_get_str(o, "name"), NULL, dup, &err);
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
    if (es && ei) {
        rc = pb_more_find_external(a.conn, "module", a.project_id, es, ei, dup, &err);
        if (rc == 0) {
            pb_conn_rollback(a.conn);
            pb_api_conflict(resp, "Module with the same external id and external source already exists", dup);
            goto out;
        }
        if (rc != PB_ENOTFOUND) {
            pb_more_fail(&a, rc, &err);
            goto out;
        }
    }
    raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
    pb_more_new nw = {.id = id,
                      .item_type = "module",
                      .slug = a.slug,
                      .project_id = a.project_id,
                      .name = pb_more_get_str(o, "name"),
                      .ext_source = pb_more_get_str(o, "external_source"),
                      .ext_id = pb_more_get_str(o, "external_id"),
                      .created_by = a.user_id,
                      .sort_order = cJSON_IsNumber(so) ? so->valuedouble : 65535,
                      .created_at = now,
                      .raw = raw};
    rc = pb_more_insert(a.conn, &nw, &err);
    if (!rc) rc = module_add_counts(&a, o, id);
    if (!rc) rc = pb_api_outbox(a.conn, "module.created", a.slug, a.project_id, id, o, NULL, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    module_send(&a, 201, raw);
out:
    pb_api_verr_free(&v);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int module_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    pb_more_row row = {0};
    if (!pk || module_load(&a, pk, &row)) goto out;
    if (row.archived_at) pb_api_not_found(resp);
    else module_send(&a, 200, row.raw);
out:
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

static int module_save(pb_api_req *a, const char *id, const cJSON *before, cJSON *o, int64_t now,
                        char **raw_out, pb_error *err)
{
    return pb_more_save(a, id, before, o, now, "module.updated", module_diff_keys, module_add_counts, raw_out, err);
}

static int module_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    cJSON *body = NULL, *before = NULL, *o = NULL;
    char *raw = NULL;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!pk || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (pb_more_begin_write(&a) || module_load(&a, pk, &row)) goto out;
    if (row.archived_at) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, "Archived module cannot be edited");
        goto out;
    }
    before = pb_more_parse_raw(row.raw, resp);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) goto out;
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
    char dup[40];
    int rc = 0;
    if (pb_more_get_str(body, "name")) {
        rc = pb_more_find_name(a.conn, "module", a.project_id, pb_more_get_str(o, "name"), pk, dup, &err);
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
    const char *new_ei = pb_more_get_str(body, "external_id");
    if (new_ei && strcmp(new_ei, row.ext_id) != 0) {
        const char *es = pb_more_get_str(body, "external_source");
        rc = pb_more_find_external(a.conn, "module", a.project_id, es ? es : row.ext_source, new_ei, dup,
                                   &err);
        if (rc == 0) {
            pb_conn_rollback(a.conn);
            pb_api_conflict(resp, "Module with the same external id and external source already exists", pk);
            goto out;
        }
        if (rc != PB_ENOTFOUND) {
            pb_more_fail(&a, rc, &err);
            goto out;
        }
    }
    rc = module_save(&a, pk, before, o, pb_api_now(), &raw, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    module_send(&a, 200, raw);
out:
    pb_api_verr_free(&v);
    pb_more_row_clear(&row);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(before);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int module_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    pb_more_row row = {0};
    cJSON *o = NULL;
    pb_error err = {0};
    if (!pk || pb_more_begin_write(&a) || module_load(&a, pk, &row)) goto out;
    if (strcmp(row.created_by, a.user_id) != 0 && a.project_role != 20) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 403, "Only admin or creator can delete the module");
        goto out;
    }
    o = pb_more_parse_raw(row.raw, resp);
    if (!o) goto out;
    int rc = pb_more_member_clear(a.conn, "module", pk, &err);
    if (!rc) rc = pb_more_soft_delete(a.conn, pk, pb_api_now(), &err);
    if (!rc) rc = pb_api_outbox(a.conn, "module.deleted", a.slug, a.project_id, pk, o, NULL, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    pb_resp_status(resp, 204);
out:
    cJSON_Delete(o);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

static int module_set_archived(pb_req *req, pb_resp *resp, void *ctx, int archive)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    pb_more_row row = {0};
    cJSON *before = NULL, *o = NULL;
    char *raw = NULL;
    pb_error err = {0};
    if (!pk || pb_more_begin_write(&a) || module_load(&a, pk, &row)) goto out;
    before = pb_more_parse_raw(row.raw, resp);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) goto out;
    int64_t now = pb_api_now();
    if (archive) {
        const char *st = pb_more_get_str(before, "status");
        if (!st || (strcmp(st, "completed") != 0 && strcmp(st, "cancelled") != 0)) {
            pb_conn_rollback(a.conn);
            pb_api_error(resp, 400, "Only completed or cancelled modules can be archived");
            goto out;
        }
        pb_more_set_time(o, "archived_at", now);
    } else {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "archived_at", cJSON_CreateNull());
    }
    int rc = module_save(&a, pk, before, o, now, &raw, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    pb_resp_status(resp, 204);
out:
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(before);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

static int module_archive(pb_req *req, pb_resp *resp, void *ctx)
{
    return module_set_archived(req, resp, ctx, 1);
}

static int module_unarchive(pb_req *req, pb_resp *resp, void *ctx)
{
    return module_set_archived(req, resp, ctx, 0);
}

static int module_archived_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    pb_error err = {0};
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, "module", a.project_id, NULL, PB_MORE_ARCHIVED, 1, pg.offset,
                          pg.per_page, &rows, &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else module_send_page(&a, &pg, total, rows, n);
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

static int module_issues_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *mid = pb_api_uuid_param(req, resp, "module_id");
    if (mid) pb_api_issue_list_by_ref(&a, "module", mid);
    pb_api_end(&a);
    return 0;
}

static int module_issues_add(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *mid = pb_api_uuid_param(req, resp, "module_id");
    cJSON *body = NULL;
    char(*ids)[37] = NULL;
    size_t n = 0;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!mid || pb_api_parse_body(req, resp, 1, &body)) goto out;
    pb_api_get_uuid_list(body, "issues", MODULE_MAX_ISSUES, &ids, &n, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (n == 0) {
        pb_api_error(resp, 400, "Issues are required");
        goto out;
    }
    if (pb_more_begin_write(&a) || module_load(&a, mid, &row)) goto out;
    if (pb_more_check_issues(&a, ids, n)) goto out;
    int64_t now = pb_api_now();
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) rc = pb_more_member_add(a.conn, "module", ids[i], mid, now, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    pb_more_send_memberships(&a, "module", mid, 200);
out:
    pb_api_verr_free(&v);
    free(ids);
    pb_more_row_clear(&row);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int module_issue_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *mid = pb_api_uuid_param(req, resp, "module_id");
    const char *iid = mid ? pb_api_uuid_param(req, resp, "issue_id") : NULL;
    pb_more_member m;
    pb_error err = {0};
    if (!iid || pb_more_begin_write(&a) || pb_more_find_membership(&a, "module", mid, iid, &m)) goto out;
    int rc = pb_more_member_remove(a.conn, "module", iid, mid, NULL, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (pb_more_commit(&a)) goto out;
    pb_resp_status(resp, 204);
out:
    pb_api_end(&a);
    return 0;
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
