/* sync_store: see sync_store.h. */
#include "store/sync_store.h"

#include "core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_INT(x) ((x) ? PB_INT(x) : PB_NULL)
#define OPT_TEXT(s) (((s) && *(s)) ? PB_TEXT(s) : PB_NULL)

static int with_conn(pb_db *db, pb_conn **c, pb_error *err)
{
    return pb_db_acquire(db, c, err);
}

/* ---------------------------------------------------------------- installations */

int pb_ss_connect(pb_db *db, const char *slug, const char *upstream_url, char *space_id_out, pb_error *err)
{
    pb_conn *c = NULL;
    char id[37], space[37];
    if (pb_uuid4(id) || pb_uuid4(space)) return pb_error_set(err, PB_EIO, "no randomness");
    int64_t now = pb_now_us();
    int rc = with_conn(db, &c, err);
    if (rc) return rc;
    rc = pb_conn_begin_write(c, err);
    if (!rc) {
        pb_val p[] = {PB_TEXT(id), PB_TEXT(slug), PB_TEXT(space), PB_TEXT(upstream_url), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.installations (id, workspace_slug, space_id, upstream_url, "
                          "auth_kind, name, created_at, updated_at) VALUES ($1, $2, $3, $4, 'api_key', $2, $5, $5) "
                          "ON CONFLICT (workspace_slug) DO UPDATE SET upstream_url = excluded.upstream_url, "
                          "auth_kind = 'api_key', updated_at = excluded.updated_at",
                          p, 5, NULL, err);
    }
    if (!rc && space_id_out) {
        char *s = NULL;
        pb_val q[] = {PB_TEXT(slug)};
        rc = pb_conn_query_text(c, "SELECT space_id FROM work_plane.installations WHERE workspace_slug = $1", q, 1,
                                &s, err);
        if (!rc) pb_strlcpy(space_id_out, s, 64);
        free(s);
    }
    if (!rc) rc = pb_conn_commit(c, err);
    pb_db_release(db, c);
    return rc;
}

int pb_ss_installs(pb_db *db, const char *slug, pb_ss_install **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    int rc = with_conn(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(slug)};
    /* no "$1 IS NULL OR ..." : PostgreSQL cannot type a parameter used only that way */
    if (slug)
        rc = pb_conn_query(c,
                           "SELECT workspace_slug, upstream_url, space_id, writeback_policy FROM "
                           "work_plane.installations WHERE auth_kind = 'api_key' AND upstream_url IS NOT NULL AND "
                           "workspace_slug = $1 ORDER BY workspace_slug",
                           p, 1, &r, err);
    else
        rc = pb_conn_query(c,
                           "SELECT workspace_slug, upstream_url, space_id, writeback_policy FROM "
                           "work_plane.installations WHERE auth_kind = 'api_key' AND upstream_url IS NOT NULL "
                           "ORDER BY workspace_slug",
                           NULL, 0, &r, err);
    size_t cap = 0;
    while (!rc && (rc = pb_rows_next(r)) == 1) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            pb_ss_install *v = realloc(*out, nc * sizeof *v);
            if (!v) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                break;
            }
            *out = v;
            cap = nc;
        }
        pb_ss_install *w = &(*out)[(*n)++];
        memset(w, 0, sizeof *w);
        pb_strlcpy(w->slug, pb_rows_text(r, 0), sizeof w->slug);
        pb_strlcpy(w->upstream_url, pb_rows_text(r, 1), sizeof w->upstream_url);
        pb_strlcpy(w->space_id, pb_rows_text(r, 2), sizeof w->space_id);
        pb_strlcpy(w->writeback_policy, pb_rows_text(r, 3), sizeof w->writeback_policy);
        rc = 0;
    }
    if (rc < 0 && !err->code) pb_error_set(err, rc, "installation listing failed");
    pb_rows_free(r);
    pb_db_release(db, c);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return 0;
}

int pb_ss_writeback_policy(pb_conn *c, const char *slug, char *out, size_t outlen, pb_error *err)
{
    char *s = NULL;
    pb_val p[] = {PB_TEXT(slug)};
    int rc = pb_conn_query_text(c, "SELECT writeback_policy FROM work_plane.installations WHERE workspace_slug = $1",
                                p, 1, &s, err);
    pb_strlcpy(out, rc == 0 && s ? s : "disabled", outlen);
    free(s);
    return rc == PB_ENOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------------------- cursors */

void pb_ss_cursor_clear(pb_ss_cursor *cur)
{
    if (!cur) return;
    free(cur->watermark_ids);
    memset(cur, 0, sizeof *cur);
}

int pb_ss_cursor_get(pb_conn *c, const char *ws, const char *resource, const char *scope, pb_ss_cursor *out,
                     pb_error *err)
{
    memset(out, 0, sizeof *out);
    pb_strlcpy(out->phase, "new", sizeof out->phase);
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(ws), PB_TEXT(resource), PB_TEXT(scope ? scope : "")};
    int rc = pb_conn_query(c,
                           "SELECT watermark, watermark_ids, next_page, phase, reconciled_at FROM "
                           "work_plane.events_cursor WHERE workspace_slug = $1 AND resource = $2 AND scope_id = $3",
                           p, 3, &r, err);
    if (rc) return rc;
    rc = pb_rows_next(r);
    if (rc == 1) {
        out->exists = 1;
        out->watermark = pb_rows_isnull(r, 0) ? 0 : pb_rows_int(r, 0);
        if (!pb_rows_isnull(r, 1)) out->watermark_ids = strdup(pb_rows_text(r, 1));
        out->next_page = pb_rows_int(r, 2);
        pb_strlcpy(out->phase, pb_rows_text(r, 3), sizeof out->phase);
        out->reconciled_at = pb_rows_isnull(r, 4) ? 0 : pb_rows_int(r, 4);
        rc = 0;
    } else if (rc < 0) {
        rc = pb_error_set(err, PB_ESTORE, "cursor read failed");
    }
    pb_rows_free(r);
    return rc;
}

int pb_ss_cursor_put(pb_conn *c, const char *ws, const char *resource, const char *scope, const pb_ss_cursor *cur,
                     int64_t now, pb_error *err)
{
    pb_val p[] = {PB_TEXT(ws),
                  PB_TEXT(resource),
                  PB_TEXT(scope ? scope : ""),
                  OPT_INT(cur->watermark),
                  PB_TEXT(cur->watermark_ids),
                  PB_INT(cur->next_page),
                  PB_TEXT(cur->phase),
                  OPT_INT(cur->reconciled_at),
                  PB_INT(now)};
    return pb_conn_exec(c,
                        "INSERT INTO work_plane.events_cursor (workspace_slug, resource, scope_id, watermark, "
                        "watermark_ids, next_page, phase, reconciled_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
                        "$7, $8, $9) ON CONFLICT (workspace_slug, resource, scope_id) DO UPDATE SET "
                        "watermark = excluded.watermark, watermark_ids = excluded.watermark_ids, "
                        "next_page = excluded.next_page, phase = excluded.phase, "
                        "reconciled_at = excluded.reconciled_at, updated_at = excluded.updated_at",
                        p, 9, NULL, err);
}

int pb_ss_cursor_reset(pb_db *db, const char *ws, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = with_conn(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(ws)};
    rc = pb_conn_exec(c, "DELETE FROM work_plane.events_cursor WHERE workspace_slug = $1", p, 1, NULL, err);
    pb_db_release(db, c);
    return rc;
}

/* ---------------------------------------------------------------- mirror rows */

int pb_ss_upsert_item(pb_conn *c, const pb_ss_row *r, int *changed, pb_error *err)
{
    int64_t ch = 0;
    pb_val v[] = {PB_TEXT(r->id),
                  PB_TEXT(r->item_type),
                  PB_TEXT(r->workspace),
                  OPT_TEXT(r->project_id),
                  OPT_TEXT(r->parent_id),
                  r->has_sequence_id ? PB_INT(r->sequence_id) : PB_NULL,
                  OPT_TEXT(r->state_id),
                  OPT_TEXT(r->state_group),
                  OPT_TEXT(r->priority),
                  PB_TEXT(r->name),
                  r->has_sort_order ? PB_REAL(r->sort_order) : PB_NULL,
                  OPT_TEXT(r->external_source),
                  OPT_TEXT(r->external_id),
                  OPT_TEXT(r->created_by),
                  PB_INT(r->created_at),
                  PB_INT(r->updated_at),
                  OPT_INT(r->archived_at),
                  PB_INT(r->synced_at),
                  PB_TEXT(r->raw),
                  PB_INT(r->is_draft ? 1 : 0),
                  PB_INT(r->is_default ? 1 : 0),
                  OPT_TEXT(r->member_id),
                  r->role ? PB_INT(r->role) : PB_NULL,
                  PB_INT(r->is_active ? 1 : 0)};
    int rc = pb_conn_exec(
        c,
        "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, parent_id, sequence_id, "
        "state_id, state_group, priority, name, sort_order, external_source, external_id, created_by, created_at, "
        "updated_at, archived_at, deleted_at, synced_at, raw, is_draft, is_default, member_id, role, is_active) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL, $18, $19, $20, "
        "$21, $22, $23, $24) "
        "ON CONFLICT (plane_id) DO UPDATE SET item_type = excluded.item_type, "
        "workspace_slug = excluded.workspace_slug, project_id = excluded.project_id, "
        "parent_id = excluded.parent_id, sequence_id = excluded.sequence_id, state_id = excluded.state_id, "
        "state_group = excluded.state_group, priority = excluded.priority, name = excluded.name, "
        "sort_order = excluded.sort_order, external_source = excluded.external_source, "
        "external_id = excluded.external_id, created_by = excluded.created_by, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at, archived_at = excluded.archived_at, deleted_at = NULL, "
        "synced_at = excluded.synced_at, raw = excluded.raw, is_draft = excluded.is_draft, "
        "is_default = excluded.is_default, member_id = excluded.member_id, role = excluded.role, "
        "is_active = excluded.is_active "
        "WHERE work_plane.items.updated_at < excluded.updated_at OR work_plane.items.deleted_at IS NOT NULL OR "
        "(work_plane.items.updated_at = excluded.updated_at AND work_plane.items.raw <> excluded.raw)",
        v, 24, &ch, err);
    if (changed) *changed = !rc && ch > 0;
    return rc;
}

int pb_ss_upsert_project(pb_conn *c, const pb_ss_project *p, int *changed, pb_error *err)
{
    int64_t ch = 0;
    pb_val v[] = {PB_TEXT(p->id),
                  PB_TEXT(p->workspace),
                  PB_TEXT(p->identifier),
                  PB_TEXT(p->name),
                  OPT_TEXT(p->external_source),
                  OPT_TEXT(p->external_id),
                  PB_INT(p->created_at),
                  PB_INT(p->updated_at),
                  OPT_INT(p->archived_at),
                  PB_INT(p->synced_at),
                  PB_TEXT(p->raw)};
    int rc = pb_conn_exec(
        c,
        "INSERT INTO work_plane.projects (plane_id, workspace_slug, identifier, name, external_source, "
        "external_id, created_at, updated_at, archived_at, deleted_at, synced_at, raw) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11) "
        "ON CONFLICT (plane_id) DO UPDATE SET workspace_slug = excluded.workspace_slug, "
        "identifier = excluded.identifier, name = excluded.name, external_source = excluded.external_source, "
        "external_id = excluded.external_id, created_at = excluded.created_at, updated_at = excluded.updated_at, "
        "archived_at = excluded.archived_at, deleted_at = NULL, synced_at = excluded.synced_at, "
        "raw = excluded.raw, visible_issues = NULL "
        "WHERE work_plane.projects.updated_at < excluded.updated_at OR work_plane.projects.deleted_at IS NOT NULL "
        "OR (work_plane.projects.updated_at = excluded.updated_at AND work_plane.projects.raw <> excluded.raw)",
        v, 11, &ch, err);
    if (changed) *changed = !rc && ch > 0;
    return rc;
}

int pb_ss_refs_replace(pb_conn *c, const char *item_id, const char *kind, const char *const *ids, size_t n,
                       int64_t now, pb_error *err)
{
    pb_val d[] = {PB_TEXT(item_id), PB_TEXT(kind)};
    int rc = pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE item_id = $1 AND kind = $2", d, 2, NULL, err);
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val p[] = {PB_TEXT(item_id), PB_TEXT(kind), PB_TEXT(ids[i]), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) VALUES ($1, $2, $3, "
                          "$4) ON CONFLICT DO NOTHING",
                          p, 4, NULL, err);
    }
    return rc;
}

int pb_ss_refs_clear2(pb_conn *c, const char *item_id, const char *kind_a, const char *kind_b, pb_error *err)
{
    pb_val d[] = {PB_TEXT(item_id), PB_TEXT(kind_a), PB_TEXT(kind_b)};
    return pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE item_id = $1 AND kind IN ($2, $3)", d, 3, NULL,
                        err);
}

int pb_ss_membership_replace(pb_conn *c, const char *kind, const char *ref_id, const char *const *issue_ids,
                             size_t n, int64_t now, pb_error *err)
{
    pb_val d[] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    int rc = pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE kind = $1 AND ref_id = $2", d, 2, NULL, err);
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val p[] = {PB_TEXT(issue_ids[i]), PB_TEXT(kind), PB_TEXT(ref_id), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) VALUES ($1, $2, $3, "
                          "$4) ON CONFLICT DO NOTHING",
                          p, 4, NULL, err);
    }
    return rc;
}

int pb_ss_relations_replace(pb_conn *c, const char *issue_id, const pb_ss_rel *rels, size_t n, int64_t now,
                            pb_error *err)
{
    pb_val d[] = {PB_TEXT(issue_id)};
    int rc = pb_conn_exec(c,
                          "DELETE FROM work_plane.item_refs WHERE kind LIKE 'relation_%' AND (item_id = $1 OR "
                          "ref_id = $1)",
                          d, 1, NULL, err);
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val p[] = {PB_TEXT(rels[i].item_id), PB_TEXT(rels[i].kind), PB_TEXT(rels[i].ref_id), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) VALUES ($1, $2, $3, "
                          "$4) ON CONFLICT DO NOTHING",
                          p, 4, NULL, err);
    }
    return rc;
}

int pb_ss_upsert_user(pb_conn *c, const char *ws, const char *id, const char *email, const char *first,
                      const char *last, const char *display, int role, int64_t now, int *skipped, pb_error *err)
{
    *skipped = 0;
    char lower[256];
    size_t i = 0;
    for (; email && email[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
    lower[i] = '\0';
    pb_val u[] = {PB_TEXT(id),           PB_TEXT(lower),        PB_TEXT(first ? first : ""),
                  PB_TEXT(last ? last : ""), PB_TEXT(display ? display : ""), PB_INT(now)};
    int rc = pb_conn_exec(c,
                          "INSERT INTO ops.users (id, email, first_name, last_name, display_name, created_at, "
                          "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO UPDATE SET "
                          "email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, "
                          "display_name = excluded.display_name, updated_at = excluded.updated_at WHERE "
                          "ops.users.email <> excluded.email OR ops.users.first_name <> excluded.first_name OR "
                          "ops.users.last_name <> excluded.last_name OR ops.users.display_name <> "
                          "excluded.display_name",
                          u, 6, NULL, err);
    if (rc == PB_ECONFLICT) {
        *skipped = 1;
        return 0;
    }
    if (rc) return rc;
    if (role != 5 && role != 15 && role != 20) role = 15;
    pb_val m[] = {PB_TEXT(ws), PB_TEXT(id), PB_INT(role), PB_INT(now)};
    return pb_conn_exec(c,
                        "INSERT INTO ops.workspace_members (workspace_slug, user_id, role, created_at) VALUES ($1, $2, "
                        "$3, $4) ON CONFLICT (workspace_slug, user_id) DO UPDATE SET role = excluded.role WHERE "
                        "ops.workspace_members.role <> excluded.role",
                        m, 4, NULL, err);
}

int pb_ss_members_prune(pb_conn *c, const char *ws, const char *const *ids, size_t n, int64_t *removed,
                        pb_error *err)
{
    char **have = NULL;
    size_t nh = 0;
    int64_t gone = 0;
    int rc = pb_ss_member_rows(c, ws, &have, &nh, err);
    for (size_t i = 0; !rc && i < nh; i++) {
        char id[64];
        pb_strlcpy(id, have[i], sizeof id);
        char *sp = strchr(id, ' ');
        if (sp) *sp = '\0';
        int found = 0;
        for (size_t j = 0; j < n && !found; j++) found = strcmp(ids[j], id) == 0;
        if (found) continue;
        pb_val p[] = {PB_TEXT(ws), PB_TEXT(id)};
        int64_t ch = 0;
        rc = pb_conn_exec(c, "DELETE FROM ops.workspace_members WHERE workspace_slug = $1 AND user_id = $2", p, 2,
                          &ch, err);
        gone += ch;
    }
    pb_ss_strings_free(have, nh);
    if (removed) *removed = gone;
    return rc;
}

/* ---------------------------------------------------------------- listings */

void pb_ss_idrows_free(pb_ss_idrow *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i].raw);
    free(v);
}

void pb_ss_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

int pb_ss_list_live(pb_conn *c, const char *ws, const char *item_type, const char *project_id,
                    const char *parent_id, int with_raw, pb_ss_idrow **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    int rc;
    if (strcmp(item_type, "project") == 0) {
        pb_val p[] = {PB_TEXT(ws)};
        rc = pb_conn_query(c,
                           with_raw ? "SELECT plane_id, updated_at, archived_at, raw FROM work_plane.projects WHERE "
                                      "workspace_slug = $1 AND deleted_at IS NULL ORDER BY plane_id"
                                    : "SELECT plane_id, updated_at, archived_at, '' FROM work_plane.projects WHERE "
                                      "workspace_slug = $1 AND deleted_at IS NULL ORDER BY plane_id",
                           p, 1, &r, err);
    } else {
        pb_val p[4] = {PB_TEXT(ws), PB_TEXT(item_type)};
        int np = 2;
        char sql[512];
        if (project_id) p[np++] = PB_TEXT(project_id);
        if (parent_id) p[np++] = PB_TEXT(parent_id);
        snprintf(sql, sizeof sql,
                 "SELECT plane_id, updated_at, archived_at, %s FROM work_plane.items WHERE workspace_slug = $1 AND "
                 "item_type = $2%s%s AND deleted_at IS NULL ORDER BY plane_id",
                 with_raw ? "raw" : "''", project_id ? " AND project_id = $3" : "",
                 parent_id ? (project_id ? " AND parent_id = $4" : " AND parent_id = $3") : "");
        rc = pb_conn_query(c, sql, p, np, &r, err);
    }
    if (rc) return rc;
    size_t cap = 0;
    while ((rc = pb_rows_next(r)) == 1) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            pb_ss_idrow *v = realloc(*out, nc * sizeof *v);
            if (!v) {
                rc = PB_ENOMEM;
                break;
            }
            *out = v;
            cap = nc;
        }
        pb_ss_idrow *x = &(*out)[*n];
        memset(x, 0, sizeof *x);
        pb_strlcpy(x->id, pb_rows_text(r, 0), sizeof x->id);
        x->updated_at = pb_rows_int(r, 1);
        x->archived_at = pb_rows_isnull(r, 2) ? 0 : pb_rows_int(r, 2);
        if (with_raw) {
            x->raw = strdup(pb_rows_text(r, 3));
            if (!x->raw) {
                rc = PB_ENOMEM;
                break;
            }
        }
        (*n)++;
    }
    pb_rows_free(r);
    if (rc < 0) {
        pb_ss_idrows_free(*out, *n);
        *out = NULL;
        *n = 0;
        return pb_error_set(err, rc == PB_ENOMEM ? PB_ENOMEM : PB_ESTORE, "listing failed");
    }
    return 0;
}

static int id_list(pb_conn *c, const char *sql, const pb_val *p, int np, char (**ids)[40], size_t *n, pb_error *err)
{
    *ids = NULL;
    *n = 0;
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    size_t cap = 0;
    while ((rc = pb_rows_next(r)) == 1) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char(*v)[40] = realloc(*ids, nc * sizeof *v);
            if (!v) {
                rc = PB_ENOMEM;
                break;
            }
            *ids = v;
            cap = nc;
        }
        pb_strlcpy((*ids)[(*n)++], pb_rows_text(r, 0), 40);
    }
    pb_rows_free(r);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return pb_error_set(err, PB_ESTORE, "id listing failed");
    }
    return 0;
}

int pb_ss_issue_ids(pb_conn *c, const char *project_id, int64_t offset, int64_t limit, char (**ids)[40],
                    size_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(project_id), PB_INT(limit), PB_INT(offset)};
    return id_list(c,
                   "SELECT plane_id FROM work_plane.items WHERE project_id = $1 AND item_type = 'issue' AND "
                   "deleted_at IS NULL ORDER BY created_at, plane_id LIMIT $2 OFFSET $3",
                   p, 3, ids, n, err);
}

int pb_ss_membership_ids(pb_conn *c, const char *kind, const char *ref_id, char (**ids)[40], size_t *n,
                         pb_error *err)
{
    pb_val p[] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    return id_list(c,
                   "SELECT r.item_id FROM work_plane.item_refs r JOIN work_plane.items i ON i.plane_id = r.item_id "
                   "WHERE r.kind = $1 AND r.ref_id = $2 AND i.deleted_at IS NULL ORDER BY r.item_id",
                   p, 2, ids, n, err);
}

static int string_rows(pb_conn *c, const char *sql, const pb_val *p, int np, char ***out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    size_t cap = 0;
    while ((rc = pb_rows_next(r)) == 1) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **v = realloc(*out, nc * sizeof *v);
            if (!v) {
                rc = PB_ENOMEM;
                break;
            }
            *out = v;
            cap = nc;
        }
        char line[512];
        snprintf(line, sizeof line, "%s %s %s", pb_rows_text(r, 0), pb_rows_text(r, 1), pb_rows_text(r, 2));
        (*out)[*n] = strdup(line);
        if (!(*out)[*n]) {
            rc = PB_ENOMEM;
            break;
        }
        (*n)++;
    }
    pb_rows_free(r);
    if (rc < 0) {
        pb_ss_strings_free(*out, *n);
        *out = NULL;
        *n = 0;
        return pb_error_set(err, PB_ESTORE, "listing failed");
    }
    return 0;
}

int pb_ss_relation_rows(pb_conn *c, const char *issue_id, char ***rows, size_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(issue_id)};
    return string_rows(c,
                       "SELECT r.kind, r.item_id, r.ref_id FROM work_plane.item_refs r JOIN work_plane.items a ON "
                       "a.plane_id = r.item_id JOIN work_plane.items b ON b.plane_id = r.ref_id WHERE r.kind LIKE "
                       "'relation_%' AND (r.item_id = $1 OR r.ref_id = $1) AND a.deleted_at IS NULL AND b.deleted_at "
                       "IS NULL ORDER BY r.kind, r.item_id, r.ref_id",
                       p, 1, rows, n, err);
}

int pb_ss_member_rows(pb_conn *c, const char *ws, char ***rows, size_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(ws)};
    return string_rows(c,
                       "SELECT m.user_id, u.email, m.role FROM ops.workspace_members m JOIN ops.users u ON u.id = "
                       "m.user_id WHERE m.workspace_slug = $1 ORDER BY m.user_id",
                       p, 1, rows, n, err);
}

int pb_ss_mark_deleted(pb_conn *c, int is_project, const char *id, int64_t now, int *changed, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(id), PB_INT(now)};
    int rc = pb_conn_exec(c,
                          is_project ? "UPDATE work_plane.projects SET deleted_at = $2, synced_at = $2 "
                                       "WHERE plane_id = $1 AND deleted_at IS NULL"
                                     : "UPDATE work_plane.items SET deleted_at = $2, synced_at = $2 "
                                       "WHERE plane_id = $1 AND deleted_at IS NULL",
                          p, 2, &ch, err);
    if (!rc && !is_project) {
        /* memberships and relations of a deleted row go with it, as in the standalone API */
        rc = pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE ref_id = $1 AND (kind = 'cycle' OR kind = "
                             "'module')",
                          p, 1, NULL, err);
    }
    if (changed) *changed = !rc && ch > 0;
    return rc;
}

int pb_ss_count_live(pb_db *db, const char *ws, int64_t *count, pb_error *err)
{
    pb_conn *c = NULL;
    int64_t a = 0, b = 0;
    int rc = with_conn(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(ws)};
    rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.projects WHERE workspace_slug = $1 AND deleted_at "
                              "IS NULL",
                           p, 1, &a, err);
    if (!rc)
        rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.items WHERE workspace_slug = $1 AND deleted_at "
                                  "IS NULL",
                               p, 1, &b, err);
    pb_db_release(db, c);
    *count = a + b;
    return rc;
}

/* ---------------------------------------------------------------- governor budget */

/* Budget writes while this process holds the SQLite write lock (see pb_ss_budget_hold): a
 * budget call of another thread borrows the holder's connection at the holder's next
 * pb_ss_budget_serve (the holder waits meanwhile, so the connection is used by one thread at a
 * time) instead of waiting for its commit. One slot per store holding; gen changes when a
 * hold ends, so a borrower queued on an ended hold falls back to a connection of its own. */
typedef struct budget_hold {
    pb_db *db; /* NULL: free */
    pb_conn *c;
    pthread_t th;
    unsigned gen;
    int waiting; /* borrowers queued */
    int turn;    /* 0 none, 1 offered to a borrower, 2 in a borrower's use */
} budget_hold;

#define BUDGET_HOLDS 8
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static budget_hold holds[BUDGET_HOLDS];
static atomic_int holds_waiting; /* borrowers queued anywhere: pb_ss_budget_serve's fast path */

static budget_hold *hold_of_db(const pb_db *db)
{
    for (int i = 0; i < BUDGET_HOLDS; i++)
        if (holds[i].db && holds[i].db == db) return &holds[i];
    return NULL;
}

static budget_hold *hold_of_conn(const pb_conn *c)
{
    for (int i = 0; i < BUDGET_HOLDS; i++)
        if (holds[i].db && holds[i].c == c) return &holds[i];
    return NULL;
}

/* The connection for a budget statement: the holding connection when this store is held
 * (borrowed at the holder's next serve; the holder's own thread uses it directly), else one
 * from the pool. Pair with budget_conn_done. */
static int budget_conn(pb_db *db, pb_conn **c, pb_error *err)
{
    pthread_mutex_lock(&hold_mu);
    budget_hold *h = hold_of_db(db);
    if (h && pthread_equal(h->th, pthread_self())) {
        *c = h->c;
        pthread_mutex_unlock(&hold_mu);
        return 0;
    }
    if (h) {
        unsigned gen = h->gen;
        h->waiting++;
        atomic_fetch_add(&holds_waiting, 1);
        while (h->gen == gen && h->turn != 1) pthread_cond_wait(&hold_cv, &hold_mu);
        if (h->gen == gen) {
            h->turn = 2;
            h->waiting--;
            atomic_fetch_sub(&holds_waiting, 1);
            *c = h->c;
            pthread_mutex_unlock(&hold_mu);
            return 0;
        }
        /* the hold ended without serving us (its transaction failed): wait for the lock */
    }
    pthread_mutex_unlock(&hold_mu);
    return with_conn(db, c, err);
}

static void budget_conn_done(pb_db *db, pb_conn *c)
{
    pthread_mutex_lock(&hold_mu);
    budget_hold *h = hold_of_conn(c);
    if (h) {
        if (h->turn == 2 && !pthread_equal(h->th, pthread_self())) {
            h->turn = 0;
            pthread_cond_broadcast(&hold_cv);
        }
        pthread_mutex_unlock(&hold_mu);
        return; /* the holder's connection stays with the holder */
    }
    pthread_mutex_unlock(&hold_mu);
    pb_db_release(db, c);
}

void pb_ss_budget_hold(pb_conn *c)
{
    pb_db *db = pb_conn_db(c);
    if (pb_db_backend(db) != PB_DB_SQLITE) return;
    pthread_mutex_lock(&hold_mu);
    if (!hold_of_db(db))
        for (int i = 0; i < BUDGET_HOLDS; i++)
            if (!holds[i].db) {
                holds[i].db = db;
                holds[i].c = c;
                holds[i].th = pthread_self();
                holds[i].waiting = 0;
                holds[i].turn = 0;
                break;
            }
    pthread_mutex_unlock(&hold_mu);
}

/* Lends c to every queued borrower in turn; caller holds hold_mu. */
static void hold_serve_locked(budget_hold *h)
{
    while (h->waiting > 0) {
        h->turn = 1;
        pthread_cond_broadcast(&hold_cv);
        while (h->turn != 0) pthread_cond_wait(&hold_cv, &hold_mu);
    }
}

void pb_ss_budget_serve(pb_conn *c)
{
    if (atomic_load(&holds_waiting) == 0) return;
    pthread_mutex_lock(&hold_mu);
    budget_hold *h = hold_of_conn(c);
    if (h && pthread_equal(h->th, pthread_self())) hold_serve_locked(h);
    pthread_mutex_unlock(&hold_mu);
}

void pb_ss_budget_release(pb_conn *c, int ok)
{
    pthread_mutex_lock(&hold_mu);
    budget_hold *h = hold_of_conn(c);
    if (h && pthread_equal(h->th, pthread_self())) {
        if (ok) hold_serve_locked(h);
        atomic_fetch_sub(&holds_waiting, h->waiting);
        h->waiting = 0;
        h->turn = 0;
        h->gen++;
        h->db = NULL;
        h->c = NULL;
        pthread_cond_broadcast(&hold_cv);
    }
    pthread_mutex_unlock(&hold_mu);
}

int pb_ss_budget_get(pb_db *db, const char *key, pb_ss_budget *out, pb_error *err)
{
    memset(out, 0, sizeof *out);
    out->remaining = -1;
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    int rc = with_conn(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(key)};
    rc = pb_conn_query(c,
                       "SELECT lim, remaining, reset_at, blocked_until, observed_at, requests, throttled FROM "
                       "ops.sync_budget WHERE upstream_key = $1",
                       p, 1, &r, err);
    if (!rc) {
        rc = pb_rows_next(r);
        if (rc == 1) {
            out->lim = (int)pb_rows_int(r, 0);
            out->remaining = (int)pb_rows_int(r, 1);
            out->reset_at = pb_rows_int(r, 2);
            out->blocked_until = pb_rows_int(r, 3);
            out->observed_at = pb_rows_int(r, 4);
            out->requests = pb_rows_int(r, 5);
            out->throttled = pb_rows_int(r, 6);
            rc = 0;
        } else if (rc == 0) {
            rc = PB_ENOTFOUND;
        } else {
            rc = pb_error_set(err, PB_ESTORE, "budget read failed");
        }
    }
    pb_rows_free(r);
    pb_db_release(db, c);
    return rc;
}

int pb_ss_budget_put(pb_db *db, const char *key, const pb_ss_budget *b, int64_t add_requests, int64_t add_throttled,
                     pb_error *err)
{
    pb_conn *c = NULL;
    int rc = budget_conn(db, &c, err); /* no wait for this process's own write transaction */
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(key),          PB_INT(b->lim),        PB_INT(b->remaining), PB_INT(b->reset_at),
                  PB_INT(b->blocked_until), PB_INT(b->observed_at), PB_INT(add_requests), PB_INT(add_throttled),
                  PB_INT(b->accept ? 1 : 0), PB_INT(pb_now_us())};
    rc = pb_conn_exec(c,
                      "INSERT INTO ops.sync_budget (upstream_key, lim, remaining, reset_at, blocked_until, "
                      "observed_at, requests, throttled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                      "ON CONFLICT (upstream_key) DO UPDATE SET "
                      "lim = CASE WHEN excluded.observed_at >= ops.sync_budget.observed_at THEN excluded.lim ELSE "
                      "ops.sync_budget.lim END, "
                      "remaining = CASE WHEN $9 = 1 AND ops.sync_budget.remaining <= 0 AND ops.sync_budget.reset_at <= $10 AND "
                      "excluded.observed_at >= "
                      "ops.sync_budget.observed_at THEN excluded.remaining WHEN ops.sync_budget.remaining < 0 AND "
                      "excluded.observed_at >= "
                      "ops.sync_budget.observed_at THEN excluded.remaining WHEN excluded.remaining >= 0 AND "
                      "excluded.remaining < ops.sync_budget.remaining THEN excluded.remaining ELSE "
                      "ops.sync_budget.remaining END, "
                      "reset_at = CASE WHEN excluded.observed_at >= ops.sync_budget.observed_at THEN "
                      "excluded.reset_at ELSE ops.sync_budget.reset_at END, "
                      "blocked_until = CASE WHEN excluded.blocked_until > ops.sync_budget.blocked_until THEN "
                      "excluded.blocked_until ELSE ops.sync_budget.blocked_until END, "
                      "observed_at = CASE WHEN excluded.observed_at > ops.sync_budget.observed_at THEN "
                      "excluded.observed_at ELSE ops.sync_budget.observed_at END, "
                      "requests = ops.sync_budget.requests + excluded.requests, "
                      "throttled = ops.sync_budget.throttled + excluded.throttled, "
                      "probe_until = CASE WHEN $9 = 1 THEN 0 ELSE ops.sync_budget.probe_until END",
                      p, 10, NULL, err);
    budget_conn_done(db, c);
    return rc;
}

int pb_ss_budget_probe(pb_db *db, const char *key, int64_t now, int64_t until, int *granted, pb_error *err)
{
    *granted = 0;
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    int rc = budget_conn(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(key), PB_INT(now), PB_INT(until)};
    rc = pb_conn_query(c,
                       "INSERT INTO ops.sync_budget (upstream_key, probe_until) VALUES ($1, $3) ON CONFLICT "
                       "(upstream_key) DO UPDATE SET probe_until = $3 WHERE ops.sync_budget.probe_until <= $2 "
                       "RETURNING probe_until",
                       p, 3, &r, err);
    if (!rc) {
        int more = pb_rows_next(r);
        if (more == 1) *granted = 1;
        else if (more < 0) rc = pb_error_set(err, PB_ESTORE, "budget probe failed");
    }
    pb_rows_free(r);
    budget_conn_done(db, c);
    return rc;
}

int pb_ss_budget_take(pb_db *db, const char *key, int n, int *granted, int64_t *reset_at, pb_error *err)
{
    *granted = 0;
    *reset_at = 0;
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    int rc = budget_conn(db, &c, err); /* no wait for this process's own write transaction */
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(key), PB_INT(n)};
    /* every SET expression sees the old row: last_grant = min(n, remaining) */
    rc = pb_conn_query(c,
                       "UPDATE ops.sync_budget SET last_grant = CASE WHEN remaining >= $2 THEN $2 WHEN remaining > 0 "
                       "THEN remaining ELSE 0 END, remaining = CASE WHEN remaining >= $2 THEN remaining - $2 WHEN "
                       "remaining > 0 THEN 0 ELSE remaining END WHERE upstream_key = $1 RETURNING last_grant, reset_at",
                       p, 2, &r, err);
    if (!rc) {
        int more = pb_rows_next(r);
        if (more == 1) {
            *granted = (int)pb_rows_int(r, 0);
            *reset_at = pb_rows_int(r, 1);
        } else if (more < 0) {
            rc = pb_error_set(err, PB_ESTORE, "budget reservation failed");
        }
    }
    pb_rows_free(r);
    budget_conn_done(db, c);
    return rc;
}

int pb_ss_is_mirror(pb_conn *c, const char *slug)
{
    int64_t n = 0;
    pb_val p[] = {PB_TEXT(slug)};
    if (!slug) return 0;
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM work_plane.installations WHERE workspace_slug = $1 AND "
                               "auth_kind <> 'none' AND upstream_url IS NOT NULL",
                               p, 1, &n, NULL);
    return rc ? rc : n > 0;
}

int pb_ss_write_blocked(pb_conn *c, const char *slug)
{
    int64_t n = 0;
    pb_val p[] = {PB_TEXT(slug)};
    if (!slug || pb_conn_query_int(c,
                                   "SELECT COUNT(*) FROM work_plane.installations WHERE workspace_slug = $1 AND "
                                   "auth_kind <> 'none' AND upstream_url IS NOT NULL AND writeback_policy = 'disabled'",
                                   p, 1, &n, NULL) != 0)
        return 0;
    return n > 0;
}
