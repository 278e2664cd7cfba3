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
 * Environment knobs (operations and tests; config.h keeps the durable settings):
 *   PB_DELIVER_WORKERS (2), PB_DELIVER_BATCH (64), PB_DELIVER_SCHEDULE ("0,5,300,1800,
 *   7200,18000,36000,36000"), PB_DELIVER_LEASE_S (60), PB_DELIVER_TIMEOUT_MS (15000),
 *   PB_DELIVER_POLL_MS (50), PB_DELIVER_DISABLE_AFTER (duration, 5d). */
#ifndef PB_DELIVER_MODULE_H
#define PB_DELIVER_MODULE_H

#include "app/app.h"
#include "deliver/deliver.h"

extern const pb_module pb_module_deliver;

/* Fills engine options from the configuration and the PB_DELIVER_* environment
 * (shared by the daemon and the CLI). Strings point into cfg or the environment. */
int pb_deliver_options_from_env(const pb_config *cfg, pb_db *db, struct pb_vault *vault, pb_deliver_options *o,
                                pb_error *err);

#endif
