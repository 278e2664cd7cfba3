/* ops_routes: the operational endpoints every deployment needs, as the "ops" module.
 *
 *   GET /healthz  always 200 {"status":"ok"} (process is up and serving HTTP);
 *   GET /readyz   200 {"status":"ready"} when pb_db_ping succeeds, else 503 with a JSON
 *                 error (no detail from the store: it may contain a connection string);
 *   GET /metrics  Prometheus text exposition of every metric in core/metrics.
 * All three are PB_ROUTE_PUBLIC. With PB_BENCH_ROUTES=1 in the environment, init also
 * registers POST /bench/echo (public, JSON body, answers 200 {"ok":true,"bytes":N}) for
 * bench/http; it is never registered otherwise. */
#ifndef PB_HTTP_OPS_ROUTES_H
#define PB_HTTP_OPS_ROUTES_H

#include "app/app.h"

extern const pb_module pb_module_ops;

/* Registers the routes on srv (db may be NULL: /readyz then answers 503). */
int pb_ops_routes_register(pb_server *srv, pb_db *db, pb_error *err);

#endif
