/* module: the daemon's scheduled upstream sync (see module.c). */
#ifndef PB_SYNC_MODULE_H
#define PB_SYNC_MODULE_H

#include "app/app.h"

extern const pb_module pb_module_sync;

#endif
