/* cmd_auth: helpers shared by the security core's commands (init, keys, workspace, user,
 * vault). The commands themselves are listed in commands.c. */
#ifndef PB_CLI_CMD_AUTH_H
#define PB_CLI_CMD_AUTH_H

#include "cli/cli.h"
#include "store/db.h"

/* Opens the configured store and applies pending migrations; prints the error and returns
 * non-zero on failure. *db is owned by the caller (pb_db_free). */
int pb_cli_open_store(pb_cli *cli, const char *cmd, pb_db **db);
/* 1 if every "--name" option in argv[first..] is in allowed (NULL-terminated, names without
 * dashes, each taking a value unless listed in flags); prints the offender otherwise. */
int pb_cli_check_opts(int argc, char **argv, int first, const char *cmd, const char *const *allowed,
                      const char *const *flags);

#endif
