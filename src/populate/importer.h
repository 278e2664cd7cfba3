/* importer: CSV / Jira imports and the JSON export/import of a whole project, all as populate
 * specs (template.h) applied by apply.h into an existing project (imports) or a new one
 * (project JSON).
 *
 * Row reports: every importer that reads rows returns *rows, a JSON array of
 * {"line": N (CSV line / JSON index+1), "key": id when known, "error": reason} for the rows it
 * skipped (missing name/summary, bad priority/date/state group, duplicate keys, malformed
 * CSV records) and {"line","key","warning"} for rows imported with something left out
 * (unknown parent, unparseable due date...). The spec holds only the good rows.
 *
 * Jira extras: status categories map to state groups (a state named like the status wins),
 * the issue type becomes a label, comments (JSON comment.comments, CSV "Comment" columns)
 * become work-item comments with external ids, Created/Reporter become created_at/created_by
 * on create.
 *
 * External ids: Plane CSV — the external_id column, else "csv:<slug of name>" (a repeated
 * name gets "-2", "-3"...), external_source "csv"; Jira — the issue key, external_source
 * "jira". Re-importing the same file updates and never duplicates. */
#ifndef PB_POPULATE_IMPORTER_H
#define PB_POPULATE_IMPORTER_H

#include "core/err.h"
#include "populate/target.h"

#include <cjson/cJSON.h>
#include <stddef.h>

int pb_import_plane_csv(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err);
int pb_import_jira_csv(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err);
int pb_import_jira_json(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err);
/* A file written by pb_export_project -> a spec that creates the project. */
int pb_import_project_json(const char *text, size_t len, cJSON **spec, pb_error *err);

/* Reads the project through the target (GETs only) into a deterministic, id-free document:
 * {"format":"planebridge.project/1", "external_source":"planebridge", "template":"export",
 *  "instance", "project":{...}, "members", "states", "labels", "cycles", "modules", "items"}
 * sorted by name / external id, references by name, key or external id. Items without an
 * external id get "<IDENTIFIER>-<sequence>"; items of another source "<source>:<id>". */
int pb_export_project(pb_pop_target *t, const char *project_id, cJSON **out, pb_error *err);

/* Jira status category key / status name -> Plane state group. */
const char *pb_import_jira_group(const char *category_key, const char *status_name);

#endif
