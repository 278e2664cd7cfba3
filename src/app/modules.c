/* The daemon's modules, in init order. Each module owns one line here. */
#include "app/app.h"

const pb_module *const pb_modules[] = {
    NULL,
};
