/* api: the Plane-compatible /api/v1 module: route registration. See api.h. */
#include "api/api.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* The sibling resource files (comments, links, relations, cycles, modules, intake, search) are
 * declared in common.h. Their references must be strong: a weak undefined symbol does not pull
 * an object out of the static library, so weak references left those routes unregistered. */

int pb_api_route(pb_server *s, pb_app *app, const char *method, const char *pattern, const char *scope,
                 pb_handler_fn fn)
{
    pb_route r = {method, pattern, scope, 0, fn, app};
    int rc = pb_server_route(s, &r);
    if (rc) PB_LOG(PB_LOG_ERROR, "cannot register route", PB_LS("method", method), PB_LS("pattern", pattern));
    return rc;
}

static int api_init(pb_app *app, pb_error *err)
{
    pb_server *s = app->srv;
    if (!s) return pb_error_set(err, PB_EINVAL, "api: no HTTP server");
    pb_api_register_users(s, app);
    pb_api_register_members(s, app);
    pb_api_register_projects(s, app);
    pb_api_register_states(s, app);
    pb_api_register_labels(s, app);
    /* search before the readable-id route: `work-items/search/` must not match `{work_item}` */
    pb_api_register_search(s, app);
    pb_api_register_workitems(s, app);
    pb_api_register_activities(s, app);
    pb_api_register_comments(s, app);
    pb_api_register_links(s, app);
    pb_api_register_relations(s, app);
    pb_api_register_cycles(s, app);
    pb_api_register_modules(s, app);
    pb_api_register_intake(s, app);
    return 0;
}

const pb_module pb_module_api = {
    .name = "api",
    .init = api_init,
};

/* ---------------------------------------------------------------- JSON helpers */
void pb_api_set_str(cJSON *o, const char *key, const char *s)
{
    cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

void pb_api_set_time(cJSON *o, const char *key, int64_t us)
{
    cJSON *v = pb_api_time_json(us);
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

const char *pb_api_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *pb_api_parse_raw(const char *raw)
{
    cJSON *o = raw ? cJSON_Parse(raw) : NULL;
    if (!o) PB_LOG(PB_LOG_ERROR, "stored row is not valid JSON");
    return o;
}

char *pb_api_print(const cJSON *o)
{
    return o ? cJSON_PrintUnformatted(o) : NULL;
}
