/* cli: global flags, configuration loading and dispatch through pb_commands[] (commands.c).
 *
 * Exit codes: 0 ok, 1 failure (including a bad configuration), 2 usage error. Help goes to
 * stdout when asked for and to stderr when printed because of a usage error. */
#include "cli/cli.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: planebridge [--config FILE] <command> [options]\n"
                "\n"
                "planebridge is an integration hub for the Plane project-management tool:\n"
                "one daemon and one CLI over a store you own (SQLite or PostgreSQL).\n"
                "\n"
                "Commands:\n");
    int w = 12;
    for (const pb_cmd *c = pb_commands; c->name; c++)
        if ((int)strlen(c->name) > w) w = (int)strlen(c->name);
    for (const pb_cmd *c = pb_commands; c->name; c++)
        fprintf(fp, "  %-*s %s\n", w, c->name, c->summary);
    fprintf(fp, "\n"
                "Global options:\n"
                "  --config FILE  YAML configuration file (default: $PB_CONFIG if set, else none)\n"
                "  -h, --help     this help; `planebridge COMMAND --help` for one command\n"
                "  --version      print the version and exit\n"
                "\n"
                "Configuration precedence: defaults < --config file < PB_* environment < command flags.\n"
                "`planebridge config --help` lists every key.\n");
}

static const pb_cmd *find_cmd(const char *name)
{
    for (const pb_cmd *c = pb_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static void cmd_help(const pb_cmd *c, FILE *fp)
{
    fputs(c->usage, fp);
    /* Commands driven by the configuration show the key table under their usage. */
    if (c->run == pb_cmd_serve || c->run == pb_cmd_config) {
        fprintf(fp, "\nConfiguration keys (YAML file via --config; environment overrides; defaults):\n");
        pb_config_help(fp);
    }
}

/* Strips leading dashes so callers may write "listen" or "--listen". */
static const char *bare(const char *name)
{
    while (*name == '-')
        name++;
    return name;
}

int pb_cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

const char *pb_cli_opt(int argc, char **argv, const char *name)
{
    const char *n = bare(name);
    size_t nl = strlen(n);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, n, nl) != 0) continue;
        if (a[2 + nl] == '=') return a + 3 + nl;
        if (a[2 + nl] == '\0') return i + 1 < argc ? argv[i + 1] : NULL;
    }
    return NULL;
}

int pb_cli_flag(int argc, char **argv, const char *name)
{
    const char *n = bare(name);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, n) == 0) return 1;
    }
    return 0;
}

int pb_cli_main(int argc, char **argv)
{
    pb_cli cli;
    memset(&cli, 0, sizeof cli);
    const char *env_cfg = getenv("PB_CONFIG");
    cli.config_path = env_cfg && *env_cfg ? env_cfg : NULL;

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("planebridge %s\n", PB_VERSION);
            return 0;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "planebridge: --config needs a file\n");
                return 2;
            }
            cli.config_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            cli.config_path = a + 9;
            continue;
        }
        fprintf(stderr, "planebridge: unknown option '%s'\n\n", a);
        usage(stderr);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    int sub_argc = argc - i;
    char **sub_argv = argv + i;

    if (strcmp(sub_argv[0], "help") == 0) { /* `planebridge help [COMMAND]` */
        const pb_cmd *c = sub_argc > 1 ? find_cmd(sub_argv[1]) : NULL;
        if (sub_argc > 1 && !c) {
            fprintf(stderr, "planebridge: unknown command '%s'\n\n", sub_argv[1]);
            usage(stderr);
            return 2;
        }
        if (c)
            cmd_help(c, stdout);
        else
            usage(stdout);
        return 0;
    }
    const pb_cmd *cmd = find_cmd(sub_argv[0]);
    if (!cmd) {
        fprintf(stderr, "planebridge: unknown command '%s'\n\n", sub_argv[0]);
        usage(stderr);
        return 2;
    }
    /* Help never depends on the configuration being valid. */
    if (pb_cli_wants_help(sub_argc, sub_argv)) {
        cmd_help(cmd, stdout);
        return 0;
    }
    const char *cfg_flag = pb_cli_opt(sub_argc, sub_argv, "config");
    if (cfg_flag) cli.config_path = cfg_flag;

    pb_error err = {0};
    if (pb_config_load(&cli.cfg, cli.config_path, &err)) {
        fprintf(stderr, "planebridge: %s\n", err.msg);
        return 1;
    }
    pb_log_level = cli.cfg.log_level;
    return cmd->run(&cli, sub_argc, sub_argv);
}

int pb_cli_config_flags(pb_cli *cli, int argc, char **argv, const char *const *keys)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *name = NULL, *value = NULL;
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (nl == 6 && strncmp(a + 2, "config", 6) == 0) {
                if (!eq) i++;
                continue;
            }
            for (const char *const *k = keys; k && *k; k++)
                if (strlen(*k) == nl && strncmp(a + 2, *k, nl) == 0) name = *k;
            if (name) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
            }
        }
        if (!name) {
            fprintf(stderr, "planebridge %s: unexpected argument '%s' (see --help)\n", argv[0], a);
            return 2;
        }
        if (!value) {
            fprintf(stderr, "planebridge %s: --%s needs a value\n", argv[0], name);
            return 2;
        }
        pb_error err = {0};
        if (pb_config_set(&cli->cfg, name, value, &err)) {
            fprintf(stderr, "planebridge %s: %s\n", argv[0], err.msg);
            return 2;
        }
    }
    return 0;
}
