/* cmd_ingest: the webhook-ingestion commands (replay, webhook-secret), listed in commands.c. */
#ifndef PB_CLI_CMD_INGEST_H
#define PB_CLI_CMD_INGEST_H

#include "cli/cli.h"

int pb_cmd_replay(pb_cli *cli, int argc, char **argv);
extern const char pb_cmd_replay_usage[];
int pb_cmd_webhook_secret(pb_cli *cli, int argc, char **argv);
extern const char pb_cmd_webhook_secret_usage[];

#endif
