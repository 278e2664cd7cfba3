/* populate_store: SQL of src/populate. See populate_store.h. */
#include "store/populate_store.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int acquire(pb_db *db, pb_conn **c, pb_error *err)
{
    if (!db) return pb_error_set(err, PB_EINVAL, "no store");
    return pb_db_acquire(db, c, err);
}

int pb_ps_policy_get(pb_db *db, const char *slug, char *out, size_t outlen, pb_error *err)
{
    pb_conn *c = NULL;
    char *s = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(slug)};
    rc = pb_conn_query_text(c, "SELECT writeback_policy FROM work_plane.installations WHERE workspace_slug = $1", p,
                            1, &s, err);
    if (rc == PB_ENOTFOUND) pb_error_set(err, PB_ENOTFOUND, "unknown workspace '%s'", slug);
    if (!rc) pb_strlcpy(out, s, outlen);
    free(s);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_policy_set(pb_db *db, const char *slug, const char *policy, pb_error *err)
{
    if (!policy || (strcmp(policy, "disabled") && strcmp(policy, "explicit") && strcmp(policy, "enabled")))
        return pb_error_field(err, PB_EINVAL, "writeback_policy", "policy must be disabled, explicit or enabled");
    pb_conn *c = NULL;
    int64_t n = 0;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(policy), PB_INT(pb_now_us()), PB_TEXT(slug)};
    rc = pb_conn_exec(c,
                      "UPDATE work_plane.installations SET writeback_policy = $1, updated_at = $2 "
                      "WHERE workspace_slug = $3",
                      p, 3, &n, err);
    if (!rc && n == 0) rc = pb_error_set(err, PB_ENOTFOUND, "unknown workspace '%s'", slug);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_audit(pb_db *db, const pb_ps_audit_row *r, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_INT(pb_now_us()),  PB_TEXT(r->source), PB_TEXT(r->workspace),
                  PB_TEXT(r->action),   PB_TEXT(r->target), r->upstream_status ? PB_INT(r->upstream_status) : PB_NULL,
                  PB_TEXT(r->actor),    PB_TEXT(r->detail)};
    rc = pb_conn_exec(c,
                      "INSERT INTO ops.run_events (at, source, workspace_slug, action, target, upstream_status, "
                      "actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      p, 8, NULL, err);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_audit_count(pb_db *db, const char *slug, const char *source_prefix, int64_t *count, int64_t *refused,
                      pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *rows = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    char like[256];
    snprintf(like, sizeof like, "%s%%", source_prefix ? source_prefix : "");
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(like)};
    rc = pb_conn_query(c,
                       "SELECT COUNT(*), COALESCE(SUM(CASE WHEN upstream_status IS NULL THEN 1 ELSE 0 END), 0) "
                       "FROM ops.run_events WHERE workspace_slug = $1 AND source LIKE $2",
                       p, 2, &rows, err);
    if (!rc) {
        int r = pb_rows_next(rows);
        if (r == 1) {
            if (count) *count = pb_rows_int(rows, 0);
            if (refused) *refused = pb_rows_int(rows, 1);
        } else {
            rc = pb_error_set(err, PB_ESTORE, "count failed");
        }
    }
    pb_rows_free(rows);
    pb_db_release(db, c);
    return rc;
}

#define RUN_COLS                                                                                                  \
    "id, workspace_slug, target, kind, name, instance, status, total, done, created, updated, unchanged, failed, " \
    "requests, started_at, updated_at, COALESCE(finished_at, 0)"

static void run_from_rows(pb_rows *r, pb_ps_run *o)
{
    memset(o, 0, sizeof *o);
    pb_strlcpy(o->id, pb_rows_text(r, 0), sizeof o->id);
    pb_strlcpy(o->workspace, pb_rows_text(r, 1), sizeof o->workspace);
    pb_strlcpy(o->target, pb_rows_text(r, 2), sizeof o->target);
    pb_strlcpy(o->kind, pb_rows_text(r, 3), sizeof o->kind);
    pb_strlcpy(o->name, pb_rows_text(r, 4), sizeof o->name);
    pb_strlcpy(o->instance, pb_rows_text(r, 5), sizeof o->instance);
    pb_strlcpy(o->status, pb_rows_text(r, 6), sizeof o->status);
    o->total = pb_rows_int(r, 7);
    o->done = pb_rows_int(r, 8);
    o->created = pb_rows_int(r, 9);
    o->updated = pb_rows_int(r, 10);
    o->unchanged = pb_rows_int(r, 11);
    o->failed = pb_rows_int(r, 12);
    o->requests = pb_rows_int(r, 13);
    o->started_at = pb_rows_int(r, 14);
    o->updated_at = pb_rows_int(r, 15);
    o->finished_at = pb_rows_int(r, 16);
}

int pb_ps_run_begin(pb_db *db, pb_ps_run *run, int *resumed, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *rows = NULL;
    *resumed = 0;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    rc = pb_conn_begin_write(c, err);
    if (rc) goto out;
    pb_val k[] = {PB_TEXT(run->workspace), PB_TEXT(run->target), PB_TEXT(run->kind), PB_TEXT(run->name),
                  PB_TEXT(run->instance)};
    rc = pb_conn_query(c,
                       "SELECT " RUN_COLS " FROM ops.populate_runs WHERE workspace_slug = $1 AND target = $2 "
                       "AND kind = $3 AND name = $4 AND instance = $5 AND status = 'running' "
                       "ORDER BY started_at DESC LIMIT 1",
                       k, 5, &rows, err);
    if (rc) goto out;
    int r = pb_rows_next(rows);
    if (r < 0) {
        rc = pb_error_set(err, PB_ESTORE, "cannot read populate runs");
        goto out;
    }
    if (r == 1) {
        run_from_rows(rows, run);
        *resumed = 1;
    } else {
        int64_t now = pb_now_us();
        pb_uuid4(run->id);
        pb_strlcpy(run->status, "running", sizeof run->status);
        run->started_at = run->updated_at = now;
        pb_val p[] = {PB_TEXT(run->id),   PB_TEXT(run->workspace), PB_TEXT(run->target), PB_TEXT(run->kind),
                      PB_TEXT(run->name), PB_TEXT(run->instance),  PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO ops.populate_runs (id, workspace_slug, target, kind, name, instance, status, "
                          "started_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $7)",
                          p, 7, NULL, err);
        if (rc) goto out;
    }
    pb_rows_free(rows);
    rows = NULL;
    rc = pb_conn_commit(c, err);
out:
    pb_rows_free(rows);
    if (rc) pb_conn_rollback(c);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_run_save(pb_db *db, const pb_ps_run *run, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    int64_t now = pb_now_us();
    int fin = strcmp(run->status, "running") != 0;
    pb_val p[] = {PB_TEXT(run->id),       PB_TEXT(run->status),    PB_INT(run->total),   PB_INT(run->done),
                  PB_INT(run->created),   PB_INT(run->updated),    PB_INT(run->unchanged), PB_INT(run->failed),
                  PB_INT(run->requests),  PB_INT(now),             fin ? PB_INT(now) : PB_NULL};
    rc = pb_conn_exec(c,
                      "UPDATE ops.populate_runs SET status = $2, total = $3, done = $4, created = $5, updated = $6, "
                      "unchanged = $7, failed = $8, requests = $9, updated_at = $10, finished_at = $11 WHERE id = $1",
                      p, 11, NULL, err);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_run_get(pb_db *db, const char *id, pb_ps_run *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *rows = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(id)};
    rc = pb_conn_query(c, "SELECT " RUN_COLS " FROM ops.populate_runs WHERE id = $1", p, 1, &rows, err);
    if (!rc) {
        int r = pb_rows_next(rows);
        if (r == 1) run_from_rows(rows, out);
        else rc = pb_error_set(err, r == 0 ? PB_ENOTFOUND : PB_ESTORE, "populate run not found");
    }
    pb_rows_free(rows);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_obj_get(pb_db *db, const char *slug, const char *target, const char *kind, const char *xsrc,
                  const char *xid, char plane_id[64], char hash[80], pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *rows = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(target), PB_TEXT(kind), PB_TEXT(xsrc), PB_TEXT(xid)};
    rc = pb_conn_query(c,
                       "SELECT plane_id, applied_hash FROM ops.populate_objects WHERE workspace_slug = $1 AND "
                       "target = $2 AND kind = $3 AND external_source = $4 AND external_id = $5",
                       p, 5, &rows, err);
    if (!rc) {
        int r = pb_rows_next(rows);
        if (r == 1) {
            pb_strlcpy(plane_id, pb_rows_text(rows, 0), 64);
            pb_strlcpy(hash, pb_rows_text(rows, 1), 80);
        } else {
            rc = r == 0 ? PB_ENOTFOUND : pb_error_set(err, PB_ESTORE, "cannot read populate objects");
        }
    }
    pb_rows_free(rows);
    pb_db_release(db, c);
    return rc;
}

int pb_ps_obj_put(pb_db *db, const char *slug, const char *target, const char *kind, const char *xsrc,
                  const char *xid, const char *plane_id, const char *hash, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = acquire(db, &c, err);
    if (rc) return rc;
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(target), PB_TEXT(kind),  PB_TEXT(xsrc),
                  PB_TEXT(xid),  PB_TEXT(plane_id), PB_TEXT(hash), PB_INT(pb_now_us())};
    rc = pb_conn_exec(c,
                      "INSERT INTO ops.populate_objects (workspace_slug, target, kind, external_source, external_id, "
                      "plane_id, applied_hash, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                      "ON CONFLICT (workspace_slug, target, kind, external_source, external_id) DO UPDATE SET "
                      "plane_id = excluded.plane_id, applied_hash = excluded.applied_hash, "
                      "updated_at = excluded.updated_at",
                      p, 8, NULL, err);
    pb_db_release(db, c);
    return rc;
}
