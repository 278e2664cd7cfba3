/* The daemon's modules, in init order. Each module owns one line here. */
#include "app/app.h"
#include "api/api.h"
#include "http/ops_routes.h"
#include "auth/auth.h"
#include "deliver/module.h"
#include "ingest/ingest.h"
#include "sync/module.h"

const pb_module *const pb_modules[] = {
    &pb_module_ops,
    &pb_module_auth,
    &pb_module_deliver,
    &pb_module_api,
    &pb_module_ingest,
    &pb_module_sync,
    NULL,
};
