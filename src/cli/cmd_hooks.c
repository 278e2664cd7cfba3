/* `planebridge hooks`: see cmd_hooks.h. */
#include "cli/cmd_hooks.h"

#include "auth/vault.h"
#include "core/util.h"
#include "deliver/deliver.h"
#include "deliver/module.h"
#include "deliver/sign.h"
#include "store/deliver_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char pb_cmd_hooks_usage[] =
    "usage: planebridge [--config FILE] hooks SUBCOMMAND [options] [--store URL]\n"
    "\n"
    "Outbound webhook subscriptions (\"hooks\"): each delivers the workspace's domain events,\n"
    "signed, with retries (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, +-20 %).\n"
    "\n"
    "  add --workspace SLUG --url URL [--format standard|slack|pumble|plane]\n"
    "      [--events TYPE,...] [--project ID] [--description TEXT]\n"
    "        Creates a hook and prints its new signing secret alone on stdout (shown once;\n"
    "        whsec_... for standard, plane_wh_... for plane). The hook id goes to stderr.\n"
    "        --events limits it to those types (\"issue.*\" matches a family); default all.\n"
    "  list [--workspace SLUG] [--json]\n"
    "  show ID                      the hook as JSON, with message counts\n"
    "  update ID [--url URL] [--format F] [--events LIST|all] [--project ID|none]\n"
    "      [--description TEXT] [--active true|false]\n"
    "  disable ID\n"
    "  delete ID\n"
    "  rotate-secret ID             prints the new secret; for the standard format the old\n"
    "                               one keeps signing (second signature) for 24 h\n"
    "  test ID                      queues a webhook.test message; prints its msg id\n"
    "  log ID [--limit N] [--msg MSG_ID] [--json]\n"
    "                               every attempt: time, status, duration, next attempt\n"
    "  messages ID [--status pending|succeeded|failed|skipped] [--limit N]\n"
    "  replay MSG_ID                sends one message again (fresh schedule)\n"
    "  replay --hook ID --since TIME\n"
    "                               replays every failed message created since TIME (ISO-8601)\n"
    "  emit --workspace SLUG --type TYPE [--project ID] [--object ID] [--data JSON]\n"
    "                               writes a domain event into the outbox (testing, benchmarks)\n"
    "\n"
    "The daemon (`serve`) does the sending; these commands only change the store.\n"
    "Exit 0 ok, 1 failure, 2 usage error.\n";

/* Options that take a value (so their values are not mistaken for positionals). */
static const char *const valued[] = {"--workspace", "--url",    "--format", "--events", "--project", "--description",
                                     "--active",    "--limit",  "--msg",    "--status", "--hook",    "--since",
                                     "--type",      "--object", "--data",   "--store",  "--config",  NULL};

static const char *positional(int argc, char **argv, int want)
{
    int seen = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            if (!strchr(a, '='))
                for (int k = 0; valued[k]; k++)
                    if (strcmp(a, valued[k]) == 0) {
                        i++;
                        break;
                    }
            continue;
        }
        if (seen++ == want) return a;
    }
    return NULL;
}

static int usage_err(const char *msg)
{
    fprintf(stderr, "planebridge hooks: %s (see planebridge hooks --help)\n", msg);
    return 2;
}

typedef struct ctx {
    pb_db *db;
    pb_vault *vault;
    pb_deliver *d;
} ctx;

static int open_all(pb_cli *cli, ctx *c, int need_vault)
{
    pb_error err = {0};
    memset(c, 0, sizeof *c);
    pb_db_options dbo = {.pool_size = 2};
    if (pb_db_open(cli->cfg.store, &dbo, &c->db, &err) || pb_db_migrate(c->db, &err)) {
        fprintf(stderr, "planebridge hooks: cannot open the store: %s\n", err.msg);
        return 1;
    }
    int rc = pb_vault_open(c->db, cli->cfg.master_key_file, &c->vault, &err);
    if (rc == PB_ENOTFOUND && need_vault) {
        rc = pb_vault_create_key_file(cli->cfg.master_key_file, &err);
        if (!rc) rc = pb_vault_open(c->db, cli->cfg.master_key_file, &c->vault, &err);
    }
    if (rc && need_vault) {
        fprintf(stderr, "planebridge hooks: cannot open the vault: %s\n", err.msg);
        return 1;
    }
    pb_error_clear(&err);
    pb_deliver_options o;
    pb_deliver_options_from_config(&cli->cfg, c->db, c->vault, &o);
    if (pb_deliver_new(&o, &c->d, &err)) {
        fprintf(stderr, "planebridge hooks: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static void close_all(ctx *c)
{
    pb_deliver_free(c->d);
    pb_vault_free(c->vault);
    pb_db_free(c->db);
}

static int report(const char *what, const pb_error *err)
{
    fprintf(stderr, "planebridge hooks %s: %s%s%s\n", what, err->field[0] ? err->field : "",
            err->field[0] ? ": " : "", err->msg[0] ? err->msg : pb_strerror(err->code));
    return 1;
}

static void copy_opt(int argc, char **argv, const char *name, char *dst, size_t n)
{
    const char *v = pb_cli_opt(argc, argv, name);
    if (v) pb_strlcpy(dst, v, n);
}

static void fmt_time(int64_t us, char *out, size_t n)
{
    if (us) pb_time_iso(us, out, n);
    else pb_strlcpy(out, "-", n);
}

static int do_add(ctx *c, int argc, char **argv)
{
    pb_hook h;
    memset(&h, 0, sizeof h);
    copy_opt(argc, argv, "workspace", h.workspace_slug, sizeof h.workspace_slug);
    copy_opt(argc, argv, "url", h.url, sizeof h.url);
    pb_strlcpy(h.format, "standard", sizeof h.format);
    copy_opt(argc, argv, "format", h.format, sizeof h.format);
    copy_opt(argc, argv, "events", h.events, sizeof h.events);
    copy_opt(argc, argv, "project", h.project_id, sizeof h.project_id);
    copy_opt(argc, argv, "description", h.description, sizeof h.description);
    if (!h.workspace_slug[0] || !h.url[0]) return usage_err("add needs --workspace and --url");
    char secret[PB_SW_SECRET_MAX * 2];
    pb_error err = {0};
    if (pb_deliver_hook_create(c->d, &h, secret, sizeof secret, &err)) return report("add", &err);
    printf("%s\n", secret);
    fflush(stdout);
    fprintf(stderr, "created hook %s (%s, %s)\n", h.id, h.format, h.event_mode);
    memset(secret, 0, sizeof secret);
    return 0;
}

static int do_list(ctx *c, int argc, char **argv)
{
    pb_hook *hs = NULL;
    size_t n = 0;
    pb_error err = {0};
    if (pb_deliver_hook_list(c->d, pb_cli_opt(argc, argv, "workspace"), &hs, &n, &err)) return report("list", &err);
    int json = pb_cli_flag(argc, argv, "json");
    pb_buf b;
    pb_buf_init(&b, 0);
    if (json) pb_buf_putc(&b, '[');
    else if (n) printf("%-36s  %-16s  %-8s  %-6s  %-20s  %s\n", "ID", "WORKSPACE", "FORMAT", "ACTIVE", "EVENTS", "URL");
    for (size_t i = 0; i < n; i++) {
        if (json) {
            if (i) pb_buf_putc(&b, ',');
            pb_deliver_hook_json(&hs[i], &b);
        } else {
            printf("%-36s  %-16s  %-8s  %-6s  %-20s  %s\n", hs[i].id, hs[i].workspace_slug, hs[i].format,
                   hs[i].active ? "yes" : "no", hs[i].events[0] ? hs[i].events : "all", hs[i].url);
        }
    }
    if (json) {
        pb_buf_putc(&b, ']');
        printf("%s\n", pb_buf_cstr(&b));
    }
    pb_buf_free(&b);
    free(hs);
    return 0;
}

static int do_show(ctx *c, const char *id)
{
    pb_hook h;
    pb_error err = {0};
    if (pb_deliver_hook_get(c->d, id, &h, &err)) return report("show", &err);
    pb_buf b;
    pb_buf_init(&b, 0);
    pb_deliver_hook_json(&h, &b);
    pb_conn *cn = NULL;
    int64_t pend = 0, ok = 0, failed = 0;
    if (!pb_db_acquire(c->db, &cn, NULL)) {
        pb_dstore_delivery_counts(cn, h.id, &pend, &ok, &failed, NULL);
        pb_db_release(c->db, cn);
    }
    b.len--;
    pb_buf_printf(&b, ",\"messages\":{\"pending\":%lld,\"succeeded\":%lld,\"failed\":%lld}}", (long long)pend,
                  (long long)ok, (long long)failed);
    printf("%s\n", pb_buf_cstr(&b));
    pb_buf_free(&b);
    return 0;
}

static int do_update(ctx *c, const char *id, int argc, char **argv)
{
    pb_hook h;
    pb_error err = {0};
    if (pb_deliver_hook_get(c->d, id, &h, &err)) return report("update", &err);
    copy_opt(argc, argv, "url", h.url, sizeof h.url);
    copy_opt(argc, argv, "format", h.format, sizeof h.format);
    copy_opt(argc, argv, "description", h.description, sizeof h.description);
    const char *ev = pb_cli_opt(argc, argv, "events");
    if (ev) {
        int all = strcmp(ev, "all") == 0 || !*ev;
        pb_strlcpy(h.events, all ? "" : ev, sizeof h.events);
        pb_strlcpy(h.event_mode, all ? "all" : "individual", sizeof h.event_mode);
    }
    const char *pr = pb_cli_opt(argc, argv, "project");
    if (pr) pb_strlcpy(h.project_id, strcmp(pr, "none") == 0 ? "" : pr, sizeof h.project_id);
    const char *act = pb_cli_opt(argc, argv, "active");
    if (act) {
        if (strcmp(act, "true") != 0 && strcmp(act, "false") != 0) return usage_err("--active takes true or false");
        h.active = strcmp(act, "true") == 0;
        if (!h.active) pb_strlcpy(h.disabled_reason, "disabled by an operator", sizeof h.disabled_reason);
    }
    if (pb_deliver_hook_save(c->d, &h, &err)) return report("update", &err);
    return do_show(c, id);
}

static int do_log(ctx *c, const char *id, int argc, char **argv)
{
    int64_t limit = 50;
    const char *l = pb_cli_opt(argc, argv, "limit");
    if (l && pb_parse_i64(l, 1, 100000, &limit)) return usage_err("--limit takes a positive number");
    pb_conn *cn = NULL;
    pb_attempt *as = NULL;
    size_t n = 0;
    pb_error err = {0};
    pb_hook h;
    if (pb_deliver_hook_get(c->d, id, &h, &err)) return report("log", &err);
    int rc = pb_db_acquire(c->db, &cn, &err);
    if (!rc) rc = pb_dstore_attempt_list(cn, id, pb_cli_opt(argc, argv, "msg"), (int)limit, &as, &n, &err);
    pb_db_release(c->db, cn);
    if (rc) return report("log", &err);
    int json = pb_cli_flag(argc, argv, "json");
    pb_buf b;
    pb_buf_init(&b, 0);
    if (json) pb_buf_putc(&b, '[');
    else if (n)
        printf("%-27s  %-36s  %3s  %-9s  %6s  %7s  %-10s  %-27s  %s\n", "TIME", "MSG", "#", "TRIGGER", "STATUS",
               "MS", "OUTCOME", "NEXT ATTEMPT", "ERROR");
    for (size_t i = 0; i < n; i++) {
        if (json) {
            if (i) pb_buf_putc(&b, ',');
            pb_deliver_attempt_json(&as[i], &b);
            continue;
        }
        char t[40], nx[40];
        fmt_time(as[i].started_at, t, sizeof t);
        fmt_time(as[i].next_attempt_at, nx, sizeof nx);
        printf("%-27s  %-36s  %3d  %-9s  %6d  %7d  %-10s  %-27s  %s\n", t, as[i].msg_id, as[i].attempt, as[i].trigger,
               as[i].http_status, as[i].duration_ms, as[i].outcome, nx, as[i].error);
    }
    if (json) {
        pb_buf_putc(&b, ']');
        printf("%s\n", pb_buf_cstr(&b));
    }
    pb_buf_free(&b);
    pb_attempt_free_array(as, n);
    return 0;
}

static int do_messages(ctx *c, const char *id, int argc, char **argv)
{
    int64_t limit = 50;
    const char *l = pb_cli_opt(argc, argv, "limit");
    if (l && pb_parse_i64(l, 1, 100000, &limit)) return usage_err("--limit takes a positive number");
    pb_conn *cn = NULL;
    pb_delivery *ms = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = pb_db_acquire(c->db, &cn, &err);
    if (!rc) rc = pb_dstore_delivery_list(cn, id, pb_cli_opt(argc, argv, "status"), (int)limit, &ms, &n, &err);
    pb_db_release(c->db, cn);
    if (rc) return report("messages", &err);
    pb_buf b;
    pb_buf_init(&b, 0);
    pb_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) pb_buf_putc(&b, ',');
        pb_deliver_delivery_json(&ms[i], &b);
    }
    pb_buf_putc(&b, ']');
    printf("%s\n", pb_buf_cstr(&b));
    pb_buf_free(&b);
    pb_delivery_free_array(ms, n);
    return 0;
}

static int do_replay(ctx *c, int argc, char **argv)
{
    pb_error err = {0};
    const char *msg = positional(argc, argv, 0);
    if (msg) {
        if (pb_deliver_replay(c->d, msg, &err)) return report("replay", &err);
        printf("replayed 1\n");
        return 0;
    }
    const char *hook = pb_cli_opt(argc, argv, "hook"), *since = pb_cli_opt(argc, argv, "since");
    if (!hook || !since) return usage_err("replay needs MSG_ID, or --hook ID --since TIME");
    int64_t t;
    if (pb_time_parse(since, &t)) return usage_err("--since takes an ISO-8601 time");
    int64_t count = 0;
    if (pb_deliver_replay_since(c->d, hook, t, &count, &err)) return report("replay", &err);
    printf("replayed %lld\n", (long long)count);
    return 0;
}

static int do_emit(ctx *c, int argc, char **argv)
{
    pb_error err = {0};
    int64_t id = 0;
    if (pb_deliver_emit(c->d, pb_cli_opt(argc, argv, "type"), pb_cli_opt(argc, argv, "workspace"),
                        pb_cli_opt(argc, argv, "project"), pb_cli_opt(argc, argv, "object"),
                        pb_cli_opt(argc, argv, "data"), &id, &err))
        return report("emit", &err);
    printf("%lld\n", (long long)id);
    return 0;
}

int pb_cmd_hooks(pb_cli *cli, int argc, char **argv)
{
    if (pb_cli_wants_help(argc, argv) || argc < 2) {
        fputs(pb_cmd_hooks_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    const char *store = pb_cli_opt(argc, argv, "store");
    if (store) pb_strlcpy(cli->cfg.store, store, sizeof cli->cfg.store);
    static const char *const known[] = {"add", "list", "show", "update", "disable", "delete", "rotate-secret",
                                        "test", "log", "messages", "replay", "emit", NULL};
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= strcmp(sub, known[i]) == 0;
    if (!ok) return usage_err("unknown subcommand");
    int needs_id = strcmp(sub, "show") == 0 || strcmp(sub, "update") == 0 || strcmp(sub, "disable") == 0 ||
                   strcmp(sub, "delete") == 0 || strcmp(sub, "rotate-secret") == 0 || strcmp(sub, "test") == 0 ||
                   strcmp(sub, "log") == 0 || strcmp(sub, "messages") == 0;
    const char *id = positional(argc, argv, 0);
    if (needs_id && !id) return usage_err("this subcommand needs a hook ID");
    ctx c;
    int need_vault = strcmp(sub, "add") == 0 || strcmp(sub, "rotate-secret") == 0;
    int code = open_all(cli, &c, need_vault);
    if (code) {
        close_all(&c);
        return code;
    }
    pb_error err = {0};
    if (strcmp(sub, "add") == 0) code = do_add(&c, argc, argv);
    else if (strcmp(sub, "list") == 0) code = do_list(&c, argc, argv);
    else if (strcmp(sub, "show") == 0) code = do_show(&c, id);
    else if (strcmp(sub, "update") == 0) code = do_update(&c, id, argc, argv);
    else if (strcmp(sub, "disable") == 0) {
        code = pb_deliver_hook_disable(c.d, id, "disabled by an operator", &err) ? report("disable", &err) : 0;
        if (!code) printf("disabled %s\n", id);
    } else if (strcmp(sub, "delete") == 0) {
        code = pb_deliver_hook_delete(c.d, id, &err) ? report("delete", &err) : 0;
        if (!code) printf("deleted %s\n", id);
    } else if (strcmp(sub, "rotate-secret") == 0) {
        char secret[PB_SW_SECRET_MAX * 2];
        code = pb_deliver_hook_rotate(c.d, id, secret, sizeof secret, &err) ? report("rotate-secret", &err) : 0;
        if (!code) printf("%s\n", secret);
        memset(secret, 0, sizeof secret);
    } else if (strcmp(sub, "test") == 0) {
        char msg[80];
        code = pb_deliver_hook_test(c.d, id, msg, sizeof msg, &err) ? report("test", &err) : 0;
        if (!code) printf("%s\n", msg);
    } else if (strcmp(sub, "log") == 0) code = do_log(&c, id, argc, argv);
    else if (strcmp(sub, "messages") == 0) code = do_messages(&c, id, argc, argv);
    else if (strcmp(sub, "replay") == 0) code = do_replay(&c, argc, argv);
    else code = do_emit(&c, argc, argv);
    close_all(&c);
    return code;
}
