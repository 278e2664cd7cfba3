/* cmd_hooks: `planebridge hooks ...` — outbound webhook subscriptions from the command line
 * (the same engine functions as the /admin/v1/hooks API; works on the store directly, so
 * the daemon need not run). */
#ifndef PB_CLI_CMD_HOOKS_H
#define PB_CLI_CMD_HOOKS_H

#include "cli/cli.h"

int pb_cmd_hooks(pb_cli *cli, int argc, char **argv);
extern const char pb_cmd_hooks_usage[];

#endif
