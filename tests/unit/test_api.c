/* Unit tests of the Plane-compatible API helpers (api/common) and the plane_store contract
 * (PB_STORE_TEST: SQLite and PostgreSQL). */
#include "test.h"

#include "api/api.h"
#include "api/common.h"
#include "core/buf.h"
#include "core/util.h"
#include "store/db.h"
#include "store/plane_store.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- cursor / per_page */
PB_TEST(api_cursor_parse_plane_forms)
{
    double v = 0;
    int64_t page = -9;
    int prev = -1;
    PB_CHECK_EQ_INT(pb_api_cursor_parse("100:2:0", &v, &page, &prev), 0);
    PB_CHECK(v == 100);
    PB_CHECK_EQ_INT(page, 2);
    PB_CHECK_EQ_INT(prev, 0);
    PB_CHECK_EQ_INT(pb_api_cursor_parse("100:-1:1", &v, &page, &prev), 0);
    PB_CHECK_EQ_INT(page, -1);
    PB_CHECK_EQ_INT(prev, 1);
    PB_CHECK_EQ_INT(pb_api_cursor_parse("2.5:3:0", &v, &page, &prev), 0);
    PB_CHECK(v == 2.5);
    PB_CHECK_EQ_INT(page, 3);
    /* Python int(): sign and surrounding spaces are accepted */
    PB_CHECK_EQ_INT(pb_api_cursor_parse(" 10 :+1:0", &v, &page, &prev), 0);
    PB_CHECK_EQ_INT(page, 1);
    PB_CHECK_EQ_INT(pb_api_cursor_parse("10:1:7", &v, &page, &prev), 0);
    PB_CHECK_EQ_INT(prev, 1);
}

PB_TEST(api_cursor_parse_rejects_malformed)
{
    const char *bad[] = {"", "abc", "1:2", "1:2:3:4", ":1:0", "1::0", "1:x:0", "1:1:", "a.b:1:0",
                         "1:1.5:0", "99999999999999999999999:1:0", "1:2:0;DROP", NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t page;
        if (pb_api_cursor_parse(bad[i], NULL, &page, NULL) == 0)
            pb_test_fail(__FILE__, __LINE__, "accepted bad cursor \"%s\"", bad[i]);
    }
    PB_CHECK(pb_api_cursor_parse(NULL, NULL, NULL, NULL) != 0);
}

PB_TEST(api_page_parse_defaults_and_errors)
{
    pb_api_page pg;
    char msg[128];
    PB_CHECK_EQ_INT(pb_api_page_parse(NULL, NULL, &pg, msg, sizeof msg), 0);
    PB_CHECK_EQ_INT(pg.per_page, 1000);
    PB_CHECK_EQ_INT(pg.page, 0);
    PB_CHECK_EQ_INT(pg.offset, 0);
    PB_CHECK_EQ_INT(pb_api_page_parse("100", "100:3:0", &pg, msg, sizeof msg), 0);
    PB_CHECK_EQ_INT(pg.offset, 300);
    /* the cursor's value part does not change the page size */
    PB_CHECK_EQ_INT(pb_api_page_parse("10", "100:3:0", &pg, msg, sizeof msg), 0);
    PB_CHECK_EQ_INT(pg.per_page, 10);
    PB_CHECK_EQ_INT(pg.offset, 30);
    PB_CHECK(pb_api_page_parse("1001", NULL, &pg, msg, sizeof msg) != 0);
    PB_CHECK_STR(msg, "Invalid per_page value. Cannot exceed 1000.");
    PB_CHECK(pb_api_page_parse("abc", NULL, &pg, msg, sizeof msg) != 0);
    PB_CHECK_STR(msg, "Invalid per_page parameter.");
    PB_CHECK(pb_api_page_parse("0", NULL, &pg, msg, sizeof msg) != 0);
    PB_CHECK(pb_api_page_parse("-5", NULL, &pg, msg, sizeof msg) != 0);
    PB_CHECK(pb_api_page_parse("10", "zzz", &pg, msg, sizeof msg) != 0);
    PB_CHECK_STR(msg, "Invalid cursor parameter.");
    PB_CHECK(pb_api_page_parse("10", "10:-1:1", &pg, msg, sizeof msg) != 0);
    PB_CHECK_STR(msg, "Error in parsing");
    PB_CHECK(pb_api_page_parse("1000", "1:9223372036854775807:0", &pg, msg, sizeof msg) != 0);
}

static cJSON *envelope_json(int64_t per_page, int64_t page, int64_t total, int rows)
{
    pb_api_page pg = {per_page, page, 0, per_page * page};
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    pb_api_envelope_begin(&b, &pg, total);
    for (int i = 0; i < rows; i++) pb_buf_printf(&b, "%s{\"id\":%d}", i ? "," : "", i);
    pb_api_envelope_end(&b);
    cJSON *j = cJSON_Parse(pb_buf_cstr(&b));
    pb_buf_free(&b);
    return j;
}

PB_TEST(api_envelope_fields_like_plane)
{
    cJSON *j = envelope_json(2, 0, 5, 2);
    PB_REQUIRE(j);
    static const char *const keys[] = {"grouped_by", "sub_grouped_by", "total_count", "next_cursor", "prev_cursor",
                                       "next_page_results", "prev_page_results", "count", "total_pages",
                                       "total_results", "extra_stats", "results", NULL};
    for (int i = 0; keys[i]; i++) PB_CHECK(cJSON_GetObjectItemCaseSensitive(j, keys[i]) != NULL);
    PB_CHECK_STR(cJSON_GetObjectItem(j, "next_cursor")->valuestring, "2:1:0");
    PB_CHECK_STR(cJSON_GetObjectItem(j, "prev_cursor")->valuestring, "2:-1:1");
    PB_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "next_page_results")));
    PB_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "prev_page_results")));
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "count")->valueint, 2);
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "total_pages")->valueint, 3);
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "total_count")->valueint, 5);
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "total_results")->valueint, 5);
    PB_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "grouped_by")));
    PB_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "extra_stats")));
    PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")), 2);
    cJSON_Delete(j);

    j = envelope_json(2, 2, 5, 1); /* last page */
    PB_REQUIRE(j);
    PB_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "next_page_results")));
    PB_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "prev_page_results")));
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "count")->valueint, 1);
    PB_CHECK_STR(cJSON_GetObjectItem(j, "next_cursor")->valuestring, "2:3:0");
    PB_CHECK_STR(cJSON_GetObjectItem(j, "prev_cursor")->valuestring, "2:1:1");
    cJSON_Delete(j);

    j = envelope_json(100, 0, 0, 0); /* empty */
    PB_REQUIRE(j);
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "total_pages")->valueint, 0);
    PB_CHECK_EQ_INT(cJSON_GetObjectItem(j, "count")->valueint, 0);
    PB_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "next_page_results")));
    cJSON_Delete(j);

    pb_api_page pg = {10, 7, 0, 70};
    PB_CHECK_EQ_INT(pb_api_page_count(&pg, 75), 5);
    PB_CHECK_EQ_INT(pb_api_page_count(&pg, 70), 0);
    PB_CHECK_EQ_INT(pb_api_page_count(&pg, 1000), 10);
}

/* ---------------------------------------------------------------- fields */
PB_TEST(api_fields_parse_and_apply)
{
    pb_api_fields f;
    pb_api_fields_parse("id,,name, labels ,", &f);
    PB_CHECK_EQ_INT(f.n, 3);
    PB_CHECK(pb_api_fields_has(&f, "id"));
    PB_CHECK(pb_api_fields_has(&f, "labels"));
    PB_CHECK(!pb_api_fields_has(&f, "state"));
    cJSON *o = cJSON_Parse("{\"id\":\"x\",\"name\":\"n\",\"state\":\"s\",\"labels\":[1],\"priority\":\"none\"}");
    pb_api_fields_apply(o, &f);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(o), 3);
    PB_CHECK(cJSON_GetObjectItem(o, "state") == NULL);
    cJSON_Delete(o);
    pb_api_fields_parse(NULL, &f);
    PB_CHECK_EQ_INT(f.n, 0);
    o = cJSON_Parse("{\"a\":1}");
    pb_api_fields_apply(o, &f); /* no list: unchanged */
    PB_CHECK_EQ_INT(cJSON_GetArraySize(o), 1);
    cJSON_Delete(o);
    /* an over-long list is truncated safely */
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pb_api_fields_parse(big, &f);
    PB_CHECK(f.n <= PB_API_FIELDS_MAX);
    pb_buf b;
    pb_buf_init(&b, 4096);
    pb_api_fields_parse("name", &f);
    PB_CHECK_EQ_INT(pb_api_append_raw(&b, "{\"id\":\"1\",\"name\":\"x\"}", &f), 0);
    PB_CHECK_STR(pb_buf_cstr(&b), "{\"name\":\"x\"}");
    pb_buf_reset(&b);
    PB_CHECK_EQ_INT(pb_api_append_raw(&b, "{\"id\":\"1\"}", NULL), 0);
    PB_CHECK_STR(pb_buf_cstr(&b), "{\"id\":\"1\"}");
    pb_buf_free(&b);
}

/* ---------------------------------------------------------------- JSON input */
PB_TEST(api_json_depth_and_limits)
{
    PB_CHECK_EQ_INT(pb_api_json_depth("{}", 2), 1);
    PB_CHECK_EQ_INT(pb_api_json_depth("{\"a\":[{\"b\":\"[[[[\"}]}", 19), 3);
    char deep[256];
    int n = 0;
    for (int i = 0; i < 100; i++) deep[n++] = '[';
    for (int i = 0; i < 100; i++) deep[n++] = ']';
    deep[n] = '\0';
    PB_CHECK_EQ_INT(pb_api_json_depth(deep, (size_t)n), 100);
    cJSON *j = NULL;
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_api_parse_json(deep, (size_t)n, &j, &err), PB_EDEPTH);
    PB_CHECK(j == NULL);
    PB_CHECK_EQ_INT(pb_api_parse_json("{\"a\":", 5, &j, &err), PB_EPARSE);
    PB_CHECK(strstr(err.msg, "JSON parse error") != NULL);
    PB_CHECK_EQ_INT(pb_api_parse_json("{} x", 4, &j, &err), PB_EPARSE);
    PB_CHECK_EQ_INT(pb_api_parse_json("{\"a\":\"\xff\"}", 9, &j, &err), PB_EPARSE);
    PB_CHECK_EQ_INT(pb_api_parse_json("{\"a\":\"\xed\xa0\x80\"}", 11, &j, &err), PB_EPARSE); /* surrogate */
    const char *ok = "{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
    PB_CHECK_EQ_INT(pb_api_parse_json(ok, strlen(ok), &j, &err), 0);
    PB_REQUIRE(j);
    cJSON_Delete(j);
    PB_CHECK_EQ_INT(pb_api_parse_json("{}", (size_t)PB_API_JSON_MAX_BYTES + 1, &j, &err), PB_ETOOBIG);
}

PB_TEST(api_typed_getters)
{
    cJSON *b = cJSON_Parse("{\"name\":\"ok\",\"blank\":\"\",\"num\":5,\"nul\":null,\"u\":\"5A0E9B9E-6A3E-4B9C-9D6E-0C1F2A3B4C5D\","
                           "\"badu\":\"nope\",\"list\":[\"5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d\",\"5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d\"],"
                           "\"d\":\"2026-02-28\",\"bd\":\"2026-02-30\",\"t\":true,\"ts\":\"false\",\"big\":13,\"f\":1.5,"
                           "\"long\":\"abcdef\",\"uni\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}");
    PB_REQUIRE(b);
    pb_api_verr v = {0};
    const char *s = NULL;
    PB_CHECK_EQ_INT(pb_api_get_str(b, "name", 0, 0, 255, &s, &v), 1);
    PB_CHECK_STR(s, "ok");
    PB_CHECK_EQ_INT(pb_api_get_str(b, "absent", 0, 0, 255, &s, &v), 0);
    PB_CHECK(!pb_api_verr_any(&v));
    pb_api_get_str(b, "blank", 0, 0, 255, &s, &v);
    pb_api_get_str(b, "num", 0, 0, 255, &s, &v);
    pb_api_get_str(b, "nul", 0, 0, 255, &s, &v);
    pb_api_get_str(b, "long", 0, 0, 5, &s, &v);
    PB_CHECK(pb_api_verr_any(&v));
    PB_CHECK(cJSON_GetObjectItem(v.obj, "blank") && cJSON_GetObjectItem(v.obj, "num") &&
             cJSON_GetObjectItem(v.obj, "nul") && cJSON_GetObjectItem(v.obj, "long"));
    pb_api_verr_free(&v);
    /* length counts characters, not bytes */
    PB_CHECK_EQ_INT(pb_api_get_str(b, "uni", 0, 0, 3, &s, &v), 1);
    PB_CHECK(!pb_api_verr_any(&v));
    char u[37];
    PB_CHECK_EQ_INT(pb_api_get_uuid(b, "u", 0, u, &v), 1);
    PB_CHECK_STR(u, "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d");
    pb_api_get_uuid(b, "badu", 0, u, &v);
    PB_CHECK(pb_api_verr_any(&v));
    pb_api_verr_free(&v);
    char(*ids)[37] = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_api_get_uuid_list(b, "list", 10, &ids, &n, &v), 1);
    PB_CHECK_EQ_INT(n, 1); /* deduplicated */
    free(ids);
    pb_api_get_uuid_list(b, "name", 10, &ids, &n, &v);
    PB_CHECK(pb_api_verr_any(&v));
    pb_api_verr_free(&v);
    char d[11];
    PB_CHECK_EQ_INT(pb_api_get_date(b, "d", 1, d, &v), 1);
    PB_CHECK_STR(d, "2026-02-28");
    pb_api_get_date(b, "bd", 1, d, &v);
    PB_CHECK(pb_api_verr_any(&v));
    pb_api_verr_free(&v);
    int t = 0;
    PB_CHECK_EQ_INT(pb_api_get_bool(b, "t", &t, &v), 1);
    PB_CHECK_EQ_INT(t, 1);
    PB_CHECK_EQ_INT(pb_api_get_bool(b, "ts", &t, &v), 1);
    PB_CHECK_EQ_INT(t, 0);
    int64_t i = 0;
    pb_api_get_int(b, "big", 0, 12, &i, &v);
    PB_CHECK(pb_api_verr_any(&v));
    pb_api_verr_free(&v);
    pb_api_get_int(b, "f", 0, 12, &i, &v);
    PB_CHECK(pb_api_verr_any(&v));
    pb_api_verr_free(&v);
    cJSON_Delete(b);
}

PB_TEST(api_uuid_path_param_is_django_strict)
{
    PB_CHECK(pb_api_uuid_ok("5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d"));
    PB_CHECK(!pb_api_uuid_ok("5A0E9B9E-6A3E-4B9C-9D6E-0C1F2A3B4C5D"));
    PB_CHECK(!pb_api_uuid_ok("5a0e9b9e6a3e4b9c9d6e0c1f2a3b4c5d"));
    PB_CHECK(!pb_api_uuid_ok("5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5"));
    PB_CHECK(!pb_api_uuid_ok("' OR 1=1 --"));
    PB_CHECK(!pb_api_uuid_ok(NULL));
}

PB_TEST(api_diff_reports_previous_values)
{
    cJSON *a = cJSON_Parse("{\"name\":\"a\",\"priority\":\"none\",\"labels\":[\"x\"],\"same\":1}");
    cJSON *b = cJSON_Parse("{\"name\":\"b\",\"priority\":\"none\",\"labels\":[],\"same\":1,\"new\":true}");
    cJSON *prev = cJSON_CreateObject();
    PB_CHECK_EQ_INT(pb_api_diff(a, b, NULL, prev), 3);
    PB_CHECK_STR(cJSON_GetObjectItem(prev, "name")->valuestring, "a");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(prev, "labels")), 1);
    PB_CHECK(cJSON_IsNull(cJSON_GetObjectItem(prev, "new")));
    PB_CHECK(cJSON_GetObjectItem(prev, "priority") == NULL);
    static const char *const only[] = {"name", NULL};
    cJSON *p2 = cJSON_CreateObject();
    PB_CHECK_EQ_INT(pb_api_diff(a, b, only, p2), 1);
    cJSON_Delete(p2);
    cJSON_Delete(prev);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

PB_TEST(api_completed_at_transitions)
{
    PB_CHECK_EQ_INT(pb_api_completed_at("started", "completed", 0, 77), 77);
    PB_CHECK_EQ_INT(pb_api_completed_at("completed", "started", 55, 77), 0);
    PB_CHECK_EQ_INT(pb_api_completed_at("completed", "completed", 55, 77), 55);
    PB_CHECK_EQ_INT(pb_api_completed_at("backlog", "started", 0, 77), 0);
    PB_CHECK_EQ_INT(pb_api_completed_at(NULL, "completed", 0, 9), 9);
    PB_CHECK_EQ_INT(pb_api_completed_at("completed", "cancelled", 5, 9), 0);
}

PB_TEST(api_now_is_strictly_increasing)
{
    int64_t prev = pb_api_now();
    for (int i = 0; i < 10000; i++) {
        int64_t t = pb_api_now();
        if (t <= prev) {
            pb_test_fail(__FILE__, __LINE__, "pb_api_now went from %lld to %lld", (long long)prev, (long long)t);
            return;
        }
        prev = t;
    }
}

/* ---------------------------------------------------------------- store contract */
typedef struct sfx {
    pb_db *db;
    pb_conn *c;
    char project[37];
} sfx;

static int sfx_open(sfx *f)
{
    pb_error err = {0};
    memset(f, 0, sizeof *f);
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, &err) || pb_db_acquire(f->db, &f->c, &err)) {
        pb_test_fail(__FILE__, __LINE__, "open store: %s", err.msg);
        return -1;
    }
    pb_uuid4(f->project);
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    pb_strlcpy(p.id, f->project, sizeof p.id);
    pb_strlcpy(p.slug, "acme", sizeof p.slug);
    pb_strlcpy(p.identifier, "ACM", sizeof p.identifier);
    p.name = (char *)(uintptr_t) "Acme";
    p.created_at = p.updated_at = 1000;
    p.raw = (char *)(uintptr_t) "{\"name\":\"Acme\",\"network\":2}";
    if (pb_ps_project_insert(f->c, &p, &err)) {
        pb_test_fail(__FILE__, __LINE__, "insert project: %s", err.msg);
        return -1;
    }
    return 0;
}

static void sfx_close(sfx *f)
{
    pb_db_release(f->db, f->c);
    pb_db_free(f->db);
}

/* A request context of the fixture's workspace and project, as the API's handlers fill it. */
static void sfx_req(const sfx *f, pb_api_req *ar)
{
    memset(ar, 0, sizeof *ar);
    ar->slug = "acme";
    pb_strlcpy(ar->user_id, "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", sizeof ar->user_id);
    pb_strlcpy(ar->project_id, f->project, sizeof ar->project_id);
}

static int put_issue(sfx *f, const char *id, const char *group, int64_t created, int draft, int64_t archived,
                     const char *ext_src, const char *ext_id)
{
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, id, sizeof it.id);
    it.item_type = "issue";
    pb_strlcpy(it.slug, "acme", sizeof it.slug);
    pb_strlcpy(it.project_id, f->project, sizeof it.project_id);
    pb_strlcpy(it.state_group, group, sizeof it.state_group);
    pb_strlcpy(it.priority, "none", sizeof it.priority);
    it.name = (char *)(uintptr_t)id;
    it.external_source = (char *)(uintptr_t)ext_src;
    it.external_id = (char *)(uintptr_t)ext_id;
    it.created_at = it.updated_at = created;
    it.is_draft = draft;
    it.archived_at = archived;
    it.is_active = 1;
    char raw[128];
    snprintf(raw, sizeof raw, "{\"id\":\"%s\"}", id);
    it.raw = raw;
    pb_error err = {0};
    int rc = pb_ps_item_insert(f->c, &it, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "insert issue: %s", err.msg);
    return rc;
}

PB_STORE_TEST(api_store_sequence_never_reused)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    int64_t s1 = 0, s2 = 0, s3 = 0;
    PB_CHECK_EQ_INT(pb_ps_project_next_seq(f.c, f.project, &s1, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_next_seq(f.c, f.project, &s2, &err), 0);
    PB_CHECK_EQ_INT(s1, 1);
    PB_CHECK_EQ_INT(s2, 2);
    /* a rolled-back allocation is the only way a number is skipped; deletes never free one */
    PB_CHECK_EQ_INT(pb_conn_begin_write(f.c, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_next_seq(f.c, f.project, &s3, &err), 0);
    PB_CHECK_EQ_INT(pb_conn_commit(f.c, &err), 0);
    PB_CHECK_EQ_INT(s3, 3);
    char id[37];
    pb_uuid4(id);
    put_issue(&f, id, "backlog", 10, 0, 0, NULL, NULL);
    PB_CHECK_EQ_INT(pb_ps_item_soft_delete(f.c, id, 11, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_next_seq(f.c, f.project, &s3, &err), 0);
    PB_CHECK_EQ_INT(s3, 4);
    PB_CHECK(pb_ps_project_next_seq(f.c, "00000000-0000-4000-8000-000000000000", &s3, &err) != 0);
    sfx_close(&f);
}

PB_STORE_TEST(api_store_visible_issues_count_and_pages)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    char ids[6][37];
    for (int i = 0; i < 6; i++) pb_uuid4(ids[i]);
    put_issue(&f, ids[0], "backlog", 100, 0, 0, NULL, NULL);
    put_issue(&f, ids[1], "started", 200, 0, 0, NULL, NULL);
    put_issue(&f, ids[2], "completed", 300, 0, 0, NULL, NULL);
    put_issue(&f, ids[3], "triage", 400, 0, 0, NULL, NULL);  /* hidden */
    put_issue(&f, ids[4], "backlog", 500, 1, 0, NULL, NULL); /* draft: hidden */
    put_issue(&f, ids[5], "backlog", 600, 0, 7, NULL, NULL); /* archived: hidden */
    /* rows written behind the counter's back: reset makes the next read recount */
    PB_CHECK_EQ_INT(pb_ps_project_issue_count_reset(f.c, f.project, &err), 0);
    int64_t n = -1;
    PB_CHECK_EQ_INT(pb_ps_project_issue_count(f.c, f.project, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 3);
    PB_CHECK_EQ_INT(pb_ps_project_issue_count_add(f.c, f.project, -1, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_issue_count(f.c, f.project, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 2);
    PB_CHECK_EQ_INT(pb_ps_project_issue_count_reset(f.c, f.project, &err), 0);
    pb_ps_rawlist l = {0};
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_CREATED, 1, NULL, NULL, 2, 0, &l, NULL, &err), 0);
    PB_REQUIRE(l.n == 2);
    PB_CHECK_STR(l.id[0], ids[2]);
    PB_CHECK_STR(l.id[1], ids[1]);
    pb_ps_rawlist_clear(&l);
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_CREATED, 1, NULL, NULL, 2, 2, &l, NULL, &err), 0);
    PB_REQUIRE(l.n == 1);
    PB_CHECK_STR(l.id[0], ids[0]);
    pb_ps_rawlist_clear(&l);
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_STATE_GROUP, 0, NULL, NULL, 10, 0, &l, NULL, &err), 0);
    PB_REQUIRE(l.n == 3);
    PB_CHECK_STR(l.id[0], ids[0]); /* backlog < started < completed */
    PB_CHECK_STR(l.id[2], ids[2]);
    pb_ps_rawlist_clear(&l);
    /* refs-filtered page (cycle/module membership) */
    char (*one)[37] = calloc(1, sizeof *one);
    memcpy(one[0], "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", 37);
    PB_CHECK_EQ_INT(pb_ps_refs_set(f.c, ids[1], "cycle", (const char(*)[37])one, 1, 1, &err), 0);
    free(one);
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_CREATED, 0, "cycle",
                                     "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", 10, 0, &l, &total, &err), 0);
    PB_CHECK_EQ_INT(total, 1);
    PB_CHECK(l.n == 1 && strcmp(l.id[0], ids[1]) == 0);
    pb_ps_rawlist_clear(&l);
    /* detail fast path honours visibility */
    char *raw = NULL;
    PB_CHECK_EQ_INT(pb_ps_item_raw(f.c, "issue", f.project, ids[0], 1, &raw, &err), 0);
    free(raw);
    raw = NULL;
    PB_CHECK_EQ_INT(pb_ps_item_raw(f.c, "issue", f.project, ids[5], 1, &raw, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_ps_item_raw(f.c, "issue", f.project, ids[5], 0, &raw, &err), 0);
    free(raw);
    pb_buf b;
    pb_buf_init(&b, 4096);
    PB_CHECK_EQ_INT(pb_ps_item_raw_into(f.c, "issue", f.project, ids[1], 1, &b, &err), 0);
    PB_CHECK(strstr(pb_buf_cstr(&b), ids[1]) != NULL);
    pb_buf_free(&b);
    sfx_close(&f);
}

PB_STORE_TEST(api_store_external_lookup_and_access)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    char a[37], b2[37], user[37];
    pb_uuid4(a);
    pb_uuid4(b2);
    pb_uuid4(user);
    put_issue(&f, a, "backlog", 1, 0, 5, "jira", "J-1"); /* archived items are still found */
    char *raw = NULL;
    PB_CHECK_EQ_INT(pb_ps_issue_by_external(f.c, f.project, "jira", "J-1", &raw, &err), 0);
    PB_CHECK(raw && strstr(raw, a));
    free(raw);
    raw = NULL;
    PB_CHECK_EQ_INT(pb_ps_issue_by_external(f.c, f.project, "jira", "J-2", &raw, &err), PB_ENOTFOUND);
    char found[40];
    PB_CHECK_EQ_INT(pb_ps_item_find_external(f.c, "issue", f.project, "jira", "J-1", NULL, found, &err), 0);
    PB_CHECK_STR(found, a);
    PB_CHECK_EQ_INT(pb_ps_item_find_external(f.c, "issue", f.project, "jira", "J-1", a, found, &err), PB_ENOTFOUND);
    put_issue(&f, b2, "backlog", 2, 0, 0, "jira", "J-1");
    PB_CHECK_EQ_INT(pb_ps_issue_by_external(f.c, f.project, "jira", "J-1", &raw, &err), PB_ECONFLICT);
    /* membership drives project access */
    int exists = 0, role = 0, archived = 0;
    char ident[16];
    PB_CHECK_EQ_INT(pb_ps_project_access(f.c, "acme", f.project, user, &exists, &role, ident, &archived, &err), 0);
    PB_CHECK_EQ_INT(exists, 1);
    PB_CHECK_EQ_INT(role, 0);
    PB_CHECK_STR(ident, "ACM");
    pb_api_req ar;
    memset(&ar, 0, sizeof ar);
    ar.slug = "acme";
    pb_strlcpy(ar.user_id, user, sizeof ar.user_id);
    PB_CHECK_EQ_INT(pb_api_member_put(f.c, &ar, f.project, user, 15, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_access(f.c, "acme", f.project, user, &exists, &role, ident, &archived, &err), 0);
    PB_CHECK_EQ_INT(role, 15);
    PB_CHECK_EQ_INT(pb_api_member_put(f.c, &ar, f.project, user, 20, &err), 0); /* update, no duplicate */
    PB_CHECK_EQ_INT(pb_ps_project_access(f.c, "acme", f.project, user, &exists, &role, ident, &archived, &err), 0);
    PB_CHECK_EQ_INT(role, 20);
    PB_CHECK_EQ_INT(pb_ps_project_access(f.c, "other", f.project, user, &exists, &role, ident, &archived, &err), 0);
    PB_CHECK_EQ_INT(exists, 0);
    /* assignees are filtered to active members with write roles */
    char(*ids)[37] = calloc(2, sizeof *ids);
    memcpy(ids[0], user, 37);
    memcpy(ids[1], a, 37);
    size_t n = 2;
    PB_CHECK_EQ_INT(pb_ps_filter_members(f.c, f.project, ids, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    PB_CHECK_STR(ids[0], user);
    free(ids);
    sfx_close(&f);
}

PB_STORE_TEST(api_store_states_outbox_activities)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    pb_api_req ar;
    sfx_req(&f, &ar);
    PB_CHECK_EQ_INT(pb_conn_begin_write(f.c, &err), 0);
    PB_CHECK_EQ_INT(pb_api_seed_states(f.c, &ar, f.project, &err), 0);
    PB_CHECK_EQ_INT(pb_conn_commit(f.c, &err), 0);
    char sid[40], group[16];
    PB_CHECK_EQ_INT(pb_ps_state_default(f.c, f.project, sid, group, &err), 0);
    PB_CHECK_STR(group, "backlog");
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_ps_item_list(f.c, "state", f.project, 0, -1, 0, &total, &l, &err), 0);
    PB_CHECK_EQ_INT(total, 6);
    PB_CHECK_EQ_INT(l.n, 6);
    pb_ps_rawlist_clear(&l);
    char found[40];
    PB_CHECK_EQ_INT(pb_ps_item_find_name(f.c, "state", f.project, "Done", NULL, found, &err), 0);
    /* outbox rows and their payload shape */
    cJSON *data = cJSON_Parse("{\"id\":\"x\",\"name\":\"new\"}");
    cJSON *prev = cJSON_Parse("{\"name\":\"old\"}");
    PB_CHECK_EQ_INT(pb_conn_begin_write(f.c, &err), 0);
    PB_CHECK_EQ_INT(pb_api_outbox(f.c, "issue.updated", "acme", f.project, "obj-1", data, prev, &err), 0);
    PB_CHECK_EQ_INT(pb_conn_rollback(f.c), 0);
    int64_t n = -1;
    PB_CHECK_EQ_INT(pb_ps_outbox_count(f.c, "issue.updated", "obj-1", &n, &err), 0);
    PB_CHECK_EQ_INT(n, 0); /* rolled back with the transaction */
    PB_CHECK_EQ_INT(pb_api_outbox(f.c, "issue.updated", "acme", f.project, "obj-1", data, prev, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_outbox_count(f.c, "issue.updated", "obj-1", &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    char *payload = NULL;
    pb_val v[] = {PB_TEXT("obj-1")};
    PB_CHECK_EQ_INT(pb_conn_query_text(f.c, "SELECT payload FROM ops.outbox WHERE object_id = $1", v, 1, &payload, &err), 0);
    cJSON *p = cJSON_Parse(payload);
    PB_REQUIRE(p);
    PB_CHECK_STR(cJSON_GetObjectItem(p, "type")->valuestring, "issue.updated");
    PB_CHECK(cJSON_IsString(cJSON_GetObjectItem(p, "timestamp")));
    PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "data"), "name")->valuestring, "new");
    PB_CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "previous_attributes"), "name")->valuestring, "old");
    cJSON_Delete(p);
    free(payload);
    cJSON_Delete(data);
    cJSON_Delete(prev);
    /* activities: comment rows are excluded from the list */
    char issue[37];
    pb_uuid4(issue);
    pb_api_activity_row r1 = {.issue_id = issue, .verb = "created", .comment = "created the issue"};
    pb_api_activity_row r2 = {.issue_id = issue, .verb = "updated", .field = "priority", .old_value = "none",
                              .new_value = "high"};
    pb_api_activity_row r3 = {.issue_id = issue, .verb = "created", .field = "comment", .issue_comment = "c-1"};
    PB_CHECK_EQ_INT(pb_api_activity(f.c, &ar, &r1, &err), 0);
    PB_CHECK_EQ_INT(pb_api_activity(f.c, &ar, &r2, &err), 0);
    PB_CHECK_EQ_INT(pb_api_activity(f.c, &ar, &r3, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_activity_list(f.c, issue, 0, 100, 0, &total, &l, &err), 0);
    PB_CHECK_EQ_INT(total, 2);
    PB_REQUIRE(l.n == 2);
    cJSON *a0 = cJSON_Parse(l.raw[0]), *a1 = cJSON_Parse(l.raw[1]);
    PB_CHECK_STR(cJSON_GetObjectItem(a0, "verb")->valuestring, "created");
    PB_CHECK_STR(cJSON_GetObjectItem(a1, "field")->valuestring, "priority");
    PB_CHECK_STR(cJSON_GetObjectItem(a1, "new_value")->valuestring, "high");
    PB_CHECK_STR(cJSON_GetObjectItem(a1, "actor")->valuestring, ar.user_id);
    cJSON_Delete(a0);
    cJSON_Delete(a1);
    pb_ps_rawlist_clear(&l);
    sfx_close(&f);
}

PB_STORE_TEST(api_store_unique_names_and_project_lookups)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    char other[40];
    PB_CHECK_EQ_INT(pb_ps_project_find_name(f.c, "acme", "Acme", NULL, other, &err), 0);
    PB_CHECK_STR(other, f.project);
    PB_CHECK_EQ_INT(pb_ps_project_find_name(f.c, "acme", "Acme", f.project, other, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_ps_project_find_identifier(f.c, "acme", "ACM", NULL, other, &err), 0);
    pb_ps_project p;
    PB_CHECK_EQ_INT(pb_ps_project_by_identifier(f.c, "acme", "ACM", &p, &err), 0);
    PB_CHECK_STR(p.id, f.project);
    pb_ps_project_clear(&p);
    /* a second project with the same identifier violates the unique index */
    pb_ps_project q;
    memset(&q, 0, sizeof q);
    pb_uuid4(q.id);
    pb_strlcpy(q.slug, "acme", sizeof q.slug);
    pb_strlcpy(q.identifier, "ACM", sizeof q.identifier);
    q.name = (char *)(uintptr_t) "Other";
    q.raw = (char *)(uintptr_t) "{}";
    q.created_at = q.updated_at = 5;
    PB_CHECK_EQ_INT(pb_ps_project_insert(f.c, &q, &err), PB_ECONFLICT);
    /* after a delete, name and identifier are free */
    PB_CHECK_EQ_INT(pb_ps_project_soft_delete(f.c, f.project, 9, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_insert(f.c, &q, &err), 0);
    PB_CHECK_EQ_INT(pb_ps_project_get(f.c, "acme", f.project, &p, &err), PB_ENOTFOUND);
    /* project list: visible public projects, with totals */
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_ps_project_list(f.c, "acme", "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", 10, 0, &total, &l, &err), 0);
    PB_CHECK_EQ_INT(total, 0); /* q is neither public nor joined */
    pb_ps_rawlist_clear(&l);
    sfx_close(&f);
}

PB_STORE_TEST(api_store_deep_pages_match_shallow_order)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    enum { N = 1050 };
    static char ids[N][37];
    PB_REQUIRE(pb_conn_begin_write(f.c, &err) == 0);
    for (int i = 0; i < N; i++) {
        pb_uuid4(ids[i]);
        if (put_issue(&f, ids[i], "started", 1000 + i, 0, 0, NULL, NULL)) return;
    }
    PB_REQUIRE(pb_conn_commit(f.c, &err) == 0);
    /* newest first: offset 1000 holds created_at 1049-1000 .. i.e. ids[49] down to ids[30] */
    pb_ps_rawlist l = {0};
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_CREATED, 1, NULL, NULL, 20, 1000, &l, NULL, &err), 0);
    PB_REQUIRE(l.n == 20);
    for (int k = 0; k < 20; k++) PB_CHECK_STR(l.id[k], ids[N - 1 - 1000 - k]);
    pb_ps_rawlist_clear(&l);
    /* oldest first, deep */
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_CREATED, 0, NULL, NULL, 100, 1000, &l, NULL, &err), 0);
    PB_REQUIRE(l.n == 50);
    PB_CHECK_STR(l.id[0], ids[1000]);
    PB_CHECK_STR(l.id[49], ids[N - 1]);
    pb_ps_rawlist_clear(&l);
    /* past the end */
    PB_CHECK_EQ_INT(pb_ps_issue_page(f.c, f.project, PB_PS_ORDER_UPDATED, 1, NULL, NULL, 100, 2000, &l, NULL, &err), 0);
    PB_CHECK_EQ_INT(l.n, 0);
    pb_ps_rawlist_clear(&l);
    sfx_close(&f);
}

/* ---------------------------------------------------------------- project summary and list orders */
typedef struct put_spec {
    const char *type, *project, *group, *member;
    int64_t created, archived;
    int deleted, draft, inactive;
    double sort_order;
} put_spec;

static int put_row(sfx *f, const put_spec *s, char id_out[37])
{
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    char id[37];
    pb_uuid4(id);
    pb_strlcpy(it.id, id, sizeof it.id);
    it.item_type = s->type;
    pb_strlcpy(it.slug, "acme", sizeof it.slug);
    pb_strlcpy(it.project_id, s->project ? s->project : f->project, sizeof it.project_id);
    if (s->group) pb_strlcpy(it.state_group, s->group, sizeof it.state_group);
    if (s->member) pb_strlcpy(it.member_id, s->member, sizeof it.member_id);
    if (s->member) it.role = 20;
    it.name = (char *)(uintptr_t)id;
    it.created_at = it.updated_at = s->created ? s->created : 1000;
    it.archived_at = s->archived;
    it.is_draft = s->draft;
    it.is_active = !s->inactive;
    it.sort_order = s->sort_order;
    char raw[64];
    snprintf(raw, sizeof raw, "{\"id\":\"%s\"}", id);
    it.raw = raw;
    pb_error err = {0};
    int rc = pb_ps_item_insert(f->c, &it, &err);
    if (!rc && s->deleted) rc = pb_ps_item_soft_delete(f->c, id, 2000, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "insert %s: %s", s->type, err.msg);
    if (id_out) memcpy(id_out, id, 37);
    return rc;
}

PB_STORE_TEST(api_store_project_summary_counts)
{
    sfx f;
    if (sfx_open(&f)) return;
    pb_error err = {0};
    pb_api_req ar;
    sfx_req(&f, &ar);
    char other[37];
    pb_uuid4(other);
    pb_ps_project_summary sum;
    PB_CHECK_EQ_INT(pb_ps_project_summary_counts(f.c, f.project, &sum, &err), 0);
    PB_CHECK(sum.members == 0 && sum.states == 0 && sum.labels == 0 && sum.cycles == 0 && sum.modules == 0 &&
             sum.issues == 0 && sum.intakes == 0 && sum.pages == 0);
    PB_REQUIRE(pb_conn_begin_write(f.c, &err) == 0);
    /* six seeded states, one of them Triage (hidden by Plane's default State manager) */
    PB_REQUIRE(pb_api_seed_states(f.c, &ar, f.project, &err) == 0);
    const put_spec rows[] = {
        {.type = "project_member", .member = "u-1"},
        {.type = "project_member", .member = "u-2"},
        {.type = "project_member", .member = "u-3", .inactive = 1}, /* removed: not counted */
        {.type = "label"},
        {.type = "label"},
        {.type = "label", .deleted = 1},
        {.type = "cycle"},
        {.type = "cycle", .archived = 1500}, /* archived still counts */
        {.type = "cycle", .deleted = 1},
        {.type = "module"},
        {.type = "issue", .group = "started"},
        {.type = "issue", .group = "backlog", .draft = 1},     /* drafts count */
        {.type = "issue", .group = "completed", .archived = 1500}, /* archived count */
        {.type = "issue", .group = "triage"},                  /* triage does not */
        {.type = "issue", .group = "started", .deleted = 1},   /* deleted does not */
        {.type = "intake"},
        {.type = "intake", .deleted = 1},
        {.type = "label", .project = other}, /* another project's rows never count */
        {.type = "issue", .project = other, .group = "started"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (put_row(&f, &rows[i], NULL)) return;
    pb_val pv[] = {PB_TEXT("7c9e6679-7425-40de-944b-e07fc1f90ae7"), PB_TEXT(f.project)};
    pb_val pv2[] = {PB_TEXT("5d3e6679-7425-40de-944b-e07fc1f90ae8"), PB_TEXT(f.project)};
    PB_REQUIRE(pb_conn_exec(f.c,
                            "INSERT INTO work_plane.pages (plane_id, workspace_slug, project_id, name, created_at, "
                            "updated_at, raw) VALUES ($1, 'acme', $2, 'Spec', 1, 1, '{}')",
                            pv, 2, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_exec(f.c,
                            "INSERT INTO work_plane.pages (plane_id, workspace_slug, project_id, name, created_at, "
                            "updated_at, deleted_at, raw) VALUES ($1, 'acme', $2, 'Old', 1, 1, 5, '{}')",
                            pv2, 2, NULL, &err) == 0);
    PB_REQUIRE(pb_conn_commit(f.c, &err) == 0);
    PB_CHECK_EQ_INT(pb_ps_project_summary_counts(f.c, f.project, &sum, &err), 0);
    PB_CHECK_EQ_INT(sum.members, 2);
    PB_CHECK_EQ_INT(sum.states, 5);
    PB_CHECK_EQ_INT(sum.labels, 2);
    PB_CHECK_EQ_INT(sum.cycles, 2);
    PB_CHECK_EQ_INT(sum.modules, 1);
    PB_CHECK_EQ_INT(sum.issues, 3);
    PB_CHECK_EQ_INT(sum.intakes, 1);
    PB_CHECK_EQ_INT(sum.pages, 1);
    sfx_close(&f);
}

static int put_project(sfx *f, const char *name, const char *ident, int64_t created, int64_t archived, char id[37])
{
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    pb_uuid4(id);
    pb_strlcpy(p.id, id, sizeof p.id);
    pb_strlcpy(p.slug, "acme", sizeof p.slug);
    pb_strlcpy(p.identifier, ident, sizeof p.identifier);
    p.name = (char *)(uintptr_t)name;
    p.created_at = p.updated_at = created;
    p.archived_at = archived;
    p.raw = (char *)(uintptr_t) "{\"network\":0}";
    pb_error err = {0};
    int rc = pb_ps_project_insert(f->c, &p, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "insert project: %s", err.msg);
    return rc;
}

/* Checks that the list in `order` (desc) is exactly want[0..n). */
static void check_order(sfx *f, const char *user, pb_ps_project_order order, int desc, const char *const *want,
                        size_t n, int line)
{
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    pb_error err = {0};
    int rc = pb_ps_project_list_ordered(f->c, "acme", user, order, desc, 100, 0, &total, &l, &err);
    if (rc || total != (int64_t)n || l.n != n) {
        pb_test_fail(__FILE__, line, "order %d desc %d: rc %d total %lld rows %zu (%s)", (int)order, desc, rc,
                     (long long)total, l.n, err.msg);
    } else {
        for (size_t i = 0; i < n; i++)
            if (want[i] && strcmp(l.id[i], want[i]) != 0)
                pb_test_fail(__FILE__, line, "order %d desc %d: row %zu is %s, want %s", (int)order, desc, i, l.id[i],
                             want[i]);
    }
    pb_ps_rawlist_clear(&l);
}

PB_STORE_TEST(api_store_project_list_orders)
{
    sfx f; /* its project "Acme" (created 1000) is public and not joined by the user */
    if (sfx_open(&f)) return;
    pb_error err = {0};
    const char *user = "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d";
    char bravo[37], alpha[37], charlie[37], hidden[37];
    PB_REQUIRE(pb_conn_begin_write(f.c, &err) == 0);
    if (put_project(&f, "Bravo", "BRA", 2000, 6000, bravo) || put_project(&f, "Alpha", "ALP", 3000, 5000, alpha) ||
        put_project(&f, "Charlie", "CHA", 4000, 0, charlie) || put_project(&f, "Hidden", "HID", 4500, 0, hidden))
        return;
    /* the user's memberships: Bravo 45535 (the oldest, yet first), Alpha and Charlie both
     * 55535, Charlie the newer membership; Hidden is private and joined only by someone else */
    const put_spec ms[] = {
        {.type = "project_member", .project = bravo, .member = user, .created = 2000, .sort_order = 45535},
        {.type = "project_member", .project = alpha, .member = user, .created = 3000, .sort_order = 55535},
        {.type = "project_member", .project = charlie, .member = user, .created = 4000, .sort_order = 55535},
        {.type = "project_member", .project = hidden, .member = "someone-else", .created = 4500},
        {.type = "project_member", .project = charlie, .member = "someone-else", .created = 4600, .sort_order = 1},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        if (put_row(&f, &ms[i], NULL)) return;
    PB_REQUIRE(pb_conn_commit(f.c, &err) == 0);
    /* Plane's default: the caller's own sort_order, not joined (NULL) last */
    const char *by_sort[] = {bravo, charlie, alpha, f.project};
    check_order(&f, user, PB_PS_PORDER_SORT_ORDER, 0, by_sort, 4, __LINE__);
    const char *by_sort_desc[] = {f.project, alpha, charlie, bravo};
    check_order(&f, user, PB_PS_PORDER_SORT_ORDER, 1, by_sort_desc, 4, __LINE__);
    const char *by_name[] = {f.project, alpha, bravo, charlie}; /* Acme, Alpha, Bravo, Charlie */
    check_order(&f, user, PB_PS_PORDER_NAME, 0, by_name, 4, __LINE__);
    const char *by_name_desc[] = {charlie, bravo, alpha, f.project};
    check_order(&f, user, PB_PS_PORDER_NAME, 1, by_name_desc, 4, __LINE__);
    const char *by_ident[] = {f.project, alpha, bravo, charlie}; /* ACM, ALP, BRA, CHA */
    check_order(&f, user, PB_PS_PORDER_IDENTIFIER, 0, by_ident, 4, __LINE__);
    const char *by_created_desc[] = {charlie, alpha, bravo, f.project};
    check_order(&f, user, PB_PS_PORDER_CREATED, 1, by_created_desc, 4, __LINE__);
    const char *by_created[] = {f.project, bravo, alpha, charlie};
    check_order(&f, user, PB_PS_PORDER_CREATED, 0, by_created, 4, __LINE__);
    /* archived_at as PostgreSQL orders it: NULLs last ascending, first descending */
    const char *by_arch[] = {alpha, bravo, NULL, NULL};
    check_order(&f, user, PB_PS_PORDER_ARCHIVED, 0, by_arch, 4, __LINE__);
    const char *by_arch_desc[] = {NULL, NULL, bravo, alpha};
    check_order(&f, user, PB_PS_PORDER_ARCHIVED, 1, by_arch_desc, 4, __LINE__);
    /* the old entry point keeps newest first */
    pb_ps_rawlist l = {0};
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_ps_project_list(f.c, "acme", user, 100, 0, &total, &l, &err), 0);
    PB_CHECK_EQ_INT(total, 4);
    if (l.n == 4) PB_CHECK_STR(l.id[0], charlie);
    pb_ps_rawlist_clear(&l);
    /* paging walks the same order */
    PB_CHECK_EQ_INT(pb_ps_project_list_ordered(f.c, "acme", user, PB_PS_PORDER_SORT_ORDER, 0, 2, 2, &total, &l, &err),
                    0);
    PB_REQUIRE(l.n == 2);
    PB_CHECK_STR(l.id[0], alpha);
    PB_CHECK_STR(l.id[1], f.project);
    pb_ps_rawlist_clear(&l);
    PB_CHECK_EQ_INT(pb_ps_project_list_ordered(f.c, "acme", user, (pb_ps_project_order)99, 0, 10, 0, &total, &l, &err),
                    PB_EINVAL);
    PB_CHECK_EQ_INT(l.n, 0);
    sfx_close(&f);
}
