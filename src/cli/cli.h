/* cli: the `planebridge <command>` table. Each command lives in its own file under src/cli/
 * and is listed once in commands.c; `--help` for every command comes from the same entry.
 *
 * A command returns a process exit code: 0 ok, 1 failure, 2 usage error. Commands print
 * results on stdout (so scripts can capture them, e.g. a new key alone on stdout) and
 * diagnostics on stderr. */
#ifndef PB_CLI_CLI_H
#define PB_CLI_CLI_H

#include "core/config.h"

typedef struct pb_cli {
    pb_config cfg;          /* effective configuration (defaults < file < env) */
    const char *config_path;/* --config, or NULL */
} pb_cli;

typedef int (*pb_cmd_fn)(pb_cli *cli, int argc, char **argv);

typedef struct pb_cmd {
    const char *name;
    const char *summary; /* one line, for `planebridge --help` */
    const char *usage;   /* full help text for `planebridge NAME --help` */
    pb_cmd_fn run;
} pb_cmd;

extern const pb_cmd pb_commands[];

/* Entry point used by main(): parses global flags, loads config, dispatches. */
int pb_cli_main(int argc, char **argv);
/* 1 if argv contains -h or --help. */
int pb_cli_wants_help(int argc, char **argv);
/* Returns the value of "--name VALUE" or "--name=VALUE" in argv, or NULL. */
const char *pb_cli_opt(int argc, char **argv, const char *name);
/* 1 if "--name" flag is present. */
int pb_cli_flag(int argc, char **argv, const char *name);

/* Parses a command's arguments when they are only configuration overrides: "--KEY VALUE"
 * or "--KEY=VALUE" for each YAML key name in keys (NULL-terminated, e.g. {"listen", "store",
 * NULL}), applied to cli->cfg on top of file and environment; "--config FILE" is accepted
 * and skipped. Anything else, or a bad value, prints a message to stderr and returns 2. */
int pb_cli_config_flags(pb_cli *cli, int argc, char **argv, const char *const *keys);

/* Prints "planebridge VERSION" and every linked library's version, one "name version" per
 * line, each prefixed by prefix (cmd_version.c; used by version and doctor). */
void pb_cli_print_versions(FILE *fp, const char *prefix);

/* Commands (one file each under src/cli/). */
int pb_cmd_serve(pb_cli *cli, int argc, char **argv);
int pb_cmd_migrate(pb_cli *cli, int argc, char **argv);
int pb_cmd_doctor(pb_cli *cli, int argc, char **argv);
int pb_cmd_version(pb_cli *cli, int argc, char **argv);
int pb_cmd_config(pb_cli *cli, int argc, char **argv);

#endif
