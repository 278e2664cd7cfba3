/* cycles: Plane's cycles, their work items and transfers.
 *
 *   GET/POST          .../projects/{project_id}/cycles/        ?cycle_view=all|current|upcoming|
 *                                                              completed|draft|incomplete
 *   GET/PATCH/DELETE  .../cycles/{pk}/
 *   POST              .../cycles/{cycle_id}/archive/           only ended cycles (204)
 *   GET               .../archived-cycles/
 *   DELETE            .../archived-cycles/{cycle_id}/unarchive/ (204)
 *   GET/POST          .../cycles/{cycle_id}/cycle-issues/      GET: Issue objects, paginated;
 *                                                              POST {"issues":[...]} moves them
 *                                                              out of any other cycle
 *   GET/DELETE        .../cycles/{cycle_id}/cycle-issues/{issue_id}/
 *   POST              .../cycles/{cycle_id}/transfer-issues/   {"new_cycle_id"}; the cycle must
 *                                                              have ended; moves its backlog/
 *                                                              unstarted/started work items
 *
 * Dates are datetimes; a plain date is normalised as Plane does (start of day / 23:59 of the
 * end day, project time zone taken as UTC). Counters (total_issues, backlog_issues...) are
 * computed on read from the membership rows. Writes to a cycle record cycle.created|updated|
 * deleted in the outbox (with previous_attributes on updates) in the same transaction. */
#include "api/grouping.h"

#include "core/log.h"
#include "core/util.h"
#include "store/plane_store.h"

#include <stdlib.h>
#include <string.h>

static const char *const cycle_users[] = {"owned_by", "created_by", "updated_by", NULL};

/* ---------------------------------------------------------------- helpers */

/* Start/end of a stored cycle (0 when null). */
static void cycle_window(const cJSON *o, int64_t *start, int64_t *end)
{
    const char *s = pb_more_get_str(o, "start_date"), *e = pb_more_get_str(o, "end_date");
    *start = 0;
    *end = 0;
    if (s && pb_time_parse(s, start)) *start = 0;
    if (e && pb_time_parse(e, end)) *end = 0;
}

static int cycle_add_counts(pb_api_req *a, cJSON *o, const char *cycle_id)
{
    return pb_group_add_counts(a, "cycle", o, cycle_id);
}

/* Only a cycle past its end date may be archived. */
static const char *cycle_archive_refusal(const cJSON *cycle)
{
    int64_t s, e;
    cycle_window(cycle, &s, &e);
    return !e || e >= pb_now_us() ? "Only completed cycles can be archived" : NULL;
}

/* No work item joins a cycle past its end date. */
static const char *cycle_add_refusal(const cJSON *cycle)
{
    int64_t s, e;
    cycle_window(cycle, &s, &e);
    if (e && e < pb_now_us())
        return "{\"code\":\"CYCLE_COMPLETED\",\"message\":\"The Cycle has already been completed so no "
               "new issues can be added\"}";
    return NULL;
}

/* A work item is in one cycle: adding it moves it here, dropping any other rows. */
static int cycle_add_member(pb_api_req *a, const char *issue_id, const char *cid, int64_t now, pb_error *err)
{
    pb_more_member *cur = NULL;
    size_t nc = 0;
    int rc = pb_more_member_refs(a->conn, "cycle", issue_id, &cur, &nc, err);
    if (!rc && nc == 0) rc = pb_more_member_add(a->conn, "cycle", issue_id, cid, now, err);
    for (size_t j = 0; !rc && j < nc; j++) {
        if (j == 0) {
            if (strcmp(cur[0].ref_id, cid) != 0)
                rc = pb_more_member_move(a->conn, "cycle", issue_id, cur[0].ref_id, cid, err);
        } else {
            rc = pb_more_member_remove(a->conn, "cycle", issue_id, cur[j].ref_id, NULL, err);
        }
    }
    free(cur);
    return rc;
}

#define DT_FORMAT_MSG                                                                            \
    "Datetime has wrong format. Use one of these formats instead: "                              \
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."

/* Reads a datetime field: 1 when present; *us = 0 for null. A plain date (or the date part of
 * a datetime) is normalised to the day's start (start) or 23:59 (end), Plane's convert_to_utc
 * with a UTC project. */
static int get_cycle_date(const cJSON *body, const char *key, int is_end, int64_t *us, int *null_out,
                          pb_api_verr *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, key);
    *us = 0;
    *null_out = 0;
    if (!j) return 0;
    if (cJSON_IsNull(j)) {
        *null_out = 1;
        return 1;
    }
    int64_t t;
    if (!cJSON_IsString(j) || strlen(j->valuestring) > 64 || pb_time_parse(j->valuestring, &t)) {
        pb_api_verr_add(v, key, DT_FORMAT_MSG);
        return 1;
    }
    int64_t day = 86400LL * 1000000LL;
    int64_t midnight = t >= 0 ? t - t % day : t - ((t % day) + day) % day;
    *us = is_end ? midnight + (23 * 3600 + 59 * 60) * 1000000LL : midnight;
    return 1;
}

/* Applies the writable cycle fields of body to o. Returns 0 or non-zero with v filled. */
static int cycle_fields(const cJSON *body, cJSON *o, int create, pb_api_verr *v)
{
    const char *s = NULL;
    int has = pb_api_get_str(body, "name", 0, 0, 255, &s, v);
    if (!has && create) pb_api_verr_add(v, "name", "This field is required.");
    if (has && s) pb_more_set_str(o, "name", s);
    if (pb_api_get_str(body, "description", 0, 1, 1u << 20, &s, v) && s) pb_more_set_str(o, "description", s);
    if (pb_more_opt_str(body, "external_source", 255, &s, v)) pb_more_set_str(o, "external_source", s);
    if (pb_more_opt_str(body, "external_id", 255, &s, v)) pb_more_set_str(o, "external_id", s);
    if (pb_api_get_str(body, "timezone", 0, 0, 64, &s, v) && s) pb_more_set_str(o, "timezone", s);
    double d;
    if (pb_api_get_double(body, "sort_order", &d, v)) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "sort_order");
        cJSON_AddNumberToObject(o, "sort_order", d);
    }
    char uuid[37];
    if (pb_api_get_uuid(body, "owned_by", 0, uuid, v) && uuid[0]) pb_more_set_str(o, "owned_by", uuid);
    static const char *const objs[] = {"view_props", "logo_props", NULL};
    for (int i = 0; objs[i]; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(body, objs[i]);
        if (!j) continue;
        if (!cJSON_IsObject(j)) {
            pb_api_verr_add(v, objs[i], "Value must be valid JSON.");
            continue;
        }
        cJSON *dup = cJSON_Duplicate(j, 1);
        if (dup) cJSON_ReplaceItemInObjectCaseSensitive(o, objs[i], dup);
    }
    int64_t start, end;
    int snull, enull;
    int hs = get_cycle_date(body, "start_date", 0, &start, &snull, v);
    int he = get_cycle_date(body, "end_date", 1, &end, &enull, v);
    if (pb_api_verr_any(v)) return 1;
    if (hs) pb_more_set_time(o, "start_date", snull ? 0 : start);
    if (he) pb_more_set_time(o, "end_date", enull ? 0 : end);
    if (hs && he && start && end && start > end) {
        pb_api_verr_add(v, "non_field_errors", "Start date cannot exceed end date");
        return 1;
    }
    return 0;
}

static const char *const cycle_diff_keys[] = {
    "name",        "description", "start_date", "end_date",   "owned_by",   "sort_order",
    "view_props",  "logo_props",  "timezone",   "archived_at", "external_source",
    "external_id", "progress_snapshot", NULL};

static const pb_group_kind cycle_kind = {
    .type = "cycle",
    .pk_param = "cycle_id",
    .ref_param = "cycle_id",
    .users = cycle_users,
    .diff_keys = cycle_diff_keys,
    .counts = cycle_add_counts,
    .created_event = "cycle.created",
    .updated_event = "cycle.updated",
    .deleted_event = "cycle.deleted",
    .view_flag = "cycle_view",
    .disabled_msg = "Cycles are not enabled for this project",
    .ext_conflict_msg = "Cycle with the same external id and external source already exists",
    .archived_edit_msg = "Archived cycle cannot be edited",
    .owner_key = "owned_by",
    .delete_forbidden_msg = "Only admin or creator can delete the cycle",
    .empty_issues_msg = NULL, /* Plane's coded MISSING_WORK_ITEMS body */
    .archive_refusal = cycle_archive_refusal,
    .add_refusal = cycle_add_refusal,
    .add_member = cycle_add_member,
};

/* ---------------------------------------------------------------- list / create */

static int cycle_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    pb_error err = {0};
    const char *view = pb_req_query(req, "cycle_view");
    if (!view || !*view) view = "all";
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, "cycle", a.project_id, NULL, PB_MORE_LIVE, 1, 0, -1, &rows, &n,
                          NULL, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    int64_t now = pb_now_us();
    /* filter in place (a project has few cycles) */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = pb_more_parse_raw(rows[i].raw, NULL);
        int64_t s = 0, e = 0;
        if (o) cycle_window(o, &s, &e);
        cJSON_Delete(o);
        int keep = 1;
        if (strcmp(view, "current") == 0) keep = s && e && s <= now && e >= now;
        else if (strcmp(view, "upcoming") == 0) keep = s && s > now;
        else if (strcmp(view, "completed") == 0) keep = e && e < now;
        else if (strcmp(view, "draft") == 0) keep = !s && !e;
        else if (strcmp(view, "incomplete") == 0) keep = !e || e >= now;
        if (keep) {
            if (k != i) {
                pb_more_row t = rows[k];
                rows[k] = rows[i];
                rows[i] = t;
            }
            k++;
        }
    }
    if (strcmp(view, "current") != 0) { /* the page of the kept rows */
        int64_t cnt = pb_api_page_count(&pg, (int64_t)k);
        pb_group_send_page(&a, &cycle_kind, &pg, (int64_t)k, cnt > 0 ? rows + pg.offset : NULL,
                           cnt > 0 ? (size_t)cnt : 0);
        goto out;
    }
    pb_api_fields fields, expand; /* Plane answers a plain array for the current cycle */
    pb_api_fields_from_query(req, &fields, &expand);
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    rc = pb_buf_putc(b, '[');
    for (size_t i = 0; !rc && i < k; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = pb_group_render(&a, &cycle_kind, rows[i].raw, &fields, &expand, b);
    }
    if (!rc) rc = pb_buf_putc(b, ']');
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    }
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

static int cycle_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    cJSON *body = NULL, *o = NULL;
    pb_api_verr v = {0};
    if (pb_api_parse_body(req, resp, 1, &body)) goto out;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(body, "start_date");
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(body, "end_date");
    int has_s = js && !cJSON_IsNull(js), has_e = je && !cJSON_IsNull(je);
    if (has_s != has_e) {
        pb_api_error(resp, 400, "Both start date and end date are either required or are to be null");
        goto out;
    }
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
    cJSON_AddNullToObject(o, "start_date");
    cJSON_AddNullToObject(o, "end_date");
    cJSON_AddItemToObject(o, "view_props", cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "sort_order", 65535);
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddItemToObject(o, "progress_snapshot", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "archived_at");
    cJSON_AddItemToObject(o, "logo_props", cJSON_CreateObject());
    pb_more_set_str(o, "timezone", "UTC");
    cJSON_AddNumberToObject(o, "version", 1);
    pb_more_set_str(o, "created_by", a.user_id);
    pb_more_set_str(o, "updated_by", a.user_id);
    pb_more_set_str(o, "project", a.project_id);
    pb_more_set_str(o, "owned_by", a.user_id);
    if (cycle_fields(body, o, 1, &v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_group_require_view(&a, &cycle_kind, &v) || pb_more_begin_write(&a)) goto out;
    pb_more_ws_id(&a, ws);
    pb_more_set_id(o, "workspace", ws);
    const char *es = pb_more_get_str(body, "external_source"), *ei = pb_more_get_str(body, "external_id");
    if (es && ei && pb_group_external_free(&a, &cycle_kind, es, ei, NULL)) goto out;
    pb_group_insert(&a, &cycle_kind, id, o, now);
out:
    pb_api_verr_free(&v);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

/* ---------------------------------------------------------------- detail */

static int cycle_get(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_get(req, resp, ctx, &cycle_kind);
}

static int cycle_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    cJSON *body = NULL, *before = NULL, *o = NULL;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    if (pb_group_update_begin(&a, &cycle_kind, pk, &body, &row, &before, &o)) goto out;
    int64_t s, e, now = pb_now_us();
    cycle_window(before, &s, &e);
    const cJSON *src = body;
    /* A completed cycle is refused unless the body carries sort_order. Plane means "then only
     * sort_order changes" but hands request.data (the whole body) to the serializer, so every
     * field of such a body is applied; kept as Plane does it. */
    if (e && e < now && !cJSON_GetObjectItemCaseSensitive(body, "sort_order")) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, "The Cycle has already been completed so it cannot be edited");
        goto out;
    }
    if (cycle_fields(src, o, 0, &v)) {
        pb_conn_rollback(a.conn);
        pb_api_verr_send(&v, resp);
        goto out;
    }
    /* the order rule again over the merged dates */
    int64_t ns, ne;
    cycle_window(o, &ns, &ne);
    if (ns && ne && ns > ne) {
        pb_conn_rollback(a.conn);
        pb_api_verr_add(&v, "non_field_errors", "Start date cannot exceed end date");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    pb_group_update_finish(&a, &cycle_kind, pk, &row, src, before, o);
out:
    pb_api_verr_free(&v);
    pb_more_row_clear(&row);
    cJSON_Delete(o);
    cJSON_Delete(before);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int cycle_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_delete(req, resp, ctx, &cycle_kind);
}

/* ---------------------------------------------------------------- archive */

static int cycle_archive(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_set_archived(req, resp, ctx, &cycle_kind, 1);
}

static int cycle_unarchive(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_set_archived(req, resp, ctx, &cycle_kind, 0);
}

static int cycle_archived_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_archived_list(req, resp, ctx, &cycle_kind);
}

/* ---------------------------------------------------------------- cycle-issues */

static int cycle_issues_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issues_list(req, resp, ctx, &cycle_kind);
}

static int cycle_issues_add(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issues_add(req, resp, ctx, &cycle_kind);
}

static int cycle_issue_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *cid = pb_api_uuid_param(req, resp, "cycle_id");
    const char *iid = cid ? pb_api_uuid_param(req, resp, "issue_id") : NULL;
    pb_more_member m;
    if (!iid || pb_more_find_membership(&a, "cycle", cid, iid, &m)) goto out;
    char ws[64];
    pb_more_ws_id(&a, ws);
    cJSON *o = pb_more_membership_json(&a, "cycle", &m, ws);
    if (!o) pb_api_internal(resp);
    else {
        pb_api_fields fields, expand;
        pb_api_fields_from_query(req, &fields, &expand);
        pb_api_fields_apply(o, &fields);
        pb_api_send_json(resp, 200, o);
    }
    cJSON_Delete(o);
out:
    pb_api_end(&a);
    return 0;
}

static int cycle_issue_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_group_issue_delete(req, resp, ctx, &cycle_kind);
}

static int cycle_transfer(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *cid = pb_api_uuid_param(req, resp, "cycle_id");
    cJSON *body = NULL, *before = NULL, *o = NULL, *tgt = NULL;
    char *raw = NULL;
    pb_more_row row = {0}, nrow = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!cid || pb_api_parse_body(req, resp, 1, &body)) goto out;
    char new_id[37] = "";
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(body, "new_cycle_id");
    if (!nj || cJSON_IsNull(nj) || (cJSON_IsString(nj) && !*nj->valuestring) || cJSON_IsFalse(nj)) {
        pb_api_error(resp, 400, "New Cycle Id is required");
        goto out;
    }
    pb_api_get_uuid(body, "new_cycle_id", 0, new_id, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_begin_write(&a) || pb_group_load(&a, &cycle_kind, cid, &row)) goto out;
    before = pb_more_parse_raw(row.raw, resp);
    if (!before) goto out;
    int64_t now_us = pb_now_us(), s, e;
    cycle_window(before, &s, &e);
    if (e && e > now_us) { /* only a cycle past its end date (or without one) hands work on */
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, "The old cycle is not completed yet");
        goto out;
    }
    int lrc = pb_more_get(a.conn, "cycle", a.project_id, NULL, new_id, &nrow, &err);
    const char *problem = NULL;
    if (lrc == PB_ENOTFOUND) problem = "Destination cycle not found";
    else if (lrc) {
        pb_more_fail(&a, lrc, &err);
        goto out;
    } else if (strcmp(new_id, cid) == 0) problem = "Source and destination cycles must be different";
    else if (row.archived_at) problem = "Archived cycles cannot be changed";
    if (problem) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, problem);
        goto out;
    }
    tgt = pb_more_parse_raw(nrow.raw, resp);
    o = tgt ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) goto out;
    cycle_window(tgt, &s, &e);
    if (e && e < now_us) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 400, "The cycle where the issues are transferred is already completed");
        goto out;
    }
    /* the progress snapshot of the finished cycle, as Plane keeps it */
    int64_t counts[6];
    int rc = pb_more_member_counts(a.conn, "cycle", cid, counts, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    cJSON *snap = cJSON_CreateObject();
    if (snap) {
        static const char *const keys[6] = {"total_issues",   "backlog_issues",   "unstarted_issues",
                                            "started_issues", "completed_issues", "cancelled_issues"};
        static const int order[6] = {0, 4, 5, 3, 2, 1};
        for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(snap, keys[order[i]], (double)counts[order[i]]);
        cJSON *dist = cJSON_AddObjectToObject(snap, "distribution");
        if (dist) {
            cJSON_AddArrayToObject(dist, "labels");
            cJSON_AddArrayToObject(dist, "assignees");
            cJSON_AddObjectToObject(dist, "completion_chart");
        }
        cJSON_AddObjectToObject(snap, "estimate_distribution");
        cJSON_ReplaceItemInObjectCaseSensitive(o, "progress_snapshot", snap);
    }
    int64_t moved = 0;
    rc = pb_more_member_transfer(a.conn, "cycle", cid, new_id, &moved, &err);
    if (!rc) rc = pb_group_save(&a, &cycle_kind, cid, before, o, pb_api_now(), &raw, &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    pb_resp_json(resp, 200, "{\"message\":\"Success\"}");
out:
    pb_api_verr_free(&v);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(tgt);
    cJSON_Delete(before);
    pb_more_row_clear(&row);
    pb_more_row_clear(&nrow);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

#define PJ "/api/v1/workspaces/{slug}/projects/{project_id}"

void pb_api_register_cycles(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {PJ "/cycles/"};
    static const char *const one[] = {PJ "/cycles/{pk}/"};
    static const char *const arch[] = {PJ "/cycles/{cycle_id}/archive/"};
    static const char *const archl[] = {PJ "/archived-cycles/"};
    static const char *const unarch[] = {PJ "/archived-cycles/{cycle_id}/unarchive/"};
    static const char *const ci[] = {PJ "/cycles/{cycle_id}/cycle-issues/"};
    static const char *const cione[] = {PJ "/cycles/{cycle_id}/cycle-issues/{issue_id}/"};
    static const char *const tr[] = {PJ "/cycles/{cycle_id}/transfer-issues/"};
    int rc = pb_more_route(srv, app, "GET", coll, 1, 0, cycle_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 1, 0, cycle_create);
    if (!rc) rc = pb_more_route(srv, app, "GET", one, 1, 0, cycle_get);
    if (!rc) rc = pb_more_route(srv, app, "PATCH", one, 1, 0, cycle_update);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", one, 1, 0, cycle_delete);
    if (!rc) rc = pb_more_route(srv, app, "POST", arch, 1, 0, cycle_archive);
    if (!rc) rc = pb_more_route(srv, app, "GET", archl, 1, 0, cycle_archived_list);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", unarch, 1, 0, cycle_unarchive);
    if (!rc) rc = pb_more_route(srv, app, "GET", ci, 1, 0, cycle_issues_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", ci, 1, 0, cycle_issues_add);
    if (!rc) rc = pb_more_route(srv, app, "GET", cione, 1, 0, cycle_issue_get);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", cione, 1, 0, cycle_issue_delete);
    if (!rc) rc = pb_more_route(srv, app, "POST", tr, 1, 0, cycle_transfer);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering cycle routes failed", PB_LI("code", rc));
}
