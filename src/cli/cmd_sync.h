/* cmd_sync: the mirror commands (sync, verify, workspace-connect; src/cli/cmd_sync.c). */
#ifndef PB_CLI_CMD_SYNC_H
#define PB_CLI_CMD_SYNC_H

#include "cli/cli.h"

/* `planebridge workspace connect SLUG --upstream URL --api-key-file FILE
 * [--webhook-secret-file FILE]` for cmd_workspace.c's dispatcher: argv[first] is SLUG (2 when
 * argv is {"workspace", "connect", SLUG, ...}). Stores the key in the vault, maps it in
 * tokens_ref, creates/re-points the installation; prints "SLUG SPACE_ID". Returns the exit
 * code (0, 1 failure, 2 usage). */
int pb_sync_cmd_workspace_connect(pb_cli *cli, int argc, char **argv, int first);

#endif
