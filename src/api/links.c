/* links: work-item links (Plane's IssueLink) under both spellings.
 *
 *   GET/POST          .../projects/{project_id}/work-items/{issue_id}/links/
 *   GET/PATCH/DELETE  .../projects/{project_id}/work-items/{issue_id}/links/{pk}/
 *
 * The url must be an http(s) URL Django's URLValidator accepts; the same url twice on one
 * work item answers 400 {"error":"URL already exists for this Issue"} (Plane's serializer).
 * Plane sends no webhook for links, so none is recorded in the outbox; writes touch the
 * parent work item's updated_at as Plane's activity task does. */
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const link_users[] = {"created_by", "updated_by", NULL};

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Checks the host[:port] part the way URLValidator does, roughly: localhost, an IPv4 address,
 * a bracketed IPv6 address, or dot-separated labels ending in an alphabetic TLD. */
static int host_ok(const char *h, size_t n)
{
    size_t end = n;
    if (n && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (!rb || rb == h + 1) return 0;
        for (const char *p = h + 1; p < rb; p++)
            if (!(is_alnum(*p) || *p == ':' || *p == '.')) return 0;
        end = (size_t)(rb - h) + 1;
        if (end == n) return 1;
        if (h[end] != ':') return 0;
    } else {
        const char *colon = memchr(h, ':', n);
        if (colon) end = (size_t)(colon - h);
    }
    if (end < n) { /* port */
        size_t i = end + 1;
        if (i == n || n - i > 5) return 0;
        for (; i < n; i++)
            if (h[i] < '0' || h[i] > '9') return 0;
    }
    if (h[0] == '[') return 1;
    if (end == 0) return 0;
    if (end == 9 && strncmp(h, "localhost", 9) == 0) return 1;
    /* labels */
    size_t label_start = 0, last_label = 0;
    int labels = 0, all_digits = 1;
    for (size_t i = 0; i <= end; i++) {
        if (i == end || h[i] == '.') {
            size_t len = i - label_start;
            if (len == 0) return i == end && labels > 0 && i > 0; /* trailing dot ok */
            if (len > 63 || h[label_start] == '-' || h[i - 1] == '-') return 0;
            last_label = label_start;
            labels++;
            label_start = i + 1;
            continue;
        }
        if (!(is_alnum(h[i]) || h[i] == '-' || (unsigned char)h[i] >= 0x80)) return 0;
        if (!(h[i] >= '0' && h[i] <= '9') && h[i] != '.') all_digits = 0;
    }
    if (all_digits) return labels == 4; /* IPv4 */
    if (labels < 2) return 0;
    size_t tld_len = end - last_label;
    if (tld_len < 2) return 0;
    for (size_t i = last_label; i < end; i++)
        if (!(is_alpha(h[i]) || (unsigned char)h[i] >= 0x80 || h[i] == '-')) {
            /* punycode TLDs (xn--...) are allowed */
            if (!(strncmp(h + last_label, "xn--", 4) == 0 && is_alnum(h[i]))) return 0;
        }
    return 1;
}

const char *pb_more_url_problem(const char *u)
{
    const char *sep = strstr(u, "://");
    if (!sep) return "Invalid URL format.";
    size_t sl = (size_t)(sep - u);
    int known = (sl == 4 && strncmp(u, "http", 4) == 0) || (sl == 5 && strncmp(u, "https", 5) == 0) ||
                (sl == 3 && strncmp(u, "ftp", 3) == 0) || (sl == 4 && strncmp(u, "ftps", 4) == 0);
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20) return "Invalid URL format.";
    const char *h = sep + 3;
    const char *at = NULL;
    size_t hn = strcspn(h, "/?#");
    for (size_t i = 0; i < hn; i++)
        if (h[i] == '@') at = h + i;
    if (at) { /* user:pass@host */
        hn -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (!known || hn == 0 || !host_ok(h, hn)) return "Invalid URL format.";
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) return "Invalid URL scheme.";
    return NULL;
}

/* Validates url/title/metadata into o. require_url on create. */
static int link_fields(const cJSON *body, cJSON *o, int require_url, pb_api_verr *v)
{
    const char *s = NULL;
    int has = pb_api_get_str(body, "url", 0, 0, 1u << 16, &s, v);
    if (!has && require_url) pb_api_verr_add(v, "url", "This field is required.");
    if (has && s) {
        const char *why = pb_more_url_problem(s);
        if (why) pb_api_verr_add(v, "url", why);
        else pb_more_set_str(o, "url", s);
    }
    if (pb_more_opt_str(body, "title", 255, &s, v)) pb_more_set_str(o, "title", s);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    if (md) {
        if (!cJSON_IsObject(md)) {
            pb_api_verr_add(v, "metadata", "Value must be valid JSON.");
        } else {
            cJSON *dup = cJSON_Duplicate(md, 1);
            if (dup) cJSON_ReplaceItemInObjectCaseSensitive(o, "metadata", dup);
        }
    }
    return pb_api_verr_any(v);
}

static int link_list(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_list(req, resp, ctx, "link", link_users);
}

static int url_taken(pb_api_req *a, const char *issue_id, const char *url, const char *except)
{
    int taken = 0;
    pb_error err = {0};
    int rc = pb_more_link_url_taken(a->conn, issue_id, url, except, &taken, &err);
    if (rc) {
        pb_more_fail(a, rc, &err);
        return 1;
    }
    if (taken) {
        pb_conn_rollback(a->conn);
        pb_api_error(a->resp, 400, "URL already exists for this Issue");
        return 1;
    }
    return 0;
}

static int link_create(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!issue_id || pb_api_parse_body(req, resp, 1, &body)) goto out;
    char id[37], ws[64];
    pb_uuid4(id);
    int64_t now = pb_api_now();
    o = cJSON_CreateObject();
    pb_more_set_str(o, "id", id);
    pb_more_set_time(o, "created_at", now);
    pb_more_set_time(o, "updated_at", now);
    cJSON_AddNullToObject(o, "deleted_at");
    cJSON_AddNullToObject(o, "title");
    cJSON_AddNullToObject(o, "url");
    cJSON_AddItemToObject(o, "metadata", cJSON_CreateObject());
    if (link_fields(body, o, 1, &v)) {
        pb_api_verr_send(&v, resp);
        goto out;
    }
    if (pb_more_begin_write(&a)) goto out;
    pb_more_ws_id(&a, ws);
    pb_more_set_str(o, "created_by", a.user_id);
    pb_more_set_str(o, "updated_by", a.user_id);
    pb_more_set_str(o, "project", a.project_id);
    pb_more_set_id(o, "workspace", ws);
    pb_more_set_str(o, "issue", issue_id);
    if (pb_more_require_issue(&a, issue_id)) goto out;
    const char *url = pb_more_get_str(o, "url");
    if (url_taken(&a, issue_id, url, NULL)) goto out;
    raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    pb_more_new nw = {.id = id,
                      .item_type = "link",
                      .slug = a.slug,
                      .project_id = a.project_id,
                      .parent_id = issue_id,
                      .name = url,
                      .created_by = a.user_id,
                      .created_at = now,
                      .raw = raw};
    int rc = pb_more_insert(a.conn, &nw, &err);
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    pb_more_finish(&a, rc, &err, 201, raw, link_users);
out:
    pb_api_verr_free(&v);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int link_get(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_get(req, resp, ctx, "link", link_users);
}

static int link_update(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_PROJECT | PB_API_WRITE)) return 0;
    const char *issue_id = pb_api_uuid_param(req, resp, "issue_id");
    const char *pk = issue_id ? pb_api_uuid_param(req, resp, "pk") : NULL;
    cJSON *body = NULL, *o = NULL;
    char *raw = NULL;
    pb_more_row row = {0};
    pb_api_verr v = {0};
    pb_error err = {0};
    if (!pk || pb_api_parse_body(req, resp, 1, &body)) goto out;
    if (pb_more_begin_write(&a) || pb_more_child_load(&a, "link", issue_id, pk, &row)) goto out;
    o = pb_more_parse_raw(row.raw, resp);
    if (!o) goto out;
    if (link_fields(body, o, 0, &v)) {
        pb_conn_rollback(a.conn);
        pb_api_verr_send(&v, resp);
        goto out;
    }
    const char *url = pb_more_get_str(o, "url");
    if (url && url_taken(&a, issue_id, url, pk)) goto out;
    int64_t now = pb_api_now();
    pb_more_set_time(o, "updated_at", now);
    pb_more_set_str(o, "updated_by", a.user_id);
    raw = cJSON_PrintUnformatted(o);
    if (!raw) {
        pb_more_fail(&a, PB_ENOMEM, NULL);
        goto out;
    }
    int rc = pb_more_update(a.conn, pk, url, NULL, NULL, now, 0, raw, &err);
    if (!rc) rc = pb_api_touch_issue(a.conn, issue_id, a.user_id, &err);
    pb_more_finish(&a, rc, &err, 200, raw, link_users);
out:
    pb_api_verr_free(&v);
    pb_more_row_clear(&row);
    free(raw);
    cJSON_Delete(o);
    cJSON_Delete(body);
    pb_api_end(&a);
    return 0;
}

static int link_delete(pb_req *req, pb_resp *resp, void *ctx)
{
    return pb_more_child_delete(req, resp, ctx, PB_API_PROJECT | PB_API_WRITE, "link", NULL);
}

#define WI "/api/v1/workspaces/{slug}/projects/{project_id}/work-items/{issue_id}"
#define IS "/api/v1/workspaces/{slug}/projects/{project_id}/issues/{issue_id}"

void pb_api_register_links(pb_server *srv, pb_app *app)
{
    static const char *const coll[] = {WI "/links/", IS "/links/"};
    static const char *const one[] = {WI "/links/{pk}/", IS "/links/{pk}/"};
    int rc = pb_more_route(srv, app, "GET", coll, 2, 0, link_list);
    if (!rc) rc = pb_more_route(srv, app, "POST", coll, 2, 0, link_create);
    if (!rc) rc = pb_more_route(srv, app, "GET", one, 2, 0, link_get);
    if (!rc) rc = pb_more_route(srv, app, "PATCH", one, 2, 0, link_update);
    if (!rc) rc = pb_more_route(srv, app, "DELETE", one, 2, 0, link_delete);
    if (rc) PB_LOG(PB_LOG_ERROR, "registering link routes failed", PB_LI("code", rc));
}
