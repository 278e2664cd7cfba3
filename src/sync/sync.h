/* sync: mirrors a connected upstream Plane workspace into work_plane.* (issue 6).
 *
 * One run of pb_sync_workspace():
 *   1. workspace members -> ops.users / ops.workspace_members (same ids as upstream);
 *   2. projects (full listing; a project missing upstream is re-read and, on 404, marked
 *      deleted with a project.deleted event);
 *   3. per project, full listings of states, labels, project members, cycles, modules and
 *      intake (rows missing from a complete listing are marked deleted: reconciliation);
 *   4. work items: the first run is a backfill (order_by=-updated_at, per_page constant,
 *      pages fetched concurrently, the next batch fetched by a helper thread while the current
 *      one is written, every page committed together with the page cursor in
 *      work_plane.events_cursor, so a killed run resumes at the first uncommitted page);
 *      later runs walk order_by=-updated_at down to the stored watermark (inclusive, dedup by
 *      id) and commit the new watermark in the transaction of the last page;
 *   5. children of the work items (comments, links, relations, activities): every issue in
 *      a backfill (resumable by position), the changed ones in an incremental run;
 *   6. cycle and module membership (full listings);
 *   7. issue reconciliation (full id listing; missing ids re-read, 404 -> deleted_at + an
 *      issue.deleted event) when asked or when the last one is older than reconcile_s.
 * Upserts never move a row backwards (sync_store.h). Events (created/updated with
 * previous_attributes, assigned/started/completed, deleted/archived) are written to
 * ops.outbox in the transaction of the change, except during a workspace's first backfill.
 * Timestamps are normalised to UTC (upstream may answer in the key owner's time zone). */
#ifndef PB_SYNC_SYNC_H
#define PB_SYNC_SYNC_H

#include "core/err.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdint.h>

struct pb_vault;
struct pb_up;

#define PB_SYNC_KEY_PURPOSE "plane_api_key"

typedef struct pb_sync_progress {
    const char *workspace;
    const char *phase;    /* "members", "projects", "issues", "children", "memberships", "reconcile", "done" */
    int64_t items;        /* rows received this run */
    int64_t written;      /* rows changed in the mirror */
    int64_t total_estimate; /* rows expected (grows as totals become known), 0 unknown */
    int64_t requests, throttled, retries;
    int budget_remaining, budget_limit; /* -1 unknown */
    double elapsed_s;
} pb_sync_progress;

typedef void (*pb_sync_progress_fn)(void *ctx, const pb_sync_progress *p);

typedef struct pb_sync_opts {
    pb_db *db;
    struct pb_vault *vault;
    const char *slug;
    int full;           /* forget cursors: backfill again, then reconcile */
    int reconcile;      /* force the issue reconciliation */
    int no_children;    /* skip comments/links/relations/activities */
    int per_page;       /* 1..100, 0 = 100 */
    int parallel;       /* concurrent requests, 0 = 8 */
    int64_t reconcile_s; /* 0 = 3600 */
    volatile int *stop;
    pb_sync_progress_fn progress;
    void *progress_ctx;
} pb_sync_opts;

typedef struct pb_sync_report {
    int64_t items, written, deleted, events;
    int64_t requests, throttled, retries;
    double seconds;
    double store_seconds; /* time spent applying work-item pages to the store (mirror side) */
} pb_sync_report;

/* Vault name of a workspace's upstream API key ("plane_api_key:SLUG"). */
void pb_sync_key_name(const char *slug, char *out, size_t outlen);
/* Stores the key in the vault and maps it in tokens_ref, and records the installation. */
int pb_sync_connect(pb_db *db, struct pb_vault *vault, const char *slug, const char *upstream_url,
                    const char *api_key, char space_id[64], pb_error *err);
/* Opens the upstream client of a connected workspace (key from the vault). */
int pb_sync_open_upstream(pb_db *db, struct pb_vault *vault, const char *slug, struct pb_up **out, pb_error *err);

int pb_sync_workspace(const pb_sync_opts *o, pb_sync_report *rep, pb_error *err);

/* Rewrites every ISO datetime string inside o (recursively) to UTC ("...Z", microseconds). */
void pb_sync_normalize(cJSON *o);
/* Canonical JSON (object keys sorted, compact) of a row after normalisation; malloc'd. */
char *pb_sync_canonical(const cJSON *o);

/* ---- refetch (the ingest worker's hook for partial or stale webhook hints) ---- */
typedef struct pb_sync_refetch_result {
    int unknown; /* not in the mirror yet (project/issue unknown): nothing fetched */
    int fetched; /* one GET went upstream */
    int written, deleted, events;
} pb_sync_refetch_result;
/* Re-reads one object (object_type: the webhook event name "issue", "project",
 * "issue_comment", "cycle", "module") of connected workspace slug with one GET through the
 * key's shared rate governor, and upserts it through sync's mirror path in one transaction
 * (events as a sync run writes them; never moving a row backwards; 404 marks it deleted).
 * The project (and a comment's issue) is taken from the mirror row: an object not mirrored yet
 * is skipped (out->unknown) and left to the next sync run. stop (may be NULL) aborts a wait
 * for the budget. */
int pb_sync_refetch(pb_db *db, struct pb_vault *vault, const char *slug, const char *object_type,
                    const char *object_id, volatile int *stop, pb_sync_refetch_result *out, pb_error *err);

/* ---- verify (verify.c) ---- */
typedef struct pb_verify_report {
    int64_t compared; /* rows compared */
    int64_t matched;
    int64_t missing;  /* upstream rows absent (or different) in the mirror */
    int64_t extra;    /* live mirror rows absent upstream */
    double accuracy;  /* matched / max(compared, 1) * 100 */
    int64_t requests;
} pb_verify_report;
/* Compares upstream and mirror resource by resource (counts and a hash of each row's kept
 * fields). Every differing id is passed to diff_fn (may be NULL) as "resource id reason". */
typedef void (*pb_verify_diff_fn)(void *ctx, const char *resource, const char *id, const char *reason);
int pb_sync_verify(pb_db *db, struct pb_vault *vault, const char *slug, int shallow, volatile int *stop,
                   pb_verify_diff_fn diff_fn, void *ctx, pb_verify_report *rep, pb_error *err);

#endif
