/* The command table: `planebridge <name>` runs pb_cmd_<id>() from src/cli/cmd_<id>.c, whose
 * `planebridge <name> --help` text is the string pb_cmd_<id>_usage[] defined in that file.
 *
 * To add a command, add ONE line to the list below, above its end marker (every line
 * ends with a backslash):
 *     X("name", id, "one-line summary")                                                  \
 * and in cmd_<id>.c declare the function before defining it (for -Wmissing-prototypes):
 *     int pb_cmd_<id>(pb_cli *cli, int argc, char **argv);
 *     const char pb_cmd_<id>_usage[] = "usage: planebridge name ...\n";
 * Order here is the order in `planebridge --help`. */
#include "cli/cli.h"

#include <stddef.h>

/* clang-format off */
#define PB_COMMAND_LIST(X)                                                                                  \
    X("serve", serve, "run the daemon (HTTP server, store, modules) until SIGTERM")                         \
    X("migrate", migrate, "apply pending store migrations and print the schema version")                    \
    X("doctor", doctor, "check configuration, store and migrations; print library versions")                \
    X("version", version, "print the planebridge version and linked library versions")                      \
    X("config", config, "print the effective configuration (secrets masked)")                               \
    X("init", init, "create the vault master key (0600) and the store; safe to re-run")                     \
    X("workspace", workspace, "create and list local workspaces and their members")                         \
    X("user", user, "create a user in a workspace and print a new API key for it")                          \
    X("keys", keys, "create, list, show, revoke, rotate API keys; per-key usage")                           \
    X("vault", vault, "vault secrets: rotate-master, list, put, delete")                                    \
    X("replay", replay, "re-queue dead-lettered or chosen inbound webhook jobs")                            \
    X("webhook-secret", webhook_secret, "set or rotate a workspace's inbound Plane webhook secret")        \
    X("hooks", hooks, "outbound webhooks: add, list, update, rotate-secret, test, log, replay")             \
    X("sync", sync, "mirror connected upstream Plane workspaces (backfill, incremental, reconcile)") \
    X("verify", verify, "compare the mirror with its upstream Plane; accuracy % and differing ids") \
    X("workspace-connect", workspace_connect, "connect a workspace to an upstream Plane (API key to vault)") \
    X("plan", plan, "show what applying a YAML template would create, update or leave unchanged")        \
    X("apply", apply, "apply a YAML template to a workspace, idempotently (progress, JSON report)")       \
    X("import", import, "import Plane CSV, Jira CSV/JSON or an exported project, without duplicates")     \
    X("export", export, "export a project as JSON (states, labels, cycles, modules, items, relations)")   \
    X("policy", policy, "show or set a workspace's writeback policy (disabled, explicit, enabled)")        \
    /* end of the command list: keep this line last, append commands above it */
/* clang-format on */

#define PB_CMD_DECLARE(name, id, summary)                                                                    \
    int pb_cmd_##id(pb_cli *cli, int argc, char **argv);                                                     \
    extern const char pb_cmd_##id##_usage[];
PB_COMMAND_LIST(PB_CMD_DECLARE)
#undef PB_CMD_DECLARE

#define PB_CMD_ENTRY(name, id, summary) {name, summary, pb_cmd_##id##_usage, pb_cmd_##id},
const pb_cmd pb_commands[] = {
    PB_COMMAND_LIST(PB_CMD_ENTRY){NULL, NULL, NULL, NULL},
};
#undef PB_CMD_ENTRY
