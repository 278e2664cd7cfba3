/* `planebridge keys create|list|show|revoke|rotate|usage`. */
#include "auth/apikey.h"
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "core/buf.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pb_cmd_keys(pb_cli *cli, int argc, char **argv);
const char pb_cmd_keys_usage[] =
    "usage: planebridge keys create --user EMAIL --scopes LIST [--workspace SLUG] [--project ID]\n"
    "                               [--expires WHEN] [--rate-limit N] [--name NAME]\n"
    "       planebridge keys list [--user EMAIL]\n"
    "       planebridge keys show ID\n"
    "       planebridge keys revoke ID\n"
    "       planebridge keys rotate ID [--grace DURATION]\n"
    "       planebridge keys usage ID\n"
    "\n"
    "create  prints the new key alone on stdout (it is shown only once; only its SHA-256 is\n"
    "        stored). LIST: comma-separated scopes issues:read|write|delete, projects:read|write,\n"
    "        comments:read|write, documents:read|write, search:read, webhooks:admin, keys:admin,\n"
    "        or '*' / 'resource:*'. Scopes never exceed the user's role. WHEN: an ISO-8601\n"
    "        time or date, or a duration from now (30d, 12h). N: requests per minute\n"
    "        (default rate_limit_per_min).\n"
    "list    one line per key: id, prefix, state, user, scopes, workspace, expires, last used.\n"
    "show    the key as JSON (never the key itself).\n"
    "revoke  stops the key at once (daemons notice within a second).\n"
    "rotate  prints a new key alone on stdout; the old one keeps working for the grace period\n"
    "        (key_rotation_grace, default 24h) and is linked to the new one.\n"
    "usage   last use, calls in the last hour and day, error rate, mean and p95 latency (JSON).\n";

static int need_id(int argc, char **argv, const char *sub)
{
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "planebridge keys %s: needs a key ID\n", sub);
        return 0;
    }
    return 1;
}

static void fmt_time(int64_t us, char *out, size_t n)
{
    if (!us)
        pb_strlcpy(out, "-", n);
    else
        pb_time_iso(us, out, n);
}

static int keys_create(pb_db *db, int argc, char **argv)
{
    static const char *const opts[] = {"user", "scopes", "workspace", "project", "expires", "rate-limit", "name", NULL};
    pb_error err = {0};
    char key[PB_KEY_LEN + 1];
    int64_t rl = 0;
    if (!pb_cli_check_opts(argc, argv, 2, "keys create", opts, NULL)) return 2;
    pb_key_spec spec = {
        .user_email = pb_cli_opt(argc, argv, "user"),
        .scopes = pb_cli_opt(argc, argv, "scopes"),
        .workspace = pb_cli_opt(argc, argv, "workspace"),
        .project_id = pb_cli_opt(argc, argv, "project"),
        .name = pb_cli_opt(argc, argv, "name"),
    };
    const char *exp = pb_cli_opt(argc, argv, "expires");
    const char *rls = pb_cli_opt(argc, argv, "rate-limit");
    if (!spec.user_email || !spec.scopes) {
        fprintf(stderr, "planebridge keys create: --user and --scopes are required\n");
        return 2;
    }
    if (exp && pb_apikey_parse_expiry(exp, pb_now_us(), &spec.expires_at)) {
        fprintf(stderr, "planebridge keys create: --expires: not an ISO-8601 time or a duration like 30d\n");
        return 2;
    }
    if (rls && pb_parse_i64(rls, 1, 1000000, &rl)) {
        fprintf(stderr, "planebridge keys create: --rate-limit must be between 1 and 1000000\n");
        return 2;
    }
    spec.rate_limit = (int)rl;
    int rc = pb_apikey_create(db, &spec, key, sizeof key, NULL, &err);
    if (rc) {
        fprintf(stderr, "planebridge keys create: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", key);
    memset(key, 0, sizeof key);
    return 0;
}

int pb_cmd_keys(pb_cli *cli, int argc, char **argv)
{
    pb_error err = {0};
    pb_db *db = NULL;
    int rc = 0;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int64_t now = pb_now_us();
    if (!sub) {
        fputs(pb_cmd_keys_usage, stderr);
        return 2;
    }
    if (strcmp(sub, "create") == 0) {
        if (pb_cli_open_store(cli, "keys", &db)) return 1;
        rc = keys_create(db, argc, argv);
        pb_db_free(db);
        return rc;
    }
    if (strcmp(sub, "list") == 0) {
        static const char *const opts[] = {"user", NULL};
        pb_key_row *rows = NULL;
        size_t n = 0;
        pb_user_row u;
        if (!pb_cli_check_opts(argc, argv, 2, "keys list", opts, NULL)) return 2;
        if (pb_cli_open_store(cli, "keys", &db)) return 1;
        const char *email = pb_cli_opt(argc, argv, "user");
        if (email) rc = pb_as_user_get_by_email(db, email, &u, &err);
        if (!rc) rc = pb_as_key_list(db, email ? u.id : NULL, NULL, &rows, &n, &err);
        if (rc) fprintf(stderr, "planebridge keys list: %s\n", err.msg);
        for (size_t i = 0; i < n; i++) {
            char e[40], l[40];
            fmt_time(rows[i].expires_at, e, sizeof e);
            fmt_time(rows[i].last_used_at, l, sizeof l);
            printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rows[i].id, rows[i].prefix, pb_apikey_state(&rows[i], now),
                   rows[i].user_email, rows[i].scopes, rows[i].workspace_slug[0] ? rows[i].workspace_slug : "*", e, l);
        }
        free(rows);
        pb_db_free(db);
        return rc ? 1 : 0;
    }
    if (strcmp(sub, "show") == 0 || strcmp(sub, "revoke") == 0 || strcmp(sub, "usage") == 0) {
        pb_key_row k;
        pb_buf b;
        if (!need_id(argc, argv, sub) || !pb_cli_check_opts(argc, argv, 3, "keys", NULL, NULL)) return 2;
        if (pb_cli_open_store(cli, "keys", &db)) return 1;
        pb_buf_init(&b, 1 << 20);
        rc = pb_as_key_get(db, argv[2], &k, &err);
        if (!rc && strcmp(sub, "revoke") == 0) {
            rc = pb_as_key_revoke(db, k.id, now, &err);
            if (!rc) printf("revoked %s (%s)\n", k.id, k.prefix);
        } else if (!rc && strcmp(sub, "show") == 0) {
            pb_apikey_row_json(&b, &k, now);
            printf("%s\n", pb_buf_cstr(&b));
        } else if (!rc) {
            pb_key_stats st;
            char t[40] = "";
            rc = pb_as_usage_stats(db, k.id, now, &st, &err);
            if (!rc) {
                if (st.last_used_at) pb_time_iso(st.last_used_at, t, sizeof t);
                pb_buf_puts(&b, "{\"key_id\":");
                pb_buf_json_str(&b, k.id);
                pb_buf_puts(&b, ",\"last_used_at\":");
                if (t[0])
                    pb_buf_json_str(&b, t);
                else
                    pb_buf_puts(&b, "null");
                pb_buf_printf(&b,
                              ",\"calls_1h\":%lld,\"calls_24h\":%lld,\"errors_24h\":%lld,\"error_rate_24h\":%.4f,"
                              "\"mean_latency_us_24h\":%.1f,\"p95_latency_us_24h\":%lld}",
                              (long long)st.calls_1h, (long long)st.calls_24h, (long long)st.errors_24h,
                              st.error_rate_24h, st.mean_latency_us_24h, (long long)st.p95_latency_us_24h);
                printf("%s\n", pb_buf_cstr(&b));
            }
        }
        if (rc) fprintf(stderr, "planebridge keys %s: %s\n", sub, err.msg);
        pb_buf_free(&b);
        pb_db_free(db);
        return rc ? 1 : 0;
    }
    if (strcmp(sub, "rotate") == 0) {
        static const char *const opts[] = {"grace", NULL};
        char key[PB_KEY_LEN + 1];
        int64_t grace = cli->cfg.key_rotation_grace_s;
        const char *g;
        if (!need_id(argc, argv, sub) || !pb_cli_check_opts(argc, argv, 3, "keys rotate", opts, NULL)) return 2;
        if ((g = pb_cli_opt(argc, argv, "grace")) && pb_parse_duration_s(g, &grace)) {
            fprintf(stderr, "planebridge keys rotate: --grace: not a duration like 24h\n");
            return 2;
        }
        if (pb_cli_open_store(cli, "keys", &db)) return 1;
        rc = pb_apikey_rotate(db, argv[2], grace, key, sizeof key, NULL, &err);
        if (rc)
            fprintf(stderr, "planebridge keys rotate: %s\n", err.msg);
        else
            printf("%s\n", key);
        memset(key, 0, sizeof key);
        pb_db_free(db);
        return rc ? 1 : 0;
    }
    fprintf(stderr, "planebridge keys: unknown subcommand '%s'\n", sub);
    return 2;
}
