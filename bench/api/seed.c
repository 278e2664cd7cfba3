/* seed: bench helper that inserts N work items into an existing project through the API
 * module's own serializer (pb_api_seed_issues), fast, in batched transactions.
 *   seed STORE_URL SLUG PROJECT_ID USER_ID N
 * Built by bench/api/run.sh against the build's libpbcore.a. */
#include "api/api.h"
#include "core/util.h"
#include "store/db.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: seed STORE_URL SLUG PROJECT_ID USER_ID N\n");
        return 2;
    }
    int64_t n = 0;
    if (pb_parse_i64(argv[5], 1, 100000000, &n)) {
        fprintf(stderr, "seed: bad N\n");
        return 2;
    }
    pb_db *db = NULL;
    pb_error err = {0};
    pb_db_options o = {.pool_size = 1, .sqlite_synchronous = 1};
    if (pb_db_open(argv[1], &o, &db, &err) || pb_db_migrate(db, &err)) {
        fprintf(stderr, "seed: %s\n", err.msg);
        return 1;
    }
    int64_t t0 = pb_mono_ms();
    int rc = pb_api_seed_issues(db, argv[2], argv[3], argv[4], n, &err);
    if (rc) {
        fprintf(stderr, "seed: %s\n", err.msg);
        pb_db_free(db);
        return 1;
    }
    /* Fresh planner statistics, as autovacuum would gather after a bulk import: without them
     * PostgreSQL's generic plans for prepared statements can pick a scan over the whole
     * project instead of the primary key, and index-only scans need the visibility map. */
    if (pb_db_backend(db) == PB_DB_POSTGRES) {
        pb_conn *c = NULL;
        if (pb_db_acquire(db, &c, &err) == 0) {
            pb_conn_exec(c, "VACUUM ANALYZE work_plane.items", NULL, 0, NULL, NULL);
            pb_conn_exec(c, "VACUUM ANALYZE work_plane.projects", NULL, 0, NULL, NULL);
            pb_db_release(db, c);
        }
    }
    printf("seeded %lld work items in %lld ms\n", (long long)n, (long long)(pb_mono_ms() - t0));
    pb_db_free(db);
    return 0;
}
