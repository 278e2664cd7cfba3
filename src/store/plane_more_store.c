/* plane_more_store: see plane_more_store.h. All SQL is in the shared PostgreSQL subset. */
#include "store/plane_more_store.h"
#include "store/rows.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A work item counts for lists and counters when it is live, not archived and not in triage
 * (Plane's issue_objects manager). */
#define ISSUE_VISIBLE                                                                            \
    "i.item_type = 'issue' AND i.deleted_at IS NULL AND i.archived_at IS NULL AND "               \
    "i.is_draft = 0 AND (i.state_group IS NULL OR i.state_group <> 'triage')"

/* The row's parent (a work item) is not deleted; the row is aliased `it`. */
#define PARENT_LIVE                                                                              \
    "EXISTS (SELECT 1 FROM work_plane.items p WHERE p.plane_id = it.parent_id AND "               \
    "p.deleted_at IS NULL)"

#define ROW_COLS                                                                                 \
    "plane_id, project_id, parent_id, created_by, external_source, external_id, created_at, "    \
    "updated_at, archived_at, raw"

static void copy_col(pb_rows *r, int col, char *dst, size_t n)
{
    pb_strlcpy(dst, pb_rows_text(r, col), n);
}

/* Reads every row of r through fill (rows.h) into *out / *n. */
static int read_rows(pb_rows *r, size_t elem, size_t first_cap, pb_store_fill_fn fill, pb_store_drop_fn drop,
                     void **out, size_t *n, pb_error *err)
{
    return pb_store_read_all(r, elem, first_cap, fill, NULL, drop, out, n, "out of memory",
                             "reading rows failed", err);
}

/* Reads a row of ROW_COLS (a pb_store_fill_fn): PB_ENOMEM when raw cannot be copied. */
static int read_row(pb_rows *r, void *rec, void *ctx)
{
    pb_more_row *out = rec;
    (void)ctx;
    memset(out, 0, sizeof *out);
    copy_col(r, 0, out->id, sizeof out->id);
    copy_col(r, 1, out->project_id, sizeof out->project_id);
    copy_col(r, 2, out->parent_id, sizeof out->parent_id);
    copy_col(r, 3, out->created_by, sizeof out->created_by);
    copy_col(r, 4, out->ext_source, sizeof out->ext_source);
    copy_col(r, 5, out->ext_id, sizeof out->ext_id);
    out->created_at = pb_rows_int(r, 6);
    out->updated_at = pb_rows_int(r, 7);
    out->archived_at = pb_rows_isnull(r, 8) ? 0 : pb_rows_int(r, 8);
    out->raw = strdup(pb_rows_text(r, 9));
    return out->raw ? 0 : PB_ENOMEM;
}

void pb_more_row_clear(pb_more_row *r)
{
    if (!r) return;
    free(r->raw);
    r->raw = NULL;
}

void pb_more_rows_free(pb_more_row *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].raw);
    free(rows);
}

int pb_more_insert(pb_conn *c, const pb_more_new *n, pb_error *err)
{
    static const char *sql =
        "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, parent_id, "
        "name, sort_order, external_source, external_id, created_by, created_at, updated_at, raw) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    pb_val p[13] = {PB_TEXT(n->id),         PB_TEXT(n->item_type), PB_TEXT(n->slug),
                    PB_TEXT(n->project_id), PB_TEXT(n->parent_id), PB_TEXT(n->name),
                    PB_REAL(n->sort_order), PB_TEXT(n->ext_source), PB_TEXT(n->ext_id),
                    PB_TEXT(n->created_by), PB_INT(n->created_at), PB_INT(n->created_at),
                    PB_TEXT(n->raw)};
    return pb_conn_exec(c, sql, p, 13, NULL, err);
}

int pb_more_update(pb_conn *c, const char *id, const char *name, const char *ext_source,
                   const char *ext_id, int64_t updated_at, int64_t archived_at, const char *raw,
                   pb_error *err)
{
    static const char *sql =
        "UPDATE work_plane.items SET name = $1, external_source = $2, external_id = $3, "
        "updated_at = $4, archived_at = $5, raw = $6 WHERE plane_id = $7 AND deleted_at IS NULL";
    pb_val p[7] = {PB_TEXT(name),       PB_TEXT(ext_source),
                   PB_TEXT(ext_id),     PB_INT(updated_at),
                   archived_at ? PB_INT(archived_at) : PB_NULL,
                   PB_TEXT(raw),        PB_TEXT(id)};
    int64_t changes = 0;
    int rc = pb_conn_exec(c, sql, p, 7, &changes, err);
    if (rc) return rc;
    if (changes == 0) return pb_error_set(err, PB_ENOTFOUND, "item not found");
    return 0;
}

int pb_more_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err)
{
    static const char *sql =
        "UPDATE work_plane.items SET deleted_at = $1, updated_at = $2 WHERE plane_id = $3 AND "
        "deleted_at IS NULL";
    pb_val p[3] = {PB_INT(now), PB_INT(now), PB_TEXT(id)};
    int64_t changes = 0;
    int rc = pb_conn_exec(c, sql, p, 3, &changes, err);
    if (rc) return rc;
    if (changes == 0) return pb_error_set(err, PB_ENOTFOUND, "item not found");
    return 0;
}

static int get_one(pb_conn *c, const char *sql, const pb_val *p, int np, pb_more_row *out,
                   pb_error *err)
{
    pb_rows *r = NULL;
    memset(out, 0, sizeof *out);
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s < 0) rc = pb_error_set(err, PB_ESTORE, "reading row failed");
    else if (s == 0) rc = pb_error_set(err, PB_ENOTFOUND, "item not found");
    else rc = read_row(r, out, NULL);
    pb_rows_free(r);
    return rc;
}

int pb_more_get(pb_conn *c, const char *item_type, const char *project_id, const char *parent_id,
                const char *id, pb_more_row *out, pb_error *err)
{
    if (parent_id) { /* rows of a deleted work item went with it */
        static const char *sql = "SELECT " ROW_COLS " FROM work_plane.items it WHERE plane_id = $1 AND "
                                 "item_type = $2 AND project_id = $3 AND parent_id = $4 AND "
                                 "deleted_at IS NULL AND " PARENT_LIVE;
        pb_val p[4] = {PB_TEXT(id), PB_TEXT(item_type), PB_TEXT(project_id), PB_TEXT(parent_id)};
        return get_one(c, sql, p, 4, out, err);
    }
    static const char *sql = "SELECT " ROW_COLS " FROM work_plane.items WHERE plane_id = $1 AND "
                             "item_type = $2 AND project_id = $3 AND deleted_at IS NULL";
    pb_val p[3] = {PB_TEXT(id), PB_TEXT(item_type), PB_TEXT(project_id)};
    return get_one(c, sql, p, 3, out, err);
}

int pb_more_get_by_parent(pb_conn *c, const char *item_type, const char *project_id,
                          const char *parent, pb_more_row *out, pb_error *err)
{
    static const char *sql = "SELECT " ROW_COLS " FROM work_plane.items WHERE parent_id = $1 AND "
                             "item_type = $2 AND project_id = $3 AND deleted_at IS NULL "
                             "ORDER BY created_at DESC LIMIT 1";
    pb_val p[3] = {PB_TEXT(parent), PB_TEXT(item_type), PB_TEXT(project_id)};
    return get_one(c, sql, p, 3, out, err);
}

static const char *archived_clause(int archived)
{
    switch (archived) {
    case PB_MORE_LIVE:
        return " AND archived_at IS NULL";
    case PB_MORE_ARCHIVED:
        return " AND archived_at IS NOT NULL";
    default:
        return "";
    }
}

static void rows_drop(void *arr, size_t n)
{
    pb_more_rows_free(arr, n);
}

int pb_more_list(pb_conn *c, const char *item_type, const char *project_id, const char *parent_id,
                 int archived, int desc, int64_t offset, int64_t limit, pb_more_row **rows,
                 size_t *n, int64_t *total, pb_error *err)
{
    char where[512];
    char sql[1024];
    pb_val p[6];
    int np = 0;
    p[np++] = PB_TEXT(item_type);
    p[np++] = PB_TEXT(project_id);
    snprintf(where, sizeof where,
             "item_type = $1 AND project_id = $2 AND deleted_at IS NULL%s%s",
             parent_id ? " AND parent_id = $3 AND " PARENT_LIVE : "", archived_clause(archived));
    if (parent_id) p[np++] = PB_TEXT(parent_id);
    *rows = NULL;
    *n = 0;
    if (total) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM work_plane.items it WHERE %s", where);
        int rc = pb_conn_query_int(c, sql, p, np, total, err);
        if (rc) return rc;
    }
    if (limit < 0) limit = INT64_MAX / 2;
    /* LIMIT/OFFSET are parameters, not text: one cached statement serves every page. */
    snprintf(sql, sizeof sql,
             "SELECT " ROW_COLS " FROM work_plane.items it WHERE %s ORDER BY created_at %s, plane_id "
             "LIMIT $%d OFFSET $%d",
             where, desc ? "DESC" : "ASC", np + 1, np + 2);
    p[np++] = PB_INT(limit);
    p[np++] = PB_INT(offset);
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    void *v = NULL;
    rc = read_rows(r, sizeof **rows, 16, read_row, rows_drop, &v, n, err);
    *rows = v;
    return rc;
}

static int query_id(pb_conn *c, const char *sql, const pb_val *p, int np, char out_id[40],
                    pb_error *err)
{
    char *s = NULL;
    int rc = pb_conn_query_text(c, sql, p, np, &s, err);
    if (rc) return rc;
    pb_strlcpy(out_id, s, 40);
    free(s);
    return 0;
}

int pb_more_find_external(pb_conn *c, const char *item_type, const char *project_id,
                          const char *ext_source, const char *ext_id, char out_id[40],
                          pb_error *err)
{
    static const char *sql =
        "SELECT plane_id FROM work_plane.items WHERE project_id = $1 AND item_type = $2 AND "
        "external_source = $3 AND external_id = $4 AND deleted_at IS NULL ORDER BY created_at "
        "LIMIT 1";
    pb_val p[4] = {PB_TEXT(project_id), PB_TEXT(item_type), PB_TEXT(ext_source), PB_TEXT(ext_id)};
    return query_id(c, sql, p, 4, out_id, err);
}

int pb_more_find_name(pb_conn *c, const char *item_type, const char *project_id, const char *name,
                      const char *exclude_id, char out_id[40], pb_error *err)
{
    static const char *sql =
        "SELECT plane_id FROM work_plane.items WHERE project_id = $1 AND item_type = $2 AND "
        "name = $3 AND plane_id <> $4 AND deleted_at IS NULL ORDER BY created_at LIMIT 1";
    pb_val p[4] = {PB_TEXT(project_id), PB_TEXT(item_type), PB_TEXT(name),
                   PB_TEXT(exclude_id ? exclude_id : "")};
    return query_id(c, sql, p, 4, out_id, err);
}

int pb_more_link_url_taken(pb_conn *c, const char *issue_id, const char *url,
                           const char *exclude_id, int *taken, pb_error *err)
{
    static const char *sql =
        "SELECT COUNT(*) FROM work_plane.items WHERE parent_id = $1 AND item_type = 'link' AND "
        "name = $2 AND plane_id <> $3 AND deleted_at IS NULL";
    pb_val p[3] = {PB_TEXT(issue_id), PB_TEXT(url), PB_TEXT(exclude_id ? exclude_id : "")};
    int64_t cnt = 0;
    int rc = pb_conn_query_int(c, sql, p, 3, &cnt, err);
    if (rc) return rc;
    *taken = cnt > 0;
    return 0;
}

/* ---------------------------------------------------------------- work items */

void pb_more_issues_free(pb_more_issue *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

int pb_more_issue_get(pb_conn *c, const char *project_id, const char *issue_id, pb_more_issue *out,
                      pb_error *err)
{
    static const char *sql =
        "SELECT i.plane_id, i.project_id, i.state_group, i.name, i.sequence_id, "
        "CASE WHEN " ISSUE_VISIBLE " THEN 1 ELSE 0 END FROM work_plane.items i WHERE "
        "i.plane_id = $1 AND i.project_id = $2 AND i.item_type = 'issue' AND i.deleted_at IS NULL";
    pb_val p[2] = {PB_TEXT(issue_id), PB_TEXT(project_id)};
    pb_rows *r = NULL;
    memset(out, 0, sizeof *out);
    int rc = pb_conn_query(c, sql, p, 2, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s < 0) rc = pb_error_set(err, PB_ESTORE, "reading row failed");
    else if (s == 0) rc = pb_error_set(err, PB_ENOTFOUND, "work item not found");
    else {
        copy_col(r, 0, out->id, sizeof out->id);
        copy_col(r, 1, out->project_id, sizeof out->project_id);
        copy_col(r, 2, out->state_group, sizeof out->state_group);
        out->name = strdup(pb_rows_text(r, 3));
        out->sequence_id = pb_rows_int(r, 4);
        out->visible = (int)pb_rows_int(r, 5);
        if (!out->name) rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    pb_rows_free(r);
    return rc;
}

/* ---------------------------------------------------------------- relations */

const char *const pb_more_rel_types[PB_MORE_REL_TYPES] = {
    "blocking",    "blocked_by",   "duplicate",     "relates_to",
    "start_after", "start_before", "finish_after", "finish_before",
};

int pb_more_rel_index(const char *type)
{
    if (!type) return -1;
    for (int i = 0; i < PB_MORE_REL_TYPES; i++)
        if (strcmp(pb_more_rel_types[i], type) == 0) return i;
    return -1;
}

void pb_more_rel_stored(const char *type, const char **stored, int *inverse)
{
    *inverse = 0;
    *stored = type;
    if (strcmp(type, "blocking") == 0) {
        *stored = "blocked_by";
        *inverse = 1;
    } else if (strcmp(type, "start_after") == 0) {
        *stored = "start_before";
        *inverse = 1;
    } else if (strcmp(type, "finish_after") == 0) {
        *stored = "finish_before";
        *inverse = 1;
    }
}

int pb_more_relation_add(pb_conn *c, const char *issue_id, const char *type, const char *related_id,
                         int64_t now, pb_error *err)
{
    if (pb_more_rel_index(type) < 0) return pb_error_field(err, PB_EINVAL, "relation_type", "unknown relation type");
    const char *stored;
    int inverse;
    pb_more_rel_stored(type, &stored, &inverse);
    char kind[48];
    snprintf(kind, sizeof kind, "relation_%s", stored);
    static const char *sql = "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) "
                             "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
    pb_val p[4] = {PB_TEXT(inverse ? related_id : issue_id), PB_TEXT(kind),
                   PB_TEXT(inverse ? issue_id : related_id), PB_INT(now)};
    return pb_conn_exec(c, sql, p, 4, NULL, err);
}

int pb_more_relation_remove(pb_conn *c, const char *issue_id, const char *related_id,
                            int64_t *removed, pb_error *err)
{
    static const char *sql =
        "DELETE FROM work_plane.item_refs WHERE kind LIKE 'relation\\_%' ESCAPE '\\' AND "
        "((item_id = $1 AND ref_id = $2) OR (item_id = $3 AND ref_id = $4))";
    pb_val p[4] = {PB_TEXT(issue_id), PB_TEXT(related_id), PB_TEXT(related_id), PB_TEXT(issue_id)};
    return pb_conn_exec(c, sql, p, 4, removed, err);
}

/* The type seen from the asked issue, given the stored kind and the side the issue is on. */
static int rel_seen_type(const char *stored, int issue_is_item)
{
    if (strcmp(stored, "blocked_by") == 0) return pb_more_rel_index(issue_is_item ? "blocked_by" : "blocking");
    if (strcmp(stored, "start_before") == 0)
        return pb_more_rel_index(issue_is_item ? "start_before" : "start_after");
    if (strcmp(stored, "finish_before") == 0)
        return pb_more_rel_index(issue_is_item ? "finish_before" : "finish_after");
    return pb_more_rel_index(stored); /* duplicate, relates_to: symmetric */
}

/* A relation row as seen from the issue; 1 (skip) for rows that are not a known relation. */
static int rel_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_more_rel *v = rec;
    (void)ctx;
    const char *kind = pb_rows_text(r, 0);
    if (strncmp(kind, "relation_", 9) != 0) return 1;
    int t = rel_seen_type(kind + 9, (int)pb_rows_int(r, 1));
    if (t < 0) return 1;
    v->type = t;
    copy_col(r, 2, v->issue_id, sizeof v->issue_id);
    copy_col(r, 3, v->project_id, sizeof v->project_id);
    return 0;
}

int pb_more_relation_list(pb_conn *c, const char *issue_id, pb_more_rel **out, size_t *n,
                          pb_error *err)
{
    static const char *sql =
        "SELECT r.kind, 1, r.ref_id, i.project_id, r.created_at FROM work_plane.item_refs r "
        "JOIN work_plane.items i ON i.plane_id = r.ref_id WHERE r.item_id = $1 AND "
        "r.kind LIKE 'relation\\_%' ESCAPE '\\' AND i.deleted_at IS NULL "
        "UNION ALL "
        "SELECT r.kind, 0, r.item_id, i.project_id, r.created_at FROM work_plane.item_refs r "
        "JOIN work_plane.items i ON i.plane_id = r.item_id WHERE r.ref_id = $2 AND "
        "r.kind LIKE 'relation\\_%' ESCAPE '\\' AND i.deleted_at IS NULL "
        "ORDER BY 5, 3";
    pb_val p[2] = {PB_TEXT(issue_id), PB_TEXT(issue_id)};
    pb_rows *r = NULL;
    *out = NULL;
    *n = 0;
    int rc = pb_conn_query(c, sql, p, 2, &r, err);
    if (rc) return rc;
    void *v = NULL;
    rc = read_rows(r, sizeof **out, 8, rel_fill, NULL, &v, n, err);
    *out = v;
    return rc;
}

/* ---------------------------------------------------------------- memberships */

static int member_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_more_member *m = rec;
    (void)ctx;
    copy_col(r, 0, m->issue_id, sizeof m->issue_id);
    copy_col(r, 1, m->ref_id, sizeof m->ref_id);
    m->created_at = pb_rows_int(r, 2);
    return 0;
}

static int read_members(pb_conn *c, const char *sql, const pb_val *p, int np, pb_more_member **out,
                        size_t *n, pb_error *err)
{
    pb_rows *r = NULL;
    *out = NULL;
    *n = 0;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    void *v = NULL;
    rc = read_rows(r, sizeof **out, 16, member_fill, NULL, &v, n, err);
    *out = v;
    return rc;
}

int pb_more_member_refs(pb_conn *c, const char *kind, const char *issue_id, pb_more_member **out,
                        size_t *n, pb_error *err)
{
    static const char *sql = "SELECT item_id, ref_id, created_at FROM work_plane.item_refs WHERE "
                             "item_id = $1 AND kind = $2 ORDER BY created_at, ref_id";
    pb_val p[2] = {PB_TEXT(issue_id), PB_TEXT(kind)};
    return read_members(c, sql, p, 2, out, n, err);
}

int pb_more_member_add(pb_conn *c, const char *kind, const char *issue_id, const char *ref_id,
                       int64_t now, pb_error *err)
{
    static const char *sql = "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) "
                             "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
    pb_val p[4] = {PB_TEXT(issue_id), PB_TEXT(kind), PB_TEXT(ref_id), PB_INT(now)};
    return pb_conn_exec(c, sql, p, 4, NULL, err);
}

int pb_more_member_move(pb_conn *c, const char *kind, const char *issue_id, const char *old_ref,
                        const char *new_ref, pb_error *err)
{
    static const char *sql = "UPDATE work_plane.item_refs SET ref_id = $1 WHERE item_id = $2 AND "
                             "kind = $3 AND ref_id = $4";
    pb_val p[4] = {PB_TEXT(new_ref), PB_TEXT(issue_id), PB_TEXT(kind), PB_TEXT(old_ref)};
    return pb_conn_exec(c, sql, p, 4, NULL, err);
}

int pb_more_member_remove(pb_conn *c, const char *kind, const char *issue_id, const char *ref_id,
                          int64_t *removed, pb_error *err)
{
    static const char *sql =
        "DELETE FROM work_plane.item_refs WHERE item_id = $1 AND kind = $2 AND ref_id = $3";
    pb_val p[3] = {PB_TEXT(issue_id), PB_TEXT(kind), PB_TEXT(ref_id)};
    return pb_conn_exec(c, sql, p, 3, removed, err);
}

int pb_more_member_clear(pb_conn *c, const char *kind, const char *ref_id, pb_error *err)
{
    static const char *sql = "DELETE FROM work_plane.item_refs WHERE kind = $1 AND ref_id = $2";
    pb_val p[2] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    return pb_conn_exec(c, sql, p, 2, NULL, err);
}

int pb_more_member_list(pb_conn *c, const char *kind, const char *ref_id, pb_more_member **out,
                        size_t *n, pb_error *err)
{
    static const char *sql =
        "SELECT r.item_id, r.ref_id, r.created_at FROM work_plane.item_refs r JOIN "
        "work_plane.items i ON i.plane_id = r.item_id WHERE r.kind = $1 AND r.ref_id = $2 AND "
        ISSUE_VISIBLE " ORDER BY r.created_at DESC, r.item_id";
    pb_val p[2] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    return read_members(c, sql, p, 2, out, n, err);
}

static int id_fill(pb_rows *r, void *rec, void *ctx)
{
    (void)ctx;
    copy_col(r, 0, rec, 40);
    return 0;
}

int pb_more_member_issue_ids(pb_conn *c, const char *kind, const char *ref_id,
                             const char *project_id, int desc, int64_t offset, int64_t limit,
                             char (**ids)[40], size_t *n, int64_t *total, pb_error *err)
{
    static const char *csql =
        "SELECT COUNT(*) FROM work_plane.item_refs r JOIN work_plane.items i ON i.plane_id = "
        "r.item_id WHERE r.kind = $1 AND r.ref_id = $2 AND i.project_id = $3 AND " ISSUE_VISIBLE;
    pb_val p[5] = {PB_TEXT(kind), PB_TEXT(ref_id), PB_TEXT(project_id),
                   PB_INT(limit < 0 ? INT64_MAX / 2 : limit), PB_INT(offset)};
    *ids = NULL;
    *n = 0;
    int rc = pb_conn_query_int(c, csql, p, 3, total, err);
    if (rc) return rc;
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT i.plane_id FROM work_plane.item_refs r JOIN work_plane.items i ON "
             "i.plane_id = r.item_id WHERE r.kind = $1 AND r.ref_id = $2 AND i.project_id = $3 "
             "AND " ISSUE_VISIBLE " ORDER BY i.created_at %s, i.plane_id LIMIT $4 OFFSET $5",
             desc ? "DESC" : "ASC");
    pb_rows *r = NULL;
    rc = pb_conn_query(c, sql, p, 5, &r, err);
    if (rc) return rc;
    void *v = NULL;
    rc = read_rows(r, sizeof **ids, 16, id_fill, NULL, &v, n, err);
    *ids = v;
    return rc;
}

int pb_more_member_counts(pb_conn *c, const char *kind, const char *ref_id, int64_t counts[6],
                          pb_error *err)
{
    static const char *sql =
        "SELECT i.state_group, COUNT(*) FROM work_plane.item_refs r JOIN work_plane.items i ON "
        "i.plane_id = r.item_id WHERE r.kind = $1 AND r.ref_id = $2 AND " ISSUE_VISIBLE
        " GROUP BY i.state_group";
    static const char *const groups[5] = {"backlog", "unstarted", "started", "completed",
                                          "cancelled"};
    pb_val p[2] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    memset(counts, 0, 6 * sizeof counts[0]);
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, 2, &r, err);
    if (rc) return rc;
    int s;
    while ((s = pb_rows_next(r)) > 0) {
        const char *g = pb_rows_text(r, 0);
        int64_t k = pb_rows_int(r, 1);
        counts[0] += k;
        for (int i = 0; i < 5; i++)
            if (strcmp(g, groups[i]) == 0) counts[i + 1] += k;
    }
    if (s < 0) rc = pb_error_set(err, PB_ESTORE, "reading rows failed");
    pb_rows_free(r);
    return rc;
}

int pb_more_member_transfer(pb_conn *c, const char *kind, const char *from_ref,
                            const char *to_ref, int64_t *moved, pb_error *err)
{
    static const char *sql =
        "UPDATE work_plane.item_refs SET ref_id = $1 WHERE kind = $2 AND ref_id = $3 AND item_id "
        "IN (SELECT i.plane_id FROM work_plane.items i WHERE i.item_type = 'issue' AND "
        "i.deleted_at IS NULL AND i.state_group IN ('backlog', 'unstarted', 'started'))";
    pb_val p[3] = {PB_TEXT(to_ref), PB_TEXT(kind), PB_TEXT(from_ref)};
    return pb_conn_exec(c, sql, p, 3, moved, err);
}

/* ---------------------------------------------------------------- search */

void pb_more_hits_free(pb_more_hit *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

/* Escapes LIKE metacharacters of q (lower-cased ASCII) into a "%q%" pattern. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *o = malloc(2 * n + 3);
    if (!o) return NULL;
    size_t j = 0;
    o[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        char ch = q[i];
        if (ch == '%' || ch == '_' || ch == '\\') o[j++] = '\\';
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        o[j++] = ch;
    }
    o[j++] = '%';
    o[j] = '\0';
    return o;
}

/* Up to max whole numbers in q (Python's \b\d+\b): runs of digits not touching a letter,
 * digit or underscore. */
static int whole_numbers(const char *q, int64_t *out, int max)
{
    int k = 0;
    size_t n = strlen(q);
    for (size_t i = 0; i < n && k < max;) {
        if (q[i] >= '0' && q[i] <= '9') {
            size_t j = i;
            while (j < n && q[j] >= '0' && q[j] <= '9') j++;
            int left_ok = i == 0 || !(((unsigned char)q[i - 1] >= 'a' && (unsigned char)q[i - 1] <= 'z') ||
                                      ((unsigned char)q[i - 1] >= 'A' && (unsigned char)q[i - 1] <= 'Z') ||
                                      q[i - 1] == '_');
            int right_ok = j == n || !((q[j] >= 'a' && q[j] <= 'z') || (q[j] >= 'A' && q[j] <= 'Z') ||
                                       q[j] == '_');
            if (left_ok && right_ok && j - i <= 15) {
                char tmp[16];
                memcpy(tmp, q + i, j - i);
                tmp[j - i] = '\0';
                int64_t v;
                if (pb_parse_i64(tmp, 0, INT64_MAX, &v) == 0) out[k++] = v;
            }
            i = j;
        } else {
            i++;
        }
    }
    return k;
}

static int hit_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_more_hit *h = rec;
    (void)ctx;
    copy_col(r, 0, h->id, sizeof h->id);
    h->name = strdup(pb_rows_text(r, 1));
    h->sequence_id = pb_rows_int(r, 2);
    copy_col(r, 3, h->identifier, sizeof h->identifier);
    copy_col(r, 4, h->project_id, sizeof h->project_id);
    return h->name ? 0 : PB_ENOMEM;
}

static void hits_drop(void *arr, size_t n)
{
    pb_more_hits_free(arr, n);
}

int pb_more_search(pb_conn *c, const char *slug, const char *user_id, const char *q,
                   const char *project_id, int64_t limit, pb_more_hit **out, size_t *n,
                   pb_error *err)
{
    *out = NULL;
    *n = 0;
    char *pat = like_pattern(q);
    if (!pat) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int64_t nums[4];
    int nn = whole_numbers(q, nums, 4);
    char numsql[128] = "";
    size_t off = 0;
    for (int i = 0; i < nn; i++)
        off += (size_t)snprintf(numsql + off, sizeof numsql - off, " OR i.sequence_id = %lld",
                                (long long)nums[i]);
    char sql[1400];
    pb_val p[5];
    int np = 0;
    p[np++] = PB_TEXT(slug);
    p[np++] = PB_TEXT(pat);
    p[np++] = PB_TEXT(pat);
    p[np++] = PB_TEXT(user_id);
    if (project_id) p[np++] = PB_TEXT(project_id);
    /* Plane's issue_objects for projects the caller is an active member of. */
    snprintf(sql, sizeof sql,
             "SELECT i.plane_id, i.name, i.sequence_id, p.identifier, i.project_id FROM "
             "work_plane.items i JOIN work_plane.projects p ON p.plane_id = i.project_id WHERE "
             "i.workspace_slug = $1 AND " ISSUE_VISIBLE " AND p.deleted_at IS NULL AND "
             "p.archived_at IS NULL AND (LOWER(i.name) LIKE $2 ESCAPE '\\' OR "
             "LOWER(p.identifier) LIKE $3 ESCAPE '\\'%s) AND EXISTS (SELECT 1 FROM "
             "work_plane.items m WHERE m.item_type = 'project_member' AND m.project_id = "
             "i.project_id AND m.member_id = $4 AND m.is_active = 1 AND m.deleted_at IS NULL)%s "
             "ORDER BY i.created_at DESC, i.plane_id LIMIT %lld",
             numsql, project_id ? " AND i.project_id = $5" : "", (long long)limit);
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    free(pat);
    if (rc) return rc;
    void *v = NULL;
    rc = read_rows(r, sizeof **out, 16, hit_fill, hits_drop, &v, n, err);
    *out = v;
    return rc;
}
