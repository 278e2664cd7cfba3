/* `planebridge workspace create|list|members`: local workspaces (work_plane.installations
 * rows with auth_kind 'none'). */
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "store/auth_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pb_cmd_workspace(pb_cli *cli, int argc, char **argv);
/* Implemented with the sync and populate commands (cmd_sync.c, cmd_populate.c). */
int pb_sync_cmd_workspace_connect(pb_cli *cli, int argc, char **argv, int first);
int pb_cmd_policy(pb_cli *cli, int argc, char **argv);

const char pb_cmd_workspace_usage[] =
    "usage: planebridge workspace create SLUG [--name NAME]\n"
    "       planebridge workspace list\n"
    "       planebridge workspace members SLUG\n"
    "       planebridge workspace connect SLUG --upstream URL --api-key-file FILE [--webhook-secret-file FILE]\n"
    "       planebridge workspace policy SLUG [disabled|explicit|enabled]\n"
    "\n"
    "create   adds a standalone workspace (no upstream Plane); prints its slug.\n"
    "list     prints one line per workspace: slug, auth kind, name.\n"
    "members  prints one line per member: user id, email, role (20 admin, 15 member, 5 guest).\n"
    "connect  mirrors SLUG from an upstream Plane (same as `planebridge workspace-connect`).\n"
    "policy   shows or sets SLUG's writeback policy (same as `planebridge policy`).\n";

static const char *role_name(int r)
{
    return r == 20 ? "admin" : r == 15 ? "member" : r == 5 ? "guest" : "?";
}

int pb_cmd_workspace(pb_cli *cli, int argc, char **argv)
{
    static const char *const create_opts[] = {"name", NULL};
    pb_error err = {0};
    pb_db *db = NULL;
    int rc = 0;
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub) {
        fputs(pb_cmd_workspace_usage, stderr);
        return 2;
    }
    if (strcmp(sub, "connect") == 0) return pb_sync_cmd_workspace_connect(cli, argc, argv, 2);
    if (strcmp(sub, "policy") == 0) return pb_cmd_policy(cli, argc - 1, argv + 1);
    if (strcmp(sub, "create") == 0) {
        if (argc < 3 || argv[2][0] == '-' || !pb_cli_check_opts(argc, argv, 3, "workspace create", create_opts, NULL)) {
            if (argc < 3 || argv[2][0] == '-') fprintf(stderr, "planebridge workspace create: needs a SLUG\n");
            return 2;
        }
        if (pb_cli_open_store(cli, "workspace", &db)) return 1;
        rc = pb_as_workspace_create(db, argv[2], pb_cli_opt(argc, argv, "name"), NULL, &err);
        if (rc)
            fprintf(stderr, "planebridge workspace create: %s\n", err.msg);
        else
            printf("%s\n", argv[2]);
    } else if (strcmp(sub, "list") == 0) {
        pb_workspace_row *ws = NULL;
        size_t n = 0;
        if (!pb_cli_check_opts(argc, argv, 2, "workspace list", NULL, NULL)) return 2;
        if (pb_cli_open_store(cli, "workspace", &db)) return 1;
        rc = pb_as_workspace_list(db, &ws, &n, &err);
        if (rc) fprintf(stderr, "planebridge workspace list: %s\n", err.msg);
        for (size_t i = 0; i < n; i++) printf("%s\t%s\t%s\n", ws[i].slug, ws[i].auth_kind, ws[i].name);
        free(ws);
    } else if (strcmp(sub, "members") == 0) {
        pb_member_row *m = NULL;
        size_t n = 0;
        if (argc < 3 || !pb_cli_check_opts(argc, argv, 3, "workspace members", NULL, NULL)) return 2;
        if (pb_cli_open_store(cli, "workspace", &db)) return 1;
        rc = pb_as_member_list(db, argv[2], &m, &n, &err);
        if (rc) fprintf(stderr, "planebridge workspace members: %s\n", err.msg);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%d\t%s\n", m[i].user.id, m[i].user.email, m[i].role, role_name(m[i].role));
        free(m);
    } else {
        fprintf(stderr, "planebridge workspace: unknown subcommand '%s'\n", sub);
        return 2;
    }
    pb_db_free(db);
    return rc ? 1 : 0;
}
