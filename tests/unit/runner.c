/* The unit/contract test runner: see test.h. */
#include "test.h"
#include "core/log.h"
#include "core/util.h"
#include "store/db.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ftw.h>

/* In the sanitizer build, run LeakSanitizer at the end of every test child: children leave
 * with _exit(), which would otherwise skip the leak check entirely. */
#if defined(__SANITIZE_ADDRESS__)
#define PB_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_TEST_LSAN 1
#endif
#endif
#ifdef PB_TEST_LSAN
int __lsan_do_recoverable_leak_check(void);
#endif

typedef struct {
    const char *name;
    pb_test_fn fn;
    int is_store;
} test_entry;

static test_entry tests[2048];
static int ntests;
int pb_test_failures;
static char tmpdir[512];
static char store_url[1024];

void pb_test_register(const char *name, pb_test_fn fn, int is_store)
{
    if (ntests < (int)(sizeof tests / sizeof *tests)) tests[ntests++] = (test_entry){name, fn, is_store};
}

void pb_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    pb_test_failures++;
}

const char *pb_test_tmpdir(void)
{
    return tmpdir;
}

static int is_pg_store(void)
{
    const char *base = getenv("PB_TEST_STORE");
    return base && strncmp(base, "sqlite", 6) != 0;
}

/* PostgreSQL: each store test gets its own fresh database cloned from nothing; the base URL
 * in PB_TEST_STORE must allow CREATE DATABASE. With create == 0 the database is only
 * dropped (after the test, so hundreds of store tests do not pile up databases). */
/* PostgreSQL store tests copy one migrated template database (CREATE DATABASE ... TEMPLATE)
 * instead of migrating a new database per test: a copy is a file copy, migrations are not. */
static char pg_template[64];

/* The base URL with its database name replaced by name (postgres://.../dbname[?...]). */
static void pg_url_for(const char *base, const char *name, char *out, size_t outlen)
{
    const char *slash = strrchr(base, '/');
    size_t keep = slash ? (size_t)(slash - base) + 1 : strlen(base);
    const char *q = strchr(slash ? slash : base, '?');
    snprintf(out, outlen, "%.*s%s%s", (int)keep, base, name, q ? q : "");
}

static int pg_fresh_db(const char *base, const char *name, int create)
{
    pb_db *db = NULL;
    pb_conn *c = NULL;
    pb_error err = {0};
    char sql[256];
    int rc = pb_db_open(base, &(pb_db_options){.pool_size = 1}, &db, &err);
    if (!rc) rc = pb_db_acquire(db, &c, &err);
    /* FORCE: a crashed test's backends may not have noticed their client is gone yet. */
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    if (!rc) rc = pb_conn_exec(c, sql, NULL, 0, NULL, &err);
    if (pg_template[0] && strcmp(name, pg_template) != 0)
        snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE %s", name, pg_template);
    else
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (!rc && create) rc = pb_conn_exec(c, sql, NULL, 0, NULL, &err);
    if (rc) fprintf(stderr, "    cannot %s test database: %s\n", create ? "create" : "drop", err.msg);
    pb_db_release(db, c);
    pb_db_free(db);
    return rc;
}

static void pg_db_name(char *buf, size_t n, int pid, int idx)
{
    snprintf(buf, n, "pbtest_%d_%d", pid, idx);
}

const char *pb_test_store_url(void)
{
    return store_url;
}

static int setup_store(int idx)
{
    const char *base = getenv("PB_TEST_STORE");
    if (!base || strncmp(base, "sqlite", 6) == 0) {
        snprintf(store_url, sizeof store_url, "sqlite:%s/test.db", tmpdir);
    } else {
        char name[64];
        pg_db_name(name, sizeof name, (int)getpid(), idx);
        if (pg_fresh_db(base, name, 1)) return -1;
        pg_url_for(base, name, store_url, sizeof store_url);
    }
    pb_db *db = NULL;
    pb_error err = {0};
    int rc = pb_db_open(store_url, NULL, &db, &err);
    if (!rc) rc = pb_db_migrate(db, &err);
    if (rc) fprintf(stderr, "    cannot migrate %s: %s\n", pb_db_backend_name(db), err.msg);
    pb_db_free(db);
    return rc;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *lvl = getenv("PB_TEST_LOG");
    pb_log_level = lvl ? pb_log_level_parse(lvl) : PB_LOG_OFF;
    int store_only = getenv("PB_TEST_STORE_ONLY") != NULL;
    if (is_pg_store()) {
        const char *base = getenv("PB_TEST_STORE");
        char url[1024];
        pb_db *tdb = NULL;
        pb_error terr = {0};
        snprintf(pg_template, sizeof pg_template, "pbtpl_%d", (int)getpid());
        pg_url_for(base, pg_template, url, sizeof url);
        int trc = pg_fresh_db(base, pg_template, 1);
        if (!trc) trc = pb_db_open(url, &(pb_db_options){.pool_size = 1}, &tdb, &terr);
        if (!trc) trc = pb_db_migrate(tdb, &terr);
        pb_db_free(tdb); /* no connection may stay open on a template being copied */
        if (trc) {
            fprintf(stderr, "cannot prepare the PostgreSQL template database: %s\n", terr.msg);
            pg_template[0] = '\0'; /* fall back to migrating each test database */
        }
    }
    for (int i = 0; i < ntests; i++) {
        int selected = argc < 2;
        for (int a = 1; a < argc && !selected; a++) selected = strstr(tests[i].name, argv[a]) != NULL;
        if (!selected || (store_only && !tests[i].is_store)) continue;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/pbtest.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (tests[i].is_store && setup_store(i)) _exit(3);
            tests[i].fn();
#ifdef PB_TEST_LSAN
            if (__lsan_do_recoverable_leak_check()) {
                fprintf(stderr, "    LeakSanitizer found leaks\n");
                pb_test_failures++;
            }
#endif
            _exit(pb_test_failures ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!WIFEXITED(status)) fprintf(stderr, "    crashed with signal %d\n", WTERMSIG(status));
        printf("%s %s%s\n", ok ? "PASS" : "FAIL", tests[i].name, tests[i].is_store ? " [store]" : "");
        ok ? passed++ : failed++;
        if (tests[i].is_store && is_pg_store()) {
            char name[64];
            pg_db_name(name, sizeof name, (int)pid, i);
            pg_fresh_db(getenv("PB_TEST_STORE"), name, 0);
        }
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (pg_template[0]) {
        char tpl_name[64];
        pb_strlcpy(tpl_name, pg_template, sizeof tpl_name);
        pg_template[0] = '\0';
        pg_fresh_db(getenv("PB_TEST_STORE"), tpl_name, 0);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
