/* usage: the asynchronous usage log. Request threads push one row per authenticated call
 * into a bounded in-memory queue (never blocking: when the queue is full the row is dropped
 * and counted); the auth module's background thread writes queued rows to ops.api_usage in
 * batches (one transaction each) and prunes rows older than the retention. Thread-safe. */
#ifndef PB_AUTH_USAGE_H
#define PB_AUTH_USAGE_H

#include "core/err.h"
#include "store/auth_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb_usage pb_usage;

int pb_usage_new(pb_db *db, size_t capacity, pb_usage **out);
void pb_usage_free(pb_usage *u); /* drops what was not flushed */
/* Copies the row into the queue. Returns 0, or PB_EBUSY when full (row dropped, counted). */
int pb_usage_push(pb_usage *u, const pb_usage_row *row);
/* Writes up to max_rows queued rows (0 = all). Returns rows written or <0. */
long pb_usage_flush(pb_usage *u, size_t max_rows, pb_error *err);
size_t pb_usage_queued(pb_usage *u);
void pb_usage_counters(pb_usage *u, uint64_t *queued, uint64_t *written, uint64_t *dropped);

#endif
