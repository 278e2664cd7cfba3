/* bench/auth harness: the CPU cost of authenticating one request in-process, i.e. what the
 * auth hook does per request: header parse, SHA-256, key cache lookup (constant-time
 * compare), expiry check, rate-limit bucket, scope + workspace role check, principal
 * allocation, and one usage-log row queued -- plus the background thread that writes the
 * usage rows to the store in batches and syncs the rate buckets. CPU time is the whole
 * process's (getrusage), so the writer thread's work is counted too.
 *
 *   harness STORE_URL RATE SECONDS THREADS [RECORD]
 * RATE = target requests per second overall (0 = as fast as possible); RECORD = 0 skips the
 * usage row (to separate the request-path cost from the usage log's). Prints one line:
 *   requests=N seconds=S rps=R cpu_us_per_req=C usage_written=W usage_dropped=D
 * Build: bench/auth/run.sh (links libpbcore.a of the chosen build). */
#include "auth/apikey.h"
#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static pb_auth *auth;
/* Several keys (clients), each far below its own limit at the target rate: the bench
 * measures the admitted path, not refusals. */
#define NKEYS 16
static char keys[NKEYS][PB_KEY_LEN + 1];
static double rate_per_thread;
static double seconds;
static int record = 1;

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *worker(void *arg)
{
    long *count = arg;
    int64_t t0 = pb_mono_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    long n = 0;
    for (;;) {
        int64_t now = pb_mono_ns();
        if (now >= end) break;
        if (rate_per_thread > 0) {
            /* pace: never run ahead of the schedule. Requests go in bursts of ~10 ms worth
             * and the thread sleeps in between, so the sleeps themselves (about 100 wake-ups
             * a second) cost next to nothing next to the requests. */
            double due = (double)(now - t0) / 1e9 * rate_per_thread;
            if ((double)n >= due) {
                double ahead_s = ((double)n - due) / rate_per_thread + 0.010;
                struct timespec ts = {0, (long)(ahead_s * 1e9)};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        pb_auth_decision d;
        int st = pb_auth_decide(auth, keys[n % NKEYS], NULL, "issues:read", "acme", NULL, &d);
        if (st != 0) {
            fprintf(stderr, "unexpected status %d: %s\n", st, d.body ? d.body : "");
            exit(1);
        }
        if (record)
            pb_auth_usage_record(auth, d.principal, "GET", "/api/v1/workspaces/{slug}/projects/{project_id}/issues/", 200,
                             150, "bench/1.0", "127.0.0.1");
        free(d.principal);
        n++;
    }
    *count = n;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: harness STORE_URL RATE SECONDS THREADS [RECORD]\n");
        return 2;
    }
    const char *url = argv[1];
    double rate = atof(argv[2]);
    seconds = atof(argv[3]);
    int threads = atoi(argv[4]);
    if (argc == 6) record = atoi(argv[5]);
    if (threads < 1 || threads > 64 || seconds <= 0) return 2;
    rate_per_thread = rate / threads;
    pb_log_level = PB_LOG_WARN;
    pb_error err = {0};
    pb_db *db = NULL;
    pb_config cfg;
    pb_config_defaults(&cfg);
    cfg.rate_limit_per_min = 1000000;
    pb_user_row u;
    pb_key_spec spec = {.user_email = "bench@example.com", .scopes = "*", .rate_limit = 1000000};
    if (pb_db_open(url, NULL, &db, &err) || pb_db_migrate(db, &err) ||
        pb_as_workspace_create(db, "acme", "Acme", NULL, &err) ||
        pb_as_user_create(db, "bench@example.com", NULL, NULL, NULL, &u, &err) ||
        pb_as_member_set(db, "acme", u.id, PB_ROLE_MEMBER, &err) ||
        pb_auth_new(db, &cfg, &auth, &err) || pb_auth_start(auth, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < NKEYS; i++) {
        if (pb_apikey_create(db, &spec, keys[i], sizeof keys[i], NULL, &err)) {
            fprintf(stderr, "setup: %s\n", err.msg);
            return 1;
        }
        /* warm the cache and the bucket */
        pb_auth_decision d;
        pb_auth_decide(auth, keys[i], NULL, "issues:read", "acme", NULL, &d);
        free(d.principal);
    }

    pthread_t th[64];
    long counts[64];
    double c0 = cpu_s();
    int64_t w0 = pb_mono_ns();
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, &counts[i]);
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += counts[i];
    }
    pb_auth_stop(auth); /* includes the final flush of queued rows: counted */
    double wall = (double)(pb_mono_ns() - w0) / 1e9;
    double cpu = cpu_s() - c0;
    pb_auth_stats st;
    pb_auth_get_stats(auth, &st);
    printf("requests=%ld seconds=%.2f rps=%.0f cpu_us_per_req=%.3f usage_written=%llu usage_dropped=%llu\n", total,
           wall, total / wall, cpu * 1e6 / (double)(total ? total : 1), (unsigned long long)st.usage_written,
           (unsigned long long)st.usage_dropped);
    pb_auth_free(auth);
    pb_db_free(db);
    return 0;
}
