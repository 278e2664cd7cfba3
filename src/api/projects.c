/* projects: workspaces/{slug}/projects/ CRUD (the list with ?order_by=), archive/unarchive and
 * summary/ (Plane's Project*APIEndpoint classes).
 *
 * Create adds the caller as project Admin (and the lead, when another user) and seeds the six
 * default states. 409s as Plane answers them: {"name":"The project name is already taken"},
 * {"identifier":"The project identifier is already taken"}. */
#include "api/api.h"

#include "core/util.h"
#include "store/auth_store.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROJECT_IDENT_MAX 12

/* Plane's identifier rules: stripped, upper-cased, at most 12 characters, none of the
 * forbidden punctuation. Writes the normalised identifier into out. */
static int normalise_identifier(const char *in, char *out, size_t outlen, const char **why)
{
    while (*in == ' ' || *in == '\t') in++;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
    if (n == 0) {
        *why = "This field may not be blank.";
        return PB_EINVAL;
    }
    if (n + 1 > outlen) {
        *why = "Ensure this field has no more than 12 characters.";
        return PB_EINVAL;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch < 0x20 || ch == 0x7f || strchr(" &+,:;$^}{*=?@#|'<>.()%!-\"\\/[]~`", ch)) {
            *why = "Identifier can only contain letters and digits.";
            return PB_EINVAL;
        }
        out[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : (char)ch;
        if ((ch & 0xC0) != 0x80) chars++;
    }
    out[n] = '\0';
    if (chars > PROJECT_IDENT_MAX) {
        *why = "Ensure this field has no more than 12 characters.";
        return PB_EINVAL;
    }
    return 0;
}

static void set_item(cJSON *o, const char *key, cJSON *v)
{
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

static int ws_member(pb_api_req *a, const char *user_id)
{
    int role = 0;
    return pb_ps_ws_role(a->conn, a->slug, user_id, &role, NULL) == 0 && role > 0;
}

/* Applies the writable fields of body onto o, validating; identifier (normalised) is also
 * copied into ident when present. */
static void project_apply(pb_api_req *a, const cJSON *body, cJSON *o, pb_api_verr *v)
{
    const char *s;
    if (pb_api_get_str(body, "name", 0, 0, 255, &s, v) && s) pb_api_set_str(o, "name", s);
    if (pb_api_get_str(body, "description", 0, 1, 1u << 20, &s, v) && s) pb_api_set_str(o, "description", s);
    static const char *const json_keys[] = {"description_text", "description_html", "icon_prop", "logo_props", NULL};
    for (int i = 0; json_keys[i]; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, json_keys[i]);
        if (j) set_item(o, json_keys[i], cJSON_Duplicate(j, 1));
    }
    int64_t n;
    if (pb_api_get_int(body, "network", 0, 2, &n, v)) {
        if (n == 0 || n == 2) cJSON_ReplaceItemInObjectCaseSensitive(o, "network", cJSON_CreateNumber((double)n));
        else pb_api_verr_add(v, "network", "\"1\" is not a valid choice.");
    }
    const cJSON *ident = cJSON_GetObjectItemCaseSensitive(body, "identifier");
    if (ident) {
        char norm[64];
        const char *why = NULL;
        if (!cJSON_IsString(ident)) pb_api_verr_add(v, "identifier", "Not a valid string.");
        else if (normalise_identifier(ident->valuestring, norm, sizeof norm, &why)) pb_api_verr_add(v, "identifier", why);
        else pb_api_set_str(o, "identifier", norm);
    }
    const cJSON *emoji = cJSON_GetObjectItemCaseSensitive(body, "emoji");
    if (emoji) {
        if (pb_api_get_str(body, "emoji", 1, 1, 255, &s, v)) pb_api_set_str(o, "emoji", s);
    }
    static const char *const bools[] = {"module_view", "cycle_view", "issue_views_view", "page_view", "intake_view",
                                        "is_time_tracking_enabled", "is_issue_type_enabled",
                                        "guest_view_all_features", NULL};
    for (int i = 0; bools[i]; i++) {
        int b;
        if (pb_api_get_bool(body, bools[i], &b, v) && !pb_api_verr_any(v))
            set_item(o, bools[i], cJSON_CreateBool(b));
    }
    if (cJSON_GetObjectItemCaseSensitive(body, "cover_image")) {
        if (pb_api_get_str(body, "cover_image", 1, 1, 800, &s, v)) pb_api_set_str(o, "cover_image", s);
    }
    if (pb_api_get_int(body, "archive_in", 0, 12, &n, v)) set_item(o, "archive_in", cJSON_CreateNumber((double)n));
    if (pb_api_get_int(body, "close_in", 0, 12, &n, v)) set_item(o, "close_in", cJSON_CreateNumber((double)n));
    if (pb_api_get_str(body, "timezone", 0, 0, 255, &s, v) && s) pb_api_set_str(o, "timezone", s);
    if (cJSON_GetObjectItemCaseSensitive(body, "external_source")) {
        if (pb_api_get_str(body, "external_source", 1, 1, 255, &s, v)) pb_api_set_str(o, "external_source", s);
    }
    if (cJSON_GetObjectItemCaseSensitive(body, "external_id")) {
        if (pb_api_get_str(body, "external_id", 1, 1, 255, &s, v)) pb_api_set_str(o, "external_id", s);
    }
    char u[37];
    if (pb_api_get_uuid(body, "project_lead", 1, u, v)) {
        if (u[0] && !ws_member(a, u)) pb_api_verr_add(v, "non_field_errors", "Project lead should be a user in the workspace");
        else if (!pb_api_verr_any(v)) pb_api_set_str(o, "project_lead", u[0] ? u : NULL);
    }
    if (pb_api_get_uuid(body, "default_assignee", 1, u, v)) {
        if (u[0] && !ws_member(a, u))
            pb_api_verr_add(v, "non_field_errors", "Default assignee should be a user in the workspace");
        else if (!pb_api_verr_any(v)) pb_api_set_str(o, "default_assignee", u[0] ? u : NULL);
    }
    if (pb_api_get_uuid(body, "estimate", 1, u, v)) pb_api_set_str(o, "estimate", u[0] ? u : NULL);
    if (pb_api_get_uuid(body, "default_state", 1, u, v)) pb_api_set_str(o, "default_state", u[0] ? u : NULL);
}

static cJSON *project_new(pb_api_req *a, const char *id, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "total_members", 1);
    cJSON_AddNumberToObject(o, "total_cycles", 0);
    cJSON_AddNumberToObject(o, "total_modules", 0);
    cJSON_AddTrueToObject(o, "is_member");
    cJSON_AddNumberToObject(o, "sort_order", 65535);
    cJSON_AddNumberToObject(o, "member_role", 20);
    cJSON_AddFalseToObject(o, "is_deployed");
    cJSON_AddNullToObject(o, "cover_image_url");
    cJSON_AddItemToObject(o, "created_at", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "updated_at", pb_api_time_json(now));
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddStringToObject(o, "name", "");
    cJSON_AddStringToObject(o, "description", "");
    cJSON_AddNullToObject(o, "description_text");
    cJSON_AddNullToObject(o, "description_html");
    cJSON_AddNumberToObject(o, "network", 2);
    cJSON_AddStringToObject(o, "identifier", "");
    cJSON_AddNullToObject(o, "emoji");
    cJSON_AddNullToObject(o, "icon_prop");
    cJSON_AddFalseToObject(o, "module_view");
    cJSON_AddFalseToObject(o, "cycle_view");
    cJSON_AddTrueToObject(o, "issue_views_view");
    cJSON_AddTrueToObject(o, "page_view");
    cJSON_AddFalseToObject(o, "intake_view");
    cJSON_AddFalseToObject(o, "is_time_tracking_enabled");
    cJSON_AddFalseToObject(o, "is_issue_type_enabled");
    cJSON_AddFalseToObject(o, "guest_view_all_features");
    cJSON_AddNullToObject(o, "cover_image");
    cJSON_AddNumberToObject(o, "archive_in", 0);
    cJSON_AddNumberToObject(o, "close_in", 0);
    cJSON_AddItemToObject(o, "logo_props", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "archived_at");
    cJSON_AddStringToObject(o, "timezone", "UTC");
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddStringToObject(o, "created_by", a->user_id);
    cJSON_AddStringToObject(o, "updated_by", a->user_id);
    pb_api_set_str(o, "workspace", pb_api_ws_id(a)[0] ? pb_api_ws_id(a) : NULL);
    cJSON_AddNullToObject(o, "default_assignee");
    cJSON_AddNullToObject(o, "project_lead");
    cJSON_AddNullToObject(o, "cover_image_asset");
    cJSON_AddNullToObject(o, "estimate");
    cJSON_AddNullToObject(o, "default_state");
    return o;
}

/* Fills the per-caller annotations (total_members, is_member, member_role...). */
static void project_annotate(pb_api_req *a, cJSON *o, const char *id)
{
    int64_t members = 0, cycles = 0, modules = 0;
    int role = 0;
    if (pb_ps_project_counts(a->conn, id, a->user_id, &members, &cycles, &modules, &role, NULL)) return;
    set_item(o, "total_members", cJSON_CreateNumber((double)members));
    set_item(o, "total_cycles", cJSON_CreateNumber((double)cycles));
    set_item(o, "total_modules", cJSON_CreateNumber((double)modules));
    set_item(o, "is_member", cJSON_CreateBool(role > 0));
    set_item(o, "member_role", role ? cJSON_CreateNumber(role) : cJSON_CreateNull());
}

static int render_project(pb_api_req *a, const char *raw, const char *id, const pb_api_fields *fields,
                          const pb_api_fields *expand, pb_buf *b)
{
    cJSON *o = pb_api_parse_raw(raw);
    if (!o) return PB_EPARSE;
    project_annotate(a, o, id);
    static const char *const users[] = {"created_by", "updated_by", "default_assignee", "project_lead", NULL};
    for (int i = 0; users[i]; i++)
        if (pb_api_fields_has(expand, users[i])) pb_api_expand_users(a->conn, o, users[i], NULL);
    if (pb_api_fields_has(expand, "workspace")) {
        pb_buf wb;
        pb_buf_init(&wb, 4096);
        if (pb_ps_workspace_lite(a->conn, a->slug, &wb, NULL) == 0) {
            cJSON *w = cJSON_Parse(pb_buf_cstr(&wb));
            if (w) set_item(o, "workspace", w);
        }
        pb_buf_free(&wb);
    }
    pb_api_fields_apply(o, fields);
    char *s = pb_api_print(o);
    cJSON_Delete(o);
    if (!s) return PB_ENOMEM;
    int rc = pb_buf_puts(b, s);
    free(s);
    return rc;
}

static void send_project(pb_api_req *a, int status, const char *raw, const char *id)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_buf_reset(b);
    if (render_project(a, raw, id, &fields, &expand, b)) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
        return;
    }
    pb_resp_status(a->resp, status);
}

/* Copies the indexed columns out of the JSON object. */
static void project_columns(const cJSON *o, pb_ps_project *p)
{
    const char *s = pb_api_str(o, "identifier");
    pb_strlcpy(p->identifier, s ? s : "", sizeof p->identifier);
    p->name = (char *)(uintptr_t)pb_api_str(o, "name"); /* borrowed, never freed */
    p->external_source = (char *)(uintptr_t)pb_api_str(o, "external_source");
    p->external_id = (char *)(uintptr_t)pb_api_str(o, "external_id");
}

/* ?order_by= of the project list (reference/plane-api.md §2: default `sort_order`, the
 * caller's own; `?order_by=` allowed; a leading `-` descends). Plane hands the value to the
 * ORM, so any Project field or annotation works there and an unknown one raises FieldError,
 * which Plane answers 500 (derived; the reference says so of the work-item list). We serve
 * the whitelist below and answer an unknown field 400 {"error":"Invalid order_by field"},
 * as our work-item list does. An empty value is the default order. */
static int parse_project_order(const char *s, pb_ps_project_order *order, int *desc)
{
    static const pb_api_order_field fields[] = {
        {"sort_order", PB_PS_PORDER_SORT_ORDER}, {"created_at", PB_PS_PORDER_CREATED},
        {"updated_at", PB_PS_PORDER_UPDATED},    {"name", PB_PS_PORDER_NAME},
        {"identifier", PB_PS_PORDER_IDENTIFIER}, {"id", PB_PS_PORDER_ID},
        {"pk", PB_PS_PORDER_ID},                 {"archived_at", PB_PS_PORDER_ARCHIVED}};
    int code = PB_PS_PORDER_SORT_ORDER;
    *desc = 0;
    int rc = pb_api_order_parse(s, fields, sizeof fields / sizeof fields[0], &code, desc);
    *order = (pb_ps_project_order)code;
    return rc;
}

/* ---------------------------------------------------------------- handlers */
static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    pb_api_page pg;
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    pb_ps_project_order order;
    int desc;
    if (parse_project_order(pb_req_query(req, "order_by"), &order, &desc)) {
        pb_api_error(resp, 400, "Invalid order_by field");
        goto out;
    }
    pb_api_fields fields, expand;
    pb_api_fields_from_query(req, &fields, &expand);
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    pb_error err = {0};
    int rc = pb_ps_project_list_ordered(a.conn, a.slug, a.user_id, order, desc, pg.per_page, pg.offset, &total, &l,
                                        &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_buf_reset(b);
    rc = pb_api_envelope_begin(b, &pg, total);
    for (size_t i = 0; !rc && i < l.n; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = render_project(&a, l.raw[i], l.id[i], &fields, &expand, b);
    }
    if (!rc) rc = pb_api_envelope_end(b);
    pb_ps_rawlist_clear(&l);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    } else {
        pb_resp_status(resp, 200);
    }
out:
    pb_api_end(&a);
    return 0;
}

#define NAME_TAKEN "{\"name\":\"The project name is already taken\"}"
#define IDENTIFIER_TAKEN "{\"identifier\":\"The project identifier is already taken\"}"

/* 409 (answered, returns non-zero) when another live project of the workspace has o's name or
 * identifier. */
static int project_names_taken(pb_api_req *a, const cJSON *o, const char *except_id)
{
    const char *taken = NULL;
    if (pb_ps_project_find_name(a->conn, a->slug, pb_api_str(o, "name"), except_id, NULL, NULL) == 0)
        taken = NAME_TAKEN;
    else if (pb_ps_project_find_identifier(a->conn, a->slug, pb_api_str(o, "identifier"), except_id, NULL,
                                           NULL) == 0)
        taken = IDENTIFIER_TAKEN;
    if (taken) pb_resp_json(a->resp, 409, taken);
    return taken != NULL;
}

/* pb_api_commit for project writes: a unique-index conflict answers 409 with taken (when
 * given), and the access cache is dropped whatever the outcome (membership, archive state or
 * existence may have changed). */
static int project_commit(pb_api_req *a, int rc, pb_error *err, const char *taken)
{
    if (!rc) rc = pb_conn_commit(a->conn, err);
    pb_api_access_invalidate();
    if (rc == PB_ECONFLICT && taken) pb_resp_json(a->resp, 409, taken);
    else if (rc) pb_api_fail(a->resp, rc, err);
    return rc;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS | PB_API_WRITE)) return 0;
    if (pb_api_parse_body(req, resp, 0, &body)) goto out;
    pb_api_verr v = {0};
    if (!cJSON_GetObjectItemCaseSensitive(body, "name")) pb_api_verr_add(&v, "name", "This field is required.");
    if (!cJSON_GetObjectItemCaseSensitive(body, "identifier"))
        pb_api_verr_add(&v, "identifier", "This field is required.");
    char id[37];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    o = project_new(&a, id, now);
    project_apply(&a, body, o, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (project_names_taken(&a, o, NULL)) goto out;
    raw = pb_api_print(o);
    if (!raw) {
        pb_api_internal(resp);
        goto out;
    }
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    pb_strlcpy(p.id, id, sizeof p.id);
    pb_strlcpy(p.slug, a.slug, sizeof p.slug);
    project_columns(o, &p);
    p.created_at = p.updated_at = now;
    p.raw = raw;
    rc = pb_ps_project_insert(a.conn, &p, &err);
    if (!rc) rc = pb_api_member_put(a.conn, &a, id, a.user_id, PB_ROLE_ADMIN, &err);
    const char *lead = pb_api_str(o, "project_lead");
    if (!rc && lead && strcmp(lead, a.user_id) != 0) rc = pb_api_member_put(a.conn, &a, id, lead, PB_ROLE_ADMIN, &err);
    if (!rc) rc = pb_api_seed_states(a.conn, &a, id, &err);
    if (!rc) rc = pb_api_outbox(a.conn, "project.created", a.slug, id, id, o, NULL, &err);
    if (project_commit(&a, rc, &err, NAME_TAKEN)) goto out;
    send_project(&a, 201, raw, id);
out:
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* The project if the caller may see it (member, or public): 0, else answered 404. */
static int load_visible(pb_api_req *a, const char *id, pb_ps_project *p, int *role)
{
    pb_error err = {0};
    int rc = pb_ps_project_get(a->conn, a->slug, id, p, &err);
    if (rc) {
        pb_api_fail(a->resp, rc, &err);
        return 1;
    }
    int exists = 0, archived = 0;
    *role = 0;
    pb_ps_project_access(a->conn, a->slug, id, a->user_id, &exists, role, NULL, &archived, NULL);
    if (*role == 0 && !strstr(p->raw, "\"network\":2") && !strstr(p->raw, "\"network\": 2")) {
        pb_ps_project_clear(p);
        pb_api_not_found(a->resp);
        return 1;
    }
    return 0;
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "project_id");
    pb_ps_project p;
    int role;
    if (id && !load_visible(&a, id, &p, &role)) {
        send_project(&a, 200, p.raw, id);
        pb_ps_project_clear(&p);
    }
    pb_api_end(&a);
    return 0;
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *before = NULL, *o = NULL, *prev = NULL;
    char *raw = NULL;
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "project_id");
    if (!id) goto out;
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    int role = 0;
    if (load_visible(&a, id, &p, &role)) goto out;
    if (role < PB_ROLE_ADMIN) {
        pb_api_forbidden(resp);
        goto out;
    }
    if (p.archived_at) {
        pb_api_error(resp, 400, "Archived project cannot be updated");
        goto out;
    }
    before = pb_api_parse_raw(p.raw);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) {
        pb_api_internal(resp);
        goto out;
    }
    pb_api_verr v = {0};
    project_apply(&a, body, o, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (project_names_taken(&a, o, id)) goto out;
    int64_t now = pb_api_now();
    pb_api_set_time(o, "updated_at", now);
    pb_api_set_str(o, "updated_by", a.user_id);
    raw = pb_api_print(o);
    if (!raw) {
        pb_api_internal(resp);
        goto out;
    }
    pb_ps_project np;
    memset(&np, 0, sizeof np);
    pb_strlcpy(np.id, id, sizeof np.id);
    project_columns(o, &np);
    np.updated_at = now;
    np.archived_at = p.archived_at;
    np.raw = raw;
    rc = pb_ps_project_update(a.conn, &np, &err);
    prev = cJSON_CreateObject();
    static const char *const skip[] = {"updated_at", "updated_by", NULL};
    pb_api_diff(before, o, NULL, prev);
    for (int i = 0; skip[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(prev, skip[i]);
    if (!rc && prev->child) rc = pb_api_outbox(a.conn, "project.updated", a.slug, id, id, o, prev, &err);
    if (project_commit(&a, rc, &err, IDENTIFIER_TAKEN)) goto out;
    send_project(&a, 200, raw, id);
out:
    pb_ps_project_clear(&p);
    free(raw);
    cJSON_Delete(prev);
    cJSON_Delete(o);
    cJSON_Delete(before);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int h_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "project_id");
    if (!id) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    int role = 0;
    if (load_visible(&a, id, &p, &role)) goto out;
    if (role < PB_ROLE_ADMIN && a.ws_role < PB_ROLE_ADMIN) {
        pb_api_forbidden(resp);
        goto out;
    }
    rc = pb_ps_project_soft_delete(a.conn, id, pb_api_now(), &err);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "id", id);
    if (!rc) rc = pb_api_outbox(a.conn, "project.deleted", a.slug, id, id, data, NULL, &err);
    cJSON_Delete(data);
    if (project_commit(&a, rc, &err, NULL)) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_project_clear(&p);
    pb_api_end(&a);
    return 0;
}

/* POST archives, DELETE unarchives; both 204. */
static int archive(pb_req *req, pb_resp *resp, void *ctx, int on)
{
    pb_api_req a;
    pb_ps_project p;
    cJSON *o = NULL, *prev = NULL;
    char *raw = NULL;
    memset(&p, 0, sizeof p);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "project_id");
    if (!id) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    int role = 0;
    if (load_visible(&a, id, &p, &role)) goto out;
    if (role < PB_ROLE_ADMIN) {
        pb_api_forbidden(resp);
        goto out;
    }
    o = pb_api_parse_raw(p.raw);
    if (!o) {
        pb_api_internal(resp);
        goto out;
    }
    prev = cJSON_CreateObject();
    cJSON_AddItemToObject(prev, "archived_at", pb_api_time_json(p.archived_at));
    int64_t now = pb_api_now();
    p.archived_at = on ? now : 0;
    p.updated_at = now;
    pb_api_set_time(o, "archived_at", p.archived_at);
    pb_api_set_time(o, "updated_at", now);
    raw = pb_api_print(o);
    if (!raw) {
        pb_api_internal(resp);
        goto out;
    }
    free(p.raw);
    p.raw = raw;
    raw = NULL;
    rc = pb_ps_project_update(a.conn, &p, &err);
    if (!rc)
        rc = pb_api_outbox(a.conn, on ? "project.archived" : "project.updated", a.slug, id, id, o, prev, &err);
    if (project_commit(&a, rc, &err, NULL)) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_project_clear(&p);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(prev);
    pb_api_end(&a);
    return 0;
}

static int h_archive(pb_req *req, pb_resp *resp, void *ctx)
{
    return archive(req, resp, ctx, 1);
}

static int h_unarchive(pb_req *req, pb_resp *resp, void *ctx)
{
    return archive(req, resp, ctx, 0);
}

/* GET projects/{project_id}/summary/ (Plane's ProjectSummaryAPIEndpoint; reference/plane-api.md
 * §2: "counts; ?fields=members,states,labels,cycles,modules,issues,intakes,pages"). The
 * reference gives no more than that line; the rest follows the endpoint's own description in
 * Plane's source:
 *   - permission WorkSpaceAdminPermission: only a workspace Admin may read it (403 otherwise,
 *     before the project is looked up); project membership is not needed;
 *   - the project is any non-deleted project of the workspace, archived included; a missing
 *     one is 404 {"error":"Project not found"} (this view's own message);
 *   - ?fields= is split on commas, each name stripped of white space, unknown names dropped;
 *     nothing left (or no ?fields=) means all eight;
 *   - the answer is {"id","name","identifier","counts":{<requested name>: n}}. Plane builds
 *     `counts` from a Python set, so its key order is unspecified; we use the list's order.
 * What each count includes is stated in plane_store.h (pb_ps_project_summary_counts). */
static const char *const summary_names[] = {"members", "states", "labels", "cycles",
                                            "modules", "issues", "intakes", "pages"};
#define SUMMARY_N (sizeof summary_names / sizeof summary_names[0])

/* Marks want[i] for each allowed name in the comma list csv; returns how many were marked. */
static int summary_fields(const char *csv, int want[SUMMARY_N])
{
    int n = 0;
    for (size_t i = 0; i < SUMMARY_N; i++) want[i] = 0;
    for (const char *p = csv; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *b = p;
        while (len && isspace((unsigned char)*b)) b++, len--;
        while (len && isspace((unsigned char)b[len - 1])) len--;
        for (size_t i = 0; i < SUMMARY_N; i++) {
            if (!want[i] && strlen(summary_names[i]) == len && memcmp(summary_names[i], b, len) == 0) {
                want[i] = 1;
                n++;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return n;
}

static int h_summary(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    pb_ps_project p;
    cJSON *o = NULL;
    memset(&p, 0, sizeof p);
    /* Django resolves the <uuid:project_id> converter before the permission check */
    const char *id = pb_api_uuid_param(req, resp, "project_id");
    if (!id) return 0;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS | PB_API_ADMIN)) return 0;
    pb_error err = {0};
    int rc = pb_ps_project_get(a.conn, a.slug, id, &p, &err);
    if (rc == PB_ENOTFOUND) {
        pb_api_error(resp, 404, "Project not found");
        goto out;
    }
    pb_ps_project_summary sum;
    if (!rc) rc = pb_ps_project_summary_counts(a.conn, id, &sum, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    int want[SUMMARY_N];
    if (!summary_fields(pb_req_query(req, "fields"), want))
        for (size_t i = 0; i < SUMMARY_N; i++) want[i] = 1;
    const int64_t counts[SUMMARY_N] = {sum.members, sum.states, sum.labels, sum.cycles,
                                       sum.modules, sum.issues, sum.intakes, sum.pages};
    o = cJSON_CreateObject();
    cJSON *cn = cJSON_CreateObject();
    if (!o || !cn) {
        cJSON_Delete(cn);
        pb_api_internal(resp);
        goto out;
    }
    cJSON_AddStringToObject(o, "id", p.id);
    pb_api_set_str(o, "name", p.name);
    cJSON_AddStringToObject(o, "identifier", p.identifier);
    cJSON_AddItemToObject(o, "counts", cn);
    for (size_t i = 0; i < SUMMARY_N; i++)
        if (want[i]) cJSON_AddNumberToObject(cn, summary_names[i], (double)counts[i]);
    pb_api_send_json(resp, 200, o);
out:
    cJSON_Delete(o);
    pb_ps_project_clear(&p);
    pb_api_end(&a);
    return 0;
}

void pb_api_register_projects(pb_server *s, pb_app *app)
{
    const char *list = "/api/v1/workspaces/{slug}/projects/";
    const char *one = "/api/v1/workspaces/{slug}/projects/{project_id}/";
    const char *arch = "/api/v1/workspaces/{slug}/projects/{project_id}/archive/";
    pb_api_route(s, app, "GET", list, "projects:read", h_list);
    pb_api_route(s, app, "POST", list, "projects:write", h_create);
    pb_api_route(s, app, "GET", one, "projects:read", h_get);
    pb_api_route(s, app, "PATCH", one, "projects:write", h_patch);
    pb_api_route(s, app, "DELETE", one, "projects:write", h_delete);
    pb_api_route(s, app, "POST", arch, "projects:write", h_archive);
    pb_api_route(s, app, "DELETE", arch, "projects:write", h_unarchive);
    pb_api_route(s, app, "GET", "/api/v1/workspaces/{slug}/projects/{project_id}/summary/", "projects:read",
                 h_summary);
}
