/* `planebridge user create`: a user, its workspace membership, and a first key. */
#include "auth/apikey.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <stdio.h>
#include <string.h>

int pb_cmd_user(pb_cli *cli, int argc, char **argv);
const char pb_cmd_user_usage[] =
    "usage: planebridge user create --email EMAIL --workspace SLUG [--role admin|member|guest]\n"
    "                               [--first-name F] [--last-name L] [--display-name D]\n"
    "\n"
    "Creates the user (or reuses an existing one with that email), makes it a member of the\n"
    "workspace with the role (default member), and prints a new API key for it, alone on\n"
    "stdout, holding every scope the role allows (a guest's key only reads):\n"
    "  KEY=$(planebridge user create --email ada@example.com --workspace acme --role admin)\n";

static int role_parse(const char *s)
{
    if (!s || strcmp(s, "member") == 0 || strcmp(s, "15") == 0) return PB_ROLE_MEMBER;
    if (strcmp(s, "admin") == 0 || strcmp(s, "20") == 0) return PB_ROLE_ADMIN;
    if (strcmp(s, "guest") == 0 || strcmp(s, "5") == 0) return PB_ROLE_GUEST;
    return 0;
}

int pb_cmd_user(pb_cli *cli, int argc, char **argv)
{
    static const char *const opts[] = {"email", "workspace", "role", "first-name", "last-name", "display-name", NULL};
    pb_error err = {0};
    pb_db *db = NULL;
    pb_user_row u;
    pb_workspace_row w;
    char key[PB_KEY_LEN + 1], scopes[PB_SCOPES_TEXT_MAX];
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        fputs(pb_cmd_user_usage, stderr);
        return 2;
    }
    if (!pb_cli_check_opts(argc, argv, 2, "user create", opts, NULL)) return 2;
    const char *email = pb_cli_opt(argc, argv, "email");
    const char *ws = pb_cli_opt(argc, argv, "workspace");
    int role = role_parse(pb_cli_opt(argc, argv, "role"));
    if (!email || !ws || !role) {
        fprintf(stderr, "planebridge user create: --email and --workspace are required; --role is admin, member or guest\n");
        return 2;
    }
    if (pb_cli_open_store(cli, "user", &db)) return 1;
    int rc = pb_as_workspace_get(db, ws, &w, &err);
    if (!rc) {
        rc = pb_as_user_get_by_email(db, email, &u, &err);
        if (rc == PB_ENOTFOUND)
            rc = pb_as_user_create(db, email, pb_cli_opt(argc, argv, "first-name"), pb_cli_opt(argc, argv, "last-name"),
                                   pb_cli_opt(argc, argv, "display-name"), &u, &err);
    }
    if (!rc) rc = pb_as_member_set(db, ws, u.id, role, &err);
    if (!rc) {
        pb_scope_format(pb_scope_ceiling(role), scopes, sizeof scopes);
        pb_key_spec spec = {.user_email = u.email, .scopes = scopes, .name = "created by user create"};
        rc = pb_apikey_create(db, &spec, key, sizeof key, NULL, &err);
    }
    if (rc)
        fprintf(stderr, "planebridge user create: %s\n", err.msg);
    else
        printf("%s\n", key);
    memset(key, 0, sizeof key);
    pb_db_free(db);
    return rc ? 1 : 0;
}
