/* activities: the read-only per-field history of a work item
 * (projects/{project_id}/work-items/{issue_id}/activities/[{activity_id}/], both spellings).
 * Rows are written by pb_api_activity() on every work-item change; comment rows are left out
 * of the API as Plane does. Default order created_at ascending; ?order_by=-created_at. */
#include "api/api.h"

#include <string.h>

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *iid = pb_api_uuid_param(req, resp, "issue_id");
    pb_api_page pg;
    if (!iid || pb_api_page_from_query(req, resp, &pg)) goto out;
    pb_error err = {0};
    int rc = pb_ps_issue_exists(a.conn, a.project_id, iid, 0, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    const char *ob = pb_req_query(req, "order_by");
    int desc = ob && strcmp(ob, "-created_at") == 0;
    pb_api_fields fields;
    pb_api_fields_from_query(req, &fields, NULL);
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    rc = pb_ps_activity_list(a.conn, iid, desc, pg.per_page, pg.offset, &total, &l, &err);
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

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *iid = pb_api_uuid_param(req, resp, "issue_id");
    const char *aid = iid ? pb_api_uuid_param(req, resp, "activity_id") : NULL;
    if (!aid) goto out;
    pb_ps_item it;
    pb_error err = {0};
    int rc = pb_ps_item_get(a.conn, "activity", a.project_id, aid, &it, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    if (strcmp(it.parent_id, iid) != 0 || (it.name && strcmp(it.name, "comment") == 0)) {
        pb_api_not_found(resp);
    } else {
        pb_api_fields fields;
        pb_api_fields_from_query(req, &fields, NULL);
        pb_api_send_raw(resp, 200, it.raw, &fields);
    }
    pb_ps_item_clear(&it);
out:
    pb_api_end(&a);
    return 0;
}

void pb_api_register_activities(pb_server *s, pb_app *app)
{
    static const char *const lists[] = {
        "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}/activities/",
        "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}/activities/"};
    static const char *const ones[] = {
        "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}/activities/{activity_id}/",
        "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}/activities/{activity_id}/"};
    for (int i = 0; i < 2; i++) {
        pb_api_route(s, app, "GET", lists[i], "issues:read", h_list);
        pb_api_route(s, app, "GET", ones[i], "issues:read", h_get);
    }
}
