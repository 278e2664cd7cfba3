/* `planebridge config`: the effective configuration, as YAML, secrets and passwords masked. */
#include "cli/cli.h"

#include <string.h>

const char pb_cmd_config_usage[] =
    "usage: planebridge [--config FILE] config\n"
    "\n"
    "Prints the effective configuration (defaults < --config file < PB_* environment) as\n"
    "YAML that --config accepts back. Secret keys print as \"****\" and a password inside a\n"
    "URL (postgres://user:PASS@host/db, ?password=PASS) prints as \"****\".\n";

int pb_cmd_config(pb_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) continue;
        fprintf(stderr, "planebridge config: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    pb_config_print(&cli->cfg, stdout);
    return 0;
}
