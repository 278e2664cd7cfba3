/* target: where populate writes — one Plane REST API v1 workspace, spoken to identically
 * whether it is
 *   - the local standalone workspace: requests run in-process through pb_server_handle_raw on
 *     a server built with the app's API and auth modules but never listening (same routing,
 *     auth, validation and serializers as the daemon; no daemon needed). A temporary API key
 *     of the acting admin (created here, revoked by pb_pop_target_free; it expires by itself
 *     after 6 hours when the process is killed) authenticates them;
 *   - an upstream Plane (a connected workspace, or any Plane-compatible server such as a
 *     second planebridge): requests go through the libcurl client and the shared rate
 *     governor of src/sync (pb_gov_get: one budget per upstream key per process, shared
 *     through the store), so a run never provokes a 429 by itself and waits out one if
 *     another client does.
 * Every non-GET request first passes the writeback gate (pb_gate_check) for the target's
 * workspace, and its outcome leaves an ops.run_events row (pb_gate_record).
 *
 * One target is used by one thread at a time. Paths are relative to
 * /api/v1/workspaces/{slug}/ ("projects/?per_page=100"). */
#ifndef PB_POPULATE_TARGET_H
#define PB_POPULATE_TARGET_H

#include "core/config.h"
#include "core/err.h"
#include "populate/gate.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef struct pb_pop_target pb_pop_target;

typedef struct pb_pop_target_stats {
    int64_t reads;     /* GET exchanges (retries included) */
    int64_t writes;    /* POST/PATCH/DELETE exchanges */
    int64_t refused;   /* writes the gate refused */
    int64_t throttled; /* 429 answers seen */
    int64_t retries;
} pb_pop_target_stats;

/* db: the local store (the workspace and its members live there; audit rows go there).
 * actor_email: the admin to act as; NULL = the workspace's first admin. */
int pb_pop_target_local(pb_db *db, const pb_config *cfg, const char *slug, const char *actor_email,
                        pb_pop_target **out, pb_error *err);
/* base_url "http://host:port"; slug: the upstream workspace slug; gate_slug: the local
 * workspace whose policy governs the writes (the connected workspace; usually == slug);
 * api_key: registered with the redactor, never logged. db is used for the gate, the audit
 * rows and the shared budget. */
int pb_pop_target_remote(pb_db *db, const char *base_url, const char *slug, const char *gate_slug,
                         const char *api_key, pb_pop_target **out, pb_error *err);
void pb_pop_target_free(pb_pop_target *t); /* NULL-safe; revokes the temporary local key */

/* Who writes: source ("populate.apply"), kind, actor (copied). Defaults: "populate", operator. */
void pb_pop_target_set_gate(pb_pop_target *t, const char *source, pb_gate_kind kind, const char *actor);
/* "local" or the base URL. */
const char *pb_pop_target_name(const pb_pop_target *t);
const char *pb_pop_target_slug(const pb_pop_target *t);
void pb_pop_target_stats_get(const pb_pop_target *t, pb_pop_target_stats *out);

/* Asks the gate up front whether this target may be written to at all (same source, kind
 * and workspace as the writes); a refusal leaves its audit row. */
int pb_pop_target_gate(pb_pop_target *t, const char *action, pb_error *err);

/* One request. body may be NULL. *status gets the HTTP status; *json (optional) the parsed
 * body (caller frees; NULL when empty or not JSON). Returns 0 when an answer came (any
 * status), PB_EFORBIDDEN when the gate refused the write (nothing sent), or PB_ENET /
 * PB_ETIMEOUT / other codes when no answer came after retries. */
int pb_pop_call(pb_pop_target *t, const char *method, const char *path, const cJSON *body, int *status, cJSON **json,
                pb_error *err);

#endif
