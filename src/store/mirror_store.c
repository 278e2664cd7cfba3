/* mirror_store: see mirror_store.h. */
#include "store/mirror_store.h"

#include <stdlib.h>
#include <string.h>

#define OPT_INT(x) ((x) ? PB_INT(x) : PB_NULL)

int pb_mirror_lock_object(pb_conn *c, const char *object_id, pb_error *err)
{
    if (pb_db_backend(pb_conn_db(c)) != PB_DB_POSTGRES) return 0;
    pb_rows *rows = NULL;
    pb_val p[] = {PB_TEXT(object_id)};
    int rc = pb_conn_query(c, "SELECT pg_advisory_xact_lock(hashtext($1))", p, 1, &rows, err);
    if (rc) return rc;
    while ((rc = pb_rows_next(rows)) == 1) {
    }
    pb_rows_free(rows);
    return rc < 0 ? pb_error_set(err, PB_ESTORE, "advisory lock failed") : 0;
}

void pb_mirror_old_clear(pb_mirror_old *o)
{
    if (!o) return;
    free(o->raw);
    free(o->state_group);
    memset(o, 0, sizeof *o);
}

int pb_mirror_get(pb_conn *c, int is_project, const char *object_id, pb_mirror_old *o, pb_error *err)
{
    memset(o, 0, sizeof *o);
    pb_rows *rows = NULL;
    pb_val p[] = {PB_TEXT(object_id)};
    const char *sql = is_project
                          ? "SELECT raw, '', updated_at, deleted_at, archived_at FROM work_plane.projects "
                            "WHERE plane_id = $1"
                          : "SELECT raw, state_group, updated_at, deleted_at, archived_at FROM "
                            "work_plane.items WHERE plane_id = $1";
    int rc = pb_conn_query(c, sql, p, 1, &rows, err);
    if (rc) return rc;
    rc = pb_rows_next(rows);
    if (rc == 1) {
        o->exists = 1;
        o->raw = strdup(pb_rows_text(rows, 0));
        o->state_group = strdup(pb_rows_text(rows, 1));
        o->updated_at = pb_rows_int(rows, 2);
        o->deleted_at = pb_rows_isnull(rows, 3) ? 0 : pb_rows_int(rows, 3);
        o->archived_at = pb_rows_isnull(rows, 4) ? 0 : pb_rows_int(rows, 4);
        rc = (!o->raw || !o->state_group) ? pb_error_set(err, PB_ENOMEM, "out of memory") : 0;
    } else if (rc < 0) {
        rc = pb_error_set(err, PB_ESTORE, "mirror read failed");
    }
    pb_rows_free(rows);
    if (rc) pb_mirror_old_clear(o);
    return rc;
}

int pb_mirror_upsert_project(pb_conn *c, const pb_mirror_project *p, int64_t *changed, pb_error *err)
{
    pb_val v[] = {PB_TEXT(p->id),         PB_TEXT(p->workspace),       PB_TEXT(p->identifier),
                  PB_TEXT(p->name),       PB_TEXT(p->external_source), PB_TEXT(p->external_id),
                  PB_INT(p->created_at),  PB_INT(p->updated_at),       OPT_INT(p->archived_at),
                  OPT_INT(p->deleted_at), PB_INT(p->synced_at),        PB_TEXT(p->raw)};
    return pb_conn_exec(
        c,
        "INSERT INTO work_plane.projects (plane_id, workspace_slug, identifier, name, external_source, "
        "external_id, created_at, updated_at, archived_at, deleted_at, synced_at, raw) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (plane_id) DO UPDATE SET workspace_slug = excluded.workspace_slug, "
        "identifier = excluded.identifier, name = excluded.name, external_source = excluded.external_source, "
        "external_id = excluded.external_id, created_at = excluded.created_at, updated_at = "
        "excluded.updated_at, "
        "archived_at = excluded.archived_at, deleted_at = excluded.deleted_at, synced_at = "
        "excluded.synced_at, "
        "raw = excluded.raw WHERE work_plane.projects.updated_at < excluded.updated_at",
        v, 12, changed, err);
}

int pb_mirror_upsert_item(pb_conn *c, const pb_mirror_item *it, int64_t *changed, pb_error *err)
{
    pb_val v[] = {PB_TEXT(it->id),
                  PB_TEXT(it->item_type),
                  PB_TEXT(it->workspace),
                  PB_TEXT(it->project_id),
                  PB_TEXT(it->parent_id),
                  it->has_sequence_id ? PB_INT(it->sequence_id) : PB_NULL,
                  PB_TEXT(it->state_id),
                  PB_TEXT(it->state_group),
                  PB_TEXT(it->priority),
                  PB_TEXT(it->name),
                  it->has_sort_order ? PB_REAL(it->sort_order) : PB_NULL,
                  PB_TEXT(it->external_source),
                  PB_TEXT(it->external_id),
                  PB_TEXT(it->created_by),
                  PB_INT(it->created_at),
                  PB_INT(it->updated_at),
                  OPT_INT(it->archived_at),
                  OPT_INT(it->deleted_at),
                  PB_INT(it->synced_at),
                  PB_TEXT(it->raw),
                  PB_INT(it->is_draft ? 1 : 0)};
    return pb_conn_exec(
        c,
        "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, parent_id, "
        "sequence_id, "
        "state_id, state_group, priority, name, sort_order, external_source, external_id, created_by, "
        "created_at, "
        "updated_at, archived_at, deleted_at, synced_at, raw, is_draft) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, "
        "$21) "
        "ON CONFLICT (plane_id) DO UPDATE SET item_type = excluded.item_type, "
        "workspace_slug = excluded.workspace_slug, project_id = excluded.project_id, "
        "parent_id = excluded.parent_id, sequence_id = excluded.sequence_id, state_id = excluded.state_id, "
        "state_group = excluded.state_group, priority = excluded.priority, name = excluded.name, "
        "sort_order = excluded.sort_order, external_source = excluded.external_source, "
        "external_id = excluded.external_id, created_by = excluded.created_by, created_at = "
        "excluded.created_at, "
        "updated_at = excluded.updated_at, archived_at = excluded.archived_at, deleted_at = "
        "excluded.deleted_at, "
        "synced_at = excluded.synced_at, raw = excluded.raw, is_draft = excluded.is_draft "
        "WHERE work_plane.items.updated_at < excluded.updated_at",
        v, 21, changed, err);
}

int pb_mirror_mark_deleted(pb_conn *c, int is_project, const char *object_id, int64_t now, int64_t *changed,
                           pb_error *err)
{
    pb_val p[] = {PB_TEXT(object_id), PB_INT(now)};
    return pb_conn_exec(c,
                        is_project ? "UPDATE work_plane.projects SET deleted_at = $2, synced_at = $2 "
                                     "WHERE plane_id = $1 AND deleted_at IS NULL"
                                   : "UPDATE work_plane.items SET deleted_at = $2, synced_at = $2 "
                                     "WHERE plane_id = $1 AND deleted_at IS NULL",
                        p, 2, changed, err);
}

int pb_mirror_set_refs(pb_conn *c, const char *item_id, const char *kind, const char *const *ref_ids,
                       size_t n, int64_t now, pb_error *err)
{
    pb_val d[] = {PB_TEXT(item_id), PB_TEXT(kind)};
    int rc =
        pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE item_id = $1 AND kind = $2", d, 2, NULL, err);
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val p[] = {PB_TEXT(item_id), PB_TEXT(kind), PB_TEXT(ref_ids[i]), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) "
                          "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                          p, 4, NULL, err);
    }
    return rc;
}

int pb_mirror_invalidate_project_counts(pb_conn *c, const char *project_id, pb_error *err)
{
    if (!project_id) return 0;
    pb_val p[] = {PB_TEXT(project_id)};
    return pb_conn_exec(c,
                        "UPDATE work_plane.projects SET visible_issues = NULL WHERE plane_id = $1 AND "
                        "visible_issues IS NOT NULL",
                        p, 1, NULL, err);
}

int pb_mirror_state_group(pb_conn *c, const char *state_id, char **out, pb_error *err)
{
    pb_val p[] = {PB_TEXT(state_id)};
    return pb_conn_query_text(
        c,
        "SELECT state_group FROM work_plane.items WHERE plane_id = $1 AND item_type = 'state' "
        "AND state_group IS NOT NULL",
        p, 1, out, err);
}

int pb_mirror_outbox_put(pb_conn *c, const char *event_id, const char *type, const char *workspace,
                         const char *project_id, const char *object_id, int64_t occurred_at,
                         const char *payload, int *inserted, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(event_id),  PB_TEXT(type),       PB_TEXT(workspace), PB_TEXT(project_id),
                  PB_TEXT(object_id), PB_INT(occurred_at), PB_TEXT(payload)};
    int rc = pb_conn_exec(c,
                          "INSERT INTO ops.outbox (event_id, type, workspace_slug, project_id, object_id, "
                          "occurred_at, payload) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                          "ON CONFLICT (event_id) DO NOTHING",
                          p, 7, &ch, err);
    if (inserted) *inserted = !rc && ch > 0;
    return rc;
}

int pb_mirror_outbox_count(pb_conn *c, const char *object_id, int64_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(object_id)};
    return pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.outbox WHERE object_id = $1", p, 1, n, err);
}

int pb_mirror_self_write_note(pb_conn *c, const char *object_id, int64_t updated_at, int64_t now,
                              pb_error *err)
{
    pb_val p[] = {PB_TEXT(object_id), PB_INT(updated_at), PB_INT(now)};
    return pb_conn_exec(
        c,
        "INSERT INTO ops.self_writes (object_id, updated_at, recorded_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (object_id, updated_at) DO NOTHING",
        p, 3, NULL, err);
}

int pb_mirror_self_write_seen(pb_conn *c, const char *object_id, int64_t updated_at, int *seen, pb_error *err)
{
    int64_t n = 0;
    pb_val p[] = {PB_TEXT(object_id), PB_INT(updated_at)};
    int rc = pb_conn_query_int(
        c, "SELECT COUNT(*) FROM ops.self_writes WHERE object_id = $1 AND updated_at = $2", p, 2, &n, err);
    *seen = !rc && n > 0;
    return rc;
}

int pb_mirror_self_write_purge(pb_conn *c, int64_t before_us, pb_error *err)
{
    pb_val p[] = {PB_INT(before_us)};
    return pb_conn_exec(c, "DELETE FROM ops.self_writes WHERE recorded_at < $1", p, 1, NULL, err);
}
