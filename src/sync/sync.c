/* sync: see sync.h. */
#include "sync/sync.h"

#include "api/api_more.h"
#include "api/common.h"
#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"
#include "store/mirror_store.h"
#include "store/plane_more_store.h"
#include "store/plane_store.h"
#include "store/sync_store.h"
#include "sync/upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHILD_BATCH 16 /* issues per children batch (4 requests each) */

typedef struct state_ent {
    char id[40];
    char group[16];
} state_ent;

typedef struct run {
    const pb_sync_opts *o;
    pb_up *up;
    pb_db *db;
    const char *ws;
    int events;
    int per_page, parallel;
    pb_sync_report rep;
    pb_sync_progress pr;
    int64_t t0_ms, last_progress_ms;
    state_ent *states;
    size_t nstates, capstates;
    int counts_dirty; /* an issue row changed: reset the project's cached list count */
    int up_busy;      /* a prefetch thread owns up: progress() must not read its stats */
} run;

/* ---------------------------------------------------------------- small helpers */

void pb_sync_key_name(const char *slug, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s:%s", PB_SYNC_KEY_PURPOSE, slug);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t jtime(const cJSON *o, const char *k)
{
    const char *s = jstr(o, k);
    int64_t us = 0;
    if (s && pb_time_parse(s, &us) == 0) return us;
    return 0;
}

static int jbool(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* An id field that may be a string or an expanded object {id: ...}. */
static const char *jid(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) return jstr(v, "id");
    return NULL;
}

static void progress(run *r, const char *phase, int force)
{
    if (!r->o->progress) return;
    int64_t now = pb_mono_ms();
    if (!force && now - r->last_progress_ms < 200) return;
    r->last_progress_ms = now;
    pb_up_stats us;
    pb_gov_stats gs;
    pb_gov_stats_get(pb_up_governor(r->up), &gs); /* the governor locks its own stats */
    r->pr.workspace = r->ws;
    r->pr.phase = phase;
    r->pr.items = r->rep.items;
    r->pr.written = r->rep.written;
    if (!r->up_busy) { /* else keep the last figures: up's counters belong to the fetch thread */
        pb_up_stats_get(r->up, &us);
        r->pr.requests = us.requests;
        r->pr.throttled = us.throttled;
        r->pr.retries = us.retries;
    }
    r->pr.budget_remaining = gs.remaining;
    r->pr.budget_limit = gs.limit;
    r->pr.elapsed_s = (double)(now - r->t0_ms) / 1000.0;
    r->o->progress(r->o->progress_ctx, &r->pr);
}

static const char *state_group_of(run *r, const char *state_id)
{
    if (!state_id) return NULL;
    for (size_t i = 0; i < r->nstates; i++)
        if (strcmp(r->states[i].id, state_id) == 0) return r->states[i].group;
    return NULL;
}

static void state_add(run *r, const char *id, const char *group)
{
    if (!id || !group) return;
    for (size_t i = 0; i < r->nstates; i++)
        if (strcmp(r->states[i].id, id) == 0) {
            pb_strlcpy(r->states[i].group, group, sizeof r->states[i].group);
            return;
        }
    if (r->nstates == r->capstates) {
        size_t nc = r->capstates ? r->capstates * 2 : 16;
        state_ent *v = realloc(r->states, nc * sizeof *v);
        if (!v) return;
        r->states = v;
        r->capstates = nc;
    }
    pb_strlcpy(r->states[r->nstates].id, id, sizeof r->states[0].id);
    pb_strlcpy(r->states[r->nstates].group, group, sizeof r->states[0].group);
    r->nstates++;
}

/* ---------------------------------------------------------------- events */

static const char *event_noun(const char *item_type)
{
    if (strcmp(item_type, "issue") == 0) return "issue";
    if (strcmp(item_type, "comment") == 0) return "issue_comment";
    if (strcmp(item_type, "cycle") == 0) return "cycle";
    if (strcmp(item_type, "module") == 0) return "module";
    if (strcmp(item_type, "project") == 0) return "project";
    return NULL;
}

static int put_event(run *r, pb_conn *c, const char *type, const char *project_id, const char *object_id,
                     const char *discriminator, const cJSON *data, const cJSON *prev, pb_error *err)
{
    int64_t now = pb_now_us();
    char iso[40], eid[200];
    pb_time_iso(now, iso, sizeof iso);
    snprintf(eid, sizeof eid, "sync:%s:%s:%s", type, object_id, discriminator);
    cJSON *p = cJSON_CreateObject();
    if (!p) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(p, "type", type);
    cJSON_AddStringToObject(p, "timestamp", iso);
    cJSON_AddItemToObject(p, "data", data ? cJSON_Duplicate(data, 1) : cJSON_CreateObject());
    if (prev) cJSON_AddItemToObject(p, "previous_attributes", cJSON_Duplicate(prev, 1));
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int ins = 0;
    int rc = pb_mirror_outbox_put(c, eid, type, r->ws, project_id, object_id, now, s, &ins, err);
    free(s);
    if (!rc && ins) r->rep.events++;
    return rc;
}

static int id_in_array(const cJSON *arr, const char *id)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        const char *v = cJSON_IsString(x) ? x->valuestring : cJSON_IsObject(x) ? jstr(x, "id") : NULL;
        if (v && strcmp(v, id) == 0) return 1;
    }
    return 0;
}

/* created / updated (+ derived) events of one changed row. */
static int row_events(run *r, pb_conn *c, const char *item_type, const char *project_id, const char *id,
                      const cJSON *o, const pb_mirror_old *old, const char *new_group, pb_error *err)
{
    const char *noun = event_noun(item_type);
    if (!noun || !r->events) return 0;
    char type[64], disc[64];
    snprintf(disc, sizeof disc, "%lld", (long long)jtime(o, "updated_at"));
    int rc = 0;
    if (!old->exists || old->deleted_at) {
        snprintf(type, sizeof type, "%s.created", noun);
        return put_event(r, c, type, project_id, id, disc, o, NULL, err);
    }
    cJSON *before = old->raw ? cJSON_Parse(old->raw) : NULL;
    cJSON *prev = cJSON_CreateObject();
    if (before) pb_sync_normalize(before);
    if (before && prev) pb_api_diff(before, o, NULL, prev);
    snprintf(type, sizeof type, "%s.updated", noun);
    if (prev && prev->child) rc = put_event(r, c, type, project_id, id, disc, o, prev, err);
    if (!rc && strcmp(noun, "issue") == 0 && before) {
        const cJSON *na = cJSON_GetObjectItemCaseSensitive(o, "assignees");
        const cJSON *oa = cJSON_GetObjectItemCaseSensitive(before, "assignees");
        const cJSON *x;
        cJSON_ArrayForEach(x, na)
        {
            const char *aid = cJSON_IsString(x) ? x->valuestring : NULL;
            if (aid && !id_in_array(oa, aid)) {
                rc = put_event(r, c, "issue.assigned", project_id, id, disc, o, prev, err);
                break;
            }
        }
        const char *og = old->state_group ? old->state_group : "";
        if (!rc && new_group && strcmp(og, new_group) != 0) {
            if (strcmp(new_group, "completed") == 0)
                rc = put_event(r, c, "issue.completed", project_id, id, disc, o, prev, err);
            else if (strcmp(new_group, "started") == 0)
                rc = put_event(r, c, "issue.started", project_id, id, disc, o, prev, err);
        }
    }
    if (!rc && !old->archived_at && jtime(o, "archived_at")) {
        snprintf(type, sizeof type, "%s.archived", noun);
        rc = put_event(r, c, type, project_id, id, disc, o, NULL, err);
    }
    cJSON_Delete(before);
    cJSON_Delete(prev);
    return rc;
}

/* ---------------------------------------------------------------- applying rows */

/* Upserts one normalized object as item_type under project/parent. */
static int apply_one(run *r, pb_conn *c, const char *item_type, const char *project_id, const char *parent_id,
                     cJSON *o, pb_error *err)
{
    const char *id = jstr(o, "id");
    if (!id || !pb_uuid_valid(id)) return 0; /* not a row we can key */
    int64_t now = pb_now_us();
    char *raw = cJSON_PrintUnformatted(o);
    if (!raw) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_mirror_old old;
    memset(&old, 0, sizeof old);
    int rc = 0;
    int is_project = strcmp(item_type, "project") == 0;
    if (r->events && event_noun(item_type)) rc = pb_mirror_get(c, is_project, id, &old, err);
    int changed = 0;
    const char *group = NULL;
    int64_t created = jtime(o, "created_at"), updated = jtime(o, "updated_at");
    if (!updated) updated = created;
    if (!created) created = updated;
    r->rep.items++;
    if (rc) goto out;
    if (is_project) {
        const char *ident = jstr(o, "identifier");
        pb_ss_project p = {.id = id,
                           .workspace = r->ws,
                           .identifier = ident ? ident : "",
                           .name = jstr(o, "name") ? jstr(o, "name") : "",
                           .external_source = jstr(o, "external_source"),
                           .external_id = jstr(o, "external_id"),
                           .created_at = created,
                           .updated_at = updated,
                           .archived_at = jtime(o, "archived_at"),
                           .synced_at = now,
                           .raw = raw};
        rc = pb_ss_upsert_project(c, &p, &changed, err);
    } else {
        pb_ss_row w;
        memset(&w, 0, sizeof w);
        w.id = id;
        w.item_type = item_type;
        w.workspace = r->ws;
        w.project_id = project_id;
        w.parent_id = parent_id;
        w.name = jstr(o, "name");
        w.external_source = jstr(o, "external_source");
        w.external_id = jstr(o, "external_id");
        w.created_by = jid(o, "created_by");
        w.created_at = created;
        w.updated_at = updated;
        w.archived_at = jtime(o, "archived_at");
        w.synced_at = now;
        w.is_active = 1;
        w.raw = raw;
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "sort_order");
        if (cJSON_IsNumber(so)) {
            w.has_sort_order = 1;
            w.sort_order = so->valuedouble;
        }
        if (strcmp(item_type, "issue") == 0) {
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence_id");
            if (cJSON_IsNumber(seq)) {
                w.has_sequence_id = 1;
                w.sequence_id = (int64_t)seq->valuedouble;
            }
            w.state_id = jid(o, "state");
            group = state_group_of(r, w.state_id);
            if (!group && w.state_id) {
                char *g = NULL;
                if (pb_mirror_state_group(c, w.state_id, &g, NULL) == 0 && g) {
                    state_add(r, w.state_id, g);
                    group = state_group_of(r, w.state_id);
                }
                free(g);
            }
            w.state_group = group ? group : "backlog";
            w.priority = jstr(o, "priority");
            w.parent_id = jid(o, "parent");
            w.is_draft = jbool(o, "is_draft");
        } else if (strcmp(item_type, "state") == 0) {
            const char *g = jstr(o, "group");
            w.state_group = g ? g : "backlog";
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
            if (cJSON_IsNumber(sq)) {
                w.has_sort_order = 1;
                w.sort_order = sq->valuedouble;
            }
            w.is_default = jbool(o, "default");
            state_add(r, id, w.state_group);
        } else if (strcmp(item_type, "label") == 0) {
            w.parent_id = jid(o, "parent");
        } else if (strcmp(item_type, "link") == 0) {
            w.name = jstr(o, "url");
        } else if (strcmp(item_type, "activity") == 0) {
            w.name = jstr(o, "field");
            w.created_by = jid(o, "actor");
        } else if (strcmp(item_type, "project_member") == 0) {
            w.member_id = parent_id; /* the user id (see apply_members) */
            w.parent_id = NULL;
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(o, "role");
            w.role = cJSON_IsNumber(role) ? (int)role->valuedouble : 15;
            w.name = jstr(o, "display_name");
        }
        rc = pb_ss_upsert_item(c, &w, &changed, err);
        if (!rc && changed && strcmp(item_type, "issue") == 0) {
            const char *kinds[2] = {"assignees", "labels"};
            const char *refk[2] = {"assignee", "label"};
            const cJSON *as = cJSON_GetObjectItemCaseSensitive(o, kinds[0]);
            const cJSON *ls = cJSON_GetObjectItemCaseSensitive(o, kinds[1]);
            int both_empty = cJSON_IsArray(as) && !as->child && cJSON_IsArray(ls) && !ls->child;
            /* most work items have neither: both kinds cleared in one statement */
            if (both_empty) rc = pb_ss_refs_clear2(c, id, refk[0], refk[1], err);
            for (int k = 0; !rc && !both_empty && k < 2; k++) {
                const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, kinds[k]);
                if (!cJSON_IsArray(arr)) continue;
                const char *ids[256];
                size_t n = 0;
                const cJSON *x;
                cJSON_ArrayForEach(x, arr)
                {
                    const char *v = cJSON_IsString(x) ? x->valuestring : cJSON_IsObject(x) ? jstr(x, "id") : NULL;
                    if (v && n < 256) ids[n++] = v;
                }
                rc = pb_ss_refs_replace(c, id, refk[k], ids, n, now, err);
            }
            /* the project's cached list count: reset once per page by the caller (r->dirty) */
            r->counts_dirty = 1;
        }
    }
    if (!rc && changed) {
        r->rep.written++;
        rc = row_events(r, c, item_type, project_id, id, o, &old, group, err);
    }
out:
    pb_mirror_old_clear(&old);
    free(raw);
    return rc;
}

/* Marks a live row deleted (+ a delete event). */
static int delete_row(run *r, pb_conn *c, const char *item_type, const char *project_id, const char *id,
                      pb_error *err)
{
    int is_project = strcmp(item_type, "project") == 0;
    int changed = 0;
    int rc = pb_ss_mark_deleted(c, is_project, id, pb_now_us(), &changed, err);
    if (!rc && changed) {
        r->rep.deleted++;
        if (strcmp(item_type, "issue") == 0) rc = pb_mirror_invalidate_project_counts(c, project_id, err);
        const char *noun = event_noun(item_type);
        if (!rc && noun) {
            char type[64];
            snprintf(type, sizeof type, "%s.deleted", noun);
            cJSON *d = cJSON_CreateObject();
            if (d) cJSON_AddStringToObject(d, "id", id);
            rc = put_event(r, c, type, project_id, id, "deleted", d, NULL, err);
            cJSON_Delete(d);
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- id sets */

typedef struct idset {
    char (*ids)[40];
    size_t n, cap;
    uint32_t *slot; /* open addressing: index + 1 into ids, 0 = empty */
    size_t nslot;   /* power of two, >= 2 * cap */
} idset;

static uint32_t id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 16777619u;
    return h;
}

static int idset_has(const idset *s, const char *id)
{
    if (!s->nslot || !id) return 0;
    for (size_t i = id_hash(id) & (s->nslot - 1);; i = (i + 1) & (s->nslot - 1)) {
        uint32_t v = s->slot[i];
        if (!v) return 0;
        if (strcmp(s->ids[v - 1], id) == 0) return 1;
    }
}

static void idset_put_slot(idset *s, size_t idx)
{
    size_t i = id_hash(s->ids[idx]) & (s->nslot - 1);
    while (s->slot[i]) i = (i + 1) & (s->nslot - 1);
    s->slot[i] = (uint32_t)(idx + 1);
}

/* Adds id unless present (duplicates across shifting pages are dropped). */
static void idset_add(idset *s, const char *id)
{
    if (!id || idset_has(s, id)) return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char(*v)[40] = realloc(s->ids, nc * sizeof *v);
        uint32_t *sl = calloc(nc * 2, sizeof *sl);
        if (!v || !sl) {
            if (v) s->ids = v;
            free(sl);
            return;
        }
        s->ids = v;
        s->cap = nc;
        free(s->slot);
        s->slot = sl;
        s->nslot = nc * 2;
        for (size_t i = 0; i < s->n; i++) idset_put_slot(s, i);
    }
    pb_strlcpy(s->ids[s->n], id, 40);
    idset_put_slot(s, s->n);
    s->n++;
}

static void idset_free(idset *s)
{
    free(s->ids);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- listings */

/* Fetches a whole listing (plain array or paginated envelope) into *out (a cJSON array the
 * caller frees). *ok = 0 when the upstream refused it (non-2xx): the listing is then
 * incomplete and must not be used for deletions. */
static int fetch_all(run *r, const char *path, cJSON **out, int *ok, pb_error *err)
{
    *out = cJSON_CreateArray();
    *ok = 0;
    if (!*out) return pb_error_set(err, PB_ENOMEM, "out of memory");
    const char *sep = strchr(path, '?') ? "&" : "?";
    for (int64_t page = 0; page < 100000; page++) {
        char p[1024];
        snprintf(p, sizeof p, "%s%sper_page=%d&cursor=%d:%lld:0", path, sep, r->per_page, r->per_page,
                 (long long)page);
        pb_up_result res;
        int rc = pb_up_get(r->up, p, &res, err);
        if (rc) {
            pb_up_result_clear(&res);
            return rc;
        }
        if (!res.json || res.status < 200 || res.status >= 300) {
            PB_LOG(PB_LOG_INFO, "upstream listing refused", PB_LS("path", path), PB_LI("status", res.status));
            pb_up_result_clear(&res);
            return 0;
        }
        cJSON *rows = cJSON_IsArray(res.json) ? res.json : cJSON_GetObjectItemCaseSensitive(res.json, "results");
        int more = 0;
        if (!cJSON_IsArray(res.json)) {
            more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res.json, "next_page_results"));
            if (!cJSON_IsArray(rows)) {
                pb_up_result_clear(&res);
                return 0;
            }
        }
        int n = 0;
        while (rows->child) {
            cJSON *x = cJSON_DetachItemViaPointer(rows, rows->child);
            cJSON_AddItemToArray(*out, x);
            n++;
        }
        pb_up_result_clear(&res);
        if (!more || n == 0) break;
    }
    *ok = 1;
    return 0;
}

/* Applies a complete listing of item_type under (project, parent): upserts every row and marks
 * the live mirror rows absent from it deleted. recheck: detail path prefix for rows missing
 * from the listing ("cycles/" ...: GET prefix+id+"/", 404 -> delete, 200 -> upsert). */
static int apply_listing(run *r, const char *item_type, const char *project_id, const char *parent_id,
                         cJSON *rows, int complete, const char *recheck, idset *seen_out, pb_error *err)
{
    pb_conn *c = NULL;
    idset seen = {0};
    pb_ss_idrow *live = NULL;
    size_t nlive = 0;
    char **missing = NULL;
    size_t nmissing = 0;
    int rc = pb_db_acquire(r->db, &c, err);
    if (rc) return rc;
    rc = pb_conn_begin_write(c, err);
    cJSON *x;
    cJSON_ArrayForEach(x, rows)
    {
        if (rc) break;
        pb_sync_normalize(x);
        const char *id = jstr(x, "id");
        if (!id || idset_has(&seen, id)) continue;
        idset_add(&seen, id);
        const char *parent = parent_id;
        if (strcmp(item_type, "project_member") == 0) parent = id; /* member id = user id */
        if (strcmp(item_type, "project_member") == 0) {
            /* one row per (project, user), keyed by a stable id */
            char mid[37];
            pb_more_membership_id(project_id, id, mid);
            cJSON *m = cJSON_Duplicate(x, 1);
            if (!m) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                break;
            }
            cJSON_ReplaceItemInObjectCaseSensitive(m, "id", cJSON_CreateString(mid));
            cJSON_AddStringToObject(m, "member", id);
            cJSON_AddStringToObject(m, "project", project_id);
            rc = apply_one(r, c, item_type, project_id, parent, m, err);
            cJSON_Delete(m);
        } else {
            rc = apply_one(r, c, item_type, project_id, parent, x, err);
        }
    }
    if (!rc && complete) {
        rc = pb_ss_list_live(c, r->ws, item_type, strcmp(item_type, "project") == 0 ? NULL : project_id, parent_id,
                             0, &live, &nlive, err);
        for (size_t i = 0; !rc && i < nlive; i++) {
            const char *id = live[i].id;
            char mid_user[40] = "";
            if (strcmp(item_type, "project_member") == 0) {
                /* live rows are keyed by membership id; compare on the member (user) id */
                pb_ps_item it;
                memset(&it, 0, sizeof it);
                if (pb_ps_item_get(c, "project_member", project_id, id, &it, NULL) == 0)
                    pb_strlcpy(mid_user, it.member_id, sizeof mid_user);
                pb_ps_item_clear(&it);
                if (mid_user[0] && idset_has(&seen, mid_user)) continue;
            } else if (idset_has(&seen, id)) {
                continue;
            }
            if (strcmp(item_type, "issue") == 0 && live[i].archived_at) continue; /* lists hide archived */
            if (recheck) {
                char **v = realloc(missing, (nmissing + 1) * sizeof *v);
                if (!v) {
                    rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                    break;
                }
                missing = v;
                missing[nmissing++] = strdup(id);
            } else {
                rc = delete_row(r, c, item_type, project_id, id, err);
            }
        }
    }
    if (!rc) rc = pb_conn_commit(c, err);
    pb_db_release(r->db, c);
    c = NULL;
    /* rows missing from the listing: re-read each (an archive hides a row from some lists) */
    for (size_t i = 0; !rc && i < nmissing; i++) {
        if (!missing[i]) continue;
        char p[512];
        snprintf(p, sizeof p, "%s%s/", recheck, missing[i]);
        pb_up_result res;
        rc = pb_up_get(r->up, p, &res, err);
        if (!rc) rc = pb_db_acquire(r->db, &c, err);
        if (!rc) rc = pb_conn_begin_write(c, err);
        if (!rc) {
            if (res.status == 404)
                rc = delete_row(r, c, item_type, project_id, missing[i], err);
            else if (res.json && res.status == 200 && cJSON_IsObject(res.json)) {
                pb_sync_normalize(res.json);
                rc = apply_one(r, c, item_type, project_id, parent_id, res.json, err);
            }
        }
        if (!rc && c) rc = pb_conn_commit(c, err);
        if (c) pb_db_release(r->db, c);
        c = NULL;
        pb_up_result_clear(&res);
    }
    for (size_t i = 0; i < nmissing; i++) free(missing[i]);
    free(missing);
    pb_ss_idrows_free(live, nlive);
    if (seen_out && !rc)
        *seen_out = seen;
    else
        idset_free(&seen);
    return rc;
}

static int sync_listing(run *r, const char *path, const char *item_type, const char *project_id,
                        const char *parent_id, const char *recheck, idset *seen, pb_error *err)
{
    cJSON *rows = NULL;
    int ok = 0;
    int rc = fetch_all(r, path, &rows, &ok, err);
    if (!rc) rc = apply_listing(r, item_type, project_id, parent_id, rows, ok, recheck, seen, err);
    cJSON_Delete(rows);
    return rc;
}

/* ---------------------------------------------------------------- members */

static int sync_members(run *r, pb_error *err)
{
    cJSON *rows = NULL;
    int ok = 0;
    int rc = fetch_all(r, "members/", &rows, &ok, err);
    if (rc || !ok) {
        cJSON_Delete(rows);
        return rc;
    }
    pb_conn *c = NULL;
    rc = pb_db_acquire(r->db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    const char **ids = calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof *ids);
    size_t n = 0;
    const cJSON *x;
    int64_t now = pb_now_us();
    cJSON_ArrayForEach(x, rows)
    {
        if (rc || !ids) break;
        const char *id = jstr(x, "id");
        const char *email = jstr(x, "email");
        if (!id || !email) continue;
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
        int skipped = 0;
        rc = pb_ss_upsert_user(c, r->ws, id, email, jstr(x, "first_name"), jstr(x, "last_name"),
                               jstr(x, "display_name"), cJSON_IsNumber(role) ? (int)role->valuedouble : 15, now,
                               &skipped, err);
        if (skipped)
            PB_LOG(PB_LOG_WARN, "upstream member not mirrored: e-mail used by another local user",
                   PB_LS("workspace", r->ws), PB_LS("user", id));
        else
            ids[n++] = id;
        r->rep.items++;
    }
    if (!rc && ids) rc = pb_ss_members_prune(c, r->ws, ids, n, NULL, err);
    if (!rc) rc = pb_conn_commit(c, err);
    pb_db_release(r->db, c);
    free(ids);
    cJSON_Delete(rows);
    return rc;
}

/* ---------------------------------------------------------------- children of issues */

static int apply_relations(run *r, pb_conn *c, const char *issue_id, const cJSON *obj, pb_error *err)
{
    pb_ss_rel rels[256];
    char kinds[256][48];
    size_t n = 0;
    for (int t = 0; t < PB_MORE_REL_TYPES; t++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, pb_more_rel_types[t]);
        const cJSON *x;
        cJSON_ArrayForEach(x, arr)
        {
            const char *other = jstr(x, "issue_id");
            if (!other) other = jstr(x, "id");
            if (!other || n >= 256) continue;
            const char *stored = NULL;
            int inverse = 0;
            pb_more_rel_stored(pb_more_rel_types[t], &stored, &inverse);
            snprintf(kinds[n], sizeof kinds[n], "relation_%s", stored ? stored : pb_more_rel_types[t]);
            rels[n].kind = kinds[n];
            rels[n].item_id = inverse ? other : issue_id;
            rels[n].ref_id = inverse ? issue_id : other;
            n++;
        }
    }
    r->rep.items += (int64_t)n;
    return pb_ss_relations_replace(c, issue_id, rels, n, pb_now_us(), err);
}

static const char *const child_res[4] = {"comments", "links", "activities", "relations"};
static const char *const child_type[4] = {"comment", "link", "activity", NULL};

/* Fetches and applies the children of n issues (one transaction for the batch). */
static int sync_children(run *r, const char *project_id, char (*ids)[40], size_t n, const char *cursor_phase,
                         int64_t cursor_next, pb_error *err)
{
    size_t nreq = n * 4;
    char(*paths)[256] = calloc(nreq ? nreq : 1, sizeof *paths);
    const char **pp = calloc(nreq ? nreq : 1, sizeof *pp);
    pb_up_result *res = calloc(nreq ? nreq : 1, sizeof *res);
    int rc = 0;
    if (!paths || !pp || !res) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            snprintf(paths[i * 4 + (size_t)k], sizeof paths[0], "projects/%s/work-items/%s/%s/%s", project_id,
                     ids[i], child_res[k], k < 3 ? "?per_page=100" : "");
            pp[i * 4 + (size_t)k] = paths[i * 4 + (size_t)k];
        }
    rc = pb_up_get_many(r->up, pp, nreq, res, err);
    if (rc) goto out;
    /* long child lists (more than one page): fetch the rest sequentially (rare) */
    for (size_t q = 0; !rc && q < nreq; q++) {
        cJSON *j = res[q].json;
        if (!j || cJSON_IsArray(j) || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "next_page_results")))
            continue;
        cJSON *all = NULL;
        int ok = 0;
        char base[256];
        snprintf(base, sizeof base, "projects/%s/work-items/%s/%s/", project_id, ids[q / 4], child_res[q % 4]);
        rc = fetch_all(r, base, &all, &ok, err);
        if (!rc && ok) {
            cJSON_Delete(res[q].json);
            res[q].json = all;
        } else {
            cJSON_Delete(all);
            res[q].status = 0; /* incomplete: no deletions */
        }
    }
    pb_conn *c = NULL;
    if (!rc) rc = pb_db_acquire(r->db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    for (size_t q = 0; !rc && q < nreq; q++) {
        int k = (int)(q % 4);
        const char *iid = ids[q / 4];
        cJSON *j = res[q].json;
        if (res[q].status == 404) continue; /* the issue went away meanwhile: reconciliation */
        if (!j || res[q].status < 200 || res[q].status >= 300) continue;
        if (k == 3) {
            rc = apply_relations(r, c, iid, j, err);
            continue;
        }
        cJSON *rows = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "results");
        idset seen = {0};
        cJSON *x;
        cJSON_ArrayForEach(x, rows)
        {
            if (rc) break;
            pb_sync_normalize(x);
            const char *id = jstr(x, "id");
            if (!id || idset_has(&seen, id)) continue;
            idset_add(&seen, id);
            rc = apply_one(r, c, child_type[k], project_id, iid, x, err);
        }
        if (!rc && cJSON_IsArray(rows)) {
            pb_ss_idrow *live = NULL;
            size_t nl = 0;
            rc = pb_ss_list_live(c, r->ws, child_type[k], project_id, iid, 0, &live, &nl, err);
            for (size_t i = 0; !rc && i < nl; i++)
                if (!idset_has(&seen, live[i].id)) rc = delete_row(r, c, child_type[k], project_id, live[i].id, err);
            pb_ss_idrows_free(live, nl);
        }
        idset_free(&seen);
    }
    if (!rc && cursor_phase) {
        pb_ss_cursor cur;
        rc = pb_ss_cursor_get(c, r->ws, "issues", project_id, &cur, err);
        if (!rc) {
            pb_strlcpy(cur.phase, cursor_phase, sizeof cur.phase);
            cur.next_page = cursor_next;
            rc = pb_ss_cursor_put(c, r->ws, "issues", project_id, &cur, pb_now_us(), err);
        }
        pb_ss_cursor_clear(&cur);
    }
    if (!rc && c) rc = pb_conn_commit(c, err);
    if (c) pb_db_release(r->db, c);
out:
    for (size_t q = 0; res && q < nreq; q++) pb_up_result_clear(&res[q]);
    free(res);
    free(pp);
    free(paths);
    return rc;
}

/* ---------------------------------------------------------------- work items */

/* The write transaction of one or more pages of issues: page_tx_begin, page_tx_rows per page,
 * page_tx_end commits them together with the cursor that covers exactly those pages (or rolls
 * everything back when rc is set). */
typedef struct page_tx {
    pb_conn *c;
    int64_t t0;
} page_tx;

static int page_tx_begin(run *r, page_tx *t, pb_error *err)
{
    t->c = NULL;
    t->t0 = pb_mono_ns();
    int rc = pb_db_acquire(r->db, &t->c, err);
    if (!rc) rc = pb_conn_begin_write(t->c, err);
    /* the governor's budget writes for the next pages' fetch go through this transaction
     * instead of waiting for its commit (served between rows, see pb_ss_budget_hold) */
    if (!rc) pb_ss_budget_hold(t->c);
    return rc;
}

/* Applies one page of issues inside t. *min_updated gets the oldest updated_at of the page;
 * changed ids (updated_at > since, or rows written) are added to changed. */
static int page_tx_rows(run *r, page_tx *t, const char *project_id, cJSON *rows, int64_t since,
                        int64_t *min_updated, int64_t *max_updated, idset *changed, pb_error *err)
{
    int rc = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, rows)
    {
        pb_sync_normalize(x);
        int64_t u = jtime(x, "updated_at");
        if (min_updated && (*min_updated == 0 || u < *min_updated)) *min_updated = u;
        if (max_updated && u > *max_updated) *max_updated = u;
        int64_t before = r->rep.written;
        rc = apply_one(r, t->c, "issue", project_id, NULL, x, err);
        if (rc) break;
        pb_ss_budget_serve(t->c);
        if (changed && (u > since || r->rep.written > before)) idset_add(changed, jstr(x, "id"));
    }
    return rc;
}

/* Ends t: with rc == 0 resets the cached counts when a row changed, writes cur_after (when
 * given) and commits; otherwise rolls back. Returns the first error. */
static int page_tx_end(run *r, page_tx *t, const char *project_id, const pb_ss_cursor *cur_after, int rc,
                       pb_error *err)
{
    if (!rc && r->counts_dirty) rc = pb_mirror_invalidate_project_counts(t->c, project_id, err);
    r->counts_dirty = 0;
    if (!rc && cur_after) rc = pb_ss_cursor_put(t->c, r->ws, "issues", project_id, cur_after, pb_now_us(), err);
    if (t->c) pb_ss_budget_release(t->c, !rc);
    if (!rc) rc = pb_conn_commit(t->c, err);
    pb_db_release(r->db, t->c); /* rolls back a transaction left open */
    t->c = NULL;
    r->rep.store_seconds += (double)(pb_mono_ns() - t->t0) / 1e9;
    return rc;
}

/* Applies one page of issues; commits it with the cursor (see page_tx_rows). */
static int apply_issue_page(run *r, const char *project_id, cJSON *rows, const pb_ss_cursor *cur_after,
                            int64_t since, int64_t *min_updated, int64_t *max_updated, idset *changed,
                            pb_error *err)
{
    page_tx t;
    int rc = page_tx_begin(r, &t, err);
    if (!rc) rc = page_tx_rows(r, &t, project_id, rows, since, min_updated, max_updated, changed, err);
    return page_tx_end(r, &t, project_id, cur_after, rc, err);
}

static int issue_rows(pb_up_result *res, cJSON **rows, int64_t *total_pages, int64_t *total)
{
    if (!res->json || res->status != 200) return PB_EUPSTREAM;
    *rows = cJSON_GetObjectItemCaseSensitive(res->json, "results");
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(res->json, "total_pages");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(res->json, "total_count");
    if (total_pages) *total_pages = cJSON_IsNumber(tp) ? (int64_t)tp->valuedouble : -1;
    if (total) *total = cJSON_IsNumber(tc) ? (int64_t)tc->valuedouble : 0;
    return cJSON_IsArray(*rows) ? 0 : PB_EUPSTREAM;
}

static void issue_page_path(run *r, const char *project_id, int64_t page, const char *extra, char *out, size_t n)
{
    snprintf(out, n, "projects/%s/work-items/?order_by=-updated_at&per_page=%d&cursor=%d:%lld:0%s", project_id,
             r->per_page, r->per_page, (long long)page, extra ? extra : "");
}

#define PREFETCH_MAX 32 /* pages in one batch */

/* One batch of backfill pages, fetched by a helper thread while the previous batch is
 * written (pb_up is used by one thread at a time: while a prefetch runs, only it touches up). */
typedef struct prefetch {
    pthread_t th;
    int started;
    pb_up *up;
    int64_t first;
    int n;
    int rc;
    pb_error err;
    char paths[PREFETCH_MAX][512];
    const char *pp[PREFETCH_MAX];
    pb_up_result res[PREFETCH_MAX];
} prefetch;

static void *prefetch_main(void *arg)
{
    prefetch *f = arg;
    f->rc = pb_up_get_many(f->up, f->pp, (size_t)f->n, f->res, &f->err);
    return NULL;
}

static void prefetch_setup(run *r, const char *project_id, prefetch *f, int64_t first, int n)
{
    f->up = r->up;
    f->first = first;
    f->n = n;
    f->rc = 0;
    f->started = 0;
    memset(&f->err, 0, sizeof f->err);
    memset(f->res, 0, sizeof f->res);
    for (int i = 0; i < n; i++) {
        issue_page_path(r, project_id, first + i, NULL, f->paths[i], sizeof f->paths[i]);
        f->pp[i] = f->paths[i];
    }
}

/* Starts the fetch in a thread; without one, fetches now (no overlap, same result). */
static void prefetch_start(run *r, prefetch *f)
{
    r->up_busy = 1;
    if (pthread_create(&f->th, NULL, prefetch_main, f) == 0) {
        f->started = 1;
        return;
    }
    r->up_busy = 0;
    prefetch_main(f);
}

static void prefetch_join(run *r, prefetch *f)
{
    if (f->started) pthread_join(f->th, NULL);
    f->started = 0;
    r->up_busy = 0;
}

static void prefetch_clear(prefetch *f)
{
    for (int i = 0; i < PREFETCH_MAX; i++) pb_up_result_clear(&f->res[i]);
    f->n = 0;
}

/* Pages per backfill batch, fetched `parallel` at a time by one pb_up_get_many and written in
 * one transaction: four rounds of requests, fewer when BATCH_BYTES of answers would not hold
 * them at the page size seen so far (parsed rows take several times their JSON; two batches
 * are alive at once, the one being written and the one being fetched), at least `parallel`
 * (one round), at most PREFETCH_MAX. A kill -9 loses at most the batch in flight.
 * Fewer, larger transactions: fewer fsyncs, and the pages of the id index (random uuids, a
 * rewrite of most of its pages per transaction) are written once per batch. */
#define BATCH_BYTES (4 << 20)

/* Answer bytes per page since st0, over `pages` pages (0 when none yet). */
static int64_t page_bytes(run *r, const pb_up_stats *st0, int64_t pages)
{
    pb_up_stats st;
    pb_up_stats_get(r->up, &st);
    return pages > 0 ? (st.bytes - st0->bytes) / pages : 0;
}

static int backfill_pages(const run *r, int64_t bytes_per_page)
{
    int64_t n = 4 * (int64_t)r->parallel;
    if (bytes_per_page > 0 && n * bytes_per_page > BATCH_BYTES) n = BATCH_BYTES / bytes_per_page;
    if (n < r->parallel) n = r->parallel;
    return n > PREFETCH_MAX ? PREFETCH_MAX : (int)n;
}

/* Backfill: pages from cur->next_page in batches (backfill_pages), fetched `parallel` at a
 * time and committed in order, each batch in one transaction with the cursor after its last
 * page (so the committed cursor covers exactly the committed pages). While a batch is written,
 * the next batch is fetched by a helper thread (same governor, same parallelism: one batch in
 * flight at a time); it is started only when the current batch is complete and not the last,
 * and its results are dropped if writing fails or the walk ends, so the cursor never moves
 * past a page that is not committed. */
static int issues_backfill(run *r, const char *project_id, pb_ss_cursor *cur, pb_error *err)
{
    int64_t total_pages = -1;
    int rc = 0;
    int counted = 0;
    prefetch *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    if (!fa || !fb) {
        free(fa);
        free(fb);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    prefetch *curf = fa, *nextf = fb;
    int have = 0; /* curf holds the fetched batch starting at cur->next_page */
    /* the size of the pages (answer bytes per page so far) sizes the batches; up's stats are
     * read only while no prefetch runs (the fetch thread owns up meanwhile) */
    pb_up_stats st0;
    pb_up_stats_get(r->up, &st0);
    int64_t fetched = 0;
    for (;;) {
        int64_t first = cur->next_page;
        if (!have) {
            int batch = total_pages < 0 ? 1 : backfill_pages(r, page_bytes(r, &st0, fetched));
            if (total_pages >= 0 && first + batch > total_pages) batch = (int)(total_pages - first);
            if (batch <= 0) break;
            prefetch_setup(r, project_id, curf, first, batch);
            prefetch_main(curf);
        }
        have = 0;
        int batch = curf->n;
        fetched += batch;
        rc = curf->rc;
        if (rc && err) *err = curf->err;
        /* look ahead: the batch is complete (every page answered, full) -> fetch the next one */
        int complete = !rc;
        for (int i = 0; complete && i < batch; i++) {
            cJSON *rows = NULL;
            int64_t tp = -1;
            if (issue_rows(&curf->res[i], &rows, &tp, NULL) || cJSON_GetArraySize(rows) < r->per_page)
                complete = 0;
            else if (tp >= 0)
                total_pages = tp;
        }
        if (complete && total_pages >= 0) {
            int64_t nfirst = first + batch;
            int nb = backfill_pages(r, page_bytes(r, &st0, fetched));
            if (nfirst + nb > total_pages) nb = (int)(total_pages - nfirst);
            if (nb > 0) {
                prefetch_setup(r, project_id, nextf, nfirst, nb);
                prefetch_start(r, nextf);
            }
        }
        /* The batch's pages in one write transaction (one fsync for them all), committed with
         * the cursor after the last of them: the cursor never covers an uncommitted page. An
         * unusable page ends the batch: the pages before it are committed, then the error. */
        int stop = 0, applied = 0, bad = -1;
        pb_ss_cursor next = *cur;
        next.watermark_ids = NULL;
        page_tx tx = {0};
        if (!rc) rc = page_tx_begin(r, &tx, err);
        for (int i = 0; !rc && i < batch && !stop; i++) {
            cJSON *rows = NULL;
            int64_t tp = -1, tc = 0;
            if (issue_rows(&curf->res[i], &rows, &tp, &tc)) {
                bad = i;
                break;
            }
            if (tp >= 0) total_pages = tp;
            if (!counted) {
                r->pr.total_estimate += tc - (first > 0 ? first * r->per_page : 0);
                counted = 1;
            }
            if (first + i == 0 && rows->child) next.watermark = jtime(rows->child, "updated_at"); /* start */
            next.next_page = first + i + 1;
            pb_strlcpy(next.phase, "backfill", sizeof next.phase);
            int n = cJSON_GetArraySize(rows);
            if (n < r->per_page || (total_pages >= 0 && next.next_page >= total_pages)) {
                pb_strlcpy(next.phase, r->o->no_children ? "idle" : "children", sizeof next.phase);
                next.next_page = 0;
                next.reconciled_at = pb_now_us(); /* a complete walk: as good as a reconciliation */
                stop = 1;
            }
            rc = page_tx_rows(r, &tx, project_id, rows, 0, NULL, NULL, NULL, err);
            if (!rc) applied++;
            progress(r, "issues", 0);
        }
        if (tx.c) rc = page_tx_end(r, &tx, project_id, applied ? &next : NULL, rc, err);
        if (!rc && applied) {
            cur->watermark = next.watermark;
            cur->next_page = next.next_page;
            pb_strlcpy(cur->phase, next.phase, sizeof cur->phase);
        }
        if (!rc && bad >= 0) {
            rc = pb_error_set(err, PB_EUPSTREAM, "work-item page %lld: %s", (long long)(first + bad),
                              curf->res[bad].error[0] ? curf->res[bad].error : "unexpected answer");
        }
        prefetch_clear(curf);
        if (nextf->n > 0) {
            prefetch_join(r, nextf);
            if (rc || stop || nextf->first != cur->next_page) {
                prefetch_clear(nextf); /* not needed (walk over or failed): nothing was applied from it */
            } else {
                prefetch *t = curf;
                curf = nextf;
                nextf = t;
                have = 1;
            }
        }
        if (rc || stop) break;
    }
    prefetch_clear(curf);
    prefetch_clear(nextf);
    free(fa);
    free(fb);
    return rc;
}

/* Incremental: walk -updated_at from page 0 down to the watermark. */
static int issues_incremental(run *r, const char *project_id, pb_ss_cursor *cur, idset *changed, pb_error *err)
{
    int64_t wm = cur->watermark, newest = cur->watermark;
    int rc = 0;
    for (int64_t page = 0; !rc; page++) {
        char path[512];
        issue_page_path(r, project_id, page, NULL, path, sizeof path);
        pb_up_result res;
        rc = pb_up_get(r->up, path, &res, err);
        cJSON *rows = NULL;
        int64_t tp = -1;
        if (!rc && issue_rows(&res, &rows, &tp, NULL))
            rc = pb_error_set(err, PB_EUPSTREAM, "work-item page: %s", res.error[0] ? res.error : "unexpected answer");
        if (rc) {
            pb_up_result_clear(&res);
            break;
        }
        int64_t oldest = 0, maxu = 0;
        int n = cJSON_GetArraySize(rows);
        int last = n < r->per_page || (tp >= 0 && page + 1 >= tp);
        /* peek: the page reaches below the watermark? */
        cJSON *x;
        cJSON_ArrayForEach(x, rows)
        {
            pb_sync_normalize(x);
            int64_t u = jtime(x, "updated_at");
            if (u < wm) last = 1;
        }
        pb_ss_cursor next = *cur;
        next.watermark_ids = NULL;
        pb_ss_cursor *after = NULL;
        if (last) {
            cJSON_ArrayForEach(x, rows)
            {
                int64_t u = jtime(x, "updated_at");
                if (u > newest) newest = u;
            }
            next.watermark = newest;
            pb_strlcpy(next.phase, "idle", sizeof next.phase);
            after = &next;
        }
        rc = apply_issue_page(r, project_id, rows, after, wm, &oldest, &maxu, changed, err);
        if (maxu > newest) newest = maxu;
        pb_up_result_clear(&res);
        progress(r, "issues", 0);
        if (last) {
            if (!rc) cur->watermark = newest;
            break;
        }
    }
    return rc;
}

/* Query-string escaping of an external id (RFC 3986 unreserved characters pass). */
static void query_escape(const char *in, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

/* Re-reads one work item that a listing or a hint no longer shows, and records what it is.
 * Plane hides archived issues from lists AND from detail GET (404), as it hides deleted ones,
 * so a 404 alone cannot tell an archive from a delete. In order: the detail (200: still there,
 * upserted); the archived detail `archived-work-items/{id}/` (served by planebridge upstreams
 * and Plane's app API; a v1 upstream without it answers 404); the external-id lookup, which
 * searches archived issues too, when the mirror row has an external id; only then is the item
 * marked deleted. Every request goes through the key's governor. One write transaction per
 * item, holding the object lock so a concurrent webhook apply serialises with it. */
static int issue_recheck(run *r, const char *project_id, const char *id, pb_error *err)
{
    static const char *const coll[2] = {"work-items", "archived-work-items"};
    pb_up_result res;
    memset(&res, 0, sizeof res);
    pb_conn *c = NULL;
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        char p[512];
        snprintf(p, sizeof p, "projects/%s/%s/%s/", project_id, coll[k], id);
        pb_up_result_clear(&res);
        rc = pb_up_get(r->up, p, &res, err);
        if (!rc && res.status != 404) break;
    }
    if (!rc && res.status == 404) {
        /* last resort: the external id the mirror row carries */
        pb_mirror_old old;
        memset(&old, 0, sizeof old);
        rc = pb_db_acquire(r->db, &c, err);
        if (!rc) rc = pb_mirror_get(c, 0, id, &old, err);
        pb_db_release(r->db, c);
        c = NULL;
        cJSON *raw = !rc && old.raw ? cJSON_Parse(old.raw) : NULL;
        const char *xid = raw ? jstr(raw, "external_id") : NULL, *xsrc = raw ? jstr(raw, "external_source") : NULL;
        /* Plane's external_id/external_source are at most 255 characters (1020 UTF-8 bytes);
         * anything longer cannot be looked up whole, and a cut one could answer 404 for a live
         * item, so it is not asked: the row stays as it is. */
        size_t lx = xid ? strlen(xid) : 0, ls = xsrc ? strlen(xsrc) : 0;
        if (lx > 1020 || ls > 1020) {
            res.status = 0;
        } else if (lx && ls) {
            char ex[3 * 1020 + 1], es[3 * 1020 + 1], p[6400];
            query_escape(xid, ex, sizeof ex);
            query_escape(xsrc, es, sizeof es);
            snprintf(p, sizeof p, "projects/%s/work-items/?external_id=%s&external_source=%s", project_id, ex, es);
            pb_up_result_clear(&res);
            rc = pb_up_get(r->up, p, &res, err);
            const char *gid = !rc && res.status == 200 && res.json ? jstr(res.json, "id") : NULL;
            if (!rc && res.status == 200 && (!gid || strcmp(gid, id) != 0)) {
                pb_up_result_clear(&res); /* another item now holds that external id */
                res.status = 404;
            }
        }
        cJSON_Delete(raw);
        pb_mirror_old_clear(&old);
    }
    if (!rc) rc = pb_db_acquire(r->db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = pb_mirror_lock_object(c, id, err);
    if (!rc && res.status == 404) {
        rc = delete_row(r, c, "issue", project_id, id, err);
    } else if (!rc && res.status == 200 && cJSON_IsObject(res.json)) {
        const char *gid = jstr(res.json, "id");
        if (gid && strcmp(gid, id) == 0) {
            pb_sync_normalize(res.json);
            rc = apply_one(r, c, "issue", project_id, NULL, res.json, err);
            if (!rc && r->counts_dirty) rc = pb_mirror_invalidate_project_counts(c, project_id, err);
            r->counts_dirty = 0;
        }
    } else if (!rc) { /* any other answer: leave the row as it is; the next reconciliation asks again */
        PB_LOG(PB_LOG_WARN, "sync: work item not re-read", PB_LS("workspace", r->ws), PB_LS("id", id),
               PB_LI("status", res.status));
    }
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc && c) pb_conn_rollback(c);
    if (c) pb_db_release(r->db, c);
    pb_up_result_clear(&res);
    return rc;
}

/* Issue reconciliation: full id listing; ids missing upstream are re-read (404 -> deleted). */
static int issues_reconcile(run *r, const char *project_id, pb_error *err)
{
    idset up = {0};
    int rc = 0;
    int64_t total_pages = -1;
    for (int64_t page = 0; !rc;) {
        int batch = total_pages < 0 ? 1 : r->parallel;
        if (total_pages >= 0 && page + batch > total_pages) batch = (int)(total_pages - page);
        if (batch <= 0) break;
        char paths[16][512];
        const char *pp[16];
        pb_up_result res[16];
        for (int i = 0; i < batch; i++) {
            snprintf(paths[i], sizeof paths[i], "projects/%s/work-items/?fields=id&per_page=%d&cursor=%d:%lld:0",
                     project_id, r->per_page, r->per_page, (long long)(page + i));
            pp[i] = paths[i];
        }
        rc = pb_up_get_many(r->up, pp, (size_t)batch, res, err);
        int end = 0;
        for (int i = 0; !rc && i < batch; i++) {
            cJSON *rows = NULL;
            int64_t tp = -1;
            if (issue_rows(&res[i], &rows, &tp, NULL)) {
                rc = pb_error_set(err, PB_EUPSTREAM, "work-item id listing failed");
                break;
            }
            if (tp >= 0) total_pages = tp;
            cJSON *x;
            cJSON_ArrayForEach(x, rows) idset_add(&up, jstr(x, "id"));
            if (cJSON_GetArraySize(rows) < r->per_page) end = 1;
        }
        for (int i = 0; i < batch; i++) pb_up_result_clear(&res[i]);
        page += batch;
        if (end || (total_pages >= 0 && page >= total_pages)) break;
    }
    if (!rc) {
        pb_conn *c = NULL;
        pb_ss_idrow *live = NULL;
        size_t nl = 0;
        int narchived = 0;
        rc = pb_db_acquire(r->db, &c, err);
        if (!rc) rc = pb_ss_list_live(c, r->ws, "issue", project_id, NULL, 0, &live, &nl, err);
        if (c) pb_db_release(r->db, c);
        for (size_t i = 0; i < nl; i++) narchived += live[i].archived_at != 0;
        /* Archived mirror rows are checked against the archived listing, when the upstream
         * has one (a Plane v1 upstream does not: ok = 0, and they are left as they are). */
        idset arch = {0};
        int arch_ok = 0;
        if (!rc && narchived) {
            char p[256];
            cJSON *rows = NULL;
            snprintf(p, sizeof p, "projects/%s/archived-work-items/?fields=id", project_id);
            rc = fetch_all(r, p, &rows, &arch_ok, err);
            const cJSON *x;
            cJSON_ArrayForEach(x, rows) idset_add(&arch, jstr(x, "id"));
            cJSON_Delete(rows);
        }
        for (size_t i = 0; !rc && i < nl; i++) {
            int listed = idset_has(&up, live[i].id);
            int recheck;
            if (live[i].archived_at) /* unarchived (listed again), or gone from the archive */
                recheck = listed || (arch_ok && !idset_has(&arch, live[i].id));
            else
                recheck = !listed; /* archived, deleted, or hidden upstream */
            if (recheck) rc = issue_recheck(r, project_id, live[i].id, err);
        }
        idset_free(&arch);
        pb_ss_idrows_free(live, nl);
    }
    if (!rc) {
        pb_conn *c = NULL;
        pb_ss_cursor cur;
        rc = pb_db_acquire(r->db, &c, err);
        if (!rc) rc = pb_ss_cursor_get(c, r->ws, "issues", project_id, &cur, err);
        if (!rc) {
            cur.reconciled_at = pb_now_us();
            rc = pb_ss_cursor_put(c, r->ws, "issues", project_id, &cur, pb_now_us(), err);
        }
        pb_ss_cursor_clear(&cur);
        if (c) pb_db_release(r->db, c);
    }
    idset_free(&up);
    return rc;
}

/* ---------------------------------------------------------------- memberships */

static int sync_memberships(run *r, const char *project_id, const char *kind, const idset *refs, pb_error *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < refs->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "projects/%s/%ss/%s/%s-issues/?fields=id", project_id, kind, refs->ids[i], kind);
        cJSON *rows = NULL;
        int ok = 0;
        rc = fetch_all(r, path, &rows, &ok, err);
        if (!rc && ok) {
            const char **ids = calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof *ids);
            size_t n = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, rows)
            {
                const char *id = jstr(x, "id");
                if (!id) id = jstr(x, "issue");
                if (id && ids) ids[n++] = id;
            }
            pb_conn *c = NULL;
            if (!ids) rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            if (!rc) rc = pb_db_acquire(r->db, &c, err);
            if (!rc) rc = pb_conn_begin_write(c, err);
            if (!rc) rc = pb_ss_membership_replace(c, kind, refs->ids[i], ids, n, pb_now_us(), err);
            if (!rc) rc = pb_conn_commit(c, err);
            if (c) pb_db_release(r->db, c);
            r->rep.items += (int64_t)n;
            free(ids);
        }
        cJSON_Delete(rows);
    }
    return rc;
}

/* ---------------------------------------------------------------- per project */

static int sync_project(run *r, const char *pid, pb_error *err)
{
    char path[512], recheck[256];
    int rc = 0;
    idset cycles = {0}, modules = {0};
    r->nstates = 0;
    snprintf(path, sizeof path, "projects/%s/states/", pid);
    rc = sync_listing(r, path, "state", pid, NULL, NULL, NULL, err);
    if (!rc) {
        snprintf(path, sizeof path, "projects/%s/labels/", pid);
        rc = sync_listing(r, path, "label", pid, NULL, NULL, NULL, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "projects/%s/members/", pid);
        rc = sync_listing(r, path, "project_member", pid, NULL, NULL, NULL, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "projects/%s/cycles/", pid);
        snprintf(recheck, sizeof recheck, "projects/%s/cycles/", pid);
        rc = sync_listing(r, path, "cycle", pid, NULL, recheck, &cycles, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "projects/%s/modules/", pid);
        snprintf(recheck, sizeof recheck, "projects/%s/modules/", pid);
        rc = sync_listing(r, path, "module", pid, NULL, recheck, &modules, err);
    }
    progress(r, "projects", 0);

    /* work items */
    pb_ss_cursor cur;
    memset(&cur, 0, sizeof cur);
    pb_conn *c = NULL;
    if (!rc) rc = pb_db_acquire(r->db, &c, err);
    if (!rc) rc = pb_ss_cursor_get(c, r->ws, "issues", pid, &cur, err);
    if (c) pb_db_release(r->db, c);
    idset changed = {0};
    int was_idle = strcmp(cur.phase, "idle") == 0;
    if (!rc && (strcmp(cur.phase, "new") == 0 || strcmp(cur.phase, "backfill") == 0))
        rc = issues_backfill(r, pid, &cur, err);
    if (!rc && was_idle) rc = issues_incremental(r, pid, &cur, &changed, err);

    /* intake after issues (its rows point at issues) */
    if (!rc) {
        snprintf(path, sizeof path, "projects/%s/intake-issues/", pid);
        rc = sync_listing(r, path, "intake", pid, NULL, NULL, NULL, err);
    }

    /* children */
    if (!rc && strcmp(cur.phase, "children") == 0) {
        for (;;) {
            char(*ids)[40] = NULL;
            size_t n = 0;
            c = NULL;
            rc = pb_db_acquire(r->db, &c, err);
            if (!rc) rc = pb_ss_issue_ids(c, pid, cur.next_page, CHILD_BATCH, &ids, &n, err);
            if (c) pb_db_release(r->db, c);
            if (rc) break;
            int done = n < CHILD_BATCH;
            rc = sync_children(r, pid, ids, n, done ? "idle" : "children", done ? 0 : cur.next_page + (int64_t)n,
                               err);
            free(ids);
            progress(r, "children", 0);
            if (rc) break;
            cur.next_page += (int64_t)n;
            if (done) {
                pb_strlcpy(cur.phase, "idle", sizeof cur.phase);
                break;
            }
        }
    } else if (!rc && changed.n && !r->o->no_children) {
        for (size_t i = 0; !rc && i < changed.n; i += CHILD_BATCH) {
            size_t n = changed.n - i < CHILD_BATCH ? changed.n - i : CHILD_BATCH;
            rc = sync_children(r, pid, changed.ids + i, n, NULL, 0, err);
            progress(r, "children", 0);
        }
    }

    /* memberships */
    if (!rc) {
        rc = sync_memberships(r, pid, "cycle", &cycles, err);
    }
    if (!rc) rc = sync_memberships(r, pid, "module", &modules, err);

    /* reconciliation of work items */
    if (!rc && was_idle) {
        int64_t every = r->o->reconcile_s > 0 ? r->o->reconcile_s : 3600;
        if (r->o->reconcile || r->o->full || !cur.reconciled_at || pb_now_us() - cur.reconciled_at > every * 1000000) {
            progress(r, "reconcile", 1);
            rc = issues_reconcile(r, pid, err);
        }
    }
    pb_ss_cursor_clear(&cur);
    idset_free(&changed);
    idset_free(&cycles);
    idset_free(&modules);
    return rc;
}

/* ---------------------------------------------------------------- connect / open */

int pb_sync_connect(pb_db *db, pb_vault *vault, const char *slug, const char *upstream_url, const char *api_key,
                    char space_id[64], pb_error *err)
{
    char name[200];
    size_t sl = slug ? strlen(slug) : 0;
    if (sl == 0 || sl > 127 || strspn(slug, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != sl)
        return pb_error_field(err, PB_EINVAL, "slug", "workspace slug must be 1-127 letters, digits, '-' or '_'");
    pb_sync_key_name(slug, name, sizeof name);
    if ((strncmp(upstream_url, "http://", 7) != 0 && strncmp(upstream_url, "https://", 8) != 0) ||
        strlen(upstream_url) > 900 || strpbrk(upstream_url, " \r\n\t"))
        return pb_error_field(err, PB_EINVAL, "upstream", "upstream must be an http(s) URL");
    int rc = pb_vault_put(vault, name, api_key, 0, err);
    if (!rc) rc = pb_as_token_ref_set(db, slug, "", PB_SYNC_KEY_PURPOSE, name, err);
    if (!rc) rc = pb_ss_connect(db, slug, upstream_url, space_id, err);
    return rc;
}

int pb_sync_open_upstream(pb_db *db, pb_vault *vault, const char *slug, pb_up **out, pb_error *err)
{
    pb_ss_install *in = NULL;
    size_t n = 0;
    char *name = NULL, *key = NULL;
    size_t klen = 0;
    int rc = pb_ss_installs(db, slug, &in, &n, err);
    if (!rc && n == 0) rc = pb_error_set(err, PB_ENOTFOUND, "workspace '%s' is not connected to an upstream", slug);
    if (!rc) rc = pb_as_token_ref_get(db, slug, "", PB_SYNC_KEY_PURPOSE, &name, err);
    if (!rc) rc = pb_vault_get(vault, name, &key, &klen, err);
    if (!rc) rc = pb_up_new(in[0].upstream_url, slug, key, db, out, err);
    if (key) pb_vault_secret_free(key);
    free(name);
    free(in);
    return rc;
}

/* ---------------------------------------------------------------- the run */

int pb_sync_workspace(const pb_sync_opts *o, pb_sync_report *rep, pb_error *err)
{
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.db = o->db;
    r.ws = o->slug;
    r.per_page = o->per_page > 0 && o->per_page <= 100 ? o->per_page : 100;
    r.parallel = o->parallel > 0 && o->parallel <= 16 ? o->parallel : 8;
    r.t0_ms = pb_mono_ms();
    int rc = 0;
    if (o->full) rc = pb_ss_cursor_reset(o->db, o->slug, err);
    if (!rc) rc = pb_sync_open_upstream(o->db, o->vault, o->slug, &r.up, err);
    if (rc) return rc;
    pb_up_set_stop(r.up, o->stop);
    pb_up_set_parallel(r.up, r.parallel);

    pb_ss_cursor wsc;
    memset(&wsc, 0, sizeof wsc);
    pb_conn *c = NULL;
    rc = pb_db_acquire(o->db, &c, err);
    if (!rc) rc = pb_ss_cursor_get(c, o->slug, "workspace", "", &wsc, err);
    if (c) pb_db_release(o->db, c);
    r.events = !rc && strcmp(wsc.phase, "idle") == 0;
    PB_LOG(PB_LOG_INFO, "sync start", PB_LS("workspace", o->slug), PB_LB("first", !r.events));

    if (!rc) {
        progress(&r, "members", 1);
        rc = sync_members(&r, err);
    }
    idset projects = {0};
    if (!rc) {
        progress(&r, "projects", 1);
        rc = sync_listing(&r, "projects/", "project", NULL, NULL, "projects/", &projects, err);
    }
    for (size_t i = 0; !rc && i < projects.n; i++) {
        rc = sync_project(&r, projects.ids[i], err);
        if (!rc && o->stop && *o->stop) rc = pb_error_set(err, PB_ESTATE, "sync stopped");
    }
    idset_free(&projects);
    if (!rc) {
        c = NULL;
        rc = pb_db_acquire(o->db, &c, err);
        if (!rc) {
            pb_strlcpy(wsc.phase, "idle", sizeof wsc.phase);
            wsc.watermark = pb_now_us();
            rc = pb_ss_cursor_put(c, o->slug, "workspace", "", &wsc, pb_now_us(), err);
        }
        if (c) pb_db_release(o->db, c);
    }
    pb_ss_cursor_clear(&wsc);
    r.pr.total_estimate = r.pr.total_estimate > r.rep.items ? r.pr.total_estimate : r.rep.items;
    progress(&r, "done", 1);
    pb_up_stats us;
    pb_up_stats_get(r.up, &us);
    r.rep.requests = us.requests;
    r.rep.throttled = us.throttled;
    r.rep.retries = us.retries;
    r.rep.seconds = (double)(pb_mono_ms() - r.t0_ms) / 1000.0;
    if (rep) *rep = r.rep;
    PB_LOG(rc ? PB_LOG_WARN : PB_LOG_INFO, "sync end", PB_LS("workspace", o->slug), PB_LI("items", r.rep.items),
           PB_LI("written", r.rep.written), PB_LI("deleted", r.rep.deleted), PB_LI("requests", us.requests),
           PB_LI("throttled", us.throttled), PB_LS("error", rc ? err->msg : ""));
    pb_up_free(r.up);
    free(r.states);
    return rc;
}

/* ---------------------------------------------------------------- refetch (ingest hook) */

/* Mirror item_type of a webhook event name, NULL when the refetch does not cover it. */
static const char *refetch_item_type(const char *object_type)
{
    if (strcmp(object_type, "issue") == 0) return "issue";
    if (strcmp(object_type, "project") == 0) return "project";
    if (strcmp(object_type, "issue_comment") == 0 || strcmp(object_type, "comment") == 0) return "comment";
    if (strcmp(object_type, "cycle") == 0) return "cycle";
    if (strcmp(object_type, "module") == 0) return "module";
    return NULL;
}

int pb_sync_refetch(pb_db *db, struct pb_vault *vault, const char *slug, const char *object_type,
                    const char *object_id, volatile int *stop, pb_sync_refetch_result *out, pb_error *err)
{
    pb_sync_refetch_result res0 = {0};
    if (out) *out = res0;
    const char *item_type = object_type ? refetch_item_type(object_type) : NULL;
    if (!item_type || !object_id || !pb_uuid_valid(object_id) || !slug)
        return pb_error_set(err, PB_EINVAL, "refetch: unsupported object");
    int is_project = strcmp(item_type, "project") == 0;

    /* Where the object lives upstream (project, and the issue of a comment) comes from the
     * mirror row: a hint only names the object. */
    char project_id[40] = "", issue_id[40] = "";
    pb_mirror_old old;
    memset(&old, 0, sizeof old);
    pb_conn *c = NULL;
    pb_ss_cursor wsc;
    memset(&wsc, 0, sizeof wsc);
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_mirror_get(c, is_project, object_id, &old, err);
    if (!rc) rc = pb_ss_cursor_get(c, slug, "workspace", "", &wsc, err);
    int events = !rc && strcmp(wsc.phase, "idle") == 0;
    pb_ss_cursor_clear(&wsc);
    if (c) pb_db_release(db, c);
    c = NULL;
    if (!rc && !is_project) {
        cJSON *raw = old.exists && old.raw ? cJSON_Parse(old.raw) : NULL;
        const char *p = raw ? jid(raw, "project") : NULL;
        const char *is = raw ? jid(raw, "issue") : NULL;
        if (p && pb_uuid_valid(p)) pb_strlcpy(project_id, p, sizeof project_id);
        if (is && pb_uuid_valid(is)) pb_strlcpy(issue_id, is, sizeof issue_id);
        cJSON_Delete(raw);
        if (!project_id[0] || (strcmp(item_type, "comment") == 0 && !issue_id[0])) {
            if (out) out->unknown = 1; /* not mirrored yet: the next sync run brings it */
            pb_mirror_old_clear(&old);
            return 0;
        }
    }
    pb_mirror_old_clear(&old);
    if (rc) return rc;

    char path[512];
    if (is_project)
        snprintf(path, sizeof path, "projects/%s/", object_id);
    else if (strcmp(item_type, "comment") == 0)
        snprintf(path, sizeof path, "projects/%s/issues/%s/comments/%s/", project_id, issue_id, object_id);
    else
        snprintf(path, sizeof path, "projects/%s/%ss/%s/", project_id, item_type, object_id);

    run r;
    memset(&r, 0, sizeof r);
    r.db = db;
    r.ws = slug;
    r.events = events;
    rc = pb_sync_open_upstream(db, vault, slug, &r.up, err);
    if (rc) return rc;
    pb_up_set_stop(r.up, stop);
    pb_up_result ur;
    memset(&ur, 0, sizeof ur);
    if (strcmp(item_type, "issue") == 0) {
        rc = issue_recheck(&r, project_id, object_id, err); /* an archive hides it like a delete */
        goto done;
    }
    rc = pb_up_get(r.up, path, &ur, err); /* through the key's shared governor */
    if (!rc) rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = pb_mirror_lock_object(c, object_id, err);
    if (!rc) {
        if (ur.status == 404) {
            rc = delete_row(&r, c, item_type, project_id, object_id, err);
        } else if (ur.status == 200 && ur.json && cJSON_IsObject(ur.json)) {
            const char *gid = jstr(ur.json, "id");
            if (!gid || strcmp(gid, object_id) != 0) {
                rc = pb_error_set(err, PB_EUPSTREAM, "refetch: upstream answered another object");
            } else {
                pb_sync_normalize(ur.json);
                /* apply_one's upserts keep the newer row: a refetch never moves it backwards */
                rc = apply_one(&r, c, item_type, is_project ? NULL : project_id,
                               strcmp(item_type, "comment") == 0 ? issue_id : NULL, ur.json, err);
                if (!rc && r.counts_dirty) rc = pb_mirror_invalidate_project_counts(c, project_id, err);
            }
        } else {
            rc = pb_error_set(err, PB_EUPSTREAM, "refetch: upstream answered %d", ur.status);
        }
    }
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc && c) pb_conn_rollback(c);
    if (c) pb_db_release(db, c);
    pb_up_result_clear(&ur);
done:
    if (out) {
        out->fetched = 1;
        out->written = (int)r.rep.written;
        out->deleted = (int)r.rep.deleted;
        out->events = (int)r.rep.events;
    }
    pb_up_free(r.up);
    free(r.states);
    return rc;
}

/* ---------------------------------------------------------------- verify */

typedef struct vctx {
    run r;
    pb_verify_report *rep;
    pb_verify_diff_fn fn;
    void *fctx;
} vctx;

static void vdiff(vctx *v, const char *res, const char *id, const char *why)
{
    if (v->fn) v->fn(v->fctx, res, id, why);
}

static char *canon_raw_text(const char *raw)
{
    cJSON *j = cJSON_Parse(raw);
    if (!j) return NULL;
    pb_sync_normalize(j);
    char *s = pb_sync_canonical(j);
    cJSON_Delete(j);
    return s;
}

static int idrow_cmp(const void *a, const void *b)
{
    return strcmp(((const pb_ss_idrow *)a)->id, ((const pb_ss_idrow *)b)->id);
}

/* Compares an upstream listing with the mirror's live rows of (type, project, parent). */
static int verify_rows(vctx *v, const char *res, const char *item_type, const char *project_id,
                       const char *parent_id, cJSON *rows, pb_error *err)
{
    pb_conn *c = NULL;
    pb_ss_idrow *live = NULL;
    size_t nl = 0;
    int rc = pb_db_acquire(v->r.db, &c, err);
    if (!rc)
        rc = pb_ss_list_live(c, v->r.ws, item_type, strcmp(item_type, "project") == 0 ? NULL : project_id, parent_id,
                             1, &live, &nl, err);
    if (c) pb_db_release(v->r.db, c);
    if (rc) return rc;
    /* byte order (the store's ORDER BY follows its collation) for the binary search below */
    if (nl > 1) qsort(live, nl, sizeof *live, idrow_cmp);
    char *used = calloc(nl ? nl : 1, 1);
    idset seen = {0};
    cJSON *x;
    cJSON_ArrayForEach(x, rows)
    {
        pb_sync_normalize(x);
        const char *id = jstr(x, "id");
        if (!id || idset_has(&seen, id)) continue;
        idset_add(&seen, id);
        char key[40];
        pb_strlcpy(key, id, sizeof key);
        if (strcmp(item_type, "project_member") == 0) pb_more_membership_id(project_id, id, key);
        v->rep->compared++;
        pb_ss_idrow probe;
        pb_strlcpy(probe.id, key, sizeof probe.id);
        const pb_ss_idrow *hit = nl ? bsearch(&probe, live, nl, sizeof *live, idrow_cmp) : NULL;
        size_t j = hit ? (size_t)(hit - live) : nl;
        if (j == nl) {
            v->rep->missing++;
            vdiff(v, res, id, "missing in mirror");
            continue;
        }
        if (used) used[j] = 1;
        if (strcmp(item_type, "project_member") == 0) {
            v->rep->matched++;
            continue;
        }
        char *a = pb_sync_canonical(x), *b = canon_raw_text(live[j].raw);
        if (a && b && strcmp(a, b) == 0) {
            v->rep->matched++;
        } else {
            v->rep->missing++;
            vdiff(v, res, id, "differs");
        }
        free(a);
        free(b);
    }
    for (size_t j = 0; j < nl; j++) {
        if (used && used[j]) continue;
        if (strcmp(item_type, "issue") == 0 && live[j].archived_at) continue;
        v->rep->compared++;
        v->rep->extra++;
        vdiff(v, res, live[j].id, "live in mirror, absent upstream");
    }
    idset_free(&seen);
    free(used);
    pb_ss_idrows_free(live, nl);
    return 0;
}

static int verify_listing(vctx *v, const char *res, const char *path, const char *item_type, const char *project_id,
                          const char *parent_id, idset *ids_out, pb_error *err)
{
    cJSON *rows = NULL;
    int ok = 0;
    int rc = fetch_all(&v->r, path, &rows, &ok, err);
    if (!rc && !ok) {
        v->rep->compared++;
        vdiff(v, res, path, "upstream listing failed");
    }
    if (!rc && ok) rc = verify_rows(v, res, item_type, project_id, parent_id, rows, err);
    if (!rc && ids_out) {
        const cJSON *x;
        cJSON_ArrayForEach(x, rows) idset_add(ids_out, jstr(x, "id"));
    }
    cJSON_Delete(rows);
    return rc;
}

/* Sorted string sets: counts matches, reports differences. */
static void verify_sets(vctx *v, const char *res, const char *scope, char **a, size_t na, char **b, size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        for (size_t j = 0; j < nb && !found; j++) found = strcmp(a[i], b[j]) == 0;
        v->rep->compared++;
        if (found) {
            v->rep->matched++;
        } else {
            v->rep->missing++;
            vdiff(v, res, scope, a[i]);
        }
    }
    for (size_t j = 0; j < nb; j++) {
        int found = 0;
        for (size_t i = 0; i < na && !found; i++) found = strcmp(a[i], b[j]) == 0;
        if (!found) {
            v->rep->compared++;
            v->rep->extra++;
            vdiff(v, res, scope, b[j]);
        }
    }
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int verify_children(vctx *v, const char *pid, const idset *issues, pb_error *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < issues->n; i += 16) {
        size_t n = issues->n - i < 16 ? issues->n - i : 16;
        char paths[64][256];
        const char *pp[64];
        pb_up_result res[64];
        for (size_t k = 0; k < n; k++)
            for (int t = 0; t < 4; t++) {
                snprintf(paths[k * 4 + (size_t)t], sizeof paths[0], "projects/%s/work-items/%s/%s/%s", pid,
                         issues->ids[i + k], child_res[t], t < 3 ? "?per_page=100" : "");
                pp[k * 4 + (size_t)t] = paths[k * 4 + (size_t)t];
            }
        rc = pb_up_get_many(v->r.up, pp, n * 4, res, err);
        for (size_t q = 0; !rc && q < n * 4; q++) {
            int t = (int)(q % 4);
            const char *iid = issues->ids[i + q / 4];
            cJSON *j = res[q].json;
            if (!j || res[q].status != 200) {
                v->rep->compared++;
                vdiff(v, child_res[t], iid, "upstream listing failed");
                continue;
            }
            if (t < 3) {
                cJSON *rows = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "results");
                rc = verify_rows(v, child_res[t], child_type[t], pid, iid, rows, err);
                continue;
            }
            /* relations: the stored triples against the mirror's */
            char **up = NULL, **mine = NULL;
            size_t nu = 0, nm = 0;
            up = calloc(256, sizeof *up);
            for (int rt = 0; up && rt < PB_MORE_REL_TYPES; rt++) {
                const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, pb_more_rel_types[rt]);
                const cJSON *x;
                cJSON_ArrayForEach(x, arr)
                {
                    const char *other = jstr(x, "issue_id");
                    if (!other || nu >= 256) continue;
                    const char *stored = NULL;
                    int inverse = 0;
                    pb_more_rel_stored(pb_more_rel_types[rt], &stored, &inverse);
                    char line[256];
                    snprintf(line, sizeof line, "relation_%s %s %s", stored ? stored : pb_more_rel_types[rt],
                             inverse ? other : iid, inverse ? iid : other);
                    up[nu++] = strdup(line);
                }
            }
            pb_conn *c = NULL;
            rc = pb_db_acquire(v->r.db, &c, err);
            if (!rc) rc = pb_ss_relation_rows(c, iid, &mine, &nm, err);
            if (c) pb_db_release(v->r.db, c);
            if (!rc) {
                /* the mirror also holds relations whose other issue is gone upstream; Plane lists
                 * only live ones, so keep only triples seen upstream or touching live issues */
                if (nu > 1) qsort(up, nu, sizeof *up, strp_cmp);
                verify_sets(v, "relations", iid, up, nu, mine, nm);
            }
            pb_ss_strings_free(up, nu);
            pb_ss_strings_free(mine, nm);
        }
        for (size_t q = 0; q < n * 4; q++) pb_up_result_clear(&res[q]);
    }
    return rc;
}

static int verify_memberships(vctx *v, const char *pid, const char *kind, const idset *refs, pb_error *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < refs->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "projects/%s/%ss/%s/%s-issues/?fields=id", pid, kind, refs->ids[i], kind);
        cJSON *rows = NULL;
        int ok = 0;
        rc = fetch_all(&v->r, path, &rows, &ok, err);
        if (!rc && ok) {
            size_t nu = 0, nm = 0;
            char **up = calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof *up);
            char(*mine)[40] = NULL;
            const cJSON *x;
            cJSON_ArrayForEach(x, rows) if (up && jstr(x, "id")) up[nu++] = strdup(jstr(x, "id"));
            pb_conn *c = NULL;
            rc = pb_db_acquire(v->r.db, &c, err);
            if (!rc) rc = pb_ss_membership_ids(c, kind, refs->ids[i], &mine, &nm, err);
            if (c) pb_db_release(v->r.db, c);
            char **mp = calloc(nm + 1, sizeof *mp);
            for (size_t k = 0; mp && k < nm; k++) mp[k] = strdup(mine[k]);
            if (!rc && up && mp) verify_sets(v, kind[0] == 'c' ? "cycle-issues" : "module-issues", refs->ids[i], up, nu,
                                             mp, nm);
            pb_ss_strings_free(up, nu);
            pb_ss_strings_free(mp, nm);
            free(mine);
        }
        cJSON_Delete(rows);
    }
    return rc;
}

int pb_sync_verify(pb_db *db, pb_vault *vault, const char *slug, int shallow, volatile int *stop,
                   pb_verify_diff_fn diff_fn, void *ctx, pb_verify_report *rep, pb_error *err)
{
    vctx v;
    memset(&v, 0, sizeof v);
    memset(rep, 0, sizeof *rep);
    v.rep = rep;
    v.fn = diff_fn;
    v.fctx = ctx;
    pb_sync_opts o;
    memset(&o, 0, sizeof o);
    o.stop = stop;
    v.r.o = &o;
    v.r.db = db;
    v.r.ws = slug;
    v.r.per_page = 100;
    v.r.parallel = 8;
    int rc = pb_sync_open_upstream(db, vault, slug, &v.r.up, err);
    if (rc) return rc;
    pb_up_set_stop(v.r.up, stop);
    pb_up_set_parallel(v.r.up, 8);

    /* workspace members */
    cJSON *rows = NULL;
    int ok = 0;
    rc = fetch_all(&v.r, "members/", &rows, &ok, err);
    if (!rc && ok) {
        size_t nu = 0, nm = 0;
        char **up = calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof *up), **mine = NULL;
        const cJSON *x;
        cJSON_ArrayForEach(x, rows)
        {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
            const char *id = jstr(x, "id"), *email = jstr(x, "email");
            if (!up || !id || !email) continue;
            char line[512], lower[256];
            size_t k = 0;
            for (; email[k] && k + 1 < sizeof lower; k++)
                lower[k] = (char)((email[k] >= 'A' && email[k] <= 'Z') ? email[k] + 32 : email[k]);
            lower[k] = '\0';
            snprintf(line, sizeof line, "%s %s %d", id, lower, cJSON_IsNumber(role) ? (int)role->valuedouble : 15);
            up[nu++] = strdup(line);
        }
        pb_conn *c = NULL;
        rc = pb_db_acquire(db, &c, err);
        if (!rc) rc = pb_ss_member_rows(c, slug, &mine, &nm, err);
        if (c) pb_db_release(db, c);
        if (!rc && up) verify_sets(&v, "members", slug, up, nu, mine, nm);
        pb_ss_strings_free(up, nu);
        pb_ss_strings_free(mine, nm);
    }
    cJSON_Delete(rows);

    idset projects = {0};
    if (!rc) rc = verify_listing(&v, "projects", "projects/", "project", NULL, NULL, &projects, err);
    for (size_t i = 0; !rc && i < projects.n; i++) {
        const char *pid = projects.ids[i];
        char path[512];
        idset cycles = {0}, modules = {0}, issues = {0};
        static const char *const res[] = {"states", "labels", "members", "intake-issues"};
        static const char *const typ[] = {"state", "label", "project_member", "intake"};
        for (int k = 0; !rc && k < 4; k++) {
            snprintf(path, sizeof path, "projects/%s/%s/", pid, res[k]);
            rc = verify_listing(&v, k == 2 ? "project-members" : res[k], path, typ[k], pid, NULL, NULL, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "projects/%s/cycles/", pid);
            rc = verify_listing(&v, "cycles", path, "cycle", pid, NULL, &cycles, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "projects/%s/modules/", pid);
            rc = verify_listing(&v, "modules", path, "module", pid, NULL, &modules, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "projects/%s/work-items/", pid);
            rc = verify_listing(&v, "work-items", path, "issue", pid, NULL, &issues, err);
        }
        if (!rc) rc = verify_memberships(&v, pid, "cycle", &cycles, err);
        if (!rc) rc = verify_memberships(&v, pid, "module", &modules, err);
        if (!rc && !shallow) rc = verify_children(&v, pid, &issues, err);
        idset_free(&cycles);
        idset_free(&modules);
        idset_free(&issues);
    }
    idset_free(&projects);
    pb_up_stats us;
    pb_up_stats_get(v.r.up, &us);
    rep->requests = us.requests;
    rep->accuracy = rep->compared ? 100.0 * (double)rep->matched / (double)rep->compared : 100.0;
    pb_up_free(v.r.up);
    return rc;
}
