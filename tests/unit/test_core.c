/* Unit tests for the core leaf modules: err, buf, util, log redaction. */
#include "test.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>

PB_TEST(err_codes_have_names_messages_statuses)
{
    PB_CHECK_STR(pb_err_name(PB_ENOTFOUND), "PB_ENOTFOUND");
    PB_CHECK_STR(pb_strerror(PB_ETOOBIG), "input exceeds a size limit");
    PB_CHECK_EQ_INT(pb_err_http_status(PB_ETOOBIG), 413);
    PB_CHECK_EQ_INT(pb_err_http_status(PB_ERATELIMIT), 429);
    PB_CHECK_STR(pb_strerror(-9999), "unknown error");
    PB_CHECK_EQ_INT(pb_err_http_status(-9999), 500);
    pb_error e = {0};
    PB_CHECK_EQ_INT(pb_error_field(&e, PB_EINVAL, "name", "bad %s", "value"), PB_EINVAL);
    PB_CHECK_STR(e.field, "name");
    PB_CHECK_STR(e.msg, "bad value");
    PB_CHECK_EQ_INT(pb_error_set(NULL, PB_EIO, "ignored"), PB_EIO);
}

PB_TEST(buf_ceiling_is_enforced_and_buffer_stays_valid)
{
    pb_buf b;
    pb_buf_init(&b, 8);
    PB_CHECK_EQ_INT(pb_buf_puts(&b, "12345678"), 0);
    PB_CHECK_EQ_INT(pb_buf_puts(&b, "9"), PB_ETOOBIG);
    PB_CHECK_STR(pb_buf_cstr(&b), "12345678");
    PB_CHECK_EQ_INT(pb_buf_printf(&b, "%d", 1), PB_ETOOBIG);
    pb_buf_reset(&b);
    PB_CHECK_STR(pb_buf_cstr(&b), "");
    pb_buf_free(&b);
    pb_buf_free(NULL);
    pb_buf big;
    pb_buf_init(&big, 0);
    for (int i = 0; i < 1000; i++) PB_CHECK_EQ_INT(pb_buf_printf(&big, "%04d,", i), 0);
    PB_CHECK_EQ_INT(big.len, 5000);
    char *s = pb_buf_steal(&big);
    PB_CHECK(strncmp(s, "0000,0001,", 10) == 0);
    free(s);
}

PB_TEST(buf_json_escapes_controls_quotes_and_bad_utf8)
{
    pb_buf b;
    pb_buf_init(&b, 0);
    pb_buf_json_str(&b, "a\"b\\c\n\x01 é \xff");
    PB_CHECK_STR(pb_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001 é \xEF\xBF\xBD\"");
    pb_buf_reset(&b);
    pb_buf_json_str(&b, NULL);
    PB_CHECK_STR(pb_buf_cstr(&b), "null");
    pb_buf_reset(&b);
    pb_buf_json_str(&b, "\xed\xa0\x80"); /* UTF-16 surrogate encoded in UTF-8: invalid */
    PB_CHECK_STR(pb_buf_cstr(&b), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    pb_buf_free(&b);
}

PB_TEST(time_format_and_parse_with_offsets)
{
    char s[40];
    pb_time_iso(0, s, sizeof s);
    PB_CHECK_STR(s, "1970-01-01T00:00:00.000000Z");
    int64_t us = 0;
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21T10:20:30.123456Z", &us), 0);
    pb_time_iso(us, s, sizeof s);
    PB_CHECK_STR(s, "2026-11-21T10:20:30.123456Z");
    /* Plane answers in the key owner's time zone: +05:30 must land on the same instant. */
    int64_t us2 = 0;
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21T15:50:30.123456+05:30", &us2), 0);
    PB_CHECK_EQ_INT(us2, us);
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21T05:20:30.123456-0500", &us2), 0);
    PB_CHECK_EQ_INT(us2, us);
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21", &us2), 0);
    pb_time_iso(us2, s, sizeof s);
    PB_CHECK_STR(s, "2026-11-21T00:00:00.000000Z");
    PB_CHECK_EQ_INT(pb_time_parse("2026-02-30", &us2), PB_EPARSE);
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21T25:00:00Z", &us2), PB_EPARSE);
    PB_CHECK_EQ_INT(pb_time_parse("2026-11-21Tgarbage", &us2), PB_EPARSE);
    /* Offsets that leave the four-digit-year range are refused; formatting clamps. */
    PB_CHECK_EQ_INT(pb_time_parse("0001-01-01T00:00:00+01:00", &us2), PB_EPARSE);
    PB_CHECK_EQ_INT(pb_time_parse("9999-12-31T23:59:59-01:00", &us2), PB_EPARSE);
    pb_time_iso(INT64_MAX, s, sizeof s);
    PB_CHECK_STR(s, "9999-12-31T23:59:59.999999Z");
    PB_CHECK_EQ_INT(pb_time_parse(s, &us2), 0);
    pb_time_iso(INT64_MIN, s, sizeof s);
    PB_CHECK_STR(s, "0001-01-01T00:00:00.000000Z");
    PB_CHECK_EQ_INT(pb_date_valid("2024-02-29"), 0);
    PB_CHECK_EQ_INT(pb_date_valid("2023-02-29"), PB_EPARSE);
}

PB_TEST(uuid_hex_base64_roundtrips)
{
    char u[37], v[37];
    PB_CHECK_EQ_INT(pb_uuid4(u), 0);
    PB_CHECK_EQ_INT(pb_uuid4(v), 0);
    PB_CHECK(pb_uuid_valid(u));
    PB_CHECK(strcmp(u, v) != 0);
    PB_CHECK_EQ_INT(u[14], '4');
    PB_CHECK(!pb_uuid_valid("not-a-uuid"));
    PB_CHECK(!pb_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
    unsigned char raw[5] = {0, 1, 0xab, 0xff, 0x10}, back[5];
    char hex[11];
    pb_hex_encode(raw, 5, hex);
    PB_CHECK_STR(hex, "0001abff10");
    PB_CHECK_EQ_INT(pb_hex_decode(hex, 10, back, 5), 0);
    PB_CHECK(memcmp(raw, back, 5) == 0);
    PB_CHECK_EQ_INT(pb_hex_decode("zz", 2, back, 1), PB_EPARSE);
    char b64[16];
    pb_base64_encode("foob", 4, b64);
    PB_CHECK_STR(b64, "Zm9vYg==");
    char dec[8];
    PB_CHECK_EQ_INT(pb_base64_decode("Zm9vYg==", 8, dec, sizeof dec), 4);
    PB_CHECK(memcmp(dec, "foob", 4) == 0);
    PB_CHECK(pb_base64_decode("Zm9v!g==", 8, dec, sizeof dec) < 0);
}

PB_TEST(ct_equal_and_parsers)
{
    PB_CHECK(pb_ct_equal("abc", 3, "abc", 3));
    PB_CHECK(!pb_ct_equal("abc", 3, "abd", 3));
    PB_CHECK(!pb_ct_equal("abc", 3, "abcd", 4));
    int64_t v;
    PB_CHECK_EQ_INT(pb_parse_i64("42", 0, 100, &v), 0);
    PB_CHECK_EQ_INT(v, 42);
    PB_CHECK_EQ_INT(pb_parse_i64("101", 0, 100, &v), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_parse_i64("4x", 0, 100, &v), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_parse_i64("", 0, 100, &v), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_parse_duration_s("24h", &v), 0);
    PB_CHECK_EQ_INT(v, 86400);
    PB_CHECK_EQ_INT(pb_parse_duration_s("5m", &v), 0);
    PB_CHECK_EQ_INT(v, 300);
    PB_CHECK_EQ_INT(pb_parse_duration_s("h", &v), PB_EINVAL);
    char small[4];
    PB_CHECK_EQ_INT(pb_strlcpy(small, "abcdef", sizeof small), 6);
    PB_CHECK_STR(small, "abc");
}

PB_TEST(redaction_masks_registered_and_shaped_secrets)
{
    char out[256];
    pb_redact_register("hunter2-very-secret");
    pb_redact("password is hunter2-very-secret!", out, sizeof out);
    PB_CHECK_STR(out, "password is [REDACTED]!");
    pb_redact("key pb_0123456789abcdefghijABCDEFGHIJkl used", out, sizeof out);
    PB_CHECK_STR(out, "key [REDACTED] used");
    pb_redact("X-Api-Key: plane_api_0123456789abcdef0123456789abcdef", out, sizeof out);
    PB_CHECK_STR(out, "X-Api-Key: [REDACTED]");
    /* Identifiers that merely start with a prefix are not secrets. */
    pb_redact("module pb_store opened", out, sizeof out);
    PB_CHECK_STR(out, "module pb_store opened");
    pb_redact("abc", out, 2);
    PB_CHECK_STR(out, "a");
    pb_error e = {0};
    pb_error_set(&e, PB_EINVAL, "bad token hunter2-very-secret");
    PB_CHECK(strstr(e.msg, "hunter2") == NULL);
}

PB_TEST(log_lines_are_json_and_never_contain_secrets)
{
    char path[600];
    snprintf(path, sizeof path, "%s/log.txt", pb_test_tmpdir());
    FILE *fp = fopen(path, "w+");
    PB_REQUIRE(fp != NULL);
    pb_log_set_output(fp);
    pb_log_level = PB_LOG_INFO;
    pb_redact_register("s3cr3t-planted-value");
    pb_log_set_request_id("req-1");
    PB_LOG(PB_LOG_INFO, "login with s3cr3t-planted-value", PB_LS("token", "s3cr3t-planted-value"), PB_LI("n", 7));
    PB_LOG(PB_LOG_DEBUG, "suppressed");
    pb_log_set_output(NULL);
    fflush(fp);
    rewind(fp);
    char line[1024] = {0};
    PB_REQUIRE(fgets(line, sizeof line, fp) != NULL);
    PB_CHECK(strstr(line, "s3cr3t") == NULL);
    PB_CHECK(strstr(line, "\"level\":\"info\"") != NULL);
    PB_CHECK(strstr(line, "\"req\":\"req-1\"") != NULL);
    PB_CHECK(strstr(line, "\"n\":7") != NULL);
    PB_CHECK(line[0] == '{' && strstr(line, "}\n") != NULL);
    PB_CHECK(fgets(line, sizeof line, fp) == NULL); /* the debug line was dropped */
    fclose(fp);
}
