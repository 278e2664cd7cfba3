/* rows: reading a whole result set into an array, shared by the *_store.c files.
 *
 * pb_store_read_all() reads every row of r (then frees r) into a malloc'd array of elem-sized
 * records, each zeroed before fill(r, record, ctx) fills it. fill returns 0 to keep the row,
 * 1 to skip it (the record is reused), or a negative PB_E* code to stop: that record counts as
 * read, so drop sees whatever it holds. The array grows by doubling from first_cap records.
 *
 * On success *out is the array (NULL when there were no rows; the caller frees it) and *n the
 * count. On failure nothing is returned: drop(array, count) releases the records (plain free()
 * when drop is NULL) and err is set: PB_ENOMEM with oom_msg when the array cannot grow,
 * PB_ESTORE with read_msg when reading a row fails, fill's code with oom_msg when fill fails. */
#ifndef PB_STORE_ROWS_H
#define PB_STORE_ROWS_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>

typedef int (*pb_store_fill_fn)(pb_rows *r, void *rec, void *ctx);
typedef void (*pb_store_drop_fn)(void *arr, size_t n);

int pb_store_read_all(pb_rows *r, size_t elem, size_t first_cap, pb_store_fill_fn fill, void *ctx,
                      pb_store_drop_fn drop, void **out, size_t *n, const char *oom_msg, const char *read_msg,
                      pb_error *err);

#endif
