/* states: projects/{project_id}/states/ (Plane's StateAPIEndpoint).
 *
 * Plane's quirks kept: POST answers 200 (not 201); triage states are hidden from the list and
 * cannot be created; `default: true` clears the flag on the project's other states; DELETE of
 * the default state or of a state that still has work items answers 400; a duplicate name or
 * (external_source, external_id) answers 409 with the existing id. */
#include "api/api.h"

#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const groups[] = {"backlog", "unstarted", "started", "completed", "cancelled", "triage", NULL};

static int group_ok(const char *g)
{
    for (int i = 0; groups[i]; i++)
        if (strcmp(groups[i], g) == 0) return 1;
    return 0;
}

/* Django's slugify for ASCII names: lower-case, runs of non-alphanumerics become '-'. */
static void slugify(const char *name, char *out, size_t n)
{
    size_t j = 0;
    int dash = 0;
    for (const char *p = name; *p && j + 2 < n; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
            if (dash && j) out[j++] = '-';
            dash = 0;
            out[j++] = (char)ch;
        } else if (ch >= 'A' && ch <= 'Z') {
            if (dash && j) out[j++] = '-';
            dash = 0;
            out[j++] = (char)(ch - 'A' + 'a');
        } else if (ch == ' ' || ch == '-') {
            dash = 1;
        }
    }
    out[j] = '\0';
}

static cJSON *state_new(pb_api_req *a, const char *id, const char *project_id, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddItemToObject(o, "created_at", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "updated_at", pb_api_time_json(now));
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddStringToObject(o, "name", "");
    cJSON_AddStringToObject(o, "description", "");
    cJSON_AddStringToObject(o, "color", "");
    cJSON_AddStringToObject(o, "slug", "");
    cJSON_AddNumberToObject(o, "sequence", 65535);
    cJSON_AddStringToObject(o, "group", "backlog");
    cJSON_AddFalseToObject(o, "is_triage");
    cJSON_AddFalseToObject(o, "default");
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddStringToObject(o, "created_by", a->user_id);
    cJSON_AddStringToObject(o, "updated_by", a->user_id);
    cJSON_AddStringToObject(o, "project", project_id);
    pb_api_set_str(o, "workspace", pb_api_ws_id(a)[0] ? pb_api_ws_id(a) : NULL);
    return o;
}

static void state_columns(const cJSON *o, pb_ps_item *it)
{
    const char *g = pb_api_str(o, "group");
    pb_strlcpy(it->state_group, g ? g : "backlog", sizeof it->state_group);
    it->name = (char *)(uintptr_t)pb_api_str(o, "name");
    it->external_source = (char *)(uintptr_t)pb_api_str(o, "external_source");
    it->external_id = (char *)(uintptr_t)pb_api_str(o, "external_id");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
    it->sort_order = cJSON_IsNumber(seq) ? seq->valuedouble : 0;
    it->is_default = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default"));
    it->is_active = 1;
}

static int insert_state(pb_conn *c, pb_api_req *a, const char *project_id, cJSON *o, pb_error *err)
{
    char *raw = pb_api_print(o);
    if (!raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, pb_api_str(o, "id"), sizeof it.id);
    it.item_type = "state";
    pb_strlcpy(it.slug, a->slug ? a->slug : "", sizeof it.slug);
    pb_strlcpy(it.project_id, project_id, sizeof it.project_id);
    pb_strlcpy(it.created_by, a->user_id, sizeof it.created_by);
    state_columns(o, &it);
    int64_t ts = 0;
    pb_time_parse(pb_api_str(o, "created_at"), &ts);
    it.created_at = it.updated_at = ts;
    it.raw = raw;
    int rc = pb_ps_item_insert(c, &it, err);
    free(raw);
    return rc;
}

int pb_api_seed_states(pb_conn *c, pb_api_req *a, const char *project_id, pb_error *err)
{
    static const struct {
        const char *name, *color, *group;
        int seq, def;
    } defs[] = {
        {"Backlog", "#60646C", "backlog", 15000, 1},     {"Todo", "#60646C", "unstarted", 25000, 0},
        {"In Progress", "#F59E0B", "started", 35000, 0}, {"Done", "#46A758", "completed", 45000, 0},
        {"Cancelled", "#9AA4BC", "cancelled", 55000, 0}, {"Triage", "#4E5355", "triage", 65000, 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        char id[37], slug[64];
        pb_uuid4(id);
        cJSON *o = state_new(a, id, project_id, pb_api_now());
        pb_api_set_str(o, "name", defs[i].name);
        pb_api_set_str(o, "color", defs[i].color);
        slugify(defs[i].name, slug, sizeof slug);
        pb_api_set_str(o, "slug", slug);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "sequence", cJSON_CreateNumber(defs[i].seq));
        pb_api_set_str(o, "group", defs[i].group);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "is_triage", cJSON_CreateBool(strcmp(defs[i].group, "triage") == 0));
        cJSON_ReplaceItemInObjectCaseSensitive(o, "default", cJSON_CreateBool(defs[i].def));
        int rc = insert_state(c, a, project_id, o, err);
        cJSON_Delete(o);
        if (rc) return rc;
    }
    return 0;
}

/* Validates and applies body onto o. */
static void state_apply(const cJSON *body, cJSON *o, int creating, pb_api_verr *v)
{
    const char *s;
    if (pb_api_get_str(body, "name", 0, 0, 255, &s, v) && s) {
        char slug[300];
        pb_api_set_str(o, "name", s);
        slugify(s, slug, sizeof slug);
        pb_api_set_str(o, "slug", slug);
    }
    if (pb_api_get_str(body, "description", 0, 1, 1u << 20, &s, v) && s) pb_api_set_str(o, "description", s);
    if (pb_api_get_str(body, "color", 0, 0, 255, &s, v) && s) pb_api_set_str(o, "color", s);
    if (pb_api_get_str(body, "group", 0, 0, 20, &s, v) && s) {
        if (!group_ok(s)) {
            char msg[120];
            snprintf(msg, sizeof msg, "\"%.40s\" is not a valid choice.", s);
            pb_api_verr_add(v, "group", msg);
        } else if (strcmp(s, "triage") == 0) {
            pb_api_verr_add(v, "group", "Cannot create triage state");
        } else {
            pb_api_set_str(o, "group", s);
        }
    }
    double d;
    if (pb_api_get_double(body, "sequence", &d, v)) cJSON_ReplaceItemInObjectCaseSensitive(o, "sequence", cJSON_CreateNumber(d));
    int b;
    if (pb_api_get_bool(body, "default", &b, v) && !pb_api_verr_any(v))
        cJSON_ReplaceItemInObjectCaseSensitive(o, "default", cJSON_CreateBool(b));
    if (cJSON_GetObjectItemCaseSensitive(body, "external_source") &&
        pb_api_get_str(body, "external_source", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_source", s);
    if (cJSON_GetObjectItemCaseSensitive(body, "external_id") && pb_api_get_str(body, "external_id", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_id", s);
    (void)creating;
}

/* Clears `default` on every other state of the project (column and raw). */
static int clear_defaults(pb_api_req *a, const char *except, pb_error *err)
{
    pb_ps_rawlist l = {0};
    int rc = pb_ps_item_list(a->conn, "state", a->project_id, 0, -1, 0, NULL, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        if (strcmp(l.id[i], except) == 0) continue;
        cJSON *o = pb_api_parse_raw(l.raw[i]);
        if (!o) continue;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default"))) {
            pb_ps_item it;
            rc = pb_ps_item_get(a->conn, "state", a->project_id, l.id[i], &it, err);
            if (!rc) {
                cJSON_ReplaceItemInObjectCaseSensitive(o, "default", cJSON_CreateFalse());
                char *raw = pb_api_print(o);
                free(it.raw);
                it.raw = raw;
                it.is_default = 0;
                rc = raw ? pb_ps_item_update(a->conn, &it, err) : PB_ENOMEM;
                pb_ps_item_clear(&it);
            }
        }
        cJSON_Delete(o);
    }
    pb_ps_rawlist_clear(&l);
    return rc;
}

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    pb_api_fields fields, expand;
    pb_api_fields_from_query(req, &fields, &expand);
    pb_ps_rawlist l = {0};
    pb_error err = {0};
    /* all states (few per project), triage filtered here */
    int rc = pb_ps_item_list(a.conn, "state", a.project_id, 1, -1, 0, NULL, &l, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    size_t keep = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (strstr(l.raw[i], "\"is_triage\":true") || strstr(l.raw[i], "\"is_triage\": true")) continue;
        char *t = l.raw[keep];
        l.raw[keep] = l.raw[i];
        l.raw[i] = t;
        keep++;
    }
    int64_t total = (int64_t)keep;
    int64_t cnt = pb_api_page_count(&pg, total);
    pb_api_send_raw_page(resp, &pg, total, cnt > 0 ? l.raw + pg.offset : NULL, cnt > 0 ? (size_t)cnt : 0,
                         &fields);
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
    pb_api_verr v = {0};
    if (!cJSON_GetObjectItemCaseSensitive(body, "name")) pb_api_verr_add(&v, "name", "This field is required.");
    if (!cJSON_GetObjectItemCaseSensitive(body, "color")) pb_api_verr_add(&v, "color", "This field is required.");
    char id[37];
    pb_uuid4(id);
    o = state_new(&a, id, a.project_id, pb_api_now());
    state_apply(body, o, 1, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    char other[40];
    const char *xs = pb_api_str(o, "external_source"), *xi = pb_api_str(o, "external_id");
    if (xs && xi && pb_ps_item_find_external(a.conn, "state", a.project_id, xs, xi, NULL, other, NULL) == 0) {
        pb_api_conflict(resp, "State with the same external id and external source already exists", other);
        goto out;
    }
    if (pb_ps_item_find_name(a.conn, "state", a.project_id, pb_api_str(o, "name"), NULL, other, NULL) == 0) {
        pb_api_conflict(resp, "State with the same name already exists in the project", other);
        goto out;
    }
    if (!cJSON_GetObjectItemCaseSensitive(body, "sequence")) {
        /* Plane: last sequence + 15000 */
        pb_ps_rawlist l = {0};
        double maxseq = 0;
        if (pb_ps_item_list(a.conn, "state", a.project_id, 0, -1, 0, NULL, &l, NULL) == 0) {
            for (size_t i = 0; i < l.n; i++) {
                cJSON *s = cJSON_Parse(l.raw[i]);
                const cJSON *q = cJSON_GetObjectItemCaseSensitive(s, "sequence");
                if (cJSON_IsNumber(q) && q->valuedouble > maxseq) maxseq = q->valuedouble;
                cJSON_Delete(s);
            }
        }
        pb_ps_rawlist_clear(&l);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "sequence", cJSON_CreateNumber(maxseq ? maxseq + 15000 : 15000));
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default"))) rc = clear_defaults(&a, id, &err);
    if (!rc) rc = insert_state(a.conn, &a, a.project_id, o, &err);
    rc = pb_api_commit(&a, rc, &err, "State with the same name already exists in the project");
    if (rc) goto out;
    raw = pb_api_print(o);
    pb_api_fields fields;
    pb_api_fields_from_query(req, &fields, NULL);
    if (raw) pb_api_send_raw(resp, 200, raw, &fields); /* Plane answers 200 here */
    else pb_api_internal(resp);
out:
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* Loads the state {state_id} of the project (triage hidden); answers 404 otherwise. */
static int load_state(pb_api_req *a, pb_ps_item *it)
{
    if (pb_api_load_item(a, "state", "state_id", it)) return 1;
    if (strcmp(it->state_group, "triage") == 0) {
        pb_ps_item_clear(it);
        pb_api_not_found(a->resp);
        return 1;
    }
    return 0;
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_ps_item it;
    if (!load_state(&a, &it)) {
        pb_api_fields fields;
        pb_api_fields_from_query(req, &fields, NULL);
        pb_api_send_raw(resp, 200, it.raw, &fields);
        pb_ps_item_clear(&it);
    }
    pb_api_end(&a);
    return 0;
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    if (load_state(&a, &it)) goto out;
    o = pb_api_parse_raw(it.raw);
    if (!o) {
        pb_api_internal(resp);
        goto out;
    }
    char old_group[16];
    pb_strlcpy(old_group, it.state_group, sizeof old_group);
    pb_api_verr v = {0};
    state_apply(body, o, 0, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    char other[40];
    const cJSON *bx = cJSON_GetObjectItemCaseSensitive(body, "external_id");
    const char *xs = pb_api_str(o, "external_source"), *xi = pb_api_str(o, "external_id");
    if (bx && xs && xi &&
        pb_ps_item_find_external(a.conn, "state", a.project_id, xs, xi, it.id, other, NULL) == 0) {
        pb_api_conflict(resp, "State with the same external id and external source already exists", it.id);
        goto out;
    }
    if (pb_ps_item_find_name(a.conn, "state", a.project_id, pb_api_str(o, "name"), it.id, other, NULL) == 0) {
        pb_api_conflict(resp, "State with the same name already exists in the project", other);
        goto out;
    }
    int64_t now = pb_api_now();
    pb_api_set_time(o, "updated_at", now);
    pb_api_set_str(o, "updated_by", a.user_id);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default"))) rc = clear_defaults(&a, it.id, &err);
    raw = pb_api_print(o);
    if (!raw) rc = PB_ENOMEM;
    free(it.raw);
    it.raw = raw;
    raw = NULL;
    /* state_columns borrows strings from o, which lives until out */
    if (!rc) {
        char *n0 = it.name, *s0 = it.external_source, *i0 = it.external_id;
        state_columns(o, &it);
        it.updated_at = now;
        rc = pb_ps_item_update(a.conn, &it, &err);
        it.name = n0;
        it.external_source = s0;
        it.external_id = i0;
    }
    if (!rc && strcmp(old_group, it.state_group) != 0) rc = pb_ps_state_set_issue_group(a.conn, it.id, it.state_group, &err);
    if (!rc && strcmp(old_group, it.state_group) != 0) rc = pb_ps_project_issue_count_reset(a.conn, a.project_id, &err);
    rc = pb_api_commit(&a, rc, &err, "State with the same name already exists in the project");
    if (rc) goto out;
    pb_api_fields fields;
    pb_api_fields_from_query(req, &fields, NULL);
    pb_api_send_raw(resp, 200, it.raw, &fields);
out:
    pb_ps_item_clear(&it);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
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
    if (load_state(&a, &it)) goto out;
    if (it.is_default) {
        pb_api_error(resp, 400, "Default state cannot be deleted");
        goto out;
    }
    int64_t n = 0;
    rc = pb_ps_state_issue_count(a.conn, it.id, &n, &err);
    if (!rc && n > 0) {
        pb_api_error(resp, 400, "The state is not empty, only empty states can be deleted");
        goto out;
    }
    if (!rc) rc = pb_ps_item_soft_delete(a.conn, it.id, pb_api_now(), &err);
    rc = pb_api_commit(&a, rc, &err, NULL);
    if (rc) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_item_clear(&it);
    pb_api_end(&a);
    return 0;
}

void pb_api_register_states(pb_server *s, pb_app *app)
{
    const char *list = "/api/v1/workspaces/{slug}/projects/{project_id}/states/";
    const char *one = "/api/v1/workspaces/{slug}/projects/{project_id}/states/{state_id}/";
    pb_api_route(s, app, "GET", list, "projects:read", h_list);
    pb_api_route(s, app, "POST", list, "projects:write", h_create);
    pb_api_route(s, app, "GET", one, "projects:read", h_get);
    pb_api_route(s, app, "PATCH", one, "projects:write", h_patch);
    pb_api_route(s, app, "DELETE", one, "projects:write", h_delete);
}
