/* search: work-item search across a workspace (Plane's IssueSearchEndpoint).
 *
 *   GET /api/v1/workspaces/{slug}/work-items/search/   (and issues/search/)
 *       ?search=   required; matched against the name and project identifier (contains,
 *                  case-insensitive) and, for whole numbers in it, the sequence_id
 *       ?limit=    default 10
 *       ?workspace_search=true|false (default false) and ?project_id= (the SDK sends
 *                  ?project=): with workspace_search false and a project, only that project
 *
 * Answers {"issues":[{name,id,sequence_id,project__identifier,project_id,workspace__slug}]}
 * over the listable work items of non-archived projects the caller is an active member of.
 * The route is registered before the readable-id route (`work-items/{IDENT}-{seq}/`). */
#include "api/api_more.h"

#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define SEARCH_LIMIT_DEFAULT 10
#define SEARCH_LIMIT_MAX 1000
#define SEARCH_QUERY_MAX 512

static int search_get(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_api_req a;
    if (pb_api_begin(&a, req, resp, ctx, PB_API_WS)) return 0;
    pb_more_hit *hits = NULL;
    size_t n = 0;
    pb_error err = {0};
    const char *q = pb_req_query(req, "search");
    if (!q || !*q) {
        pb_api_error(resp, 400, "Search query is required");
        goto out;
    }
    if (strlen(q) > SEARCH_QUERY_MAX) {
        pb_api_error(resp, 400, "Please provide valid detail");
        goto out;
    }
    int64_t limit = SEARCH_LIMIT_DEFAULT;
    const char *ls = pb_req_query(req, "limit");
    if (ls && *ls && pb_parse_i64(ls, 0, SEARCH_LIMIT_MAX, &limit) != 0) {
        pb_api_error(resp, 400, "Please provide valid detail");
        goto out;
    }
    const char *ws = pb_req_query(req, "workspace_search");
    int workspace_search = ws && strcmp(ws, "true") == 0;
    const char *pid = pb_req_query(req, "project_id");
    if (!pid || !*pid) pid = pb_req_query(req, "project");
    if (pid && !*pid) pid = NULL;
    char project[37] = "";
    if (pid) {
        if (!pb_uuid_valid(pid)) {
            pb_api_error(resp, 400, "Please provide valid detail");
            goto out;
        }
        for (size_t i = 0; i < 36; i++) {
            char ch = pid[i];
            project[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        project[36] = '\0';
    }
    int rc = pb_more_search(a.conn, a.slug, a.user_id, q, (!workspace_search && pid) ? project : NULL,
                            limit, &hits, &n, &err);
    if (rc) {
        pb_api_fail(resp, rc, &err);
        goto out;
    }
    pb_buf *b = pb_resp_body(resp);
    pb_resp_status(resp, 200);
    rc = pb_buf_puts(b, "{\"issues\":[");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = pb_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        if (!rc) rc = pb_buf_json_str(b, hits[i].name);
        if (!rc) rc = pb_buf_printf(b, ",\"id\":\"%s\",\"sequence_id\":%lld,\"project__identifier\":", hits[i].id,
                                    (long long)hits[i].sequence_id);
        if (!rc) rc = pb_buf_json_str(b, hits[i].identifier);
        if (!rc) rc = pb_buf_printf(b, ",\"project_id\":\"%s\",\"workspace__slug\":", hits[i].project_id);
        if (!rc) rc = pb_buf_json_str(b, a.slug);
        if (!rc) rc = pb_buf_putc(b, '}');
    }
    if (!rc) rc = pb_buf_puts(b, "]}");
    if (rc) {
        pb_buf_reset(b);
        pb_api_internal(resp);
    }
out:
    pb_more_hits_free(hits, n);
    pb_api_end(&a);
    return 0;
}

void pb_api_register_search(pb_server *srv, pb_app *app)
{
    static const char *const pats[] = {"/api/v1/workspaces/{slug}/work-items/search/",
                                       "/api/v1/workspaces/{slug}/issues/search/"};
    if (pb_more_route(srv, app, "GET", pats, 2, 0, search_get))
        PB_LOG(PB_LOG_ERROR, "registering search routes failed");
}
