/* app: the daemon's shared context and the module plug-in list.
 *
 * `planebridge serve` loads the configuration, opens and migrates the store, creates the
 * HTTP server, then calls every module's init (register routes and hooks), starts the
 * server, calls every module's start (background threads), and on SIGTERM/SIGINT stops
 * the server (draining in-flight requests), calls every stop in reverse order and closes
 * the store. Modules never print; they log through PB_LOG. */
#ifndef PB_APP_APP_H
#define PB_APP_APP_H

#include "core/config.h"
#include "core/err.h"
#include "http/server.h"
#include "store/db.h"

struct pb_auth;
struct pb_vault;
struct pb_deliver;
struct pb_api;

typedef struct pb_app {
    const pb_config *cfg;
    pb_db *db;
    pb_server *srv;
    struct pb_vault *vault;     /* set by the auth module's init */
    struct pb_auth *auth;       /* set by the auth module's init */
    struct pb_deliver *deliver; /* set by the deliveries module */
    struct pb_api *api;         /* set by the Plane API module */
} pb_app;

typedef struct pb_module {
    const char *name;
    int (*init)(pb_app *app, pb_error *err);  /* register routes and hooks; may be NULL */
    int (*start)(pb_app *app, pb_error *err); /* start background work; may be NULL */
    void (*stop)(pb_app *app);                /* stop background work; may be NULL */
    void (*free)(pb_app *app);                /* release what init allocated; may be NULL */
} pb_module;

/* NULL-terminated, in init order (modules.c). */
extern const pb_module *const pb_modules[];

#endif
