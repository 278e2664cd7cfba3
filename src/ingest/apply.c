/* apply: see apply.h. */
#include "ingest/apply.h"

#include "core/buf.h"
#include "core/util.h"
#include "store/mirror_store.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

const char *pb_ingest_item_type(const char *event)
{
    if (!event) return NULL;
    if (!strcmp(event, "issue")) return "issue";
    if (!strcmp(event, "issue_comment")) return "comment";
    if (!strcmp(event, "cycle")) return "cycle";
    if (!strcmp(event, "module")) return "module";
    return NULL;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int64_t jtime(const cJSON *o, const char *k)
{
    const char *s = jstr(o, k);
    int64_t us = 0;
    if (s && pb_time_parse(s, &us) == 0) return us;
    return 0;
}

/* Webhook data (IssueExpandSerializer & co.) -> the API v1 shape: nested {id,...} objects
 * become their id, lists of such objects become id lists. */
static cJSON *normalize(const char *event, const cJSON *data, char *state_group, size_t sgn)
{
    static const char *const refs[] = {
        "project",        "workspace", "state", "parent", "issue",         "cycle", "module",
        "estimate_point", "owned_by",  "lead",  "actor",  "default_state", NULL};
    static const char *const lists[] = {"labels", "assignees", "members", NULL};
    cJSON *n = cJSON_Duplicate(data, 1);
    if (!n) return NULL;
    state_group[0] = '\0';
    for (int i = 0; refs[i]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(n, refs[i]);
        if (!cJSON_IsObject(v)) continue;
        const char *id = jstr(v, "id");
        if (!strcmp(refs[i], "state")) {
            const char *g = jstr(v, "group");
            if (g) pb_strlcpy(state_group, g, sgn);
        }
        cJSON *rep = id ? cJSON_CreateString(id) : cJSON_CreateNull();
        if (!rep || !cJSON_ReplaceItemInObjectCaseSensitive(n, refs[i], rep)) {
            cJSON_Delete(rep);
            cJSON_Delete(n);
            return NULL;
        }
    }
    for (int i = 0; lists[i]; i++) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, lists[i]);
        if (!cJSON_IsArray(arr)) continue;
        cJSON *el;
        cJSON_ArrayForEach(el, arr)
        {
            if (!cJSON_IsObject(el)) continue;
            const char *id = jstr(el, "id");
            if (!id) continue;
            /* Turn the object into a string in place (copy the id before freeing its owner). */
            char *copy = strdup(id);
            cJSON *child = el->child;
            el->child = NULL;
            cJSON_Delete(child);
            el->type = copy ? cJSON_String : cJSON_NULL;
            el->valuestring = copy;
        }
    }
    if (!strcmp(event, "issue")) {
        if (cJSON_GetObjectItemCaseSensitive(n, "description_json"))
            cJSON_DeleteItemFromObjectCaseSensitive(n, "description");
        cJSON_DeleteItemFromObjectCaseSensitive(n, "description_json");
        cJSON_DeleteItemFromObjectCaseSensitive(n, "description_stripped");
    }
    return n;
}

static int ignored_key(const char *k)
{
    return !strcmp(k, "updated_at") || !strcmp(k, "updated_by");
}

/* Two datetimes written in different time zones are one instant: Plane's API renders them in
 * the key owner's zone, its webhooks in UTC, and the mirror may hold either. */
static int same_instant(const cJSON *a, const cJSON *b)
{
    if (!cJSON_IsString(a) || !cJSON_IsString(b)) return 0;
    const char *x = a->valuestring, *y = b->valuestring;
    if (strlen(x) < 20 || strlen(y) < 20 || x[10] != 'T' || y[10] != 'T') return 0;
    int64_t ux = 0, uy = 0;
    return pb_time_parse(x, &ux) == 0 && pb_time_parse(y, &uy) == 0 && ux == uy;
}

/* previous_attributes: old values of the keys present on both sides whose values differ. */
static cJSON *diff_prev(const cJSON *oldo, const cJSON *newo)
{
    cJSON *prev = cJSON_CreateObject();
    if (!prev) return NULL;
    const cJSON *nv;
    cJSON_ArrayForEach(nv, newo)
    {
        if (!nv->string || ignored_key(nv->string)) continue;
        const cJSON *ov = cJSON_GetObjectItemCaseSensitive(oldo, nv->string);
        if (!ov || cJSON_Compare(ov, nv, 1) || same_instant(ov, nv)) continue;
        cJSON *dup = cJSON_Duplicate(ov, 1);
        if (!dup || !cJSON_AddItemToObject(prev, nv->string, dup)) {
            cJSON_Delete(dup);
            cJSON_Delete(prev);
            return NULL;
        }
    }
    return prev;
}

static int list_gained(const cJSON *oldl, const cJSON *newl)
{
    const cJSON *n;
    if (!cJSON_IsArray(newl)) return 0;
    cJSON_ArrayForEach(n, newl)
    {
        int found = 0;
        const cJSON *o;
        if (cJSON_IsArray(oldl)) {
            cJSON_ArrayForEach(o, oldl)
            {
                if (cJSON_Compare(o, n, 1)) {
                    found = 1;
                    break;
                }
            }
        }
        if (!found) return 1;
    }
    return 0;
}

static void event_id_for(const char *type, const char *object_id, int64_t at, char out[48])
{
    char in[256];
    unsigned char md[32];
    unsigned int mdl = 0;
    char hex[65];
    int n = snprintf(in, sizeof in, "%s|%s|%lld", type, object_id, (long long)at);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof in) n = (int)sizeof in - 1;
    if (!EVP_Digest(in, (size_t)n, md, &mdl, EVP_sha256(), NULL)) memset(md, 0, sizeof md);
    pb_hex_encode(md, 16, hex); /* 32 hex chars */
    memcpy(out, "evt_", 4);
    memcpy(out + 4, hex, 33);
}

typedef struct emit_ctx {
    pb_conn *c;
    const char *workspace, *object_id, *project_id;
    int64_t at;
    pb_apply_result *res;
    int64_t id_at; /* what the event id derives from when not at (0: at) */
} emit_ctx;

static int emit(emit_ctx *e, const char *type, const cJSON *data, const cJSON *prev, pb_error *err)
{
    char ts[40], evid[48];
    pb_time_iso(e->at, ts, sizeof ts);
    event_id_for(type, e->object_id, e->id_at ? e->id_at : e->at, evid);
    cJSON *p = cJSON_CreateObject();
    int rc = PB_ENOMEM;
    if (!p) goto out;
    if (!cJSON_AddStringToObject(p, "type", type) || !cJSON_AddStringToObject(p, "timestamp", ts) ||
        !cJSON_AddStringToObject(p, "workspace", e->workspace))
        goto out;
    cJSON *d = cJSON_Duplicate(data, 1);
    if (!d || !cJSON_AddItemToObject(p, "data", d)) {
        cJSON_Delete(d);
        goto out;
    }
    if (prev) {
        cJSON *pd = cJSON_Duplicate(prev, 1);
        if (!pd || !cJSON_AddItemToObject(p, "previous_attributes", pd)) {
            cJSON_Delete(pd);
            goto out;
        }
    }
    char *txt = cJSON_PrintUnformatted(p);
    if (!txt) goto out;
    int inserted = 0;
    rc = pb_mirror_outbox_put(e->c, evid, type, e->workspace, e->project_id, e->object_id, e->at, txt,
                              &inserted, err);
    free(txt);
    if (!rc && inserted) e->res->events++;
out:
    cJSON_Delete(p);
    if (rc == PB_ENOMEM) pb_error_set(err, rc, "out of memory building event");
    return rc;
}

static int set_refs_from(pb_conn *c, const char *item_id, const char *kind, const cJSON *arr, int64_t now,
                         pb_error *err)
{
    if (!cJSON_IsArray(arr)) return 0; /* field absent: leave the stored set alone */
    const char *ids[256];
    size_t n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, arr)
    {
        if (cJSON_IsString(el) && n < sizeof ids / sizeof ids[0]) ids[n++] = el->valuestring;
    }
    return pb_mirror_set_refs(c, item_id, kind, ids, n, now, err);
}

static const char *event_prefix(const char *event)
{
    return event; /* project, issue, issue_comment, cycle, module: already DESIGN.md §4 names */
}

static int apply_delete(pb_conn *c, const char *ws, const pb_hook *h, int is_project,
                        const pb_mirror_old *old, int64_t now, pb_apply_result *res, pb_error *err)
{
    int64_t changed = 0;
    int rc = pb_mirror_mark_deleted(c, is_project, h->object_id, now, &changed, err);
    if (rc || !changed) {
        if (!rc) res->noop = 1;
        return rc;
    }
    res->changed = 1;
    cJSON *data = old->raw ? cJSON_Parse(old->raw) : NULL;
    if (!data) data = cJSON_CreateObject();
    if (!data) return pb_error_set(err, PB_ENOMEM, "out of memory");
    if (!cJSON_GetObjectItemCaseSensitive(data, "id")) cJSON_AddStringToObject(data, "id", h->object_id);
    const char *pid = is_project ? h->object_id : jstr(data, "project");
    /* The event is stamped now, but its id derives from the version that was deleted: an
     * apply that is lost and runs again (worker.c: NORMAL commits) emits the same id. */
    emit_ctx e = {c, ws, h->object_id, pid, now, res, old->updated_at ? old->updated_at : 1};
    char type[64];
    snprintf(type, sizeof type, "%s.deleted", event_prefix(h->event));
    rc = emit(&e, type, data, NULL, err);
    cJSON_Delete(data);
    return rc;
}

int pb_ingest_apply(pb_conn *c, const char *ws, const pb_hook *h, int64_t now, pb_apply_result *res,
                    pb_error *err)
{
    memset(res, 0, sizeof *res);
    if (!pb_hook_event_known(h->event)) {
        res->ignored = 1;
        return 0;
    }
    int is_project = !strcmp(h->event, "project");
    const char *item_type = pb_ingest_item_type(h->event);
    pb_mirror_old old = {0};
    cJSON *newo = NULL, *oldo = NULL, *prev = NULL;
    char *looked_up_group = NULL, *txt = NULL;
    int rc = pb_mirror_lock_object(c, h->object_id, err);
    if (!rc) rc = pb_mirror_get(c, is_project, h->object_id, &old, err);
    if (rc) goto out;

    if (!strcmp(h->action, "deleted")) {
        rc = apply_delete(c, ws, h, is_project, &old, now, res, err);
        goto out;
    }
    if (!h->updated_at) {
        res->partial = 1;
        goto out;
    }
    if (old.exists && old.updated_at >= h->updated_at) {
        if (old.updated_at > h->updated_at)
            res->stale = 1;
        else
            res->noop = 1;
        goto out;
    }
    char group[32];
    newo = normalize(h->event, h->data, group, sizeof group);
    if (!newo) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    int64_t created_at = jtime(newo, "created_at");
    if (!created_at) created_at = h->updated_at;
    const char *project_id = is_project ? h->object_id : jstr(newo, "project");
    txt = cJSON_PrintUnformatted(newo);
    if (!txt) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    int64_t changed = 0;
    if (is_project) {
        pb_mirror_project p = {.id = h->object_id,
                               .workspace = ws,
                               .identifier = jstr(newo, "identifier"),
                               .name = jstr(newo, "name"),
                               .external_source = jstr(newo, "external_source"),
                               .external_id = jstr(newo, "external_id"),
                               .created_at = created_at,
                               .updated_at = h->updated_at,
                               .archived_at = jtime(newo, "archived_at"),
                               .deleted_at = jtime(newo, "deleted_at"),
                               .synced_at = now,
                               .raw = txt};
        if (!p.identifier || !p.name) {
            res->partial = 1;
            goto out;
        }
        rc = pb_mirror_upsert_project(c, &p, &changed, err);
    } else {
        const char *state_id = jstr(newo, "state");
        const char *sg = group[0] ? group : NULL;
        if (!sg && !strcmp(item_type, "issue") && state_id) {
            if (old.exists && old.state_group[0] && old.raw) {
                cJSON *o = cJSON_Parse(old.raw);
                const char *os = o ? jstr(o, "state") : NULL;
                if (os && !strcmp(os, state_id)) sg = old.state_group;
                cJSON_Delete(o);
            }
            if (!sg && pb_mirror_state_group(c, state_id, &looked_up_group, NULL) == 0) sg = looked_up_group;
        }
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(newo, "sequence_id");
        /* Only integral values a BIGINT holds: converting anything else is undefined. */
        int seq_ok = cJSON_IsNumber(seq) && seq->valuedouble >= -9.0e18 && seq->valuedouble <= 9.0e18;
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(newo, "sort_order");
        const cJSON *draft = cJSON_GetObjectItemCaseSensitive(newo, "is_draft");
        int is_issue = !strcmp(item_type, "issue");
        pb_mirror_item it = {.id = h->object_id,
                             .item_type = item_type,
                             .workspace = ws,
                             .project_id = project_id,
                             .parent_id = jstr(newo, !strcmp(item_type, "comment") ? "issue" : "parent"),
                             .state_id = is_issue ? state_id : NULL,
                             .state_group = is_issue ? sg : NULL,
                             .priority = is_issue ? jstr(newo, "priority") : NULL,
                             .name = jstr(newo, "name"),
                             .external_source = jstr(newo, "external_source"),
                             .external_id = jstr(newo, "external_id"),
                             .created_by = jstr(newo, "created_by"),
                             .has_sequence_id = seq_ok,
                             .sequence_id = seq_ok ? (int64_t)seq->valuedouble : 0,
                             .has_sort_order = cJSON_IsNumber(so),
                             .sort_order = cJSON_IsNumber(so) ? so->valuedouble : 0,
                             .is_draft = cJSON_IsTrue(draft),
                             .created_at = created_at,
                             .updated_at = h->updated_at,
                             .archived_at = jtime(newo, "archived_at"),
                             .deleted_at = jtime(newo, "deleted_at"),
                             .synced_at = now,
                             .raw = txt};
        rc = pb_mirror_upsert_item(c, &it, &changed, err);
        if (!rc && changed && is_issue) {
            rc = set_refs_from(c, h->object_id, "assignee",
                               cJSON_GetObjectItemCaseSensitive(newo, "assignees"), now, err);
            if (!rc)
                rc = set_refs_from(c, h->object_id, "label", cJSON_GetObjectItemCaseSensitive(newo, "labels"),
                                   now, err);
            if (!rc) rc = pb_mirror_invalidate_project_counts(c, project_id, err);
        }
    }
    if (rc) goto out;
    if (!changed) {
        res->noop = 1;
        goto out;
    }
    res->changed = 1;

    int seen = 0;
    rc = pb_mirror_self_write_seen(c, h->object_id, h->updated_at, &seen, err);
    if (rc) goto out;
    if (seen) {
        res->echo = 1;
        goto out;
    }

    emit_ctx e = {c, ws, h->object_id, project_id, h->updated_at, res, 0};
    char type[64];
    const char *pre = event_prefix(h->event);
    int was_live = old.exists && !old.deleted_at;
    if (!was_live) {
        snprintf(type, sizeof type, "%s.created", pre);
        rc = emit(&e, type, newo, NULL, err);
        goto out;
    }
    oldo = cJSON_Parse(old.raw ? old.raw : "{}");
    if (!oldo) oldo = cJSON_CreateObject();
    prev = oldo ? diff_prev(oldo, newo) : NULL;
    if (!prev) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    if (!prev->child) {
        res->noop = 1; /* only volatile fields moved: no event */
        goto out;
    }
    snprintf(type, sizeof type, "%s.updated", pre);
    rc = emit(&e, type, newo, prev, err);
    if (!rc && !strcmp(h->event, "issue")) {
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(prev, "assignees");
        if (pa && list_gained(pa, cJSON_GetObjectItemCaseSensitive(newo, "assignees")))
            rc = emit(&e, "issue.assigned", newo, prev, err);
        const char *ng = item_type && group[0] ? group : looked_up_group;
        if (!rc && ng && !strcmp(ng, "completed") &&
            strcmp(old.state_group ? old.state_group : "", "completed"))
            rc = emit(&e, "issue.completed", newo, prev, err);
    }
    if (!rc && is_project && !old.archived_at && jtime(newo, "archived_at"))
        rc = emit(&e, "project.archived", newo, prev, err);
out:
    cJSON_Delete(newo);
    cJSON_Delete(oldo);
    cJSON_Delete(prev);
    free(txt);
    free(looked_up_group);
    pb_mirror_old_clear(&old);
    return rc;
}
