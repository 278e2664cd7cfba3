/* members: project members under projects/{project_id}/members/ and the alias
 * project-members/ (Plane's ProjectMemberAPIEndpoint).
 *
 * GET list: a plain array of UserLite, inactive (removed) members included as Plane does.
 * POST {member, role}: project admins only; the user must be in the workspace; answers
 * {id, member, role}. DELETE sets is_active = false. */
#include "api/api.h"

#include "core/util.h"
#include "store/auth_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *member_raw(const char *id, const char *member, int role)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "member", member);
    cJSON_AddNumberToObject(o, "role", role);
    char *s = pb_api_print(o);
    cJSON_Delete(o);
    return s;
}

int pb_api_member_put(pb_conn *c, pb_api_req *a, const char *project_id, const char *user_id, int role, pb_error *err)
{
    pb_ps_item it;
    int64_t now = pb_api_now();
    int rc = pb_ps_member_get(c, project_id, user_id, &it, err);
    if (rc == 0) {
        char *raw = member_raw(it.id, user_id, role);
        if (!raw) {
            pb_ps_item_clear(&it);
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        }
        free(it.raw);
        it.raw = raw;
        it.role = role;
        it.is_active = 1;
        it.deleted_at = 0;
        it.updated_at = now;
        rc = pb_ps_item_update(c, &it, err);
        pb_ps_item_clear(&it);
        return rc;
    }
    if (rc != PB_ENOTFOUND) return rc;
    pb_ps_item n;
    memset(&n, 0, sizeof n);
    pb_uuid4(n.id);
    n.item_type = "project_member";
    pb_strlcpy(n.slug, a->slug ? a->slug : "", sizeof n.slug);
    pb_strlcpy(n.project_id, project_id, sizeof n.project_id);
    pb_strlcpy(n.member_id, user_id, sizeof n.member_id);
    pb_strlcpy(n.created_by, a->user_id, sizeof n.created_by);
    n.role = role;
    n.is_active = 1;
    n.created_at = n.updated_at = now;
    n.raw = member_raw(n.id, user_id, role);
    if (!n.raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    rc = pb_ps_item_insert(c, &n, err);
    free(n.raw);
    return rc;
}

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_buf *b = pb_resp_body(resp);
    pb_buf_reset(b);
    pb_error err = {0};
    int rc = pb_ps_project_member_users(a.conn, a.project_id, b, &err);
    if (rc) {
        pb_buf_reset(b);
        pb_api_fail(resp, rc, &err);
    } else {
        pb_resp_status(resp, 200);
    }
    pb_api_end(&a);
    return 0;
}

static int role_ok(int64_t r)
{
    return r == PB_ROLE_ADMIN || r == PB_ROLE_MEMBER || r == PB_ROLE_GUEST;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_ADMIN)) return 0;
    if (pb_api_parse_body(req, resp, 0, &body)) goto out;
    pb_api_verr v = {0};
    char member[37] = "";
    int64_t role = PB_ROLE_MEMBER;
    if (!pb_api_get_uuid(body, "member", 0, member, &v)) pb_api_verr_add(&v, "member", "This field is required.");
    if (pb_api_get_int(body, "role", 0, 100, &role, &v) && !role_ok(role))
        pb_api_verr_add(&v, "role", "\"invalid\" is not a valid choice.");
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    pb_error err = {0};
    int ws_role = 0;
    if (pb_ps_ws_role(a.conn, a.slug, member, &ws_role, NULL) != 0) {
        pb_api_error(resp, 400, "User is not a member of the workspace");
        goto out;
    }
    if (role > ws_role) {
        pb_api_error(resp, 400, "You cannot add a user with role higher than the workspace role");
        goto out;
    }
    int rc = pb_conn_begin_write(a.conn, &err);
    pb_ps_item it;
    if (!rc && pb_ps_member_get(a.conn, a.project_id, member, &it, NULL) == 0) {
        int active = it.is_active;
        pb_ps_item_clear(&it);
        if (active) {
            pb_api_error(resp, 400, "User is already a member of the project");
            goto out;
        }
    }
    if (!rc) rc = pb_api_member_put(a.conn, &a, a.project_id, member, (int)role, &err);
    if (!rc) rc = pb_conn_commit(a.conn, &err);
    pb_api_access_invalidate(); /* membership, archive state or existence may have changed */
    if (!rc) rc = pb_ps_member_get(a.conn, a.project_id, member, &it, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    pb_api_send_raw(resp, 201, it.raw, NULL);
    pb_ps_item_clear(&it);
out:
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int load_member(pb_api_req *a, pb_ps_item *it)
{
    return pb_api_load_item(a, "project_member", "member_id", it);
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_ps_item it;
    if (!load_member(&a, &it)) {
        pb_api_send_raw(resp, 200, it.raw, NULL);
        pb_ps_item_clear(&it);
    }
    pb_api_end(&a);
    return 0;
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_ADMIN)) return 0;
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (load_member(&a, &it)) goto out;
    pb_api_verr v = {0};
    int64_t role = it.role;
    if (pb_api_get_int(body, "role", 0, 100, &role, &v) && !pb_api_verr_any(&v) && !role_ok(role))
        pb_api_verr_add(&v, "role", "\"invalid\" is not a valid choice.");
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    int ws_role = 0;
    if (pb_ps_ws_role(a.conn, a.slug, it.member_id, &ws_role, NULL) == 0 && role > ws_role) {
        pb_api_error(resp, 400, "You cannot add a user with role higher than the workspace role");
        goto out;
    }
    char *raw = member_raw(it.id, it.member_id, (int)role);
    free(it.raw);
    it.raw = raw;
    it.role = (int)role;
    it.updated_at = pb_api_now();
    rc = raw ? pb_ps_item_update(a.conn, &it, &err) : PB_ENOMEM;
    rc = pb_api_commit(&a, rc, &err, NULL);
    pb_api_access_invalidate(); /* membership, archive state or existence may have changed */
    if (rc) goto out;
    pb_api_send_raw(resp, 200, it.raw, NULL);
out:
    pb_ps_item_clear(&it);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int h_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_ADMIN)) return 0;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (load_member(&a, &it)) goto out;
    it.is_active = 0;
    it.updated_at = pb_api_now();
    rc = pb_ps_item_update(a.conn, &it, &err);
    rc = pb_api_commit(&a, rc, &err, NULL);
    pb_api_access_invalidate(); /* membership, archive state or existence may have changed */
    if (rc) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_item_clear(&it);
    pb_api_end(&a);
    return 0;
}

void pb_api_register_members(pb_server *s, pb_app *app)
{
    static const char *const lists[] = {"/api/v1/workspaces/{slug}/projects/{project_id}/members/",
                                        "/api/v1/workspaces/{slug}/projects/{project_id}/project-members/"};
    static const char *const ones[] = {"/api/v1/workspaces/{slug}/projects/{project_id}/members/{member_id}/",
                                       "/api/v1/workspaces/{slug}/projects/{project_id}/project-members/{member_id}/"};
    for (int i = 0; i < 2; i++) {
        pb_api_route(s, app, "GET", lists[i], "projects:read", h_list);
        pb_api_route(s, app, "POST", lists[i], "projects:write", h_create);
        pb_api_route(s, app, "GET", ones[i], "projects:read", h_get);
        pb_api_route(s, app, "PATCH", ones[i], "projects:write", h_patch);
        pb_api_route(s, app, "DELETE", ones[i], "projects:write", h_delete);
    }
}
