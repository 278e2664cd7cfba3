/* `planebridge doctor`: checks the configuration, the store and its migrations, and prints
 * the version of every linked library. One "ok"/"FAIL" line per check; exit 1 if any fails.
 * Doctor never changes anything: it does not create a missing SQLite file or migrate. */
#include "cli/cli.h"
#include "store/db.h"
#include "store/migrations.h"

#include <string.h>
#include <unistd.h>

const char pb_cmd_doctor_usage[] =
    "usage: planebridge [--config FILE] doctor [--store URL]\n"
    "\n"
    "Checks, without changing anything: the configuration is valid, the store opens and\n"
    "answers, its schema has every embedded migration. Then prints the version of every\n"
    "linked library. Exit 0 when every check passes, 1 otherwise.\n"
    "\n"
    "Options:\n"
    "  --store URL  overrides `store` (PB_STORE)\n";

static int latest_migration(const char *backend)
{
    int v = 0;
    for (const pb_migration *m = pb_migrations; m->backend; m++)
        if (strcmp(m->backend, backend) == 0 && m->version > v) v = m->version;
    return v;
}

/* One line per check: driver messages (libpq's) may span lines. */
static const char *one_line(pb_error *err)
{
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    return err->msg;
}

int pb_cmd_doctor(pb_cli *cli, int argc, char **argv)
{
    static const char *const keys[] = {"store", NULL};
    int rc = pb_cli_config_flags(cli, argc, argv, keys);
    if (rc) return rc;
    int failed = 0;
    pb_db *db = NULL;
    pb_error err = {0};
    char masked[PB_CFG_URL], server[64];

    /* Reaching this point means the configuration loaded and validated (cli.c). */
    printf("ok    config %s\n", cli->config_path ? cli->config_path : "(defaults and environment)");

    pb_config_mask_url(cli->cfg.store, masked, sizeof masked);
    const char *store = cli->cfg.store;
    if (strncmp(store, "sqlite:", 7) == 0 && strcmp(store + 7, ":memory:") != 0 &&
        access(store + 7, F_OK) != 0) {
        printf("FAIL  store %s: the database file does not exist (run `planebridge migrate`)\n", masked);
        failed++;
        goto versions;
    }
    pb_db_options dbo = {.pool_size = 1};
    if (pb_db_open(store, &dbo, &db, &err) || pb_db_ping(db, &err)) {
        printf("FAIL  store %s: %s\n", masked, one_line(&err));
        failed++;
        goto versions;
    }
    if (pb_db_server_version(db, server, sizeof server, &err)) snprintf(server, sizeof server, "unknown");
    printf("ok    store %s (%s %s)\n", masked, pb_db_backend_name(db), server);

    int have = 0, want = latest_migration(pb_db_backend_name(db));
    if (pb_db_schema_version(db, &have, &err)) {
        printf("FAIL  migrations: %s\n", one_line(&err));
        failed++;
    } else if (have < want) {
        printf("FAIL  migrations: schema version %d, %d available (run `planebridge migrate`)\n", have, want);
        failed++;
    } else {
        printf("ok    migrations: schema version %d of %d\n", have, want);
    }

versions:
    pb_db_free(db);
    printf("libraries:\n");
    pb_cli_print_versions(stdout, "  ");
    printf("%s\n", failed ? "doctor: some checks failed" : "doctor: all checks passed");
    return failed ? 1 : 0;
}
