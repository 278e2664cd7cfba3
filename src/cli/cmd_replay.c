/* `planebridge replay`: puts dead-lettered (or chosen) inbound webhook jobs back in the queue.
 * The running daemon's workers pick them up; applying a job again is idempotent (the mirror
 * never moves backwards and event ids are derived from the row version). */
#include "cli/cli.h"
#include "cli/cmd_auth.h"
#include "cli/cmd_ingest.h"
#include "core/util.h"
#include "store/queue_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char pb_cmd_replay_usage[] =
    "usage: planebridge [--config FILE] replay [--dead] [--id N]... [--list] [--store URL]\n"
    "\n"
    "Makes inbound webhook jobs (ops.event_queue) pending again, attempts reset, so the\n"
    "workers of a running `planebridge serve` apply them once more.\n"
    "\n"
    "Options:\n"
    "  --dead   every job in the dead-letter state\n"
    "  --id N   the job with id N (done or dead; repeatable)\n"
    "  --list   print the dead-letter jobs (id, workspace, type, object, attempts, error)\n"
    "           and change nothing\n"
    "  --store URL  overrides `store` (PB_STORE)\n"
    "Prints \"replayed N\" on stdout. Exit 1 on a store error, 2 on a usage error.\n";

#define MAX_IDS 256

int pb_cmd_replay(pb_cli *cli, int argc, char **argv)
{
    int dead = 0, list = 0;
    int64_t ids[MAX_IDS];
    size_t nids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dead"))
            dead = 1;
        else if (!strcmp(a, "--list"))
            list = 1;
        else if (!strcmp(a, "--store") || !strncmp(a, "--store=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            pb_error cerr = {0};
            if (!v || pb_config_set(&cli->cfg, "store", v, &cerr) != 0) {
                fprintf(stderr, "planebridge replay: --store needs a store URL\n");
                return 2;
            }
        } else if (!strcmp(a, "--id") || !strncmp(a, "--id=", 5)) {
            const char *v = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || nids >= MAX_IDS || pb_parse_i64(v, 1, INT64_MAX, &ids[nids]) != 0) {
                fprintf(stderr, "planebridge replay: --id needs a positive job id (at most %d)\n", MAX_IDS);
                return 2;
            }
            nids++;
        } else {
            fprintf(stderr, "planebridge replay: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (!dead && !list && !nids) {
        fputs(pb_cmd_replay_usage, stderr);
        return 2;
    }
    pb_db *db = NULL;
    pb_conn *c = NULL;
    pb_error err = {0};
    int code = 1;
    if (pb_cli_open_store(cli, "replay", &db)) return 1;
    if (pb_db_acquire(db, &c, &err)) {
        fprintf(stderr, "planebridge replay: %s\n", err.msg);
        goto out;
    }
    if (list) {
        pb_queue_row *rows = NULL;
        size_t n = 0;
        if (pb_queue_list(c, "dead", 10000, &rows, &n, &err)) {
            fprintf(stderr, "planebridge replay: %s\n", err.msg);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            printf("%lld\t%s\t%s\t%s\t%d\t%s\n", (long long)rows[i].id, rows[i].workspace,
                   rows[i].object_type, rows[i].object_id, rows[i].attempts, rows[i].last_error);
        free(rows);
        code = 0;
        goto out;
    }
    int64_t changed = 0;
    if (pb_queue_replay(c, dead, ids, nids, &changed, &err)) {
        fprintf(stderr, "planebridge replay: %s\n", err.msg);
        goto out;
    }
    printf("replayed %lld\n", (long long)changed);
    code = 0;
out:
    pb_db_release(db, c);
    pb_db_free(db);
    return code;
}
