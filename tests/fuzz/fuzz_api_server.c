/* libFuzzer target: whole Plane API requests through the real pipeline (pb_server_handle_raw:
 * limits, routing, query parsing, the auth module's hook with real keys, every API handler,
 * the serializers and the SQLite store).
 *
 * Store: built once per process in a private temp directory (/dev/shm when present): a
 * workspace "acme" with an admin (ada) and a member (linus), two API keys (all scopes; read
 * only) and, created through the API itself, a project with a state, a label, a work item, a
 * comment, a link, a cycle and a module. The file is checkpointed and kept as a golden copy;
 * every input runs on a fresh copy with a fresh server and fresh modules, so inputs are
 * independent of each other (deterministic up to the random ids and clock of new rows) and
 * the store never grows. The directory (pb-fuzz-api.<pid>.XXXXXX) is removed at exit; one
 * left by a crashed process is removed by the next run.
 *
 * Input: up to 4 requests separated by a line "%%". Each request is
 *   METHOD TARGET            (TARGET without a leading '/' is relative to
 *                             /api/v1/workspaces/acme/)
 *   Name: value              (optional header lines, up to an empty line; when none is given
 *                             the request carries X-Api-Key: $K and a JSON content type)
 *   body                     (the rest)
 * In the target, header values and body, placeholders are replaced by the golden store's
 * values: $P project, $I work item, $S state, $L label, $C cycle, $M module, $O comment,
 * $N link, $U ada's user id, $V linus's user id, $K the full key, $R the read-only key.
 * Invariants: every answer has a real status, a status line, and a JSON body whenever its
 * content type says JSON; no answer is a 500; no answer ever contains a key. */
#include "app/app.h"
#include "auth/apikey.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"
#include "store/auth_store.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undefined behaviour is a finding too: stop at the first report (the fuzz build's UBSan
 * checks are recoverable, so without this a report scrolls by and the run "passes"). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

#define MAX_REQS 4
#define MAX_HDRS 16
#define MAX_MODS 8

static char dir[256], golden[300], work[300], keyfile[300];
static pb_config cfg;
static int verbose; /* FUZZ_API_VERBOSE=1: print every exchange (for checking seeds) */
static char key_full[PB_KEY_LEN + 1], key_read[PB_KEY_LEN + 1];
static char id_p[64], id_i[64], id_s[64], id_l[64], id_c[64], id_m[64], id_o[64], id_n[64], id_u[64], id_v[64];

typedef struct env {
    pb_db *db;
    pb_server *srv;
    pb_app app;
    const pb_module *inited[MAX_MODS];
    int n;
} env;

static void die(const char *what, const pb_error *err)
{
    fprintf(stderr, "fuzz_api_server setup: %s: %s\n", what, err ? err->msg : "");
    abort();
}

static void rm_db_files(const char *path)
{
    char p[320];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void rm_dir(const char *d)
{
    char p[600];
    snprintf(p, sizeof p, "%s/golden.db", d);
    rm_db_files(p);
    snprintf(p, sizeof p, "%s/work.db", d);
    rm_db_files(p);
    snprintf(p, sizeof p, "%s/master.key", d);
    unlink(p);
    rmdir(d);
}

static void cleanup(void)
{
    rm_dir(dir);
}

/* A crash ends the process without atexit handlers: remove the directories of fuzzer
 * processes that no longer exist (named pb-fuzz-api.<pid>.XXXXXX). */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = 0;
        if (strncmp(e->d_name, "pb-fuzz-api.", 12) != 0) continue;
        pid = strtol(e->d_name + 12, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", base, e->d_name);
            rm_dir(p);
        }
    }
    closedir(d);
}

static int env_open(env *e, const char *path)
{
    pb_error err = {0};
    char url[320];
    memset(e, 0, sizeof *e);
    snprintf(url, sizeof url, "sqlite:%s", path);
    pb_db_options o = {.pool_size = 2, .sqlite_synchronous = 1};
    if (pb_db_open(url, &o, &e->db, &err)) die("open", &err);
    pb_server_options so = {.listen = "127.0.0.1:0", .threads = 1, .max_body = 64 * 1024, .max_url = 2048};
    if (pb_server_new(&so, &e->srv, &err)) die("server", &err);
    e->app.cfg = &cfg;
    e->app.db = e->db;
    e->app.srv = e->srv;
    for (int i = 0; pb_modules[i] && e->n < MAX_MODS; i++) {
        const pb_module *m = pb_modules[i];
        if (strcmp(m->name, "auth") != 0 && strcmp(m->name, "api") != 0) continue;
        if (m->init && m->init(&e->app, &err)) die(m->name, &err);
        e->inited[e->n++] = m;
    }
    return 0;
}

static void env_close(env *e)
{
    for (int i = e->n - 1; i >= 0; i--)
        if (e->inited[i]->free) e->inited[i]->free(&e->app);
    pb_server_free(e->srv);
    pb_db_free(e->db);
}

/* One setup request; returns the "id" of the JSON answer into id (when non-NULL). */
static void setup_call(env *e, const char *method, const char *path, const char *body, char *id, size_t idlen)
{
    const char *hdrs[] = {"X-Api-Key", key_full, "Content-Type", "application/json", NULL};
    pb_buf out;
    pb_buf_init(&out, 0);
    int st = pb_server_handle_raw(e->srv, method, path, hdrs, body, body ? strlen(body) : 0, &out);
    const char *txt = pb_buf_cstr(&out);
    const char *sep = strstr(txt, "\r\n\r\n");
    if (st < 200 || st > 299 || !sep) {
        fprintf(stderr, "fuzz_api_server setup: %s %s -> %d\n%s\n", method, path, st, txt);
        abort();
    }
    if (id) {
        cJSON *j = cJSON_Parse(sep + 4);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (!cJSON_IsString(v)) {
            fprintf(stderr, "fuzz_api_server setup: no id in %s\n", sep + 4);
            abort();
        }
        pb_strlcpy(id, v->valuestring, idlen);
        cJSON_Delete(j);
    }
    pb_buf_free(&out);
}

static void copy_file(const char *from, const char *to)
{
    char buf[1 << 16];
    int in = open(from, O_RDONLY), outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || outfd < 0) abort();
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(outfd, buf, (size_t)n) != n) abort();
    if (n < 0) abort();
    close(in);
    close(outfd);
}

static void setup(void)
{
    pb_error err = {0};
    pb_log_level = PB_LOG_OFF;
    verbose = getenv("FUZZ_API_VERBOSE") != NULL;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    remove_stale(base);
    snprintf(dir, sizeof dir, "%s/pb-fuzz-api.%ld.XXXXXX", base, (long)getpid());
    if (!mkdtemp(dir)) abort();
    snprintf(golden, sizeof golden, "%s/golden.db", dir);
    snprintf(work, sizeof work, "%s/work.db", dir);
    snprintf(keyfile, sizeof keyfile, "%s/master.key", dir);
    atexit(cleanup);
    pb_config_defaults(&cfg);
    cfg.rate_limit_per_min = 1000000;
    pb_strlcpy(cfg.master_key_file, keyfile, sizeof cfg.master_key_file);

    env e;
    env_open(&e, golden);
    if (pb_db_migrate(e.db, &err)) die("migrate", &err);
    pb_user_row ada, linus;
    if (pb_as_user_create(e.db, "ada@example.com", "Ada", "Lovelace", NULL, &ada, &err) ||
        pb_as_user_create(e.db, "linus@example.com", "Linus", NULL, NULL, &linus, &err) ||
        pb_as_workspace_create(e.db, "acme", "Acme", NULL, &err) ||
        pb_as_member_set(e.db, "acme", ada.id, PB_ROLE_ADMIN, &err) ||
        pb_as_member_set(e.db, "acme", linus.id, PB_ROLE_MEMBER, &err))
        die("users", &err);
    pb_strlcpy(id_u, ada.id, sizeof id_u);
    pb_strlcpy(id_v, linus.id, sizeof id_v);
    pb_key_spec full = {.user_email = "ada@example.com", .scopes = "*", .workspace = "acme", .rate_limit = 1000000};
    pb_key_spec ro = {.user_email = "linus@example.com",
                      .scopes = "issues:read,projects:read,comments:read",
                      .workspace = "acme",
                      .rate_limit = 1000000};
    if (pb_apikey_create(e.db, &full, key_full, sizeof key_full, NULL, &err) ||
        pb_apikey_create(e.db, &ro, key_read, sizeof key_read, NULL, &err))
        die("keys", &err);

    char path[512], body[512];
    setup_call(&e, "POST", "/api/v1/workspaces/acme/projects/",
               "{\"name\":\"Fuzz\",\"identifier\":\"FUZ\",\"cycle_view\":true,\"module_view\":true,"
               "\"intake_view\":true}",
               id_p, sizeof id_p);
    const char *pj = "/api/v1/workspaces/acme/projects/";
    snprintf(path, sizeof path, "%s%s/states/", pj, id_p);
    setup_call(&e, "POST", path, "{\"name\":\"Review\",\"group\":\"started\",\"color\":\"#F59E0B\"}", id_s,
               sizeof id_s);
    snprintf(path, sizeof path, "%s%s/labels/", pj, id_p);
    setup_call(&e, "POST", path, "{\"name\":\"infra\",\"color\":\"#111111\"}", id_l, sizeof id_l);
    snprintf(path, sizeof path, "%s%s/members/", pj, id_p);
    snprintf(body, sizeof body, "{\"member\":\"%s\",\"role\":15}", id_v);
    setup_call(&e, "POST", path, body, NULL, 0);
    snprintf(path, sizeof path, "%s%s/work-items/", pj, id_p);
    snprintf(body, sizeof body,
             "{\"name\":\"First\",\"description_html\":\"<p>x</p>\",\"priority\":\"high\",\"state\":\"%s\","
             "\"labels\":[\"%s\"],\"assignees\":[\"%s\"],\"start_date\":\"2026-11-01\",\"target_date\":\"2026-11-30\"}",
             id_s, id_l, id_v);
    setup_call(&e, "POST", path, body, id_i, sizeof id_i);
    snprintf(path, sizeof path, "%s%s/work-items/%s/comments/", pj, id_p, id_i);
    setup_call(&e, "POST", path, "{\"comment_html\":\"<p>hello</p>\"}", id_o, sizeof id_o);
    snprintf(path, sizeof path, "%s%s/work-items/%s/links/", pj, id_p, id_i);
    setup_call(&e, "POST", path, "{\"url\":\"https://example.com/a\",\"title\":\"A\"}", id_n, sizeof id_n);
    snprintf(path, sizeof path, "%s%s/cycles/", pj, id_p);
    setup_call(&e, "POST", path, "{\"name\":\"Week 1\",\"start_date\":\"2099-01-05\",\"end_date\":\"2099-01-11\"}",
               id_c, sizeof id_c);
    snprintf(path, sizeof path, "%s%s/modules/", pj, id_p);
    setup_call(&e, "POST", path, "{\"name\":\"Core\"}", id_m, sizeof id_m);
    env_close(&e); /* the last close checkpoints the WAL into golden.db */
}

/* Copies src[0..n) into b, replacing the placeholders. */
static void expand(pb_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '$' && i + 1 < n) {
            const char *v = NULL;
            switch (s[i + 1]) {
            case 'P': v = id_p; break;
            case 'I': v = id_i; break;
            case 'S': v = id_s; break;
            case 'L': v = id_l; break;
            case 'C': v = id_c; break;
            case 'M': v = id_m; break;
            case 'O': v = id_o; break;
            case 'N': v = id_n; break;
            case 'U': v = id_u; break;
            case 'V': v = id_v; break;
            case 'K': v = key_full; break;
            case 'R': v = key_read; break;
            default: break;
            }
            if (v) {
                pb_buf_puts(b, v);
                i++;
                continue;
            }
        }
        pb_buf_putc(b, s[i]);
    }
}

/* Runs one request text [s, s+n). */
static void run_one(env *e, const char *s, size_t n)
{
    const char *end = s + n;
    const char *nl = memchr(s, '\n', n);
    const char *l1e = nl ? nl : end;
    const char *sp = memchr(s, ' ', (size_t)(l1e - s));
    if (!sp) return;
    pb_buf method, target;
    pb_buf_init(&method, 64);
    pb_buf_init(&target, 4096);
    pb_buf_append(&method, s, (size_t)(sp - s));
    const char *t = sp + 1;
    if (t >= l1e || *t != '/') pb_buf_puts(&target, "/api/v1/workspaces/acme/");
    expand(&target, t, (size_t)(l1e - t));

    /* headers */
    pb_buf hb[MAX_HDRS];
    const char *hdrs[2 * MAX_HDRS + 5];
    int nh = 0;
    const char *p = nl ? nl + 1 : end;
    while (p < end) {
        const char *e2 = memchr(p, '\n', (size_t)(end - p));
        const char *le = e2 ? e2 : end;
        if (le == p) {
            p = le + 1;
            break;
        }
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && nh < MAX_HDRS) {
            pb_buf_init(&hb[nh], 8192);
            pb_buf_append(&hb[nh], p, (size_t)(colon - p));
            pb_buf_putc(&hb[nh], '\0');
            const char *v = colon + 1;
            while (v < le && *v == ' ') v++;
            expand(&hb[nh], v, (size_t)(le - v));
            hdrs[2 * nh] = hb[nh].data;
            hdrs[2 * nh + 1] = hb[nh].data + (size_t)(colon - p) + 1;
            nh++;
        }
        p = le + 1;
    }
    int k = 2 * nh;
    if (nh == 0) {
        hdrs[k++] = "X-Api-Key";
        hdrs[k++] = key_full;
        hdrs[k++] = "Content-Type";
        hdrs[k++] = "application/json";
    }
    hdrs[k] = NULL;
    pb_buf body;
    pb_buf_init(&body, 256 * 1024);
    if (p < end) expand(&body, p, (size_t)(end - p));

    pb_buf out;
    pb_buf_init(&out, 0);
    int st = pb_server_handle_raw(e->srv, pb_buf_cstr(&method), pb_buf_cstr(&target), hdrs, body.data ? body.data : "",
                                  body.len, &out);
    const char *txt = pb_buf_cstr(&out);
    if (st < 100 || st > 599 || st == 500) {
        fprintf(stderr, "status %d for %s %s\n%s\n", st, pb_buf_cstr(&method), pb_buf_cstr(&target), txt);
        abort();
    }
    if (verbose) fprintf(stderr, "%d %s %s -> %.300s\n", st, pb_buf_cstr(&method), pb_buf_cstr(&target), txt + 9);
    if (strncmp(txt, "HTTP/1.1 ", 9) != 0) abort();
    if (strstr(txt, key_full) || strstr(txt, key_read)) abort(); /* never echo a key */
    const char *sep = strstr(txt, "\r\n\r\n");
    if (!sep) abort();
    const char *bodyp = sep + 4;
    size_t blen = out.len - (size_t)(bodyp - txt);
    if (blen && strstr(txt, "Content-Type: application/json") && strstr(txt, "Content-Type: application/json") < sep) {
        cJSON *j = cJSON_ParseWithLength(bodyp, blen);
        if (!j) {
            fprintf(stderr, "invalid JSON answer (%d) for %s %s\n%s\n", st, pb_buf_cstr(&method),
                    pb_buf_cstr(&target), txt);
            abort();
        }
        cJSON_Delete(j);
    }
    pb_buf_free(&out);
    pb_buf_free(&body);
    for (int i = 0; i < nh; i++) pb_buf_free(&hb[i]);
    pb_buf_free(&method);
    pb_buf_free(&target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size > 64 * 1024) return 0;
    rm_db_files(work);
    copy_file(golden, work);
    env e;
    env_open(&e, work);
    const char *s = (const char *)data, *end = s + size;
    for (int r = 0; r < MAX_REQS && s < end; r++) {
        /* the request ends at "\n%%\n" (or the end of the input) */
        const char *stop = end;
        for (const char *q = s; q + 4 <= end; q++)
            if (q[0] == '\n' && q[1] == '%' && q[2] == '%' && q[3] == '\n') {
                stop = q;
                break;
            }
        run_one(&e, s, (size_t)(stop - s));
        s = stop == end ? end : stop + 4;
    }
    env_close(&e);
    return 0;
}
