/* `planebridge webhook-secret`: sets or rotates the secret that verifies a workspace's
 * inbound Plane webhooks (kept in the vault; see src/ingest/secrets.h). */
#include "auth/vault.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "cli/cmd_ingest.h"
#include "core/util.h"
#include "ingest/ingest.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char pb_cmd_webhook_secret_usage[] =
    "usage: planebridge [--config FILE] webhook-secret SLUG --file FILE [--shared] [--overlap DURATION]\n"
    "                                  [--store URL]\n"
    "\n"
    "Stores the secret Plane signs the workspace's webhooks with (its `secret_key`, e.g.\n"
    "plane_wh_...) in the vault, for POST /hooks/plane/SLUG. Setting it again rotates it: the\n"
    "previous secret keeps verifying during the overlap window (default 24h), so the new one\n"
    "can be configured in Plane without losing deliveries. The daemon picks it up within 5 s.\n"
    "\n"
    "Options:\n"
    "  --file FILE         file holding the secret (one line; never pass secrets as arguments)\n"
    "  --shared            verify a shared secret sent in X-Plane-Webhook-Secret instead of\n"
    "                      the HMAC signature X-Plane-Signature\n"
    "  --overlap DURATION  how long the previous secret stays valid: 0, 90s, 15m, 24h, 7d\n"
    "  --store URL         overrides `store` (PB_STORE)\n";

int pb_cmd_webhook_secret(pb_cli *cli, int argc, char **argv)
{
    static const char *const opts[] = {"file", "overlap", "shared", "store", NULL};
    static const char *const flags[] = {"shared", NULL};
    if (argc < 3 || argv[1][0] == '-' || !pb_cli_check_opts(argc, argv, 2, "webhook-secret", opts, flags)) {
        fputs(pb_cmd_webhook_secret_usage, stderr);
        return 2;
    }
    const char *slug = argv[1], *file = pb_cli_opt(argc, argv, "file"),
               *ov = pb_cli_opt(argc, argv, "overlap");
    int64_t overlap = 86400;
    if (!file || (ov && pb_parse_duration_s(ov, &overlap) != 0)) {
        fputs(pb_cmd_webhook_secret_usage, stderr);
        return 2;
    }
    const char *store = pb_cli_opt(argc, argv, "store");
    pb_error cerr = {0};
    if (store && pb_config_set(&cli->cfg, "store", store, &cerr) != 0) {
        fprintf(stderr, "planebridge webhook-secret: %s\n", cerr.msg);
        return 2;
    }
    char *secret = NULL;
    size_t len = 0;
    if (pb_read_file(file, 4096, &secret, &len) != 0) {
        fprintf(stderr, "planebridge webhook-secret: cannot read %s\n", file);
        return 1;
    }
    while (len && (secret[len - 1] == '\n' || secret[len - 1] == '\r' || secret[len - 1] == ' '))
        secret[--len] = '\0';
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    int code = 1;
    if (pb_cli_open_store(cli, "webhook-secret", &db)) goto out;
    if (pb_vault_open(db, cli->cfg.master_key_file, &v, &err)) {
        fprintf(stderr, "planebridge webhook-secret: cannot open the vault: %s\n", err.msg);
        goto out;
    }
    if (pb_ingest_secret_store(db, v, slug,
                               pb_cli_flag(argc, argv, "shared") ? PB_SIG_SHARED : PB_SIG_HMAC_HEX, secret,
                               overlap, &err)) {
        fprintf(stderr, "planebridge webhook-secret: %s\n", err.msg);
        goto out;
    }
    printf("%s\n", slug);
    code = 0;
out:
    OPENSSL_cleanse(secret, len);
    free(secret);
    pb_vault_free(v);
    pb_db_free(db);
    return code;
}
