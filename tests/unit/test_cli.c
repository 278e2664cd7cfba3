/* CLI: option helpers, the command table and pb_cli_main's exit codes. */
#include "test.h"
#include "cli/cli.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Commands print; keep the test log readable by sending their stdout/stderr to /dev/null
 * while they run (the test's own failure messages still reach stderr). */
static int saved_out = -1, saved_err = -1;
static void mute(void)
{
    fflush(stdout);
    fflush(stderr);
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) return;
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}
static void unmute(void)
{
    fflush(stdout);
    fflush(stderr);
    if (saved_out >= 0) dup2(saved_out, 1), close(saved_out);
    if (saved_err >= 0) dup2(saved_err, 2), close(saved_err);
    saved_out = saved_err = -1;
}
#define QUIET(expr) (mute(), quiet_rc = (expr), unmute(), quiet_rc)
static int quiet_rc;

/* Mutable argv vectors from literals (static storage: no leaks, no const casts). */
static char arg_pool[256][128];
static char *vec_pool[32][17];
static int arg_used, vec_used;

static char **argv_of(int *argc, ...)
{
    va_list ap;
    va_start(ap, argc);
    char **v = vec_pool[vec_used++ % 32];
    int n = 0;
    for (const char *a; n < 16 && (a = va_arg(ap, const char *)) != NULL; n++) {
        char *slot = arg_pool[arg_used++ % 256];
        snprintf(slot, sizeof arg_pool[0], "%s", a);
        v[n] = slot;
    }
    v[n] = NULL;
    va_end(ap);
    if (argc) *argc = n;
    return v;
}

/* Calls pb_cli_main with a NULL-terminated vector. */
static int run_main(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return QUIET(pb_cli_main(n, v));
}
#define ARGV(...) argv_of(NULL, __VA_ARGS__, (const char *)NULL)
#define RUN(...)  run_main(ARGV(__VA_ARGS__))

PB_TEST(cli_opt_and_flag)
{
    char **v =
        ARGV("serve", "--listen", "127.0.0.1:1", "--store=sqlite:x.db", "--dry-run", "--", "--late", "y");
    int n = 8;
    PB_CHECK_STR(pb_cli_opt(n, v, "listen"), "127.0.0.1:1");
    PB_CHECK_STR(pb_cli_opt(n, v, "--store"), "sqlite:x.db");
    PB_CHECK(pb_cli_opt(n, v, "late") == NULL); /* after "--" */
    PB_CHECK(pb_cli_opt(n, v, "list") == NULL); /* no prefix matches */
    PB_CHECK(pb_cli_flag(n, v, "dry-run") == 1);
    PB_CHECK(pb_cli_flag(n, v, "late") == 0);
    PB_CHECK(pb_cli_wants_help(n, v) == 0);
    PB_CHECK(pb_cli_wants_help(3, ARGV("keys", "list", "-h")) == 1);
    PB_CHECK(pb_cli_wants_help(3, ARGV("keys", "--", "--help")) == 0);
    PB_CHECK(pb_cli_opt(2, ARGV("serve", "--listen"), "listen") == NULL); /* missing value */
}

PB_TEST(cli_command_table)
{
    static const char *const required[] = {"serve", "migrate", "doctor", "version", "config"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int found = 0;
        for (const pb_cmd *c = pb_commands; c->name; c++)
            if (strcmp(c->name, required[i]) == 0) found = 1;
        if (!found) pb_test_fail(__FILE__, __LINE__, "command %s missing", required[i]);
    }
    for (const pb_cmd *c = pb_commands; c->name; c++) {
        PB_CHECK(c->run != NULL);
        PB_CHECK(c->summary && c->summary[0]);
        /* Every usage text starts with the usage line and names its command. */
        PB_CHECK(c->usage && strncmp(c->usage, "usage: planebridge", 18) == 0);
        PB_CHECK(c->usage && strstr(c->usage, c->name) != NULL);
        for (const pb_cmd *d = pb_commands; d != c; d++)
            PB_CHECK(strcmp(c->name, d->name) != 0);
    }
}

PB_TEST(cli_config_flags)
{
    pb_cli cli;
    memset(&cli, 0, sizeof cli);
    pb_config_defaults(&cli.cfg);
    static const char *const keys[] = {"listen", "store", NULL};
    PB_CHECK_EQ_INT(pb_cli_config_flags(&cli, 5,
                                        ARGV("serve", "--listen", "127.0.0.1:9", "--store=sqlite:/tmp/a.db",
                                             "--config=x.yaml"),
                                        keys),
                    0);
    PB_CHECK_STR(cli.cfg.listen, "127.0.0.1:9");
    PB_CHECK_STR(cli.cfg.store, "sqlite:/tmp/a.db");
    PB_CHECK_EQ_INT(QUIET(pb_cli_config_flags(&cli, 3, ARGV("serve", "--threads", "4"), keys)),
                    2); /* not allowed */
    PB_CHECK_EQ_INT(QUIET(pb_cli_config_flags(&cli, 2, ARGV("serve", "--listen"), keys)), 2); /* no value */
    PB_CHECK_EQ_INT(QUIET(pb_cli_config_flags(&cli, 3, ARGV("serve", "--store", "mysql://x"), keys)), 2);
    PB_CHECK_EQ_INT(QUIET(pb_cli_config_flags(&cli, 2, ARGV("serve", "extra"), keys)), 2);
    PB_CHECK_STR(cli.cfg.store, "sqlite:/tmp/a.db"); /* bad values change nothing */
}

PB_TEST(cli_main_exit_codes)
{
    unsetenv("PB_CONFIG");
    PB_CHECK_EQ_INT(RUN("planebridge", "--help"), 0);
    PB_CHECK_EQ_INT(RUN("planebridge", "-h"), 0);
    PB_CHECK_EQ_INT(RUN("planebridge", "--version"), 0);
    PB_CHECK_EQ_INT(RUN("planebridge"), 2);
    PB_CHECK_EQ_INT(RUN("planebridge", "no-such"), 2);
    PB_CHECK_EQ_INT(RUN("planebridge", "--bogus"), 2);
    PB_CHECK_EQ_INT(RUN("planebridge", "--config"), 2);
    for (const pb_cmd *c = pb_commands; c->name; c++) {
        char name[64];
        snprintf(name, sizeof name, "%s", c->name);
        if (RUN("planebridge", name, "--help") != 0)
            pb_test_fail(__FILE__, __LINE__, "%s --help did not exit 0", c->name);
    }
    PB_CHECK_EQ_INT(RUN("planebridge", "help", "serve"), 0);
    PB_CHECK_EQ_INT(RUN("planebridge", "version"), 0);
    PB_CHECK_EQ_INT(RUN("planebridge", "config"), 0);
    /* A bad configuration fails before the command runs; --help still works. */
    char path[600];
    snprintf(path, sizeof path, "%s/bad.yaml", pb_test_tmpdir());
    FILE *fp = fopen(path, "w");
    PB_REQUIRE(fp);
    fputs("max_body: 1\n", fp);
    fclose(fp);
    PB_CHECK_EQ_INT(RUN("planebridge", "--config", path, "config"), 1);
    PB_CHECK_EQ_INT(RUN("planebridge", "config", "--config", path), 1);
    PB_CHECK_EQ_INT(RUN("planebridge", "--config", path, "config", "--help"), 0);
    setenv("PB_CONFIG", path, 1);
    PB_CHECK_EQ_INT(RUN("planebridge", "config"), 1);
    unsetenv("PB_CONFIG");
}
