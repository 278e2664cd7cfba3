/* workitems: work items under projects/{project_id}/work-items/ and the legacy issues/
 * spelling, plus the readable-id lookup workspaces/{slug}/work-items/{IDENT}-{seq}/
 * (Plane's IssueAPIEndpoint, WorkItemDetailIdentifierEndpoint).
 *
 * The stored `raw` is the complete serialized work item (assignees and labels included), so
 * detail reads and list pages copy rows straight into the response; fields/expand re-parse.
 * Every write keeps the indexed columns, item_refs (assignee/label), the project's cached
 * listable count, the per-field activity history and the outbox in one transaction. */
#include "api/api.h"

#include "auth/auth.h"
#include "core/log.h"
#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REFS 200

static const char *const priorities[] = {"urgent", "high", "medium", "low", "none", NULL};

int64_t pb_api_completed_at(const char *old_group, const char *new_group, int64_t completed_at, int64_t now)
{
    int was = old_group && strcmp(old_group, "completed") == 0;
    int is = new_group && strcmp(new_group, "completed") == 0;
    if (is && !was) return now;
    if (!is && was) return 0;
    return completed_at;
}

static int issue_visible(const cJSON *o, const char *group)
{
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "archived_at");
    const cJSON *draft = cJSON_GetObjectItemCaseSensitive(o, "is_draft");
    return (!arch || cJSON_IsNull(arch)) && !cJSON_IsTrue(draft) && strcmp(group, "triage") != 0;
}

/* ---------------------------------------------------------------- expansion */
typedef struct xctx {
    pb_api_req *a;
    cJSON *states; /* id -> StateLite */
    cJSON *labels; /* id -> Label */
    cJSON *users;  /* id -> UserLite | null */
    cJSON *project;
    char project_id[40];
} xctx;

static void xctx_free(xctx *x)
{
    cJSON_Delete(x->states);
    cJSON_Delete(x->labels);
    cJSON_Delete(x->users);
    cJSON_Delete(x->project);
    memset(x, 0, sizeof *x);
}

static void load_map(xctx *x, const char *type, const char *project_id, cJSON **map, int lite)
{
    *map = cJSON_CreateObject();
    pb_ps_rawlist l = {0};
    if (pb_ps_item_list(x->a->conn, type, project_id, 0, -1, 0, NULL, &l, NULL) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            cJSON *o = cJSON_Parse(l.raw[i]);
            if (!o) continue;
            if (lite) {
                cJSON *s = cJSON_CreateObject();
                static const char *const keys[] = {"id", "name", "color", "group", NULL};
                for (int k = 0; keys[k]; k++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
                    cJSON_AddItemToObject(s, keys[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
                }
                cJSON_Delete(o);
                o = s;
            }
            cJSON_AddItemToObject(*map, l.id[i], o);
        }
    }
    pb_ps_rawlist_clear(&l);
}

static cJSON *x_user(xctx *x, const char *id)
{
    if (!x->users) x->users = cJSON_CreateObject();
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(x->users, id);
    if (!hit) {
        pb_buf b;
        pb_buf_init(&b, 1 << 16);
        cJSON *u = NULL;
        if (pb_api_user_lite(x->a->conn, id, &b, NULL) == 0) u = cJSON_Parse(pb_buf_cstr(&b));
        pb_buf_free(&b);
        cJSON_AddItemToObject(x->users, id, u ? u : cJSON_CreateNull());
        hit = cJSON_GetObjectItemCaseSensitive(x->users, id);
    }
    return hit ? cJSON_Duplicate(hit, 1) : cJSON_CreateNull();
}

static void replace(cJSON *o, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

static void expand_issue(xctx *x, cJSON *o, const pb_api_fields *expand)
{
    /* Copy the id: expanding "project" below replaces (frees) the node it points into. */
    char pid[64];
    const char *pid_node = pb_api_str(o, "project");
    if (!pid_node) return;
    pb_strlcpy(pid, pid_node, sizeof pid);
    if (pb_api_fields_has(expand, "state")) {
        const char *sid = pb_api_str(o, "state");
        if (!x->states || strcmp(x->project_id, pid) != 0) {
            cJSON_Delete(x->states);
            load_map(x, "state", pid, &x->states, 1);
        }
        const cJSON *s = sid ? cJSON_GetObjectItemCaseSensitive(x->states, sid) : NULL;
        if (sid) replace(o, "state", s ? cJSON_Duplicate(s, 1) : cJSON_CreateNull());
    }
    if (pb_api_fields_has(expand, "labels")) {
        if (!x->labels || strcmp(x->project_id, pid) != 0) {
            cJSON_Delete(x->labels);
            load_map(x, "label", pid, &x->labels, 0);
        }
        cJSON *arr = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "labels"))
        {
            const cJSON *l = cJSON_IsString(e) ? cJSON_GetObjectItemCaseSensitive(x->labels, e->valuestring) : NULL;
            if (l) cJSON_AddItemToArray(arr, cJSON_Duplicate(l, 1));
        }
        replace(o, "labels", arr);
    }
    if (pb_api_fields_has(expand, "assignees")) {
        cJSON *arr = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "assignees"))
        {
            if (cJSON_IsString(e)) cJSON_AddItemToArray(arr, x_user(x, e->valuestring));
        }
        replace(o, "assignees", arr);
    }
    static const char *const ukeys[] = {"created_by", "updated_by", NULL};
    for (int i = 0; ukeys[i]; i++) {
        const char *u = pb_api_str(o, ukeys[i]);
        if (u && pb_api_fields_has(expand, ukeys[i])) replace(o, ukeys[i], x_user(x, u));
    }
    if (pb_api_fields_has(expand, "parent")) {
        const char *par = pb_api_str(o, "parent");
        if (par) {
            pb_ps_item it;
            cJSON *lite = cJSON_CreateNull();
            if (pb_ps_item_get(x->a->conn, "issue", NULL, par, &it, NULL) == 0) {
                cJSON_Delete(lite);
                lite = cJSON_CreateObject();
                cJSON_AddStringToObject(lite, "id", it.id);
                cJSON_AddNumberToObject(lite, "sequence_id", (double)it.sequence_id);
                cJSON_AddStringToObject(lite, "project_id", it.project_id);
                pb_ps_item_clear(&it);
            }
            replace(o, "parent", lite);
        }
    }
    if (pb_api_fields_has(expand, "project")) {
        if (!x->project || strcmp(x->project_id, pid) != 0) {
            cJSON_Delete(x->project);
            x->project = NULL;
            pb_ps_project p;
            if (pb_ps_project_get(x->a->conn, x->a->slug ? x->a->slug : "", pid, &p, NULL) == 0) {
                cJSON *full = cJSON_Parse(p.raw);
                x->project = cJSON_CreateObject();
                static const char *const keys[] = {"id", "identifier", "name", "cover_image", "icon_prop",
                                                   "emoji", "description", NULL};
                for (int k = 0; keys[k]; k++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(full, keys[k]);
                    cJSON_AddItemToObject(x->project, keys[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
                }
                cJSON_Delete(full);
                pb_ps_project_clear(&p);
            }
        }
        if (x->project) replace(o, "project", cJSON_Duplicate(x->project, 1));
    }
    if (pb_api_fields_has(expand, "workspace") && x->a->slug) {
        pb_buf b;
        pb_buf_init(&b, 4096);
        if (pb_ps_workspace_lite(x->a->conn, x->a->slug, &b, NULL) == 0) {
            cJSON *w = cJSON_Parse(pb_buf_cstr(&b));
            if (w) replace(o, "workspace", w);
        }
        pb_buf_free(&b);
    }
    pb_strlcpy(x->project_id, pid, sizeof x->project_id);
}

static int render(xctx *x, const char *raw, const pb_api_fields *fields, const pb_api_fields *expand, pb_buf *b)
{
    if ((!fields || fields->n == 0) && (!expand || expand->n == 0)) return pb_buf_puts(b, raw);
    cJSON *o = pb_api_parse_raw(raw);
    if (!o) return PB_EPARSE;
    if (expand && expand->n) expand_issue(x, o, expand);
    pb_api_fields_apply(o, fields);
    char *s = pb_api_print(o);
    cJSON_Delete(o);
    if (!s) return PB_ENOMEM;
    int rc = pb_buf_puts(b, s);
    free(s);
    return rc;
}

int pb_api_expand_issue(pb_api_req *a, cJSON *o, const pb_api_fields *expand)
{
    xctx x = {.a = a};
    expand_issue(&x, o, expand);
    xctx_free(&x);
    return 0;
}

int pb_api_render_issue(pb_api_req *a, const char *raw, const pb_api_fields *fields, const pb_api_fields *expand,
                        pb_buf *b)
{
    xctx x = {.a = a};
    int rc = render(&x, raw, fields, expand, b);
    xctx_free(&x);
    return rc;
}

static void send_issue(pb_api_req *a, int status, const char *raw)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_buf_reset(b);
    if (pb_api_render_issue(a, raw, &fields, &expand, b)) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
        return;
    }
    pb_resp_status(a->resp, status);
}

/* ---------------------------------------------------------------- the model */
cJSON *pb_api_issue_new(const char *id, const char *project_id, const char *ws_id, const char *user_id,
                        int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNullToObject(o, "type_id");
    cJSON_AddItemToObject(o, "created_at", pb_api_time_json(now));
    cJSON_AddItemToObject(o, "updated_at", pb_api_time_json(now));
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddNullToObject(o, "point");
    cJSON_AddStringToObject(o, "name", "");
    cJSON_AddStringToObject(o, "description_html", "<p></p>");
    cJSON_AddNullToObject(o, "description_binary");
    cJSON_AddStringToObject(o, "priority", "none");
    cJSON_AddNullToObject(o, "start_date");
    cJSON_AddNullToObject(o, "target_date");
    cJSON_AddNumberToObject(o, "sequence_id", 0);
    cJSON_AddNumberToObject(o, "sort_order", 65535);
    cJSON_AddNullToObject(o, "completed_at");
    cJSON_AddNullToObject(o, "archived_at");
    cJSON_AddFalseToObject(o, "is_draft");
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddStringToObject(o, "created_by", user_id);
    cJSON_AddStringToObject(o, "updated_by", user_id);
    cJSON_AddStringToObject(o, "project", project_id);
    pb_api_set_str(o, "workspace", ws_id && ws_id[0] ? ws_id : NULL);
    cJSON_AddNullToObject(o, "parent");
    cJSON_AddNullToObject(o, "state");
    cJSON_AddNullToObject(o, "estimate_point");
    cJSON_AddNullToObject(o, "type");
    cJSON_AddItemToObject(o, "assignees", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "labels", cJSON_CreateArray());
    return o;
}

typedef struct issue_in {
    int has_assignees, has_labels;
    char (*assignees)[37];
    size_t nassignees;
    char (*labels)[37];
    size_t nlabels;
    int has_state;
    char state[37];
    int has_parent;
    char parent[37];
    int64_t created_at; /* import: client-given created_at */
} issue_in;

static void issue_in_free(issue_in *in)
{
    free(in->assignees);
    free(in->labels);
}

static cJSON *str_array(char (*ids)[37], size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
    return arr;
}

/* Validates the body's writable fields onto o (type checks only; relations are checked by
 * the caller against the store). */
static void issue_apply(const cJSON *body, cJSON *o, int creating, issue_in *in, pb_api_verr *v)
{
    const char *s;
    if (pb_api_get_str(body, "name", 0, 0, 255, &s, v) && s) pb_api_set_str(o, "name", s);
    if (pb_api_get_str(body, "description_html", 1, 1, PB_API_JSON_MAX_BYTES, &s, v))
        pb_api_set_str(o, "description_html", s ? s : "<p></p>");
    if (pb_api_get_str(body, "description_binary", 1, 1, PB_API_JSON_MAX_BYTES, &s, v)) pb_api_set_str(o, "description_binary", s);
    if (pb_api_get_str(body, "priority", 0, 0, 32, &s, v) && s) {
        int ok = 0;
        for (int i = 0; priorities[i]; i++)
            if (strcmp(priorities[i], s) == 0) ok = 1;
        if (ok) {
            pb_api_set_str(o, "priority", s);
        } else {
            char msg[96];
            snprintf(msg, sizeof msg, "\"%.40s\" is not a valid choice.", s);
            pb_api_verr_add(v, "priority", msg);
        }
    }
    char d[11];
    if (pb_api_get_date(body, "start_date", 1, d, v)) pb_api_set_str(o, "start_date", d[0] ? d : NULL);
    if (pb_api_get_date(body, "target_date", 1, d, v)) pb_api_set_str(o, "target_date", d[0] ? d : NULL);
    if (pb_api_get_date(body, "archived_at", 1, d, v)) pb_api_set_str(o, "archived_at", d[0] ? d : NULL);
    int64_t n;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(body, "point");
    if (cJSON_IsNull(pt)) replace(o, "point", cJSON_CreateNull());
    else if (pb_api_get_int(body, "point", 0, 12, &n, v)) replace(o, "point", cJSON_CreateNumber((double)n));
    double so;
    if (pb_api_get_double(body, "sort_order", &so, v)) replace(o, "sort_order", cJSON_CreateNumber(so));
    int b;
    if (pb_api_get_bool(body, "is_draft", &b, v) && !pb_api_verr_any(v)) replace(o, "is_draft", cJSON_CreateBool(b));
    if (cJSON_GetObjectItemCaseSensitive(body, "external_source") &&
        pb_api_get_str(body, "external_source", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_source", s);
    if (cJSON_GetObjectItemCaseSensitive(body, "external_id") && pb_api_get_str(body, "external_id", 1, 1, 255, &s, v))
        pb_api_set_str(o, "external_id", s);
    char u[37];
    if (pb_api_get_uuid(body, "estimate_point", 1, u, v)) pb_api_set_str(o, "estimate_point", u[0] ? u : NULL);
    if (pb_api_get_uuid(body, "type_id", 1, u, v)) {
        pb_api_set_str(o, "type_id", u[0] ? u : NULL);
        pb_api_set_str(o, "type", u[0] ? u : NULL);
    }
    if (pb_api_get_uuid(body, "type", 1, u, v)) {
        pb_api_set_str(o, "type_id", u[0] ? u : NULL);
        pb_api_set_str(o, "type", u[0] ? u : NULL);
    }
    if (pb_api_get_uuid(body, "state", 0, in->state, v)) in->has_state = in->state[0] != '\0';
    if (pb_api_get_uuid(body, "parent", 1, in->parent, v)) in->has_parent = 1;
    in->has_assignees = pb_api_get_uuid_list(body, "assignees", MAX_REFS, &in->assignees, &in->nassignees, v);
    in->has_labels = pb_api_get_uuid_list(body, "labels", MAX_REFS, &in->labels, &in->nlabels, v);
    if (creating) {
        if (pb_api_get_str(body, "created_at", 1, 1, 64, &s, v) && s) {
            int64_t t;
            if (pb_time_parse(s, &t) == 0) {
                in->created_at = t;
            } else {
                pb_api_verr_add(v, "created_at",
                                "Datetime has wrong format. Use one of these formats instead: "
                                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].");
            }
        }
        if (pb_api_get_uuid(body, "created_by", 1, u, v) && u[0]) pb_api_set_str(o, "created_by", u);
    }
}

/* Copies the indexed columns out of o into it (strings borrowed from o). */
static void issue_columns(const cJSON *o, const char *state_group, pb_ps_item *it)
{
    const char *s;
    s = pb_api_str(o, "parent");
    pb_strlcpy(it->parent_id, s ? s : "", sizeof it->parent_id);
    s = pb_api_str(o, "state");
    pb_strlcpy(it->state_id, s ? s : "", sizeof it->state_id);
    pb_strlcpy(it->state_group, state_group, sizeof it->state_group);
    s = pb_api_str(o, "priority");
    pb_strlcpy(it->priority, s ? s : "none", sizeof it->priority);
    it->name = (char *)(uintptr_t)pb_api_str(o, "name");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
    it->sort_order = cJSON_IsNumber(so) ? so->valuedouble : 0;
    it->external_source = (char *)(uintptr_t)pb_api_str(o, "external_source");
    it->external_id = (char *)(uintptr_t)pb_api_str(o, "external_id");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence_id");
    it->sequence_id = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0;
    s = pb_api_str(o, "archived_at");
    int64_t t = 0;
    it->archived_at = (s && pb_time_parse(s, &t) == 0) ? (t ? t : 1) : 0;
    it->is_draft = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_draft"));
    it->is_active = 1;
}

/* Checks the state, parent and date relations of o; fills *group. 0 or answered. */
static int check_relations(pb_api_req *a, cJSON *o, const issue_in *in, const char *self_id, char group[16])
{
    if (in->has_state) {
        pb_ps_item st;
        if (pb_ps_item_get(a->conn, "state", a->project_id, in->state, &st, NULL)) {
            pb_api_field_error(a->resp, "non_field_errors", "State is not valid please pass a valid state_id");
            return 1;
        }
        pb_api_set_str(o, "state", st.id);
        pb_strlcpy(group, st.state_group, 16);
        pb_ps_item_clear(&st);
    }
    if (in->has_parent && in->parent[0]) {
        if ((self_id && strcmp(self_id, in->parent) == 0) ||
            pb_ps_issue_exists(a->conn, a->project_id, in->parent, 0, NULL)) {
            pb_api_field_error(a->resp, "non_field_errors", "Parent is not valid issue_id please pass a valid issue_id");
            return 1;
        }
    }
    if (in->has_parent) pb_api_set_str(o, "parent", in->parent[0] ? in->parent : NULL);
    const char *sd = pb_api_str(o, "start_date"), *td = pb_api_str(o, "target_date");
    if (sd && td && strcmp(sd, td) > 0) {
        pb_api_field_error(a->resp, "non_field_errors", "Start date cannot exceed target date");
        return 1;
    }
    return 0;
}

static int set_refs(pb_api_req *a, cJSON *o, issue_in *in, const char *id, int64_t now, pb_error *err)
{
    int rc = 0;
    if (in->has_assignees) {
        rc = pb_ps_filter_members(a->conn, a->project_id, in->assignees, &in->nassignees, err);
        if (!rc) rc = pb_ps_refs_set(a->conn, id, "assignee", (const char(*)[37])in->assignees, in->nassignees, now, err);
        if (!rc) replace(o, "assignees", str_array(in->assignees, in->nassignees));
    }
    if (!rc && in->has_labels) {
        rc = pb_ps_filter_labels(a->conn, a->project_id, in->labels, &in->nlabels, err);
        if (!rc) rc = pb_ps_refs_set(a->conn, id, "label", (const char(*)[37])in->labels, in->nlabels, now, err);
        if (!rc) replace(o, "labels", str_array(in->labels, in->nlabels));
    }
    return rc;
}

/* ---------------------------------------------------------------- activities */
static char *value_text(const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) return strdup("");
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsBool(v)) return strdup(cJSON_IsTrue(v) ? "True" : "False");
    return cJSON_PrintUnformatted(v);
}

static const char *state_name(pb_api_req *a, const char *id, char *buf, size_t n)
{
    buf[0] = '\0';
    pb_ps_item st;
    if (id && pb_ps_item_get(a->conn, "state", a->project_id, id, &st, NULL) == 0) {
        pb_strlcpy(buf, st.name ? st.name : "", n);
        pb_ps_item_clear(&st);
    }
    return buf;
}

static int in_list(const cJSON *arr, const char *id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, id) == 0) return 1;
    }
    return 0;
}

/* One activity row per changed field; one per added/removed assignee or label. */
static int record_changes(pb_api_req *a, const char *issue_id, const cJSON *before, const cJSON *after,
                          pb_error *err)
{
    static const char *const skip[] = {"updated_at", "updated_by", "completed_at", "sequence_id", "type", NULL};
    int rc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, after)
    {
        if (rc) break;
        const char *k = it->string;
        int skipped = 0;
        for (int i = 0; skip[i]; i++)
            if (strcmp(skip[i], k) == 0) skipped = 1;
        if (skipped) continue;
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(before, k);
        if (old && cJSON_Compare(old, it, 1)) continue;
        if (strcmp(k, "assignees") == 0 || strcmp(k, "labels") == 0) {
            int is_lab = k[0] == 'l';
            const cJSON *e;
            cJSON_ArrayForEach(e, it)
            {
                if (rc || !cJSON_IsString(e) || in_list(old, e->valuestring)) continue;
                char name[256] = "";
                pb_ps_item ref;
                if (is_lab && pb_ps_item_get(a->conn, "label", a->project_id, e->valuestring, &ref, NULL) == 0) {
                    pb_strlcpy(name, ref.name ? ref.name : "", sizeof name);
                    pb_ps_item_clear(&ref);
                } else if (!is_lab) {
                    pb_ps_user u;
                    if (pb_ps_user_get(a->conn, e->valuestring, &u, NULL) == 0)
                        pb_strlcpy(name, u.display_name, sizeof name);
                }
                char comment[320];
                snprintf(comment, sizeof comment, is_lab ? "added label %s" : "added assignee %s", name);
                pb_api_activity_row r = {.issue_id = issue_id, .verb = "updated", .field = k, .old_value = "",
                                         .new_value = name, .new_identifier = e->valuestring, .comment = comment};
                rc = pb_api_activity(a->conn, a, &r, err);
            }
            cJSON_ArrayForEach(e, old)
            {
                if (rc || !cJSON_IsString(e) || in_list(it, e->valuestring)) continue;
                char comment[96];
                snprintf(comment, sizeof comment, is_lab ? "removed label" : "removed assignee");
                pb_api_activity_row r = {.issue_id = issue_id, .verb = "updated", .field = k,
                                         .old_value = e->valuestring, .new_value = "",
                                         .old_identifier = e->valuestring, .comment = comment};
                rc = pb_api_activity(a->conn, a, &r, err);
            }
            continue;
        }
        char *ov = value_text(old), *nv = value_text(it);
        const char *oid = NULL, *nid = NULL;
        char on[256], nn[256];
        if (strcmp(k, "state") == 0) {
            oid = pb_api_str(before, "state");
            nid = pb_api_str(after, "state");
            free(ov);
            free(nv);
            ov = strdup(state_name(a, oid, on, sizeof on));
            nv = strdup(state_name(a, nid, nn, sizeof nn));
        } else if (strcmp(k, "parent") == 0) {
            oid = pb_api_str(before, "parent");
            nid = pb_api_str(after, "parent");
        }
        char comment[400];
        snprintf(comment, sizeof comment, "updated the %s to %.300s", k, nv ? nv : "");
        pb_api_activity_row r = {.issue_id = issue_id, .verb = "updated", .field = k, .old_value = ov ? ov : "",
                                 .new_value = nv ? nv : "", .old_identifier = oid, .new_identifier = nid,
                                 .comment = comment};
        rc = pb_api_activity(a->conn, a, &r, err);
        free(ov);
        free(nv);
    }
    return rc;
}

/* ---------------------------------------------------------------- handlers */
static int parse_order(const char *s, pb_ps_order *order, int *desc)
{
    static const pb_api_order_field fields[] = {
        {"created_at", PB_PS_ORDER_CREATED},         {"updated_at", PB_PS_ORDER_UPDATED},
        {"sequence_id", PB_PS_ORDER_SEQUENCE},       {"priority", PB_PS_ORDER_PRIORITY},
        {"state__group", PB_PS_ORDER_STATE_GROUP},   {"name", PB_PS_ORDER_NAME},
        {"sort_order", PB_PS_ORDER_SORT_ORDER},      {"id", PB_PS_ORDER_CREATED}};
    int code = PB_PS_ORDER_CREATED;
    *desc = 1;
    int rc = pb_api_order_parse(s, fields, sizeof fields / sizeof fields[0], &code, desc);
    *order = (pb_ps_order)code;
    return rc;
}

static void list_page(pb_api_req *a, const char *ref_kind, const char *ref_id, int default_desc)
{
    pb_api_page pg;
    if (pb_api_page_from_query(a->req, a->resp, &pg)) return;
    pb_ps_order order;
    int desc;
    const char *ob = pb_req_query(a->req, "order_by");
    if (parse_order(ob, &order, &desc)) {
        pb_api_error(a->resp, 400, "Invalid order_by field");
        return;
    }
    if (!ob || !*ob) desc = default_desc;
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_error err = {0};
    int64_t total = 0;
    int rc = 0;
    if (!ref_kind && !a->project_archived) rc = pb_ps_project_issue_count(a->conn, a->project_id, &total, &err);
    pb_ps_rawlist l = {0};
    /* Plane's IssueManager hides the work items of archived projects */
    if (!rc && !a->project_archived && (ref_kind || pg.offset < total))
        rc = pb_ps_issue_page(a->conn, a->project_id, order, desc, ref_kind, ref_id, pg.per_page, pg.offset, &l,
                              ref_kind ? &total : NULL, &err);
    if (rc) {
        pb_ps_rawlist_clear(&l);
        pb_api_fail(a->resp, rc, &err);
        return;
    }
    pb_buf *b = pb_resp_body(a->resp);
    pb_buf_reset(b);
    xctx x = {.a = a};
    /* The count is authoritative for the envelope; if rows moved meanwhile, clamp. */
    rc = pb_api_envelope_begin(b, &pg, total);
    int64_t want = pb_api_page_count(&pg, total);
    for (size_t i = 0; !rc && i < l.n && (int64_t)i < want; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = render(&x, l.raw[i], &fields, &expand, b);
    }
    if (!rc) rc = pb_api_envelope_end(b);
    xctx_free(&x);
    pb_ps_rawlist_clear(&l);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
        return;
    }
    pb_resp_status(a->resp, 200);
}

static int h_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *xid = pb_req_query(req, "external_id"), *xsrc = pb_req_query(req, "external_source");
    if (xid && xsrc && *xid && *xsrc) {
        char *raw = NULL;
        pb_error err = {0};
        int rc = pb_ps_issue_by_external(a.conn, a.project_id, xsrc, xid, &raw, &err);
        if (rc == PB_ENOTFOUND) pb_api_not_found(resp);
        else if (rc) pb_api_fail(resp, rc == PB_ECONFLICT ? PB_EINTERNAL : rc, &err);
        else send_issue(&a, 200, raw);
        free(raw);
    } else {
        list_page(&a, NULL, NULL, 1);
    }
    pb_api_end(&a);
    return 0;
}

static int emit_created(pb_api_req *a, const char *id, const cJSON *o, pb_error *err)
{
    int rc = pb_api_outbox(a->conn, "issue.created", a->slug, a->project_id, id, o, NULL, err);
    const cJSON *as = cJSON_GetObjectItemCaseSensitive(o, "assignees");
    if (!rc && cJSON_GetArraySize(as) > 0) {
        cJSON *prev = cJSON_CreateObject();
        cJSON_AddItemToObject(prev, "assignees", cJSON_CreateArray());
        rc = pb_api_outbox(a->conn, "issue.assigned", a->slug, a->project_id, id, o, prev, err);
        cJSON_Delete(prev);
    }
    return rc;
}

static int h_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    issue_in in;
    memset(&in, 0, sizeof in);
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    if (pb_api_parse_body(req, resp, 0, &body)) goto out;
    pb_api_verr v = {0};
    if (!cJSON_GetObjectItemCaseSensitive(body, "name")) pb_api_verr_add(&v, "name", "This field is required.");
    char id[37];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    o = pb_api_issue_new(id, a.project_id, pb_api_ws_id(&a), a.user_id, now);
    issue_apply(body, o, 1, &in, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    const cJSON *bxs = cJSON_GetObjectItemCaseSensitive(body, "external_source");
    const cJSON *bxi = cJSON_GetObjectItemCaseSensitive(body, "external_id");
    const char *xs = pb_api_str(o, "external_source"), *xi = pb_api_str(o, "external_id");
    char other[40];
    if (bxs && bxi && xs && xi && pb_ps_item_find_external(a.conn, "issue", a.project_id, xs, xi, NULL, other, NULL) == 0) {
        pb_api_conflict(resp, "Issue with the same external id and external source already exists", other);
        goto out;
    }
    char group[16] = "";
    if (!in.has_state) {
        char sid[40];
        if (pb_ps_state_default(a.conn, a.project_id, sid, group, NULL) == 0) pb_api_set_str(o, "state", sid);
    }
    if (check_relations(&a, o, &in, NULL, group)) goto out;
    if (!group[0]) pb_strlcpy(group, "backlog", sizeof group);
    if (!in.has_assignees) {
        /* the project's default assignee applies only when none were sent */
        pb_ps_project p;
        if (pb_ps_project_get(a.conn, a.slug, a.project_id, &p, NULL) == 0) {
            cJSON *pj = cJSON_Parse(p.raw);
            const char *da = pb_api_str(pj, "default_assignee");
            if (da && pb_api_uuid_ok(da)) {
                in.assignees = calloc(1, sizeof *in.assignees);
                if (in.assignees) {
                    pb_strlcpy(in.assignees[0], da, 37);
                    in.nassignees = 1;
                    in.has_assignees = 1;
                }
            }
            cJSON_Delete(pj);
            pb_ps_project_clear(&p);
        }
    }
    if (in.created_at) pb_api_set_time(o, "created_at", in.created_at);
    int64_t seq = 0;
    rc = pb_ps_project_next_seq(a.conn, a.project_id, &seq, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    replace(o, "sequence_id", cJSON_CreateNumber((double)seq));
    int64_t done_at = pb_api_completed_at(NULL, group, 0, now);
    if (done_at) pb_api_set_time(o, "completed_at", done_at);
    rc = set_refs(&a, o, &in, id, now, &err);
    raw = rc ? NULL : pb_api_print(o);
    if (!rc && !raw) rc = PB_ENOMEM;
    if (!rc) {
        pb_ps_item it;
        memset(&it, 0, sizeof it);
        pb_strlcpy(it.id, id, sizeof it.id);
        it.item_type = "issue";
        pb_strlcpy(it.slug, a.slug, sizeof it.slug);
        pb_strlcpy(it.project_id, a.project_id, sizeof it.project_id);
        const char *cb = pb_api_str(o, "created_by");
        pb_strlcpy(it.created_by, cb ? cb : a.user_id, sizeof it.created_by);
        issue_columns(o, group, &it);
        it.created_at = in.created_at ? in.created_at : now;
        it.updated_at = now;
        it.raw = raw;
        rc = pb_ps_item_insert(a.conn, &it, &err);
    }
    if (!rc && issue_visible(o, group)) rc = pb_ps_project_issue_count_add(a.conn, a.project_id, 1, &err);
    if (!rc) {
        pb_api_activity_row r = {.issue_id = id, .verb = "created", .comment = "created the issue"};
        rc = pb_api_activity(a.conn, &a, &r, &err);
    }
    if (!rc) rc = emit_created(&a, id, o, &err);
    rc = pb_api_commit(&a, rc, &err, NULL);
    if (rc) goto out;
    send_issue(&a, 201, raw);
out:
    issue_in_free(&in);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int h_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "issue_id");
    if (!id) goto out;
    if (a.project_archived) { /* hidden with their project, as Plane's IssueManager does */
        pb_api_not_found(resp);
        goto out;
    }
    pb_api_fields fields, expand;
    pb_api_fields_from_query(req, &fields, &expand);
    pb_error err = {0};
    if (fields.n == 0 && expand.n == 0) {
        /* fast path: the stored row straight into the response */
        pb_buf *b = pb_resp_body(resp);
        pb_buf_reset(b);
        int rc = pb_ps_item_raw_into(a.conn, "issue", a.project_id, id, 1, b, &err);
        if (rc) {
            pb_buf_reset(b);
            pb_api_fail(resp, rc, &err);
        } else {
            pb_resp_status(resp, 200);
        }
        goto out;
    }
    char *raw = NULL;
    int rc = pb_ps_item_raw(a.conn, "issue", a.project_id, id, 1, &raw, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else send_issue(&a, 200, raw);
    free(raw);
out:
    pb_api_end(&a);
    return 0;
}

/* The PATCH machinery, shared by archive/unarchive (mode 1/2): validates body against the
 * stored row, writes row, refs, counters, activities and events, and answers. */
static void do_patch(pb_api_req *a, const char *id, const cJSON *body, int mode)
{
    pb_resp *resp = a->resp;
    cJSON *before = NULL, *o = NULL, *prev = NULL;
    issue_in in;
    memset(&in, 0, sizeof in);
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_error err = {0};
    int rc = pb_conn_begin_write(a->conn, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    rc = pb_ps_item_get(a->conn, "issue", a->project_id, id, &it, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    if (mode == 1 && strcmp(it.state_group, "completed") != 0 && strcmp(it.state_group, "cancelled") != 0) {
        pb_api_error(resp, 400, "Can only archive completed or cancelled state group issue");
        goto out;
    }
    before = pb_api_parse_raw(it.raw);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) {
        pb_api_internal(resp);
        goto out;
    }
    pb_api_verr v = {0};
    issue_apply(body, o, 0, &in, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    /* Plane: only when external_id changes; the returned id is the row being patched. */
    const cJSON *bxi = cJSON_GetObjectItemCaseSensitive(body, "external_id");
    const char *new_xi = pb_api_str(o, "external_id"), *xs = pb_api_str(o, "external_source");
    const char *old_xi = pb_api_str(before, "external_id");
    if (bxi && new_xi && *new_xi && (!old_xi || strcmp(old_xi, new_xi) != 0) && xs &&
        pb_ps_item_find_external(a->conn, "issue", a->project_id, xs, new_xi, id, NULL, NULL) == 0) {
        pb_api_conflict(resp, "Issue with the same external id and external source already exists", id);
        goto out;
    }
    char group[16];
    pb_strlcpy(group, it.state_group, sizeof group);
    char old_group[16];
    pb_strlcpy(old_group, it.state_group, sizeof old_group);
    if (check_relations(a, o, &in, id, group)) goto out;
    int was_visible = issue_visible(before, old_group);
    int64_t now = pb_api_now();
    int64_t old_done = 0;
    const char *cat = pb_api_str(before, "completed_at");
    if (cat && pb_time_parse(cat, &old_done)) old_done = 0;
    int64_t new_done = pb_api_completed_at(old_group, group, old_done, now);
    int entered_completed = new_done == now && old_done != now;
    if (new_done != old_done) pb_api_set_time(o, "completed_at", new_done);
    rc = set_refs(a, o, &in, id, now, &err);
    prev = cJSON_CreateObject();
    pb_api_diff(before, o, NULL, prev);
    int changed = prev->child != NULL;
    if (changed) {
        pb_api_set_time(o, "updated_at", now);
        pb_api_set_str(o, "updated_by", a->user_id);
    }
    char *raw = (!rc && changed) ? pb_api_print(o) : NULL;
    if (!rc && changed && !raw) rc = PB_ENOMEM;
    if (!rc && changed) {
        char *n0 = it.name, *s0 = it.external_source, *i0 = it.external_id;
        free(it.raw);
        it.raw = raw;
        issue_columns(o, group, &it);
        it.updated_at = now;
        rc = pb_ps_item_update(a->conn, &it, &err);
        it.name = n0;
        it.external_source = s0;
        it.external_id = i0;
    }
    int is_visible = issue_visible(o, group);
    if (!rc && was_visible != is_visible)
        rc = pb_ps_project_issue_count_add(a->conn, a->project_id, is_visible ? 1 : -1, &err);
    if (!rc && changed) rc = record_changes(a, id, before, o, &err);
    if (!rc && changed) rc = pb_api_outbox(a->conn, "issue.updated", a->slug, a->project_id, id, o, prev, &err);
    if (!rc && changed) {
        const cJSON *na = cJSON_GetObjectItemCaseSensitive(o, "assignees");
        const cJSON *oa = cJSON_GetObjectItemCaseSensitive(before, "assignees");
        int added = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, na)
        {
            if (cJSON_IsString(e) && !in_list(oa, e->valuestring)) added = 1;
        }
        if (added) {
            cJSON *pa = cJSON_CreateObject();
            cJSON_AddItemToObject(pa, "assignees", oa ? cJSON_Duplicate(oa, 1) : cJSON_CreateArray());
            rc = pb_api_outbox(a->conn, "issue.assigned", a->slug, a->project_id, id, o, pa, &err);
            cJSON_Delete(pa);
        }
    }
    if (!rc && entered_completed) {
        cJSON *pc = cJSON_CreateObject();
        cJSON_AddItemToObject(pc, "state", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(before, "state"), 1));
        cJSON_AddNullToObject(pc, "completed_at");
        rc = pb_api_outbox(a->conn, "issue.completed", a->slug, a->project_id, id, o, pc, &err);
        cJSON_Delete(pc);
    }
    if (!rc) rc = pb_conn_commit(a->conn, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    if (mode == 1) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddItemToObject(r, "archived_at", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "archived_at"), 1));
        pb_api_send_json(resp, 200, r);
        cJSON_Delete(r);
    } else if (mode == 2) {
        pb_resp_status(resp, 204);
    } else {
        char *out_raw = changed ? NULL : pb_api_print(o);
        send_issue(a, 200, changed ? it.raw : out_raw);
        free(out_raw);
    }
out:
    issue_in_free(&in);
    pb_ps_item_clear(&it);
    cJSON_Delete(prev);
    cJSON_Delete(o);
    cJSON_Delete(before);
}

static int h_patch(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    cJSON *body = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "issue_id");
    if (id && !pb_api_parse_body(req, resp, 1, &body)) do_patch(&a, id, body, 0);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* POST .../work-items/{id}/archive/ (newer Plane, used by the SDK): completed or cancelled
 * items only; archived_at = today. DELETE .../unarchive/ clears it (204). */
static int archive_issue(pb_req *req, pb_resp *resp, void *ctx, int on)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "issue_id");
    if (id) {
        cJSON *body = cJSON_CreateObject();
        if (on) {
            char today[40];
            pb_time_iso(pb_now_us(), today, sizeof today);
            today[10] = '\0';
            cJSON_AddStringToObject(body, "archived_at", today);
        } else {
            cJSON_AddNullToObject(body, "archived_at");
        }
        do_patch(&a, id, body, on ? 1 : 2);
        cJSON_Delete(body);
    }
    pb_api_end(&a);
    return 0;
}

static int h_archive(pb_req *req, pb_resp *resp, void *ctx)
{
    return archive_issue(req, resp, ctx, 1);
}

static int h_unarchive(pb_req *req, pb_resp *resp, void *ctx)
{
    return archive_issue(req, resp, ctx, 0);
}

static int h_archived_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    if (!pb_api_page_from_query(req, resp, &pg)) {
        pb_api_fields fields, expand;
        pb_api_fields_from_query(req, &fields, &expand);
        pb_ps_rawlist l = {0};
        int64_t total = 0;
        pb_error err = {0};
        int rc = pb_ps_issue_archived_page(a.conn, a.project_id, pg.per_page, pg.offset, &l, &total, &err);
        pb_buf *b = pb_resp_body(resp);
        pb_buf_reset(b);
        xctx x = {.a = &a};
        if (!rc) rc = pb_api_envelope_begin(b, &pg, total);
        for (size_t i = 0; !rc && i < l.n; i++) {
            if (i) rc = pb_buf_putc(b, ',');
            if (!rc) rc = render(&x, l.raw[i], &fields, &expand, b);
        }
        if (!rc) rc = pb_api_envelope_end(b);
        xctx_free(&x);
        pb_ps_rawlist_clear(&l);
        if (rc) {
            pb_buf_reset(b);
            pb_api_fail(resp, rc, &err);
        } else {
            pb_resp_status(resp, 200);
        }
    }
    pb_api_end(&a);
    return 0;
}

/* GET archived-work-items/{id}/: one archived issue (Plane's app API has it; v1 hides archived
 * issues from detail GET). A mirror uses it to tell an archive from a delete. */
static int h_archived_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    char *raw = NULL;
    cJSON *o = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "issue_id");
    if (!id) goto out;
    pb_error err = {0};
    int rc = pb_ps_item_raw(a.conn, "issue", a.project_id, id, 0, &raw, &err);
    o = rc ? NULL : cJSON_Parse(raw);
    const cJSON *arch = o ? cJSON_GetObjectItemCaseSensitive(o, "archived_at") : NULL;
    if (!rc && !cJSON_IsString(arch)) rc = PB_ENOTFOUND; /* not archived: not in this collection */
    if (rc) pb_api_fail(resp, rc, &err);
    else send_issue(&a, 200, raw);
out:
    cJSON_Delete(o);
    free(raw);
    pb_api_end(&a);
    return 0;
}

static int h_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    cJSON *o = NULL;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *id = pb_api_uuid_param(req, resp, "issue_id");
    if (!id) goto out;
    pb_error err = {0};
    int rc = pb_api_begin_write(&a, &err);
    if (rc) goto out;
    rc = pb_ps_item_get(a.conn, "issue", a.project_id, id, &it, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    if (strcmp(it.created_by, a.user_id) != 0 && a.project_role < 20) {
        pb_api_error(resp, 403, "Only admin or creator can delete the work item");
        goto out;
    }
    o = pb_api_parse_raw(it.raw);
    int64_t now = pb_api_now();
    rc = pb_ps_item_soft_delete(a.conn, id, now, &err);
    if (!rc && o && issue_visible(o, it.state_group))
        rc = pb_ps_project_issue_count_add(a.conn, a.project_id, -1, &err);
    if (!rc) {
        pb_api_activity_row r = {.issue_id = id, .verb = "deleted", .comment = "deleted the issue"};
        rc = pb_api_activity(a.conn, &a, &r, &err);
    }
    if (!rc) {
        if (o) pb_api_set_time(o, "deleted_at", now);
        rc = pb_api_outbox(a.conn, "issue.deleted", a.slug, a.project_id, id, o, NULL, &err);
    }
    rc = pb_api_commit(&a, rc, &err, NULL);
    if (rc) goto out;
    pb_resp_status(resp, 204);
out:
    cJSON_Delete(o);
    pb_ps_item_clear(&it);
    pb_api_end(&a);
    return 0;
}

/* GET workspaces/{slug}/work-items/{IDENT}-{seq}/ */
static int h_by_identifier(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    const char *key = pb_req_param(req, "work_item");
    const char *dash = key ? strrchr(key, '-') : NULL;
    int64_t seq = 0;
    char ident[64];
    if (!dash || dash == key || (size_t)(dash - key) >= sizeof ident ||
        pb_parse_i64(dash + 1, 1, INT64_MAX, &seq)) {
        pb_api_not_found(resp);
        goto out;
    }
    memcpy(ident, key, (size_t)(dash - key));
    ident[dash - key] = '\0';
    pb_ps_project p;
    pb_error err = {0};
    int rc = pb_ps_project_by_identifier(a.conn, a.slug, ident, &p, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    int exists = 0, role = 0, archived = 0;
    rc = pb_ps_project_access(a.conn, a.slug, p.id, a.user_id, &exists, &role, NULL, &archived, &err);
    pb_strlcpy(a.project_id, p.id, sizeof a.project_id);
    pb_ps_project_clear(&p);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    if (!role) {
        pb_api_forbidden(resp);
        goto out;
    }
    const pb_principal *pr = pb_auth_principal(req);
    if (pr && pr->project_id[0] && strcmp(pr->project_id, a.project_id) != 0) {
        /* a project-scoped key: the path names no project, so the auth hook could not check */
        pb_api_forbidden(resp);
        goto out;
    }
    if (archived) {
        pb_api_not_found(resp);
        goto out;
    }
    char *raw = NULL;
    rc = pb_ps_issue_by_seq(a.conn, a.project_id, seq, &raw, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else send_issue(&a, 200, raw);
    free(raw);
out:
    pb_api_end(&a);
    return 0;
}

/* ---------------------------------------------------------------- for sibling resources */
int pb_api_issue_check(pb_conn *c, const char *project_id, const char *issue_id, int visible_only, pb_error *err)
{
    return pb_ps_issue_exists(c, project_id, issue_id, visible_only, err);
}

int pb_api_issue_json(pb_conn *c, const char *issue_id, pb_buf *b, pb_error *err)
{
    pb_ps_item it;
    int rc = pb_ps_item_get(c, "issue", NULL, issue_id, &it, err);
    if (rc) return rc;
    rc = pb_buf_puts(b, it.raw);
    pb_ps_item_clear(&it);
    return rc ? pb_error_set(err, rc, "response too large") : 0;
}

void pb_api_issue_list_by_ref(pb_api_req *a, const char *kind, const char *ref_id)
{
    list_page(a, kind, ref_id, 0);
}

/* ---------------------------------------------------------------- seeding (bench) */
int pb_api_seed_issues(pb_db *db, const char *slug, const char *project_id, const char *user_id, int64_t n,
                       pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (rc) return rc;
    char sid[40], group[16], ws[64] = "";
    rc = pb_ps_state_default(c, project_id, sid, group, err);
    pb_ps_workspace_id(c, slug, ws, NULL);
    pb_api_req a;
    memset(&a, 0, sizeof a);
    a.slug = slug;
    pb_strlcpy(a.user_id, user_id, sizeof a.user_id);
    pb_strlcpy(a.project_id, project_id, sizeof a.project_id);
    pb_strlcpy(a.ws_id, ws, sizeof a.ws_id);
    static const char *const prio[] = {"urgent", "high", "medium", "low", "none"};
    for (int64_t done = 0; !rc && done < n;) {
        rc = pb_conn_begin_write(c, err);
        for (int k = 0; !rc && k < 2000 && done < n; k++, done++) {
            char id[37], name[64];
            pb_uuid4(id);
            int64_t now = pb_api_now(), seq = 0;
            rc = pb_ps_project_next_seq(c, project_id, &seq, err);
            if (rc) break;
            cJSON *o = pb_api_issue_new(id, project_id, ws, user_id, now);
            snprintf(name, sizeof name, "Seeded work item %lld", (long long)seq);
            pb_api_set_str(o, "name", name);
            pb_api_set_str(o, "priority", prio[seq % 5]);
            pb_api_set_str(o, "state", sid);
            replace(o, "sequence_id", cJSON_CreateNumber((double)seq));
            char *raw = pb_api_print(o);
            pb_ps_item it;
            memset(&it, 0, sizeof it);
            pb_strlcpy(it.id, id, sizeof it.id);
            it.item_type = "issue";
            pb_strlcpy(it.slug, slug, sizeof it.slug);
            pb_strlcpy(it.project_id, project_id, sizeof it.project_id);
            pb_strlcpy(it.created_by, user_id, sizeof it.created_by);
            issue_columns(o, group, &it);
            it.created_at = it.updated_at = now;
            it.raw = raw;
            rc = raw ? pb_ps_item_insert(c, &it, err) : PB_ENOMEM;
            free(raw);
            cJSON_Delete(o);
        }
        if (!rc) rc = pb_ps_project_issue_count_reset(c, project_id, err);
        if (!rc) rc = pb_conn_commit(c, err);
    }
    pb_db_release(db, c);
    return rc;
}

void pb_api_register_workitems(pb_server *s, pb_app *app)
{
    static const char *const lists[] = {"/api/v1/workspaces/{slug}/projects/{project_id}/work-items/",
                                        "/api/v1/workspaces/{slug}/projects/{project_id}/issues/"};
    static const char *const ones[] = {"/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}/",
                                       "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}/"};
    static const char *const idents[] = {"/api/v1/workspaces/{slug}/work-items/{work_item}/",
                                         "/api/v1/workspaces/{slug}/issues/{work_item}/"};
    static const char *const archives[] = {
        "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}/archive/",
        "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}/archive/"};
    static const char *const unarchives[] = {
        "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}/unarchive/",
        "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}/unarchive/"};
    static const char *const archived[] = {"/api/v1/workspaces/{slug}/projects/{project_id}/archived-work-items/",
                                           "/api/v1/workspaces/{slug}/projects/{project_id}/archived-issues/"};
    static const char *const archived_one[] = {
        "/api/v1/workspaces/{slug}/projects/{project_id}/archived-work-items/{issue_id}/",
        "/api/v1/workspaces/{slug}/projects/{project_id}/archived-issues/{issue_id}/"};
    for (int i = 0; i < 2; i++) {
        pb_api_route(s, app, "GET", lists[i], "issues:read", h_list);
        pb_api_route(s, app, "POST", lists[i], "issues:write", h_create);
        pb_api_route(s, app, "GET", ones[i], "issues:read", h_get);
        pb_api_route(s, app, "PATCH", ones[i], "issues:write", h_patch);
        pb_api_route(s, app, "DELETE", ones[i], "issues:delete", h_delete);
        pb_api_route(s, app, "GET", idents[i], "issues:read", h_by_identifier);
        pb_api_route(s, app, "POST", archives[i], "issues:write", h_archive);
        pb_api_route(s, app, "DELETE", unarchives[i], "issues:write", h_unarchive);
        pb_api_route(s, app, "GET", archived[i], "issues:read", h_archived_list);
        pb_api_route(s, app, "GET", archived_one[i], "issues:read", h_archived_get);
    }
}
