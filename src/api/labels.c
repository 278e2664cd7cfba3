/* labels: projects/{project_id}/labels/ (Plane's LabelAPIEndpoint).
 *
 * Names are unique per project (409 with the existing id), as are (external_source,
 * external_id) pairs; `parent` must be a label of the same project. Deleting a label removes
 * it from the work items that carry it (their `labels` list and refs). */
#include "api/api.h"

#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *label_new(pb_api_req *a, const char *id, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddItemToObject(o, "created_at", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "updated_at", pb_api_time_json(now));
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddStringToObject(o, "name", "");
    cJSON_AddStringToObject(o, "description", "");
    cJSON_AddStringToObject(o, "color", "");
    cJSON_AddNumberToObject(o, "sort_order", 65535);
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddStringToObject(o, "created_by", a->user_id);
    cJSON_AddStringToObject(o, "updated_by", a->user_id);
    cJSON_AddStringToObject(o, "project", a->project_id);
    pb_api_set_str(o, "workspace", pb_api_ws_id(a)[0] ? pb_api_ws_id(a) : NULL);
    cJSON_AddNullToObject(o, "parent");
    return o;
}

static void label_apply(pb_api_req *a, const cJSON *body, cJSON *o, const char *self_id, pb_api_verr *v)
{
    const char *s;
    if (pb_api_get_str(body, "name", 0, 0, 255, &s, v) && s) pb_api_set_str(o, "name", s);
    if (pb_api_get_str(body, "description", 0, 1, 1u << 20, &s, v) && s) pb_api_set_str(o, "description", s);
    if (pb_api_get_str(body, "color", 0, 1, 255, &s, v) && s) pb_api_set_str(o, "color", s);
    double d;
    if (pb_api_get_double(body, "sort_order", &d, v))
        cJSON_ReplaceItemInObjectCaseSensitive(o, "sort_order", cJSON_CreateNumber(d));
    if (cJSON_GetObjectItemCaseSensitive(body, "external_source") &&
        pb_api_get_str(body, "external_source", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_source", s);
    if (cJSON_GetObjectItemCaseSensitive(body, "external_id") && pb_api_get_str(body, "external_id", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_id", s);
    char p[37];
    if (pb_api_get_uuid(body, "parent", 1, p, v)) {
        if (p[0]) {
            pb_ps_item it;
            if ((self_id && strcmp(p, self_id) == 0) || pb_ps_item_get(a->conn, "label", a->project_id, p, &it, NULL)) {
                char msg[120];
                snprintf(msg, sizeof msg, "Invalid pk \"%s\" - object does not exist.", p);
                pb_api_verr_add(v, "parent", msg);
                return;
            }
            pb_ps_item_clear(&it);
        }
        pb_api_set_str(o, "parent", p[0] ? p : NULL);
    }
}

static void label_columns(const cJSON *o, pb_ps_item *it)
{
    it->name = (char *)(uintptr_t)pb_api_str(o, "name");
    it->external_source = (char *)(uintptr_t)pb_api_str(o, "external_source");
    it->external_id = (char *)(uintptr_t)pb_api_str(o, "external_id");
    const char *p = pb_api_str(o, "parent");
    pb_strlcpy(it->parent_id, p ? p : "", sizeof it->parent_id);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
    it->sort_order = cJSON_IsNumber(so) ? so->valuedouble : 0;
    it->is_active = 1;
}

static void send_label(pb_api_req *a, int status, const char *raw)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    if (expand.n == 0) {
        pb_api_send_raw(a->resp, status, raw, &fields);
        return;
    }
    cJSON *o = pb_api_parse_raw(raw);
    if (!o) {
        pb_api_internal(a->resp);
        return;
    }
    static const char *const users[] = {"created_by", "updated_by", NULL};
    for (int i = 0; users[i]; i++)
        if (pb_api_fields_has(&expand, users[i])) pb_api_expand_users(a->conn, o, users[i], NULL);
    pb_api_fields_apply(o, &fields);
    pb_api_send_json(a->resp, status, o);
    cJSON_Delete(o);
}

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    pb_api_fields fields;
    pb_api_fields_from_query(req, &fields, NULL);
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    pb_error err = {0};
    int rc = pb_ps_item_list(a.conn, "label", a.project_id, 1, pg.per_page, pg.offset, &total, &l, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    pb_api_send_raw_page(resp, &pg, total, l.raw, l.n, &fields);
    pb_ps_rawlist_clear(&l);
out:
    pb_api_end(&a);
    return 0;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    if (pb_api_parse_body(req, resp, 0, &body)) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    pb_api_verr v = {0};
    if (!cJSON_GetObjectItemCaseSensitive(body, "name")) pb_api_verr_add(&v, "name", "This field is required.");
    char id[37];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    o = label_new(&a, id, now);
    label_apply(&a, body, o, NULL, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    char other[40];
    const char *xs = pb_api_str(o, "external_source"), *xi = pb_api_str(o, "external_id");
    if (xs && xi && pb_ps_item_find_external(a.conn, "label", a.project_id, xs, xi, NULL, other, NULL) == 0) {
        pb_api_conflict(resp, "Label with the same external id and external source already exists", other);
        goto out;
    }
    if (pb_ps_item_find_name(a.conn, "label", a.project_id, pb_api_str(o, "name"), NULL, other, NULL) == 0) {
        pb_api_conflict(resp, "Label with the same name already exists in the project", other);
        goto out;
    }
    raw = pb_api_print(o);
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, id, sizeof it.id);
    it.item_type = "label";
    pb_strlcpy(it.slug, a.slug, sizeof it.slug);
    pb_strlcpy(it.project_id, a.project_id, sizeof it.project_id);
    pb_strlcpy(it.created_by, a.user_id, sizeof it.created_by);
    label_columns(o, &it);
    it.created_at = it.updated_at = now;
    it.raw = raw;
    rc = raw ? pb_ps_item_insert(a.conn, &it, &err) : PB_ENOMEM;
    rc = pb_api_commit(&a, rc, &err, "Label with the same name already exists in the project");
    if (rc) goto out;
    send_label(&a, 201, raw);
out:
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int load_label(pb_api_req *a, pb_ps_item *it)
{
    return pb_api_load_item(a, "label", "label_id", it);
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_ps_item it;
    if (!load_label(&a, &it)) {
        send_label(&a, 200, it.raw);
        pb_ps_item_clear(&it);
    }
    pb_api_end(&a);
    return 0;
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *o = NULL;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (load_label(&a, &it)) goto out;
    o = pb_api_parse_raw(it.raw);
    if (!o) {
        pb_api_internal(resp);
        goto out;
    }
    pb_api_verr v = {0};
    label_apply(&a, body, o, it.id, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    char other[40];
    const char *xs = pb_api_str(o, "external_source"), *xi = pb_api_str(o, "external_id");
    if (cJSON_GetObjectItemCaseSensitive(body, "external_id") && xs && xi &&
        pb_ps_item_find_external(a.conn, "label", a.project_id, xs, xi, it.id, other, NULL) == 0) {
        pb_api_conflict(resp, "Label with the same external id and external source already exists", it.id);
        goto out;
    }
    if (pb_ps_item_find_name(a.conn, "label", a.project_id, pb_api_str(o, "name"), it.id, other, NULL) == 0) {
        pb_api_conflict(resp, "Label with the same name already exists in the project", other);
        goto out;
    }
    int64_t now = pb_api_now();
    pb_api_set_time(o, "updated_at", now);
    pb_api_set_str(o, "updated_by", a.user_id);
    char *raw = pb_api_print(o);
    if (!raw) {
        pb_api_internal(resp);
        goto out;
    }
    free(it.raw);
    it.raw = raw;
    char *n0 = it.name, *s0 = it.external_source, *i0 = it.external_id;
    label_columns(o, &it);
    it.updated_at = now;
    rc = pb_ps_item_update(a.conn, &it, &err);
    it.name = n0;
    it.external_source = s0;
    it.external_id = i0;
    rc = pb_api_commit(&a, rc, &err, "Label with the same name already exists in the project");
    if (rc) goto out;
    send_label(&a, 200, it.raw);
out:
    pb_ps_item_clear(&it);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* Removes label_id from the `labels` list of every work item carrying it. */
static int strip_from_issues(pb_api_req *a, const char *label_id, pb_error *err)
{
    pb_ps_rawlist l = {0};
    int rc = pb_ps_refs_items(a->conn, "label", label_id, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        pb_ps_item it;
        if (pb_ps_item_get(a->conn, "issue", NULL, l.id[i], &it, NULL)) continue;
        cJSON *o = pb_api_parse_raw(it.raw);
        cJSON *labels = o ? cJSON_GetObjectItemCaseSensitive(o, "labels") : NULL;
        if (cJSON_IsArray(labels)) {
            int idx = 0;
            cJSON *e = labels->child;
            while (e) {
                cJSON *next = e->next;
                if (cJSON_IsString(e) && strcmp(e->valuestring, label_id) == 0) {
                    cJSON_DeleteItemFromArray(labels, idx);
                } else {
                    idx++;
                }
                e = next;
            }
            char *raw = pb_api_print(o);
            if (raw) {
                free(it.raw);
                it.raw = raw;
                rc = pb_ps_item_update(a->conn, &it, err);
            }
        }
        cJSON_Delete(o);
        pb_ps_item_clear(&it);
    }
    pb_ps_rawlist_clear(&l);
    if (!rc) rc = pb_ps_refs_delete_ref(a->conn, "label", label_id, err);
    return rc;
}

static int h_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (load_label(&a, &it)) goto out;
    rc = pb_ps_item_soft_delete(a.conn, it.id, pb_api_now(), &err);
    if (!rc) rc = strip_from_issues(&a, it.id, &err);
    rc = pb_api_commit(&a, rc, &err, NULL);
    if (rc) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_item_clear(&it);
    pb_api_end(&a);
    return 0;
}

void pb_api_register_labels(pb_server *s, pb_app *app)
{
    const char *list = "/api/v1/workspaces/{slug}/projects/{project_id}/labels/";
    const char *one = "/api/v1/workspaces/{slug}/projects/{project_id}/labels/{label_id}/";
    pb_api_route(s, app, "GET", list, "projects:read", h_list);
    pb_api_route(s, app, "POST", list, "projects:write", h_create);
    pb_api_route(s, app, "GET", one, "projects:read", h_get);
    pb_api_route(s, app, "PATCH", one, "projects:write", h_patch);
    pb_api_route(s, app, "DELETE", one, "projects:write", h_delete);
}
