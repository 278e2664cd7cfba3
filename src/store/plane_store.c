/* plane_store: SQL of the Plane-compatible API's resources. See plane_store.h. */
#include "store/plane_store.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXT(s) ((s) && (s)[0] ? PB_TEXT(s) : PB_NULL)
#define TXTN(s) PB_TEXT(s) /* NULL stays NULL, "" stays "" */
#define I64N(v) ((v) ? PB_INT(v) : PB_NULL)

static char *dup_or_null(pb_rows *r, int col)
{
    if (pb_rows_isnull(r, col)) return NULL;
    return strdup(pb_rows_text(r, col));
}

static int query_done(int rc, pb_error *err)
{
    if (rc < 0) return pb_error_set(err, PB_ESTORE, "row iteration failed");
    return 0;
}

/* Runs a query that yields at most one row and reads it through fill (0, or PB_ENOMEM when a
 * copy failed); PB_ENOTFOUND (notfound) when there is no row. */
static int query_one(pb_conn *c, const char *sql, const pb_val *v, int nv, int (*fill)(pb_rows *, void *),
                     void *out, const char *notfound, pb_error *err)
{
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, v, nv, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) rc = fill(r, out) ? pb_error_set(err, PB_ENOMEM, "out of memory") : 0;
    else if (s == 0) rc = pb_error_set(err, PB_ENOTFOUND, "%s", notfound);
    else rc = pb_error_set(err, PB_ESTORE, "row iteration failed");
    pb_rows_free(r);
    return rc;
}

/* ---------------------------------------------------------------- lists */
void pb_ps_rawlist_clear(pb_ps_rawlist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->raw ? l->raw[i] : NULL);
        free(l->id ? l->id[i] : NULL);
    }
    free(l->raw);
    free(l->id);
    memset(l, 0, sizeof *l);
}

static int rawlist_push(pb_ps_rawlist *l, const char *id, const char *raw)
{
    char **nr = realloc(l->raw, (l->n + 1) * sizeof *nr);
    if (!nr) return PB_ENOMEM;
    l->raw = nr;
    char **ni = realloc(l->id, (l->n + 1) * sizeof *ni);
    if (!ni) return PB_ENOMEM;
    l->id = ni;
    l->raw[l->n] = raw ? strdup(raw) : NULL;
    l->id[l->n] = id ? strdup(id) : NULL;
    if ((raw && !l->raw[l->n]) || (id && !l->id[l->n])) {
        free(l->raw[l->n]);
        free(l->id[l->n]);
        return PB_ENOMEM;
    }
    l->n++;
    return 0;
}

/* Runs a query whose columns are (id, raw) and appends every row. */
static int fill_rawlist(pb_conn *c, const char *sql, const pb_val *p, int np, pb_ps_rawlist *out,
                        pb_error *err)
{
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    int s;
    while ((s = pb_rows_next(r)) == 1) {
        rc = rawlist_push(out, pb_rows_text(r, 0), pb_rows_ncols(r) > 1 ? pb_rows_text(r, 1) : NULL);
        if (rc) {
            pb_rows_free(r);
            return pb_error_set(err, rc, "out of memory");
        }
    }
    pb_rows_free(r);
    return query_done(s, err);
}

/* ---------------------------------------------------------------- projects */
void pb_ps_project_clear(pb_ps_project *p)
{
    if (!p) return;
    free(p->name);
    free(p->external_source);
    free(p->external_id);
    free(p->raw);
    memset(p, 0, sizeof *p);
}

int pb_ps_project_insert(pb_conn *c, const pb_ps_project *p, pb_error *err)
{
    pb_val v[] = {PB_TEXT(p->id), PB_TEXT(p->slug), PB_TEXT(p->identifier), PB_TEXT(p->name),
                  TXTN(p->external_source), TXTN(p->external_id), PB_INT(p->created_at),
                  PB_INT(p->updated_at), I64N(p->archived_at), PB_TEXT(p->raw)};
    return pb_conn_exec(c,
                        "INSERT INTO work_plane.projects (plane_id, workspace_slug, identifier, name, "
                        "seq_counter, external_source, external_id, created_at, updated_at, archived_at, raw, "
                        "visible_issues) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $9, $10, 0)",
                        v, 10, NULL, err);
}

int pb_ps_project_update(pb_conn *c, const pb_ps_project *p, pb_error *err)
{
    pb_val v[] = {PB_TEXT(p->id), PB_TEXT(p->identifier), PB_TEXT(p->name), TXTN(p->external_source),
                  TXTN(p->external_id), PB_INT(p->updated_at), I64N(p->archived_at), PB_TEXT(p->raw)};
    int64_t n = 0;
    int rc = pb_conn_exec(c,
                          "UPDATE work_plane.projects SET identifier = $2, name = $3, external_source = $4, "
                          "external_id = $5, updated_at = $6, archived_at = $7, raw = $8 WHERE plane_id = $1",
                          v, 8, &n, err);
    if (!rc && n == 0) rc = pb_error_set(err, PB_ENOTFOUND, "project not found");
    return rc;
}

#define PROJECT_COLS                                                                                 \
    "plane_id, workspace_slug, identifier, name, external_source, external_id, seq_counter, "        \
    "created_at, updated_at, archived_at, deleted_at, raw"

static void project_from_row(pb_rows *r, pb_ps_project *out)
{
    memset(out, 0, sizeof *out);
    pb_strlcpy(out->id, pb_rows_text(r, 0), sizeof out->id);
    pb_strlcpy(out->slug, pb_rows_text(r, 1), sizeof out->slug);
    pb_strlcpy(out->identifier, pb_rows_text(r, 2), sizeof out->identifier);
    out->name = strdup(pb_rows_text(r, 3));
    out->external_source = dup_or_null(r, 4);
    out->external_id = dup_or_null(r, 5);
    out->seq_counter = pb_rows_int(r, 6);
    out->created_at = pb_rows_int(r, 7);
    out->updated_at = pb_rows_int(r, 8);
    out->archived_at = pb_rows_isnull(r, 9) ? 0 : pb_rows_int(r, 9);
    out->deleted_at = pb_rows_isnull(r, 10) ? 0 : pb_rows_int(r, 10);
    out->raw = strdup(pb_rows_text(r, 11));
}

static int project_fill(pb_rows *r, void *rec)
{
    pb_ps_project *p = rec;
    project_from_row(r, p);
    return (!p->name || !p->raw) ? PB_ENOMEM : 0;
}

static int project_one(pb_conn *c, const char *sql, const pb_val *v, int nv, pb_ps_project *out,
                       pb_error *err)
{
    return query_one(c, sql, v, nv, project_fill, out, "project not found", err);
}

int pb_ps_project_get(pb_conn *c, const char *slug, const char *id, pb_ps_project *out, pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(id)};
    return project_one(c,
                       "SELECT " PROJECT_COLS " FROM work_plane.projects WHERE workspace_slug = $1 AND "
                       "plane_id = $2 AND deleted_at IS NULL",
                       v, 2, out, err);
}

int pb_ps_project_by_identifier(pb_conn *c, const char *slug, const char *identifier, pb_ps_project *out,
                                pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(identifier)};
    return project_one(c,
                       "SELECT " PROJECT_COLS " FROM work_plane.projects WHERE workspace_slug = $1 AND "
                       "identifier = $2 AND deleted_at IS NULL",
                       v, 2, out, err);
}

static int find_id(pb_conn *c, const char *sql, const pb_val *v, int nv, char out_id[40], pb_error *err)
{
    char *s = NULL;
    int rc = pb_conn_query_text(c, sql, v, nv, &s, err);
    if (rc) return rc;
    if (out_id) pb_strlcpy(out_id, s, 40);
    free(s);
    return 0;
}

int pb_ps_project_find_name(pb_conn *c, const char *slug, const char *name, const char *except_id,
                            char out_id[40], pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(name), PB_TEXT(except_id ? except_id : "")};
    return find_id(c,
                   "SELECT plane_id FROM work_plane.projects WHERE workspace_slug = $1 AND name = $2 AND "
                   "deleted_at IS NULL AND plane_id <> $3 LIMIT 1",
                   v, 3, out_id, err);
}

int pb_ps_project_find_identifier(pb_conn *c, const char *slug, const char *identifier, const char *except_id,
                                  char out_id[40], pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(identifier), PB_TEXT(except_id ? except_id : "")};
    return find_id(c,
                   "SELECT plane_id FROM work_plane.projects WHERE workspace_slug = $1 AND identifier = $2 AND "
                   "deleted_at IS NULL AND plane_id <> $3 LIMIT 1",
                   v, 3, out_id, err);
}

int pb_ps_project_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id), PB_INT(now)};
    int64_t n = 0;
    int rc = pb_conn_exec(c, "UPDATE work_plane.projects SET deleted_at = $2 WHERE plane_id = $1 AND deleted_at IS NULL",
                          v, 2, &n, err);
    if (rc) return rc;
    if (n == 0) return pb_error_set(err, PB_ENOTFOUND, "project not found");
    /* Children go with it, as Plane's soft-delete cascade does. */
    return pb_conn_exec(c,
                        "UPDATE work_plane.items SET deleted_at = $2 WHERE project_id = $1 AND deleted_at IS NULL "
                        "AND item_type <> 'project_member'",
                        v, 2, NULL, err);
}

int pb_ps_project_next_seq(pb_conn *c, const char *id, int64_t *seq, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id)};
    return pb_conn_query_int(c,
                             "UPDATE work_plane.projects SET seq_counter = seq_counter + 1 WHERE plane_id = $1 "
                             "RETURNING seq_counter",
                             v, 1, seq, err);
}

#define VISIBLE_ISSUE                                                                               \
    "item_type = 'issue' AND deleted_at IS NULL AND archived_at IS NULL AND is_draft = 0 AND "      \
    "state_group <> 'triage'"

int pb_ps_project_issue_count(pb_conn *c, const char *id, int64_t *count, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, "SELECT visible_issues FROM work_plane.projects WHERE plane_id = $1", v, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    int known = 0;
    if (s == 1 && !pb_rows_isnull(r, 0)) {
        *count = pb_rows_int(r, 0);
        known = 1;
    }
    pb_rows_free(r);
    if (s < 0) return pb_error_set(err, PB_ESTORE, "row iteration failed");
    if (s == 0) return pb_error_set(err, PB_ENOTFOUND, "project not found");
    if (known) return 0;
    rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND " VISIBLE_ISSUE, v, 1,
                           count, err);
    if (rc) return rc;
    pb_val u[] = {PB_TEXT(id), PB_INT(*count)};
    /* Best effort: a reader may hold no write lock; a failure just means recounting later. */
    pb_conn_exec(c, "UPDATE work_plane.projects SET visible_issues = $2 WHERE plane_id = $1 AND visible_issues IS NULL",
                 u, 2, NULL, NULL);
    return 0;
}

int pb_ps_project_issue_count_add(pb_conn *c, const char *id, int64_t delta, pb_error *err)
{
    if (delta == 0) return 0;
    pb_val v[] = {PB_TEXT(id), PB_INT(delta)};
    return pb_conn_exec(c,
                        "UPDATE work_plane.projects SET visible_issues = visible_issues + $2 WHERE plane_id = $1 "
                        "AND visible_issues IS NOT NULL",
                        v, 2, NULL, err);
}

int pb_ps_project_issue_count_reset(pb_conn *c, const char *id, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id)};
    return pb_conn_exec(c, "UPDATE work_plane.projects SET visible_issues = NULL WHERE plane_id = $1", v, 1, NULL, err);
}

int pb_ps_project_access(pb_conn *c, const char *slug, const char *project_id, const char *user_id, int *exists,
                         int *role, char identifier[16], int *archived, pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(project_id), PB_TEXT(user_id)};
    pb_rows *r = NULL;
    *exists = 0;
    *role = 0;
    int rc = pb_conn_query(c,
                           "SELECT p.identifier, p.archived_at, m.role, m.is_active FROM work_plane.projects p "
                           "LEFT JOIN work_plane.items m ON m.item_type = 'project_member' AND "
                           "m.project_id = p.plane_id AND m.member_id = $3 "
                           "WHERE p.workspace_slug = $1 AND p.plane_id = $2 AND p.deleted_at IS NULL",
                           v, 3, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        *exists = 1;
        if (identifier) pb_strlcpy(identifier, pb_rows_text(r, 0), 16);
        if (archived) *archived = !pb_rows_isnull(r, 1);
        if (!pb_rows_isnull(r, 2) && pb_rows_int(r, 3) == 1) *role = (int)pb_rows_int(r, 2);
    }
    pb_rows_free(r);
    return query_done(s, err);
}

int pb_ps_project_list(pb_conn *c, const char *slug, const char *user_id, int64_t limit, int64_t offset,
                       int64_t *total, pb_ps_rawlist *out, pb_error *err)
{
    return pb_ps_project_list_ordered(c, slug, user_id, PB_PS_PORDER_CREATED, 1, limit, offset, total, out, err);
}

int pb_ps_project_list_ordered(pb_conn *c, const char *slug, const char *user_id, pb_ps_project_order order,
                               int desc, int64_t limit, int64_t offset, int64_t *total, pb_ps_rawlist *out,
                               pb_error *err)
{
    /* ORDER BY per key, ascending then descending; each descending order is the exact reverse
     * of the ascending one. NULLs sort as PostgreSQL (Plane's database) sorts them: last when
     * ascending, first when descending, spelled out so SQLite agrees. Ties are broken by
     * stable columns (Plane leaves them to the database). sort_order is the caller's own
     * membership sort_order (NULL for a public project the caller has not joined); Plane gives
     * each new membership of a user min(sort_order) - 10000, so among equal values the newer
     * membership comes first. */
    static const struct {
        pb_ps_project_order order;
        const char *asc, *desc;
    } keys[] = {
        {PB_PS_PORDER_SORT_ORDER,
         "CASE WHEN m.sort_order IS NULL THEN 1 ELSE 0 END, m.sort_order, m.created_at DESC, p.created_at DESC, "
         "p.plane_id DESC",
         "CASE WHEN m.sort_order IS NULL THEN 1 ELSE 0 END DESC, m.sort_order DESC, m.created_at, p.created_at, "
         "p.plane_id"},
        {PB_PS_PORDER_CREATED, "p.created_at, p.plane_id", "p.created_at DESC, p.plane_id DESC"},
        {PB_PS_PORDER_UPDATED, "p.updated_at, p.plane_id", "p.updated_at DESC, p.plane_id DESC"},
        {PB_PS_PORDER_NAME, "p.name, p.plane_id", "p.name DESC, p.plane_id DESC"},
        {PB_PS_PORDER_IDENTIFIER, "p.identifier, p.plane_id", "p.identifier DESC, p.plane_id DESC"},
        {PB_PS_PORDER_ID, "p.plane_id", "p.plane_id DESC"},
        {PB_PS_PORDER_ARCHIVED, "CASE WHEN p.archived_at IS NULL THEN 1 ELSE 0 END, p.archived_at, p.plane_id",
         "CASE WHEN p.archived_at IS NULL THEN 1 ELSE 0 END DESC, p.archived_at DESC, p.plane_id DESC"},
    };
    const char *by = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].order == order) by = desc ? keys[i].desc : keys[i].asc;
    if (!by) return pb_error_set(err, PB_EINVAL, "unknown project order");
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(user_id), PB_INT(limit), PB_INT(offset)};
#define PROJ_VISIBLE                                                                                \
    " WHERE p.workspace_slug = $1 AND p.deleted_at IS NULL AND ("                                    \
    "EXISTS (SELECT 1 FROM work_plane.items mv WHERE mv.item_type = 'project_member' AND "          \
    "mv.project_id = p.plane_id AND mv.member_id = $2 AND mv.is_active = 1) OR "                    \
    "CAST(p.raw AS TEXT) LIKE '%\"network\":2%' OR CAST(p.raw AS TEXT) LIKE '%\"network\": 2%')"
    int rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM work_plane.projects p" PROJ_VISIBLE, v, 2, total, err);
    if (rc) return rc;
    char sql[1024];
    int w = snprintf(sql, sizeof sql,
                     "SELECT p.plane_id, p.raw FROM work_plane.projects p LEFT JOIN work_plane.items m ON "
                     "m.item_type = 'project_member' AND m.project_id = p.plane_id AND m.member_id = $2 AND "
                     "m.is_active = 1%s ORDER BY %s LIMIT $3 OFFSET $4",
                     PROJ_VISIBLE, by);
    if (w < 0 || (size_t)w >= sizeof sql) return pb_error_set(err, PB_EINVAL, "project list query too long");
    return fill_rawlist(c, sql, v, 4, out, err);
#undef PROJ_VISIBLE
}

int pb_ps_project_summary_counts(pb_conn *c, const char *project_id, pb_ps_project_summary *out, pb_error *err)
{
    /* Plane's ProjectSummaryAPIEndpoint counts through each model's default manager: soft-deleted
     * rows never count; archived cycles, modules and work items (and drafts) do; states and work
     * items in the triage group do not; members only while active. */
    pb_val v[] = {PB_TEXT(project_id)};
    pb_rows *r = NULL;
    memset(out, 0, sizeof *out);
#define ITEMS_OF(type, extra)                                                                         \
    "(SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND item_type = '" type "' AND "    \
    "deleted_at IS NULL" extra ")"
    int rc = pb_conn_query(c,
                           "SELECT " ITEMS_OF("project_member", " AND is_active = 1") ", "
                           ITEMS_OF("state", " AND COALESCE(state_group, '') <> 'triage'") ", "
                           ITEMS_OF("label", "") ", " ITEMS_OF("cycle", "") ", " ITEMS_OF("module", "") ", "
                           ITEMS_OF("issue", " AND COALESCE(state_group, '') <> 'triage'") ", "
                           ITEMS_OF("intake", "") ", "
                           "(SELECT COUNT(*) FROM work_plane.pages WHERE project_id = $1 AND deleted_at IS NULL)",
                           v, 1, &r, err);
#undef ITEMS_OF
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        out->members = pb_rows_int(r, 0);
        out->states = pb_rows_int(r, 1);
        out->labels = pb_rows_int(r, 2);
        out->cycles = pb_rows_int(r, 3);
        out->modules = pb_rows_int(r, 4);
        out->issues = pb_rows_int(r, 5);
        out->intakes = pb_rows_int(r, 6);
        out->pages = pb_rows_int(r, 7);
    }
    pb_rows_free(r);
    return query_done(s, err);
}

int pb_ps_workspace_id(pb_conn *c, const char *slug, char out[64], pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug)};
    char *s = NULL;
    int rc = pb_conn_query_text(c, "SELECT id FROM work_plane.installations WHERE workspace_slug = $1", v, 1, &s, err);
    if (rc) return rc;
    pb_strlcpy(out, s, 64);
    free(s);
    return 0;
}

/* ---------------------------------------------------------------- items */
void pb_ps_item_clear(pb_ps_item *it)
{
    if (!it) return;
    free(it->name);
    free(it->external_source);
    free(it->external_id);
    free(it->raw);
    memset(it, 0, sizeof *it);
}

int pb_ps_item_insert(pb_conn *c, const pb_ps_item *it, pb_error *err)
{
    pb_val v[] = {PB_TEXT(it->id),          PB_TEXT(it->item_type),     PB_TEXT(it->slug),
                  TXT(it->project_id),      TXT(it->parent_id),         I64N(it->sequence_id),
                  TXT(it->state_id),        TXT(it->state_group),       TXT(it->priority),
                  TXTN(it->name),           PB_REAL(it->sort_order),    TXTN(it->external_source),
                  TXTN(it->external_id),    TXT(it->created_by),        PB_INT(it->created_at),
                  PB_INT(it->updated_at),   I64N(it->archived_at),      PB_TEXT(it->raw),
                  PB_INT(it->is_draft),     PB_INT(it->is_default),     TXT(it->member_id),
                  it->role ? PB_INT(it->role) : PB_NULL, PB_INT(it->is_active)};
    return pb_conn_exec(c,
                        "INSERT INTO work_plane.items (plane_id, item_type, workspace_slug, project_id, parent_id, "
                        "sequence_id, state_id, state_group, priority, name, sort_order, external_source, "
                        "external_id, created_by, created_at, updated_at, archived_at, raw, is_draft, is_default, "
                        "member_id, role, is_active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                        "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
                        v, 23, NULL, err);
}

int pb_ps_item_update(pb_conn *c, const pb_ps_item *it, pb_error *err)
{
    pb_val v[] = {PB_TEXT(it->id),        TXT(it->parent_id),       I64N(it->sequence_id),
                  TXT(it->state_id),      TXT(it->state_group),     TXT(it->priority),
                  TXTN(it->name),         PB_REAL(it->sort_order),  TXTN(it->external_source),
                  TXTN(it->external_id),  PB_INT(it->updated_at),   I64N(it->archived_at),
                  PB_TEXT(it->raw),       PB_INT(it->is_draft),     PB_INT(it->is_default),
                  TXT(it->member_id),     it->role ? PB_INT(it->role) : PB_NULL, PB_INT(it->is_active)};
    int64_t n = 0;
    int rc = pb_conn_exec(c,
                          "UPDATE work_plane.items SET parent_id = $2, sequence_id = $3, state_id = $4, "
                          "state_group = $5, priority = $6, name = $7, sort_order = $8, external_source = $9, "
                          "external_id = $10, updated_at = $11, archived_at = $12, raw = $13, is_draft = $14, "
                          "is_default = $15, member_id = $16, role = $17, is_active = $18 WHERE plane_id = $1",
                          v, 18, &n, err);
    if (!rc && n == 0) rc = pb_error_set(err, PB_ENOTFOUND, "item not found");
    return rc;
}

#define ITEM_COLS                                                                                    \
    "plane_id, item_type, workspace_slug, project_id, parent_id, sequence_id, state_id, state_group, " \
    "priority, name, sort_order, external_source, external_id, created_by, created_at, updated_at, "  \
    "archived_at, deleted_at, raw, is_draft, is_default, member_id, role, is_active"

static const char *static_type(const char *t)
{
    static const char *const known[] = {"issue", "state", "label", "project_member", "activity", "cycle",
                                        "module", "comment", "link", "relation", "intake", NULL};
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], t) == 0) return known[i];
    return "other";
}

static void item_from_row(pb_rows *r, pb_ps_item *o)
{
    memset(o, 0, sizeof *o);
    pb_strlcpy(o->id, pb_rows_text(r, 0), sizeof o->id);
    o->item_type = static_type(pb_rows_text(r, 1));
    pb_strlcpy(o->slug, pb_rows_text(r, 2), sizeof o->slug);
    pb_strlcpy(o->project_id, pb_rows_text(r, 3), sizeof o->project_id);
    pb_strlcpy(o->parent_id, pb_rows_text(r, 4), sizeof o->parent_id);
    o->sequence_id = pb_rows_isnull(r, 5) ? 0 : pb_rows_int(r, 5);
    pb_strlcpy(o->state_id, pb_rows_text(r, 6), sizeof o->state_id);
    pb_strlcpy(o->state_group, pb_rows_text(r, 7), sizeof o->state_group);
    pb_strlcpy(o->priority, pb_rows_text(r, 8), sizeof o->priority);
    o->name = dup_or_null(r, 9);
    o->sort_order = pb_rows_real(r, 10);
    o->external_source = dup_or_null(r, 11);
    o->external_id = dup_or_null(r, 12);
    pb_strlcpy(o->created_by, pb_rows_text(r, 13), sizeof o->created_by);
    o->created_at = pb_rows_int(r, 14);
    o->updated_at = pb_rows_int(r, 15);
    o->archived_at = pb_rows_isnull(r, 16) ? 0 : pb_rows_int(r, 16);
    o->deleted_at = pb_rows_isnull(r, 17) ? 0 : pb_rows_int(r, 17);
    o->raw = strdup(pb_rows_text(r, 18));
    o->is_draft = (int)pb_rows_int(r, 19);
    o->is_default = (int)pb_rows_int(r, 20);
    pb_strlcpy(o->member_id, pb_rows_text(r, 21), sizeof o->member_id);
    o->role = pb_rows_isnull(r, 22) ? 0 : (int)pb_rows_int(r, 22);
    o->is_active = (int)pb_rows_int(r, 23);
}

static int item_fill(pb_rows *r, void *rec)
{
    pb_ps_item *o = rec;
    item_from_row(r, o);
    return o->raw ? 0 : PB_ENOMEM;
}

static int item_one(pb_conn *c, const char *sql, const pb_val *v, int nv, pb_ps_item *out, pb_error *err)
{
    return query_one(c, sql, v, nv, item_fill, out, "not found", err);
}

int pb_ps_item_get(pb_conn *c, const char *type, const char *project_id, const char *id, pb_ps_item *out,
                   pb_error *err)
{
    if (project_id) {
        pb_val v[] = {PB_TEXT(id), PB_TEXT(type), PB_TEXT(project_id)};
        return item_one(c,
                        "SELECT " ITEM_COLS " FROM work_plane.items WHERE plane_id = $1 AND item_type = $2 AND "
                        "project_id = $3 AND deleted_at IS NULL",
                        v, 3, out, err);
    }
    pb_val v[] = {PB_TEXT(id), PB_TEXT(type)};
    return item_one(c,
                    "SELECT " ITEM_COLS " FROM work_plane.items WHERE plane_id = $1 AND item_type = $2 AND "
                    "deleted_at IS NULL",
                    v, 2, out, err);
}

int pb_ps_item_soft_delete(pb_conn *c, const char *id, int64_t now, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id), PB_INT(now)};
    int64_t n = 0;
    int rc = pb_conn_exec(c, "UPDATE work_plane.items SET deleted_at = $2 WHERE plane_id = $1 AND deleted_at IS NULL",
                          v, 2, &n, err);
    if (!rc && n == 0) rc = pb_error_set(err, PB_ENOTFOUND, "not found");
    return rc;
}

static const char *raw_sql(int visible_issue)
{
    return visible_issue ? "SELECT raw FROM work_plane.items WHERE plane_id = $1 AND project_id = $3 AND " VISIBLE_ISSUE
                               " AND $2 = 'issue'"
                         : "SELECT raw FROM work_plane.items WHERE plane_id = $1 AND item_type = $2 AND "
                           "project_id = $3 AND deleted_at IS NULL";
}

int pb_ps_item_raw(pb_conn *c, const char *type, const char *project_id, const char *id, int visible_issue,
                   char **raw, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id), PB_TEXT(type), PB_TEXT(project_id)};
    return pb_conn_query_text(c, raw_sql(visible_issue), v, 3, raw, err);
}

int pb_ps_item_raw_into(pb_conn *c, const char *type, const char *project_id, const char *id, int visible_issue,
                        pb_buf *b, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id), PB_TEXT(type), PB_TEXT(project_id)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, raw_sql(visible_issue), v, 3, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        rc = pb_buf_puts(b, pb_rows_text(r, 0));
        if (rc) rc = pb_error_set(err, rc, "response too large");
    } else if (s == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "not found");
    } else {
        rc = pb_error_set(err, PB_ESTORE, "row iteration failed");
    }
    pb_rows_free(r);
    return rc;
}

int pb_ps_item_find_name(pb_conn *c, const char *type, const char *project_id, const char *name,
                         const char *except_id, char out_id[40], pb_error *err)
{
    pb_val v[] = {PB_TEXT(type), PB_TEXT(project_id), PB_TEXT(name), PB_TEXT(except_id ? except_id : "")};
    return find_id(c,
                   "SELECT plane_id FROM work_plane.items WHERE item_type = $1 AND project_id = $2 AND name = $3 "
                   "AND deleted_at IS NULL AND plane_id <> $4 LIMIT 1",
                   v, 4, out_id, err);
}

int pb_ps_item_find_external(pb_conn *c, const char *type, const char *project_id, const char *source,
                             const char *ext_id, const char *except_id, char out_id[40], pb_error *err)
{
    pb_val v[] = {PB_TEXT(type), PB_TEXT(project_id), PB_TEXT(source), PB_TEXT(ext_id),
                  PB_TEXT(except_id ? except_id : "")};
    return find_id(c,
                   "SELECT plane_id FROM work_plane.items WHERE project_id = $2 AND item_type = $1 AND "
                   "external_source = $3 AND external_id = $4 AND deleted_at IS NULL AND plane_id <> $5 "
                   "ORDER BY created_at LIMIT 1",
                   v, 5, out_id, err);
}

/* A page of (plane_id, raw) rows of work_plane.items matching `where` (its parameters are the
 * first nwhere of v; LIMIT and OFFSET the next two), oldest first or newest first, with the
 * total of matching rows when total is non-NULL. */
static int item_page(pb_conn *c, const char *where, const pb_val *v, int nwhere, int desc, int64_t *total,
                     pb_ps_rawlist *out, pb_error *err)
{
    char sql[1024];
    if (total) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM work_plane.items WHERE %s", where);
        int rc = pb_conn_query_int(c, sql, v, nwhere, total, err);
        if (rc) return rc;
    }
    snprintf(sql, sizeof sql,
             "SELECT plane_id, raw FROM work_plane.items WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d", where, desc ? "created_at DESC, plane_id DESC" : "created_at, plane_id", nwhere + 1, nwhere + 2);
    return fill_rawlist(c, sql, v, nwhere + 2, out, err);
}

int pb_ps_item_list(pb_conn *c, const char *type, const char *project_id, int desc, int64_t limit, int64_t offset,
                    int64_t *total, pb_ps_rawlist *out, pb_error *err)
{
    if (limit < 0) limit = INT64_MAX; /* PostgreSQL refuses LIMIT -1 */
    pb_val v[] = {PB_TEXT(type), PB_TEXT(project_id), PB_INT(limit), PB_INT(offset)};
    return item_page(c, "project_id = $2 AND item_type = $1 AND deleted_at IS NULL", v, 2, desc, total, out,
                     err);
}

int pb_ps_item_list_parent(pb_conn *c, const char *type, const char *parent_id, int desc, int64_t limit,
                           int64_t offset, int64_t *total, pb_ps_rawlist *out, pb_error *err)
{
    if (limit < 0) limit = INT64_MAX;
    pb_val v[] = {PB_TEXT(type), PB_TEXT(parent_id), PB_INT(limit), PB_INT(offset)};
    return item_page(c, "parent_id = $2 AND item_type = $1 AND deleted_at IS NULL", v, 2, desc, total, out,
                     err);
}

/* ---------------------------------------------------------------- states */
int pb_ps_state_issue_count(pb_conn *c, const char *state_id, int64_t *n, pb_error *err)
{
    pb_val v[] = {PB_TEXT(state_id)};
    return pb_conn_query_int(c,
                             "SELECT COUNT(*) FROM work_plane.items WHERE state_id = $1 AND item_type = 'issue' AND "
                             "deleted_at IS NULL",
                             v, 1, n, err);
}

int pb_ps_state_default(pb_conn *c, const char *project_id, char id[40], char group[16], pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c,
                           "SELECT plane_id, state_group FROM work_plane.items WHERE project_id = $1 AND "
                           "item_type = 'state' AND is_default = 1 AND deleted_at IS NULL ORDER BY created_at LIMIT 1",
                           v, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        pb_strlcpy(id, pb_rows_text(r, 0), 40);
        pb_strlcpy(group, pb_rows_text(r, 1), 16);
    }
    pb_rows_free(r);
    if (s == 0) return pb_error_set(err, PB_ENOTFOUND, "no default state");
    return query_done(s, err);
}

int pb_ps_state_set_issue_group(pb_conn *c, const char *state_id, const char *group, pb_error *err)
{
    pb_val v[] = {PB_TEXT(state_id), PB_TEXT(group)};
    return pb_conn_exec(c, "UPDATE work_plane.items SET state_group = $2 WHERE state_id = $1 AND item_type = 'issue'",
                        v, 2, NULL, err);
}

/* ---------------------------------------------------------------- refs */
int pb_ps_refs_set(pb_conn *c, const char *item_id, const char *kind, const char (*ids)[37], size_t n, int64_t now,
                   pb_error *err)
{
    pb_val d[] = {PB_TEXT(item_id), PB_TEXT(kind)};
    int rc = pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE item_id = $1 AND kind = $2", d, 2, NULL, err);
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val v[] = {PB_TEXT(item_id), PB_TEXT(kind), PB_TEXT(ids[i]), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO work_plane.item_refs (item_id, kind, ref_id, created_at) VALUES ($1, $2, $3, $4)",
                          v, 4, NULL, err);
        if (rc == PB_ECONFLICT) rc = 0; /* duplicate in input: already there */
    }
    return rc;
}

int pb_ps_refs_items(pb_conn *c, const char *kind, const char *ref_id, pb_ps_rawlist *out, pb_error *err)
{
    pb_val v[] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    return fill_rawlist(c, "SELECT item_id FROM work_plane.item_refs WHERE kind = $1 AND ref_id = $2", v, 2, out, err);
}

int pb_ps_refs_delete_ref(pb_conn *c, const char *kind, const char *ref_id, pb_error *err)
{
    pb_val v[] = {PB_TEXT(kind), PB_TEXT(ref_id)};
    return pb_conn_exec(c, "DELETE FROM work_plane.item_refs WHERE kind = $1 AND ref_id = $2", v, 2, NULL, err);
}

/* ---------------------------------------------------------------- work items */
static const char *order_sql(pb_ps_order o, int desc)
{
    switch (o) {
    case PB_PS_ORDER_UPDATED: return desc ? "updated_at DESC, plane_id DESC" : "updated_at, plane_id";
    case PB_PS_ORDER_SEQUENCE: return desc ? "sequence_id DESC" : "sequence_id";
    case PB_PS_ORDER_PRIORITY:
        /* Plane: priority ascending = urgent first. */
        return desc ? "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 "
                      "ELSE 4 END DESC, created_at DESC, plane_id DESC"
                    : "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 "
                      "ELSE 4 END, created_at DESC, plane_id DESC";
    case PB_PS_ORDER_STATE_GROUP:
        return desc ? "CASE state_group WHEN 'backlog' THEN 0 WHEN 'unstarted' THEN 1 WHEN 'started' THEN 2 "
                      "WHEN 'completed' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END DESC, created_at DESC, plane_id DESC"
                    : "CASE state_group WHEN 'backlog' THEN 0 WHEN 'unstarted' THEN 1 WHEN 'started' THEN 2 "
                      "WHEN 'completed' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END, created_at DESC, plane_id DESC";
    case PB_PS_ORDER_NAME: return desc ? "name DESC, plane_id DESC" : "name, plane_id";
    case PB_PS_ORDER_SORT_ORDER: return desc ? "sort_order DESC, plane_id DESC" : "sort_order, plane_id";
    case PB_PS_ORDER_CREATED:
    default: return desc ? "created_at DESC, plane_id DESC" : "created_at, plane_id";
    }
}

int pb_ps_issue_page(pb_conn *c, const char *project_id, pb_ps_order order, int desc, const char *ref_kind,
                     const char *ref_id, int64_t limit, int64_t offset, pb_ps_rawlist *out, int64_t *total,
                     pb_error *err)
{
    char sql[1024];
    int rc;
    /* PostgreSQL plans prepared statements generically: "x IN (subquery)" becomes a hash semi
     * join over a sequential scan of every item; "= ANY(ARRAY(subquery))" keeps primary-key
     * lookups. SQLite has no arrays and plans IN (subquery) as key lookups already. */
    int pg = pb_db_backend(pb_conn_db(c)) == PB_DB_POSTGRES;
    const char *in_open = pg ? "= ANY(ARRAY(" : "IN (";
    const char *in_close = pg ? "))" : ")";
    if (ref_kind) {
        pb_val v[] = {PB_TEXT(project_id), PB_TEXT(ref_kind), PB_TEXT(ref_id), PB_INT(limit), PB_INT(offset)};
        if (total) {
            snprintf(sql, sizeof sql,
                     "SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND " VISIBLE_ISSUE
                     " AND plane_id %sSELECT item_id FROM work_plane.item_refs WHERE kind = $2 AND ref_id = $3%s",
                     in_open, in_close);
            rc = pb_conn_query_int(c, sql, v, 3, total, err);
            if (rc) return rc;
        }
        snprintf(sql, sizeof sql,
                 "SELECT plane_id, raw FROM work_plane.items WHERE project_id = $1 AND " VISIBLE_ISSUE
                 " AND plane_id %sSELECT item_id FROM work_plane.item_refs WHERE kind = $2 AND ref_id = $3%s "
                 "ORDER BY %s LIMIT $4 OFFSET $5",
                 in_open, in_close, order_sql(order, desc));
        return fill_rawlist(c, sql, v, 5, out, err);
    }
    pb_val v[] = {PB_TEXT(project_id), PB_INT(limit), PB_INT(offset)};
    if (pg && offset >= 1000 && (order == PB_PS_ORDER_CREATED || order == PB_PS_ORDER_UPDATED)) {
        /* Deferred join (PostgreSQL, deep pages): the offset is walked in the partial index
         * (index-only), and only the page's rows are fetched; a plain index scan visits the
         * heap for every skipped row (2.4x faster at random depths in pgbench, 20% slower on
         * the first pages, hence the threshold). SQLite already defers the row seek past
         * OFFSET, and the join only adds a second b-tree search per row there. */
        snprintf(sql, sizeof sql,
                 "SELECT plane_id, raw FROM work_plane.items WHERE plane_id %sSELECT plane_id FROM "
                 "work_plane.items WHERE project_id = $1 AND " VISIBLE_ISSUE " ORDER BY %s LIMIT $2 OFFSET $3%s "
                 "ORDER BY %s",
                 in_open, order_sql(order, desc), in_close, order_sql(order, desc));
    } else {
        snprintf(sql, sizeof sql,
                 "SELECT plane_id, raw FROM work_plane.items WHERE project_id = $1 AND " VISIBLE_ISSUE
                 " ORDER BY %s LIMIT $2 OFFSET $3",
                 order_sql(order, desc));
    }
    return fill_rawlist(c, sql, v, 3, out, err);
}

int pb_ps_issue_archived_page(pb_conn *c, const char *project_id, int64_t limit, int64_t offset, pb_ps_rawlist *out,
                              int64_t *total, pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id), PB_INT(limit), PB_INT(offset)};
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND item_type = 'issue' AND "
                               "deleted_at IS NULL AND archived_at IS NOT NULL",
                               v, 1, total, err);
    if (rc) return rc;
    return fill_rawlist(c,
                        "SELECT plane_id, raw FROM work_plane.items WHERE project_id = $1 AND item_type = 'issue' AND "
                        "deleted_at IS NULL AND archived_at IS NOT NULL ORDER BY archived_at DESC, created_at DESC, "
                        "plane_id DESC LIMIT $2 OFFSET $3",
                        v, 3, out, err);
}

int pb_ps_issue_by_seq(pb_conn *c, const char *project_id, int64_t seq, char **raw, pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id), PB_INT(seq)};
    return pb_conn_query_text(c,
                              "SELECT raw FROM work_plane.items WHERE project_id = $1 AND sequence_id = $2 AND "
                              VISIBLE_ISSUE,
                              v, 2, raw, err);
}

int pb_ps_issue_by_external(pb_conn *c, const char *project_id, const char *source, const char *ext_id, char **raw,
                            pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id), PB_TEXT(source), PB_TEXT(ext_id)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c,
                           "SELECT raw FROM work_plane.items WHERE project_id = $1 AND item_type = 'issue' AND "
                           "external_source = $2 AND external_id = $3 AND deleted_at IS NULL LIMIT 2",
                           v, 3, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        *raw = strdup(pb_rows_text(r, 0));
        int s2 = pb_rows_next(r);
        if (s2 == 1) {
            free(*raw);
            *raw = NULL;
            rc = pb_error_set(err, PB_ECONFLICT, "several work items share this external id");
        } else if (!*raw) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        }
    } else if (s == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "not found");
    } else {
        rc = pb_error_set(err, PB_ESTORE, "row iteration failed");
    }
    pb_rows_free(r);
    return rc;
}

int pb_ps_issue_exists(pb_conn *c, const char *project_id, const char *issue_id, int visible_only, pb_error *err)
{
    pb_val v[] = {PB_TEXT(issue_id), PB_TEXT(project_id)};
    int64_t n = 0;
    int rc = pb_conn_query_int(c,
                               visible_only
                                   ? "SELECT COUNT(*) FROM work_plane.items WHERE plane_id = $1 AND project_id = $2 AND "
                                     VISIBLE_ISSUE
                                   : "SELECT COUNT(*) FROM work_plane.items WHERE plane_id = $1 AND project_id = $2 AND "
                                     "item_type = 'issue' AND deleted_at IS NULL",
                               v, 2, &n, err);
    if (rc) return rc;
    return n ? 0 : pb_error_set(err, PB_ENOTFOUND, "work item not found");
}

static int filter_ids(pb_conn *c, const char *sql, const char *project_id, char (*ids)[37], size_t *n, pb_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        pb_val v[] = {PB_TEXT(project_id), PB_TEXT(ids[i])};
        int64_t cnt = 0;
        int rc = pb_conn_query_int(c, sql, v, 2, &cnt, err);
        if (rc) return rc;
        if (cnt) {
            if (k != i) memcpy(ids[k], ids[i], 37);
            k++;
        }
    }
    *n = k;
    return 0;
}

int pb_ps_filter_members(pb_conn *c, const char *project_id, char (*ids)[37], size_t *n, pb_error *err)
{
    return filter_ids(c,
                      "SELECT COUNT(*) FROM work_plane.items WHERE item_type = 'project_member' AND project_id = $1 "
                      "AND member_id = $2 AND is_active = 1 AND role >= 15",
                      project_id, ids, n, err);
}

int pb_ps_filter_labels(pb_conn *c, const char *project_id, char (*ids)[37], size_t *n, pb_error *err)
{
    return filter_ids(c,
                      "SELECT COUNT(*) FROM work_plane.items WHERE item_type = 'label' AND project_id = $1 "
                      "AND plane_id = $2 AND deleted_at IS NULL",
                      project_id, ids, n, err);
}

/* ---------------------------------------------------------------- members, users */
int pb_ps_member_get(pb_conn *c, const char *project_id, const char *user_id, pb_ps_item *out, pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id), PB_TEXT(user_id)};
    return item_one(c,
                    "SELECT " ITEM_COLS " FROM work_plane.items WHERE item_type = 'project_member' AND "
                    "project_id = $1 AND member_id = $2",
                    v, 2, out, err);
}

static int user_fill(pb_rows *r, void *rec)
{
    pb_ps_user *u = rec;
    memset(u, 0, sizeof *u);
    pb_strlcpy(u->id, pb_rows_text(r, 0), sizeof u->id);
    pb_strlcpy(u->email, pb_rows_text(r, 1), sizeof u->email);
    pb_strlcpy(u->first_name, pb_rows_text(r, 2), sizeof u->first_name);
    pb_strlcpy(u->last_name, pb_rows_text(r, 3), sizeof u->last_name);
    pb_strlcpy(u->display_name, pb_rows_text(r, 4), sizeof u->display_name);
    return 0;
}

int pb_ps_user_get(pb_conn *c, const char *id, pb_ps_user *out, pb_error *err)
{
    pb_val v[] = {PB_TEXT(id)};
    return query_one(c, "SELECT id, email, first_name, last_name, display_name FROM ops.users WHERE id = $1", v,
                     1, user_fill, out, "user not found", err);
}

int pb_ps_ws_role(pb_conn *c, const char *slug, const char *user_id, int *role, pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug), PB_TEXT(user_id)};
    int64_t r = 0;
    int rc = pb_conn_query_int(c, "SELECT role FROM ops.workspace_members WHERE workspace_slug = $1 AND user_id = $2", v,
                               2, &r, err);
    if (!rc) *role = (int)r;
    return rc;
}

static int user_lite_row(pb_buf *b, pb_rows *r)
{
    /* columns: id, email, first_name, last_name, display_name */
    int rc = pb_buf_puts(b, "{\"id\":");
    rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 0));
    rc = rc ? rc : pb_buf_puts(b, ",\"first_name\":");
    rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 2));
    rc = rc ? rc : pb_buf_puts(b, ",\"last_name\":");
    rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 3));
    rc = rc ? rc : pb_buf_puts(b, ",\"email\":");
    rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 1));
    rc = rc ? rc : pb_buf_puts(b, ",\"avatar\":\"\",\"avatar_url\":null,\"display_name\":");
    rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 4));
    rc = rc ? rc : pb_buf_putc(b, '}');
    return rc;
}

int pb_ps_project_member_users(pb_conn *c, const char *project_id, pb_buf *b, pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c,
                           "SELECT u.id, u.email, u.first_name, u.last_name, u.display_name FROM work_plane.items m "
                           "JOIN ops.users u ON u.id = m.member_id WHERE m.item_type = 'project_member' AND "
                           "m.project_id = $1 ORDER BY m.created_at, u.id",
                           v, 1, &r, err);
    if (rc) return rc;
    rc = pb_buf_putc(b, '[');
    int s, first = 1;
    while (!rc && (s = pb_rows_next(r)) == 1) {
        if (!first) rc = pb_buf_putc(b, ',');
        first = 0;
        if (!rc) rc = user_lite_row(b, r);
    }
    if (!rc) rc = pb_buf_putc(b, ']');
    pb_rows_free(r);
    if (rc) return pb_error_set(err, rc, "response too large");
    return 0;
}

/* ---------------------------------------------------------------- outbox */
int pb_ps_outbox_insert(pb_conn *c, const char *event_id, const char *type, const char *slug, const char *project_id,
                        const char *object_id, int64_t at, const char *payload, pb_error *err)
{
    pb_val v[] = {PB_TEXT(event_id), PB_TEXT(type), PB_TEXT(slug), TXT(project_id), TXT(object_id), PB_INT(at),
                  PB_TEXT(payload)};
    return pb_conn_exec(c,
                        "INSERT INTO ops.outbox (event_id, type, workspace_slug, project_id, object_id, occurred_at, "
                        "payload) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        v, 7, NULL, err);
}

int pb_ps_outbox_count(pb_conn *c, const char *type, const char *object_id, int64_t *n, pb_error *err)
{
    pb_val v[] = {PB_TEXT(type), PB_TEXT(object_id)};
    return pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.outbox WHERE type = $1 AND object_id = $2", v, 2, n, err);
}

int pb_ps_project_counts(pb_conn *c, const char *project_id, const char *user_id, int64_t *members, int64_t *cycles,
                         int64_t *modules, int *my_role, pb_error *err)
{
    pb_val v[] = {PB_TEXT(project_id), PB_TEXT(user_id ? user_id : "")};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c,
                           "SELECT "
                           "(SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND item_type = "
                           "'project_member' AND is_active = 1), "
                           "(SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND item_type = 'cycle' AND "
                           "deleted_at IS NULL), "
                           "(SELECT COUNT(*) FROM work_plane.items WHERE project_id = $1 AND item_type = 'module' AND "
                           "deleted_at IS NULL), "
                           "(SELECT MAX(role) FROM work_plane.items WHERE project_id = $1 AND item_type = "
                           "'project_member' AND member_id = $2 AND is_active = 1)",
                           v, 2, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        *members = pb_rows_int(r, 0);
        *cycles = pb_rows_int(r, 1);
        *modules = pb_rows_int(r, 2);
        *my_role = pb_rows_isnull(r, 3) ? 0 : (int)pb_rows_int(r, 3);
    }
    pb_rows_free(r);
    return query_done(s, err);
}

int pb_ps_workspace_lite(pb_conn *c, const char *slug, pb_buf *b, pb_error *err)
{
    pb_val v[] = {PB_TEXT(slug)};
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, "SELECT id, name, workspace_slug FROM work_plane.installations WHERE workspace_slug = $1",
                           v, 1, &r, err);
    if (rc) return rc;
    int s = pb_rows_next(r);
    if (s == 1) {
        rc = pb_buf_puts(b, "{\"id\":");
        rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 0));
        rc = rc ? rc : pb_buf_puts(b, ",\"name\":");
        rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 1));
        rc = rc ? rc : pb_buf_puts(b, ",\"slug\":");
        rc = rc ? rc : pb_buf_json_str(b, pb_rows_text(r, 2));
        rc = rc ? rc : pb_buf_putc(b, '}');
        if (rc) rc = pb_error_set(err, rc, "response too large");
    } else if (s == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "workspace not found");
    } else {
        rc = pb_error_set(err, PB_ESTORE, "row iteration failed");
    }
    pb_rows_free(r);
    return rc;
}

int pb_ps_activity_list(pb_conn *c, const char *issue_id, int desc, int64_t limit, int64_t offset, int64_t *total,
                        pb_ps_rawlist *out, pb_error *err)
{
    pb_val v[] = {PB_TEXT(issue_id), PB_INT(limit), PB_INT(offset)};
    return item_page(c,
                     "parent_id = $1 AND item_type = 'activity' AND deleted_at IS NULL AND (name IS NULL OR "
                     "name <> 'comment')",
                     v, 1, desc, total, out, err);
}
