/* rows: see rows.h. */
#include "store/rows.h"

#include <stdlib.h>
#include <string.h>

int pb_store_read_all(pb_rows *r, size_t elem, size_t first_cap, pb_store_fill_fn fill, void *ctx,
                      pb_store_drop_fn drop, void **out, size_t *n, const char *oom_msg, const char *read_msg,
                      pb_error *err)
{
    char *arr = NULL;
    size_t cap = 0, cnt = 0;
    int rc = 0, s;
    *out = NULL;
    *n = 0;
    while ((s = pb_rows_next(r)) > 0) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : first_cap;
            char *na = realloc(arr, nc * elem);
            if (!na) {
                rc = pb_error_set(err, PB_ENOMEM, "%s", oom_msg);
                break;
            }
            arr = na;
            cap = nc;
        }
        char *rec = arr + cnt * elem;
        memset(rec, 0, elem);
        int f = fill(r, rec, ctx);
        if (f == 1) continue;
        cnt++;
        if (f) {
            rc = pb_error_set(err, f, "%s", oom_msg);
            break;
        }
    }
    if (!rc && s < 0) rc = pb_error_set(err, PB_ESTORE, "%s", read_msg);
    pb_rows_free(r);
    if (rc) {
        if (drop) drop(arr, cnt);
        else free(arr);
        return rc;
    }
    if (cnt == 0) { /* every row skipped */
        free(arr);
        arr = NULL;
    }
    *out = arr;
    *n = cnt;
    return 0;
}
