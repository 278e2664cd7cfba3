/* `planebridge migrate`: applies the embedded migrations and prints the schema version. */
#include "cli/cli.h"
#include "store/db.h"

const char pb_cmd_migrate_usage[] =
    "usage: planebridge [--config FILE] migrate [--store URL]\n"
    "\n"
    "Applies every embedded migration newer than the store's schema (forward only, each in\n"
    "its own transaction; safe to run while other planebridge processes run) and prints\n"
    "\"schema version N (applied M)\" on stdout. `serve` does the same at start-up.\n"
    "\n"
    "Options:\n"
    "  --store URL  overrides `store` (PB_STORE)\n";

int pb_cmd_migrate(pb_cli *cli, int argc, char **argv)
{
    static const char *const keys[] = {"store", NULL};
    int rc = pb_cli_config_flags(cli, argc, argv, keys);
    if (rc) return rc;
    pb_db *db = NULL;
    pb_error err = {0};
    int before = 0, after = 0, code = 1;
    pb_db_options dbo = {.pool_size = 1};
    if (pb_db_open(cli->cfg.store, &dbo, &db, &err)) {
        fprintf(stderr, "planebridge migrate: cannot open the store: %s\n", err.msg);
        goto out;
    }
    if (pb_db_schema_version(db, &before, &err) || pb_db_migrate(db, &err) ||
        pb_db_schema_version(db, &after, &err)) {
        fprintf(stderr, "planebridge migrate: %s\n", err.msg);
        goto out;
    }
    printf("schema version %d (applied %d)\n", after, after - before);
    code = 0;
out:
    pb_db_free(db);
    return code;
}
