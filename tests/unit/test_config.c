/* Configuration: the key table, YAML files, environment overrides, flags, masking. */
#include "test.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int load(pb_config *c, const char *yaml, pb_error *err)
{
    pb_config_defaults(c);
    memset(err, 0, sizeof *err);
    return pb_config_load_yaml(c, yaml, strlen(yaml), err);
}

/* Loads yaml and checks it fails naming key on line. */
static void expect_error(const char *yaml, const char *key, int line, const char *needle)
{
    pb_config c, before;
    pb_error err;
    pb_config_defaults(&before);
    int rc = load(&c, yaml, &err);
    if (rc == 0) {
        pb_test_fail(__FILE__, __LINE__, "accepted: %s", yaml);
        return;
    }
    if (key && strcmp(err.field, key) != 0)
        pb_test_fail(__FILE__, __LINE__, "field \"%s\" != \"%s\" for: %s", err.field, key, yaml);
    if (line && err.line != line)
        pb_test_fail(__FILE__, __LINE__, "line %d != %d for: %s", err.line, line, yaml);
    if (needle && !strstr(err.msg, needle))
        pb_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err.msg, needle);
    /* A failed load changes nothing. */
    if (memcmp(&c, &before, sizeof c) != 0)
        pb_test_fail(__FILE__, __LINE__, "config modified by failed load");
}

static char *print_to_string(const pb_config *c)
{
    char *out = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&out, &n);
    if (!fp) return NULL;
    pb_config_print(c, fp);
    fclose(fp);
    return out;
}

PB_TEST(config_defaults)
{
    pb_config c;
    pb_config_defaults(&c);
    PB_CHECK_STR(c.listen, "127.0.0.1:8470");
    PB_CHECK_STR(c.store, "sqlite:./planebridge.db");
    PB_CHECK_EQ_INT(c.log_level, PB_LOG_INFO);
    PB_CHECK_STR(c.log_file, "");
    PB_CHECK_EQ_INT(c.threads, 0);
    PB_CHECK_EQ_INT(c.max_body, 1048576);
    PB_CHECK_EQ_INT(c.max_url, 8192);
    PB_CHECK_EQ_INT(c.max_headers, 64);
    PB_CHECK_EQ_INT(c.db_pool, 8);
    PB_CHECK_STR(c.master_key_file, "./planebridge.key");
    PB_CHECK_EQ_INT(c.rate_limit_per_min, 60);
    PB_CHECK_EQ_INT(c.usage_retention_days, 30);
    PB_CHECK_EQ_INT(c.key_rotation_grace_s, 86400);
    PB_CHECK_EQ_INT(c.sync_interval_s, 300);
    PB_CHECK_EQ_INT(c.delivery_retention_days, 30);
    PB_CHECK_EQ_INT(c.drain_ms, 10000);
    PB_CHECK_STR(c.public_url, "");
    PB_CHECK_STR(c.ssrf_allow, "");
}

PB_TEST(config_table_is_consistent)
{
    int n = 0;
    size_t covered = 0;
    for (const pb_config_key *k = pb_config_keys; k->name; k++, n++) {
        /* Every default is itself a valid value. */
        pb_config c;
        pb_error err = {0};
        pb_config_defaults(&c);
        if (pb_config_set(&c, k->name, k->def, &err))
            pb_test_fail(__FILE__, __LINE__, "default of %s: %s", k->name, err.msg);
        /* The environment variable is PB_ + the upper-cased key. */
        char env[64] = "PB_";
        for (size_t i = 0; k->name[i] && i + 4 < sizeof env; i++)
            env[3 + i] = (char)toupper((unsigned char)k->name[i]);
        PB_CHECK_STR(k->env, env);
        PB_CHECK(k->help && k->help[0]);
        PB_CHECK(k->offset + k->size <= sizeof(pb_config));
        for (const pb_config_key *j = pb_config_keys; j != k; j++) {
            PB_CHECK(strcmp(j->name, k->name) != 0);
            PB_CHECK(j->offset != k->offset);
        }
        covered += k->size;
    }
    PB_CHECK(n > 0);
    /* Every byte of pb_config except padding belongs to a key: no field is forgotten (this,
     * not a fixed count, is what keeps the table and the struct in step). */
    PB_CHECK(covered <= sizeof(pb_config) && covered + 8 * (size_t)n >= sizeof(pb_config));
}

PB_TEST(config_file_parsing)
{
    const char *yaml = "# planebridge\n"
                       "listen: 0.0.0.0:9000\n"
                       "store: \"postgres://pb@db/planebridge\"\n"
                       "log_level: debug\n"
                       "threads: 4\n"
                       "max_body: 512KiB\n"
                       "max_url: 16384\n"
                       "sync_interval: 5m\n"
                       "key_rotation_grace: 48h\n"
                       "drain_timeout: 2500\n"
                       "log_file:\n"
                       "master_key_file: ~\n"
                       "ssrf_allow: 10.0.0.0/8, fd00::/8,192.168.1.1\n"
                       "public_url: https://hub.example.com\n";
    pb_config c;
    pb_error err;
    PB_REQUIRE(load(&c, yaml, &err) == 0);
    PB_CHECK_STR(c.listen, "0.0.0.0:9000");
    PB_CHECK_STR(c.store, "postgres://pb@db/planebridge");
    PB_CHECK_EQ_INT(c.log_level, PB_LOG_DEBUG);
    PB_CHECK_EQ_INT(c.threads, 4);
    PB_CHECK_EQ_INT(c.max_body, 512 * 1024);
    PB_CHECK_EQ_INT(c.max_url, 16384);
    PB_CHECK_EQ_INT(c.sync_interval_s, 300);
    PB_CHECK_EQ_INT(c.key_rotation_grace_s, 48 * 3600);
    PB_CHECK_EQ_INT(c.drain_ms, 2500);
    PB_CHECK_STR(c.log_file, "");
    PB_CHECK_STR(c.master_key_file, "");
    PB_CHECK_STR(c.public_url, "https://hub.example.com");
    PB_CHECK_EQ_INT(c.db_pool, 8); /* untouched keys keep their defaults */

    /* Empty file, comments only, an empty document: all defaults. */
    pb_config d;
    pb_config_defaults(&d);
    PB_CHECK(load(&c, "", &err) == 0 && memcmp(&c, &d, sizeof c) == 0);
    PB_CHECK(load(&c, "# nothing\n", &err) == 0 && memcmp(&c, &d, sizeof c) == 0);
    PB_CHECK(load(&c, "---\n", &err) == 0 && memcmp(&c, &d, sizeof c) == 0);
    PB_CHECK(load(&c, "{}", &err) == 0 && memcmp(&c, &d, sizeof c) == 0);
}

PB_TEST(config_sizes_and_durations)
{
    static const struct {
        const char *text;
        long long bytes;
    } sizes[] = {{"1048576", 1048576}, {"1MiB", 1048576}, {"512KiB", 524288},
                 {"1GiB", 1073741824}, {"2048B", 2048},   {"1024", 1024}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pb_config c;
        pb_error err = {0};
        pb_config_defaults(&c);
        PB_CHECK_EQ_INT(pb_config_set(&c, "max_body", sizes[i].text, &err), 0);
        PB_CHECK_EQ_INT(c.max_body, sizes[i].bytes);
    }
    static const char *bad_sizes[] = {
        "", "1 MiB", "1MB", "1.5MiB", "-1", "MiB", "1mib", "99999999999999999999", "1023", "2GiB"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        pb_config c;
        pb_error err = {0};
        pb_config_defaults(&c);
        if (pb_config_set(&c, "max_body", bad_sizes[i], &err) != PB_ECONFIG)
            pb_test_fail(__FILE__, __LINE__, "size \"%s\" accepted", bad_sizes[i]);
        PB_CHECK_STR(err.field, "max_body");
        PB_CHECK_EQ_INT(c.max_body, 1048576);
    }
    static const struct {
        const char *text;
        int s;
    } durs[] = {{"300", 300}, {"300s", 300}, {"5m", 300}, {"24h", 86400}, {"2d", 172800}, {"1", 1}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        pb_config c;
        pb_error err = {0};
        pb_config_defaults(&c);
        PB_CHECK_EQ_INT(pb_config_set(&c, "sync_interval", durs[i].text, &err), 0);
        PB_CHECK_EQ_INT(c.sync_interval_s, durs[i].s);
    }
    static const char *bad_durs[] = {"", "5 m", "5x", "-5s", "0", "8d", "h", "1.5h"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        pb_config c;
        pb_error err = {0};
        pb_config_defaults(&c);
        if (pb_config_set(&c, "sync_interval", bad_durs[i], &err) == 0)
            pb_test_fail(__FILE__, __LINE__, "duration \"%s\" accepted", bad_durs[i]);
        PB_CHECK_STR(err.field, "sync_interval");
    }
}

PB_TEST(config_errors_name_key_and_line)
{
    expect_error("listen: 127.0.0.1:1\n"
                 "threads: 2\n"
                 "bogus_key: 1\n",
                 "bogus_key", 3, "unknown configuration key");
    expect_error("\n\n\n\n\n\nmax_body: 12\n", "max_body", 7,
                 "config:7: max_body: must be between 1024 and 1073741824");
    expect_error("threads: many\n", "threads", 1, "must be an integer");
    expect_error("threads: ~\n", "threads", 1, "must be an integer");
    expect_error("store:\n", "store", 1, "sqlite:");
    expect_error("threads: 2\nthreads: 3\n", "threads", 2, "duplicate");
    expect_error("db_pool: 0\n", "db_pool", 1, "between 1 and 256");
    expect_error("log_level: loud\n", "log_level", 1, "debug, info");
    expect_error("listen: nowhere\n", "listen", 1, "host:port");
    expect_error("listen: 127.0.0.1:70000\n", "listen", 1, "host:port");
    expect_error("store: mysql://x\n", "store", 1, "sqlite:");
    expect_error("public_url: ftp://x\n", "public_url", 1, "http");
    expect_error("ssrf_allow: 10.0.0.0/8,not-a-cidr\n", "ssrf_allow", 1, "CIDR");
    expect_error("ssrf_allow: 10.0.0.0/33\n", "ssrf_allow", 1, "CIDR");
    expect_error("sync_interval: soon\n", "sync_interval", 1, "duration");
    /* Value on the following line: the value's line is reported. */
    expect_error("threads:\n  -3\n", "threads", 2, "between 0 and 64");
    /* Structure. */
    expect_error("listen:\n  host: x\n  port: 1\n", "listen", 2, "nested");
    expect_error("listen: [a, b]\n", "listen", 1, "nested");
    expect_error("- a\n- b\n", NULL, 1, "mapping");
    expect_error("just a string\n", NULL, 1, "mapping");
    expect_error("a: &x 1\n", "a", 1, NULL);
    expect_error("listen: &x 127.0.0.1:1\nstore: *x\n", NULL, 1, "anchor");
    expect_error("listen: 127.0.0.1:1\n---\nthreads: 1\n", NULL, 2, "one YAML document");
    expect_error("listen: 127.0.0.1:1\nthreads: [\n", "threads", 2, "nested");
    expect_error("listen: 127.0.0.1:1\n@bad: 1\n", NULL, 2, "invalid YAML");
    expect_error("listen: \"unterminated\n", NULL, 0, "invalid YAML");
    expect_error("? [a, b]\n: c\n", NULL, 1, NULL);
    expect_error("store: \"sqlite:/tmp/x\\0y\"\n", "store", 1, NULL);
    expect_error("log_file: \"a\\nb\"\n", "log_file", 1, "one line");

    /* Too long for its buffer. */
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big, "log_file: ", 10);
    big[sizeof big - 1] = '\0';
    expect_error(big, "log_file", 1, "too long");
}

PB_TEST(config_file_errors_name_the_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/planebridge.yaml", pb_test_tmpdir());
    FILE *fp = fopen(path, "w");
    PB_REQUIRE(fp);
    fputs("listen: 127.0.0.1:9\n# comment\nmax_body: 2GiB\n", fp);
    fclose(fp);
    pb_config c;
    pb_error err = {0};
    pb_config_defaults(&c);
    PB_CHECK_EQ_INT(pb_config_load_file(&c, path, &err), PB_ECONFIG);
    PB_CHECK_STR(err.field, "max_body");
    PB_CHECK_EQ_INT(err.line, 3);
    char want[700];
    snprintf(want, sizeof want, "%s:3: max_body: must be between 1024 and 1073741824", path);
    PB_CHECK_STR(err.msg, want);
    PB_CHECK_STR(c.listen, "127.0.0.1:8470"); /* nothing applied */

    /* Missing file. */
    memset(&err, 0, sizeof err);
    PB_CHECK(pb_config_load(&c, "/nonexistent/planebridge.yaml", &err) != 0);
    PB_CHECK(strstr(err.msg, "/nonexistent/planebridge.yaml") != NULL);

    /* More than 1 MiB is refused before parsing. */
    size_t n = 1024 * 1024 + 10;
    char *huge = malloc(n + 1);
    PB_REQUIRE(huge);
    memset(huge, '#', n);
    huge[n] = '\0';
    memset(&err, 0, sizeof err);
    PB_CHECK_EQ_INT(pb_config_load_yaml(&c, huge, n, &err), PB_ETOOBIG);
    free(huge);
}

PB_TEST(config_env_overrides_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/c.yaml", pb_test_tmpdir());
    FILE *fp = fopen(path, "w");
    PB_REQUIRE(fp);
    fputs("listen: 127.0.0.1:1111\nthreads: 3\nmax_body: 4KiB\n", fp);
    fclose(fp);

    pb_config c;
    pb_error err = {0};
    setenv("PB_LISTEN", "127.0.0.1:2222", 1);
    setenv("PB_MAX_BODY", "1MiB", 1);
    setenv("PB_SYNC_INTERVAL", "1h", 1);
    PB_REQUIRE(pb_config_load(&c, path, &err) == 0);
    PB_CHECK_STR(c.listen, "127.0.0.1:2222"); /* env beats file */
    PB_CHECK_EQ_INT(c.threads, 3);            /* file beats default */
    PB_CHECK_EQ_INT(c.max_body, 1048576);
    PB_CHECK_EQ_INT(c.sync_interval_s, 3600);
    /* Flags (pb_config_set) beat the environment. */
    PB_CHECK(pb_config_set(&c, "listen", "127.0.0.1:3333", &err) == 0);
    PB_CHECK_STR(c.listen, "127.0.0.1:3333");

    /* Every key has an environment override. */
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        pb_config d;
        pb_config_defaults(&d);
        setenv(k->env, "definitely not valid \x01", 1);
        memset(&err, 0, sizeof err);
        int rc = pb_config_apply_env(&d, &err);
        if (k->type != PB_CFGT_STRING || strcmp(k->name, "listen") == 0 || strcmp(k->name, "store") == 0) {
            PB_CHECK(rc == PB_ECONFIG);
            if (rc) {
                PB_CHECK_STR(err.field, k->name);
                PB_CHECK(strstr(err.msg, k->env) != NULL);
            }
        }
        unsetenv(k->env);
    }
    setenv("PB_LOG_LEVEL", "error", 1);
    PB_CHECK(pb_config_load(&c, NULL, &err) == 0);
    PB_CHECK_EQ_INT(c.log_level, PB_LOG_ERROR);
    setenv("PB_DB_POOL", "1000", 1);
    memset(&err, 0, sizeof err);
    PB_CHECK(pb_config_load(&c, NULL, &err) == PB_ECONFIG);
    PB_CHECK_STR(err.field, "db_pool");
    PB_CHECK(strstr(err.msg, "PB_DB_POOL: db_pool: must be between 1 and 256") != NULL);
    unsetenv("PB_DB_POOL");
    unsetenv("PB_LOG_LEVEL");
    unsetenv("PB_LISTEN");
    unsetenv("PB_MAX_BODY");
    unsetenv("PB_SYNC_INTERVAL");
}

PB_TEST(config_unknown_key_via_set)
{
    pb_config c;
    pb_error err = {0};
    pb_config_defaults(&c);
    PB_CHECK_EQ_INT(pb_config_set(&c, "no_such_key", "1", &err), PB_ECONFIG);
    PB_CHECK_STR(err.field, "no_such_key");
}

PB_TEST(config_mask_url)
{
    char out[256];
    pb_config_mask_url("postgres://user:hunter2secret@host/db", out, sizeof out);
    PB_CHECK_STR(out, "postgres://user:****@host/db");
    pb_config_mask_url("postgresql://u:p%40ss@h:5432/db?sslmode=require", out, sizeof out);
    PB_CHECK_STR(out, "postgresql://u:****@h:5432/db?sslmode=require");
    pb_config_mask_url("postgres://h/db?user=u&password=hunter2secret&sslmode=disable", out, sizeof out);
    PB_CHECK_STR(out, "postgres://h/db?user=u&password=****&sslmode=disable");
    pb_config_mask_url("postgres://user@host/db", out, sizeof out);
    PB_CHECK_STR(out, "postgres://user@host/db");
    pb_config_mask_url("sqlite:./planebridge.db", out, sizeof out);
    PB_CHECK_STR(out, "sqlite:./planebridge.db");
    pb_config_mask_url("https://a:b@c@d/x", out, sizeof out);
    PB_CHECK_STR(out, "https://a:****@d/x");
    pb_config_mask_url("postgres://user:secretpw@host/db", out, 12); /* truncation stays safe */
    PB_CHECK(strstr(out, "secretpw") == NULL);
    PB_CHECK_EQ_INT(strlen(out), 11);
}

PB_TEST(config_print_masks_planted_password)
{
    const char *pw = "Pl4nted-Passw0rd-xyzzy";
    char url[256];
    snprintf(url, sizeof url, "postgres://planebridge:%s@db.internal:5432/pb", pw);
    setenv("PB_STORE", url, 1);
    setenv("PB_PUBLIC_URL", "https://admin:Another-Secret-42@hub.example.com", 1);
    pb_config c;
    pb_error err = {0};
    PB_REQUIRE(pb_config_load(&c, NULL, &err) == 0);
    unsetenv("PB_STORE");
    unsetenv("PB_PUBLIC_URL");
    PB_CHECK_STR(c.store, url); /* the real value is kept for use */
    char *out = print_to_string(&c);
    PB_REQUIRE(out);
    PB_CHECK(strstr(out, pw) == NULL);
    PB_CHECK(strstr(out, "Another-Secret-42") == NULL);
    PB_CHECK(strstr(out, "store: \"postgres://planebridge:****@db.internal:5432/pb\"") != NULL);
    free(out);
    /* Loading registered the password with the redactor: a log line cannot leak it. */
    char line[512], red[512];
    snprintf(line, sizeof line, "connect failed for %s", url);
    pb_redact(line, red, sizeof red);
    PB_CHECK(strstr(red, pw) == NULL);
    /* A bad value naming a password does not echo it in the error. */
    memset(&err, 0, sizeof err);
    PB_CHECK(pb_config_set(&c, "listen", pw, &err) != 0);
    PB_CHECK(strstr(err.msg, pw) == NULL);
    /* Secret-flagged keys print as ****. */
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        if (!k->secret || k->type != PB_CFGT_STRING) continue;
        pb_config d;
        pb_config_defaults(&d);
        PB_CHECK(pb_config_set(&d, k->name, "S3cret-Value-For-Test", &err) == 0);
        char *o = print_to_string(&d);
        PB_CHECK(o && strstr(o, "S3cret-Value-For-Test") == NULL);
        free(o);
    }
}

PB_TEST(config_print_round_trips)
{
    pb_config c, back;
    pb_error err = {0};
    pb_config_defaults(&c);
    PB_REQUIRE(pb_config_set(&c, "listen", "[::1]:9999", &err) == 0);
    PB_REQUIRE(pb_config_set(&c, "log_file", "/tmp/pb \"quoted\" \\ log", &err) == 0);
    PB_REQUIRE(pb_config_set(&c, "max_body", "3MiB", &err) == 0);
    PB_REQUIRE(pb_config_set(&c, "key_rotation_grace", "15m", &err) == 0);
    PB_REQUIRE(pb_config_set(&c, "log_level", "warn", &err) == 0);
    char *out = print_to_string(&c);
    PB_REQUIRE(out);
    pb_config_defaults(&back);
    if (pb_config_load_yaml(&back, out, strlen(out), &err) != 0)
        pb_test_fail(__FILE__, __LINE__, "printed config does not load: %s\n%s", err.msg, out);
    PB_CHECK(memcmp(&c, &back, sizeof c) == 0);
    free(out);
}

PB_TEST(config_help_lists_every_key)
{
    char *out = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&out, &n);
    PB_REQUIRE(fp);
    pb_config_help(fp);
    fclose(fp);
    for (const pb_config_key *k = pb_config_keys; k->name; k++) {
        PB_CHECK(strstr(out, k->name) != NULL);
        PB_CHECK(strstr(out, k->env) != NULL);
    }
    PB_CHECK(strstr(out, "sqlite:./planebridge.db") != NULL);
    free(out);
}

/* Garbage and mutations of a valid file: never crash, and a failed load changes nothing. */
PB_TEST(config_garbage_is_rejected_safely)
{
    static const char *seed = "listen: 127.0.0.1:8470\nstore: sqlite:/tmp/x.db\nmax_body: 1MiB\n"
                              "sync_interval: 5m\nlog_level: info\nssrf_allow: 10.0.0.0/8\n";
    static const char alphabet[] = "abc:-[]{}&*!|>'\"#\n \t%@`,?\\0123456789";
    size_t seedlen = strlen(seed);
    char buf[512];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len;
        if (iter % 2 == 0) { /* mutate the seed */
            memcpy(buf, seed, seedlen);
            len = seedlen;
            for (int m = 0; m < 4; m++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[x % len] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
            }
        } else { /* random bytes */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            len = x % sizeof buf;
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (char)(x >> 24);
            }
        }
        pb_config c, before;
        pb_error err = {0};
        pb_config_defaults(&c);
        before = c;
        if (pb_config_load_yaml(&c, buf, len, &err) == 0) {
            accepted++;
        } else {
            PB_CHECK(memcmp(&c, &before, sizeof c) == 0);
            PB_CHECK(err.msg[0] != '\0');
        }
    }
    PB_CHECK(accepted < 4000);
}
