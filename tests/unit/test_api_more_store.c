/* Contract tests of plane_more_store (comments, links, relations, memberships, search) on
 * both backends. Projects, work items and members are seeded through plane_store. */
#include "test.h"

#include "core/util.h"
#include "store/db.h"
#include "store/plane_more_store.h"
#include "store/plane_store.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    pb_db *db;
    pb_conn *c;
    char project[37];
    char project2[37];
    char issues[4][37];
    char user[37];
} fx;

static int seed_issue(fx *f, const char *project, const char *id, const char *name, int64_t seq,
                      const char *group, int64_t created)
{
    pb_ps_item it;
    memset(&it, 0, sizeof it);
    pb_strlcpy(it.id, id, sizeof it.id);
    it.item_type = "issue";
    pb_strlcpy(it.slug, "acme", sizeof it.slug);
    pb_strlcpy(it.project_id, project, sizeof it.project_id);
    it.sequence_id = seq;
    pb_strlcpy(it.state_group, group, sizeof it.state_group);
    pb_strlcpy(it.priority, "none", sizeof it.priority);
    it.name = (char *)(uintptr_t)name;
    pb_strlcpy(it.created_by, f->user, sizeof it.created_by);
    it.created_at = created;
    it.updated_at = created;
    it.is_active = 1;
    it.raw = (char *)(uintptr_t) "{}";
    pb_error err = {0};
    int rc = pb_ps_item_insert(f->c, &it, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "seed issue: %s", err.msg);
    return rc;
}

static int seed_project(fx *f, const char *id, const char *ident, const char *name)
{
    pb_ps_project p;
    memset(&p, 0, sizeof p);
    pb_strlcpy(p.id, id, sizeof p.id);
    pb_strlcpy(p.slug, "acme", sizeof p.slug);
    pb_strlcpy(p.identifier, ident, sizeof p.identifier);
    p.name = (char *)(uintptr_t)name;
    p.created_at = p.updated_at = 1000;
    p.raw = (char *)(uintptr_t) "{\"cycle_view\":true}";
    pb_error err = {0};
    int rc = pb_ps_project_insert(f->c, &p, &err);
    if (rc) {
        pb_test_fail(__FILE__, __LINE__, "seed project: %s", err.msg);
        return rc;
    }
    pb_ps_item m;
    memset(&m, 0, sizeof m);
    pb_uuid4(m.id);
    m.item_type = "project_member";
    pb_strlcpy(m.slug, "acme", sizeof m.slug);
    pb_strlcpy(m.project_id, id, sizeof m.project_id);
    pb_strlcpy(m.member_id, f->user, sizeof m.member_id);
    m.role = 20;
    m.is_active = 1;
    m.created_at = m.updated_at = 1000;
    m.raw = (char *)(uintptr_t) "{}";
    rc = pb_ps_item_insert(f->c, &m, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "seed member: %s", err.msg);
    return rc;
}

static int fx_open(fx *f)
{
    memset(f, 0, sizeof *f);
    pb_error err = {0};
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, &err) || pb_db_acquire(f->db, &f->c, &err)) {
        pb_test_fail(__FILE__, __LINE__, "open: %s", err.msg);
        return -1;
    }
    pb_uuid4(f->user);
    pb_uuid4(f->project);
    pb_uuid4(f->project2);
    if (seed_project(f, f->project, "ALPHA", "Alpha") || seed_project(f, f->project2, "BETA", "Beta"))
        return -1;
    static const char *const names[4] = {"Login page broken", "Fix 100% CPU_usage", "Write docs",
                                         "Beta task"};
    static const char *const groups[4] = {"backlog", "started", "completed", "unstarted"};
    for (int i = 0; i < 4; i++) {
        pb_uuid4(f->issues[i]);
        if (seed_issue(f, i == 3 ? f->project2 : f->project, f->issues[i], names[i], i + 1, groups[i],
                       2000 + i))
            return -1;
    }
    return 0;
}

static void fx_close(fx *f)
{
    if (f->c) pb_db_release(f->db, f->c);
    pb_db_free(f->db);
}

static void insert_item(fx *f, const char *type, const char *id, const char *parent, const char *name,
                        const char *es, const char *ei, int64_t at, const char *raw)
{
    pb_more_new n = {.id = id,
                     .item_type = type,
                     .slug = "acme",
                     .project_id = f->project,
                     .parent_id = parent,
                     .name = name,
                     .ext_source = es,
                     .ext_id = ei,
                     .created_by = f->user,
                     .created_at = at,
                     .raw = raw};
    pb_error err = {0};
    int rc = pb_more_insert(f->c, &n, &err);
    if (rc) pb_test_fail(__FILE__, __LINE__, "insert %s: %s", type, err.msg);
}

/* The "n" member of a stored raw object, -1 when absent. */
static int raw_n(const char *raw)
{
    cJSON *o = cJSON_Parse(raw);
    const cJSON *n = o ? cJSON_GetObjectItemCaseSensitive(o, "n") : NULL;
    int v = cJSON_IsNumber(n) ? n->valueint : -1;
    cJSON_Delete(o);
    return v;
}

PB_STORE_TEST(api_more_store_items_crud)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    char c1[37], c2[37], c3[37];
    pb_uuid4(c1);
    pb_uuid4(c2);
    pb_uuid4(c3);
    insert_item(&f, "comment", c1, f.issues[0], NULL, "github", "g-1", 100, "{\"n\":1}");
    insert_item(&f, "comment", c2, f.issues[0], NULL, NULL, NULL, 200, "{\"n\":2}");
    insert_item(&f, "comment", c3, f.issues[1], NULL, NULL, NULL, 300, "{\"n\":3}");

    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = -1;
    PB_CHECK_EQ_INT(pb_more_list(f.c, "comment", f.project, f.issues[0], PB_MORE_ANY, 1, 0, 10, &rows, &n,
                                 &total, &err),
                    0);
    PB_CHECK_EQ_INT(total, 2);
    PB_REQUIRE(n == 2);
    PB_CHECK_STR(rows[0].id, c2); /* newest first */
    PB_CHECK_EQ_INT(raw_n(rows[1].raw), 1); /* jsonb may re-space the text */
    PB_CHECK_STR(rows[1].ext_source, "github");
    pb_more_rows_free(rows, n);

    /* second page of one row */
    PB_CHECK_EQ_INT(pb_more_list(f.c, "comment", f.project, f.issues[0], PB_MORE_ANY, 1, 1, 1, &rows, &n,
                                 &total, &err),
                    0);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) PB_CHECK_STR(rows[0].id, c1);
    pb_more_rows_free(rows, n);

    char found[40];
    PB_CHECK_EQ_INT(pb_more_find_external(f.c, "comment", f.project, "github", "g-1", found, &err), 0);
    PB_CHECK_STR(found, c1);
    PB_CHECK_EQ_INT(pb_more_find_external(f.c, "comment", f.project, "github", "nope", found, &err),
                    PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_find_external(f.c, "comment", f.project2, "github", "g-1", found, &err),
                    PB_ENOTFOUND);

    pb_more_row row = {0};
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, f.issues[0], c1, &row, &err), 0);
    pb_more_row_clear(&row);
    /* wrong parent or wrong type: not found */
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, f.issues[1], c1, &row, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_get(f.c, "link", f.project, NULL, c1, &row, &err), PB_ENOTFOUND);

    PB_CHECK_EQ_INT(pb_more_update(f.c, c1, NULL, "github", "g-2", 500, 0, "{\"n\":9}", &err), 0);
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, NULL, c1, &row, &err), 0);
    PB_CHECK_EQ_INT(raw_n(row.raw), 9);
    PB_CHECK_STR(row.ext_id, "g-2");
    PB_CHECK_EQ_INT(row.updated_at, 500);
    pb_more_row_clear(&row);

    PB_CHECK_EQ_INT(pb_more_soft_delete(f.c, c1, 600, &err), 0);
    PB_CHECK_EQ_INT(pb_more_soft_delete(f.c, c1, 700, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, NULL, c1, &row, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_update(f.c, c1, NULL, NULL, NULL, 800, 0, "{}", &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_find_external(f.c, "comment", f.project, "github", "g-2", found, &err),
                    PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_list(f.c, "comment", f.project, f.issues[0], PB_MORE_ANY, 1, 0, -1, &rows, &n,
                                 &total, &err),
                    0);
    PB_CHECK_EQ_INT(total, 1);
    pb_more_rows_free(rows, n);

    /* a deleted work item takes its comments with it */
    PB_CHECK_EQ_INT(pb_ps_item_soft_delete(f.c, f.issues[0], 900, &err), 0);
    PB_CHECK_EQ_INT(pb_more_list(f.c, "comment", f.project, f.issues[0], PB_MORE_ANY, 1, 0, -1, &rows, &n,
                                 &total, &err),
                    0);
    PB_CHECK_EQ_INT(total, 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_more_rows_free(rows, n);
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, f.issues[0], c2, &row, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_get(f.c, "comment", f.project, f.issues[1], c3, &row, &err), 0);
    pb_more_row_clear(&row);
out:
    fx_close(&f);
}

PB_STORE_TEST(api_more_store_archive_names_links)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    char m1[37], m2[37], l1[37];
    pb_uuid4(m1);
    pb_uuid4(m2);
    pb_uuid4(l1);
    insert_item(&f, "module", m1, NULL, "Auth", NULL, NULL, 100, "{}");
    insert_item(&f, "module", m2, NULL, "Billing", NULL, NULL, 200, "{}");
    char found[40];
    PB_CHECK_EQ_INT(pb_more_find_name(f.c, "module", f.project, "Auth", NULL, found, &err), 0);
    PB_CHECK_STR(found, m1);
    PB_CHECK_EQ_INT(pb_more_find_name(f.c, "module", f.project, "Auth", m1, found, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_find_name(f.c, "module", f.project, "auth", NULL, found, &err), PB_ENOTFOUND);

    PB_CHECK_EQ_INT(pb_more_update(f.c, m1, "Auth", NULL, NULL, 300, 300, "{}", &err), 0);
    pb_more_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_more_list(f.c, "module", f.project, NULL, PB_MORE_LIVE, 1, 0, -1, &rows, &n, &total,
                                 &err),
                    0);
    PB_CHECK_EQ_INT(total, 1);
    if (n == 1) PB_CHECK_STR(rows[0].id, m2);
    pb_more_rows_free(rows, n);
    PB_CHECK_EQ_INT(pb_more_list(f.c, "module", f.project, NULL, PB_MORE_ARCHIVED, 1, 0, -1, &rows, &n,
                                 &total, &err),
                    0);
    PB_CHECK_EQ_INT(total, 1);
    if (n == 1) {
        PB_CHECK_STR(rows[0].id, m1);
        PB_CHECK_EQ_INT(rows[0].archived_at, 300);
    }
    pb_more_rows_free(rows, n);

    /* links: same url on the same issue is taken, on another issue it is free */
    insert_item(&f, "link", l1, f.issues[0], "https://example.com/a", NULL, NULL, 100, "{}");
    int taken = -1;
    PB_CHECK_EQ_INT(pb_more_link_url_taken(f.c, f.issues[0], "https://example.com/a", NULL, &taken, &err), 0);
    PB_CHECK_EQ_INT(taken, 1);
    PB_CHECK_EQ_INT(pb_more_link_url_taken(f.c, f.issues[0], "https://example.com/a", l1, &taken, &err), 0);
    PB_CHECK_EQ_INT(taken, 0);
    PB_CHECK_EQ_INT(pb_more_link_url_taken(f.c, f.issues[1], "https://example.com/a", NULL, &taken, &err), 0);
    PB_CHECK_EQ_INT(taken, 0);
    PB_CHECK_EQ_INT(pb_more_soft_delete(f.c, l1, 400, &err), 0);
    PB_CHECK_EQ_INT(pb_more_link_url_taken(f.c, f.issues[0], "https://example.com/a", NULL, &taken, &err), 0);
    PB_CHECK_EQ_INT(taken, 0);
out:
    fx_close(&f);
}

static int rel_count(const pb_more_rel *r, size_t n, const char *type, const char *other)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(pb_more_rel_types[r[i].type], type) == 0 && strcmp(r[i].issue_id, other) == 0) k++;
    return k;
}

PB_STORE_TEST(api_more_store_relations_inverse)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    const char *A = f.issues[0], *B = f.issues[1], *C = f.issues[2], *D = f.issues[3];
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "blocking", B, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "blocking", B, 2, &err), 0); /* kept once */
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "start_after", C, 3, &err), 0);
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "duplicate", D, 4, &err), 0);
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, C, "finish_before", A, 5, &err), 0);
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "relates_to", C, 6, &err), 0);
    PB_CHECK_EQ_INT(pb_more_relation_add(f.c, A, "bogus", C, 7, &err), PB_EINVAL);

    pb_more_rel *r = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_more_relation_list(f.c, A, &r, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 5);
    PB_CHECK_EQ_INT(rel_count(r, n, "blocking", B), 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "start_after", C), 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "duplicate", D), 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "finish_after", C), 1); /* C finish_before A */
    PB_CHECK_EQ_INT(rel_count(r, n, "relates_to", C), 1);
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].issue_id, D) == 0) PB_CHECK_STR(r[i].project_id, f.project2);
    free(r);

    /* the other side sees the inverse */
    PB_CHECK_EQ_INT(pb_more_relation_list(f.c, B, &r, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "blocked_by", A), 1);
    free(r);
    PB_CHECK_EQ_INT(pb_more_relation_list(f.c, C, &r, &n, &err), 0);
    PB_CHECK_EQ_INT(rel_count(r, n, "start_before", A), 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "finish_before", A), 1);
    PB_CHECK_EQ_INT(rel_count(r, n, "relates_to", A), 1);
    free(r);
    PB_CHECK_EQ_INT(pb_more_relation_list(f.c, D, &r, &n, &err), 0);
    PB_CHECK_EQ_INT(rel_count(r, n, "duplicate", A), 1);
    free(r);

    int64_t removed = 0;
    PB_CHECK_EQ_INT(pb_more_relation_remove(f.c, C, A, &removed, &err), 0);
    PB_CHECK_EQ_INT(removed, 3);
    PB_CHECK_EQ_INT(pb_more_relation_list(f.c, A, &r, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 2);
    free(r);
out:
    fx_close(&f);
}

PB_STORE_TEST(api_more_store_memberships)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    char cy1[37], cy2[37];
    pb_uuid4(cy1);
    pb_uuid4(cy2);
    for (int i = 0; i < 3; i++) PB_CHECK_EQ_INT(pb_more_member_add(f.c, "cycle", f.issues[i], cy1, 10 + i, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_add(f.c, "cycle", f.issues[0], cy1, 99, &err), 0); /* no duplicate */
    int64_t counts[6];
    PB_CHECK_EQ_INT(pb_more_member_counts(f.c, "cycle", cy1, counts, &err), 0);
    PB_CHECK_EQ_INT(counts[0], 3);
    PB_CHECK_EQ_INT(counts[1], 1); /* backlog */
    PB_CHECK_EQ_INT(counts[3], 1); /* started */
    PB_CHECK_EQ_INT(counts[4], 1); /* completed */

    char(*ids)[40] = NULL;
    size_t n = 0;
    int64_t total = 0;
    PB_CHECK_EQ_INT(pb_more_member_issue_ids(f.c, "cycle", cy1, f.project, 0, 1, 1, &ids, &n, &total, &err), 0);
    PB_CHECK_EQ_INT(total, 3);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) PB_CHECK_STR(ids[0], f.issues[1]); /* created_at order, second row */
    free(ids);

    pb_more_member *m = NULL;
    PB_CHECK_EQ_INT(pb_more_member_refs(f.c, "cycle", f.issues[0], &m, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        PB_CHECK_STR(m[0].ref_id, cy1);
        PB_CHECK_EQ_INT(m[0].created_at, 10);
    }
    free(m);

    /* transfer moves only backlog/unstarted/started work */
    int64_t moved = 0;
    PB_CHECK_EQ_INT(pb_more_member_transfer(f.c, "cycle", cy1, cy2, &moved, &err), 0);
    PB_CHECK_EQ_INT(moved, 2);
    PB_CHECK_EQ_INT(pb_more_member_counts(f.c, "cycle", cy1, counts, &err), 0);
    PB_CHECK_EQ_INT(counts[0], 1);
    PB_CHECK_EQ_INT(counts[4], 1);
    PB_CHECK_EQ_INT(pb_more_member_counts(f.c, "cycle", cy2, counts, &err), 0);
    PB_CHECK_EQ_INT(counts[0], 2);

    PB_CHECK_EQ_INT(pb_more_member_move(f.c, "cycle", f.issues[2], cy1, cy2, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_list(f.c, "cycle", cy2, &m, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 3);
    free(m);

    int64_t removed = -1;
    PB_CHECK_EQ_INT(pb_more_member_remove(f.c, "cycle", f.issues[2], cy2, &removed, &err), 0);
    PB_CHECK_EQ_INT(removed, 1);
    PB_CHECK_EQ_INT(pb_more_member_remove(f.c, "cycle", f.issues[2], cy2, &removed, &err), 0);
    PB_CHECK_EQ_INT(removed, 0);

    /* deleted work items disappear from lists and counts */
    PB_CHECK_EQ_INT(pb_ps_item_soft_delete(f.c, f.issues[0], 5000, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_counts(f.c, "cycle", cy2, counts, &err), 0);
    PB_CHECK_EQ_INT(counts[0], 1);
    PB_CHECK_EQ_INT(pb_more_member_clear(f.c, "cycle", cy2, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_counts(f.c, "cycle", cy2, counts, &err), 0);
    PB_CHECK_EQ_INT(counts[0], 0);

    /* modules allow several per issue */
    PB_CHECK_EQ_INT(pb_more_member_add(f.c, "module", f.issues[1], cy1, 1, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_add(f.c, "module", f.issues[1], cy2, 2, &err), 0);
    PB_CHECK_EQ_INT(pb_more_member_refs(f.c, "module", f.issues[1], &m, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 2);
    free(m);
out:
    fx_close(&f);
}

PB_STORE_TEST(api_more_store_search)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    pb_more_hit *h = NULL;
    size_t n = 0;
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "LOGIN", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        PB_CHECK_STR(h[0].id, f.issues[0]);
        PB_CHECK_STR(h[0].identifier, "ALPHA");
        PB_CHECK_EQ_INT(h[0].sequence_id, 1);
        PB_CHECK_STR(h[0].name, "Login page broken");
    }
    pb_more_hits_free(h, n);
    /* LIKE metacharacters are literal */
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "100%", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "cpu_", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "%", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "x' OR 'a'='a", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_more_hits_free(h, n);
    /* a whole number matches the sequence id; identifiers match too */
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "item 3", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    if (n == 1) PB_CHECK_STR(h[0].id, f.issues[2]);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "beta", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_more_hits_free(h, n);
    /* project filter and limit */
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "a", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 4);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "a", f.project2, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 1);
    pb_more_hits_free(h, n);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", f.user, "a", NULL, 2, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 2);
    pb_more_hits_free(h, n);
    /* another workspace or a non-member sees nothing */
    PB_CHECK_EQ_INT(pb_more_search(f.c, "other", f.user, "a", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_more_hits_free(h, n);
    char stranger[37];
    pb_uuid4(stranger);
    PB_CHECK_EQ_INT(pb_more_search(f.c, "acme", stranger, "a", NULL, 10, &h, &n, &err), 0);
    PB_CHECK_EQ_INT(n, 0);
    pb_more_hits_free(h, n);
out:
    fx_close(&f);
}

PB_STORE_TEST(api_more_store_intake_by_issue)
{
    fx f;
    if (fx_open(&f)) goto out;
    pb_error err = {0};
    char i1[37], i2[37];
    pb_uuid4(i1);
    pb_uuid4(i2);
    insert_item(&f, "intake", i1, f.issues[0], NULL, NULL, NULL, 100, "{\"n\":1}");
    insert_item(&f, "intake", i2, f.issues[1], NULL, NULL, NULL, 200, "{\"n\":2}");
    pb_more_row row = {0};
    PB_CHECK_EQ_INT(pb_more_get_by_parent(f.c, "intake", f.project, f.issues[1], &row, &err), 0);
    PB_CHECK_STR(row.id, i2);
    PB_CHECK_STR(row.parent_id, f.issues[1]);
    pb_more_row_clear(&row);
    PB_CHECK_EQ_INT(pb_more_get_by_parent(f.c, "intake", f.project, f.issues[2], &row, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_get_by_parent(f.c, "intake", f.project2, f.issues[1], &row, &err), PB_ENOTFOUND);
    PB_CHECK_EQ_INT(pb_more_soft_delete(f.c, i2, 300, &err), 0);
    PB_CHECK_EQ_INT(pb_more_get_by_parent(f.c, "intake", f.project, f.issues[1], &row, &err), PB_ENOTFOUND);

    pb_more_issue is;
    PB_CHECK_EQ_INT(pb_more_issue_get(f.c, f.project, f.issues[1], &is, &err), 0);
    PB_CHECK_STR(is.state_group, "started");
    PB_CHECK_EQ_INT(is.sequence_id, 2);
    PB_CHECK_EQ_INT(is.visible, 1);
    PB_CHECK_STR(is.name, "Fix 100% CPU_usage");
    pb_more_issues_free(NULL, 0);
    free(is.name);
    PB_CHECK_EQ_INT(pb_more_issue_get(f.c, f.project2, f.issues[1], &is, &err), PB_ENOTFOUND);
out:
    fx_close(&f);
}

PB_TEST(api_more_rel_types)
{
    PB_CHECK_EQ_INT(pb_more_rel_index("blocking"), 0);
    PB_CHECK_EQ_INT(pb_more_rel_index("finish_before"), 7);
    PB_CHECK_EQ_INT(pb_more_rel_index("nope"), -1);
    PB_CHECK_EQ_INT(pb_more_rel_index(NULL), -1);
    const char *s;
    int inv;
    pb_more_rel_stored("blocking", &s, &inv);
    PB_CHECK_STR(s, "blocked_by");
    PB_CHECK_EQ_INT(inv, 1);
    pb_more_rel_stored("blocked_by", &s, &inv);
    PB_CHECK_STR(s, "blocked_by");
    PB_CHECK_EQ_INT(inv, 0);
    pb_more_rel_stored("finish_after", &s, &inv);
    PB_CHECK_STR(s, "finish_before");
    PB_CHECK_EQ_INT(inv, 1);
    pb_more_rel_stored("relates_to", &s, &inv);
    PB_CHECK_STR(s, "relates_to");
    PB_CHECK_EQ_INT(inv, 0);
}
