/* Regression tests for the issues found in the security/robustness review of the core,
 * store driver, HTTP server and auth modules. Each test failed before its fix. */
#include "test.h"

#include "auth/apikey.h"
#include "auth/vault.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"
#include "store/db.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* A secret that straddles the 256-byte pb_error message limit must not leave its first
 * bytes in the message: the text is redacted before it is truncated. */
PB_TEST(review_error_msg_redacts_before_truncating)
{
    pb_error err;
    char pad[241];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    pb_redact_register("Qv7secretvalue-zz9-abcdefghij");
    pb_error_set(&err, PB_ESTORE, "%s Qv7secretvalue-zz9-abcdefghij tail", pad);
    PB_CHECK(strstr(err.msg, "Qv7secret") == NULL);
    PB_CHECK(strstr(err.msg, "Qv7") == NULL);
    pb_error_field(&err, PB_ESTORE, "f", "%s Qv7secretvalue-zz9-abcdefghij tail", pad);
    PB_CHECK(strstr(err.msg, "Qv7") == NULL);
    pb_redact_reset();
}

static int h_long_error(pb_req *req, pb_resp *resp, void *ctx)
{
    char pad[1011];
    (void)req, (void)ctx;
    memset(pad, 'y', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    pb_resp_error(resp, 400, "error", "%s Wk4secretvalue-qq8-abcdefghij", pad);
    return 0;
}

/* Same for HTTP error bodies (pb_resp_error formats into 1 KiB). */
PB_TEST(review_resp_error_redacts_before_truncating)
{
    pb_server *s = NULL;
    pb_error err = {0};
    pb_buf out;
    pb_buf_init(&out, 0);
    pb_redact_register("Wk4secretvalue-qq8-abcdefghij");
    PB_REQUIRE(pb_server_new(NULL, &s, &err) == 0);
    pb_route r = {"GET", "/boom", NULL, PB_ROUTE_PUBLIC, h_long_error, NULL};
    PB_REQUIRE(pb_server_route(s, &r) == 0);
    PB_CHECK_EQ_INT(pb_server_handle_raw(s, "GET", "/boom", NULL, NULL, 0, &out), 400);
    PB_CHECK(strstr(pb_buf_cstr(&out), "Wk4") == NULL);
    pb_buf_free(&out);
    pb_server_free(s);
    pb_redact_reset();
}

/* A secret containing characters JSON escapes (quote, backslash) is still masked in log
 * lines, which are JSON-escaped before redaction. */
PB_TEST(review_log_masks_json_escaped_secret)
{
    char path[512], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/log.txt", pb_test_tmpdir());
    FILE *fp = fopen(path, "w+");
    PB_REQUIRE(fp != NULL);
    int old = pb_log_level;
    pb_log_level = PB_LOG_INFO;
    pb_log_set_output(fp);
    pb_redact_register("Zq\"9xK\\pLm77-secret");
    PB_LOG(PB_LOG_INFO, "connect", PB_LS("password", "Zq\"9xK\\pLm77-secret"));
    pb_log_set_output(NULL);
    pb_log_level = old;
    fclose(fp);
    PB_REQUIRE(pb_read_file(path, 1 << 20, &data, &len) == 0);
    PB_CHECK(strstr(data, "pLm77") == NULL);
    PB_CHECK(strstr(data, "[REDACTED]") != NULL);
    free(data);
    pb_redact_reset();
}

/* A rotation that committed but crashed before its rename leaves KEY.new as the only copy
 * of the key the store uses. When the store cannot be asked, the leftover must be kept
 * (deleting it would make every secret undecryptable), and the open must fail. */
PB_TEST(review_vault_keeps_new_key_when_store_unreadable)
{
    char url[600], kf[512], nk[520];
    pb_error err = {0};
    pb_db *db = NULL;
    pb_vault *v = NULL;
    snprintf(url, sizeof url, "sqlite:%s/unmigrated.db", pb_test_tmpdir());
    snprintf(kf, sizeof kf, "%s/master.key", pb_test_tmpdir());
    snprintf(nk, sizeof nk, "%s.new", kf);
    PB_REQUIRE(pb_vault_create_key_file(kf, &err) == 0);
    PB_REQUIRE(pb_vault_create_key_file(nk, &err) == 0);
    PB_REQUIRE(pb_db_open(url, NULL, &db, &err) == 0); /* no migrations: ops.vault is missing */
    int rc = pb_vault_open(db, kf, &v, &err);
    PB_CHECK(rc != 0);
    PB_CHECK(access(nk, F_OK) == 0);
    pb_vault_free(v);
    pb_db_free(db);
}

/* Durations large enough to overflow microseconds are refused (they used to wrap, which is
 * undefined behaviour and produced keys that expired in the past or far future). */
PB_TEST(review_key_expiry_overflow_is_rejected)
{
    int64_t out = 0;
    int64_t now = pb_now_us();
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("100000000000w", now, &out), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("9223372036854d", now, &out), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_apikey_parse_expiry("30d", now, &out), 0);
    PB_CHECK_EQ_INT(out, now + 30LL * 86400 * 1000000);
}

/* Formatting extreme timestamps is defined (no signed overflow) and always NUL-terminated. */
PB_TEST(review_time_iso_extremes)
{
    char t[40];
    pb_time_iso(INT64_MIN, t, sizeof t);
    PB_CHECK(strlen(t) < sizeof t);
    pb_time_iso(INT64_MAX, t, sizeof t);
    PB_CHECK(strlen(t) < sizeof t);
    pb_time_iso(-1, t, sizeof t);
    PB_CHECK_STR(t, "1969-12-31T23:59:59.999999Z");
}

/* Two result sets of the same cached statement open at once on one connection: the second
 * query must not rebind (or reset) the statement the first one is still reading. */
PB_STORE_TEST(review_sqlite_cached_statement_not_shared_by_open_rows)
{
    pb_error err = {0};
    pb_db *db = NULL;
    pb_conn *c = NULL;
    pb_rows *a = NULL, *b = NULL;
    PB_REQUIRE(pb_db_open(pb_test_store_url(), NULL, &db, &err) == 0);
    PB_REQUIRE(pb_db_acquire(db, &c, &err) == 0);
    static const char sql[] = "SELECT $1 + 0";
    PB_REQUIRE(pb_conn_query(c, sql, (pb_val[]){PB_INT(1)}, 1, &a, &err) == 0);
    PB_REQUIRE(pb_conn_query(c, sql, (pb_val[]){PB_INT(2)}, 1, &b, &err) == 0);
    PB_CHECK_EQ_INT(pb_rows_next(a), 1);
    PB_CHECK_EQ_INT(pb_rows_int(a, 0), 1);
    PB_CHECK_EQ_INT(pb_rows_next(b), 1);
    PB_CHECK_EQ_INT(pb_rows_int(b, 0), 2);
    pb_rows_free(b);
    pb_rows_free(a);
    /* and the cache still works afterwards */
    PB_REQUIRE(pb_conn_query(c, sql, (pb_val[]){PB_INT(3)}, 1, &a, &err) == 0);
    PB_CHECK_EQ_INT(pb_rows_next(a), 1);
    PB_CHECK_EQ_INT(pb_rows_int(a, 0), 3);
    pb_rows_free(a);
    pb_db_release(db, c);
    pb_db_free(db);
}

/* A field larger than the 64 KiB line ceiling is dropped whole, and the line still ends
 * with "}\n" (it used to end mid-field, gluing the next line onto it). */
PB_TEST(review_log_oversized_field_keeps_line_valid)
{
    char path[512], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/log2.txt", pb_test_tmpdir());
    FILE *fp = fopen(path, "w+");
    PB_REQUIRE(fp != NULL);
    char *big = malloc(100000);
    PB_REQUIRE(big != NULL);
    memset(big, 'a', 99999);
    big[99999] = '\0';
    int old = pb_log_level;
    pb_log_level = PB_LOG_INFO;
    pb_log_set_output(fp);
    PB_LOG(PB_LOG_INFO, "first", PB_LI("n", 1), PB_LS("big", big));
    PB_LOG(PB_LOG_INFO, "second");
    pb_log_set_output(NULL);
    pb_log_level = old;
    fclose(fp);
    free(big);
    PB_REQUIRE(pb_read_file(path, 1 << 20, &data, &len) == 0);
    const char *nl = strchr(data, '\n');
    PB_REQUIRE(nl != NULL);
    PB_CHECK(nl > data && nl[-1] == '}');
    PB_CHECK(strstr(data, "\"truncated\":true") != NULL);
    PB_CHECK(strstr(data, "\"n\":1") != NULL);
    PB_CHECK(strstr(nl + 1, "\"msg\":\"second\"") != NULL);
    free(data);
}

/* `vault put` reads the secret from stdin into 64 KiB: a longer secret used to be stored
 * silently truncated; it is refused now (exit 1, nothing stored). */

static int run_cli_stdin(const char *stdin_path, int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int in = open(stdin_path, O_RDONLY), null = open("/dev/null", O_WRONLY);
    int s0 = dup(0), s1 = dup(1), s2 = dup(2);
    dup2(in, 0);
    dup2(null, 1);
    dup2(null, 2);
    close(in);
    close(null);
    int rc = pb_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    clearerr(stdin);
    dup2(s0, 0), dup2(s1, 1), dup2(s2, 2);
    close(s0), close(s1), close(s2);
    return rc;
}

PB_TEST(review_vault_put_refuses_oversized_stdin)
{
    char store[600], kf[512], big[512], small[512];
    pb_error err = {0};
    snprintf(store, sizeof store, "sqlite:%s/cli.db", pb_test_tmpdir());
    snprintf(kf, sizeof kf, "%s/cli.key", pb_test_tmpdir());
    snprintf(big, sizeof big, "%s/big.txt", pb_test_tmpdir());
    snprintf(small, sizeof small, "%s/small.txt", pb_test_tmpdir());
    setenv("PB_STORE", store, 1);
    setenv("PB_MASTER_KEY_FILE", kf, 1);
    FILE *fp = fopen(big, "w");
    PB_REQUIRE(fp != NULL);
    for (int i = 0; i < 70000; i++) fputc('s', fp);
    fclose(fp);
    fp = fopen(small, "w");
    PB_REQUIRE(fp != NULL);
    fputs("small-secret-value\n", fp);
    fclose(fp);
    char a0[] = "planebridge", a1[] = "init", b1[] = "vault", b2[] = "put", b3[] = "big", c3[] = "small";
    char *init[] = {a0, a1, NULL}, *putbig[] = {a0, b1, b2, b3, NULL}, *putsmall[] = {a0, b1, b2, c3, NULL};
    PB_REQUIRE(run_cli_stdin("/dev/null", 2, init) == 0);
    PB_CHECK_EQ_INT(run_cli_stdin(big, 4, putbig), 1);
    PB_CHECK_EQ_INT(run_cli_stdin(small, 4, putsmall), 0);
    pb_db *db = NULL;
    pb_vault *v = NULL;
    char *sec = NULL;
    size_t len = 0;
    PB_REQUIRE(pb_db_open(store, NULL, &db, &err) == 0);
    PB_REQUIRE(pb_vault_open(db, kf, &v, &err) == 0);
    PB_CHECK_EQ_INT(pb_vault_get(v, "big", &sec, &len, &err), PB_ENOTFOUND);
    pb_vault_secret_free(sec);
    sec = NULL;
    PB_CHECK_EQ_INT(pb_vault_get(v, "small", &sec, &len, &err), 0);
    PB_CHECK(sec && strcmp(sec, "small-secret-value") == 0);
    pb_vault_secret_free(sec);
    pb_vault_free(v);
    pb_db_free(db);
    pb_redact_reset();
}
