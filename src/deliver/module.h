/* module: the deliveries module of the daemon, and the admin API for hooks.
 *
 * init creates the engine (app->deliver) over the store and the vault (the auth module
 * must come first in modules.c) and registers, all with scope webhooks:admin and checked
 * against the hook's workspace:
 *   GET    /admin/v1/hooks?workspace=SLUG      list
 *   POST   /admin/v1/hooks                     {"workspace","url","format","events":[...],
 *                                               "project_id","description"} -> 201 + "secret"
 *   GET    /admin/v1/hooks/{id}                one hook with message counts
 *   PATCH  /admin/v1/hooks/{id}                {"url","format","events","project_id",
 *                                               "description","active"}
 *   DELETE /admin/v1/hooks/{id}
 *   POST   /admin/v1/hooks/{id}/disable
 *   POST   /admin/v1/hooks/{id}/rotate-secret  -> 201 {"secret"} (old one signs for 24 h)
 *   POST   /admin/v1/hooks/{id}/test           -> 202 {"msg_id"}
 *   GET    /admin/v1/hooks/{id}/log?limit=N&msg_id=M   attempts, newest first
 *   GET    /admin/v1/hooks/{id}/messages?status=S&limit=N
 *   POST   /admin/v1/hooks/{id}/replay         {"msg_id"} or {"since": ISO-8601} -> 202
 * start runs the dispatcher and worker threads; stop joins them.
 *
 * Settings come from the configuration table (src/core/config.c; file, PB_* environment,
 * `planebridge config`, --help): deliver_workers (PB_DELIVER_WORKERS, 2), deliver_batch
 * (PB_DELIVER_BATCH, 64), deliver_schedule (PB_DELIVER_SCHEDULE, "0,5s,5m,30m,2h,5h,10h,10h"),
 * deliver_lease_s (PB_DELIVER_LEASE_S, 60s), deliver_timeout_ms (PB_DELIVER_TIMEOUT_MS, 15000),
 * deliver_poll_ms (PB_DELIVER_POLL_MS, 50), deliver_disable_after (PB_DELIVER_DISABLE_AFTER, 5d),
 * plus public_url, ssrf_allow and delivery_retention_days. */
#ifndef PB_DELIVER_MODULE_H
#define PB_DELIVER_MODULE_H

#include "app/app.h"
#include "deliver/deliver.h"

extern const pb_module pb_module_deliver;

/* Fills engine options from the configuration (shared by the daemon and the CLI). The
 * table has already checked every bound; strings point into cfg, which must outlive o. */
void pb_deliver_options_from_config(const pb_config *cfg, pb_db *db, struct pb_vault *vault, pb_deliver_options *o);

#endif
