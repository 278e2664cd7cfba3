/* `planebridge plan|apply|import|export|policy`: direct population of a Plane workspace
 * (src/populate). Target: the workspace's upstream when it is connected (the sync module's
 * `workspace-connect`, key from the vault) or --upstream URL (key from $PB_UPSTREAM_API_KEY),
 * else the local standalone workspace, in-process. Writes need the workspace's writeback
 * policy to be `explicit` or `enabled` (`planebridge policy SLUG explicit`). */
#include "auth/vault.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "core/log.h"
#include "core/util.h"
#include "populate/apply.h"
#include "populate/importer.h"
#include "populate/target.h"
#include "populate/template.h"
#include "store/auth_store.h"
#include "store/populate_store.h"
#include "store/sync_store.h"
#include "sync/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pb_cmd_plan(pb_cli *cli, int argc, char **argv);
int pb_cmd_apply(pb_cli *cli, int argc, char **argv);
int pb_cmd_import(pb_cli *cli, int argc, char **argv);
int pb_cmd_export(pb_cli *cli, int argc, char **argv);
int pb_cmd_policy(pb_cli *cli, int argc, char **argv);

#define TARGET_HELP                                                                                                 \
    "Target: the workspace's upstream Plane when SLUG is connected (`planebridge workspace-connect`),\n"          \
    "or --upstream URL [--upstream-workspace SLUG2] with the key in $PB_UPSTREAM_API_KEY, else the\n"              \
    "local standalone workspace SLUG, run in-process as its first admin (or --as EMAIL).\n"                       \
    "Writes pass the writeback gate: the workspace's policy must be explicit or enabled\n"                         \
    "(`planebridge policy SLUG explicit`); every write leaves an ops.run_events row.\n"

const char pb_cmd_plan_usage[] =
    "usage: planebridge plan TEMPLATE --workspace SLUG [--vars FILE]... [--var NAME=VALUE]...\n"
    "                        [--instance NAME] [--today YYYY-MM-DD] [--json] [--refresh] [target options]\n"
    "\n"
    "Expands the YAML template with the variables and prints what `apply` would create, update\n"
    "or leave unchanged (one line per object, or the JSON report with --json). Reads only.\n" TARGET_HELP;

const char pb_cmd_apply_usage[] =
    "usage: planebridge apply TEMPLATE --workspace SLUG [--vars FILE]... [--var NAME=VALUE]...\n"
    "                         [--instance NAME] [--today YYYY-MM-DD] [--refresh] [target options]\n"
    "\n"
    "Creates the template's project, states, labels, cycles, modules, members and work items,\n"
    "idempotently: objects carry external_source planebridge and a stable external_id, a second\n"
    "apply changes nothing, an edited template updates only what changed, an interrupted apply\n"
    "resumes. Objects whose part of the template did not change since the last apply are not\n"
    "even read (edits made in Plane survive); --refresh compares every work item with Plane\n"
    "again and recreates those deleted there. Relative dates count from the day the instance\n"
    "was first applied (or --today), so a later re-apply does not move them.\n"
    "Draws a progress bar on a terminal (stderr) and prints a JSON report on stdout (created,\n"
    "updated, unchanged, failed with reasons, request counts). Exit 1 on failures.\n" TARGET_HELP;

const char pb_cmd_import_usage[] =
    "usage: planebridge import csv|jira-csv|jira-json FILE --workspace SLUG --project ID\n"
    "       planebridge import project FILE --workspace SLUG\n"
    "\n"
    "csv        Plane's columns: name, description_html, priority, start_date, target_date,\n"
    "           state_group (optional: external_id, parent = a parent's external_id or name,\n"
    "           labels separated by ';').\n"
    "jira-csv   Jira's CSV export: Summary, Issue key, Issue Type, Status, Priority, Assignee,\n"
    "           Reporter, Parent, Labels, Due date, Created, Description (Comment columns\n"
    "           become comments; Created and Reporter set created_at / created_by).\n"
    "jira-json  Jira's REST search/export JSON ({\"issues\":[{key, fields:{...}}]}), with\n"
    "           subtasks, comments and Atlassian Document Format descriptions.\n"
    "project    a file written by `planebridge export` (creates the project).\n"
    "Re-importing updates and never duplicates (the row id / Jira key is the external id);\n"
    "parents are created before children. Bad rows are skipped and listed in the JSON report\n"
    "(\"rows\": line and reason). Exit 1 when any row or object failed.\n" TARGET_HELP;

const char pb_cmd_export_usage[] =
    "usage: planebridge export --workspace SLUG --project ID [--out FILE] [target options]\n"
    "\n"
    "Writes the project (settings, states, labels, cycles, modules, members, work items with\n"
    "hierarchy, memberships and relations; no ids or timestamps) as JSON that `planebridge\n"
    "import project` reads back; export -> import -> export gives identical files.\n";

const char pb_cmd_policy_usage[] =
    "usage: planebridge policy SLUG [disabled|explicit|enabled]\n"
    "\n"
    "Shows or sets the workspace's writeback policy: disabled (default: planebridge never\n"
    "writes to Plane), explicit (operator commands such as apply and import may write),\n"
    "enabled (automations may write too).\n";

static const char *const target_opts[] = {"workspace", "as", "upstream", "upstream-workspace", NULL};

/* Every "--name VALUE" / "--name=VALUE" occurrence, in order. */
static int collect(int argc, char **argv, const char *name, const char **out, int max)
{
    int n = 0;
    size_t nl = strlen(name);
    for (int i = 1; i < argc && n < max; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || strncmp(a + 2, name, nl)) continue;
        if (a[2 + nl] == '=') out[n++] = a + 3 + nl;
        else if (!a[2 + nl] && i + 1 < argc) out[n++] = argv[++i];
    }
    return n;
}

typedef struct cmdctx {
    pb_db *db;
    pb_pop_target *t;
    pb_vault *vault;
    const char *slug;
} cmdctx;

static void ctx_free(cmdctx *c)
{
    pb_pop_target_free(c->t);
    pb_vault_free(c->vault);
    pb_db_free(c->db);
}

static int open_target(pb_cli *cli, int argc, char **argv, const char *cmd, cmdctx *c, const char *source)
{
    pb_error err = {0};
    memset(c, 0, sizeof *c);
    c->slug = pb_cli_opt(argc, argv, "workspace");
    if (!c->slug || !*c->slug) {
        fprintf(stderr, "planebridge %s: --workspace SLUG is required\n", cmd);
        return 2;
    }
    /* SQLite: synchronous=NORMAL (WAL) for this operator command: a crash or kill -9 loses
     * nothing committed, a power loss at most the last commits, which a re-run (idempotent)
     * redoes; FULL would cost three fsyncs per created item. */
    pb_db_options dbo = {.pool_size = 4, .sqlite_synchronous = 1};
    if (pb_db_open(cli->cfg.store, &dbo, &c->db, &err) || pb_db_migrate(c->db, &err)) {
        fprintf(stderr, "planebridge %s: cannot open the store: %s\n", cmd, err.msg);
        return 1;
    }
    const char *up = pb_cli_opt(argc, argv, "upstream");
    int rc = 0;
    if (up) {
        const char *key = getenv("PB_UPSTREAM_API_KEY");
        if (!key || !*key) {
            fprintf(stderr, "planebridge %s: --upstream needs the API key in $PB_UPSTREAM_API_KEY\n", cmd);
            return 2;
        }
        const char *uws = pb_cli_opt(argc, argv, "upstream-workspace");
        rc = pb_pop_target_remote(c->db, up, uws ? uws : c->slug, c->slug, key, &c->t, &err);
    } else {
        pb_ss_install *in = NULL;
        size_t n = 0;
        if (pb_ss_installs(c->db, c->slug, &in, &n, NULL) == 0 && n > 0 && in[0].upstream_url[0]) {
            /* a connected workspace: its upstream, with the key stored by workspace-connect */
            char *name = NULL, *key = NULL;
            size_t klen = 0;
            struct stat st;
            const char *kf = cli->cfg.master_key_file;
            if (kf[0] && stat(kf, &st) != 0) rc = pb_error_set(&err, PB_ECONFIG, "no vault master key (%s)", kf);
            if (!rc) rc = pb_vault_open(c->db, kf, &c->vault, &err);
            if (!rc) rc = pb_as_token_ref_get(c->db, c->slug, "", PB_SYNC_KEY_PURPOSE, &name, &err);
            if (!rc) rc = pb_vault_get(c->vault, name, &key, &klen, &err);
            if (!rc) rc = pb_pop_target_remote(c->db, in[0].upstream_url, c->slug, c->slug, key, &c->t, &err);
            if (key) pb_vault_secret_free(key);
            free(name);
        } else {
            rc = pb_pop_target_local(c->db, &cli->cfg, c->slug, pb_cli_opt(argc, argv, "as"), &c->t, &err);
        }
        free(in);
    }
    if (rc) {
        fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg[0] ? err.msg : pb_strerror(rc));
        return 1;
    }
    /* audit rows name the operator: the acting admin locally, the OS user for an upstream */
    char actor[160] = "";
    const char *user = getenv("USER");
    if (up || c->vault) snprintf(actor, sizeof actor, "cli:%.100s", user && *user ? user : "unknown");
    pb_pop_target_set_gate(c->t, source, PB_GATE_OPERATOR, actor[0] ? actor : NULL);
    return 0;
}

static int g_tty;

static void progress(void *ctx, int64_t done, int64_t total)
{
    (void)ctx;
    if (!g_tty || total <= 0) return;
    if (done != total && done % 5) return;
    int w = 30, f = (int)(done * w / (total ? total : 1));
    if (f > w) f = w;
    char bar[40];
    for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r[%s] %lld/%lld", bar, (long long)done, (long long)total);
    if (done >= total) fputc('\n', stderr);
    fflush(stderr);
}

static void print_json(const cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s) puts(s);
    free(s);
}

static void print_plan(const cJSON *rep)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(rep, "objects"))
    {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "fields");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        printf("%-9s %-13s %s", a->valuestring, k->valuestring, id->valuestring);
        if (f) {
            char *fs = cJSON_PrintUnformatted(f);
            printf(" %s", fs ? fs : "");
            free(fs);
        }
        if (cJSON_IsString(e)) printf("  (%s)", e->valuestring);
        putchar('\n');
    }
    const char *keys[] = {"created", "updated", "unchanged", "failed"};
    const char *words[] = {"create", "update", "unchanged", "failed"};
    printf("plan:");
    for (int i = 0; i < 4; i++)
        printf(" %d %s%s", cJSON_GetObjectItemCaseSensitive(rep, keys[i])->valueint, words[i], i < 3 ? "," : "\n");
}

static int quiet_logs(pb_cli *cli)
{
    /* in-process requests log access lines; keep the terminal for the report */
    int lvl = cli->cfg.log_level;
    pb_log_level = lvl < PB_LOG_WARN ? PB_LOG_WARN : lvl;
    if (getenv("PB_POPULATE_DEBUG")) pb_log_level = PB_LOG_DEBUG;
    return 0;
}

static int run_template(pb_cli *cli, int argc, char **argv, int dry)
{
    const char *cmd = dry ? "plan" : "apply";
    static const char *const allowed[] = {"workspace", "as", "upstream", "upstream-workspace", "vars", "var",
                                          "instance", "today", "json", "refresh", NULL};
    static const char *const flags[] = {"json", "refresh", NULL};
    (void)target_opts;
    const char *file = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    if (!file) {
        fprintf(stderr, "planebridge %s: needs a TEMPLATE file first\n", cmd);
        return 2;
    }
    if (!pb_cli_check_opts(argc, argv, 2, cmd, allowed, flags)) return 2;
    quiet_logs(cli);
    pb_error err = {0};
    pb_tpl *tpl = NULL;
    cJSON *vars = NULL, *spec = NULL, *rep = NULL;
    cmdctx c;
    memset(&c, 0, sizeof c);
    int code = 1;
    if (pb_tpl_load_file(file, &tpl, &err)) {
        fprintf(stderr, "planebridge %s: %s: %s\n", cmd, file, err.msg);
        goto out;
    }
    const char *vf[32], *vv[256];
    int nvf = collect(argc, argv, "vars", vf, 32), nvv = collect(argc, argv, "var", vv, 256);
    for (int i = 0; i < nvf; i++) {
        char *text = NULL;
        size_t len = 0;
        int rc = pb_read_file(vf[i], (size_t)1 << 20, &text, &len);
        if (rc) {
            fprintf(stderr, "planebridge %s: cannot read %s: %s\n", cmd, vf[i], pb_strerror(rc));
            goto out;
        }
        rc = pb_tpl_vars_merge_text(&vars, text, len, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "planebridge %s: %s: %s\n", cmd, vf[i], err.msg);
            goto out;
        }
    }
    for (int i = 0; i < nvv; i++)
        if (pb_tpl_vars_set(&vars, vv[i], &err)) {
            fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg);
            code = 2;
            goto out;
        }
    int orc = open_target(cli, argc, argv, cmd, &c, dry ? "populate.plan" : "populate.apply");
    if (orc) {
        code = orc;
        goto out;
    }
    const char *today = pb_cli_opt(argc, argv, "today");
    if (pb_tpl_expand(tpl, vars, pb_cli_opt(argc, argv, "instance"), today, &spec, &err)) {
        fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg);
        goto out;
    }
    if (!today) {
        /* "today" (and what counts from it) is pinned to the first apply of this instance, so
         * a re-apply on a later day does not move every date */
        char first[11];
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(spec, "instance");
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(spec, "today");
        if (cJSON_IsString(inst) && cJSON_IsString(cur) &&
            pb_pop_pinned_today(c.db, c.t, pb_tpl_name(tpl), inst->valuestring, first) == 0 &&
            strcmp(first, cur->valuestring) != 0) {
            cJSON *again = NULL;
            if (pb_tpl_expand(tpl, vars, pb_cli_opt(argc, argv, "instance"), first, &again, &err) == 0) {
                cJSON_Delete(spec);
                spec = again;
            }
        }
    }
    g_tty = !dry && isatty(2);
    pb_pop_opts o = {.dry_run = dry, .kind = "apply", .progress = progress, .refresh = pb_cli_flag(argc, argv, "refresh")};
    const char *ex = getenv("PB_POPULATE_EXIT_AFTER_WRITES"); /* tests: a simulated kill -9 */
    int64_t exn = 0;
    if (ex && !pb_parse_i64(ex, 1, 100000000, &exn)) o.exit_after_writes = exn;
    int rc = pb_pop_apply(c.t, c.db, spec, &o, &rep, &err);
    if (dry && !pb_cli_flag(argc, argv, "json") && rep) print_plan(rep);
    else if (rep) print_json(rep);
    if (rc) fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg[0] ? err.msg : pb_strerror(rc));
    code = rc ? 1 : (cJSON_GetObjectItemCaseSensitive(rep, "failed")->valueint > 0 ? 1 : 0);
out:
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    cJSON_Delete(vars);
    pb_tpl_free(tpl);
    ctx_free(&c);
    return code;
}

int pb_cmd_plan(pb_cli *cli, int argc, char **argv)
{
    return run_template(cli, argc, argv, 1);
}

int pb_cmd_apply(pb_cli *cli, int argc, char **argv)
{
    return run_template(cli, argc, argv, 0);
}

int pb_cmd_import(pb_cli *cli, int argc, char **argv)
{
    static const char *const allowed[] = {"workspace", "as", "upstream", "upstream-workspace", "project", "json",
                                          "dry-run", NULL};
    static const char *const flags[] = {"json", "dry-run", NULL};
    const char *kind = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    const char *file = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
    if (!kind || !file) {
        fputs(pb_cmd_import_usage, stderr);
        return 2;
    }
    if (!pb_cli_check_opts(argc, argv, 3, "import", allowed, flags)) return 2;
    const char *project = pb_cli_opt(argc, argv, "project");
    int is_project = !strcmp(kind, "project");
    if (!is_project && strcmp(kind, "csv") && strcmp(kind, "jira-csv") && strcmp(kind, "jira-json")) {
        fprintf(stderr, "planebridge import: unknown kind '%s' (csv, jira-csv, jira-json, project)\n", kind);
        return 2;
    }
    if (!is_project && (!project || !*project)) {
        fprintf(stderr, "planebridge import: --project ID is required for %s\n", kind);
        return 2;
    }
    quiet_logs(cli);
    pb_error err = {0};
    char *text = NULL;
    size_t len = 0;
    cJSON *spec = NULL, *rows = NULL, *rep = NULL;
    cmdctx c;
    memset(&c, 0, sizeof c);
    int code = 1;
    int rc = pb_read_file(file, (size_t)256 << 20, &text, &len);
    if (rc) {
        fprintf(stderr, "planebridge import: cannot read %s: %s\n", file, pb_strerror(rc));
        return 1;
    }
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (!strcmp(kind, "csv")) rc = pb_import_plane_csv(text, len, &spec, &rows, &err);
    else if (!strcmp(kind, "jira-csv")) rc = pb_import_jira_csv(text, len, &spec, &rows, &err);
    else if (!strcmp(kind, "jira-json")) rc = pb_import_jira_json(text, len, &spec, &rows, &err);
    else rc = pb_import_project_json(text, len, &spec, &err);
    if (rc) {
        fprintf(stderr, "planebridge import: %s: %s\n", file, err.msg);
        goto out;
    }
    int orc = open_target(cli, argc, argv, "import", &c, "populate.import");
    if (orc) {
        code = orc;
        goto out;
    }
    g_tty = isatty(2);
    pb_pop_opts o = {.dry_run = pb_cli_flag(argc, argv, "dry-run"),
                     .kind = "import",
                     .name = base,
                     .project_id = is_project ? NULL : project,
                     .progress = progress};
    rc = pb_pop_apply(c.t, c.db, spec, &o, &rep, &err);
    if (rep) {
        cJSON_AddItemToObject(rep, "rows", rows ? rows : cJSON_CreateArray());
        rows = NULL;
        print_json(rep);
    }
    if (rc) fprintf(stderr, "planebridge import: %s\n", err.msg[0] ? err.msg : pb_strerror(rc));
    int bad = rep ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rep, "rows")) : 0;
    code = rc ? 1 : ((rep && cJSON_GetObjectItemCaseSensitive(rep, "failed")->valueint > 0) || bad ? 1 : 0);
out:
    free(text);
    cJSON_Delete(rep);
    cJSON_Delete(rows);
    cJSON_Delete(spec);
    ctx_free(&c);
    return code;
}

int pb_cmd_export(pb_cli *cli, int argc, char **argv)
{
    static const char *const allowed[] = {"workspace", "as", "upstream", "upstream-workspace", "project", "out", NULL};
    if (!pb_cli_check_opts(argc, argv, 1, "export", allowed, NULL)) return 2;
    const char *project = pb_cli_opt(argc, argv, "project");
    if (!project || !*project) {
        fprintf(stderr, "planebridge export: --project ID is required\n");
        return 2;
    }
    quiet_logs(cli);
    cmdctx c;
    int orc = open_target(cli, argc, argv, "export", &c, "populate.export");
    if (orc) {
        ctx_free(&c);
        return orc;
    }
    pb_error err = {0};
    cJSON *out = NULL;
    int code = 1;
    int rc = pb_export_project(c.t, project, &out, &err);
    if (rc) {
        fprintf(stderr, "planebridge export: %s\n", err.msg[0] ? err.msg : pb_strerror(rc));
    } else {
        char *s = cJSON_Print(out);
        const char *of = pb_cli_opt(argc, argv, "out");
        FILE *fp = of ? fopen(of, "w") : stdout;
        if (!fp) {
            fprintf(stderr, "planebridge export: cannot write %s\n", of);
        } else {
            fputs(s ? s : "", fp);
            fputc('\n', fp);
            code = 0;
            if (of && fclose(fp) != 0) code = 1;
        }
        free(s);
    }
    cJSON_Delete(out);
    ctx_free(&c);
    return code;
}

int pb_cmd_policy(pb_cli *cli, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-' || argc > 3) {
        fputs(pb_cmd_policy_usage, stderr);
        return 2;
    }
    pb_db *db = NULL;
    pb_error err = {0};
    if (pb_cli_open_store(cli, "policy", &db)) return 1;
    int rc = 0;
    if (argc == 3) {
        rc = pb_ps_policy_set(db, argv[1], argv[2], &err);
        if (rc) {
            fprintf(stderr, "planebridge policy: %s\n", err.msg);
            pb_db_free(db);
            return rc == PB_EINVAL ? 2 : 1;
        }
        {
            pb_ps_audit_row a = {"cli.policy", argv[1], "writeback_policy", "local", 0, NULL, NULL};
            char detail[64];
            snprintf(detail, sizeof detail, "{\"policy\":\"%s\"}", argv[2]);
            a.detail = detail;
            a.upstream_status = 200;
            pb_ps_audit(db, &a, NULL);
        }
    }
    char p[16] = "";
    rc = pb_ps_policy_get(db, argv[1], p, sizeof p, &err);
    if (rc) fprintf(stderr, "planebridge policy: %s\n", err.msg);
    else printf("%s %s\n", argv[1], p);
    pb_db_free(db);
    return rc ? 1 : 0;
}
