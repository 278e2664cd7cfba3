#include "http/ops_routes.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>

static int h_healthz(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_resp_json(resp, 200, "{\"status\":\"ok\"}");
    return 0;
}

static int h_readyz(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_db *db = ctx;
    pb_error err = {0};
    if (!db) {
        pb_resp_json(resp, 503, "{\"status\":\"unavailable\",\"error\":\"no store configured\"}");
        return 0;
    }
    if (pb_db_ping(db, &err)) {
        PB_LOG(PB_LOG_WARN, "readyz: store not reachable", PB_LS("error", err.msg));
        pb_resp_json(resp, 503, "{\"status\":\"unavailable\",\"error\":\"store unreachable\"}");
        return 0;
    }
    pb_resp_json(resp, 200, "{\"status\":\"ready\"}");
    return 0;
}

static int h_metrics(pb_req *req, pb_resp *resp, void *ctx)
{
    pb_buf *b = pb_resp_body(resp);
    int rc = pb_metrics_render(b);
    if (rc) return rc;
    pb_resp_content_type(resp, "text/plain; version=0.0.4; charset=utf-8");
    pb_resp_status(resp, 200);
    return 0;
}

static int h_bench_echo(pb_req *req, pb_resp *resp, void *ctx)
{
    size_t n = 0;
    pb_req_body(req, &n);
    pb_resp_status(resp, 200);
    return pb_buf_printf(pb_resp_body(resp), "{\"ok\":true,\"bytes\":%zu}", n);
}

int pb_ops_routes_register(pb_server *srv, pb_db *db, pb_error *err)
{
    const pb_route routes[] = {
        {"GET", "/healthz", NULL, PB_ROUTE_PUBLIC, h_healthz, NULL},
        {"GET", "/readyz", NULL, PB_ROUTE_PUBLIC, h_readyz, db},
        {"GET", "/metrics", NULL, PB_ROUTE_PUBLIC, h_metrics, NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        int rc = pb_server_route(srv, &routes[i]);
        if (rc) return pb_error_set(err, rc, "cannot register %s", routes[i].pattern);
    }
    const char *bench = getenv("PB_BENCH_ROUTES");
    if (bench && strcmp(bench, "1") == 0) {
        pb_route echo = {"POST", "/bench/echo", NULL, PB_ROUTE_PUBLIC, h_bench_echo, NULL};
        int rc = pb_server_route(srv, &echo);
        if (rc) return pb_error_set(err, rc, "cannot register /bench/echo");
    }
    return 0;
}

static int ops_init(pb_app *app, pb_error *err)
{
    return pb_ops_routes_register(app->srv, app->db, err);
}

const pb_module pb_module_ops = {"ops", ops_init, NULL, NULL, NULL};
