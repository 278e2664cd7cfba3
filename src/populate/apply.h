/* apply: plan and apply a populate spec (template.h describes its shape) to a target.
 *
 * Idempotent and request-thrifty:
 *   - the project is found by (external_source, external_id) among the workspace's projects
 *     (one GET), else created; states and labels by name, cycles and modules by external id
 *     then name (one GET each, skipped for a project created in this run);
 *   - work items are found by external id: from ops.populate_objects (what this store last
 *     applied: plane id + hash of the desired document) and, only when some item has no
 *     record, one listing of the project's items (per_page=1000). A POST answered 409 adopts
 *     the existing id (Plane's duplicate answer) and continues as an update;
 *   - an item whose desired document hash equals the recorded one costs nothing (no read, no
 *     write): edits made in Plane survive a re-apply of an unchanged template (and an item
 *     deleted in Plane is not recreated unless refresh is set); an item whose
 *     document changed is compared with the live object and PATCHed with only the fields
 *     that differ;
 *   - cycle and module memberships are sent as one POST per cycle/module, relations as one
 *     POST per (item, type), each only when their recorded hash differs;
 *   - parents are created before children (topological order; a cycle is an error).
 * Progress lives in ops.populate_runs: an interrupted run (crash, kill -9) is picked up by
 * the next apply of the same name/instance (report "resumed": true), which skips what is
 * done through the records and listings above.
 * Every write goes through the target (writeback gate + audit row). A refused gate stops
 * the run with PB_EFORBIDDEN before anything is written. */
#ifndef PB_POPULATE_APPLY_H
#define PB_POPULATE_APPLY_H

#include "core/err.h"
#include "populate/target.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef void (*pb_pop_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef struct pb_pop_opts {
    int dry_run;              /* plan: read only, report what would change */
    const char *kind;         /* "apply" | "import" (run bookkeeping), default "apply" */
    const char *name;         /* template or file name, default spec.template */
    const char *project_id;   /* use this existing project (imports); the spec's project is ignored */
    pb_pop_progress_fn progress;
    void *progress_ctx;
    int64_t exit_after_writes; /* tests: _exit(137) after this many writes (a simulated kill -9); 0 = off */
    int refresh;               /* ignore the work items' records: list and compare every item with the live one */
    int64_t stop_after_writes; /* tests: fail with PB_ESTATE before write N+1 (an interruption); 0 = off */
} pb_pop_opts;

/* Runs the spec. *report (caller frees) gets:
 *   {"target","workspace","project_id","dry_run","resumed","run_id","created","updated",
 *    "unchanged","failed","requests":{"reads","writes","total","throttled","retries"},
 *    "objects":[{"kind","external_id"|"name","action":"create|update|unchanged|failed",
 *                "fields":[..],"error"}]}
 * Returns 0 when the run completed (individual objects may still have failed: see
 * "failed"), PB_EFORBIDDEN when the gate refused, other codes when it could not go on (the
 * report is filled as far as it got, when *report is non-NULL). */
int pb_pop_apply(pb_pop_target *t, pb_db *db, const cJSON *spec, const pb_pop_opts *o, cJSON **report,
                 pb_error *err);

/* The "today" (YYYY-MM-DD) the first apply of this template instance used on this target, so
 * callers can expand the template with it again: relative dates then stay where they were.
 * PB_ENOTFOUND before the first apply. */
int pb_pop_pinned_today(pb_db *db, pb_pop_target *t, const char *template_name, const char *instance, char out[11]);

#endif
