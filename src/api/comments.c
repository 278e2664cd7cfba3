/* comments: work-item comments (Plane's IssueComment) under both spellings, plus the helpers
 * shared by the api_more files (declared in api_more.h).
 *
 *   GET/POST          .../projects/{project_id}/work-items/{issue_id}/comments/
 *   GET/PATCH/DELETE  .../projects/{project_id}/work-items/{issue_id}/comments/{pk}/
 *
 * Any active project member, guests included, may write comments (Plane's ProjectLitePermission).
 * Writes record issue_comment.created|updated|deleted in the outbox in the same transaction
 * and touch the parent work item's updated_at (Plane's activity task does the same). */
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"
#include "api/api.h"
#include "store/plane_store.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ shared helpers */

int pb_more_route(pb_server *srv, pb_app *app, const char *method, const char *const *patterns,
                  size_t n, unsigned flags, pb_handler_fn fn)
{
    for (size_t i = 0; i < n; i++) {
        pb_route r = {method, patterns[i], NULL, flags, fn, app};
        int rc = pb_server_route(srv, &r);
        if (rc) return rc;
    }
    return 0;
}

void pb_more_ws_id(pb_api_req *a, char out[64])
{
    const char *ws = pb_api_ws_id(a);
    pb_strlcpy(out, ws ? ws : "", 64);
}

cJSON *pb_more_parse_raw(const char *raw, pb_resp *resp)
{
    cJSON *o = raw ? cJSON_Parse(raw) : NULL;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        if (resp) pb_api_internal(resp);
        return NULL;
    }
    return o;
}

void pb_more_set_str(cJSON *obj, const char *key, const char *s)
{
    cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else cJSON_AddItemToObject(obj, key, v);
}

void pb_more_set_id(cJSON *obj, const char *key, const char *s)
{
    cJSON *v = (s && *s) ? cJSON_CreateString(s) : cJSON_CreateNull();
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else cJSON_AddItemToObject(obj, key, v);
}

void pb_more_set_time(cJSON *obj, const char *key, int64_t us)
{
    cJSON *v = pb_api_time_json(us);
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else cJSON_AddItemToObject(obj, key, v);
}

const char *pb_more_get_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int pb_more_save(pb_api_req *a, const char *id, const cJSON *before, cJSON *o, int64_t now, const char *event,
                 const char *const *diff_keys, pb_more_counts_fn counts, char **raw_out, pb_error *err)
{
    pb_more_set_time(o, "updated_at", now);
    pb_more_set_str(o, "updated_by", a->user_id);
    char *raw = cJSON_PrintUnformatted(o);
    if (!raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    const char *arch = pb_more_get_str(o, "archived_at");
    int64_t archived = 0;
    if (arch && pb_time_parse(arch, &archived)) archived = 0;
    int rc = pb_more_update(a->conn, id, pb_more_get_str(o, "name"), pb_more_get_str(o, "external_source"),
                            pb_more_get_str(o, "external_id"), now, archived, raw, err);
    cJSON *prev = cJSON_CreateObject();
    if (!rc && !prev) rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    if (!rc) {
        pb_api_diff(before, o, diff_keys, prev);
        cJSON *data = cJSON_Duplicate(o, 1);
        if (data && counts) rc = counts(a, data, id);
        if (!rc) rc = pb_api_outbox(a->conn, event, a->slug, a->project_id, id, data ? data : o, prev, err);
        cJSON_Delete(data);
    }
    cJSON_Delete(prev);
    if (rc) {
        free(raw);
        return rc;
    }
    *raw_out = raw;
    return 0;
}

/* ?expand= on the objects of this half: user keys -> UserLite, issue -> the full work item,
 * project -> ProjectLite, workspace -> WorkspaceLite (the last two as workitems.c does them). */
static void expand_object(pb_api_req *a, cJSON *obj, const char *const *users, const pb_api_fields *expand)
{
    for (size_t i = 0; users && users[i]; i++)
        if (pb_api_fields_has(expand, users[i])) pb_api_expand_users(a->conn, obj, users[i], NULL);
    const char *issue = pb_more_get_str(obj, "issue");
    if (issue && pb_api_fields_has(expand, "issue")) {
        pb_buf ib;
        pb_buf_init(&ib, PB_BUF_DEFAULT_MAX);
        cJSON *full = NULL;
        if (pb_api_issue_json(a->conn, issue, &ib, NULL) == 0) full = cJSON_Parse(pb_buf_cstr(&ib));
        pb_buf_free(&ib);
        cJSON_ReplaceItemInObjectCaseSensitive(obj, "issue", full ? full : cJSON_CreateNull());
    }
    /* workspace first, through workitems.c (it reads obj["project"], so that stays a string) */
    if (pb_api_fields_has(expand, "workspace")) {
        pb_api_fields sub;
        pb_api_fields_parse("workspace", &sub);
        pb_api_expand_issue(a, obj, &sub);
    }
    const char *pid = pb_more_get_str(obj, "project");
    if (pid && pb_api_fields_has(expand, "project")) { /* ProjectLite */
        pb_ps_project p;
        cJSON *lite = NULL;
        if (pb_ps_project_get(a->conn, a->slug ? a->slug : "", pid, &p, NULL) == 0) {
            cJSON *full = cJSON_Parse(p.raw);
            lite = cJSON_CreateObject();
            static const char *const keys[] = {"id", "identifier", "name", "cover_image", "icon_prop",
                                               "emoji", "description", NULL};
            for (int k = 0; lite && keys[k]; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(full, keys[k]);
                cJSON_AddItemToObject(lite, keys[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
            }
            cJSON_Delete(full);
            pb_ps_project_clear(&p);
        }
        cJSON_ReplaceItemInObjectCaseSensitive(obj, "project", lite ? lite : cJSON_CreateNull());
    }
}

int pb_more_render(pb_api_req *a, cJSON *obj, const char *const *users, const pb_api_fields *fields,
                   const pb_api_fields *expand, pb_buf *b)
{
    if (expand && expand->n > 0) expand_object(a, obj, users, expand);
    if (fields) pb_api_fields_apply(obj, fields);
    char *s = cJSON_PrintUnformatted(obj);
    if (!s) return PB_ENOMEM;
    int rc = pb_buf_puts(b, s);
    free(s);
    return rc;
}

void pb_more_send_row(pb_api_req *a, int status, const char *raw, const char *const *users)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    if (expand.n == 0) {
        pb_api_send_raw(a->resp, status, raw, &fields);
        return;
    }
    cJSON *o = pb_more_parse_raw(raw, a->resp);
    if (!o) return;
    pb_resp_status(a->resp, status);
    if (pb_more_render(a, o, users, &fields, &expand, pb_resp_body(a->resp))) pb_api_internal(a->resp);
    cJSON_Delete(o);
}

void pb_more_send_page(pb_api_req *a, const pb_api_page *pg, int64_t total,
                       const pb_more_row *rows, size_t n, const char *const *users)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_resp_status(a->resp, 200);
    int rc = pb_api_envelope_begin(b, pg, total);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (rc) break;
        if (expand.n == 0) {
            rc = pb_api_append_raw(b, rows[i].raw, &fields);
        } else {
            cJSON *o = pb_more_parse_raw(rows[i].raw, NULL);
            if (!o) {
                rc = PB_EPARSE;
                break;
            }
            rc = pb_more_render(a, o, users, &fields, &expand, b);
            cJSON_Delete(o);
        }
    }
    if (!rc) rc = pb_api_envelope_end(b);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
    }
}

void pb_more_send_rendered(pb_api_req *a, int status, const char *raw, pb_more_render_fn fn, const void *arg)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_resp_status(a->resp, status);
    if (fn(a, arg, raw, &fields, &expand, b)) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
    }
}

void pb_more_send_rendered_page(pb_api_req *a, const pb_api_page *pg, int64_t total, const pb_more_row *rows,
                                size_t n, pb_more_render_fn fn, const void *arg)
{
    pb_api_fields fields, expand;
    pb_api_fields_from_query(a->req, &fields, &expand);
    pb_buf *b = pb_resp_body(a->resp);
    pb_resp_status(a->resp, 200);
    int rc = pb_api_envelope_begin(b, pg, total);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i) rc = pb_buf_putc(b, ',');
        if (!rc) rc = fn(a, arg, rows[i].raw, &fields, &expand, b);
    }
    if (!rc) rc = pb_api_envelope_end(b);
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(a->resp);
    }
}

int pb_more_lookup_result(pb_api_req *a, int rc, const pb_error *err)
{
    if (rc == 0) return 0;
    pb_conn_rollback(a->conn);
    if (rc == PB_ENOTFOUND) pb_api_not_found(a->resp);
    else pb_api_fail(a->resp, rc, err);
    return 1;
}

int pb_more_external_free(pb_api_req *a, const char *type, const char *es, const char *ei, const char *msg,
                          const char *answer_id)
{
    char dup[40];
    pb_error err = {0};
    int rc = pb_more_find_external(a->conn, type, a->project_id, es, ei, dup, &err);
    if (rc == PB_ENOTFOUND) return 0;
    if (rc == 0) {
        pb_conn_rollback(a->conn);
        pb_api_conflict(a->resp, msg, answer_id ? answer_id : dup);
    } else {
        pb_more_fail(a, rc, &err);
    }
    return 1;
}

int pb_more_end_write(pb_api_req *a, int rc, const pb_error *err)
{
    if (rc) {
        pb_more_fail(a, rc, err);
        return 1;
    }
    return pb_more_commit(a);
}

void pb_more_finish(pb_api_req *a, int rc, const pb_error *err, int status, const char *raw,
                    const char *const *users)
{
    if (pb_more_end_write(a, rc, err)) return;
    if (raw) pb_more_send_row(a, status, raw, users);
    else pb_resp_status(a->resp, status);
}

int pb_more_child_list(pb_req *req, pb_resp *resp, void *ctx, const char *type, const char *const *users)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    pb_error err = {0};
    /* Plane filters by the issue id: an unknown work item lists nothing (200), no 404 */
    if (!issue_id || pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, type, a.project_id, issue_id, PB_MORE_ANY, 1, pg.offset, pg.per_page, &rows,
                          &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else pb_more_send_page(&a, &pg, total, rows, n, users);
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

int pb_more_child_get(pb_req *req, pb_resp *resp, void *ctx, const char *type, const char *const *users)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    const char *pk = issue_id ? pb_api_uuid_param(req, resp, "pk") : NULL;
    pb_more_row row = {0};
    pb_error err = {0};
    if (!pk) goto out;
    int rc = pb_more_get(a.conn, type, a.project_id, issue_id, pk, &row, &err);
    if (rc == PB_ENOTFOUND) pb_api_not_found(resp);
    else if (rc) pb_api_fail(resp, rc, &err);
    else pb_more_send_row(&a, 200, row.raw, users);
out:
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

int pb_more_child_load(pb_api_req *a, const char *type, const char *issue_id, const char *pk,
                       pb_more_row *row)
{
    pb_error err = {0};
    int rc = pb_more_get(a->conn, type, a->project_id, issue_id, pk, row, &err);
    if (rc == 0) return 0;
    if (rc == PB_ENOTFOUND) {
        pb_conn_rollback(a->conn);
        pb_api_not_found(a->resp);
    } else {
        pb_more_fail(a, rc, &err);
    }
    return 1;
}

int pb_more_child_delete(pb_req *req, pb_resp *resp, void *ctx, unsigned flags, const char *type,
                         const char *deleted_event)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, flags)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    const char *pk = issue_id ? pb_api_uuid_param(req, resp, "pk") : NULL;
    pb_more_row row = {0};
    cJSON *o = NULL;
    pb_error err = {0};
    if (!pk || pb_more_begin_write(&a) || pb_more_child_load(&a, type, issue_id, pk, &row)) goto out;
    if (deleted_event) {
        o = cJSON_CreateObject();
        pb_more_set_str(o, "id", pk);
        pb_more_set_str(o, "issue", issue_id);
    }
    int rc = pb_more_soft_delete(a.conn, pk, pb_api_now(), &err);
    if (!rc && deleted_event)
        rc = pb_api_outbox(a.conn, deleted_event, a.slug, a.project_id, pk, o, NULL, &err);
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    pb_more_finish(&a, rc, &err, 204, NULL, NULL);
out:
    cJSON_Delete(o);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

int pb_more_opt_str(const cJSON *body, const char *key, size_t maxlen, const char **out,
                    pb_api_verr *v)
{
    *out = NULL;
    return pb_api_get_str(body, key, 1, 1, maxlen, out, v);
}

int pb_more_begin_write(pb_api_req *a)
{
    pb_error err = {0};
    if (pb_conn_begin_write(a->conn, &err) == 0) return 0;
    pb_api_fail(a->resp, err.code ? err.code : PB_ESTORE, &err);
    return 1;
}

int pb_more_commit(pb_api_req *a)
{
    pb_error err = {0};
    int rc = pb_conn_commit(a->conn, &err);
    if (rc == 0) return 0;
    pb_conn_rollback(a->conn);
    pb_resp_status(a->resp, 500);
    pb_buf_reset(pb_resp_body(a->resp));
    pb_api_fail(a->resp, rc, &err);
    return 1;
}

void pb_more_fail(pb_api_req *a, int code, const pb_error *err)
{
    pb_conn_rollback(a->conn);
    pb_buf_reset(pb_resp_body(a->resp));
    pb_api_fail(a->resp, code, err);
}

int pb_more_require_issue(pb_api_req *a, const char *issue_id)
{
    pb_error err = {0};
    return pb_more_lookup_result(a, pb_api_issue_check(a->conn, a->project_id, issue_id, 0, &err), &err);
}

int pb_more_project_flag(pb_api_req *a, const char *flag, int *value)
{
    pb_ps_project p;
    pb_error err = {0};
    memset(&p, 0, sizeof p);
    *value = 0;
    int rc = pb_ps_project_get(a->conn, a->slug, a->project_id, &p, &err);
    if (rc) return rc;
    cJSON *o = pb_more_parse_raw(p.raw, NULL);
    pb_ps_project_clear(&p);
    if (!o) return PB_EPARSE;
    *value = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, flag));
    cJSON_Delete(o);
    return 0;
}

/* ================================================================ comments */

static const char *const comment_users[] = {"actor", "created_by", "updated_by", NULL};

#define COMMENT_EXT_CONFLICT "Issue Comment with the same external id and external source already exists"

/* Validates the writable comment fields into `o` (create: all keys; update: present keys).
 * Returns 0 when valid, else non-zero with v filled. */
static int comment_fields(const cJSON *body, cJSON *o, pb_api_verr *v)
{
    const char *s = NULL;
    if (pb_api_get_str(body, "comment_html", 0, 1, 1u << 20, &s, v) && s)
        pb_more_set_str(o, "comment_html", s);
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(body, "comment_json");
    (void)cj; /* accepted, never output (Plane keeps it server-side) */
    if (pb_api_get_str(body, "access", 0, 0, 16, &s, v) && s) {
        if (strcmp(s, "INTERNAL") != 0 && strcmp(s, "EXTERNAL") != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "\"%.40s\" is not a valid choice.", s);
            pb_api_verr_add(v, "access", msg);
        } else {
            pb_more_set_str(o, "access", s);
        }
    }
    if (pb_more_opt_str(body, "external_source", 255, &s, v)) pb_more_set_str(o, "external_source", s);
    if (pb_more_opt_str(body, "external_id", 255, &s, v)) pb_more_set_str(o, "external_id", s);
    return pb_api_verr_any(v);
}

static int comment_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_list(req, resp, ctx, "comment", comment_users);
}

static int comment_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!issue_id || pb_api_parse_body(req, resp, 1, &body)) goto out;

    o = cJSON_CreateObject();
    char id[37], ws[64];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    const char *created_by = pb_more_get_str(body, "created_by");
    pb_more_set_str(o, "id", id);
    pb_more_set_time(o, "created_at", now);
    pb_more_set_time(o, "updated_at", now);
    cJSON_AddNullToObject(o, "deleted_at");
    pb_more_set_str(o, "comment_html", "<p></p>");
    cJSON_AddItemToObject(o, "attachments", cJSON_CreateArray());
    pb_more_set_str(o, "access", "INTERNAL");
    cJSON_AddNullToObject(o, "external_source");
    cJSON_AddNullToObject(o, "external_id");
    cJSON_AddNullToObject(o, "edited_at");
    if (comment_fields(body, o, &v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    /* Plane lets an importer set created_by / created_at on create. */
    if (created_by && !pb_api_uuid_ok(created_by)) {
        pb_api_field_error(resp, "created_by", "Must be a valid UUID.");
        goto out;
    }
    const char *created_at_s = pb_more_get_str(body, "created_at");
    if (created_at_s) {
        int64_t t;
        if (pb_time_parse(created_at_s, &t)) {
            pb_api_field_error(resp, "created_at",
                               "Datetime has wrong format. Use one of these formats instead: "
                               "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].");
            goto out;
        }
        pb_more_set_time(o, "created_at", t);
    }
    pb_more_set_str(o, "created_by", created_by ? created_by : a.user_id);
    pb_more_set_str(o, "updated_by", a.user_id);
    pb_more_set_str(o, "project", a.project_id);
    if (pb_more_begin_write(&a)) goto out;
    pb_more_ws_id(&a, ws);
    pb_more_set_id(o, "workspace", ws);
    pb_more_set_str(o, "issue", issue_id);
    pb_more_set_str(o, "actor", a.user_id);
    cJSON_AddNullToObject(o, "parent");
    if (pb_more_require_issue(&a, issue_id)) goto out;

    const char *es = pb_more_get_str(o, "external_source"), *ei = pb_more_get_str(o, "external_id");
    if (pb_more_get_str(body, "external_source") && pb_more_get_str(body, "external_id") &&
        pb_more_external_free(&a, "comment", es, ei, COMMENT_EXT_CONFLICT, NULL))
        goto out;
    raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    pb_more_new nw = {.id = id,
                      .item_type = "comment",
                      .slug = a.slug,
                      .project_id = a.project_id,
                      .parent_id = issue_id,
                      .ext_source = es,
                      .ext_id = ei,
                      .created_by = created_by ? created_by : a.user_id,
                      .created_at = now,
                      .raw = raw};
    int rc = pb_more_insert(a.conn, &nw, &err);
    if (!rc) rc = pb_api_outbox(a.conn, "issue_comment.created", a.slug, a.project_id, id, o, NULL, &err);
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    pb_more_finish(&a, rc, &err, 201, raw, comment_users);
out:
    pb_api_verr_free(&v);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int comment_get(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_get(req, resp, ctx, "comment", comment_users);
}

static int comment_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    const char *pk = issue_id ? pb_api_uuid_param(req, resp, "pk") : NULL;
    cJSON *body = NULL, *before = NULL, *o = NULL, *prev = NULL;
    char *raw = NULL;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!pk || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (pb_more_begin_write(&a) || pb_more_child_load(&a, "comment", issue_id, pk, &row)) goto out;
    before = pb_more_parse_raw(row.raw, resp);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) goto out;
    if (comment_fields(body, o, &v)) {
        pb_conn_rollback(a.conn);
        pb_api_verr_send(&v, resp);
        goto out;
    }
    /* IssueCommentSerializer.validate parses comment_html with lxml: an empty document is
     * "Invalid HTML passed" (only on update; the create serializer does not validate). */
    const char *html = pb_more_get_str(body, "comment_html");
    if (html && html[strspn(html, " \t\r\n")] == '\0') {
        pb_conn_rollback(a.conn);
        pb_api_verr_add(&v, "non_field_errors", "Invalid HTML passed");
        pb_api_verr_send(&v, resp);
        goto out;
    }
    /* 409 only when external_id changes to a pair another comment already has; the id in the
     * body is the comment being patched (Plane's quirk). */
    const char *new_ei = pb_more_get_str(body, "external_id");
    if (new_ei && strcmp(new_ei, row.ext_id) != 0) {
        const char *es = pb_more_get_str(body, "external_source");
        if (pb_more_external_free(&a, "comment", es ? es : row.ext_source, new_ei, COMMENT_EXT_CONFLICT, pk))
            goto out;
    }
    int64_t now = pb_api_now();
    pb_more_set_time(o, "updated_at", now);
    pb_more_set_str(o, "updated_by", a.user_id);
    if (cJSON_GetObjectItemCaseSensitive(body, "comment_html")) pb_more_set_time(o, "edited_at", now);
    raw = cJSON_PrintUnformatted(o);
    prev = cJSON_CreateObject();
    static const char *const keys[] = {"comment_html", "access", "external_source", "external_id",
                                       NULL};
    if (!raw || !prev) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    pb_api_diff(before, o, keys, prev);
    int rc = pb_more_update(a.conn, pk, NULL, pb_more_get_str(o, "external_source"),
                            pb_more_get_str(o, "external_id"), now, 0, raw, &err);
    if (!rc) rc = pb_api_outbox(a.conn, "issue_comment.updated", a.slug, a.project_id, pk, o, prev, &err);
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    pb_more_finish(&a, rc, &err, 200, raw, comment_users);
out:
    pb_api_verr_free(&v);
    pb_more_row_clear(&row);
    free(raw);
    cJSON_Delete(prev);
    cJSON_Delete(o);
    cJSON_Delete(before);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int comment_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_delete(req, resp, ctx, PB_API_PROJECT, "comment", "issue_comment.deleted");
}

#define WI "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}"
#define IS "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}"

void pb_api_register_comments(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {WI "/comments/", IS "/comments/"};
    static const char *const one[] = {WI "/comments/{pk}/", IS "/comments/{pk}/"};
    int rc = pb_more_route(srv, app, "GET", coll, 2, 0, comment_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 2, 0, comment_create);
    if (!rc) rc = pb_more_route(srv, app, "GET", one, 2, 0, comment_get);
    if (!rc) rc = pb_more_route(srv, app, "PATCH", one, 2, 0, comment_update);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", one, 2, 0, comment_delete);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering comment routes failed", PB_LI("code", rc));
}
