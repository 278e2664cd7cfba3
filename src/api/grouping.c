/* grouping: the handlers and helpers cycles and modules share (see grouping.h), and the
 * membership helpers of api_more.h. */
#include "api/grouping.h"

#include "core/util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX_ISSUES 1000

/* ---------------------------------------------------------------- objects */

int pb_group_add_counts(pb_api_req *a, const char *type, cJSON *o, const char *id)
{
    static const char *const keys[6] = {"total_issues",   "backlog_issues",   "unstarted_issues",
                                        "started_issues", "completed_issues", "cancelled_issues"};
    int64_t counts[6];
    pb_error err = {0};
    int rc = pb_more_member_counts(a->conn, type, id, counts, &err);
    if (rc) return rc;
    for (int i = 0; i < 6; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
        cJSON_AddNumberToObject(o, keys[i], (double)counts[i]);
    }
    return 0;
}

int pb_group_render(pb_api_req *a, const void *kind, const char *raw, const pb_api_fields *fields,
                    const pb_api_fields *expand, pb_buf *b)
{
    const pb_group_kind *k = kind;
    cJSON *o = pb_more_parse_raw(raw, NULL);
    if (!o) return PB_EPARSE;
    const char *id = pb_more_get_str(o, "id");
    int rc = k->counts(a, o, id ? id : "");
    if (!rc) rc = pb_more_render(a, o, k->users, fields, expand, b);
    cJSON_Delete(o);
    return rc;
}

void pb_group_send(pb_api_req *a, const pb_group_kind *kind, int status, const char *raw)
{
    pb_more_send_rendered(a, status, raw, pb_group_render, kind);
}

void pb_group_send_page(pb_api_req *a, const pb_group_kind *kind, const pb_api_page *pg, int64_t total,
                        const pb_more_row *rows, size_t n)
{
    pb_more_send_rendered_page(a, pg, total, rows, n, pb_group_render, kind);
}

int pb_group_load(pb_api_req *a, const pb_group_kind *kind, const char *id, pb_more_row *row)
{
    pb_error err = {0};
    int rc = pb_more_get(a->conn, kind->type, a->project_id, NULL, id, row, &err);
    return pb_more_lookup_result(a, rc, &err);
}

int pb_group_save(pb_api_req *a, const pb_group_kind *kind, const char *id, const cJSON *before, cJSON *o,
                  int64_t now, char **raw_out, pb_error *err)
{
    return pb_more_save(a, id, before, o, now, kind->updated_event, kind->diff_keys, kind->counts, raw_out,
                        err);
}

int pb_group_require_view(pb_api_req *a, const pb_group_kind *kind, pb_api_verr *v)
{
    int on = 0;
    int rc = pb_more_project_flag(a, kind->view_flag, &on);
    if (rc) {
        pb_api_fail(a->resp, rc, NULL);
        return 1;
    }
    if (!on) {
        pb_api_verr_add(v, "non_field_errors", kind->disabled_msg);
        pb_api_verr_send(v, a->resp);
        return 1;
    }
    return 0;
}

int pb_group_external_free(pb_api_req *a, const pb_group_kind *kind, const char *es, const char *ei,
                           const char *answer_id)
{
    return pb_more_external_free(a, kind->type, es, ei, kind->ext_conflict_msg, answer_id);
}

void pb_group_insert(pb_api_req *a, const pb_group_kind *kind, const char *id, cJSON *o, int64_t now)
{
    pb_error err = {0};
    char *raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(a, PB_ENOMEM, NULL);
        return;
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
    pb_more_new nw = {.id = id,
                      .item_type = kind->type,
                      .slug = a->slug,
                      .project_id = a->project_id,
                      .name = pb_more_get_str(o, "name"),
                      .ext_source = pb_more_get_str(o, "external_source"),
                      .ext_id = pb_more_get_str(o, "external_id"),
                      .created_by = a->user_id,
                      .sort_order = cJSON_IsNumber(so) ? so->valuedouble : 65535,
                      .created_at = now,
                      .raw = raw};
    int rc = pb_more_insert(a->conn, &nw, &err);
    if (!rc) rc = kind->counts(a, o, id);
    if (!rc) rc = pb_api_outbox(a->conn, kind->created_event, a->slug, a->project_id, id, o, NULL, &err);
    if (!pb_more_end_write(a, rc, &err)) pb_group_send(a, kind, 201, raw);
    free(raw);
}

int pb_group_update_begin(pb_api_req *a, const pb_group_kind *kind, const char *pk, cJSON **body,
                          pb_more_row *row, cJSON **before, cJSON **o)
{
    if (!pk || pb_api_parse_body(a->req, a->resp, 1, body)) return 1;
    if (pb_more_begin_write(a) || pb_group_load(a, kind, pk, row)) return 1;
    if (row->archived_at) {
        pb_conn_rollback(a->conn);
        pb_api_error(a->resp, 400, kind->archived_edit_msg);
        return 1;
    }
    *before = pb_more_parse_raw(row->raw, a->resp);
    *o = *before ? cJSON_Duplicate(*before, 1) : NULL;
    return *o == NULL;
}

void pb_group_update_finish(pb_api_req *a, const pb_group_kind *kind, const char *pk, const pb_more_row *row,
                            const cJSON *body, const cJSON *before, cJSON *o)
{
    const char *new_ei = pb_more_get_str(body, "external_id");
    if (new_ei && strcmp(new_ei, row->ext_id) != 0) {
        const char *es = pb_more_get_str(body, "external_source");
        if (pb_group_external_free(a, kind, es ? es : row->ext_source, new_ei, pk)) return;
    }
    char *raw = NULL;
    pb_error err = {0};
    int rc = pb_group_save(a, kind, pk, before, o, pb_api_now(), &raw, &err);
    if (!pb_more_end_write(a, rc, &err)) pb_group_send(a, kind, 200, raw);
    free(raw);
}

/* ---------------------------------------------------------------- handlers */

int pb_group_get(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    pb_more_row row = {0};
    if (!pk || pb_group_load(&a, kind, pk, &row)) goto out;
    if (row.archived_at) pb_api_not_found(resp); /* the detail GET hides archived groups */
    else pb_group_send(&a, kind, 200, row.raw);
out:
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

int pb_group_delete(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, "pk");
    pb_more_row row = {0};
    cJSON *o = NULL;
    pb_error err = {0};
    if (!pk || pb_more_begin_write(&a) || pb_group_load(&a, kind, pk, &row)) goto out;
    const char *owner = row.created_by;
    if (kind->owner_key) {
        o = pb_more_parse_raw(row.raw, resp);
        if (!o) goto out;
        owner = pb_more_get_str(o, kind->owner_key);
    }
    if ((!owner || strcmp(owner, a.user_id) != 0) && a.project_role != 20) {
        pb_conn_rollback(a.conn);
        pb_api_error(resp, 403, kind->delete_forbidden_msg);
        goto out;
    }
    if (!o) o = pb_more_parse_raw(row.raw, resp);
    if (!o) goto out;
    int rc = pb_more_member_clear(a.conn, kind->type, pk, &err);
    if (!rc) rc = pb_more_soft_delete(a.conn, pk, pb_api_now(), &err);
    if (!rc) rc = pb_api_outbox(a.conn, kind->deleted_event, a.slug, a.project_id, pk, o, NULL, &err);
    pb_more_finish(&a, rc, &err, 204, NULL, NULL);
out:
    cJSON_Delete(o);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

int pb_group_set_archived(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind, int archive)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *pk = pb_api_uuid_param(req, resp, kind->pk_param);
    pb_more_row row = {0};
    cJSON *before = NULL, *o = NULL;
    char *raw = NULL;
    pb_error err = {0};
    if (!pk || pb_more_begin_write(&a) || pb_group_load(&a, kind, pk, &row)) goto out;
    before = pb_more_parse_raw(row.raw, resp);
    o = before ? cJSON_Duplicate(before, 1) : NULL;
    if (!o) goto out;
    int64_t now = pb_api_now();
    if (archive) {
        const char *refusal = kind->archive_refusal(before);
        if (refusal) {
            pb_conn_rollback(a.conn);
            pb_api_error(resp, 400, refusal);
            goto out;
        }
        pb_more_set_time(o, "archived_at", now);
    } else {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "archived_at", cJSON_CreateNull());
    }
    int rc = pb_group_save(&a, kind, pk, before, o, now, &raw, &err);
    pb_more_finish(&a, rc, &err, 204, NULL, NULL);
out:
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(before);
    pb_more_row_clear(&row);
    pb_api_end(&a);
    return 0;
}

int pb_group_archived_list(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    pb_api_page pg;
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    pb_error err = {0};
    if (pb_api_page_from_query(req, resp, &pg)) goto out;
    int rc = pb_more_list(a.conn, kind->type, a.project_id, NULL, PB_MORE_ARCHIVED, 1, pg.offset, pg.per_page,
                          &rows, &n, &total, &err);
    if (rc) pb_api_fail(resp, rc, &err);
    else pb_group_send_page(&a, kind, &pg, total, rows, n);
out:
    pb_more_rows_free(rows, n);
    pb_api_end(&a);
    return 0;
}

/* ---------------------------------------------------------------- memberships */

/* A stable id for the (cycle|module, issue) membership row, which item_refs does not store:
 * the first 16 bytes of SHA-256 over both ids, shaped as a version-8 UUID. */
void pb_more_membership_id(const char *ref_id, const char *issue_id, char out[37])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char in[96];
    int n = snprintf(in, sizeof in, "%s/%s", ref_id, issue_id);
    if (n < 0) n = 0;
    if (!EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16) memset(md, 0, 16);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    char hex[33];
    pb_hex_encode(md, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* CycleIssue / ModuleIssue as Plane serializes the membership row. */
cJSON *pb_more_membership_json(pb_api_req *a, const char *kind, const pb_more_member *m,
                               const char *ws)
{
    char id[37];
    pb_more_membership_id(m->ref_id, m->issue_id, id);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    pb_more_set_str(o, "id", id);
    cJSON_AddNumberToObject(o, "sub_issues_count", 0);
    pb_more_set_time(o, "created_at", m->created_at);
    pb_more_set_time(o, "updated_at", m->created_at);
    cJSON_AddNullToObject(o, "deleted_at");
    pb_more_set_str(o, "created_by", a->user_id);
    pb_more_set_str(o, "updated_by", a->user_id);
    pb_more_set_str(o, "project", a->project_id);
    pb_more_set_id(o, "workspace", ws);
    pb_more_set_str(o, "issue", m->issue_id);
    pb_more_set_str(o, kind, m->ref_id);
    return o;
}

/* Every id must be a work item of the project (Plane: a foreign-key failure, 400). */
int pb_more_check_issues(pb_api_req *a, char (*ids)[37], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pb_error err = {0};
        int rc = pb_api_issue_check(a->conn, a->project_id, ids[i], 0, &err);
        if (rc == 0) continue;
        pb_conn_rollback(a->conn);
        if (rc == PB_ENOTFOUND) pb_api_error(a->resp, 400, "The payload is not valid");
        else pb_api_fail(a->resp, rc, &err);
        return 1;
    }
    return 0;
}

/* Answers with the plain array of membership rows of ref_id. */
void pb_more_send_memberships(pb_api_req *a, const char *kind, const char *ref_id, int status)
{
    pb_more_member *ms = NULL;
    size_t n = 0;
    pb_error err = {0};
    char ws[64];
    pb_more_ws_id(a, ws);
    int rc = pb_more_member_list(a->conn, kind, ref_id, &ms, &n, &err);
    if (rc) {
        pb_api_fail(a->resp, rc, &err);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = pb_more_membership_json(a, kind, &ms[i], ws);
        if (o) cJSON_AddItemToArray(arr, o);
    }
    free(ms);
    if (!arr) {
        pb_api_internal(a->resp);
        return;
    }
    pb_api_send_json(a->resp, status, arr);
    cJSON_Delete(arr);
}

/* The membership of issue_id in ref_id, or 404. */
int pb_more_find_membership(pb_api_req *a, const char *kind, const char *ref_id,
                            const char *issue_id, pb_more_member *out)
{
    pb_more_member *cur = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_more_member_refs(a->conn, kind, issue_id, &cur, &n, &err);
    if (rc) {
        pb_conn_rollback(a->conn);
        pb_api_fail(a->resp, rc, &err);
        return 1;
    }
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(cur[i].ref_id, ref_id) == 0) {
            *out = cur[i];
            found = 1;
        }
    free(cur);
    if (found && pb_api_issue_check(a->conn, a->project_id, issue_id, 0, NULL) != 0) found = 0;
    if (!found) {
        pb_conn_rollback(a->conn);
        pb_api_not_found(a->resp);
        return 1;
    }
    return 0;
}

/* Reads {"issues":[...]} (non-empty) or answers 400. */
static int read_issue_ids(pb_api_req *a, const cJSON *body, const char *empty_msg, char (**ids)[37],
                          size_t *n)
{
    pb_api_verr v = {0};
    *ids = NULL;
    *n = 0;
    pb_api_get_uuid_list(body, "issues", GROUP_MAX_ISSUES, ids, n, &v);
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, a->resp);
        return 1;
    }
    pb_api_verr_free(&v);
    if (*n == 0) {
        if (empty_msg) {
            pb_api_error(a->resp, 400, empty_msg);
        } else { /* cycles: Plane adds a code */
            pb_resp_json(a->resp, 400, "{\"error\":\"Work items are required\",\"code\":\"MISSING_WORK_ITEMS\"}");
        }
        return 1;
    }
    return 0;
}

int pb_group_issues_list(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *ref = pb_api_uuid_param(req, resp, kind->ref_param);
    if (ref) pb_api_issue_list_by_ref(&a, kind->type, ref);
    pb_api_end(&a);
    return 0;
}

int pb_group_issues_add(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *ref = pb_api_uuid_param(req, resp, kind->ref_param);
    cJSON *body = NULL, *o = NULL;
    char(*ids)[37] = NULL;
    size_t n = 0;
    pb_more_row row = {0};
    pb_error err = {0};
    if (!ref || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (read_issue_ids(&a, body, kind->empty_issues_msg, &ids, &n)) goto out;
    if (pb_more_begin_write(&a) || pb_group_load(&a, kind, ref, &row)) goto out;
    if (kind->add_refusal) {
        o = pb_more_parse_raw(row.raw, resp);
        if (!o) goto out;
        const char *refusal = kind->add_refusal(o);
        if (refusal) {
            pb_conn_rollback(a.conn);
            pb_resp_json(resp, 400, refusal);
            goto out;
        }
    }
    if (pb_more_check_issues(&a, ids, n)) goto out;
    int64_t now = pb_api_now();
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (kind->add_member) rc = kind->add_member(&a, ids[i], ref, now, &err);
        else rc = pb_more_member_add(a.conn, kind->type, ids[i], ref, now, &err);
    }
    if (pb_more_end_write(&a, rc, &err)) goto out;
    pb_more_send_memberships(&a, kind->type, ref, 200);
out:
    free(ids);
    cJSON_Delete(o);
    pb_more_row_clear(&row);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

int pb_group_issue_delete(pb_req *req, pb_resp *resp, void *ctx, const pb_group_kind *kind)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *ref = pb_api_uuid_param(req, resp, kind->ref_param);
    const char *iid = ref ? pb_api_uuid_param(req, resp, "issue_id") : NULL;
    pb_more_member m;
    pb_error err = {0};
    if (!iid || pb_more_begin_write(&a) || pb_more_find_membership(&a, kind->type, ref, iid, &m)) goto out;
    int rc = pb_more_member_remove(a.conn, kind->type, iid, ref, NULL, &err);
    pb_more_finish(&a, rc, &err, 204, NULL, NULL);
out:
    pb_api_end(&a);
    return 0;
}
