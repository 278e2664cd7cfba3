/* apply: plan/apply a populate spec to a target. See apply.h. */
#include "populate/apply.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "store/populate_store.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AP_PER_PAGE 1000
#define AP_MAX_PAGES 1000

typedef struct ap {
    pb_pop_target *t;
    pb_db *db;
    const pb_pop_opts *o;
    const cJSON *spec;
    const char *xsrc;
    const char *tname;
    const char *slug;
    char project_id[64];
    int project_new;
    cJSON *objects;
    int64_t created, updated, unchanged, failed, writes_done;
    cJSON *members;   /* email -> id */
    cJSON *states;    /* name -> id */
    cJSON *groups;    /* group -> id (first by sequence) */
    cJSON *labels;    /* name -> id */
    cJSON *cycles;    /* key -> id */
    cJSON *modules;   /* key -> id */
    cJSON *items;     /* external id -> id */
    pb_ps_run run;
    int resumed;
    pb_error *err;
} ap;

/* ------------------------------------------------------------------ helpers */

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void hash_json(const cJSON *o, char out[65])
{
    char *s = cJSON_PrintUnformatted(o);
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(s ? s : "", s ? strlen(s) : 0, md, &ml, EVP_sha256(), NULL);
    pb_hex_encode(md, 32, out);
    free(s);
}

static void note(ap *a, const char *kind, const char *ident, const char *action, cJSON *fields, const char *error)
{
    if (!strcmp(action, "create")) a->created++;
    else if (!strcmp(action, "update")) a->updated++;
    else if (!strcmp(action, "unchanged")) a->unchanged++;
    else if (!strcmp(action, "failed")) a->failed++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "id", ident ? ident : "");
    cJSON_AddStringToObject(o, "action", action);
    if (fields && cJSON_GetArraySize(fields) > 0) cJSON_AddItemToObject(o, "fields", fields);
    else cJSON_Delete(fields);
    if (error) cJSON_AddStringToObject(o, "error", error);
    cJSON_AddItemToArray(a->objects, o);
    a->run.done++;
    if (a->o->progress) a->o->progress(a->o->progress_ctx, a->run.done, a->run.total);
    if (!a->o->dry_run && a->run.done % 25 == 0) {
        a->run.created = a->created;
        a->run.updated = a->updated;
        a->run.unchanged = a->unchanged;
        a->run.failed = a->failed;
        pb_pop_target_stats st;
        pb_pop_target_stats_get(a->t, &st);
        a->run.requests = st.reads + st.writes;
        pb_ps_run_save(a->db, &a->run, NULL);
    }
}

/* Error text of an answer body: Plane's {"error"}, {"detail"} or the first field message. */
static void answer_error(const cJSON *j, int status, char *out, size_t n)
{
    const char *m = js(j, "error");
    if (!m) m = js(j, "detail");
    if (!m && cJSON_IsObject(j) && j->child) {
        const cJSON *c = j->child;
        if (cJSON_IsString(c)) m = c->valuestring;
        else if (cJSON_IsArray(c) && cJSON_IsString(c->child)) m = c->child->valuestring;
        if (m) {
            snprintf(out, n, "HTTP %d: %s: %s", status, c->string, m);
            return;
        }
    }
    snprintf(out, n, "HTTP %d%s%s", status, m ? ": " : "", m ? m : "");
}

static int call(ap *a, const char *method, const cJSON *body, int *status, cJSON **json, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int call(ap *a, const char *method, const cJSON *body, int *status, cJSON **json, const char *fmt, ...)
{
    char path[2048];
    va_list ap_;
    va_start(ap_, fmt);
    vsnprintf(path, sizeof path, fmt, ap_);
    va_end(ap_);
    if (strcmp(method, "GET") != 0 && a->o->stop_after_writes > 0 && a->writes_done >= a->o->stop_after_writes)
        return pb_error_set(a->err, PB_ESTATE, "interrupted after %lld writes", (long long)a->writes_done);
    int rc = pb_pop_call(a->t, method, path, body, status, json, a->err);
    if (!rc && strcmp(method, "GET") != 0 && *status < 400) {
        a->writes_done++;
        if (a->o->exit_after_writes > 0 && a->writes_done >= a->o->exit_after_writes) _exit(137);
    }
    return rc;
}

/* Lists every row of a (possibly paginated) collection into *out (an array). */
static int list_all(ap *a, const char *base, cJSON **out)
{
    *out = cJSON_CreateArray();
    const char *sep = strchr(base, '?') ? "&" : "?";
    for (int page = 0; page < AP_MAX_PAGES; page++) {
        int st = 0;
        cJSON *j = NULL;
        int rc = call(a, "GET", NULL, &st, &j, "%s%sper_page=%d&cursor=%d:%d:0", base, sep, AP_PER_PAGE, AP_PER_PAGE,
                      page);
        if (rc) return rc;
        if (st != 200) {
            char m[300];
            answer_error(j, st, m, sizeof m);
            cJSON_Delete(j);
            return pb_error_set(a->err, PB_EUPSTREAM, "GET %s: %s", base, m);
        }
        if (cJSON_IsArray(j)) {
            cJSON_Delete(*out);
            *out = j;
            return 0;
        }
        cJSON *res = cJSON_DetachItemFromObjectCaseSensitive(j, "results");
        int more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "next_page_results"));
        cJSON_Delete(j);
        if (!cJSON_IsArray(res)) {
            cJSON_Delete(res);
            return pb_error_set(a->err, PB_EUPSTREAM, "GET %s: not a list", base);
        }
        while (res->child) cJSON_AddItemToArray(*out, cJSON_DetachItemViaPointer(res, res->child));
        cJSON_Delete(res);
        if (!more) return 0;
    }
    return 0;
}

static void map_put(cJSON *m, const char *k, const char *v)
{
    if (!k || !v) return;
    cJSON_DeleteItemFromObjectCaseSensitive(m, k);
    cJSON_AddStringToObject(m, k, v);
}

static int same_str(const char *a, const char *b)
{
    if (!a || !*a) return !b || !*b;
    return b && strcmp(a, b) == 0;
}

/* Dates compare on their first 10 characters (Plane answers datetimes for cycles). */
static int same_date(const char *a, const char *b)
{
    if (!a || !*a) return !b || !*b;
    return b && strncmp(a, b, 10) == 0;
}

static int same_set(const cJSON *a, const cJSON *b)
{
    int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
    if (na != nb) return 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a)
    {
        int found = 0;
        const cJSON *y;
        const char *xv = cJSON_IsString(x) ? x->valuestring : js(x, "id");
        cJSON_ArrayForEach(y, b)
        {
            const char *yv = cJSON_IsString(y) ? y->valuestring : js(y, "id");
            if (xv && yv && !strcmp(xv, yv)) found = 1;
        }
        if (!found) return 0;
    }
    return 1;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* A sorted copy of an array of strings. */
static cJSON *sorted(const cJSON *arr)
{
    int n = cJSON_GetArraySize(arr);
    const char **v = calloc((size_t)n + 1, sizeof *v);
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (cJSON_IsString(e) && v) v[k++] = e->valuestring;
    }
    if (v) qsort(v, (size_t)k, sizeof *v, cmp_str);
    cJSON *out = cJSON_CreateArray();
    for (int i = 0; v && i < k; i++) {
        int dup = i > 0 && !strcmp(v[i], v[i - 1]);
        if (!dup) cJSON_AddItemToArray(out, cJSON_CreateString(v[i]));
    }
    free(v);
    return out;
}

/* Records are kept per project ("item:<project id>"): a project deleted and created again,
 * or a file imported into another project, starts from no record. refresh ignores the work
 * items' records (memberships and relations are re-sent only when they changed). */
static int rec_get(ap *a, const char *kind, const char *xid, char id[64], char hash[80])
{
    id[0] = hash[0] = 0;
    if ((a->o->refresh && !strcmp(kind, "item")) || !a->project_id[0]) return PB_ENOTFOUND;
    char k[128];
    snprintf(k, sizeof k, "%s:%s", kind, a->project_id);
    return pb_ps_obj_get(a->db, a->slug, a->tname, k, a->xsrc, xid, id, hash, NULL);
}

static void rec_put(ap *a, const char *kind, const char *xid, const char *id, const char *hash)
{
    if (a->o->dry_run || !a->project_id[0]) return;
    char k[128];
    snprintf(k, sizeof k, "%s:%s", kind, a->project_id);
    pb_ps_obj_put(a->db, a->slug, a->tname, k, a->xsrc, xid, id, hash, NULL);
}

/* ------------------------------------------------------------------ project */

static const char *const flag_keys[] = {"cycle_view", "module_view", "issue_views_view", "page_view", "intake_view", NULL};

static int do_project(ap *a)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(a->spec, "project");
    int st = 0, rc;
    cJSON *j = NULL;
    if (a->o->project_id && *a->o->project_id) {
        rc = call(a, "GET", NULL, &st, &j, "projects/%s/", a->o->project_id);
        if (rc) return rc;
        cJSON_Delete(j);
        if (st != 200) return pb_error_set(a->err, PB_ENOTFOUND, "project %s: HTTP %d", a->o->project_id, st);
        pb_strlcpy(a->project_id, a->o->project_id, sizeof a->project_id);
        /* imports into an existing project may still need its feature flags (cycles, modules) */
        cJSON *fl = cJSON_CreateObject();
        for (int i = 0; flag_keys[i]; i++) {
            const cJSON *f = p ? cJSON_GetObjectItemCaseSensitive(p, flag_keys[i]) : NULL;
            if (cJSON_IsTrue(f)) cJSON_AddTrueToObject(fl, flag_keys[i]);
        }
        if (fl->child && !a->o->dry_run) {
            rc = call(a, "PATCH", fl, &st, &j, "projects/%s/", a->project_id);
            cJSON_Delete(j);
        }
        cJSON_Delete(fl);
        return rc;
    }
    if (!cJSON_IsObject(p)) return pb_error_set(a->err, PB_EINVAL, "the spec has no project");
    const char *xid = js(p, "external_id"), *ident = js(p, "identifier");
    cJSON *all = NULL;
    rc = list_all(a, "projects/", &all);
    if (rc) {
        cJSON_Delete(all);
        return rc;
    }
    const cJSON *found = NULL, *e;
    cJSON_ArrayForEach(e, all)
    {
        if (same_str(js(e, "external_source"), a->xsrc) && same_str(js(e, "external_id"), xid)) found = e;
    }
    if (!found) {
        cJSON_ArrayForEach(e, all)
        {
            if (ident && js(e, "identifier") && !strcmp(js(e, "identifier"), ident)) {
                char m[400];
                snprintf(m, sizeof m, "identifier %s is already used by project '%s' (not created by this template "
                                      "instance); choose another identifier",
                         ident, js(e, "name") ? js(e, "name") : "?");
                note(a, "project", ident, "failed", NULL, m);
                cJSON_Delete(all);
                return pb_error_set(a->err, PB_ECONFLICT, "%s", m);
            }
        }
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *fields = cJSON_CreateArray();
    const char *pname = js(p, "name"), *pdesc = js(p, "description");
    if (!found || !same_str(pname, js(found, "name"))) {
        cJSON_AddStringToObject(body, "name", pname);
        cJSON_AddItemToArray(fields, cJSON_CreateString("name"));
    }
    if (!found || !same_str(pdesc, js(found, "description"))) {
        cJSON_AddStringToObject(body, "description", pdesc ? pdesc : "");
        cJSON_AddItemToArray(fields, cJSON_CreateString("description"));
    }
    for (int i = 0; flag_keys[i]; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, flag_keys[i]);
        if (!f) continue;
        const cJSON *cur = found ? cJSON_GetObjectItemCaseSensitive(found, flag_keys[i]) : NULL;
        if (!found || cJSON_IsTrue(cur) != cJSON_IsTrue(f)) {
            cJSON_AddBoolToObject(body, flag_keys[i], cJSON_IsTrue(f));
            cJSON_AddItemToArray(fields, cJSON_CreateString(flag_keys[i]));
        }
    }
    if (found) {
        pb_strlcpy(a->project_id, js(found, "id") ? js(found, "id") : "", sizeof a->project_id);
        if (!body->child) {
            note(a, "project", xid, "unchanged", fields, NULL);
            fields = NULL;
        } else if (a->o->dry_run) {
            note(a, "project", xid, "update", fields, NULL);
            fields = NULL;
        } else {
            rc = call(a, "PATCH", body, &st, &j, "projects/%s/", a->project_id);
            if (!rc && st != 200) {
                char m[300];
                answer_error(j, st, m, sizeof m);
                rc = pb_error_set(a->err, PB_EUPSTREAM, "project update: %s", m);
            }
            cJSON_Delete(j);
            if (!rc) note(a, "project", xid, "update", fields, NULL);
            else cJSON_Delete(fields);
            fields = NULL;
        }
    } else {
        a->project_new = 1;
        cJSON_AddStringToObject(body, "identifier", ident);
        cJSON_AddStringToObject(body, "external_source", a->xsrc);
        cJSON_AddStringToObject(body, "external_id", xid);
        if (a->o->dry_run) {
            note(a, "project", xid, "create", NULL, NULL);
        } else {
            rc = call(a, "POST", body, &st, &j, "projects/");
            if (!rc && (st != 201 && st != 200)) {
                char m[300];
                answer_error(j, st, m, sizeof m);
                rc = pb_error_set(a->err, PB_EUPSTREAM, "project create: %s", m);
                note(a, "project", xid, "failed", NULL, m);
            } else if (!rc) {
                pb_strlcpy(a->project_id, js(j, "id") ? js(j, "id") : "", sizeof a->project_id);
                note(a, "project", xid, "create", NULL, NULL);
            }
            cJSON_Delete(j);
        }
        cJSON_Delete(fields);
        fields = NULL;
    }
    cJSON_Delete(fields);
    cJSON_Delete(body);
    cJSON_Delete(all);
    return rc;
}

/* ------------------------------------------------------------------ members */

static int need_members(const cJSON *spec)
{
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "members")) > 0) return 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "items"))
    {
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "assignees")) > 0) return 1;
        if (cJSON_GetObjectItemCaseSensitive(it, "created_by_email")) return 1;
    }
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
}

static int do_members(ap *a)
{
    if (!need_members(a->spec)) return 0;
    int st = 0;
    cJSON *j = NULL;
    int rc = call(a, "GET", NULL, &st, &j, "members/");
    if (rc) return rc;
    if (st != 200 || !cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return pb_error_set(a->err, PB_EUPSTREAM, "GET members/: HTTP %d", st);
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        const cJSON *u = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "member"))
                             ? cJSON_GetObjectItemCaseSensitive(m, "member")
                             : m;
        const char *em = js(u, "email"), *id = js(u, "id");
        if (em && id) {
            char e2[256];
            pb_strlcpy(e2, em, sizeof e2);
            lower(e2);
            map_put(a->members, e2, id);
        }
    }
    cJSON_Delete(j);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(a->spec, "members");
    if (cJSON_GetArraySize(want) == 0) return 0;
    cJSON *cur = NULL;
    if (!a->project_new || a->o->dry_run) {
        if (a->project_id[0]) {
            rc = call(a, "GET", NULL, &st, &cur, "projects/%s/members/", a->project_id);
            if (rc) return rc;
        }
    }
    cJSON_ArrayForEach(m, want)
    {
        char em[256];
        pb_strlcpy(em, js(m, "email") ? js(m, "email") : "", sizeof em);
        lower(em);
        const char *uid = js(a->members, em);
        if (!uid) {
            note(a, "member", em, "failed", NULL, "not a member of the workspace");
            continue;
        }
        int present = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cur)
        {
            const char *cid = js(c, "id");
            if (!cid) cid = js(c, "member");
            if (cid && !strcmp(cid, uid)) present = 1;
        }
        /* the project creator is already an admin of a new project */
        if (present) {
            note(a, "member", em, "unchanged", NULL, NULL);
            continue;
        }
        if (a->o->dry_run) {
            note(a, "member", em, "create", NULL, NULL);
            continue;
        }
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "member", uid);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        cJSON_AddNumberToObject(b, "role", cJSON_IsNumber(role) ? role->valuedouble : 15);
        cJSON *r = NULL;
        rc = call(a, "POST", b, &st, &r, "projects/%s/members/", a->project_id);
        cJSON_Delete(b);
        if (rc) {
            cJSON_Delete(cur);
            cJSON_Delete(r);
            return rc;
        }
        if (st == 200 || st == 201) {
            note(a, "member", em, "create", NULL, NULL);
        } else if (st == 409 || st == 400) {
            /* already a member (the creator) or a duplicate: nothing to do */
            note(a, "member", em, "unchanged", NULL, NULL);
        } else {
            char msg[300];
            answer_error(r, st, msg, sizeof msg);
            note(a, "member", em, "failed", NULL, msg);
        }
        cJSON_Delete(r);
    }
    cJSON_Delete(cur);
    return 0;
}

/* ------------------------------------------------------------------ states, labels */

static const char *const group_order[] = {"backlog", "unstarted", "started", "completed", "cancelled", NULL};

static int do_named(ap *a, const char *kind, const char *coll, cJSON *map, cJSON *extra_names)
{
    int st = 0, rc = 0;
    cJSON *cur = NULL;
    int is_state = !strcmp(kind, "state");
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(a->spec, coll);
    if (cJSON_GetArraySize(want) == 0 && cJSON_GetArraySize(extra_names) == 0) {
        if (!is_state) return 0;
        /* states are listed only when some item names a state or a state group */
        int used = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a->spec, "items"))
        {
            if (js(it, "state") || js(it, "state_group")) used = 1;
        }
        if (!used) return 0;
    }
    if (a->project_id[0] && !(a->project_new && !is_state)) {
        char base[256];
        snprintf(base, sizeof base, "projects/%s/%s/", a->project_id, coll);
        rc = list_all(a, base, &cur);
        if (rc) {
            cJSON_Delete(cur);
            return rc;
        }
    } else {
        cur = cJSON_CreateArray();
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cur)
    {
        map_put(map, js(e, "name"), js(e, "id"));
    }
    if (is_state && a->o->dry_run && !a->project_id[0]) {
        /* a project created by this plan starts with Plane's default states */
        static const char *const dn[][2] = {{"Backlog", "backlog"}, {"Todo", "unstarted"}, {"In Progress", "started"},
                                            {"Done", "completed"}, {"Cancelled", "cancelled"}};
        for (size_t i = 0; i < sizeof dn / sizeof dn[0]; i++) {
            map_put(map, dn[i][0], "(planned)");
            map_put(a->groups, dn[i][1], "(planned)");
        }
    }
    if (is_state) {
        /* group -> the first state of the group by sequence (ties: list order) */
        for (int g = 0; group_order[g]; g++) {
            double best = 0;
            const char *bid = NULL;
            cJSON_ArrayForEach(e, cur)
            {
                const char *gr = js(e, "group");
                const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "sequence");
                double s = cJSON_IsNumber(sq) ? sq->valuedouble : 0;
                if (gr && !strcmp(gr, group_order[g]) && (!bid || s < best)) {
                    best = s;
                    bid = js(e, "id");
                }
            }
            if (bid) map_put(a->groups, group_order[g], bid);
        }
    }
    /* desired: the spec's list plus names only referenced by items (labels) */
    cJSON *all = cJSON_Duplicate(want ? want : cJSON_GetObjectItemCaseSensitive(a->spec, "__none__"), 1);
    if (!all) all = cJSON_CreateArray();
    cJSON_ArrayForEach(e, extra_names)
    {
        int dup = 0;
        const cJSON *w;
        cJSON_ArrayForEach(w, all)
        {
            if (same_str(js(w, "name"), e->valuestring)) dup = 1;
        }
        if (!dup) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->valuestring);
            cJSON_AddItemToArray(all, o);
        }
    }
    cJSON_ArrayForEach(e, all)
    {
        const char *name = js(e, "name");
        const cJSON *c = NULL, *x;
        cJSON_ArrayForEach(x, cur)
        {
            if (same_str(js(x, "name"), name)) c = x;
        }
        cJSON *body = cJSON_CreateObject();
        cJSON *fields = cJSON_CreateArray();
        static const char *const keys[] = {"color", "description", "group", NULL};
        for (int k = 0; keys[k]; k++) {
            const char *v = js(e, keys[k]);
            if (!v) continue;
            if (!c || !same_str(v, js(c, keys[k]))) {
                cJSON_AddStringToObject(body, keys[k], v);
                cJSON_AddItemToArray(fields, cJSON_CreateString(keys[k]));
            }
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "default")) &&
            (!c || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "default")))) {
            cJSON_AddTrueToObject(body, "default");
            cJSON_AddItemToArray(fields, cJSON_CreateString("default"));
        }
        if (c && !body->child) {
            note(a, kind, name, "unchanged", fields, NULL);
        } else if (a->o->dry_run) {
            if (!c && !js(map, name)) map_put(map, name, "(planned)");
            if (!c && js(map, name)) {
                cJSON_Delete(fields);
                if (!strcmp(js(map, name), "(planned)") && is_state && a->project_id[0] == 0) {
                    /* a default state of the planned project */
                }
                note(a, kind, name, "create", NULL, NULL);
            } else {
                note(a, kind, name, c ? "update" : "create", c ? fields : NULL, NULL);
                if (!c) cJSON_Delete(fields);
            }
        } else {
            cJSON *r = NULL;
            if (c) {
                rc = call(a, "PATCH", body, &st, &r, "projects/%s/%s/%s/", a->project_id, coll, js(c, "id"));
            } else {
                cJSON_AddStringToObject(body, "name", name);
                if (is_state && !js(body, "color")) cJSON_AddStringToObject(body, "color", "#60646C");
                if (is_state && !js(body, "group")) cJSON_AddStringToObject(body, "group", "backlog");
                rc = call(a, "POST", body, &st, &r, "projects/%s/%s/", a->project_id, coll);
            }
            if (rc) {
                cJSON_Delete(r);
                cJSON_Delete(body);
                cJSON_Delete(fields);
                break;
            }
            if (st == 200 || st == 201) {
                if (!c) map_put(map, name, js(r, "id"));
                if (!c && is_state && js(body, "group") && !js(a->groups, js(body, "group")))
                    map_put(a->groups, js(body, "group"), js(r, "id"));
                note(a, kind, name, c ? "update" : "create", c ? fields : NULL, NULL);
                if (!c) cJSON_Delete(fields);
            } else if (st == 409 && js(r, "id")) {
                map_put(map, name, js(r, "id"));
                note(a, kind, name, "unchanged", fields, NULL);
            } else {
                char m[300];
                answer_error(r, st, m, sizeof m);
                note(a, kind, name, "failed", fields, m);
            }
            cJSON_Delete(r);
        }
        cJSON_Delete(body);
    }
    cJSON_Delete(all);
    cJSON_Delete(cur);
    return rc;
}

/* ------------------------------------------------------------------ cycles, modules */

static int do_keyed(ap *a, const char *kind, const char *coll, cJSON *map)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(a->spec, coll);
    if (cJSON_GetArraySize(want) == 0) return 0;
    int st = 0, rc = 0;
    cJSON *cur = NULL;
    if (a->project_id[0] && !a->project_new) {
        char base[256];
        snprintf(base, sizeof base, "projects/%s/%s/%s", a->project_id, coll,
                 !strcmp(coll, "cycles") ? "?cycle_view=all" : "");
        rc = list_all(a, base, &cur);
        if (rc) {
            cJSON_Delete(cur);
            return rc;
        }
    } else {
        cur = cJSON_CreateArray();
    }
    int is_cycle = !strcmp(coll, "cycles");
    const char *d2 = is_cycle ? "end_date" : "target_date";
    const cJSON *e;
    cJSON_ArrayForEach(e, want)
    {
        const char *xid = js(e, "external_id"), *name = js(e, "name"), *key = js(e, "key");
        const cJSON *c = NULL, *x;
        cJSON_ArrayForEach(x, cur)
        {
            if (same_str(js(x, "external_source"), a->xsrc) && same_str(js(x, "external_id"), xid)) c = x;
        }
        if (!c) cJSON_ArrayForEach(x, cur)
            {
                if (same_str(js(x, "name"), name)) c = x;
            }
        cJSON *body = cJSON_CreateObject();
        cJSON *fields = cJSON_CreateArray();
        if (!c || !same_str(name, js(c, "name"))) {
            cJSON_AddStringToObject(body, "name", name);
            cJSON_AddItemToArray(fields, cJSON_CreateString("name"));
        }
        const char *desc = js(e, "description");
        if (desc && (!c || !same_str(desc, js(c, "description")))) {
            cJSON_AddStringToObject(body, "description", desc);
            cJSON_AddItemToArray(fields, cJSON_CreateString("description"));
        }
        const char *sd = js(e, "start_date"), *ed = js(e, d2);
        if ((sd || ed) && (!c || !same_date(sd, js(c, "start_date")) || !same_date(ed, js(c, d2)))) {
            /* cycles take both dates together */
            cJSON_AddStringToObject(body, "start_date", sd ? sd : "");
            cJSON_AddStringToObject(body, d2, ed ? ed : "");
            if (!sd) cJSON_ReplaceItemInObjectCaseSensitive(body, "start_date", cJSON_CreateNull());
            if (!ed) cJSON_ReplaceItemInObjectCaseSensitive(body, d2, cJSON_CreateNull());
            cJSON_AddItemToArray(fields, cJSON_CreateString("dates"));
        }
        const char *status = js(e, "status");
        if (status && (!c || !same_str(status, js(c, "status")))) {
            cJSON_AddStringToObject(body, "status", status);
            cJSON_AddItemToArray(fields, cJSON_CreateString("status"));
        }
        if (c) map_put(map, key, js(c, "id"));
        if (c && !body->child) {
            note(a, kind, xid, "unchanged", fields, NULL);
        } else if (a->o->dry_run) {
            note(a, kind, xid, c ? "update" : "create", c ? fields : NULL, NULL);
            if (!c) cJSON_Delete(fields);
        } else {
            cJSON *r = NULL;
            if (c) {
                rc = call(a, "PATCH", body, &st, &r, "projects/%s/%s/%s/", a->project_id, coll, js(c, "id"));
            } else {
                cJSON_AddStringToObject(body, "external_source", a->xsrc);
                cJSON_AddStringToObject(body, "external_id", xid);
                rc = call(a, "POST", body, &st, &r, "projects/%s/%s/", a->project_id, coll);
            }
            if (rc) {
                cJSON_Delete(r);
                cJSON_Delete(body);
                cJSON_Delete(fields);
                break;
            }
            if (st == 200 || st == 201) {
                if (!c) map_put(map, key, js(r, "id"));
                note(a, kind, xid, c ? "update" : "create", c ? fields : NULL, NULL);
                if (!c) cJSON_Delete(fields);
            } else if (st == 409 && js(r, "id")) {
                map_put(map, key, js(r, "id"));
                note(a, kind, xid, "unchanged", fields, NULL);
            } else {
                char m[300];
                answer_error(r, st, m, sizeof m);
                note(a, kind, xid, "failed", fields, m);
            }
            cJSON_Delete(r);
        }
        cJSON_Delete(body);
    }
    cJSON_Delete(cur);
    return rc;
}

/* ------------------------------------------------------------------ work items */

/* The desired document of an item with names resolved to ids; NULL fields are left out.
 * *err_out gets the first unresolvable reference (the item is still applied without it). */
static cJSON *item_doc(ap *a, const cJSON *it, char *warn, size_t wn)
{
    cJSON *d = cJSON_CreateObject();
    warn[0] = 0;
    cJSON_AddStringToObject(d, "name", js(it, "name"));
    const char *dh = js(it, "description_html");
    cJSON_AddStringToObject(d, "description_html", dh && *dh ? dh : "<p></p>");
    const char *pr = js(it, "priority");
    cJSON_AddStringToObject(d, "priority", pr && *pr ? pr : "none");
    const char *st = js(it, "state"), *sg = js(it, "state_group");
    const char *sid = st ? js(a->states, st) : NULL;
    if (!sid && sg) sid = js(a->groups, sg);
    if (st && !sid && !sg) snprintf(warn, wn, "unknown state '%s'", st);
    if (sid && strcmp(sid, "(planned)")) cJSON_AddStringToObject(d, "state", sid);
    cJSON *labels = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(it, "labels"))
    {
        const char *lid = cJSON_IsString(e) ? js(a->labels, e->valuestring) : NULL;
        if (lid && !strcmp(lid, "(planned)")) continue;
        if (lid) cJSON_AddItemToArray(labels, cJSON_CreateString(lid));
        else if (!warn[0] && cJSON_IsString(e)) snprintf(warn, wn, "unknown label '%s'", e->valuestring);
    }
    cJSON_AddItemToObject(d, "labels", sorted(labels));
    cJSON_Delete(labels);
    cJSON *as = cJSON_CreateArray();
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(it, "assignees"))
    {
        if (!cJSON_IsString(e)) continue;
        char em[256];
        pb_strlcpy(em, e->valuestring, sizeof em);
        lower(em);
        const char *uid = js(a->members, em);
        if (uid) cJSON_AddItemToArray(as, cJSON_CreateString(uid));
        else if (!warn[0]) snprintf(warn, wn, "assignee %.200s is not a workspace member (left out)", em);
    }
    cJSON_AddItemToObject(d, "assignees", sorted(as));
    cJSON_Delete(as);
    const char *par = js(it, "parent");
    const char *pid = par ? js(a->items, par) : NULL;
    if (pid && strcmp(pid, "(planned)")) cJSON_AddStringToObject(d, "parent", pid);
    else cJSON_AddNullToObject(d, "parent");
    const char *sd = js(it, "start_date"), *td = js(it, "target_date");
    if (sd && *sd) cJSON_AddStringToObject(d, "start_date", sd);
    else cJSON_AddNullToObject(d, "start_date");
    if (td && *td) cJSON_AddStringToObject(d, "target_date", td);
    else cJSON_AddNullToObject(d, "target_date");
    return d;
}

/* Fields of doc that differ from the live object into body (returns the names). */
static cJSON *item_diff(const cJSON *doc, const cJSON *live, cJSON *body)
{
    cJSON *fields = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
    {
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(live, e->string);
        int same;
        if (cJSON_IsArray(e)) {
            same = same_set(e, lv);
        } else if (cJSON_IsNull(e)) {
            same = !lv || cJSON_IsNull(lv) || (cJSON_IsString(lv) && !lv->valuestring[0]);
        } else if (!strcmp(e->string, "start_date") || !strcmp(e->string, "target_date")) {
            same = cJSON_IsString(lv) && same_date(e->valuestring, lv->valuestring);
        } else if (cJSON_IsObject(lv)) { /* an expanded reference */
            same = same_str(e->valuestring, js(lv, "id"));
        } else {
            same = cJSON_IsString(lv) && !strcmp(e->valuestring, lv->valuestring);
        }
        if (!same) {
            cJSON_AddItemToObject(body, e->string, cJSON_Duplicate(e, 1));
            cJSON_AddItemToArray(fields, cJSON_CreateString(e->string));
        }
    }
    return fields;
}

/* Orders items parents first. Returns a malloc'd array of pointers, or NULL on a cycle. */
static const cJSON **topo(const cJSON *items, int *n_out, char *bad, size_t badn)
{
    int n = cJSON_GetArraySize(items);
    const cJSON **out = calloc((size_t)n + 1, sizeof *out);
    char *done = calloc((size_t)n + 1, 1);
    const cJSON **in = calloc((size_t)n + 1, sizeof *in);
    int k = 0, i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, items) in[i++] = e;
    cJSON *placed = cJSON_CreateObject();
    cJSON *known = cJSON_CreateObject();
    for (i = 0; i < n; i++)
        if (js(in[i], "external_id")) cJSON_AddTrueToObject(known, js(in[i], "external_id"));
    int progress = 1;
    while (out && done && in && k < n && progress) {
        progress = 0;
        for (i = 0; i < n; i++) {
            if (done[i]) continue;
            const char *par = js(in[i], "parent");
            if (par && cJSON_GetObjectItemCaseSensitive(known, par) && !cJSON_GetObjectItemCaseSensitive(placed, par))
                continue;
            out[k++] = in[i];
            done[i] = 1;
            progress = 1;
            if (js(in[i], "external_id") && !cJSON_GetObjectItemCaseSensitive(placed, js(in[i], "external_id")))
                cJSON_AddTrueToObject(placed, js(in[i], "external_id"));
        }
    }
    if (k < n && done && in) {
        for (i = 0; i < n; i++)
            if (!done[i]) {
                snprintf(bad, badn, "%s", js(in[i], "external_id") ? js(in[i], "external_id") : "?");
                break;
            }
        free(out);
        out = NULL;
    }
    cJSON_Delete(placed);
    cJSON_Delete(known);
    free(done);
    free(in);
    *n_out = k;
    return out;
}

static int do_items(ap *a)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(a->spec, "items");
    int n = 0, rc = 0, st = 0;
    char bad[300] = "";
    const cJSON **order = topo(items, &n, bad, sizeof bad);
    if (!order) return pb_error_set(a->err, PB_EINVAL, "items form a parent cycle (at %s)", bad);
    /* records first: a listing is needed only when some item has none */
    int missing = 0;
    for (int i = 0; i < n; i++) {
        char id[64], h[80];
        if (rec_get(a, "item", js(order[i], "external_id"), id, h) == 0) map_put(a->items, js(order[i], "external_id"), id);
        else missing = 1;
    }
    cJSON *live = cJSON_CreateObject(); /* external id -> live object */
    if (missing && a->project_id[0] && !a->project_new) {
        cJSON *all = NULL;
        char base[256];
        snprintf(base, sizeof base, "projects/%s/work-items/", a->project_id);
        rc = list_all(a, base, &all);
        if (rc) {
            cJSON_Delete(all);
            cJSON_Delete(live);
            free(order);
            return rc;
        }
        while (all->child) {
            cJSON *x = cJSON_DetachItemViaPointer(all, all->child);
            const char *xi = js(x, "external_id");
            if (xi && same_str(js(x, "external_source"), a->xsrc) && !cJSON_GetObjectItemCaseSensitive(live, xi)) {
                map_put(a->items, xi, js(x, "id"));
                cJSON_AddItemToObject(live, xi, x);
            } else {
                cJSON_Delete(x);
            }
        }
        cJSON_Delete(all);
    }
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *it = order[i];
        const char *xid = js(it, "external_id");
        char warn[300];
        cJSON *doc = item_doc(a, it, warn, sizeof warn);
        char h[65], rid[64], rh[80];
        hash_json(doc, h);
        int have_rec = rec_get(a, "item", xid, rid, rh) == 0;
        const char *id = js(a->items, xid);
        if (id && have_rec && !strcmp(rh, h)) {
            note(a, "item", xid, "unchanged", NULL, NULL);
            cJSON_Delete(doc);
            continue;
        }
        if (a->o->dry_run && !id) {
            note(a, "item", xid, "create", NULL, warn[0] ? warn : NULL);
            /* children of a planned item resolve to a placeholder */
            map_put(a->items, xid, "(planned)");
            cJSON_Delete(doc);
            continue;
        }
        cJSON *r = NULL;
        char idbuf[64] = "";
        if (id) pb_strlcpy(idbuf, id, sizeof idbuf);
        if (!idbuf[0]) {
            cJSON *body = cJSON_Duplicate(doc, 1);
            cJSON_AddStringToObject(body, "external_source", a->xsrc);
            cJSON_AddStringToObject(body, "external_id", xid);
            /* imported history, on create only (not part of the compared document) */
            if (js(it, "created_at")) cJSON_AddStringToObject(body, "created_at", js(it, "created_at"));
            if (js(it, "created_by_email")) {
                char em[256];
                pb_strlcpy(em, js(it, "created_by_email"), sizeof em);
                lower(em);
                if (js(a->members, em)) cJSON_AddStringToObject(body, "created_by", js(a->members, em));
            }
            if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "parent")))
                cJSON_DeleteItemFromObjectCaseSensitive(body, "parent");
            rc = call(a, "POST", body, &st, &r, "projects/%s/work-items/", a->project_id);
            cJSON_Delete(body);
            if (rc) {
                cJSON_Delete(doc);
                break;
            }
            if (st == 201 || st == 200) {
                map_put(a->items, xid, js(r, "id"));
                rec_put(a, "item", xid, js(r, "id"), h);
                note(a, "item", xid, "create", NULL, warn[0] ? warn : NULL);
                cJSON_Delete(r);
                cJSON_Delete(doc);
                continue;
            }
            if (st == 409 && js(r, "id")) {
                pb_strlcpy(idbuf, js(r, "id"), sizeof idbuf); /* adopt the existing item */
                map_put(a->items, xid, idbuf);
            } else {
                char m[300];
                answer_error(r, st, m, sizeof m);
                note(a, "item", xid, "failed", NULL, m);
                cJSON_Delete(r);
                cJSON_Delete(doc);
                continue;
            }
            cJSON_Delete(r);
            r = NULL;
        }
        /* existing: compare with the live object */
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(live, xid);
        cJSON *fetched = NULL;
        if (!lv) {
            rc = call(a, "GET", NULL, &st, &fetched, "projects/%s/work-items/%s/", a->project_id, idbuf);
            if (rc) {
                cJSON_Delete(doc);
                break;
            }
            if (st == 404) {
                /* gone upstream (deleted, or archived): forget it and create it again next run */
                note(a, "item", xid, "failed", NULL, "recorded item no longer exists upstream; re-run apply to recreate it");
                if (!a->o->dry_run) rec_put(a, "item", xid, "", "");
                cJSON_Delete(fetched);
                cJSON_Delete(doc);
                continue;
            }
            lv = fetched;
        }
        cJSON *body = cJSON_CreateObject();
        cJSON *fields = item_diff(doc, lv, body);
        if (!body->child) {
            rec_put(a, "item", xid, idbuf, h);
            note(a, "item", xid, "unchanged", fields, NULL);
        } else if (a->o->dry_run) {
            note(a, "item", xid, "update", fields, warn[0] ? warn : NULL);
        } else {
            rc = call(a, "PATCH", body, &st, &r, "projects/%s/work-items/%s/", a->project_id, idbuf);
            if (!rc && st == 200) {
                rec_put(a, "item", xid, idbuf, h);
                note(a, "item", xid, "update", fields, warn[0] ? warn : NULL);
            } else if (!rc) {
                char m[300];
                answer_error(r, st, m, sizeof m);
                note(a, "item", xid, "failed", fields, m);
            } else {
                cJSON_Delete(fields);
            }
            cJSON_Delete(r);
        }
        cJSON_Delete(body);
        cJSON_Delete(fetched);
        cJSON_Delete(doc);
    }
    cJSON_Delete(live);
    free(order);
    return rc;
}

/* ------------------------------------------------------------------ memberships, relations */

/* 1 when id (a plane id) is one of this spec's items. */
static int managed_item(ap *a, const char *id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, a->items)
    {
        if (cJSON_IsString(e) && !strcmp(e->valuestring, id)) return 1;
    }
    return 0;
}

/* Cycle/module membership: one POST with the missing items; items of this spec that are no
 * longer wanted there are taken out (DELETE), items added in Plane by hand are left alone.
 * Nothing is read or written while the recorded hash of the wanted set is unchanged. */
static int do_memberships(ap *a, const char *coll, const char *kind, cJSON *map)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(a->spec, coll);
    const cJSON *c;
    int rc = 0, st = 0;
    int is_cycle = !strcmp(coll, "cycles");
    const char *sub = is_cycle ? "cycle-issues" : "module-issues";
    cJSON_ArrayForEach(c, want)
    {
        const char *key = js(c, "key"), *xid = js(c, "external_id");
        const char *cid = js(map, key);
        cJSON *ids = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a->spec, "items"))
        {
            const char *iid = js(a->items, js(it, "external_id"));
            if (!iid || !iid[0] || !strcmp(iid, "(planned)")) continue;
            int in = 0;
            if (is_cycle) in = same_str(js(it, "cycle"), key);
            else {
                const cJSON *m;
                cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(it, "modules"))
                {
                    if (cJSON_IsString(m) && !strcmp(m->valuestring, key)) in = 1;
                }
            }
            if (in) cJSON_AddItemToArray(ids, cJSON_CreateString(iid));
        }
        cJSON *s = sorted(ids);
        cJSON_Delete(ids);
        char h[65], rid[64], rh[80];
        hash_json(s, h);
        int had = cid && rec_get(a, kind, xid, rid, rh) == 0;
        if ((had && !strcmp(rh, h)) || (!had && cJSON_GetArraySize(s) == 0)) {
            if (had) note(a, kind, xid, "unchanged", NULL, NULL);
            cJSON_Delete(s);
            continue;
        }
        if (a->o->dry_run || !cid) {
            note(a, kind, xid, cid || a->o->dry_run ? (had ? "update" : "create") : "failed", NULL,
                 cid || a->o->dry_run ? NULL : "no such cycle/module");
            cJSON_Delete(s);
            continue;
        }
        /* the live members (skipped for a cycle/module created in this run: it is empty) */
        cJSON *live = NULL;
        if (!a->project_new) {
            char base[300];
            snprintf(base, sizeof base, "projects/%s/%s/%s/%s/", a->project_id, coll, cid, sub);
            rc = list_all(a, base, &live);
            if (rc) {
                cJSON_Delete(live);
                cJSON_Delete(s);
                break;
            }
        }
        cJSON *add = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, s)
        {
            int present = 0;
            const cJSON *l;
            cJSON_ArrayForEach(l, live)
            {
                const char *lid = js(l, "issue") ? js(l, "issue") : js(l, "id");
                if (lid && !strcmp(lid, e->valuestring)) present = 1;
            }
            if (!present) cJSON_AddItemToArray(add, cJSON_CreateString(e->valuestring));
        }
        char err1[300] = "";
        int changed = 0;
        if (cJSON_GetArraySize(add) > 0) {
            cJSON *body = cJSON_CreateObject();
            cJSON_AddItemToObject(body, "issues", add);
            add = NULL;
            cJSON *r = NULL;
            rc = call(a, "POST", body, &st, &r, "projects/%s/%s/%s/%s/", a->project_id, coll, cid, sub);
            cJSON_Delete(body);
            if (!rc && st != 200 && st != 201) answer_error(r, st, err1, sizeof err1);
            cJSON_Delete(r);
            changed = 1;
        }
        cJSON_Delete(add);
        const cJSON *l;
        cJSON_ArrayForEach(l, live)
        {
            if (rc) break;
            const char *lid = js(l, "issue") ? js(l, "issue") : js(l, "id");
            if (!lid || !managed_item(a, lid)) continue;
            int wanted = 0;
            cJSON_ArrayForEach(e, s)
            {
                if (!strcmp(e->valuestring, lid)) wanted = 1;
            }
            if (wanted) continue;
            cJSON *r = NULL;
            rc = call(a, "DELETE", NULL, &st, &r, "projects/%s/%s/%s/%s/%s/", a->project_id, coll, cid, sub, lid);
            if (!rc && st >= 300 && st != 404 && !err1[0]) answer_error(r, st, err1, sizeof err1);
            cJSON_Delete(r);
            changed = 1;
        }
        cJSON_Delete(live);
        cJSON_Delete(s);
        if (rc) break;
        if (!err1[0]) rec_put(a, kind, xid, cid, h);
        note(a, kind, xid, err1[0] ? "failed" : (!changed ? "unchanged" : had ? "update" : "create"), NULL,
             err1[0] ? err1 : NULL);
    }
    return rc;
}

static int do_relations(ap *a)
{
    int rc = 0, st = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a->spec, "items"))
    {
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(it, "relations");
        if (!rel || !rel->child) continue;
        const char *xid = js(it, "external_id");
        const char *iid = js(a->items, xid);
        if (!iid || !strcmp(iid, "(planned)")) {
            if (a->o->dry_run) note(a, "relations", xid, "create", NULL, NULL);
            continue;
        }
        cJSON *resolved = cJSON_CreateObject();
        const cJSON *r;
        cJSON_ArrayForEach(r, rel)
        {
            cJSON *ids = cJSON_CreateArray();
            const cJSON *e;
            cJSON_ArrayForEach(e, r)
            {
                const char *oid = cJSON_IsString(e) ? js(a->items, e->valuestring) : NULL;
                if (oid && strcmp(oid, "(planned)")) cJSON_AddItemToArray(ids, cJSON_CreateString(oid));
            }
            if (cJSON_GetArraySize(ids)) cJSON_AddItemToObject(resolved, r->string, sorted(ids));
            cJSON_Delete(ids);
        }
        if (!resolved->child) {
            cJSON_Delete(resolved);
            continue;
        }
        char h[65], rid[64], rh[80];
        hash_json(resolved, h);
        int had = rec_get(a, "relations", xid, rid, rh) == 0;
        if (had && !strcmp(rh, h)) {
            note(a, "relations", xid, "unchanged", NULL, NULL);
            cJSON_Delete(resolved);
            continue;
        }
        if (a->o->dry_run) {
            note(a, "relations", xid, "update", NULL, NULL);
            cJSON_Delete(resolved);
            continue;
        }
        char err1[300] = "";
        cJSON_ArrayForEach(r, resolved)
        {
            cJSON *body = cJSON_CreateObject();
            cJSON_AddStringToObject(body, "relation_type", r->string);
            cJSON_AddItemToObject(body, "issues", cJSON_Duplicate(r, 1));
            cJSON *resp = NULL;
            rc = call(a, "POST", body, &st, &resp, "projects/%s/work-items/%s/relations/", a->project_id, iid);
            cJSON_Delete(body);
            if (!rc && st >= 300 && !err1[0]) answer_error(resp, st, err1, sizeof err1);
            cJSON_Delete(resp);
            if (rc) break;
        }
        if (rc) {
            cJSON_Delete(resolved);
            break;
        }
        if (!err1[0]) rec_put(a, "relations", xid, iid, h);
        note(a, "relations", xid, err1[0] ? "failed" : (had ? "update" : "create"), NULL, err1[0] ? err1 : NULL);
        cJSON_Delete(resolved);
    }
    return rc;
}

/* Comments of imported items (Jira): matched by external id, created or updated; one GET of
 * the item's comments only when the recorded hash differs. */
static int do_comments(ap *a)
{
    int rc = 0, st = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a->spec, "items"))
    {
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(it, "comments");
        if (cJSON_GetArraySize(cl) == 0) continue;
        const char *xid = js(it, "external_id");
        const char *iid = js(a->items, xid);
        if (!iid || !strcmp(iid, "(planned)")) {
            if (a->o->dry_run) note(a, "comments", xid, "create", NULL, NULL);
            continue;
        }
        char h[65], rid[64], rh[80];
        hash_json(cl, h);
        if (rec_get(a, "comments", xid, rid, rh) == 0 && !strcmp(rh, h)) {
            note(a, "comments", xid, "unchanged", NULL, NULL);
            continue;
        }
        if (a->o->dry_run) {
            note(a, "comments", xid, "update", NULL, NULL);
            continue;
        }
        cJSON *cur = NULL;
        char base[256];
        snprintf(base, sizeof base, "projects/%s/work-items/%s/comments/", a->project_id, iid);
        rc = list_all(a, base, &cur);
        if (rc) {
            cJSON_Delete(cur);
            break;
        }
        char err1[300] = "";
        const cJSON *c;
        int changed = 0;
        cJSON_ArrayForEach(c, cl)
        {
            const char *cx = js(c, "external_id"), *html = js(c, "comment_html");
            const cJSON *live = NULL, *x;
            cJSON_ArrayForEach(x, cur)
            {
                if (same_str(js(x, "external_source"), a->xsrc) && same_str(js(x, "external_id"), cx)) live = x;
            }
            if (live && same_str(js(live, "comment_html"), html)) continue;
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "comment_html", html ? html : "<p></p>");
            cJSON *r = NULL;
            if (live) {
                rc = call(a, "PATCH", b, &st, &r, "%s%s/", base, js(live, "id"));
            } else {
                cJSON_AddStringToObject(b, "external_source", a->xsrc);
                cJSON_AddStringToObject(b, "external_id", cx);
                rc = call(a, "POST", b, &st, &r, "%s", base);
            }
            cJSON_Delete(b);
            if (!rc && st >= 300 && st != 409 && !err1[0]) answer_error(r, st, err1, sizeof err1);
            cJSON_Delete(r);
            changed = 1;
            if (rc) break;
        }
        cJSON_Delete(cur);
        if (rc) break;
        if (!err1[0]) rec_put(a, "comments", xid, iid, h);
        note(a, "comments", xid, err1[0] ? "failed" : (changed ? "update" : "unchanged"), NULL, err1[0] ? err1 : NULL);
    }
    return rc;
}

/* ------------------------------------------------------------------ entry */

static cJSON *item_label_names(const cJSON *spec)
{
    cJSON *names = cJSON_CreateArray();
    cJSON *seen = cJSON_CreateObject();
    const cJSON *it, *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(spec, "labels"))
    {
        if (js(l, "name") && !cJSON_GetObjectItemCaseSensitive(seen, js(l, "name")))
            cJSON_AddTrueToObject(seen, js(l, "name"));
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "items"))
    {
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(it, "labels"))
        {
            if (cJSON_IsString(l) && l->valuestring[0] && !cJSON_GetObjectItemCaseSensitive(seen, l->valuestring)) {
                cJSON_AddTrueToObject(seen, l->valuestring);
                cJSON_AddItemToArray(names, cJSON_CreateString(l->valuestring));
            }
        }
    }
    cJSON_Delete(seen);
    return names;
}

static int64_t count_objects(const cJSON *spec)
{
    int64_t n = 1;
    static const char *const k[] = {"members", "states", "labels", "cycles", "modules", NULL};
    for (int i = 0; k[i]; i++) n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, k[i]));
    /* memberships: one per cycle and module */
    n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "cycles"));
    n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "modules"));
    cJSON *extra = item_label_names(spec);
    n += cJSON_GetArraySize(extra);
    cJSON_Delete(extra);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "items"))
    {
        n++;
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(it, "relations");
        if (rel && rel->child) n++;
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "comments")) > 0) n++;
    }
    return n;
}

int pb_pop_pinned_today(pb_db *db, pb_pop_target *t, const char *template_name, const char *instance, char out[11])
{
    char k[160], id[64], h[80];
    snprintf(k, sizeof k, "today:%s", template_name);
    int rc = pb_ps_obj_get(db, pb_pop_target_slug(t), pb_pop_target_name(t), k, "planebridge", instance, id, h, NULL);
    if (!rc) pb_strlcpy(out, id, 11);
    return rc;
}

int pb_pop_apply(pb_pop_target *t, pb_db *db, const cJSON *spec, const pb_pop_opts *o, cJSON **report, pb_error *err)
{
    if (report) *report = NULL;
    pb_pop_opts dflt = {0};
    if (!o) o = &dflt;
    ap a;
    memset(&a, 0, sizeof a);
    a.t = t;
    a.db = db;
    a.o = o;
    a.spec = spec;
    a.err = err;
    a.xsrc = js(spec, "external_source") ? js(spec, "external_source") : "planebridge";
    a.tname = pb_pop_target_name(t);
    a.slug = pb_pop_target_slug(t);
    a.objects = cJSON_CreateArray();
    a.members = cJSON_CreateObject();
    a.states = cJSON_CreateObject();
    a.groups = cJSON_CreateObject();
    a.labels = cJSON_CreateObject();
    a.cycles = cJSON_CreateObject();
    a.modules = cJSON_CreateObject();
    a.items = cJSON_CreateObject();
    int rc = 0;
    pb_pop_target_stats st0;
    pb_pop_target_stats_get(t, &st0);
    /* run bookkeeping (resume) */
    pb_strlcpy(a.run.workspace, a.slug, sizeof a.run.workspace);
    pb_strlcpy(a.run.target, a.tname, sizeof a.run.target);
    pb_strlcpy(a.run.kind, o->kind ? o->kind : "apply", sizeof a.run.kind);
    const char *nm = o->name ? o->name : js(spec, "template");
    pb_strlcpy(a.run.name, nm ? nm : "spec", sizeof a.run.name);
    const char *inst = js(spec, "instance");
    pb_strlcpy(a.run.instance, inst ? inst : (o->project_id ? o->project_id : ""), sizeof a.run.instance);
    if (!o->dry_run) {
        /* the gate first: a refused workspace leaves one audit row and writes nothing */
        char action[300];
        snprintf(action, sizeof action, "%s %s", a.run.kind, a.run.name);
        rc = pb_pop_target_gate(t, action, err);
        if (rc) goto out;
        rc = pb_ps_run_begin(db, &a.run, &a.resumed, err);
        if (rc) goto out;
        /* a template instance keeps the "today" of its first apply (see pb_pop_pinned_today) */
        const char *today = js(spec, "today"), *tpl = js(spec, "template");
        if (today && tpl && inst) {
            char k[160], id[64], h[80];
            snprintf(k, sizeof k, "today:%s", tpl);
            if (pb_ps_obj_get(db, a.slug, a.tname, k, "planebridge", inst, id, h, NULL) == PB_ENOTFOUND)
                pb_ps_obj_put(db, a.slug, a.tname, k, "planebridge", inst, today, "", NULL);
        }
    }
    a.run.total = count_objects(spec);
    a.run.done = 0;

    rc = do_project(&a);
    if (!rc) rc = do_members(&a);
    if (!rc) {
        cJSON *empty = cJSON_CreateArray();
        rc = do_named(&a, "state", "states", a.states, empty);
        cJSON_Delete(empty);
    }
    if (!rc) {
        cJSON *extra = item_label_names(spec);
        rc = do_named(&a, "label", "labels", a.labels, extra);
        cJSON_Delete(extra);
    }
    if (!rc) rc = do_keyed(&a, "cycle", "cycles", a.cycles);
    if (!rc) rc = do_keyed(&a, "module", "modules", a.modules);
    if (!rc) rc = do_items(&a);
    if (!rc) rc = do_memberships(&a, "cycles", "cycle-issues", a.cycles);
    if (!rc) rc = do_memberships(&a, "modules", "module-issues", a.modules);
    if (!rc) rc = do_relations(&a);
    if (!rc) rc = do_comments(&a);
    if (!rc && o->progress && a.run.done != a.run.total) {
        /* estimates (skipped memberships) settle at the end */
        a.run.total = a.run.done;
        o->progress(o->progress_ctx, a.run.done, a.run.total);
    }

out:;
    pb_pop_target_stats st;
    pb_pop_target_stats_get(t, &st);
    /* this run's requests only (a target may serve several runs) */
    st.reads -= st0.reads;
    st.writes -= st0.writes;
    st.refused -= st0.refused;
    st.throttled -= st0.throttled;
    st.retries -= st0.retries;
    if (!o->dry_run && a.run.id[0]) {
        a.run.created = a.created;
        a.run.updated = a.updated;
        a.run.unchanged = a.unchanged;
        a.run.failed = a.failed;
        a.run.requests = st.reads + st.writes;
        /* a refused gate or a transport failure leaves the run 'running' so the next apply resumes it */
        if (!rc) pb_strlcpy(a.run.status, "done", sizeof a.run.status);
        pb_ps_run_save(db, &a.run, NULL);
    }
    if (report) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "target", a.tname);
        cJSON_AddStringToObject(r, "workspace", a.slug);
        cJSON_AddStringToObject(r, "project_id", a.project_id);
        cJSON_AddBoolToObject(r, "dry_run", o->dry_run);
        cJSON_AddBoolToObject(r, "resumed", a.resumed);
        cJSON_AddStringToObject(r, "run_id", a.run.id);
        cJSON_AddStringToObject(r, "status", rc ? "error" : "ok");
        if (rc) cJSON_AddStringToObject(r, "error", err && err->msg[0] ? err->msg : pb_strerror(rc));
        cJSON_AddNumberToObject(r, "created", (double)a.created);
        cJSON_AddNumberToObject(r, "updated", (double)a.updated);
        cJSON_AddNumberToObject(r, "unchanged", (double)a.unchanged);
        cJSON_AddNumberToObject(r, "failed", (double)a.failed);
        cJSON *rq = cJSON_CreateObject();
        cJSON_AddNumberToObject(rq, "reads", (double)st.reads);
        cJSON_AddNumberToObject(rq, "writes", (double)st.writes);
        cJSON_AddNumberToObject(rq, "total", (double)(st.reads + st.writes));
        cJSON_AddNumberToObject(rq, "throttled", (double)st.throttled);
        cJSON_AddNumberToObject(rq, "retries", (double)st.retries);
        cJSON_AddNumberToObject(rq, "refused", (double)st.refused);
        cJSON_AddItemToObject(r, "requests", rq);
        cJSON_AddItemToObject(r, "objects", a.objects);
        a.objects = NULL;
        *report = r;
    }
    cJSON_Delete(a.objects);
    cJSON_Delete(a.members);
    cJSON_Delete(a.states);
    cJSON_Delete(a.groups);
    cJSON_Delete(a.labels);
    cJSON_Delete(a.cycles);
    cJSON_Delete(a.modules);
    cJSON_Delete(a.items);
    return rc;
}
