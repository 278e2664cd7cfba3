/* `planebridge init`: creates the vault master key file (0600) if absent, checks it, and
 * creates/migrates the store. Safe to run again. */
#include "auth/vault.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"

#include <stdio.h>
#include <string.h>

int pb_cmd_init(pb_cli *cli, int argc, char **argv);
const char pb_cmd_init_usage[] =
    "usage: planebridge init\n"
    "\n"
    "Prepares a planebridge installation:\n"
    "  - creates the vault master key file (master_key_file / PB_MASTER_KEY_FILE) with mode\n"
    "    0600 if it does not exist, and checks an existing one (a key file readable by group\n"
    "    or others is refused);\n"
    "  - opens the store (store / PB_STORE) and applies pending migrations.\n"
    "Running it again changes nothing. Then create a workspace and a user:\n"
    "  planebridge workspace create acme --name 'Acme'\n"
    "  KEY=$(planebridge user create --email ada@example.com --workspace acme --role admin)\n";

int pb_cli_check_opts(int argc, char **argv, int first, const char *cmd, const char *const *allowed,
                      const char *const *flags)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "planebridge %s: unexpected argument '%s' (see --help)\n", cmd, a);
            return 0;
        }
        const char *n = a + 2;
        size_t nl = strcspn(n, "=");
        int ok = 0, is_flag = 0;
        if (nl == 6 && strncmp(n, "config", 6) == 0) ok = 1;
        for (const char *const *k = allowed; k && *k && !ok; k++) ok = strlen(*k) == nl && strncmp(*k, n, nl) == 0;
        for (const char *const *k = flags; k && *k && !ok; k++)
            ok = is_flag = strlen(*k) == nl && strncmp(*k, n, nl) == 0;
        if (!ok) {
            fprintf(stderr, "planebridge %s: unknown option '%.*s' (see --help)\n", cmd, (int)(nl + 2), a);
            return 0;
        }
        if (!is_flag && !n[nl]) {
            if (i + 1 >= argc) {
                fprintf(stderr, "planebridge %s: --%.*s needs a value\n", cmd, (int)nl, n);
                return 0;
            }
            i++;
        }
    }
    return 1;
}

int pb_cli_open_store(pb_cli *cli, const char *cmd, pb_db **db)
{
    pb_error err = {0};
    *db = NULL;
    int rc = pb_db_open(cli->cfg.store, NULL, db, &err);
    if (!rc) rc = pb_db_migrate(*db, &err);
    if (rc) {
        fprintf(stderr, "planebridge %s: store: %s\n", cmd, err.msg[0] ? err.msg : pb_strerror(rc));
        pb_db_free(*db);
        *db = NULL;
    }
    return rc;
}

int pb_cmd_init(pb_cli *cli, int argc, char **argv)
{
    pb_error err = {0};
    pb_db *db = NULL;
    pb_vault *v = NULL;
    int ver = 0;
    if (!pb_cli_check_opts(argc, argv, 1, "init", NULL, NULL)) return 2;
    const char *kf = cli->cfg.master_key_file;
    int rc = pb_vault_create_key_file(kf, &err);
    if (rc == 0) {
        printf("created master key file %s (mode 0600)\n", kf);
    } else if (rc == PB_ECONFLICT) {
        printf("master key file %s exists\n", kf);
    } else {
        fprintf(stderr, "planebridge init: %s\n", err.msg);
        return 1;
    }
    if (pb_cli_open_store(cli, "init", &db)) return 1;
    rc = pb_vault_open(db, kf, &v, &err); /* checks permissions and format */
    if (!rc) rc = pb_db_schema_version(db, &ver, &err);
    if (rc) {
        fprintf(stderr, "planebridge init: %s\n", err.msg);
    } else {
        char fp[17];
        pb_vault_fingerprint(v, fp);
        printf("master key fingerprint %s\n", fp);
        printf("store %s at schema version %d\n", pb_db_backend_name(db), ver);
    }
    pb_vault_free(v);
    pb_db_free(db);
    return rc ? 1 : 0;
}
