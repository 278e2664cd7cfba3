/* relations: work-item relations (Plane's IssueRelation) under both spellings.
 *
 *   GET   .../work-items/{issue_id}/relations/         all 8 keys, each [{project_id, issue_id}]
 *   POST  .../work-items/{issue_id}/relations/         {"relation_type", "issues":[uuid...]}
 *   POST  .../work-items/{issue_id}/relations/remove/  {"related_issue"} (the SDK's delete)
 *
 * Relations are stored as Plane stores them: blocking, start_after and finish_after become the
 * inverse blocked_by/start_before/finish_before row, so "A blocking B" reads back as
 * "B blocked_by A" from B's side. Related work items may live in other projects of the
 * workspace. Plane sends no webhook for relations; none is recorded in the outbox. */
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"
#include "store/plane_store.h"

#include <stdlib.h>
#include <string.h>

#define REL_MAX_ISSUES 1000

static int relation_list(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    pb_more_rel *rels = NULL;
    size_t n = 0;
    pb_error err = {0};
    /* like Plane, an unknown work item just has no relations (200 with the 8 empty keys) */
    if (!issue_id) goto out;
    int rc = pb_api_issue_check(a.conn, a.project_id, issue_id, 0, &err);
    if (rc == 0) rc = pb_more_relation_list(a.conn, issue_id, &rels, &n, &err);
    else if (rc == PB_ENOTFOUND) rc = 0; /* a deleted or unknown work item has none */
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    rc = pb_buf_putc(b, '{');
    for (int t = 0; !rc && t < PB_MORE_REL_TYPES; t++) {
        rc = pb_buf_printf(b, "%s\"%s\":[", t ? "," : "", pb_more_rel_types[t]);
        int first = 1;
        for (size_t i = 0; !rc && i < n; i++) {
            if (rels[i].type != t) continue;
            rc = pb_buf_printf(b, "%s{\"project_id\":\"%s\",\"issue_id\":\"%s\"}", first ? "" : ",",
                               rels[i].project_id, rels[i].issue_id);
            first = 0;
        }
        if (!rc) rc = pb_buf_putc(b, ']');
    }
    if (!rc) rc = pb_buf_putc(b, '}');
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    }
out:
    free(rels);
    pb_api_end(&a);
    return 0;
}

/* The related issue as Plane's RelatedIssueSerializer renders it. */
static cJSON *related_json(const pb_ps_item *it, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    pb_more_set_str(o, "id", it->id);
    pb_more_set_id(o, "project_id", it->project_id);
    cJSON_AddNumberToObject(o, "sequence_id", (double)it->sequence_id);
    pb_more_set_str(o, "relation_type", type);
    pb_more_set_str(o, "name", it->name);
    cJSON *raw = it->raw ? cJSON_Parse(it->raw) : NULL;
    const char *type_id = raw ? pb_more_get_str(raw, "type_id") : NULL;
    pb_more_set_str(o, "type_id", type_id);
    cJSON_AddBoolToObject(o, "is_epic", 0);
    pb_more_set_id(o, "state_id", it->state_id);
    pb_more_set_str(o, "priority", it->priority[0] ? it->priority : "none");
    pb_more_set_str(o, "created_by", it->created_by);
    pb_more_set_time(o, "created_at", it->created_at);
    pb_more_set_time(o, "updated_at", it->updated_at);
    pb_more_set_str(o, "updated_by", raw ? pb_more_get_str(raw, "updated_by") : NULL);
    cJSON_Delete(raw);
    return o;
}

static int relation_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    cJSON *body = NULL, *out = NULL;
    char(*ids)[37] = NULL;
    size_t nids = 0;
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!issue_id || pb_api_parse_body(req, resp, 1, &body)) goto out;
    const char *type = NULL;
    if (!pb_api_get_str(body, "relation_type", 0, 0, 32, &type, &v))
        pb_api_verr_add(&v, "relation_type", "This field is required.");
    else if (type && pb_more_rel_index(type) < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "\"%.40s\" is not a valid choice.", type);
        pb_api_verr_add(&v, "relation_type", msg);
    }
    if (!pb_api_get_uuid_list(body, "issues", REL_MAX_ISSUES, &ids, &nids, &v))
        pb_api_verr_add(&v, "issues", "This field is required.");
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (nids == 0) {
        pb_api_error(resp, 400, "Issues are required");
        goto out;
    }
    if (pb_more_begin_write(&a)) goto out;
    if (pb_more_require_issue(&a, issue_id)) goto out;
    out = cJSON_CreateArray();
    int64_t now = pb_api_now();
    int rc = 0;
    for (size_t i = 0; !rc && i < nids; i++) {
        if (strcmp(ids[i], issue_id) == 0) continue; /* an item never relates to itself */
        pb_ps_item it;
        memset(&it, 0, sizeof it);
        rc = pb_ps_item_get(a.conn, PB_MORE_ISSUE_TYPE, NULL, ids[i], &it, &err);
        if (rc == 0 && strcmp(it.slug, a.slug) != 0) rc = PB_ENOTFOUND;
        if (rc == PB_ENOTFOUND) { /* Plane: a foreign-key failure, answered as IntegrityError */
            pb_ps_item_clear(&it);
            pb_conn_rollback(a.conn);
            pb_api_error(resp, 400, "The payload is not valid");
            goto out;
        }
        if (!rc) rc = pb_more_relation_add(a.conn, issue_id, type, ids[i], now, &err);
        if (!rc) {
            cJSON *r = related_json(&it, type);
            if (r) cJSON_AddItemToArray(out, r);
        }
        pb_ps_item_clear(&it);
    }
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    pb_api_send_json(resp, 201, out);
out:
    pb_api_verr_free(&v);
    free(ids);
    cJSON_Delete(out);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int relation_remove(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    cJSON *body = NULL;
    pb_api_verr v = {0};
    pb_error err = {0};
    char related[37];
    if (!issue_id || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (!pb_api_get_uuid(body, "related_issue", 0, related, &v))
        pb_api_verr_add(&v, "related_issue", "This field is required.");
    if (pb_api_verr_any(&v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_begin_write(&a) || pb_more_require_issue(&a, issue_id)) goto out;
    int64_t removed = 0;
    int rc = pb_more_relation_remove(a.conn, issue_id, related, &removed, &err);
    if (rc) {
        pb_more_fail(&a, rc, &err);
        goto out;
    }
    if (removed == 0) {
        pb_conn_rollback(a.conn);
        pb_api_not_found(resp);
        goto out;
    }
    rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    if (pb_more_end_write(&a, rc, &err)) goto out;
    pb_resp_status(resp, 204);
out:
    pb_api_verr_free(&v);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

#define WI "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}"
#define IS "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}"

void pb_api_register_relations(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {WI "/relations/", IS "/relations/"};
    static const char *const rm[] = {WI "/relations/remove/", IS "/relations/remove/"};
    int rc = pb_more_route(srv, app, "GET", coll, 2, 0, relation_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 2, 0, relation_create);
    if (!rc) rc = pb_more_route(srv, app, "POST", rm, 2, 0, relation_remove);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering relation routes failed", PB_LI("code", rc));
}
