/* module: the daemon's scheduled sync (pb_module_sync). A background thread syncs every
 * connected workspace on start and then every sync_interval (config, default 300 s); SIGTERM
 * stops it between requests (the run's committed pages are kept, the next start resumes).
 * PB_SYNC_DISABLE=1 turns the scheduler off (the CLI `planebridge sync` still works).
 * init registers the ingest worker's refetch hook (pb_sync_refetch) for partial or stale
 * webhook hints of connected workspaces; stop unregisters it. */
#include "sync/module.h"

#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"
#include "ingest/ingest.h"
#include "store/sync_store.h"
#include "sync/sync.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    pthread_t th;
    int running;
    volatile int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pb_app *app;
    volatile int refetch_stop; /* set at stop: a refetch waiting for the budget gives up */
} g_sync = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void sync_all(pb_app *app)
{
    pb_ss_install *in = NULL;
    size_t n = 0;
    pb_error err = {0};
    if (pb_ss_installs(app->db, NULL, &in, &n, &err)) {
        PB_LOG(PB_LOG_WARN, "sync: cannot list installations", PB_LS("error", err.msg));
        return;
    }
    for (size_t i = 0; i < n && !g_sync.stop; i++) {
        pb_sync_opts o = {.db = app->db, .vault = app->vault, .slug = in[i].slug, .stop = &g_sync.stop};
        pb_sync_report rep;
        pb_error e = {0};
        if (pb_sync_workspace(&o, &rep, &e))
            PB_LOG(PB_LOG_WARN, "scheduled sync failed", PB_LS("workspace", in[i].slug), PB_LS("error", e.msg));
    }
    free(in);
}

static void *sync_main(void *arg)
{
    pb_app *app = arg;
    int64_t interval_ms = (int64_t)(app->cfg->sync_interval_s > 0 ? app->cfg->sync_interval_s : 300) * 1000;
    while (!g_sync.stop) {
        int64_t t0 = pb_mono_ms();
        sync_all(app);
        pthread_mutex_lock(&g_sync.mu);
        while (!g_sync.stop && pb_mono_ms() - t0 < interval_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_sync.cv, &g_sync.mu, &ts);
        }
        pthread_mutex_unlock(&g_sync.mu);
    }
    return NULL;
}

/* The ingest worker's hook (worker threads, after commit, outside any transaction): re-read
 * the object of a partial or stale hint through the upstream client and its shared governor,
 * for workspaces connected to an upstream. A workspace that only receives webhooks has no
 * installation and is skipped. */
static void sync_refetch(void *ctx, const char *workspace, const char *object_type, const char *object_id,
                         const char *reason)
{
    pb_app *app = ctx;
    if (!app || !app->vault || g_sync.refetch_stop) return;
    pb_ss_install *in = NULL;
    size_t n = 0;
    pb_error err = {0};
    if (pb_ss_installs(app->db, workspace, &in, &n, &err) || n == 0) {
        free(in);
        return;
    }
    free(in);
    pb_sync_refetch_result res;
    int rc = pb_sync_refetch(app->db, app->vault, workspace, object_type, object_id, &g_sync.refetch_stop, &res,
                             &err);
    if (rc)
        PB_LOG(PB_LOG_WARN, "sync: refetch failed", PB_LS("workspace", workspace), PB_LS("object_id", object_id),
               PB_LS("reason", reason ? reason : ""), PB_LS("error", err.msg));
    else
        PB_LOG(PB_LOG_DEBUG, "sync: refetched", PB_LS("workspace", workspace), PB_LS("object_id", object_id),
               PB_LS("reason", reason ? reason : ""), PB_LB("unknown", res.unknown), PB_LI("written", res.written),
               PB_LI("events", res.events));
}

static int sync_init(pb_app *app, pb_error *err)
{
    (void)err;
    g_sync.refetch_stop = 0;
    pb_ingest *ing = pb_ingest_instance();
    if (ing) pb_ingest_set_refetch(ing, sync_refetch, app);
    return 0;
}

static int sync_start(pb_app *app, pb_error *err)
{
    const char *off = getenv("PB_SYNC_DISABLE");
    if (off && strcmp(off, "1") == 0) return 0;
    if (!app->vault) {
        PB_LOG(PB_LOG_WARN, "sync: no vault, scheduled sync disabled");
        return 0;
    }
    g_sync.stop = 0;
    g_sync.app = app;
    if (pthread_create(&g_sync.th, NULL, sync_main, app) != 0)
        return pb_error_set(err, PB_EINTERNAL, "cannot start the sync thread");
    g_sync.running = 1;
    return 0;
}

static void sync_stop(pb_app *app)
{
    (void)app;
    g_sync.refetch_stop = 1;
    pb_ingest *ing = pb_ingest_instance();
    if (ing) pb_ingest_set_refetch(ing, NULL, NULL);
    if (!g_sync.running) return;
    pthread_mutex_lock(&g_sync.mu);
    g_sync.stop = 1;
    pthread_cond_broadcast(&g_sync.cv);
    pthread_mutex_unlock(&g_sync.mu);
    pthread_join(g_sync.th, NULL);
    g_sync.running = 0;
}

const pb_module pb_module_sync = {"sync", sync_init, sync_start, sync_stop, NULL};
