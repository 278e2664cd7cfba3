/* populate_store: the SQL of src/populate — workspace writeback policy (work_plane.installations),
 * audit rows (ops.run_events), populate run progress (ops.populate_runs) and the per-object
 * record of what populate last applied (ops.populate_objects). Schema: migration 0008_populate.
 *
 * Contract: every function takes a pb_db and acquires/releases a connection itself. Strings
 * are borrowed; fixed-size outputs are filled NUL-terminated. Missing rows: PB_ENOTFOUND. */
#ifndef PB_STORE_POPULATE_STORE_H
#define PB_STORE_POPULATE_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

/* --- writeback policy: "disabled" | "explicit" | "enabled" --- */
/* PB_ENOTFOUND when the workspace has no installation row. out >= 16 bytes. */
int pb_ps_policy_get(pb_db *db, const char *slug, char *out, size_t outlen, pb_error *err);
/* PB_EINVAL for an unknown policy, PB_ENOTFOUND for an unknown workspace. */
int pb_ps_policy_set(pb_db *db, const char *slug, const char *policy, pb_error *err);

/* --- audit: one ops.run_events row --- */
typedef struct pb_ps_audit_row {
    const char *source;    /* "populate.apply", "populate.import", "github", ... */
    const char *workspace; /* slug */
    const char *action;    /* "POST projects/{id}/work-items/", "gate.refused", ... */
    const char *target;    /* "local" or the upstream URL */
    int upstream_status;   /* HTTP status, 0 = none (refused before sending) */
    const char *actor;     /* operator/user, may be NULL */
    const char *detail;    /* JSON text or NULL */
} pb_ps_audit_row;
int pb_ps_audit(pb_db *db, const pb_ps_audit_row *r, pb_error *err);
/* Rows of a workspace whose source starts with source_prefix (NULL = all); *refused gets those
 * with upstream_status 0 (optional). For tests and reports. */
int pb_ps_audit_count(pb_db *db, const char *slug, const char *source_prefix, int64_t *count, int64_t *refused,
                      pb_error *err);

/* --- runs --- */
typedef struct pb_ps_run {
    char id[40];
    char workspace[130];
    char target[512];
    char kind[16];  /* "apply" | "import" */
    char name[256]; /* template or file name */
    char instance[256];
    char status[16];
    int64_t total, done, created, updated, unchanged, failed, requests;
    int64_t started_at, updated_at, finished_at;
} pb_ps_run;
/* Starts a run, or resumes the newest 'running' run with the same workspace, target, kind,
 * name and instance (*resumed = 1; its counters are kept in *run). run->id is filled. */
int pb_ps_run_begin(pb_db *db, pb_ps_run *run, int *resumed, pb_error *err);
/* Persists counters (and status/finished_at when status is not "running"). */
int pb_ps_run_save(pb_db *db, const pb_ps_run *run, pb_error *err);
int pb_ps_run_get(pb_db *db, const char *id, pb_ps_run *out, pb_error *err);

/* --- applied objects ---
 * Also holds, per template instance, the "today" its first apply used (kind "today:<template>",
 * external id = instance, plane_id = YYYY-MM-DD), so relative dates do not drift later. */
int pb_ps_obj_get(pb_db *db, const char *slug, const char *target, const char *kind, const char *xsrc,
                  const char *xid, char plane_id[64], char hash[80], pb_error *err);
int pb_ps_obj_put(pb_db *db, const char *slug, const char *target, const char *kind, const char *xsrc,
                  const char *xid, const char *plane_id, const char *hash, pb_error *err);

#endif
