/* intake: Plane's intake (triage queue) issues.
 *
 *   GET/POST          .../projects/{project_id}/intake-issues/
 *   GET/PATCH/DELETE  .../projects/{project_id}/intake-issues/{issue_id}/
 *
 * {issue_id} is the work item's id, not the IntakeIssue's. Everything needs the project's
 * intake_view: POST/PATCH/DELETE answer 400 without it, GETs see nothing. POST {"issue":{name,
 * description_html, priority}} creates a work item in the project's triage state (hidden from
 * work-item lists) plus the intake row, and answers 200 as Plane does. PATCH takes the intake
 * fields (status -2 pending, -1 rejected, 0 snoozed, 1 accepted, 2 duplicate; snoozed_till;
 * duplicate_to) and an optional "issue" object; accepting moves a triage work item to the
 * default state, rejecting or marking duplicate moves it to the first cancelled state. DELETE
 * also deletes a work item that was never accepted. Permissions as Plane: any project member
 * (guests too) may create; a guest may edit only the text of an item they created; only an
 * admin changes the intake fields (a member's are ignored); deletes need a member or admin.
 * Work-item changes record issue.created / issue.updated / issue.deleted in the outbox. */
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"
#include "store/plane_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const intake_users[] = {"created_by", "updated_by", NULL};

static const char *const priorities[] = {"low", "medium", "high", "urgent", "none", NULL};

#define INTAKE_DISABLED "Intake is not enabled for this project enable it through the project's api"

static int intake_enabled(pb_api_req *a, int *on)
{
    int v1 = 0, v2 = 0;
    int rc = pb_more_project_flag(a, "intake_view", &v1);
    if (!rc) rc = pb_more_project_flag(a, "inbox_view", &v2);
    *on = v1 || v2;
    return rc;
}

/* Answers 400 when intake is off (or 500 on a store error); 0 to proceed. */
static int require_intake(pb_api_req *a)
{
    int on = 0;
    int rc = intake_enabled(a, &on);
    if (rc) {
        pb_conn_rollback(a->conn);
        pb_api_fail(a->resp, rc, NULL);
        return 1;
    }
    if (!on) {
        pb_conn_rollback(a->conn);
        pb_api_error(a->resp, 400, INTAKE_DISABLED);
        return 1;
    }
    return 0;
}

/* The project's single intake id (Plane keeps one Intake row per project). */
static void intake_id(const char *project_id, char out[37])
{
    pb_more_membership_id(project_id, "intake", out);
}

/* Finds a state of the project by group ("triage", "cancelled") or the default (group NULL). */
static int find_state(pb_api_req *a, const char *group, char id[40], char got_group[16], pb_error *err)
{
    if (!group) return pb_ps_state_default(a->conn, a->project_id, id, got_group, err);
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    int rc = pb_ps_item_list(a->conn, "state", a->project_id, 0, -1, 0, &total, &l, err);
    if (rc) return rc;
    rc = PB_ENOTFOUND;
    double best = 0;
    for (size_t i = 0; i < l.n; i++) {
        cJSON *o = cJSON_Parse(l.raw[i]);
        const char *g = o ? pb_more_get_str(o, "group") : NULL;
        const cJSON *seq = o ? cJSON_GetObjectItemCaseSensitive(o, "sequence") : NULL;
        double s = seq && cJSON_IsNumber(seq) ? seq->valuedouble : 0;
        if (g && strcmp(g, group) == 0 && (rc != 0 || s < best)) {
            pb_strlcpy(id, l.id[i], 40);
            pb_strlcpy(got_group, g, 16);
            best = s;
            rc = 0;
        }
        cJSON_Delete(o);
    }
    pb_ps_rawlist_clear(&l);
    return rc;
}

/* Renders an intake row with its issue_detail (the work item as served); a pb_more_render_fn. */
static int intake_render(pb_api_req *a, const void *arg, const char *raw, const pb_api_fields *fields,
                         const pb_api_fields *expand, pb_buf *b)
{
    (void)arg;
    cJSON *o = pb_more_parse_raw(raw, NULL);
    if (!o) return PB_EPARSE;
    const char *issue = pb_more_get_str(o, "issue");
    pb_buf ib;
    pb_buf_init(&ib, PB_BUF_DEFAULT_MAX);
    cJSON *detail = NULL;
    if (issue && pb_api_issue_json(a->conn, issue, &ib, NULL) == 0) detail = cJSON_Parse(pb_buf_cstr(&ib));
    pb_buf_free(&ib);
    cJSON_AddItemToObject(o, "issue_detail", detail ? detail : cJSON_CreateNull());
    int rc = pb_more_render(a, o, intake_users, fields, expand, b);
    cJSON_Delete(o);
    return rc;
}

static void intake_send(pb_api_req *a, int status, const char *raw)
{
    pb_more_send_rendered(a, status, raw, intake_render, NULL);
}

static int intake_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    pb_error err = {0};
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int on = 0;
    int rc = intake_enabled(&a, &on);
    if (!rc && on)
        rc = pb_more_list(a.conn, "intake", a.project_id, NULL, PB_MORE_ANY, 1, pg.offset, pg.per_page, &rows,
                          &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else pb_more_send_rendered_page(&a, &pg, total, rows, n, intake_render, NULL);
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

/* Copies the issue's indexed columns from its JSON. */
static void issue_columns(const cJSON *o, const char *group, pb_ps_item *it)
{
    const char *s = pb_more_get_str(o, "state");
    pb_strlcpy(it->state_id, s ? s : "", sizeof it->state_id);
    pb_strlcpy(it->state_group, group, sizeof it->state_group);
    s = pb_more_get_str(o, "priority");
    pb_strlcpy(it->priority, s ? s : "none", sizeof it->priority);
    s = pb_more_get_str(o, "parent");
    pb_strlcpy(it->parent_id, s ? s : "", sizeof it->parent_id);
    it->name = (char *)(uintptr_t)pb_more_get_str(o, "name");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
    it->sort_order = cJSON_IsNumber(so) ? so->valuedouble : 65535;
    it->external_source = (char *)(uintptr_t)pb_more_get_str(o, "external_source");
    it->external_id = (char *)(uintptr_t)pb_more_get_str(o, "external_id");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence_id");
    it->sequence_id = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0;
    it->is_draft = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_draft"));
    it->is_active = 1;
}

/* Applies name/description_html/priority of an "issue" object; 0 or non-zero after adding
 * errors (Plane's intake messages). */
static int issue_text_fields(const cJSON *issue, cJSON *o, int creating, pb_api_verr *v, const char **errmsg)
{
    const char *s = NULL;
    *errmsg = NULL;
    int has = pb_api_get_str(issue, "name", 0, creating ? 1 : 0, 255, &s, v);
    if (creating && (!has || !s || !*s)) {
        *errmsg = "Name is required";
        return 1;
    }
    if (has && s) pb_more_set_str(o, "name", s);
    if (pb_api_get_str(issue, "description_html", 1, 1, 1u << 20, &s, v))
        pb_more_set_str(o, "description_html", s ? s : "<p></p>");
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(issue, "priority");
    if (pj) {
        int ok = 0;
        for (int i = 0; cJSON_IsString(pj) && priorities[i]; i++)
            if (strcmp(priorities[i], pj->valuestring) == 0) ok = 1;
        if (!ok) {
            *errmsg = "Invalid priority";
            return 1;
        }
        pb_more_set_str(o, "priority", pj->valuestring);
    }
    return pb_api_verr_any(v);
}

static int intake_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    cJSON *body = NULL, *iss = NULL, *o = NULL;
    char *iraw = NULL, *raw = NULL;
    pb_api_verr v = {0};
    pb_error err = {0};
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    const cJSON *ib = cJSON_GetObjectItemCaseSensitive(body, "issue");
    const char *name = cJSON_IsObject(ib) ? pb_more_get_str(ib, "name") : NULL;
    if (!name || !*name) {
        pb_api_error(resp, 400, "Name is required");
        goto out;
    }
    if (pb_more_begin_write(&a) || require_intake(&a)) goto out;
    char ws[64], issue_id[37], id[37];
    pb_more_ws_id(&a, ws);
    pb_uuid4(issue_id);
    pb_uuid4(id);
    int64_t now = pb_api_now();
    iss = pb_api_issue_new(issue_id, a.project_id, ws, a.user_id, now);
    const char *msg = NULL;
    if (!iss || issue_text_fields(ib, iss, 1, &v, &msg)) {
        pb_conn_rollback(a.conn);
        if (msg) pb_api_error(resp, 400, msg);
        else if (pb_api_verr_any(&v)) pb_api_verr_send(&v, resp);
        else pb_api_internal(resp);
        goto out;
    }
    char sid[40] = "", group[16] = "";
    int rc = find_state(&a, "triage", sid, group, &err);
    if (rc == PB_ENOTFOUND) rc = find_state(&a, NULL, sid, group, &err);
    if (rc == 0) pb_more_set_str(iss, "state", sid);
    else if (rc != PB_ENOTFOUND) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (!group[0]) pb_strlcpy(group, "triage", sizeof group);
    int64_t seq = 0;
    rc = pb_ps_project_next_seq(a.conn, a.project_id, &seq, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(iss, "sequence_id", cJSON_CreateNumber((double)seq));
    iraw = cJSON_PrintUnformatted(iss);
    o = cJSON_CreateObject();
    if (!iraw || !o) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, issue_id, sizeof it.id);
    it.item_type = "issue";
    pb_strlcpy(it.slug, a.slug, sizeof it.slug);
    pb_strlcpy(it.project_id, a.project_id, sizeof it.project_id);
    pb_strlcpy(it.created_by, a.user_id, sizeof it.created_by);
    issue_columns(iss, group, &it);
    it.created_at = it.updated_at = now;
    it.raw = iraw;
    rc = pb_ps_item_insert(a.conn, &it, &err);
    if (!rc && strcmp(group, "triage") != 0) rc = pb_ps_project_issue_count_reset(a.conn, a.project_id, &err);

    char inbox[37];
    intake_id(a.project_id, inbox);
    pb_more_set_str(o, "id", id);
    pb_more_set_time(o, "created_at", now);
    pb_more_set_time(o, "updated_at", now);
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddNumberToObject(o, "status", -2);
    cJSON_AddNullToObject(o, "snoozed_till");
    cJSON_AddNullToObject(o, "duplicate_to");
    pb_more_set_str(o, "source", "IN_APP");
    cJSON_AddNullToObject(o, "source_email");
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddItemToObject(o, "extra", cJSON_CreateObject());
    pb_more_set_str(o, "created_by", a.user_id);
    pb_more_set_str(o, "updated_by", a.user_id);
    pb_more_set_str(o, "project", a.project_id);
    pb_more_set_id(o, "workspace", ws);
    pb_more_set_str(o, "intake", inbox);
    pb_more_set_str(o, "inbox", inbox);
    pb_more_set_str(o, "issue", issue_id);
    raw = cJSON_PrintUnformatted(o);
    if (!rc && !raw) rc = pb_error_set(&err, PB_ENOMEM, "out of memory");
    if (!rc) {
        pb_more_new nw = {.id = id,
                          .item_type = "intake",
                          .slug = a.slug,
                          .project_id = a.project_id,
                          .parent_id = issue_id,
                          .created_by = a.user_id,
                          .created_at = now,
                          .raw = raw};
        rc = pb_more_insert(a.conn, &nw, &err);
    }
    if (!rc) {
        pb_api_activity_row r = {.issue_id = issue_id, .verb = "created", .comment = "created the issue"};
        rc = pb_api_activity(a.conn, &a, &r, &err);
    }
    if (!rc) rc = pb_api_outbox(a.conn, "issue.created", a.slug, a.project_id, issue_id, iss, NULL, &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    intake_send(&a, 200, raw); /* Plane answers 200 here, not 201 */
out:
    pb_api_verr_free(&v);
    free(raw);
    free(iraw);
    cJSON_Delete(o);
    cJSON_Delete(iss);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* Loads the intake row of issue_id (404 when none, or when intake is off). */
static int intake_load(pb_api_req *a, const char *issue_id, pb_more_row *row)
{
    int on = 0;
    pb_error err = {0};
    int rc = intake_enabled(a, &on);
    if (!rc && !on) rc = PB_ENOTFOUND;
    if (!rc) rc = pb_more_get_by_parent(a->conn, "intake", a->project_id, issue_id, row, &err);
    return pb_more_lookup_result(a, rc, &err);
}

static int intake_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *iid = pb_api_uuid_param(req, resp, "issue_id");
    pb_more_row row = {0};
    if (!iid || intake_load(&a, iid, &row)) goto out;
    intake_send(&a, 200, row.raw);
out:
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

/* Moves the work item to state sid/group and saves it (with text changes already in o). */
static int save_issue(pb_api_req *a, pb_ps_item *it, cJSON *before, cJSON *o, const char *group,
                      pb_error *err)
{
    int64_t now = pb_api_now();
    pb_more_set_time(o, "updated_at", now);
    pb_more_set_str(o, "updated_by", a->user_id);
    const char *was = it->state_group;
    int completed_changed = (strcmp(group, "completed") == 0) != (strcmp(was, "completed") == 0);
    if (completed_changed) pb_more_set_time(o, "completed_at", strcmp(group, "completed") == 0 ? now : 0);
    char *raw = cJSON_PrintUnformatted(o);
    if (!raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    char old_group[16];
    pb_strlcpy(old_group, it->state_group, sizeof old_group);
    free(it->name);
    it->name = NULL;
    free(it->external_source);
    it->external_source = NULL;
    free(it->external_id);
    it->external_id = NULL;
    char *old_raw = it->raw;
    issue_columns(o, group, it);
    it->updated_at = now;
    it->raw = raw;
    /* strings in it now borrow from o / raw: write, then restore ownership for clear() */
    int rc = pb_ps_item_update(a->conn, it, err);
    it->name = NULL;
    it->external_source = NULL;
    it->external_id = NULL;
    it->raw = old_raw;
    if (!rc && strcmp(old_group, group) != 0) rc = pb_ps_project_issue_count_reset(a->conn, a->project_id, err);
    if (!rc) {
        cJSON *prev = cJSON_CreateObject();
        static const char *const keys[] = {"name", "description_html", "priority", "state", "completed_at", NULL};
        if (prev) pb_api_diff(before, o, keys, prev);
        if (prev && cJSON_GetArraySize(prev) > 0)
            rc = pb_api_outbox(a->conn, "issue.updated", a->slug, a->project_id, it->id, o, prev, err);
        cJSON_Delete(prev);
    }
    free(raw);
    return rc;
}

static int intake_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *iid = pb_api_uuid_param(req, resp, "issue_id");
    cJSON *body = NULL, *o = NULL, *ibefore = NULL, *iss = NULL;
    char *raw = NULL;
    pb_more_row row = {0};
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!iid || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (pb_more_begin_write(&a) || require_intake(&a) || intake_load(&a, iid, &row)) goto out;
    o = pb_more_parse_raw(row.raw, resp);
    if (!o) goto out;
    int rc = pb_ps_item_get(a.conn, "issue", a.project_id, iid, &it, &err);
    if (rc) {
        if (rc == PB_ENOTFOUND) {
            pb_conn_rollback(a.conn);
            pb_api_not_found(resp);
        } else {
            pb_more_fail(&a, rc, &err);
        }
        goto out;
    }
    ibefore = pb_more_parse_raw(it.raw, resp);
    iss = ibefore ? cJSON_Duplicate(ibefore, 1) : NULL;
    if (!iss) goto out;
    /* Plane: a guest may only edit an intake item they created, and only its text; only an
     * admin (role > 15) changes the intake fields; a member's intake-field changes are ignored. */
    if (a.project_role <= 5 && strcmp(it.created_by, a.user_id) != 0) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, "You cannot edit intake work items");
        goto out;
    }
    int admin = a.project_role > 15;
    /* intake fields */
    int64_t status = 0;
    int has_status = pb_api_get_int(body, "status", -2, 2, &status, &v);
    if (!admin) has_status = 0;
    if (has_status && !pb_api_verr_any(&v))
        cJSON_ReplaceItemInObjectCaseSensitive(o, "status", cJSON_CreateNumber((double)status));
    const cJSON *st = admin ? cJSON_GetObjectItemCaseSensitive(body, "snoozed_till") : NULL;
    if (st) {
        int64_t t = 0;
        if (cJSON_IsNull(st)) pb_more_set_time(o, "snoozed_till", 0);
        else if (cJSON_IsString(st) && pb_time_parse(st->valuestring, &t) == 0) pb_more_set_time(o, "snoozed_till", t);
        else
            pb_api_verr_add(&v, "snoozed_till",
                            "Datetime has wrong format. Use one of these formats instead: "
                            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].");
    }
    char dup[37];
    const char *s = NULL;
    if (admin) {
        if (pb_api_get_uuid(body, "duplicate_to", 1, dup, &v)) pb_more_set_id(o, "duplicate_to", dup);
        if (pb_api_get_str(body, "source", 1, 1, 255, &s, &v)) pb_more_set_str(o, "source", s);
        if (pb_more_opt_str(body, "source_email", 255, &s, &v)) pb_more_set_str(o, "source_email", s);
        if (pb_more_opt_str(body, "external_source", 255, &s, &v)) pb_more_set_str(o, "external_source", s);
        if (pb_more_opt_str(body, "external_id", 255, &s, &v)) pb_more_set_str(o, "external_id", s);
    }
    const cJSON *ib = cJSON_GetObjectItemCaseSensitive(body, "issue");
    const char *msg = NULL;
    if (cJSON_IsObject(ib) && cJSON_GetArraySize(ib) > 0) issue_text_fields(ib, iss, 0, &v, &msg);
    if (msg || pb_api_verr_any(&v)) {
        pb_conn_rollback(a.conn);
        if (msg) pb_api_error(resp, 400, msg);
        else pb_api_verr_send(&v, resp);
        goto out;
    }
    /* status side effects on the work item's state */
    char sid[40] = "", group[16];
    pb_strlcpy(group, it.state_group, sizeof group);
    if (has_status && (status == -1 || status == 2)) {
        char g[16] = "";
        if (find_state(&a, "cancelled", sid, g, NULL) == 0) {
            pb_more_set_str(iss, "state", sid);
            pb_strlcpy(group, g, sizeof group);
        }
    } else if (has_status && status == 1 && strcmp(it.state_group, "triage") == 0) {
        char g[16] = "";
        if (find_state(&a, NULL, sid, g, NULL) == 0) {
            pb_more_set_str(iss, "state", sid);
            pb_strlcpy(group, g, sizeof group);
        }
    }
    int64_t now = pb_api_now();
    pb_more_set_time(o, "updated_at", now);
    pb_more_set_str(o, "updated_by", a.user_id);
    raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    rc = pb_more_update(a.conn, row.id, NULL, pb_more_get_str(o, "external_source"),
                        pb_more_get_str(o, "external_id"), now, 0, raw, &err);
    if (!rc) rc = save_issue(&a, &it, ibefore, iss, group, &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    intake_send(&a, 200, raw);
out:
    pb_api_verr_free(&v);
    pb_ps_item_clear(&it);
    pb_more_row_clear(&row);
    free(raw);
    cJSON_Delete(iss);
    cJSON_Delete(ibefore);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int intake_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *iid = pb_api_uuid_param(req, resp, "issue_id");
    pb_more_row row = {0};
    cJSON *o = NULL;
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_error err = {0};
    if (!iid || pb_more_begin_write(&a) || require_intake(&a) || intake_load(&a, iid, &row)) goto out;
    o = pb_more_parse_raw(row.raw, resp);
    if (!o) goto out;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    int status = cJSON_IsNumber(st) ? st->valueint : -2;
    int rc = 0;
    if (status != 1) { /* never accepted: the work item goes too */
        rc = pb_ps_item_get(a.conn, "issue", a.project_id, iid, &it, &err);
        if (rc == 0) {
            if (strcmp(it.created_by, a.user_id) != 0 && a.project_role != 20) {
                pb_conn_rollback(a.conn);
                pb_api_error(resp, 403, "Only admin or creator can delete the work item");
                goto out;
            }
            rc = pb_ps_item_soft_delete(a.conn, iid, pb_api_now(), &err);
            if (!rc) rc = pb_ps_project_issue_count_reset(a.conn, a.project_id, &err);
            if (!rc) {
                cJSON *d = cJSON_CreateObject();
                pb_more_set_str(d, "id", iid);
                rc = pb_api_outbox(a.conn, "issue.deleted", a.slug, a.project_id, iid, d, NULL, &err);
                cJSON_Delete(d);
            }
        } else if (rc == PB_ENOTFOUND) {
            rc = 0;
        }
    }
    if (!rc) rc = pb_more_soft_delete(a.conn, row.id, pb_api_now(), &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    pb_resp_status(resp, 204);
out:
    pb_ps_item_clear(&it);
    cJSON_Delete(o);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

#define PJ "/api/v1/workspaces/{slug}/projects/{project_id}"

void pb_api_register_intake(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {PJ "/intake-issues/"};
    static const char *const one[] = {PJ "/intake-issues/{issue_id}/"};
    int rc = pb_more_route(srv, app, "GET", coll, 1, 0, intake_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 1, 0, intake_create);
    if (!rc) rc = pb_more_route(srv, app, "GET", one, 1, 0, intake_get);
    if (!rc) rc = pb_more_route(srv, app, "PATCH", one, 1, 0, intake_update);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", one, 1, 0, intake_delete);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering intake routes failed", PB_LI("code", rc));
}
