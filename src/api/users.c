/* users: GET /api/v1/users/me/ (the caller as UserLite) and the workspace member list. */
#include "api/api.h"

#include "store/auth_store.h"

#include <stdlib.h>
#include <string.h>

static int h_me(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, 0)) return 0;
    pb_buf *b = pb_resp_body(resp);
    pb_buf_reset(b);
    pb_error err = {0};
    pb_ps_user u;
    int rc = pb_ps_user_get(a.conn, a.user_id, &u, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
    } else if (pb_api_user_lite(a.conn, a.user_id, b, &err)) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    } else {
        pb_resp_status(resp, 200);
    }
    pb_api_end(&a);
    return 0;
}

/* Workspace members: a plain array of UserLite plus `role`. */
static int h_ws_members(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS | PB_API_NO_CONN)) return 0;
    pb_member_row *rows = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_as_member_list(a.app->db, a.slug, &rows, &n, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        return 0;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", rows[i].user.id);
        cJSON_AddStringToObject(o, "first_name", rows[i].user.first_name);
        cJSON_AddStringToObject(o, "last_name", rows[i].user.last_name);
        cJSON_AddStringToObject(o, "email", rows[i].user.email);
        cJSON_AddStringToObject(o, "avatar", "");
        cJSON_AddNullToObject(o, "avatar_url");
        cJSON_AddStringToObject(o, "display_name", rows[i].user.display_name);
        cJSON_AddNumberToObject(o, "role", rows[i].role);
        cJSON_AddItemToArray(arr, o);
    }
    free(rows);
    pb_api_send_json(resp, 200, arr);
    cJSON_Delete(arr);
    return 0;
}

void pb_api_register_users(pb_server *s, pb_app *app)
{
    pb_api_route(s, app, "GET", "/api/v1/users/me/", NULL, h_me);
    pb_api_route(s, app, "GET", "/api/v1/workspaces/{slug}/members/", "projects:read", h_ws_members);
}
