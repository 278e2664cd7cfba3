/* `planebridge sync`, `planebridge verify` and `planebridge workspace-connect` (the mirror of an
 * upstream Plane workspace, src/sync). pb_sync_cmd_workspace_connect() is also the body of
 * `planebridge workspace connect` for cmd_workspace.c's dispatcher. */
#include "auth/vault.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "cli/cmd_sync.h"
#include "core/log.h"
#include "core/util.h"
#include "ingest/ingest.h"
#include "store/sync_store.h"
#include "sync/sync.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pb_cmd_sync(pb_cli *cli, int argc, char **argv);
int pb_cmd_verify(pb_cli *cli, int argc, char **argv);
int pb_cmd_workspace_connect(pb_cli *cli, int argc, char **argv);

const char pb_cmd_sync_usage[] =
    "usage: planebridge sync [--workspace SLUG] [--full] [--reconcile] [--no-children]\n"
    "                        [--per-page N] [--parallel N]\n"
    "\n"
    "Mirrors every connected workspace (or SLUG) from its upstream Plane into the store: a\n"
    "backfill the first time (resumable after a crash), then incremental runs down to the\n"
    "stored watermark, deletions found by reconciliation. --full forgets the cursors and\n"
    "backfills again; --reconcile forces the work-item id reconciliation; --no-children skips\n"
    "comments, links, relations and activities. On a terminal a progress bar (items, items/s,\n"
    "ETA, requests left in the upstream budget) is drawn on stderr; otherwise progress is\n"
    "printed as JSON lines on stdout. The last line is a JSON summary per workspace.\n";

const char pb_cmd_verify_usage[] =
    "usage: planebridge verify [--workspace SLUG] [--shallow]\n"
    "\n"
    "Compares the upstream workspace and the mirror resource by resource (ids and a hash of\n"
    "every row's fields, timestamps normalised to UTC) and prints the accuracy percentage and\n"
    "one 'DIFF resource id reason' line per difference. --shallow skips the per-work-item\n"
    "lists (comments, links, activities, relations). Exits 1 below 100%.\n";

const char pb_cmd_workspace_connect_usage[] =
    "usage: planebridge workspace-connect SLUG --upstream URL --api-key-file FILE\n"
    "                                     [--webhook-secret-file FILE]\n"
    "\n"
    "Connects the workspace SLUG to an upstream Plane (URL = origin, e.g. https://plane.example)\n"
    "with the API key read from FILE; the key is stored encrypted in the vault (the file may be\n"
    "deleted afterwards). Creates the installation (auth_kind api_key, a new tenant space_id,\n"
    "writeback disabled) and prints 'SLUG SPACE_ID'. Same as `planebridge workspace connect`.\n";

static volatile int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int open_vault(pb_cli *cli, pb_db *db, pb_vault **v, const char *cmd)
{
    pb_error err = {0};
    const char *kf = cli->cfg.master_key_file;
    struct stat st;
    if (kf[0] && stat(kf, &st) != 0 && pb_vault_create_key_file(kf, &err) != 0) {
        fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg);
        return 1;
    }
    if (pb_vault_open(db, kf, v, &err)) {
        fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}

static char *read_secret_file(const char *path, const char *cmd, const char *what)
{
    char *s = NULL;
    size_t len = 0;
    if (pb_read_file(path, 8192, &s, &len) != 0) {
        fprintf(stderr, "planebridge %s: cannot read %s file %s\n", cmd, what, path);
        return NULL;
    }
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = '\0';
    if (!len) {
        fprintf(stderr, "planebridge %s: %s file %s is empty\n", cmd, what, path);
        free(s);
        return NULL;
    }
    pb_redact_register(s);
    return s;
}

int pb_sync_cmd_workspace_connect(pb_cli *cli, int argc, char **argv, int first)
{
    static const char *const opts[] = {"upstream", "api-key-file", "webhook-secret-file", NULL};
    const char *cmd = "workspace connect";
    if (argc <= first || argv[first][0] == '-') {
        fprintf(stderr, "planebridge %s: needs a SLUG\n", cmd);
        return 2;
    }
    if (!pb_cli_check_opts(argc, argv, first + 1, cmd, opts, NULL)) return 2;
    const char *slug = argv[first];
    const char *up = pb_cli_opt(argc, argv, "upstream");
    const char *kf = pb_cli_opt(argc, argv, "api-key-file");
    const char *wf = pb_cli_opt(argc, argv, "webhook-secret-file");
    if (!up || !kf) {
        fprintf(stderr, "planebridge %s: needs --upstream URL and --api-key-file FILE\n", cmd);
        return 2;
    }
    char *key = read_secret_file(kf, cmd, "API key");
    if (!key) return 1;
    char *whs = wf ? read_secret_file(wf, cmd, "webhook secret") : NULL;
    if (wf && !whs) {
        pb_vault_secret_free(key);
        return 1;
    }
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_error err = {0};
    int rc = 1;
    char space[64] = "";
    if (pb_cli_open_store(cli, "workspace connect", &db)) goto out;
    if (open_vault(cli, db, &v, cmd)) goto out;
    if (pb_sync_connect(db, v, slug, up, key, space, &err)) {
        fprintf(stderr, "planebridge %s: %s\n", cmd, err.msg);
        goto out;
    }
    if (whs && pb_ingest_secret_store(db, v, slug, PB_SIG_HMAC_HEX, whs, 0, &err)) {
        fprintf(stderr, "planebridge %s: webhook secret: %s\n", cmd, err.msg);
        goto out;
    }
    printf("%s %s\n", slug, space);
    rc = 0;
out:
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    if (whs) {
        memset(whs, 0, strlen(whs));
        free(whs);
    }
    pb_vault_free(v);
    pb_db_free(db);
    return rc;
}

int pb_cmd_workspace_connect(pb_cli *cli, int argc, char **argv)
{
    return pb_sync_cmd_workspace_connect(cli, argc, argv, 1);
}

/* ---------------------------------------------------------------- progress output */

typedef struct prog {
    int tty;
    int64_t last_items;
    double last_t;
    double rate;
} prog;

static void on_progress(void *ctx, const pb_sync_progress *p)
{
    prog *g = ctx;
    double rate = p->elapsed_s > 0 ? (double)p->items / p->elapsed_s : 0;
    if (g->tty) {
        double eta = -1;
        if (p->total_estimate > p->items && rate > 0) eta = (double)(p->total_estimate - p->items) / rate;
        int width = 30, fill = 0;
        if (p->total_estimate > 0) {
            fill = (int)((double)width * (double)p->items / (double)p->total_estimate);
            if (fill > width) fill = width;
        }
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        char budget[32] = "?";
        if (p->budget_remaining >= 0) snprintf(budget, sizeof budget, "%d", p->budget_remaining);
        char etas[32] = "--";
        if (eta >= 0) snprintf(etas, sizeof etas, "%dm%02ds", (int)eta / 60, (int)eta % 60);
        fprintf(stderr, "\r%-10.10s %-11s [%s] %lld items %.0f/s ETA %s budget %s req %lld 429 %lld ", p->workspace,
                p->phase, bar, (long long)p->items, rate, etas, budget, (long long)p->requests,
                (long long)p->throttled);
        if (strcmp(p->phase, "done") == 0) fputc('\n', stderr);
        fflush(stderr);
    } else {
        printf("{\"progress\":{\"workspace\":\"%s\",\"phase\":\"%s\",\"items\":%lld,\"written\":%lld,"
               "\"total_estimate\":%lld,\"items_per_s\":%.1f,\"requests\":%lld,\"throttled\":%lld,\"retries\":%lld,"
               "\"budget_remaining\":%d,\"budget_limit\":%d,\"elapsed_s\":%.3f}}\n",
               p->workspace, p->phase, (long long)p->items, (long long)p->written, (long long)p->total_estimate, rate,
               (long long)p->requests, (long long)p->throttled, (long long)p->retries, p->budget_remaining,
               p->budget_limit, p->elapsed_s);
        fflush(stdout);
    }
}

static int64_t opt_int(int argc, char **argv, const char *name, int64_t def, int64_t lo, int64_t hi, int *bad)
{
    const char *s = pb_cli_opt(argc, argv, name);
    int64_t v = def;
    if (s && pb_parse_i64(s, lo, hi, &v) != 0) {
        fprintf(stderr, "planebridge: --%s must be %lld..%lld\n", name, (long long)lo, (long long)hi);
        *bad = 1;
    }
    return v;
}

int pb_cmd_sync(pb_cli *cli, int argc, char **argv)
{
    static const char *const opts[] = {"workspace", "per-page", "parallel", NULL};
    static const char *const flags[] = {"full", "reconcile", "no-children", NULL};
    if (!pb_cli_check_opts(argc, argv, 1, "sync", opts, flags)) return 2;
    int bad = 0;
    int per_page = (int)opt_int(argc, argv, "per-page", 100, 1, 100, &bad);
    int parallel = (int)opt_int(argc, argv, "parallel", 8, 1, 16, &bad);
    if (bad) return 2;
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_ss_install *in = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = 1;
    if (pb_cli_open_store(cli, "sync", &db)) return 1;
    if (open_vault(cli, db, &v, "sync")) goto out;
    if (pb_ss_installs(db, pb_cli_opt(argc, argv, "workspace"), &in, &n, &err)) {
        fprintf(stderr, "planebridge sync: %s\n", err.msg);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "planebridge sync: no connected workspace%s\n",
                pb_cli_opt(argc, argv, "workspace") ? " with that slug" : "");
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = 0;
    for (size_t i = 0; i < n && !g_stop; i++) {
        prog g = {.tty = isatty(2) && isatty(1)};
        pb_sync_opts o = {.db = db,
                          .vault = v,
                          .slug = in[i].slug,
                          .full = pb_cli_flag(argc, argv, "full"),
                          .reconcile = pb_cli_flag(argc, argv, "reconcile"),
                          .no_children = pb_cli_flag(argc, argv, "no-children"),
                          .per_page = per_page,
                          .parallel = parallel,
                          .stop = &g_stop,
                          .progress = on_progress,
                          .progress_ctx = &g};
        pb_sync_report rep;
        memset(&rep, 0, sizeof rep);
        pb_error e = {0};
        int r = pb_sync_workspace(&o, &rep, &e);
        printf("{\"workspace\":\"%s\",\"ok\":%s,\"items\":%lld,\"written\":%lld,\"deleted\":%lld,\"events\":%lld,"
               "\"requests\":%lld,\"throttled\":%lld,\"retries\":%lld,\"seconds\":%.3f,\"items_per_s\":%.1f,"
               "\"store_seconds\":%.3f",
               in[i].slug, r ? "false" : "true", (long long)rep.items, (long long)rep.written,
               (long long)rep.deleted, (long long)rep.events, (long long)rep.requests, (long long)rep.throttled,
               (long long)rep.retries, rep.seconds, rep.seconds > 0 ? (double)rep.items / rep.seconds : 0.0,
               rep.store_seconds);
        if (r) {
            printf(",\"error\":");
            char esc[600];
            size_t k = 0;
            esc[k++] = '"';
            for (const char *s = e.msg; *s && k + 3 < sizeof esc; s++) {
                if (*s == '"' || *s == '\\') esc[k++] = '\\';
                esc[k++] = (*s >= 0x20) ? *s : ' ';
            }
            esc[k++] = '"';
            esc[k] = '\0';
            printf("%s", esc);
            fprintf(stderr, "planebridge sync: %s: %s\n", in[i].slug, e.msg);
            rc = 1;
        }
        printf("}\n");
        fflush(stdout);
    }
out:
    free(in);
    pb_vault_free(v);
    pb_db_free(db);
    return rc;
}

static void on_diff(void *ctx, const char *resource, const char *id, const char *reason)
{
    int64_t *shown = ctx;
    if (++*shown <= 1000) printf("DIFF %s %s %s\n", resource, id, reason);
}

int pb_cmd_verify(pb_cli *cli, int argc, char **argv)
{
    static const char *const opts[] = {"workspace", NULL};
    static const char *const flags[] = {"shallow", NULL};
    if (!pb_cli_check_opts(argc, argv, 1, "verify", opts, flags)) return 2;
    pb_db *db = NULL;
    pb_vault *v = NULL;
    pb_ss_install *in = NULL;
    size_t n = 0;
    pb_error err = {0};
    int rc = 1;
    if (pb_cli_open_store(cli, "verify", &db)) return 1;
    if (open_vault(cli, db, &v, "verify")) goto out;
    if (pb_ss_installs(db, pb_cli_opt(argc, argv, "workspace"), &in, &n, &err)) {
        fprintf(stderr, "planebridge verify: %s\n", err.msg);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "planebridge verify: no connected workspace\n");
        goto out;
    }
    signal(SIGINT, on_signal);
    rc = 0;
    for (size_t i = 0; i < n && !g_stop; i++) {
        pb_verify_report rep;
        int64_t shown = 0;
        pb_error e = {0};
        int r = pb_sync_verify(db, v, in[i].slug, pb_cli_flag(argc, argv, "shallow"), &g_stop, on_diff, &shown, &rep,
                               &e);
        if (r) {
            fprintf(stderr, "planebridge verify: %s: %s\n", in[i].slug, e.msg);
            rc = 1;
            continue;
        }
        printf("workspace %s accuracy %.2f%% compared %lld matched %lld missing_or_different %lld extra %lld "
               "requests %lld\n",
               in[i].slug, rep.accuracy, (long long)rep.compared, (long long)rep.matched, (long long)rep.missing,
               (long long)rep.extra, (long long)rep.requests);
        if (rep.matched != rep.compared) rc = 1;
    }
out:
    free(in);
    pb_vault_free(v);
    pb_db_free(db);
    return rc;
}
