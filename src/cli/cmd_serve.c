/* `planebridge serve`: the daemon's life cycle (see app.h for the module contract).
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread (the mask is set before any
 * thread exists, and threads inherit it) and received synchronously with sigwait() on the
 * main thread, so no work ever runs inside a signal handler. */
#include "app/app.h"
#include "cli/cli.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

const char pb_cmd_serve_usage[] =
    "usage: planebridge [--config FILE] serve [--listen HOST:PORT] [--store URL]\n"
    "\n"
    "Runs the daemon: opens the store (creating and migrating it when needed), starts the\n"
    "HTTP server and every module, logs one \"listening\" line with the port, and runs until\n"
    "SIGTERM or SIGINT. On a signal it stops accepting connections, lets in-flight requests\n"
    "finish (drain_timeout), stops the modules, closes the store and exits 0.\n"
    "Exit 1 when the store cannot be opened or the address cannot be bound.\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT  overrides `listen` (PB_LISTEN); port 0 picks a free port\n"
    "  --store URL         overrides `store` (PB_STORE)\n";

static void fail(const char *what, const pb_error *err)
{
    PB_LOG(PB_LOG_ERROR, what, PB_LS("error", err->msg), PB_LS("code", pb_err_name(err->code)));
    fprintf(stderr, "planebridge serve: %s: %s\n", what, err->msg[0] ? err->msg : pb_strerror(err->code));
}

static size_t count_modules(void)
{
    size_t n = 0;
    while (pb_modules[n])
        n++;
    return n;
}

int pb_cmd_serve(pb_cli *cli, int argc, char **argv)
{
    static const char *const keys[] = {"listen", "store", NULL};
    int rc = pb_cli_config_flags(cli, argc, argv, keys);
    if (rc) return rc;

    const pb_config *cfg = &cli->cfg;
    int exit_code = 1;
    FILE *logfp = NULL;
    pb_db *db = NULL;
    pb_server *srv = NULL;
    pb_app app;
    memset(&app, 0, sizeof app);
    size_t nmod = count_modules(), inited = 0, started = 0;
    pb_error err = {0};
    char masked[PB_CFG_URL];

    pb_log_level = cfg->log_level;
    if (cfg->log_file[0]) {
        /* Created 0600: log lines are redacted, but request paths and ids are still private. */
        logfp = pb_config_open_log_file(cfg->log_file);
        if (!logfp) {
            fprintf(stderr, "planebridge serve: cannot open log_file %s: %s\n", cfg->log_file,
                    strerror(errno));
            return 1;
        }
        pb_log_set_output(logfp);
    }

    /* Before any thread exists: every thread inherits this mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    pb_config_mask_url(cfg->store, masked, sizeof masked);
    pb_db_options dbo = {.pool_size = cfg->db_pool};
    if (pb_db_open(cfg->store, &dbo, &db, &err)) {
        fail("cannot open the store", &err);
        goto out;
    }
    if (pb_db_migrate(db, &err)) {
        fail("cannot migrate the store", &err);
        goto out;
    }
    int schema = 0;
    pb_db_schema_version(db, &schema, NULL);

    pb_server_options so = {
        .listen = cfg->listen,
        .threads = cfg->threads,
        .max_body = (size_t)cfg->max_body,
        .max_url = (size_t)cfg->max_url,
        .max_headers = cfg->max_headers,
    };
    if (pb_server_new(&so, &srv, &err)) {
        fail("cannot create the HTTP server", &err);
        goto out;
    }

    app.cfg = cfg;
    app.db = db;
    app.srv = srv;
    for (; inited < nmod; inited++) {
        const pb_module *m = pb_modules[inited];
        if (m->init && m->init(&app, &err)) {
            PB_LOG(PB_LOG_ERROR, "module init failed", PB_LS("module", m->name), PB_LS("error", err.msg));
            fprintf(stderr, "planebridge serve: module %s: %s\n", m->name, err.msg);
            goto out;
        }
    }

    if (pb_server_start(srv, &err)) {
        fail("cannot listen", &err);
        goto out;
    }
    PB_LOG(PB_LOG_INFO, "listening", PB_LS("listen", cfg->listen), PB_LI("port", pb_server_port(srv)),
           PB_LS("store", pb_db_backend_name(db)), PB_LS("store_url", masked), PB_LI("schema", schema),
           PB_LS("version", PB_VERSION));

    for (; started < nmod; started++) {
        const pb_module *m = pb_modules[started];
        if (m->start && m->start(&app, &err)) {
            PB_LOG(PB_LOG_ERROR, "module start failed", PB_LS("module", m->name), PB_LS("error", err.msg));
            fprintf(stderr, "planebridge serve: module %s: %s\n", m->name, err.msg);
            pb_server_stop(srv, 0);
            goto out;
        }
    }

    int sig = 0;
    for (;;) {
        int w = sigwait(&sigs, &sig);
        if (w == 0) break;
        if (w != EINTR) {
            sig = SIGTERM;
            break;
        }
    }
    PB_LOG(PB_LOG_INFO, "shutting down", PB_LS("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
           PB_LI("drain_ms", cfg->drain_ms));
    pb_server_stop(srv, cfg->drain_ms);
    exit_code = 0;

out:
    /* Stop what started and free what was initialised, both in reverse order. */
    while (started > 0) {
        const pb_module *m = pb_modules[--started];
        if (m->stop) m->stop(&app);
    }
    while (inited > 0) {
        const pb_module *m = pb_modules[--inited];
        if (m->free) m->free(&app);
    }
    pb_server_free(srv);
    pb_db_free(db);
    if (exit_code == 0) PB_LOG(PB_LOG_INFO, "stopped");
    if (logfp) {
        pb_log_set_output(NULL);
        fclose(logfp);
    }
    return exit_code;
}
