/* `planebridge vault rotate-master|list|put|delete`. */
#include "auth/vault.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

int pb_cmd_vault(pb_cli *cli, int argc, char **argv);
const char pb_cmd_vault_usage[] =
    "usage: planebridge vault rotate-master\n"
    "       planebridge vault list\n"
    "       planebridge vault put NAME        (reads the secret from stdin)\n"
    "       planebridge vault delete NAME\n"
    "\n"
    "rotate-master  re-encrypts every secret under a new random master key in one transaction,\n"
    "               then replaces the master key file (new file written and fsync'd, then\n"
    "               renamed over the old one). Stop daemons first or restart them after.\n"
    "list           secret names, one per line (never the secrets).\n"
    "put            stores a secret (AES-256-GCM under the master key).\n";

int pb_cmd_vault(pb_cli *cli, int argc, char **argv)
{
    pb_error err = {0};
    pb_db *db = NULL;
    pb_vault *v = NULL;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int rc = 0;
    int want_name = sub && (strcmp(sub, "put") == 0 || strcmp(sub, "delete") == 0);
    if (!sub || (strcmp(sub, "rotate-master") && strcmp(sub, "list") && !want_name)) {
        fputs(pb_cmd_vault_usage, stderr);
        return 2;
    }
    if (want_name && (argc < 3 || argv[2][0] == '-')) {
        fprintf(stderr, "planebridge vault %s: needs a NAME\n", sub);
        return 2;
    }
    if (!pb_cli_check_opts(argc, argv, want_name ? 3 : 2, "vault", NULL, NULL)) return 2;
    if (pb_cli_open_store(cli, "vault", &db)) return 1;
    rc = pb_vault_open(db, cli->cfg.master_key_file, &v, &err);
    if (!rc && strcmp(sub, "rotate-master") == 0) {
        size_t n = 0;
        char fp[17];
        rc = pb_vault_rotate_master(v, &n, &err);
        pb_vault_fingerprint(v, fp);
        if (!rc) printf("re-encrypted %zu secrets; new master key fingerprint %s\n", n, fp);
    } else if (!rc && strcmp(sub, "list") == 0) {
        char **names = NULL;
        size_t n = 0;
        rc = pb_vault_list(v, &names, &n, &err);
        for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
        pb_vault_names_free(names, n);
    } else if (!rc && strcmp(sub, "put") == 0) {
        char buf[65536];
        size_t len = fread(buf, 1, sizeof buf - 1, stdin);
        /* A longer secret must not be stored silently truncated. */
        int too_long = len == sizeof buf - 1 && fgetc(stdin) != EOF;
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
        buf[len] = '\0';
        if (too_long)
            rc = pb_error_set(&err, PB_ETOOBIG, "secret on stdin longer than %zu bytes", sizeof buf - 1);
        else if (!len)
            rc = pb_error_set(&err, PB_EINVAL, "empty secret on stdin");
        else
            rc = pb_vault_put(v, argv[2], buf, len, &err);
        OPENSSL_cleanse(buf, sizeof buf);
    } else if (!rc) {
        rc = pb_vault_delete(v, argv[2], &err);
    }
    if (rc) fprintf(stderr, "planebridge vault %s: %s\n", sub, err.msg);
    pb_vault_free(v);
    pb_db_free(db);
    return rc ? 1 : 0;
}
